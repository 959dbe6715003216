package org.sepconv.nn;

import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;

/** [n][...] to [n][rest], copying nothing. */
public final class Flatten extends Module {
  @Override
  public Variable forward(Variable x) {
    return Trace.record(this, x, F.flatten(x));
  }
}
