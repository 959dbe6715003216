package org.sepconv.optim;

/**
 * A learning rate as a function of the step index t = 0, 1, 2, ... A schedule is a pure
 * function, so resuming a run needs only the step index. The caller picks the unit: pass the
 * iteration (optimizer steps taken so far, our convention, which one-cycle and warm-up need)
 * or the epoch, and size the schedule in the same unit. Typical use, once per iteration:
 *
 * <pre>
 *   schedule.apply(optimizer, iteration);
 *   optimizer.step();
 * </pre>
 *
 * Formulas, with base rate η, step t:
 * <ul>
 *   <li>{@link #constant}: η
 *   <li>{@link #step}: η·γ^⌊t/N⌋ (torch StepLR)
 *   <li>{@link #cosine}: η_min + (η − η_min)·(1 + cos(π·min(t, T)/T))/2 (torch
 *       CosineAnnealingLR's closed form, held at η_min after T)
 *   <li>{@link #oneCycle}: torch OneCycleLR with cosine annealing, two phases
 *   <li>{@link #warmup}: any schedule times a linear ramp (torch LinearLR)
 * </ul>
 */
@FunctionalInterface
public interface LrSchedule {
  /** The learning rate for step {@code t} (t >= 0). */
  double lr(long t);

  /** Sets the optimizer's learning rate for step {@code t}. */
  default void apply(Optimizer optimizer, long t) {
    optimizer.setLr(lr(t));
  }

  /** η at every step. */
  static LrSchedule constant(double lr) {
    checkRate("lr", lr);
    return t -> lr;
  }

  /** η·γ^⌊t/N⌋: the rate is multiplied by {@code gamma} every {@code stepSize} steps. */
  static LrSchedule step(double lr, long stepSize, double gamma) {
    checkRate("lr", lr);
    if (stepSize <= 0) throw new IllegalArgumentException("stepSize must be > 0, got " + stepSize);
    checkRate("gamma", gamma);
    return t -> lr * Math.pow(gamma, Math.floorDiv(checkStep(t), stepSize));
  }

  /**
   * Cosine annealing from η at t = 0 to {@code minLr} at t = {@code totalSteps}, held there
   * afterwards: η_min + (η − η_min)·(1 + cos(π·min(t, T)/T))/2.
   */
  static LrSchedule cosine(double lr, long totalSteps, double minLr) {
    checkRate("lr", lr);
    checkRate("minLr", minLr);
    if (totalSteps <= 0) throw new IllegalArgumentException("totalSteps must be > 0, got " + totalSteps);
    return t -> minLr + (lr - minLr) * (1 + Math.cos(Math.PI * Math.min(checkStep(t), totalSteps) / totalSteps)) / 2;
  }

  /** One-cycle with torch's defaults: pctStart 0.3, divFactor 25, finalDivFactor 1e4. */
  static LrSchedule oneCycle(double maxLr, long totalSteps) {
    return oneCycle(maxLr, totalSteps, 0.3, 25, 1e4);
  }

  /**
   * torch OneCycleLR (anneal_strategy='cos', three_phase=False), Smith and Topin 2017
   * (arXiv:1708.07120). With η0 = maxLr/divFactor, η_end = η0/finalDivFactor,
   * a = pctStart·T − 1 and cos(x, y, f) = y + (x − y)·(1 + cos(π·f))/2:
   *
   * <pre>
   *   t ≤ a:  cos(η0, maxLr, t/a)
   *   t > a:  cos(maxLr, η_end, (t − a)/(T − 1 − a)), held at η_end from t = T − 1 on
   * </pre>
   *
   * (Momentum cycling, which torch also does, is not part of this schedule.)
   */
  static LrSchedule oneCycle(double maxLr, long totalSteps, double pctStart, double divFactor, double finalDivFactor) {
    checkRate("maxLr", maxLr);
    if (totalSteps <= 1) throw new IllegalArgumentException("totalSteps must be > 1, got " + totalSteps);
    if (!(pctStart > 0 && pctStart < 1)) throw new IllegalArgumentException("pctStart must be in (0, 1), got " + pctStart);
    if (!(divFactor > 0) || !(finalDivFactor > 0))
      throw new IllegalArgumentException("divFactor and finalDivFactor must be > 0, got " + divFactor + ", " + finalDivFactor);
    double initial = maxLr / divFactor, last = initial / finalDivFactor;
    double warmEnd = pctStart * totalSteps - 1, end = totalSteps - 1;
    if (!(warmEnd > 0 && warmEnd < end))
      throw new IllegalArgumentException("pctStart " + pctStart + " of " + totalSteps + " steps leaves an empty phase");
    return t -> {
      double s = Math.min(checkStep(t), end);
      return s <= warmEnd ? cosAnneal(initial, maxLr, s / warmEnd) : cosAnneal(maxLr, last, (s - warmEnd) / (end - warmEnd));
    };
  }

  /**
   * {@code inner} multiplied by a linear ramp over the first {@code warmupSteps} steps, as torch
   * LinearLR(start_factor, end_factor=1, total_iters) chained with it:
   * factor(t) = s + (1 − s)·min(t, W)/W, from s = {@code startFactor} at t = 0 to 1 at t = W.
   * The inner schedule is not shifted: it runs on the same t.
   */
  static LrSchedule warmup(LrSchedule inner, long warmupSteps, double startFactor) {
    if (inner == null) throw new IllegalArgumentException("inner must not be null");
    if (warmupSteps <= 0) throw new IllegalArgumentException("warmupSteps must be > 0, got " + warmupSteps);
    if (!(startFactor >= 0 && startFactor <= 1)) throw new IllegalArgumentException("startFactor must be in [0, 1], got " + startFactor);
    return t -> inner.lr(t) * (startFactor + (1 - startFactor) * Math.min(checkStep(t), warmupSteps) / warmupSteps);
  }

  private static double cosAnneal(double start, double end, double f) {
    return end + (start - end) / 2 * (1 + Math.cos(Math.PI * f));
  }

  private static long checkStep(long t) {
    if (t < 0) throw new IllegalArgumentException("step must be >= 0, got " + t);
    return t;
  }

  private static void checkRate(String name, double v) {
    if (!(v >= 0) || Double.isInfinite(v)) throw new IllegalArgumentException(name + " must be finite and >= 0, got " + v);
  }
}
