// Depthwise convolution (groups == c_in, one input channel per group, channel multiplier
// m = c_out / c_in), fp32 NCHW, compiled once per ISA. See conv.h for the family contract.
//
// Every plane goes through the same "polyphase" layout. An input plane is copied into a
// zero-padded scratch buffer split into sh*sw phase planes (phase (py,px) holds the padded
// cells whose row = py mod sh and column = px mod sw), each Hq x Wq with row stride Wq. In
// that layout a convolution of any stride is a stride-1 correlation: output (oy, ox) at flat
// index q = oy*Wq + ox reads phase (ky*dh mod sh, kx*dw mod sw) at q + (ky*dh/sh)*Wq +
// kx*dw/sw. So all taps are contiguous vector loads with no bounds checks, padding costs a
// copy into L1 instead of branches, and stride 2 is de-interleaved once per input element.
//  - forward: phases of x, then per output row (wide rows) or over the flat range OH*Wq
//    (narrow rows such as 4x4 and 8x8 planes, several rows per vector; on AVX-512 the
//    results are compressed straight into y, elsewhere copied out by rows). Bias and the
//    activation (the epilogue) are applied to each vector as it is stored.
//  - backward data: dy is copied into a zero-gapped buffer of row stride Wq; each phase
//    plane of the padded dx is then a stride-1 correlation of that buffer with the taps of
//    its phase (gather form, accumulating in registers); the phases are interleaved back.
//  - backward weight: phases of x and the zero-gapped dy; dw_t is the dot product of dy with
//    the phase plane shifted by tap t. A task owns a range of input channels and the dw of
//    their m output channels each: float vector lanes over a block of images (<= 16 planes,
//    sized by the shape only), a fixed-order horizontal sum into double per tap, blocks in
//    image order, so results never depend on the thread count. No atomics.
// Planes go through scratch in blocks (copies first, then compute) so that tap loads do not
// hit store-forwarding stalls; outputs of 32 MB and more use non-temporal stores where the
// destination vector is 64-byte aligned.
// 3x3 and 5x5 with stride 1 or 2 and dilation 1 are templates (taps unrolled, weights in
// registers); every other geometry runs the same code with a runtime tap list.
#include <algorithm>
#include <cstring>

#include "../conv.h"
#include "simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace {

#define DW_UNROLL _Pragma("GCC unroll 32")

// Outputs far larger than the caches are written with non-temporal stores (no read for
// ownership: the write costs one pass over memory instead of two) where a vector is aligned.
constexpr int64_t k_stream_bytes = (int64_t)32 << 20;
inline void vst_maybe_nt(float* p, vf v, bool nt) {
  if (nt && ((uintptr_t)p & (sizeof(vf) - 1)) == 0) vst_nt(p, v);
  else vst(p, v);
}

// dst[2j] = se[j], dst[2j+1] = so[j] for 2j, 2j+1 < n. Writes only dst[0, n).
inline void interleave2(float* dst, int64_t n, const float* se, const float* so, bool nt = false) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512i il = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i ih = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (; i + 32 <= n; i += 32) {
    __m512 e = _mm512_loadu_ps(se + i / 2), o = _mm512_loadu_ps(so + i / 2);
    vst_maybe_nt(dst + i, _mm512_permutex2var_ps(e, il, o), nt);
    vst_maybe_nt(dst + i + 16, _mm512_permutex2var_ps(e, ih, o), nt);
  }
  if (i < n) {  // se and so are scratch: reading a full vector past the end is fine
    int r = (int)(n - i);
    __m512 e = _mm512_loadu_ps(se + i / 2), o = _mm512_loadu_ps(so + i / 2);
    vst_n(dst + i, _mm512_permutex2var_ps(e, il, o), std::min(r, 16));
    if (r > 16) vst_n(dst + i + 16, _mm512_permutex2var_ps(e, ih, o), r - 16);
    return;
  }
#endif
  (void)nt;
  for (; i + 1 < n; i += 2) {
    dst[i] = se[i / 2];
    dst[i + 1] = so[i / 2];
  }
  if (i < n) dst[i] = se[i / 2];
}

// ---------------------------------------------------------------- geometry
struct Plan {
  int H, W, OH, OW, sh, sw, ph, pw;
  int64_t Hq, Wq;     // phase plane extent
  int64_t ps;         // floats between phase planes (with slack)
  int64_t xbuf;       // floats of the phase buffer
  int64_t flat;       // OH * Wq: the flat output range
  int64_t flat_r;     // flat rounded up to whole vectors
  int64_t front;      // zeros before dy in the backward-data buffer
  int64_t dybuf;      // floats of the dy buffer
  int ntaps;
  bool flat_fwd;      // forward / backward weight: flat range (narrow rows) or row by row
  bool flat_bwd;      // the same choice for the rows of dx
};

// The phase-buffer offset of tap (ky, kx), relative to output (0, 0).
inline int64_t tap_offset(const Plan& p, int64_t ey, int64_t ex) {
  return ((ey % p.sh) * p.sw + ex % p.sw) * p.ps + (ey / p.sh) * p.Wq + ex / p.sw;
}

Plan make_plan(const ConvGeom& g) {
  Plan p{};
  p.H = g.h, p.W = g.w, p.OH = g.oh, p.OW = g.ow, p.sh = g.sh, p.sw = g.sw, p.ph = g.ph,
  p.pw = g.pw;
  p.Hq = ceil_div((int64_t)g.h + 2 * g.ph, g.sh);
  p.Wq = ceil_div((int64_t)g.w + 2 * g.pw, g.sw);
  // Taps read at most (Hq-1)*Wq + Wq-1 + VL-1 past a phase start (see the header comment).
  p.ps = round_up(p.Hq * p.Wq + p.Wq + 2 * VL, VL);
  p.xbuf = p.ps * g.sh * g.sw;
  p.flat = (int64_t)g.oh * p.Wq;
  p.flat_r = round_up(p.flat, VL);
  int64_t ay = (int64_t)(g.kh - 1) * g.dh / g.sh, ax = (int64_t)(g.kw - 1) * g.dw / g.sw;
  p.front = round_up(ay * p.Wq + ax, VL);
  p.dybuf = round_up(p.front + p.Hq * p.Wq + p.Wq + 2 * VL, VL);
  p.ntaps = g.kh * g.kw;
  // Row by row costs ceil(OW/VL) vectors per row; flat costs Wq/VL per row plus a copy out.
  int64_t rows = (int64_t)g.oh * ceil_div(g.ow, VL);
  p.flat_fwd = (double)ceil_div(p.flat, VL) + 0.25 * rows < (double)rows;
  int64_t drows = (int64_t)g.h * ceil_div(g.w, VL);
  p.flat_bwd = (double)ceil_div((int64_t)g.h * p.Wq, VL) + 0.25 * drows < (double)drows;
  return p;
}

// Copies input plane xp into the phase buffer (only interior cells: the padding cells are
// zeroed once per task and never written).
void load_phases(const Plan& p, const float* xp, float* xb) {
  if (p.sh == 1 && p.sw == 1) {
    float* row = xb + p.ph * p.Wq + p.pw;
    if (p.W == p.Wq) {  // no column padding: one contiguous run
      copy_n(row, xp, (int64_t)p.H * p.W);
      return;
    }
    for (int r = 0; r < p.H; r++, row += p.Wq, xp += p.W) copy_n(row, xp, p.W);
    return;
  }
  if (p.sh == 2 && p.sw == 2) {
    const int64_t e0 = (p.pw & 1) * p.ps + p.pw / 2, o0 = ((p.pw + 1) & 1) * p.ps + (p.pw + 1) / 2;
    for (int r = 0; r < p.H; r++, xp += p.W) {
      int64_t R = r + p.ph;
      float* row = xb + (R & 1) * 2 * p.ps + (R >> 1) * p.Wq;
      deinterleave2(xp, p.W, row + e0, row + o0);
    }
    return;
  }
  for (int r = 0; r < p.H; r++) {
    int64_t R = r + p.ph;
    float* row = xb + (R % p.sh) * p.sw * p.ps + (R / p.sh) * p.Wq;
    const float* src = xp + (int64_t)r * p.W;
    if (p.sw == 1) {
      copy_n(row + p.pw, src, p.W);
    } else if (p.sw == 2) {
      deinterleave2(src, p.W, row + (p.pw % 2) * p.ps + p.pw / 2,
                    row + ((p.pw + 1) % 2) * p.ps + (p.pw + 1) / 2);
    } else {
      for (int c = 0; c < p.W; c++) {
        int64_t C = c + p.pw;
        row[(C % p.sw) * p.ps + C / p.sw] = src[c];
      }
    }
  }
}

// dy plane -> buffer of row stride Wq starting at `at` (the gap columns stay zero).
void load_dy(const Plan& p, const float* dyp, float* at) {
  if (p.Wq == p.OW) {
    copy_n(at, dyp, p.flat);
    return;
  }
  for (int oy = 0; oy < p.OH; oy++) copy_n(at + oy * p.Wq, dyp + (int64_t)oy * p.OW, p.OW);
}

// ---------------------------------------------------------------- blocks and flat stores
// Planes are handled in blocks: first every copy into scratch of the block, then every
// compute. Taps load full vectors that straddle the narrower stores of the copy; issued
// right after those stores they cannot be store-forwarded and stall, so a block puts a few
// planes of work between a store and the loads that read it. Sized to stay in L1 (48 KiB).
inline int block_planes(int64_t floats_per_plane, int64_t cap) {
  int64_t b = (6 * 1024) / std::max<int64_t>(floats_per_plane, 1);
  return (int)std::max<int64_t>(1, std::min<int64_t>(b, cap));
}

#if defined(__AVX512F__)
// Lane masks of a flat range that starts at a row start: lane q is a cell of the dense
// plane when q < rows*Wq and c0 <= q % Wq < c0 + cols.
void flat_masks(int64_t rows, int64_t Wq, int64_t cols, int64_t nvec, uint16_t* mk,
                int64_t c0 = 0) {
  for (int64_t v = 0; v < nvec; v++) {
    unsigned m = 0;
    for (int l = 0; l < VL; l++) {
      int64_t q = v * VL + l;
      if (q < rows * Wq && q % Wq >= c0 && q % Wq < c0 + cols) m |= 1u << l;
    }
    mk[v] = (uint16_t)m;
  }
}
// The inverse: spread a dense plane over a flat range (zeros in the other lanes), full
// vector stores only. Reads exactly the dense cells.
inline void flat_expand_load(const float* src, int64_t nvec, const uint16_t* mk, float* dst) {
  int64_t k = 0;
  for (int64_t v = 0; v < nvec; v++) {
    __mmask16 m = mk[v];
    int c = __builtin_popcount(m);
    vst(dst + v * VL, _mm512_maskz_expand_ps(m, vld_n(src + k, c)));
    k += c;
  }
}
// The results of a flat range, in order, are exactly the dense output plane: compress each
// vector and store its lanes contiguously (no scratch round trip).
template <class F>
inline void flat_compress_store(const F& f, int64_t base, int64_t nvec, const uint16_t* mk,
                                float* dst) {
  int64_t k = 0;
  for (int64_t v = 0; v < nvec; v++) {
    __mmask16 m = mk[v];
    int c = __builtin_popcount(m);
    vst_n(dst + k, _mm512_maskz_compress_ps(m, f.at(base + v * VL)), c);
    k += c;
  }
}
constexpr bool k_compress = true;
#else
constexpr bool k_compress = false;
#endif

// Copies planes into scratch: row by row (load_phases / load_dy), or for narrow rows on
// AVX-512 with one masked expand per vector (stride-1 x phases and the zero-gapped dy).
struct Loader {
  const Plan& p;
  bool xexp = false, dyexp = false;
  int64_t xvec = 0, dyvec = 0;
  uint16_t *xm = nullptr, *dym = nullptr;
  static int64_t floats(const Plan& p) {
    return (ceil_div((int64_t)p.H * p.Wq, VL) + ceil_div(p.flat, VL)) / 2 + 2;
  }
  Loader(const Plan& pl, float* space) : p(pl) {
#if defined(__AVX512F__)
    xm = reinterpret_cast<uint16_t*>(space);
    xvec = ceil_div((int64_t)p.H * p.Wq, VL);
    dym = xm + xvec;
    dyvec = ceil_div(p.flat, VL);
    xexp = p.sh == 1 && p.sw == 1 && p.W < p.Wq && p.W < VL;
    dyexp = p.OW < p.Wq && p.OW < VL;
    if (xexp) flat_masks(p.H, p.Wq, p.W, xvec, xm, p.pw);
    if (dyexp) flat_masks(p.OH, p.Wq, p.OW, dyvec, dym);
#else
    (void)space;
#endif
  }
  void x(const float* xp, float* xb) const {
#if defined(__AVX512F__)
    if (xexp) return flat_expand_load(xp, xvec, xm, xb + p.ph * p.Wq);
#endif
    load_phases(p, xp, xb);
  }
  void dy(const float* dyp, float* at) const {
#if defined(__AVX512F__)
    if (dyexp) return flat_expand_load(dyp, dyvec, dym, at);
#endif
    load_dy(p, dyp, at);
  }
};

// ---------------------------------------------------------------- forward
// f.at(q): one vector of outputs at flat index q, summed over the taps.
template <int K, int S>
struct FwdFixed {
  const float* rp[K][S];  // rp[ky][px]: phase row of tap row ky, column phase px
  vf wv[K * K];
  vf bv;
  FwdFixed(const Plan& p, const float* xb, const float* w, float bias) {
    for (int ky = 0; ky < K; ky++)
      for (int px = 0; px < S; px++) rp[ky][px] = xb + ((ky % S) * S + px) * p.ps + (ky / S) * p.Wq;
    for (int t = 0; t < K * K; t++) wv[t] = vset(w[t]);
    bv = vset(bias);
  }
  // One accumulator per tap row: short FMA chains (tiny planes are latency bound).
  inline vf at(int64_t q) const {
    vf acc[K];
    DW_UNROLL for (int ky = 0; ky < K; ky++) {
      acc[ky] = ky == 0 ? bv : vzero();
      DW_UNROLL for (int kx = 0; kx < K; kx++)
          acc[ky] = vfma(wv[ky * K + kx], vld(rp[ky][kx % S] + kx / S + q), acc[ky]);
    }
    DW_UNROLL for (int ky = 1; ky < K; ky++) acc[0] = vadd(acc[0], acc[ky]);
    return acc[0];
  }
};

struct FwdDyn {
  const float* xb;
  const int64_t* off;
  const float* w;
  int nt;
  float bias;
  inline vf at(int64_t q) const {
    vf acc = vset(bias);
    for (int t = 0; t < nt; t++) acc = vfma(vset(w[t]), vld(xb + off[t] + q), acc);
    return acc;
  }
};

// Backward data, phase (py, px) of the padded dx at flat index q: the sum over the taps of
// that phase of w_t * dyb[q - shift_t] (dyb: zero-gapped dy after `front` zeros).
template <int K, int S, int PY, int PX>
struct BwdFixed {
  static constexpr int NY = (K - PY + S - 1) / S, NX = (K - PX + S - 1) / S;
  const float* rp[NY];
  vf wv[NY * NX];
  BwdFixed(const Plan& p, const float* dyb, const float* w) {
    for (int a = 0; a < NY; a++) rp[a] = dyb - a * p.Wq;  // tap row ky = PY + a*S
    for (int a = 0; a < NY; a++)
      for (int c = 0; c < NX; c++) wv[a * NX + c] = vset(w[(PY + a * S) * K + PX + c * S]);
  }
  inline vf at(int64_t q, vf acc0) const {
    vf acc[NY];
    DW_UNROLL for (int a = 0; a < NY; a++) {
      acc[a] = a == 0 ? acc0 : vzero();
      DW_UNROLL for (int c = 0; c < NX; c++) acc[a] = vfma(wv[a * NX + c], vld(rp[a] - c + q), acc[a]);
    }
    DW_UNROLL for (int a = 1; a < NY; a++) acc[0] = vadd(acc[0], acc[a]);
    return acc[0];
  }
  inline vf at(int64_t q) const { return at(q, vzero()); }
};

struct BwdDyn {
  const float* dyb;
  const int64_t* shift;  // this phase's taps
  const int* widx;       // their weight indices
  const float* w;
  int nt;
  inline vf at(int64_t q, vf acc) const {
    for (int t = 0; t < nt; t++) acc = vfma(vset(w[widx[t]]), vld(dyb - shift[t] + q), acc);
    return acc;
  }
  inline vf at(int64_t q) const { return at(q, vzero()); }
};

// Kernel policies: how to build the functors of one output channel.
template <int K, int S>
struct FixedKern {
  static constexpr int NPH = S * S;
  const Plan& p;
  const float* w;
  FwdFixed<K, S> fwd(int64_t oc, const float* xb, float bias) const {
    return FwdFixed<K, S>(p, xb, w + oc * K * K, bias);
  }
  template <class Fn>
  void bwd(int64_t oc, const float* d0, Fn&& fn) const {
    const float* wc = w + oc * K * K;
    fn(0, BwdFixed<K, S, 0, 0>(p, d0, wc));
    if constexpr (S == 2) {
      fn(1, BwdFixed<K, S, 0, 1>(p, d0, wc));
      fn(2, BwdFixed<K, S, 1, 0>(p, d0, wc));
      fn(3, BwdFixed<K, S, 1, 1>(p, d0, wc));
    }
  }
};

struct DynKern {
  const Plan& p;
  const float* w;
  int nt, nph;
  const int64_t* off;    // [nt] forward offsets, tap order
  const int64_t* shift;  // [nt] backward shifts, phase order
  const int* widx;       // [nt] weight index of each, phase order
  const int64_t* start;  // [nph + 1] first tap of each phase
  FwdDyn fwd(int64_t oc, const float* xb, float bias) const {
    return FwdDyn{xb, off, w + oc * nt, nt, bias};
  }
  template <class Fn>
  void bwd(int64_t oc, const float* d0, Fn&& fn) const {
    for (int k = 0; k < nph; k++)
      fn(k, BwdDyn{d0, shift + start[k], widx + start[k], w + oc * nt, (int)(start[k + 1] - start[k])});
  }
};

// Tap tables of the runtime kernels, in a Workspace of the calling thread.
struct DynTables {
  Workspace ws;
  int64_t *off, *shift, *start;
  int* widx;
  DynTables(const ConvGeom& g, const Plan& p)
      : ws(2 * (size_t)p.ntaps * 2 + 2 * (size_t)(g.sh * g.sw + 1) + (size_t)p.ntaps) {
    int nt = p.ntaps, nph = g.sh * g.sw;
    off = reinterpret_cast<int64_t*>(ws.data());
    shift = off + nt;
    start = shift + nt;
    widx = reinterpret_cast<int*>(start + nph + 1);
    for (int ky = 0, t = 0; ky < g.kh; ky++)
      for (int kx = 0; kx < g.kw; kx++, t++) off[t] = tap_offset(p, (int64_t)ky * g.dh, (int64_t)kx * g.dw);
    int cnt = 0;
    for (int k = 0; k < nph; k++) {
      start[k] = cnt;
      for (int ky = 0; ky < g.kh; ky++)
        for (int kx = 0; kx < g.kw; kx++) {
          int64_t ey = (int64_t)ky * g.dh, ex = (int64_t)kx * g.dw;
          if ((ey % g.sh) * g.sw + ex % g.sw != k) continue;
          shift[cnt] = (ey / g.sh) * p.Wq + ex / g.sw;
          widx[cnt++] = ky * g.kw + kx;
        }
    }
    start[nph] = cnt;
  }
  DynKern kern(const Plan& p, const float* w, int nph) const {
    return DynKern{p, w, p.ntaps, nph, off, shift, widx, start};
  }
};

// The forward's epilogue: f's outputs (conv + bias) through the activation, as they are stored.
template <int ACT, class F>
struct Activated {
  F f;
  inline vf at(int64_t q) const { return vact<ACT>(f.at(q)); }
};

template <int ACT, class Kern>
void forward_run(const ConvGeom& g, const Plan& p, const Kern& kern, const float* x,
                 const float* bias, float* y) {
  const int m = g.cout_g;
  const bool flat = p.flat_fwd, use_tmp = flat && !k_compress;
  const int64_t nvec = p.flat_r / VL, oplane = (int64_t)p.OH * p.OW;
  const int64_t tmp_per = use_tmp ? m * p.flat_r : 0;
  const int B = block_planes(p.xbuf + tmp_per, 16);
  const bool nt = (int64_t)g.n * g.c_out * oplane * 4 >= k_stream_bytes;
  parallel_for((int64_t)g.n * g.c_in, [&](int64_t b, int64_t e) {
    Workspace ws(B * (p.xbuf + tmp_per) + VL + (nvec + 1) / 2 + 1 + Loader::floats(p));
    float* xb = ws.data();
    float* tmp = xb + B * p.xbuf;
    uint16_t* mk = reinterpret_cast<uint16_t*>(tmp + B * tmp_per + VL);
    Loader ld(p, tmp + B * tmp_per + VL + (nvec + 1) / 2 + 1);
    std::memset(xb, 0, sizeof(float) * B * p.xbuf);
#if defined(__AVX512F__)
    if (flat) flat_masks(p.OH, p.Wq, p.OW, nvec, mk);
#else
    (void)mk;
#endif
    for (int64_t i0 = b; i0 < e; i0 += B) {
      int nb = (int)std::min<int64_t>(B, e - i0);
      for (int k = 0; k < nb; k++) ld.x(x + (i0 + k) * g.h * (int64_t)g.w, xb + k * p.xbuf);
      for (int k = 0; k < nb; k++) {
        int64_t i = i0 + k, ic = i % g.c_in, n = i / g.c_in;
        for (int j = 0; j < m; j++) {
          int64_t oc = ic * m + j;
          const Activated<ACT, decltype(kern.fwd(oc, xb, 0.f))> f{
              kern.fwd(oc, xb + k * p.xbuf, bias ? bias[oc] : 0.f)};
          float* yp = y + (n * g.c_out + oc) * oplane;
          if (!flat) {
            for (int oy = 0; oy < p.OH; oy++) {
              float* yr = yp + (int64_t)oy * p.OW;
              int64_t base = oy * p.Wq, ox = 0;
              for (; ox + VL <= p.OW; ox += VL) vst_maybe_nt(yr + ox, f.at(base + ox), nt);
              if (ox < p.OW) vst_n(yr + ox, f.at(base + ox), (int)(p.OW - ox));
            }
          } else if (use_tmp) {
            float* t = tmp + k * tmp_per + j * p.flat_r;
            for (int64_t q = 0; q < p.flat_r; q += VL) vst(t + q, f.at(q));
          } else {
#if defined(__AVX512F__)
            flat_compress_store(f, 0, nvec, mk, yp);
#endif
          }
        }
      }
      if (use_tmp)
        for (int k = 0; k < nb; k++) {
          int64_t i = i0 + k, ic = i % g.c_in, n = i / g.c_in;
          for (int j = 0; j < m; j++) {
            const float* t = tmp + k * tmp_per + j * p.flat_r;
            float* yp = y + (n * g.c_out + ic * m + j) * oplane;
            for (int oy = 0; oy < p.OH; oy++) copy_n(yp + (int64_t)oy * p.OW, t + oy * p.Wq, p.OW);
          }
        }
    }
    if (nt) nt_fence();
  });
}

// ---------------------------------------------------------------- backward data
// Rows [Y0, Y1) of the padded dx phase (py, px) (the rows holding dx cells).
inline void phase_rows(const Plan& p, int py, int64_t& Y0, int64_t& Y1) {
  Y0 = ceil_div(std::max<int64_t>(p.ph - py, 0), p.sh);
  Y1 = ceil_div(std::max<int64_t>(p.ph + p.H - py, 0), p.sh);
}

// Phase planes in dxb -> dx plane.
void store_phases(const Plan& p, const float* dxb, float* dxp, bool nt) {
  if (p.sh == 2 && p.sw == 2) {
    const int64_t e0 = (p.pw & 1) * p.ps + p.pw / 2, o0 = ((p.pw + 1) & 1) * p.ps + (p.pw + 1) / 2;
    for (int iy = 0; iy < p.H; iy++, dxp += p.W) {
      int64_t R = iy + p.ph;
      const float* row = dxb + (R & 1) * 2 * p.ps + (R >> 1) * p.Wq;
      interleave2(dxp, p.W, row + e0, row + o0, nt);
    }
    return;
  }
  for (int iy = 0; iy < p.H; iy++) {
    int64_t R = iy + p.ph;
    const float* row = dxb + (R % p.sh) * p.sw * p.ps + (R / p.sh) * p.Wq;
    float* dst = dxp + (int64_t)iy * p.W;
    if (p.sw == 1) {
      copy_n(dst, row + p.pw, p.W);
    } else if (p.sw == 2) {
      interleave2(dst, p.W, row + (p.pw % 2) * p.ps + p.pw / 2,
                  row + ((p.pw + 1) % 2) * p.ps + (p.pw + 1) / 2);
    } else {
      for (int c = 0; c < p.W; c++) {
        int64_t C = c + p.pw;
        dst[c] = row[(C % p.sw) * p.ps + C / p.sw];
      }
    }
  }
}

// Modes: rows (stride 1, wide rows: straight into dx, += for the multiplier's channels
// after the first), compress (AVX-512, stride 1, m == 1, narrow rows: flat range
// compressed into dx), phases (otherwise: phase planes in scratch, then store_phases).
template <class Kern>
void backward_data_run(const ConvGeom& g, const Plan& p, const Kern& kern, const float* dy,
                       float* dx) {
  const int m = g.cout_g, nph = g.sh * g.sw;
  enum { ROWS, COMPRESS, PHASES };
  const int mode = nph == 1 && !p.flat_bwd ? ROWS
                   : (k_compress && nph == 1 && m == 1) ? COMPRESS
                                                         : PHASES;
  const int64_t nvec = ceil_div((int64_t)p.H * p.Wq, VL), oplane = (int64_t)p.OH * p.OW;
  const int64_t per = m * p.dybuf + (mode == PHASES ? p.xbuf : 0);
  const int B = block_planes(per, 16);
  const bool nt = (int64_t)g.n * g.c_in * g.h * (int64_t)g.w * 4 >= k_stream_bytes;
  parallel_for((int64_t)g.n * g.c_in, [&](int64_t b, int64_t e) {
    Workspace ws(B * per + (nvec + 1) / 2 + 1 + Loader::floats(p));
    float* dyb = ws.data();
    float* dxb = dyb + (int64_t)B * m * p.dybuf;
    uint16_t* mk = reinterpret_cast<uint16_t*>(dyb + B * per);
    Loader ld(p, dyb + B * per + (nvec + 1) / 2 + 1);
    std::memset(dyb, 0, sizeof(float) * B * m * p.dybuf);
#if defined(__AVX512F__)
    if (mode == COMPRESS) flat_masks(p.H, p.Wq, p.W, nvec, mk);
#else
    (void)mk;
    (void)nvec;
#endif
    for (int64_t i0 = b; i0 < e; i0 += B) {
      int nb = (int)std::min<int64_t>(B, e - i0);
      for (int k = 0; k < nb; k++) {
        int64_t i = i0 + k, ic = i % g.c_in, n = i / g.c_in;
        for (int j = 0; j < m; j++)
          ld.dy(dy + (n * g.c_out + ic * m + j) * oplane, dyb + (k * m + j) * p.dybuf + p.front);
      }
      for (int k = 0; k < nb; k++) {
        int64_t i = i0 + k, ic = i % g.c_in;
        float* dxp = dx + i * g.h * (int64_t)g.w;
        float* dxk = dxb + k * p.xbuf;
        for (int j = 0; j < m; j++) {
          const bool acc = j > 0;
          kern.bwd(ic * m + j, dyb + (k * m + j) * p.dybuf + p.front, [&](int ph_i, const auto& f) {
            if (mode == ROWS) {
              for (int iy = 0; iy < p.H; iy++) {
                float* dr = dxp + (int64_t)iy * p.W;
                int64_t base = (iy + p.ph) * p.Wq + p.pw, ix = 0;
                for (; ix + VL <= p.W; ix += VL)
                  vst_maybe_nt(dr + ix, f.at(base + ix, acc ? vld(dr + ix) : vzero()), nt && m == 1);
                if (ix < p.W) {
                  int r = (int)(p.W - ix);
                  vst_n(dr + ix, f.at(base + ix, acc ? vld_n(dr + ix, r) : vzero()), r);
                }
              }
            } else if (mode == COMPRESS) {
#if defined(__AVX512F__)
              flat_compress_store(f, (int64_t)p.ph * p.Wq + p.pw, nvec, mk, dxp);
#endif
            } else {
              int64_t Y0, Y1;
              phase_rows(p, ph_i / p.sw, Y0, Y1);
              float* dst = dxk + ph_i * p.ps;
              for (int64_t q = Y0 * p.Wq; q < Y1 * p.Wq; q += VL)
                vst(dst + q, f.at(q, acc ? vld(dst + q) : vzero()));
            }
          });
        }
      }
      if (mode == PHASES)
        for (int k = 0; k < nb; k++) store_phases(p, dxb + k * p.xbuf, dx + (i0 + k) * g.h * (int64_t)g.w, nt);
    }
    if (nt) nt_fence();
  });
}

// ---------------------------------------------------------------- backward weight
// acc[t] += dy(q) * x_phase(q + off_t): dw_t of one channel is a dot product per tap.
// Accumulation: float vector lanes over one block of images (at most 16 planes; the block
// size depends on the shape only), summed in a fixed order into a double per tap, blocks in
// image order. Nothing depends on how channels are split into tasks.
template <int K, int S>
struct BwFixed {
  static constexpr int T = K * K;
  const float* rp[K][S];
  BwFixed(const Plan& p, const float* xb) {
    for (int ky = 0; ky < K; ky++)
      for (int px = 0; px < S; px++) rp[ky][px] = xb + ((ky % S) * S + px) * p.ps + (ky / S) * p.Wq;
  }
  inline void at(int64_t q, vf d, vf* acc) const {
    DW_UNROLL for (int ky = 0; ky < K; ky++) DW_UNROLL for (int kx = 0; kx < K; kx++)
        acc[ky * K + kx] = vfma(d, vld(rp[ky][kx % S] + kx / S + q), acc[ky * K + kx]);
  }
};

// Runs a plane's dot products: f.at(q, dy vector) for every vector of the output range.
// flat: dy from the zero-gapped buffer dyb; rows: straight from the dy plane.
template <class F>
inline void bw_plane(const Plan& p, const F& f, bool flat, const float* dyp, const float* dyb) {
  if (flat) {
    for (int64_t q = 0; q < p.flat_r; q += VL) f(q, vld(dyb + q));
    return;
  }
  for (int oy = 0; oy < p.OH; oy++) {
    const float* dr = dyp + (int64_t)oy * p.OW;
    int64_t base = oy * p.Wq, ox = 0;
    for (; ox + VL <= p.OW; ox += VL) f(base + ox, vld(dr + ox));
    if (ox < p.OW) f(base + ox, vld_n(dr + ox, (int)(p.OW - ox)));
  }
}

// One block of images for one output channel: dsum[t] += the block's float lanes, summed.
template <int K, int S>
struct BwFixedKern {
  static constexpr int T = K * K;
  const Plan& p;
  void block(int nb, const float* xb, const float* const* dyps, const float* dyb, int64_t dstep,
             bool flat, double* dsum) const {
    vf acc[T];
    for (int t = 0; t < T; t++) acc[t] = vzero();
    for (int k = 0; k < nb; k++) {
      BwFixed<K, S> f(p, xb + k * p.xbuf);
      bw_plane(p, [&](int64_t q, vf d) { f.at(q, d, acc); }, flat, dyps[k], dyb + k * dstep);
    }
    for (int t = 0; t < T; t++) dsum[t] += (double)vsum(acc[t]);
  }
};

struct BwDynKern {
  const Plan& p;
  const int64_t* off;
  void block(int nb, const float* xb, const float* const* dyps, const float* dyb, int64_t dstep,
             bool flat, double* dsum) const {
    constexpr int G = 8;  // taps per pass, kept in registers
    for (int t0 = 0; t0 < p.ntaps; t0 += G) {
      const int cnt = std::min(G, p.ntaps - t0);
      vf acc[G];
      for (int t = 0; t < G; t++) acc[t] = vzero();
      for (int k = 0; k < nb; k++) {
        const float* xk = xb + k * p.xbuf;
        bw_plane(p, [&](int64_t q, vf d) {
          for (int t = 0; t < cnt; t++) acc[t] = vfma(d, vld(xk + off[t0 + t] + q), acc[t]);
        }, flat, dyps[k], dyb + k * dstep);
      }
      for (int t = 0; t < cnt; t++) dsum[t0 + t] += (double)vsum(acc[t]);
    }
  }
};

// A task owns a range of input channels (and the dw of their m output channels each). It
// walks the batch in blocks of B images and, inside a block, its channels in order, so the
// planes it reads are B sequential streams rather than one small plane per page.
template <class Kern>
void backward_weight_run(const ConvGeom& g, const Plan& p, const Kern& kern, const float* x,
                         const float* dy, float* dw) {
  const int m = g.cout_g, T = p.ntaps;
  const bool flat = p.flat_fwd;
  const int64_t dstep = round_up(p.flat_r + VL, VL), oplane = (int64_t)p.OH * p.OW;
  const int64_t per = p.xbuf + (flat ? dstep : 0);
  const int B = block_planes(per, 16);
  parallel_for(g.c_in, [&](int64_t b, int64_t e) {
    const int64_t nsum = (e - b) * m * T;
    Workspace ws(B * per + 2 * nsum + 2 * B + Loader::floats(p));
    float* xb = ws.data();
    float* dyb = xb + B * p.xbuf;
    double* dsum = reinterpret_cast<double*>(xb + B * per);  // B*per: a multiple of VL
    const float** dyps = reinterpret_cast<const float**>(dsum + nsum);
    Loader ld(p, reinterpret_cast<float*>(dyps + B));
    std::memset(xb, 0, sizeof(float) * B * per);
    std::fill(dsum, dsum + nsum, 0.0);
    for (int n0 = 0; n0 < g.n; n0 += B) {
      int nb = std::min(B, g.n - n0);
      for (int64_t ic = b; ic < e; ic++) {
        for (int k = 0; k < nb; k++)
          ld.x(x + ((int64_t)(n0 + k) * g.c_in + ic) * g.h * (int64_t)g.w, xb + k * p.xbuf);
        for (int j = 0; j < m; j++) {
          for (int k = 0; k < nb; k++) {
            dyps[k] = dy + ((int64_t)(n0 + k) * g.c_out + ic * m + j) * oplane;
            if (flat) ld.dy(dyps[k], dyb + k * dstep);
          }
          kern.block(nb, xb, dyps, dyb, dstep, flat, dsum + ((ic - b) * m + j) * T);
        }
      }
    }
    for (int64_t i = 0; i < nsum; i++) dw[b * m * T + i] += (float)dsum[i];
  });
}

// ---------------------------------------------------------------- dispatch
// 0: runtime taps; otherwise K*10 + S for the templates.
int fixed_kind(const ConvGeom& g) {
  if (g.kh != g.kw || g.sh != g.sw || g.dh != 1 || g.dw != 1) return 0;
  if ((g.kh == 3 || g.kh == 5) && (g.sh == 1 || g.sh == 2)) return g.kh * 10 + g.sh;
  return 0;
}

// forward_run with the runtime act as its template argument.
template <class Kern>
void forward_act(const ConvGeom& g, const Plan& p, const Kern& kern, const float* x,
                 const float* bias, int act, float* y) {
  if (act == SEPCONV_ACT_RELU) forward_run<SEPCONV_ACT_RELU>(g, p, kern, x, bias, y);
  else if (act == SEPCONV_ACT_RELU6) forward_run<SEPCONV_ACT_RELU6>(g, p, kern, x, bias, y);
  else forward_run<SEPCONV_ACT_NONE>(g, p, kern, x, bias, y);
}

}  // namespace

void depthwise_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                       int act, float* y) {
  Plan p = make_plan(g);
  switch (fixed_kind(g)) {
    case 31: return forward_act(g, p, FixedKern<3, 1>{p, w}, x, bias, act, y);
    case 32: return forward_act(g, p, FixedKern<3, 2>{p, w}, x, bias, act, y);
    case 51: return forward_act(g, p, FixedKern<5, 1>{p, w}, x, bias, act, y);
    case 52: return forward_act(g, p, FixedKern<5, 2>{p, w}, x, bias, act, y);
    default: {
      DynTables tb(g, p);
      return forward_act(g, p, tb.kern(p, w, g.sh * g.sw), x, bias, act, y);
    }
  }
}

void depthwise_backward_data(const ConvGeom& g, const float* w, const float* dy, float* dx) {
  Plan p = make_plan(g);
  switch (fixed_kind(g)) {
    case 31: return backward_data_run(g, p, FixedKern<3, 1>{p, w}, dy, dx);
    case 32: return backward_data_run(g, p, FixedKern<3, 2>{p, w}, dy, dx);
    case 51: return backward_data_run(g, p, FixedKern<5, 1>{p, w}, dy, dx);
    case 52: return backward_data_run(g, p, FixedKern<5, 2>{p, w}, dy, dx);
    default: {
      DynTables tb(g, p);
      return backward_data_run(g, p, tb.kern(p, w, g.sh * g.sw), dy, dx);
    }
  }
}

void depthwise_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw) {
  Plan p = make_plan(g);
  switch (fixed_kind(g)) {
    case 31: return backward_weight_run(g, p, BwFixedKern<3, 1>{p}, x, dy, dw);
    case 32: return backward_weight_run(g, p, BwFixedKern<3, 2>{p}, x, dy, dw);
    case 51: return backward_weight_run(g, p, BwFixedKern<5, 1>{p}, x, dy, dw);
    case 52: return backward_weight_run(g, p, BwFixedKern<5, 2>{p}, x, dy, dw);
    default: {
      DynTables tb(g, p);
      return backward_weight_run(g, p, BwDynKern{p, tb.off}, x, dy, dw);
    }
  }
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
