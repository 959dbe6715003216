package org.sepconv.nn;

import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;

/**
 * Inverted dropout: in training each element is zeroed with probability p and the rest are
 * scaled by 1/(1-p); in eval it is the identity (returns its input). Each forward draws its
 * mask from a counter-based generator keyed by this layer's seed and the number of forwards
 * since the last {@link #reseed}, so a seed fixes the masks on every device alike.
 */
public final class Dropout extends Module {
  private final float p;
  private long seed, calls;

  public Dropout(float p, long seed) {
    if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("p must be in [0, 1), got " + p);
    this.p = p;
    this.seed = seed;
  }

  @Override
  public Variable forward(Variable x) {
    return Trace.record(this, x, isTraining() && p > 0 ? F.dropout(x, p, mix(seed, calls++)) : x);
  }

  public float p() { return p; }

  /**
   * Restarts this layer's mask stream from {@code seed}. A trainer that reseeds every dropout
   * layer from (run seed, step) before each step makes the masks independent of where a run
   * was interrupted and resumed.
   */
  public void reseed(long seed) {
    this.seed = seed;
    this.calls = 0;
  }

  /** A well-mixed key from the seed and the call number (SplitMix64's finaliser). */
  private static long mix(long seed, long call) {
    long z = seed + call * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
