package org.sepconv.ops;

import static org.junit.jupiter.api.Assertions.*;
import static org.sepconv.TestSupport.*;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.sepconv.Sepconv;
import org.sepconv.tensor.Tensor;

/** Off-heap memory stays flat over many calls, and concurrent calls agree bit for bit. */
class LeakAndConcurrencyTest {
  /** One depthwise-separable block with BN+ReLU6, forward and backward, on tensors it closes. */
  static void step(Random rng) {
    Conv2dSpec dw = Conv2dSpec.of(2, 16, 10, 10, 16, 3).withPad(1).withGroups(16);
    Conv2dSpec pw = Conv2dSpec.of(2, 16, 10, 10, 24, 1);
    try (Tensor x = Tensor.rand(rng, 2, 16, 10, 10); Tensor w1 = Tensor.rand(rng, 16, 1, 3, 3);
        Tensor w2 = Tensor.rand(rng, 24, 16, 1, 1); Tensor h = Tensor.zeros(2, 16, 10, 10);
        Tensor a = Tensor.zeros(2, 16, 10, 10); Tensor y = Tensor.zeros(2, 24, 10, 10);
        Tensor mean = Tensor.zeros(16); Tensor inv = Tensor.zeros(16); Tensor da = Tensor.zeros(2, 16, 10, 10);
        Tensor dh = Tensor.zeros(2, 16, 10, 10); Tensor dw2 = Tensor.zeros(24, 16, 1, 1);
        Tensor dw1 = Tensor.zeros(16, 1, 3, 3); Tensor dx = Tensor.zeros(2, 16, 10, 10)) {
      Ops.conv2dForward(Exec.CPU, dw, x.buffer(), w1.buffer(), null, h.buffer());
      Ops.batchNormForwardTraining(Exec.CPU, 2, 16, 100, h.buffer(), null, null, 1e-5f, 0.1f, null, null,
          mean.buffer(), inv.buffer(), Activation.RELU6, a.buffer());
      Ops.conv2dForward(Exec.CPU, pw, a.buffer(), w2.buffer(), null, y.buffer());
      Ops.conv2dBackward(Exec.CPU, pw, Grad.ALL & ~Grad.BIAS, a.buffer(), w2.buffer(), y.buffer(), da.buffer(), dw2.buffer(), null);
      Ops.batchNormBackward(Exec.CPU, 2, 16, 100, Grad.INPUT, h.buffer(), a.buffer(), da.buffer(), null,
          mean.buffer(), inv.buffer(), Activation.RELU6, dh.buffer(), null, null);
      Ops.conv2dBackward(Exec.CPU, dw, Grad.INPUT | Grad.WEIGHT, x.buffer(), w1.buffer(), dh.buffer(), dx.buffer(), dw1.buffer(), null);
    }
  }

  @Test
  void tenThousandCallsDoNotGrowOffHeapMemory() {
    Random rng = new Random(5);
    long liveBefore = Tensor.liveBytes();
    for (int i = 0; i < 200; i++) step(rng); // warm up caches, pools and the JIT
    long rssBefore = Pointer.physicalBytes(), javacppBefore = Pointer.totalBytes();
    for (int i = 0; i < 1700; i++) step(rng); // 6 native calls each: 10,200 calls
    long rssAfter = Pointer.physicalBytes(), javacppAfter = Pointer.totalBytes();
    assertEquals(liveBefore, Tensor.liveBytes(), "every tensor was closed");
    assertEquals(0, Sepconv.workspaceBytes(), "no native scratch is held between calls");
    assertTrue(javacppAfter - javacppBefore < (1 << 20),
        "JavaCPP-tracked bytes grew by " + (javacppAfter - javacppBefore));
    // the process RSS also covers the JVM's heap and JIT; 10,200 calls of ~70 KiB each would add 700 MiB if leaked
    assertTrue(rssAfter - rssBefore < (64L << 20), "RSS grew by " + ((rssAfter - rssBefore) >> 20) + " MiB");
  }

  @Test
  void concurrentCallersGetIdenticalResults() throws Exception {
    Random rng = new Random(6);
    Conv2dSpec[] specs = {
      Conv2dSpec.of(4, 32, 16, 16, 32, 3).withPad(1).withGroups(32),
      Conv2dSpec.of(4, 32, 16, 16, 48, 1),
      Conv2dSpec.of(4, 32, 9, 9, 32, 3).withStride(2).withPad(1)
    };
    List<FloatBuffer[]> inputs = new ArrayList<>();
    for (Conv2dSpec s : specs) inputs.add(new FloatBuffer[] {rand(rng, s.inputSize()), rand(rng, s.weightSize()), rand(rng, s.outputSize())});
    List<float[]> expected = new ArrayList<>();
    for (int i = 0; i < specs.length; i++) expected.add(run(specs[i], inputs.get(i)));

    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int k = t % specs.length;
        futures.add(pool.submit(() -> {
          for (int rep = 0; rep < 10; rep++)
            assertArrayEquals(expected.get(k), run(specs[k], inputs.get(k)), "thread result differs for " + specs[k]);
          return null;
        }));
      }
      for (Future<?> f : futures) f.get();
    } finally {
      pool.shutdown();
    }
  }

  @Test
  void resultsDoNotDependOnTheThreadCount() {
    Random rng = new Random(8);
    Conv2dSpec s = Conv2dSpec.of(8, 24, 12, 12, 24, 3).withPad(1).withGroups(24);
    FloatBuffer[] in = {rand(rng, s.inputSize()), rand(rng, s.weightSize()), rand(rng, s.outputSize())};
    int before = Sepconv.numThreads();
    try {
      Sepconv.setNumThreads(1);
      float[] one = run(s, in);
      Sepconv.setNumThreads(3);
      assertArrayEquals(one, run(s, in));
    } finally {
      Sepconv.setNumThreads(before);
    }
  }

  /** forward, dx and dw concatenated */
  static float[] run(Conv2dSpec s, FloatBuffer[] in) {
    FloatBuffer y = floats(s.outputSize()), dx = floats(s.inputSize()), dw = floats(s.weightSize());
    Ops.conv2dForward(Exec.CPU, s, in[0], in[1], null, y);
    Ops.conv2dBackward(Exec.CPU, s, Grad.INPUT | Grad.WEIGHT, in[0], in[1], in[2], dx, dw, null);
    float[] out = new float[(int) (s.outputSize() + s.inputSize() + s.weightSize())];
    y.get(0, out, 0, (int) s.outputSize());
    dx.get(0, out, (int) s.outputSize(), (int) s.inputSize());
    dw.get(0, out, (int) (s.outputSize() + s.inputSize()), (int) s.weightSize());
    return out;
  }
}
