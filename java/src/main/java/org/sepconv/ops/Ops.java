package org.sepconv.ops;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.nativeapi.SepconvNative;
import org.sepconv.nativeapi.SepconvNative.Conv2dDesc;
import org.sepconv.nativeapi.SepconvNative.Pool2dDesc;

/**
 * The functional ops API: every kernel of the engine as a static method over direct,
 * native-order {@link FloatBuffer}s. This is the surface for other JVM code (another ML
 * stack, your own layers): no tensors, no autograd, no allocation of your data.
 *
 * <p>Rules shared by every method:
 * <ul>
 *   <li>Data is fp32, NCHW. <b>A buffer's data starts at its position</b>, as in every NIO API,
 *       and it must hold at least the elements the op needs between its position and its
 *       limit; the position and limit are not changed. Buffers must be direct and in native
 *       byte order ({@code ByteBuffer.allocateDirect(4*n).order(ByteOrder.nativeOrder()).asFloatBuffer()}).
 *       The same holds for the {@link IntBuffer}s (labels, argmax).
 *   <li>Outputs must be writable (a read-only buffer is refused), and an output may not overlap
 *       any other argument, except where a method says that it may be the same buffer.
 *   <li>Outputs and input gradients are overwritten; weight/bias/gamma/beta gradients
 *       accumulate (+=), so zero them once per step. {@code mask} (see {@link Grad}) picks
 *       which gradients a backward computes; the buffers of the others may be null.
 *   <li>A bad argument throws {@link IllegalArgumentException} naming it, and what it expected
 *       (for a buffer: the elements needed and the elements it has); nothing is written.
 *   <li>Calls are thread-safe, and results do not depend on the thread count.
 * </ul>
 */
public final class Ops {
  private Ops() {}

  static {
    NativeLib.ensureLoaded();
  }

  // ------------------------------------------------------------------ convolution

  /** y[n][cOut][outH][outW] = conv(x, w) + bias. bias (cOut floats) may be null. */
  public static void conv2dForward(Exec e, Conv2dSpec s, FloatBuffer x, FloatBuffer w,
      FloatBuffer bias, FloatBuffer y) {
    int ex = code(e);
    try (Args a = new Args(); Conv2dDesc d = spec(s).toNative()) {
      FloatPointer px = a.in("x", x, s.inputSize()), pw = a.in("w", w, s.weightSize());
      FloatPointer pb = a.optIn("bias", bias, s.cOut), py = a.out("y", y, s.outputSize());
      a.done(family(s, true), a.start(), SepconvNative.sepconv_conv2d_forward(ex, d, px, pw, pb, py));
    }
  }

  /** dx = (overwrite), dw += , dbias += ; see {@link Grad} for mask. */
  public static void conv2dBackward(Exec e, Conv2dSpec s, int mask, FloatBuffer x,
      FloatBuffer w, FloatBuffer dy, FloatBuffer dx, FloatBuffer dw, FloatBuffer dbias) {
    int ex = code(e);
    checkMask(mask);
    boolean gi = (mask & Grad.INPUT) != 0, gw = (mask & Grad.WEIGHT) != 0, gb = (mask & Grad.BIAS) != 0;
    try (Args a = new Args(); Conv2dDesc d = spec(s).toNative()) {
      FloatPointer px = gw ? a.in("x", x, s.inputSize()) : a.optIn("x", x, s.inputSize());
      FloatPointer pw = gi ? a.in("w", w, s.weightSize()) : a.optIn("w", w, s.weightSize());
      FloatPointer pdy = a.in("dy", dy, s.outputSize());
      FloatPointer pdx = gi ? a.out("dx", dx, s.inputSize()) : null;
      FloatPointer pdw = gw ? a.out("dw", dw, s.weightSize()) : null;
      FloatPointer pdb = gb ? a.out("dbias", dbias, s.cOut) : null;
      a.done(family(s, false), a.start(), SepconvNative.sepconv_conv2d_backward(ex, d, mask, px, pw, pdy, pdx, pdw, pdb));
    }
  }

  // ------------------------------------------------------------------ batch norm

  /**
   * Training-mode batch norm over x[n][c][hw], optionally fused with an activation:
   * y = act(gamma * (x - mean) / sqrt(var + eps) + beta) with the batch's mean and biased
   * variance. running statistics (nullable) are updated with momentum, using the unbiased
   * variance, as in PyTorch. saveMean and saveInvstd (c floats) keep what backward needs.
   * gamma and beta (c floats) may be null for a non-affine norm.
   */
  public static void batchNormForwardTraining(Exec e, int n, int c, int hw, FloatBuffer x,
      FloatBuffer gamma, FloatBuffer beta, float eps, float momentum, FloatBuffer runningMean,
      FloatBuffer runningVar, FloatBuffer saveMean, FloatBuffer saveInvstd, Activation act,
      FloatBuffer y) {
    int ex = code(e), ac = act(act);
    long size = volume("n", n, "c", c, "hw", hw);
    try (Args a = new Args()) {
      FloatPointer px = a.in("x", x, size), pg = a.optIn("gamma", gamma, c), pb = a.optIn("beta", beta, c);
      FloatPointer prm = a.optOut("runningMean", runningMean, c), prv = a.optOut("runningVar", runningVar, c);
      FloatPointer psm = a.out("saveMean", saveMean, c), psi = a.out("saveInvstd", saveInvstd, c), py = a.out("y", y, size);
      a.done("batchnorm forward training", a.start(), SepconvNative.sepconv_batchnorm_forward_training(ex, n, c, hw,
          px, pg, pb, eps, momentum, prm, prv, psm, psi, ac, py));
    }
  }

  /** Inference-mode batch norm with running statistics, optionally fused with an activation. */
  public static void batchNormForwardInference(Exec e, int n, int c, int hw, FloatBuffer x,
      FloatBuffer gamma, FloatBuffer beta, FloatBuffer runningMean, FloatBuffer runningVar,
      float eps, Activation act, FloatBuffer y) {
    int ex = code(e), ac = act(act);
    long size = volume("n", n, "c", c, "hw", hw);
    try (Args a = new Args()) {
      FloatPointer px = a.in("x", x, size), pg = a.optIn("gamma", gamma, c), pb = a.optIn("beta", beta, c);
      FloatPointer prm = a.in("runningMean", runningMean, c), prv = a.in("runningVar", runningVar, c);
      FloatPointer py = a.out("y", y, size);
      a.done("batchnorm forward inference", a.start(), SepconvNative.sepconv_batchnorm_forward_inference(ex, n, c, hw,
          px, pg, pb, prm, prv, eps, ac, py));
    }
  }

  /**
   * Backward of (fused) training batch norm. y is the forward output, read only when act is
   * not NONE. dx is overwritten; dgamma and dbeta accumulate.
   */
  public static void batchNormBackward(Exec e, int n, int c, int hw, int mask, FloatBuffer x,
      FloatBuffer y, FloatBuffer dy, FloatBuffer gamma, FloatBuffer saveMean,
      FloatBuffer saveInvstd, Activation act, FloatBuffer dx, FloatBuffer dgamma,
      FloatBuffer dbeta) {
    int ex = code(e), ac = act(act);
    checkMask(mask);
    long size = volume("n", n, "c", c, "hw", hw);
    try (Args a = new Args()) {
      FloatPointer px = a.in("x", x, size), py = ac != 0 ? a.in("y", y, size) : a.optIn("y", y, size);
      FloatPointer pdy = a.in("dy", dy, size), pg = a.optIn("gamma", gamma, c);
      FloatPointer psm = a.in("saveMean", saveMean, c), psi = a.in("saveInvstd", saveInvstd, c);
      FloatPointer pdx = (mask & Grad.INPUT) != 0 ? a.out("dx", dx, size) : null;
      FloatPointer pdg = (mask & Grad.WEIGHT) != 0 ? a.out("dgamma", dgamma, c) : null;
      FloatPointer pdb = (mask & Grad.BIAS) != 0 ? a.out("dbeta", dbeta, c) : null;
      a.done("batchnorm backward", a.start(), SepconvNative.sepconv_batchnorm_backward(ex, n, c, hw, mask,
          px, py, pdy, pg, psm, psi, ac, pdx, pdg, pdb));
    }
  }

  /**
   * Folds an inference batch norm into the conv before it: w[c][perChannel] is scaled in
   * place and bias (c floats: the conv's bias, or zeros) is overwritten with the folded bias.
   */
  public static void batchNormFold(int c, long perChannel, FloatBuffer w, FloatBuffer bias,
      FloatBuffer gamma, FloatBuffer beta, FloatBuffer mean, FloatBuffer var, float eps) {
    if (c < 1) throw new IllegalArgumentException("c must be >= 1, got " + c);
    if (perChannel < 1) throw new IllegalArgumentException("perChannel must be >= 1, got " + perChannel);
    long size = product("c*perChannel", c, perChannel);
    try (Args a = new Args()) {
      FloatPointer pw = a.out("w", w, size), pb = a.out("bias", bias, c);
      FloatPointer pg = a.optIn("gamma", gamma, c), pbe = a.optIn("beta", beta, c);
      FloatPointer pm = a.in("mean", mean, c), pv = a.in("var", var, c);
      a.done("batchnorm fold", a.start(), SepconvNative.sepconv_batchnorm_fold(c, perChannel, pw, pb, pg, pbe, pm, pv, eps));
    }
  }

  // ------------------------------------------------------------------ elementwise

  /** y = act(x) over count floats; y may be the same buffer as x. */
  public static void activationForward(Exec e, Activation act, long count, FloatBuffer x, FloatBuffer y) {
    int ex = code(e), ac = act(act);
    checkCount(count);
    try (Args a = new Args()) {
      FloatPointer px = a.in("x", x, count), py = a.out("y", y, count);
      a.maySame("y", "x");
      a.done("activation forward", a.start(), SepconvNative.sepconv_activation_forward(ex, ac, count, px, py));
    }
  }

  /** dx = dy where the forward output y is in the active range, else 0; dx may be the same buffer as dy. */
  public static void activationBackward(Exec e, Activation act, long count, FloatBuffer y,
      FloatBuffer dy, FloatBuffer dx) {
    int ex = code(e), ac = act(act);
    checkCount(count);
    try (Args a = new Args()) {
      FloatPointer py = ac != 0 ? a.in("y", y, count) : a.optIn("y", y, count);
      FloatPointer pdy = a.in("dy", dy, count), pdx = a.out("dx", dx, count);
      a.maySame("dx", "dy");
      a.done("activation backward", a.start(), SepconvNative.sepconv_activation_backward(ex, ac, count, py, pdy, pdx));
    }
  }

  /** y = a + b (the residual add); y may be the same buffer as a or b. Its backward is the identity. */
  public static void add(Exec e, long count, FloatBuffer a, FloatBuffer b, FloatBuffer y) {
    int ex = code(e);
    checkCount(count);
    try (Args g = new Args()) {
      FloatPointer pa = g.in("a", a, count), pb = g.in("b", b, count), py = g.out("y", y, count);
      g.maySame("y", "a");
      g.maySame("y", "b");
      g.done("add", g.start(), SepconvNative.sepconv_add(ex, count, pa, pb, py));
    }
  }

  // ------------------------------------------------------------------ optimizer updates

  /**
   * One {@code torch.optim.SGD} step over {@code count} parameters, in place: d = g + λp, then
   * with momentum μ the buffer b = d on the first step ({@code step} == 1), else μb + (1−τ)d,
   * and d = b (or d + μb with Nesterov); p −= lr·d. {@code momentumBuffer} may be null when μ
   * is 0. The arithmetic is float, in torch's order, with no fused multiply-adds.
   */
  public static void sgdUpdate(Exec e, long count, FloatBuffer p, FloatBuffer g, FloatBuffer momentumBuffer,
      double lr, double momentum, double dampening, double weightDecay, boolean nesterov, long step) {
    int ex = code(e);
    checkCount(count);
    try (Args a = new Args()) {
      FloatPointer pp = a.out("p", p, count), pg = a.in("g", g, count), pm = a.optOut("momentumBuffer", momentumBuffer, count);
      a.done("optimizer update", a.start(), SepconvNative.sepconv_sgd_update(ex, count, pp, pg, pm, lr, momentum,
          dampening, weightDecay, nesterov ? 1 : 0, step));
    }
  }

  /**
   * One {@code torch.optim.Adam} step ({@code decoupled}: {@code AdamW}) over {@code count}
   * parameters, in place, updating {@code expAvg} and {@code expAvgSq}; {@code step} counts this
   * update (1 on the first). Float arithmetic in torch's order, no fused multiply-adds.
   */
  public static void adamUpdate(Exec e, long count, FloatBuffer p, FloatBuffer g, FloatBuffer expAvg,
      FloatBuffer expAvgSq, double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled,
      long step) {
    int ex = code(e);
    checkCount(count);
    try (Args a = new Args()) {
      FloatPointer pp = a.out("p", p, count), pg = a.in("g", g, count);
      FloatPointer pm = a.out("expAvg", expAvg, count), pv = a.out("expAvgSq", expAvgSq, count);
      a.done("optimizer update", a.start(), SepconvNative.sepconv_adam_update(ex, count, pp, pg, pm, pv, lr, beta1, beta2,
          eps, weightDecay, decoupled ? 1 : 0, step));
    }
  }

  // ------------------------------------------------------------------ pooling

  public static void avgPool2dForward(Exec e, Pool2dSpec p, FloatBuffer x, FloatBuffer y) {
    int ex = code(e);
    try (Args a = new Args(); Pool2dDesc d = spec(p).toNative()) {
      FloatPointer px = a.in("x", x, p.inputSize()), py = a.out("y", y, p.outputSize());
      a.done("avgpool2d forward", a.start(), SepconvNative.sepconv_avgpool2d_forward(ex, d, px, py));
    }
  }

  public static void avgPool2dBackward(Exec e, Pool2dSpec p, FloatBuffer dy, FloatBuffer dx) {
    int ex = code(e);
    try (Args a = new Args(); Pool2dDesc d = spec(p).toNative()) {
      FloatPointer pdy = a.in("dy", dy, p.outputSize()), pdx = a.out("dx", dx, p.inputSize());
      a.done("avgpool2d backward", a.start(), SepconvNative.sepconv_avgpool2d_backward(ex, d, pdy, pdx));
    }
  }

  /** argmax (nullable) receives, per output, the index iy*w+ix of the max in its input plane. */
  public static void maxPool2dForward(Exec e, Pool2dSpec p, FloatBuffer x, FloatBuffer y, IntBuffer argmax) {
    int ex = code(e);
    try (Args a = new Args(); Pool2dDesc d = spec(p).toNative()) {
      FloatPointer px = a.in("x", x, p.inputSize()), py = a.out("y", y, p.outputSize());
      IntPointer pa = argmax == null ? null : a.ints("argmax", argmax, p.outputSize(), true);
      a.done("maxpool2d forward", a.start(), SepconvNative.sepconv_maxpool2d_forward(ex, d, px, py, pa));
    }
  }

  public static void maxPool2dBackward(Exec e, Pool2dSpec p, FloatBuffer dy, IntBuffer argmax, FloatBuffer dx) {
    int ex = code(e);
    try (Args a = new Args(); Pool2dDesc d = spec(p).toNative()) {
      FloatPointer pdy = a.in("dy", dy, p.outputSize()), pdx = a.out("dx", dx, p.inputSize());
      IntPointer pa = a.ints("argmax", argmax, p.outputSize(), false);
      a.done("maxpool2d backward", a.start(), SepconvNative.sepconv_maxpool2d_backward(ex, d, pdy, pa, pdx));
    }
  }

  /** [n][c][hw] -> [n][c] */
  public static void globalAvgPoolForward(Exec e, int n, int c, int hw, FloatBuffer x, FloatBuffer y) {
    int ex = code(e);
    long size = volume("n", n, "c", c, "hw", hw);
    try (Args a = new Args()) {
      FloatPointer px = a.in("x", x, size), py = a.out("y", y, (long) n * c);
      a.done("global avgpool forward", a.start(), SepconvNative.sepconv_global_avgpool_forward(ex, n, c, hw, px, py));
    }
  }

  public static void globalAvgPoolBackward(Exec e, int n, int c, int hw, FloatBuffer dy, FloatBuffer dx) {
    int ex = code(e);
    long size = volume("n", n, "c", c, "hw", hw);
    try (Args a = new Args()) {
      FloatPointer pdy = a.in("dy", dy, (long) n * c), pdx = a.out("dx", dx, size);
      a.done("global avgpool backward", a.start(), SepconvNative.sepconv_global_avgpool_backward(ex, n, c, hw, pdy, pdx));
    }
  }

  // ------------------------------------------------------------------ linear

  /** y[n][out] = x[n][in] . w[out][in]^T + bias; bias may be null. */
  public static void linearForward(Exec e, int n, int in, int outF, FloatBuffer x, FloatBuffer w,
      FloatBuffer bias, FloatBuffer y) {
    int ex = code(e);
    volume("n", n, "inFeatures", in, "outFeatures", outF);
    try (Args a = new Args()) {
      FloatPointer px = a.in("x", x, (long) n * in), pw = a.in("w", w, (long) outF * in);
      FloatPointer pb = a.optIn("bias", bias, outF), py = a.out("y", y, (long) n * outF);
      a.done("linear forward", a.start(), SepconvNative.sepconv_linear_forward(ex, n, in, outF, px, pw, pb, py));
    }
  }

  public static void linearBackward(Exec e, int n, int in, int outF, int mask, FloatBuffer x,
      FloatBuffer w, FloatBuffer dy, FloatBuffer dx, FloatBuffer dw, FloatBuffer dbias) {
    int ex = code(e);
    checkMask(mask);
    volume("n", n, "inFeatures", in, "outFeatures", outF);
    boolean gi = (mask & Grad.INPUT) != 0, gw = (mask & Grad.WEIGHT) != 0, gb = (mask & Grad.BIAS) != 0;
    try (Args a = new Args()) {
      FloatPointer px = gw ? a.in("x", x, (long) n * in) : a.optIn("x", x, (long) n * in);
      FloatPointer pw = gi ? a.in("w", w, (long) outF * in) : a.optIn("w", w, (long) outF * in);
      FloatPointer pdy = a.in("dy", dy, (long) n * outF);
      FloatPointer pdx = gi ? a.out("dx", dx, (long) n * in) : null;
      FloatPointer pdw = gw ? a.out("dw", dw, (long) outF * in) : null;
      FloatPointer pdb = gb ? a.out("dbias", dbias, outF) : null;
      a.done("linear backward", a.start(), SepconvNative.sepconv_linear_backward(ex, n, in, outF, mask,
          px, pw, pdy, pdx, pdw, pdb));
    }
  }

  // ------------------------------------------------------------------ loss

  /**
   * Softmax cross-entropy with label smoothing s: probs[n][classes] receives the softmax,
   * and the returned value is the batch mean of -sum_k q_k log p_k, q = (1-s) onehot + s/K.
   */
  public static float softmaxCrossEntropyForward(Exec e, int n, int classes, FloatBuffer logits,
      IntBuffer labels, float labelSmoothing, FloatBuffer probs) {
    int ex = code(e);
    long size = volume("n", n, "classes", classes, "one", 1);
    try (Args a = new Args(); FloatPointer loss = new FloatPointer(1)) {
      FloatPointer pl = a.in("logits", logits, size), pp = a.out("probs", probs, size);
      IntPointer pt = a.ints("labels", labels, n, false);
      a.done("softmax xent forward", a.start(), SepconvNative.sepconv_softmax_xent_forward(ex, n, classes, pl, pt,
          labelSmoothing, pp, loss));
      return loss.get();
    }
  }

  /** dlogits = dloss * (probs - q) / n (overwrite). */
  public static void softmaxCrossEntropyBackward(Exec e, int n, int classes, FloatBuffer probs,
      IntBuffer labels, float labelSmoothing, float dloss, FloatBuffer dlogits) {
    int ex = code(e);
    long size = volume("n", n, "classes", classes, "one", 1);
    try (Args a = new Args()) {
      FloatPointer pp = a.in("probs", probs, size), pd = a.out("dlogits", dlogits, size);
      IntPointer pt = a.ints("labels", labels, n, false);
      a.done("softmax xent backward", a.start(), SepconvNative.sepconv_softmax_xent_backward(ex, n, classes, pp, pt,
          labelSmoothing, dloss, pd));
    }
  }

  // ------------------------------------------------------------------ argument checks

  /** The profiler key of a conv call: constant strings, so a call allocates nothing for it. */
  private static String family(Conv2dSpec s, boolean forward) {
    if (s.isDepthwise()) return forward ? "conv depthwise forward" : "conv depthwise backward";
    if (s.kh == 1 && s.kw == 1 && s.groups == 1) return forward ? "conv pointwise forward" : "conv pointwise backward";
    if (s.groups == 1) return forward ? "conv dense forward" : "conv dense backward";
    return forward ? "conv grouped forward" : "conv grouped backward";
  }

  private static int code(Exec e) {
    if (e == null) throw new IllegalArgumentException("exec must not be null (use Exec.CPU)");
    return e.code();
  }

  private static int act(Activation a) {
    if (a == null) throw new IllegalArgumentException("act must not be null (use Activation.NONE)");
    return a.code();
  }

  private static <T> T spec(T s) {
    if (s == null) throw new IllegalArgumentException("spec must not be null");
    return s;
  }

  private static void checkMask(int mask) {
    if (mask < 0 || mask > Grad.ALL)
      throw new IllegalArgumentException("mask must be a combination of Grad.INPUT|WEIGHT|BIAS (0..7), got " + mask);
  }

  private static void checkCount(long count) {
    if (count < 1) throw new IllegalArgumentException("count must be >= 1, got " + count);
    product("count", count, 4); // its size in bytes must fit too
  }

  /** a*b*c as an element count, each factor >= 1; an overflow is a bad argument, not an ArithmeticException. */
  private static long volume(String an, int a, String bn, int b, String cn, int c) {
    if (a < 1) throw new IllegalArgumentException(an + " must be >= 1, got " + a);
    if (b < 1) throw new IllegalArgumentException(bn + " must be >= 1, got " + b);
    if (c < 1) throw new IllegalArgumentException(cn + " must be >= 1, got " + c);
    String what = an + "*" + bn + ("one".equals(cn) ? "" : "*" + cn);
    long v = product(what, product(what, a, b), c);
    product(what, v, 4);
    return v;
  }

  private static long product(String what, long a, long b) {
    long hi = Math.multiplyHigh(a, b), lo = a * b;
    if ((hi == 0 && lo >= 0) || (hi == -1 && lo < 0)) return lo;
    throw new IllegalArgumentException(what + " = " + a + " * " + b + " elements overflows a 64-bit size");
  }
}
