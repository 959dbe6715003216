package org.sepconv.ops;

import static org.sepconv.TestSupport.*;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sepconv.Sepconv;

/**
 * Every convolution path (depthwise, grouped, dense, pointwise; each ISA; the fast kernels and
 * the im2col baseline) against the double-accumulating reference, forward and every backward.
 */
public class ConvTest {
  static final int[][] SPATIAL = {{1, 1}, {7, 7}, {13, 17}};
  static final int[] CHANNELS = {1, 3, 17, 96};
  /** kernel, stride, pad, dilation */
  static final int[][] DEPTHWISE_GEOM = {
    {3, 1, 1, 1}, {3, 2, 1, 1}, {5, 1, 2, 1}, {5, 2, 2, 1}, {3, 1, 0, 1}, {3, 2, 0, 1},
    {3, 1, 2, 1}, {5, 2, 0, 1}, {1, 1, 0, 1}, {7, 2, 3, 1}, {3, 1, 2, 2}, {4, 3, 1, 1}
  };

  static Stream<Arguments> depthwise() {
    List<Arguments> out = new ArrayList<>();
    int i = 0;
    for (int[] hw : SPATIAL)
      for (int c : CHANNELS)
        for (int[] g : DEPTHWISE_GEOM) {
          int n = (i++ % 2 == 0) ? 1 : 8;
          if (!fits(hw, g[0], g[2], g[3])) continue;
          int mult = (i % 5 == 0) ? 2 : 1;
          out.add(Arguments.of(Conv2dSpec.of(n, c, hw[0], hw[1], c * mult, g[0]).withStride(g[1])
              .withPad(g[2]).withDilation(g[3]).withGroups(c), i % 3 != 0));
        }
    // MobileNetV2's own shapes at a small batch, and a non-square kernel
    out.add(Arguments.of(Conv2dSpec.of(2, 144, 32, 32, 144, 3).withPad(1).withGroups(144), false));
    out.add(Arguments.of(Conv2dSpec.of(2, 144, 32, 32, 144, 3).withStride(2).withPad(1).withGroups(144), false));
    out.add(Arguments.of(Conv2dSpec.of(3, 960, 4, 4, 960, 3).withPad(1).withGroups(960), true));
    out.add(Arguments.of(Conv2dSpec.of(2, 5, 9, 11, 5, 3).withKernel(3, 5).withPad(1, 2).withStride(1, 2).withGroups(5), true));
    return out.stream();
  }

  static Stream<Arguments> grouped() {
    List<Arguments> out = new ArrayList<>();
    int[][] chans = {{96, 96, 2}, {96, 96, 3}, {96, 96, 32}, {17, 17, 1}, {3, 96, 3}, {96, 17, 1},
        {17, 96, 1}, {3, 3, 1}, {1, 1, 1}, {6, 9, 3}, {8, 12, 4}};
    int[][] geoms = {{3, 1, 1, 1}, {3, 2, 1, 1}, {1, 1, 0, 1}, {5, 2, 2, 1}, {3, 1, 2, 2}};
    int i = 0;
    for (int[] hw : SPATIAL)
      for (int[] ch : chans)
        for (int[] g : geoms) {
          if (!fits(hw, g[0], g[2], g[3])) continue;
          // keep the big dense cases off the largest plane so the reference stays quick
          if (ch[0] == 96 && ch[1] == 96 && ch[2] <= 3 && hw[0] == 13 && g[0] > 1) continue;
          int n = (i++ % 2 == 0) ? 1 : 8;
          out.add(Arguments.of(Conv2dSpec.of(n, ch[0], hw[0], hw[1], ch[1], g[0]).withStride(g[1])
              .withPad(g[2]).withDilation(g[3]).withGroups(ch[2]), i % 3 != 1));
        }
    // ResNet18's stem (7x7 stride 2 pad 3), its 3x3 and its strided 1x1 shortcut, and odd sizes
    out.add(Arguments.of(Conv2dSpec.of(2, 3, 31, 29, 16, 7).withStride(2).withPad(3), false));
    out.add(Arguments.of(Conv2dSpec.of(8, 64, 8, 8, 64, 3).withPad(1), false));
    out.add(Arguments.of(Conv2dSpec.of(8, 64, 9, 9, 128, 1).withStride(2), false));
    out.add(Arguments.of(Conv2dSpec.of(8, 96, 13, 17, 96, 3).withPad(1), true));
    out.add(Arguments.of(Conv2dSpec.of(1, 7, 13, 17, 5, 3).withKernel(3, 5).withPad(2, 1).withStride(2, 1), true));
    out.add(Arguments.of(Conv2dSpec.of(8, 96, 7, 7, 17, 1).withPad(1), true));
    return out.stream();
  }

  static boolean fits(int[] hw, int k, int pad, int dil) {
    int ek = (k - 1) * dil + 1;
    return hw[0] + 2 * pad >= ek && hw[1] + 2 * pad >= ek;
  }

  @ParameterizedTest(name = "{0} bias={1}")
  @MethodSource("depthwise")
  void depthwiseMatchesReference(Conv2dSpec s, boolean bias) {
    check(s, bias);
  }

  @ParameterizedTest(name = "{0} bias={1}")
  @MethodSource("grouped")
  void groupedDenseAndPointwiseMatchReference(Conv2dSpec s, boolean bias) {
    check(s, bias);
  }

  /** Forward and all backward masks of every ISA and algorithm against the reference. */
  public static void check(Conv2dSpec s, boolean withBias) {
    Random rng = new Random(s.toString().hashCode() * 31L + (withBias ? 1 : 0));
    FloatBuffer x = rand(rng, s.inputSize()), w = rand(rng, s.weightSize());
    FloatBuffer b = withBias ? rand(rng, s.cOut) : null;
    FloatBuffer dy = rand(rng, s.outputSize());
    FloatBuffer dw0 = rand(rng, s.weightSize()), db0 = rand(rng, s.cOut);

    FloatBuffer yRef = floats(s.outputSize());
    Ops.conv2dForward(Exec.CPU_REFERENCE, s, x, w, b, yRef);
    FloatBuffer dxRef = floats(s.inputSize()), dwRef = copy(dw0), dbRef = copy(db0);
    Ops.conv2dBackward(Exec.CPU_REFERENCE, s, Grad.ALL, x, w, dy, dxRef, dwRef, dbRef);

    for (Sepconv.Isa isa : isas())
      for (Exec e : new Exec[] {Exec.CPU, Exec.CPU_IM2COL})
        withIsa(isa, () -> {
          String tag = s + " " + isa + " " + e.algo();
          FloatBuffer y = poisoned(s.outputSize());
          Ops.conv2dForward(e, s, x, w, b, y);
          assertClose(tag + " forward", y, yRef, s.outputSize());

          FloatBuffer dx = poisoned(s.inputSize()), dw = copy(dw0), db = copy(db0);
          Ops.conv2dBackward(e, s, Grad.ALL, x, w, dy, dx, dw, db);
          assertClose(tag + " backward-data", dx, dxRef, s.inputSize());
          assertClose(tag + " backward-weight (+=)", dw, dwRef, s.weightSize());
          assertClose(tag + " backward-bias (+=)", db, dbRef, s.cOut);

          // each direction alone, with the other outputs absent
          FloatBuffer dx2 = poisoned(s.inputSize());
          Ops.conv2dBackward(e, s, Grad.INPUT, null, w, dy, dx2, null, null);
          assertClose(tag + " backward-data alone", dx2, dxRef, s.inputSize());
          FloatBuffer dw2 = copy(dw0);
          Ops.conv2dBackward(e, s, Grad.WEIGHT, x, null, dy, null, dw2, null);
          assertClose(tag + " backward-weight alone", dw2, dwRef, s.weightSize());
        });
  }
}
