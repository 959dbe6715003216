package org.sepconv.nativeapi;

/** A native failure that is not the caller's fault: out of scratch memory, device or internal error. */
public final class SepconvException extends RuntimeException {
  private final int status;

  public SepconvException(int status, String message) {
    super(describe(status) + ": " + message);
    this.status = status;
  }

  public int status() {
    return status;
  }

  private static String describe(int status) {
    switch (status) {
      case SepconvNative.ENOMEM: return "out of memory";
      case SepconvNative.EDEVICE: return "device error";
      case SepconvNative.EINTERNAL: return "internal error";
      default: return "status " + status;
    }
  }
}
