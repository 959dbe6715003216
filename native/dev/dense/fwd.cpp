// Dense convolution, forward: numbered versions, each validated against the library's
// double-accumulating reference (first 2 images) and timed side by side, GFLOP/s and % of the
// FMA peak measured in the same run.
//   v1  the library (SEPCONV_ALGO_AUTO): im2col / fused-packing GEMM in task mode
//   v2  (retired, see bench/notes/dense-direct.md) direct convolution on a blocked copy of the
//       whole batch packed in one pass
//   v3  direct.inc's direct_forward: x packed per unit (image group) into L2, accumulators in
//       L1 bands, several input blocks per tile call when the kernel has few taps
// Build and run: native/dev/build.sh, then THREADS=1 DEV_CPUTIME=1 native/dev/build/dense_fwd
#include "direct.inc"

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 3;
  const int threads = std::getenv("THREADS") ? std::atoi(std::getenv("THREADS")) : 2;
  const char* blas = std::getenv("SEPCONV_DEV_BLAS");
  if (blas) dev::check(sepconv_blas_attach(blas), "blas");
  dev::check(sepconv_set_num_threads(threads), "threads");
  Pool pool(threads);
  std::printf("threads %d, isa %d, blas %d\n", threads, sepconv_cpu_isa(), sepconv_blas_attached());
  struct Case { const char* name; Geom g; };
  std::vector<Case> cases = {
      {"3x3 64@32", make(64, 64, 32, 64, 3, 1)},   {"3x3 128@16", make(64, 128, 16, 128, 3, 1)},
      {"3x3 256@8", make(64, 256, 8, 256, 3, 1)},  {"3x3 512@4", make(64, 512, 4, 512, 3, 1)},
      {"3x3 64>128 s2", make(64, 64, 32, 128, 3, 2)}, {"3x3 128>256 s2", make(64, 128, 16, 256, 3, 2)},
      {"3x3 256>512 s2", make(64, 256, 8, 512, 3, 2)}, {"1x1 64>128 s2", make(64, 64, 32, 128, 1, 2)},
      {"1x1 256>512 s2", make(64, 256, 8, 512, 1, 2)}, {"1x1 576>96@4", make(64, 576, 4, 96, 1, 1)},
  };
  constexpr int OB = 4, PIX = 4;
  std::printf("%-15s %9s %6s %9s %6s  %s\n", "shape", "v1 ms", "%pk", "v3 ms", "%pk", "errors");
  for (auto& cs : cases) {
    const Geom& g = cs.g;
    if (g.oc % (OB * CB)) {
      std::printf("%-15s (c_out not a multiple of %d: v3 n/a)\n", cs.name, OB * CB);
      continue;
    }
    std::vector<float> x((size_t)g.n * g.c * g.h * g.w), w((size_t)g.oc * g.c * g.k * g.k),
        y1((size_t)g.n * g.oc * g.oh * g.ow), y3(y1.size()), ref((size_t)2 * g.oc * g.oh * g.ow);
    dev::fill(x, 1), dev::fill(w, 2);
    sepconv_conv2d d = desc(g);
    {
      Geom g2 = g;
      g2.n = 2;
      sepconv_conv2d d2 = desc(g2);
      dev::check(sepconv_conv2d_forward(SEPCONV_EXEC(0, SEPCONV_ALGO_REFERENCE), &d2, x.data(), w.data(), nullptr, ref.data()), "ref");
    }
    float* wpk = aligned(w.size());
    Scratch sc;
    double t1 = 1e9, t3 = 1e9, pk = 0;
    for (int round = 0; round < 3; round++) {
      pk = std::max(pk, dev::fma_peak(pool, 0.1));
      t1 = std::min(t1, dev::time_best(reps, [&] {
        dev::check(sepconv_conv2d_forward(0, &d, x.data(), w.data(), nullptr, y1.data()), "v1");
      }));
      std::fill(y3.begin(), y3.end(), NAN);
      t3 = std::min(t3, dev::time_best(reps, [&] {
        pack_w_forward<OB>(g, w.data(), wpk, pool);
        direct_forward<OB, PIX>(g, x.data(), wpk, y3.data(), pool, sc);
      }));
    }
    std::free(wpk);
    std::vector<float> h1(y1.begin(), y1.begin() + ref.size()), h3(y3.begin(), y3.begin() + ref.size());
    const double gf = g.flops() / 1e9;
    std::printf("%-15s %9.2f %5.1f%% %9.2f %5.1f%%  v1 %.1e v3 %.1e, v3 vs v1 %.1e (peak %.0f)\n", cs.name, t1 * 1e3,
                100 * gf / t1 / pk, t3 * 1e3, 100 * gf / t3 / pk, dev::rel_err(h1, ref), dev::rel_err(h3, ref),
                dev::rel_err(y3, y1), pk);
  }
}
