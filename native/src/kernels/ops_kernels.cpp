// Fast kernels of the non-convolution ops (see ops.h), compiled once per ISA.
//
// Batch normalisation works on tiles of channels small enough that every buffer of a tile
// stays in L2 between its two passes, so memory sees one read of x (plus one write of y) in
// training forward, and one read of x, y, dy (plus one write of dx) in backward; the
// activation is fused into both passes. Statistics accumulate per channel in double, shifted
// by the channel's first value; every channel is summed plane by plane in a fixed order, so
// results do not depend on tiles or threads.
//
// Vector code is written once against the shared wrapper kernels/simd.h (AVX-512, AVX2 or
// generic 4-lane arrays).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "../ops.h"
#include "../philox.h"
#include "simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace {

// ---------------------------------------------------------------- activations
// Forward: vact (simd.h) and activate (common.h).
// Backward: g where the forward output y is inside the active range, else 0.
template <int ACT>
inline vf vpass(vf y, vf g) {
  if (ACT == SEPCONV_ACT_RELU) return vpass_pos(y, g);
  if (ACT == SEPCONV_ACT_RELU6) return vpass_06(y, g);
  return g;
}
template <int ACT>
inline float spass(float y, float g) {
  if (ACT == SEPCONV_ACT_RELU) return y > 0.0f ? g : 0.0f;
  if (ACT == SEPCONV_ACT_RELU6) return y > 0.0f && y < 6.0f ? g : 0.0f;
  return g;
}

// Calls F::template run<ACT>() for the runtime act.
#define SEPCONV_ACT_SWITCH(act, CALL)                 \
  switch (act) {                                      \
    case SEPCONV_ACT_RELU: {                          \
      constexpr int ACT = SEPCONV_ACT_RELU;           \
      CALL;                                           \
    } break;                                          \
    case SEPCONV_ACT_RELU6: {                         \
      constexpr int ACT = SEPCONV_ACT_RELU6;          \
      CALL;                                           \
    } break;                                          \
    default: {                                        \
      constexpr int ACT = SEPCONV_ACT_NONE;           \
      CALL;                                           \
    } break;                                          \
  }

// ---------------------------------------------------------------- batch norm segments
// Running sums of one channel, added plane segment by plane segment; the order depends only
// on the channel's shape, never on tiles or threads. Two kinds:
//  - double lanes (d*, e*: low and high halves of each vector) for signed sums where
//    cancellation matters: sum x, sum g, sum g*(x-mean), and the shifted sums of big channels;
//  - float lanes (f*, g*, even and odd vectors) moved into the double lanes every kFlush
//    vectors, for the centred second pass of the variance (terms of one sign, from L2).
// Elements past the last whole vector of a plane go straight to the double scalars t*.
constexpr int kFlush = 16;
struct Acc {
  vf f1, f2, g1, g2;
  vd d1, d2, e1, e2;
  double t1, t2;
  int cnt;
  void reset() {
    f1 = f2 = g1 = g2 = vzero();
    d1 = d2 = e1 = e2 = dzero();
    t1 = t2 = 0;
    cnt = 0;
  }
  void flush() {
    vf a = vadd(f1, g1), b = vadd(f2, g2);
    d1 = dadd(d1, dadd(dlo(a), dhi(a)));
    d2 = dadd(d2, dadd(dlo(b), dhi(b)));
    f1 = f2 = g1 = g2 = vzero();
    cnt = 0;
  }
  // The totals; call once, at the end.
  void totals(double& s1, double& s2) {
    flush();
    s1 = dsum(dadd(d1, e1)) + t1;
    s2 = dsum(dadd(d2, e2)) + t2;
  }
};

// Software prefetch of the same channel in the next image (`pf` floats ahead, 0: none): a
// tile's planes are short runs far apart, which the hardware prefetchers follow poorly.
inline void prefetch_r(const float* p, int64_t pf) {
  if (pf) __builtin_prefetch(p + pf, 0, 2);
}
inline void prefetch_w(const float* p, int64_t pf) {
  if (pf) __builtin_prefetch(p + pf, 1, 2);
}

// sum x (double lanes) into t1/d1/e1.
inline void sum_seg(const float* x, int64_t len, Acc& a, int64_t pf) {
  vd d1 = a.d1, e1 = a.e1;
  int64_t j = 0;
  for (; j + VL <= len; j += VL) {
    prefetch_r(x + j, pf);
    vf v = vld(x + j);
    d1 = dadd(d1, dlo(v)), e1 = dadd(e1, dhi(v));
  }
  a.d1 = d1, a.e1 = e1;
  for (; j < len; j++) a.t1 += x[j];
}

// sum (x - k) and sum (x - k)^2 in float lanes, flushed to double (k ~ the mean).
inline void center_seg(const float* x, int64_t len, float k, Acc& a) {
  vf f1 = a.f1, f2 = a.f2, g1 = a.g1, g2 = a.g2, vk = vset(k);
  int cnt = a.cnt;
  int64_t j = 0;
  for (; j + 2 * VL <= len; j += 2 * VL) {
    vf p = vsub(vld(x + j), vk), q = vsub(vld(x + j + VL), vk);
    f1 = vadd(f1, p), g1 = vadd(g1, q);
    f2 = vfma(p, p, f2), g2 = vfma(q, q, g2);
    if ((cnt += 2) >= kFlush) {
      a.f1 = f1, a.f2 = f2, a.g1 = g1, a.g2 = g2;
      a.flush();
      f1 = f2 = g1 = g2 = vzero(), cnt = 0;
    }
  }
  if (j + VL <= len) {
    vf p = vsub(vld(x + j), vk);
    f1 = vadd(f1, p), f2 = vfma(p, p, f2);
    cnt++;
    j += VL;
  }
  a.f1 = f1, a.f2 = f2, a.g1 = g1, a.g2 = g2, a.cnt = cnt;
  if (cnt >= kFlush) a.flush();
  for (; j < len; j++) {
    double d = x[j] - k;
    a.t1 += d, a.t2 += d * d;
  }
}

// Double lanes: s1 += sum v, s2 += sum v * (x - k) where v = x - k (SHIFTED, for big
// channels: the plain shifted variance sums) or v = g = pass(y, dy) (gradient sums; WITHX
// says whether the second sum is wanted).
template <int ACT, bool SHIFTED, bool WITHX>
inline void dsum_seg(const float* x, const float* y, const float* dy, int64_t len, double k,
                     Acc& a, int64_t pf) {
  vd d1 = a.d1, e1 = a.e1, d2 = a.d2, e2 = a.e2, vk = dset(k);
  int64_t j = 0;
  for (; j + VL <= len; j += VL) {
    if (SHIFTED || WITHX) prefetch_r(x + j, pf);
    if (!SHIFTED) {
      prefetch_r(dy + j, pf);
      if (ACT) prefetch_r(y + j, pf);
    }
    vd xl = dzero(), xh = dzero();
    if (SHIFTED || WITHX) {
      vf xv = vld(x + j);
      xl = dsub(dlo(xv), vk), xh = dsub(dhi(xv), vk);
    }
    vd vl = xl, vh = xh;
    if (!SHIFTED) {
      vf g = vpass<ACT>(ACT ? vld(y + j) : vzero(), vld(dy + j));
      vl = dlo(g), vh = dhi(g);
    }
    d1 = dadd(d1, vl), e1 = dadd(e1, vh);
    if (SHIFTED || WITHX) d2 = dfma(vl, xl, d2), e2 = dfma(vh, xh, e2);
  }
  a.d1 = d1, a.e1 = e1, a.d2 = d2, a.e2 = e2;
  for (; j < len; j++) {
    double xc = (SHIFTED || WITHX) ? (double)x[j] - k : 0.0;
    double v = SHIFTED ? xc : (double)spass<ACT>(ACT ? y[j] : 0.0f, dy[j]);
    a.t1 += v;
    if (SHIFTED || WITHX) a.t2 += v * xc;
  }
}

// y = act((x - mean) * a + b)
template <int ACT>
inline void norm_seg(const float* x, float* y, int64_t len, float mean, float a, float b,
                     int64_t pf = 0) {
  vf vm = vset(mean), va = vset(a), vb = vset(b);
  int64_t j = 0;
  for (; j + VL <= len; j += VL) {
    prefetch_w(y + j, pf);
    vst(y + j, vact<ACT>(vfma(vsub(vld(x + j), vm), va, vb)));
  }
  for (; j < len; j++) y[j] = activate(ACT, (x[j] - mean) * a + b);
}

// dx = A*g + B*(x - mean) + C with g = pass(y, dy)
template <int ACT>
inline void dx_seg(const float* x, const float* y, const float* dy, float* dx, int64_t len,
                   float mean, float A, float B, float C, int64_t pf) {
  vf vm = vset(mean), va = vset(A), vb = vset(B), vc = vset(C);
  int64_t j = 0;
  for (; j + VL <= len; j += VL) {
    prefetch_w(dx + j, pf);
    vf g = vpass<ACT>(ACT ? vld(y + j) : vzero(), vld(dy + j));
    vst(dx + j, vfma(va, g, vfma(vb, vsub(vld(x + j), vm), vc)));
  }
  for (; j < len; j++) {
    float g = spass<ACT>(ACT ? y[j] : 0.0f, dy[j]);
    dx[j] = A * g + (B * (x[j] - mean) + C);
  }
}

constexpr int kMaxTile = 32;
constexpr int64_t kL2Budget = (int64_t)1 << 20;  // bytes of a tile kept in L2 between passes

// Channels per tile: the tile's `streams` buffers (n*hw floats each) fit in the L2 budget,
// and there are enough tiles to keep every thread busy. Results do not depend on it.
int64_t bn_tile(int n, int c, int hw, int streams) {
  int64_t per = (int64_t)n * hw * (int64_t)sizeof(float) * streams;
  int64_t t = std::max<int64_t>(1, kL2Budget / per);
  int64_t spread = ((int64_t)c + 4 * num_threads() - 1) / (4 * num_threads());
  return std::max<int64_t>(1, std::min<int64_t>({t, spread, kMaxTile}));
}

// Training forward. When a channel fits the L2 budget: a sum pass over the tile (the only
// one that reads memory), a centred pass from L2 (two-pass variance), then normalise from L2.
// Bigger channels: one pass of double sums shifted by the channel's first value, then
// normalise (two passes over memory either way).
template <int ACT>
void bn_train(int n, int c, int hw, const float* x, const float* gamma, const float* beta,
              float eps, float momentum, float* running_mean, float* running_var,
              float* save_mean, float* save_invstd, float* y) {
  const double count = (double)n * hw;
  const bool two_pass = (int64_t)n * hw * (int64_t)sizeof(float) <= kL2Budget;
  const int64_t T = bn_tile(n, c, hw, 1), tiles = (c + T - 1) / T;
  auto plane = [&](int i, int ch) { return ((int64_t)i * c + ch) * hw; };
  auto pf = [&](int i) { return i + 1 < n ? (int64_t)c * hw : 0; };
  parallel_for(tiles, [&](int64_t t0, int64_t t1) {
    Acc acc[kMaxTile];
    float k[kMaxTile], mf[kMaxTile], af[kMaxTile], bf[kMaxTile];
    double s1[kMaxTile], s2[kMaxTile], mean[kMaxTile];
    for (int64_t t = t0; t < t1; t++) {
      const int c0 = (int)(t * T), nc = (int)std::min<int64_t>(c - c0, T);
      for (int q = 0; q < nc; q++) acc[q].reset();
      if (two_pass) {  // mean in double lanes (reads memory), then centred sums from L2
        for (int i = 0; i < n; i++)
          for (int q = 0; q < nc; q++) sum_seg(x + plane(i, c0 + q), hw, acc[q], pf(i));
        for (int q = 0; q < nc; q++) {
          acc[q].totals(s1[q], s2[q]);
          mean[q] = s1[q] / count;
          k[q] = (float)mean[q];
          acc[q].reset();
        }
        for (int i = 0; i < n; i++)
          for (int q = 0; q < nc; q++) center_seg(x + plane(i, c0 + q), hw, k[q], acc[q]);
      } else {  // one pass of double sums shifted by the channel's first value
        for (int q = 0; q < nc; q++) k[q] = x[plane(0, c0 + q)];
        for (int i = 0; i < n; i++)
          for (int q = 0; q < nc; q++)
            dsum_seg<SEPCONV_ACT_NONE, true, true>(x + plane(i, c0 + q), nullptr, nullptr, hw,
                                                   k[q], acc[q], pf(i));
      }
      for (int q = 0; q < nc; q++) {
        acc[q].totals(s1[q], s2[q]);
        if (!two_pass) mean[q] = k[q] + s1[q] / count;
      }
      for (int q = 0; q < nc; q++) {
        const int ch = c0 + q;
        // variance about k, corrected for k != the mean
        double m1 = s1[q] / count, var = s2[q] / count - m1 * m1;
        if (var < 0) var = 0;
        double invstd = 1.0 / std::sqrt(var + (double)eps);
        save_mean[ch] = (float)mean[q];
        save_invstd[ch] = (float)invstd;
        if (running_mean)
          running_mean[ch] =
              (float)((1.0 - momentum) * running_mean[ch] + (double)momentum * mean[q]);
        if (running_var)
          running_var[ch] = (float)((1.0 - momentum) * running_var[ch] +
                                    (double)momentum * var * count / (count - 1));
        mf[q] = (float)mean[q];
        af[q] = (float)((gamma ? gamma[ch] : 1.0) * invstd);
        bf[q] = beta ? beta[ch] : 0.0f;
      }
      for (int i = 0; i < n; i++)
        for (int q = 0; q < nc; q++)
          norm_seg<ACT>(x + plane(i, c0 + q), y + plane(i, c0 + q), hw, mf[q], af[q], bf[q],
                        pf(i));
    }
  });
}

template <int ACT>
void bn_infer(int n, int c, int hw, const float* x, const float* gamma, const float* beta,
              const float* running_mean, const float* running_var, float eps, float* y) {
  parallel_for((int64_t)n * c, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      int ch = (int)(p % c);
      double a = (gamma ? gamma[ch] : 1.0) / std::sqrt((double)running_var[ch] + eps);
      norm_seg<ACT>(x + p * hw, y + p * hw, hw, running_mean[ch], (float)a,
                    beta ? beta[ch] : 0.0f);
    }
  });
}

// Backward: one pass of sums (g, g*(x-mean)) over the tile, then dx from L2.
template <int ACT>
void bn_bwd(int n, int c, int hw, int mask, const float* x, const float* y, const float* dy,
            const float* gamma, const float* save_mean, const float* save_invstd, float* dx,
            float* dgamma, float* dbeta) {
  const double count = (double)n * hw;
  const bool need_x = mask & (SEPCONV_GRAD_INPUT | SEPCONV_GRAD_WEIGHT);
  const int streams = 1 + (ACT ? 1 : 0) + (need_x ? 1 : 0);
  const int64_t T = bn_tile(n, c, hw, streams), tiles = (c + T - 1) / T;
  auto plane = [&](int i, int ch) { return ((int64_t)i * c + ch) * hw; };
  auto pf = [&](int i) { return i + 1 < n ? (int64_t)c * hw : 0; };
  parallel_for(tiles, [&](int64_t t0, int64_t t1) {
    Acc acc[kMaxTile];
    float mf[kMaxTile], A[kMaxTile], B[kMaxTile], C[kMaxTile];
    for (int64_t t = t0; t < t1; t++) {
      const int c0 = (int)(t * T), nc = (int)std::min<int64_t>(c - c0, T);
      for (int q = 0; q < nc; q++) {
        acc[q].reset();
        mf[q] = need_x ? save_mean[c0 + q] : 0.0f;
      }
      for (int i = 0; i < n; i++)
        for (int q = 0; q < nc; q++) {
          const int64_t o = plane(i, c0 + q);
          const float* yp = ACT ? y + o : nullptr;
          if (need_x)
            dsum_seg<ACT, false, true>(x + o, yp, dy + o, hw, mf[q], acc[q], pf(i));
          else
            dsum_seg<ACT, false, false>(nullptr, yp, dy + o, hw, 0.0, acc[q], pf(i));
        }
      for (int q = 0; q < nc; q++) {
        const int ch = c0 + q;
        double sg, sgx;
        acc[q].totals(sg, sgx);
        if (mask & SEPCONV_GRAD_BIAS) dbeta[ch] += (float)sg;
        if (!need_x) continue;
        double invstd = save_invstd[ch];
        if (mask & SEPCONV_GRAD_WEIGHT) dgamma[ch] += (float)(sgx * invstd);
        double a = (gamma ? gamma[ch] : 1.0) * invstd;
        double mgxhat = sgx * invstd / count;
        A[q] = (float)a;
        B[q] = (float)(-a * invstd * mgxhat);
        C[q] = (float)(-a * sg / count);
      }
      if (!(mask & SEPCONV_GRAD_INPUT)) continue;
      for (int i = 0; i < n; i++)
        for (int q = 0; q < nc; q++) {
          const int64_t o = plane(i, c0 + q);
          dx_seg<ACT>(x + o, ACT ? y + o : nullptr, dy + o, dx + o, hw, mf[q], A[q], B[q], C[q],
                      pf(i));
        }
    }
  });
}

// ---------------------------------------------------------------- elementwise
constexpr int64_t kChunk = 1 << 15;  // floats per parallel task

template <class F>
void for_chunks(int64_t count, F&& f) {
  parallel_for((count + kChunk - 1) / kChunk, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) f(b * kChunk, std::min(count, (b + 1) * kChunk));
  });
}

template <int ACT>
void act_fwd(int64_t count, const float* x, float* y) {
  for_chunks(count, [&](int64_t i0, int64_t i1) {
    int64_t j = i0;
    for (; j + VL <= i1; j += VL) vst(y + j, vact<ACT>(vld(x + j)));
    for (; j < i1; j++) y[j] = activate(ACT, x[j]);
  });
}

template <int ACT>
void act_bwd(int64_t count, const float* y, const float* dy, float* dx) {
  for_chunks(count, [&](int64_t i0, int64_t i1) {
    int64_t j = i0;
    for (; j + VL <= i1; j += VL) vst(dx + j, vpass<ACT>(vld(y + j), vld(dy + j)));
    for (; j < i1; j++) dx[j] = spass<ACT>(y[j], dy[j]);
  });
}

// Sum of x[0, len) (SQUARES: of x^2, exact products) in double: vector lanes, fixed order.
template <bool SQUARES>
double lane_sum(const float* x, int64_t len) {
  vd a = dzero(), b = dzero();
  int64_t j = 0;
  for (; j + VL <= len; j += VL) {
    vf v = vld(x + j);
    vd lo = dlo(v), hi = dhi(v);
    if (SQUARES) a = dfma(lo, lo, a), b = dfma(hi, hi, b);
    else a = dadd(a, lo), b = dadd(b, hi);
  }
  double s = dsum(dadd(a, b));
  for (; j < len; j++) s += SQUARES ? (double)x[j] * x[j] : (double)x[j];
  return s;
}

// ---------------------------------------------------------------- pooling
// Window of output row/col o along one axis: [lo, hi) clipped to the input, and the extent
// clipped to the padded input (PyTorch's count_include_pad divisor).
struct Span {
  int lo, hi, padded;
};
inline Span span(int o, int stride, int pad, int k, int size) {
  int s = o * stride - pad, e = std::min(s + k, size + pad);
  return Span{std::max(s, 0), std::min(e, size), e - s};
}

// ---------------------------------------------------------------- linear and softmax
// sums[j] += sum over rows of a[i][j], double per column, rows in order.
void column_sums(int rows, int cols, const float* a, float* sums) {
  constexpr int B = 256;
  parallel_for((cols + B - 1) / B, [&](int64_t b0, int64_t b1) {
    double acc[B];
    for (int64_t b = b0; b < b1; b++) {
      const int j0 = (int)b * B, nb = std::min(B, cols - j0);
      for (int j = 0; j < nb; j++) acc[j] = 0;
      for (int i = 0; i < rows; i++) {
        const float* r = a + (int64_t)i * cols + j0;
        for (int j = 0; j < nb; j++) acc[j] += r[j];
      }
      for (int j = 0; j < nb; j++) sums[j0 + j] += (float)acc[j];
    }
  });
}

// probs = softmax(logits) per row; row_loss[i] = -sum_k q_k log p_k.
void softmax_rows(int n, int classes, const float* logits, const int32_t* labels,
                  float smoothing, float* probs, double* row_loss) {
  parallel_for(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const float* z = logits + i * classes;
      float* p = probs + i * classes;
      float m = z[0];
      for (int k = 1; k < classes; k++) m = z[k] > m ? z[k] : m;
      double s = 0, sz = 0;
      for (int k = 0; k < classes; k++) {
        float d = z[k] - m;
        float e = std::exp(d);
        p[k] = e;
        s += e;
        sz += d;
      }
      const float inv = (float)(1.0 / s);
      int64_t k = 0;
      for (; k + VL <= classes; k += VL) vst(p + k, vmul(vld(p + k), vset(inv)));
      for (; k < classes; k++) p[k] *= inv;
      // -sum q_k (z_k - m - log s) = log s - (1-s) (z_lab - m) - s/classes * sum (z_k - m)
      row_loss[i] = std::log(s) - (1.0 - smoothing) * ((double)z[labels[i]] - m) -
                    (double)smoothing / classes * sz;
    }
  });
}

}  // namespace

// ---------------------------------------------------------------- entry kernels
void bn_forward_training(int n, int c, int hw, const float* x, const float* gamma,
                         const float* beta, float eps, float momentum, float* running_mean,
                         float* running_var, float* save_mean, float* save_invstd, int act,
                         float* y) {
  SEPCONV_ACT_SWITCH(act, bn_train<ACT>(n, c, hw, x, gamma, beta, eps, momentum, running_mean,
                                        running_var, save_mean, save_invstd, y));
}

void bn_forward_inference(int n, int c, int hw, const float* x, const float* gamma,
                          const float* beta, const float* running_mean, const float* running_var,
                          float eps, int act, float* y) {
  SEPCONV_ACT_SWITCH(act,
                     bn_infer<ACT>(n, c, hw, x, gamma, beta, running_mean, running_var, eps, y));
}

void bn_backward(int n, int c, int hw, int mask, const float* x, const float* y, const float* dy,
                 const float* gamma, const float* save_mean, const float* save_invstd, int act,
                 float* dx, float* dgamma, float* dbeta) {
  SEPCONV_ACT_SWITCH(act, bn_bwd<ACT>(n, c, hw, mask, x, y, dy, gamma, save_mean, save_invstd,
                                      dx, dgamma, dbeta));
}

// w[c][per_channel] *= s and bias = (bias - mean)*s + beta, s = gamma/sqrt(var + eps) in double.
void bn_fold(int c, int64_t per_channel, float* w, float* bias, const float* gamma,
             const float* beta, const float* mean, const float* var, float eps) {
  parallel_for(c, [&](int64_t c0, int64_t c1) {
    for (int64_t ch = c0; ch < c1; ch++) {
      double s = (gamma ? gamma[ch] : 1.0) / std::sqrt((double)var[ch] + eps);
      const float sf = (float)s;
      float* row = w + ch * per_channel;
      int64_t j = 0;
      for (; j + VL <= per_channel; j += VL) vst(row + j, vmul(vld(row + j), vset(sf)));
      for (; j < per_channel; j++) row[j] *= sf;
      bias[ch] = (float)(((double)bias[ch] - mean[ch]) * s + (beta ? beta[ch] : 0.0));
    }
  });
}

void activation_forward(int act, int64_t count, const float* x, float* y) {
  SEPCONV_ACT_SWITCH(act, act_fwd<ACT>(count, x, y));
}

// NONE: dx = dy (nothing to do in place) without reading y.
void activation_backward(int act, int64_t count, const float* y, const float* dy, float* dx) {
  if (act == SEPCONV_ACT_NONE) {
    if (dx != dy) act_fwd<SEPCONV_ACT_NONE>(count, dy, dx);
    return;
  }
  SEPCONV_ACT_SWITCH(act, act_bwd<ACT>(count, y, dy, dx));
}

void add(int64_t count, const float* a, const float* b, float* y) {
  for_chunks(count, [&](int64_t i0, int64_t i1) {
    int64_t j = i0;
    for (; j + VL <= i1; j += VL) vst(y + j, vadd(vld(a + j), vld(b + j)));
    for (; j < i1; j++) y[j] = a[j] + b[j];
  });
}

// Philox (philox.h) for 16 counters at a time: the loop over them vectorises. for_chunks' chunks
// are multiples of 64 elements, so each one starts on a counter.
void dropout_forward(int64_t count, float p, uint64_t seed, const float* x, float* mask,
                     float* y) {
  constexpr int G = 16;
  const float scale = dropout_scale(p);
  for_chunks(count, [&, p, seed, scale](int64_t i0, int64_t i1) {  // scalars by value: no aliasing
    uint32_t words[4 * G];
    for (int64_t i = i0; i < i1; i += 4 * G) {
      const uint64_t ctr = (uint64_t)i / 4;
      for (int q = 0; q < G; q++) {
        const Philox4 r = philox4x32_10(ctr + q, seed);
        for (int k = 0; k < 4; k++) words[4 * q + k] = r.v[k];
      }
      const int len = (int)std::min<int64_t>(4 * G, i1 - i);
      for (int k = 0; k < len; k++) {
        const float m = dropout_keep(words[k], p) ? scale : 0.0f;
        mask[i + k] = m;
        y[i + k] = x[i + k] * m;
      }
    }
  });
}

void dropout_backward(int64_t count, const float* mask, const float* dy, float* dx) {
  for_chunks(count, [&](int64_t i0, int64_t i1) {
    int64_t j = i0;
    for (; j + VL <= i1; j += VL) vst(dx + j, vmul(vld(dy + j), vld(mask + j)));
    for (; j < i1; j++) dx[j] = dy[j] * mask[j];
  });
}

void scale(int64_t count, float alpha, const float* x, float* y) {
  const vf va = vset(alpha);
  for_chunks(count, [&](int64_t i0, int64_t i1) {
    int64_t j = i0;
    for (; j + VL <= i1; j += VL) vst(y + j, vmul(va, vld(x + j)));
    for (; j < i1; j++) y[j] = alpha * x[j];
  });
}

// One double per chunk of kChunk elements, then the chunks in order: the order of the sum
// depends on the count and the ISA, never on the threads.
void sum_squares(int64_t count, const float* x, double* result) {
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  Workspace ws((size_t)chunks * 2);
  double* part = reinterpret_cast<double*>(ws.data());
  for_chunks(count, [&](int64_t i0, int64_t i1) { part[i0 / kChunk] = lane_sum<true>(x + i0, i1 - i0); });
  double total = 0;
  for (int64_t c = 0; c < chunks; c++) total += part[c];
  *result = total;
}

void avgpool_forward(const PoolGeom& g, const float* x, float* y) {
  parallel_for(g.planes(), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      const float* xp = x + p * g.in_plane();
      float* yp = y + p * g.out_plane();
      for (int oy = 0; oy < g.oh; oy++) {
        Span sy = span(oy, g.sh, g.ph, g.kh, g.h);
        for (int ox = 0; ox < g.ow; ox++) {
          Span sx = span(ox, g.sw, g.pw, g.kw, g.w);
          double s = 0;
          for (int iy = sy.lo; iy < sy.hi; iy++) {
            const float* row = xp + (int64_t)iy * g.w;
            float r = 0;
            for (int ix = sx.lo; ix < sx.hi; ix++) r += row[ix];
            s += r;
          }
          int div = g.include_pad ? sy.padded * sx.padded : (sy.hi - sy.lo) * (sx.hi - sx.lo);
          yp[(int64_t)oy * g.ow + ox] = (float)(s / div);
        }
      }
    }
  });
}

void avgpool_backward(const PoolGeom& g, const float* dy, float* dx) {
  parallel_for(g.planes(), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      const float* dyp = dy + p * g.out_plane();
      float* dxp = dx + p * g.in_plane();
      std::memset(dxp, 0, (size_t)g.in_plane() * sizeof(float));
      for (int oy = 0; oy < g.oh; oy++) {
        Span sy = span(oy, g.sh, g.ph, g.kh, g.h);
        for (int ox = 0; ox < g.ow; ox++) {
          Span sx = span(ox, g.sw, g.pw, g.kw, g.w);
          int div = g.include_pad ? sy.padded * sx.padded : (sy.hi - sy.lo) * (sx.hi - sx.lo);
          float d = dyp[(int64_t)oy * g.ow + ox] / (float)div;
          for (int iy = sy.lo; iy < sy.hi; iy++) {
            float* row = dxp + (int64_t)iy * g.w;
            for (int ix = sx.lo; ix < sx.hi; ix++) row[ix] += d;
          }
        }
      }
    }
  });
}

void maxpool_forward(const PoolGeom& g, const float* x, float* y, int32_t* argmax) {
  parallel_for(g.planes(), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      const float* xp = x + p * g.in_plane();
      float* yp = y + p * g.out_plane();
      int32_t* ap = argmax ? argmax + p * g.out_plane() : nullptr;
      for (int oy = 0; oy < g.oh; oy++) {
        Span sy = span(oy, g.sh, g.ph, g.kh, g.h);
        for (int ox = 0; ox < g.ow; ox++) {
          Span sx = span(ox, g.sw, g.pw, g.kw, g.w);
          float best = -std::numeric_limits<float>::infinity();
          int bi = sy.lo * g.w + sx.lo;
          for (int iy = sy.lo; iy < sy.hi; iy++)
            for (int ix = sx.lo; ix < sx.hi; ix++) {
              float v = xp[iy * g.w + ix];
              if (v > best || std::isnan(v)) best = v, bi = iy * g.w + ix;
            }
          yp[(int64_t)oy * g.ow + ox] = best;
          if (ap) ap[(int64_t)oy * g.ow + ox] = bi;
        }
      }
    }
  });
}

void maxpool_backward(const PoolGeom& g, const float* dy, const int32_t* argmax, float* dx) {
  parallel_for(g.planes(), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      const float* dyp = dy + p * g.out_plane();
      const int32_t* ap = argmax + p * g.out_plane();
      float* dxp = dx + p * g.in_plane();
      std::memset(dxp, 0, (size_t)g.in_plane() * sizeof(float));
      for (int64_t o = 0; o < g.out_plane(); o++) dxp[ap[o]] += dyp[o];
    }
  });
}

void global_avgpool_forward(int n, int c, int hw, const float* x, float* y) {
  parallel_for((int64_t)n * c, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) y[p] = (float)(lane_sum<false>(x + p * hw, hw) / hw);
  });
}

void global_avgpool_backward(int n, int c, int hw, const float* dy, float* dx) {
  parallel_for((int64_t)n * c, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      float v = (float)((double)dy[p] / hw);
      float* d = dx + p * hw;
      for (int j = 0; j < hw; j++) d[j] = v;
    }
  });
}

// y = x . w^T + bias: the bias rows first, then one GEMM that adds into them.
void linear_forward(int n, int in, int out, const float* x, const float* w, const float* bias,
                    float* y) {
  if (bias)
    parallel_for(n, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; i++) std::copy(bias, bias + out, y + i * out);
    });
  gemm(false, true, n, out, in, 1.0f, x, in, w, in, bias ? 1.0f : 0.0f, y, out);
}

void linear_backward(int n, int in, int out, int mask, const float* x, const float* w,
                     const float* dy, float* dx, float* dw, float* dbias) {
  if (mask & SEPCONV_GRAD_INPUT)  // dx[n][in] = dy[n][out] . w[out][in]
    gemm(false, false, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
  if (mask & SEPCONV_GRAD_WEIGHT)  // dw[out][in] += dy^T . x
    gemm(true, false, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
  if (mask & SEPCONV_GRAD_BIAS) column_sums(n, out, dy, dbias);
}

// loss[0] = the mean of the rows' losses, summed in row order.
void softmax_xent_forward(int n, int classes, const float* logits, const int32_t* labels,
                          float smoothing, float* probs, float* loss) {
  Workspace ws((size_t)n * 2);  // one double per row
  double* rows = reinterpret_cast<double*>(ws.data());
  softmax_rows(n, classes, logits, labels, smoothing, probs, rows);
  double total = 0;
  for (int i = 0; i < n; i++) total += rows[i];
  loss[0] = (float)(total / n);
}

// dlogits = scale * (probs - q), scale = dloss / n
void softmax_xent_backward(int n, int classes, const float* probs, const int32_t* labels,
                           float smoothing, float dloss, float* dlogits) {
  const float scale = (float)((double)dloss / n);
  const float off = smoothing / (float)classes, hit = 1.0f - smoothing;
  parallel_for(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const float* p = probs + i * classes;
      float* d = dlogits + i * classes;
      int64_t k = 0;
      vf vo = vset(off), vs = vset(scale);
      for (; k + VL <= classes; k += VL) vst(d + k, vmul(vs, vsub(vld(p + k), vo)));
      for (; k < classes; k++) d[k] = scale * (p[k] - off);
      int lab = labels[i];
      d[lab] = scale * (p[lab] - (off + hit));
    }
  });
}

// The largest number of each row, then the first index that holds it (0 when the row has no
// number): ties go to the lowest index and NaN never wins, as in the reference.
void argmax_rows(int n, int classes, const float* x, int32_t* idx) {
  parallel_for(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const float* r = x + i * classes;
      float best = -std::numeric_limits<float>::infinity();
      int k = 0;
      if (classes >= VL) {  // vmax keeps its second operand where the first is NaN
        vf m = vset(best);
        for (; k + VL <= classes; k += VL) m = vmax(vld(r + k), m);
        float lanes[VL];
        vst(lanes, m);
        for (int l = 0; l < VL; l++) best = lanes[l] > best ? lanes[l] : best;
      }
      for (; k < classes; k++) best = r[k] > best ? r[k] : best;
      int32_t found = 0;
      for (int j = 0; j < classes; j++)
        if (r[j] == best) {
          found = j;
          break;
        }
      idx[i] = found;
    }
  });
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
