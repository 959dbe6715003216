// Built-in single-threaded SGEMM, one copy per ISA (row-major, BLAS semantics).
#pragma once
#include "../common.h"

namespace sepconv {
// op(B) (k x n) for gemm_serial_packed_a. Plain: B(p, j) = b[p*ldb + j] (trans: b[j*ldb + p]).
// Indexed (row_off set): B(p, j) = b[row_off[p] + col_off[j]], read straight into the packed
// panels; this fuses a gather / im2col without padding into the GEMM's own B packing.
struct GemmB {
  const float* b;
  int64_t ldb;
  bool trans;
  const int64_t* row_off;
  const int64_t* col_off;
};
}  // namespace sepconv

// Packed A: alpha*op(A) (m x k) cut into the same K slices and MR-row micro-panels that
// gemm_serial packs on the fly, so gemm_serial_packed_a gives the same bits as gemm_serial.
// The layout depends on the ISA: pack and multiply with the same namespace. gemm_pack_a
// packs rows [row0, row1) (row0 a multiple of gemm_mr(), row1 too or == m), so disjoint row
// ranges can be packed in parallel; the buffer holds gemm_packed_a_size(m, k) floats.
#define SEPCONV_GEMM_KERNELS(ns)                                                            \
  namespace sepconv {                                                                       \
  namespace ns {                                                                            \
  void gemm_serial(bool trans_a, bool trans_b, int m, int n, int k, float alpha,            \
                   const float* a, int lda, const float* b, int ldb, float beta, float* c, \
                   int ldc);                                                                \
  int gemm_mr();                                                                            \
  size_t gemm_packed_a_size(int m, int k);                                                  \
  void gemm_pack_a(bool trans_a, int m, int k, float alpha, const float* a, int lda,        \
                   int row0, int row1, float* packed);                                      \
  void gemm_serial_packed_a(const float* packed_a, int m, int n, int k, const GemmB& b,     \
                            float beta, float* c, int ldc);                                 \
  }                                                                                         \
  }
SEPCONV_DECLARE_FOR_EACH_ISA(SEPCONV_GEMM_KERNELS)
