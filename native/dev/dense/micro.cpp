// Micro-kernel ceiling: the forward register tile on L1/L2-resident data, no packing, to
// separate the kernel's own efficiency from the packing and transposes around it.
#include "fwd_kernel.inc"

int main() {
  dev::Pool pool(1);
  const double peak = dev::fma_peak(pool, 0.3);
  const int W = 16, WP = W + 2;
  std::vector<float> x(3 * WP * 16 + 64), w(9 * 16 * 64), buf(4 * W * 16 * 4);
  dev::fill(x, 1), dev::fill(w, 2);
  float *xa = aligned(x.size()), *wa = aligned(w.size()), *ba = aligned(buf.size());
  std::memcpy(xa, x.data(), x.size() * 4), std::memcpy(wa, w.data(), w.size() * 4);
  for (int v = 0; v < 4; v++) {
    const int64_t iters = 200000;
    double t0 = dev::now();
    for (int64_t it = 0; it < iters; it++) {
      switch (v) {
        case 0: for (int ox = 0; ox < W; ox += 4) tile<4, 4, 1, 3>(xa + ox * 16, WP * 16, wa, ba + ox * 16, W * 16, it == 0); break;
        case 1: for (int ox = 0; ox < W; ox += 8) tile<2, 8, 1, 3>(xa + ox * 16, WP * 16, wa, ba + ox * 16, W * 16, it == 0); break;
        case 2: for (int ox = 0; ox < W; ox += 6) if (ox + 6 <= W) tile<4, 6, 1, 3>(xa + ox * 16, WP * 16, wa, ba + ox * 16, W * 16, it == 0); break;
        case 3: for (int ox = 0; ox < W; ox += 4) tile<4, 4, 2, 3>(xa, WP * 16, wa, ba + ox * 16, W * 16, it == 0); break;
      }
    }
    double t = dev::now() - t0;
    const int pix = v == 2 ? 12 : 16;
    const double flops = 2.0 * iters * pix * 64 * 16 * 9;
    std::printf("variant %d: %.1f GFLOP/s = %.1f%% of %.1f\n", v, flops / t / 1e9, 100 * flops / t / 1e9 / peak, peak);
  }
  std::printf("%g\n", (double)ba[5]);
}
