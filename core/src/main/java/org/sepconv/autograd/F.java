package org.sepconv.autograd;

import java.util.List;
import java.util.function.Consumer;
import org.sepconv.ops.Activation;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.ops.Grad;
import org.sepconv.ops.Ops;
import org.sepconv.ops.Pool2dSpec;
import org.sepconv.tensor.DType;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * Differentiable ops over {@link Variable}s. Each runs one native kernel forward and records a
 * closure that runs the matching backward kernel, computing only the gradients that some
 * parent needs (the kernels' output mask). Layers compose these and write no gradient code.
 * No op names a device: outputs are allocated where the input lives, and the kernels run there.
 */
public final class F {
  private F() {}

  private static int dim(Variable v, int axis) {
    return v.value().shape().get(axis);
  }

  private static Tensor value(Variable v) {
    return v == null ? null : v.value();
  }

  /** A new tensor of the given shape on {@code like}'s device, filled by op; freed again if op throws. */
  private static Tensor output(Shape shape, Variable like, Consumer<Tensor> op) {
    return output(shape, DType.F32, like.value().device(), op);
  }

  private static Tensor output(Shape shape, DType dtype, Device device, Consumer<Tensor> op) {
    Tensor t = Tensor.empty(shape, dtype, device);
    try {
      op.accept(t);
      return t;
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
  }

  private static boolean req(Variable v) {
    return v != null && v.requiresGrad();
  }

  /** NCHW convolution; weights [cOut][cIn/groups][kh][kw]; bias may be null. */
  public static Variable conv2d(Variable x, Variable w, Variable bias, int stride, int pad, int dilation, int groups) {
    if (x.value().shape().rank() != 4) throw new IllegalArgumentException("x: expected NCHW, got " + x.value().shape());
    if (w.value().shape().rank() != 4) throw new IllegalArgumentException("w: expected [cOut][cIn/groups][kh][kw], got " + w.value().shape());
    int cIn = dim(x, 1);
    if (dim(w, 1) * groups != cIn)
      throw new IllegalArgumentException("w: expected " + cIn / Math.max(groups, 1) + " input channels per group, got " + dim(w, 1));
    Conv2dSpec s = Conv2dSpec.of(dim(x, 0), cIn, dim(x, 2), dim(x, 3), dim(w, 0), dim(w, 2)).withKernel(dim(w, 2), dim(w, 3))
        .withStride(stride).withPad(pad).withDilation(dilation).withGroups(groups);
    Tensor y = output(Shape.of(s.n, s.cOut, s.outH(), s.outW()), x, t ->
        Ops.conv2dForward(s, x.value(), w.value(), value(bias), t));
    return Variable.result("conv2d", y, out -> {
      if (req(w) || req(bias))
        Ops.conv2dBackward(s, (req(w) ? Grad.WEIGHT : 0) | (req(bias) ? Grad.BIAS : 0), x.value(), w.value(), out.grad(),
            null, req(w) ? w.gradBuffer() : null, req(bias) ? bias.gradBuffer() : null);
      if (req(x)) x.accumulate(dx -> Ops.conv2dBackward(s, Grad.INPUT, null, w.value(), out.grad(), dx, null, null));
    }, null, x, w, bias);
  }

  /**
   * Batch norm over NCHW (or [n][c]) fused with an activation. In training it normalises with
   * the batch statistics and updates the running ones; in eval it uses the running ones.
   */
  public static Variable batchNorm(Variable x, Variable gamma, Variable beta, Tensor runningMean, Tensor runningVar,
      boolean training, float momentum, float eps, Activation act) {
    int n = dim(x, 0), c = dim(x, 1);
    int hw = (int) (x.value().size() / ((long) n * c));
    if (!training && GradMode.isEnabled() && (req(x) || req(gamma) || req(beta)))
      throw new UnsupportedOperationException("backward through BatchNorm in eval mode is not supported: run inference under GradMode.noGrad()");
    if (!training) {
      Tensor y = output(x.value().shape(), x, t -> Ops.batchNormForwardInference(n, c, hw, x.value(), value(gamma),
          value(beta), runningMean, runningVar, eps, act, t));
      return Variable.result("batchnorm-eval", y, null, null, x, gamma, beta);
    }
    Device d = x.value().device();
    Tensor mean = Tensor.empty(Shape.of(c), d), invstd = Tensor.empty(Shape.of(c), d), y;
    try {
      y = output(x.value().shape(), x, t -> Ops.batchNormForwardTraining(n, c, hw, x.value(), value(gamma), value(beta),
          eps, momentum, runningMean, runningVar, mean, invstd, act, t));
    } catch (RuntimeException e) {
      mean.close();
      invstd.close();
      throw e;
    }
    return Variable.result("batchnorm", y, out -> {
      int mask = (req(x) ? Grad.INPUT : 0) | (req(gamma) ? Grad.WEIGHT : 0) | (req(beta) ? Grad.BIAS : 0);
      Tensor dg = req(gamma) ? gamma.gradBuffer() : null, db = req(beta) ? beta.gradBuffer() : null;
      Consumer<Tensor> backward = dx -> Ops.batchNormBackward(n, c, hw, mask, x.value(), out.value(), out.grad(),
          value(gamma), mean, invstd, act, dx, dg, db);
      if (req(x)) x.accumulate(backward);
      else backward.accept(null);
    }, List.of(mean, invstd), x, gamma, beta);
  }

  public static Variable relu(Variable x) {
    return activation(x, Activation.RELU);
  }

  public static Variable relu6(Variable x) {
    return activation(x, Activation.RELU6);
  }

  static Variable activation(Variable x, Activation act) {
    Tensor y = output(x.value().shape(), x, t -> Ops.activationForward(act, x.value(), t));
    return Variable.result(act.name().toLowerCase(), y, out -> x.accumulate(dx ->
        Ops.activationBackward(act, out.value(), out.grad(), dx)), null, x);
  }

  /** The residual add; both inputs must have the same shape. */
  public static Variable add(Variable a, Variable b) {
    if (!a.value().shape().equals(b.value().shape()))
      throw new IllegalArgumentException("b: expected shape " + a.value().shape() + ", got " + b.value().shape());
    Tensor y = output(a.value().shape(), a, t -> Ops.add(a.value(), b.value(), t));
    return Variable.result("add", y, out -> {
      if (req(a)) a.accumulate(d -> d.copyFrom(out.grad()));
      if (req(b)) b.accumulate(d -> d.copyFrom(out.grad()));
    }, null, a, b);
  }

  public static Variable avgPool2d(Variable x, int k, int stride, int pad, boolean countIncludePad) {
    Pool2dSpec p = new Pool2dSpec(dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3), k, stride, pad, countIncludePad);
    Tensor y = output(Shape.of(p.n, p.c, p.outH(), p.outW()), x, t -> Ops.avgPool2dForward(p, x.value(), t));
    return Variable.result("avgpool2d", y, out -> x.accumulate(dx -> Ops.avgPool2dBackward(p, out.grad(), dx)), null, x);
  }

  public static Variable maxPool2d(Variable x, int k, int stride, int pad) {
    Pool2dSpec p = new Pool2dSpec(dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3), k, stride, pad, true);
    Shape out = Shape.of(p.n, p.c, p.outH(), p.outW());
    Tensor argmax = Tensor.empty(out, DType.I32, x.value().device()), y;
    try {
      y = output(out, x, t -> Ops.maxPool2dForward(p, x.value(), t, argmax));
    } catch (RuntimeException e) {
      argmax.close();
      throw e;
    }
    return Variable.result("maxpool2d", y, o -> x.accumulate(dx -> Ops.maxPool2dBackward(p, o.grad(), argmax, dx)),
        List.of(argmax), x);
  }

  /** [n][c][h][w] -> [n][c] */
  public static Variable globalAvgPool(Variable x) {
    int n = dim(x, 0), c = dim(x, 1), hw = (int) (x.value().size() / ((long) n * c));
    Tensor y = output(Shape.of(n, c), x, t -> Ops.globalAvgPoolForward(n, c, hw, x.value(), t));
    return Variable.result("global-avgpool", y, out -> x.accumulate(dx ->
        Ops.globalAvgPoolBackward(n, c, hw, out.grad(), dx)), null, x);
  }

  /** [n][...] -> [n][rest], copying nothing forward. */
  public static Variable flatten(Variable x) {
    int n = dim(x, 0);
    Tensor y = x.value().view(n, (int) (x.value().size() / n));
    return Variable.result("flatten", y, out -> x.accumulate(d -> d.copyFrom(out.grad())), null, x);
  }

  /** y[n][out] = x[n][in] . w[out][in]^T + bias */
  public static Variable linear(Variable x, Variable w, Variable bias) {
    int n = dim(x, 0), in = dim(x, 1), outF = dim(w, 0);
    if (dim(w, 1) != in) throw new IllegalArgumentException("w: expected " + in + " input features, got " + dim(w, 1));
    Tensor y = output(Shape.of(n, outF), x, t -> Ops.linearForward(n, in, outF, x.value(), w.value(), value(bias), t));
    return Variable.result("linear", y, out -> {
      int mask = (req(w) ? Grad.WEIGHT : 0) | (req(bias) ? Grad.BIAS : 0);
      if (mask != 0)
        Ops.linearBackward(n, in, outF, mask, x.value(), w.value(), out.grad(), null, req(w) ? w.gradBuffer() : null,
            req(bias) ? bias.gradBuffer() : null);
      if (req(x)) x.accumulate(dx -> Ops.linearBackward(n, in, outF, Grad.INPUT, null, w.value(), out.grad(), dx, null, null));
    }, null, x, w, bias);
  }

  /**
   * Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p).
   * The mask is a counter-based draw keyed by {@code seed} alone, so every device draws the same
   * one, whatever the thread count.
   */
  public static Variable dropout(Variable x, float p, long seed) {
    if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("p must be in [0, 1), got " + p);
    Tensor mask = Tensor.empty(x.value().shape(), x.value().device()), y;
    try {
      y = output(x.value().shape(), x, t -> Ops.dropoutForward(p, seed, x.value(), mask, t));
    } catch (RuntimeException e) {
      mask.close();
      throw e;
    }
    return Variable.result("dropout", y, out -> x.accumulate(dx -> Ops.dropoutBackward(mask, out.grad(), dx)),
        List.of(mask), x);
  }

  /**
   * Mean softmax cross-entropy over the batch with label smoothing s (targets
   * (1-s)·onehot + s/K). {@code labels} is an I32 tensor of n class indices on the logits'
   * device. Returns a one-element result on that device.
   */
  public static Variable crossEntropy(Variable logits, Tensor labels, float smoothing) {
    int n = dim(logits, 0), k = dim(logits, 1);
    if (labels == null || labels.size() != n)
      throw new IllegalArgumentException("labels: expected " + n + " labels, got " + (labels == null ? "null" : labels.shape()));
    Device d = logits.value().device();
    Tensor probs = Tensor.empty(logits.value().shape(), d), y;
    try {
      y = output(Shape.of(1), DType.F32, d, t -> Ops.softmaxCrossEntropyForward(n, k, logits.value(), labels, smoothing,
          probs, t));
    } catch (RuntimeException e) {
      probs.close();
      throw e;
    }
    return Variable.result("cross-entropy", y, out -> logits.accumulate(g ->
        // the loss's gradient is one number, and the kernel takes it as a scalar: it comes to the host
        Ops.softmaxCrossEntropyBackward(n, k, probs, labels, smoothing, out.grad().get(0), g)), List.of(probs), logits);
  }

  /** As {@link #crossEntropy(Variable, Tensor, float)}, with host labels that are copied to the logits' device. */
  public static Variable crossEntropy(Variable logits, int[] labels, float smoothing) {
    int n = dim(logits, 0);
    if (labels == null || labels.length != n)
      throw new IllegalArgumentException("labels: expected " + n + " labels, got " + (labels == null ? "null" : labels.length));
    Tensor lab = Tensor.ofInts(labels, Shape.of(n), logits.value().device());
    try {
      Variable loss = crossEntropy(logits, lab, smoothing);
      loss.keep(lab);
      return loss;
    } catch (RuntimeException e) {
      lab.close();
      throw e;
    }
  }
}
