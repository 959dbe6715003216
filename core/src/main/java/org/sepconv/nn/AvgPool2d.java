package org.sepconv.nn;

import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;

/** Average pooling over k x k windows (floor mode), as {@code torch.nn.AvgPool2d}. */
public final class AvgPool2d extends Module {
  private final int k, stride, pad;
  private final boolean countIncludePad;

  /** stride = k, no padding. */
  public AvgPool2d(int k) {
    this(k, k, 0, true);
  }

  /** countIncludePad: whether padded zeros count in the divisor (PyTorch's default: true). */
  public AvgPool2d(int k, int stride, int pad, boolean countIncludePad) {
    this.k = k;
    this.stride = stride;
    this.pad = pad;
    this.countIncludePad = countIncludePad;
  }

  @Override
  public Variable forward(Variable x) {
    return Trace.record(this, x, F.avgPool2d(x, k, stride, pad, countIncludePad));
  }

  public int kernel() { return k; }
  public int stride() { return stride; }
  public int pad() { return pad; }
  public boolean countIncludePad() { return countIncludePad; }
}
