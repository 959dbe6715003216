package org.sepconv.tensor;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** Where a tensor's memory lives and where its ops run. */
public enum Device {
  CPU(0),
  CUDA(1);

  private final int code;

  Device(int code) {
    this.code = code;
  }

  /** The SEPCONV_DEVICE_* value of the C ABI. */
  public int code() {
    return code;
  }

  /** The name flags and checkpoints use: {@code "cpu"}, {@code "cuda"}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Every device's label, for messages: {@code "cpu or cuda"}. */
  public static String labels() {
    return Arrays.stream(values()).map(Device::label).collect(Collectors.joining(" or "));
  }

  /**
   * The device {@code label} names.
   *
   * @throws IllegalArgumentException when it names none (the message lists {@link #labels()})
   */
  public static Device of(String label) {
    for (Device d : values())
      if (d.label().equals(label)) return d;
    throw new IllegalArgumentException("a device must be " + labels() + ", got '" + label + "'");
  }
}
