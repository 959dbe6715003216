package org.sepconv.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Times several implementations of the same work in alternating rounds in one process: each
 * round runs every contender in turn (A, B, C, then A, B, C again), each first for untimed
 * warm-up calls and then for timed calls until both a minimum count and a minimum time are
 * reached. Drift on a shared machine (another job, the clock frequency, the page cache) then
 * falls on every contender alike, and the warm-up after each switch lets the previous
 * contender's threads stop spinning and refills the caches before the clock runs. Work that a
 * call needs but that is not being measured (building the graph a backward consumes, freeing
 * what the call made) goes in {@link Call#before} and {@link Call#after}, outside the clock.
 */
public final class Alternation {
  private Alternation() {}

  /** One call of one contender: {@link #run} is timed, {@link #before} and {@link #after} are not. */
  public interface Call {
    default void before() {}

    void run();

    default void after() {}
  }

  public record Contender(String name, Call call) {}

  /**
   * Per round and contender: at least {@code warmupCalls} untimed calls lasting at least
   * {@code warmupSeconds} together, then at least {@code minCalls} timed calls lasting at least
   * {@code minSeconds} together.
   */
  public record Plan(int rounds, int warmupCalls, double warmupSeconds, int minCalls, double minSeconds) {
    public Plan {
      if (rounds < 1 || warmupCalls < 0 || minCalls < 1 || !(warmupSeconds >= 0) || !(minSeconds >= 0))
        throw new IllegalArgumentException("plan: rounds and minCalls must be >= 1, the rest >= 0, got " + this);
    }

    public Plan withRounds(int r) {
      return new Plan(r, warmupCalls, warmupSeconds, minCalls, minSeconds);
    }
  }

  /** The timed calls of one contender over every round, in seconds, sorted. */
  public record Samples(String name, double[] seconds) {
    public int n() {
      return seconds.length;
    }

    public double median() {
      int n = seconds.length;
      return n % 2 == 1 ? seconds[n / 2] : (seconds[n / 2 - 1] + seconds[n / 2]) / 2;
    }

    public double min() {
      return seconds[0];
    }
  }

  /** Runs the plan with the system clock; the samples come back in the contenders' order. */
  public static List<Samples> run(Plan plan, List<Contender> contenders) {
    return run(plan, contenders, System::nanoTime);
  }

  static List<Samples> run(Plan plan, List<Contender> contenders, LongSupplier nanos) {
    if (contenders.isEmpty()) throw new IllegalArgumentException("contenders: none given");
    List<List<Double>> times = new ArrayList<>();
    for (int i = 0; i < contenders.size(); i++) times.add(new ArrayList<>());
    for (int r = 0; r < plan.rounds(); r++)
      for (int i = 0; i < contenders.size(); i++) {
        Call c = contenders.get(i).call();
        double warm = 0;
        for (int k = 0; k < plan.warmupCalls() || warm < plan.warmupSeconds(); k++) warm += timed(c, nanos);
        double spent = 0;
        for (int k = 0; k < plan.minCalls() || spent < plan.minSeconds(); k++) {
          double s = timed(c, nanos);
          times.get(i).add(s);
          spent += s;
        }
      }
    List<Samples> out = new ArrayList<>();
    for (int i = 0; i < contenders.size(); i++) {
      double[] s = times.get(i).stream().mapToDouble(Double::doubleValue).toArray();
      Arrays.sort(s);
      out.add(new Samples(contenders.get(i).name(), s));
    }
    return out;
  }

  private static double timed(Call c, LongSupplier nanos) {
    c.before();
    long t0 = nanos.getAsLong();
    try {
      c.run();
      return (nanos.getAsLong() - t0) / 1e9;
    } finally {
      c.after();
    }
  }
}
