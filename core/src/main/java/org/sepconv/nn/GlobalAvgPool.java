package org.sepconv.nn;

import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;

/**
 * [n][c][h][w] to [n][c], the mean over h and w: torchvision's
 * {@code AdaptiveAvgPool2d(1)} followed by {@code flatten(x, 1)}, in one kernel.
 */
public final class GlobalAvgPool extends Module {
  @Override
  public Variable forward(Variable x) {
    return Trace.record(this, x, F.globalAvgPool(x));
  }
}
