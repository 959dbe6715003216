package org.sepconv.ops;

import static org.junit.jupiter.api.Assertions.*;
import static org.sepconv.TestSupport.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/** Bad arguments give an IllegalArgumentException naming the argument, and never a crash. */
class ValidationTest {
  static void assertRejects(String argument, Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(argument), "message '" + e.getMessage() + "' should name " + argument);
  }

  @Test
  void badConvGeometryIsRejectedWithTheArgumentsName() {
    assertRejects("n", () -> Conv2dSpec.of(-1, 3, 8, 8, 3, 3).validate());
    assertRejects("c_in", () -> Conv2dSpec.of(1, 0, 8, 8, 3, 3).validate());
    assertRejects("h", () -> Conv2dSpec.of(1, 3, -8, 8, 3, 3).validate());
    assertRejects("c_out", () -> Conv2dSpec.of(1, 3, 8, 8, -3, 3).validate());
    assertRejects("kh", () -> Conv2dSpec.of(1, 3, 8, 8, 3, 0).validate());
    assertRejects("stride_h", () -> Conv2dSpec.of(1, 3, 8, 8, 3, 3).withStride(0).validate());
    assertRejects("stride_w", () -> Conv2dSpec.of(1, 3, 8, 8, 3, 3).withStride(1, 0).validate());
    assertRejects("pad_h", () -> Conv2dSpec.of(1, 3, 8, 8, 3, 3).withPad(-1).validate());
    assertRejects("dil_w", () -> Conv2dSpec.of(1, 3, 8, 8, 3, 3).withDilation(1, 0).validate());
    assertRejects("groups", () -> Conv2dSpec.of(1, 6, 8, 8, 6, 3).withGroups(4).validate());
    assertRejects("groups", () -> Conv2dSpec.of(1, 6, 8, 8, 9, 3).withGroups(6).validate());
    assertRejects("groups", () -> Conv2dSpec.of(1, 6, 8, 8, 6, 3).withGroups(0).validate());
    assertRejects("kh", () -> Conv2dSpec.of(1, 3, 4, 4, 3, 7).validate()); // kernel larger than the padded input
    assertRejects("2^31", () -> Conv2dSpec.of(65536, 1024, 64, 64, 16, 1).validate());
  }

  @Test
  void badBuffersAreRejectedWithTheArgumentsName() {
    Conv2dSpec s = Conv2dSpec.of(2, 4, 8, 8, 4, 3).withPad(1).withGroups(4);
    FloatBuffer x = floats(s.inputSize()), w = floats(s.weightSize()), y = floats(s.outputSize());
    assertRejects("x", () -> Ops.conv2dForward(Exec.CPU, s, null, w, null, y));
    assertRejects("w", () -> Ops.conv2dForward(Exec.CPU, s, x, floats(s.weightSize() - 1), null, y));
    assertRejects("y", () -> Ops.conv2dForward(Exec.CPU, s, x, w, null, floats(s.outputSize() - 1)));
    assertRejects("bias", () -> Ops.conv2dForward(Exec.CPU, s, x, w, floats(3), y));
    assertRejects("x", () -> Ops.conv2dForward(Exec.CPU, s, FloatBuffer.allocate((int) s.inputSize()), w, null, y));
    FloatBuffer bigEndian = ByteBuffer.allocateDirect((int) s.inputSize() * 4)
        .order(ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN).asFloatBuffer();
    assertRejects("x", () -> Ops.conv2dForward(Exec.CPU, s, bigEndian, w, null, y));
    assertRejects("y", () -> Ops.conv2dForward(Exec.CPU, s, x, w, null, y.asReadOnlyBuffer()));
    // a buffer's position counts: what remains must be enough
    assertRejects("x", () -> Ops.conv2dForward(Exec.CPU, s, x.duplicate().position(1), w, null, y));
    assertRejects("dx", () -> Ops.conv2dBackward(Exec.CPU, s, Grad.INPUT, x, w, y, null, null, null));
    assertRejects("mask", () -> Ops.conv2dBackward(Exec.CPU, s, 8, x, w, y, x, w, null));
    assertRejects("exec", () -> Ops.conv2dForward(null, s, x, w, null, y));

    assertRejects("c", () -> Ops.batchNormForwardInference(Exec.CPU, 1, -3, 4, x, null, null, x, x, 1e-5f, Activation.NONE, y));
    assertRejects("eps", () -> Ops.batchNormForwardInference(Exec.CPU, 1, 3, 4, x, null, null, x, x, -1f, Activation.NONE, y));
    assertRejects("momentum", () -> Ops.batchNormForwardTraining(Exec.CPU, 1, 3, 4, x, null, null, 1e-5f, 2f, null, null, floats(3), floats(3), Activation.NONE, y));
    assertRejects("count", () -> Ops.activationForward(Exec.CPU, Activation.RELU, 0, x, y));
    assertRejects("act", () -> Ops.activationForward(Exec.CPU, null, 4, x, y));
    assertRejects("b", () -> Ops.add(Exec.CPU, 10, x, floats(9), y));
    assertRejects("inFeatures", () -> Ops.linearForward(Exec.CPU, 2, 0, 3, x, w, null, y));
    assertRejects("pad", () -> new Pool2dSpec(1, 1, 8, 8, 2, 2, 3, true));
    assertRejects("stride", () -> new Pool2dSpec(1, 1, 8, 8, 2, 0, 0, true));

    IntBuffer labels = ints(2);
    labels.put(0, 1).put(1, 10);
    assertRejects("labels", () -> Ops.softmaxCrossEntropyForward(Exec.CPU, 2, 10, floats(20), labels, 0f, floats(20)));
    labels.put(1, -1);
    assertRejects("labels", () -> Ops.softmaxCrossEntropyBackward(Exec.CPU, 2, 10, floats(20), labels, 0f, 1f, floats(20)));

    Pool2dSpec p = new Pool2dSpec(1, 2, 6, 6, 2, 2, 0, true);
    IntBuffer arg = ints(p.outputSize());
    arg.put(3, 36); // one past the plane
    assertRejects("argmax", () -> Ops.maxPool2dBackward(Exec.CPU, p, floats(p.outputSize()), arg, floats(p.inputSize())));
  }

  @Test
  void theFusedOpsCheckTheirArgumentsByName() {
    Conv2dSpec c = Conv2dSpec.of(2, 4, 8, 8, 4, 3).withPad(1).withGroups(4);
    FloatBuffer cx = floats(c.inputSize()), cw = floats(c.weightSize()), cy = floats(c.outputSize());
    assertRejects("act", () -> Ops.conv2dForward(Exec.CPU, c, cx, cw, null, null, cy));
    assertRejects("bias", () -> Ops.conv2dForward(Exec.CPU, c, cx, cw, floats(3), Activation.RELU, cy));

    assertRejects("n", () -> DwpwSpec.of(0, 4, 8, 8, 3, 1, 4).validate());
    assertRejects("c_in", () -> DwpwSpec.of(1, -4, 8, 8, 3, 1, 4).validate());
    assertRejects("c_expand", () -> DwpwSpec.of(1, 4, 8, 8, 3, 1, 4).withExpand(0, Activation.RELU6).validate());
    assertRejects("k", () -> DwpwSpec.of(1, 4, 8, 8, 0, 1, 4).validate());
    assertRejects("k", () -> DwpwSpec.of(1, 4, 2, 8, 7, 1, 4).withPad(1).validate()); // larger than the padded input
    assertRejects("stride", () -> DwpwSpec.of(1, 4, 8, 8, 3, 0, 4).validate());
    assertRejects("pad", () -> DwpwSpec.of(1, 4, 8, 8, 3, 1, 4).withPad(-1).validate());
    assertRejects("mult", () -> DwpwSpec.of(1, 4, 8, 8, 3, 1, 4).withMult(0).validate());
    assertRejects("c_out", () -> DwpwSpec.of(1, 4, 8, 8, 3, 1, 0).validate());
    assertRejects("activations", () -> DwpwSpec.of(1, 4, 8, 8, 3, 1, 4).withActivations(null, Activation.NONE));
    assertRejects("act", () -> DwpwSpec.of(1, 4, 8, 8, 3, 1, 4).withExpand(8, null));

    DwpwSpec s = DwpwSpec.of(2, 4, 9, 7, 3, 2, 6).withExpand(8, Activation.RELU6);
    FloatBuffer x = floats(s.inputSize()), we = floats(s.expandWeightSize()), wd = floats(s.dwWeightSize());
    FloatBuffer wp = floats(s.pwWeightSize()), y = floats(s.outputSize());
    assertRejects("wExpand", () -> Ops.dwpwForward(Exec.CPU, s, x, null, null, wd, null, wp, null, null, y));
    assertRejects("wExpand", () -> Ops.dwpwForward(Exec.CPU, s, x, floats(s.expandWeightSize() - 1), null, wd, null, wp,
        null, null, y));
    assertRejects("bExpand", () -> Ops.dwpwForward(Exec.CPU, s, x, we, floats(7), wd, null, wp, null, null, y));
    assertRejects("wDw", () -> Ops.dwpwForward(Exec.CPU, s, x, we, null, null, null, wp, null, null, y));
    assertRejects("bDw", () -> Ops.dwpwForward(Exec.CPU, s, x, we, null, wd, floats(7), wp, null, null, y));
    assertRejects("wPw", () -> Ops.dwpwForward(Exec.CPU, s, x, we, null, wd, null, floats(3), null, null, y));
    assertRejects("bPw", () -> Ops.dwpwForward(Exec.CPU, s, x, we, null, wd, null, wp, floats(5), null, y));
    assertRejects("residual", () -> Ops.dwpwForward(Exec.CPU, s, x, we, null, wd, null, wp, null, floats(3), y));
    assertRejects("y", () -> Ops.dwpwForward(Exec.CPU, s, x, we, null, wd, null, wp, null, null, floats(3)));
    assertRejects("y", () -> Ops.dwpwForward(Exec.CPU, s, x, we, null, wd, null, wp, null, null, y.asReadOnlyBuffer()));
    DwpwSpec plain = DwpwSpec.of(2, 4, 8, 8, 3, 1, 4);
    FloatBuffer px = floats(plain.inputSize()), pwd = floats(plain.dwWeightSize()), pwp = floats(plain.pwWeightSize());
    assertRejects("wExpand", () -> Ops.dwpwForward(Exec.CPU, plain, px, floats(16), null, pwd, null, pwp, null, null,
        floats(plain.outputSize())));
    assertRejects("y must not overlap x", () -> Ops.dwpwForward(Exec.CPU, plain, px, null, null, pwd, null, pwp, null,
        null, px));
  }

  /** The reproduction of the position bug: 8 floats 100..107, the op's data starts at position 4. */
  @Test
  void aBuffersDataStartsAtItsPosition() {
    FloatBuffer big = ByteBuffer.allocateDirect(32).order(ByteOrder.nativeOrder()).asFloatBuffer();
    for (int i = 0; i < 8; i++) big.put(i, 100 + i);
    FloatBuffer out = floats(4);
    Ops.activationForward(Exec.CPU, Activation.NONE, 4, big.duplicate().position(4), out);
    for (int i = 0; i < 4; i++) assertEquals(104 + i, out.get(i), "input element " + i);
    Ops.activationForward(Exec.CPU, Activation.NONE, 4, big.duplicate().position(4).slice(), out);
    for (int i = 0; i < 4; i++) assertEquals(104 + i, out.get(i), "sliced input element " + i);

    FloatBuffer src = floats(4);
    for (int i = 0; i < 4; i++) src.put(i, -i - 1);
    FloatBuffer target = big.duplicate().position(4);
    Ops.activationForward(Exec.CPU, Activation.NONE, 4, src, target);
    for (int i = 0; i < 4; i++) assertEquals(100 + i, big.get(i), "element " + i + " before the position");
    for (int i = 4; i < 8; i++) assertEquals(-(i - 4) - 1, big.get(i), "output element " + i);
    assertEquals(4, target.position(), "the position is not moved");
    assertRejects("y", () -> Ops.activationForward(Exec.CPU, Activation.NONE, 5, floats(5), big.duplicate().position(4)));
  }

  /** The ops over tensors hold their arguments to the same rules: named, with what was expected, nothing written. */
  @Test
  void tensorArgumentsAreCheckedByName() {
    Conv2dSpec s = Conv2dSpec.of(2, 4, 8, 8, 4, 3).withPad(1).withGroups(4);
    try (Tensor x = Tensor.zeros(Shape.of(2, 4, 8, 8)); Tensor w = Tensor.zeros(Shape.of(4, 1, 3, 3));
        Tensor y = Tensor.full(Shape.of(2, 4, 8, 8), 7f); Tensor small = Tensor.zeros(Shape.of(2, 4, 8, 7));
        Tensor ints = Tensor.ofInts(new int[2 * 4 * 8 * 8], Shape.of(2, 4, 8, 8), Device.CPU);
        Tensor labels = Tensor.zeros(Shape.of(2)); Tensor logits = Tensor.zeros(Shape.of(2, 3));
        Tensor probs = Tensor.zeros(Shape.of(2, 3)); Tensor loss = Tensor.zeros(Shape.of(1)); Tensor stat = Tensor.zeros(Shape.of(4))) {
      assertRejects("y", () -> Ops.conv2dForward(s, x, w, null, small));
      assertTrue(assertThrows(IllegalArgumentException.class, () -> Ops.conv2dForward(s, x, w, null, small)).getMessage()
          .startsWith("y must have 512 elements, got [2, 4, 8, 7] (448)"));
      assertRejects("x", () -> Ops.conv2dForward(s, null, w, null, y));
      assertRejects("x", () -> Ops.conv2dForward(s, ints, w, null, y));
      assertRejects("labels", () -> Ops.softmaxCrossEntropyForward(2, 3, logits, labels, 0f, probs, loss));
      assertRejects("y", () -> Ops.batchNormForwardInference(2, 4, 64, x, null, null, stat, stat, 1e-5f, Activation.NONE,
          x)); // y is x: refused before anything runs
      Tensor closed = Tensor.zeros(Shape.of(2, 4, 8, 8));
      closed.close();
      assertRejects("x", () -> Ops.conv2dForward(s, closed, w, null, y));
      for (float v : y.toArray()) assertEquals(7f, v, "nothing was written");
      // the thread's algorithm: a scope sets it, closing restores it
      assertEquals(Exec.Algo.AUTO, Exec.currentAlgo());
      try (Exec.Scope r = Exec.use(Exec.Algo.REFERENCE)) {
        assertEquals(Exec.Algo.REFERENCE, Exec.currentAlgo());
        Ops.conv2dForward(s, x, w, null, y);
      }
      assertEquals(Exec.Algo.AUTO, Exec.currentAlgo());
    }
  }

  /** Buffers are host memory: a CUDA exec over them is refused by name, GPU or not (CUDA takes Tensors). */
  @Test
  void cudaOnHostBuffersSaysWhy() {
    Conv2dSpec s = Conv2dSpec.of(1, 2, 4, 4, 2, 3).withPad(1);
    Exec cuda = new Exec(org.sepconv.tensor.Device.CUDA, Exec.Algo.AUTO);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Ops.conv2dForward(cuda, s, floats(32), floats(36), null, floats(32)));
    assertTrue(e.getMessage().startsWith("exec: FloatBuffers are host memory") && e.getMessage().contains("Tensors"),
        e.getMessage());
  }

  /** Hundreds of random malformed calls: each either runs (when it happens to be valid) or throws IAE. */
  @Test
  void randomMalformedCallsNeverCrash() {
    Random rng = new Random(99);
    int rejected = 0, ran = 0;
    for (int iter = 0; iter < 600; iter++) {
      // a plausible geometry, then each field broken with some probability
      int g = 1 + rng.nextInt(3);
      int[] v = {1 + rng.nextInt(2), g * (1 + rng.nextInt(3)), 3 + rng.nextInt(9), 3 + rng.nextInt(9),
          g * (1 + rng.nextInt(3)), 1 + rng.nextInt(3), 1 + rng.nextInt(3), 1 + rng.nextInt(2), 1 + rng.nextInt(2),
          rng.nextInt(2), rng.nextInt(2), 1 + rng.nextInt(2), 1 + rng.nextInt(2), g};
      for (int i = 0; i < v.length; i++) if (rng.nextInt(14) == 0) v[i] = rng.nextInt(7) - 3;
      int op = rng.nextInt(4);
      try {
        Conv2dSpec s = Conv2dSpec.of(v[0], v[1], v[2], v[3], v[4], v[5])
            .withKernel(v[5], v[6]).withStride(v[7], v[8]).withPad(v[9], v[10]).withDilation(v[11], v[12]).withGroups(v[13]);
        // sometimes hand over buffers that are too small
        long slack = rng.nextInt(4) == 0 ? -1 - rng.nextInt(3) : 0;
        FloatBuffer x = floats(Math.max(1, s.inputSize() + slack)), w = floats(Math.max(1, s.weightSize() + slack));
        FloatBuffer y = floats(Math.max(1, s.outputSize() + slack));
        FloatBuffer b = rng.nextBoolean() ? floats(Math.max(1, s.cOut + slack)) : null;
        if (op == 0) Ops.conv2dForward(Exec.CPU, s, x, w, b, y);
        else Ops.conv2dBackward(Exec.CPU, s, rng.nextInt(10) - 1, x, w, y, floats(Math.max(1, s.inputSize() + slack)),
            floats(Math.max(1, s.weightSize() + slack)), b);
        ran++;
      } catch (IllegalArgumentException expected) {
        assertFalse(expected.getMessage() == null || expected.getMessage().isEmpty());
        rejected++;
      }
      try {
        int n = rng.nextInt(6) - 2, c = rng.nextInt(6) - 2, hw = rng.nextInt(6) - 2;
        long need = (long) Math.max(n, 1) * Math.max(c, 1) * Math.max(hw, 1) + (rng.nextBoolean() ? -1 : 0);
        FloatBuffer a = floats(Math.max(1, need)), cc = floats(Math.max(c, 1));
        Ops.batchNormForwardTraining(Exec.CPU, n, c, hw, a, rng.nextBoolean() ? cc : null, null,
            rng.nextFloat() - 0.2f, rng.nextFloat() * 1.4f - 0.2f, null, null, cc, floats(Math.max(c, 1)),
            Activation.values()[rng.nextInt(3)], floats(Math.max(1, need)));
        ran++;
      } catch (IllegalArgumentException expected) {
        rejected++;
      }
    }
    assertTrue(rejected > 200 && ran > 100, "the fuzzer should hit both outcomes: rejected " + rejected + ", ran " + ran);
  }
}
