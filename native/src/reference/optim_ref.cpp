// Naive references of the optimizer updates: torch.optim's formulas for one element at a time,
// in double from the double hyperparameters, rounded to float only where they store. They
// define the meaning of the fast kernels (which round every float step, as torch does for fp32
// parameters) up to that rounding.
#include <cmath>

#include "../optim.h"

namespace sepconv {

void ref_sgd_update(int64_t count, float* p, const float* g, float* momentum_buffer,
                    const SgdParams& h) {
  for (int64_t i = 0; i < count; i++) {
    double d = g[i];
    if (h.weight_decay != 0) d += h.weight_decay * p[i];
    if (h.momentum != 0) {
      double b = h.step == 1 ? d : h.momentum * momentum_buffer[i] + (1 - h.dampening) * d;
      momentum_buffer[i] = (float)b;
      d = h.nesterov ? d + h.momentum * b : b;
    }
    p[i] = (float)(p[i] - h.lr * d);
  }
}

void ref_adam_update(int64_t count, float* p, const float* g, float* exp_avg, float* exp_avg_sq,
                     const AdamParams& h) {
  const double bc1 = 1 - std::pow(h.beta1, (double)h.step);
  const double bc2 = 1 - std::pow(h.beta2, (double)h.step);
  for (int64_t i = 0; i < count; i++) {
    double pi = h.decoupled ? p[i] * (1 - h.lr * h.weight_decay) : p[i];
    double gi = h.decoupled ? g[i] : g[i] + h.weight_decay * pi;
    double m = exp_avg[i] + (1 - h.beta1) * (gi - exp_avg[i]);
    double v = h.beta2 * exp_avg_sq[i] + (1 - h.beta2) * gi * gi;
    exp_avg[i] = (float)m;
    exp_avg_sq[i] = (float)v;
    p[i] = (float)(pi - h.lr / bc1 * m / (std::sqrt(v) / std::sqrt(bc2) + h.eps));
  }
}

}  // namespace sepconv
