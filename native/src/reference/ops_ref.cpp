// Naive references of the non-convolution ops: direct loops, double accumulation, never tuned.
// They define correctness for the fast kernels in kernels/ops_kernels.cpp.
#include <cmath>
#include <limits>
#include <vector>

#include "../ops.h"
#include "../philox.h"

namespace sepconv {

// The forward output y is inside the active range (the gradient passes).
static bool ref_active(int act, float y) {
  if (act == SEPCONV_ACT_RELU) return y > 0;
  if (act == SEPCONV_ACT_RELU6) return y > 0 && y < 6;
  return true;
}

static int64_t at(int n, int c, int hw, int i, int ch, int j) {
  return ((int64_t)i * c + ch) * hw + j;
}

// ------------------------------------------------------------------ batch normalisation
void ref_bn_forward_training(int n, int c, int hw, const float* x, const float* gamma,
                             const float* beta, float eps, float momentum, float* running_mean,
                             float* running_var, float* save_mean, float* save_invstd, int act,
                             float* y) {
  const double count = (double)n * hw;
  for (int ch = 0; ch < c; ch++) {
    double sum = 0;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < hw; j++) sum += x[at(n, c, hw, i, ch, j)];
    double mean = sum / count, ss = 0;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < hw; j++) {
        double d = x[at(n, c, hw, i, ch, j)] - mean;
        ss += d * d;
      }
    double var = ss / count;
    double invstd = 1.0 / std::sqrt(var + (double)eps);
    double gm = gamma ? gamma[ch] : 1.0, bt = beta ? beta[ch] : 0.0;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < hw; j++) {
        int64_t k = at(n, c, hw, i, ch, j);
        y[k] = (float)activate<double>(act, gm * (x[k] - mean) * invstd + bt);
      }
    save_mean[ch] = (float)mean;
    save_invstd[ch] = (float)invstd;
    if (running_mean)
      running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + (double)momentum * mean);
    if (running_var)
      running_var[ch] = (float)((1.0 - momentum) * running_var[ch] +
                                (double)momentum * var * count / (count - 1));
  }
}

void ref_bn_forward_inference(int n, int c, int hw, const float* x, const float* gamma,
                              const float* beta, const float* running_mean,
                              const float* running_var, float eps, int act, float* y) {
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < c; ch++) {
      double invstd = 1.0 / std::sqrt((double)running_var[ch] + eps);
      double gm = gamma ? gamma[ch] : 1.0, bt = beta ? beta[ch] : 0.0;
      for (int j = 0; j < hw; j++) {
        int64_t k = at(n, c, hw, i, ch, j);
        y[k] = (float)activate<double>(act, gm * (x[k] - (double)running_mean[ch]) * invstd + bt);
      }
    }
}

void ref_bn_backward(int n, int c, int hw, int mask, const float* x, const float* y,
                     const float* dy, const float* gamma, const float* save_mean,
                     const float* save_invstd, int act, float* dx, float* dgamma, float* dbeta) {
  const double count = (double)n * hw;
  const bool need_x = mask & (SEPCONV_GRAD_INPUT | SEPCONV_GRAD_WEIGHT);
  for (int ch = 0; ch < c; ch++) {
    double mean = need_x ? save_mean[ch] : 0, invstd = need_x ? save_invstd[ch] : 0;
    auto g_at = [&](int64_t k) -> double { return ref_active(act, act ? y[k] : 0) ? dy[k] : 0.0; };
    double sg = 0, sgx = 0;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < hw; j++) {
        int64_t k = at(n, c, hw, i, ch, j);
        double g = g_at(k);
        sg += g;
        if (need_x) sgx += g * (x[k] - mean) * invstd;
      }
    if (mask & SEPCONV_GRAD_BIAS) dbeta[ch] += (float)sg;
    if (mask & SEPCONV_GRAD_WEIGHT) dgamma[ch] += (float)sgx;
    if (mask & SEPCONV_GRAD_INPUT) {
      double gm = gamma ? gamma[ch] : 1.0;
      double mg = sg / count, mgx = sgx / count;
      for (int i = 0; i < n; i++)
        for (int j = 0; j < hw; j++) {
          int64_t k = at(n, c, hw, i, ch, j);
          double xhat = (x[k] - mean) * invstd;
          dx[k] = (float)(gm * invstd * (g_at(k) - mg - xhat * mgx));
        }
    }
  }
}

// s = gamma / sqrt(var + eps); w[c][j] *= s; bias = (bias - mean) * s + beta.
void ref_bn_fold(int c, int64_t per_channel, float* w, float* bias, const float* gamma,
                 const float* beta, const float* mean, const float* var, float eps) {
  for (int ch = 0; ch < c; ch++) {
    double s = (gamma ? gamma[ch] : 1.0) / std::sqrt((double)var[ch] + eps);
    for (int64_t j = 0; j < per_channel; j++)
      w[ch * per_channel + j] = (float)(w[ch * per_channel + j] * s);
    bias[ch] = (float)(((double)bias[ch] - mean[ch]) * s + (beta ? beta[ch] : 0.0));
  }
}

// ------------------------------------------------------------------ elementwise
void ref_activation_forward(int act, int64_t count, const float* x, float* y) {
  for (int64_t i = 0; i < count; i++) y[i] = (float)activate<double>(act, x[i]);
}

// y is read only when act != NONE.
void ref_activation_backward(int act, int64_t count, const float* y, const float* dy, float* dx) {
  for (int64_t i = 0; i < count; i++)
    dx[i] = act == SEPCONV_ACT_NONE || ref_active(act, y[i]) ? dy[i] : 0.0f;
}

void ref_add(int64_t count, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < count; i++) y[i] = (float)((double)a[i] + b[i]);
}

// Philox words one element at a time (four times the work of the fast kernels' one per counter).
void ref_dropout_forward(int64_t count, float p, uint64_t seed, const float* x, float* mask,
                         float* y) {
  const float scale = dropout_scale(p);
  for (int64_t i = 0; i < count; i++) {
    const uint32_t word = philox4x32_10((uint64_t)i / 4, seed).v[i % 4];
    mask[i] = dropout_keep(word, p) ? scale : 0.0f;
    y[i] = (float)((double)x[i] * mask[i]);
  }
}

void ref_dropout_backward(int64_t count, const float* mask, const float* dy, float* dx) {
  for (int64_t i = 0; i < count; i++) dx[i] = (float)((double)dy[i] * mask[i]);
}

void ref_scale(int64_t count, float alpha, const float* x, float* y) {
  for (int64_t i = 0; i < count; i++) y[i] = (float)((double)alpha * x[i]);
}

void ref_sum_squares(int64_t count, const float* x, double* result) {
  double s = 0;
  for (int64_t i = 0; i < count; i++) s += (double)x[i] * x[i];
  *result = s;
}

// ------------------------------------------------------------------ pooling
// Calls f(input_index) for every cell of output (oy, ox)'s window inside the input plane;
// returns PyTorch's divisor for average pooling.
template <class F>
static int window(const PoolGeom& g, int oy, int ox, F&& f) {
  int y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
  int padded = 0, valid = 0;
  for (int ky = 0; ky < g.kh; ky++)
    for (int kx = 0; kx < g.kw; kx++) {
      int iy = y0 + ky, ix = x0 + kx;
      if (iy < g.h + g.ph && ix < g.w + g.pw) padded++;  // inside the padded input
      if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
      valid++;
      f((int64_t)iy * g.w + ix);
    }
  return g.include_pad ? padded : valid;
}

void ref_avgpool_forward(const PoolGeom& g, const float* x, float* y) {
  for (int64_t p = 0; p < g.planes(); p++) {
    const float* xp = x + p * g.in_plane();
    for (int oy = 0; oy < g.oh; oy++)
      for (int ox = 0; ox < g.ow; ox++) {
        double s = 0;
        int div = window(g, oy, ox, [&](int64_t k) { s += xp[k]; });
        y[p * g.out_plane() + (int64_t)oy * g.ow + ox] = (float)(s / div);
      }
  }
}

void ref_avgpool_backward(const PoolGeom& g, const float* dy, float* dx) {
  std::vector<double> acc((size_t)g.in_plane());
  for (int64_t p = 0; p < g.planes(); p++) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int oy = 0; oy < g.oh; oy++)
      for (int ox = 0; ox < g.ow; ox++) {
        double d = dy[p * g.out_plane() + (int64_t)oy * g.ow + ox];
        int div = window(g, oy, ox, [](int64_t) {});
        window(g, oy, ox, [&](int64_t k) { acc[(size_t)k] += d / div; });
      }
    for (int64_t k = 0; k < g.in_plane(); k++) dx[p * g.in_plane() + k] = (float)acc[(size_t)k];
  }
}

void ref_maxpool_forward(const PoolGeom& g, const float* x, float* y, int32_t* argmax) {
  for (int64_t p = 0; p < g.planes(); p++) {
    const float* xp = x + p * g.in_plane();
    for (int oy = 0; oy < g.oh; oy++)
      for (int ox = 0; ox < g.ow; ox++) {
        float best = -std::numeric_limits<float>::infinity();
        int64_t bi = -1;
        window(g, oy, ox, [&](int64_t k) {  // PyTorch's rule: ties keep the first, NaN wins
          if (bi < 0) bi = k;
          if (xp[k] > best || std::isnan(xp[k])) best = xp[k], bi = k;
        });
        int64_t o = p * g.out_plane() + (int64_t)oy * g.ow + ox;
        y[o] = best;
        if (argmax) argmax[o] = (int32_t)bi;
      }
  }
}

void ref_maxpool_backward(const PoolGeom& g, const float* dy, const int32_t* argmax, float* dx) {
  std::vector<double> acc((size_t)g.in_plane());
  for (int64_t p = 0; p < g.planes(); p++) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t o = 0; o < g.out_plane(); o++)
      acc[(size_t)argmax[p * g.out_plane() + o]] += dy[p * g.out_plane() + o];
    for (int64_t k = 0; k < g.in_plane(); k++) dx[p * g.in_plane() + k] = (float)acc[(size_t)k];
  }
}

void ref_global_avgpool_forward(int n, int c, int hw, const float* x, float* y) {
  for (int64_t p = 0; p < (int64_t)n * c; p++) {
    double s = 0;
    for (int j = 0; j < hw; j++) s += x[p * hw + j];
    y[p] = (float)(s / hw);
  }
}

void ref_global_avgpool_backward(int n, int c, int hw, const float* dy, float* dx) {
  for (int64_t p = 0; p < (int64_t)n * c; p++)
    for (int j = 0; j < hw; j++) dx[p * hw + j] = (float)((double)dy[p] / hw);
}

// ------------------------------------------------------------------ linear
void ref_linear_forward(int n, int in, int out, const float* x, const float* w, const float* bias,
                        float* y) {
  for (int i = 0; i < n; i++)
    for (int o = 0; o < out; o++) {
      double s = bias ? bias[o] : 0.0;
      for (int k = 0; k < in; k++) s += (double)x[(int64_t)i * in + k] * w[(int64_t)o * in + k];
      y[(int64_t)i * out + o] = (float)s;
    }
}

void ref_linear_backward(int n, int in, int out, int mask, const float* x, const float* w,
                         const float* dy, float* dx, float* dw, float* dbias) {
  if (mask & SEPCONV_GRAD_INPUT)
    for (int i = 0; i < n; i++)
      for (int k = 0; k < in; k++) {
        double s = 0;
        for (int o = 0; o < out; o++) s += (double)dy[(int64_t)i * out + o] * w[(int64_t)o * in + k];
        dx[(int64_t)i * in + k] = (float)s;
      }
  if (mask & SEPCONV_GRAD_WEIGHT)
    for (int o = 0; o < out; o++)
      for (int k = 0; k < in; k++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += (double)dy[(int64_t)i * out + o] * x[(int64_t)i * in + k];
        dw[(int64_t)o * in + k] += (float)s;
      }
  if (mask & SEPCONV_GRAD_BIAS)
    for (int o = 0; o < out; o++) {
      double s = 0;
      for (int i = 0; i < n; i++) s += dy[(int64_t)i * out + o];
      dbias[o] += (float)s;
    }
}

// ------------------------------------------------------------------ softmax cross-entropy
void ref_softmax_xent_forward(int n, int classes, const float* logits, const int32_t* labels,
                              float smoothing, float* probs, float* loss) {
  double total = 0;
  for (int i = 0; i < n; i++) {
    const float* z = logits + (int64_t)i * classes;
    double m = z[0];
    for (int k = 1; k < classes; k++) m = std::max(m, (double)z[k]);
    double s = 0;
    for (int k = 0; k < classes; k++) s += std::exp(z[k] - m);
    double lse = m + std::log(s), row = 0;
    for (int k = 0; k < classes; k++) {
      double logp = z[k] - lse;
      probs[(int64_t)i * classes + k] = (float)std::exp(logp);
      double q = (k == labels[i] ? 1.0 - smoothing : 0.0) + (double)smoothing / classes;
      row -= q * logp;
    }
    total += row;
  }
  loss[0] = (float)(total / n);
}

void ref_softmax_xent_backward(int n, int classes, const float* probs, const int32_t* labels,
                               float smoothing, float dloss, float* dlogits) {
  for (int i = 0; i < n; i++)
    for (int k = 0; k < classes; k++) {
      double q = (k == labels[i] ? 1.0 - smoothing : 0.0) + (double)smoothing / classes;
      int64_t o = (int64_t)i * classes + k;
      dlogits[o] = (float)((double)dloss * (probs[o] - q) / n);
    }
}

// ------------------------------------------------------------------ argmax
// The first index of the largest number; a NaN never replaces a number (a row of NaN gives 0).
void ref_argmax_rows(int n, int classes, const float* x, int32_t* idx) {
  for (int i = 0; i < n; i++) {
    const float* r = x + (int64_t)i * classes;
    int best = 0;
    for (int k = 1; k < classes; k++)
      if (r[k] > r[best] || (std::isnan(r[best]) && !std::isnan(r[k]))) best = k;
    idx[i] = best;
  }
}

}  // namespace sepconv
