/*
 * sepconv: the whole native ABI in one flat C header.
 *
 * Conventions
 *  - fp32, NCHW, dense row-major buffers. Weights are [c_out][c_in/groups][kh][kw].
 *  - Every function returns a status code (SEPCONV_OK == 0). On failure the text of the
 *    error is kept per thread and read back with sepconv_last_error(). Nothing aborts and
 *    no C++ exception crosses this boundary.
 *  - Activations and input gradients are overwritten (=). Parameter gradients
 *    (weights, bias, gamma, beta) accumulate (+=), so a caller zeroes them once per step.
 *  - `exec` chooses where and how an op runs: SEPCONV_EXEC(device, algo). 0 means CPU, auto.
 *  - `mask` on backward functions says which gradients to compute; a gradient that is not
 *    asked for is never computed and its pointer may be NULL.
 *  - Buffers must not alias unless a function says so. The C layer checks pointers for NULL
 *    and shapes for consistency; it cannot know buffer lengths, so bindings check those.
 */
#ifndef SEPCONV_SEPCONV_H
#define SEPCONV_SEPCONV_H

#include <stdint.h>

#if defined(__GNUC__) && !defined(SEPCONV_API)
#define SEPCONV_API __attribute__((visibility("default")))
#elif !defined(SEPCONV_API)
#define SEPCONV_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ---- */
#define SEPCONV_OK 0
#define SEPCONV_EINVAL 1        /* a bad argument; the message names it */
#define SEPCONV_EUNSUPPORTED 2  /* valid, but not available in this build or on this device */
#define SEPCONV_ENOMEM 3        /* scratch memory could not be allocated */
#define SEPCONV_EINTERNAL 4     /* a bug: an unexpected failure inside the library */
#define SEPCONV_EDEVICE 5       /* a device (CUDA) error; the message carries the driver's text */

/* ---- execution selector ---- */
#define SEPCONV_DEVICE_CPU 0
#define SEPCONV_DEVICE_CUDA 1
#define SEPCONV_ALGO_AUTO 0      /* the fastest kernel this library has */
#define SEPCONV_ALGO_REFERENCE 1 /* the naive reference, accumulating in double */
#define SEPCONV_ALGO_IM2COL 2    /* convolutions as im2col + sgemm per image and group (baseline) */
#define SEPCONV_EXEC(device, algo) ((device) | ((algo) << 4))

/* ---- activations fused into ops ---- */
#define SEPCONV_ACT_NONE 0
#define SEPCONV_ACT_RELU 1
#define SEPCONV_ACT_RELU6 2

/* ---- backward output masks ---- */
#define SEPCONV_GRAD_INPUT 1  /* dx (conv, linear, batchnorm) */
#define SEPCONV_GRAD_WEIGHT 2 /* dw (conv, linear) or dgamma (batchnorm) */
#define SEPCONV_GRAD_BIAS 4   /* dbias (conv, linear) or dbeta (batchnorm) */

/* ---- CPU instruction sets ---- */
#define SEPCONV_ISA_GENERIC 0
#define SEPCONV_ISA_AVX2 1
#define SEPCONV_ISA_AVX512 2

/* ---- runtime ---- */
SEPCONV_API const char* sepconv_version(void);
/* The message of the last failed call on this thread ("" if none). */
SEPCONV_API const char* sepconv_last_error(void);
/* Threads used by CPU kernels; n >= 1. Results do not depend on the thread count. */
SEPCONV_API int sepconv_set_num_threads(int n);
SEPCONV_API int sepconv_get_num_threads(void);
/* The best ISA this CPU supports, and the one in use (lower it to test the fallbacks). */
SEPCONV_API int sepconv_cpu_isa_max(void);
SEPCONV_API int sepconv_cpu_isa(void);
SEPCONV_API int sepconv_set_cpu_isa(int isa); /* isa in [0, sepconv_cpu_isa_max()]; -1 picks the best */
/* Use cblas_sgemm from an already loaded (or loadable) BLAS library, e.g. "libopenblas.so.0".
 * NULL detaches and returns to the built-in GEMM. */
SEPCONV_API int sepconv_blas_attach(const char* library);
SEPCONV_API int sepconv_blas_attached(void);
/* Bytes of scratch memory the library holds right now (0 between calls). */
SEPCONV_API int64_t sepconv_workspace_bytes(void);
/* Measures this machine for roofline floors, on `threads` threads of the library's pool (<= 0: all
 * of them), repeating short measurements for about `seconds` (in (0, 60]) and writing the best
 * to *result:
 *   SEPCONV_PROBE_FMA_PEAK: GFLOP/s of independent multiply-add chains at the active ISA's
 *     widest vector (AVX-512 zmm, AVX2 ymm, or the generic build's SSE), 2 flops per lane;
 *   SEPCONV_PROBE_COPY_BANDWIDTH: GB/s of a copy between two buffers of max(256 MiB, the
 *     last-level cache) each, counting the bytes read and the bytes written.
 * The call holds the pool for its duration and, for the bandwidth, up to 2 GiB of scratch. */
#define SEPCONV_PROBE_FMA_PEAK 0
#define SEPCONV_PROBE_COPY_BANDWIDTH 1
SEPCONV_API int sepconv_cpu_probe(int what, int threads, double seconds, double* result);

/* ---- convolution: depthwise, grouped, dense and pointwise (1x1) behind one entry ---- */
typedef struct sepconv_conv2d {
  int n, c_in, h, w; /* input */
  int c_out, kh, kw; /* weights [c_out][c_in/groups][kh][kw] */
  int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
  int groups; /* divides c_in and c_out; groups == c_in is depthwise */
} sepconv_conv2d;

SEPCONV_API int sepconv_conv2d_output_shape(const sepconv_conv2d* d, int* out_h, int* out_w);
/* y[n][c_out][oh][ow] = conv(x, w) + bias; bias may be NULL. */
SEPCONV_API int sepconv_conv2d_forward(int exec, const sepconv_conv2d* d, const float* x, const float* w,
                           const float* bias, float* y);
/* y = act(conv(x, w) + bias), act a SEPCONV_ACT_* value: the activation is the kernels' epilogue,
 * applied as each output tile is written (while it is in cache), so a conv with its BatchNorm
 * folded in (sepconv_batchnorm_fold) and its ReLU / ReLU6 is one pass over y. bias may be NULL.
 * With SEPCONV_ACT_NONE it is sepconv_conv2d_forward. */
SEPCONV_API int sepconv_conv2d_forward_act(int exec, const sepconv_conv2d* d, const float* x,
                                           const float* w, const float* bias, int act, float* y);
/* dx = (overwrite), dw += , dbias += ; mask picks which. x is needed for dw, w for dx. */
SEPCONV_API int sepconv_conv2d_backward(int exec, const sepconv_conv2d* d, int mask, const float* x,
                            const float* w, const float* dy, float* dx, float* dw, float* dbias);

/* ---- the depthwise-separable block fused (inference, BatchNorm folded into every conv) ----
 * MobileNet's blocks in one call, run per tile of output rows with a per-thread scratch sized to
 * stay in L2, so the expanded and depthwise activations never round-trip through memory:
 *   e = act_expand(w_expand . x + b_expand)   1x1 expansion c_in -> c_expand (MobileNetV2), when
 *                                             w_expand != NULL; else e = x and c_expand == c_in
 *   h = act_dw(depthwise(e) + b_dw)           k x k, stride, pad (both axes), dilation 1, channel
 *                                             multiplier mult: c_expand*mult channels, channel c
 *                                             reading e's channel c/mult
 *   y = act_pw(w_pw . h + b_pw) + residual    1x1 projection to c_out; residual (nullable) has
 *                                             y's shape (MobileNetV2's identity shortcut: x)
 * Weights: w_expand [c_expand][c_in], w_dw [c_expand*mult][1][k][k], w_pw [c_out][c_expand*mult].
 * Every bias (one per output channel of its conv) may be NULL. y is overwritten and must alias
 * no input; residual may be x. SEPCONV_ALGO_REFERENCE runs the three convolutions in double
 * (no rounding in between); IM2COL runs the fast kernel. */
typedef struct sepconv_dwpw {
  int n, c_in, h, w;        /* x [n][c_in][h][w] */
  int c_expand;             /* e's channels: the expansion's outputs, or c_in without one */
  int k, stride, pad, mult; /* the depthwise conv */
  int c_out;                /* y [n][c_out][out_h][out_w] */
  int act_expand, act_dw, act_pw; /* SEPCONV_ACT_* of each conv (act_expand unused without one) */
} sepconv_dwpw;

SEPCONV_API int sepconv_dwpw_output_shape(const sepconv_dwpw* d, int* out_h, int* out_w);
SEPCONV_API int sepconv_dwpw_forward(int exec, const sepconv_dwpw* d, const float* x,
                                     const float* w_expand, const float* b_expand,
                                     const float* w_dw, const float* b_dw, const float* w_pw,
                                     const float* b_pw, const float* residual, float* y);

/* ---- batch normalisation over [n][c][hw], optionally fused with ReLU / ReLU6 ---- */
/* Training: batch statistics. running_mean/var (nullable) are updated with momentum
 * (running = (1-momentum)*running + momentum*batch; var unbiased). save_mean/save_invstd
 * (length c) receive the batch mean and 1/sqrt(var+eps) for backward. gamma/beta may be
 * NULL (affine=false). y = act(gamma*(x-mean)*invstd + beta). */
SEPCONV_API int sepconv_batchnorm_forward_training(int exec, int n, int c, int hw, const float* x,
                                       const float* gamma, const float* beta, float eps,
                                       float momentum, float* running_mean, float* running_var,
                                       float* save_mean, float* save_invstd, int act, float* y);
SEPCONV_API int sepconv_batchnorm_forward_inference(int exec, int n, int c, int hw, const float* x,
                                        const float* gamma, const float* beta,
                                        const float* running_mean, const float* running_var,
                                        float eps, int act, float* y);
/* y (the forward output) is read only when act != NONE. dx =, dgamma +=, dbeta += . */
SEPCONV_API int sepconv_batchnorm_backward(int exec, int n, int c, int hw, int mask, const float* x,
                               const float* y, const float* dy, const float* gamma,
                               const float* save_mean, const float* save_invstd, int act,
                               float* dx, float* dgamma, float* dbeta);
/* Fold inference BN into the preceding conv: w[c][per_channel] *= s, bias = (bias-mean)*s+beta
 * with s = gamma/sqrt(var+eps) (computed in double). bias is read (the conv's bias, or zeros) and
 * overwritten; gamma/beta may be NULL (affine=false). Every pointer is on the exec's device. */
SEPCONV_API int sepconv_batchnorm_fold_exec(int exec, int c, int64_t per_channel, float* w, float* bias,
                                            const float* gamma, const float* beta, const float* mean,
                                            const float* var, float eps);
/* The same on the CPU: sepconv_batchnorm_fold_exec(SEPCONV_EXEC(SEPCONV_DEVICE_CPU,
 * SEPCONV_ALGO_AUTO), ...). */
SEPCONV_API int sepconv_batchnorm_fold(int c, int64_t per_channel, float* w, float* bias, const float* gamma,
                           const float* beta, const float* mean, const float* var, float eps);

/* ---- elementwise ---- */
/* y = act(x); y may alias x. */
SEPCONV_API int sepconv_activation_forward(int exec, int act, int64_t count, const float* x, float* y);
/* dx = dy where the forward output y is inside the active range, else 0. dx may alias dy. */
SEPCONV_API int sepconv_activation_backward(int exec, int act, int64_t count, const float* y,
                                const float* dy, float* dx);
/* y = a + b (the residual add); y may alias a or b. */
SEPCONV_API int sepconv_add(int exec, int64_t count, const float* a, const float* b, float* y);
/* Dropout with a counter-based RNG (Philox-4x32-10, key = seed): element i keeps with
 * probability 1-p, decided by a hash of (seed, i) alone, so CPU and CUDA draw the same mask
 * whatever the thread count: u = the top 24 bits of word i%4 of counter i/4, over 2^24; keep
 * when u >= p. mask[i] = keep ? 1/(1-p) : 0 (1/(1-p) in double, rounded to float);
 * y[i] = x[i] * mask[i]. 0 <= p < 1. y may alias x; mask may alias neither. */
SEPCONV_API int sepconv_dropout_forward(int exec, int64_t count, float p, uint64_t seed, const float* x,
                                        float* mask, float* y);
/* dx[i] = dy[i] * mask[i]; dx may alias dy. */
SEPCONV_API int sepconv_dropout_backward(int exec, int64_t count, const float* mask, const float* dy,
                                         float* dx);
/* *result = sum of x[i]^2, accumulated in double, in a fixed order (independent of the thread
 * count; CPU and CUDA use different orders). x is on the exec's device; result is HOST memory on
 * every device (CUDA: the call synchronises with the library's stream). */
SEPCONV_API int sepconv_sum_squares(int exec, int64_t count, const float* x, double* result);
/* y[i] = alpha * x[i]; y may alias x. */
SEPCONV_API int sepconv_scale(int exec, int64_t count, float alpha, const float* x, float* y);

/* ---- pooling ---- */
typedef struct sepconv_pool2d {
  int n, c, h, w;
  int kh, kw, stride_h, stride_w, pad_h, pad_w;
  int count_include_pad; /* average pooling: divide by the full window (1) or valid cells (0) */
} sepconv_pool2d;

SEPCONV_API int sepconv_pool2d_output_shape(const sepconv_pool2d* p, int* out_h, int* out_w);
SEPCONV_API int sepconv_avgpool2d_forward(int exec, const sepconv_pool2d* p, const float* x, float* y);
SEPCONV_API int sepconv_avgpool2d_backward(int exec, const sepconv_pool2d* p, const float* dy, float* dx);
/* argmax (nullable) receives, per output, the index h*w of the chosen input cell. */
SEPCONV_API int sepconv_maxpool2d_forward(int exec, const sepconv_pool2d* p, const float* x, float* y,
                              int32_t* argmax);
SEPCONV_API int sepconv_maxpool2d_backward(int exec, const sepconv_pool2d* p, const float* dy,
                               const int32_t* argmax, float* dx);
/* [n][c][hw] -> [n][c] */
SEPCONV_API int sepconv_global_avgpool_forward(int exec, int n, int c, int hw, const float* x, float* y);
SEPCONV_API int sepconv_global_avgpool_backward(int exec, int n, int c, int hw, const float* dy, float* dx);

/* ---- linear: y[n][out] = x[n][in] . w[out][in]^T + bias ---- */
SEPCONV_API int sepconv_linear_forward(int exec, int n, int in_features, int out_features, const float* x,
                           const float* w, const float* bias, float* y);
SEPCONV_API int sepconv_linear_backward(int exec, int n, int in_features, int out_features, int mask,
                            const float* x, const float* w, const float* dy, float* dx,
                            float* dw, float* dbias);

/* ---- softmax cross-entropy with label smoothing ---- */
/* probs[n][classes] receives the softmax (kept for backward); loss[0] the batch mean of
 * -sum_k q_k log p_k with q = (1-s)*onehot(label) + s/classes. loss is on the exec's device
 * like every other pointer: device memory on CUDA (copy it back with sepconv_cuda_memcpy). */
SEPCONV_API int sepconv_softmax_xent_forward(int exec, int n, int classes, const float* logits,
                                 const int32_t* labels, float label_smoothing, float* probs,
                                 float* loss);
/* dlogits = dloss * (probs - q) / n */
SEPCONV_API int sepconv_softmax_xent_backward(int exec, int n, int classes, const float* probs,
                                  const int32_t* labels, float label_smoothing, float dloss,
                                  float* dlogits);
/* idx[i] = the index of the largest of x[i][0..classes) (ties: the lowest index; NaN never wins
 * over a number; a row of NaN gives 0). */
SEPCONV_API int sepconv_argmax_rows(int exec, int n, int classes, const float* x, int32_t* idx);

/* ---- optimizer updates: one fused pass over one parameter tensor, in place ----
 * Element arithmetic is float, in the order torch.optim uses for fp32 parameters, with no fused
 * multiply-add (CPU and CUDA give the same bits); the scalar hyperparameters are converted (and
 * the bias corrections computed) in double first. SEPCONV_ALGO_REFERENCE computes each element
 * in double instead (a reference: close to, not bit-equal with, the fp32 arithmetic).
 * `step` is this tensor's update count including this one (1 on its first update). */
/* torch.optim.SGD: d = g + wd*p; with momentum mu != 0: b = (step == 1 ? d : mu*b + (1-damp)*d),
 * d = nesterov ? d + mu*b : b; then p -= lr*d. momentum_buffer is read only when mu != 0. */
SEPCONV_API int sepconv_sgd_update(int exec, int64_t count, float* p, const float* g,
                                   float* momentum_buffer, double lr, double momentum,
                                   double dampening, double weight_decay, int nesterov,
                                   int64_t step);
/* torch.optim.Adam (decoupled = 0: g += wd*p) and AdamW (decoupled = 1: p *= 1 - lr*wd):
 * m = m + (1-b1)*(g-m); v = b2*v + (1-b2)*g*g;
 * p -= (lr/(1-b1^step)) * m / (sqrt(v)/sqrt(1-b2^step) + eps). */
SEPCONV_API int sepconv_adam_update(int exec, int64_t count, float* p, const float* g,
                                    float* exp_avg, float* exp_avg_sq, double lr, double beta1,
                                    double beta2, double eps, double weight_decay, int decoupled,
                                    int64_t step);

/* ---- CUDA runtime and memory ----
 * Ops called with SEPCONV_EXEC(SEPCONV_DEVICE_CUDA, SEPCONV_ALGO_AUTO) take device pointers for
 * every buffer, one-value outputs such as the softmax loss included (the one exception:
 * sepconv_sum_squares' result, host memory everywhere), and run asynchronously on device 0, on
 * the library's one stream (sepconv_cuda_stream), in call order; an error of a kernel that
 * already ran surfaces at the next synchronising call.
 * Only SEPCONV_ALGO_AUTO runs on CUDA: REFERENCE and IM2COL are CPU-only. Host-side range checks
 * that would need to read device memory (softmax labels, maxpool argmax) are not done on
 * CUDA: an out-of-range label gives a NaN loss, an out-of-range argmax is ignored.
 * In a build without CUDA every function here answers SEPCONV_EUNSUPPORTED. */
/* SEPCONV_OK if a CUDA device can be used; otherwise the reason is in sepconv_last_error()
 * (built without CUDA, no driver, no device). */
SEPCONV_API int sepconv_cuda_available(void);
/* Number of CUDA devices (0, with status OK, where the driver or device is missing). */
SEPCONV_API int sepconv_cuda_device_count(int* count);
/* The device's name, NUL-terminated and cut to capacity bytes. */
SEPCONV_API int sepconv_cuda_device_name(int device, char* name, int capacity);
SEPCONV_API int sepconv_cuda_device_capability(int device, int* major, int* minor);
/* Device memory from a caching allocator: freed blocks are kept in size-class free lists and
 * reused in stream order, so a training step that allocates the same sizes as the last one
 * calls no cudaMalloc/cudaFree. bytes >= 0 (0 gives NULL). Blocks are 256-byte aligned. */
SEPCONV_API int sepconv_cuda_malloc(int64_t bytes, void** ptr);
/* Returns a block to its free list (NULL is a no-op; a pointer not from sepconv_cuda_malloc is
 * an error). The block may be handed out again at once: work queued on the library's stream
 * that still reads it runs first. Work on other streams must be synchronised by the caller. */
SEPCONV_API int sepconv_cuda_free(void* ptr);
/* Waits for the stream, then gives every cached free block back to the driver. */
SEPCONV_API int sepconv_cuda_empty_cache(void);
/* allocated: bytes held by callers now; reserved: bytes taken from the driver (held + cached);
 * peak: the highest `allocated` so far. Any pointer may be NULL. */
SEPCONV_API int sepconv_cuda_memory_stats(int64_t* allocated, int64_t* reserved, int64_t* peak);
#define SEPCONV_MEMCPY_HOST_TO_DEVICE 1
#define SEPCONV_MEMCPY_DEVICE_TO_HOST 2
#define SEPCONV_MEMCPY_DEVICE_TO_DEVICE 3
/* Copies on the library's stream. Host-to-device and device-to-host return when the copy is
 * done (the host buffer may be reused or read); device-to-device is queued. */
SEPCONV_API int sepconv_cuda_memcpy(void* dst, const void* src, int64_t bytes, int kind);
/* Sets bytes of device memory to (unsigned char)value, queued on the library's stream. */
SEPCONV_API int sepconv_cuda_memset(void* ptr, int value, int64_t bytes);
/* Waits until all queued work is done; reports the first asynchronous error. */
SEPCONV_API int sepconv_cuda_synchronize(void);
/* The library's cudaStream_t, for callers that queue their own work in the same order. */
SEPCONV_API int sepconv_cuda_stream(void** stream);
/* TF32 tensor cores for convolutions and linear (1 = on, 0 = exact fp32, the default).
 * TF32 keeps 10 mantissa bits of each operand: about 3e-4 relative error. */
SEPCONV_API int sepconv_cuda_set_tf32(int enabled);
SEPCONV_API int sepconv_cuda_tf32(void);

#ifdef __cplusplus
}
#endif
#endif
