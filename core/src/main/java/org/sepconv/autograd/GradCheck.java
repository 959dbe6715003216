package org.sepconv.autograd;

import java.util.Random;
import java.util.function.Function;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * The finite-difference check of an op's backward, on whatever device its inputs live. For
 * L = sum(f(inputs) * r) with a random r, it compares, for every input that requires grad, the
 * analytic directional derivative {@code <dL/dp, v>} with the central difference
 * {@code (L(p + eps v) - L(p - eps v)) / 2 eps} along a random direction v. f must be
 * deterministic (seed any randomness inside it). The numbers it compares are read back to the
 * host (a check, not a training step).
 */
public final class GradCheck {
  private GradCheck() {}

  /** The worst relative error over the inputs: |fd - analytic| / max(|fd|, |analytic|, 1e-3). */
  public static double check(Function<Variable[], Variable> f, Variable[] inputs, double eps, Random rng) {
    for (Variable p : inputs) p.zeroGrad();
    float[] r;
    try (Scope s = Scope.open()) {
      Variable y = f.apply(inputs);
      r = random(rng, y.value().size());
      try (Tensor seed = Tensor.of(r, y.value().shape(), y.value().device())) {
        y.backward(seed);
      }
    }
    double worst = 0;
    for (Variable p : inputs) {
      if (!p.requiresGrad()) continue;
      if (p.grad() == null) throw new IllegalStateException("no gradient reached an input of shape " + p.value().shape());
      float[] orig = p.value().toArray(), v = random(rng, orig.length);
      double an = dot(p.grad().toArray(), v);
      double plus = perturbed(f, inputs, p, orig, v, eps, r), minus = perturbed(f, inputs, p, orig, v, -eps, r);
      p.value().copyFrom(orig);
      double fd = (plus - minus) / (2 * eps);
      worst = Math.max(worst, Math.abs(fd - an) / Math.max(1e-3, Math.max(Math.abs(fd), Math.abs(an))));
    }
    for (Variable p : inputs) p.zeroGrad();
    return worst;
  }

  /** L(p + step v), with p set from {@code orig} (as floats: the perturbation the op sees). */
  private static double perturbed(Function<Variable[], Variable> f, Variable[] inputs, Variable p, float[] orig, float[] v,
      double step, float[] r) {
    float[] moved = new float[orig.length];
    for (int i = 0; i < moved.length; i++) moved[i] = (float) (orig[i] + step * v[i]);
    p.value().copyFrom(moved);
    try (Scope s = Scope.open(); GradMode.Guard g = GradMode.noGrad()) {
      return dot(f.apply(inputs).value().toArray(), r);
    }
  }

  private static float[] random(Random rng, long n) {
    float[] v = new float[Math.toIntExact(n)];
    for (int i = 0; i < v.length; i++) v[i] = rng.nextFloat() * 2 - 1;
    return v;
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
    return s;
  }

  /** A leaf of fresh random values in [-1, 1) on the host; move it with {@link Variable#to} for a device. */
  public static Variable input(Random rng, boolean requiresGrad, int... dims) {
    return Variable.leaf(Tensor.of(random(rng, Shape.of(dims).size()), dims), requiresGrad);
  }
}
