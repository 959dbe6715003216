// The fused depthwise-separable block of sepconv_dwpw_forward on CUDA (sepconv.h has the
// formula). Live version 1 is not fused: the block runs as its three convolutions, each with
// its bias and activation in its own epilogue (conv_gemm.cu, depthwise.cu), through scratch
// from the caching allocator, then the residual add (ops.cu). Fusing per tile of rows in
// shared memory, as the CPU kernel does in L2, is the next version. Compiled, never run: no
// GPU has been lent to this project yet.
#include "common.cuh"

namespace sepconv {
namespace gpu {

void dwpw_forward(const DwpwGeom& g, const DwpwData& a) {
  SEPCONV_DEVICE_PTRS("dwpw_forward", a.x, a.w_ex, a.b_ex, a.w_dw, a.b_dw, a.w_pw, a.b_pw, a.residual, a.y);
  Scratch<float> e(g.expand ? (size_t)g.ex.n * g.ex.c_out * g.ex.out_plane() : 0);
  Scratch<float> h((size_t)g.dw.n * g.dw.c_out * g.dw.out_plane());
  if (g.expand) gpu::gemm_conv_forward(g.ex, a.x, a.w_ex, a.b_ex, g.act_ex, e.get());
  gpu::depthwise_forward(g.dw, g.expand ? e.get() : a.x, a.w_dw, a.b_dw, g.act_dw, h.get());
  gpu::gemm_conv_forward(g.pw, h.get(), a.w_pw, a.b_pw, g.act_pw, a.y);
  if (a.residual) gpu::add((int64_t)g.pw.n * g.pw.c_out * g.pw.out_plane(), a.y, a.residual, a.y);
}

}  // namespace gpu
}  // namespace sepconv
