package org.sepconv.nn;

import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;

/** max(x, 0), elementwise. */
public final class ReLU extends Module {
  @Override
  public Variable forward(Variable x) {
    return Trace.record(this, x, F.relu(x));
  }
}
