// The one SIMD wrapper of the CPU kernels (XNNPACK's simd/f32-*.h idea): every kernel file in
// kernels/ writes its vector code once against these names, and each ISA build of the file
// (see common.h) gets the section below that its compiler flags select:
//   AVX-512 (16 float lanes), AVX2 (8), or plain arrays of 4 lanes that the compiler turns
//   into SSE (generic).
// vf: VL floats. vd: VL/2 doubles (the low or high half of a vf, widened by dlo / dhi).
// Semantics every section keeps:
//   vfma(a, b, c) = a*b + c (one rounding on AVX2/AVX-512, two in the generic section);
//   vmax / vmin return the second operand when either is NaN;
//   vld_n / vst_n touch only the first n lanes in memory (0 <= n < VL);
//   vsum and dsum add the lanes in a fixed order.
// Below the sections, written once against them: copy_n and deinterleave2 (rows into scratch)
// and vact (the fused activations).
// Internal to the kernel files: include it only from kernels/*.cpp, after the family header.
#pragma once
#include <algorithm>
#include <cstdint>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace {

#if defined(__AVX512F__)
constexpr int VL = 16;
typedef __m512 vf;
typedef __m512d vd;
inline vf vld(const float* p) { return _mm512_loadu_ps(p); }
inline void vst(float* p, vf v) { _mm512_storeu_ps(p, v); }
inline vf vset(float a) { return _mm512_set1_ps(a); }
inline vf vzero() { return _mm512_setzero_ps(); }
inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline vf vmax(vf a, vf b) { return _mm512_maskz_max_ps(0xFFFF, a, b); }
inline vf vmin(vf a, vf b) { return _mm512_maskz_min_ps(0xFFFF, a, b); }
inline vf vpass_pos(vf y, vf g) {  // y > 0 ? g : 0
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), g);
}
inline vf vpass_06(vf y, vf g) {  // 0 < y < 6 ? g : 0
  __mmask16 m = _mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ) &
                _mm512_cmp_ps_mask(y, _mm512_set1_ps(6.0f), _CMP_LT_OQ);
  return _mm512_maskz_mov_ps(m, g);
}
inline __mmask16 tail_mask(int n) { return (__mmask16)((1u << n) - 1u); }
inline vf vld_n(const float* p, int n) { return _mm512_maskz_loadu_ps(tail_mask(n), p); }
inline void vst_n(float* p, vf v, int n) { _mm512_mask_storeu_ps(p, tail_mask(n), v); }
// Non-temporal store of a full vector at a 64-byte aligned address.
inline void vst_nt(float* p, vf v) { _mm512_stream_ps(p, v); }
inline void nt_fence() { _mm_sfence(); }
// Full-width shuffles with explicit sources (GCC 12's 512->256 casts warn under -Wall).
inline float vsum(vf v) {
  v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, 0x4E));
  v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, 0xB1));
  v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, 0xFFFF, v, 0x4E));
  v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, 0xFFFF, v, 0xB1));
  return _mm512_cvtss_f32(v);
}
inline vd dzero() { return _mm512_setzero_pd(); }
inline vd dset(double a) { return _mm512_set1_pd(a); }
// (the maskz forms: GCC 12's plain casts/conversions trip -Wmaybe-uninitialized)
inline vd dlo(vf v) {
  return _mm512_maskz_cvtps_pd(0xFF, _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(
                                         0xF, _mm512_castps_pd(v), 0)));
}
inline vd dhi(vf v) {
  return _mm512_maskz_cvtps_pd(0xFF, _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(
                                         0xF, _mm512_castps_pd(v), 1)));
}
inline vd dadd(vd a, vd b) { return _mm512_add_pd(a, b); }
inline vd dsub(vd a, vd b) { return _mm512_sub_pd(a, b); }
inline vd dfma(vd a, vd b, vd c) { return _mm512_fmadd_pd(a, b, c); }
inline double dsum(vd a) {
  __m256d h = _mm256_add_pd(_mm512_maskz_extractf64x4_pd(0xF, a, 0),
                            _mm512_maskz_extractf64x4_pd(0xF, a, 1));
  __m128d q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
  return _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
}
#elif defined(__AVX2__)
constexpr int VL = 8;
typedef __m256 vf;
typedef __m256d vd;
inline vf vld(const float* p) { return _mm256_loadu_ps(p); }
inline void vst(float* p, vf v) { _mm256_storeu_ps(p, v); }
inline vf vset(float a) { return _mm256_set1_ps(a); }
inline vf vzero() { return _mm256_setzero_ps(); }
inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
inline vf vpass_pos(vf y, vf g) {
  return _mm256_and_ps(_mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ), g);
}
inline vf vpass_06(vf y, vf g) {
  vf m = _mm256_and_ps(_mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ),
                       _mm256_cmp_ps(y, _mm256_set1_ps(6.0f), _CMP_LT_OQ));
  return _mm256_and_ps(m, g);
}
alignas(64) static const int32_t k_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                     0,  0,  0,  0,  0,  0,  0,  0};
inline __m256i tail_mask(int n) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k_mask_table + 8 - n));
}
inline vf vld_n(const float* p, int n) { return _mm256_maskload_ps(p, tail_mask(n)); }
inline void vst_n(float* p, vf v, int n) { _mm256_maskstore_ps(p, tail_mask(n), v); }
inline void vst_nt(float* p, vf v) { _mm256_stream_ps(p, v); }
inline void nt_fence() { _mm_sfence(); }
inline float vsum(vf v) {
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  b = _mm_add_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}
inline vd dzero() { return _mm256_setzero_pd(); }
inline vd dset(double a) { return _mm256_set1_pd(a); }
inline vd dlo(vf v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
inline vd dhi(vf v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
inline vd dadd(vd a, vd b) { return _mm256_add_pd(a, b); }
inline vd dsub(vd a, vd b) { return _mm256_sub_pd(a, b); }
inline vd dfma(vd a, vd b, vd c) { return _mm256_fmadd_pd(a, b, c); }
inline double dsum(vd a) {
  __m128d q = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  return _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
}
#else
constexpr int VL = 4;
struct vf {
  float v[VL];
};
struct vd {
  double v[VL / 2];
};
#define SEPCONV_LANES(expr)                   \
  vf r;                                       \
  for (int l = 0; l < VL; l++) r.v[l] = expr; \
  return r
inline vf vld(const float* p) {
  vf r;
  for (int i = 0; i < VL; i++) r.v[i] = p[i];
  return r;
}
inline void vst(float* p, vf a) {
  for (int l = 0; l < VL; l++) p[l] = a.v[l];
}
inline vf vset(float a) {
  vf r;
  for (int i = 0; i < VL; i++) r.v[i] = a;
  return r;
}
inline vf vzero() { return vset(0.0f); }
inline vf vadd(vf a, vf b) {
  for (int i = 0; i < VL; i++) a.v[i] += b.v[i];
  return a;
}
inline vf vsub(vf a, vf b) { SEPCONV_LANES(a.v[l] - b.v[l]); }
inline vf vmul(vf a, vf b) { SEPCONV_LANES(a.v[l] * b.v[l]); }
inline vf vfma(vf a, vf b, vf c) {
  for (int i = 0; i < VL; i++) c.v[i] += a.v[i] * b.v[i];
  return c;
}
inline vf vmax(vf a, vf b) { SEPCONV_LANES(a.v[l] > b.v[l] ? a.v[l] : b.v[l]); }
inline vf vmin(vf a, vf b) { SEPCONV_LANES(a.v[l] < b.v[l] ? a.v[l] : b.v[l]); }
inline vf vpass_pos(vf y, vf g) { SEPCONV_LANES(y.v[l] > 0.0f ? g.v[l] : 0.0f); }
inline vf vpass_06(vf y, vf g) { SEPCONV_LANES(y.v[l] > 0.0f && y.v[l] < 6.0f ? g.v[l] : 0.0f); }
inline vf vld_n(const float* p, int n) {
  vf r = vzero();
  for (int l = 0; l < n; l++) r.v[l] = p[l];
  return r;
}
inline void vst_n(float* p, vf a, int n) {
  for (int l = 0; l < n; l++) p[l] = a.v[l];
}
inline void vst_nt(float* p, vf v) { vst(p, v); }
inline void nt_fence() {}
inline float vsum(vf a) { return (a.v[0] + a.v[2]) + (a.v[1] + a.v[3]); }
#undef SEPCONV_LANES
#define SEPCONV_DLANES(expr)                      \
  vd r;                                           \
  for (int l = 0; l < VL / 2; l++) r.v[l] = expr; \
  return r
inline vd dzero() { SEPCONV_DLANES(0.0); }
inline vd dset(double s) { SEPCONV_DLANES(s); }
inline vd dlo(vf a) { SEPCONV_DLANES((double)a.v[l]); }
inline vd dhi(vf a) { SEPCONV_DLANES((double)a.v[l + VL / 2]); }
inline vd dadd(vd a, vd b) { SEPCONV_DLANES(a.v[l] + b.v[l]); }
inline vd dsub(vd a, vd b) { SEPCONV_DLANES(a.v[l] - b.v[l]); }
inline vd dfma(vd a, vd b, vd c) { SEPCONV_DLANES(a.v[l] * b.v[l] + c.v[l]); }
#undef SEPCONV_DLANES
inline double dsum(vd a) { return a.v[0] + a.v[1]; }
#endif

// ---- row helpers shared by the kernels that lay planes out in scratch
inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// dst[0, n) = src[0, n), touching nothing past n on either side.
inline void copy_n(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i + VL <= n; i += VL) vst(dst + i, vld(src + i));
  if (i < n) vst_n(dst + i, vld_n(src + i, (int)(n - i)), (int)(n - i));
}

// de[j] = src[2j] for j < ceil(n/2), dn[j] = src[2j+1] for j < n/2. Reads only src[0, n).
inline void deinterleave2(const float* src, int64_t n, float* de, float* dn) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (; i + 32 <= n; i += 32) {
    __m512 a = _mm512_loadu_ps(src + i), b = _mm512_loadu_ps(src + i + 16);
    _mm512_storeu_ps(de + i / 2, _mm512_permutex2var_ps(a, ie, b));
    _mm512_storeu_ps(dn + i / 2, _mm512_permutex2var_ps(a, io, b));
  }
  if (i < n) {
    int r = (int)(n - i);
    __m512 a = vld_n(src + i, std::min(r, 16));
    __m512 b = r > 16 ? vld_n(src + i + 16, r - 16) : _mm512_setzero_ps();
    vst_n(de + i / 2, _mm512_permutex2var_ps(a, ie, b), (r + 1) / 2);
    vst_n(dn + i / 2, _mm512_permutex2var_ps(a, io, b), r / 2);
    return;
  }
#endif
  for (; i + 1 < n; i += 2) {
    de[i / 2] = src[i];
    dn[i / 2] = src[i + 1];
  }
  if (i < n) de[i / 2] = src[i];
}

// ---- the fused activations (SEPCONV_ACT_*, see activate in common.h), whole vectors. NaN
// propagates: the constant is the first operand of vmax / vmin. With ACT a template
// argument (inner loops), or the runtime value.
template <int ACT>
inline vf vact(vf v) {
  if (ACT != SEPCONV_ACT_NONE) v = vmax(vzero(), v);
  if (ACT == SEPCONV_ACT_RELU6) v = vmin(vset(6.0f), v);
  return v;
}
inline vf vact(int act, vf v) {
  if (act != SEPCONV_ACT_NONE) v = vmax(vzero(), v);
  if (act == SEPCONV_ACT_RELU6) v = vmin(vset(6.0f), v);
  return v;
}

}  // namespace
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
