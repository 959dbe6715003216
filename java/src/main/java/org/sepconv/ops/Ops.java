package org.sepconv.ops;

import java.nio.Buffer;
import java.nio.ByteOrder;
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
 *   <li>Data is fp32, NCHW, read from each buffer's position; a buffer needs at least the
 *       stated number of floats remaining. Buffers must be direct and in native byte order
 *       ({@code ByteBuffer.allocateDirect(4*n).order(ByteOrder.nativeOrder()).asFloatBuffer()}).
 *   <li>Outputs and input gradients are overwritten; weight/bias/gamma/beta gradients
 *       accumulate (+=), so zero them once per step. {@code mask} (see {@link Grad}) picks
 *       which gradients a backward computes; the buffers of the others may be null.
 *   <li>A bad argument throws {@link IllegalArgumentException} naming it; nothing is written.
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
    FloatPointer px = in("x", x, s.inputSize()), pw = in("w", w, s.weightSize());
    FloatPointer pb = opt("bias", bias, s.cOut), py = out("y", y, s.outputSize());
    try (Conv2dDesc d = s.toNative()) {
      done(family(s, true), Profiler.start(), SepconvNative.sepconv_conv2d_forward(code(e), d, px, pw, pb, py));
    }
  }

  /** dx = (overwrite), dw += , dbias += ; see {@link Grad} for mask. */
  public static void conv2dBackward(Exec e, Conv2dSpec s, int mask, FloatBuffer x,
      FloatBuffer w, FloatBuffer dy, FloatBuffer dx, FloatBuffer dw, FloatBuffer dbias) {
    checkMask(mask);
    boolean gi = (mask & Grad.INPUT) != 0, gw = (mask & Grad.WEIGHT) != 0, gb = (mask & Grad.BIAS) != 0;
    FloatPointer px = gw ? in("x", x, s.inputSize()) : opt("x", x, s.inputSize());
    FloatPointer pw = gi ? in("w", w, s.weightSize()) : opt("w", w, s.weightSize());
    FloatPointer pdy = in("dy", dy, s.outputSize());
    FloatPointer pdx = gi ? out("dx", dx, s.inputSize()) : null;
    FloatPointer pdw = gw ? out("dw", dw, s.weightSize()) : null;
    FloatPointer pdb = gb ? out("dbias", dbias, s.cOut) : null;
    try (Conv2dDesc d = s.toNative()) {
      done(family(s, false), Profiler.start(), SepconvNative.sepconv_conv2d_backward(code(e), d, mask, px, pw, pdy, pdx, pdw, pdb));
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
    long size = volume("n", n, "c", c, "hw", hw);
    done("batchnorm forward training", Profiler.start(), SepconvNative.sepconv_batchnorm_forward_training(code(e), n, c, hw,
        in("x", x, size), opt("gamma", gamma, c), opt("beta", beta, c), eps, momentum,
        optOut("runningMean", runningMean, c), optOut("runningVar", runningVar, c),
        out("saveMean", saveMean, c), out("saveInvstd", saveInvstd, c), act(act), out("y", y, size)));
  }

  /** Inference-mode batch norm with running statistics, optionally fused with an activation. */
  public static void batchNormForwardInference(Exec e, int n, int c, int hw, FloatBuffer x,
      FloatBuffer gamma, FloatBuffer beta, FloatBuffer runningMean, FloatBuffer runningVar,
      float eps, Activation act, FloatBuffer y) {
    long size = volume("n", n, "c", c, "hw", hw);
    done("batchnorm forward inference", Profiler.start(), SepconvNative.sepconv_batchnorm_forward_inference(code(e), n, c, hw,
        in("x", x, size), opt("gamma", gamma, c), opt("beta", beta, c),
        in("runningMean", runningMean, c), in("runningVar", runningVar, c), eps, act(act),
        out("y", y, size)));
  }

  /**
   * Backward of (fused) training batch norm. y is the forward output, read only when act is
   * not NONE. dx is overwritten; dgamma and dbeta accumulate.
   */
  public static void batchNormBackward(Exec e, int n, int c, int hw, int mask, FloatBuffer x,
      FloatBuffer y, FloatBuffer dy, FloatBuffer gamma, FloatBuffer saveMean,
      FloatBuffer saveInvstd, Activation act, FloatBuffer dx, FloatBuffer dgamma,
      FloatBuffer dbeta) {
    checkMask(mask);
    long size = volume("n", n, "c", c, "hw", hw);
    FloatPointer py = act(act) != 0 ? in("y", y, size) : opt("y", y, size);
    done("batchnorm backward", Profiler.start(), SepconvNative.sepconv_batchnorm_backward(code(e), n, c, hw, mask,
        in("x", x, size), py, in("dy", dy, size), opt("gamma", gamma, c),
        in("saveMean", saveMean, c), in("saveInvstd", saveInvstd, c), act(act),
        (mask & Grad.INPUT) != 0 ? out("dx", dx, size) : null,
        (mask & Grad.WEIGHT) != 0 ? out("dgamma", dgamma, c) : null,
        (mask & Grad.BIAS) != 0 ? out("dbeta", dbeta, c) : null));
  }

  /**
   * Folds an inference batch norm into the conv before it: w[c][perChannel] is scaled in
   * place and bias (c floats: the conv's bias, or zeros) is overwritten with the folded bias.
   */
  public static void batchNormFold(int c, long perChannel, FloatBuffer w, FloatBuffer bias,
      FloatBuffer gamma, FloatBuffer beta, FloatBuffer mean, FloatBuffer var, float eps) {
    if (c < 1) throw new IllegalArgumentException("c must be >= 1, got " + c);
    if (perChannel < 1) throw new IllegalArgumentException("perChannel must be >= 1, got " + perChannel);
    done("batchnorm fold", Profiler.start(), SepconvNative.sepconv_batchnorm_fold(c, perChannel,
        out("w", w, Math.multiplyExact(c, perChannel)), out("bias", bias, c), opt("gamma", gamma, c),
        opt("beta", beta, c), in("mean", mean, c), in("var", var, c), eps));
  }

  // ------------------------------------------------------------------ elementwise

  /** y = act(x) over count floats; y may be x. */
  public static void activationForward(Exec e, Activation act, long count, FloatBuffer x, FloatBuffer y) {
    checkCount(count);
    done("activation forward", Profiler.start(), SepconvNative.sepconv_activation_forward(code(e), act(act), count,
        in("x", x, count), out("y", y, count)));
  }

  /** dx = dy where the forward output y is in the active range, else 0; dx may be dy. */
  public static void activationBackward(Exec e, Activation act, long count, FloatBuffer y,
      FloatBuffer dy, FloatBuffer dx) {
    checkCount(count);
    done("activation backward", Profiler.start(), SepconvNative.sepconv_activation_backward(code(e), act(act), count,
        in("y", y, count), in("dy", dy, count), out("dx", dx, count)));
  }

  /** y = a + b (the residual add); y may be a or b. Its backward is the identity. */
  public static void add(Exec e, long count, FloatBuffer a, FloatBuffer b, FloatBuffer y) {
    checkCount(count);
    done("add", Profiler.start(), SepconvNative.sepconv_add(code(e), count, in("a", a, count), in("b", b, count),
        out("y", y, count)));
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
    checkCount(count);
    done("optimizer update", Profiler.start(), SepconvNative.sepconv_sgd_update(code(e), count, out("p", p, count),
        in("g", g, count), optOut("momentumBuffer", momentumBuffer, count), lr, momentum, dampening, weightDecay,
        nesterov ? 1 : 0, step));
  }

  /**
   * One {@code torch.optim.Adam} step ({@code decoupled}: {@code AdamW}) over {@code count}
   * parameters, in place, updating {@code expAvg} and {@code expAvgSq}; {@code step} counts this
   * update (1 on the first). Float arithmetic in torch's order, no fused multiply-adds.
   */
  public static void adamUpdate(Exec e, long count, FloatBuffer p, FloatBuffer g, FloatBuffer expAvg,
      FloatBuffer expAvgSq, double lr, double beta1, double beta2, double eps, double weightDecay, boolean decoupled,
      long step) {
    checkCount(count);
    done("optimizer update", Profiler.start(), SepconvNative.sepconv_adam_update(code(e), count, out("p", p, count),
        in("g", g, count), out("expAvg", expAvg, count), out("expAvgSq", expAvgSq, count), lr, beta1, beta2, eps,
        weightDecay, decoupled ? 1 : 0, step));
  }

  // ------------------------------------------------------------------ pooling

  public static void avgPool2dForward(Exec e, Pool2dSpec p, FloatBuffer x, FloatBuffer y) {
    FloatPointer px = in("x", x, p.inputSize()), py = out("y", y, p.outputSize());
    try (Pool2dDesc d = p.toNative()) {
      done("avgpool2d forward", Profiler.start(), SepconvNative.sepconv_avgpool2d_forward(code(e), d, px, py));
    }
  }

  public static void avgPool2dBackward(Exec e, Pool2dSpec p, FloatBuffer dy, FloatBuffer dx) {
    FloatPointer pdy = in("dy", dy, p.outputSize()), pdx = out("dx", dx, p.inputSize());
    try (Pool2dDesc d = p.toNative()) {
      done("avgpool2d backward", Profiler.start(), SepconvNative.sepconv_avgpool2d_backward(code(e), d, pdy, pdx));
    }
  }

  /** argmax (nullable) receives, per output, the index iy*w+ix of the max in its input plane. */
  public static void maxPool2dForward(Exec e, Pool2dSpec p, FloatBuffer x, FloatBuffer y, IntBuffer argmax) {
    FloatPointer px = in("x", x, p.inputSize()), py = out("y", y, p.outputSize());
    IntPointer pa = argmax == null ? null : ints("argmax", argmax, p.outputSize(), true);
    try (Pool2dDesc d = p.toNative()) {
      done("maxpool2d forward", Profiler.start(), SepconvNative.sepconv_maxpool2d_forward(code(e), d, px, py, pa));
    }
  }

  public static void maxPool2dBackward(Exec e, Pool2dSpec p, FloatBuffer dy, IntBuffer argmax, FloatBuffer dx) {
    FloatPointer pdy = in("dy", dy, p.outputSize()), pdx = out("dx", dx, p.inputSize());
    IntPointer pa = ints("argmax", argmax, p.outputSize(), false);
    try (Pool2dDesc d = p.toNative()) {
      done("maxpool2d backward", Profiler.start(), SepconvNative.sepconv_maxpool2d_backward(code(e), d, pdy, pa, pdx));
    }
  }

  /** [n][c][hw] -> [n][c] */
  public static void globalAvgPoolForward(Exec e, int n, int c, int hw, FloatBuffer x, FloatBuffer y) {
    long size = volume("n", n, "c", c, "hw", hw);
    done("global avgpool forward", Profiler.start(), SepconvNative.sepconv_global_avgpool_forward(code(e), n, c, hw,
        in("x", x, size), out("y", y, (long) n * c)));
  }

  public static void globalAvgPoolBackward(Exec e, int n, int c, int hw, FloatBuffer dy, FloatBuffer dx) {
    long size = volume("n", n, "c", c, "hw", hw);
    done("global avgpool backward", Profiler.start(), SepconvNative.sepconv_global_avgpool_backward(code(e), n, c, hw,
        in("dy", dy, (long) n * c), out("dx", dx, size)));
  }

  // ------------------------------------------------------------------ linear

  /** y[n][out] = x[n][in] . w[out][in]^T + bias; bias may be null. */
  public static void linearForward(Exec e, int n, int in, int outF, FloatBuffer x, FloatBuffer w,
      FloatBuffer bias, FloatBuffer y) {
    volume("n", n, "inFeatures", in, "outFeatures", outF);
    done("linear forward", Profiler.start(), SepconvNative.sepconv_linear_forward(code(e), n, in, outF,
        in("x", x, (long) n * in), in("w", w, (long) outF * in), opt("bias", bias, outF),
        out("y", y, (long) n * outF)));
  }

  public static void linearBackward(Exec e, int n, int in, int outF, int mask, FloatBuffer x,
      FloatBuffer w, FloatBuffer dy, FloatBuffer dx, FloatBuffer dw, FloatBuffer dbias) {
    checkMask(mask);
    volume("n", n, "inFeatures", in, "outFeatures", outF);
    boolean gi = (mask & Grad.INPUT) != 0, gw = (mask & Grad.WEIGHT) != 0, gb = (mask & Grad.BIAS) != 0;
    done("linear backward", Profiler.start(), SepconvNative.sepconv_linear_backward(code(e), n, in, outF, mask,
        gw ? in("x", x, (long) n * in) : opt("x", x, (long) n * in),
        gi ? in("w", w, (long) outF * in) : opt("w", w, (long) outF * in),
        in("dy", dy, (long) n * outF),
        gi ? out("dx", dx, (long) n * in) : null,
        gw ? out("dw", dw, (long) outF * in) : null,
        gb ? out("dbias", dbias, outF) : null));
  }

  // ------------------------------------------------------------------ loss

  /**
   * Softmax cross-entropy with label smoothing s: probs[n][classes] receives the softmax,
   * and the returned value is the batch mean of -sum_k q_k log p_k, q = (1-s) onehot + s/K.
   */
  public static float softmaxCrossEntropyForward(Exec e, int n, int classes, FloatBuffer logits,
      IntBuffer labels, float labelSmoothing, FloatBuffer probs) {
    long size = volume("n", n, "classes", classes, "one", 1);
    try (FloatPointer loss = new FloatPointer(1)) {
      done("softmax xent forward", Profiler.start(), SepconvNative.sepconv_softmax_xent_forward(code(e), n, classes,
          in("logits", logits, size), ints("labels", labels, n, false), labelSmoothing,
          out("probs", probs, size), loss));
      return loss.get();
    }
  }

  /** dlogits = dloss * (probs - q) / n (overwrite). */
  public static void softmaxCrossEntropyBackward(Exec e, int n, int classes, FloatBuffer probs,
      IntBuffer labels, float labelSmoothing, float dloss, FloatBuffer dlogits) {
    long size = volume("n", n, "classes", classes, "one", 1);
    done("softmax xent backward", Profiler.start(), SepconvNative.sepconv_softmax_xent_backward(code(e), n, classes,
        in("probs", probs, size), ints("labels", labels, n, false), labelSmoothing, dloss,
        out("dlogits", dlogits, size)));
  }

  // ------------------------------------------------------------------ argument checks

  /** Records the call's time (t0 is taken before the native call's arguments are evaluated). */
  private static void done(String op, long t0, int status) {
    Profiler.stop(op, t0);
    NativeLib.check(status);
  }

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

  private static void checkMask(int mask) {
    if (mask < 0 || mask > Grad.ALL)
      throw new IllegalArgumentException("mask must be a combination of Grad.INPUT|WEIGHT|BIAS (0..7), got " + mask);
  }

  private static void checkCount(long count) {
    if (count < 1) throw new IllegalArgumentException("count must be >= 1, got " + count);
  }

  private static long volume(String an, int a, String bn, int b, String cn, int c) {
    if (a < 1) throw new IllegalArgumentException(an + " must be >= 1, got " + a);
    if (b < 1) throw new IllegalArgumentException(bn + " must be >= 1, got " + b);
    if (c < 1) throw new IllegalArgumentException(cn + " must be >= 1, got " + c);
    return Math.multiplyExact(Math.multiplyExact((long) a, b), c);
  }

  private static void checkBuffer(String name, Buffer b, long need, boolean writable) {
    if (b == null) throw new IllegalArgumentException(name + " must not be null");
    if (!b.isDirect())
      throw new IllegalArgumentException(name + " must be a direct buffer (ByteBuffer.allocateDirect)");
    ByteOrder order = b instanceof FloatBuffer f ? f.order() : ((IntBuffer) b).order();
    if (order != ByteOrder.nativeOrder())
      throw new IllegalArgumentException(name + " must be in native byte order (" + ByteOrder.nativeOrder() + ")");
    if (b.remaining() < need)
      throw new IllegalArgumentException(name + " must have at least " + need + " elements remaining, has " + b.remaining());
    if (writable && b.isReadOnly()) throw new IllegalArgumentException(name + " must be writable, got a read-only buffer");
  }

  private static FloatPointer in(String name, FloatBuffer b, long need) {
    checkBuffer(name, b, need, false);
    return new FloatPointer(b);
  }

  private static FloatPointer out(String name, FloatBuffer b, long need) {
    checkBuffer(name, b, need, true);
    return new FloatPointer(b);
  }

  private static FloatPointer opt(String name, FloatBuffer b, long need) {
    return b == null ? null : in(name, b, need);
  }

  private static FloatPointer optOut(String name, FloatBuffer b, long need) {
    return b == null ? null : out(name, b, need);
  }

  private static IntPointer ints(String name, IntBuffer b, long need, boolean writable) {
    checkBuffer(name, b, need, writable);
    return new IntPointer(b);
  }
}
