// Entry points of the optimizer updates: validate, prepare the scalars once in double as
// torch (and org.sepconv.optim) does, then run one fused pass per parameter tensor on the CPU
// or CUDA (cuda/optim.cu). The element arithmetic is plain float in a fixed order; this file
// is compiled with -ffp-contract=off so that no step is fused into an FMA, and the results
// match the Java optimizers bit for bit.
#include <algorithm>
#include <cmath>

#include "cuda_backend.h"

namespace sepconv {
namespace {

void check_count(int64_t count, const void* p, const void* g) {
  SEPCONV_CHECK_ARG(count >= 1, "count must be >= 1, got %lld", (long long)count);
  numel({count}, "count");
  SEPCONV_CHECK_ARG(p, "p must not be NULL");
  SEPCONV_CHECK_ARG(g, "g must not be NULL");
}

void check_finite(const char* name, double v, bool non_negative) {
  SEPCONV_CHECK_ARG(std::isfinite(v) && (!non_negative || v >= 0),
                    non_negative ? "%s must be finite and >= 0, got %g" : "%s must be finite, got %g",
                    name, v);
}

// Runs f(i) for every element, in parallel chunks (each element independent).
template <class F>
void for_elements(int64_t count, F&& f) {
  const int64_t block = 1 << 15;
  parallel_for((count + block - 1) / block, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0 * block, end = std::min(count, b1 * block); i < end; i++) f(i);
  });
}

void sgd_cpu(int64_t count, float* p, const float* g, float* b, const gpu::SgdScalars& s) {
  const float lr = s.lr, wd = s.weight_decay, mu = s.momentum, keep = s.keep;
  for_elements(count, [&](int64_t i) {
    float pi = p[i], d = wd == 0 ? g[i] : g[i] + wd * pi;  // wd == 0 skips 0*p, as torch does
    if (mu != 0) {
      float bi = s.first ? d : mu * b[i] + keep * d;
      b[i] = bi;
      d = s.nesterov ? d + mu * bi : bi;
    }
    p[i] = pi - lr * d;
  });
}

void adam_cpu(int64_t count, float* p, const float* g, float* m, float* v, const gpu::AdamScalars& s) {
  for_elements(count, [&](int64_t i) {
    float pi = p[i] * s.decay;
    float gi = s.l2 == 0 ? g[i] : g[i] + s.l2 * pi;
    float mi = m[i] + s.a1 * (gi - m[i]);  // torch: exp_avg.lerp_(grad, 1 - beta1)
    float vi = s.b2 * v[i] + s.a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - s.step_size * (mi / (std::sqrt(vi) / s.bc2_sqrt + s.eps));
  });
}

}  // namespace
}  // namespace sepconv

using namespace sepconv;

extern "C" {

int sepconv_sgd_update(int exec, int64_t count, float* p, const float* g, float* momentum_buffer,
                       double lr, double momentum, double dampening, double weight_decay,
                       int nesterov, int64_t step) {
  return guarded([&] {
    Exec e = parse_exec(exec, "sgd_update");
    check_count(count, p, g);
    check_finite("lr", lr, true);
    check_finite("momentum", momentum, true);
    check_finite("dampening", dampening, false);
    check_finite("weight_decay", weight_decay, true);
    SEPCONV_CHECK_ARG(nesterov == 0 || nesterov == 1, "nesterov must be 0 or 1, got %d", nesterov);
    SEPCONV_CHECK_ARG(!nesterov || (momentum > 0 && dampening == 0),
                      "nesterov momentum needs momentum > 0 and dampening 0, got momentum %g, dampening %g",
                      momentum, dampening);
    SEPCONV_CHECK_ARG(step >= 1, "step must be >= 1, got %lld", (long long)step);
    if (momentum != 0)
      SEPCONV_CHECK_ARG(momentum_buffer, "momentum_buffer must not be NULL when momentum != 0");
    gpu::SgdScalars s{};
    s.lr = (float)lr;
    s.momentum = (float)momentum;
    s.keep = 1 - (float)dampening;
    s.weight_decay = (float)weight_decay;
    s.nesterov = nesterov == 1;
    s.first = step == 1;
    if (e.device == SEPCONV_DEVICE_CUDA)
      return SEPCONV_CUDA_CALL(sgd_update, count, p, g, momentum_buffer, s);
    sgd_cpu(count, p, g, momentum_buffer, s);
  });
}

int sepconv_adam_update(int exec, int64_t count, float* p, const float* g, float* exp_avg,
                        float* exp_avg_sq, double lr, double beta1, double beta2, double eps,
                        double weight_decay, int decoupled, int64_t step) {
  return guarded([&] {
    Exec e = parse_exec(exec, "adam_update");
    check_count(count, p, g);
    SEPCONV_CHECK_ARG(exp_avg, "exp_avg must not be NULL");
    SEPCONV_CHECK_ARG(exp_avg_sq, "exp_avg_sq must not be NULL");
    check_finite("lr", lr, true);
    SEPCONV_CHECK_ARG(beta1 >= 0 && beta1 < 1, "beta1 must be in [0, 1), got %g", beta1);
    SEPCONV_CHECK_ARG(beta2 >= 0 && beta2 < 1, "beta2 must be in [0, 1), got %g", beta2);
    check_finite("eps", eps, true);
    check_finite("weight_decay", weight_decay, true);
    SEPCONV_CHECK_ARG(decoupled == 0 || decoupled == 1, "decoupled must be 0 or 1, got %d", decoupled);
    SEPCONV_CHECK_ARG(step >= 1, "step must be >= 1, got %lld", (long long)step);
    gpu::AdamScalars s{};
    s.decay = decoupled ? (float)(1 - lr * weight_decay) : 1.0f;
    s.l2 = decoupled ? 0.0f : (float)weight_decay;
    s.a1 = (float)(1 - beta1);
    s.b2 = (float)beta2;
    s.a2 = (float)(1 - beta2);
    s.step_size = (float)(lr / (1 - std::pow(beta1, (double)step)));
    s.bc2_sqrt = (float)std::sqrt(1 - std::pow(beta2, (double)step));
    s.eps = (float)eps;
    if (e.device == SEPCONV_DEVICE_CUDA)
      return SEPCONV_CUDA_CALL(adam_update, count, p, g, exp_avg, exp_avg_sq, s);
    adam_cpu(count, p, g, exp_avg, exp_avg_sq, s);
  });
}

}  // extern "C"
