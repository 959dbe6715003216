package org.sepconv.bench;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.sepconv.autograd.F;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.bench.Roofline.Cost;
import org.sepconv.bench.Roofline.Machine;
import org.sepconv.models.Models;
import org.sepconv.nn.ConvBNAct;
import org.sepconv.nn.GlobalAvgPool;
import org.sepconv.nn.Linear;
import org.sepconv.nn.Module;
import org.sepconv.nn.Sequential;
import org.sepconv.ops.Activation;
import org.sepconv.ops.Profiler;
import org.sepconv.optim.SGD;
import org.sepconv.tensor.Tensor;

class RooflineTest {
  /** 1 GFLOP/s and 1 GB/s: a kernel's floor in ns is max(flops, bytes). */
  private static final Machine UNIT = new Machine(1, 1);

  /**
   * conv 3->4 (3x3, pad 1, no bias), BN+ReLU, global average pool, linear 4->2 with bias, at
   * batch 2 on 4x4, counted by hand: x 96, w 108, y 128 elements; 3,456 MACs.
   */
  @Test
  void aTinyModelCountedByHand() {
    Random rng = new Random(1);
    try (Module m = new Sequential(new ConvBNAct(3, 4, 3, 1, 1, Activation.RELU, rng), new GlobalAvgPool(), new Linear(4, 2, true, rng))) {
      Roofline train = Roofline.training(m, 2, 3, 4);
      assertEquals(List.of(
          new Cost("0.0", "conv-dense", "forward", 6912, 4 * (96 + 108 + 128)),
          new Cost("0.1", "batchnorm+relu", "forward", 6 * 128, 4 * 256),
          new Cost("1", "global-avgpool", "forward", 128, 4 * (128 + 8)),
          new Cost("2", "linear", "forward", 2 * 2 * 8 + 4, 4 * (8 + 8 + 2 + 4)),
          new Cost("(loss)", "softmax-xent", "forward", 4 * 4, 4 * (4 + 2)),
          new Cost("(loss)", "softmax-xent", "backward", 3 * 4, 4 * (8 + 2)),
          new Cost("2", "linear", "backward-weight", 2 * 2 * 8 + 4, 4 * (8 + 4 + 8 + 2)),
          new Cost("2", "linear", "backward-data", 2 * 2 * 8, 4 * (4 + 8 + 8)),
          new Cost("1", "global-avgpool", "backward", 128, 4 * (8 + 128)),
          new Cost("0.1", "batchnorm+relu", "backward", 10 * 128, 4 * 3 * 128),
          // the first layer: no backward-data
          new Cost("0.0", "conv-dense", "backward-weight", 6912, 4 * (96 + 128 + 108)),
          new Cost("(all parameters)", "sgd-momentum", "update", 6 * 126, 4 * 5 * 126)), train.costs());
      assertEquals(17016, train.flops());
      assertEquals(9144, train.bytes());
      assertEquals(20312e-9, train.seconds(UNIT), 1e-15);
      Roofline infer = Roofline.inference(m, 2, 3, 4);
      assertEquals(new Cost("0.1", "batchnorm+relu", "forward", 3 * 128, 4 * 256), infer.costs().get(1));
      assertEquals(4, infer.costs().size());
      assertEquals((6912 + 1024 + 544 + 88) * 1e-9, infer.seconds(UNIT), 1e-15);
      // twice the peak halves only the compute-bound kernels
      assertEquals((6912 / 2.0 + 1024 + 544 + 88) * 1e-9, infer.seconds(new Machine(2, 1)), 1e-15);
      assertTrue(m.isTraining(), "the trace puts the model back in training mode");
    }
  }

  /**
   * The kernels counted for each bundled model are the native calls a real step makes: the
   * same number per op family, forward and backward, training and inference (the ops blocks run
   * outside their layers included).
   */
  @Test
  void everyNativeCallOfAStepIsCounted() {
    for (String name : Models.NAMES)
      try (Module m = Models.create(name, "cifar", 1f, 10, new Random(0)); SGD sgd = new SGD(m.parameters(), 0.01, 0.9, 0, false, 5e-4)) {
        int params = m.parameters().size();
        Map<String, Long> train = expected(Roofline.training(m, 2, 3, 8), true, params), infer = expected(Roofline.inference(m, 2, 3, 8), false, params);
        Profiler.reset();
        Profiler.enable(true);
        try (Tensor x = Tensor.rand(new Random(2), 2, 3, 8, 8); Scope s = Scope.open()) {
          Variable loss = F.crossEntropy(m.forward(Variable.leaf(x, false)), new int[] {1, 7}, 0f);
          loss.backward();
          sgd.step();
          assertEquals(train, calls(), name + " training step");
          Profiler.reset();
          m.eval();
          try (GradMode.Guard g = GradMode.noGrad()) {
            m.forward(Variable.leaf(x, false));
          }
          assertEquals(infer, calls(), name + " inference");
        } finally {
          Profiler.enable(false);
        }
      }
  }

  private static Map<String, Long> calls() {
    Map<String, Long> out = new TreeMap<>();
    Profiler.snapshot().forEach((k, v) -> out.put(k, v[1]));
    return out;
  }

  /** The profiler's op families and call counts that the costs stand for. */
  private static Map<String, Long> expected(Roofline r, boolean training, int params) {
    Map<String, Long> out = new TreeMap<>();
    for (Cost c : r.costs()) {
      boolean fwd = c.direction().equals("forward");
      String family = switch (c.op().replaceAll("\\+.*", "")) {
        case "batchnorm" -> fwd ? (training ? "batchnorm forward training" : "batchnorm forward inference") : "batchnorm backward";
        case "relu", "relu6" -> fwd ? "activation forward" : "activation backward";
        case "add", "dropout" -> c.op();
        case "global-avgpool" -> fwd ? "global avgpool forward" : "global avgpool backward";
        case "softmax-xent" -> fwd ? "softmax xent forward" : "softmax xent backward";
        case "sgd-momentum" -> "optimizer update";
        default -> c.op().replace('-', ' ') + (fwd ? " forward" : " backward");
      };
      out.merge(family, family.equals("optimizer update") ? params : 1L, Long::sum);
    }
    return out;
  }
}
