// Dense, grouped and pointwise (1x1) convolution, and linear, on CUDA as implicit GEMM: the
// im2col matrix is never built; each tile load computes the input address of its element.
// Layout NCHW, weights [c_out][c_in/groups][kh][kw]; per group g, with khw = kh*kw:
//   fprop  Y[oc][p]   = sum_k W[oc][k]        * X(k = (ic, ky, kx), p = (n, oy, ox))
//          M = c_out/g, N = n*oh*ow,  K = c_in/g*khw            y  = act(. + bias)
//   dgrad  DX[ic][p]  = sum_k W[(oc,ky,kx)][ic] * DY(k = (oc, ky, kx), p = (n, iy, ix))
//          M = c_in/g,  N = n*h*w,    K = c_out/g*khw           dx =
//   wgrad  DW[oc][q]  = sum_k DY[oc][k]       * X(k = (n, oy, ox), q = (ic, ky, kx))
//          M = c_out/g, N = c_in/g*khw, K = n*oh*ow (split-K)   dw +=
// Linear is the 1x1 case with h = w = 1 (y[n][out] = x[n][in] . w[out][in]^T + bias).
// Contract: y and dx are overwritten; dw and dbias accumulate.
//
// Live version 1: 64x64 output tiles, k-steps of 16, 256 threads, the next k-tile loaded into
// registers while the current one is multiplied from shared memory.
//   FP32 (default): each thread owns a 4x4 block of C (register blocking), float4 reads of
//                   shared memory, exact fp32 FMA.
//   TF32 (sepconv_cuda_set_tf32(1)): tiles are rounded to tf32 (cvt.rna) as they are stored
//                   to shared memory; 8 warps of 32x16 each issue mma.sync.m16n8k8 tf32 with
//                   fp32 accumulation. Rows padded by 8 floats: the fragment reads of a warp
//                   hit 32 distinct banks.
// wgrad splits K so that the grid fills the chip: with one split the block adds into dw itself
// (each element of dw has one owner, no atomics); with several, partials go to scratch and a
// fixed-order pass adds them, so results are deterministic.
// Not yet: cp.async/TMA multi-stage pipelining, wgmma (sm_90a), vectorised global loads for
// the 1x1 case, a tile shape for very small groups (a 64x64 tile is mostly empty there).
#include <cstdint>

#include "common.cuh"

namespace sepconv {
namespace gpu {

namespace {
enum Mode { FPROP = 0, DGRAD = 1, WGRAD = 2 };
constexpr int BM = 64, BN = 64, BK = 16, PAD = 8, THREADS = 256;

struct GemmArgs {
  ConvGeom g;
  const float* a;  // fprop, dgrad: w; wgrad: dy
  const float* b;  // fprop, wgrad: x; dgrad: dy
  const float* bias;
  int act;     // fprop: the activation of y = act(conv + bias) (SEPCONV_ACT_*)
  float* out;  // y, dx, dw, or the wgrad partials [splits][c_out][N]
  int M, N, K, khw;
  int splits, k_per_split;
};

// A(m, k) of group grp; m < M and k < K are checked by the caller.
template <int MODE>
__device__ __forceinline__ float load_a(const GemmArgs& p, int grp, int m, int k) {
  const ConvGeom& g = p.g;
  if (MODE == FPROP) return p.a[((int64_t)grp * g.cout_g + m) * p.K + k];
  if (MODE == DGRAD) {
    const int ocl = k / p.khw, r = k % p.khw;
    return p.a[(((int64_t)grp * g.cout_g + ocl) * g.cin_g + m) * p.khw + r];
  }
  const int ox = k % g.ow, t = k / g.ow, oy = t % g.oh, img = t / g.oh;  // WGRAD: A = dy
  return p.a[(((int64_t)img * g.c_out + grp * g.cout_g + m) * g.oh + oy) * g.ow + ox];
}

// B(k, n) of group grp; k < K and n < N are checked by the caller.
template <int MODE>
__device__ __forceinline__ float load_b(const GemmArgs& p, int grp, int k, int n) {
  const ConvGeom& g = p.g;
  if (MODE == DGRAD) {
    const int ocl = k / p.khw, r = k % p.khw, ky = r / g.kw, kx = r % g.kw;
    const int ix = n % g.w, t = n / g.w, iy = t % g.h, img = t / g.h;
    const int ty = iy + g.ph - ky * g.dh, tx = ix + g.pw - kx * g.dw;
    if (ty < 0 || tx < 0 || ty % g.sh != 0 || tx % g.sw != 0) return 0.f;
    const int oy = ty / g.sh, ox = tx / g.sw;
    if (oy >= g.oh || ox >= g.ow) return 0.f;
    return p.b[(((int64_t)img * g.c_out + grp * g.cout_g + ocl) * g.oh + oy) * g.ow + ox];
  }
  // FPROP: k = (ic, ky, kx), n = (img, oy, ox); WGRAD: k = (img, oy, ox), n = (ic, ky, kx)
  const int kk = MODE == FPROP ? k : n, pp = MODE == FPROP ? n : k;
  const int icg = kk / p.khw, r = kk % p.khw, ky = r / g.kw, kx = r % g.kw;
  const int ox = pp % g.ow, t = pp / g.ow, oy = t % g.oh, img = t / g.oh;
  const int iy = oy * g.sh - g.ph + ky * g.dh, ix = ox * g.sw - g.pw + kx * g.dw;
  if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) return 0.f;
  return p.b[(((int64_t)img * g.c_in + grp * g.cin_g + icg) * g.h + iy) * g.w + ix];
}

// C(m, n) of group grp and split s; m < M and n < N are checked by the caller.
template <int MODE>
__device__ __forceinline__ void store_c(const GemmArgs& p, int grp, int s, int m, int n, float v) {
  const ConvGeom& g = p.g;
  if (MODE == FPROP) {
    const int oc = grp * g.cout_g + m;
    const int ox = n % g.ow, t = n / g.ow, oy = t % g.oh, img = t / g.oh;
    const float b = p.bias ? p.bias[oc] : 0.f;
    p.out[(((int64_t)img * g.c_out + oc) * g.oh + oy) * g.ow + ox] = apply_act(p.act, v + b);
  } else if (MODE == DGRAD) {
    const int ix = n % g.w, t = n / g.w, iy = t % g.h, img = t / g.h;
    p.out[(((int64_t)img * g.c_in + grp * g.cin_g + m) * g.h + iy) * g.w + ix] = v;
  } else {
    const int64_t i = ((int64_t)grp * g.cout_g + m) * p.N + n;
    if (p.splits == 1) p.out[i] += v;
    else p.out[(int64_t)s * g.c_out * p.N + i] = v;
  }
}

__device__ __forceinline__ float to_tf32(float v) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
  return __uint_as_float(r);
}

__device__ __forceinline__ void mma_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
}  // namespace

// grid (ceil(N/BN), ceil(M/BM), groups*splits)
template <int MODE, bool TF32>
__global__ void __launch_bounds__(THREADS) conv_gemm_kernel(GemmArgs p) {
  __shared__ __align__(16) float As[BK][BM + PAD];  // A tile, k-major: As[k][m]
  __shared__ __align__(16) float Bs[BK][BN + PAD];  // B tile: Bs[k][n]
  const int t = threadIdx.x;
  const int n0 = blockIdx.x * BN, m0 = blockIdx.y * BM;
  const int grp = blockIdx.z / p.splits, split = blockIdx.z % p.splits;
  const int k_begin = split * p.k_per_split, k_end = min(p.K, k_begin + p.k_per_split);

  float ra[4], rb[4];
  auto load = [&](int k0) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int e = t + i * THREADS;
      const int am = e / BK, ak = e % BK;
      ra[i] = (m0 + am < p.M && k0 + ak < k_end) ? load_a<MODE>(p, grp, m0 + am, k0 + ak) : 0.f;
      // wgrad walks k along pixels, so neighbouring threads take neighbouring k there
      const int bk = MODE == WGRAD ? e % BK : e / BN, bn = MODE == WGRAD ? e / BK : e % BN;
      rb[i] = (k0 + bk < k_end && n0 + bn < p.N) ? load_b<MODE>(p, grp, k0 + bk, n0 + bn) : 0.f;
    }
  };
  auto stash = [&]() {
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int e = t + i * THREADS;
      const int bk = MODE == WGRAD ? e % BK : e / BN, bn = MODE == WGRAD ? e / BK : e % BN;
      As[e % BK][e / BK] = TF32 ? to_tf32(ra[i]) : ra[i];
      Bs[bk][bn] = TF32 ? to_tf32(rb[i]) : rb[i];
    }
  };

  float acc[16];
#pragma unroll
  for (int i = 0; i < 16; i++) acc[i] = 0.f;
  const int warp = t >> 5, lane = t & 31, gid = lane >> 2, tig = lane & 3;
  const int wm = (warp >> 2) * 32, wn = (warp & 3) * 16;  // TF32: this warp's 32x16 of the tile
  const int ty = t >> 4, tx = t & 15;                     // FP32: this thread's 4x4

  if (k_begin < k_end) {
    load(k_begin);
    stash();
    __syncthreads();
  }
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    const bool more = k0 + BK < k_end;
    if (more) load(k0 + BK);
    if (TF32) {
#pragma unroll
      for (int ks = 0; ks < BK; ks += 8) {
        uint32_t af[2][4], bf[2][2];
#pragma unroll
        for (int mt = 0; mt < 2; mt++) {
          const int r = wm + mt * 16 + gid;
          af[mt][0] = __float_as_uint(As[ks + tig][r]);
          af[mt][1] = __float_as_uint(As[ks + tig][r + 8]);
          af[mt][2] = __float_as_uint(As[ks + tig + 4][r]);
          af[mt][3] = __float_as_uint(As[ks + tig + 4][r + 8]);
        }
#pragma unroll
        for (int nt = 0; nt < 2; nt++) {
          const int c = wn + nt * 8 + gid;
          bf[nt][0] = __float_as_uint(Bs[ks + tig][c]);
          bf[nt][1] = __float_as_uint(Bs[ks + tig + 4][c]);
        }
#pragma unroll
        for (int mt = 0; mt < 2; mt++)
#pragma unroll
          for (int nt = 0; nt < 2; nt++) mma_tf32(*reinterpret_cast<float(*)[4]>(&acc[(mt * 2 + nt) * 4]), af[mt], bf[nt]);
      }
    } else {
#pragma unroll
      for (int kk = 0; kk < BK; kk++) {
        const float4 a4 = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
        const float4 b4 = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
        const float av[4] = {a4.x, a4.y, a4.z, a4.w}, bv[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
          for (int j = 0; j < 4; j++) acc[i * 4 + j] = fmaf(av[i], bv[j], acc[i * 4 + j]);
      }
    }
    __syncthreads();
    if (more) {
      stash();
      __syncthreads();
    }
  }

  // An empty split (k_begin >= k_end) still writes its zero partial.
  if (TF32) {
#pragma unroll
    for (int mt = 0; mt < 2; mt++)
#pragma unroll
      for (int nt = 0; nt < 2; nt++)
#pragma unroll
        for (int r = 0; r < 4; r++) {
          const int m = m0 + wm + mt * 16 + gid + (r >= 2 ? 8 : 0), n = n0 + wn + nt * 8 + 2 * tig + (r & 1);
          if (m < p.M && n < p.N) store_c<MODE>(p, grp, split, m, n, acc[(mt * 2 + nt) * 4 + r]);
        }
  } else {
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const int m = m0 + ty * 4 + i, n = n0 + tx * 4 + j;
        if (m < p.M && n < p.N) store_c<MODE>(p, grp, split, m, n, acc[i * 4 + j]);
      }
  }
}

// ------------------------------------------------------------------ launchers
template <int MODE>
static void launch(GemmArgs p, const char* name) {
  const int64_t gz = (int64_t)p.g.groups * p.splits, gx = ((int64_t)p.N + BN - 1) / BN;
  const int64_t gy = ((int64_t)p.M + BM - 1) / BM;
  if (gz > 65535 || gy > 65535)
    fail(SEPCONV_EUNSUPPORTED, "%s: groups*splits = %lld or c/groups = %d is too large for one launch", name,
         (long long)gz, p.M);
  const dim3 grid((unsigned)gx, (unsigned)gy, (unsigned)gz);
  if (tf32_enabled()) conv_gemm_kernel<MODE, true><<<grid, THREADS, 0, stream()>>>(p);
  else conv_gemm_kernel<MODE, false><<<grid, THREADS, 0, stream()>>>(p);
  launched(name);
}

static GemmArgs args(const ConvGeom& g, const float* a, const float* b, float* out, int M, int N, int K) {
  GemmArgs p{};
  p.g = g, p.a = a, p.b = b, p.out = out, p.M = M, p.N = N, p.K = K, p.khw = g.kh * g.kw;
  p.splits = 1, p.k_per_split = K;
  return p;
}

static void forward(const ConvGeom& g, const float* x, const float* w, const float* bias, int act, float* y) {
  GemmArgs p = args(g, w, x, y, g.cout_g, (int)(g.n * g.out_plane()), (int)g.weights_per_out());
  p.bias = bias;
  p.act = act;
  launch<FPROP>(p, "conv_gemm_kernel<fprop>");
}

static void backward(const ConvGeom& g, int mask, const float* x, const float* w, const float* dy, float* dx,
                     float* dw, float* dbias) {
  if (mask & SEPCONV_GRAD_INPUT)
    launch<DGRAD>(args(g, w, dy, dx, g.cin_g, (int)(g.n * g.in_plane()), g.cout_g * g.kh * g.kw),
                  "conv_gemm_kernel<dgrad>");
  if (mask & SEPCONV_GRAD_WEIGHT) {
    GemmArgs p = args(g, dy, x, dw, g.cout_g, (int)g.weights_per_out(), (int)(g.n * g.out_plane()));
    const int64_t tiles = ((int64_t)p.N + BN - 1) / BN * ((p.M + BM - 1) / BM) * g.groups;
    const int64_t want = ((int64_t)sm_count() * 2 + tiles - 1) / tiles, most = ((int64_t)p.K + BK * 16 - 1) / (BK * 16);
    int splits = (int)(want < most ? want : most);
    if (splits < 1) splits = 1;
    p.k_per_split = (int)(((int64_t)p.K + splits - 1) / splits + BK - 1) / BK * BK;
    p.splits = (p.K + p.k_per_split - 1) / p.k_per_split;
    Scratch<float> part(p.splits > 1 ? (size_t)p.splits * g.c_out * p.N : 0);
    if (p.splits > 1) p.out = part.get();
    launch<WGRAD>(p, "conv_gemm_kernel<wgrad>");
    if (p.splits > 1) add_partials((int64_t)g.c_out * p.N, p.splits, part.get(), dw);
  }
  if (mask & SEPCONV_GRAD_BIAS) bias_backward(g.n, g.c_out, g.out_plane(), dy, dbias);
}

// Linear as the 1x1 convolution of n images of in_features channels over a 1x1 plane.
static ConvGeom linear_geom(int n, int in, int out) {
  ConvGeom g{};
  g.n = n, g.c_in = in, g.h = 1, g.w = 1, g.c_out = out, g.kh = 1, g.kw = 1;
  g.sh = g.sw = g.dh = g.dw = 1, g.groups = 1, g.oh = 1, g.ow = 1, g.cin_g = in, g.cout_g = out;
  return g;
}

void gemm_conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, int act,
                       float* y) {
  SEPCONV_DEVICE_PTRS("conv2d_forward", x, w, bias, y);
  forward(g, x, w, bias, act, y);
}

void gemm_conv_backward(const ConvGeom& g, int mask, const float* x, const float* w, const float* dy, float* dx,
                        float* dw, float* dbias) {
  const char* op = "conv2d_backward";
  SEPCONV_DEVICE_PTRS(op, dy);
  if (mask & SEPCONV_GRAD_INPUT) SEPCONV_DEVICE_PTRS(op, w, dx);
  if (mask & SEPCONV_GRAD_WEIGHT) SEPCONV_DEVICE_PTRS(op, x, dw);
  if (mask & SEPCONV_GRAD_BIAS) SEPCONV_DEVICE_PTRS(op, dbias);
  backward(g, mask, x, w, dy, dx, dw, dbias);
}

void linear_forward(int n, int in, int out, const float* x, const float* w, const float* bias, float* y) {
  SEPCONV_DEVICE_PTRS("linear_forward", x, w, bias, y);
  forward(linear_geom(n, in, out), x, w, bias, SEPCONV_ACT_NONE, y);
}

void linear_backward(int n, int in, int out, int mask, const float* x, const float* w, const float* dy, float* dx,
                     float* dw, float* dbias) {
  const char* op = "linear_backward";
  SEPCONV_DEVICE_PTRS(op, dy);
  if (mask & SEPCONV_GRAD_INPUT) SEPCONV_DEVICE_PTRS(op, w, dx);
  if (mask & SEPCONV_GRAD_WEIGHT) SEPCONV_DEVICE_PTRS(op, x, dw);
  if (mask & SEPCONV_GRAD_BIAS) SEPCONV_DEVICE_PTRS(op, dbias);
  backward(linear_geom(n, in, out), mask, x, w, dy, dx, dw, dbias);
}

}  // namespace gpu
}  // namespace sepconv
