// The forward register tile alone on L1-resident data (no packing, no transposes): the ceiling
// that the packing and write-out around it are measured against.
#include "direct.inc"

int main1() {
  Pool pool(1);
  const double peak = dev::fma_peak(pool, 0.3);
  const int W = 16, WP = W + 2;
  float *x = aligned(3 * WP * CB + 64), *w = aligned(9 * CB * 64), *buf = aligned(4 * W * CB * 4);
  for (int i = 0; i < 3 * WP * CB + 64; i++) x[i] = 0.001f * (i % 97);
  for (int i = 0; i < 9 * CB * 64; i++) w[i] = 0.001f * (i % 89);
  const int64_t iters = 200000;
  double t0 = dev::now();
  for (int64_t it = 0; it < iters; it++)
    for (int ox = 0; ox < W; ox += 4) tile<4, 4, 1, 3, 3>(x + ox * CB, WP * CB, 0, 1, w, buf + ox * CB, W * CB, it == 0);
  const double t = dev::now() - t0, flops = 2.0 * iters * W * 64 * CB * 9;
  std::printf("tile<4,4,1,3,3>: %.1f GFLOP/s = %.1f%% of the measured %.1f (checksum %g)\n", flops / t / 1e9,
              100 * flops / t / 1e9 / peak, peak, (double)buf[5]);
  return 0;
}

// The backward-weight tile on L1-resident chunks of 64 pixels, by row width.
int main2() {
  Pool pool(1);
  const double peak = dev::fma_peak(pool, 0.3);
  for (int ow : {4, 8, 16, 32}) {
    const int rows = 64 / ow, wp = ow + 2, hp = rows + 2;
    float *dy = aligned(4 * 64 * CB), *x = aligned(hp * wp * CB), *acc = aligned(4 * 4 * CB);
    for (int i = 0; i < 4 * 64 * CB; i++) dy[i] = 0.001f * (i % 97);
    for (int i = 0; i < hp * wp * CB; i++) x[i] = 0.001f * (i % 89);
    std::memset(acc, 0, 4 * 4 * CB * 4);
    const int64_t iters = 400000;
    double t0 = dev::now();
    for (int64_t it = 0; it < iters; it++)
      wtile<4, 1>(dy, 64 * CB, 0, ow * CB, x + (it & 3) * 4, wp * CB, 0, 1, rows, ow, acc);
    const double t = dev::now() - t0, flops = 2.0 * iters * 64 * 64 * 4;
    std::printf("wtile<4,1> ow %2d: %.1f GFLOP/s = %.1f%% of %.1f (checksum %g)\n", ow, flops / t / 1e9,
                100 * flops / t / 1e9 / peak, peak, (double)acc[3]);
  }
  return 0;
}
int main() { main1(); return main2(); }
