package org.sepconv.optim;

import java.util.List;
import org.sepconv.autograd.Variable;

/**
 * AdamW (Loshchilov and Hutter, 2019, arXiv:1711.05101) exactly as {@code torch.optim.AdamW}:
 * Adam without the L2 term, and with decoupled weight decay applied to the parameter first,
 *
 * <pre>
 *   p = p − lr·λ·p
 * </pre>
 *
 * followed by the {@link Adam} update of p with the unmodified gradient.
 */
public final class AdamW extends Adam {
  /** AdamW with torch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 1e-2. */
  public AdamW(List<Variable> params, double lr) {
    this(params, lr, 0.9, 0.999, 1e-8, 1e-2);
  }

  public AdamW(List<Variable> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
    super(params, lr, beta1, beta2, eps, weightDecay, true);
  }
}
