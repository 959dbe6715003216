// Depthwise convolution (groups == c_in, c_out = c_in * multiplier) on CUDA, NCHW.
// Weights [c_out][1][kh][kw]; output channel oc reads input channel oc / multiplier.
// Contract: y = act(conv + bias) (forward), dx = (backward data); dw += and dbias += (backward
// weight, bias).
// Kernels, in the order fprop, dgrad, wgrad (CUTLASS's names):
//   fprop  tile<K,S>   K x K (3, 5), stride S (1, 2), dilation 1: each block stages whole
//                      zero-padded input planes (one 32x32 CIFAR plane is 4.6 KB) and their
//                      weights in shared memory, then every thread computes outputs from
//                      there; small planes are packed several to a block so that a block has
//                      about 1024 outputs. generic: one thread per output, any geometry.
//   dgrad  tile<K,S>   the same staging of dy planes (multiplier 1, dilation 1); each thread
//                      gathers the outputs that read its input cell. generic: any geometry.
//   wgrad  <K>         grid (c_out, splits): each block reduces whole images of one channel,
//                      K*K register accumulators per thread (K = 0: any kernel size, one
//                      weight at a time), then a warp-shuffle + shared-memory block sum. With
//                      one split the block adds into dw itself (one += per weight per block,
//                      no atomics); with several, partials go to scratch and a second pass
//                      adds them in a fixed order, so results are deterministic.
// Live version 1 of each (see cuda/NOTES.md). PyTorch's DepthwiseConv2d.cu reads inputs
// straight from global memory in all three directions and reduces wgrad per weight with one
// block each; the shared-memory staging and the register-blocked wgrad are our choices.
#include "common.cuh"

namespace sepconv {
namespace gpu {

// ------------------------------------------------------------------ fprop
__global__ void dw_forward_generic(ConvGeom g, const float* __restrict__ x, const float* __restrict__ w,
                                   const float* __restrict__ bias, int act, float* __restrict__ y) {
  const int64_t total = (int64_t)g.n * g.c_out * g.oh * g.ow;
  const int mult = g.cout_g;
  SEPCONV_GRID_STRIDE(i, total) {
    const int ox = (int)(i % g.ow), oy = (int)((i / g.ow) % g.oh);
    const int64_t p = i / ((int64_t)g.oh * g.ow);  // output plane (img, oc)
    const int oc = (int)(p % g.c_out);
    const int64_t img = p / g.c_out;
    const float* xp = x + (img * g.c_in + oc / mult) * (int64_t)g.h * g.w;
    const float* wp = w + (int64_t)oc * g.kh * g.kw;
    float s = bias ? bias[oc] : 0.f;
    for (int ky = 0; ky < g.kh; ky++) {
      const int iy = oy * g.sh - g.ph + ky * g.dh;
      if (iy < 0 || iy >= g.h) continue;
      for (int kx = 0; kx < g.kw; kx++) {
        const int ix = ox * g.sw - g.pw + kx * g.dw;
        if (ix >= 0 && ix < g.w) s += xp[(int64_t)iy * g.w + ix] * wp[ky * g.kw + kx];
      }
    }
    y[i] = apply_act(act, s);
  }
}

// Block b computes output planes [b*ppb, (b+1)*ppb). Shared memory: ppb input tiles of
// tile_h x tile_w (rows -pad_h .. (oh-1)*S - pad_h + K - 1, zero outside the input), then
// ppb x K*K weights.
template <int K, int S>
__global__ void __launch_bounds__(kThreads) dw_forward_tile(ConvGeom g, int ppb, int tile_h, int tile_w,
                                                           const float* __restrict__ x, const float* __restrict__ w,
                                                           const float* __restrict__ bias, int act,
                                                           float* __restrict__ y) {
  extern __shared__ float smem[];
  const int tile = tile_h * tile_w, ohw = g.oh * g.ow, mult = g.cout_g;
  float* wsm = smem + ppb * tile;
  const int64_t planes = (int64_t)g.n * g.c_out, p0 = (int64_t)blockIdx.x * ppb;
  for (int e = threadIdx.x; e < ppb * tile; e += blockDim.x) {
    const int lp = e / tile, r = e % tile;
    const int64_t p = p0 + lp;
    const int iy = r / tile_w - g.ph, ix = r % tile_w - g.pw;
    float v = 0.f;
    if (p < planes && iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) {
      const int oc = (int)(p % g.c_out);
      v = x[((p / g.c_out) * g.c_in + oc / mult) * (int64_t)g.h * g.w + (int64_t)iy * g.w + ix];
    }
    smem[e] = v;
  }
  for (int e = threadIdx.x; e < ppb * K * K; e += blockDim.x) {
    const int64_t p = p0 + e / (K * K);
    wsm[e] = p < planes ? w[(p % g.c_out) * (K * K) + e % (K * K)] : 0.f;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < ppb * ohw; e += blockDim.x) {
    const int lp = e / ohw, r = e % ohw;
    const int64_t p = p0 + lp;
    if (p >= planes) break;
    const int oy = r / g.ow, ox = r % g.ow;
    const float* t = smem + lp * tile + oy * S * tile_w + ox * S;
    const float* wk = wsm + lp * (K * K);
    float s = bias ? bias[p % g.c_out] : 0.f;
#pragma unroll
    for (int ky = 0; ky < K; ky++)
#pragma unroll
      for (int kx = 0; kx < K; kx++) s += t[ky * tile_w + kx] * wk[ky * K + kx];
    y[p * ohw + r] = apply_act(act, s);
  }
}

// ------------------------------------------------------------------ dgrad
__global__ void dw_backward_data_generic(ConvGeom g, const float* __restrict__ w, const float* __restrict__ dy,
                                         float* __restrict__ dx) {
  const int64_t total = (int64_t)g.n * g.c_in * g.h * g.w;
  const int mult = g.cout_g;
  SEPCONV_GRID_STRIDE(i, total) {
    const int ix = (int)(i % g.w), iy = (int)((i / g.w) % g.h);
    const int64_t p = i / ((int64_t)g.h * g.w);  // input plane (img, ic)
    const int ic = (int)(p % g.c_in);
    const int64_t img = p / g.c_in;
    float s = 0.f;
    for (int m = 0; m < mult; m++) {
      const int oc = ic * mult + m;
      const float* dp = dy + (img * g.c_out + oc) * (int64_t)g.oh * g.ow;
      const float* wp = w + (int64_t)oc * g.kh * g.kw;
      for (int ky = 0; ky < g.kh; ky++) {
        const int ty = iy + g.ph - ky * g.dh;
        if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.oh) continue;
        for (int kx = 0; kx < g.kw; kx++) {
          const int tx = ix + g.pw - kx * g.dw;
          if (tx < 0 || tx % g.sw != 0 || tx / g.sw >= g.ow) continue;
          s += dp[(int64_t)(ty / g.sh) * g.ow + tx / g.sw] * wp[ky * g.kw + kx];
        }
      }
    }
    dx[i] = s;
  }
}

// Multiplier 1: input plane p reads output plane p. Shared memory: ppb dy planes, then ppb x K*K
// weights.
template <int K, int S>
__global__ void __launch_bounds__(kThreads) dw_backward_data_tile(ConvGeom g, int ppb, const float* __restrict__ w,
                                                                 const float* __restrict__ dy,
                                                                 float* __restrict__ dx) {
  extern __shared__ float smem[];
  const int ohw = g.oh * g.ow, hw = g.h * g.w;
  float* wsm = smem + ppb * ohw;
  const int64_t planes = (int64_t)g.n * g.c_in, p0 = (int64_t)blockIdx.x * ppb;
  for (int e = threadIdx.x; e < ppb * ohw; e += blockDim.x) {
    const int64_t p = p0 + e / ohw;
    smem[e] = p < planes ? dy[p * ohw + e % ohw] : 0.f;
  }
  for (int e = threadIdx.x; e < ppb * K * K; e += blockDim.x) {
    const int64_t p = p0 + e / (K * K);
    wsm[e] = p < planes ? w[(p % g.c_in) * (K * K) + e % (K * K)] : 0.f;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < ppb * hw; e += blockDim.x) {
    const int lp = e / hw, r = e % hw;
    const int64_t p = p0 + lp;
    if (p >= planes) break;
    const int iy = r / g.w, ix = r % g.w;
    const float* d = smem + lp * ohw;
    const float* wk = wsm + lp * (K * K);
    float s = 0.f;
#pragma unroll
    for (int ky = 0; ky < K; ky++) {
      const int ty = iy + g.ph - ky;
      if (ty < 0 || ty % S != 0 || ty / S >= g.oh) continue;
#pragma unroll
      for (int kx = 0; kx < K; kx++) {
        const int tx = ix + g.pw - kx;
        if (tx < 0 || tx % S != 0 || tx / S >= g.ow) continue;
        s += d[(ty / S) * g.ow + tx / S] * wk[ky * K + kx];
      }
    }
    dx[p * hw + r] = s;
  }
}

// ------------------------------------------------------------------ wgrad
// grid (c_out, splits). out is dw (splits == 1: +=) or the partials [splits][c_out][kh*kw] (=).
template <int K>
__global__ void __launch_bounds__(kThreads) dw_backward_weight(ConvGeom g, int splits, const float* __restrict__ x,
                                                              const float* __restrict__ dy, float* __restrict__ out) {
  __shared__ float tmp[32];
  constexpr int KK = K > 0 ? K * K : 1;
  const int oc = blockIdx.x, s = blockIdx.y, ic = oc / g.cout_g;
  const int n0 = (int)((int64_t)g.n * s / splits), n1 = (int)((int64_t)g.n * (s + 1) / splits);
  const int ohw = g.oh * g.ow, kk = g.kh * g.kw;
  float* dst = splits == 1 ? out + (int64_t)oc * kk : out + ((int64_t)s * g.c_out + oc) * kk;
  // K > 0: all K*K weights in one pass; K == 0: one pass per weight.
  const int passes = K > 0 ? 1 : kk;
  for (int pass = 0; pass < passes; pass++) {
    float acc[KK];
#pragma unroll
    for (int j = 0; j < KK; j++) acc[j] = 0.f;
    for (int img = n0; img < n1; img++) {
      const float* dp = dy + ((int64_t)img * g.c_out + oc) * ohw;
      const float* xp = x + ((int64_t)img * g.c_in + ic) * (int64_t)g.h * g.w;
      for (int r = threadIdx.x; r < ohw; r += blockDim.x) {
        const float d = dp[r];
        const int iy0 = (r / g.ow) * g.sh - g.ph, ix0 = (r % g.ow) * g.sw - g.pw;
        if constexpr (K > 0) {
#pragma unroll
          for (int ky = 0; ky < K; ky++) {
            const int iy = iy0 + ky * g.dh;
            const bool row = iy >= 0 && iy < g.h;
#pragma unroll
            for (int kx = 0; kx < K; kx++) {
              const int ix = ix0 + kx * g.dw;
              if (row && ix >= 0 && ix < g.w) acc[ky * K + kx] += d * xp[(int64_t)iy * g.w + ix];
            }
          }
        } else {
          const int iy = iy0 + (pass / g.kw) * g.dh, ix = ix0 + (pass % g.kw) * g.dw;
          if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) acc[0] += d * xp[(int64_t)iy * g.w + ix];
        }
      }
    }
#pragma unroll
    for (int j = 0; j < KK; j++) {
      const float v = block_sum(acc[j], tmp);
      if (threadIdx.x == 0) {
        const int widx = K > 0 ? j : pass;
        if (splits == 1) dst[widx] += v;
        else dst[widx] = v;
      }
    }
  }
}

// ------------------------------------------------------------------ launchers
// The K x K, stride S specialisations apply; K = 0 when none does.
static int special_k(const ConvGeom& g) {
  const bool ok = g.kh == g.kw && (g.kh == 3 || g.kh == 5) && g.sh == g.sw && (g.sh == 1 || g.sh == 2) &&
                  g.dh == 1 && g.dw == 1;
  return ok ? g.kh : 0;
}

constexpr int kMaxSmemFloats = 12 * 1024;  // 48 KB: no opt-in needed

// Planes per block: about 1024 outputs a block, at most 64 planes, within the shared memory.
static int planes_per_block(int outputs_per_plane, int smem_per_plane) {
  int ppb = 1024 / outputs_per_plane;
  ppb = ppb < 1 ? 1 : ppb > 64 ? 64 : ppb;
  const int cap = kMaxSmemFloats / smem_per_plane;
  return ppb < cap ? ppb : cap;
}

template <int K, int S>
static void forward_tile(const ConvGeom& g, int tile_h, int tile_w, const float* x, const float* w,
                         const float* bias, int act, float* y) {
  const int per_plane = tile_h * tile_w + K * K, ppb = planes_per_block(g.oh * g.ow, per_plane);
  const int64_t blocks = ((int64_t)g.n * g.c_out + ppb - 1) / ppb;
  dw_forward_tile<K, S><<<(unsigned)blocks, kThreads, (size_t)ppb * per_plane * sizeof(float), stream()>>>(
      g, ppb, tile_h, tile_w, x, w, bias, act, y);
  launched("dw_forward_tile");
}

template <int K, int S>
static void backward_data_tile(const ConvGeom& g, const float* w, const float* dy, float* dx) {
  const int per_plane = g.oh * g.ow + K * K, ppb = planes_per_block(g.h * g.w, per_plane);
  const int64_t blocks = ((int64_t)g.n * g.c_in + ppb - 1) / ppb;
  dw_backward_data_tile<K, S><<<(unsigned)blocks, kThreads, (size_t)ppb * per_plane * sizeof(float), stream()>>>(
      g, ppb, w, dy, dx);
  launched("dw_backward_data_tile");
}

// Calls fn<K, S>(args...) for the specialisations (K in 3, 5; S in 1, 2).
#define SEPCONV_DW_DISPATCH(fn, K, S, ...)          \
  do {                                              \
    if (K == 3 && S == 1) fn<3, 1>(__VA_ARGS__);    \
    else if (K == 3 && S == 2) fn<3, 2>(__VA_ARGS__); \
    else if (K == 5 && S == 1) fn<5, 1>(__VA_ARGS__); \
    else fn<5, 2>(__VA_ARGS__);                     \
  } while (0)

void depthwise_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, int act,
                       float* y) {
  SEPCONV_DEVICE_PTRS("conv2d_forward", x, w, bias, y);
  const int k = special_k(g);
  const int tile_h = (g.oh - 1) * g.sh + g.kh, tile_w = (g.ow - 1) * g.sw + g.kw;
  if (k && (int64_t)tile_h * tile_w + k * k <= kMaxSmemFloats) {
    SEPCONV_DW_DISPATCH(forward_tile, k, g.sh, g, tile_h, tile_w, x, w, bias, act, y);
    return;
  }
  const int64_t total = (int64_t)g.n * g.c_out * g.out_plane();
  dw_forward_generic<<<grid_for(total), kThreads, 0, stream()>>>(g, x, w, bias, act, y);
  launched("dw_forward_generic");
}

void depthwise_backward(const ConvGeom& g, int mask, const float* x, const float* w, const float* dy,
                        float* dx, float* dw, float* dbias) {
  const char* op = "conv2d_backward";
  SEPCONV_DEVICE_PTRS(op, dy);
  if (mask & SEPCONV_GRAD_INPUT) {
    SEPCONV_DEVICE_PTRS(op, w, dx);
    const int k = special_k(g);
    if (k && g.cout_g == 1 && g.out_plane() + k * k <= kMaxSmemFloats) {
      SEPCONV_DW_DISPATCH(backward_data_tile, k, g.sh, g, w, dy, dx);
    } else {
      const int64_t total = (int64_t)g.n * g.c_in * g.in_plane();
      dw_backward_data_generic<<<grid_for(total), kThreads, 0, stream()>>>(g, w, dy, dx);
      launched("dw_backward_data_generic");
    }
  }
  if (mask & SEPCONV_GRAD_WEIGHT) {
    SEPCONV_DEVICE_PTRS(op, x, dw);
    const int splits = splits_for(g.c_out, g.n), kk = g.kh * g.kw;
    const int k = g.kh == g.kw && (g.kh == 3 || g.kh == 5) ? g.kh : 0;
    Scratch<float> part(splits > 1 ? (size_t)splits * g.c_out * kk : 0);
    float* out = splits > 1 ? part.get() : dw;
    const dim3 grid(g.c_out, splits);
    if (k == 3) dw_backward_weight<3><<<grid, kThreads, 0, stream()>>>(g, splits, x, dy, out);
    else if (k == 5) dw_backward_weight<5><<<grid, kThreads, 0, stream()>>>(g, splits, x, dy, out);
    else dw_backward_weight<0><<<grid, kThreads, 0, stream()>>>(g, splits, x, dy, out);
    launched("dw_backward_weight");
    if (splits > 1) add_partials((int64_t)g.c_out * kk, splits, part.get(), dw);
  }
  if (mask & SEPCONV_GRAD_BIAS) {
    SEPCONV_DEVICE_PTRS(op, dbias);
    bias_backward(g.n, g.c_out, g.out_plane(), dy, dbias);
  }
}

}  // namespace gpu
}  // namespace sepconv
