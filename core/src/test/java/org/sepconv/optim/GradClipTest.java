package org.sepconv.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.FloatBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sepconv.autograd.Variable;
import org.sepconv.tensor.Tensor;

class GradClipTest {
  private static Variable withGrad(float... g) {
    Variable v = Variable.leaf(Tensor.zeros(g.length), true);
    FloatBuffer b = v.gradBuffer().buffer();
    for (int i = 0; i < g.length; i++) b.put(i, g[i]);
    return v;
  }

  @Test
  void scalesByTheGlobalNorm() {
    try (Variable a = withGrad(3, 4); Variable b = withGrad(12); Variable none = Variable.leaf(Tensor.zeros(3), true)) {
      double norm = GradClip.clipGradNorm(List.of(a, none, b), 6.5);
      assertEquals(13, norm, 1e-12);
      double c = 6.5 / (13 + 1e-6);
      assertArrayEquals(new float[] {(float) (3 * c), (float) (4 * c)}, a.grad().toArray(), 1e-6f);
      assertArrayEquals(new float[] {(float) (12 * c)}, b.grad().toArray(), 1e-6f);
      assertEquals(6.5, GradClip.clipGradNorm(List.of(a, b), 100), 1e-5, "the new norm is maxNorm");
    }
  }

  /** torch's 1e-6 in the denominator matters when the norm itself is tiny. */
  @Test
  void epsilonInTheDenominator() {
    try (Variable a = withGrad(6e-6f, 8e-6f)) {
      assertEquals(1e-5, GradClip.clipGradNorm(List.of(a), 5e-6), 1e-12);
      double c = 5e-6 / (1e-5 + 1e-6);
      assertArrayEquals(new float[] {(float) (6e-6 * c), (float) (8e-6 * c)}, a.grad().toArray(), 1e-12f);
    }
  }

  @Test
  void leavesSmallGradientsAlone() {
    try (Variable a = withGrad(0.3f, -0.4f)) {
      assertEquals(0.5, GradClip.clipGradNorm(List.of(a), 1.0), 1e-7);
      assertArrayEquals(new float[] {0.3f, -0.4f}, a.grad().toArray());
    }
  }

  @Test
  void nonFiniteNormIsReportedAndGradientsKept() {
    try (Variable a = withGrad(Float.POSITIVE_INFINITY, 1)) {
      assertEquals(Double.POSITIVE_INFINITY, GradClip.clipGradNorm(List.of(a), 1.0));
      assertArrayEquals(new float[] {Float.POSITIVE_INFINITY, 1}, a.grad().toArray());
    }
  }
}
