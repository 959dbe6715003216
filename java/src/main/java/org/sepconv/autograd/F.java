package org.sepconv.autograd;

import java.nio.IntBuffer;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.bytedeco.javacpp.IntPointer;
import org.sepconv.ops.Activation;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.ops.Exec;
import org.sepconv.ops.Grad;
import org.sepconv.ops.Ops;
import org.sepconv.ops.Pool2dSpec;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * Differentiable ops over {@link Variable}s. Each runs one native kernel forward and records a
 * closure that runs the matching backward kernel, computing only the gradients that some
 * parent needs (the kernels' output mask). Layers compose these and write no gradient code.
 */
public final class F {
  private F() {}

  private static int dim(Variable v, int axis) {
    return v.value().shape().get(axis);
  }

  /** A new tensor of the given shape filled by op; freed again if op throws. */
  private static Tensor output(Shape shape, Consumer<Tensor> op) {
    Tensor t = Tensor.empty(shape);
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
    Tensor y = output(Shape.of(s.n, s.cOut, s.outH(), s.outW()), t ->
        Ops.conv2dForward(Exec.CPU, s, x.value().buffer(), w.value().buffer(), bias == null ? null : bias.value().buffer(), t.buffer()));
    return Variable.result("conv2d", y, out -> {
      if (req(w) || req(bias))
        Ops.conv2dBackward(Exec.CPU, s, (req(w) ? Grad.WEIGHT : 0) | (req(bias) ? Grad.BIAS : 0), x.value().buffer(),
            w.value().buffer(), out.grad().buffer(), null, req(w) ? w.gradBuffer().buffer() : null,
            req(bias) ? bias.gradBuffer().buffer() : null);
      if (req(x))
        x.accumulate(dx -> Ops.conv2dBackward(Exec.CPU, s, Grad.INPUT, null, w.value().buffer(), out.grad().buffer(), dx.buffer(), null, null));
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
    var g = gamma == null ? null : gamma.value().buffer();
    var b = beta == null ? null : beta.value().buffer();
    if (!training) {
      Tensor y = output(x.value().shape(), t -> Ops.batchNormForwardInference(Exec.CPU, n, c, hw, x.value().buffer(), g, b,
          runningMean.buffer(), runningVar.buffer(), eps, act, t.buffer()));
      return Variable.result("batchnorm-eval", y, null, null, x, gamma, beta);
    }
    Tensor mean = Tensor.empty(Shape.of(c)), invstd = Tensor.empty(Shape.of(c)), y;
    try {
      y = output(x.value().shape(), t -> Ops.batchNormForwardTraining(Exec.CPU, n, c, hw, x.value().buffer(), g, b, eps, momentum,
          runningMean == null ? null : runningMean.buffer(), runningVar == null ? null : runningVar.buffer(),
          mean.buffer(), invstd.buffer(), act, t.buffer()));
    } catch (RuntimeException e) {
      mean.close();
      invstd.close();
      throw e;
    }
    return Variable.result("batchnorm", y, out -> {
      int mask = (req(x) ? Grad.INPUT : 0) | (req(gamma) ? Grad.WEIGHT : 0) | (req(beta) ? Grad.BIAS : 0);
      var dg = req(gamma) ? gamma.gradBuffer().buffer() : null;
      var db = req(beta) ? beta.gradBuffer().buffer() : null;
      Consumer<Tensor> backward = dx -> Ops.batchNormBackward(Exec.CPU, n, c, hw, mask, x.value().buffer(), out.value().buffer(),
          out.grad().buffer(), gamma == null ? null : gamma.value().buffer(), mean.buffer(), invstd.buffer(), act,
          dx == null ? null : dx.buffer(), dg, db);
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
    Tensor y = output(x.value().shape(), t ->
        Ops.activationForward(Exec.CPU, act, t.size(), x.value().buffer(), t.buffer()));
    return Variable.result(act.name().toLowerCase(), y, out -> x.accumulate(dx ->
        Ops.activationBackward(Exec.CPU, act, dx.size(), out.value().buffer(), out.grad().buffer(), dx.buffer())), null, x);
  }

  /** The residual add; both inputs must have the same shape. */
  public static Variable add(Variable a, Variable b) {
    if (!a.value().shape().equals(b.value().shape()))
      throw new IllegalArgumentException("b: expected shape " + a.value().shape() + ", got " + b.value().shape());
    Tensor y = output(a.value().shape(), t ->
        Ops.add(Exec.CPU, t.size(), a.value().buffer(), b.value().buffer(), t.buffer()));
    return Variable.result("add", y, out -> {
      if (req(a)) a.accumulate(d -> d.copyFrom(out.grad()));
      if (req(b)) b.accumulate(d -> d.copyFrom(out.grad()));
    }, null, a, b);
  }

  public static Variable avgPool2d(Variable x, int k, int stride, int pad, boolean countIncludePad) {
    Pool2dSpec p = new Pool2dSpec(dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3), k, stride, pad, countIncludePad);
    Tensor y = output(Shape.of(p.n, p.c, p.outH(), p.outW()), t ->
        Ops.avgPool2dForward(Exec.CPU, p, x.value().buffer(), t.buffer()));
    return Variable.result("avgpool2d", y, out -> x.accumulate(dx -> Ops.avgPool2dBackward(Exec.CPU, p, out.grad().buffer(), dx.buffer())), null, x);
  }

  public static Variable maxPool2d(Variable x, int k, int stride, int pad) {
    Pool2dSpec p = new Pool2dSpec(dim(x, 0), dim(x, 1), dim(x, 2), dim(x, 3), k, stride, pad, true);
    IntPointer argmax = new IntPointer(Math.max(1, p.outputSize()));
    IntBuffer arg = argmax.limit(p.outputSize()).asBuffer();
    Tensor y;
    try {
      y = output(Shape.of(p.n, p.c, p.outH(), p.outW()), t -> Ops.maxPool2dForward(Exec.CPU, p, x.value().buffer(), t.buffer(), arg));
    } catch (RuntimeException e) {
      argmax.deallocate();
      throw e;
    }
    return Variable.result("maxpool2d", y, out -> x.accumulate(dx -> Ops.maxPool2dBackward(Exec.CPU, p, out.grad().buffer(), arg, dx.buffer())),
        List.<AutoCloseable>of(argmax::deallocate), x);
  }

  /** [n][c][h][w] -> [n][c] */
  public static Variable globalAvgPool(Variable x) {
    int n = dim(x, 0), c = dim(x, 1), hw = (int) (x.value().size() / ((long) n * c));
    Tensor y = output(Shape.of(n, c), t ->
        Ops.globalAvgPoolForward(Exec.CPU, n, c, hw, x.value().buffer(), t.buffer()));
    return Variable.result("global-avgpool", y, out -> x.accumulate(dx -> Ops.globalAvgPoolBackward(Exec.CPU, n, c, hw, out.grad().buffer(), dx.buffer())), null, x);
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
    Tensor y = output(Shape.of(n, outF), t ->
        Ops.linearForward(Exec.CPU, n, in, outF, x.value().buffer(), w.value().buffer(), bias == null ? null : bias.value().buffer(), t.buffer()));
    return Variable.result("linear", y, out -> {
      int mask = (req(w) ? Grad.WEIGHT : 0) | (req(bias) ? Grad.BIAS : 0);
      var dw = req(w) ? w.gradBuffer().buffer() : null;
      var db = req(bias) ? bias.gradBuffer().buffer() : null;
      if (mask != 0)
        Ops.linearBackward(Exec.CPU, n, in, outF, mask, x.value().buffer(), w.value().buffer(), out.grad().buffer(), null, dw, db);
      if (req(x))
        x.accumulate(dx -> Ops.linearBackward(Exec.CPU, n, in, outF, Grad.INPUT, null, w.value().buffer(), out.grad().buffer(), dx.buffer(), null, null));
    }, null, x, w, bias);
  }

  /** Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p). */
  public static Variable dropout(Variable x, float p, Random rng) {
    if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("p must be in [0, 1), got " + p);
    Tensor mask = Tensor.empty(x.value().shape()), y = Tensor.empty(x.value().shape());
    var m = mask.buffer();
    var xb = x.value().buffer();
    var yb = y.buffer();
    float scale = 1 / (1 - p);
    for (int i = 0; i < m.capacity(); i++) {
      float k = rng.nextFloat() < p ? 0f : scale;
      m.put(i, k);
      yb.put(i, xb.get(i) * k);
    }
    return Variable.result("dropout", y, out -> x.accumulate(dx -> {
      var d = dx.buffer();
      var g = out.grad().buffer();
      var mm = mask.buffer();
      for (int i = 0; i < d.capacity(); i++) d.put(i, g.get(i) * mm.get(i));
    }), List.of(mask), x);
  }

  /**
   * Mean softmax cross-entropy over the batch with label smoothing s (targets
   * (1-s)·onehot + s/K). Returns a one-element result.
   */
  public static Variable crossEntropy(Variable logits, int[] labels, float smoothing) {
    int n = dim(logits, 0), k = dim(logits, 1);
    if (labels == null || labels.length != n)
      throw new IllegalArgumentException("labels: expected " + n + " labels, got " + (labels == null ? "null" : labels.length));
    IntPointer lab = new IntPointer(labels);
    IntBuffer lb = lab.limit(n).asBuffer();
    Tensor probs = Tensor.empty(logits.value().shape());
    float loss;
    try {
      loss = Ops.softmaxCrossEntropyForward(Exec.CPU, n, k, logits.value().buffer(), lb, smoothing, probs.buffer());
    } catch (RuntimeException e) {
      lab.deallocate();
      probs.close();
      throw e;
    }
    Tensor y = Tensor.of(new float[] {loss}, 1);
    return Variable.result("cross-entropy", y, out -> logits.accumulate(d ->
        Ops.softmaxCrossEntropyBackward(Exec.CPU, n, k, probs.buffer(), lb, smoothing, out.grad().get(0), d.buffer())),
        List.<AutoCloseable>of(probs, lab::deallocate), logits);
  }
}
