// Convolution families behind sepconv_conv2d_forward/backward. The entry point validates the
// descriptor into a ConvGeom once and dispatches (dispatch.h); the CPU and CUDA slots pick the
// family from the geometry (api_conv.cpp):
//   depthwise (kernels/depthwise.cpp, per ISA)  when groups == c_in and c_in/groups == 1
//   direct    (kernels/conv_direct.cpp, AVX-512) dense and grouped 3x3, pad 1, stride 1 or 2,
//                                               16 | c_in/groups and c_out/groups, each
//                                               direction when its output channels per group
//                                               are a multiple of 64; GEMM does the rest
//   pointwise (kernels/conv_pointwise.cpp, AVX2+) 1x1, stride 1, no padding, any groups
//   gemm      (conv_gemm.cpp)                   dense, grouped and pointwise otherwise
//   im2col    (conv_gemm.cpp)                   the im2col + sgemm baseline (ALGO_IM2COL)
//   dwpw      (kernels/dwpw.cpp, per ISA)       the fused block of sepconv_dwpw_forward: 1x1
//                                               expansion, depthwise, 1x1 projection per tile
//   reference (reference/conv_ref.cpp)          naive, double accumulation (ALGO_REFERENCE)
// Contract for every family: y and dx are overwritten; dw and dbias accumulate (+=). The forward
// applies `act` (SEPCONV_ACT_*) to conv + bias as each family writes its output tile (its
// epilogue: the GEMM path after each unit's GEMM, the depthwise and direct kernels in their
// stores), so a BN-folded conv + ReLU / ReLU6 is one pass; NONE leaves the output as it was.
#pragma once
#include "common.h"

#define SEPCONV_DEPTHWISE_KERNELS(ns)                                                        \
  namespace sepconv {                                                                        \
  namespace ns {                                                                             \
  void depthwise_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, \
                         int act, float* y);                                                 \
  void depthwise_backward_data(const ConvGeom& g, const float* w, const float* dy, float* dx); \
  void depthwise_backward_weight(const ConvGeom& g, const float* x, const float* dy,          \
                                 float* dw);                                                 \
  }                                                                                          \
  }
SEPCONV_DECLARE_FOR_EACH_ISA(SEPCONV_DEPTHWISE_KERNELS)

// Depthwise on small planes, channel-vectorised (kernels/depthwise_small.cpp, AVX-512): false
// where the shape or the ISA is not one it handles, and the plane kernels above run.
#define SEPCONV_DEPTHWISE_SMALL_KERNELS(ns)                                                        \
  namespace sepconv {                                                                              \
  namespace ns {                                                                                   \
  bool depthwise_small_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, \
                               int act, float* y);                                                 \
  bool depthwise_small_backward_data(const ConvGeom& g, const float* w, const float* dy, float* dx); \
  bool depthwise_small_backward_weight(const ConvGeom& g, const float* x, const float* dy,          \
                                       float* dw);                                                 \
  }                                                                                                \
  }
SEPCONV_DECLARE_FOR_EACH_ISA(SEPCONV_DEPTHWISE_SMALL_KERNELS)

// The direct convolution: false / 0 where the shape or the ISA is not one it handles. The
// backward returns the gradients of `mask` it computed (SEPCONV_GRAD_INPUT, _WEIGHT; never
// _BIAS), so that the caller runs the rest on the GEMM path.
#define SEPCONV_DIRECT_KERNELS(ns)                                                             \
  namespace sepconv {                                                                          \
  namespace ns {                                                                               \
  bool direct_conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, \
                           int act, float* y);                                                 \
  int direct_conv_backward(const ConvGeom& g, int mask, const float* x, const float* w,        \
                           const float* dy, float* dx, float* dw);                             \
  }                                                                                            \
  }
SEPCONV_DECLARE_FOR_EACH_ISA(SEPCONV_DIRECT_KERNELS)

// Pointwise (1x1, stride 1, pad 0) convolutions straight on NCHW (kernels/conv_pointwise.cpp,
// AVX2 and AVX-512): the same contract as the direct kernels above.
#define SEPCONV_POINTWISE_KERNELS(ns)                                                        \
  namespace sepconv {                                                                        \
  namespace ns {                                                                             \
  bool pointwise_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, \
                         int act, float* y);                                                 \
  int pointwise_backward(const ConvGeom& g, int mask, const float* x, const float* w,        \
                         const float* dy, float* dx, float* dw);                             \
  }                                                                                          \
  }
SEPCONV_DECLARE_FOR_EACH_ISA(SEPCONV_POINTWISE_KERNELS)

namespace sepconv {
// The fused depthwise-separable block (sepconv_dwpw_forward), validated into its three
// convolutions (ex is meaningful only when expand), and its pointers.
struct DwpwGeom {
  bool expand;
  ConvGeom ex, dw, pw;  // c_in -> c_expand 1x1; the depthwise; c_expand*mult -> c_out 1x1
  int act_ex, act_dw, act_pw;
};
struct DwpwData {
  const float *x, *w_ex, *b_ex, *w_dw, *b_dw, *w_pw, *b_pw, *residual;
  float* y;
};
}  // namespace sepconv

// kernels/dwpw.cpp: per tile of output rows (or stage by stage where the batch is too small
// to fill the threads with tiles).
#define SEPCONV_DWPW_KERNELS(ns)                                \
  namespace sepconv {                                           \
  namespace ns {                                                \
  void dwpw_forward(const DwpwGeom& g, const DwpwData& a);      \
  }                                                             \
  }
SEPCONV_DECLARE_FOR_EACH_ISA(SEPCONV_DWPW_KERNELS)

namespace sepconv {
void ref_dwpw_forward(const DwpwGeom& g, const DwpwData& a);
void gemm_conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                       int act, float* y);
void gemm_conv_backward(const ConvGeom& g, int mask, const float* x, const float* w,
                        const float* dy, float* dx, float* dw, float* dbias);
void im2col_conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                         int act, float* y);
void im2col_conv_backward(const ConvGeom& g, int mask, const float* x, const float* w,
                          const float* dy, float* dx, float* dw, float* dbias);
void ref_conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                        int act, float* y);
void ref_conv2d_backward(const ConvGeom& g, int mask, const float* x, const float* w,
                         const float* dy, float* dx, float* dw, float* dbias);
// dbias[c] += sum over n and the plane of dy[n][c][plane]: the fast kernel every CPU family
// shares (conv_gemm.cpp) and its reference (reference/conv_ref.cpp).
void bias_backward(int n, int c, int64_t plane, const float* dy, float* dbias);
void ref_bias_backward(int n, int c, int64_t plane, const float* dy, float* dbias);
}  // namespace sepconv
