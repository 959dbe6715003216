package org.sepconv.optim;

import org.sepconv.autograd.Variable;
import org.sepconv.ops.Ops;
import org.sepconv.tensor.Tensor;

/** Gradient clipping, as {@code torch.nn.utils.clip_grad_norm_}. */
public final class GradClip {
  private GradClip() {}

  /**
   * Scales every gradient by min(1, maxNorm / (‖g‖ + 1e-6)), where ‖g‖ is the L2 norm of all
   * gradients concatenated (parameters without a gradient are skipped), and returns ‖g‖ as it
   * was before clipping. The norm is accumulated in double. Unlike torch, a non-finite norm
   * (inf or NaN) leaves the gradients untouched, so that the caller can see it and skip the
   * step rather than train on zeroed or NaN gradients.
   */
  public static double clipGradNorm(Iterable<Variable> params, double maxNorm) {
    if (!(maxNorm > 0) || Double.isInfinite(maxNorm)) throw new IllegalArgumentException("maxNorm must be finite and > 0, got " + maxNorm);
    double sum = 0;
    for (Variable v : params) {
      Tensor g = v.grad();
      if (g != null) sum += Ops.sumSquares(g); // one number per gradient comes to the host: the norm decides the scale
    }
    double norm = Math.sqrt(sum);
    double coef = maxNorm / (norm + 1e-6);
    if (coef >= 1 || !Double.isFinite(norm)) return norm;
    float c = (float) coef;
    for (Variable v : params) {
      Tensor g = v.grad();
      if (g != null) Ops.scale(c, g, g);
    }
    return norm;
  }
}
