// Built-in single-threaded SGEMM, one copy per ISA (row-major, BLAS semantics).
#pragma once
#include "../common.h"

#define SEPCONV_GEMM_KERNELS(ns)                                                            \
  namespace sepconv {                                                                       \
  namespace ns {                                                                            \
  void gemm_serial(bool trans_a, bool trans_b, int m, int n, int k, float alpha,            \
                   const float* a, int lda, const float* b, int ldb, float beta, float* c, \
                   int ldc);                                                                \
  }                                                                                         \
  }
SEPCONV_DECLARE_FOR_EACH_ISA(SEPCONV_GEMM_KERNELS)
