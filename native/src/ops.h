// Non-convolution ops behind sepconv.h: batch normalisation (optionally fused with ReLU /
// ReLU6) and its fold into a conv, the elementwise ops (activations, the residual add, dropout,
// scale, the sum of squares), pooling, linear, softmax cross-entropy and the row argmax.
//   entry points + validation   api_ops.cpp
//   fast kernels (per ISA)      kernels/ops_kernels.cpp
//   references (double)         reference/ops_ref.cpp  (SEPCONV_ALGO_REFERENCE)
// Arguments reaching these functions are already validated: shapes >= 1, element counts fit
// int64, required pointers non-NULL, argmax indices and labels in range.
// Contract: outputs and input gradients are overwritten; dgamma/dbeta/dw/dbias accumulate.
// sum_squares' result is host memory on every device (one double, written when the sum is done).
#pragma once
#include "common.h"

namespace sepconv {

// Pooling geometry, validated once in the entry point.
struct PoolGeom {
  int n, c, h, w, kh, kw, sh, sw, ph, pw, include_pad;
  int oh, ow;
  int64_t planes() const { return (int64_t)n * c; }
  int64_t in_plane() const { return (int64_t)h * w; }
  int64_t out_plane() const { return (int64_t)oh * ow; }
};

// ---- references (reference/ops_ref.cpp): plain loops, double accumulation ----
void ref_bn_forward_training(int n, int c, int hw, const float* x, const float* gamma,
                             const float* beta, float eps, float momentum, float* running_mean,
                             float* running_var, float* save_mean, float* save_invstd, int act,
                             float* y);
void ref_bn_forward_inference(int n, int c, int hw, const float* x, const float* gamma,
                              const float* beta, const float* running_mean,
                              const float* running_var, float eps, int act, float* y);
void ref_bn_backward(int n, int c, int hw, int mask, const float* x, const float* y,
                     const float* dy, const float* gamma, const float* save_mean,
                     const float* save_invstd, int act, float* dx, float* dgamma, float* dbeta);
void ref_bn_fold(int c, int64_t per_channel, float* w, float* bias, const float* gamma,
                 const float* beta, const float* mean, const float* var, float eps);
void ref_activation_forward(int act, int64_t count, const float* x, float* y);
void ref_activation_backward(int act, int64_t count, const float* y, const float* dy, float* dx);
void ref_add(int64_t count, const float* a, const float* b, float* y);
void ref_dropout_forward(int64_t count, float p, uint64_t seed, const float* x, float* mask,
                         float* y);
void ref_dropout_backward(int64_t count, const float* mask, const float* dy, float* dx);
void ref_scale(int64_t count, float alpha, const float* x, float* y);
void ref_sum_squares(int64_t count, const float* x, double* result);
void ref_avgpool_forward(const PoolGeom& g, const float* x, float* y);
void ref_avgpool_backward(const PoolGeom& g, const float* dy, float* dx);
void ref_maxpool_forward(const PoolGeom& g, const float* x, float* y, int32_t* argmax);
void ref_maxpool_backward(const PoolGeom& g, const float* dy, const int32_t* argmax, float* dx);
void ref_global_avgpool_forward(int n, int c, int hw, const float* x, float* y);
void ref_global_avgpool_backward(int n, int c, int hw, const float* dy, float* dx);
void ref_linear_forward(int n, int in, int out, const float* x, const float* w, const float* bias,
                        float* y);
void ref_linear_backward(int n, int in, int out, int mask, const float* x, const float* w,
                         const float* dy, float* dx, float* dw, float* dbias);
void ref_softmax_xent_forward(int n, int classes, const float* logits, const int32_t* labels,
                              float smoothing, float* probs, float* loss);
void ref_softmax_xent_backward(int n, int classes, const float* probs, const int32_t* labels,
                               float smoothing, float dloss, float* dlogits);
void ref_argmax_rows(int n, int classes, const float* x, int32_t* idx);

}  // namespace sepconv

// ---- fast kernels, one copy per ISA (kernels/ops_kernels.cpp). All parallel inside, with
// fixed-order sums: results do not depend on the thread count. ----
#define SEPCONV_OPS_KERNELS(ns)                                                                \
  namespace sepconv {                                                                          \
  namespace ns {                                                                               \
  void bn_forward_training(int n, int c, int hw, const float* x, const float* gamma,           \
                           const float* beta, float eps, float momentum, float* running_mean,  \
                           float* running_var, float* save_mean, float* save_invstd, int act,  \
                           float* y);                                                          \
  void bn_forward_inference(int n, int c, int hw, const float* x, const float* gamma,          \
                            const float* beta, const float* running_mean,                     \
                            const float* running_var, float eps, int act, float* y);          \
  void bn_backward(int n, int c, int hw, int mask, const float* x, const float* y,             \
                   const float* dy, const float* gamma, const float* save_mean,                \
                   const float* save_invstd, int act, float* dx, float* dgamma, float* dbeta); \
  void bn_fold(int c, int64_t per_channel, float* w, float* bias, const float* gamma,           \
               const float* beta, const float* mean, const float* var, float eps);             \
  void activation_forward(int act, int64_t count, const float* x, float* y);                   \
  void activation_backward(int act, int64_t count, const float* y, const float* dy, float* dx); \
  void add(int64_t count, const float* a, const float* b, float* y);                           \
  void dropout_forward(int64_t count, float p, uint64_t seed, const float* x, float* mask,     \
                       float* y);                                                              \
  void dropout_backward(int64_t count, const float* mask, const float* dy, float* dx);        \
  void scale(int64_t count, float alpha, const float* x, float* y);                            \
  void sum_squares(int64_t count, const float* x, double* result);                             \
  void avgpool_forward(const PoolGeom& g, const float* x, float* y);                           \
  void avgpool_backward(const PoolGeom& g, const float* dy, float* dx);                        \
  void maxpool_forward(const PoolGeom& g, const float* x, float* y, int32_t* argmax);          \
  void maxpool_backward(const PoolGeom& g, const float* dy, const int32_t* argmax, float* dx); \
  void global_avgpool_forward(int n, int c, int hw, const float* x, float* y);                 \
  void global_avgpool_backward(int n, int c, int hw, const float* dy, float* dx);              \
  void linear_forward(int n, int in, int out, const float* x, const float* w,                  \
                      const float* bias, float* y);                                            \
  void linear_backward(int n, int in, int out, int mask, const float* x, const float* w,       \
                       const float* dy, float* dx, float* dw, float* dbias);                   \
  void softmax_xent_forward(int n, int classes, const float* logits, const int32_t* labels,    \
                            float smoothing, float* probs, float* loss);                       \
  void softmax_xent_backward(int n, int classes, const float* probs, const int32_t* labels,    \
                             float smoothing, float dloss, float* dlogits);                    \
  void argmax_rows(int n, int classes, const float* x, int32_t* idx);                          \
  }                                                                                            \
  }
SEPCONV_DECLARE_FOR_EACH_ISA(SEPCONV_OPS_KERNELS)
