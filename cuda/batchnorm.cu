// Batch normalisation over [n][c][hw] on CUDA, fused with ReLU / ReLU6, as the CPU reference
// (native/src/reference/ops_ref.cpp) defines it.
// Contract:
//   forward_training   y =, save_mean =, save_invstd =; running_mean/var updated in place
//                      (running = (1-momentum)*running + momentum*batch, var unbiased)
//   forward_inference  y =
//   backward           dx = ; dgamma += ; dbeta +=   (mask picks which)
//   fold               w[c][per_channel] *= s, bias = (bias - mean)*s + beta (both overwritten)
// Live version 1, three launches per call:
//   1. partial statistics, grid (c, splits): each block reduces whole images of one channel
//      (Welford mean/M2 per thread in fp32, merged with Chan's formula across the block);
//      splits are chosen so that c*splits blocks fill the chip.
//   2. one thread per channel merges the splits in double (fixed order: deterministic), and
//      writes the per-channel results and the coefficients for pass 3.
//   3. the elementwise pass, one block per (plane, chunk) so that the channel is decoded once
//      per block; float4 when every plane starts on 16 bytes.
// fold (an export-time op, not tuned): one block per channel, s in double as on the CPU.
// Bytes: training forward reads x twice and writes y (12 B per element), inference 8 B,
// backward reads x, dy (and y for a fused activation) twice and writes dx.
#include <cmath>

#include "common.cuh"

namespace sepconv {
namespace gpu {

namespace {
struct Welford {
  float mean, m2, count;
};

__device__ __forceinline__ void merge(Welford& a, float mean, float m2, float count) {
  float n = a.count + count;
  if (count == 0.f) return;
  float delta = mean - a.mean, f = count / n;
  a.mean += delta * f;
  a.m2 += m2 + delta * delta * a.count * f;
  a.count = n;
}

// Images [n0, n1) of split s out of `splits`.
__device__ __forceinline__ void split_range(int n, int s, int splits, int& n0, int& n1) {
  n0 = (int)((int64_t)n * s / splits);
  n1 = (int)((int64_t)n * (s + 1) / splits);
}
}  // namespace

// ------------------------------------------------------------------ kernels: statistics
__global__ void bn_stats_partial_kernel(int n, int c, int hw, int splits, const float* __restrict__ x,
                                        double2* __restrict__ part) {
  __shared__ Welford tmp[32];
  const int ch = blockIdx.x, s = blockIdx.y;
  int n0, n1;
  split_range(n, s, splits, n0, n1);
  Welford w{0.f, 0.f, 0.f};
  for (int img = n0; img < n1; img++) {
    const float* xp = x + ((int64_t)img * c + ch) * hw;
    for (int j = threadIdx.x; j < hw; j += blockDim.x) {
      float v = xp[j];
      w.count += 1.f;
      float d = v - w.mean;
      w.mean += d / w.count;
      w.m2 += d * (v - w.mean);
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    merge(w, __shfl_xor_sync(0xffffffffu, w.mean, o), __shfl_xor_sync(0xffffffffu, w.m2, o),
          __shfl_xor_sync(0xffffffffu, w.count, o));
  if ((threadIdx.x & 31) == 0) tmp[threadIdx.x >> 5] = w;
  __syncthreads();
  if (threadIdx.x == 0) {
    Welford r = tmp[0];
    for (int k = 1; k < (int)(blockDim.x >> 5); k++) merge(r, tmp[k].mean, tmp[k].m2, tmp[k].count);
    part[(int64_t)s * c + ch] = make_double2(r.mean, r.m2);
  }
}

// Merges the splits in double; writes save_mean/save_invstd, updates the running statistics,
// and leaves y = x*scale + shift coefficients in coef.
__global__ void bn_train_finalize_kernel(int n, int c, int hw, int splits, const double2* __restrict__ part,
                                         const float* gamma, const float* beta, float eps, float momentum,
                                         float* running_mean, float* running_var, float* save_mean,
                                         float* save_invstd, float2* __restrict__ coef) {
  int ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  double mean = 0, m2 = 0, count = 0;
  for (int s = 0; s < splits; s++) {
    int n0, n1;
    split_range(n, s, splits, n0, n1);
    double cnt = (double)(n1 - n0) * hw;
    if (cnt == 0) continue;
    double2 p = part[(int64_t)s * c + ch];
    double tot = count + cnt, delta = p.x - mean;
    mean += delta * cnt / tot;
    m2 += p.y + delta * delta * count * cnt / tot;
    count = tot;
  }
  double var = m2 / count, invstd = 1.0 / sqrt(var + (double)eps);
  double gm = gamma ? gamma[ch] : 1.0, bt = beta ? beta[ch] : 0.0;
  save_mean[ch] = (float)mean;
  save_invstd[ch] = (float)invstd;
  if (running_mean) running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + (double)momentum * mean);
  if (running_var)
    running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + (double)momentum * var * count / (count - 1));
  coef[ch] = make_float2((float)(gm * invstd), (float)(bt - mean * gm * invstd));
}

__global__ void bn_inference_coef_kernel(int c, const float* gamma, const float* beta, const float* mean,
                                         const float* var, float eps, float2* __restrict__ coef) {
  int ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  double invstd = 1.0 / sqrt((double)var[ch] + eps);
  double scale = (gamma ? gamma[ch] : 1.0) * invstd;
  coef[ch] = make_float2((float)scale, (float)((beta ? beta[ch] : 0.0) - mean[ch] * scale));
}

// ------------------------------------------------------------------ kernels: elementwise
// Work item b = plane * chunks + chunk; a chunk is kThreads*4 consecutive cells of one plane.
constexpr int kChunk = kThreads * 4;

template <bool VEC4>
__global__ void bn_apply_kernel(int64_t planes, int c, int hw, const float* __restrict__ x,
                                const float2* __restrict__ coef, int act, float* __restrict__ y) {
  const int chunks = (hw + kChunk - 1) / kChunk;
  for (int64_t b = blockIdx.x; b < planes * chunks; b += gridDim.x) {
    const int64_t plane = b / chunks;
    const int j0 = (int)(b % chunks) * kChunk, j1 = min(hw, j0 + kChunk);
    const float2 k = coef[plane % c];
    const float* xp = x + plane * hw;
    float* yp = y + plane * hw;
    if (VEC4) {
      for (int j = j0 + 4 * threadIdx.x; j < j1; j += 4 * blockDim.x) {
        float4 v = *reinterpret_cast<const float4*>(xp + j);
        v.x = apply_act(act, fmaf(v.x, k.x, k.y));
        v.y = apply_act(act, fmaf(v.y, k.x, k.y));
        v.z = apply_act(act, fmaf(v.z, k.x, k.y));
        v.w = apply_act(act, fmaf(v.w, k.x, k.y));
        *reinterpret_cast<float4*>(yp + j) = v;
      }
    } else {
      for (int j = j0 + threadIdx.x; j < j1; j += blockDim.x) yp[j] = apply_act(act, fmaf(xp[j], k.x, k.y));
    }
  }
}

// ------------------------------------------------------------------ kernels: backward
// part[s][c] = (sum g, sum g*xhat) over the split, g = dy masked by the activation.
__global__ void bn_backward_partial_kernel(int n, int c, int hw, int splits, bool need_x, const float* __restrict__ x,
                                           const float* __restrict__ y, const float* __restrict__ dy,
                                           const float* __restrict__ save_mean,
                                           const float* __restrict__ save_invstd, int act,
                                           double2* __restrict__ part) {
  __shared__ float tmp[32];
  const int ch = blockIdx.x, s = blockIdx.y;
  int n0, n1;
  split_range(n, s, splits, n0, n1);
  const float mean = need_x ? save_mean[ch] : 0.f, invstd = need_x ? save_invstd[ch] : 0.f;
  float sg = 0.f, sgx = 0.f;
  for (int img = n0; img < n1; img++) {
    const int64_t base = ((int64_t)img * c + ch) * hw;
    for (int j = threadIdx.x; j < hw; j += blockDim.x) {
      float g = (act == SEPCONV_ACT_NONE || act_passes(act, y[base + j])) ? dy[base + j] : 0.f;
      sg += g;
      if (need_x) sgx += g * (x[base + j] - mean) * invstd;
    }
  }
  sg = block_sum(sg, tmp);
  sgx = block_sum(sgx, tmp);
  if (threadIdx.x == 0) part[(int64_t)s * c + ch] = make_double2(sg, sgx);
}

// dbeta += sum g; dgamma += sum g*xhat; coef = (gamma*invstd, mean g, mean g*xhat, invstd).
__global__ void bn_backward_finalize_kernel(int n, int c, int hw, int splits, int mask,
                                            const double2* __restrict__ part, const float* gamma,
                                            const float* save_invstd, float* dgamma, float* dbeta,
                                            float4* __restrict__ coef) {
  int ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  double sg = 0, sgx = 0;
  for (int s = 0; s < splits; s++) {
    double2 p = part[(int64_t)s * c + ch];
    sg += p.x;
    sgx += p.y;
  }
  if (mask & SEPCONV_GRAD_BIAS) dbeta[ch] += (float)sg;
  if (mask & SEPCONV_GRAD_WEIGHT) dgamma[ch] += (float)sgx;
  if (mask & SEPCONV_GRAD_INPUT) {
    double count = (double)n * hw, invstd = save_invstd[ch];
    coef[ch] = make_float4((float)((gamma ? gamma[ch] : 1.0) * invstd), (float)(sg / count),
                           (float)(sgx / count), (float)invstd);
  }
}

__global__ void bn_backward_dx_kernel(int64_t planes, int c, int hw, const float* __restrict__ x,
                                      const float* __restrict__ y, const float* __restrict__ dy,
                                      const float* __restrict__ save_mean, const float4* __restrict__ coef,
                                      int act, float* __restrict__ dx) {
  const int chunks = (hw + kChunk - 1) / kChunk;
  for (int64_t b = blockIdx.x; b < planes * chunks; b += gridDim.x) {
    const int64_t plane = b / chunks;
    const int j0 = (int)(b % chunks) * kChunk, j1 = min(hw, j0 + kChunk);
    const int ch = (int)(plane % c);
    const float4 k = coef[ch];
    const float mean = save_mean[ch];
    const int64_t base = plane * hw;
    for (int j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
      float g = (act == SEPCONV_ACT_NONE || act_passes(act, y[base + j])) ? dy[base + j] : 0.f;
      float xhat = (x[base + j] - mean) * k.w;
      dx[base + j] = k.x * (g - k.y - xhat * k.z);
    }
  }
}

// ------------------------------------------------------------------ kernels: fold
__global__ void bn_fold_kernel(int c, int64_t per_channel, float* __restrict__ w, float* __restrict__ bias,
                               const float* gamma, const float* beta, const float* mean, const float* var,
                               float eps) {
  for (int ch = blockIdx.x; ch < c; ch += gridDim.x) {
    const double s = (gamma ? gamma[ch] : 1.0) / sqrt((double)var[ch] + eps);
    const float sf = (float)s;
    float* row = w + (int64_t)ch * per_channel;
    for (int64_t j = threadIdx.x; j < per_channel; j += blockDim.x) row[j] *= sf;
    if (threadIdx.x == 0) bias[ch] = (float)(((double)bias[ch] - mean[ch]) * s + (beta ? beta[ch] : 0.0));
  }
}

// ------------------------------------------------------------------ launchers
static unsigned chunk_grid(int64_t planes, int hw) {
  return grid_for(planes * ((hw + kChunk - 1) / kChunk) * kThreads);
}

static void apply(int n, int c, int hw, const float* x, const float2* coef, int act, float* y) {
  const int64_t planes = (int64_t)n * c;
  const bool vec4 = hw % 4 == 0 && ((uintptr_t)x | (uintptr_t)y) % 16 == 0;
  if (vec4) bn_apply_kernel<true><<<chunk_grid(planes, hw), kThreads, 0, stream()>>>(planes, c, hw, x, coef, act, y);
  else bn_apply_kernel<false><<<chunk_grid(planes, hw), kThreads, 0, stream()>>>(planes, c, hw, x, coef, act, y);
  launched("bn_apply_kernel");
}

void bn_forward_training(int n, int c, int hw, const float* x, const float* gamma, const float* beta,
                         float eps, float momentum, float* running_mean, float* running_var,
                         float* save_mean, float* save_invstd, int act, float* y) {
  SEPCONV_DEVICE_PTRS("batchnorm_forward_training", x, gamma, beta, running_mean, running_var, save_mean,
                      save_invstd, y);
  const int splits = splits_for(c, n);
  Scratch<double2> part((size_t)splits * c);
  Scratch<float2> coef((size_t)c);
  bn_stats_partial_kernel<<<dim3(c, splits), kThreads, 0, stream()>>>(n, c, hw, splits, x, part.get());
  launched("bn_stats_partial_kernel");
  bn_train_finalize_kernel<<<(c + 127) / 128, 128, 0, stream()>>>(n, c, hw, splits, part.get(), gamma, beta, eps,
                                                                   momentum, running_mean, running_var, save_mean,
                                                                   save_invstd, coef.get());
  launched("bn_train_finalize_kernel");
  apply(n, c, hw, x, coef.get(), act, y);
}

void bn_forward_inference(int n, int c, int hw, const float* x, const float* gamma, const float* beta,
                          const float* running_mean, const float* running_var, float eps, int act, float* y) {
  SEPCONV_DEVICE_PTRS("batchnorm_forward_inference", x, gamma, beta, running_mean, running_var, y);
  Scratch<float2> coef((size_t)c);
  bn_inference_coef_kernel<<<(c + 127) / 128, 128, 0, stream()>>>(c, gamma, beta, running_mean, running_var, eps,
                                                                  coef.get());
  launched("bn_inference_coef_kernel");
  apply(n, c, hw, x, coef.get(), act, y);
}

void bn_backward(int n, int c, int hw, int mask, const float* x, const float* y, const float* dy,
                 const float* gamma, const float* save_mean, const float* save_invstd, int act, float* dx,
                 float* dgamma, float* dbeta) {
  const bool need_x = mask & (SEPCONV_GRAD_INPUT | SEPCONV_GRAD_WEIGHT);
  const char* op = "batchnorm_backward";
  SEPCONV_DEVICE_PTRS(op, dy, gamma);
  if (need_x) SEPCONV_DEVICE_PTRS(op, x, save_mean, save_invstd);
  if (act != SEPCONV_ACT_NONE) SEPCONV_DEVICE_PTRS(op, y);
  if (mask & SEPCONV_GRAD_INPUT) SEPCONV_DEVICE_PTRS(op, dx);
  if (mask & SEPCONV_GRAD_WEIGHT) SEPCONV_DEVICE_PTRS(op, dgamma);
  if (mask & SEPCONV_GRAD_BIAS) SEPCONV_DEVICE_PTRS(op, dbeta);
  const int splits = splits_for(c, n);
  Scratch<double2> part((size_t)splits * c);
  Scratch<float4> coef((size_t)c);
  bn_backward_partial_kernel<<<dim3(c, splits), kThreads, 0, stream()>>>(n, c, hw, splits, need_x, x, y, dy,
                                                                         save_mean, save_invstd, act, part.get());
  launched("bn_backward_partial_kernel");
  bn_backward_finalize_kernel<<<(c + 127) / 128, 128, 0, stream()>>>(n, c, hw, splits, mask, part.get(), gamma,
                                                                      save_invstd, dgamma, dbeta, coef.get());
  launched("bn_backward_finalize_kernel");
  if (!(mask & SEPCONV_GRAD_INPUT)) return;
  const int64_t planes = (int64_t)n * c;
  bn_backward_dx_kernel<<<chunk_grid(planes, hw), kThreads, 0, stream()>>>(planes, c, hw, x, y, dy, save_mean,
                                                                          coef.get(), act, dx);
  launched("bn_backward_dx_kernel");
}

void bn_fold(int c, int64_t per_channel, float* w, float* bias, const float* gamma, const float* beta,
             const float* mean, const float* var, float eps) {
  SEPCONV_DEVICE_PTRS("batchnorm_fold", w, bias, gamma, beta, mean, var);
  bn_fold_kernel<<<grid_for((int64_t)c * kThreads), kThreads, 0, stream()>>>(c, per_channel, w, bias, gamma, beta,
                                                                            mean, var, eps);
  launched("bn_fold_kernel");
}

}  // namespace gpu
}  // namespace sepconv
