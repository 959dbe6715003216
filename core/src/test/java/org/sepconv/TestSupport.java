package org.sepconv;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Shared helpers: direct buffers, random data, and the one comparison every kernel test uses. */
public final class TestSupport {
  private TestSupport() {}

  /** The tolerance of the issue: max |fast - ref| / max |ref| below 1e-5. */
  public static final double REL_TOL = 1e-5;

  public static FloatBuffer floats(long n) {
    return ByteBuffer.allocateDirect(Math.toIntExact(4 * Math.max(n, 1)))
        .order(ByteOrder.nativeOrder()).asFloatBuffer();
  }

  public static IntBuffer ints(long n) {
    return ByteBuffer.allocateDirect(Math.toIntExact(4 * Math.max(n, 1)))
        .order(ByteOrder.nativeOrder()).asIntBuffer();
  }

  /** Fresh uniform values in [-1, 1); never all zeros. */
  public static FloatBuffer rand(Random rng, long n) {
    FloatBuffer b = floats(n);
    for (int i = 0; i < n; i++) b.put(i, rng.nextFloat() * 2 - 1);
    return b;
  }

  /** NaN-filled, so that an output the kernel forgets to write is caught. */
  public static FloatBuffer poisoned(long n) {
    FloatBuffer b = floats(n);
    for (int i = 0; i < n; i++) b.put(i, Float.NaN);
    return b;
  }

  public static FloatBuffer copy(FloatBuffer src) {
    FloatBuffer b = floats(src.capacity());
    for (int i = 0; i < src.capacity(); i++) b.put(i, src.get(i));
    return b;
  }

  /** max |a - ref| / max |ref| over the first n elements, computed in double. */
  public static double relErr(FloatBuffer a, FloatBuffer ref, long n) {
    double err = 0, max = 0;
    for (int i = 0; i < n; i++) {
      double r = ref.get(i), d = Math.abs((double) a.get(i) - r);
      if (Double.isNaN(a.get(i)) || Double.isNaN(r)) return Double.POSITIVE_INFINITY;
      err = Math.max(err, d);
      max = Math.max(max, Math.abs(r));
    }
    return max == 0 ? err : err / max;
  }

  public static void assertClose(String what, FloatBuffer a, FloatBuffer ref, long n) {
    double e = relErr(a, ref, n);
    assertTrue(e < REL_TOL, what + ": relative error " + e + " >= " + REL_TOL);
  }

  /** The ISAs this CPU can run, lowest first. */
  public static List<Sepconv.Isa> isas() {
    List<Sepconv.Isa> out = new ArrayList<>();
    for (Sepconv.Isa i : Sepconv.Isa.values()) if (i.ordinal() <= Sepconv.maxIsa().ordinal()) out.add(i);
    return out;
  }

  /** Runs body with the given ISA forced, restoring the best one afterwards. */
  public static void withIsa(Sepconv.Isa isa, Runnable body) {
    Sepconv.setIsa(isa);
    try {
      body.run();
    } finally {
      Sepconv.setIsa(null);
    }
  }

  public static double dot(FloatBuffer a, FloatBuffer b, long n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double) a.get(i) * b.get(i);
    return s;
  }
}
