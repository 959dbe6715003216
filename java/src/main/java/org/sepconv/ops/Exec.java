package org.sepconv.ops;

import org.sepconv.tensor.Device;

/**
 * Where and how an op runs: a device and an algorithm. {@link #CPU} is the default: the
 * fastest CPU kernel. {@link Algo#REFERENCE} runs the naive double-accumulating reference;
 * {@link Algo#IM2COL} runs convolutions as im2col + sgemm per image (the classic baseline).
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

  public Exec {
    if (device == null) throw new IllegalArgumentException("device must not be null");
    if (algo == null) throw new IllegalArgumentException("algo must not be null");
  }

  /** The C ABI's SEPCONV_EXEC(device, algo). */
  public int code() {
    return device.code() | (algo.ordinal() << 4);
  }
}
