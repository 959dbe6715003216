#include "fwd_kernel.inc"

using dev::Pool;

namespace {
template <int OB, int PIX, int S>
void row_tiles(const Geom& g, const float* x, int64_t xrow, const float* w, float* buf,
               int64_t ob_stride, bool first) {
  int ox = 0;
  for (; ox + PIX <= g.ow; ox += PIX)
    tile<OB, PIX, S, 3>(x + ox * S * CB, xrow, w, buf + ox * CB, ob_stride, first);
  switch (g.ow - ox) {
    case 0: break;
#define REM(r) \
  case r: if constexpr (r < PIX) tile<OB, r, S, 3>(x + ox * S * CB, xrow, w, buf + ox * CB, ob_stride, first); break;
    REM(1) REM(2) REM(3) REM(4) REM(5) REM(6) REM(7)
#undef REM
  }
}

template <int OB, int PIX>
struct V2 {
  Geom g;
  int hp, wp, cbn, tiles, group;
  float *xb, *wpk;
  std::vector<float*> bufs;
  V2(const Geom& g_, int threads) : g(g_) {
    hp = g.h + 2 * g.p, wp = g.w + 2 * g.p, cbn = g.c / CB, tiles = g.oc / (OB * CB);
    const int P = g.oh * g.ow;
    group = std::max(1, std::min(g.n, 128 / P));  // images per unit: >= 128 output pixels
    xb = aligned((size_t)g.n * cbn * hp * wp * CB);
    wpk = aligned((size_t)g.oc * g.c * g.k * g.k);
    for (int t = 0; t < threads; t++) bufs.push_back(aligned((size_t)OB * CB * group * P));
  }
  ~V2() {
    std::free(xb);
    std::free(wpk);
    for (float* b : bufs) std::free(b);
  }
  double tx = 0, tw = 0, tc = 0;
  void run(const float* x, const float* w, float* y, Pool& pool) {
    double t0 = dev::now();
    pack_x(g, x, xb, pool);
    double t1 = dev::now();
    pack_w<OB>(g, w, wpk, pool);
    double t2 = dev::now();
    tx += t1 - t0, tw += t2 - t1;
    const int P = g.oh * g.ow, groups = (g.n + group - 1) / group;
    const int64_t xrow = (int64_t)wp * CB, ximg = (int64_t)hp * wp * CB;
    pool.run((int64_t)tiles * groups, [&](int64_t u, int th) {
      const int t = (int)(u % tiles), n0 = (int)(u / tiles) * group;
      const int n1 = std::min(g.n, n0 + group);
      float* buf = bufs[th];
      const int64_t ob_stride = (int64_t)(n1 - n0) * P * CB;
      for (int cb = 0; cb < cbn; cb++) {
        const float* wt = wpk + ((int64_t)t * cbn + cb) * 9 * CB * OB * CB;
        for (int n = n0; n < n1; n++) {
          const float* xi = xb + ((int64_t)n * cbn + cb) * ximg;
          for (int oy = 0; oy < g.oh; oy++) {
            float* b = buf + ((int64_t)(n - n0) * P + oy * g.ow) * CB;
            if (g.s == 1) row_tiles<OB, PIX, 1>(g, xi + oy * xrow, xrow, wt, b, ob_stride, cb == 0);
            else row_tiles<OB, PIX, 2>(g, xi + oy * 2 * xrow, xrow, wt, b, ob_stride, cb == 0);
          }
        }
      }
      for (int n = n0; n < n1; n++)
        for (int ob = 0; ob < OB; ob++) {
          float* dst = y + ((int64_t)n * g.oc + (t * OB + ob) * CB) * P;
          const float* src = buf + ob * ob_stride + (int64_t)(n - n0) * P * CB;
          for (int q = 0; q < P; q += 16) {
            const int m = std::min(16, P - q);
            __m512 v[16];
            transpose16(src + q * CB, CB, v, m);
            for (int c = 0; c < CB; c++) _mm512_mask_storeu_ps(dst + (int64_t)c * P + q, (__mmask16)((1u << m) - 1), v[c]);
          }
        }
    });
    tc += dev::now() - t2;
  }
};

constexpr int64_t kBandBytes = 16 << 10;

// v3: v2 with x packed per unit (an image group) into a per-thread buffer that stays in L2,
// and every oc tile computed inside the unit (no packed copy of the whole batch in DRAM).
template <int OB, int PIX>
struct V3 {
  Geom g;
  int hp, wp, cbn, tiles, group;
  float* wpk;
  std::vector<float*> bufs, xbs;
  double tw = 0, tc = 0, tpx = 0, tout = 0;
  V3(const Geom& g_, int threads) : g(g_) {
    hp = g.h + 2 * g.p, wp = g.w + 2 * g.p, cbn = g.c / CB, tiles = g.oc / (OB * CB);
    const int P = g.oh * g.ow;
    group = std::max(1, std::min(g.n, 128 / P));
    wpk = aligned((size_t)g.oc * g.c * g.k * g.k);
    for (int t = 0; t < threads; t++) {
      bufs.push_back(aligned((size_t)OB * CB * group * P));  // (bands use the start)
      xbs.push_back(aligned((size_t)group * cbn * hp * wp * CB));
    }
  }
  ~V3() {
    std::free(wpk);
    for (float* b : bufs) std::free(b);
    for (float* b : xbs) std::free(b);
  }
  void run(const float* x, const float* w, float* y, Pool& pool) {
    double t1 = dev::now();
    pack_w<OB>(g, w, wpk, pool);
    double t2 = dev::now();
    tw += t2 - t1;
    const int P = g.oh * g.ow, groups = (g.n + group - 1) / group;
    const int64_t xrow = (int64_t)wp * CB, ximg = (int64_t)hp * wp * CB;
    pool.run(groups, [&](int64_t u, int th) {
      const int n0 = (int)u * group, n1 = std::min(g.n, n0 + group);
      float *buf = bufs[th], *xb = xbs[th];
      double ta = dev::now();
      for (int n = n0; n < n1; n++)
        for (int cb = 0; cb < cbn; cb++) pack_x_block(g, x, n, cb, xb + ((int64_t)(n - n0) * cbn + cb) * ximg);
      if (th == 0) tpx += dev::now() - ta;
      // rows (n, oy) of the unit, in bands whose accumulators (OB*16 x band pixels) stay in L1
      const int rows = (n1 - n0) * g.oh;
      const int band = std::max(1, std::min(rows, (int)(kBandBytes / (OB * CB * g.ow * 4))));
      for (int t = 0; t < tiles; t++)
        for (int r0 = 0; r0 < rows; r0 += band) {
          const int r1 = std::min(rows, r0 + band);
          const int64_t ob_stride = (int64_t)(r1 - r0) * g.ow * CB;
          for (int cb = 0; cb < cbn; cb++) {
            const float* wt = wpk + ((int64_t)t * cbn + cb) * 9 * CB * OB * CB;
            for (int r = r0; r < r1; r++) {
              const int n = n0 + r / g.oh, oy = r % g.oh;
              const float* xi = xb + ((int64_t)(n - n0) * cbn + cb) * ximg;
              float* b = buf + (int64_t)(r - r0) * g.ow * CB;
              if (g.s == 1) row_tiles<OB, PIX, 1>(g, xi + oy * xrow, xrow, wt, b, ob_stride, cb == 0);
              else row_tiles<OB, PIX, 2>(g, xi + oy * 2 * xrow, xrow, wt, b, ob_stride, cb == 0);
            }
          }
          double tb = dev::now();
          // per image inside the band: its pixels [q0, q1) are contiguous in y and in buf
          for (int r = r0; r < r1;) {
            const int n = n0 + r / g.oh, oy0 = r % g.oh, oy1 = std::min(g.oh, oy0 + (r1 - r));
            const int q0 = oy0 * g.ow, q1 = oy1 * g.ow;
            for (int ob = 0; ob < OB; ob++) {
              float* dst = y + ((int64_t)n * g.oc + (t * OB + ob) * CB) * P;
              const float* src = buf + ob * ob_stride + (int64_t)(r - r0) * g.ow * CB - (int64_t)q0 * CB;
              for (int q = q0; q < q1; q += 16) {
                const int m = std::min(16, q1 - q);
                __m512 v[16];
                transpose16(src + (int64_t)q * CB, CB, v, m);
                for (int c = 0; c < CB; c++)
                  _mm512_mask_storeu_ps(dst + (int64_t)c * P + q, (__mmask16)((1u << m) - 1), v[c]);
              }
            }
            r += oy1 - oy0;
          }
          if (th == 0) tout += dev::now() - tb;
        }
    });
    tc += dev::now() - t2;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  const char* blas = std::getenv("SEPCONV_DEV_BLAS");
  if (blas) dev::check(sepconv_blas_attach(blas), "blas");
  const int threads = std::getenv("THREADS") ? std::atoi(std::getenv("THREADS")) : 2;
  dev::check(sepconv_set_num_threads(threads), "threads");
  Pool pool(threads);
  const double peak = dev::fma_peak(pool);
  std::printf("FMA peak (%d threads, zmm): %.1f GFLOP/s; isa %d; blas %d\n", threads, peak, sepconv_cpu_isa(),
              sepconv_blas_attached());
  struct Case { const char* name; Geom g; };
  std::vector<Case> cases = {
      {"3x3 64@32", make(64, 64, 32, 64, 3, 1)},   {"3x3 128@16", make(64, 128, 16, 128, 3, 1)},
      {"3x3 256@8", make(64, 256, 8, 256, 3, 1)},  {"3x3 512@4", make(64, 512, 4, 512, 3, 1)},
      {"3x3 64>128 s2", make(64, 64, 32, 128, 3, 2)}, {"3x3 128>256 s2", make(64, 128, 16, 256, 3, 2)},
      {"3x3 256>512 s2", make(64, 256, 8, 512, 3, 2)},
  };
  std::printf("%-15s %8s %8s %6s %8s %6s %9s\n", "shape", "v1 ms", "GF/s", "%pk", "v2 ms", "%pk", "v2 err");
  for (auto& cs : cases) {
    const Geom& g = cs.g;
    std::vector<float> x((size_t)g.n * g.c * g.h * g.w), w((size_t)g.oc * g.c * 9),
        y((size_t)g.n * g.oc * g.oh * g.ow), ref(y.size());
    dev::fill(x, 1), dev::fill(w, 2);
    sepconv_conv2d d = desc(g);
    // the reference on the first 2 images only (it is slow), the rest compared to v1
    {
      Geom g2 = g;
      g2.n = 2;
      sepconv_conv2d d2 = desc(g2);
      dev::check(sepconv_conv2d_forward(SEPCONV_EXEC(0, SEPCONV_ALGO_REFERENCE), &d2, x.data(), w.data(), nullptr, ref.data()), "ref");
    }
    V2<4, 4> v2(g, threads);
    V3<4, 4> v3(g, threads);
    double t1 = 1e9, t2 = 1e9, t3 = 1e9, pk = 0;
    std::vector<float> y3(y.size());
    std::vector<float> y1;
    for (int round = 0; round < 3; round++) {
      pk = std::max(pk, dev::fma_peak(pool, 0.1));
      t1 = std::min(t1, dev::time_median(reps, [&] {
        dev::check(sepconv_conv2d_forward(0, &d, x.data(), w.data(), nullptr, y.data()), "v1");
      }));
      if (round == 0) y1 = y;
      std::fill(y.begin(), y.end(), NAN);
      t2 = std::min(t2, dev::time_median(reps, [&] { v2.run(x.data(), w.data(), y.data(), pool); }));
      t3 = std::min(t3, dev::time_median(reps, [&] { v3.run(x.data(), w.data(), y3.data(), pool); }));
    }
    const double peak = pk;
    std::vector<float> ref2(ref.begin(), ref.begin() + (size_t)2 * g.oc * g.oh * g.ow);
    std::vector<float> y1h(y1.begin(), y1.begin() + ref2.size());
    double e1 = dev::rel_err(y1h, ref2);
    std::vector<float> y2h(y.begin(), y.begin() + ref2.size());
    double e2 = std::max(dev::rel_err(y2h, ref2), dev::rel_err(y, y1) > 1e-4 ? 1.0 : 0.0);
    double e3 = dev::rel_err(y3, y);
    const double gf = g.flops() / 1e9;
    double tot = v3.tw + v3.tc;
    std::printf("   v3 split: pack_w %.1f%% pack_x %.1f%% out %.1f%% compute %.1f%%\n", 100 * v3.tw / tot, 100 * v3.tpx / tot, 100 * v3.tout / tot, 100 * (v3.tc - v3.tpx - v3.tout) / tot);
    tot = v2.tx + v2.tw + v2.tc;
    std::printf("   v2 split: pack_x %.1f%% pack_w %.1f%% compute+out %.1f%%\n", 100 * v2.tx / tot, 100 * v2.tw / tot, 100 * v2.tc / tot);
    std::printf("%-15s %8.2f %8.1f %6.1f %8.2f %6.1f %9.1e (v1 err %.1e) peak %.0f | v3 %.2f ms %.1f%% (vs v2 %.0e)\n", cs.name, t1 * 1e3, gf / t1,
                100 * gf / t1 / peak, t2 * 1e3, 100 * gf / t2 / peak, e2, e1, peak, t3 * 1e3, 100 * gf / t3 / peak, e3);
  }
}
