package org.sepconv.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sepconv.TestSupport.floats;
import static org.sepconv.TestSupport.rand;

import java.nio.FloatBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.sepconv.Sepconv;
import org.sepconv.TestSupport;

/**
 * The fused inference ops beyond their reference comparisons in {@link KernelTableTest}: the
 * activation epilogue of a conv is exactly the activation of its output, and the fused block's
 * result does not depend on the thread count (its tiling of rows comes from the shape alone).
 */
class FusedOpsTest {
  /** One shape per forward path: depthwise (with a multiplier), direct 3x3, GEMM one image, GEMM tasks, grouped, the stem. */
  static final Conv2dSpec[] PATHS = {
    Conv2dSpec.of(3, 24, 13, 11, 48, 3).withStride(2).withPad(1).withGroups(24),
    Conv2dSpec.of(2, 64, 9, 7, 64, 3).withPad(1),
    Conv2dSpec.of(1, 17, 13, 17, 33, 3).withPad(1),
    Conv2dSpec.of(8, 96, 7, 7, 40, 1),
    Conv2dSpec.of(2, 12, 9, 9, 18, 3).withPad(1).withGroups(3),
    Conv2dSpec.of(2, 3, 31, 29, 16, 7).withStride(2).withPad(3)};

  @Test
  void convEpilogueIsTheActivationOfTheConvBitForBit() {
    Random rng = new Random(14);
    for (Conv2dSpec s : PATHS) {
      FloatBuffer x = rand(rng, s.inputSize()), w = rand(rng, s.weightSize()), b = rand(rng, s.cOut);
      for (Exec e : new Exec[] {Exec.CPU, Exec.CPU_IM2COL})
        for (Sepconv.Isa isa : TestSupport.isas())
          TestSupport.withIsa(isa, () -> {
            FloatBuffer y = floats(s.outputSize());
            Ops.conv2dForward(e, s, x, w, b, y);
            for (Activation act : Activation.values()) {
              FloatBuffer fused = floats(s.outputSize()), separate = floats(s.outputSize());
              Ops.conv2dForward(e, s, x, w, b, act, fused);
              Ops.activationForward(e, act, s.outputSize(), y, separate);
              assertArrayEquals(array(separate), array(fused), s + " " + act + " on " + e + " " + isa);
            }
          });
      // the case is not vacuous: ReLU changed some outputs, and ReLU6 others still
      FloatBuffer y = floats(s.outputSize()), r = floats(s.outputSize()), r6 = floats(s.outputSize());
      Ops.conv2dForward(Exec.CPU, s, x, w, b, y);
      Ops.conv2dForward(Exec.CPU, s, x, w, b, Activation.RELU, r);
      Ops.conv2dForward(Exec.CPU, s, x, w, b, Activation.RELU6, r6);
      int negative = 0, clipped = 0;
      for (int i = 0; i < s.outputSize(); i++) {
        if (y.get(i) < 0 && r.get(i) == 0) negative++;
        if (y.get(i) > 6 && r6.get(i) == 6) clipped++;
      }
      assertTrue(negative > 0, s + ": no negative output was zeroed");
      if (s.macs() / s.outputSize() > 100) assertTrue(clipped > 0, s + ": no output above 6 was clipped");
    }
  }

  @Test
  void dwpwResultsDoNotDependOnTheThreadCount() {
    Random rng = new Random(15);
    DwpwSpec[] specs = {
      DwpwSpec.of(2, 24, 32, 32, 3, 1, 24).withExpand(144, Activation.RELU6).withActivations(Activation.RELU6, Activation.NONE),
      DwpwSpec.of(1, 32, 40, 40, 3, 2, 48).withExpand(192, Activation.RELU6).withActivations(Activation.RELU6, Activation.NONE),
      DwpwSpec.of(3, 32, 16, 16, 3, 1, 64).withActivations(Activation.RELU, Activation.RELU)};
    int before = Sepconv.numThreads();
    try {
      for (DwpwSpec s : specs) {
        FloatBuffer x = rand(rng, s.inputSize()), we = s.expand ? rand(rng, s.expandWeightSize()) : null;
        FloatBuffer be = s.expand ? rand(rng, s.cExpand) : null, wd = rand(rng, s.dwWeightSize());
        FloatBuffer bd = rand(rng, s.midChannels()), wp = rand(rng, s.pwWeightSize()), bp = rand(rng, s.cOut);
        float[] first = null;
        for (int threads : new int[] {1, 2, 3}) {
          Sepconv.setNumThreads(threads);
          FloatBuffer y = floats(s.outputSize());
          Ops.dwpwForward(Exec.CPU, s, x, we, be, wd, bd, wp, bp, null, y);
          if (first == null) first = array(y);
          else assertArrayEquals(first, array(y), s + " with " + threads + " threads");
        }
      }
    } finally {
      Sepconv.setNumThreads(before);
    }
  }

  static float[] array(FloatBuffer b) {
    float[] a = new float[b.capacity()];
    b.get(0, a);
    return a;
  }
}
