// Optimizer updates on CUDA: one fused elementwise pass per parameter tensor, in place.
// Contract: p, and the state (momentum buffer; exp_avg, exp_avg_sq) are overwritten; g is read.
// The float steps are the CPU loop's (native/src/kernels/optim_kernels.cpp) on the same
// scalars (sgd_scalars / adam_scalars, on the host), written with the _rn intrinsics so that
// nvcc fuses none of them into an FMA: results match the CPU and Java optimizers bit for bit. Live version: 1 (grid-stride, one element per thread per step);
// the pass is memory-bound (plain SGD moves 12 B per element, SGD+momentum 20 B, Adam 28 B).
#include "common.cuh"

namespace sepconv {
namespace gpu {

__global__ void sgd_kernel(int64_t count, float* __restrict__ p, const float* __restrict__ g,
                           float* __restrict__ b, SgdScalars s) {
  SEPCONV_GRID_STRIDE(i, count) {
    float pi = p[i], d = s.weight_decay == 0.f ? g[i] : __fadd_rn(g[i], __fmul_rn(s.weight_decay, pi));
    if (s.momentum != 0.f) {
      float bi = s.first ? d : __fadd_rn(__fmul_rn(s.momentum, b[i]), __fmul_rn(s.keep, d));
      b[i] = bi;
      d = s.nesterov ? __fadd_rn(d, __fmul_rn(s.momentum, bi)) : bi;
    }
    p[i] = __fsub_rn(pi, __fmul_rn(s.lr, d));
  }
}

__global__ void adam_kernel(int64_t count, float* __restrict__ p, const float* __restrict__ g,
                            float* __restrict__ m, float* __restrict__ v, AdamScalars s) {
  SEPCONV_GRID_STRIDE(i, count) {
    float pi = __fmul_rn(p[i], s.decay);
    float gi = s.l2 == 0.f ? g[i] : __fadd_rn(g[i], __fmul_rn(s.l2, pi));
    float mi = __fadd_rn(m[i], __fmul_rn(s.a1, __fsub_rn(gi, m[i])));
    float vi = __fadd_rn(__fmul_rn(s.b2, v[i]), __fmul_rn(__fmul_rn(s.a2, gi), gi));
    m[i] = mi;
    v[i] = vi;
    float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), s.bc2_sqrt), s.eps);
    p[i] = __fsub_rn(pi, __fmul_rn(s.step_size, __fdiv_rn(mi, denom)));
  }
}

void sgd_update(int64_t count, float* p, const float* g, float* buf, const SgdParams& h) {
  const float* momentum_buffer = h.momentum != 0 ? buf : nullptr;
  SEPCONV_DEVICE_PTRS("sgd_update", p, g, momentum_buffer);
  sgd_kernel<<<grid_for(count), kThreads, 0, stream()>>>(count, p, g, buf, sgd_scalars(h));
  launched("sgd_kernel");
}

void adam_update(int64_t count, float* p, const float* g, float* m, float* v, const AdamParams& h) {
  SEPCONV_DEVICE_PTRS("adam_update", p, g, m, v);
  adam_kernel<<<grid_for(count), kThreads, 0, stream()>>>(count, p, g, m, v, adam_scalars(h));
  launched("adam_kernel");
}

}  // namespace gpu
}  // namespace sepconv
