// sepconv_gpu_test: every CUDA op, every direction and mask, on fresh random inputs, held
// against the CPU reference (SEPCONV_ALGO_REFERENCE, double accumulation) through the public
// C ABI only. Outputs that a call overwrites start as NaN on the device, so an element a
// kernel forgets to write fails; outputs that accumulate start from the same random values on
// both sides. The error is ||gpu - ref|| / ||ref|| (any non-finite value where the reference
// is finite fails); optimizer updates, dropout masks, scale and argmax must match the CPU bit
// for bit.
//
//   sepconv_gpu_test [--filter S] [--large] [--bench | --all]
//     (no flag)    the correctness cases at small shapes (seconds); one line each, then
//                  "passed: P failed: F skipped: S"; exit 1 on any failure.
//                  Without a usable GPU: prints why, skips everything, exits 0.
//     --filter S   only the cases (and bench items) whose name contains S.
//     --large      also the MobileNetV2-CIFAR layer shapes at batch 256 (every depthwise and
//                  pointwise layer and the stem, BN+ReLU6, pooling, linear, loss, dropout, the
//                  optimizers at its 2.2M parameters). Their convolutions and linear layers are
//                  held against the CPU's fast kernels (AUTO; the Java suite and the small cases
//                  hold those against the reference, which would need minutes per layer here);
//                  everything else against the reference. Takes minutes of CPU time.
//     --bench      after the cases, times (cudaEvents, warm-up, median of 30; the L2 cache is
//                  flushed before every timed run by a 128 MB cudaMemsetAsync on the stream)
//                  depthwise 3x3 fprop on the MobileNetV2-CIFAR shapes at batch 256, fused
//                  BN+ReLU6 forward, dropout, scale and the sum of squares: ms, GB/s and the
//                  fraction of the measured device-to-device copy bandwidth.
//     --all        --large and --bench.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sepconv/sepconv.h"

namespace {

const int CPU_REF = SEPCONV_EXEC(SEPCONV_DEVICE_CPU, SEPCONV_ALGO_REFERENCE);
const int CPU = SEPCONV_EXEC(SEPCONV_DEVICE_CPU, SEPCONV_ALGO_AUTO);
const int GPU = SEPCONV_EXEC(SEPCONV_DEVICE_CUDA, SEPCONV_ALGO_AUTO);
const double TOL_FP32 = 2e-5, TOL_TF32 = 5e-3;

using Vec = std::vector<float>;
std::mt19937 rng(12345);

Vec random(size_t n, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> u(lo, hi);
  Vec v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

struct Failure {
  std::string what;
};

void ok(int status, const char* what) {
  if (status != SEPCONV_OK) throw Failure{std::string(what) + ": status " + std::to_string(status) + ": " + sepconv_last_error()};
}

// Device buffer of T, freed through the library's allocator.
template <class T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) {
    void* q = nullptr;
    ok(sepconv_cuda_malloc((int64_t)(count * sizeof(T)), &q), "sepconv_cuda_malloc");
    p = static_cast<T*>(q);
  }
  explicit Dev(const std::vector<T>& host) : Dev(host.size()) { put(host); }
  ~Dev() { sepconv_cuda_free(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  void put(const std::vector<T>& host) {
    ok(sepconv_cuda_memcpy(p, host.data(), (int64_t)(n * sizeof(T)), SEPCONV_MEMCPY_HOST_TO_DEVICE), "memcpy h2d");
  }
  std::vector<T> get() const {
    std::vector<T> h(n);
    ok(sepconv_cuda_memcpy(h.data(), p, (int64_t)(n * sizeof(T)), SEPCONV_MEMCPY_DEVICE_TO_HOST), "memcpy d2h");
    return h;
  }
};
Dev<float>* nan_dev(size_t n) { return new Dev<float>(Vec(n, NAN)); }

// One comparison inside a case; the case keeps the worst.
struct Result {
  double worst = 0;
  std::string detail;
  bool failed = false;
};

void compare(Result& r, const char* name, const Vec& got, const Vec& ref, double tol) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    if (std::isfinite(ref[i]) && !std::isfinite(got[i])) {
      r.failed = true;
      r.detail += std::string(" ") + name + "[" + std::to_string(i) + "] not finite;";
      return;
    }
    double d = (double)got[i] - ref[i];
    num += d * d;
    den += (double)ref[i] * ref[i];
  }
  double rel = std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
  if (den == 0) rel = std::sqrt(num);
  r.worst = std::max(r.worst, rel);
  if (!(rel <= tol)) {
    r.failed = true;
    char buf[128];
    snprintf(buf, sizeof buf, " %s rel %.3g > %.1g;", name, rel, tol);
    r.detail += buf;
  }
}

void compare_exact(Result& r, const char* name, const Vec& got, const Vec& ref) {
  for (size_t i = 0; i < ref.size(); i++)
    if (std::memcmp(&got[i], &ref[i], sizeof(float)) != 0) {
      r.failed = true;
      char buf[160];
      snprintf(buf, sizeof buf, " %s[%zu] = %.9g, cpu %.9g;", name, i, got[i], ref[i]);
      r.detail += buf;
      return;
    }
}

struct Case {
  std::string name;
  std::function<void(Result&)> run;
};
std::vector<Case> cases;
void add(std::string name, std::function<void(Result&)> run) { cases.push_back({std::move(name), std::move(run)}); }

// ------------------------------------------------------------------ convolution
// The depthwise 3x3 layers of MobileNetV2 for CIFAR (stride-1 stem): channels, plane, stride.
const int kMobileNetV2Depthwise[][3] = {{32, 32, 1},  {96, 32, 1}, {144, 32, 1}, {144, 32, 2},
                                        {192, 16, 1}, {192, 16, 2}, {384, 8, 1}, {576, 8, 1},
                                        {576, 8, 2},  {960, 4, 1}};

sepconv_conv2d conv(int n, int cin, int h, int w, int cout, int k, int s, int p, int d, int groups, int kw = 0) {
  sepconv_conv2d c{};
  c.n = n, c.c_in = cin, c.h = h, c.w = w, c.c_out = cout, c.kh = k, c.kw = kw ? kw : k;
  c.stride_h = c.stride_w = s, c.pad_h = p, c.pad_w = kw ? (kw - 1) / 2 : p, c.dil_h = c.dil_w = d, c.groups = groups;
  return c;
}

std::string describe(const sepconv_conv2d& c) {
  char b[160];
  snprintf(b, sizeof b, "n=%d c=%d->%d %dx%d k=%dx%d s=%d p=%d,%d d=%d g=%d", c.n, c.c_in, c.c_out, c.h, c.w, c.kh,
           c.kw, c.stride_h, c.pad_h, c.pad_w, c.dil_h, c.groups);
  return b;
}

// truth: the CPU exec the GPU is held against (CPU_REF, or CPU for the batch-256 cases).
void add_conv(const sepconv_conv2d& c, bool bias, bool tf32, int truth = CPU_REF,
              std::vector<int> masks = {7, 1, 2, 4, 6}) {
  const double tol = tf32 ? TOL_TF32 : TOL_FP32;
  std::string tag = describe(c) + (bias ? " bias" : "") + (tf32 ? " tf32" : "");
  auto sizes = [c](int& oh, int& ow, size_t& nx, size_t& nw, size_t& ny) {
    ok(sepconv_conv2d_output_shape(&c, &oh, &ow), "output_shape");
    nx = (size_t)c.n * c.c_in * c.h * c.w;
    nw = (size_t)c.c_out * (c.c_in / c.groups) * c.kh * c.kw;
    ny = (size_t)c.n * c.c_out * oh * ow;
  };
  add("conv fwd " + tag, [=](Result& r) {
    int oh, ow;
    size_t nx, nw, ny;
    sizes(oh, ow, nx, nw, ny);
    Vec x = random(nx), w = random(nw), b = random(c.c_out), ref(ny);
    ok(sepconv_conv2d_forward(truth, &c, x.data(), w.data(), bias ? b.data() : nullptr, ref.data()), "cpu");
    Dev<float> dx_(x), dw_(w), db(b);
    std::unique_ptr<Dev<float>> y(nan_dev(ny));
    ok(sepconv_cuda_set_tf32(tf32), "set_tf32");
    ok(sepconv_conv2d_forward(GPU, &c, dx_.p, dw_.p, bias ? db.p : nullptr, y->p), "gpu");
    ok(sepconv_cuda_set_tf32(0), "set_tf32");
    compare(r, "y", y->get(), ref, tol);
  });
  for (int mask : masks) {
    add("conv bwd mask=" + std::to_string(mask) + " " + tag, [=](Result& r) {
      int oh, ow;
      size_t nx, nw, ny;
      sizes(oh, ow, nx, nw, ny);
      Vec x = random(nx), w = random(nw), dy = random(ny);
      Vec dx_ref(nx), dw_ref = random(nw), db_ref = random(c.c_out);  // dw, dbias accumulate
      Dev<float> gx(x), gw(w), gdy(dy), gdw(dw_ref), gdb(db_ref);
      std::unique_ptr<Dev<float>> gdx(nan_dev(nx));
      ok(sepconv_conv2d_backward(truth, &c, mask, x.data(), w.data(), dy.data(), dx_ref.data(), dw_ref.data(),
                                 db_ref.data()),
         "cpu");
      ok(sepconv_cuda_set_tf32(tf32), "set_tf32");
      ok(sepconv_conv2d_backward(GPU, &c, mask, gx.p, gw.p, gdy.p, gdx->p, gdw.p, gdb.p), "gpu");
      ok(sepconv_cuda_set_tf32(0), "set_tf32");
      if (mask & SEPCONV_GRAD_INPUT) compare(r, "dx", gdx->get(), dx_ref, tol);
      if (mask & SEPCONV_GRAD_WEIGHT) compare(r, "dw", gdw.get(), dw_ref, tol);
      if (mask & SEPCONV_GRAD_BIAS) compare(r, "dbias", gdb.get(), db_ref, TOL_FP32);
    });
  }
}

void add_linear(int n, int in, int out, bool tf32, int truth = CPU_REF) {
  const double tol = tf32 ? TOL_TF32 : TOL_FP32;
  std::string tag = "n=" + std::to_string(n) + " in=" + std::to_string(in) + " out=" + std::to_string(out) +
                    (tf32 ? " tf32" : "");
  add("linear fwd " + tag, [=](Result& r) {
    Vec x = random((size_t)n * in), w = random((size_t)out * in), b = random(out), ref((size_t)n * out);
    ok(sepconv_linear_forward(truth, n, in, out, x.data(), w.data(), b.data(), ref.data()), "cpu");
    Dev<float> gx(x), gw(w), gb(b);
    std::unique_ptr<Dev<float>> y(nan_dev(ref.size()));
    ok(sepconv_cuda_set_tf32(tf32), "set_tf32");
    ok(sepconv_linear_forward(GPU, n, in, out, gx.p, gw.p, gb.p, y->p), "gpu");
    ok(sepconv_cuda_set_tf32(0), "set_tf32");
    compare(r, "y", y->get(), ref, tol);
  });
  add("linear bwd mask=7 " + tag, [=](Result& r) {
    Vec x = random((size_t)n * in), w = random((size_t)out * in), dy = random((size_t)n * out);
    Vec dx((size_t)n * in), dw = random(w.size()), db = random(out);
    Dev<float> gx(x), gw(w), gdy(dy), gdw(dw), gdb(db);
    std::unique_ptr<Dev<float>> gdx(nan_dev(dx.size()));
    ok(sepconv_linear_backward(truth, n, in, out, 7, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data()),
       "cpu");
    ok(sepconv_cuda_set_tf32(tf32), "set_tf32");
    ok(sepconv_linear_backward(GPU, n, in, out, 7, gx.p, gw.p, gdy.p, gdx->p, gdw.p, gdb.p), "gpu");
    ok(sepconv_cuda_set_tf32(0), "set_tf32");
    compare(r, "dx", gdx->get(), dx, tol);
    compare(r, "dw", gdw.get(), dw, tol);
    compare(r, "dbias", gdb.get(), db, TOL_FP32);
  });
}

// ------------------------------------------------------------------ batch norm
void add_bn(int n, int c, int hw, int act, bool affine) {
  std::string tag = "n=" + std::to_string(n) + " c=" + std::to_string(c) + " hw=" + std::to_string(hw) +
                    " act=" + std::to_string(act) + (affine ? "" : " affine=0");
  const size_t total = (size_t)n * c * hw;
  add("bn fwd train " + tag, [=](Result& r) {
    Vec x = random(total, -2.f, 3.f), gm = random(c, 0.5f, 1.5f), bt = random(c);
    for (auto& v : x) v += 50.f;  // an offset mean: tests the variance's stability
    Vec rm = random(c), rv = random(c, 0.5f, 2.f), sm(c), si(c), y(total);
    Dev<float> gx(x), ggm(gm), gbt(bt), grm(rm), grv(rv);
    std::unique_ptr<Dev<float>> gsm(nan_dev(c)), gsi(nan_dev(c)), gy(nan_dev(total));
    const float* g = affine ? gm.data() : nullptr;
    const float* b = affine ? bt.data() : nullptr;
    ok(sepconv_batchnorm_forward_training(CPU_REF, n, c, hw, x.data(), g, b, 1e-5f, 0.1f, rm.data(), rv.data(),
                                          sm.data(), si.data(), act, y.data()),
       "cpu");
    ok(sepconv_batchnorm_forward_training(GPU, n, c, hw, gx.p, affine ? ggm.p : nullptr, affine ? gbt.p : nullptr,
                                          1e-5f, 0.1f, grm.p, grv.p, gsm->p, gsi->p, act, gy->p),
       "gpu");
    compare(r, "y", gy->get(), y, 1e-4);
    compare(r, "save_mean", gsm->get(), sm, TOL_FP32);
    compare(r, "save_invstd", gsi->get(), si, 1e-4);
    compare(r, "running_mean", grm.get(), rm, TOL_FP32);
    compare(r, "running_var", grv.get(), rv, 1e-4);
  });
  add("bn fwd infer " + tag, [=](Result& r) {
    Vec x = random(total, -2.f, 3.f), gm = random(c, 0.5f, 1.5f), bt = random(c), rm = random(c),
        rv = random(c, 0.5f, 2.f), y(total);
    Dev<float> gx(x), ggm(gm), gbt(bt), grm(rm), grv(rv);
    std::unique_ptr<Dev<float>> gy(nan_dev(total));
    ok(sepconv_batchnorm_forward_inference(CPU_REF, n, c, hw, x.data(), affine ? gm.data() : nullptr,
                                           affine ? bt.data() : nullptr, rm.data(), rv.data(), 1e-5f, act, y.data()),
       "cpu");
    ok(sepconv_batchnorm_forward_inference(GPU, n, c, hw, gx.p, affine ? ggm.p : nullptr, affine ? gbt.p : nullptr,
                                           grm.p, grv.p, 1e-5f, act, gy->p),
       "gpu");
    compare(r, "y", gy->get(), y, TOL_FP32);
  });
  for (int mask : {7, 1, 6}) {
    add("bn bwd mask=" + std::to_string(mask) + " " + tag, [=](Result& r) {
      Vec x = random(total, -2.f, 3.f), gm = random(c, 0.5f, 1.5f), bt = random(c), dy = random(total);
      Vec sm(c), si(c), y(total);
      // the forward output (the activation mask) and the saved statistics, from the reference
      ok(sepconv_batchnorm_forward_training(CPU_REF, n, c, hw, x.data(), gm.data(), bt.data(), 1e-5f, 0.1f, nullptr,
                                            nullptr, sm.data(), si.data(), act, y.data()),
         "cpu fwd");
      Vec dx(total), dg = random(c), db = random(c);
      Dev<float> gx(x), ggm(gm), gdy(dy), gy(y), gsm(sm), gsi(si), gdg(dg), gdb(db);
      std::unique_ptr<Dev<float>> gdx(nan_dev(total));
      const float* g = affine ? gm.data() : nullptr;
      ok(sepconv_batchnorm_backward(CPU_REF, n, c, hw, mask, x.data(), y.data(), dy.data(), g, sm.data(), si.data(),
                                    act, dx.data(), dg.data(), db.data()),
         "cpu");
      ok(sepconv_batchnorm_backward(GPU, n, c, hw, mask, gx.p, gy.p, gdy.p, affine ? ggm.p : nullptr, gsm.p, gsi.p,
                                    act, gdx->p, gdg.p, gdb.p),
         "gpu");
      if (mask & SEPCONV_GRAD_INPUT) compare(r, "dx", gdx->get(), dx, 1e-4);
      if (mask & SEPCONV_GRAD_WEIGHT) compare(r, "dgamma", gdg.get(), dg, 1e-4);
      if (mask & SEPCONV_GRAD_BIAS) compare(r, "dbeta", gdb.get(), db, TOL_FP32);
    });
  }
}

void add_fold(int c, int64_t per_channel, bool affine) {
  std::string tag = "c=" + std::to_string(c) + " per_channel=" + std::to_string(per_channel) + (affine ? "" : " affine=0");
  add("bn fold " + tag, [=](Result& r) {
    Vec w = random((size_t)c * per_channel), b = random(c), gm = random(c, 0.5f, 1.5f), bt = random(c), m = random(c),
        v = random(c, 0.5f, 2.f);
    Dev<float> gw(w), gb(b), ggm(gm), gbt(bt), gmean(m), gvar(v);
    ok(sepconv_batchnorm_fold_exec(CPU_REF, c, per_channel, w.data(), b.data(), affine ? gm.data() : nullptr,
                                   affine ? bt.data() : nullptr, m.data(), v.data(), 1e-5f),
       "cpu");
    ok(sepconv_batchnorm_fold_exec(GPU, c, per_channel, gw.p, gb.p, affine ? ggm.p : nullptr, affine ? gbt.p : nullptr,
                                   gmean.p, gvar.p, 1e-5f),
       "gpu");
    compare(r, "w", gw.get(), w, 1e-6);
    compare(r, "bias", gb.get(), b, 1e-6);
  });
}

// ------------------------------------------------------------------ elementwise, pooling, loss
void add_elementwise(int64_t count) {
  std::string tag = "count=" + std::to_string(count);
  for (int act : {0, 1, 2}) {
    add("activation fwd+bwd act=" + std::to_string(act) + " " + tag, [=](Result& r) {
      Vec x = random(count, -8.f, 8.f), dy = random(count), y(count), dx(count);
      ok(sepconv_activation_forward(CPU_REF, act, count, x.data(), y.data()), "cpu fwd");
      ok(sepconv_activation_backward(CPU_REF, act, count, y.data(), dy.data(), dx.data()), "cpu bwd");
      Dev<float> gx(x), gdy(dy);
      std::unique_ptr<Dev<float>> gy(nan_dev(count)), gdx(nan_dev(count));
      ok(sepconv_activation_forward(GPU, act, count, gx.p, gy->p), "gpu fwd");
      ok(sepconv_activation_backward(GPU, act, count, gy->p, gdy.p, gdx->p), "gpu bwd");
      compare(r, "y", gy->get(), y, 0);
      compare(r, "dx", gdx->get(), dx, 0);
      ok(sepconv_activation_backward(GPU, act, count, gy->p, gdy.p, gdy.p), "gpu bwd in place");
      compare(r, "dx(in place)", gdy.get(), dx, 0);
      ok(sepconv_activation_forward(GPU, act, count, gx.p, gx.p), "gpu fwd in place");
      compare(r, "y(in place)", gx.get(), y, 0);
    });
  }
  add("add " + tag, [=](Result& r) {
    Vec a = random(count), b = random(count), y(count);
    ok(sepconv_add(CPU_REF, count, a.data(), b.data(), y.data()), "cpu");
    Dev<float> ga(a), gb(b);
    std::unique_ptr<Dev<float>> gy(nan_dev(count));
    ok(sepconv_add(GPU, count, ga.p, gb.p, gy->p), "gpu");
    compare(r, "y", gy->get(), y, 0);
    ok(sepconv_add(GPU, count, ga.p, gb.p, ga.p), "gpu aliased");
    compare(r, "y(aliased)", ga.get(), y, 0);
  });
}

// Dropout: the mask must be the CPU's bit for bit (reference and fast kernels), and so y and dx.
void add_dropout(int64_t count, float p) {
  char tag[96];
  snprintf(tag, sizeof tag, "dropout fwd+bwd p=%g count=%lld", p, (long long)count);
  add(tag, [=](Result& r) {
    const uint64_t seed = 0x5eed00000000ull + (uint64_t)count;
    Vec x = random(count), dy = random(count), mask(count), y(count), dx(count), mask_fast(count), y_fast(count);
    ok(sepconv_dropout_forward(CPU_REF, count, p, seed, x.data(), mask.data(), y.data()), "cpu ref");
    ok(sepconv_dropout_forward(CPU, count, p, seed, x.data(), mask_fast.data(), y_fast.data()), "cpu");
    ok(sepconv_dropout_backward(CPU_REF, count, mask.data(), dy.data(), dx.data()), "cpu bwd");
    Dev<float> gx(x), gdy(dy);
    std::unique_ptr<Dev<float>> gm(nan_dev(count)), gy(nan_dev(count)), gdx(nan_dev(count));
    ok(sepconv_dropout_forward(GPU, count, p, seed, gx.p, gm->p, gy->p), "gpu fwd");
    ok(sepconv_dropout_backward(GPU, count, gm->p, gdy.p, gdx->p), "gpu bwd");
    const Vec gmask = gm->get();
    compare_exact(r, "mask", gmask, mask);
    compare_exact(r, "mask(cpu fast)", gmask, mask_fast);
    compare_exact(r, "y", gy->get(), y);
    compare_exact(r, "dx", gdx->get(), dx);
    ok(sepconv_dropout_forward(GPU, count, p, seed, gx.p, gm->p, gx.p), "gpu fwd in place");
    compare_exact(r, "y(in place)", gx.get(), y);
    ok(sepconv_dropout_backward(GPU, count, gm->p, gdy.p, gdy.p), "gpu bwd in place");
    compare_exact(r, "dx(in place)", gdy.get(), dx);
  });
}

void add_scale_and_sum_squares(int64_t count) {
  std::string tag = "count=" + std::to_string(count);
  add("scale " + tag, [=](Result& r) {
    const float alpha = -1.7f;
    Vec x = random(count), y(count);
    ok(sepconv_scale(CPU_REF, count, alpha, x.data(), y.data()), "cpu");
    Dev<float> gx(x);
    std::unique_ptr<Dev<float>> gy(nan_dev(count));
    ok(sepconv_scale(GPU, count, alpha, gx.p, gy->p), "gpu");
    compare_exact(r, "y", gy->get(), y);
    ok(sepconv_scale(GPU, count, alpha, gx.p, gx.p), "gpu in place");
    compare_exact(r, "y(in place)", gx.get(), y);
  });
  add("sum_squares " + tag, [=](Result& r) {
    Vec x = random(count, -3.f, 3.f);
    double ref = 0, got = NAN, again = NAN;
    ok(sepconv_sum_squares(CPU_REF, count, x.data(), &ref), "cpu");
    Dev<float> gx(x);
    ok(sepconv_sum_squares(GPU, count, gx.p, &got), "gpu");  // result: host memory
    ok(sepconv_sum_squares(GPU, count, gx.p, &again), "gpu again");
    r.worst = std::fabs(got - ref) / ref;
    if (!(r.worst <= 1e-12)) r.failed = true, r.detail += " sum differs from the reference;";
    if (std::memcmp(&got, &again, sizeof got) != 0) r.failed = true, r.detail += " two runs differ;";
    Dev<double> on_device(1);
    if (sepconv_sum_squares(GPU, count, gx.p, on_device.p) != SEPCONV_EINVAL)
      r.failed = true, r.detail += " a device pointer for the host result was accepted;";
  });
}

// Rows with NaN, +-inf and signed zeros mixed in; row 0 is all NaN, row 1 -inf and NaN, row 2 zeros.
void add_argmax(int n, int classes) {
  std::string tag = "n=" + std::to_string(n) + " classes=" + std::to_string(classes);
  add("argmax_rows " + tag, [=](Result& r) {
    Vec x = random((size_t)n * classes, -3.f, 3.f);
    for (auto& v : x) {
      const unsigned kind = rng() % 16;
      v = kind == 0 ? NAN : kind == 1 ? -INFINITY : kind == 2 ? -0.f : kind == 3 ? 0.f : kind == 4 ? 1.f : v;
    }
    for (int k = 0; k < classes && n > 2; k++) {
      x[k] = NAN;
      x[classes + k] = k % 2 ? NAN : -INFINITY;
      x[2 * classes + k] = k % 2 ? -0.f : 0.f;
    }
    std::vector<int32_t> ref(n);
    ok(sepconv_argmax_rows(CPU_REF, n, classes, x.data(), ref.data()), "cpu");
    Dev<float> gx(x);
    Dev<int32_t> gi(std::vector<int32_t>(n, -7));
    ok(sepconv_argmax_rows(GPU, n, classes, gx.p, gi.p), "gpu");
    std::vector<int32_t> got = gi.get();
    for (int i = 0; i < n; i++)
      if (got[i] != ref[i]) {
        r.failed = true;
        r.detail += " idx[" + std::to_string(i) + "] = " + std::to_string(got[i]) + ", cpu " + std::to_string(ref[i]) + ";";
        break;
      }
  });
}

void add_pool(int n, int c, int h, int w, int k, int s, int p, int include_pad) {
  sepconv_pool2d g{n, c, h, w, k, k, s, s, p, p, include_pad};
  char b[128];
  snprintf(b, sizeof b, "n=%d c=%d %dx%d k=%d s=%d p=%d incl=%d", n, c, h, w, k, s, p, include_pad);
  std::string tag = b;
  add("avgpool fwd+bwd " + tag, [=](Result& r) {
    int oh, ow;
    ok(sepconv_pool2d_output_shape(&g, &oh, &ow), "shape");
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * oh * ow;
    Vec x = random(nx), dy = random(ny), y(ny), dx(nx);
    ok(sepconv_avgpool2d_forward(CPU_REF, &g, x.data(), y.data()), "cpu fwd");
    ok(sepconv_avgpool2d_backward(CPU_REF, &g, dy.data(), dx.data()), "cpu bwd");
    Dev<float> gx(x), gdy(dy);
    std::unique_ptr<Dev<float>> gy(nan_dev(ny)), gdx(nan_dev(nx));
    ok(sepconv_avgpool2d_forward(GPU, &g, gx.p, gy->p), "gpu fwd");
    ok(sepconv_avgpool2d_backward(GPU, &g, gdy.p, gdx->p), "gpu bwd");
    compare(r, "y", gy->get(), y, TOL_FP32);
    compare(r, "dx", gdx->get(), dx, TOL_FP32);
  });
  add("maxpool fwd+bwd " + tag, [=](Result& r) {
    int oh, ow;
    ok(sepconv_pool2d_output_shape(&g, &oh, &ow), "shape");
    size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * oh * ow;
    Vec x = random(nx), dy = random(ny), y(ny), dx(nx);
    std::vector<int32_t> arg(ny);
    ok(sepconv_maxpool2d_forward(CPU_REF, &g, x.data(), y.data(), arg.data()), "cpu fwd");
    ok(sepconv_maxpool2d_backward(CPU_REF, &g, dy.data(), arg.data(), dx.data()), "cpu bwd");
    Dev<float> gx(x), gdy(dy);
    Dev<int32_t> garg(std::vector<int32_t>(ny, -7));
    std::unique_ptr<Dev<float>> gy(nan_dev(ny)), gdx(nan_dev(nx));
    ok(sepconv_maxpool2d_forward(GPU, &g, gx.p, gy->p, garg.p), "gpu fwd");
    ok(sepconv_maxpool2d_backward(GPU, &g, gdy.p, garg.p, gdx->p), "gpu bwd");
    compare(r, "y", gy->get(), y, 0);
    std::vector<int32_t> ga = garg.get();
    if (ga != arg) r.failed = true, r.detail += " argmax differs;";
    compare(r, "dx", gdx->get(), dx, TOL_FP32);
  });
}

void add_global_pool(int n, int c, int hw) {
  std::string tag = "n=" + std::to_string(n) + " c=" + std::to_string(c) + " hw=" + std::to_string(hw);
  add("global avgpool fwd+bwd " + tag, [=](Result& r) {
    size_t nx = (size_t)n * c * hw, ny = (size_t)n * c;
    Vec x = random(nx), dy = random(ny), y(ny), dx(nx);
    ok(sepconv_global_avgpool_forward(CPU_REF, n, c, hw, x.data(), y.data()), "cpu fwd");
    ok(sepconv_global_avgpool_backward(CPU_REF, n, c, hw, dy.data(), dx.data()), "cpu bwd");
    Dev<float> gx(x), gdy(dy);
    std::unique_ptr<Dev<float>> gy(nan_dev(ny)), gdx(nan_dev(nx));
    ok(sepconv_global_avgpool_forward(GPU, n, c, hw, gx.p, gy->p), "gpu fwd");
    ok(sepconv_global_avgpool_backward(GPU, n, c, hw, gdy.p, gdx->p), "gpu bwd");
    compare(r, "y", gy->get(), y, TOL_FP32);
    compare(r, "dx", gdx->get(), dx, TOL_FP32);
  });
}

void add_xent(int n, int classes, float smoothing) {
  std::string tag = "n=" + std::to_string(n) + " classes=" + std::to_string(classes) + " s=" + std::to_string(smoothing);
  add("softmax xent fwd+bwd " + tag, [=](Result& r) {
    Vec z = random((size_t)n * classes, -6.f, 6.f), probs(z.size()), dz(z.size()), loss(1);
    std::vector<int32_t> labels(n);
    for (auto& l : labels) l = (int32_t)(rng() % classes);
    ok(sepconv_softmax_xent_forward(CPU_REF, n, classes, z.data(), labels.data(), smoothing, probs.data(), loss.data()),
       "cpu fwd");
    ok(sepconv_softmax_xent_backward(CPU_REF, n, classes, probs.data(), labels.data(), smoothing, 1.5f, dz.data()),
       "cpu bwd");
    Dev<float> gz(z);
    Dev<int32_t> gl(labels);
    std::unique_ptr<Dev<float>> gp(nan_dev(z.size())), gloss(nan_dev(1)), gdz(nan_dev(z.size()));
    ok(sepconv_softmax_xent_forward(GPU, n, classes, gz.p, gl.p, smoothing, gp->p, gloss->p), "gpu fwd");
    ok(sepconv_softmax_xent_backward(GPU, n, classes, gp->p, gl.p, smoothing, 1.5f, gdz->p), "gpu bwd");
    compare(r, "probs", gp->get(), probs, TOL_FP32);
    compare(r, "loss", gloss->get(), loss, TOL_FP32);
    compare(r, "dlogits", gdz->get(), dz, 1e-4);
  });
}

// ------------------------------------------------------------------ optimizers (bitwise)
void add_optim(int64_t count) {
  for (int variant = 0; variant < 4; variant++) {
    static const char* names[] = {"sgd plain", "sgd momentum+wd", "sgd nesterov", "sgd dampening"};
    add(std::string(names[variant]) + " count=" + std::to_string(count), [=](Result& r) {
      double mu = variant == 0 ? 0 : 0.9, damp = variant == 3 ? 0.1 : 0, wd = variant == 1 ? 5e-4 : 0;
      int nest = variant == 2;
      Vec p = random(count), b = random(count);
      Dev<float> gp(p), gb(b);
      for (int64_t step = 1; step <= 3; step++) {
        Vec g = random(count);
        Dev<float> gg(g);
        ok(sepconv_sgd_update(CPU, count, p.data(), g.data(), b.data(), 0.05, mu, damp, wd, nest, step), "cpu");
        ok(sepconv_sgd_update(GPU, count, gp.p, gg.p, gb.p, 0.05, mu, damp, wd, nest, step), "gpu");
      }
      compare_exact(r, "p", gp.get(), p);
      if (mu != 0) compare_exact(r, "momentum_buffer", gb.get(), b);
    });
  }
  for (int decoupled : {0, 1}) {
    add(std::string(decoupled ? "adamw" : "adam") + " count=" + std::to_string(count), [=](Result& r) {
      Vec p = random(count), m(count, 0.f), v(count, 0.f);
      Dev<float> gp(p), gm(m), gv(v);
      for (int64_t step = 1; step <= 3; step++) {
        Vec g = random(count);
        Dev<float> gg(g);
        ok(sepconv_adam_update(CPU, count, p.data(), g.data(), m.data(), v.data(), 1e-3, 0.9, 0.999, 1e-8, 1e-2,
                               decoupled, step),
           "cpu");
        ok(sepconv_adam_update(GPU, count, gp.p, gg.p, gm.p, gv.p, 1e-3, 0.9, 0.999, 1e-8, 1e-2, decoupled, step), "gpu");
      }
      compare_exact(r, "p", gp.get(), p);
      compare_exact(r, "exp_avg", gm.get(), m);
      compare_exact(r, "exp_avg_sq", gv.get(), v);
    });
  }
}

// ------------------------------------------------------------------ runtime
void add_runtime() {
  add("runtime: host pointer rejected, free of a foreign pointer rejected", [](Result& r) {
    Vec x(16, 1.f), y(16);
    if (sepconv_activation_forward(GPU, 0, 16, x.data(), y.data()) != SEPCONV_EINVAL)
      r.failed = true, r.detail += " host pointer accepted;";
    if (sepconv_cuda_free(x.data()) != SEPCONV_EINVAL) r.failed = true, r.detail += " foreign free accepted;";
    if (sepconv_conv2d_forward(SEPCONV_EXEC(SEPCONV_DEVICE_CUDA, SEPCONV_ALGO_REFERENCE), nullptr, nullptr, nullptr,
                               nullptr, nullptr) != SEPCONV_EUNSUPPORTED)
      r.failed = true, r.detail += " reference on CUDA accepted;";
  });
  add("runtime: caching allocator reuses blocks (no growth when warm)", [](Result& r) {
    int64_t a0, r0, p0, a1, r1, p1;
    auto step = [] {
      for (size_t n : {1000u, 4096u, 1u << 20, 3000000u}) Dev<float> d(n);
    };
    step();
    ok(sepconv_cuda_memory_stats(&a0, &r0, &p0), "stats");
    for (int i = 0; i < 10; i++) step();
    ok(sepconv_cuda_memory_stats(&a1, &r1, &p1), "stats");
    if (r1 != r0 || a1 != a0) r.failed = true, r.detail += " reserved or allocated grew;";
    ok(sepconv_cuda_empty_cache(), "empty_cache");
    ok(sepconv_cuda_memory_stats(&a1, &r1, &p1), "stats");
    if (r1 != a1) r.failed = true, r.detail += " empty_cache left cached blocks;";
  });
}

void build_cases() {
  add_runtime();
  // depthwise, MobileNetV2-CIFAR shapes, batch 2
  for (auto& s : kMobileNetV2Depthwise) add_conv(conv(2, s[0], s[1], s[1], s[0], 3, s[2], 1, 1, s[0]), false, false);
  // depthwise: batch 1 and 3, bias, 5x5, dilation, multiplier, odd and large planes, 3x1
  add_conv(conv(1, 8, 7, 9, 8, 3, 1, 1, 1, 8), true, false);
  add_conv(conv(3, 6, 11, 13, 6, 3, 2, 1, 1, 6), true, false);
  add_conv(conv(2, 5, 9, 9, 5, 5, 1, 2, 1, 5), false, false);
  add_conv(conv(2, 5, 10, 9, 5, 5, 2, 2, 1, 5), true, false);
  add_conv(conv(2, 4, 12, 12, 4, 3, 1, 2, 2, 4), false, false);
  add_conv(conv(2, 4, 9, 9, 8, 3, 1, 1, 1, 4), true, false);   // multiplier 2
  add_conv(conv(2, 3, 8, 8, 9, 3, 2, 0, 1, 3), false, false);   // multiplier 3, no padding
  add_conv(conv(1, 2, 120, 110, 2, 3, 1, 1, 1, 2), false, false);  // plane beyond shared memory
  add_conv(conv(2, 4, 9, 9, 4, 7, 1, 3, 1, 4), false, false);   // 7x7: the generic kernels
  add_conv(conv(2, 4, 9, 10, 4, 3, 1, 1, 1, 4, 1), false, false);  // 3x1
  // dense, grouped and pointwise, FP32 and TF32
  for (bool tf32 : {false, true}) {
    add_conv(conv(2, 3, 32, 32, 16, 3, 1, 1, 1, 1), true, tf32);     // the CIFAR stem
    add_conv(conv(2, 32, 8, 8, 96, 1, 1, 0, 1, 1), false, tf32);     // pointwise expand
    add_conv(conv(3, 96, 5, 7, 24, 1, 1, 0, 1, 1), true, tf32);      // pointwise project, odd plane
    add_conv(conv(1, 16, 9, 9, 32, 3, 2, 1, 1, 4), true, tf32);      // grouped, stride 2
    add_conv(conv(2, 6, 13, 11, 10, 3, 2, 1, 2, 2), false, tf32);    // dilation 2, odd sizes
    add_conv(conv(2, 70, 6, 6, 130, 3, 1, 1, 1, 1), true, tf32);     // M, N, K across tile edges
    add_linear(5, 37, 10, tf32);
    add_linear(1, 1280, 10, tf32);
    add_linear(67, 130, 70, tf32);
  }
  for (int act : {0, 1, 2}) {
    add_bn(2, 5, 49, act, true);
    add_bn(3, 16, 64, act, act != 1);
  }
  add_bn(1, 4, 1025, 2, true);  // hw not a multiple of 4: the scalar path
  add_bn(8, 3, 256, 2, true);
  add_elementwise(1000);
  add_elementwise(1 << 20);
  add_pool(2, 3, 8, 8, 2, 2, 0, 1);
  add_pool(2, 3, 9, 7, 3, 2, 1, 0);
  add_pool(1, 2, 9, 7, 3, 2, 1, 1);
  add_pool(3, 4, 5, 6, 3, 1, 1, 0);
  add_global_pool(2, 7, 16);
  add_global_pool(3, 1280, 1);
  add_global_pool(1, 3, 1000);
  add_xent(5, 10, 0.f);
  add_xent(64, 10, 0.1f);
  add_xent(3, 1000, 0.1f);
  add_optim(1000);
  add_optim(100003);
  add_fold(5, 27, true);
  add_fold(130, 1, false);
  for (float p : {0.f, 0.1f, 0.5f}) add_dropout(1000, p);
  add_dropout(100003, 0.2f);
  add_scale_and_sum_squares(1000);
  add_scale_and_sum_squares(1000003);
  add_argmax(5, 10);
  add_argmax(67, 1000);
  add_argmax(300, 33);
}

// MobileNetV2-CIFAR at batch 256 (bench/src/main/java/org/sepconv/bench/Shapes.java and
// gpu/GpuShapes.java): the depthwise layers above, the pointwise layers (c_in, plane, c_out) and
// the stem, the BN+ReLU6 shapes (Shapes.BN_SHAPES), the head and the optimizer over 2.2M
// parameters.
const int kMobileNetV2Pointwise[][3] = {{32, 32, 16},  {16, 32, 96},  {96, 32, 24},   {24, 32, 144}, {144, 32, 24},
                                        {144, 16, 32}, {32, 16, 192}, {192, 16, 32},  {192, 8, 64},  {64, 8, 384},
                                        {384, 8, 64},  {384, 8, 96},  {96, 8, 576},   {576, 8, 96},  {576, 4, 160},
                                        {160, 4, 960}, {960, 4, 160}, {960, 4, 320},  {320, 4, 1280}};
const int kMobileNetV2Bn[][2] = {{32, 1024}, {96, 1024}, {144, 1024}, {144, 256}, {192, 256},
                                 {192, 64},  {384, 64},  {576, 64},   {576, 16},  {960, 16}};

void build_large_cases() {
  const int n = 256;
  for (auto& s : kMobileNetV2Depthwise)
    add_conv(conv(n, s[0], s[1], s[1], s[0], 3, s[2], 1, 1, s[0]), false, false, CPU, {7});
  add_conv(conv(n, 3, 32, 32, 32, 3, 1, 1, 1, 1), false, false, CPU, {7});  // the stem
  for (auto& s : kMobileNetV2Pointwise)
    add_conv(conv(n, s[0], s[1], s[1], s[2], 1, 1, 0, 1, 1), false, false, CPU, {7});
  for (auto& s : kMobileNetV2Bn) add_bn(n, s[0], s[1], SEPCONV_ACT_RELU6, true);
  add_global_pool(n, 1280, 16);
  add_linear(n, 1280, 10, false, CPU);
  add_xent(n, 10, 0.1f);
  add_argmax(n, 10);
  add_dropout((int64_t)n * 144 * 1024, 0.2f);
  add_scale_and_sum_squares((int64_t)n * 144 * 1024);
  add_optim(2236682);
}

// ------------------------------------------------------------------ bench
float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Written before every timed run: twice the H200's 60 MB L2, so no run finds its inputs cached.
const int64_t kFlushBytes = (int64_t)128 << 20;
std::unique_ptr<Dev<char>> flush_buffer;
std::string filter;  // --filter: cases and bench items whose name contains it
double copy_gbs = 0;

// Median milliseconds of f over `reps` runs after `warm` runs, timed with events on the
// library's stream; the L2 flush is queued before the start event of each timed run.
float time_ms(const std::function<void()>& f, int warm = 5, int reps = 30) {
  void* s = nullptr;
  ok(sepconv_cuda_stream(&s), "stream");
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  for (int i = 0; i < warm; i++) f();
  std::vector<float> t;
  for (int i = 0; i < reps; i++) {
    ok(sepconv_cuda_memset(flush_buffer->p, i & 0xff, kFlushBytes), "flush L2");
    cudaEventRecord(a, (cudaStream_t)s);
    f();
    cudaEventRecord(b, (cudaStream_t)s);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    t.push_back(ms);
  }
  ok(sepconv_cuda_synchronize(), "synchronize");
  if (cudaGetLastError() != cudaSuccess) throw Failure{"cudaEvent timing failed"};
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return median(t);
}

// Times f (unless --filter skips `name`) and prints ms, GB/s for `bytes` moved, and the fraction
// of the device copy.
void bench_item(const std::string& name, double bytes, const std::function<void()>& f) {
  if (name.find(filter) == std::string::npos) return;
  const float ms = time_ms(f);
  const double gbs = bytes / (ms * 1e6);
  printf("bench: %-58s %8.3f ms %7.0f GB/s %5.1f%% of copy\n", name.c_str(), ms, gbs, 100 * gbs / copy_gbs);
}

void bench() {
  flush_buffer.reset(new Dev<char>((size_t)kFlushBytes));
  const size_t copy_bytes = (size_t)1 << 30;
  {
    Dev<char> src(copy_bytes), dst(copy_bytes);
    ok(sepconv_cuda_memset(src.p, 1, (int64_t)copy_bytes), "memset");
    float ms = time_ms([&] {
      ok(sepconv_cuda_memcpy(dst.p, src.p, (int64_t)copy_bytes, SEPCONV_MEMCPY_DEVICE_TO_DEVICE), "memcpy");
    });
    copy_gbs = 2.0 * copy_bytes / (ms * 1e6);
    printf("bench: device copy %.0f GB/s (read + write of 1 GiB; the reference for \"of copy\")\n", copy_gbs);
  }
  const int n = 256;
  for (auto& s : kMobileNetV2Depthwise) {
    sepconv_conv2d c = conv(n, s[0], s[1], s[1], s[0], 3, s[2], 1, 1, s[0]);
    int oh, ow;
    ok(sepconv_conv2d_output_shape(&c, &oh, &ow), "shape");
    size_t nx = (size_t)n * s[0] * s[1] * s[1], ny = (size_t)n * s[0] * oh * ow;
    Dev<float> x(random(nx)), w(random((size_t)s[0] * 9)), y(ny);
    bench_item("depthwise 3x3 fwd " + describe(c), (nx + ny + s[0] * 9.0) * 4,
               [&] { ok(sepconv_conv2d_forward(GPU, &c, x.p, w.p, nullptr, y.p), "dw fwd"); });
  }
  for (auto& s : kMobileNetV2Bn) {
    const int c = s[0], hw = s[1];
    size_t total = (size_t)n * c * hw;
    Dev<float> x(random(total)), g(random(c)), b(random(c)), rm(random(c)), rv(random(c, 0.5f, 2.f)), sm(c), si(c),
        y(total);
    std::string tag = "n=" + std::to_string(n) + " c=" + std::to_string(c) + " hw=" + std::to_string(hw);
    bench_item("bn+relu6 fwd train " + tag, 12.0 * total, [&] {
      ok(sepconv_batchnorm_forward_training(GPU, n, c, hw, x.p, g.p, b.p, 1e-5f, 0.1f, rm.p, rv.p, sm.p, si.p,
                                            SEPCONV_ACT_RELU6, y.p),
         "bn train");
    });
    bench_item("bn+relu6 fwd infer " + tag, 8.0 * total, [&] {
      ok(sepconv_batchnorm_forward_inference(GPU, n, c, hw, x.p, g.p, b.p, rm.p, rv.p, 1e-5f, SEPCONV_ACT_RELU6, y.p),
         "bn infer");
    });
  }
  const int64_t e = (int64_t)n * 144 * 1024;  // the 144-channel 32x32 activation
  Dev<float> x(random((size_t)e)), mask((size_t)e), y((size_t)e);
  const std::string tag = "count=" + std::to_string(e);
  bench_item("dropout fwd p=0.2 " + tag, 12.0 * e,
             [&] { ok(sepconv_dropout_forward(GPU, e, 0.2f, 7, x.p, mask.p, y.p), "dropout fwd"); });
  bench_item("dropout bwd " + tag, 12.0 * e, [&] { ok(sepconv_dropout_backward(GPU, e, mask.p, x.p, y.p), "dropout bwd"); });
  bench_item("scale " + tag, 8.0 * e, [&] { ok(sepconv_scale(GPU, e, 0.5f, x.p, y.p), "scale"); });
  double sum = 0;
  bench_item("sum_squares (synchronises) " + tag, 4.0 * e, [&] { ok(sepconv_sum_squares(GPU, e, x.p, &sum), "sum_squares"); });
  flush_buffer.reset();
}

}  // namespace

int main(int argc, char** argv) {
  bool do_bench = false, large = false;
  for (int i = 1; i < argc; i++) {
    const std::string arg = argv[i];
    if (arg == "--bench") do_bench = true;
    else if (arg == "--large") large = true;
    else if (arg == "--all") do_bench = large = true;
    else if (arg == "--filter" && i + 1 < argc) filter = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--filter SUBSTRING] [--large] [--bench | --all]\n", argv[0]);
      return 2;
    }
  }
  build_cases();
  if (large) build_large_cases();
  cases.erase(std::remove_if(cases.begin(), cases.end(),
                             [](const Case& c) { return c.name.find(filter) == std::string::npos; }),
              cases.end());
  if (sepconv_cuda_available() != SEPCONV_OK) {
    printf("no GPU: %s\n", sepconv_last_error());
    printf("passed: 0 failed: 0 skipped: %zu\n", cases.size());
    return 0;
  }
  char name[256];
  int major = 0, minor = 0;
  ok(sepconv_cuda_device_name(0, name, sizeof name), "device_name");
  ok(sepconv_cuda_device_capability(0, &major, &minor), "capability");
  printf("device: %s (sm_%d%d), sepconv %s\n", name, major, minor, sepconv_version());
  int passed = 0, failed = 0;
  for (auto& c : cases) {
    Result r;
    try {
      c.run(r);
      ok(sepconv_cuda_synchronize(), "synchronize");
    } catch (const Failure& f) {
      r.failed = true;
      r.detail += " " + f.what;
    }
    printf("%s %-70s max rel %.2e%s\n", r.failed ? "FAIL" : "ok  ", c.name.c_str(), r.worst, r.detail.c_str());
    (r.failed ? failed : passed)++;
  }
  if (do_bench) {
    try {
      bench();
    } catch (const Failure& f) {
      printf("bench failed: %s\n", f.what.c_str());
      failed++;
    }
  }
  int64_t alloc = 0, reserved = 0, peak = 0;
  sepconv_cuda_memory_stats(&alloc, &reserved, &peak);
  printf("memory: allocated %lld reserved %lld peak %lld bytes\n", (long long)alloc, (long long)reserved,
         (long long)peak);
  printf("passed: %d failed: %d skipped: 0\n", passed, failed);
  return failed ? 1 : 0;
}
