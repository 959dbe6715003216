// Shared by every cuda/*.cu: the runtime (stream, errors, scratch memory) and small device
// helpers (grid sizing, warp and block sums, the fused activations). Internal, never installed.
#pragma once
#include <cuda_runtime.h>

#include <initializer_list>

#include "common.h"
#include "cuda_backend.h"

namespace sepconv {
namespace gpu {

// ---- runtime (cuda/runtime.cu) ----
// Turns a failed CUDA call into fail(SEPCONV_EDEVICE, "<what>: <name>: <text>"); a missing
// driver or device becomes SEPCONV_EUNSUPPORTED.
void check(cudaError_t e, const char* what);
// After each launch: catches bad launch configurations at once.
inline void launched(const char* kernel) { check(cudaGetLastError(), kernel); }
// The library's one stream on device 0; initialises the runtime on first use.
cudaStream_t stream();
int sm_count();
bool tf32_enabled();
// Every non-NULL pointer must be device (or managed) memory. `names` is the comma-separated
// list of the pointers' names, used in the message.
void check_device_ptrs(const char* op, const char* names, std::initializer_list<const void*> ptrs);
#define SEPCONV_DEVICE_PTRS(op, ...) ::sepconv::gpu::check_device_ptrs(op, #__VA_ARGS__, {__VA_ARGS__})
// The one output that is host memory on every device (sepconv_sum_squares' result): fails
// with SEPCONV_EINVAL, naming `name`, when p is CUDA device memory.
void check_host_ptr(const char* op, const char* name, const void* p);

// Caching allocator (see sepconv_cuda_malloc); throws on failure.
void* alloc(size_t bytes);
void release(void* p);

// Scratch device memory for one launcher, returned to the cache when it goes out of scope.
// Safe with one stream: later work that reuses the block is queued after the work using it.
template <class T>
class Scratch {
 public:
  explicit Scratch(size_t count) : p_(static_cast<T*>(alloc(count * sizeof(T)))) {}
  ~Scratch() { release(p_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return p_; }

 private:
  T* p_;
};

// ---- launch helpers ----
constexpr int kThreads = 256;
// Blocks for a grid-stride loop over `count` items: enough to fill the chip, no more.
inline unsigned grid_for(int64_t count, int threads = kThreads) {
  int64_t want = (count + threads - 1) / threads, cap = (int64_t)sm_count() * 16;
  return (unsigned)(want < 1 ? 1 : want < cap ? want : cap);
}
// Splits of a per-channel reduction so that `channels * splits` blocks fill the chip;
// each split covers at least one of `items` (images).
inline int splits_for(int channels, int items) {
  int64_t want = ((int64_t)sm_count() * 4 + channels - 1) / channels;
  return (int)(want < 1 ? 1 : want > items ? items : want);
}

#define SEPCONV_GRID_STRIDE(i, count)                                                  \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (int64_t)(count); \
       i += (int64_t)gridDim.x * blockDim.x)

// ---- device helpers ----
__device__ __forceinline__ float apply_act(int act, float v) {
  if (act == SEPCONV_ACT_NONE) return v;
  v = v < 0.f ? 0.f : v;  // NaN passes through, as on the CPU
  return (act == SEPCONV_ACT_RELU6 && v > 6.f) ? 6.f : v;
}
// The forward output y is inside the active range (the gradient passes).
__device__ __forceinline__ bool act_passes(int act, float y) {
  if (act == SEPCONV_ACT_RELU) return y > 0.f;
  if (act == SEPCONV_ACT_RELU6) return y > 0.f && y < 6.f;
  return true;
}

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
// Sum over the block (blockDim.x a multiple of 32, at most 1024); the result is valid in
// thread 0. `tmp` holds 32 values; the call starts and ends with a barrier, so it can be
// called several times in a row with the same tmp.
template <class T>
__device__ __forceinline__ T block_sum(T v, T* tmp) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) tmp[warp] = v;
  __syncthreads();
  T r = T(0);
  if (warp == 0) {
    r = lane < warps ? tmp[lane] : T(0);
    r = warp_sum(r);
  }
  return r;
}

// dst[i] += sum over s of part[s*count + i], in a fixed order (deterministic split reductions).
void add_partials(int64_t count, int splits, const float* part, float* dst);
// dbias[ch] += sum over n and the plane of dy[n][ch][plane] (conv and linear bias gradients).
void bias_backward(int n, int c, int64_t plane, const float* dy, float* dbias);

}  // namespace gpu
}  // namespace sepconv
