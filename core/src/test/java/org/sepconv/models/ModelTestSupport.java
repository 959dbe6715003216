package org.sepconv.models;

import java.util.Random;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Module;
import org.sepconv.tensor.Tensor;

/** Helpers shared by the model tests. */
final class ModelTestSupport {
  private ModelTestSupport() {}

  /** The model's eval-mode output for x (run under no-grad), as an array. */
  static float[] evalOutput(Module m, Tensor x) {
    boolean training = m.isTraining();
    m.eval();
    try (AutoCloseable g = GradMode.noGrad(); Scope s = Scope.open()) {
      return m.forward(Variable.leaf(x, false)).value().toArray();
    } catch (Exception e) {
      throw new AssertionError(e);
    } finally {
      m.train(training);
    }
  }

  /** Gives every BN random gamma in [0.5, 1.5) and beta in [-0.5, 0.5). */
  static void randomiseNorms(Module m, Random rng) {
    for (Module child : m.children().values()) randomiseNorms(child, rng);
    if (m instanceof BatchNorm2d bn) {
      var g = bn.weight().value().buffer();
      var b = bn.bias().value().buffer();
      for (int i = 0; i < bn.channels(); i++) {
        g.put(i, 0.5f + rng.nextFloat());
        b.put(i, rng.nextFloat() - 0.5f);
      }
    }
  }

  /** Runs a few training-mode batches (no grad) so that the running statistics are not their initial values. */
  static void warmUpStatistics(Module m, Random rng, int c, int hw, int batches) {
    m.train(true);
    for (int i = 0; i < batches; i++) {
      try (AutoCloseable g = GradMode.noGrad(); Scope s = Scope.open(); Tensor x = Tensor.rand(rng, 4, c, hw, hw)) {
        m.forward(Variable.leaf(x, false));
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    }
  }

  /**
   * Moves every BN's running statistics away from what they are: mean by U(-0.2, 0.2), variance
   * times U(0.7, 1.4). With {@link #randomiseNorms} and {@link #warmUpStatistics} no BN of the
   * model is close to an identity, so a fold that drops any of its terms shows in the output.
   */
  static void perturbStatistics(Module m, Random rng) {
    for (Module child : m.children().values()) perturbStatistics(child, rng);
    if (m instanceof BatchNorm2d bn) {
      var mean = bn.runningMean().buffer();
      var var = bn.runningVar().buffer();
      for (int i = 0; i < bn.channels(); i++) {
        mean.put(i, mean.get(i) + 0.4f * rng.nextFloat() - 0.2f);
        var.put(i, var.get(i) * (0.7f + 0.7f * rng.nextFloat()));
      }
    }
  }

  static double relDiff(float[] a, float[] ref) {
    double err = 0, max = 0;
    for (int i = 0; i < a.length; i++) {
      err = Math.max(err, Math.abs((double) a[i] - ref[i]));
      max = Math.max(max, Math.abs(ref[i]));
    }
    return err / max;
  }
}
