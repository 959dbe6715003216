package org.sepconv.ops;

import org.sepconv.tensor.Device;

/**
 * Where and how an op over {@code FloatBuffer}s runs: a device and an algorithm. {@link #CPU}
 * is the default: the fastest CPU kernel. {@link Algo#REFERENCE} runs the naive
 * double-accumulating reference; {@link Algo#IM2COL} runs convolutions as im2col + sgemm per
 * image (the classic baseline).
 *
 * <p>The ops over {@link org.sepconv.tensor.Tensor}s take no {@code Exec}: they run on their
 * arguments' device, with the algorithm set for the calling thread by {@link #use(Algo)}
 * ({@link Algo#AUTO} unless a test or benchmark asks for another):
 *
 * <pre>{@code try (Exec.Scope s = Exec.use(Exec.Algo.REFERENCE)) { model.forward(x); }}</pre>
 */
public record Exec(Device device, Algo algo) {
  public enum Algo {
    AUTO,
    REFERENCE,
    IM2COL
  }

  public static final Exec CPU = new Exec(Device.CPU, Algo.AUTO);
  public static final Exec CPU_REFERENCE = new Exec(Device.CPU, Algo.REFERENCE);
  public static final Exec CPU_IM2COL = new Exec(Device.CPU, Algo.IM2COL);

  private static final ThreadLocal<Algo> ALGO = ThreadLocal.withInitial(() -> Algo.AUTO);

  public Exec {
    if (device == null) throw new IllegalArgumentException("device must not be null");
    if (algo == null) throw new IllegalArgumentException("algo must not be null");
  }

  /** The C ABI's SEPCONV_EXEC(device, algo). */
  public int code() {
    return code(device, algo);
  }

  static int code(Device device, Algo algo) {
    return device.code() | (algo.ordinal() << 4);
  }

  /** Restores the algorithm that was in force before {@link #use}; closing twice is harmless. */
  public interface Scope extends AutoCloseable {
    @Override
    void close();
  }

  /**
   * Makes the tensor ops of this thread run {@code algo} until the returned scope is closed.
   * Scopes nest. Only {@link Algo#AUTO} runs on CUDA: the others are CPU kernels, and a CUDA
   * tensor op under them is refused by name.
   */
  public static Scope use(Algo algo) {
    if (algo == null) throw new IllegalArgumentException("algo must not be null");
    Algo before = ALGO.get();
    ALGO.set(algo);
    boolean[] closed = {false};
    return () -> {
      if (closed[0]) return;
      closed[0] = true;
      ALGO.set(before);
    };
  }

  /** The algorithm the tensor ops of this thread use now. */
  public static Algo currentAlgo() {
    return ALGO.get();
  }
}
