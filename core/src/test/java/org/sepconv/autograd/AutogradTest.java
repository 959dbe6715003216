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
      double err = GradCheck.check(v -> net(v[0], v[1], v[2], v[3], v[4], rm, rv, labels), new Variable[] {x, w, g, b, fc},
          1e-3, rng);
      assertTrue(err < 2e-2, "finite-difference relative error " + err + " (x is used twice: its gradients add)");
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
