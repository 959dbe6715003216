package org.sepconv.nn;

import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;

/** min(max(x, 0), 6), elementwise (MobileNet's activation). */
public final class ReLU6 extends Module {
  @Override
  public Variable forward(Variable x) {
    return Trace.record(this, x, F.relu6(x));
  }
}
