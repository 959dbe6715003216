package org.sepconv.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sepconv.models.ModelTestSupport.evalOutput;
import static org.sepconv.models.ModelTestSupport.perturbStatistics;
import static org.sepconv.models.ModelTestSupport.randomiseNorms;
import static org.sepconv.models.ModelTestSupport.relDiff;
import static org.sepconv.models.ModelTestSupport.warmUpStatistics;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.sepconv.Sepconv;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.AvgPool2d;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.Module;
import org.sepconv.nn.Sequential;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Tensor;

/**
 * {@link Folded} against the model it was folded from, in eval mode: random weights, random
 * gamma and beta, and running statistics that are neither their initial values nor the last
 * batch's. The tolerance is the issue's, 1e-5 relative (max |folded - eval| / max |eval|).
 */
class FoldedTest {
  static final double TOL = 1e-5;

  /** Random weights (the model's init), BN affine parameters and running statistics. */
  static void prepare(Module m, Random rng, int size) {
    randomiseNorms(m, rng);
    warmUpStatistics(m, rng, 3, size, 2);
    perturbStatistics(m, rng);
  }

  /** Folds {@code model} and asserts the logits of a random batch agree; returns the error. */
  static double assertFoldedMatches(Module model, int batch, int size, Random rng) {
    prepare(model, rng, size);
    try (Tensor x = Tensor.rand(rng, batch, 3, size, size); Folded f = Folded.of(model)) {
      float[] want = evalOutput(model, x), got = evalOutput(f, x);
      assertEquals(want.length, got.length);
      double e = relDiff(got, want);
      assertTrue(e < TOL, model.getClass().getSimpleName() + " at " + size + ": folded vs eval " + e);
      return e;
    }
  }

  @Test
  void mobileNetV1FoldedGivesTheEvalLogits() {
    Random rng = new Random(31);
    try (MobileNetV1 cifar = MobileNetV1.cifar(10, 0.25f, rng); MobileNetV1 imagenet = MobileNetV1.imagenet(17, 0.25f, rng)) {
      assertFoldedMatches(cifar, 3, 32, rng);
      assertFoldedMatches(imagenet, 2, 64, rng);
    }
  }

  @Test
  void mobileNetV2FoldedGivesTheEvalLogits() {
    Random rng = new Random(32);
    try (MobileNetV2 cifar = MobileNetV2.cifar(10, 0.5f, rng); MobileNetV2 imagenet = MobileNetV2.imagenet(17, 0.35f, rng)) {
      assertFoldedMatches(cifar, 3, 32, rng);
      assertFoldedMatches(imagenet, 2, 64, rng);
    }
  }

  @Test
  void resNet18FoldedGivesTheEvalLogits() {
    Random rng = new Random(33);
    try (ResNet18 cifar = ResNet18.cifar(10, rng); ResNet18 imagenet = ResNet18.imagenet(17, rng)) {
      assertFoldedMatches(cifar, 2, 32, rng);
      assertFoldedMatches(imagenet, 1, 64, rng);
    }
  }

  /**
   * The fold reads the running statistics, and only when {@link Folded#of} runs: after they move,
   * the old fold no longer matches the model (by far more than the tolerance) while giving exactly
   * what it gave before, and a new fold matches again. A fold that ignored the statistics (or
   * any term of the BN) would fail the first assertion of one of the two.
   */
  @Test
  void theFoldIsASnapshotOfTheStatistics() {
    Random rng = new Random(34);
    try (MobileNetV2 m = MobileNetV2.cifar(10, 0.35f, rng); Tensor x = Tensor.rand(rng, 2, 3, 32, 32)) {
      prepare(m, rng, 32);
      try (Folded before = Folded.of(m)) {
        float[] old = evalOutput(before, x);
        assertTrue(relDiff(old, evalOutput(m, x)) < TOL);
        perturbStatistics(m, rng);
        float[] now = evalOutput(m, x);
        double stale = relDiff(old, now);
        assertTrue(stale > 1e-3, "the statistics moved, so the old fold must be off: " + stale);
        assertArrayEquals(old, evalOutput(before, x), "the old fold is a snapshot");
        try (Folded after = Folded.of(m)) {
          assertTrue(relDiff(evalOutput(after, x), now) < TOL);
        }
      }
    }
  }

  /** The folded weights are Export's fold, under its names, bit for bit: one fold for ONNX, safetensors and inference. */
  @Test
  void theFoldedWeightsAreExportsFold() {
    Random rng = new Random(35);
    try (ResNet18 r = ResNet18.cifar(10, rng); MobileNetV1 v1 = MobileNetV1.cifar(10, 0.25f, rng)) {
      for (Module model : new Module[] {r, v1}) {
        prepare(model, rng, 32);
        Map<String, Tensor> want = Export.foldBatchNorm(model);
        try (Folded f = Folded.of(model)) {
          Map<String, Tensor> got = f.stateDict();
          assertEquals(want.keySet(), got.keySet(), model.getClass().getSimpleName());
          for (String k : want.keySet()) assertArrayEquals(want.get(k).toArray(), got.get(k).toArray(), k);
          assertEquals(0, f.parameterCount(), "inference only: no trainable parameters");
        } finally {
          want.values().forEach(Tensor::close);
        }
      }
    }
  }

  /** forward frees every intermediate (the scope frees the logits), close() every folded weight; with grad mode on too. */
  @Test
  void nativeMemoryIsReleasedDeterministically() {
    Random rng = new Random(36);
    try (MobileNetV1 m = MobileNetV1.cifar(10, 0.25f, rng); Tensor x = Tensor.rand(rng, 2, 3, 32, 32)) {
      long before = Tensor.liveCount();
      Folded f = Folded.of(m);
      long withFold = Tensor.liveCount();
      assertEquals(f.stateDict().size(), withFold - before, "one tensor per folded weight");
      for (int i = 0; i < 3; i++)
        try (Scope s = Scope.open()) {
          Variable y = f.forward(Variable.leaf(x, false));
          assertFalse(y.requiresGrad());
          assertEquals(2 * 10, y.value().size());
          assertEquals(withFold + 1, Tensor.liveCount(), "only the logits are alive during the scope");
        }
      assertEquals(withFold, Tensor.liveCount());
      f.close();
      assertEquals(before, Tensor.liveCount());
    }
  }

  @Test
  void whatCannotBeFoldedIsNamed() {
    Random rng = new Random(37);
    try (Sequential s = new Sequential(Conv2d.builder(3, 4, 3).build(rng), new AvgPool2d(2, 2, 0, true))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Folded.of(s));
      assertTrue(e.getMessage().contains("AvgPool2d") && e.getMessage().contains("'1'"), e.getMessage());
    }
    try (Sequential s = new Sequential(new BatchNorm2d(3))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Folded.of(s));
      assertTrue(e.getMessage().contains("does not follow a conv"), e.getMessage());
    }
    try (Sequential s = new Sequential(Conv2d.builder(3, 4, 3).build(rng), new BatchNorm2d(4, 1e-5f, 0.1f, true, false))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Folded.of(s));
      assertTrue(e.getMessage().contains("running statistics"), e.getMessage());
    }
    long live = Tensor.liveCount();
    try (Sequential s = new Sequential(Conv2d.builder(3, 4, 3).build(rng), new BatchNorm2d(4), new AvgPool2d(2, 2, 0, true))) {
      long withModel = Tensor.liveCount();
      assertThrows(IllegalArgumentException.class, () -> Folded.of(s));
      assertEquals(withModel, Tensor.liveCount(), "a failed fold frees what it folded");
    }
    assertEquals(live, Tensor.liveCount());
  }

  /** The fold and the fused ops on the GPU against the CPU. Skipped, with the reason, without a usable GPU. */
  @Test
  void onCudaTheFoldedModelMatchesTheCpu() {
    String why = Sepconv.cudaUnavailableReason();
    Assumptions.assumeTrue(why == null, "no CUDA: " + why);
    Random rng = new Random(38);
    try (MobileNetV2 m = MobileNetV2.cifar(10, 0.5f, rng); Tensor x = Tensor.rand(rng, 2, 3, 32, 32)) {
      prepare(m, rng, 32);
      float[] cpu;
      try (Folded f = Folded.of(m)) {
        cpu = evalOutput(f, x);
      }
      m.to(Device.CUDA);
      try (Folded f = Folded.of(m); Tensor gx = x.to(Device.CUDA)) {
        assertEquals(Device.CUDA, f.device());
        assertTrue(relDiff(evalOutput(f, gx), cpu) < 1e-4);
      }
    }
  }
}
