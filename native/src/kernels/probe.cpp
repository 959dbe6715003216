// The per-thread loops of sepconv_cpu_probe (see probe.h), compiled once per ISA, so that the
// peak is measured at the vector width the kernels of the active ISA use.
#include "../probe.h"
#include "simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

namespace {
// Enough independent chains to cover the multiply-add latency (4 cycles) on two pipes, and
// few enough to stay in registers with the two constants: 32 zmm, 16 ymm / xmm registers.
constexpr int kChains = VL == 16 ? 16 : 12;
}  // namespace

double fma_chains(int64_t rounds, float* sink) {
  vf acc[kChains];
  for (int c = 0; c < kChains; c++) acc[c] = vset(0.01f * (float)(c + 1));
  // acc = acc * m + a converges to a / (1 - m) = 10: no overflow, no denormals
  const vf m = vset(0.9999f), a = vset(0.001f);
  for (int64_t r = 0; r < rounds; r++)
    for (int c = 0; c < kChains; c++) acc[c] = vfma(acc[c], m, a);
  vf s = acc[0];
  for (int c = 1; c < kChains; c++) s = vadd(s, acc[c]);
  *sink = vsum(s);
  return 2.0 * VL * kChains * (double)rounds;
}

void stream_copy(const float* src, float* dst, int64_t count) {
  for (int64_t i = 0; i < count; i += 4 * VL) {
    vf v0 = vld(src + i), v1 = vld(src + i + VL), v2 = vld(src + i + 2 * VL), v3 = vld(src + i + 3 * VL);
    vst_nt(dst + i, v0);
    vst_nt(dst + i + VL, v1);
    vst_nt(dst + i + 2 * VL, v2);
    vst_nt(dst + i + 3 * VL, v3);
  }
  nt_fence();
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
