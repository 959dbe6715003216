package org.sepconv.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The buffer rules of {@link Ops}, checked at random. Every op gets random valid calls whose
 * buffers are each in one of five layouts (a plain buffer, a position offset, a slice, a view at
 * an odd byte offset, a slice of a slice), each surrounded by guard bytes; the outputs must match
 * the reference kernel run on plain buffers, the inputs and the guard bytes must not change. Then
 * malformed calls: a buffer too short by a few elements, read-only, null, on the heap, in the wrong
 * byte order, or overlapping another argument, or a bad scalar (zero, negative, overflowing); each
 * must be an IllegalArgumentException that names the argument, with nothing written.
 *
 * <p>The seed is new on every run and printed on failure; {@code -Dsepconv.fuzz.seed=N} replays it.
 */
class BufferRulesFuzzTest {
  static final long SEED = Long.getLong("sepconv.fuzz.seed", new SecureRandom().nextLong());
  static final int VALID_CALLS = 1500, MALFORMED_CALLS = 4000;

  enum Role { IN, OUT, INOUT }

  enum Layout { PLAIN, POSITION, SLICE, ODD_BYTE_OFFSET, SLICE_OF_SLICE }

  /** One buffer argument: its data, its role, and whether the op may be called without it. */
  static final class Arg {
    final String name;
    final Role role;
    final float[] f;
    final int[] i;
    final boolean optional;

    Arg(String name, Role role, float[] f, int[] i, boolean optional) {
      this.name = name;
      this.role = role;
      this.f = f;
      this.i = i;
      this.optional = optional;
    }

    int length() {
      return f != null ? f.length : i.length;
    }

    boolean written() {
      return role != Role.IN;
    }
  }

  /** A buffer placed in memory: the region around it is guard bytes. */
  static final class Placed {
    final ByteBuffer region;
    final int dataAt; // byte offset of element 0 in region
    final int bytes;
    final Buffer view;
    final byte[] before;

    Placed(ByteBuffer region, int dataAt, int bytes, Buffer view) {
      this.region = region;
      this.dataAt = dataAt;
      this.bytes = bytes;
      this.view = view;
      this.before = snapshot(region);
    }
  }

  /** The buffers of one call, by name; absent and null arguments are null. */
  static final class Bufs {
    final Map<String, Buffer> m = new HashMap<>();

    FloatBuffer f(String name) {
      return (FloatBuffer) m.get(name);
    }

    IntBuffer i(String name) {
      return (IntBuffer) m.get(name);
    }
  }

  interface Call {
    /** Runs the op; returns its scalar result (the loss) or null. */
    Float run(Exec e, Bufs b);
  }

  /** A bad scalar: the names the message may start with, and how to break the case. */
  record Break(Set<String> names, Runnable apply) {}

  /** One op with concrete shapes, data and scalars. */
  static final class Case {
    final String op;
    final List<Arg> args = new ArrayList<>();
    final List<Break> breaks = new ArrayList<>();
    final Map<String, List<String>> sameOk = new HashMap<>(); // output -> the inputs it may be
    Call call;

    Case(String op) {
      this.op = op;
    }

    Case in(String name, float[] v) {
      args.add(new Arg(name, Role.IN, v, null, false));
      return this;
    }

    Case optIn(String name, float[] v) {
      args.add(new Arg(name, Role.IN, v, null, true));
      return this;
    }

    Case out(String name, float[] v) {
      args.add(new Arg(name, Role.OUT, v, null, false));
      return this;
    }

    Case inout(String name, float[] v, boolean optional) {
      args.add(new Arg(name, Role.INOUT, v, null, optional));
      return this;
    }

    Case ints(String name, int[] v, Role role, boolean optional) {
      args.add(new Arg(name, role, null, v, optional));
      return this;
    }

    Case bad(Runnable apply, String... names) {
      breaks.add(new Break(Set.of(names), apply));
      return this;
    }
  }

  // ------------------------------------------------------------------ the cases

  static float[] rand(Random r, long n) {
    float[] v = new float[Math.toIntExact(n)];
    for (int i = 0; i < v.length; i++) v[i] = r.nextFloat() * 2 - 1;
    return v;
  }

  static float[] positive(Random r, long n) {
    float[] v = new float[Math.toIntExact(n)];
    for (int i = 0; i < v.length; i++) v[i] = 0.2f + r.nextFloat();
    return v;
  }

  static int pick(Random r, int lo, int hi) {
    return lo + r.nextInt(hi - lo + 1);
  }

  static final int HUGE = Integer.MAX_VALUE;
  static final String[] OPS = {"conv2d forward", "conv2d backward", "bn training", "bn inference", "bn backward",
      "bn fold", "activation forward", "activation backward", "add", "sgd", "adam", "avgpool forward",
      "avgpool backward", "maxpool forward", "maxpool backward", "global avgpool forward", "global avgpool backward",
      "linear forward", "linear backward", "xent forward", "xent backward"};

  static Case make(String op, Random r) {
    switch (op) {
      case "conv2d forward":
      case "conv2d backward":
        return conv(op, r);
      case "bn training":
      case "bn inference":
      case "bn backward":
        return batchNorm(op, r);
      case "bn fold": {
        int[] s = {pick(r, 1, 6), pick(r, 1, 20)};
        float[] eps = {1e-5f};
        Case c = new Case(op).inout("w", rand(r, (long) s[0] * s[1]), false).inout("bias", rand(r, s[0]), false)
            .optIn("gamma", rand(r, s[0])).optIn("beta", rand(r, s[0])).in("mean", rand(r, s[0]))
            .in("var", positive(r, s[0]));
        c.call = (e, b) -> {
          Ops.batchNormFold(s[0], s[1], b.f("w"), b.f("bias"), b.f("gamma"), b.f("beta"), b.f("mean"), b.f("var"), eps[0]);
          return null;
        };
        return c.bad(() -> s[0] = 0, "c").bad(() -> s[1] = -3, "perChannel").bad(() -> eps[0] = -1f, "eps")
            .bad(() -> { s[0] = HUGE; s[1] = HUGE; }, "c", "perChannel", "w");
      }
      case "activation forward":
      case "activation backward": {
        long[] n = {pick(r, 1, 300)};
        Activation[] act = {Activation.values()[r.nextInt(3)]};
        boolean fwd = op.endsWith("forward");
        Case c = new Case(op);
        if (fwd) c.in("x", rand(r, n[0])).out("y", rand(r, n[0]));
        else if (act[0] == Activation.NONE) c.optIn("y", rand(r, n[0])).in("dy", rand(r, n[0])).out("dx", rand(r, n[0]));
        else c.in("y", rand(r, n[0])).in("dy", rand(r, n[0])).out("dx", rand(r, n[0]));
        c.sameOk.put(fwd ? "y" : "dx", List.of(fwd ? "x" : "dy"));
        c.call = (e, b) -> {
          if (fwd) Ops.activationForward(e, act[0], n[0], b.f("x"), b.f("y"));
          else Ops.activationBackward(e, act[0], n[0], b.f("y"), b.f("dy"), b.f("dx"));
          return null;
        };
        return c.bad(() -> n[0] = 0, "count").bad(() -> n[0] = -7, "count").bad(() -> act[0] = null, "act")
            .bad(() -> n[0] = Long.MAX_VALUE / 2, "count");
      }
      case "add": {
        long[] n = {pick(r, 1, 300)};
        Case c = new Case(op).in("a", rand(r, n[0])).in("b", rand(r, n[0])).out("y", rand(r, n[0]));
        c.sameOk.put("y", List.of("a", "b"));
        c.call = (e, b) -> {
          Ops.add(e, n[0], b.f("a"), b.f("b"), b.f("y"));
          return null;
        };
        return c.bad(() -> n[0] = 0, "count");
      }
      case "sgd": {
        long n = pick(r, 1, 200);
        double[] h = {0.1, r.nextBoolean() ? 0.9 : 0, 0, 1e-4, 3};
        boolean[] nesterov = {false};
        Case c = new Case(op).inout("p", rand(r, n), false).in("g", rand(r, n));
        if (h[1] != 0) c.inout("momentumBuffer", rand(r, n), false);
        c.call = (e, b) -> {
          Ops.sgdUpdate(e, n, b.f("p"), b.f("g"), b.f("momentumBuffer"), h[0], h[1], h[2], h[3], nesterov[0], (long) h[4]);
          return null;
        };
        c.bad(() -> h[0] = -1, "lr").bad(() -> h[0] = Double.NaN, "lr").bad(() -> h[3] = -1, "weightDecay")
            .bad(() -> h[4] = 0, "step").bad(() -> h[2] = Double.POSITIVE_INFINITY, "dampening");
        if (h[1] != 0) c.bad(() -> h[1] = -0.5, "momentum");
        else c.bad(() -> nesterov[0] = true, "nesterov");
        return c;
      }
      case "adam": {
        long n = pick(r, 1, 200);
        double[] h = {1e-3, 0.9, 0.999, 1e-8, 1e-2, 4};
        boolean decoupled = r.nextBoolean();
        Case c = new Case(op).inout("p", rand(r, n), false).in("g", rand(r, n)).inout("expAvg", rand(r, n), false)
            .inout("expAvgSq", positive(r, n), false);
        c.call = (e, b) -> {
          Ops.adamUpdate(e, n, b.f("p"), b.f("g"), b.f("expAvg"), b.f("expAvgSq"), h[0], h[1], h[2], h[3], h[4], decoupled,
              (long) h[5]);
          return null;
        };
        return c.bad(() -> h[1] = 1, "beta1").bad(() -> h[2] = -0.1, "beta2").bad(() -> h[3] = -1, "eps")
            .bad(() -> h[0] = Double.NEGATIVE_INFINITY, "lr").bad(() -> h[5] = -2, "step");
      }
      case "avgpool forward":
      case "avgpool backward":
      case "maxpool forward":
      case "maxpool backward":
        return pool(op, r);
      case "global avgpool forward":
      case "global avgpool backward": {
        int[] s = {pick(r, 1, 3), pick(r, 1, 6), pick(r, 1, 30)};
        boolean fwd = op.endsWith("forward");
        long size = (long) s[0] * s[1] * s[2], small = (long) s[0] * s[1];
        Case c = new Case(op);
        if (fwd) c.in("x", rand(r, size)).out("y", rand(r, small));
        else c.in("dy", rand(r, small)).out("dx", rand(r, size));
        c.call = (e, b) -> {
          if (fwd) Ops.globalAvgPoolForward(e, s[0], s[1], s[2], b.f("x"), b.f("y"));
          else Ops.globalAvgPoolBackward(e, s[0], s[1], s[2], b.f("dy"), b.f("dx"));
          return null;
        };
        return c.bad(() -> s[0] = 0, "n").bad(() -> s[1] = -2, "c").bad(() -> s[2] = 0, "hw")
            .bad(() -> { s[0] = HUGE; s[1] = HUGE; s[2] = HUGE; }, "n", "c", "hw")
            .bad(() -> { s[0] = HUGE; s[1] = HUGE; }, "n", "c", "hw", "x", "y", "dx", "dy");
      }
      case "linear forward":
      case "linear backward":
        return linear(op, r);
      default:
        return xent(op, r);
    }
  }

  static Case conv(String op, Random r) {
    int g = r.nextInt(3) == 0 ? 1 : pick(r, 1, 4);
    boolean depthwise = r.nextBoolean();
    int cin = depthwise ? g : g * pick(r, 1, 3), cout = depthwise ? g * pick(r, 1, 2) : g * pick(r, 1, 3);
    int k = r.nextBoolean() ? 3 : pick(r, 1, 3), pad = r.nextInt(Math.min(k, 2)), dil = r.nextInt(4) == 0 ? 2 : 1;
    int minSide = (k - 1) * dil + 1;
    int[] v = {pick(r, 1, 3), cin, pick(r, minSide, 9), pick(r, minSide, 9), cout, k, k, pick(r, 1, 2), pick(r, 1, 2),
        pad, pad, dil, dil, g};
    Conv2dSpec s = spec(v);
    boolean fwd = op.endsWith("forward");
    Case c = new Case(op);
    if (fwd) {
      c.in("x", rand(r, s.inputSize())).in("w", rand(r, s.weightSize()));
      if (r.nextBoolean()) c.optIn("bias", rand(r, s.cOut));
      c.out("y", rand(r, s.outputSize()));
    } else {
      int mask = 1 + r.nextInt(7);
      int[] m = {mask};
      if ((mask & Grad.WEIGHT) != 0) c.in("x", rand(r, s.inputSize()));
      else if (r.nextInt(4) == 0) c.optIn("x", rand(r, s.inputSize())); // not needed: may be given or not
      if ((mask & Grad.INPUT) != 0) c.in("w", rand(r, s.weightSize()));
      else if (r.nextInt(4) == 0) c.optIn("w", rand(r, s.weightSize()));
      c.in("dy", rand(r, s.outputSize()));
      if ((mask & Grad.INPUT) != 0) c.out("dx", rand(r, s.inputSize()));
      if ((mask & Grad.WEIGHT) != 0) c.inout("dw", rand(r, s.weightSize()), false);
      if ((mask & Grad.BIAS) != 0) c.inout("dbias", rand(r, s.cOut), false);
      c.call = (e, b) -> {
        Ops.conv2dBackward(e, spec(v), m[0], b.f("x"), b.f("w"), b.f("dy"), b.f("dx"), b.f("dw"), b.f("dbias"));
        return null;
      };
      c.bad(() -> m[0] = 8, "mask").bad(() -> m[0] = -1, "mask");
    }
    if (fwd)
      c.call = (e, b) -> {
        Ops.conv2dForward(e, spec(v), b.f("x"), b.f("w"), b.f("bias"), b.f("y"));
        return null;
      };
    String[] names = {"n", "c_in", "h", "w", "c_out", "kh", "kw", "stride_h", "stride_w", "pad_h", "pad_w", "dil_h",
        "dil_w", "groups"};
    for (int i = 0; i < v.length; i++) {
      int at = i, bad = i == 9 || i == 10 ? -1 : r.nextBoolean() ? 0 : -pick(r, 1, 5);
      c.bad(() -> v[at] = bad, names[i]);
    }
    c.bad(() -> v[13] = v[1] + 1, "groups"); // more groups than input channels: divides neither
    c.bad(() -> { v[5] = v[2] + 2 * v[9] + 1; }, "kh");
    c.bad(() -> { v[0] = 1 << 16; v[1] = v[4] = v[13] = 1 << 10; v[2] = v[3] = 1 << 10; }, "x", "y", "w", "n");
    return c;
  }

  static Conv2dSpec spec(int[] v) {
    return Conv2dSpec.of(v[0], v[1], v[2], v[3], v[4], v[5]).withKernel(v[5], v[6]).withStride(v[7], v[8])
        .withPad(v[9], v[10]).withDilation(v[11], v[12]).withGroups(v[13]);
  }

  static Case batchNorm(String op, Random r) {
    // at least 8 values per channel: with two, the normalised values are exactly -1 and 1, dx is 0 in theory
    // and only rounding is compared
    int[] s = {pick(r, 1, 3), pick(r, 1, 6), pick(r, 8, 20)};
    long size = (long) s[0] * s[1] * s[2];
    int c0 = s[1];
    float[] sc = {1e-5f, 0.1f};
    Activation[] act = {Activation.values()[r.nextInt(3)]};
    Case c = new Case(op);
    if (op.equals("bn training")) {
      c.in("x", rand(r, size));
      if (r.nextBoolean()) c.optIn("gamma", rand(r, c0)).optIn("beta", rand(r, c0));
      if (r.nextBoolean()) c.inout("runningMean", rand(r, c0), true).inout("runningVar", positive(r, c0), true);
      c.out("saveMean", rand(r, c0)).out("saveInvstd", rand(r, c0)).out("y", rand(r, size));
      c.call = (e, b) -> {
        Ops.batchNormForwardTraining(e, s[0], s[1], s[2], b.f("x"), b.f("gamma"), b.f("beta"), sc[0], sc[1],
            b.f("runningMean"), b.f("runningVar"), b.f("saveMean"), b.f("saveInvstd"), act[0], b.f("y"));
        return null;
      };
      c.bad(() -> sc[1] = 1.5f, "momentum").bad(() -> sc[1] = Float.NaN, "momentum")
          .bad(() -> { s[0] = 1; s[2] = 1; }, "n", "hw", "n*hw");
    } else if (op.equals("bn inference")) {
      c.in("x", rand(r, size)).optIn("gamma", rand(r, c0)).optIn("beta", rand(r, c0)).in("runningMean", rand(r, c0))
          .in("runningVar", positive(r, c0)).out("y", rand(r, size));
      c.call = (e, b) -> {
        Ops.batchNormForwardInference(e, s[0], s[1], s[2], b.f("x"), b.f("gamma"), b.f("beta"), b.f("runningMean"),
            b.f("runningVar"), sc[0], act[0], b.f("y"));
        return null;
      };
    } else {
      int[] m = {1 + r.nextInt(7)};
      float[] x = rand(r, size), mean = new float[c0], invstd = new float[c0], y = new float[(int) size];
      for (int ch = 0; ch < c0; ch++) { // consistent saved statistics and output, as a forward would leave them
        double sum = 0, sq = 0;
        for (int i = 0; i < s[0]; i++) for (int j = 0; j < s[2]; j++) sum += x[(i * c0 + ch) * s[2] + j];
        double mu = sum / (s[0] * s[2]);
        for (int i = 0; i < s[0]; i++) for (int j = 0; j < s[2]; j++) sq += Math.pow(x[(i * c0 + ch) * s[2] + j] - mu, 2);
        mean[ch] = (float) mu;
        invstd[ch] = (float) (1 / Math.sqrt(sq / (s[0] * s[2]) + 1e-5));
        for (int i = 0; i < s[0]; i++)
          for (int j = 0; j < s[2]; j++) {
            int at = (i * c0 + ch) * s[2] + j;
            y[at] = Math.max(0, Math.min(6, (float) ((x[at] - mu) * invstd[ch])));
          }
      }
      c.in("x", x);
      if (act[0] == Activation.NONE) c.optIn("y", y); // read only to mask an activation
      else c.in("y", y);
      c.in("dy", rand(r, size)).optIn("gamma", rand(r, c0)).in("saveMean", mean)
          .in("saveInvstd", invstd);
      if ((m[0] & Grad.INPUT) != 0) c.out("dx", rand(r, size));
      if ((m[0] & Grad.WEIGHT) != 0) c.inout("dgamma", rand(r, c0), false);
      if ((m[0] & Grad.BIAS) != 0) c.inout("dbeta", rand(r, c0), false);
      c.call = (e, b) -> {
        Ops.batchNormBackward(e, s[0], s[1], s[2], m[0], b.f("x"), b.f("y"), b.f("dy"), b.f("gamma"), b.f("saveMean"),
            b.f("saveInvstd"), act[0], b.f("dx"), b.f("dgamma"), b.f("dbeta"));
        return null;
      };
      c.bad(() -> m[0] = 9, "mask");
    }
    if (!op.equals("bn backward")) c.bad(() -> sc[0] = 0f, "eps").bad(() -> sc[0] = Float.NaN, "eps");
    return c.bad(() -> s[0] = 0, "n").bad(() -> s[1] = -1, "c").bad(() -> s[2] = 0, "hw").bad(() -> act[0] = null, "act")
        .bad(() -> { s[0] = HUGE; s[1] = HUGE; s[2] = HUGE; }, "n", "c", "hw");
  }

  static Case pool(String op, Random r) {
    int k = pick(r, 1, 3);
    int[] v = {pick(r, 1, 2), pick(r, 1, 4), pick(r, k, 9), pick(r, k, 9), k, pick(r, 1, 2), r.nextInt(k / 2 + 1)};
    boolean include = r.nextBoolean(), fwd = op.endsWith("forward"), max = op.startsWith("max");
    Pool2dSpec p = new Pool2dSpec(v[0], v[1], v[2], v[3], v[4], v[5], v[6], include);
    Case c = new Case(op);
    if (fwd) {
      c.in("x", rand(r, p.inputSize())).out("y", rand(r, p.outputSize()));
      if (max && r.nextBoolean()) c.ints("argmax", new int[(int) p.outputSize()], Role.OUT, true);
    } else {
      c.in("dy", rand(r, p.outputSize()));
      if (max) {
        int[] arg = new int[(int) p.outputSize()];
        for (int i = 0; i < arg.length; i++) arg[i] = r.nextInt(v[2] * v[3]);
        c.ints("argmax", arg, Role.IN, false);
        c.bad(() -> arg[r.nextInt(arg.length)] = r.nextBoolean() ? -1 : v[2] * v[3], "argmax");
      }
      c.out("dx", rand(r, p.inputSize()));
    }
    c.call = (e, b) -> {
      Pool2dSpec q = new Pool2dSpec(v[0], v[1], v[2], v[3], v[4], v[5], v[6], include);
      if (fwd && max) Ops.maxPool2dForward(e, q, b.f("x"), b.f("y"), b.i("argmax"));
      else if (fwd) Ops.avgPool2dForward(e, q, b.f("x"), b.f("y"));
      else if (max) Ops.maxPool2dBackward(e, q, b.f("dy"), b.i("argmax"), b.f("dx"));
      else Ops.avgPool2dBackward(e, q, b.f("dy"), b.f("dx"));
      return null;
    };
    return c.bad(() -> v[0] = 0, "n").bad(() -> v[1] = -1, "c").bad(() -> v[4] = 0, "kh").bad(() -> v[5] = 0, "stride_h")
        .bad(() -> v[6] = v[4] / 2 + 1, "pad_h").bad(() -> v[2] = -4, "h");
  }

  static Case linear(String op, Random r) {
    int[] s = {pick(r, 1, 5), pick(r, 1, 12), pick(r, 1, 10)};
    boolean fwd = op.endsWith("forward");
    Case c = new Case(op);
    long x = (long) s[0] * s[1], w = (long) s[2] * s[1], y = (long) s[0] * s[2];
    int[] m = {1 + r.nextInt(7)};
    if (fwd) {
      c.in("x", rand(r, x)).in("w", rand(r, w));
      if (r.nextBoolean()) c.optIn("bias", rand(r, s[2]));
      c.out("y", rand(r, y));
    } else {
      if ((m[0] & Grad.WEIGHT) != 0) c.in("x", rand(r, x));
      if ((m[0] & Grad.INPUT) != 0) c.in("w", rand(r, w));
      c.in("dy", rand(r, y));
      if ((m[0] & Grad.INPUT) != 0) c.out("dx", rand(r, x));
      if ((m[0] & Grad.WEIGHT) != 0) c.inout("dw", rand(r, w), false);
      if ((m[0] & Grad.BIAS) != 0) c.inout("dbias", rand(r, s[2]), false);
      c.bad(() -> m[0] = 16, "mask");
    }
    c.call = (e, b) -> {
      if (fwd) Ops.linearForward(e, s[0], s[1], s[2], b.f("x"), b.f("w"), b.f("bias"), b.f("y"));
      else Ops.linearBackward(e, s[0], s[1], s[2], m[0], b.f("x"), b.f("w"), b.f("dy"), b.f("dx"), b.f("dw"), b.f("dbias"));
      return null;
    };
    return c.bad(() -> s[0] = 0, "n").bad(() -> s[1] = -1, "inFeatures").bad(() -> s[2] = 0, "outFeatures")
        .bad(() -> { s[0] = HUGE; s[1] = HUGE; s[2] = HUGE; }, "n", "inFeatures", "outFeatures", "x", "w", "y", "dx", "dy",
            "dw");
  }

  static Case xent(String op, Random r) {
    int[] s = {pick(r, 1, 8), pick(r, 2, 12)};
    float[] smooth = {r.nextBoolean() ? 0f : 0.1f};
    int[] labels = new int[s[0]];
    for (int i = 0; i < labels.length; i++) labels[i] = r.nextInt(s[1]);
    long size = (long) s[0] * s[1];
    Case c = new Case(op);
    boolean fwd = op.equals("xent forward");
    if (fwd) {
      c.in("logits", rand(r, size)).ints("labels", labels, Role.IN, false).out("probs", rand(r, size));
    } else {
      float[] probs = positive(r, size);
      c.in("probs", probs).ints("labels", labels, Role.IN, false).out("dlogits", rand(r, size));
    }
    c.call = (e, b) -> {
      if (fwd) return Ops.softmaxCrossEntropyForward(e, s[0], s[1], b.f("logits"), b.i("labels"), smooth[0], b.f("probs"));
      Ops.softmaxCrossEntropyBackward(e, s[0], s[1], b.f("probs"), b.i("labels"), smooth[0], 0.5f, b.f("dlogits"));
      return null;
    };
    return c.bad(() -> labels[r.nextInt(labels.length)] = s[1], "labels").bad(() -> labels[0] = -1, "labels")
        .bad(() -> smooth[0] = 1.5f, "labelSmoothing").bad(() -> s[0] = 0, "n").bad(() -> s[1] = 0, "classes")
        .bad(() -> { s[0] = HUGE; s[1] = HUGE; }, "n", "classes");
  }

  // ------------------------------------------------------------------ placing buffers

  static byte[] snapshot(ByteBuffer region) {
    byte[] b = new byte[region.capacity()];
    region.duplicate().clear().get(b);
    return b;
  }

  /** Places {@code a}'s data in {@code layout}, with random guard bytes around it inside the region. */
  static Placed place(Arg a, Layout layout, Random r) {
    int n = a.length(), bytes = 4 * n;
    if (layout == Layout.PLAIN) {
      ByteBuffer region = ByteBuffer.allocateDirect(Math.max(bytes, 4)).order(ByteOrder.nativeOrder());
      write(region, 0, a);
      Buffer view = a.f != null ? region.asFloatBuffer() : region.asIntBuffer();
      return new Placed(region, 0, bytes, view.limit(n));
    }
    int lead = layout == Layout.ODD_BYTE_OFFSET ? pick(r, 1, 3) : 0;
    int p1 = pick(r, 0, 9), p2 = layout == Layout.SLICE_OF_SLICE ? pick(r, 1, 7) : 0, tail = pick(r, 0, 9);
    int dataAt = lead + 4 * (p1 + p2);
    ByteBuffer region = ByteBuffer.allocateDirect(dataAt + bytes + 4 * tail + 4).order(ByteOrder.nativeOrder());
    byte[] guard = new byte[region.capacity()];
    r.nextBytes(guard);
    region.put(0, guard);
    write(region, dataAt, a);
    ByteBuffer from = region.duplicate().position(lead).slice().order(ByteOrder.nativeOrder());
    Buffer v = a.f != null ? from.asFloatBuffer() : from.asIntBuffer();
    int limit = p1 + p2 + n + tail; // elements after the data stay inside the limit: guard bytes the op must not touch
    v.limit(limit);
    switch (layout) {
      case POSITION:
      case ODD_BYTE_OFFSET:
        v.position(p1);
        if (layout == Layout.ODD_BYTE_OFFSET && r.nextBoolean()) v = slice(v);
        break;
      case SLICE:
        v = slice(v.position(p1));
        break;
      default:
        v = slice(slice(v.position(p1)).position(p2));
    }
    return new Placed(region, dataAt, bytes, v);
  }

  static Buffer slice(Buffer b) {
    return b instanceof FloatBuffer f ? f.slice() : ((IntBuffer) b).slice();
  }

  static void write(ByteBuffer region, int at, Arg a) {
    ByteBuffer d = region.duplicate().order(ByteOrder.nativeOrder()).position(at);
    if (a.f != null) d.asFloatBuffer().put(a.f);
    else d.asIntBuffer().put(a.i);
  }

  static float[] readFloats(Placed p, int n) {
    float[] v = new float[n];
    p.region.duplicate().order(ByteOrder.nativeOrder()).position(p.dataAt).asFloatBuffer().get(v);
    return v;
  }

  static int[] readInts(Placed p, int n) {
    int[] v = new int[n];
    p.region.duplicate().order(ByteOrder.nativeOrder()).position(p.dataAt).asIntBuffer().get(v);
    return v;
  }

  /** Whether every byte of the region outside [dataAt, dataAt + bytes) is as it was. */
  static boolean guardsIntact(Placed p) {
    byte[] now = snapshot(p.region);
    for (int i = 0; i < now.length; i++) if ((i < p.dataAt || i >= p.dataAt + p.bytes) && now[i] != p.before[i]) return false;
    return true;
  }

  // ------------------------------------------------------------------ the checks

  @Test
  void validCallsInEveryLayoutMatchTheReferenceAndTouchNothingElse() {
    Random r = new Random(SEED);
    int[] perLayout = new int[Layout.values().length];
    for (int call = 0; call < VALID_CALLS; call++) {
      String op = OPS[call % OPS.length];
      String where = String.format(Locale.ROOT, "valid call %d (%s), seed %d (replay: -Dsepconv.fuzz.seed=%d)", call, op,
          SEED, SEED);
      Case c = make(op, r);
      // the truth: the reference kernel on plain buffers
      Bufs refBufs = new Bufs();
      Map<String, Placed> ref = new LinkedHashMap<>();
      for (Arg a : c.args) {
        Placed p = place(a, Layout.PLAIN, r);
        ref.put(a.name, p);
        refBufs.m.put(a.name, p.view);
      }
      Float refLoss = c.call.run(Exec.CPU_REFERENCE, refBufs);
      // the same call with every buffer in a random layout, through the fast kernels (or im2col)
      Exec exec = op.startsWith("conv") && r.nextInt(4) == 0 ? Exec.CPU_IM2COL : Exec.CPU;
      Bufs bufs = new Bufs();
      Map<String, Placed> placed = new LinkedHashMap<>();
      for (Arg a : c.args) {
        Layout l = Layout.values()[r.nextInt(Layout.values().length)];
        perLayout[l.ordinal()]++;
        Placed p = place(a, l, r);
        placed.put(a.name, p);
        boolean readOnly = !a.written() && r.nextInt(4) == 0; // an input may be a read-only view
        bufs.m.put(a.name, readOnly ? readOnly(p.view) : p.view);
      }
      String inPlace = null;
      for (Map.Entry<String, List<String>> e : c.sameOk.entrySet())
        if (r.nextInt(4) == 0) { // the output given as the very input it may be
          Arg out = arg(c, e.getKey()), in = arg(c, e.getValue().get(r.nextInt(e.getValue().size())));
          placed.put(out.name, placed.get(in.name));
          bufs.m.put(out.name, placed.get(in.name).view);
          inPlace = in.name;
        }
      Map<String, int[]> positions = new HashMap<>();
      bufs.m.forEach((k, v) -> positions.put(k, new int[] {v.position(), v.limit()}));
      Float loss = c.call.run(exec, bufs);
      if (refLoss != null) assertEquals(refLoss, loss, 1e-5 * Math.max(1, Math.abs(refLoss)), where + ": loss");
      for (Arg a : c.args) {
        Placed p = placed.get(a.name);
        assertTrue(guardsIntact(p), where + ": bytes around " + a.name + " were written");
        int[] pl = positions.get(a.name);
        assertEquals(pl[0], p.view.position(), where + ": the position of " + a.name + " changed");
        assertEquals(pl[1], p.view.limit(), where + ": the limit of " + a.name + " changed");
        if (a.f == null) {
          int[] got = readInts(p, a.length()), want = a.written() ? readInts(ref.get(a.name), a.length()) : a.i;
          for (int i = 0; i < got.length; i++) assertEquals(want[i], got[i], where + ": " + a.name + "[" + i + "]");
        } else if (a.written() || a.name.equals(inPlace)) {
          if (a.name.equals(inPlace)) continue; // overwritten by the output that shares its memory, checked there
          float[] got = readFloats(p, a.length()), want = readFloats(ref.get(a.name), a.length());
          double err = relErr(got, want);
          assertTrue(err < 1e-5, where + ": " + a.name + " differs from the reference by " + err);
        } else {
          float[] got = readFloats(p, a.length());
          for (int i = 0; i < got.length; i++)
            if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(a.f[i]))
              fail(where + ": input " + a.name + "[" + i + "] changed");
        }
      }
    }
    for (Layout l : Layout.values()) assertTrue(perLayout[l.ordinal()] > 100, l + " used " + perLayout[l.ordinal()] + " times");
  }

  static Arg arg(Case c, String name) {
    for (Arg a : c.args) if (a.name.equals(name)) return a;
    throw new AssertionError(name);
  }

  /**
   * max |a - ref| over max(max |ref|, 1): relative to the output's scale, and to the inputs' scale (1)
   * where an output is a near-cancelling sum (a bias gradient of one channel, say).
   */
  static double relErr(float[] a, float[] ref) {
    double err = 0, max = 1;
    for (int i = 0; i < a.length; i++) {
      if (Float.isNaN(a[i]) != Float.isNaN(ref[i])) return Double.POSITIVE_INFINITY;
      err = Math.max(err, Math.abs((double) a[i] - ref[i]));
      max = Math.max(max, Math.abs(ref[i]));
    }
    return err / max;
  }

  @Test
  void malformedCallsNameTheArgumentAndWriteNothing() {
    Random r = new Random(SEED ^ 0x9E3779B97F4A7C15L);
    Map<String, Integer> kinds = new LinkedHashMap<>();
    for (int call = 0; call < MALFORMED_CALLS; call++) {
      String op = OPS[r.nextInt(OPS.length)];
      Case c = make(op, r);
      Set<String> expect = null;
      String kind = null;
      if (r.nextInt(10) < 4 && !c.breaks.isEmpty()) { // a bad scalar (before placing: some are buffer contents)
        Break b = c.breaks.get(r.nextInt(c.breaks.size()));
        b.apply.run();
        expect = b.names;
        kind = "bad scalar";
      }
      Bufs bufs = new Bufs();
      Map<String, Placed> placed = new LinkedHashMap<>();
      for (Arg a : c.args) {
        Placed p = place(a, Layout.values()[1 + r.nextInt(Layout.values().length - 1)], r);
        placed.put(a.name, p);
        bufs.m.put(a.name, p.view);
      }
      if (kind == null) {
        Arg a = c.args.get(r.nextInt(c.args.size()));
        Buffer v = bufs.m.get(a.name);
        expect = Set.of(a.name);
        int k = r.nextInt(6);
        if (k == 1 && !a.written()) k = 0;
        if (k == 2 && a.optional) k = 0;
        if (k == 5 && !a.written()) k = 0;
        switch (k) {
          case 0: { // short by 1..3 elements
            int shortBy = Math.min(a.length(), pick(r, 1, 3));
            bufs.m.put(a.name, duplicate(v).limit(v.position() + a.length() - shortBy));
            kind = "too short";
            break;
          }
          case 1:
            bufs.m.put(a.name, readOnly(v));
            kind = "read-only output";
            break;
          case 2:
            bufs.m.put(a.name, null);
            kind = "null";
            break;
          case 3:
            bufs.m.put(a.name, v instanceof FloatBuffer ? FloatBuffer.allocate(a.length() + 4) : IntBuffer.allocate(a.length() + 4));
            kind = "heap buffer";
            break;
          case 4: {
            ByteOrder other = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
            ByteBuffer bb = ByteBuffer.allocateDirect(4 * a.length() + 4).order(other);
            bufs.m.put(a.name, v instanceof FloatBuffer ? bb.asFloatBuffer() : bb.asIntBuffer());
            kind = "wrong byte order";
            break;
          }
          default: { // an output over (part of) another argument's memory
            Arg other = null;
            for (Arg o : c.args) if (o != a && o.f != null && a.f != null) other = o;
            boolean maySame = other != null && c.sameOk.getOrDefault(a.name, List.of()).contains(other.name);
            if (other == null) {
              bufs.m.put(a.name, null);
              kind = "null";
              if (a.optional) expect = Set.of(); // nothing to break: an optional output may be absent
              break;
            }
            Placed o = placed.get(other.name);
            int shift = maySame ? 1 + r.nextInt(3) : r.nextInt(3); // the same memory is fine there, a shifted copy not
            if (shift >= other.length()) shift = 0;
            if (maySame && shift == 0) other = null;
            if (other == null) {
              bufs.m.put(a.name, null);
              kind = "null";
              if (a.optional) expect = Set.of();
              break;
            }
            ByteBuffer mem = o.region.duplicate().position(o.dataAt + 4 * shift).slice().order(ByteOrder.nativeOrder());
            FloatBuffer over = mem.asFloatBuffer();
            if (over.remaining() < a.length()) { // the other argument is too small to hold this output: grow into it
              bufs.m.put(a.name, null);
              kind = "null";
              if (a.optional) expect = Set.of();
              break;
            }
            bufs.m.put(a.name, over);
            expect = Set.of(a.name, other.name);
            kind = "overlap";
          }
        }
      }
      kinds.merge(kind, 1, Integer::sum);
      String where = String.format(Locale.ROOT, "malformed call %d (%s, %s, expected to name %s), seed %d (replay: "
          + "-Dsepconv.fuzz.seed=%d)", call, op, kind, expect, SEED, SEED);
      if (expect.isEmpty()) continue;
      try {
        c.call.run(Exec.CPU, bufs);
        fail(where + ": accepted");
      } catch (IllegalArgumentException e) {
        String first = firstToken(e.getMessage());
        boolean named = false;
        for (String n : expect) named |= norm(first).equals(norm(n));
        assertTrue(named, where + ": the message does not start with the argument's name: " + e.getMessage());
      } catch (RuntimeException e) {
        throw new AssertionError(where + ": " + e, e);
      }
      for (Arg a : c.args) {
        Placed p = placed.get(a.name);
        assertTrue(guardsIntact(p), where + ": bytes around " + a.name + " were written");
        byte[] now = snapshot(p.region);
        for (int i = p.dataAt; i < p.dataAt + p.bytes; i++)
          if (now[i] != p.before[i]) fail(where + ": " + a.name + " was written");
      }
    }
    for (String k : List.of("bad scalar", "too short", "read-only output", "null", "heap buffer", "wrong byte order", "overlap"))
      assertTrue(kinds.getOrDefault(k, 0) > 50, k + " tried " + kinds.getOrDefault(k, 0) + " times: " + kinds);
  }

  static Buffer readOnly(Buffer b) {
    return b instanceof FloatBuffer f ? f.asReadOnlyBuffer() : ((IntBuffer) b).asReadOnlyBuffer();
  }

  static Buffer duplicate(Buffer b) {
    return b instanceof FloatBuffer f ? f.duplicate() : ((IntBuffer) b).duplicate();
  }

  /** The message's first word: an identifier, possibly with an index or a product (n*c*hw). */
  static String firstToken(String msg) {
    if (msg == null) return "";
    int end = 0;
    while (end < msg.length() && (Character.isLetterOrDigit(msg.charAt(end)) || msg.charAt(end) == '_')) end++;
    return msg.substring(0, end);
  }

  static String norm(String s) {
    return s.replace("_", "").toLowerCase(Locale.ROOT);
  }

}
