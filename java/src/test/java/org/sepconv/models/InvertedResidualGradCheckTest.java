package org.sepconv.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.tensor.Tensor;

/**
 * A whole block against finite differences: an InvertedResidual with expansion, depthwise conv,
 * projection, three training-mode BNs (two with fused ReLU6) and the residual add.
 * f = sum(y * r); the directional derivative along a random d, (f(p + h d) - f(p - h d)) / 2h,
 * must match grad . d for the input and for two weights.
 */
class InvertedResidualGradCheckTest {
  private static final double H = 1e-3, TOL = 2e-2;

  @Test
  void gradientsMatchFiniteDifferences() throws Exception {
    Random rng = new Random(11);
    try (InvertedResidual block = new InvertedResidual(4, 4, 1, 3, rng); Tensor x = Tensor.rand(rng, 2, 4, 5, 5);
        Tensor r = Tensor.rand(rng, 2, 4, 5, 5)) {
      assertTrue(block.hasResidual());
      ModelTestSupport.randomiseNorms(block, rng);
      Variable xv = Variable.leaf(x, true);
      Tensor[] targets = {x, block.namedParameters().get("conv.0.0.weight").value(), block.namedParameters().get("conv.2.weight").value()};
      float[][] grads = new float[3][];
      try (Scope s = Scope.open()) {
        block.forward(xv).backward(r);
        grads[0] = xv.grad().toArray();
        grads[1] = block.namedParameters().get("conv.0.0.weight").grad().toArray();
        grads[2] = block.namedParameters().get("conv.2.weight").grad().toArray();
      }
      xv.zeroGrad();
      block.zeroGrad();
      for (int t = 0; t < targets.length; t++) {
        float[] d = new float[grads[t].length];
        double analytic = 0;
        for (int i = 0; i < d.length; i++) {
          d[i] = rng.nextFloat() * 2 - 1;
          analytic += grads[t][i] * d[i];
        }
        double numeric = (f(block, x, r, targets[t], d, H) - f(block, x, r, targets[t], d, -H)) / (2 * H);
        System.out.printf("target %d: analytic %.6f numeric %.6f%n", t, analytic, numeric);
        assertTrue(Math.abs(analytic) > 1e-2, "a vanishing gradient proves nothing");
        assertEquals(analytic, numeric, TOL * Math.max(1, Math.abs(analytic)), "target " + t);
      }
    }
  }

  /** sum(y * r) with p moved by h*d (and moved back afterwards), in double. */
  private static double f(InvertedResidual block, Tensor x, Tensor r, Tensor p, float[] d, double h) throws Exception {
    float[] orig = p.toArray();
    FloatBuffer b = p.buffer();
    for (int i = 0; i < d.length; i++) b.put(i, (float) (orig[i] + h * d[i]));
    try (AutoCloseable g = GradMode.noGrad(); Scope s = Scope.open()) {
      float[] y = block.forward(Variable.leaf(x, false)).value().toArray(), rr = r.toArray();
      double sum = 0;
      for (int i = 0; i < y.length; i++) sum += (double) y[i] * rr[i];
      return sum;
    } finally {
      b.put(0, orig);
    }
  }
}
