package org.sepconv.optim;

import java.util.List;
import org.sepconv.autograd.Variable;
import org.sepconv.ops.Ops;
import org.sepconv.tensor.Tensor;

/**
 * Adam (Kingma and Ba, 2015, arXiv:1412.6980) exactly as {@code torch.optim.Adam} (amsgrad=False,
 * maximize=False), weight decay as L2 added to the gradient. Per element, at the parameter's
 * t-th update (t = 1, 2, ...), with moments m and v:
 *
 * <pre>
 *   g = g + λ·p                       (Adam only; {@link AdamW} decays p instead)
 *   m = β1·m + (1 − β1)·g
 *   v = β2·v + (1 − β2)·g²
 *   p = p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 * </pre>
 *
 * The bias corrections are computed in double, the element updates in float, as torch does
 * for fp32 parameters. State slots: {@code exp_avg} (m), {@code exp_avg_sq} (v).
 */
public class Adam extends Optimizer {
  private final double beta1, beta2, eps, weightDecay;
  private final boolean decoupled;

  /** Adam with torch's defaults: betas (0.9, 0.999), eps 1e-8, no weight decay. */
  public Adam(List<Variable> params, double lr) {
    this(params, lr, 0.9, 0.999, 1e-8, 0);
  }

  public Adam(List<Variable> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
    this(params, lr, beta1, beta2, eps, weightDecay, false);
  }

  Adam(List<Variable> params, double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled) {
    super(params, lr, "exp_avg", "exp_avg_sq");
    if (!(beta1 >= 0 && beta1 < 1)) throw new IllegalArgumentException("beta1 must be in [0, 1), got " + beta1);
    if (!(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("beta2 must be in [0, 1), got " + beta2);
    if (!(eps >= 0) || Double.isInfinite(eps)) throw new IllegalArgumentException("eps must be finite and >= 0, got " + eps);
    if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) throw new IllegalArgumentException("weightDecay must be finite and >= 0, got " + weightDecay);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.decoupled = decoupled;
  }

  @Override
  protected final void update(Tensor p, Tensor g, Tensor[] s, long step, double lr) {
    Ops.adamUpdate(p, g, s[0], s[1], lr, beta1, beta2, eps, weightDecay, decoupled, step);
  }

  public double beta1() {
    return beta1;
  }

  public double beta2() {
    return beta2;
  }

  public double eps() {
    return eps;
  }

  public double weightDecay() {
    return weightDecay;
  }
}
