// Runtime: error text, the thread pool, ISA selection, scratch accounting, exec decoding and
// the messages of unsupported devices/algos (see dispatch.h), and BLAS attach.
#include <dlfcn.h>

#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"
#include "kernels/gemm.h"

namespace sepconv {

// ---------------------------------------------------------------- errors
static thread_local std::string g_last_error;

void fail(int status, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  throw Error{status, buf};
}

int guarded(const std::function<void()>& f) {
  try {
    f();
    return SEPCONV_OK;
  } catch (const Error& e) {
    g_last_error = e.message;
    return e.status;
  } catch (const std::bad_alloc&) {
    g_last_error = "out of memory while allocating scratch space";
    return SEPCONV_ENOMEM;
  } catch (const std::exception& e) {
    g_last_error = std::string("internal error: ") + e.what();
    return SEPCONV_EINTERNAL;
  } catch (...) {
    g_last_error = "internal error: unknown exception";
    return SEPCONV_EINTERNAL;
  }
}

// ---------------------------------------------------------------- thread pool
namespace {
thread_local bool t_in_task = false;

class Pool {
 public:
  ~Pool() { stop(); }

  int threads() const { return threads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> call(call_mu_);
    stop();
    threads_ = n;
    quit_ = false;
    for (int i = 1; i < n; i++) workers_.emplace_back([this] { work_loop(); });
  }

  void run(int64_t count, const std::function<void(int64_t, int64_t)>& f) {
    if (count <= 0) return;
    std::unique_lock<std::mutex> call(call_mu_, std::try_to_lock);
    if (t_in_task || !call.owns_lock() || threads_ <= 1 || count == 1) {
      f(0, count);  // nested, concurrent or single-threaded: run inline
      return;
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &f;
      count_ = count;
      chunks_ = (int)std::min<int64_t>(count, (int64_t)threads_ * 4);
      next_ = 0;
      done_ = 0;
      error_ = nullptr;
      generation_++;
    }
    cv_.notify_all();
    do_chunks();
    std::unique_lock<std::mutex> lk(mu_);
    // also wait for every worker to leave do_chunks: one still there could otherwise claim an
    // index of the next job against this job's chunk count
    done_cv_.wait(lk, [this] { return done_ == chunks_ && active_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void do_chunks() {
    t_in_task = true;
    for (;;) {
      int i = next_.fetch_add(1);
      if (i >= chunks_) break;
      int64_t b = count_ * i / chunks_, e = count_ * (i + 1) / chunks_;
      try {
        (*job_)(b, e);
      } catch (...) {
        std::lock_guard<std::mutex> lk(mu_);
        if (!error_) error_ = std::current_exception();
      }
      std::lock_guard<std::mutex> lk(mu_);
      if (++done_ == chunks_) done_cv_.notify_all();
    }
    t_in_task = false;
  }

  void work_loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return quit_ || (generation_ != seen && job_ != nullptr); });
        if (quit_) return;
        seen = generation_;
        active_++;
      }
      do_chunks();
      std::lock_guard<std::mutex> lk(mu_);
      if (--active_ == 0) done_cv_.notify_all();
    }
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::mutex call_mu_, mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  int threads_ = 1;
  bool quit_ = false;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t count_ = 0;
  int chunks_ = 0;
  std::atomic<int> next_{0};
  int done_ = 0;
  int active_ = 0;  // workers inside do_chunks
  uint64_t generation_ = 0;
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool* p = [] {
    auto* q = new Pool();  // never destroyed: workers must outlive static teardown
    unsigned hw = std::thread::hardware_concurrency();
    q->resize(hw == 0 ? 1 : (int)hw);
    return q;
  }();
  return *p;
}
}  // namespace

void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& f) {
  pool().run(count, f);
}
int num_threads() { return pool().threads(); }

// ---------------------------------------------------------------- ISA
static int detect_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma"))
    return SEPCONV_ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SEPCONV_ISA_AVX2;
  return SEPCONV_ISA_GENERIC;
}
static const int g_isa_max = detect_isa();
static std::atomic<int> g_isa{g_isa_max};
int active_isa() { return g_isa.load(std::memory_order_relaxed); }

// ---------------------------------------------------------------- scratch
static std::atomic<int64_t> g_workspace_bytes{0};

Workspace::Workspace(size_t floats) : ptr_(nullptr), bytes_(0) {
  size_t bytes = ((floats * sizeof(float)) + 63) / 64 * 64;
  if (bytes == 0) return;
  ptr_ = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!ptr_) throw std::bad_alloc();
  bytes_ = bytes;
  g_workspace_bytes += (int64_t)bytes;
}
Workspace::~Workspace() {
  std::free(ptr_);
  g_workspace_bytes -= (int64_t)bytes_;
}
int64_t workspace_bytes() { return g_workspace_bytes.load(); }

// ---------------------------------------------------------------- exec
Exec decode_exec(int exec) {
  Exec e{exec & 15, exec >> 4};
  SEPCONV_CHECK_ARG(exec >= 0 && e.device <= SEPCONV_DEVICE_CUDA && e.algo <= SEPCONV_ALGO_IM2COL,
                    "exec must be SEPCONV_EXEC(device in 0..1, algo in 0..2), got %d", exec);
  return e;
}

void unsupported(const Exec& e, const char* op) {
  if (e.device == SEPCONV_DEVICE_CUDA) {
#ifndef SEPCONV_HAS_CUDA
    fail(SEPCONV_EUNSUPPORTED,
         "%s: CUDA unavailable: this build has no CUDA backend (nvcc was not found when it was "
         "compiled); use the CPU device",
         op);
#endif
    if (e.algo != SEPCONV_ALGO_AUTO)
      fail(SEPCONV_EUNSUPPORTED,
           "%s: the reference and im2col kernels run on the CPU only; use AUTO on CUDA", op);
    fail(SEPCONV_EUNSUPPORTED, "%s: this build has no CUDA kernel for it; use the CPU device", op);
  }
  fail(SEPCONV_EUNSUPPORTED, "%s: this build has no %s kernel for it", op,
       e.algo == SEPCONV_ALGO_REFERENCE ? "reference" : "CPU");
}

int64_t numel(std::initializer_list<int64_t> dims, const char* what) {
  int64_t r = 1;
  for (int64_t d : dims)
    if (__builtin_mul_overflow(r, d, &r) || r > INT64_MAX / (int64_t)sizeof(float))
      fail(SEPCONV_EINVAL, "%s: the element count overflows int64", what);
  return r;
}

void check_mask(int mask) {
  SEPCONV_CHECK_ARG((mask & ~7) == 0,
                    "mask must be a combination of GRAD_INPUT|GRAD_WEIGHT|GRAD_BIAS (0..7), got %d",
                    mask);
}

void check_act(int act, const char* name) {
  SEPCONV_CHECK_ARG(act >= SEPCONV_ACT_NONE && act <= SEPCONV_ACT_RELU6,
                    "%s must be 0 (NONE), 1 (RELU) or 2 (RELU6), got %d", name, act);
}

void check_backward_args(int mask, const void* x, const void* w, const void* dy, const void* dx,
                         const void* dw, const void* dbias) {
  check_mask(mask);
  if (mask == 0) return;
  SEPCONV_CHECK_ARG(dy, "dy must not be NULL");
  if (mask & SEPCONV_GRAD_INPUT) {
    SEPCONV_CHECK_ARG(w, "w must not be NULL when GRAD_INPUT is asked");
    SEPCONV_CHECK_ARG(dx, "dx must not be NULL when GRAD_INPUT is asked");
  }
  if (mask & SEPCONV_GRAD_WEIGHT) {
    SEPCONV_CHECK_ARG(x, "x must not be NULL when GRAD_WEIGHT is asked");
    SEPCONV_CHECK_ARG(dw, "dw must not be NULL when GRAD_WEIGHT is asked");
  }
  if (mask & SEPCONV_GRAD_BIAS) SEPCONV_CHECK_ARG(dbias, "dbias must not be NULL when GRAD_BIAS is asked");
}

// ---------------------------------------------------------------- GEMM
namespace {
enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };
typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float*, int,
                               const float*, int, float, float*, int);
typedef void (*set_threads_fn)(int);
std::atomic<cblas_sgemm_fn> g_sgemm{nullptr};
std::atomic<set_threads_fn> g_blas_threads{nullptr};
}  // namespace

bool blas_attached() { return g_sgemm.load() != nullptr; }

void gemm_serial(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  SEPCONV_ISA_CALL(gemm_serial, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (cblas_sgemm_fn f = g_sgemm.load()) {
    f(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
      alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Built-in: split C into fixed column blocks (independent of the thread count).
  const int block = 256;
  int64_t blocks = (n + block - 1) / block;
  parallel_for(blocks, [&](int64_t b0, int64_t b1) {
    for (int64_t bi = b0; bi < b1; bi++) {
      int j0 = (int)bi * block, nn = std::min(block, n - j0);
      const float* bb = tb ? b + (int64_t)j0 * ldb : b + j0;
      gemm_serial(ta, tb, m, nn, k, alpha, a, lda, bb, ldb, beta, c + j0, ldc);
    }
  });
}

}  // namespace sepconv

using namespace sepconv;

extern "C" {

const char* sepconv_version(void) { return SEPCONV_VERSION_STRING; }
const char* sepconv_last_error(void) { return g_last_error.c_str(); }

int sepconv_set_num_threads(int n) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(n >= 1 && n <= 1024, "threads must be in [1, 1024], got %d", n);
    pool().resize(n);
    if (set_threads_fn f = g_blas_threads.load()) f(n);
  });
}
int sepconv_get_num_threads(void) { return pool().threads(); }

int sepconv_cpu_isa_max(void) { return g_isa_max; }
int sepconv_cpu_isa(void) { return active_isa(); }
int sepconv_set_cpu_isa(int isa) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(isa >= -1 && isa <= g_isa_max,
                      "isa must be in [-1, %d] (the best this CPU supports), got %d", g_isa_max,
                      isa);
    g_isa = isa < 0 ? g_isa_max : isa;
  });
}

int sepconv_blas_attach(const char* library) {
  return guarded([&] {
    if (library == nullptr) {
      g_sgemm = nullptr;
      g_blas_threads = nullptr;
      return;
    }
    void* h = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!h) fail(SEPCONV_EUNSUPPORTED, "library: cannot load '%s': %s", library, dlerror());
    auto f = reinterpret_cast<cblas_sgemm_fn>(dlsym(h, "cblas_sgemm"));
    if (!f) fail(SEPCONV_EUNSUPPORTED, "library: '%s' has no cblas_sgemm", library);
    auto t = reinterpret_cast<set_threads_fn>(dlsym(h, "openblas_set_num_threads"));
    if (t) t(pool().threads());
    g_blas_threads = t;
    g_sgemm = f;  // the handle stays open for the life of the process
  });
}
int sepconv_blas_attached(void) { return blas_attached() ? 1 : 0; }
int64_t sepconv_workspace_bytes(void) { return workspace_bytes(); }

}  // extern "C"
