package org.sepconv.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.sepconv.autograd.F;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.ops.Activation;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

class LayersTest {
  static double maxAbsDiff(float[] a, float[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
    return m;
  }

  static double std(float[] a) {
    double s = 0, s2 = 0;
    for (float v : a) { s += v; s2 += (double) v * v; }
    double mean = s / a.length;
    return Math.sqrt(s2 / a.length - mean * mean);
  }

  @Test
  void sequentialNamesChildrenByIndexAndChains() {
    Random rng = new Random(1);
    try (Sequential s = new Sequential(Conv2d.builder(3, 8, 3).optPad(1).build(rng), new BatchNorm2d(8), new ReLU6())) {
      assertEquals(List.of("0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"),
          List.copyOf(s.stateDict().keySet()));
      assertEquals(3, s.size());
      try (Scope sc = Scope.open(); Tensor x = Tensor.rand(rng, 2, 3, 6, 6)) {
        Variable y = s.forward(Variable.leaf(x, false));
        assertEquals(Shape.of(2, 8, 6, 6), y.value().shape());
        for (float v : y.value().toArray()) assertTrue(v >= 0 && v <= 6);
      }
    }
  }

  @Test
  void conv2dShapesAndKaimingFanOutInit() {
    Random rng = new Random(2);
    try (Conv2d c = Conv2d.builder(64, 128, 3).optStride(2).optPad(1).optGroups(4).optBias(true).build(rng)) {
      assertEquals(Shape.of(128, 16, 3, 3), c.weight().value().shape());
      assertEquals(Shape.of(128), c.bias().value().shape());
      // fan_out ignores groups: std = sqrt(2 / (128 * 3 * 3))
      double expected = Math.sqrt(2.0 / (128 * 9));
      assertEquals(expected, std(c.weight().value().toArray()), expected * 0.05);
      for (float b : c.bias().value().toArray()) assertEquals(0f, b);
      try (Scope s = Scope.open(); Tensor x = Tensor.rand(rng, 1, 64, 9, 9)) {
        assertEquals(Shape.of(1, 128, 5, 5), c.forward(Variable.leaf(x, false)).value().shape());
      }
    }
    try (Conv2d c = Conv2d.builder(4, 4, 3).optBias(false).build(rng)) {
      assertEquals(List.of("weight"), List.copyOf(c.stateDict().keySet()));
      assertEquals(null, c.bias());
    }
    assertThrows(IllegalArgumentException.class, () -> Conv2d.builder(6, 4, 3).optGroups(4).build(rng));
  }

  @Test
  void linearDefaultInitIsUniformInOneOverSqrtIn() {
    Random rng = new Random(3);
    try (Linear l = new Linear(400, 300, true, rng)) {
      assertEquals(Shape.of(300, 400), l.weight().value().shape());
      double bound = 1 / Math.sqrt(400);
      float max = 0;
      for (float v : l.weight().value().toArray()) {
        assertTrue(Math.abs(v) <= bound);
        max = Math.max(max, Math.abs(v));
      }
      assertTrue(max > 0.95 * bound, "uniform weights should reach near the bound");
      assertEquals(bound / Math.sqrt(3), std(l.weight().value().toArray()), bound * 0.02);
      for (float v : l.bias().value().toArray()) assertTrue(Math.abs(v) <= bound);
    }
  }

  @Test
  void batchNormUsesBatchStatisticsInTrainingAndRunningOnesInEval() {
    Random rng = new Random(4);
    try (BatchNorm2d bn = new BatchNorm2d(3); Tensor x = Tensor.rand(rng, 4, 3, 5, 5)) {
      // shift channel 1 so the batch statistics are far from the initial running ones (0, 1)
      var xb = x.buffer();
      for (int n = 0; n < 4; n++) for (int i = 0; i < 25; i++) xb.put(n * 75 + 25 + i, xb.get(n * 75 + 25 + i) * 3 + 5);
      float[] train, eval;
      try (Scope s = Scope.open()) {
        Variable y = bn.forward(Variable.leaf(x, false));
        train = y.value().toArray();
      }
      // training output: each channel has mean 0, (biased) variance 1 - eps/(var+eps)
      for (int c = 0; c < 3; c++) {
        double sum = 0, sq = 0;
        for (int n = 0; n < 4; n++) for (int i = 0; i < 25; i++) { double v = train[n * 75 + c * 25 + i]; sum += v; sq += v * v; }
        assertEquals(0, sum / 100, 1e-5);
        assertEquals(1, sq / 100, 1e-3);
      }
      assertEquals(1f, bn.numBatchesTracked().get(0));
      assertEquals(Shape.of(), bn.numBatchesTracked().shape());
      // running mean moved 10% of the way to channel 1's batch mean (about 5)
      float rm = bn.runningMean().get(1);
      assertTrue(rm > 0.4 && rm < 0.6, "running_mean[1] = " + rm);
      bn.eval();
      try (Scope s = Scope.open()) {
        assertThrows(UnsupportedOperationException.class, () -> bn.forward(Variable.leaf(x, false)),
            "eval-mode BN needs no-grad mode because its parameters require grad");
      }
      try (AutoCloseable g = GradMode.noGrad(); Scope s = Scope.open()) {
        eval = bn.forward(Variable.leaf(x, false)).value().toArray();
      }
      assertEquals(1f, bn.numBatchesTracked().get(0), "eval does not count batches");
      // eval: (x - running_mean) / sqrt(running_var + eps), elementwise
      float[] xs = x.toArray();
      for (int i = 0; i < xs.length; i++) {
        int c = (i / 25) % 3;
        double want = (xs[i] - bn.runningMean().get(c)) / Math.sqrt(bn.runningVar().get(c) + 1e-5);
        assertEquals(want, eval[i], 1e-4 * Math.max(1, Math.abs(want)));
      }
      assertTrue(maxAbsDiff(train, eval) > 1, "train and eval outputs must differ");
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void batchNormWithoutRunningStatsUsesBatchStatisticsInEvalToo() throws Exception {
    Random rng = new Random(5);
    try (BatchNorm2d bn = new BatchNorm2d(2, 1e-5f, 0.1f, false, false); Tensor x = Tensor.rand(rng, 3, 2, 4, 4)) {
      assertTrue(bn.stateDict().isEmpty());
      float[] train, eval;
      try (Scope s = Scope.open()) {
        train = bn.forward(Variable.leaf(x, false)).value().toArray();
      }
      bn.eval();
      try (AutoCloseable g = GradMode.noGrad(); Scope s = Scope.open()) {
        eval = bn.forward(Variable.leaf(x, false)).value().toArray();
      }
      assertArrayEquals(train, eval);
    }
  }

  @Test
  void dropoutDropsInTrainingOnlyAndIsSeeded() {
    try (Tensor x = Tensor.zeros(1000)) {
      x.fill(1f);
      float[] a, b;
      Dropout d1 = new Dropout(0.5f, 7), d2 = new Dropout(0.5f, 7);
      try (Scope s = Scope.open()) {
        Variable in = Variable.leaf(x.view(10, 100), false);
        a = d1.forward(in).value().toArray();
        b = d2.forward(in).value().toArray();
        int zeros = 0;
        for (float v : a) {
          assertTrue(v == 0f || v == 2f);
          if (v == 0f) zeros++;
        }
        assertTrue(zeros > 400 && zeros < 600, "zeros: " + zeros);
        assertArrayEquals(a, b);
        d1.eval();
        assertTrue(d1.forward(in) == in, "eval dropout is the identity");
      }
    }
  }

  @Test
  void convBnActIsConvThenBnThenActWithTorchvisionNames() {
    Random rng = new Random(8);
    try (ConvBNAct block = new ConvBNAct(4, 6, 3, 2, 2, Activation.RELU6, rng)) {
      assertEquals(List.of("0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"),
          List.copyOf(block.stateDict().keySet()));
      block.bn().weight().value().fill(5f); // so that some outputs clip at 6
      try (Tensor x6 = Tensor.rand(rng, 2, 4, 7, 7)) {
        try (Scope s = Scope.open()) {
          Variable in = Variable.leaf(x6, false);
          Variable fused = block.forward(in);
          assertEquals(Shape.of(2, 6, 4, 4), fused.value().shape());
          Variable conv = F.conv2d(in, block.conv().weight(), null, 2, 1, 1, 2);
          try (BatchNorm2d bn = new BatchNorm2d(6)) {
            bn.weight().value().fill(5f);
            Variable ref = F.relu6(bn.forward(conv));
            double d = maxAbsDiff(fused.value().toArray(), ref.value().toArray());
            assertTrue(d < 1e-4, "fused vs unfused: " + d);
            float max = 0;
            for (float v : fused.value().toArray()) max = Math.max(max, v);
            assertEquals(6f, max, "ReLU6 clips");
          }
        }
      }
    }
  }

  @Test
  void layersRecordTheirCallsInATrace() {
    Random rng = new Random(9);
    try (Sequential s = new Sequential(new ConvBNAct(3, 4, 3, 1, 1, Activation.RELU, rng), new MaxPool2d(2, 2, 0),
        new AvgPool2d(2), new Flatten(), new Linear(16, 5, false, rng)); Scope sc = Scope.open(); Tensor x = Tensor.rand(rng, 1, 3, 8, 8)) {
      List<Trace.Call> calls = Trace.run(s, Variable.leaf(x, false));
      assertEquals(6, calls.size());
      assertTrue(calls.get(0).module() == ((ConvBNAct) s.get(0)).conv());
      assertTrue(calls.get(1).module() instanceof BatchNorm2d);
      assertEquals("RELU", calls.get(1).fused());
      assertEquals(null, calls.get(2).fused());
      assertEquals(Shape.of(1, 3, 8, 8), calls.get(0).input());
      assertEquals(Shape.of(1, 4, 8, 8), calls.get(2).input());
      assertEquals(Shape.of(1, 4, 4, 4), calls.get(2).output());
      assertEquals(Shape.of(1, 4, 2, 2), calls.get(3).output());
      assertEquals(Shape.of(1, 16), calls.get(4).output());
      assertEquals(Shape.of(1, 5), calls.get(5).output());
      assertTrue(calls.get(5).module() == s.get(4));
    }
    try (Scope sc = Scope.open(); Tensor x = Tensor.rand(rng, 1, 3, 8, 8); ReLU r = new ReLU()) {
      r.forward(Variable.leaf(x, false));
      assertTrue(Trace.run(new Sequential(), Variable.leaf(x, false)).isEmpty(), "nothing outside a run is recorded");
    }
  }
}
