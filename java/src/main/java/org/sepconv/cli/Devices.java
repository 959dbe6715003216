package org.sepconv.cli;

import org.sepconv.Sepconv;
import org.sepconv.tensor.Device;

/** How the command line names a device in its output. */
final class Devices {
  private Devices() {}

  /** "cpu", or "cuda (NVIDIA H200)". */
  static String describe(Device d) {
    if (d != Device.CUDA) return d.label();
    String name = Sepconv.cudaDeviceName();
    return name == null ? d.label() : d.label() + " (" + name + ")";
  }
}
