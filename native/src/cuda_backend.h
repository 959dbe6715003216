// The CUDA backend as the C++ entry points see it: one launcher per op and direction, in
// namespace sepconv::gpu, implemented in cuda/*.cu. They fill the cuda slots of the dispatch
// tables (dispatch.h): entry points validate their arguments once, the same checks for every
// device, then dispatch. Launchers take device pointers, queue work on the library's stream and
// return at once; they fail with SEPCONV_EUNSUPPORTED where no usable device exists and
// SEPCONV_EDEVICE on a CUDA error. Contract as on the CPU: outputs and input gradients are
// overwritten; parameter gradients (dw, dbias, dgamma, dbeta) accumulate.
//
// In a build without CUDA, SEPCONV_CUDA_SLOT(...) is NULL (the tables' cuda slots are empty and
// dispatch answers SEPCONV_EUNSUPPORTED), so nothing here needs a definition.
#pragma once
#include "conv.h"
#include "ops.h"
#include "optim.h"

#ifdef SEPCONV_HAS_CUDA
#define SEPCONV_CUDA_SLOT(...) __VA_ARGS__
#else
#define SEPCONV_CUDA_SLOT(...) nullptr
#endif

namespace sepconv {
namespace gpu {

// cuda/depthwise.cu (groups == c_in) and cuda/conv_gemm.cu (every other convolution)
void depthwise_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                       int act, float* y);
void depthwise_backward(const ConvGeom& g, int mask, const float* x, const float* w,
                        const float* dy, float* dx, float* dw, float* dbias);
void gemm_conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                       int act, float* y);
void gemm_conv_backward(const ConvGeom& g, int mask, const float* x, const float* w,
                        const float* dy, float* dx, float* dw, float* dbias);
// cuda/dwpw.cu: the fused block as its three convolutions (not yet fused per tile)
void dwpw_forward(const DwpwGeom& g, const DwpwData& a);
void linear_forward(int n, int in, int out, const float* x, const float* w, const float* bias,
                    float* y);
void linear_backward(int n, int in, int out, int mask, const float* x, const float* w,
                     const float* dy, float* dx, float* dw, float* dbias);

// cuda/batchnorm.cu
void bn_forward_training(int n, int c, int hw, const float* x, const float* gamma,
                         const float* beta, float eps, float momentum, float* running_mean,
                         float* running_var, float* save_mean, float* save_invstd, int act,
                         float* y);
void bn_forward_inference(int n, int c, int hw, const float* x, const float* gamma,
                          const float* beta, const float* running_mean, const float* running_var,
                          float eps, int act, float* y);
void bn_backward(int n, int c, int hw, int mask, const float* x, const float* y, const float* dy,
                 const float* gamma, const float* save_mean, const float* save_invstd, int act,
                 float* dx, float* dgamma, float* dbeta);
void bn_fold(int c, int64_t per_channel, float* w, float* bias, const float* gamma,
             const float* beta, const float* mean, const float* var, float eps);

// cuda/ops.cu
void activation_forward(int act, int64_t count, const float* x, float* y);
void activation_backward(int act, int64_t count, const float* y, const float* dy, float* dx);
void add(int64_t count, const float* a, const float* b, float* y);
void dropout_forward(int64_t count, float p, uint64_t seed, const float* x, float* mask, float* y);
void dropout_backward(int64_t count, const float* mask, const float* dy, float* dx);
void scale(int64_t count, float alpha, const float* x, float* y);
void sum_squares(int64_t count, const float* x, double* result);  // result: host; synchronises
void avgpool_forward(const PoolGeom& g, const float* x, float* y);
void avgpool_backward(const PoolGeom& g, const float* dy, float* dx);
void maxpool_forward(const PoolGeom& g, const float* x, float* y, int32_t* argmax);
void maxpool_backward(const PoolGeom& g, const float* dy, const int32_t* argmax, float* dx);
void global_avgpool_forward(int n, int c, int hw, const float* x, float* y);
void global_avgpool_backward(int n, int c, int hw, const float* dy, float* dx);
void softmax_xent_forward(int n, int classes, const float* logits, const int32_t* labels,
                          float smoothing, float* probs, float* loss);
void softmax_xent_backward(int n, int classes, const float* probs, const int32_t* labels,
                           float smoothing, float dloss, float* dlogits);
void argmax_rows(int n, int classes, const float* x, int32_t* idx);

// cuda/optim.cu: the float scalars come from sgd_scalars / adam_scalars, as on the CPU.
void sgd_update(int64_t count, float* p, const float* g, float* buf, const SgdParams& h);
void adam_update(int64_t count, float* p, const float* g, float* m, float* v,
                 const AdamParams& h);

}  // namespace gpu
}  // namespace sepconv
