package org.sepconv.cli;

import org.sepconv.Sepconv;
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

  /** Checks both flags (a bad value is a bad command line of {@code spec}) and sets the thread count. */
  void apply(CommandSpec spec) {
    int max = THREADS_PER_CORE * Runtime.getRuntime().availableProcessors();
    if (threads < 0 || threads > max)
      throw new CommandLine.ParameterException(spec.commandLine(), "--threads must be in [0, " + max + "] (0 = one per "
          + "core; this machine has " + Runtime.getRuntime().availableProcessors() + "), got " + threads);
    if (!device.equals("cpu") && !device.equals("cuda"))
      throw new CommandLine.ParameterException(spec.commandLine(), "--device must be cpu or cuda, got '" + device + "'");
    checkDevice(device);
    if (threads > 0) Sepconv.setNumThreads(threads);
  }

  /** --device: cpu, or cuda with the reason it cannot be used (not a command-line error: exit 1). */
  static void checkDevice(String device) {
    if (device.equals("cpu")) return;
    String why = Sepconv.cudaUnavailableReason();
    if (why != null) throw new IllegalArgumentException("--device cuda: " + why + "; use --device cpu");
    throw new IllegalArgumentException("--device cuda: a GPU is present, but training on it is not in this build yet "
        + "(the CUDA kernels are not wired into the Java tensors); use --device cpu");
  }
}
