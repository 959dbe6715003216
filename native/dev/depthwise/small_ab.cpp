// Depthwise 3x3 on small planes, all three directions: two library builds side by side (see
// ../ab.h), alternating, best of `reps`, GB/s of compulsory bytes; B validated against A's
// double reference on 2 images.
//   LIB_A=old.so LIB_B=new.so THREADS=1 DEV_CPUTIME=1 native/dev/build/depthwise_small_ab [reps]
// NO_LINK
#include "../ab.h"
#include "../common.h"

using dev::Lib;
using dev::ok;

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  const int threads = std::getenv("THREADS") ? std::atoi(std::getenv("THREADS")) : 1;
  Lib A(std::getenv("LIB_A")), B(std::getenv("LIB_B"));
  ok(A.set_threads(threads), "threads A"), ok(B.set_threads(threads), "threads B");
  struct S { int c, hw, s; };
  const S shapes[] = {{384, 8, 1}, {576, 8, 1}, {576, 8, 2}, {960, 4, 1}, {512, 4, 1}, {512, 4, 2}, {1024, 2, 1}, {256, 8, 2}};
  std::printf("threads %d; ms (best); GB/s of x + y (fwd), dy + dx (data), x + dy (weight)\n", threads);
  std::printf("%-12s | %-25s | %-25s | %-25s | err B fwd data weight\n", "shape", "fwd A  B", "data A  B", "weight A  B");
  for (const S& s : shapes) {
    const int n = 64, o = (s.hw - 1) / s.s + 1;
    sepconv_conv2d d{n, s.c, s.hw, s.hw, s.c, 3, 3, s.s, s.s, 1, 1, 1, 1, s.c};
    const size_t nx = (size_t)n * s.c * s.hw * s.hw, ny = (size_t)n * s.c * o * o, nw = (size_t)s.c * 9;
    std::vector<float> x(nx), w(nw), b(s.c), dy(ny), y(ny), dx(nx), dw(nw);
    dev::fill(x, 1), dev::fill(w, 2), dev::fill(dy, 3), dev::fill(b, 4);
    double e[3];
    {
      sepconv_conv2d d2 = d;
      d2.n = 2;
      const size_t px = nx / 32, py = ny / 32;
      std::vector<float> ry(py), by(py), rdx(px), bdx(px), rdw(nw, 0.5f), bdw(nw, 0.5f);
      ok(A.fwd(SEPCONV_EXEC(0, SEPCONV_ALGO_REFERENCE), &d2, x.data(), w.data(), b.data(), ry.data()), "ref fwd");
      ok(B.fwd(0, &d2, x.data(), w.data(), b.data(), by.data()), "B fwd");
      ok(A.bwd(SEPCONV_EXEC(0, SEPCONV_ALGO_REFERENCE), &d2, SEPCONV_GRAD_INPUT | SEPCONV_GRAD_WEIGHT, x.data(), w.data(), dy.data(), rdx.data(), rdw.data(), nullptr), "ref bwd");
      ok(B.bwd(0, &d2, SEPCONV_GRAD_INPUT | SEPCONV_GRAD_WEIGHT, x.data(), w.data(), dy.data(), bdx.data(), bdw.data(), nullptr), "B bwd");
      e[0] = dev::rel_err(by, ry), e[1] = dev::rel_err(bdx, rdx), e[2] = dev::rel_err(bdw, rdw);
    }
    double t[2][3];
    for (auto& r : t) r[0] = r[1] = r[2] = 1e9;
    for (int round = 0; round < 3; round++)
      for (int l = 0; l < 2; l++) {
        Lib& L = l ? B : A;
        t[l][0] = std::min(t[l][0], dev::time_best(reps, [&] { ok(L.fwd(0, &d, x.data(), w.data(), b.data(), y.data()), "fwd"); }));
        t[l][1] = std::min(t[l][1], dev::time_best(reps, [&] { ok(L.bwd(0, &d, SEPCONV_GRAD_INPUT, x.data(), w.data(), dy.data(), dx.data(), nullptr, nullptr), "data"); }));
        t[l][2] = std::min(t[l][2], dev::time_best(reps, [&] { ok(L.bwd(0, &d, SEPCONV_GRAD_WEIGHT, x.data(), w.data(), dy.data(), nullptr, dw.data(), nullptr), "weight"); }));
      }
    const double gb = (nx + ny) * 4.0 / 1e9;
    char name[64];
    std::snprintf(name, sizeof name, "%d@%d s%d", s.c, s.hw, s.s);
    std::printf("%-12s |", name);
    for (int k = 0; k < 3; k++)
      std::printf(" %5.3f %4.1f %5.3f %4.1f |", t[0][k] * 1e3, gb / t[0][k], t[1][k] * 1e3, gb / t[1][k]);
    std::printf(" %.1e %.1e %.1e\n", e[0], e[1], e[2]);
  }
}
