package org.sepconv.nn;

import java.util.Random;
import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;

/**
 * Inverted dropout: in training each element is zeroed with probability p and the rest are
 * scaled by 1/(1-p); in eval it is the identity (returns its input). The masks come from the
 * {@link Random} given here, so a seed fixes them.
 */
public final class Dropout extends Module {
  private final float p;
  private final Random rng;

  public Dropout(float p, Random rng) {
    if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("p must be in [0, 1), got " + p);
    this.p = p;
    this.rng = rng;
  }

  @Override
  public Variable forward(Variable x) {
    return Trace.record(this, isTraining() && p > 0 ? F.dropout(x, p, rng) : x);
  }

  public float p() { return p; }

  /**
   * Restarts this layer's mask stream from {@code seed}. A trainer that reseeds every dropout
   * layer from (run seed, step) before each step makes the masks independent of where a run
   * was interrupted and resumed.
   */
  public void reseed(long seed) {
    rng.setSeed(seed);
  }
}
