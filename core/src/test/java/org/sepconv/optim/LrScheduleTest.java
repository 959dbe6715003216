package org.sepconv.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.sepconv.autograd.Variable;
import org.sepconv.tensor.Tensor;

class LrScheduleTest {
  private static final double EPS = 1e-12;

  @Test
  void constant() {
    LrSchedule s = LrSchedule.constant(0.1);
    assertEquals(0.1, s.lr(0));
    assertEquals(0.1, s.lr(1_000_000));
  }

  @Test
  void stepDecay() {
    LrSchedule s = LrSchedule.step(0.1, 30, 0.1);
    assertEquals(0.1, s.lr(0), EPS);
    assertEquals(0.1, s.lr(29), EPS);
    assertEquals(0.01, s.lr(30), EPS);
    assertEquals(0.001, s.lr(60), EPS);
    assertEquals(0.001, s.lr(89), EPS);
    assertThrows(IllegalArgumentException.class, () -> s.lr(-1));
  }

  @Test
  void cosineToFloor() {
    LrSchedule s = LrSchedule.cosine(0.1, 100, 0.001);
    assertEquals(0.1, s.lr(0), EPS);
    assertEquals((0.1 + 0.001) / 2, s.lr(50), EPS);
    assertEquals(0.001 + 0.099 * (1 + Math.cos(Math.PI * 0.25)) / 2, s.lr(25), EPS);
    assertEquals(0.001, s.lr(100), EPS);
    assertEquals(0.001, s.lr(150), EPS, "held at the floor after T");
  }

  /** torch.optim.lr_scheduler.OneCycleLR.get_lr (cos, two phases), transcribed. */
  private static double torchOneCycle(long step, double maxLr, long total, double pct, double div, double finalDiv) {
    double initial = maxLr / div, min = initial / finalDiv;
    double[][] phases = {{pct * total - 1, initial, maxLr}, {total - 1, maxLr, min}};
    double start = 0;
    for (int i = 0; i < phases.length; i++) {
      double end = phases[i][0];
      if (step <= end || i == phases.length - 1) {
        double f = (step - start) / (end - start);
        double a = phases[i][1], b = phases[i][2];
        return b + (a - b) / 2.0 * (Math.cos(Math.PI * f) + 1);
      }
      start = end;
    }
    throw new AssertionError();
  }

  @Test
  void oneCycleMatchesTorch() {
    LrSchedule s = LrSchedule.oneCycle(1.0, 100);
    assertEquals(0.04, s.lr(0), EPS, "max_lr / div_factor");
    assertEquals(1.0, s.lr(29), EPS, "peak at pct_start * total - 1");
    assertEquals((1.0 + 4e-6) / 2, s.lr(64), EPS, "half-way down");
    assertEquals(4e-6, s.lr(99), EPS, "initial_lr / final_div_factor");
    assertEquals(4e-6, s.lr(120), EPS, "held after the cycle");
    for (long t = 0; t < 100; t++) assertEquals(torchOneCycle(t, 1.0, 100, 0.3, 25, 1e4), s.lr(t), EPS, "step " + t);
    LrSchedule c = LrSchedule.oneCycle(0.4, 37, 0.25, 10, 100);
    for (long t = 0; t < 37; t++) assertEquals(torchOneCycle(t, 0.4, 37, 0.25, 10, 100), c.lr(t), EPS, "step " + t);
  }

  @Test
  void linearWarmupWrapsAnySchedule() {
    LrSchedule w = LrSchedule.warmup(LrSchedule.constant(1.0), 10, 0.1);
    assertEquals(0.1, w.lr(0), EPS);
    assertEquals(0.55, w.lr(5), EPS);
    assertEquals(1.0, w.lr(10), EPS);
    assertEquals(1.0, w.lr(500), EPS);
    LrSchedule inner = LrSchedule.cosine(0.2, 100, 0);
    LrSchedule wc = LrSchedule.warmup(inner, 20, 0);
    assertEquals(0, wc.lr(0), EPS);
    assertEquals(inner.lr(10) * 0.5, wc.lr(10), EPS);
    assertEquals(inner.lr(60), wc.lr(60), EPS);
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.warmup(inner, 0, 0.1));
  }

  @Test
  void applySetsTheOptimizersRate() {
    try (Variable p = Variable.leaf(Tensor.zeros(2), true); SGD opt = new SGD(List.of(p), 1)) {
      LrSchedule.step(0.1, 10, 0.5).apply(opt, 25);
      assertEquals(0.025, opt.lr(), EPS);
    }
  }

  @Test
  void badArguments() {
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.step(0.1, 0, 0.1));
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.cosine(0.1, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.oneCycle(1, 100, 1.5, 25, 1e4));
    assertThrows(IllegalArgumentException.class, () -> LrSchedule.constant(Double.NaN));
  }
}
