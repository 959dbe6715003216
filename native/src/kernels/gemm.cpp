// Built-in single-threaded SGEMM (row-major, BLAS semantics), compiled once per ISA.
//
// BLIS-style blocking: for each NC-wide column block of C and each KC-deep slice of K, the
// slice of op(B) is packed into NR-wide micro-panels ([kc][NR], zero padded) and op(A) into
// MR-tall micro-panels ([kc][MR], alpha folded in, zero padded). The register-blocked
// micro-kernel then computes an MR x NR tile of C over kc; the first K slice writes
// C = acc + beta*C (C is not read when beta == 0), later slices add. The order of every sum
// is fixed by the shapes alone, so results are deterministic.
//   AVX-512: 8 x 32 (16 zmm accumulators); AVX2: 6 x 16 (12 ymm); generic: 4 x 16 plain loops.
#include <algorithm>
#include <cstring>

#include "gemm.h"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace {

#if defined(__AVX512F__)
constexpr int MR = 8, NR = 32;
#elif defined(__AVX2__)
constexpr int MR = 6, NR = 16;
#else
constexpr int MR = 4, NR = 16;
#endif
constexpr int KC = 256;  // depth of one packed slice
constexpr int NC = 1024;  // columns of one packed B block (kc x NC floats stay in L2)
constexpr int MC = 256 / MR * MR;  // rows of one packed A block (whole micro-panels)

// C tile (MR x NR, leading dimension ldc) from packed A (kc x MR) and packed B (kc x NR).
// first: C = acc + beta*C (beta == 0: C = acc, C not read); else C += acc.
#if defined(__AVX512F__)
inline void micro_kernel(int kc, const float* __restrict a, const float* __restrict b,
                         float* __restrict c, int64_t ldc, bool first, float beta) {
  __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
  __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
  __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
  __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
  __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
  __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
  __m512 c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps();
  __m512 c70 = _mm512_setzero_ps(), c71 = _mm512_setzero_ps();
  for (int p = 0; p < kc; p++) {
    __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    _mm_prefetch((const char*)(b + 8 * NR), _MM_HINT_T0);
    __m512 t;
    t = _mm512_set1_ps(a[0]), c00 = _mm512_fmadd_ps(t, b0, c00), c01 = _mm512_fmadd_ps(t, b1, c01);
    t = _mm512_set1_ps(a[1]), c10 = _mm512_fmadd_ps(t, b0, c10), c11 = _mm512_fmadd_ps(t, b1, c11);
    t = _mm512_set1_ps(a[2]), c20 = _mm512_fmadd_ps(t, b0, c20), c21 = _mm512_fmadd_ps(t, b1, c21);
    t = _mm512_set1_ps(a[3]), c30 = _mm512_fmadd_ps(t, b0, c30), c31 = _mm512_fmadd_ps(t, b1, c31);
    t = _mm512_set1_ps(a[4]), c40 = _mm512_fmadd_ps(t, b0, c40), c41 = _mm512_fmadd_ps(t, b1, c41);
    t = _mm512_set1_ps(a[5]), c50 = _mm512_fmadd_ps(t, b0, c50), c51 = _mm512_fmadd_ps(t, b1, c51);
    t = _mm512_set1_ps(a[6]), c60 = _mm512_fmadd_ps(t, b0, c60), c61 = _mm512_fmadd_ps(t, b1, c61);
    t = _mm512_set1_ps(a[7]), c70 = _mm512_fmadd_ps(t, b0, c70), c71 = _mm512_fmadd_ps(t, b1, c71);
    a += MR;
    b += NR;
  }
  __m512 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                       {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
  if (!first) {
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < 2; j++) {
        float* q = c + i * ldc + 16 * j;
        _mm512_storeu_ps(q, _mm512_add_ps(_mm512_loadu_ps(q), acc[i][j]));
      }
  } else if (beta == 0.0f) {
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < 2; j++) _mm512_storeu_ps(c + i * ldc + 16 * j, acc[i][j]);
  } else {
    __m512 vb = _mm512_set1_ps(beta);
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < 2; j++) {
        float* q = c + i * ldc + 16 * j;
        _mm512_storeu_ps(q, _mm512_fmadd_ps(vb, _mm512_loadu_ps(q), acc[i][j]));
      }
  }
}
#elif defined(__AVX2__)
inline void micro_kernel(int kc, const float* __restrict a, const float* __restrict b,
                         float* __restrict c, int64_t ldc, bool first, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int p = 0; p < kc; p++) {
    __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 t;
    t = _mm256_broadcast_ss(a + 0), c00 = _mm256_fmadd_ps(t, b0, c00), c01 = _mm256_fmadd_ps(t, b1, c01);
    t = _mm256_broadcast_ss(a + 1), c10 = _mm256_fmadd_ps(t, b0, c10), c11 = _mm256_fmadd_ps(t, b1, c11);
    t = _mm256_broadcast_ss(a + 2), c20 = _mm256_fmadd_ps(t, b0, c20), c21 = _mm256_fmadd_ps(t, b1, c21);
    t = _mm256_broadcast_ss(a + 3), c30 = _mm256_fmadd_ps(t, b0, c30), c31 = _mm256_fmadd_ps(t, b1, c31);
    t = _mm256_broadcast_ss(a + 4), c40 = _mm256_fmadd_ps(t, b0, c40), c41 = _mm256_fmadd_ps(t, b1, c41);
    t = _mm256_broadcast_ss(a + 5), c50 = _mm256_fmadd_ps(t, b0, c50), c51 = _mm256_fmadd_ps(t, b1, c51);
    a += MR;
    b += NR;
  }
  __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (!first) {
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < 2; j++) {
        float* q = c + i * ldc + 8 * j;
        _mm256_storeu_ps(q, _mm256_add_ps(_mm256_loadu_ps(q), acc[i][j]));
      }
  } else if (beta == 0.0f) {
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < 2; j++) _mm256_storeu_ps(c + i * ldc + 8 * j, acc[i][j]);
  } else {
    __m256 vb = _mm256_set1_ps(beta);
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < 2; j++) {
        float* q = c + i * ldc + 8 * j;
        _mm256_storeu_ps(q, _mm256_fmadd_ps(vb, _mm256_loadu_ps(q), acc[i][j]));
      }
  }
}
#else
inline void micro_kernel(int kc, const float* __restrict a, const float* __restrict b,
                         float* __restrict c, int64_t ldc, bool first, float beta) {
  float acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = 0.0f;
  for (int p = 0; p < kc; p++) {
    for (int i = 0; i < MR; i++) {
      float ai = a[i];
      for (int j = 0; j < NR; j++) acc[i][j] += ai * b[j];
    }
    a += MR;
    b += NR;
  }
  for (int i = 0; i < MR; i++) {
    float* q = c + i * ldc;
    if (!first)
      for (int j = 0; j < NR; j++) q[j] += acc[i][j];
    else if (beta == 0.0f)
      for (int j = 0; j < NR; j++) q[j] = acc[i][j];
    else
      for (int j = 0; j < NR; j++) q[j] = acc[i][j] + beta * q[j];
  }
}
#endif

// Packs rows [i0, i0+mc) x depth [p0, p0+kc) of alpha*op(A) into MR-row micro-panels.
void pack_a(bool ta, const float* a, int lda, int i0, int mc, int p0, int kc, float alpha,
            float* dst) {
  for (int ir = 0; ir < mc; ir += MR) {
    int mr = std::min(MR, mc - ir);
    float* d = dst + (int64_t)ir * kc;
    if (!ta) {
      for (int i = 0; i < mr; i++) {
        const float* src = a + (int64_t)(i0 + ir + i) * lda + p0;
        for (int p = 0; p < kc; p++) d[p * MR + i] = alpha * src[p];
      }
    } else {
      for (int p = 0; p < kc; p++) {
        const float* src = a + (int64_t)(p0 + p) * lda + i0 + ir;
        for (int i = 0; i < mr; i++) d[p * MR + i] = alpha * src[i];
      }
    }
    if (mr < MR)
      for (int p = 0; p < kc; p++)
        for (int i = mr; i < MR; i++) d[p * MR + i] = 0.0f;
  }
}

// Packs depth [p0, p0+kc) x columns [j0, j0+nc) of op(B) into NR-column micro-panels.
void pack_b(bool tb, const float* b, int ldb, int p0, int kc, int j0, int nc, float* dst) {
  for (int jr = 0; jr < nc; jr += NR) {
    int nr = std::min(NR, nc - jr);
    float* d = dst + (int64_t)jr * kc;
    if (!tb) {
      for (int p = 0; p < kc; p++) {
        const float* src = b + (int64_t)(p0 + p) * ldb + j0 + jr;
        float* q = d + p * NR;
        if (nr == NR) {
          for (int j = 0; j < NR; j++) q[j] = src[j];
        } else {
          for (int j = 0; j < nr; j++) q[j] = src[j];
          for (int j = nr; j < NR; j++) q[j] = 0.0f;
        }
      }
    } else {
      for (int j = 0; j < nr; j++) {
        const float* src = b + (int64_t)(j0 + jr + j) * ldb + p0;
        for (int p = 0; p < kc; p++) d[p * NR + j] = src[p];
      }
      for (int j = nr; j < NR; j++)
        for (int p = 0; p < kc; p++) d[p * NR + j] = 0.0f;
    }
  }
}

// pack_b for an indexed B: B(p, j) = b[row_off[p] + col_off[j]].
void pack_b_indexed(const float* b, const int64_t* row_off, const int64_t* col_off, int p0,
                    int kc, int j0, int nc, float* dst) {
  for (int jr = 0; jr < nc; jr += NR) {
    const int nr = std::min(NR, nc - jr);
    const int64_t* co = col_off + j0 + jr;
    float* d = dst + (int64_t)jr * kc;
    for (int p = 0; p < kc; p++) {
      const float* src = b + row_off[p0 + p];
      float* q = d + p * NR;
      if (nr == NR) {
        for (int j = 0; j < NR; j++) q[j] = src[co[j]];
      } else {
        for (int j = 0; j < nr; j++) q[j] = src[co[j]];
        for (int j = nr; j < NR; j++) q[j] = 0.0f;
      }
    }
  }
}

// K slices of equal depth (e.g. 576 -> 3 x 192) so no slice is a thin remainder.
inline int k_slices(int k) { return (k + KC - 1) / KC; }
inline int slice_start(int k, int ks, int kslices) { return (int)((int64_t)k * ks / kslices); }

// The blocked loop nest. pack_a_block(i0, mc, p0, kc, ks, ap_scratch) returns the packed
// MR-row panels of rows [i0, i0+mc) x depth [p0, p0+kc); pack_b_block(p0, kc, j0, nc, dst).
template <class PackA, class PackB>
void gemm_core(int m, int n, int k, bool need_ap, float beta, float* c, int ldc,
               PackA&& pack_a_block, PackB&& pack_b_block) {
  const int kslices = k_slices(k);
  const int kc_max = (k + kslices - 1) / kslices;
  const int nc_max = std::min(NC, (n + NR - 1) / NR * NR);
  const int mc_max = std::min(MC, (m + MR - 1) / MR * MR);
  const size_t ap_size = need_ap ? (size_t)kc_max * mc_max : 0;
  Workspace ws((size_t)kc_max * nc_max + ap_size + MR * NR + 16);
  float* bp = ws.data();
  float* ap = bp + (size_t)kc_max * nc_max;
  float* tile = ap + ap_size;  // edge tiles (unaligned access only)

  for (int j0 = 0; j0 < n; j0 += NC) {
    const int nc = std::min(NC, n - j0);
    for (int ks = 0; ks < kslices; ks++) {
      const int p0 = slice_start(k, ks, kslices), p1 = slice_start(k, ks + 1, kslices);
      const int kc = p1 - p0;
      const bool first = ks == 0;
      pack_b_block(p0, kc, j0, nc, bp);
      for (int i0 = 0; i0 < m; i0 += MC) {
        const int mc = std::min(MC, m - i0);
        const float* apk = pack_a_block(i0, mc, p0, kc, ap);
        for (int ir = 0; ir < mc; ir += MR) {
          const int mr = std::min(MR, mc - ir);
          const float* apan = apk + (int64_t)ir * kc;
          for (int jr = 0; jr < nc; jr += NR) {
            const int nr = std::min(NR, nc - jr);
            const float* bpan = bp + (int64_t)jr * kc;
            float* cc = c + (int64_t)(i0 + ir) * ldc + j0 + jr;
            if (mr == MR && nr == NR) {
              micro_kernel(kc, apan, bpan, cc, ldc, first, beta);
            } else {
              micro_kernel(kc, apan, bpan, tile, NR, true, 0.0f);
              for (int i = 0; i < mr; i++) {
                float* q = cc + (int64_t)i * ldc;
                const float* t = tile + i * NR;
                if (!first)
                  for (int j = 0; j < nr; j++) q[j] += t[j];
                else if (beta == 0.0f)
                  for (int j = 0; j < nr; j++) q[j] = t[j];
                else
                  for (int j = 0; j < nr; j++) q[j] = t[j] + beta * q[j];
              }
            }
          }
        }
      }
    }
  }
}

// C = beta*C for the degenerate cases (k == 0 or alpha == 0).
void scale_c(int m, int n, float beta, float* c, int ldc) {
  for (int i = 0; i < m; i++) {
    float* q = c + (int64_t)i * ldc;
    if (beta == 0.0f)
      for (int j = 0; j < n; j++) q[j] = 0.0f;
    else if (beta != 1.0f)
      for (int j = 0; j < n; j++) q[j] *= beta;
  }
}

inline int64_t padded_m(int m) { return (int64_t)(m + MR - 1) / MR * MR; }

}  // namespace

void gemm_serial(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                 int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) return scale_c(m, n, beta, c, ldc);
  gemm_core(
      m, n, k, true, beta, c, ldc,
      [&](int i0, int mc, int p0, int kc, float* ap) {
        pack_a(trans_a, a, lda, i0, mc, p0, kc, alpha, ap);
        return (const float*)ap;
      },
      [&](int p0, int kc, int j0, int nc, float* bp) {
        pack_b(trans_b, b, ldb, p0, kc, j0, nc, bp);
      });
}

int gemm_mr() { return MR; }

// Slice ks (depth [p0, p1)) starts at p0 * padded_m(m); its panel of rows [i, i+MR) at i*kc.
size_t gemm_packed_a_size(int m, int k) {
  return m > 0 && k > 0 ? (size_t)(padded_m(m) * k) : 0;
}

void gemm_pack_a(bool trans_a, int m, int k, float alpha, const float* a, int lda, int row0,
                 int row1, float* packed) {
  if (m <= 0 || k <= 0) return;
  row1 = std::min(row1, m);
  if (row1 <= row0) return;
  const int kslices = k_slices(k);
  const int64_t mp = padded_m(m);
  for (int ks = 0; ks < kslices; ks++) {
    const int p0 = slice_start(k, ks, kslices), kc = slice_start(k, ks + 1, kslices) - p0;
    pack_a(trans_a, a, lda, row0, row1 - row0, p0, kc, alpha,
           packed + p0 * mp + (int64_t)row0 * kc);
  }
}

void gemm_serial_packed_a(const float* packed_a, int m, int n, int k, const GemmB& b,
                          float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return scale_c(m, n, beta, c, ldc);
  const int64_t mp = padded_m(m);
  auto pa = [&](int i0, int mc, int p0, int kc, float*) {
    return packed_a + p0 * mp + (int64_t)i0 * kc;
  };
  if (b.row_off)
    gemm_core(m, n, k, false, beta, c, ldc, pa, [&](int p0, int kc, int j0, int nc, float* bp) {
      pack_b_indexed(b.b, b.row_off, b.col_off, p0, kc, j0, nc, bp);
    });
  else
    gemm_core(m, n, k, false, beta, c, ldc, pa, [&](int p0, int kc, int j0, int nc, float* bp) {
      pack_b(b.trans, b.b, (int)b.ldb, p0, kc, j0, nc, bp);
    });
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
