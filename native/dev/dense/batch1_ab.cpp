// Dense 3x3 forward at small batches (inference latency): two library builds side by side
// (dlopen of each), alternating, wall time over all threads, best of `reps`; B validated against
// A's double reference.
//   LIB_A=old.so LIB_B=new.so THREADS=2 native/dev/build/dense_batch1_ab [reps] [batch]
// NO_LINK
#include "../ab.h"
#include "../common.h"

using dev::Lib;
using dev::ok;

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 20, n = argc > 2 ? std::atoi(argv[2]) : 1;
  const int threads = std::getenv("THREADS") ? std::atoi(std::getenv("THREADS")) : 2;
  Lib A(std::getenv("LIB_A")), B(std::getenv("LIB_B"));
  ok(A.set_threads(threads), "threads A"), ok(B.set_threads(threads), "threads B");
  struct S { int c, hw, oc, s; };
  const S shapes[] = {{64, 32, 64, 1}, {64, 32, 128, 2}, {128, 16, 128, 1}, {128, 16, 256, 2},
                      {256, 8, 256, 1}, {256, 8, 512, 2}, {512, 4, 512, 1}};
  std::printf("batch %d, %d threads, ms (best of %d)\n%-16s %9s %9s %7s  err B\n", n, threads, reps, "shape", "A", "B", "A/B");
  for (const S& s : shapes) {
    sepconv_conv2d d{n, s.c, s.hw, s.hw, s.oc, 3, 3, s.s, s.s, 1, 1, 1, 1, 1};
    const int o = (s.hw - 1) / s.s + 1;
    std::vector<float> x((size_t)n * s.c * s.hw * s.hw), w((size_t)s.oc * s.c * 9), y((size_t)n * s.oc * o * o), ref(y.size());
    dev::fill(x, 1), dev::fill(w, 2);
    ok(A.fwd(SEPCONV_EXEC(0, SEPCONV_ALGO_REFERENCE), &d, x.data(), w.data(), nullptr, ref.data()), "ref");
    ok(B.fwd(0, &d, x.data(), w.data(), nullptr, y.data()), "B");
    const double err = dev::rel_err(y, ref);
    double ta = 1e9, tb = 1e9;
    for (int round = 0; round < 3; round++) {
      ta = std::min(ta, dev::time_best(reps, [&] { ok(A.fwd(0, &d, x.data(), w.data(), nullptr, y.data()), "A"); }));
      tb = std::min(tb, dev::time_best(reps, [&] { ok(B.fwd(0, &d, x.data(), w.data(), nullptr, y.data()), "B"); }));
    }
    char name[64];
    std::snprintf(name, sizeof name, "%d>%d@%d s%d", s.c, s.oc, s.hw, s.s);
    std::printf("%-16s %9.3f %9.3f %6.2fx  %.1e\n", name, ta * 1e3, tb * 1e3, ta / tb, err);
  }
}
