package org.sepconv.cli;

import org.sepconv.Sepconv;
import org.sepconv.tensor.Device;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/** Where the work runs: flags shared by {@code train} and {@code eval}. */
final class MachineOptions {
  /** More native threads than this per core only make the kernels wait for each other. */
  static final int THREADS_PER_CORE = 4;

  @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda (default: ${DEFAULT-VALUE})")
  String device;

  @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "native threads, 0 = one per core (default: ${DEFAULT-VALUE})")
  int threads;

  /**
   * Checks both flags (a bad value is a bad command line of {@code spec}), sets the thread count
   * and returns the device, which must be usable (else one line says why: no CUDA in this build,
   * no driver, no device).
   */
  Device apply(CommandSpec spec) {
    int max = THREADS_PER_CORE * Runtime.getRuntime().availableProcessors();
    if (threads < 0 || threads > max)
      throw new CommandLine.ParameterException(spec.commandLine(), "--threads must be in [0, " + max + "] (0 = one per "
          + "core; this machine has " + Runtime.getRuntime().availableProcessors() + "), got " + threads);
    final Device d;
    try {
      d = Device.of(device);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--device must be " + Device.labels() + ", got '" + device + "'");
    }
    if (threads > 0) Sepconv.setNumThreads(threads);
    return usable(d);
  }

  /** The device, or one line on why CUDA cannot be used (not a command-line error: exit 1). */
  static Device usable(Device device) {
    if (device != Device.CUDA) return device;
    String why = Sepconv.cudaUnavailableReason();
    if (why != null) throw new IllegalArgumentException("--device cuda: " + why + "; use --device cpu");
    return device;
  }

  /** Whether --device was given on the command line of {@code spec}. */
  static boolean given(CommandSpec spec) {
    return spec.commandLine().getParseResult().hasMatchedOption("--device");
  }
}
