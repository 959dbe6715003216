package org.sepconv.bench;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sepconv.bench.Alternation.Call;
import org.sepconv.bench.Alternation.Contender;
import org.sepconv.bench.Alternation.Plan;
import org.sepconv.bench.Alternation.Samples;

class AlternationTest {
  /** A fake clock in ns that the calls advance, and a log of what ran. */
  private final long[] now = {0};
  private final List<String> log = new ArrayList<>();

  /** A contender whose timed call lasts {@code ms}, and whose untimed set-up and tear-down last 1 s each. */
  private Contender fake(String name, long... ms) {
    int[] call = {0};
    return new Contender(name, new Call() {
      @Override public void before() { now[0] += 1_000_000_000L; }
      @Override public void run() {
        log.add(name);
        now[0] += ms[Math.min(call[0]++, ms.length - 1)] * 1_000_000L;
      }
      @Override public void after() { now[0] += 1_000_000_000L; }
    });
  }

  @Test
  void roundsAlternateAndWarmupCallsAreNotCounted() {
    // each contender: 1 warm-up call, then 2 timed calls, per round
    List<Samples> s = Alternation.run(new Plan(2, 1, 0, 2, 0), List.of(fake("a", 50, 10, 30, 50, 20, 40), fake("b", 7)), () -> now[0]);
    assertEquals(List.of("a", "a", "a", "b", "b", "b", "a", "a", "a", "b", "b", "b"), log);
    assertEquals("a", s.get(0).name());
    // a's timed calls: 10, 30 (round 1), 20, 40 (round 2); set-up and tear-down never counted
    assertArrayEquals(new double[] {0.010, 0.020, 0.030, 0.040}, s.get(0).seconds(), 1e-12);
    assertEquals(0.025, s.get(0).median(), 1e-12);
    assertEquals(0.010, s.get(0).min(), 1e-12);
    assertEquals(4, s.get(1).n());
    assertEquals(0.007, s.get(1).median(), 1e-12);
  }

  @Test
  void minimumTimesExtendWarmupAndTimedCalls() {
    // 10 ms calls: warm-up until 25 ms (3 calls), then timed until 45 ms (5 calls)
    List<Samples> s = Alternation.run(new Plan(1, 1, 0.025, 1, 0.045), List.of(fake("a", 10)), () -> now[0]);
    assertEquals(8, log.size());
    assertEquals(5, s.get(0).n());
  }

  @Test
  void oddCountsTakeTheMiddleSample() {
    assertEquals(3.0, new Samples("x", new double[] {1, 3, 9}).median());
  }

  @Test
  void badPlansAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> new Plan(0, 1, 0, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new Plan(1, 1, 0, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new Plan(1, 1, Double.NaN, 1, 0));
    assertThrows(IllegalArgumentException.class, () -> Alternation.run(new Plan(1, 0, 0, 1, 0), List.of()));
  }
}
