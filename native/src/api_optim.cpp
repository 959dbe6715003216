// Entry points of the optimizer updates (see optim.h): validate, then run one fused pass per
// parameter tensor. Also the float scalars of the fast kernels, prepared in double as torch
// (and org.sepconv.optim) does; CPU and CUDA kernels both take them from here.
#include <cmath>

#include "cuda_backend.h"
#include "dispatch.h"

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

SEPCONV_TABLE(sgd_update, "sgd_update");
SEPCONV_TABLE(adam_update, "adam_update");

}  // namespace

// The scalars must be the Java optimizers' to the bit: no step contracted into an FMA (see
// kernels/optim_kernels.cpp). This file is built for the baseline ISA, which has none, but the
// rule should not depend on the flags a build happens to use.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
SgdScalars sgd_scalars(const SgdParams& h) {
  SgdScalars s{};
  s.lr = (float)h.lr;
  s.momentum = (float)h.momentum;
  s.keep = 1 - (float)h.dampening;
  s.weight_decay = (float)h.weight_decay;
  s.nesterov = h.nesterov;
  s.first = h.step == 1;
  return s;
}

AdamScalars adam_scalars(const AdamParams& h) {
  AdamScalars s{};
  s.decay = h.decoupled ? (float)(1 - h.lr * h.weight_decay) : 1.0f;
  s.l2 = h.decoupled ? 0.0f : (float)h.weight_decay;
  s.a1 = (float)(1 - h.beta1);
  s.b2 = (float)h.beta2;
  s.a2 = (float)(1 - h.beta2);
  s.step_size = (float)(h.lr / (1 - std::pow(h.beta1, (double)h.step)));
  s.bc2_sqrt = (float)std::sqrt(1 - std::pow(h.beta2, (double)h.step));
  s.eps = (float)h.eps;
  return s;
}
#pragma GCC pop_options

}  // namespace sepconv

using namespace sepconv;

extern "C" {

int sepconv_sgd_update(int exec, int64_t count, float* p, const float* g, float* momentum_buffer,
                       double lr, double momentum, double dampening, double weight_decay,
                       int nesterov, int64_t step) {
  return guarded([&] {
    Exec e = parse_exec(exec, sgd_update_table);
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
    const SgdParams h{lr, momentum, dampening, weight_decay, nesterov == 1, step};
    dispatch(e, sgd_update_table, count, p, g, momentum_buffer, h);
  });
}

int sepconv_adam_update(int exec, int64_t count, float* p, const float* g, float* exp_avg,
                        float* exp_avg_sq, double lr, double beta1, double beta2, double eps,
                        double weight_decay, int decoupled, int64_t step) {
  return guarded([&] {
    Exec e = parse_exec(exec, adam_update_table);
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
    const AdamParams h{lr, beta1, beta2, eps, weight_decay, decoupled == 1, step};
    dispatch(e, adam_update_table, count, p, g, exp_avg, exp_avg_sq, h);
  });
}

}  // extern "C"
