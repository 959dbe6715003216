package org.sepconv.ops;

import static org.junit.jupiter.api.Assertions.*;
import static org.sepconv.TestSupport.*;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Batch norm (plain and fused), activations and the residual add against the reference. */
class NormAndElementwiseTest {
  static Stream<Arguments> bnShapes() {
    List<Arguments> out = new ArrayList<>();
    int i = 0;
    for (int n : new int[] {1, 8})
      for (int c : new int[] {1, 3, 17, 96})
        for (int hw : new int[] {1, 49, 221}) {
          if (n * hw < 2) continue;
          Activation act = Activation.values()[i % 3];
          out.add(Arguments.of(n, c, hw, act, i++ % 4 != 3));
        }
    out.add(Arguments.of(4, 32, 1024, Activation.RELU6, true)); // MobileNetV2's first stage
    return out.stream();
  }

  @ParameterizedTest(name = "n={0} c={1} hw={2} {3} affine={4}")
  @MethodSource("bnShapes")
  void batchNormTrainingForwardAndBackward(int n, int c, int hw, Activation act, boolean affine) {
    Random rng = new Random(n * 1000L + c * 10 + hw);
    long size = (long) n * c * hw;
    FloatBuffer x = rand(rng, size);
    for (int i = 0; i < size; i++) x.put(i, 3 * x.get(i) + 0.5f); // push values across the ReLU6 range
    FloatBuffer gamma = affine ? rand(rng, c) : null, beta = affine ? rand(rng, c) : null;
    for (int i = 0; affine && i < c; i++) gamma.put(i, 2 + 2 * gamma.get(i));
    FloatBuffer rm = rand(rng, c), rv = rand(rng, c);
    for (int i = 0; i < c; i++) rv.put(i, 1 + rv.get(i) * 0.5f);
    FloatBuffer dy = rand(rng, size), dg0 = rand(rng, c), db0 = rand(rng, c);

    // forward: y, running mean/var (updated in place), saved mean and invstd
    checkOp("bn-train-fwd " + act, new FloatBuffer[] {poisoned(size), rm, rv, poisoned(c), poisoned(c)},
        (e, o) -> Ops.batchNormForwardTraining(e, n, c, hw, x, gamma, beta, 1e-5f, 0.1f, o[1], o[2], o[3], o[4], act, o[0]));

    FloatBuffer y = floats(size), sm = floats(c), si = floats(c);
    Ops.batchNormForwardTraining(Exec.CPU_REFERENCE, n, c, hw, x, gamma, beta, 1e-5f, 0.1f, null, null, sm, si, act, y);
    // the forward statistics match PyTorch's definitions
    for (int ch = 0; ch < c; ch++) {
      double s = 0, s2 = 0;
      for (int b = 0; b < n; b++) for (int j = 0; j < hw; j++) s += x.get((b * c + ch) * hw + j);
      double mean = s / (n * hw);
      for (int b = 0; b < n; b++) for (int j = 0; j < hw; j++) { double d = x.get((b * c + ch) * hw + j) - mean; s2 += d * d; }
      assertEquals(mean, sm.get(ch), 1e-5 * Math.max(1, Math.abs(mean)));
      assertEquals(1 / Math.sqrt(s2 / (n * hw) + 1e-5), si.get(ch), 1e-4 * si.get(ch));
    }

    int[] masks = {Grad.ALL, Grad.INPUT, Grad.WEIGHT | Grad.BIAS};
    for (int mask : masks) {
      if (!affine && mask != Grad.INPUT) continue;
      checkOp("bn-bwd " + act + " mask " + mask,
          new FloatBuffer[] {(mask & Grad.INPUT) != 0 ? poisoned(size) : floats(size), dg0, db0},
          (e, o) -> Ops.batchNormBackward(e, n, c, hw, mask, x, y, dy, gamma, sm, si, act,
              (mask & Grad.INPUT) != 0 ? o[0] : null, (mask & Grad.WEIGHT) != 0 ? o[1] : null,
              (mask & Grad.BIAS) != 0 ? o[2] : null));
    }

    checkOp("bn-infer " + act, new FloatBuffer[] {poisoned(size)},
        (e, o) -> Ops.batchNormForwardInference(e, n, c, hw, x, gamma, beta, rm, rv, 1e-5f, act, o[0]));
  }

  @Test
  void foldingBatchNormIntoConvGivesTheSameInference() {
    Random rng = new Random(7);
    Conv2dSpec s = Conv2dSpec.of(2, 8, 9, 9, 12, 3).withPad(1).withGroups(4);
    FloatBuffer x = rand(rng, s.inputSize()), w = rand(rng, s.weightSize()), b = rand(rng, s.cOut);
    FloatBuffer gamma = rand(rng, s.cOut), beta = rand(rng, s.cOut), mean = rand(rng, s.cOut), var = rand(rng, s.cOut);
    for (int i = 0; i < s.cOut; i++) var.put(i, 0.5f + Math.abs(var.get(i)));
    FloatBuffer y = floats(s.outputSize()), expect = floats(s.outputSize()), got = floats(s.outputSize());
    Ops.conv2dForward(Exec.CPU_REFERENCE, s, x, w, b, y);
    Ops.batchNormForwardInference(Exec.CPU_REFERENCE, s.n, s.cOut, s.outH() * s.outW(), y, gamma, beta, mean, var, 1e-5f, Activation.NONE, expect);
    FloatBuffer wf = copy(w), bf = copy(b);
    Ops.batchNormFold(s.cOut, s.weightSize() / s.cOut, wf, bf, gamma, beta, mean, var, 1e-5f);
    Ops.conv2dForward(Exec.CPU_REFERENCE, s, x, wf, bf, got);
    assertClose("folded conv", got, expect, s.outputSize());
  }

  @Test
  void activationsAndAddMatchReferenceAndDefinition() {
    Random rng = new Random(3);
    for (long count : new long[] {1, 7, 1000, 4099}) {
      FloatBuffer x = rand(rng, count), dy = rand(rng, count), b = rand(rng, count);
      for (int i = 0; i < count; i++) x.put(i, 8 * x.get(i)); // spans both ReLU6 edges
      for (Activation act : Activation.values()) {
        checkOp("act-fwd " + act + " " + count, new FloatBuffer[] {poisoned(count)},
            (e, o) -> Ops.activationForward(e, act, count, x, o[0]));
        FloatBuffer y = floats(count);
        Ops.activationForward(Exec.CPU, act, count, x, y);
        for (int i = 0; i < count; i++) {
          float v = x.get(i);
          float expect = act == Activation.NONE ? v : act == Activation.RELU ? Math.max(v, 0) : Math.min(Math.max(v, 0), 6);
          assertEquals(expect, y.get(i), 0f, act + " at " + v);
        }
        checkOp("act-bwd " + act + " " + count, new FloatBuffer[] {poisoned(count)},
            (e, o) -> Ops.activationBackward(e, act, count, y, dy, o[0]));
      }
      checkOp("add " + count, new FloatBuffer[] {poisoned(count)}, (e, o) -> Ops.add(e, count, x, b, o[0]));
      FloatBuffer inPlace = copy(x);
      Ops.add(Exec.CPU, count, inPlace, b, inPlace);
      for (int i = 0; i < count; i++) assertEquals(x.get(i) + b.get(i), inPlace.get(i), 0f);
    }
  }
}
