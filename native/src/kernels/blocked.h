// Channel-blocked copies for the AVX-512 kernels (conv_direct.cpp, depthwise_small.cpp): 16
// channels per block, the zmm width, each pixel's 16 channels one vector. In-register 16x16
// transposes move data between NCHW planes and the blocked [row][column][16] layout.
// Internal to the kernel files: include it after the family header, inside no namespace.
#pragma once
#include "simd.h"
#if defined(__AVX512F__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace {

constexpr int CB = 16;  // channels per block (zmm lanes)

inline __mmask16 lanes(int m) { return (__mmask16)((1u << m) - 1u); }

// Full-width shuffles and gathers with explicit sources: GCC 12's plain forms pass an
// undefined vector and warn under -Wall.
inline __m512 unpacklo(__m512 a, __m512 b) { return _mm512_mask_unpacklo_ps(a, 0xFFFF, a, b); }
inline __m512 unpackhi(__m512 a, __m512 b) { return _mm512_mask_unpackhi_ps(a, 0xFFFF, a, b); }
template <int IMM>
inline __m512 shuffle_f32x4(__m512 a, __m512 b) { return _mm512_mask_shuffle_f32x4(a, 0xFFFF, a, b, IMM); }
inline __m512 gather(__m512i idx, const float* base) {
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xFFFF, idx, base, 4);
}

// 16 rows of 16 floats (row r at src + r*ss) -> out[c] = column c. Only rows < `rows` and
// columns < `cols` are read; the rest read as 0.
inline void transpose16(const float* src, int64_t ss, __m512 out[16], int rows = 16, int cols = 16) {
  __m512 r[16], t[16];
  const __mmask16 m = lanes(cols);
  for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_maskz_loadu_ps(m, src + i * ss) : _mm512_setzero_ps();
  for (int i = 0; i < 16; i += 2) {
    t[i] = unpacklo(r[i], r[i + 1]);
    t[i + 1] = unpackhi(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; i++) {
    t[i] = shuffle_f32x4<0x88>(r[i], r[i + 4]);
    t[i + 4] = shuffle_f32x4<0xDD>(r[i], r[i + 4]);
    t[i + 8] = shuffle_f32x4<0x88>(r[i + 8], r[i + 12]);
    t[i + 12] = shuffle_f32x4<0xDD>(r[i + 8], r[i + 12]);
  }
  for (int i = 0; i < 4; i++) {
    out[i] = shuffle_f32x4<0x88>(t[i], t[i + 8]);
    out[i + 8] = shuffle_f32x4<0xDD>(t[i], t[i + 8]);
    out[i + 4] = shuffle_f32x4<0x88>(t[i + 4], t[i + 12]);
    out[i + 12] = shuffle_f32x4<0xDD>(t[i + 4], t[i + 12]);
  }
}

// 16 channels of one NCHW image (channel c at src + c*h*w) -> [hp][wp][16] with the plane at
// (top, left) and zeros around it.
inline void pack_block(const float* src, int h, int w, int top, int left, int hp, int wp, float* dst) {
  std::memset(dst, 0, sizeof(float) * top * wp * CB);
  std::memset(dst + (int64_t)(top + h) * wp * CB, 0, sizeof(float) * (hp - top - h) * wp * CB);
  for (int y = 0; y < h; y++) {
    float* row = dst + (int64_t)(y + top) * wp * CB;
    std::memset(row, 0, sizeof(float) * left * CB);
    std::memset(row + (left + w) * CB, 0, sizeof(float) * (wp - left - w) * CB);
  }
  const int64_t P = (int64_t)h * w;
  int yy = 0, xx = 0;  // the plane position of q, advanced without divisions
  for (int64_t q = 0; q < P; q += 16) {
    const int m = (int)std::min<int64_t>(16, P - q);
    __m512 v[16];
    transpose16(src + q, P, v, 16, m);
    for (int j = 0; j < m; j++) {
      _mm512_store_ps(dst + ((int64_t)(yy + top) * wp + xx + left) * CB, v[j]);
      if (++xx == w) xx = 0, yy++;
    }
  }
}

// The inverse of pack_block's transpose: `count` pixels of src [pixel][16] -> 16 NCHW planes
// (channel c at dst + c*plane, pixels at dst[0 .. count)), optionally + bias[c], then act
// (SEPCONV_ACT_*, vact in simd.h).
inline void unpack_pixels(const float* src, int count, float* dst, int64_t plane, const float* bias = nullptr,
                          int act = SEPCONV_ACT_NONE) {
  for (int q = 0; q < count; q += 16) {
    const int m = std::min(16, count - q);
    __m512 v[16];
    transpose16(src + (int64_t)q * CB, CB, v, m);
    for (int c = 0; c < CB; c++) {
      if (bias) v[c] = _mm512_add_ps(v[c], _mm512_set1_ps(bias[c]));
      v[c] = vact(act, v[c]);
      _mm512_mask_storeu_ps(dst + (int64_t)c * plane + q, lanes(m), v[c]);
    }
  }
}

}  // namespace
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
#endif
