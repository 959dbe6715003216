package org.sepconv.ops;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Wall time spent in each native op family (argument checks, JNI and the kernel), process-wide.
 * Off by default, when it costs one volatile read per call. Used by the training-step benchmark
 * to split a step into op families and "everything else" (autograd, allocation, optimizer).
 */
public final class Profiler {
  private static volatile boolean enabled;
  private static final Map<String, LongAdder[]> TIMES = new ConcurrentHashMap<>();

  private Profiler() {}

  public static void enable(boolean on) {
    enabled = on;
  }

  public static void reset() {
    TIMES.clear();
  }

  /** Op family -> {total nanoseconds, calls}, sorted by name. */
  public static Map<String, long[]> snapshot() {
    Map<String, long[]> out = new TreeMap<>();
    TIMES.forEach((k, v) -> out.put(k, new long[] {v[0].sum(), v[1].sum()}));
    return out;
  }

  static long start() {
    return enabled ? System.nanoTime() : 0;
  }

  static void stop(String op, long t0) {
    if (t0 == 0) return;
    LongAdder[] a = TIMES.computeIfAbsent(op, k -> new LongAdder[] {new LongAdder(), new LongAdder()});
    a[0].add(System.nanoTime() - t0);
    a[1].increment();
  }
}
