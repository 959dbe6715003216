package org.sepconv.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;
import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;
import org.sepconv.models.MobileNetV2;
import org.sepconv.nn.Module;
import org.sepconv.optim.SGD;
import org.sepconv.tensor.HostMemory;
import org.sepconv.tensor.Tensor;

/**
 * One training step (forward, softmax cross-entropy, backward, SGD update) of
 * MobileNetV2-cifar at batch 64 on 32x32 inputs, everything freed by a per-step scope.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class TrainStepBench {
  @Param({"64"})
  public int batch;

  /** The caching host allocator (HostMemory) on, or off (every tensor straight from malloc). */
  @Param({"on", "off"})
  public String hostCache = "on";

  static final long DEFAULT_CACHE = 2L << 30;
  Module model;
  SGD sgd;
  Variable x;
  int[] labels;

  @Setup(Level.Trial)
  public void setup() {
    HostMemory.setLimit(hostCache.equals("on") ? DEFAULT_CACHE : 0);
    Random rng = new Random(7);
    model = MobileNetV2.cifar(10, 1.0f, rng);
    model.train(true);
    sgd = new SGD(model.parameters(), 0.01, 0.9, 0, false, 5e-4);
    x = Variable.leaf(Tensor.rand(rng, batch, 3, 32, 32), false);
    labels = new int[batch];
    for (int i = 0; i < batch; i++) labels[i] = rng.nextInt(10);
  }

  /** Returns the loss so the JIT cannot drop the step. */
  @Benchmark
  public float step() {
    return step(model, sgd, x, labels);
  }

  static float step(Module model, SGD sgd, Variable x, int[] labels) {
    try (org.sepconv.autograd.Scope s = org.sepconv.autograd.Scope.open()) {
      Variable loss = F.crossEntropy(model.forward(x), labels, 0f);
      loss.backward();
      sgd.step();
      model.zeroGrad();
      return loss.value().get(0);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    sgd.close();
    model.close();
    x.close();
    HostMemory.setLimit(DEFAULT_CACHE);
  }
}
