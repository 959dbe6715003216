// Pointwise (1x1) convolution, backward and forward: two builds of the library side by side in
// one process (dlopen of each, RTLD_LOCAL), alternating per shape, so that a change inside the
// library is measured against the build before it in the same run. Both are validated against
// the reference of build A (double accumulation) on 2 images.
//   LIB_A=path/to/old/libsepconv.so LIB_B=path/to/new/libsepconv.so THREADS=1 DEV_CPUTIME=1 \
//     native/dev/build/pointwise_ab [reps]
// Not linked against libsepconv (build.sh builds it with -ldl only, see the NO_LINK marker).
// NO_LINK
#include "../ab.h"
#include "../common.h"

using dev::Lib;
using dev::ok;

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 3;
  const int threads = std::getenv("THREADS") ? std::atoi(std::getenv("THREADS")) : 1;
  Lib A(std::getenv("LIB_A")), B(std::getenv("LIB_B"));
  ok(A.set_threads(threads), "threads A"), ok(B.set_threads(threads), "threads B");
  dev::Pool pool(threads);
  struct S { int c, hw, oc; };
  const S shapes[] = {{16, 32, 96}, {96, 32, 24}, {144, 32, 24}, {24, 32, 144}, {144, 16, 32}, {192, 16, 32},
                      {32, 16, 192}, {192, 8, 64}, {64, 8, 384}, {384, 8, 64}, {384, 8, 96}, {96, 8, 576},
                      {576, 8, 96}, {576, 4, 160}, {160, 4, 960}, {960, 4, 160}, {960, 4, 320}, {320, 4, 1280},
                      {256, 4, 512}, {512, 4, 512}, {512, 2, 1024}, {1024, 2, 1024}};
  std::printf("threads %d; ms (best), %% of the FMA peak measured in the run\n", threads);
  std::printf("%-16s | %-25s | %-25s | %-25s | err B data, weight\n", "shape", "fwd A  B", "data A  B", "weight A  B");
  for (const S& s : shapes) {
    const int n = 64;
    sepconv_conv2d d{n, s.c, s.hw, s.hw, s.oc, 1, 1, 1, 1, 0, 0, 1, 1, 1};
    const size_t nx = (size_t)n * s.c * s.hw * s.hw, ny = (size_t)n * s.oc * s.hw * s.hw, nw = (size_t)s.oc * s.c;
    std::vector<float> x(nx), w(nw), dy(ny), y(ny), dx(nx), dw(nw);
    dev::fill(x, 1), dev::fill(w, 2), dev::fill(dy, 3);
    // validation on 2 images: B against A's reference
    double ed, ew;
    {
      sepconv_conv2d d2 = d;
      d2.n = 2;
      const size_t px = nx / 32, py = ny / 32;
      std::vector<float> rdx(px), bdx(px), rdw(nw, 0.0f), bdw(nw, 0.0f);
      ok(A.bwd(SEPCONV_EXEC(0, SEPCONV_ALGO_REFERENCE), &d2, SEPCONV_GRAD_INPUT | SEPCONV_GRAD_WEIGHT, x.data(), w.data(), dy.data(), rdx.data(), rdw.data(), nullptr), "ref");
      ok(B.bwd(0, &d2, SEPCONV_GRAD_INPUT | SEPCONV_GRAD_WEIGHT, x.data(), w.data(), dy.data(), bdx.data(), bdw.data(), nullptr), "B");
      (void)py;
      ed = dev::rel_err(bdx, rdx), ew = dev::rel_err(bdw, rdw);
    }
    double pk = 0, t[2][3];
    for (auto& r : t) r[0] = r[1] = r[2] = 1e9;
    for (int round = 0; round < 3; round++) {
      pk = std::max(pk, dev::fma_peak(pool, 0.05));
      for (int l = 0; l < 2; l++) {
        Lib& L = l ? B : A;
        t[l][0] = std::min(t[l][0], dev::time_best(reps, [&] { ok(L.fwd(0, &d, x.data(), w.data(), nullptr, y.data()), "fwd"); }));
        t[l][1] = std::min(t[l][1], dev::time_best(reps, [&] { ok(L.bwd(0, &d, SEPCONV_GRAD_INPUT, x.data(), w.data(), dy.data(), dx.data(), nullptr, nullptr), "data"); }));
        t[l][2] = std::min(t[l][2], dev::time_best(reps, [&] { ok(L.bwd(0, &d, SEPCONV_GRAD_WEIGHT, x.data(), w.data(), dy.data(), nullptr, dw.data(), nullptr), "weight"); }));
      }
    }
    const double gf = 2.0 * n * s.hw * s.hw * s.c * s.oc / 1e9;
    char name[64];
    std::snprintf(name, sizeof name, "%d>%d@%d", s.c, s.oc, s.hw);
    std::printf("%-16s |", name);
    for (int k = 0; k < 3; k++)
      std::printf(" %5.2f %3.0f%% %5.2f %3.0f%% |", t[0][k] * 1e3, 100 * gf / t[0][k] / pk, t[1][k] * 1e3, 100 * gf / t[1][k] / pk);
    std::printf(" %.1e %.1e\n", ed, ew);
  }
}
