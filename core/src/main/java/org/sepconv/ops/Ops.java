package org.sepconv.ops;

import static org.sepconv.ops.Args.Arg.of;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.nativeapi.SepconvNative;
import org.sepconv.nativeapi.SepconvNative.Conv2dDesc;
import org.sepconv.nativeapi.SepconvNative.DwpwDesc;
import org.sepconv.nativeapi.SepconvNative.Pool2dDesc;
import org.sepconv.ops.Args.Arg;
import org.sepconv.tensor.Tensor;

/**
 * Every kernel of the engine as a static method, in two forms over the same entry points:
 *
 * <ul>
 *   <li><b>over {@link Tensor}s</b>, without an {@link Exec}: an op runs on the device its
 *       arguments live on (all on one device, or an {@link IllegalArgumentException} names the
 *       argument and both devices), with the algorithm {@link Exec#use} sets for the thread. Each
 *       tensor must hold exactly the elements the op needs. This is what the autograd, the layers
 *       and the optimizers call: they never name a device.
 *   <li><b>over direct, native-order {@link FloatBuffer}s</b> (and {@link IntBuffer}s for labels and
 *       argmax), with an {@code Exec}: the host-only façade for other JVM code (another ML stack,
 *       your own layers), with no tensors and no copies of your data. <b>A buffer's data starts
 *       at its position</b>, as in every NIO API, and it must hold at least the elements the op
 *       needs between its position and its limit; the position and limit are not changed.
 *       Buffers must be direct and in native byte order
 *       ({@code ByteBuffer.allocateDirect(4*n).order(ByteOrder.nativeOrder()).asFloatBuffer()}).
 * </ul>
 *
 * <p>Rules shared by both forms:
 * <ul>
 *   <li>Data is fp32, NCHW.
 *   <li>Outputs must be writable (a read-only buffer is refused), and an output may not overlap
 *       any other argument, except where a method says that it may be the same memory.
 *   <li>Outputs and input gradients are overwritten; weight/bias/gamma/beta gradients
 *       accumulate (+=), so zero them once per step. {@code mask} (see {@link Grad}) picks
 *       which gradients a backward computes; the arguments of the others may be null.
 *   <li>A bad argument throws {@link IllegalArgumentException} naming it, and what it expected
 *       (for a buffer: the elements needed and the elements it has); nothing is written.
 *   <li>Calls are thread-safe, and results do not depend on the thread count. CUDA ops are queued
 *       on the library's stream in call order; reading a result (a loss, {@link Tensor#get})
 *       waits for them.
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
    conv2dForward(Args.host(e), s, of(x), of(w), of(bias), Activation.NONE, of(y));
  }

  /** {@link #conv2dForward(Exec, Conv2dSpec, FloatBuffer, FloatBuffer, FloatBuffer, FloatBuffer)} on the tensors' device. */
  public static void conv2dForward(Conv2dSpec s, Tensor x, Tensor w, Tensor bias, Tensor y) {
    conv2dForward(Args.tensors(), s, of(x), of(w), of(bias), Activation.NONE, of(y));
  }

  /**
   * y = act(conv(x, w) + bias) in one pass: the activation is applied as each output tile is
   * written. With the BatchNorm folded into w and bias ({@link #batchNormFold}) this is a whole
   * conv + BN + ReLU/ReLU6 layer of an inference model. bias may be null.
   */
  public static void conv2dForward(Exec e, Conv2dSpec s, FloatBuffer x, FloatBuffer w,
      FloatBuffer bias, Activation act, FloatBuffer y) {
    conv2dForward(Args.host(e), s, of(x), of(w), of(bias), act, of(y));
  }

  /** {@link #conv2dForward(Exec, Conv2dSpec, FloatBuffer, FloatBuffer, FloatBuffer, Activation, FloatBuffer)} on the tensors' device. */
  public static void conv2dForward(Conv2dSpec s, Tensor x, Tensor w, Tensor bias, Activation act, Tensor y) {
    conv2dForward(Args.tensors(), s, of(x), of(w), of(bias), act, of(y));
  }

  private static void conv2dForward(Args a, Conv2dSpec s, Arg x, Arg w, Arg bias, Activation act, Arg y) {
    try (a; Conv2dDesc d = spec(s).toNative()) {
      int ac = act(act);
      FloatPointer px = a.in("x", x, s.inputSize()), pw = a.in("w", w, s.weightSize());
      FloatPointer pb = a.optIn("bias", bias, s.cOut), py = a.out("y", y, s.outputSize());
      a.done(family(s, true), a.start(), SepconvNative.sepconv_conv2d_forward_act(a.exec(), d, px, pw, pb, ac, py));
    }
  }

  /** dx = (overwrite), dw += , dbias += ; see {@link Grad} for mask. */
  public static void conv2dBackward(Exec e, Conv2dSpec s, int mask, FloatBuffer x,
      FloatBuffer w, FloatBuffer dy, FloatBuffer dx, FloatBuffer dw, FloatBuffer dbias) {
    conv2dBackward(Args.host(e), s, mask, of(x), of(w), of(dy), of(dx), of(dw), of(dbias));
  }

  public static void conv2dBackward(Conv2dSpec s, int mask, Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw,
      Tensor dbias) {
    conv2dBackward(Args.tensors(), s, mask, of(x), of(w), of(dy), of(dx), of(dw), of(dbias));
  }

  private static void conv2dBackward(Args a, Conv2dSpec s, int mask, Arg x, Arg w, Arg dy, Arg dx, Arg dw, Arg dbias) {
    checkMask(mask);
    boolean gi = (mask & Grad.INPUT) != 0, gw = (mask & Grad.WEIGHT) != 0, gb = (mask & Grad.BIAS) != 0;
    try (a; Conv2dDesc d = spec(s).toNative()) {
      FloatPointer px = gw ? a.in("x", x, s.inputSize()) : a.optIn("x", x, s.inputSize());
      FloatPointer pw = gi ? a.in("w", w, s.weightSize()) : a.optIn("w", w, s.weightSize());
      FloatPointer pdy = a.in("dy", dy, s.outputSize());
      FloatPointer pdx = gi ? a.out("dx", dx, s.inputSize()) : null;
      FloatPointer pdw = gw ? a.out("dw", dw, s.weightSize()) : null;
      FloatPointer pdb = gb ? a.out("dbias", dbias, s.cOut) : null;
      a.done(family(s, false), a.start(),
          SepconvNative.sepconv_conv2d_backward(a.exec(), d, mask, px, pw, pdy, pdx, pdw, pdb));
    }
  }

  // ------------------------------------------------------------------ the fused depthwise-separable block

  /**
   * MobileNet's depthwise-separable block, BatchNorms folded, in one pass per tile of output rows
   * (see {@link DwpwSpec} for the formula): the expanded and depthwise activations stay in the
   * thread's cache and never go to memory. {@code wExpand} and {@code bExpand} are given exactly
   * when the spec has an expansion ({@link DwpwSpec#withExpand}); every bias and the residual
   * (y's shape; MobileNetV2's shortcut passes x) may be null. y may not overlap any argument.
   */
  public static void dwpwForward(Exec e, DwpwSpec s, FloatBuffer x, FloatBuffer wExpand, FloatBuffer bExpand,
      FloatBuffer wDw, FloatBuffer bDw, FloatBuffer wPw, FloatBuffer bPw, FloatBuffer residual, FloatBuffer y) {
    dwpwForward(Args.host(e), s, of(x), of(wExpand), of(bExpand), of(wDw), of(bDw), of(wPw), of(bPw), of(residual),
        of(y));
  }

  /** The block over tensors, on their device (the buffer form has the rules). */
  public static void dwpwForward(DwpwSpec s, Tensor x, Tensor wExpand, Tensor bExpand, Tensor wDw, Tensor bDw,
      Tensor wPw, Tensor bPw, Tensor residual, Tensor y) {
    dwpwForward(Args.tensors(), s, of(x), of(wExpand), of(bExpand), of(wDw), of(bDw), of(wPw), of(bPw), of(residual),
        of(y));
  }

  private static void dwpwForward(Args a, DwpwSpec s, Arg x, Arg wExpand, Arg bExpand, Arg wDw, Arg bDw, Arg wPw,
      Arg bPw, Arg residual, Arg y) {
    try (a; DwpwDesc d = spec(s).toNative()) {
      if (!s.expand && (wExpand != null || bExpand != null))
        throw new IllegalArgumentException((wExpand != null ? "wExpand" : "bExpand")
            + " must be null: the spec has no expansion (DwpwSpec.withExpand adds one)");
      FloatPointer px = a.in("x", x, s.inputSize());
      FloatPointer pwe = s.expand ? a.in("wExpand", wExpand, s.expandWeightSize()) : null;
      FloatPointer pbe = s.expand ? a.optIn("bExpand", bExpand, s.cExpand) : null;
      FloatPointer pwd = a.in("wDw", wDw, s.dwWeightSize()), pbd = a.optIn("bDw", bDw, s.midChannels());
      FloatPointer pwp = a.in("wPw", wPw, s.pwWeightSize()), pbp = a.optIn("bPw", bPw, s.cOut);
      FloatPointer pr = a.optIn("residual", residual, s.outputSize()), py = a.out("y", y, s.outputSize());
      a.done("dwpw forward", a.start(), SepconvNative.sepconv_dwpw_forward(a.exec(), d, px, pwe, pbe, pwd, pbd, pwp, pbp,
          pr, py));
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
    batchNormForwardTraining(Args.host(e), n, c, hw, of(x), of(gamma), of(beta), eps, momentum, of(runningMean),
        of(runningVar), of(saveMean), of(saveInvstd), act, of(y));
  }

  public static void batchNormForwardTraining(int n, int c, int hw, Tensor x, Tensor gamma, Tensor beta, float eps,
      float momentum, Tensor runningMean, Tensor runningVar, Tensor saveMean, Tensor saveInvstd, Activation act,
      Tensor y) {
    batchNormForwardTraining(Args.tensors(), n, c, hw, of(x), of(gamma), of(beta), eps, momentum, of(runningMean),
        of(runningVar), of(saveMean), of(saveInvstd), act, of(y));
  }

  private static void batchNormForwardTraining(Args a, int n, int c, int hw, Arg x, Arg gamma, Arg beta, float eps,
      float momentum, Arg runningMean, Arg runningVar, Arg saveMean, Arg saveInvstd, Activation act, Arg y) {
    try (a) {
      int ac = act(act);
      long size = volume("n", n, "c", c, "hw", hw);
      FloatPointer px = a.in("x", x, size), pg = a.optIn("gamma", gamma, c), pb = a.optIn("beta", beta, c);
      FloatPointer prm = a.optOut("runningMean", runningMean, c), prv = a.optOut("runningVar", runningVar, c);
      FloatPointer psm = a.out("saveMean", saveMean, c), psi = a.out("saveInvstd", saveInvstd, c), py = a.out("y", y, size);
      a.done("batchnorm forward training", a.start(), SepconvNative.sepconv_batchnorm_forward_training(a.exec(), n, c, hw,
          px, pg, pb, eps, momentum, prm, prv, psm, psi, ac, py));
    }
  }

  /** Inference-mode batch norm with running statistics, optionally fused with an activation. */
  public static void batchNormForwardInference(Exec e, int n, int c, int hw, FloatBuffer x,
      FloatBuffer gamma, FloatBuffer beta, FloatBuffer runningMean, FloatBuffer runningVar,
      float eps, Activation act, FloatBuffer y) {
    batchNormForwardInference(Args.host(e), n, c, hw, of(x), of(gamma), of(beta), of(runningMean), of(runningVar), eps,
        act, of(y));
  }

  public static void batchNormForwardInference(int n, int c, int hw, Tensor x, Tensor gamma, Tensor beta,
      Tensor runningMean, Tensor runningVar, float eps, Activation act, Tensor y) {
    batchNormForwardInference(Args.tensors(), n, c, hw, of(x), of(gamma), of(beta), of(runningMean), of(runningVar), eps,
        act, of(y));
  }

  private static void batchNormForwardInference(Args a, int n, int c, int hw, Arg x, Arg gamma, Arg beta,
      Arg runningMean, Arg runningVar, float eps, Activation act, Arg y) {
    try (a) {
      int ac = act(act);
      long size = volume("n", n, "c", c, "hw", hw);
      FloatPointer px = a.in("x", x, size), pg = a.optIn("gamma", gamma, c), pb = a.optIn("beta", beta, c);
      FloatPointer prm = a.in("runningMean", runningMean, c), prv = a.in("runningVar", runningVar, c);
      FloatPointer py = a.out("y", y, size);
      a.done("batchnorm forward inference", a.start(), SepconvNative.sepconv_batchnorm_forward_inference(a.exec(), n, c,
          hw, px, pg, pb, prm, prv, eps, ac, py));
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
    batchNormBackward(Args.host(e), n, c, hw, mask, of(x), of(y), of(dy), of(gamma), of(saveMean), of(saveInvstd), act,
        of(dx), of(dgamma), of(dbeta));
  }

  public static void batchNormBackward(int n, int c, int hw, int mask, Tensor x, Tensor y, Tensor dy, Tensor gamma,
      Tensor saveMean, Tensor saveInvstd, Activation act, Tensor dx, Tensor dgamma, Tensor dbeta) {
    batchNormBackward(Args.tensors(), n, c, hw, mask, of(x), of(y), of(dy), of(gamma), of(saveMean), of(saveInvstd), act,
        of(dx), of(dgamma), of(dbeta));
  }

  private static void batchNormBackward(Args a, int n, int c, int hw, int mask, Arg x, Arg y, Arg dy, Arg gamma,
      Arg saveMean, Arg saveInvstd, Activation act, Arg dx, Arg dgamma, Arg dbeta) {
    try (a) {
      int ac = act(act);
      checkMask(mask);
      long size = volume("n", n, "c", c, "hw", hw);
      FloatPointer px = a.in("x", x, size), py = ac != 0 ? a.in("y", y, size) : a.optIn("y", y, size);
      FloatPointer pdy = a.in("dy", dy, size), pg = a.optIn("gamma", gamma, c);
      FloatPointer psm = a.in("saveMean", saveMean, c), psi = a.in("saveInvstd", saveInvstd, c);
      FloatPointer pdx = (mask & Grad.INPUT) != 0 ? a.out("dx", dx, size) : null;
      FloatPointer pdg = (mask & Grad.WEIGHT) != 0 ? a.out("dgamma", dgamma, c) : null;
      FloatPointer pdb = (mask & Grad.BIAS) != 0 ? a.out("dbeta", dbeta, c) : null;
      a.done("batchnorm backward", a.start(), SepconvNative.sepconv_batchnorm_backward(a.exec(), n, c, hw, mask,
          px, py, pdy, pg, psm, psi, ac, pdx, pdg, pdb));
    }
  }

  /**
   * Folds an inference batch norm into the conv before it: w[c][perChannel] is scaled in
   * place and bias (c floats: the conv's bias, or zeros) is overwritten with the folded bias.
   */
  public static void batchNormFold(int c, long perChannel, FloatBuffer w, FloatBuffer bias,
      FloatBuffer gamma, FloatBuffer beta, FloatBuffer mean, FloatBuffer var, float eps) {
    batchNormFold(Args.host(Exec.CPU), c, perChannel, of(w), of(bias), of(gamma), of(beta), of(mean), of(var), eps);
  }

  /** The fold on the tensors' device: w ([c][perChannel]) and bias ([c]) in place. */
  public static void batchNormFold(int c, long perChannel, Tensor w, Tensor bias, Tensor gamma, Tensor beta, Tensor mean,
      Tensor var, float eps) {
    batchNormFold(Args.tensors(), c, perChannel, of(w), of(bias), of(gamma), of(beta), of(mean), of(var), eps);
  }

  private static void batchNormFold(Args a, int c, long perChannel, Arg w, Arg bias, Arg gamma, Arg beta, Arg mean,
      Arg var, float eps) {
    try (a) {
      if (c < 1) throw new IllegalArgumentException("c must be >= 1, got " + c);
      if (perChannel < 1) throw new IllegalArgumentException("perChannel must be >= 1, got " + perChannel);
      long size = product("c*perChannel", c, perChannel);
      FloatPointer pw = a.out("w", w, size), pb = a.out("bias", bias, c);
      FloatPointer pg = a.optIn("gamma", gamma, c), pbe = a.optIn("beta", beta, c);
      FloatPointer pm = a.in("mean", mean, c), pv = a.in("var", var, c);
      a.done("batchnorm fold", a.start(), SepconvNative.sepconv_batchnorm_fold_exec(a.exec(), c, perChannel, pw, pb, pg,
          pbe, pm, pv, eps));
    }
  }

  // ------------------------------------------------------------------ elementwise

  /** y = act(x) over count floats; y may be the same buffer as x. */
  public static void activationForward(Exec e, Activation act, long count, FloatBuffer x, FloatBuffer y) {
    activationForward(Args.host(e), act, count, of(x), of(y));
  }

  /** y = act(x), elementwise; y may be x. */
  public static void activationForward(Activation act, Tensor x, Tensor y) {
    activationForward(Args.tensors(), act, size("x", x), of(x), of(y));
  }

  private static void activationForward(Args a, Activation act, long count, Arg x, Arg y) {
    try (a) {
      int ac = act(act);
      checkCount(count);
      FloatPointer px = a.in("x", x, count), py = a.out("y", y, count);
      a.maySame("y", "x");
      a.done("activation forward", a.start(), SepconvNative.sepconv_activation_forward(a.exec(), ac, count, px, py));
    }
  }

  /** dx = dy where the forward output y is in the active range, else 0; dx may be the same buffer as dy. */
  public static void activationBackward(Exec e, Activation act, long count, FloatBuffer y,
      FloatBuffer dy, FloatBuffer dx) {
    activationBackward(Args.host(e), act, count, of(y), of(dy), of(dx));
  }

  /** dx = dy where the forward output y is in the active range, else 0; dx may be dy. */
  public static void activationBackward(Activation act, Tensor y, Tensor dy, Tensor dx) {
    activationBackward(Args.tensors(), act, size("dy", dy), of(y), of(dy), of(dx));
  }

  private static void activationBackward(Args a, Activation act, long count, Arg y, Arg dy, Arg dx) {
    try (a) {
      int ac = act(act);
      checkCount(count);
      FloatPointer py = ac != 0 ? a.in("y", y, count) : a.optIn("y", y, count);
      FloatPointer pdy = a.in("dy", dy, count), pdx = a.out("dx", dx, count);
      a.maySame("dx", "dy");
      a.done("activation backward", a.start(), SepconvNative.sepconv_activation_backward(a.exec(), ac, count, py, pdy, pdx));
    }
  }

  /** y = a + b (the residual add); y may be the same buffer as a or b. Its backward is the identity. */
  public static void add(Exec e, long count, FloatBuffer a, FloatBuffer b, FloatBuffer y) {
    add(Args.host(e), count, of(a), of(b), of(y));
  }

  /** y = a + b, elementwise; y may be a or b. */
  public static void add(Tensor a, Tensor b, Tensor y) {
    add(Args.tensors(), size("a", a), of(a), of(b), of(y));
  }

  private static void add(Args g, long count, Arg a, Arg b, Arg y) {
    try (g) {
      checkCount(count);
      FloatPointer pa = g.in("a", a, count), pb = g.in("b", b, count), py = g.out("y", y, count);
      g.maySame("y", "a");
      g.maySame("y", "b");
      g.done("add", g.start(), SepconvNative.sepconv_add(g.exec(), count, pa, pb, py));
    }
  }

  /**
   * Inverted dropout over count floats: element i is kept with probability 1 - p, decided by
   * a counter-based hash of (seed, i) alone, so every device and thread count draws the same
   * mask; mask[i] = kept ? 1/(1-p) : 0 and y = x * mask. y may be the same buffer as x.
   */
  public static void dropoutForward(Exec e, long count, float p, long seed, FloatBuffer x, FloatBuffer mask,
      FloatBuffer y) {
    dropoutForward(Args.host(e), count, p, seed, of(x), of(mask), of(y));
  }

  public static void dropoutForward(float p, long seed, Tensor x, Tensor mask, Tensor y) {
    dropoutForward(Args.tensors(), size("x", x), p, seed, of(x), of(mask), of(y));
  }

  private static void dropoutForward(Args a, long count, float p, long seed, Arg x, Arg mask, Arg y) {
    try (a) {
      checkCount(count);
      FloatPointer px = a.in("x", x, count), pm = a.out("mask", mask, count), py = a.out("y", y, count);
      a.maySame("y", "x");
      a.done("dropout", a.start(), SepconvNative.sepconv_dropout_forward(a.exec(), count, p, seed, px, pm, py));
    }
  }

  /** dx = dy * mask (the forward's mask); dx may be the same buffer as dy. */
  public static void dropoutBackward(Exec e, long count, FloatBuffer mask, FloatBuffer dy, FloatBuffer dx) {
    dropoutBackward(Args.host(e), count, of(mask), of(dy), of(dx));
  }

  public static void dropoutBackward(Tensor mask, Tensor dy, Tensor dx) {
    dropoutBackward(Args.tensors(), size("dy", dy), of(mask), of(dy), of(dx));
  }

  private static void dropoutBackward(Args a, long count, Arg mask, Arg dy, Arg dx) {
    try (a) {
      checkCount(count);
      FloatPointer pm = a.in("mask", mask, count), pdy = a.in("dy", dy, count), pdx = a.out("dx", dx, count);
      a.maySame("dx", "dy");
      a.done("dropout", a.start(), SepconvNative.sepconv_dropout_backward(a.exec(), count, pm, pdy, pdx));
    }
  }

  /** y = alpha * x over count floats; y may be the same buffer as x. */
  public static void scale(Exec e, long count, float alpha, FloatBuffer x, FloatBuffer y) {
    scale(Args.host(e), count, alpha, of(x), of(y));
  }

  public static void scale(float alpha, Tensor x, Tensor y) {
    scale(Args.tensors(), size("x", x), alpha, of(x), of(y));
  }

  private static void scale(Args a, long count, float alpha, Arg x, Arg y) {
    try (a) {
      checkCount(count);
      FloatPointer px = a.in("x", x, count), py = a.out("y", y, count);
      a.maySame("y", "x");
      a.done("scale", a.start(), SepconvNative.sepconv_scale(a.exec(), count, alpha, px, py));
    }
  }

  /** The sum of x[i]^2 over count floats, accumulated in double in a fixed order. */
  public static double sumSquares(Exec e, long count, FloatBuffer x) {
    return sumSquares(Args.host(e), count, of(x));
  }

  /** The sum of the squares of x's elements, in double; the one number comes to the host (a CUDA call waits for it). */
  public static double sumSquares(Tensor x) {
    return sumSquares(Args.tensors(), size("x", x), of(x));
  }

  private static double sumSquares(Args a, long count, Arg x) {
    try (a; DoublePointer result = new DoublePointer(1)) {
      checkCount(count);
      FloatPointer px = a.in("x", x, count);
      a.done("sum of squares", a.start(), SepconvNative.sepconv_sum_squares(a.exec(), count, px, result));
      return result.get();
    }
  }

  /** idx[i] = the index of the largest of x[i][0..classes) (the lowest on ties; NaN never wins over a number). */
  public static void argmaxRows(Exec e, int n, int classes, FloatBuffer x, IntBuffer idx) {
    argmaxRows(Args.host(e), n, classes, of(x), of(idx));
  }

  /** idx (an I32 tensor of n) receives each row's argmax of x ([n][classes]), on x's device. */
  public static void argmaxRows(int n, int classes, Tensor x, Tensor idx) {
    argmaxRows(Args.tensors(), n, classes, of(x), of(idx));
  }

  private static void argmaxRows(Args a, int n, int classes, Arg x, Arg idx) {
    try (a) {
      long size = volume("n", n, "classes", classes, "one", 1);
      FloatPointer px = a.in("x", x, size);
      IntPointer pi = a.ints("idx", idx, n, true);
      a.done("argmax", a.start(), SepconvNative.sepconv_argmax_rows(a.exec(), n, classes, px, pi));
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
    sgdUpdate(Args.host(e), count, of(p), of(g), of(momentumBuffer), lr, momentum, dampening, weightDecay, nesterov, step);
  }

  public static void sgdUpdate(Tensor p, Tensor g, Tensor momentumBuffer, double lr, double momentum, double dampening,
      double weightDecay, boolean nesterov, long step) {
    sgdUpdate(Args.tensors(), size("p", p), of(p), of(g), of(momentumBuffer), lr, momentum, dampening, weightDecay,
        nesterov, step);
  }

  private static void sgdUpdate(Args a, long count, Arg p, Arg g, Arg momentumBuffer, double lr, double momentum,
      double dampening, double weightDecay, boolean nesterov, long step) {
    try (a) {
      checkCount(count);
      FloatPointer pp = a.out("p", p, count), pg = a.in("g", g, count), pm = a.optOut("momentumBuffer", momentumBuffer, count);
      a.done("optimizer update", a.start(), SepconvNative.sepconv_sgd_update(a.exec(), count, pp, pg, pm, lr, momentum,
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
    adamUpdate(Args.host(e), count, of(p), of(g), of(expAvg), of(expAvgSq), lr, beta1, beta2, eps, weightDecay, decoupled,
        step);
  }

  public static void adamUpdate(Tensor p, Tensor g, Tensor expAvg, Tensor expAvgSq, double lr, double beta1,
      double beta2, double eps, double weightDecay, boolean decoupled, long step) {
    adamUpdate(Args.tensors(), size("p", p), of(p), of(g), of(expAvg), of(expAvgSq), lr, beta1, beta2, eps, weightDecay,
        decoupled, step);
  }

  private static void adamUpdate(Args a, long count, Arg p, Arg g, Arg expAvg, Arg expAvgSq, double lr, double beta1,
      double beta2, double eps, double weightDecay, boolean decoupled, long step) {
    try (a) {
      checkCount(count);
      FloatPointer pp = a.out("p", p, count), pg = a.in("g", g, count);
      FloatPointer pm = a.out("expAvg", expAvg, count), pv = a.out("expAvgSq", expAvgSq, count);
      a.done("optimizer update", a.start(), SepconvNative.sepconv_adam_update(a.exec(), count, pp, pg, pm, pv, lr, beta1,
          beta2, eps, weightDecay, decoupled ? 1 : 0, step));
    }
  }

  // ------------------------------------------------------------------ pooling

  public static void avgPool2dForward(Exec e, Pool2dSpec p, FloatBuffer x, FloatBuffer y) {
    avgPool2dForward(Args.host(e), p, of(x), of(y));
  }

  public static void avgPool2dForward(Pool2dSpec p, Tensor x, Tensor y) {
    avgPool2dForward(Args.tensors(), p, of(x), of(y));
  }

  private static void avgPool2dForward(Args a, Pool2dSpec p, Arg x, Arg y) {
    try (a; Pool2dDesc d = spec(p).toNative()) {
      FloatPointer px = a.in("x", x, p.inputSize()), py = a.out("y", y, p.outputSize());
      a.done("avgpool2d forward", a.start(), SepconvNative.sepconv_avgpool2d_forward(a.exec(), d, px, py));
    }
  }

  public static void avgPool2dBackward(Exec e, Pool2dSpec p, FloatBuffer dy, FloatBuffer dx) {
    avgPool2dBackward(Args.host(e), p, of(dy), of(dx));
  }

  public static void avgPool2dBackward(Pool2dSpec p, Tensor dy, Tensor dx) {
    avgPool2dBackward(Args.tensors(), p, of(dy), of(dx));
  }

  private static void avgPool2dBackward(Args a, Pool2dSpec p, Arg dy, Arg dx) {
    try (a; Pool2dDesc d = spec(p).toNative()) {
      FloatPointer pdy = a.in("dy", dy, p.outputSize()), pdx = a.out("dx", dx, p.inputSize());
      a.done("avgpool2d backward", a.start(), SepconvNative.sepconv_avgpool2d_backward(a.exec(), d, pdy, pdx));
    }
  }

  /** argmax (nullable) receives, per output, the index iy*w+ix of the max in its input plane. */
  public static void maxPool2dForward(Exec e, Pool2dSpec p, FloatBuffer x, FloatBuffer y, IntBuffer argmax) {
    maxPool2dForward(Args.host(e), p, of(x), of(y), of(argmax));
  }

  /** argmax (nullable, {@link org.sepconv.tensor.DType#I32}) receives the index of each max in its plane. */
  public static void maxPool2dForward(Pool2dSpec p, Tensor x, Tensor y, Tensor argmax) {
    maxPool2dForward(Args.tensors(), p, of(x), of(y), of(argmax));
  }

  private static void maxPool2dForward(Args a, Pool2dSpec p, Arg x, Arg y, Arg argmax) {
    try (a; Pool2dDesc d = spec(p).toNative()) {
      FloatPointer px = a.in("x", x, p.inputSize()), py = a.out("y", y, p.outputSize());
      IntPointer pa = argmax == null ? null : a.ints("argmax", argmax, p.outputSize(), true);
      a.done("maxpool2d forward", a.start(), SepconvNative.sepconv_maxpool2d_forward(a.exec(), d, px, py, pa));
    }
  }

  public static void maxPool2dBackward(Exec e, Pool2dSpec p, FloatBuffer dy, IntBuffer argmax, FloatBuffer dx) {
    maxPool2dBackward(Args.host(e), p, of(dy), of(argmax), of(dx));
  }

  public static void maxPool2dBackward(Pool2dSpec p, Tensor dy, Tensor argmax, Tensor dx) {
    maxPool2dBackward(Args.tensors(), p, of(dy), of(argmax), of(dx));
  }

  private static void maxPool2dBackward(Args a, Pool2dSpec p, Arg dy, Arg argmax, Arg dx) {
    try (a; Pool2dDesc d = spec(p).toNative()) {
      FloatPointer pdy = a.in("dy", dy, p.outputSize()), pdx = a.out("dx", dx, p.inputSize());
      IntPointer pa = a.ints("argmax", argmax, p.outputSize(), false);
      a.done("maxpool2d backward", a.start(), SepconvNative.sepconv_maxpool2d_backward(a.exec(), d, pdy, pa, pdx));
    }
  }

  /** [n][c][hw] -> [n][c] */
  public static void globalAvgPoolForward(Exec e, int n, int c, int hw, FloatBuffer x, FloatBuffer y) {
    globalAvgPoolForward(Args.host(e), n, c, hw, of(x), of(y));
  }

  public static void globalAvgPoolForward(int n, int c, int hw, Tensor x, Tensor y) {
    globalAvgPoolForward(Args.tensors(), n, c, hw, of(x), of(y));
  }

  private static void globalAvgPoolForward(Args a, int n, int c, int hw, Arg x, Arg y) {
    try (a) {
      long size = volume("n", n, "c", c, "hw", hw);
      FloatPointer px = a.in("x", x, size), py = a.out("y", y, (long) n * c);
      a.done("global avgpool forward", a.start(), SepconvNative.sepconv_global_avgpool_forward(a.exec(), n, c, hw, px, py));
    }
  }

  public static void globalAvgPoolBackward(Exec e, int n, int c, int hw, FloatBuffer dy, FloatBuffer dx) {
    globalAvgPoolBackward(Args.host(e), n, c, hw, of(dy), of(dx));
  }

  public static void globalAvgPoolBackward(int n, int c, int hw, Tensor dy, Tensor dx) {
    globalAvgPoolBackward(Args.tensors(), n, c, hw, of(dy), of(dx));
  }

  private static void globalAvgPoolBackward(Args a, int n, int c, int hw, Arg dy, Arg dx) {
    try (a) {
      long size = volume("n", n, "c", c, "hw", hw);
      FloatPointer pdy = a.in("dy", dy, (long) n * c), pdx = a.out("dx", dx, size);
      a.done("global avgpool backward", a.start(), SepconvNative.sepconv_global_avgpool_backward(a.exec(), n, c, hw, pdy,
          pdx));
    }
  }

  // ------------------------------------------------------------------ linear

  /** y[n][out] = x[n][in] . w[out][in]^T + bias; bias may be null. */
  public static void linearForward(Exec e, int n, int in, int outF, FloatBuffer x, FloatBuffer w,
      FloatBuffer bias, FloatBuffer y) {
    linearForward(Args.host(e), n, in, outF, of(x), of(w), of(bias), of(y));
  }

  public static void linearForward(int n, int in, int outF, Tensor x, Tensor w, Tensor bias, Tensor y) {
    linearForward(Args.tensors(), n, in, outF, of(x), of(w), of(bias), of(y));
  }

  private static void linearForward(Args a, int n, int in, int outF, Arg x, Arg w, Arg bias, Arg y) {
    try (a) {
      volume("n", n, "inFeatures", in, "outFeatures", outF);
      FloatPointer px = a.in("x", x, (long) n * in), pw = a.in("w", w, (long) outF * in);
      FloatPointer pb = a.optIn("bias", bias, outF), py = a.out("y", y, (long) n * outF);
      a.done("linear forward", a.start(), SepconvNative.sepconv_linear_forward(a.exec(), n, in, outF, px, pw, pb, py));
    }
  }

  public static void linearBackward(Exec e, int n, int in, int outF, int mask, FloatBuffer x,
      FloatBuffer w, FloatBuffer dy, FloatBuffer dx, FloatBuffer dw, FloatBuffer dbias) {
    linearBackward(Args.host(e), n, in, outF, mask, of(x), of(w), of(dy), of(dx), of(dw), of(dbias));
  }

  public static void linearBackward(int n, int in, int outF, int mask, Tensor x, Tensor w, Tensor dy, Tensor dx,
      Tensor dw, Tensor dbias) {
    linearBackward(Args.tensors(), n, in, outF, mask, of(x), of(w), of(dy), of(dx), of(dw), of(dbias));
  }

  private static void linearBackward(Args a, int n, int in, int outF, int mask, Arg x, Arg w, Arg dy, Arg dx, Arg dw,
      Arg dbias) {
    try (a) {
      checkMask(mask);
      volume("n", n, "inFeatures", in, "outFeatures", outF);
      boolean gi = (mask & Grad.INPUT) != 0, gw = (mask & Grad.WEIGHT) != 0, gb = (mask & Grad.BIAS) != 0;
      FloatPointer px = gw ? a.in("x", x, (long) n * in) : a.optIn("x", x, (long) n * in);
      FloatPointer pw = gi ? a.in("w", w, (long) outF * in) : a.optIn("w", w, (long) outF * in);
      FloatPointer pdy = a.in("dy", dy, (long) n * outF);
      FloatPointer pdx = gi ? a.out("dx", dx, (long) n * in) : null;
      FloatPointer pdw = gw ? a.out("dw", dw, (long) outF * in) : null;
      FloatPointer pdb = gb ? a.out("dbias", dbias, outF) : null;
      a.done("linear backward", a.start(), SepconvNative.sepconv_linear_backward(a.exec(), n, in, outF, mask,
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
    try (FloatPointer loss = new FloatPointer(1)) {
      softmaxCrossEntropyForward(Args.host(e), n, classes, of(logits), of(labels), labelSmoothing, of(probs), loss, null);
      return loss.get();
    }
  }

  /**
   * As the buffer form, on the tensors' device: {@code labels} is an I32 tensor of n class
   * indices, and the mean loss is written to {@code loss}, a one-element tensor on the same
   * device (read it with {@code loss.get(0)}, which waits for the device). On CUDA an
   * out-of-range label is not caught here (it would mean reading device memory): it gives a
   * NaN loss; on the CPU it is an {@link IllegalArgumentException} naming {@code labels[i]}.
   */
  public static void softmaxCrossEntropyForward(int n, int classes, Tensor logits, Tensor labels, float labelSmoothing,
      Tensor probs, Tensor loss) {
    softmaxCrossEntropyForward(Args.tensors(), n, classes, of(logits), of(labels), labelSmoothing, of(probs), null,
        of(loss));
  }

  private static void softmaxCrossEntropyForward(Args a, int n, int classes, Arg logits, Arg labels,
      float labelSmoothing, Arg probs, FloatPointer hostLoss, Arg loss) {
    try (a) {
      long size = volume("n", n, "classes", classes, "one", 1);
      FloatPointer pl = a.in("logits", logits, size), pp = a.out("probs", probs, size);
      IntPointer pt = a.ints("labels", labels, n, false);
      FloatPointer ploss = hostLoss != null ? hostLoss : a.out("loss", loss, 1);
      a.done("softmax xent forward", a.start(), SepconvNative.sepconv_softmax_xent_forward(a.exec(), n, classes, pl, pt,
          labelSmoothing, pp, ploss));
    }
  }

  /** dlogits = dloss * (probs - q) / n (overwrite). */
  public static void softmaxCrossEntropyBackward(Exec e, int n, int classes, FloatBuffer probs,
      IntBuffer labels, float labelSmoothing, float dloss, FloatBuffer dlogits) {
    softmaxCrossEntropyBackward(Args.host(e), n, classes, of(probs), of(labels), labelSmoothing, dloss, of(dlogits));
  }

  public static void softmaxCrossEntropyBackward(int n, int classes, Tensor probs, Tensor labels, float labelSmoothing,
      float dloss, Tensor dlogits) {
    softmaxCrossEntropyBackward(Args.tensors(), n, classes, of(probs), of(labels), labelSmoothing, dloss, of(dlogits));
  }

  private static void softmaxCrossEntropyBackward(Args a, int n, int classes, Arg probs, Arg labels,
      float labelSmoothing, float dloss, Arg dlogits) {
    try (a) {
      long size = volume("n", n, "classes", classes, "one", 1);
      FloatPointer pp = a.in("probs", probs, size), pd = a.out("dlogits", dlogits, size);
      IntPointer pt = a.ints("labels", labels, n, false);
      a.done("softmax xent backward", a.start(), SepconvNative.sepconv_softmax_xent_backward(a.exec(), n, classes, pp, pt,
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

  /** The element count of an elementwise op's first tensor. */
  private static long size(String name, Tensor t) {
    if (t == null) throw new IllegalArgumentException(name + " must not be null");
    return t.size();
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
