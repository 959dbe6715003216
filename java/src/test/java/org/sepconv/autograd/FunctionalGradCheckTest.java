package org.sepconv.autograd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.sepconv.ops.Activation;
import org.sepconv.tensor.Tensor;

/** GradCheck on every differentiable op of F, through the tape. */
class FunctionalGradCheckTest {
  final Random rng = new Random(31);
  final java.util.List<AutoCloseable> owned = new java.util.ArrayList<>();

  Variable param(int... dims) {
    Variable v = Variable.leaf(Tensor.rand(rng, dims), true);
    owned.add(v);
    return v;
  }

  Tensor tensor(Tensor t) {
    owned.add(t);
    return t;
  }

  @AfterEach
  void free() throws Exception {
    for (AutoCloseable c : owned) c.close();
  }

  void check(String what, double eps, Function<Variable[], Variable> f, Variable... in) {
    double err = GradCheck.check(f, in, eps, rng);
    assertTrue(err < 2e-2, what + ": finite-difference relative error " + err);
  }

  @Test
  void convolutions() {
    check("conv2d depthwise s2", 1e-2, v -> F.conv2d(v[0], v[1], v[2], 2, 1, 1, 4), param(2, 4, 7, 9), param(8, 1, 3, 3), param(8));
    check("conv2d grouped dilated", 1e-2, v -> F.conv2d(v[0], v[1], null, 1, 2, 2, 2), param(2, 4, 7, 7), param(6, 2, 3, 3));
    check("conv2d dense 1x1", 1e-2, v -> F.conv2d(v[0], v[1], v[2], 1, 0, 1, 1), param(3, 5, 4, 4), param(7, 5, 1, 1), param(7));
  }

  @Test
  void batchNormFusedWithEachActivation() {
    Tensor rm = tensor(Tensor.zeros(3)), rv = tensor(Tensor.zeros(3));
    for (Activation act : Activation.values()) {
      Variable x = param(4, 3, 5, 5), g = param(3), b = param(3);
      for (int i = 0; i < 3; i++) {
        g.value().buffer().put(i, 2 + g.value().get(i));
        b.value().buffer().put(i, 2 + b.value().get(i));
      }
      check("batchNorm " + act, 1e-3, v -> F.batchNorm(v[0], v[1], v[2], rm, rv, true, 0.1f, 1e-5f, act), x, g, b);
    }
  }

  @Test
  void elementwisePoolingLinearAndLoss() {
    Variable a = param(3, 4, 5, 5);
    var ab = a.value().buffer();
    for (int i = 0; i < ab.capacity(); i++) ab.put(i, 8 * ab.get(i)); // across both ReLU6 edges
    check("relu", 1e-4, v -> F.relu(v[0]), a);
    check("relu6", 1e-4, v -> F.relu6(v[0]), a);
    check("add", 1e-2, v -> F.add(v[0], v[1]), param(2, 3, 4, 4), param(2, 3, 4, 4));
    check("avgPool2d", 1e-2, v -> F.avgPool2d(v[0], 3, 2, 1, false), param(2, 3, 9, 7));
    check("maxPool2d", 1e-4, v -> F.maxPool2d(v[0], 3, 2, 1), param(2, 3, 9, 7));
    check("globalAvgPool", 1e-2, v -> F.globalAvgPool(v[0]), param(2, 3, 5, 5));
    check("flatten", 1e-2, v -> F.flatten(F.relu(v[0])), param(2, 3, 2, 2));
    check("linear", 1e-2, v -> F.linear(v[0], v[1], v[2]), param(4, 6), param(5, 6), param(5));
    check("dropout", 1e-2, v -> F.dropout(v[0], 0.3f, new Random(5)), param(4, 10));
    int[] labels = {2, 0, 1, 2};
    check("crossEntropy", 1e-2, v -> F.crossEntropy(v[0], labels, 0.1f), param(4, 3));
  }
}
