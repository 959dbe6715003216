package org.sepconv.nn;

import java.util.Random;
import org.sepconv.tensor.Tensor;

/**
 * Weight initialisers as torchvision applies them, each drawing from an explicit
 * {@link Random} so that a seed fixes a model. The sequence of draws is ours, not PyTorch's:
 * a seed reproduces our models, not torchvision's numbers.
 */
public final class Init {
  private Init() {}

  /**
   * {@code kaiming_normal_(w, mode="fan_out", nonlinearity="relu")}: N(0, 2 / fan_out) with
   * fan_out = w.shape[0] * (product of the dims after the second), which, as in PyTorch,
   * ignores groups.
   */
  public static void kaimingNormalFanOut(Tensor w, Random rng) {
    long fanOut = w.shape().get(0);
    for (int i = 2; i < w.shape().rank(); i++) fanOut *= w.shape().get(i);
    normal(w, Math.sqrt(2.0 / fanOut), rng);
  }

  /** N(0, std^2) in every element (drawn on the host, copied to the tensor's device). */
  public static void normal(Tensor t, double std, Random rng) {
    float[] v = new float[(int) t.size()];
    for (int i = 0; i < v.length; i++) v[i] = (float) (rng.nextGaussian() * std);
    t.copyFrom(v);
  }

  /** U(-bound, bound) in every element (drawn on the host, copied to the tensor's device). */
  public static void uniform(Tensor t, double bound, Random rng) {
    float[] v = new float[(int) t.size()];
    for (int i = 0; i < v.length; i++) v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
    t.copyFrom(v);
  }
}
