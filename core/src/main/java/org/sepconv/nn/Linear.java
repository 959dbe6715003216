package org.sepconv.nn;

import java.util.Random;
import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * y[n][out] = x[n][in] . weight^T + bias, as {@code torch.nn.Linear}: parameters
 * {@code weight} [out][in] and, if enabled, {@code bias} [out]. Initialised as PyTorch does by
 * default: weight and bias U(-1/sqrt(in), 1/sqrt(in)); a model may re-initialise them through
 * {@link #weight()} and {@link #bias()} (MobileNets use N(0, 0.01) and zero).
 */
public final class Linear extends Module {
  private final int in, out;
  private final Variable weight, bias;

  public Linear(int in, int out, boolean bias, Random rng) {
    if (in < 1 || out < 1) throw new IllegalArgumentException("in and out must be >= 1, got " + in + ", " + out);
    this.in = in;
    this.out = out;
    double bound = 1 / Math.sqrt(in);
    Tensor w = Tensor.empty(Shape.of(out, in));
    Init.uniform(w, bound, rng);
    weight = param("weight", w);
    if (bias) {
      Tensor b = Tensor.empty(Shape.of(out));
      Init.uniform(b, bound, rng);
      this.bias = param("bias", b);
    } else {
      this.bias = null;
    }
  }

  @Override
  public Variable forward(Variable x) {
    return Trace.record(this, x, F.linear(x, weight, bias));
  }

  public Variable weight() { return weight; }

  /** The bias, or null if there is none. */
  public Variable bias() { return bias; }

  public int inFeatures() { return in; }
  public int outFeatures() { return out; }
}
