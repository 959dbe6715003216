// Dense convolution, backward: numbered versions validated against the library's reference
// (in double, on a 3-image batch) and timed side by side at batch 64.
//   v1  the library (SEPCONV_ALGO_AUTO), backward data and backward weight as separate calls
//   v2  direct.inc: data by the forward tile (stride 1) or four phase convolutions (stride 2),
//       weight by the OB x 4 tile over L1 chunks of blocked dy and x
// Build and run: native/dev/build.sh, then THREADS=1 DEV_CPUTIME=1 native/dev/build/dense_bwd
#include "direct.inc"

namespace {
constexpr int OB = 4, PIX = 4;

struct V2 {
  Geom g;
  Scratch sc;
  float *wd[4] = {nullptr, nullptr, nullptr, nullptr}, *dyb = nullptr, *xb = nullptr;
  explicit V2(const Geom& g_) : g(g_) {
    for (auto& p : wd) p = aligned((size_t)g.oc * g.c * 9);
    dyb = aligned((size_t)g.n * g.oc * g.oh * g.ow);
    xb = aligned((size_t)g.n * g.c * (g.h + 2 * g.p) * (g.w + 2 * g.p));
  }
  ~V2() {
    for (auto p : wd) std::free(p);
    std::free(dyb), std::free(xb);
  }
  void data(const float* w, const float* dy, float* dx, Pool& pool) {
    if (g.s == 1) {
      int flipped[9];
      for (int t = 0; t < 9; t++) flipped[t] = 8 - t;
      pack_w_data<OB>(g, w, flipped, 9, wd[0], pool);
      Geom gd{g.n, g.oc, g.oh, g.ow, g.c, 3, 1, 1, g.h, g.w};
      direct_forward<OB, PIX>(gd, dy, wd[0], dx, pool, sc);
    } else {
      for (int q = 0; q < 4; q++) {
        Phase ph = phase(q / 2, q % 2);
        pack_w_data<OB>(g, w, ph.taps, ph.ntaps, wd[q], pool);
      }
      const float* const w4[4] = {wd[0], wd[1], wd[2], wd[3]};
      data_stride2<OB, PIX>(g, dy, w4, dx, pool, sc);
    }
  }
  double tpack = 0, tkern = 0;
  void weight(const float* x, const float* dy, float* dw, Pool& pool) {
    double t0 = dev::now();
    const int ocbn = g.oc / CB, icbn = g.c / CB, hp = g.h + 2 * g.p, wp = g.w + 2 * g.p;
    const int64_t P = (int64_t)g.oh * g.ow;
    pool.run((int64_t)g.n * (ocbn + icbn), [&](int64_t u, int) {
      const int n = (int)(u / (ocbn + icbn)), b = (int)(u % (ocbn + icbn));
      if (b < ocbn)
        pack_block(dy + ((int64_t)n * g.oc + b * CB) * P, g.oh, g.ow, 0, 0, g.oh, g.ow,
                   dyb + ((int64_t)n * ocbn + b) * P * CB);
      else
        pack_block(x + ((int64_t)n * g.c + (b - ocbn) * CB) * g.h * g.w, g.h, g.w, g.p, g.p, hp, wp,
                   xb + ((int64_t)n * icbn + (b - ocbn)) * hp * wp * CB);
    });
    double t1 = dev::now();
    backward_weight<OB>(g, dyb, xb, dw, pool);
    tpack += t1 - t0, tkern += dev::now() - t1;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 3;
  const int threads = std::getenv("THREADS") ? std::atoi(std::getenv("THREADS")) : 2;
  dev::check(sepconv_set_num_threads(threads), "threads");
  Pool pool(threads);
  std::printf("threads %d, isa %d\n", threads, sepconv_cpu_isa());
  struct Case { const char* name; Geom g; };
  std::vector<Case> cases = {
      {"3x3 64@32", make(64, 64, 32, 64, 3, 1)},       {"3x3 128@16", make(64, 128, 16, 128, 3, 1)},
      {"3x3 256@8", make(64, 256, 8, 256, 3, 1)},      {"3x3 512@4", make(64, 512, 4, 512, 3, 1)},
      {"3x3 64>128 s2", make(64, 64, 32, 128, 3, 2)},  {"3x3 128>256 s2", make(64, 128, 16, 256, 3, 2)},
      {"3x3 256>512 s2", make(64, 256, 8, 512, 3, 2)},
  };
  std::printf("%-15s | %-28s | %-28s | errors vs reference (3 images)\n", "shape", "data: v1 ms %pk, v2 ms %pk", "weight: v1 ms %pk, v2 ms %pk");
  for (auto& cs : cases) {
    // validation on 3 images against the double reference
    double ed, ew;
    {
      Geom g = cs.g;
      g.n = 3;
      std::vector<float> x((size_t)g.n * g.c * g.h * g.w), w((size_t)g.oc * g.c * 9), dy((size_t)g.n * g.oc * g.oh * g.ow);
      dev::fill(x, 1), dev::fill(w, 2), dev::fill(dy, 3);
      std::vector<float> dx(x.size()), rdx(x.size()), dw(w.size()), rdw(w.size());
      dev::fill(dw, 4);
      rdw = dw;
      sepconv_conv2d d = desc(g);
      dev::check(sepconv_conv2d_backward(SEPCONV_EXEC(0, SEPCONV_ALGO_REFERENCE), &d, SEPCONV_GRAD_INPUT | SEPCONV_GRAD_WEIGHT,
                                         x.data(), w.data(), dy.data(), rdx.data(), rdw.data(), nullptr), "ref");
      V2 v(g);
      std::fill(dx.begin(), dx.end(), NAN);
      v.data(w.data(), dy.data(), dx.data(), pool);
      v.weight(x.data(), dy.data(), dw.data(), pool);
      ed = dev::rel_err(dx, rdx), ew = dev::rel_err(dw, rdw);
    }
    const Geom& g = cs.g;
    std::vector<float> x((size_t)g.n * g.c * g.h * g.w), w((size_t)g.oc * g.c * 9), dy((size_t)g.n * g.oc * g.oh * g.ow);
    dev::fill(x, 1), dev::fill(w, 2), dev::fill(dy, 3);
    std::vector<float> dx1(x.size()), dx2(x.size()), dw1(w.size(), 0.0f), dw2(w.size(), 0.0f);
    sepconv_conv2d d = desc(g);
    V2 v(g);
    double pk = 0, td1 = 1e9, td2 = 1e9, tw1 = 1e9, tw2 = 1e9;
    for (int round = 0; round < 2; round++) {
      pk = std::max(pk, dev::fma_peak(pool, 0.1));
      td1 = std::min(td1, dev::time_best(reps, [&] {
        dev::check(sepconv_conv2d_backward(0, &d, SEPCONV_GRAD_INPUT, x.data(), w.data(), dy.data(), dx1.data(), nullptr, nullptr), "v1 data");
      }));
      td2 = std::min(td2, dev::time_best(reps, [&] { v.data(w.data(), dy.data(), dx2.data(), pool); }));
      std::fill(dw1.begin(), dw1.end(), 0.0f);
      tw1 = std::min(tw1, dev::time_best(reps, [&] {
        dev::check(sepconv_conv2d_backward(0, &d, SEPCONV_GRAD_WEIGHT, x.data(), w.data(), dy.data(), nullptr, dw1.data(), nullptr), "v1 weight");
      }));
      std::fill(dw2.begin(), dw2.end(), 0.0f);
      tw2 = std::min(tw2, dev::time_best(reps, [&] { v.weight(x.data(), dy.data(), dw2.data(), pool); }));
    }
    const double gf = g.flops() / 1e9;
    std::printf("    weight: pack %.0f%%\n", 100 * v.tpack / (v.tpack + v.tkern));
    std::printf("%-15s | %7.2f %5.1f%% %7.2f %5.1f%% | %7.2f %5.1f%% %7.2f %5.1f%% | dx %.1e dw %.1e; v2 vs v1 dx %.1e dw %.1e (peak %.0f)\n", cs.name,
                td1 * 1e3, 100 * gf / td1 / pk, td2 * 1e3, 100 * gf / td2 / pk, tw1 * 1e3, 100 * gf / tw1 / pk,
                tw2 * 1e3, 100 * gf / tw2 / pk, ed, ew, dev::rel_err(dx2, dx1), dev::rel_err(dw2, dw1), pk);
  }
}
