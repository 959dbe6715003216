// Dense and grouped 3x3 convolution (pad 1, stride 1 or 2, dilation 1) as a direct convolution
// over channel-blocked copies: 16 channels per block, the width of a zmm register. AVX-512 only;
// the other ISA builds of this file say "not handled" and the GEMM path (conv_gemm.cpp) runs.
// The NCHW contract of the C ABI is kept: blocked copies live in scratch, reordered on entry
// and exit, never between layers. Why, and the numbers: bench/notes/dense-direct.md; the
// experiments that chose these kernels: native/dev/dense/.
//
//   forward        per unit (a group of images, sized so the unit's output rows fill ~128
//                  pixels): x packed into a zero-padded [c/16][h+2][w+2][16] copy that stays in
//                  L2; output rows in bands whose accumulators stay in L1, each band summed by
//                  the OB x PIX register tile  acc[ob][p] += W[16 ic][OB*16 oc] * x[pixel p][ic]
//                  over the taps and input blocks, then transposed into NCHW (+ bias, then act).
//   backward data  stride 1: the same forward over dy with W flipped and transposed (dx's
//                  channels as outputs). Stride 2: four phase convolutions (1x1, 1x2, 2x1, 2x2
//                  taps) over dy, interleaved into dx's rows as a band is written.
//   backward weight per wave of images (sized by the shape so packed x and dy stay in cache):
//                  both packed, then units (oc tile of 64, ic block of 16) run the OB x 4 tile
//                  acc[ob][j] += dy[pixel](16 oc) * x[pixel + tap][ic j] over L1 chunks of
//                  pixels. A unit owns its accumulators across waves and never shares an output,
//                  so the sum order depends on the shape only, never on the thread count.
// Every sum over input channels and taps runs in a fixed order, so results do not depend on
// how parallel_for splits the units.
#include <algorithm>
#include <cstring>

#include "../conv.h"
#include "blocked.h"
#include "simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

#if defined(__AVX512F__)
namespace {

constexpr int OB = 4;                        // output blocks per register tile (64 channels)
constexpr int PIX = 4;                       // output pixels per forward tile
constexpr int64_t kBandBytes = 16 << 10;     // forward / data accumulators per band (L1)
constexpr int kUnitPixels = 128;             // forward unit: images until this many output pixels
constexpr int kChunkPixels = 64;             // backward weight: pixels per L1 chunk
constexpr int kBlockTaps = 9;                // a tile call sums blocks x taps <= this (W in L1)
constexpr int64_t kWaveFloats = 1 << 20;     // backward weight: packed x + dy per wave (4 MiB)
constexpr int64_t kMinUnits = 8;             // forward: split bands below this many units

// One group's convolution: c -> oc channels, k x k kernel (3), stride s, pad p. xs and ys are
// the image strides (floats) of the input and output tensors, which hold all groups.
struct Geom {
  int n, c, h, w, oc, k, s, p, oh, ow;
  int64_t xs, ys;
};

// ---------------------------------------------------------------- register tiles
// acc[ob][p] (+)= sum over KH x KW taps and the 16 channels of `nblk` blocks. x: the tile's
// first input pixel in the first block (pixel p at x + p*S*16, tap row stride xrow, next block
// + xblk); w: the first block's [tap][16][OB*16] (next block + KH*KW*16*OB*16). The 16-channel
// loop is unrolled by 4 only: fully unrolled, GCC spills the accumulators.
template <int NP, int S, int KH, int KW>
inline void tile(const float* __restrict__ x, int64_t xrow, int64_t xblk, int nblk,
                 const float* __restrict__ w, float* __restrict__ acc_buf, int64_t ob_stride,
                 bool first) {
  __m512 acc[OB][NP];
#pragma GCC unroll 8
  for (int ob = 0; ob < OB; ob++)
#pragma GCC unroll 8
    for (int p = 0; p < NP; p++)
      acc[ob][p] = first ? _mm512_setzero_ps() : _mm512_load_ps(acc_buf + ob * ob_stride + p * CB);
  for (int blk = 0; blk < nblk; blk++, x += xblk, w += KH * KW * CB * OB * CB)
    for (int ky = 0; ky < KH; ky++) {
      const float* xr = x + ky * xrow;
      const float* wr = w + ky * KW * CB * OB * CB;
#pragma GCC unroll 1
      for (int kx = 0; kx < KW; kx++)
#pragma GCC unroll 4
        for (int i = 0; i < CB; i++) {
          __m512 wv[OB];
#pragma GCC unroll 8
          for (int ob = 0; ob < OB; ob++) wv[ob] = _mm512_load_ps(wr + (kx * CB + i) * OB * CB + ob * CB);
#pragma GCC unroll 8
          for (int p = 0; p < NP; p++) {
            const __m512 b = _mm512_set1_ps(xr[(p * S + kx) * CB + i]);
#pragma GCC unroll 8
            for (int ob = 0; ob < OB; ob++) acc[ob][p] = _mm512_fmadd_ps(wv[ob], b, acc[ob][p]);
          }
        }
    }
#pragma GCC unroll 8
  for (int ob = 0; ob < OB; ob++)
#pragma GCC unroll 8
    for (int p = 0; p < NP; p++) _mm512_store_ps(acc_buf + ob * ob_stride + p * CB, acc[ob][p]);
}

// One output row of `ow` pixels in PIX-wide tiles, the remainder in one narrower tile.
template <int S, int KH, int KW>
void row_tiles(int ow, const float* x, int64_t xrow, int64_t xblk, int nblk, const float* w,
               float* buf, int64_t ob_stride, bool first) {
  int ox = 0;
  for (; ox + PIX <= ow; ox += PIX)
    tile<PIX, S, KH, KW>(x + ox * S * CB, xrow, xblk, nblk, w, buf + ox * CB, ob_stride, first);
  const float* xo = x + ox * S * CB;
  float* bo = buf + ox * CB;
  switch (ow - ox) {
    case 1: tile<1, S, KH, KW>(xo, xrow, xblk, nblk, w, bo, ob_stride, first); break;
    case 2: tile<2, S, KH, KW>(xo, xrow, xblk, nblk, w, bo, ob_stride, first); break;
    case 3: tile<3, S, KH, KW>(xo, xrow, xblk, nblk, w, bo, ob_stride, first); break;
    default: break;
  }
}
static_assert(PIX == 4, "row_tiles handles remainders of up to 3 pixels");

// ---------------------------------------------------------------- weights
// The tap-major blocked layout every direct pass reads: [out tile][in/16][tap][16 in][OB*16 out].
// Forward: out = oc, in = ic, from w[oc][ic][tap].
void pack_w_forward(const Geom& g, const float* w, float* wp) {
  const int cbn = g.c / CB, taps = g.k * g.k, tiles = g.oc / (OB * CB), cols = CB * taps;
  // 16 output channels' rows hold (ic, tap) of an input block contiguously: 16 x (16*taps)
  // floats, transposed 16 columns at a time (column j = i*taps + tap) into the oc vectors. A
  // gather per vector instead was most of a batch-1 call on 512x512 weights.
  parallel_for((int64_t)tiles * cbn, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; u++) {
      const int t = (int)(u / cbn), cb = (int)(u % cbn);
      float* d = wp + u * taps * CB * OB * CB;
      for (int ob = 0; ob < OB; ob++) {
        const float* src = w + ((int64_t)(t * OB + ob) * CB * g.c + cb * CB) * taps;  // row oc: + oc*c*taps
        for (int j0 = 0; j0 < cols; j0 += 16) {
          __m512 v[16];
          transpose16(src + j0, (int64_t)g.c * taps, v, 16, std::min(16, cols - j0));
          for (int j = j0; j < std::min(cols, j0 + 16); j++) {
            const int i = j / taps, tap = j % taps;
            _mm512_store_ps(d + ((tap * CB + i) * OB + ob) * CB, v[j - j0]);
          }
        }
      }
    }
  });
}

// Backward data: out = ic (dx's channels), in = oc (dy's), and tap' running over `taps`
// (indices into w's k x k window, in order): [ic tile][oc/16][tap'][16 oc][OB*16 ic].
void pack_w_data(const Geom& g, const float* w, const int* taps, int ntaps, float* wp) {
  const int ocbn = g.oc / CB, tiles = g.c / (OB * CB), k2 = g.k * g.k;
  const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                         _mm512_set1_epi32(k2));
  parallel_for((int64_t)tiles * ocbn, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; u++) {
      const int t = (int)(u / ocbn), cb = (int)(u % ocbn);
      float* d = wp + u * ntaps * CB * OB * CB;
      for (int tp = 0; tp < ntaps; tp++)
        for (int i = 0; i < CB; i++)
          for (int ob = 0; ob < OB; ob++, d += CB)
            _mm512_store_ps(d, gather(idx, w + ((int64_t)(cb * CB + i) * g.c + (t * OB + ob) * CB) * k2 + taps[tp]));
    }
  });
}

// ---------------------------------------------------------------- forward-shaped direct conv
// y = conv(x, packed w) (+ bias): the forward, and the stride-1 backward data (x = dy, y = dx,
// g describing that convolution).

// Writes a band's accumulators [ob][rows of the band][ow][16] (unit rows r0..r1 numbered through
// the images from n0) into NCHW y, tile t of OB*16 channels, adding bias when there is one, then
// the activation act (SEPCONV_ACT_*; vact in simd.h).
void write_band(const Geom& g, const float* buf, int64_t ob_stride, int n0, int r0, int r1, int t,
                const float* bias, int act, float* y) {
  const int P = g.oh * g.ow;
  for (int r = r0; r < r1;) {
    const int n = n0 + r / g.oh, oy0 = r % g.oh, oy1 = std::min(g.oh, oy0 + (r1 - r));
    const int q0 = oy0 * g.ow, q1 = oy1 * g.ow;
    for (int ob = 0; ob < OB; ob++) {
      const int oc0 = (t * OB + ob) * CB;
      float* dst = y + n * g.ys + (int64_t)oc0 * P;
      const float* src = buf + ob * ob_stride + ((int64_t)(r - r0) * g.ow - q0) * CB;
      for (int q = q0; q < q1; q += 16) {
        const int m = std::min(16, q1 - q);
        __m512 v[16];
        transpose16(src + (int64_t)q * CB, CB, v, m);
        for (int c = 0; c < CB; c++) {
          if (bias) v[c] = _mm512_add_ps(v[c], _mm512_set1_ps(bias[oc0 + c]));
          v[c] = vact(act, v[c]);
          _mm512_mask_storeu_ps(dst + (int64_t)c * P + q, lanes(m), v[c]);
        }
      }
    }
    r += oy1 - oy0;
  }
}

inline int band_rows(int ow) { return std::max(1, (int)(kBandBytes / (OB * CB * ow * 4))); }

// One band of output rows [r0, r1) of tile t: rows are numbered through the images that xb
// holds (row r: image n0 + r / oh, row r % oh); xb is their input, [image][c/16][hp][wp][16].
void fwd_band(const Geom& g, const float* xb, int n0, int r0, int r1, int t, const float* wpk,
              float* buf, const float* bias, int act, float* y) {
  const int hp = g.h + 2 * g.p, wp = g.w + 2 * g.p, cbn = g.c / CB;
  const int64_t xrow = (int64_t)wp * CB, ximg = (int64_t)hp * wp * CB;
  const int nb = std::max(1, kBlockTaps / (g.k * g.k));  // input blocks per tile call
  const int64_t ob_stride = (int64_t)(r1 - r0) * g.ow * CB;
  for (int cb = 0; cb < cbn; cb += nb) {
    const int nblk = std::min(nb, cbn - cb);
    const float* wt = wpk + ((int64_t)t * cbn + cb) * g.k * g.k * CB * OB * CB;
    for (int r = r0; r < r1; r++) {
      const float* xi = xb + ((int64_t)(r / g.oh) * cbn + cb) * ximg + (r % g.oh) * g.s * xrow;
      float* b = buf + (int64_t)(r - r0) * g.ow * CB;
      if (g.s == 1) row_tiles<1, 3, 3>(g.ow, xi, xrow, ximg, nblk, wt, b, ob_stride, cb == 0);
      else row_tiles<2, 3, 3>(g.ow, xi, xrow, ximg, nblk, wt, b, ob_stride, cb == 0);
    }
  }
  write_band(g, buf, ob_stride, n0, r0, r1, t, bias, act, y);
}

// Units: (image group, oc tile, part of the group's bands). Parts only when groups x tiles
// alone would leave the pool idle (small batches): each part re-packs its group's x.
void direct_forward(const Geom& g, const float* x, const float* wpk, const float* bias, int act,
                    float* y) {
  const int hp = g.h + 2 * g.p, wp = g.w + 2 * g.p, cbn = g.c / CB, tiles = g.oc / (OB * CB);
  const int group = std::max(1, std::min(g.n, kUnitPixels / (g.oh * g.ow)));
  const int ngroups = (g.n + group - 1) / group;
  const int64_t ximg = (int64_t)hp * wp * CB;
  const int br = band_rows(g.ow);
  const int bands = (group * g.oh + br - 1) / br;  // of a full group
  const int parts = (int)std::max<int64_t>(
      1, std::min<int64_t>(bands, (kMinUnits + (int64_t)ngroups * tiles - 1) / ((int64_t)ngroups * tiles)));
  parallel_for((int64_t)ngroups * tiles * parts, [&](int64_t u0, int64_t u1) {
    Workspace buf((size_t)OB * CB * br * g.ow), xbw((size_t)group * cbn * ximg);
    float* xb = xbw.data();
    int64_t packed = -1;
    for (int64_t u = u0; u < u1; u++) {
      const int64_t gi = u / ((int64_t)tiles * parts);
      const int t = (int)(u / parts % tiles), part = (int)(u % parts);
      const int n0 = (int)gi * group, n1 = std::min(g.n, n0 + group);
      if (gi != packed) {
        for (int n = n0; n < n1; n++)
          for (int cb = 0; cb < cbn; cb++)
            pack_block(x + n * g.xs + (int64_t)cb * CB * g.h * g.w, g.h, g.w, g.p, g.p, hp, wp,
                       xb + ((int64_t)(n - n0) * cbn + cb) * ximg);
        packed = gi;
      }
      const int rows = (n1 - n0) * g.oh, nb = (rows + br - 1) / br;
      for (int b = nb * part / parts; b < nb * (part + 1) / parts; b++)
        fwd_band(g, xb, n0, b * br, std::min(rows, (b + 1) * br), t, wpk, buf.data(), bias, act, y);
    }
  });
}

// ---------------------------------------------------------------- backward data, stride 2
// dx[iy][ix], iy = 2a + py, ix = 2b + px: for pad 1 and a 3x3 kernel, row phase py = 0 takes
// ky = 1 from dy row a; py = 1 takes ky = 2 from row a and ky = 0 from row a + 1 (columns the
// same). So each of the four phases is a stride-1 convolution of dy (zero-padded by one at the
// bottom and right) with a 1 or 2 tap kernel per axis.
struct Phase {
  int taps[4], ntaps;
};
inline Phase phase(int py, int px) {
  const int rows[2][2] = {{1, -1}, {2, 0}}, nr = py + 1, nc = px + 1;
  Phase ph{{0, 0, 0, 0}, nr * nc};
  for (int r = 0; r < nr; r++)
    for (int c = 0; c < nc; c++) ph.taps[r * nc + c] = rows[py][r] * 3 + rows[px][c];
  return ph;
}

inline int s2_band_rows(int w) { return std::max(1, (int)(kBandBytes / (4 * OB * CB * ((w + 1) / 2) * 4))); }

// One band of phase rows [r0, r1) (row r: image n0 + r / A, dx rows 2a and 2a + 1 for a = r % A)
// of ic tile t; dyb holds those images, [image][oc/16][oh+1][ow+1][16].
void s2_band(const Geom& g, const float* dyb, int n0, int r0, int r1, int t, const float* const wph[4],
             float* buf, float* dx) {
  const int hp = g.oh + 1, wp = g.ow + 1, cbn = g.oc / CB;
  const int A = (g.h + 1) / 2, B = (g.w + 1) / 2;  // phase 0 rows/cols (phase 1: h/2, w/2)
  const int64_t xrow = (int64_t)wp * CB, ximg = (int64_t)hp * wp * CB;
  const int64_t ob_stride = (int64_t)(r1 - r0) * B * CB, ph_stride = OB * ob_stride;
  for (int q = 0; q < 4; q++) {
    const int py = q / 2, px = q % 2, taps = (py + 1) * (px + 1), cols = (g.w - px + 1) / 2;
    if (cols == 0) continue;
    const int nb = std::max(1, kBlockTaps / taps);
    for (int cb = 0; cb < cbn; cb += nb) {
      const int nblk = std::min(nb, cbn - cb);
      const float* wt = wph[q] + ((int64_t)t * cbn + cb) * taps * CB * OB * CB;
      for (int r = r0; r < r1; r++) {
        const int a = r % A;
        if (2 * a + py >= g.h) continue;
        const float* xi = dyb + ((int64_t)(r / A) * cbn + cb) * ximg + a * xrow;
        float* b = buf + q * ph_stride + (int64_t)(r - r0) * B * CB;
        if (q == 0) row_tiles<1, 1, 1>(cols, xi, xrow, ximg, nblk, wt, b, ob_stride, cb == 0);
        else if (q == 1) row_tiles<1, 1, 2>(cols, xi, xrow, ximg, nblk, wt, b, ob_stride, cb == 0);
        else if (q == 2) row_tiles<1, 2, 1>(cols, xi, xrow, ximg, nblk, wt, b, ob_stride, cb == 0);
        else row_tiles<1, 2, 2>(cols, xi, xrow, ximg, nblk, wt, b, ob_stride, cb == 0);
      }
    }
  }
  // out: dx row iy = 2a + py interleaves phases (py, 0) and (py, 1)
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  const int P = g.h * g.w;
  for (int r = r0; r < r1; r++) {
    const int n = n0 + r / A, a = r % A;
    for (int py = 0; py < 2 && 2 * a + py < g.h; py++)
      for (int ob = 0; ob < OB; ob++) {
        float* dst = dx + n * g.xs + (int64_t)(t * OB + ob) * CB * P + (int64_t)(2 * a + py) * g.w;
        const float* s0 = buf + (py * 2) * ph_stride + ob * ob_stride + (int64_t)(r - r0) * B * CB;
        const float* s1 = s0 + ph_stride;
        for (int b0 = 0; b0 < B; b0 += 16) {
          const int m0 = std::min(16, B - b0), m1 = std::max(0, std::min(16, g.w / 2 - b0));
          __m512 v0[16], v1[16];
          transpose16(s0 + (int64_t)b0 * CB, CB, v0, m0);
          transpose16(s1 + (int64_t)b0 * CB, CB, v1, m1);
          const int cnt = std::min(32, g.w - 2 * b0);
          for (int c = 0; c < CB; c++) {
            float* d = dst + (int64_t)c * P + 2 * b0;
            _mm512_mask_storeu_ps(d, lanes(std::min(16, cnt)), _mm512_permutex2var_ps(v0[c], lo, v1[c]));
            if (cnt > 16) _mm512_mask_storeu_ps(d + 16, lanes(cnt - 16), _mm512_permutex2var_ps(v0[c], hi, v1[c]));
          }
        }
      }
  }
}

void data_stride2(const Geom& g, const float* dy, const float* const wph[4], float* dx) {
  const int hp = g.oh + 1, wp = g.ow + 1, cbn = g.oc / CB, tiles = g.c / (OB * CB);
  const int A = (g.h + 1) / 2, B = (g.w + 1) / 2;
  const int group = std::max(1, std::min(g.n, kUnitPixels / (A * B))), units = (g.n + group - 1) / group;
  const int64_t ximg = (int64_t)hp * wp * CB;
  const int br = s2_band_rows(g.w);
  parallel_for(units, [&](int64_t u0, int64_t u1) {
    Workspace buf((size_t)4 * OB * CB * br * B), xbw((size_t)group * cbn * ximg);
    float* xb = xbw.data();
    for (int64_t u = u0; u < u1; u++) {
      const int n0 = (int)u * group, n1 = std::min(g.n, n0 + group);
      for (int n = n0; n < n1; n++)
        for (int cb = 0; cb < cbn; cb++)
          pack_block(dy + n * g.ys + (int64_t)cb * CB * g.oh * g.ow, g.oh, g.ow, 0, 0, hp, wp,
                     xb + ((int64_t)(n - n0) * cbn + cb) * ximg);
      const int rows = (n1 - n0) * A;
      for (int t = 0; t < tiles; t++)
        for (int r0 = 0; r0 < rows; r0 += br) s2_band(g, xb, n0, r0, std::min(rows, r0 + br), t, wph, buf.data(), dx);
    }
  });
}

void backward_data(const Geom& g, const float* w, const float* dy, float* dx) {
  Workspace wd((size_t)(g.s == 1 ? 1 : 4) * g.oc * g.c * 9);
  if (g.s == 1) {
    int flipped[9];
    for (int t = 0; t < 9; t++) flipped[t] = 8 - t;
    pack_w_data(g, w, flipped, 9, wd.data());
    // dx = dy (*) W flipped: a stride-1, pad-1 convolution from oc to c channels
    const Geom gd{g.n, g.oc, g.oh, g.ow, g.c, 3, 1, 1, g.h, g.w, g.ys, g.xs};
    direct_forward(gd, dy, wd.data(), nullptr, SEPCONV_ACT_NONE, dx);
  } else {
    const float* wph[4];
    for (int q = 0; q < 4; q++) {
      const Phase ph = phase(q / 2, q % 2);
      float* wq = wd.data() + (int64_t)q * g.oc * g.c * 9;
      pack_w_data(g, w, ph.taps, ph.ntaps, wq);
      wph[q] = wq;
    }
    data_stride2(g, dy, wph, dx);
  }
}

// ---------------------------------------------------------------- backward weight
// acc[ob][j] += dy[pixel](16 oc of block ob) * x[pixel*S + tap][ic j of 4], over `nimg` images
// x `rows` rows x `ow` pixels. dy: the first image's first row, block 0 (block ob at
// + ob*dy_ob, next image + dy_img, next row + ow*16); x likewise (next row + S*xrow).
template <int S>
inline void wtile(const float* __restrict__ dy, int64_t dy_ob, int64_t dy_img, const float* __restrict__ x,
                  int64_t xrow, int64_t x_img, int nimg, int rows, int ow, float* __restrict__ acc_io) {
  __m512 acc[OB][4];
#pragma GCC unroll 8
  for (int ob = 0; ob < OB; ob++)
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) acc[ob][j] = _mm512_load_ps(acc_io + (ob * 4 + j) * CB);
  for (int im = 0; im < nimg; im++)
    for (int r = 0; r < rows; r++) {
      const float* d = dy + im * dy_img + (int64_t)r * ow * CB;
      const float* xr = x + im * x_img + r * S * xrow;
#pragma GCC unroll 2
      for (int ox = 0; ox < ow; ox++) {
        __m512 dv[OB];
#pragma GCC unroll 8
        for (int ob = 0; ob < OB; ob++) dv[ob] = _mm512_load_ps(d + ob * dy_ob + ox * CB);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
          const __m512 b = _mm512_set1_ps(xr[ox * S * CB + j]);
#pragma GCC unroll 8
          for (int ob = 0; ob < OB; ob++) acc[ob][j] = _mm512_fmadd_ps(dv[ob], b, acc[ob][j]);
        }
      }
    }
#pragma GCC unroll 8
  for (int ob = 0; ob < OB; ob++)
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) _mm512_store_ps(acc_io + (ob * 4 + j) * CB, acc[ob][j]);
}

constexpr int kUnitAcc = 9 * 4 * OB * 4 * CB;  // a unit's accumulators: [tap][ic quad][ob][j][16]

// dw += dy (*) x. Units (oc tile t, ic block) accumulate in acc (kUnitAcc floats each) over
// waves of images; dw gets the sums at the end.
void backward_weight(const Geom& g, const float* x, const float* dy, float* dw) {
  const int hp = g.h + 2 * g.p, wp = g.w + 2 * g.p, icbn = g.c / CB, ocbn = g.oc / CB;
  const int tiles = g.oc / (OB * CB), k2 = g.k * g.k;
  const int P = g.oh * g.ow;
  const int64_t xrow = (int64_t)wp * CB, x_img = (int64_t)icbn * hp * xrow;
  const int64_t dy_ob = (int64_t)P * CB, dy_img = ocbn * dy_ob;
  const int wave = (int)std::max<int64_t>(1, std::min<int64_t>(g.n, kWaveFloats / (x_img + dy_img)));
  // a chunk: whole images when planes are small, else a band of rows of one image
  const int nimg = std::max(1, std::min(wave, kChunkPixels / P));
  const int rows = nimg > 1 ? g.oh : std::max(1, std::min(g.oh, kChunkPixels / g.ow));
  const int64_t units = (int64_t)tiles * icbn;
  Workspace xbw((size_t)wave * x_img), dybw((size_t)wave * dy_img), accw((size_t)units * kUnitAcc);
  float *xb = xbw.data(), *dyb = dybw.data(), *accs = accw.data();
  for (int w0 = 0; w0 < g.n; w0 += wave) {
    const int nw = std::min(wave, g.n - w0);
    parallel_for((int64_t)nw * (ocbn + icbn), [&](int64_t b0, int64_t b1) {
      for (int64_t u = b0; u < b1; u++) {
        const int n = (int)(u / (ocbn + icbn)), b = (int)(u % (ocbn + icbn));
        if (b < ocbn)
          pack_block(dy + (w0 + n) * g.ys + (int64_t)b * CB * P, g.oh, g.ow, 0, 0, g.oh, g.ow,
                     dyb + n * dy_img + (int64_t)b * dy_ob);
        else
          pack_block(x + (w0 + n) * g.xs + (int64_t)(b - ocbn) * CB * g.h * g.w, g.h, g.w, g.p, g.p, hp, wp,
                     xb + n * x_img + (int64_t)(b - ocbn) * hp * xrow);
      }
    });
    parallel_for(units, [&](int64_t u0, int64_t u1) {
      for (int64_t u = u0; u < u1; u++) {
        const int t = (int)(u / icbn), icb = (int)(u % icbn);
        float* acc = accs + u * kUnitAcc;
        if (w0 == 0) std::memset(acc, 0, sizeof(float) * kUnitAcc);
        for (int n0 = 0; n0 < nw; n0 += nimg) {
          const int ni = std::min(nimg, nw - n0);
          for (int r0 = 0; r0 < g.oh; r0 += rows) {
            const int nr = std::min(rows, g.oh - r0);
            const float* d = dyb + n0 * dy_img + (int64_t)t * OB * dy_ob + (int64_t)r0 * g.ow * CB;
            const float* xs = xb + n0 * x_img + (int64_t)icb * hp * xrow + (int64_t)r0 * g.s * xrow;
            for (int tap = 0; tap < k2; tap++) {
              const float* xt = xs + (tap / g.k) * xrow + (tap % g.k) * CB;
              for (int q = 0; q < 4; q++) {
                float* a = acc + (tap * 4 + q) * OB * 4 * CB;
                if (g.s == 1) wtile<1>(d, dy_ob, dy_img, xt + q * 4, xrow, x_img, ni, nr, g.ow, a);
                else wtile<2>(d, dy_ob, dy_img, xt + q * 4, xrow, x_img, ni, nr, g.ow, a);
              }
            }
          }
        }
      }
    });
  }
  // dw[oc][ic][tap] += acc: a unit owns oc rows t*64.. and ic columns icb*16..
  parallel_for(units, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; u++) {
      const int t = (int)(u / icbn), icb = (int)(u % icbn);
      const float* acc = accs + u * kUnitAcc;
      for (int ob = 0; ob < OB; ob++)
        for (int l = 0; l < CB; l++) {
          float* d = dw + ((int64_t)((t * OB + ob) * CB + l) * g.c + icb * CB) * k2;
          for (int q = 0; q < 4; q++)
            for (int j = 0; j < 4; j++, d += k2)
              for (int tap = 0; tap < k2; tap++) d[tap] += acc[(tap * 4 + q) * OB * 4 * CB + (ob * 4 + j) * CB + l];
        }
    }
  });
}

bool shape_applies(const ConvGeom& g) {
  return g.kh == 3 && g.kw == 3 && g.ph == 1 && g.pw == 1 && g.dh == 1 && g.dw == 1 &&
         g.sh == g.sw && (g.sh == 1 || g.sh == 2) && g.cin_g % CB == 0 && g.cout_g % CB == 0;
}

Geom group_geom(const ConvGeom& g) {
  return Geom{g.n, g.cin_g, g.h, g.w, g.cout_g, 3, g.sh, 1, g.oh, g.ow,
              (int64_t)g.c_in * g.h * g.w, (int64_t)g.c_out * g.oh * g.ow};
}

}  // namespace

bool direct_conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, int act,
                         float* y) {
  if (!shape_applies(g) || g.cout_g % (OB * CB) != 0) return false;
  const Geom d = group_geom(g);
  Workspace wpk((size_t)d.oc * d.c * 9);
  for (int gi = 0; gi < g.groups; gi++) {
    pack_w_forward(d, w + (int64_t)gi * d.oc * d.c * 9, wpk.data());
    direct_forward(d, x + (int64_t)gi * d.c * g.h * g.w, wpk.data(), bias ? bias + (int64_t)gi * d.oc : nullptr, act,
                   y + (int64_t)gi * d.oc * g.oh * g.ow);
  }
  return true;
}

int direct_conv_backward(const ConvGeom& g, int mask, const float* x, const float* w, const float* dy,
                         float* dx, float* dw) {
  if (!shape_applies(g)) return 0;
  const Geom d = group_geom(g);
  int done = 0;
  if ((mask & SEPCONV_GRAD_INPUT) && d.c % (OB * CB) == 0) {
    for (int gi = 0; gi < g.groups; gi++)
      backward_data(d, w + (int64_t)gi * d.oc * d.c * 9, dy + (int64_t)gi * d.oc * g.oh * g.ow,
                    dx + (int64_t)gi * d.c * g.h * g.w);
    done |= SEPCONV_GRAD_INPUT;
  }
  if ((mask & SEPCONV_GRAD_WEIGHT) && d.oc % (OB * CB) == 0) {
    for (int gi = 0; gi < g.groups; gi++)
      backward_weight(d, x + (int64_t)gi * d.c * g.h * g.w, dy + (int64_t)gi * d.oc * g.oh * g.ow,
                      dw + (int64_t)gi * d.oc * d.c * 9);
    done |= SEPCONV_GRAD_WEIGHT;
  }
  return done;
}

#else  // no AVX-512: the GEMM path runs every shape

bool direct_conv_forward(const ConvGeom&, const float*, const float*, const float*, int, float*) { return false; }
int direct_conv_backward(const ConvGeom&, int, const float*, const float*, const float*, float*, float*) {
  return 0;
}

#endif

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
