// Entry point of sepconv_cpu_probe (see probe.h): validate, then run the active ISA's loops on
// the library's thread pool and time them. Both probes repeat short measurements until
// `seconds` have passed and report the best one: a roofline floor wants the most the machine
// gives, and on a shared machine the other tenants only ever take some away.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <vector>

#include "probe.h"

namespace sepconv {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// GFLOP/s of `threads` pool tasks running multiply-add chains at the same time. Each
// measurement starts the tasks together (a task waits up to 0.1 s for the others, so a pool
// that runs the tasks one after another, as a busy or nested one does, still finishes) and
// divides all their flops by the time from the first start to the last end.
double fma_peak(int threads, double seconds) {
  const int isa = active_isa();
  const int64_t rounds = 1 << 14;  // about 0.1 ms per call at 2-3 GHz
  const double slice = std::min(seconds, 0.05);
  std::vector<double> flops(threads), begin(threads), end(threads);
  std::vector<float> sink(threads);
  double best = 0;
  const Clock::time_point t0 = Clock::now();
  do {
    std::atomic<int> arrived{0};
    const Clock::time_point epoch = Clock::now();
    parallel_for(threads, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; i++) {
        arrived++;
        while (arrived.load() < threads && seconds_since(epoch) < 0.1) {
        }
        const Clock::time_point start = Clock::now();
        double f = 0;
        do f += SEPCONV_ISA_CALL_AT(isa, fma_chains, rounds, &sink[i]);
        while (seconds_since(start) < slice);
        begin[i] = std::chrono::duration<double>(start - epoch).count();
        end[i] = seconds_since(epoch);
        flops[i] = f;
      }
    });
    double total = 0, first = begin[0], last = end[0];
    for (int i = 0; i < threads; i++) {
      total += flops[i];
      first = std::min(first, begin[i]);
      last = std::max(last, end[i]);
    }
    best = std::max(best, total / (last - first) / 1e9);
  } while (seconds_since(t0) < seconds);
  return best;
}

// GB/s of copying one buffer into another (bytes read + bytes written), `threads` pool tasks
// each copying its own contiguous part. Each buffer is max(256 MiB, the last-level cache),
// capped at 1 GiB, so the two together are at least twice the cache and every pass streams
// from memory.
double copy_bandwidth(int threads, double seconds) {
  const int isa = active_isa();
  long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
  const int64_t bytes = std::min<int64_t>(std::max<int64_t>(256 << 20, llc > 0 ? llc : 0), 1 << 30);
  const int64_t part = bytes / 4 / threads / 64 * 64, count = part * threads;  // floats
  Workspace src((size_t)count), dst((size_t)count);
  auto pass = [&](bool fill) {
    parallel_for(threads, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; i++) {
        float* d = dst.data() + i * part;
        if (fill) {  // first touch: every page faulted in by the task that streams it later
          std::fill(src.data() + i * part, src.data() + (i + 1) * part, 1.0f);
          std::fill(d, d + part, 0.0f);
        } else {
          SEPCONV_ISA_CALL_AT(isa, stream_copy, src.data() + i * part, d, part);
        }
      }
    });
  };
  pass(true);
  double best = 0;
  const Clock::time_point t0 = Clock::now();
  do {
    const Clock::time_point start = Clock::now();
    pass(false);
    best = std::max(best, 2.0 * 4.0 * (double)count / seconds_since(start) / 1e9);
  } while (seconds_since(t0) < seconds);
  return best;
}

}  // namespace
}  // namespace sepconv

using namespace sepconv;

extern "C" {

int sepconv_cpu_probe(int what, int threads, double seconds, double* result) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(what == SEPCONV_PROBE_FMA_PEAK || what == SEPCONV_PROBE_COPY_BANDWIDTH,
                      "what must be 0 (SEPCONV_PROBE_FMA_PEAK) or 1 (SEPCONV_PROBE_COPY_BANDWIDTH), got %d",
                      what);
    const int pool = num_threads();
    SEPCONV_CHECK_ARG(threads <= pool,
                      "threads must be at most the pool's %d (sepconv_set_num_threads), or <= 0 for all "
                      "of them, got %d",
                      pool, threads);
    SEPCONV_CHECK_ARG(std::isfinite(seconds) && seconds > 0 && seconds <= 60,
                      "seconds must be in (0, 60], got %g", seconds);
    SEPCONV_CHECK_ARG(result, "result must not be NULL");
    const int t = threads <= 0 ? pool : threads;
    *result = what == SEPCONV_PROBE_FMA_PEAK ? fma_peak(t, seconds) : copy_bandwidth(t, seconds);
  });
}

}  // extern "C"
