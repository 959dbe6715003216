// Depthwise convolution on small planes (<= 64 input positions: MobileNets' 8x8 and 4x4 layers),
// channel-vectorised: 16 channels of an image are transposed into one zero-padded
// [row][column][16] block (blocked.h), so that every output pixel of 16 channels is one vector
// and a tap is one FMA, with no per-plane overhead; the plane-by-plane kernels of
// depthwise.cpp pay ~20 ns per plane, as much as a 4x4 plane's arithmetic. AVX-512 only, channel
// multiplier 1, 16 | channels; any kernel size (<= 64 taps), stride, padding and dilation.
//   forward        per (image, block): pack x, one vector FMA per output pixel and tap,
//                  transposed back (+ bias, then act).
//   backward data  per (image, block): pack dy, scatter-add each dy pixel times the taps into a
//                  padded accumulator block in L1, transpose its interior into dx.
//   backward weight per block, images in order: per image, float sums per tap over the plane,
//                  widened into double accumulators; dw += them at the end. The order depends
//                  on the shape only.
#include <algorithm>
#include <cstring>

#include "../conv.h"
#include "blocked.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

#if defined(__AVX512F__)
namespace {

constexpr int kMaxTaps = 64;

struct Small {
  int hp, wp, taps, cbn;
  int off[kMaxTaps];  // tap t's pixel offset in the padded block from an output's top-left
  explicit Small(const ConvGeom& g) : hp(g.h + 2 * g.ph), wp(g.w + 2 * g.pw), taps(g.kh * g.kw), cbn(g.c_in / CB) {
    for (int ky = 0; ky < g.kh; ky++)
      for (int kx = 0; kx < g.kw; kx++) off[ky * g.kw + kx] = ky * g.dh * wp + kx * g.dw;
  }
  int64_t base(const ConvGeom& g, int oy, int ox) const { return (int64_t)oy * g.sh * wp + (int64_t)ox * g.sw; }
};

// wp[cb][t][16] = w[cb*16 + l][t]
void pack_weights(const ConvGeom& g, const Small& s, const float* w, float* wpk) {
  for (int cb = 0; cb < s.cbn; cb++)
    for (int t = 0; t < s.taps; t++)
      for (int l = 0; l < CB; l++) wpk[((int64_t)cb * s.taps + t) * CB + l] = w[(int64_t)(cb * CB + l) * s.taps + t];
}

// 4x4 planes and smaller, and strided 8x8: measured faster than depthwise.cpp. Stride-1 8x8
// planes stay there (its flat-range kernel packs several rows per vector: 2x faster than this
// kernel's one-FMA-per-tap, bench/notes/depthwise.md).
bool applies(const ConvGeom& g) {
  return g.groups == g.c_in && g.c_out == g.c_in && g.c_in % CB == 0 && g.kh * g.kw <= kMaxTaps &&
         (g.in_plane() <= 16 || (g.in_plane() <= 64 && g.sh * g.sw >= 4));
}

// Runs body(chan, cb, wv, padded, plane) for every (image, 16-channel block), in parallel: chan
// is the block's first channel in NCHW (image * c + cb*16), wv its packed weights [tap][16],
// padded a [hp][wp][16] and plane an [out plane][16] scratch of the thread.
template <class Body>
void each_block(const ConvGeom& g, const Small& s, const float* w, Body&& body) {
  Workspace wpk((size_t)s.cbn * s.taps * CB);
  pack_weights(g, s, w, wpk.data());
  parallel_for((int64_t)g.n * s.cbn, [&](int64_t u0, int64_t u1) {
    Workspace padded((size_t)s.hp * s.wp * CB), plane((size_t)g.out_plane() * CB);
    for (int64_t u = u0; u < u1; u++) {
      const int cb = (int)(u % s.cbn);
      body((u / s.cbn) * g.c_in + (int64_t)cb * CB, cb, wpk.data() + (int64_t)cb * s.taps * CB, padded.data(),
           plane.data());
    }
  });
}

}  // namespace

bool depthwise_small_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, int act,
                             float* y) {
  if (!applies(g)) return false;
  const Small s(g);
  const int64_t P = g.in_plane(), OP = g.out_plane();
  each_block(g, s, w, [&](int64_t chan, int cb, const float* wv, float* xb, float* ob) {
    pack_block(x + chan * P, g.h, g.w, g.ph, g.pw, s.hp, s.wp, xb);
    for (int oy = 0; oy < g.oh; oy++)
      for (int ox = 0; ox < g.ow; ox++) {
        const float* xp = xb + s.base(g, oy, ox) * CB;
        __m512 acc = _mm512_setzero_ps();
        for (int t = 0; t < s.taps; t++)
          acc = _mm512_fmadd_ps(_mm512_load_ps(wv + t * CB), _mm512_load_ps(xp + (int64_t)s.off[t] * CB), acc);
        _mm512_store_ps(ob + ((int64_t)oy * g.ow + ox) * CB, acc);
      }
    unpack_pixels(ob, (int)OP, y + chan * OP, OP, bias ? bias + cb * CB : nullptr, act);
  });
  return true;
}

bool depthwise_small_backward_data(const ConvGeom& g, const float* w, const float* dy, float* dx) {
  if (!applies(g)) return false;
  const Small s(g);
  const int64_t P = g.in_plane(), OP = g.out_plane();
  each_block(g, s, w, [&](int64_t chan, int, const float* wv, float* ab, float* db) {
    pack_block(dy + chan * OP, g.oh, g.ow, 0, 0, g.oh, g.ow, db);
    std::memset(ab, 0, sizeof(float) * s.hp * s.wp * CB);
    for (int oy = 0; oy < g.oh; oy++)
      for (int ox = 0; ox < g.ow; ox++) {
        const __m512 d = _mm512_load_ps(db + ((int64_t)oy * g.ow + ox) * CB);
        float* ap = ab + s.base(g, oy, ox) * CB;
        for (int t = 0; t < s.taps; t++) {
          float* a = ap + (int64_t)s.off[t] * CB;
          _mm512_store_ps(a, _mm512_fmadd_ps(_mm512_load_ps(wv + t * CB), d, _mm512_load_ps(a)));
        }
      }
    for (int iy = 0; iy < g.h; iy++)
      unpack_pixels(ab + ((int64_t)(iy + g.ph) * s.wp + g.pw) * CB, g.w, dx + chan * P + (int64_t)iy * g.w, P);
  });
  return true;
}

bool depthwise_small_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw) {
  // units are channel blocks: with fewer than 4 the pool would idle (depthwise.cpp splits images)
  if (!applies(g) || g.c_in / CB < 4) return false;
  const Small s(g);
  const int64_t P = g.in_plane(), OP = g.out_plane();
  parallel_for(s.cbn, [&](int64_t b0, int64_t b1) {
    Workspace xbw((size_t)s.hp * s.wp * CB), dbw((size_t)OP * CB);
    float *xb = xbw.data(), *db = dbw.data();
    for (int64_t cb = b0; cb < b1; cb++) {
      __m512d lo[kMaxTaps], hi[kMaxTaps];
      for (int t = 0; t < s.taps; t++) lo[t] = hi[t] = _mm512_setzero_pd();
      for (int64_t n = 0; n < g.n; n++) {
        const int64_t chan = n * g.c_in + cb * CB;
        pack_block(x + chan * P, g.h, g.w, g.ph, g.pw, s.hp, s.wp, xb);
        pack_block(dy + chan * OP, g.oh, g.ow, 0, 0, g.oh, g.ow, db);
        for (int t = 0; t < s.taps; t++) {
          __m512 acc = _mm512_setzero_ps();
          for (int oy = 0; oy < g.oh; oy++)
            for (int ox = 0; ox < g.ow; ox++)
              acc = _mm512_fmadd_ps(_mm512_load_ps(db + ((int64_t)oy * g.ow + ox) * CB),
                                    _mm512_load_ps(xb + (s.base(g, oy, ox) + s.off[t]) * CB), acc);
          // (the maskz extracts: GCC 12's plain 512 -> 256 casts warn under -Wall)
          lo[t] = _mm512_add_pd(lo[t], _mm512_maskz_cvtps_pd(0xFF, _mm256_castpd_ps(
                                           _mm512_maskz_extractf64x4_pd(0xF, _mm512_castps_pd(acc), 0))));
          hi[t] = _mm512_add_pd(hi[t], _mm512_maskz_cvtps_pd(0xFF, _mm256_castpd_ps(
                                           _mm512_maskz_extractf64x4_pd(0xF, _mm512_castps_pd(acc), 1))));
        }
      }
      for (int t = 0; t < s.taps; t++) {
        alignas(64) double sum[CB];
        _mm512_store_pd(sum, lo[t]);
        _mm512_store_pd(sum + 8, hi[t]);
        for (int l = 0; l < CB; l++) dw[(cb * CB + l) * s.taps + t] += (float)sum[l];
      }
    }
  });
  return true;
}

#else  // no AVX-512: depthwise.cpp's plane kernels run every shape

bool depthwise_small_forward(const ConvGeom&, const float*, const float*, const float*, int, float*) { return false; }
bool depthwise_small_backward_data(const ConvGeom&, const float*, const float*, float*) { return false; }
bool depthwise_small_backward_weight(const ConvGeom&, const float*, const float*, float*) { return false; }

#endif

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
