package org.sepconv.cli;

import org.sepconv.Sepconv;
import picocli.CommandLine.Option;

/** Where the work runs: flags shared by {@code train} and {@code eval}. */
final class MachineOptions {
  @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda (default: ${DEFAULT-VALUE})")
  String device;

  @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "native threads, 0 = one per core (default: ${DEFAULT-VALUE})")
  int threads;

  /** Checks both flags and sets the thread count. */
  void apply() {
    checkDevice(device);
    if (threads < 0) throw new IllegalArgumentException("--threads must be >= 0 (0 = one per core), got " + threads);
    if (threads > 0) Sepconv.setNumThreads(threads);
  }

  /** --device: cpu, or cuda with the reason it cannot be used. */
  static void checkDevice(String device) {
    if (device.equals("cpu")) return;
    if (!device.equals("cuda")) throw new IllegalArgumentException("--device must be cpu or cuda, got '" + device + "'");
    String why = Sepconv.cudaUnavailableReason();
    if (why != null) throw new IllegalArgumentException("--device cuda: " + why + "; use --device cpu");
    throw new IllegalArgumentException("--device cuda: a GPU is present, but training on it is not in this build yet "
        + "(the CUDA kernels are not wired into the Java tensors); use --device cpu");
  }
}
