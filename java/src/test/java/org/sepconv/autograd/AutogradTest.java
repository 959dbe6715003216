package org.sepconv.autograd;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.sepconv.ops.Activation;
import org.sepconv.tensor.Tensor;

/** The tape: gradients through a small graph with reuse, freeing, no-grad mode and scopes. */
class AutogradTest {
  /** conv -> fused BN+ReLU6 -> (+ skip) -> pool -> linear -> cross-entropy, x used twice. */
  static Variable net(Variable x, Variable w, Variable g, Variable b, Variable fc, Tensor rm, Tensor rv, int[] labels) {
    Variable h = F.batchNorm(F.conv2d(x, w, null, 1, 1, 1, 4), g, b, rm, rv, true, 0.1f, 1e-5f, Activation.RELU6);
    Variable r = F.add(h, x);
    return F.crossEntropy(F.linear(F.globalAvgPool(r), fc, null), labels, 0.1f);
  }

  @Test
  void gradientsMatchFiniteDifferencesThroughABlock() {
    Random rng = new Random(1);
    int[] labels = {1, 0, 2};
    try (Variable x = Variable.leaf(Tensor.rand(rng, 3, 4, 5, 5), true);
        Variable w = Variable.leaf(Tensor.rand(rng, 4, 1, 3, 3), true);
        Variable g = Variable.leaf(Tensor.of(new float[] {2, 3, 2.5f, 1.5f}, 4), true);
        Variable b = Variable.leaf(Tensor.of(new float[] {1, 2, 3, 2}, 4), true);
        Variable fc = Variable.leaf(Tensor.rand(rng, 3, 4), true);
        Tensor rm = Tensor.zeros(4);
        Tensor rv = Tensor.zeros(4)) {
      try (Scope s = Scope.open()) {
        net(x, w, g, b, fc, rm, rv, labels).backward();
      }
      for (Variable p : new Variable[] {x, w, g, b, fc}) {
        Tensor grad = p.grad();
        assertNotNull(grad);
        Tensor v = Tensor.rand(rng, p.value().shape().dims());
        double an = 0;
        for (int i = 0; i < v.size(); i++) an += (double) grad.get(i) * v.get(i);
        double eps = 1e-3;
        double[] l = new double[2];
        Tensor orig = p.value().copy();
        for (int sgn = 0; sgn < 2; sgn++) {
          var pb = p.value().buffer();
          for (int i = 0; i < v.size(); i++) pb.put(i, (float) (orig.get(i) + (sgn == 0 ? eps : -eps) * v.get(i)));
          try (Scope s = Scope.open(); var ng = GradMode.noGrad()) {
            l[sgn] = net(x, w, g, b, fc, rm, rv, labels).value().get(0);
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        }
        p.value().copyFrom(orig);
        orig.close();
        v.close();
        double fd = (l[0] - l[1]) / (2 * eps);
        assertEquals(fd, an, 2e-2 * Math.max(1e-2, Math.abs(fd)), "gradient of " + p.value().shape());
      }
    }
  }

  @Test
  void backwardFreesIntermediatesAndScopesFreeTheRest() throws Exception {
    Random rng = new Random(2);
    long before = Tensor.liveBytes();
    try (Variable x = Variable.leaf(Tensor.rand(rng, 2, 4, 6, 6), false);
        Variable w = Variable.leaf(Tensor.rand(rng, 4, 1, 3, 3), true);
        Variable fc = Variable.leaf(Tensor.rand(rng, 3, 4), true);
        Tensor rm = Tensor.zeros(4);
        Tensor rv = Tensor.zeros(4)) {
      long leaves = Tensor.liveBytes();
      for (int step = 0; step < 50; step++) {
        try (Scope s = Scope.open()) {
          Variable h = F.relu6(F.conv2d(x, w, null, 1, 1, 1, 4));
          Variable logits = F.linear(F.globalAvgPool(h), fc, null).retain();
          Variable loss = F.crossEntropy(logits, new int[] {0, 2}, 0f);
          loss.backward();
          assertThrows(IllegalStateException.class, h::value, "an intermediate is freed by backward");
          assertEquals(2 * 3, logits.value().size(), "a retained result survives backward");
          assertNull(x.grad(), "no gradient for an input that does not require one");
        }
        w.zeroGrad();
        fc.zeroGrad();
        assertEquals(leaves, Tensor.liveBytes(), "step " + step + " leaves nothing behind");
      }
      try (var ng = GradMode.noGrad(); Scope s = Scope.open()) {
        Variable y = F.conv2d(x, w, null, 1, 1, 1, 4);
        assertFalse(y.requiresGrad(), "no-grad mode records nothing");
      }
    }
    assertEquals(before, Tensor.liveBytes());
  }
}
