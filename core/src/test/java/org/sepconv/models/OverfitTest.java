package org.sepconv.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.sepconv.autograd.F;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.Module;
import org.sepconv.tensor.Tensor;

/**
 * Each architecture memorises one small batch of random images with random labels in training
 * mode (plain SGD with momentum, inline): the loss must fall below 0.05 within a fixed step
 * budget, and every step must free everything it made (live bytes return to the model's own
 * plus the momentum buffers).
 */
class OverfitTest {
  private static final int BATCH = 8, CLASSES = 10;

  @Test
  void resNet18() {
    overfit(ResNet18.cifar(CLASSES, new Random(1)), 16, 0.02f, 60);
  }

  @Test
  void mobileNetV2() {
    overfit(MobileNetV2.cifar(CLASSES, 0.5f, new Random(1)), 32, 0.05f, 80);
  }

  @Test
  void mobileNetV1() {
    overfit(MobileNetV1.cifar(CLASSES, 0.5f, new Random(1)), 32, 0.05f, 80);
  }

  private static void overfit(Module model, int size, float lr, int maxSteps) {
    long modelBytes = 0;
    for (Tensor t : model.stateDict().values()) modelBytes += t.size() * 4;
    long others = Tensor.liveBytes() - modelBytes;
    Random rng = new Random(2);
    int[] labels = new int[BATCH];
    for (int i = 0; i < BATCH; i++) labels[i] = rng.nextInt(CLASSES);
    List<Variable> params = model.parameters();
    List<Tensor> velocity = new ArrayList<>();
    for (Variable p : params) velocity.add(Tensor.zeros(p.value().shape()));
    long steady = Tensor.liveBytes();
    assertEquals(others + 2 * modelBytes - bufferBytes(model), steady, "the model's own tensors and the momentum buffers");
    float loss = Float.NaN, first = Float.NaN;
    int step = 0;
    try (model; Tensor x = Tensor.rand(rng, BATCH, 3, size, size)) {
      steady += x.size() * 4;
      long t0 = System.nanoTime();
      while (step < maxSteps && !(loss < 0.05f)) {
        try (Scope s = Scope.open()) {
          Variable l = F.crossEntropy(model.forward(Variable.leaf(x, false)), labels, 0f);
          l.backward();
          loss = l.value().get(0);
          sgd(params, velocity, lr, 0.9f);
          model.zeroGrad();
        }
        if (step == 0) first = loss;
        assertEquals(steady, Tensor.liveBytes(), "step " + step + " leaked");
        step++;
      }
      System.out.printf("%s: loss %.3f -> %.4f in %d steps, %.1f s%n", model.getClass().getSimpleName(), first, loss, step,
          (System.nanoTime() - t0) / 1e9);
      assertTrue(loss < 0.05f, "loss " + loss + " after " + step + " steps (first " + first + ")");
    } finally {
      velocity.forEach(Tensor::close);
    }
    assertEquals(others, Tensor.liveBytes(), "closing the model frees everything");
  }

  private static long bufferBytes(Module model) {
    long b = 0;
    for (Tensor t : model.namedBuffers().values()) b += t.size() * 4;
    return b;
  }

  /** v = momentum * v + g; p -= lr * v (PyTorch's SGD). */
  private static void sgd(List<Variable> params, List<Tensor> velocity, float lr, float momentum) {
    for (int i = 0; i < params.size(); i++) {
      Variable p = params.get(i);
      if (p.grad() == null) continue;
      FloatBuffer w = p.value().buffer(), g = p.grad().buffer(), v = velocity.get(i).buffer();
      for (int j = 0; j < w.capacity(); j++) {
        float vj = momentum * v.get(j) + g.get(j);
        v.put(j, vj);
        w.put(j, w.get(j) - lr * vj);
      }
    }
  }
}
