package org.sepconv.nn;

import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;

/** Max pooling over k x k windows (floor mode; padding never wins), as {@code torch.nn.MaxPool2d}. */
public final class MaxPool2d extends Module {
  private final int k, stride, pad;

  public MaxPool2d(int k, int stride, int pad) {
    this.k = k;
    this.stride = stride;
    this.pad = pad;
  }

  @Override
  public Variable forward(Variable x) {
    return Trace.record(this, x, F.maxPool2d(x, k, stride, pad));
  }

  public int kernel() { return k; }
  public int stride() { return stride; }
  public int pad() { return pad; }
}
