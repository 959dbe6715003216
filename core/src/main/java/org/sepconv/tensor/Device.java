package org.sepconv.tensor;

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
}
