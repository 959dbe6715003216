package org.sepconv.ops;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.sepconv.tensor.DType;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * The one table of kernel cases, as XNNPACK keeps one list per family: every case is a short
 * sequence of {@link Ops} calls over tensors with concrete shapes and fresh random data, whose
 * outputs {@link KernelTableTest} compares, on every target (each CPU instruction set, the
 * im2col baseline, CUDA), with the double-accumulating reference. Outputs that a call overwrites
 * start as NaN, so an element a kernel forgets fails; outputs that accumulate start from the same
 * random values on every target.
 */
final class KernelCases {
  private KernelCases() {}

  enum Role { IN, OUT, INOUT }

  /** One tensor of a case: host data of its shape (null for an OUT, which starts as NaN). */
  record Arg(String name, Role role, Shape shape, DType dtype, float[] f, int[] i) {}

  /** The tensors of one run of a case, by name; an absent one is null. */
  static final class Tensors {
    final Map<String, Tensor> m = new HashMap<>();

    Tensor t(String name) {
      return m.get(name);
    }
  }

  /**
   * A case: its args (in order), how to run it, whether the im2col baseline applies (convolutions),
   * and the relative tolerance of its float outputs (0: bit for bit): the largest error over the
   * largest value of the output, or of the output {@code scaleOf} names for it (an activation that
   * caps its output, say, leaves the error of the sums before it).
   */
  static final class Case {
    final String name;
    final List<Arg> args = new ArrayList<>();
    boolean im2col;
    double tol = 1e-5;
    /** Outputs whose error is relative to another output's largest value (by default, their own). */
    final Map<String, String> scaleOf = new HashMap<>();
    Consumer<Tensors> run;

    Case(String name) {
      this.name = name;
    }

    Case in(String name, Shape s, float[] v) {
      args.add(new Arg(name, Role.IN, s, DType.F32, v, null));
      return this;
    }

    Case ints(String name, Shape s, int[] v) {
      args.add(new Arg(name, Role.IN, s, DType.I32, null, v));
      return this;
    }

    Case out(String name, Shape s) {
      args.add(new Arg(name, Role.OUT, s, DType.F32, null, null));
      return this;
    }

    Case outInts(String name, Shape s) {
      args.add(new Arg(name, Role.OUT, s, DType.I32, null, null));
      return this;
    }

    Case inout(String name, Shape s, float[] v) {
      args.add(new Arg(name, Role.INOUT, s, DType.F32, v, null));
      return this;
    }

    @Override
    public String toString() {
      return name;
    }
  }

  static float[] rand(Random r, long n, float scale, float offset) {
    float[] v = new float[Math.toIntExact(n)];
    for (int i = 0; i < v.length; i++) v[i] = (r.nextFloat() * 2 - 1) * scale + offset;
    return v;
  }

  static float[] rand(Random r, long n) {
    return rand(r, n, 1, 0);
  }

  // ------------------------------------------------------------------ convolution

  static final int[][] SPATIAL = {{1, 1}, {7, 7}, {13, 17}};
  static final int[] CHANNELS = {1, 3, 17, 96};
  /** kernel, stride, pad, dilation */
  static final int[][] DEPTHWISE_GEOM = {
    {3, 1, 1, 1}, {3, 2, 1, 1}, {5, 1, 2, 1}, {5, 2, 2, 1}, {3, 1, 0, 1}, {3, 2, 0, 1},
    {3, 1, 2, 1}, {5, 2, 0, 1}, {1, 1, 0, 1}, {7, 2, 3, 1}, {3, 1, 2, 2}, {4, 3, 1, 1}
  };

  static boolean fits(int[] hw, int k, int pad, int dil) {
    int ek = (k - 1) * dil + 1;
    return hw[0] + 2 * pad >= ek && hw[1] + 2 * pad >= ek;
  }

  /** Depthwise (with channel multipliers), grouped, dense and pointwise convolutions, odd sizes included. */
  static List<Case> convolutions() {
    List<Case> out = new ArrayList<>();
    int i = 0;
    for (int[] hw : SPATIAL)
      for (int c : CHANNELS)
        for (int[] g : DEPTHWISE_GEOM) {
          int n = (i++ % 2 == 0) ? 1 : 8;
          if (!fits(hw, g[0], g[2], g[3])) continue;
          int mult = (i % 5 == 0) ? 2 : 1;
          out.add(conv(Conv2dSpec.of(n, c, hw[0], hw[1], c * mult, g[0]).withStride(g[1]).withPad(g[2]).withDilation(g[3])
              .withGroups(c), i % 3 != 0));
        }
    // MobileNetV2's own shapes at a small batch, and a non-square kernel
    out.add(conv(Conv2dSpec.of(2, 144, 32, 32, 144, 3).withPad(1).withGroups(144), false));
    out.add(conv(Conv2dSpec.of(2, 144, 32, 32, 144, 3).withStride(2).withPad(1).withGroups(144), false));
    out.add(conv(Conv2dSpec.of(3, 960, 4, 4, 960, 3).withPad(1).withGroups(960), true));
    out.add(conv(Conv2dSpec.of(2, 5, 9, 11, 5, 3).withKernel(3, 5).withPad(1, 2).withStride(1, 2).withGroups(5), true));
    // the channel-vectorised small-plane kernels (AVX-512, 16 | channels): 4x4 and smaller, and
    // strided 8x8, any kernel, padding and dilation
    out.add(conv(Conv2dSpec.of(3, 64, 8, 8, 64, 3).withStride(2).withPad(1).withGroups(64), true));
    out.add(conv(Conv2dSpec.of(2, 32, 3, 5, 32, 3).withPad(1).withGroups(32), false));
    out.add(conv(Conv2dSpec.of(5, 64, 4, 4, 64, 5).withPad(2).withGroups(64), true));
    out.add(conv(Conv2dSpec.of(4, 80, 2, 2, 80, 3).withPad(1).withGroups(80), false));
    out.add(conv(Conv2dSpec.of(2, 48, 7, 9, 48, 3).withKernel(3, 5).withStride(2, 3).withPad(1, 2).withGroups(48), true));

    int[][] chans = {{96, 96, 2}, {96, 96, 3}, {96, 96, 32}, {17, 17, 1}, {3, 96, 3}, {96, 17, 1},
        {17, 96, 1}, {3, 3, 1}, {1, 1, 1}, {6, 9, 3}, {8, 12, 4}};
    int[][] geoms = {{3, 1, 1, 1}, {3, 2, 1, 1}, {1, 1, 0, 1}, {5, 2, 2, 1}, {3, 1, 2, 2}};
    i = 0;
    for (int[] hw : SPATIAL)
      for (int[] ch : chans)
        for (int[] g : geoms) {
          if (!fits(hw, g[0], g[2], g[3])) continue;
          // keep the big dense cases off the largest plane so the reference stays quick
          if (ch[0] == 96 && ch[1] == 96 && ch[2] <= 3 && hw[0] == 13 && g[0] > 1) continue;
          int n = (i++ % 2 == 0) ? 1 : 8;
          out.add(conv(Conv2dSpec.of(n, ch[0], hw[0], hw[1], ch[1], g[0]).withStride(g[1]).withPad(g[2])
              .withDilation(g[3]).withGroups(ch[2]), i % 3 != 1));
        }
    // ResNet18's stem (7x7 stride 2 pad 3), its 3x3 and its strided 1x1 shortcut, and odd sizes
    out.add(conv(Conv2dSpec.of(2, 3, 31, 29, 16, 7).withStride(2).withPad(3), false));
    out.add(conv(Conv2dSpec.of(8, 64, 8, 8, 64, 3).withPad(1), false));
    out.add(conv(Conv2dSpec.of(8, 64, 9, 9, 128, 1).withStride(2), false));
    out.add(conv(Conv2dSpec.of(8, 96, 13, 17, 96, 3).withPad(1), true));
    out.add(conv(Conv2dSpec.of(1, 7, 13, 17, 5, 3).withKernel(3, 5).withPad(2, 1).withStride(2, 1), true));
    out.add(conv(Conv2dSpec.of(8, 96, 7, 7, 17, 1).withPad(1), true));
    // The direct 3x3 kernels (AVX-512: 16 | channels per group, 64 | each direction's output
    // channels; GEMM for the rest): odd and non-square planes, planes of 1 and 2, several images
    // per unit, several weight waves (n = 10), groups, and shapes where only some directions
    // take the direct path.
    out.add(conv(Conv2dSpec.of(3, 64, 7, 9, 64, 3).withPad(1), true));
    out.add(conv(Conv2dSpec.of(2, 64, 13, 11, 128, 3).withStride(2).withPad(1), false));
    out.add(conv(Conv2dSpec.of(2, 128, 5, 5, 64, 3).withStride(2).withPad(1), true));
    out.add(conv(Conv2dSpec.of(5, 64, 4, 4, 64, 3).withPad(1), false));
    out.add(conv(Conv2dSpec.of(2, 64, 1, 1, 64, 3).withPad(1), true));
    out.add(conv(Conv2dSpec.of(3, 64, 2, 3, 64, 3).withStride(2).withPad(1), false));
    out.add(conv(Conv2dSpec.of(3, 64, 3, 34, 64, 3).withPad(1), false));
    out.add(conv(Conv2dSpec.of(2, 128, 6, 6, 128, 3).withPad(1).withGroups(2), true));
    out.add(conv(Conv2dSpec.of(2, 32, 8, 8, 64, 3).withPad(1), false));
    out.add(conv(Conv2dSpec.of(2, 64, 9, 9, 48, 3).withStride(2).withPad(1), true));
    out.add(conv(Conv2dSpec.of(10, 128, 30, 30, 64, 3).withStride(2).withPad(1), false));
    out.add(conv(Conv2dSpec.of(1, 64, 12, 12, 128, 3).withPad(1), true)); // batch 1: bands split over units
    // The pointwise kernels (AVX2+; forward and data on planes of VL..64 positions, weight on
    // planes up to 64 and from 1024): planes of 4x4, 5x5, 8x8, 2x2 and 32x32, several planes per
    // tile and partial vectors, channels on both sides of each other (which operand the weight
    // gradient transposes), a 256-channel transposed stride (padded), row tails, groups.
    out.add(conv(Conv2dSpec.of(3, 37, 8, 8, 53, 1), true));
    out.add(conv(Conv2dSpec.of(5, 96, 5, 5, 160, 1), false));
    out.add(conv(Conv2dSpec.of(4, 160, 4, 4, 24, 1), true));
    out.add(conv(Conv2dSpec.of(6, 64, 2, 2, 17, 1), false));
    out.add(conv(Conv2dSpec.of(2, 256, 4, 4, 512, 1), false));
    out.add(conv(Conv2dSpec.of(2, 16, 32, 32, 24, 1), true));
    out.add(conv(Conv2dSpec.of(2, 40, 32, 32, 8, 1), false));
    out.add(conv(Conv2dSpec.of(3, 96, 8, 8, 96, 1).withGroups(3), true));
    out.add(conv(Conv2dSpec.of(17, 40, 2, 2, 24, 1), true)); // planes under a vector: gathered side by side
    out.add(conv(Conv2dSpec.of(70, 24, 1, 1, 40, 1), false));
    return out;
  }

  /**
   * Forward, the forward with an activation epilogue (ReLU or ReLU6, by the case), every backward
   * direction together, and data and weight gradients alone.
   */
  static Case conv(Conv2dSpec s, boolean bias) {
    Random r = new Random(s.toString().hashCode() * 31L + (bias ? 1 : 0));
    Shape x = Shape.of(s.n, s.cIn, s.h, s.w), w = Shape.of(s.cOut, s.cIn / s.groups, s.kh, s.kw);
    Shape y = Shape.of(s.n, s.cOut, s.outH(), s.outW()), b = Shape.of(s.cOut);
    Activation act = (s.toString().hashCode() & 1) == 0 ? Activation.RELU : Activation.RELU6;
    Case c = new Case("conv " + s + (bias ? " bias" : "") + " (+" + act + ")");
    c.im2col = true;
    c.scaleOf.put("y " + act, "y"); // ReLU6 caps the outputs; the sums' error is of y's size
    c.in("x", x, rand(r, x.size())).in("w", w, rand(r, w.size()));
    if (bias) c.in("bias", b, rand(r, s.cOut));
    float[] dw0 = rand(r, w.size()), db0 = rand(r, s.cOut);
    c.in("dy", y, rand(r, y.size())).out("y", y).out("y " + act, y).out("dx", x).inout("dw", w, dw0)
        .inout("dbias", b, db0).out("dx alone", x).inout("dw alone", w, dw0.clone());
    c.run = t -> {
      Ops.conv2dForward(s, t.t("x"), t.t("w"), t.t("bias"), t.t("y"));
      Ops.conv2dForward(s, t.t("x"), t.t("w"), t.t("bias"), act, t.t("y " + act));
      Ops.conv2dBackward(s, Grad.ALL, t.t("x"), t.t("w"), t.t("dy"), t.t("dx"), t.t("dw"), t.t("dbias"));
      Ops.conv2dBackward(s, Grad.INPUT, null, t.t("w"), t.t("dy"), t.t("dx alone"), null, null);
      Ops.conv2dBackward(s, Grad.WEIGHT, t.t("x"), null, t.t("dy"), null, t.t("dw alone"), null);
    };
    return c;
  }

  // ------------------------------------------------------------------ the fused depthwise-separable block

  /**
   * {@link Ops#dwpwForward} with and without the expansion, 3x3 and 5x5 at strides 1 and 2 (the
   * templates), 7x7 and stride 3 (the generic taps), padding 0 and (k-1)/2, channel multipliers,
   * odd and tiny planes, every activation, with and without biases, the residual as x itself and
   * as its own tensor; small batches and output planes under 8x8 that run stage by stage, planes
   * that take several tiles per image (the 32x32 and 40x40 ones, at batch 1 too), and planes under
   * 16x16 that go several images to a unit (the batches of 8 and more, one with a last unit of
   * one image).
   */
  static List<Case> dwpw() {
    // n, cIn, h, w, cExpand (0: none), k, stride, pad, mult, cOut, residual (0 none, 1 x, 2 its own)
    int[][] shapes = {
      {1, 3, 7, 9, 0, 3, 1, 1, 1, 5, 0}, {8, 16, 13, 11, 48, 3, 1, 1, 1, 16, 1}, {8, 16, 13, 11, 48, 3, 2, 1, 1, 24, 2},
      {3, 8, 17, 15, 0, 3, 2, 1, 2, 12, 0}, {4, 24, 32, 32, 144, 3, 1, 1, 1, 24, 1}, {2, 12, 9, 9, 36, 5, 1, 2, 1, 12, 1},
      {5, 6, 10, 7, 18, 5, 2, 2, 1, 9, 2}, {4, 5, 11, 13, 10, 3, 1, 0, 1, 7, 2}, {4, 4, 17, 16, 8, 7, 2, 3, 1, 6, 0},
      {4, 4, 25, 25, 8, 3, 3, 1, 1, 6, 0}, {1, 32, 40, 40, 192, 3, 1, 1, 1, 32, 1}, {1, 16, 16, 16, 48, 3, 1, 1, 1, 16, 1},
      {1, 16, 1, 1, 64, 3, 1, 1, 1, 16, 1}, {6, 1, 2, 3, 0, 3, 2, 1, 3, 2, 0}, {2, 32, 8, 8, 0, 3, 1, 1, 1, 64, 0},
      {2, 16, 23, 21, 48, 3, 2, 1, 1, 24, 0}, {2, 6, 19, 17, 18, 5, 2, 2, 1, 9, 2}, {11, 8, 9, 10, 24, 3, 1, 1, 1, 8, 1},
      {16, 12, 8, 8, 0, 3, 1, 1, 1, 24, 0}, {12, 8, 17, 17, 16, 3, 2, 1, 1, 8, 2}, {5, 6, 17, 15, 18, 5, 2, 2, 1, 9, 2}};
    List<Case> out = new ArrayList<>();
    for (int i = 0; i < shapes.length; i++) {
      int[] v = shapes[i];
      Activation[] acts = Activation.values();
      DwpwSpec s = DwpwSpec.of(v[0], v[1], v[2], v[3], v[5], v[6], v[9]).withPad(v[7]).withMult(v[8])
          .withActivations(acts[(i + 1) % 3], acts[(i + 2) % 3]);
      if (v[4] > 0) s = s.withExpand(v[4], acts[i % 3]);
      out.add(dwpw(s, i % 4 != 3, v[10]));
    }
    return out;
  }

  static Case dwpw(DwpwSpec s, boolean bias, int residual) {
    Random r = new Random(s.toString().hashCode() * 31L + (bias ? 1 : 0));
    Shape x = Shape.of(s.n, s.cIn, s.h, s.w), y = Shape.of(s.n, s.cOut, s.outH(), s.outW());
    Case c = new Case("dwpw " + s + (bias ? " bias" : "") + (residual == 1 ? " +x" : residual == 2 ? " +residual" : ""));
    c.in("x", x, rand(r, x.size(), 2, 0));
    if (s.expand) c.in("wExpand", Shape.of(s.cExpand, s.cIn), rand(r, s.expandWeightSize()));
    if (s.expand && bias) c.in("bExpand", Shape.of(s.cExpand), rand(r, s.cExpand));
    c.in("wDw", Shape.of(s.midChannels(), 1, s.k, s.k), rand(r, s.dwWeightSize()));
    if (bias) c.in("bDw", Shape.of(s.midChannels()), rand(r, s.midChannels()));
    c.in("wPw", Shape.of(s.cOut, s.midChannels()), rand(r, s.pwWeightSize()));
    if (bias) c.in("bPw", Shape.of(s.cOut), rand(r, s.cOut));
    if (residual == 2) c.in("residual", y, rand(r, y.size()));
    c.out("y", y);
    c.run = t -> Ops.dwpwForward(s, t.t("x"), t.t("wExpand"), t.t("bExpand"), t.t("wDw"), t.t("bDw"), t.t("wPw"),
        t.t("bPw"), residual == 1 ? t.t("x") : t.t("residual"), t.t("y"));
    return c;
  }

  // ------------------------------------------------------------------ batch norm, elementwise

  static List<Case> batchNorm() {
    List<Case> out = new ArrayList<>();
    int i = 0;
    for (int n : new int[] {1, 8})
      for (int c : new int[] {1, 3, 17, 96})
        for (int hw : new int[] {1, 49, 221}) {
          if (n * hw < 2) continue;
          out.add(batchNorm(n, c, hw, Activation.values()[i % 3], i++ % 4 != 3));
        }
    out.add(batchNorm(4, 32, 1024, Activation.RELU6, true)); // MobileNetV2's first stage
    return out;
  }

  /** Training forward (with running statistics), every backward mask, inference. */
  static Case batchNorm(int n, int c, int hw, Activation act, boolean affine) {
    Random r = new Random(n * 1000L + c * 10 + hw);
    Shape x = Shape.of(n, c, hw), ch = Shape.of(c);
    Case k = new Case("batchnorm n=" + n + " c=" + c + " hw=" + hw + " " + act + (affine ? " affine" : ""));
    k.in("x", x, rand(r, x.size(), 3, 0.5f)); // across the ReLU6 range
    if (affine) k.in("gamma", ch, rand(r, c, 2, 2)).in("beta", ch, rand(r, c));
    k.inout("runningMean", ch, rand(r, c)).inout("runningVar", ch, rand(r, c, 0.5f, 1)).in("dy", x, rand(r, x.size()))
        .out("y", x).out("saveMean", ch).out("saveInvstd", ch).out("dx", x).out("dx alone", x).out("inference", x);
    if (affine) k.inout("dgamma", ch, rand(r, c)).inout("dbeta", ch, rand(r, c));
    k.run = t -> {
      Ops.batchNormForwardTraining(n, c, hw, t.t("x"), t.t("gamma"), t.t("beta"), 1e-5f, 0.1f, t.t("runningMean"),
          t.t("runningVar"), t.t("saveMean"), t.t("saveInvstd"), act, t.t("y"));
      Ops.batchNormBackward(n, c, hw, affine ? Grad.ALL : Grad.INPUT, t.t("x"), t.t("y"), t.t("dy"), t.t("gamma"),
          t.t("saveMean"), t.t("saveInvstd"), act, t.t("dx"), t.t("dgamma"), t.t("dbeta"));
      Ops.batchNormBackward(n, c, hw, Grad.INPUT, t.t("x"), t.t("y"), t.t("dy"), t.t("gamma"), t.t("saveMean"),
          t.t("saveInvstd"), act, t.t("dx alone"), null, null);
      Ops.batchNormForwardInference(n, c, hw, t.t("x"), t.t("gamma"), t.t("beta"), t.t("runningMean"), t.t("runningVar"),
          1e-5f, act, t.t("inference"));
    };
    return k;
  }

  /** The fold of an inference batch norm into a conv's weights and bias. */
  static Case fold(int c, int perChannel) {
    Random r = new Random(c * 7919L + perChannel);
    Shape w = Shape.of(c, perChannel), ch = Shape.of(c);
    Case k = new Case("batchnorm fold c=" + c + " per channel " + perChannel);
    k.inout("w", w, rand(r, w.size())).inout("bias", ch, rand(r, c)).in("gamma", ch, rand(r, c))
        .in("beta", ch, rand(r, c)).in("mean", ch, rand(r, c)).in("var", ch, rand(r, c, 0.4f, 0.6f));
    k.run = t -> Ops.batchNormFold(c, perChannel, t.t("w"), t.t("bias"), t.t("gamma"), t.t("beta"), t.t("mean"),
        t.t("var"), 1e-5f);
    return k;
  }

  static List<Case> elementwise() {
    List<Case> out = new ArrayList<>();
    for (long count : new long[] {1, 7, 1000, 4099}) {
      Random r = new Random(count);
      Shape s = Shape.of((int) count);
      for (Activation act : Activation.values()) {
        Case k = new Case("activation " + act + " count=" + count);
        k.in("x", s, rand(r, count, 8, 0)).in("dy", s, rand(r, count)).out("y", s).out("dx", s).out("in place", s);
        k.run = t -> {
          Ops.activationForward(act, t.t("x"), t.t("y"));
          Ops.activationBackward(act, t.t("y"), t.t("dy"), t.t("dx"));
          t.t("in place").copyFrom(t.t("x"));
          Ops.activationForward(act, t.t("in place"), t.t("in place"));
        };
        out.add(k);
      }
      Case add = new Case("add count=" + count);
      add.in("a", s, rand(r, count)).in("b", s, rand(r, count)).out("y", s).out("in place", s);
      add.run = t -> {
        Ops.add(t.t("a"), t.t("b"), t.t("y"));
        t.t("in place").copyFrom(t.t("a"));
        Ops.add(t.t("in place"), t.t("b"), t.t("in place"));
      };
      out.add(add);
      Case scale = new Case("scale count=" + count);
      scale.in("x", s, rand(r, count)).out("y", s).out("sum of squares", Shape.of(1));
      scale.run = t -> {
        Ops.scale(-0.75f, t.t("x"), t.t("y"));
        t.t("sum of squares").copyFrom(new float[] {(float) Ops.sumSquares(t.t("x"))});
      };
      out.add(scale);
      for (float p : new float[] {0f, 0.2f, 0.9f}) {
        Case d = new Case("dropout p=" + p + " count=" + count);
        d.tol = 1e-6; // the mask's pattern is the same everywhere; 1/(1-p) may be rounded once or twice
        d.in("x", s, rand(r, count)).in("dy", s, rand(r, count)).out("mask", s).out("y", s).out("dx", s);
        d.run = t -> {
          Ops.dropoutForward(p, 0x5EEDL + count, t.t("x"), t.t("mask"), t.t("y"));
          Ops.dropoutBackward(t.t("mask"), t.t("dy"), t.t("dx"));
        };
        out.add(d);
      }
    }
    out.add(fold(1, 1));
    out.add(fold(12, 2 * 3 * 3));
    out.add(fold(96, 1));
    return out;
  }

  // ------------------------------------------------------------------ pooling, linear, loss

  static List<Case> pooling() {
    List<Case> out = new ArrayList<>();
    int[][] planes = {{7, 7}, {13, 17}, {1, 1}, {32, 32}};
    for (int[] hw : planes)
      for (int n : new int[] {1, 8})
        for (int c : new int[] {1, 3, 17})
          for (int[] kps : new int[][] {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}, {2, 1, 0}, {3, 3, 0}}) {
            if (hw[0] + 2 * kps[2] < kps[0] || hw[1] + 2 * kps[2] < kps[0]) continue;
            for (boolean include : new boolean[] {true, false}) {
              Pool2dSpec p = new Pool2dSpec(n, c, hw[0], hw[1], kps[0], kps[1], kps[2], include);
              Random r = new Random(p.toString().hashCode() + (include ? 1 : 0));
              Shape x = Shape.of(n, c, hw[0], hw[1]), y = Shape.of(n, c, p.outH(), p.outW());
              Case k = new Case("pool " + p + (include ? " count pad" : ""));
              k.in("x", x, rand(r, x.size())).in("dy", y, rand(r, y.size())).out("avg", y).out("avg dx", x);
              if (include) k.out("max", y).outInts("argmax", y).out("max dx", x);
              k.run = t -> {
                Ops.avgPool2dForward(p, t.t("x"), t.t("avg"));
                Ops.avgPool2dBackward(p, t.t("dy"), t.t("avg dx"));
                if (!include) return;
                Ops.maxPool2dForward(p, t.t("x"), t.t("max"), t.t("argmax"));
                Ops.maxPool2dBackward(p, t.t("dy"), t.t("argmax"), t.t("max dx"));
              };
              out.add(k);
            }
          }
    for (int hw : new int[] {1, 16, 49, 1024}) {
      Random r = new Random(hw);
      Shape x = Shape.of(8, 17, hw), y = Shape.of(8, 17);
      Case k = new Case("global avgpool hw=" + hw);
      k.in("x", x, rand(r, x.size())).in("dy", y, rand(r, y.size())).out("y", y).out("dx", x);
      k.run = t -> {
        Ops.globalAvgPoolForward(8, 17, hw, t.t("x"), t.t("y"));
        Ops.globalAvgPoolBackward(8, 17, hw, t.t("dy"), t.t("dx"));
      };
      out.add(k);
    }
    return out;
  }

  static List<Case> linearAndLoss() {
    List<Case> out = new ArrayList<>();
    for (int[] s : new int[][] {{1, 1, 1}, {8, 17, 3}, {64, 1280, 10}, {3, 96, 1000}, {5, 7, 9}}) {
      int n = s[0], in = s[1], o = s[2];
      Random r = new Random(n * 31 + in * 7 + o);
      Shape x = Shape.of(n, in), w = Shape.of(o, in), y = Shape.of(n, o), b = Shape.of(o);
      Case k = new Case("linear " + n + "x" + in + "->" + o);
      k.in("x", x, rand(r, x.size())).in("w", w, rand(r, w.size())).in("bias", b, rand(r, o)).in("dy", y, rand(r, y.size()))
          .out("y", y).out("y no bias", y).out("dx", x).inout("dw", w, rand(r, w.size())).inout("dbias", b, rand(r, o));
      k.run = t -> {
        Ops.linearForward(n, in, o, t.t("x"), t.t("w"), t.t("bias"), t.t("y"));
        Ops.linearForward(n, in, o, t.t("x"), t.t("w"), null, t.t("y no bias"));
        Ops.linearBackward(n, in, o, Grad.ALL, t.t("x"), t.t("w"), t.t("dy"), t.t("dx"), t.t("dw"), t.t("dbias"));
      };
      out.add(k);
    }
    for (int[] s : new int[][] {{1, 1}, {8, 10}, {64, 10}, {3, 1000}}) {
      int n = s[0], classes = s[1];
      Random r = new Random(n * 1009L + classes);
      int[] labels = new int[n];
      for (int i = 0; i < n; i++) labels[i] = r.nextInt(classes);
      Shape l = Shape.of(n, classes);
      for (float smooth : new float[] {0f, 0.1f}) {
        Case k = new Case("softmax xent " + n + "x" + classes + " smoothing " + smooth);
        k.in("logits", l, rand(r, l.size(), 20, 0)).ints("labels", Shape.of(n), labels) // large logits: stability
            .out("probs", l).out("loss", Shape.of(1)).out("dlogits", l).outInts("argmax", Shape.of(n));
        k.run = t -> {
          Ops.softmaxCrossEntropyForward(n, classes, t.t("logits"), t.t("labels"), smooth, t.t("probs"), t.t("loss"));
          Ops.softmaxCrossEntropyBackward(n, classes, t.t("probs"), t.t("labels"), smooth, 2.5f, t.t("dlogits"));
          Ops.argmaxRows(n, classes, t.t("logits"), t.t("argmax"));
        };
        out.add(k);
      }
    }
    return out;
  }

  /** SGD (plain, momentum, Nesterov) and Adam/AdamW steps, three in a row (float arithmetic; the reference may round differently). */
  static List<Case> optimizers() {
    List<Case> out = new ArrayList<>();
    for (long count : new long[] {1, 1000, 70001}) {
      Random r = new Random(count * 13);
      Shape s = Shape.of((int) count);
      for (int kind = 0; kind < 5; kind++) {
        int k = kind;
        String[] names = {"sgd", "sgd momentum", "sgd nesterov", "adam", "adamw"};
        Case c = new Case(names[k] + " count=" + count);
        c.tol = 1e-6;
        c.inout("p", s, rand(r, count)).in("g", s, rand(r, count)).inout("m", s, rand(r, count))
            .inout("v", s, rand(r, count, 0.5f, 0.5f));
        c.run = t -> {
          for (long step = 1; step <= 3; step++) {
            if (k < 3) Ops.sgdUpdate(t.t("p"), t.t("g"), k == 0 ? null : t.t("m"), 0.1, k == 0 ? 0 : 0.9, 0, 5e-4, k == 2, step);
            else Ops.adamUpdate(t.t("p"), t.t("g"), t.t("m"), t.t("v"), 1e-3, 0.9, 0.999, 1e-8, 1e-2, k == 4, step);
          }
        };
        out.add(c);
      }
    }
    return out;
  }

  /** Every case of the table. */
  static List<Case> all() {
    List<Case> out = new ArrayList<>();
    out.addAll(convolutions());
    out.addAll(dwpw());
    out.addAll(batchNorm());
    out.addAll(elementwise());
    out.addAll(pooling());
    out.addAll(linearAndLoss());
    out.addAll(optimizers());
    return out;
  }
}
