// Fast optimizer updates (see optim.h), compiled once per ISA: plain float loops over fixed
// blocks of elements, in parallel (every element is independent), that the compiler vectorises
// for the ISA. Lane-wise IEEE operations give the same bits at every vector width.
#include <cmath>

#include "../optim.h"

// No fused multiply-add in this file. The AVX2 and AVX-512 builds have FMA and GCC contracts
// a*b + c into one by default (-ffp-contract=fast), which rounds once where torch rounds twice.
// The pragma gives every function defined below -ffp-contract=off; GCC does not inline a
// function with its own optimize options into one with other options, so the loops cannot be
// contracted elsewhere either. (Checked with objdump: no vfmadd in the AVX2/AVX-512 objects.)
// Keep this file to the two update loops.
#pragma GCC optimize("fp-contract=off")

namespace sepconv {
namespace SEPCONV_ISA_NS {

namespace {
constexpr int64_t kBlock = 1 << 15;  // elements per parallel task
int64_t blocks(int64_t count) { return (count + kBlock - 1) / kBlock; }
int64_t block_end(int64_t b, int64_t count) { return b * kBlock < count ? b * kBlock : count; }

// Adam over [i0, i1). L2 (weight decay added to the gradient, torch's Adam) is a template
// argument so that the loop has no branch and vectorises.
template <bool L2>
void adam_block(int64_t i0, int64_t i1, float* p, const float* g, float* m, float* v,
                const AdamScalars s) {
  for (int64_t i = i0; i < i1; i++) {
    float pi = p[i] * s.decay;
    float gi = L2 ? g[i] + s.l2 * pi : g[i];
    float mi = m[i] + s.a1 * (gi - m[i]);  // torch: exp_avg.lerp_(grad, 1 - beta1)
    float vi = s.b2 * v[i] + s.a2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - s.step_size * (mi / (std::sqrt(vi) / s.bc2_sqrt + s.eps));
  }
}
}  // namespace

void sgd_update(int64_t count, float* p, const float* g, float* b, const SgdParams& h) {
  const SgdScalars s = sgd_scalars(h);
  // the scalars by value: through references they might alias p and b (no hoisting)
  parallel_for(blocks(count), [&, s](int64_t b0, int64_t b1) {
    const float lr = s.lr, wd = s.weight_decay, mu = s.momentum, keep = s.keep;
    for (int64_t i = b0 * kBlock, end = block_end(b1, count); i < end; i++) {
      float pi = p[i], d = wd == 0 ? g[i] : g[i] + wd * pi;  // wd == 0 skips 0*p, as torch does
      if (mu != 0) {
        float bi = s.first ? d : mu * b[i] + keep * d;
        b[i] = bi;
        d = s.nesterov ? d + mu * bi : bi;
      }
      p[i] = pi - lr * d;
    }
  });
}

void adam_update(int64_t count, float* p, const float* g, float* m, float* v,
                 const AdamParams& h) {
  const AdamScalars s = adam_scalars(h);
  parallel_for(blocks(count), [&, s](int64_t b0, int64_t b1) {
    const int64_t i0 = b0 * kBlock, i1 = block_end(b1, count);
    if (s.l2 == 0) adam_block<false>(i0, i1, p, g, m, v, s);
    else adam_block<true>(i0, i1, p, g, m, v, s);
  });
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
