package org.sepconv.autograd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.sepconv.Sepconv;
import org.sepconv.ops.Activation;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * {@link GradCheck}, the one finite-difference checker, on every differentiable op of {@link F}
 * (and so every backward kernel), through the tape, on every device: CUDA is skipped, with the
 * reason, where no GPU is usable.
 */
class FunctionalGradCheckTest {
  final Random rng = new Random(31);
  final List<AutoCloseable> owned = new ArrayList<>();
  Device device;

  void on(Device d) {
    if (d == Device.CUDA) Assumptions.assumeTrue(Sepconv.cudaUnavailableReason() == null, "no CUDA: " + Sepconv.cudaUnavailableReason());
    device = d;
  }

  /** A parameter of fresh values in [-1, 1) * scale + offset, on the device under test. */
  Variable scaled(float scale, float offset, int... dims) {
    float[] v = new float[(int) Shape.of(dims).size()];
    for (int i = 0; i < v.length; i++) v[i] = (rng.nextFloat() * 2 - 1) * scale + offset;
    Variable p = Variable.leaf(Tensor.of(v, Shape.of(dims), device), true);
    owned.add(p);
    return p;
  }

  Variable param(int... dims) {
    return scaled(1, 0, dims);
  }

  Tensor zeros(int c) {
    Tensor t = Tensor.zeros(Shape.of(c), device);
    owned.add(t);
    return t;
  }

  @AfterEach
  void free() throws Exception {
    for (AutoCloseable c : owned) c.close();
  }

  void check(String what, double eps, Function<Variable[], Variable> f, Variable... in) {
    double err = GradCheck.check(f, in, eps, rng);
    assertTrue(err < 2e-2, what + " on " + device + ": finite-difference relative error " + err);
  }

  @ParameterizedTest
  @EnumSource(Device.class)
  void convolutions(Device d) {
    on(d);
    check("conv2d depthwise", 1e-2, v -> F.conv2d(v[0], v[1], v[2], 1, 1, 1, 6), param(2, 6, 9, 7), param(6, 1, 3, 3), param(6));
    check("conv2d depthwise x2 5x5 s2", 1e-2, v -> F.conv2d(v[0], v[1], v[2], 2, 2, 1, 6), param(2, 6, 9, 7),
        param(12, 1, 5, 5), param(12));
    check("conv2d grouped dilated", 1e-2, v -> F.conv2d(v[0], v[1], null, 1, 2, 2, 3), param(2, 6, 9, 7), param(9, 2, 3, 3));
    check("conv2d pointwise s2", 1e-2, v -> F.conv2d(v[0], v[1], v[2], 2, 0, 1, 1), param(3, 5, 8, 8), param(7, 5, 1, 1),
        param(7));
    check("conv2d stem 7x7 s2", 1e-2, v -> F.conv2d(v[0], v[1], v[2], 2, 3, 1, 1), param(1, 3, 11, 11), param(4, 3, 7, 7),
        param(4));
  }

  @ParameterizedTest
  @EnumSource(Device.class)
  void batchNormFusedWithEachActivation(Device d) {
    on(d);
    Tensor rm = zeros(3), rv = zeros(3);
    for (Activation act : Activation.values())
      check("batchNorm " + act, 1e-3, v -> F.batchNorm(v[0], v[1], v[2], rm, rv, true, 0.1f, 1e-5f, act),
          scaled(4, 0, 4, 3, 5, 5), scaled(1, 3, 3), scaled(1, 2, 3));
  }

  @ParameterizedTest
  @EnumSource(Device.class)
  void elementwisePoolingLinearAndLoss(Device d) {
    on(d);
    Variable a = scaled(8, 0, 3, 4, 5, 5); // across both ReLU6 edges
    check("relu", 1e-4, v -> F.relu(v[0]), a);
    check("relu6", 1e-4, v -> F.relu6(v[0]), a);
    check("add", 1e-2, v -> F.add(v[0], v[1]), param(2, 3, 4, 4), param(2, 3, 4, 4));
    check("avgPool2d", 1e-2, v -> F.avgPool2d(v[0], 3, 2, 1, false), param(2, 3, 9, 7));
    check("maxPool2d", 1e-4, v -> F.maxPool2d(v[0], 3, 2, 1), param(2, 3, 9, 7));
    check("globalAvgPool", 1e-2, v -> F.globalAvgPool(v[0]), param(3, 4, 2, 5));
    check("flatten", 1e-4, v -> F.flatten(F.relu(v[0])), param(2, 3, 2, 2));
    check("linear", 1e-2, v -> F.linear(v[0], v[1], v[2]), param(5, 7), param(4, 7), param(4));
    check("dropout", 1e-2, v -> F.dropout(v[0], 0.3f, 5), param(4, 10));
    int[] labels = {2, 0, 1, 2, 9};
    check("crossEntropy", 1e-2, v -> F.crossEntropy(v[0], labels, 0.1f), param(5, 10));
  }
}
