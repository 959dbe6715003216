// Entry points of the non-convolution ops (see ops.h): one dispatch table per op (dispatch.h),
// then per op: validate once, dispatch once. SEPCONV_ALGO_REFERENCE runs the naive double
// reference; AUTO and IM2COL (a conv-only choice) run the fast kernels.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>

#include "cuda_backend.h"
#include "dispatch.h"

namespace sepconv {
namespace {

void check_eps(float eps) {
  SEPCONV_CHECK_ARG(std::isfinite(eps) && eps > 0, "eps must be > 0 (and finite), got %g",
                    (double)eps);
}

void check_count(int64_t count) {
  SEPCONV_CHECK_ARG(count >= 1, "count must be >= 1, got %lld", (long long)count);
  numel({count}, "count");
}

void check_nchw(int n, int c, int hw) {
  SEPCONV_CHECK_ARG(n >= 1, "n must be >= 1, got %d", n);
  SEPCONV_CHECK_ARG(c >= 1, "c must be >= 1, got %d", c);
  SEPCONV_CHECK_ARG(hw >= 1, "hw must be >= 1, got %d", hw);
  numel({n, c, hw}, "n*c*hw");
}

bool on_cuda(const Exec& e) { return e.device == SEPCONV_DEVICE_CUDA; }

PoolGeom make_pool(const sepconv_pool2d* p) {
  SEPCONV_CHECK_ARG(p != nullptr, "desc must not be NULL");
  PoolGeom g{};
  g.n = p->n, g.c = p->c, g.h = p->h, g.w = p->w, g.kh = p->kh, g.kw = p->kw;
  g.sh = p->stride_h, g.sw = p->stride_w, g.ph = p->pad_h, g.pw = p->pad_w;
  g.include_pad = p->count_include_pad;
  SEPCONV_CHECK_ARG(g.n >= 1, "n must be >= 1, got %d", g.n);
  SEPCONV_CHECK_ARG(g.c >= 1, "c must be >= 1, got %d", g.c);
  SEPCONV_CHECK_ARG(g.h >= 1, "h must be >= 1, got %d", g.h);
  SEPCONV_CHECK_ARG(g.w >= 1, "w must be >= 1, got %d", g.w);
  SEPCONV_CHECK_ARG(g.kh >= 1, "kh must be >= 1, got %d", g.kh);
  SEPCONV_CHECK_ARG(g.kw >= 1, "kw must be >= 1, got %d", g.kw);
  SEPCONV_CHECK_ARG(g.sh >= 1, "stride_h must be >= 1, got %d", g.sh);
  SEPCONV_CHECK_ARG(g.sw >= 1, "stride_w must be >= 1, got %d", g.sw);
  SEPCONV_CHECK_ARG(g.ph >= 0 && g.ph <= g.kh / 2, "pad_h must be in [0, kh/2 = %d], got %d",
                    g.kh / 2, g.ph);
  SEPCONV_CHECK_ARG(g.pw >= 0 && g.pw <= g.kw / 2, "pad_w must be in [0, kw/2 = %d], got %d",
                    g.kw / 2, g.pw);
  SEPCONV_CHECK_ARG(g.include_pad == 0 || g.include_pad == 1,
                    "count_include_pad must be 0 or 1, got %d", g.include_pad);
  SEPCONV_CHECK_ARG((int64_t)g.h + 2 * (int64_t)g.ph >= g.kh,
                    "kh must be <= h + 2*pad_h = %lld, got %d", (long long)g.h + 2LL * g.ph,
                    g.kh);
  SEPCONV_CHECK_ARG((int64_t)g.w + 2 * (int64_t)g.pw >= g.kw,
                    "kw must be <= w + 2*pad_w = %lld, got %d", (long long)g.w + 2LL * g.pw,
                    g.kw);
  g.oh = (int)(((int64_t)g.h + 2 * g.ph - g.kh) / g.sh + 1);
  g.ow = (int)(((int64_t)g.w + 2 * g.pw - g.kw) / g.sw + 1);
  SEPCONV_CHECK_ARG((int64_t)g.h * g.w <= std::numeric_limits<int32_t>::max(),
                    "h*w must be < 2^31 (argmax indices are int32), got %lld",
                    (long long)g.h * g.w);
  numel({g.n, g.c, g.h, g.w}, "n*c*h*w");
  numel({g.n, g.c, g.oh, g.ow}, "n*c*out_h*out_w");
  return g;
}

// Every argmax index must be inside its input plane before dx is touched. Chunks record their
// first bad position; the smallest one is reported, whatever the thread count.
void check_argmax(const PoolGeom& g, const int32_t* argmax) {
  const int64_t total = g.planes() * g.out_plane(), plane = g.in_plane();
  const int64_t block = 1 << 16, blocks = (total + block - 1) / block;
  std::atomic<int64_t> first_bad{total};
  parallel_for(blocks, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0 * block, end = std::min(total, b1 * block); i < end; i++)
      if (argmax[i] < 0 || argmax[i] >= plane) {
        int64_t cur = first_bad.load();
        while (i < cur && !first_bad.compare_exchange_weak(cur, i)) {
        }
        break;
      }
  });
  int64_t bad = first_bad.load();
  SEPCONV_CHECK_ARG(bad == total, "argmax[%lld] must be in [0, %lld) (h*w), got %d",
                    (long long)bad, (long long)plane, bad < total ? argmax[bad] : 0);
}

void check_linear(int n, int in, int out) {
  SEPCONV_CHECK_ARG(n >= 1, "n must be >= 1, got %d", n);
  SEPCONV_CHECK_ARG(in >= 1, "in_features must be >= 1, got %d", in);
  SEPCONV_CHECK_ARG(out >= 1, "out_features must be >= 1, got %d", out);
  numel({n, in}, "n*in_features");
  numel({n, out}, "n*out_features");
  numel({out, in}, "out_features*in_features");
}

// Labels are range-checked only where they are host memory (CPU); see sepconv.h for CUDA.
void check_xent(const Exec& e, int n, int classes, const int32_t* labels, float smoothing) {
  SEPCONV_CHECK_ARG(n >= 1, "n must be >= 1, got %d", n);
  SEPCONV_CHECK_ARG(classes >= 1, "classes must be >= 1, got %d", classes);
  numel({n, classes}, "n*classes");
  SEPCONV_CHECK_ARG(labels, "labels must not be NULL");
  SEPCONV_CHECK_ARG(smoothing >= 0 && smoothing <= 1, "label_smoothing must be in [0, 1], got %g",
                    (double)smoothing);
  if (!on_cuda(e))
    for (int i = 0; i < n; i++)
      SEPCONV_CHECK_ARG(labels[i] >= 0 && labels[i] < classes,
                        "labels[%d] must be in [0, %d) (classes), got %d", i, classes, labels[i]);
}

// ------------------------------------------------------------------ dispatch tables
SEPCONV_TABLE(bn_forward_training, "batchnorm_forward_training");
SEPCONV_TABLE(bn_forward_inference, "batchnorm_forward_inference");
SEPCONV_TABLE(bn_backward, "batchnorm_backward");
SEPCONV_TABLE(bn_fold, "batchnorm_fold");
SEPCONV_TABLE(activation_forward, "activation_forward");
SEPCONV_TABLE(activation_backward, "activation_backward");
SEPCONV_TABLE(add, "add");
SEPCONV_TABLE(dropout_forward, "dropout_forward");
SEPCONV_TABLE(dropout_backward, "dropout_backward");
SEPCONV_TABLE(scale, "scale");
SEPCONV_TABLE(sum_squares, "sum_squares");
SEPCONV_TABLE(avgpool_forward, "avgpool2d_forward");
SEPCONV_TABLE(avgpool_backward, "avgpool2d_backward");
SEPCONV_TABLE(maxpool_forward, "maxpool2d_forward");
SEPCONV_TABLE(maxpool_backward, "maxpool2d_backward");
SEPCONV_TABLE(global_avgpool_forward, "global_avgpool_forward");
SEPCONV_TABLE(global_avgpool_backward, "global_avgpool_backward");
SEPCONV_TABLE(linear_forward, "linear_forward");
SEPCONV_TABLE(linear_backward, "linear_backward");
SEPCONV_TABLE(softmax_xent_forward, "softmax_xent_forward");
SEPCONV_TABLE(softmax_xent_backward, "softmax_xent_backward");
SEPCONV_TABLE(argmax_rows, "argmax_rows");

}  // namespace
}  // namespace sepconv

using namespace sepconv;

extern "C" {

// ------------------------------------------------------------------ batch normalisation
int sepconv_batchnorm_forward_training(int exec, int n, int c, int hw, const float* x,
                                       const float* gamma, const float* beta, float eps,
                                       float momentum, float* running_mean, float* running_var,
                                       float* save_mean, float* save_invstd, int act, float* y) {
  return guarded([&] {
    Exec e = parse_exec(exec, bn_forward_training_table);
    check_nchw(n, c, hw);
    SEPCONV_CHECK_ARG((int64_t)n * hw > 1, "n*hw must be > 1 in training, got %lld",
                      (long long)n * hw);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    SEPCONV_CHECK_ARG(save_mean, "save_mean must not be NULL");
    SEPCONV_CHECK_ARG(save_invstd, "save_invstd must not be NULL");
    check_eps(eps);
    SEPCONV_CHECK_ARG(momentum >= 0 && momentum <= 1, "momentum must be in [0, 1], got %g",
                      (double)momentum);
    check_act(act, "act");
    dispatch(e, bn_forward_training_table, n, c, hw, x, gamma, beta, eps, momentum, running_mean,
             running_var, save_mean, save_invstd, act, y);
  });
}

int sepconv_batchnorm_forward_inference(int exec, int n, int c, int hw, const float* x,
                                        const float* gamma, const float* beta,
                                        const float* running_mean, const float* running_var,
                                        float eps, int act, float* y) {
  return guarded([&] {
    Exec e = parse_exec(exec, bn_forward_inference_table);
    check_nchw(n, c, hw);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    SEPCONV_CHECK_ARG(running_mean, "running_mean must not be NULL");
    SEPCONV_CHECK_ARG(running_var, "running_var must not be NULL");
    check_eps(eps);
    check_act(act, "act");
    dispatch(e, bn_forward_inference_table, n, c, hw, x, gamma, beta, running_mean, running_var,
             eps, act, y);
  });
}

int sepconv_batchnorm_backward(int exec, int n, int c, int hw, int mask, const float* x,
                               const float* y, const float* dy, const float* gamma,
                               const float* save_mean, const float* save_invstd, int act,
                               float* dx, float* dgamma, float* dbeta) {
  return guarded([&] {
    Exec e = parse_exec(exec, bn_backward_table);
    check_nchw(n, c, hw);
    check_mask(mask);
    check_act(act, "act");
    if (mask == 0) return;
    SEPCONV_CHECK_ARG(dy, "dy must not be NULL");
    if (act != SEPCONV_ACT_NONE) SEPCONV_CHECK_ARG(y, "y must not be NULL when act != NONE");
    if (mask & (SEPCONV_GRAD_INPUT | SEPCONV_GRAD_WEIGHT)) {
      SEPCONV_CHECK_ARG(x, "x must not be NULL when GRAD_INPUT or GRAD_WEIGHT is asked");
      SEPCONV_CHECK_ARG(save_mean, "save_mean must not be NULL when GRAD_INPUT or GRAD_WEIGHT is asked");
      SEPCONV_CHECK_ARG(save_invstd, "save_invstd must not be NULL when GRAD_INPUT or GRAD_WEIGHT is asked");
    }
    if (mask & SEPCONV_GRAD_INPUT) SEPCONV_CHECK_ARG(dx, "dx must not be NULL when GRAD_INPUT is asked");
    if (mask & SEPCONV_GRAD_WEIGHT) SEPCONV_CHECK_ARG(dgamma, "dgamma must not be NULL when GRAD_WEIGHT is asked");
    if (mask & SEPCONV_GRAD_BIAS) SEPCONV_CHECK_ARG(dbeta, "dbeta must not be NULL when GRAD_BIAS is asked");
    dispatch(e, bn_backward_table, n, c, hw, mask, x, y, dy, gamma, save_mean, save_invstd, act,
             dx, dgamma, dbeta);
  });
}

int sepconv_batchnorm_fold_exec(int exec, int c, int64_t per_channel, float* w, float* bias,
                                const float* gamma, const float* beta, const float* mean,
                                const float* var, float eps) {
  return guarded([&] {
    Exec e = parse_exec(exec, bn_fold_table);
    SEPCONV_CHECK_ARG(c >= 1, "c must be >= 1, got %d", c);
    SEPCONV_CHECK_ARG(per_channel >= 1, "per_channel must be >= 1, got %lld",
                      (long long)per_channel);
    numel({c, per_channel}, "c*per_channel");
    SEPCONV_CHECK_ARG(w, "w must not be NULL");
    SEPCONV_CHECK_ARG(bias, "bias must not be NULL");
    SEPCONV_CHECK_ARG(mean, "mean must not be NULL");
    SEPCONV_CHECK_ARG(var, "var must not be NULL");
    check_eps(eps);
    dispatch(e, bn_fold_table, c, per_channel, w, bias, gamma, beta, mean, var, eps);
  });
}

int sepconv_batchnorm_fold(int c, int64_t per_channel, float* w, float* bias, const float* gamma,
                           const float* beta, const float* mean, const float* var, float eps) {
  return sepconv_batchnorm_fold_exec(SEPCONV_EXEC(SEPCONV_DEVICE_CPU, SEPCONV_ALGO_AUTO), c,
                                     per_channel, w, bias, gamma, beta, mean, var, eps);
}

// ------------------------------------------------------------------ elementwise
int sepconv_activation_forward(int exec, int act, int64_t count, const float* x, float* y) {
  return guarded([&] {
    Exec e = parse_exec(exec, activation_forward_table);
    check_act(act, "act");
    check_count(count);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    dispatch(e, activation_forward_table, act, count, x, y);
  });
}

int sepconv_activation_backward(int exec, int act, int64_t count, const float* y,
                                const float* dy, float* dx) {
  return guarded([&] {
    Exec e = parse_exec(exec, activation_backward_table);
    check_act(act, "act");
    check_count(count);
    if (act != SEPCONV_ACT_NONE) SEPCONV_CHECK_ARG(y, "y must not be NULL when act != NONE");
    SEPCONV_CHECK_ARG(dy, "dy must not be NULL");
    SEPCONV_CHECK_ARG(dx, "dx must not be NULL");
    dispatch(e, activation_backward_table, act, count, y, dy, dx);
  });
}

int sepconv_add(int exec, int64_t count, const float* a, const float* b, float* y) {
  return guarded([&] {
    Exec e = parse_exec(exec, add_table);
    check_count(count);
    SEPCONV_CHECK_ARG(a, "a must not be NULL");
    SEPCONV_CHECK_ARG(b, "b must not be NULL");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    dispatch(e, add_table, count, a, b, y);
  });
}

int sepconv_dropout_forward(int exec, int64_t count, float p, uint64_t seed, const float* x,
                            float* mask, float* y) {
  return guarded([&] {
    Exec e = parse_exec(exec, dropout_forward_table);
    check_count(count);
    SEPCONV_CHECK_ARG(p >= 0 && p < 1, "p must be in [0, 1), got %g", (double)p);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(mask, "mask must not be NULL");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    SEPCONV_CHECK_ARG(mask != x && mask != y, "mask must not alias x or y");
    dispatch(e, dropout_forward_table, count, p, seed, x, mask, y);
  });
}

int sepconv_dropout_backward(int exec, int64_t count, const float* mask, const float* dy,
                             float* dx) {
  return guarded([&] {
    Exec e = parse_exec(exec, dropout_backward_table);
    check_count(count);
    SEPCONV_CHECK_ARG(mask, "mask must not be NULL");
    SEPCONV_CHECK_ARG(dy, "dy must not be NULL");
    SEPCONV_CHECK_ARG(dx, "dx must not be NULL");
    dispatch(e, dropout_backward_table, count, mask, dy, dx);
  });
}

int sepconv_sum_squares(int exec, int64_t count, const float* x, double* result) {
  return guarded([&] {
    Exec e = parse_exec(exec, sum_squares_table);
    check_count(count);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(result, "result must not be NULL");
    dispatch(e, sum_squares_table, count, x, result);
  });
}

int sepconv_scale(int exec, int64_t count, float alpha, const float* x, float* y) {
  return guarded([&] {
    Exec e = parse_exec(exec, scale_table);
    check_count(count);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    dispatch(e, scale_table, count, alpha, x, y);
  });
}

// ------------------------------------------------------------------ pooling
int sepconv_pool2d_output_shape(const sepconv_pool2d* p, int* out_h, int* out_w) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(out_h && out_w, "out_h and out_w must not be NULL");
    PoolGeom g = make_pool(p);
    *out_h = g.oh;
    *out_w = g.ow;
  });
}

int sepconv_avgpool2d_forward(int exec, const sepconv_pool2d* p, const float* x, float* y) {
  return guarded([&] {
    Exec e = parse_exec(exec, avgpool_forward_table);
    PoolGeom g = make_pool(p);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    dispatch(e, avgpool_forward_table, g, x, y);
  });
}

int sepconv_avgpool2d_backward(int exec, const sepconv_pool2d* p, const float* dy, float* dx) {
  return guarded([&] {
    Exec e = parse_exec(exec, avgpool_backward_table);
    PoolGeom g = make_pool(p);
    SEPCONV_CHECK_ARG(dy, "dy must not be NULL");
    SEPCONV_CHECK_ARG(dx, "dx must not be NULL");
    dispatch(e, avgpool_backward_table, g, dy, dx);
  });
}

int sepconv_maxpool2d_forward(int exec, const sepconv_pool2d* p, const float* x, float* y,
                              int32_t* argmax) {
  return guarded([&] {
    Exec e = parse_exec(exec, maxpool_forward_table);
    PoolGeom g = make_pool(p);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    dispatch(e, maxpool_forward_table, g, x, y, argmax);
  });
}

int sepconv_maxpool2d_backward(int exec, const sepconv_pool2d* p, const float* dy,
                               const int32_t* argmax, float* dx) {
  return guarded([&] {
    Exec e = parse_exec(exec, maxpool_backward_table);
    PoolGeom g = make_pool(p);
    SEPCONV_CHECK_ARG(dy, "dy must not be NULL");
    SEPCONV_CHECK_ARG(argmax, "argmax must not be NULL");
    SEPCONV_CHECK_ARG(dx, "dx must not be NULL");
    if (!on_cuda(e)) check_argmax(g, argmax);  // host memory only on the CPU: see sepconv.h
    dispatch(e, maxpool_backward_table, g, dy, argmax, dx);
  });
}

int sepconv_global_avgpool_forward(int exec, int n, int c, int hw, const float* x, float* y) {
  return guarded([&] {
    Exec e = parse_exec(exec, global_avgpool_forward_table);
    check_nchw(n, c, hw);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    dispatch(e, global_avgpool_forward_table, n, c, hw, x, y);
  });
}

int sepconv_global_avgpool_backward(int exec, int n, int c, int hw, const float* dy, float* dx) {
  return guarded([&] {
    Exec e = parse_exec(exec, global_avgpool_backward_table);
    check_nchw(n, c, hw);
    SEPCONV_CHECK_ARG(dy, "dy must not be NULL");
    SEPCONV_CHECK_ARG(dx, "dx must not be NULL");
    dispatch(e, global_avgpool_backward_table, n, c, hw, dy, dx);
  });
}

// ------------------------------------------------------------------ linear
int sepconv_linear_forward(int exec, int n, int in_features, int out_features, const float* x,
                           const float* w, const float* bias, float* y) {
  return guarded([&] {
    Exec e = parse_exec(exec, linear_forward_table);
    check_linear(n, in_features, out_features);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(w, "w must not be NULL");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    dispatch(e, linear_forward_table, n, in_features, out_features, x, w, bias, y);
  });
}

int sepconv_linear_backward(int exec, int n, int in_features, int out_features, int mask,
                            const float* x, const float* w, const float* dy, float* dx,
                            float* dw, float* dbias) {
  return guarded([&] {
    Exec e = parse_exec(exec, linear_backward_table);
    check_linear(n, in_features, out_features);
    check_backward_args(mask, x, w, dy, dx, dw, dbias);
    if (mask == 0) return;
    dispatch(e, linear_backward_table, n, in_features, out_features, mask, x, w, dy, dx, dw, dbias);
  });
}

// ------------------------------------------------------------------ softmax cross-entropy
int sepconv_softmax_xent_forward(int exec, int n, int classes, const float* logits,
                                 const int32_t* labels, float label_smoothing, float* probs,
                                 float* loss) {
  return guarded([&] {
    Exec e = parse_exec(exec, softmax_xent_forward_table);
    SEPCONV_CHECK_ARG(logits, "logits must not be NULL");
    SEPCONV_CHECK_ARG(probs, "probs must not be NULL");
    SEPCONV_CHECK_ARG(loss, "loss must not be NULL");
    check_xent(e, n, classes, labels, label_smoothing);
    dispatch(e, softmax_xent_forward_table, n, classes, logits, labels, label_smoothing, probs,
             loss);
  });
}

int sepconv_softmax_xent_backward(int exec, int n, int classes, const float* probs,
                                  const int32_t* labels, float label_smoothing, float dloss,
                                  float* dlogits) {
  return guarded([&] {
    Exec e = parse_exec(exec, softmax_xent_backward_table);
    SEPCONV_CHECK_ARG(probs, "probs must not be NULL");
    SEPCONV_CHECK_ARG(dlogits, "dlogits must not be NULL");
    check_xent(e, n, classes, labels, label_smoothing);
    dispatch(e, softmax_xent_backward_table, n, classes, probs, labels, label_smoothing, dloss,
             dlogits);
  });
}

// ------------------------------------------------------------------ argmax
int sepconv_argmax_rows(int exec, int n, int classes, const float* x, int32_t* idx) {
  return guarded([&] {
    Exec e = parse_exec(exec, argmax_rows_table);
    SEPCONV_CHECK_ARG(n >= 1, "n must be >= 1, got %d", n);
    SEPCONV_CHECK_ARG(classes >= 1, "classes must be >= 1, got %d", classes);
    numel({n, classes}, "n*classes");
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(idx, "idx must not be NULL");
    dispatch(e, argmax_rows_table, n, classes, x, idx);
  });
}

}  // extern "C"
