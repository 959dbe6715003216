package org.sepconv.optim;

import java.util.List;
import org.sepconv.autograd.Variable;
import org.sepconv.ops.Ops;
import org.sepconv.tensor.Tensor;

/**
 * Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay,
 * exactly as {@code torch.optim.SGD} (maximize=False). Per element, with gradient g, parameter
 * p, momentum buffer b, momentum μ, dampening τ and weight decay λ:
 *
 * <pre>
 *   d = g + λ·p
 *   if μ ≠ 0:
 *     b = d                     on the parameter's first update
 *     b = μ·b + (1 − τ)·d       afterwards
 *     d = nesterov ? d + μ·b : b
 *   p = p − lr·d
 * </pre>
 *
 * State slot (only when μ ≠ 0): {@code momentum_buffer}.
 */
public final class SGD extends Optimizer {
  private final float momentum, dampening, weightDecay;
  private final boolean nesterov;

  /** Plain SGD: p = p − lr·g. */
  public SGD(List<Variable> params, double lr) {
    this(params, lr, 0, 0, false, 0);
  }

  public SGD(List<Variable> params, double lr, double momentum, double dampening, boolean nesterov, double weightDecay) {
    super(params, lr, momentum != 0 ? new String[] {"momentum_buffer"} : new String[0]);
    if (!(momentum >= 0) || Double.isInfinite(momentum)) throw new IllegalArgumentException("momentum must be finite and >= 0, got " + momentum);
    if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) throw new IllegalArgumentException("weightDecay must be finite and >= 0, got " + weightDecay);
    if (Double.isNaN(dampening) || Double.isInfinite(dampening)) throw new IllegalArgumentException("dampening must be finite, got " + dampening);
    if (nesterov && (momentum <= 0 || dampening != 0))
      throw new IllegalArgumentException("nesterov momentum needs momentum > 0 and dampening 0, got momentum " + momentum + ", dampening " + dampening);
    this.momentum = (float) momentum;
    this.dampening = (float) dampening;
    this.nesterov = nesterov;
    this.weightDecay = (float) weightDecay;
  }

  @Override
  protected void update(Tensor p, Tensor g, Tensor[] s, long step, double lr) {
    Ops.sgdUpdate(p, g, momentum == 0 ? null : s[0], lr, momentum, dampening, weightDecay, nesterov, step);
  }

  public double momentum() {
    return momentum;
  }

  public double dampening() {
    return dampening;
  }

  public boolean nesterov() {
    return nesterov;
  }

  public double weightDecay() {
    return weightDecay;
  }
}
