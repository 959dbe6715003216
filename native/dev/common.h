// Shared helpers of the kernel experiments in native/dev/ (not part of the library): a tiny
// thread pool, timing, random inputs, the measured FMA peak, and comparison against the
// library's double-accumulating reference through the public C ABI.
#pragma once
#include <immintrin.h>
#include <sepconv/sepconv.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <time.h>
#include <vector>

namespace dev {

// Wall time, or with DEV_CPUTIME=1 the calling thread's CPU time: for single-threaded runs on a
// machine shared with other work, time spent descheduled then does not count.
inline double now() {
  static const bool cpu = std::getenv("DEV_CPUTIME") && std::atoi(std::getenv("DEV_CPUTIME")) == 1;
  if (cpu) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// f(begin, end) over [0, count), split dynamically in single items over `threads` threads.
class Pool {
 public:
  explicit Pool(int threads) : n_(threads) {
    for (int t = 1; t < n_; t++) workers_.emplace_back([this, t] { loop(t); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> l(m_);
      stop_ = true;
      gen_++;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int threads() const { return n_; }
  void run(int64_t count, const std::function<void(int64_t, int)>& f) {
    {
      std::lock_guard<std::mutex> l(m_);
      f_ = &f;
      count_ = count;
      next_ = 0;
      busy_ = n_ - 1;
      gen_++;
    }
    cv_.notify_all();
    work(0);
    std::unique_lock<std::mutex> l(m_);
    done_.wait(l, [&] { return busy_ == 0; });
  }

 private:
  void work(int t) {
    for (int64_t i; (i = next_.fetch_add(1)) < count_;) (*f_)(i, t);
  }
  void loop(int t) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, [&] { return gen_ != seen; });
        seen = gen_;
        if (stop_) return;
      }
      work(t);
      std::lock_guard<std::mutex> l(m_);
      if (--busy_ == 0) done_.notify_all();
    }
  }
  int n_;
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable cv_, done_;
  const std::function<void(int64_t, int)>* f_ = nullptr;
  int64_t count_ = 0;
  std::atomic<int64_t> next_{0};
  int busy_ = 0;
  uint64_t gen_ = 0;
  bool stop_ = false;
};

inline void fill(std::vector<float>& v, uint64_t seed) {
  std::mt19937_64 r(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& x : v) x = u(r);
}

// max |a - b| / max(1, max |b|) style error: relative to the largest reference magnitude.
inline double rel_err(const std::vector<float>& got, const std::vector<float>& ref) {
  double e = 0, m = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    e = std::max(e, (double)std::fabs(got[i] - ref[i]));
    m = std::max(m, (double)std::fabs(ref[i]));
  }
  return e / std::max(m, 1e-30);
}

inline void check(int st, const char* what) {
  if (st != SEPCONV_OK) {
    std::fprintf(stderr, "%s: %s\n", what, sepconv_last_error());
    std::exit(1);
  }
}

// The FMA peak (GFLOP/s) on `threads` threads: 12 independent zmm FMA chains per thread.
inline double fma_peak(Pool& pool, double seconds = 0.3) {
  std::vector<double> rate(pool.threads());
  pool.run(pool.threads(), [&](int64_t, int t) {
    __m512 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
    const __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
    double t0 = now(), t1;
    int64_t iters = 0;
    do {
      for (int k = 0; k < 4096; k++)
        for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
      iters += 4096;
      t1 = now();
    } while (t1 - t0 < seconds);
    alignas(64) float lanes[16];
    float s = 0;
    for (int i = 0; i < 12; i++) {
      _mm512_store_ps(lanes, a[i]);
      s += lanes[0];
    }
    if (s == 12345.678f) std::puts("");
    rate[t] = iters * 12.0 * 32 / (t1 - t0) / 1e9;
  });
  double sum = 0;
  for (double r : rate) sum += r;
  return sum;
}

// The best (least) of `reps` timings of f (seconds), after one warm-up call. On a machine
// shared with other work the least time is the one least disturbed; callers alternate the
// versions they compare and take each one's best.
inline double time_best(int reps, const std::function<void()>& f) {
  f();
  double best = 1e30;
  for (int i = 0; i < reps; i++) {
    double t0 = now();
    f();
    best = std::min(best, now() - t0);
  }
  return best;
}

}  // namespace dev
