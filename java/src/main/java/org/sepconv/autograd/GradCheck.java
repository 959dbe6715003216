package org.sepconv.autograd;

import java.util.Random;
import java.util.function.Function;
import org.sepconv.tensor.Tensor;

/**
 * Finite-difference check of an op's backward. For L = sum(f(inputs) * r) with a random r, it
 * compares, for every input that requires grad, the analytic directional derivative
 * {@code <dL/dp, v>} with the central difference {@code (L(p + eps v) - L(p - eps v)) / 2 eps}
 * along a random direction v. f must be deterministic (seed any randomness inside it).
 */
public final class GradCheck {
  private GradCheck() {}

  /** The worst relative error over the inputs: |fd - analytic| / max(|fd|, |analytic|, 1e-3). */
  public static double check(Function<Variable[], Variable> f, Variable[] inputs, double eps, Random rng) {
    for (Variable p : inputs) p.zeroGrad();
    Tensor r;
    try (Scope s = Scope.open()) {
      Variable y = f.apply(inputs);
      r = Tensor.rand(rng, y.value().shape().dims());
      y.backward(r);
    }
    double worst = 0;
    try (r) {
      for (Variable p : inputs) {
        if (!p.requiresGrad()) continue;
        if (p.grad() == null) throw new IllegalStateException("no gradient reached an input of shape " + p.value().shape());
        try (Tensor v = Tensor.rand(rng, p.value().shape().dims()); Tensor orig = p.value().copy()) {
          double an = dot(p.grad(), v);
          double plus = perturbed(f, inputs, p, orig, v, eps, r), minus = perturbed(f, inputs, p, orig, v, -eps, r);
          p.value().copyFrom(orig);
          double fd = (plus - minus) / (2 * eps);
          worst = Math.max(worst, Math.abs(fd - an) / Math.max(1e-3, Math.max(Math.abs(fd), Math.abs(an))));
        }
      }
    }
    for (Variable p : inputs) p.zeroGrad();
    return worst;
  }

  private static double perturbed(Function<Variable[], Variable> f, Variable[] inputs, Variable p, Tensor orig, Tensor v,
      double step, Tensor r) {
    var pb = p.value().buffer();
    var ob = orig.buffer();
    var vb = v.buffer();
    for (int i = 0; i < pb.capacity(); i++) pb.put(i, (float) (ob.get(i) + step * vb.get(i)));
    try (Scope s = Scope.open(); GradMode.Guard g = GradMode.noGrad()) {
      return dot(f.apply(inputs).value(), r);
    }
  }

  private static double dot(Tensor a, Tensor b) {
    var x = a.buffer();
    var y = b.buffer();
    double s = 0;
    for (int i = 0; i < x.capacity(); i++) s += (double) x.get(i) * y.get(i);
    return s;
  }
}
