// Optimizer updates behind sepconv_sgd_update / sepconv_adam_update: one fused elementwise pass
// over one parameter tensor, in place.
//   entry points, validation, scalars   api_optim.cpp
//   fast kernels (per ISA)              kernels/optim_kernels.cpp
//   references (double)                 reference/optim_ref.cpp  (SEPCONV_ALGO_REFERENCE)
//   CUDA                                cuda/optim.cu
// Contract: p and the state (momentum buffer; exp_avg, exp_avg_sq) are overwritten; g is read.
// The fast kernels, CPU and CUDA, compute every element in float, one IEEE operation per step
// in torch.optim's order and never a fused multiply-add, from the float scalars that
// sgd_scalars / adam_scalars prepare in double: results are bit-identical to torch's fp32
// arithmetic (and to org.sepconv.optim's Java model of it). The references compute each element
// in double from the double hyperparameters and round once, when they store.
#pragma once
#include "common.h"

namespace sepconv {

// The hyperparameters as the C ABI passes them, already validated. step counts this update.
struct SgdParams {
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
  int64_t step;
};
struct AdamParams {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;
  int64_t step;
};

// The float scalars of the fast kernels (api_optim.cpp; the CUDA launchers call them too).
struct SgdScalars {
  float lr, momentum, keep, weight_decay;  // keep = 1 - dampening
  bool nesterov, first;
};
struct AdamScalars {
  float decay, l2, a1, b2, a2, step_size, bc2_sqrt, eps;
};
SgdScalars sgd_scalars(const SgdParams& h);
AdamScalars adam_scalars(const AdamParams& h);

// ---- references (reference/optim_ref.cpp); their signatures are the dispatch tables' ----
// momentum_buffer is read and written only when momentum != 0 (it may be NULL otherwise).
void ref_sgd_update(int64_t count, float* p, const float* g, float* momentum_buffer,
                    const SgdParams& h);
void ref_adam_update(int64_t count, float* p, const float* g, float* exp_avg, float* exp_avg_sq,
                     const AdamParams& h);

}  // namespace sepconv

// ---- fast kernels, one copy per ISA (kernels/optim_kernels.cpp) ----
#define SEPCONV_OPTIM_KERNELS(ns)                                                           \
  namespace sepconv {                                                                       \
  namespace ns {                                                                            \
  void sgd_update(int64_t count, float* p, const float* g, float* momentum_buffer,          \
                  const SgdParams& h);                                                      \
  void adam_update(int64_t count, float* p, const float* g, float* exp_avg,                 \
                   float* exp_avg_sq, const AdamParams& h);                                 \
  }                                                                                         \
  }
SEPCONV_DECLARE_FOR_EACH_ISA(SEPCONV_OPTIM_KERNELS)
