package org.sepconv.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.sepconv.autograd.GradCheck;
import org.sepconv.autograd.Variable;
import org.sepconv.tensor.Tensor;

/**
 * A whole block against finite differences ({@link GradCheck}): an InvertedResidual with
 * expansion, depthwise conv, projection, three training-mode BNs (two with fused ReLU6) and the
 * residual add, for the input and two of its weights.
 */
class InvertedResidualGradCheckTest {
  @Test
  void gradientsMatchFiniteDifferences() {
    Random rng = new Random(11);
    try (InvertedResidual block = new InvertedResidual(4, 4, 1, 3, rng); Variable x = Variable.leaf(Tensor.rand(rng, 2, 4, 5, 5), true)) {
      assertTrue(block.hasResidual());
      ModelTestSupport.randomiseNorms(block, rng);
      Variable[] in = {x, block.namedParameters().get("conv.0.0.weight"), block.namedParameters().get("conv.2.weight")};
      double err = GradCheck.check(v -> block.forward(v[0]), in, 1e-3, rng);
      assertTrue(err < 2e-2, "finite-difference relative error " + err);
    }
  }
}
