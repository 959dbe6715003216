// Elementwise ops (activations, add, dropout, scale, sum of squares), pooling, softmax
// cross-entropy and the row argmax on CUDA. Semantics are the CPU references'
// (native/src/reference/ops_ref.cpp); layout NCHW, planes [n*c][h][w].
// Contract: every output here is overwritten (y, dx, mask, argmax, probs, loss, dlogits, idx,
// the sum of squares' host result); nothing accumulates. In place: activations (y = x, dx = dy),
// add (y = a or b), dropout (y = x, dx = dy) and scale (y = x), so those kernels take no
// __restrict__. The dropout mask is the CPU's bit for bit (philox.h); the sum of squares adds
// fixed chunks in a fixed order (deterministic, but in another order than the CPU's). Backward passes gather (one thread per input cell reads the outputs whose
// window covers it), so no atomics are used and results are deterministic.
// Live versions: 1 everywhere (one thread per output or input cell, grid-stride). These ops
// are memory-bound and small next to the convolutions; see cuda/NOTES.md for their bytes.
// Labels and argmax live in device memory and are not range-checked on the host: an
// out-of-range label makes the loss NaN; an out-of-range argmax entry routes its gradient
// nowhere.
#include <climits>
#include <cmath>

#include "common.cuh"
#include "philox.h"

namespace sepconv {
namespace gpu {

// ------------------------------------------------------------------ elementwise
// y may alias x (no __restrict__ on either): each element is read before it is written by the
// same thread.
__global__ void activation_kernel(int act, int64_t count, const float* x, float* y) {
  SEPCONV_GRID_STRIDE(i, count) y[i] = apply_act(act, x[i]);
}

// dx may alias dy: each element is read before it is written by the same thread.
__global__ void activation_backward_kernel(int act, int64_t count, const float* y, const float* dy,
                                           float* dx) {
  SEPCONV_GRID_STRIDE(i, count) dx[i] = act_passes(act, y[i]) ? dy[i] : 0.f;
}

// y may alias a or b.
__global__ void add_kernel(int64_t count, const float* a, const float* b, float* y) {
  SEPCONV_GRID_STRIDE(i, count) y[i] = a[i] + b[i];
}

// One thread per Philox counter: four elements (philox.h, the CPU's words). y may alias x.
__global__ void dropout_forward_kernel(int64_t count, float p, float scale, uint64_t seed, const float* x,
                                       float* mask, float* y) {
  SEPCONV_GRID_STRIDE(q, (count + 3) / 4) {
    const Philox4 r = philox4x32_10((uint64_t)q, seed);
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const int64_t i = 4 * q + k;
      if (i >= count) break;
      const float m = dropout_keep(r.v[k], p) ? scale : 0.f;
      mask[i] = m;
      y[i] = x[i] * m;
    }
  }
}

// dx may alias dy.
__global__ void dropout_backward_kernel(int64_t count, const float* mask, const float* dy, float* dx) {
  SEPCONV_GRID_STRIDE(i, count) dx[i] = dy[i] * mask[i];
}

// y may alias x.
__global__ void scale_kernel(int64_t count, float alpha, const float* x, float* y) {
  SEPCONV_GRID_STRIDE(i, count) y[i] = alpha * x[i];
}

// Block b sums the squares of chunks b, b + gridDim.x, ... of kSumChunk elements, in double. The
// chunk size is fixed, so the order of the whole sum depends on the count only (not the device).
constexpr int kSumChunk = 8192;
__global__ void sum_squares_partial_kernel(int64_t count, int64_t chunks, const float* __restrict__ x,
                                           double* __restrict__ part) {
  __shared__ double tmp[32];
  for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
    const int64_t end = min(count, (c + 1) * kSumChunk);
    double s = 0;
    for (int64_t i = c * kSumChunk + threadIdx.x; i < end; i += blockDim.x) s += (double)x[i] * x[i];
    s = block_sum(s, tmp);
    if (threadIdx.x == 0) part[c] = s;
  }
}

// One block: out[0] = (sum of v[0, n), in a fixed order) / div.
template <class T>
__global__ void sum_kernel(int64_t n, const double* __restrict__ v, double div, T* __restrict__ out) {
  __shared__ double tmp[32];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += v[i];
  s = block_sum(s, tmp);
  if (threadIdx.x == 0) out[0] = (T)(s / div);
}

void activation_forward(int act, int64_t count, const float* x, float* y) {
  SEPCONV_DEVICE_PTRS("activation_forward", x, y);
  activation_kernel<<<grid_for(count), kThreads, 0, stream()>>>(act, count, x, y);
  launched("activation_kernel");
}

void activation_backward(int act, int64_t count, const float* y, const float* dy, float* dx) {
  SEPCONV_DEVICE_PTRS("activation_backward", y, dy, dx);
  if (act == SEPCONV_ACT_NONE) {  // dx = dy
    if (dx != dy)
      check(cudaMemcpyAsync(dx, dy, (size_t)count * sizeof(float), cudaMemcpyDeviceToDevice, stream()),
            "activation_backward: cudaMemcpyAsync");
    return;
  }
  activation_backward_kernel<<<grid_for(count), kThreads, 0, stream()>>>(act, count, y, dy, dx);
  launched("activation_backward_kernel");
}

void add(int64_t count, const float* a, const float* b, float* y) {
  SEPCONV_DEVICE_PTRS("add", a, b, y);
  add_kernel<<<grid_for(count), kThreads, 0, stream()>>>(count, a, b, y);
  launched("add_kernel");
}

void dropout_forward(int64_t count, float p, uint64_t seed, const float* x, float* mask, float* y) {
  SEPCONV_DEVICE_PTRS("dropout_forward", x, mask, y);
  dropout_forward_kernel<<<grid_for((count + 3) / 4), kThreads, 0, stream()>>>(count, p, dropout_scale(p), seed,
                                                                               x, mask, y);
  launched("dropout_forward_kernel");
}

void dropout_backward(int64_t count, const float* mask, const float* dy, float* dx) {
  SEPCONV_DEVICE_PTRS("dropout_backward", mask, dy, dx);
  dropout_backward_kernel<<<grid_for(count), kThreads, 0, stream()>>>(count, mask, dy, dx);
  launched("dropout_backward_kernel");
}

void scale(int64_t count, float alpha, const float* x, float* y) {
  SEPCONV_DEVICE_PTRS("scale", x, y);
  scale_kernel<<<grid_for(count), kThreads, 0, stream()>>>(count, alpha, x, y);
  launched("scale_kernel");
}

// The partials and the total stay in device scratch; the total is copied to the host result and
// the call waits for it.
void sum_squares(int64_t count, const float* x, double* result) {
  SEPCONV_DEVICE_PTRS("sum_squares", x);
  check_host_ptr("sum_squares", "result", result);
  const int64_t chunks = (count + kSumChunk - 1) / kSumChunk;
  Scratch<double> part((size_t)chunks + 1);  // [chunks] partials, then the total
  sum_squares_partial_kernel<<<grid_for(chunks * kThreads), kThreads, 0, stream()>>>(count, chunks, x, part.get());
  launched("sum_squares_partial_kernel");
  sum_kernel<double><<<1, 1024, 0, stream()>>>(chunks, part.get(), 1.0, part.get() + chunks);
  launched("sum_kernel<double>");
  check(cudaMemcpyAsync(result, part.get() + chunks, sizeof(double), cudaMemcpyDeviceToHost, stream()),
        "sum_squares: cudaMemcpyAsync");
  check(cudaStreamSynchronize(stream()), "sum_squares: cudaStreamSynchronize");
}

// ------------------------------------------------------------------ pooling
// PoolGeom is passed by value; only its fields are used on the device.
__device__ __forceinline__ void decode_out(const PoolGeom& g, int64_t o, int64_t& plane, int& oy, int& ox) {
  ox = (int)(o % g.ow);
  int64_t t = o / g.ow;
  oy = (int)(t % g.oh);
  plane = t / g.oh;
}

// PyTorch's divisor for output (oy, ox): the window clipped to the padded input, or to the input.
__device__ __forceinline__ int avg_divisor(const PoolGeom& g, int oy, int ox) {
  int hs = oy * g.sh - g.ph, ws = ox * g.sw - g.pw;
  int he = min(hs + g.kh, g.h + g.ph), we = min(ws + g.kw, g.w + g.pw);
  if (g.include_pad) return (he - hs) * (we - ws);
  return (min(he, g.h) - max(hs, 0)) * (min(we, g.w) - max(ws, 0));
}

// The outputs whose window covers input row iy (column: the same with w): [lo, hi].
__device__ __forceinline__ void covering(int i, int pad, int k, int s, int out, int& lo, int& hi) {
  int t = i + pad - k;  // the window [o*s - pad, o*s - pad + k) holds i  <=>  t < o*s <= i + pad
  lo = t < 0 ? 0 : t / s + 1;
  hi = min(out - 1, (i + pad) / s);
}

__global__ void avgpool_forward_kernel(PoolGeom g, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t total = (int64_t)g.n * g.c * g.oh * g.ow;
  SEPCONV_GRID_STRIDE(o, total) {
    int64_t plane;
    int oy, ox;
    decode_out(g, o, plane, oy, ox);
    const float* xp = x + plane * g.h * g.w;
    int hs = oy * g.sh - g.ph, ws = ox * g.sw - g.pw;
    float s = 0.f;
    for (int iy = max(hs, 0); iy < min(hs + g.kh, g.h); iy++)
      for (int ix = max(ws, 0); ix < min(ws + g.kw, g.w); ix++) s += xp[(int64_t)iy * g.w + ix];
    y[o] = s / (float)avg_divisor(g, oy, ox);
  }
}

__global__ void avgpool_backward_kernel(PoolGeom g, const float* __restrict__ dy, float* __restrict__ dx) {
  const int64_t total = (int64_t)g.n * g.c * g.h * g.w;
  SEPCONV_GRID_STRIDE(i, total) {
    int ix = (int)(i % g.w), iy = (int)((i / g.w) % g.h);
    int64_t plane = i / ((int64_t)g.h * g.w);
    int y0, y1, x0, x1;
    covering(iy, g.ph, g.kh, g.sh, g.oh, y0, y1);
    covering(ix, g.pw, g.kw, g.sw, g.ow, x0, x1);
    const float* dp = dy + plane * g.oh * g.ow;
    float s = 0.f;
    for (int oy = y0; oy <= y1; oy++)
      for (int ox = x0; ox <= x1; ox++)
        s += dp[(int64_t)oy * g.ow + ox] / (float)avg_divisor(g, oy, ox);
    dx[i] = s;
  }
}

__global__ void maxpool_forward_kernel(PoolGeom g, const float* __restrict__ x, float* __restrict__ y,
                                       int32_t* __restrict__ argmax) {
  const int64_t total = (int64_t)g.n * g.c * g.oh * g.ow;
  SEPCONV_GRID_STRIDE(o, total) {
    int64_t plane;
    int oy, ox;
    decode_out(g, o, plane, oy, ox);
    const float* xp = x + plane * g.h * g.w;
    int hs = oy * g.sh - g.ph, ws = ox * g.sw - g.pw;
    float best = -INFINITY;
    int bi = -1;
    for (int iy = max(hs, 0); iy < min(hs + g.kh, g.h); iy++)
      for (int ix = max(ws, 0); ix < min(ws + g.kw, g.w); ix++) {
        int k = iy * g.w + ix;
        float v = xp[k];
        if (bi < 0) bi = k;
        if (v > best || isnan(v)) best = v, bi = k;  // PyTorch: ties keep the first, NaN wins
      }
    y[o] = best;
    if (argmax) argmax[o] = bi;
  }
}

__global__ void maxpool_backward_kernel(PoolGeom g, const float* __restrict__ dy,
                                        const int32_t* __restrict__ argmax, float* __restrict__ dx) {
  const int64_t total = (int64_t)g.n * g.c * g.h * g.w;
  SEPCONV_GRID_STRIDE(i, total) {
    int ix = (int)(i % g.w), iy = (int)((i / g.w) % g.h);
    int64_t plane = i / ((int64_t)g.h * g.w);
    int y0, y1, x0, x1;
    covering(iy, g.ph, g.kh, g.sh, g.oh, y0, y1);
    covering(ix, g.pw, g.kw, g.sw, g.ow, x0, x1);
    const int64_t base = plane * g.oh * g.ow;
    const int me = iy * g.w + ix;
    float s = 0.f;
    for (int oy = y0; oy <= y1; oy++)
      for (int ox = x0; ox <= x1; ox++) {
        int64_t o = base + (int64_t)oy * g.ow + ox;
        if (argmax[o] == me) s += dy[o];
      }
    dx[i] = s;
  }
}

void avgpool_forward(const PoolGeom& g, const float* x, float* y) {
  SEPCONV_DEVICE_PTRS("avgpool2d_forward", x, y);
  avgpool_forward_kernel<<<grid_for(g.planes() * g.out_plane()), kThreads, 0, stream()>>>(g, x, y);
  launched("avgpool_forward_kernel");
}

void avgpool_backward(const PoolGeom& g, const float* dy, float* dx) {
  SEPCONV_DEVICE_PTRS("avgpool2d_backward", dy, dx);
  avgpool_backward_kernel<<<grid_for(g.planes() * g.in_plane()), kThreads, 0, stream()>>>(g, dy, dx);
  launched("avgpool_backward_kernel");
}

void maxpool_forward(const PoolGeom& g, const float* x, float* y, int32_t* argmax) {
  SEPCONV_DEVICE_PTRS("maxpool2d_forward", x, y, argmax);
  maxpool_forward_kernel<<<grid_for(g.planes() * g.out_plane()), kThreads, 0, stream()>>>(g, x, y, argmax);
  launched("maxpool_forward_kernel");
}

void maxpool_backward(const PoolGeom& g, const float* dy, const int32_t* argmax, float* dx) {
  SEPCONV_DEVICE_PTRS("maxpool2d_backward", dy, argmax, dx);
  maxpool_backward_kernel<<<grid_for(g.planes() * g.in_plane()), kThreads, 0, stream()>>>(g, dy, argmax, dx);
  launched("maxpool_backward_kernel");
}

// One warp per plane.
__global__ void global_avgpool_forward_kernel(int64_t planes, int hw, const float* __restrict__ x,
                                              float* __restrict__ y) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
  for (int64_t p = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5; p < planes; p += warps) {
    const float* xp = x + p * hw;
    float s = 0.f;
    for (int j = lane; j < hw; j += 32) s += xp[j];
    s = warp_sum(s);
    if (lane == 0) y[p] = s / (float)hw;
  }
}

__global__ void global_avgpool_backward_kernel(int64_t total, int hw, const float* __restrict__ dy,
                                               float* __restrict__ dx) {
  SEPCONV_GRID_STRIDE(i, total) dx[i] = dy[i / hw] / (float)hw;
}

void global_avgpool_forward(int n, int c, int hw, const float* x, float* y) {
  SEPCONV_DEVICE_PTRS("global_avgpool_forward", x, y);
  const int64_t planes = (int64_t)n * c;
  global_avgpool_forward_kernel<<<grid_for(planes * 32), kThreads, 0, stream()>>>(planes, hw, x, y);
  launched("global_avgpool_forward_kernel");
}

void global_avgpool_backward(int n, int c, int hw, const float* dy, float* dx) {
  SEPCONV_DEVICE_PTRS("global_avgpool_backward", dy, dx);
  const int64_t total = (int64_t)n * c * hw;
  global_avgpool_backward_kernel<<<grid_for(total), kThreads, 0, stream()>>>(total, hw, dy, dx);
  launched("global_avgpool_backward_kernel");
}

// ------------------------------------------------------------------ softmax cross-entropy
// One block per row: probs = softmax(z); row_loss = -sum_k q_k log p_k, in double.
__global__ void softmax_rows_kernel(int classes, const float* __restrict__ logits,
                                    const int32_t* __restrict__ labels, float smoothing,
                                    float* __restrict__ probs, double* __restrict__ row_loss) {
  __shared__ float ftmp[32];
  __shared__ double dtmp[32];
  __shared__ float bcast[2];
  const int64_t row = blockIdx.x;
  const float* z = logits + row * classes;
  float m = -INFINITY;
  for (int k = threadIdx.x; k < classes; k += blockDim.x) m = fmaxf(m, z[k]);
  // block max through the sum helper's layout: a max over warps, then over lanes
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if ((threadIdx.x & 31) == 0) ftmp[threadIdx.x >> 5] = m;
  __syncthreads();
  if (threadIdx.x == 0) {
    float r = ftmp[0];
    for (int w = 1; w < (int)(blockDim.x >> 5); w++) r = fmaxf(r, ftmp[w]);
    bcast[0] = r;
  }
  __syncthreads();
  m = bcast[0];
  float s = 0.f;
  for (int k = threadIdx.x; k < classes; k += blockDim.x) s += expf(z[k] - m);
  s = block_sum(s, ftmp);
  if (threadIdx.x == 0) bcast[1] = m + logf(s);
  __syncthreads();
  const float lse = bcast[1];
  const int label = labels[row];
  double acc = 0;  // sum_k q_k log p_k
  const double off = (double)smoothing / classes, on = 1.0 - smoothing + off;
  for (int k = threadIdx.x; k < classes; k += blockDim.x) {
    float logp = z[k] - lse;
    probs[row * classes + k] = expf(logp);
    acc += (k == label ? on : off) * (double)logp;
  }
  acc = block_sum(acc, dtmp);
  if (threadIdx.x == 0) row_loss[row] = (label >= 0 && label < classes) ? -acc : (double)NAN;
}

__global__ void softmax_xent_grad_kernel(int64_t total, int classes, const float* __restrict__ probs,
                                         const int32_t* __restrict__ labels, float off, float on,
                                         float scale, float* __restrict__ dlogits) {
  SEPCONV_GRID_STRIDE(i, total) {
    int k = (int)(i % classes);
    float q = k == labels[i / classes] ? on : off;
    dlogits[i] = scale * (probs[i] - q);
  }
}

// ------------------------------------------------------------------ argmax
// (a, ia) wins over (b, ib): a number over NaN, then the larger, then the lower index. (NaN,
// INT_MAX) is "nothing yet": every element wins over it.
__device__ __forceinline__ bool wins(float a, int ia, float b, int ib) {
  if (isnan(a) != isnan(b)) return !isnan(a);
  if (!isnan(a) && a != b) return a > b;
  return ia < ib;
}

// One warp per row: lanes scan k = lane, lane + 32, ..., then a butterfly of shuffles.
__global__ void argmax_rows_kernel(int n, int classes, const float* __restrict__ x, int32_t* __restrict__ idx) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
  for (int64_t row = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5; row < n; row += warps) {
    const float* r = x + row * classes;
    float best = NAN;
    int bi = INT_MAX;
    for (int k = lane; k < classes; k += 32)
      if (wins(r[k], k, best, bi)) best = r[k], bi = k;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ob = __shfl_xor_sync(0xffffffffu, best, o);
      const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (wins(ob, oi, best, bi)) best = ob, bi = oi;
    }
    if (lane == 0) idx[row] = bi;
  }
}

void argmax_rows(int n, int classes, const float* x, int32_t* idx) {
  SEPCONV_DEVICE_PTRS("argmax_rows", x, idx);
  argmax_rows_kernel<<<grid_for((int64_t)n * 32), kThreads, 0, stream()>>>(n, classes, x, idx);
  launched("argmax_rows_kernel");
}

void softmax_xent_forward(int n, int classes, const float* logits, const int32_t* labels,
                          float smoothing, float* probs, float* loss) {
  SEPCONV_DEVICE_PTRS("softmax_xent_forward", logits, labels, probs, loss);
  Scratch<double> rows((size_t)n);
  const int threads = classes <= 128 ? 64 : kThreads;
  softmax_rows_kernel<<<n, threads, 0, stream()>>>(classes, logits, labels, smoothing, probs, rows.get());
  launched("softmax_rows_kernel");
  sum_kernel<float><<<1, 1024, 0, stream()>>>(n, rows.get(), (double)n, loss);  // the batch mean
  launched("sum_kernel<float>");
}

void softmax_xent_backward(int n, int classes, const float* probs, const int32_t* labels,
                           float smoothing, float dloss, float* dlogits) {
  SEPCONV_DEVICE_PTRS("softmax_xent_backward", probs, labels, dlogits);
  const int64_t total = (int64_t)n * classes;
  const double off = (double)smoothing / classes;
  softmax_xent_grad_kernel<<<grid_for(total), kThreads, 0, stream()>>>(
      total, classes, probs, labels, (float)off, (float)(1.0 - smoothing + off),
      (float)((double)dloss / n), dlogits);
  launched("softmax_xent_grad_kernel");
}

}  // namespace gpu
}  // namespace sepconv
