package org.sepconv.ops;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sepconv.TestSupport.*;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.Random;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;

/**
 * Finite-difference checks of every backward: the directional derivative of a scalar loss
 * L = sum(y * r) along a random direction, by central differences, against the analytic one.
 */
class GradCheckTest {
  final Random rng = new Random(2024);

  /** Checks <grad, v> against (L(p + eps v) - L(p - eps v)) / 2 eps for a random v. */
  void gradCheck(String tag, FloatBuffer param, FloatBuffer grad, DoubleSupplier loss, double eps) {
    int n = param.capacity();
    FloatBuffer orig = copy(param), v = rand(rng, n);
    for (int i = 0; i < n; i++) param.put(i, (float) (orig.get(i) + eps * v.get(i)));
    double plus = loss.getAsDouble();
    for (int i = 0; i < n; i++) param.put(i, (float) (orig.get(i) - eps * v.get(i)));
    double minus = loss.getAsDouble();
    for (int i = 0; i < n; i++) param.put(i, orig.get(i));
    double fd = (plus - minus) / (2 * eps), an = dot(grad, v, n);
    double err = Math.abs(fd - an) / Math.max(1e-3, Math.max(Math.abs(fd), Math.abs(an)));
    assertTrue(err < 2e-2, tag + ": finite difference " + fd + " vs analytic " + an + " (rel " + err + ")");
  }

  void checkConv(Conv2dSpec s) {
    FloatBuffer x = rand(rng, s.inputSize()), w = rand(rng, s.weightSize()), b = rand(rng, s.cOut);
    FloatBuffer r = rand(rng, s.outputSize()), y = floats(s.outputSize());
    DoubleSupplier loss = () -> {
      Ops.conv2dForward(Exec.CPU, s, x, w, b, y);
      return dot(y, r, s.outputSize());
    };
    FloatBuffer dx = floats(s.inputSize()), dw = floats(s.weightSize()), db = floats(s.cOut);
    Ops.conv2dBackward(Exec.CPU, s, Grad.ALL, x, w, r, dx, dw, db);
    gradCheck(s + " dx", x, dx, loss, 1e-2);
    gradCheck(s + " dw", w, dw, loss, 1e-2);
    gradCheck(s + " dbias", b, db, loss, 1e-2);
  }

  @Test
  void convolutions() {
    checkConv(Conv2dSpec.of(2, 6, 9, 7, 6, 3).withPad(1).withGroups(6));                    // depthwise
    checkConv(Conv2dSpec.of(2, 6, 9, 7, 12, 5).withStride(2).withPad(2).withGroups(6));     // depthwise x2
    checkConv(Conv2dSpec.of(2, 6, 9, 7, 9, 3).withPad(2).withDilation(2).withGroups(3));    // grouped, dilated
    checkConv(Conv2dSpec.of(3, 5, 8, 8, 7, 1).withStride(2));                                // pointwise s2
    checkConv(Conv2dSpec.of(1, 3, 11, 11, 4, 7).withStride(2).withPad(3));                  // stem
  }

  @Test
  void fusedBatchNorm() {
    int n = 4, c = 3, hw = 25;
    long size = (long) n * c * hw;
    for (Activation act : Activation.values()) {
      FloatBuffer x = rand(rng, size), gamma = rand(rng, c), beta = rand(rng, c), r = rand(rng, size);
      for (int i = 0; i < size; i++) x.put(i, 4 * x.get(i));
      for (int i = 0; i < c; i++) { gamma.put(i, 3 + gamma.get(i)); beta.put(i, 2 + beta.get(i)); }
      FloatBuffer y = floats(size), sm = floats(c), si = floats(c);
      DoubleSupplier loss = () -> {
        Ops.batchNormForwardTraining(Exec.CPU, n, c, hw, x, gamma, beta, 1e-5f, 0.1f, null, null, sm, si, act, y);
        return dot(y, r, size);
      };
      loss.getAsDouble();
      FloatBuffer dx = floats(size), dg = floats(c), db = floats(c);
      Ops.batchNormBackward(Exec.CPU, n, c, hw, Grad.ALL, x, y, r, gamma, sm, si, act, dx, dg, db);
      gradCheck("bn " + act + " dx", x, dx, loss, 1e-3);
      gradCheck("bn " + act + " dgamma", gamma, dg, loss, 1e-3);
      gradCheck("bn " + act + " dbeta", beta, db, loss, 1e-3);
    }
  }

  @Test
  void linearAndLoss() {
    int n = 5, in = 7, out = 4;
    FloatBuffer x = rand(rng, n * in), w = rand(rng, out * in), b = rand(rng, out), r = rand(rng, n * out);
    FloatBuffer y = floats(n * out);
    DoubleSupplier loss = () -> {
      Ops.linearForward(Exec.CPU, n, in, out, x, w, b, y);
      return dot(y, r, n * out);
    };
    FloatBuffer dx = floats(n * in), dw = floats(out * in), db = floats(out);
    Ops.linearBackward(Exec.CPU, n, in, out, Grad.ALL, x, w, r, dx, dw, db);
    gradCheck("linear dx", x, dx, loss, 1e-2);
    gradCheck("linear dw", w, dw, loss, 1e-2);
    gradCheck("linear dbias", b, db, loss, 1e-2);

    int k = 10;
    FloatBuffer logits = rand(rng, n * k), probs = floats(n * k), dl = floats(n * k);
    IntBuffer labels = ints(n);
    for (int i = 0; i < n; i++) labels.put(i, rng.nextInt(k));
    DoubleSupplier xent = () -> Ops.softmaxCrossEntropyForward(Exec.CPU, n, k, logits, labels, 0.1f, probs);
    xent.getAsDouble();
    Ops.softmaxCrossEntropyBackward(Exec.CPU, n, k, probs, labels, 0.1f, 1f, dl);
    gradCheck("softmax-xent dlogits", logits, dl, xent, 1e-2);
  }

  @Test
  void poolingAndActivations() {
    Pool2dSpec avg = new Pool2dSpec(2, 3, 9, 7, 3, 2, 1, false);
    Pool2dSpec max = new Pool2dSpec(2, 3, 9, 7, 3, 2, 1, true);
    for (Pool2dSpec p : new Pool2dSpec[] {avg, max}) {
      boolean isMax = p == max;
      FloatBuffer x = rand(rng, p.inputSize()), r = rand(rng, p.outputSize()), y = floats(p.outputSize());
      IntBuffer arg = ints(p.outputSize());
      DoubleSupplier loss = () -> {
        if (isMax) Ops.maxPool2dForward(Exec.CPU, p, x, y, arg);
        else Ops.avgPool2dForward(Exec.CPU, p, x, y);
        return dot(y, r, p.outputSize());
      };
      loss.getAsDouble();
      FloatBuffer dx = floats(p.inputSize());
      if (isMax) Ops.maxPool2dBackward(Exec.CPU, p, r, arg, dx);
      else Ops.avgPool2dBackward(Exec.CPU, p, r, dx);
      gradCheck((isMax ? "maxpool " : "avgpool ") + p, x, dx, loss, 1e-4);
    }
    int n = 3, c = 4, hw = 10;
    FloatBuffer x = rand(rng, n * c * hw), r = rand(rng, n * c), y = floats(n * c), dx = floats(n * c * hw);
    DoubleSupplier gap = () -> {
      Ops.globalAvgPoolForward(Exec.CPU, n, c, hw, x, y);
      return dot(y, r, n * c);
    };
    Ops.globalAvgPoolBackward(Exec.CPU, n, c, hw, r, dx);
    gradCheck("global avgpool", x, dx, gap, 1e-2);

    for (Activation act : new Activation[] {Activation.RELU, Activation.RELU6}) {
      int m = 200;
      FloatBuffer a = rand(rng, m), ra = rand(rng, m), ya = floats(m), da = floats(m);
      for (int i = 0; i < m; i++) a.put(i, 8 * a.get(i));
      DoubleSupplier l = () -> {
        Ops.activationForward(Exec.CPU, act, m, a, ya);
        return dot(ya, ra, m);
      };
      l.getAsDouble();
      Ops.activationBackward(Exec.CPU, act, m, ya, ra, da);
      gradCheck(act + "", a, da, l, 1e-4);
    }
  }
}
