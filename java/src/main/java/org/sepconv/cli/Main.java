package org.sepconv.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import org.sepconv.Sepconv;
import org.sepconv.data.DataException;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.nativeapi.SepconvException;
import org.sepconv.ops.Activation;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.ops.Exec;
import org.sepconv.ops.Grad;
import org.sepconv.ops.Ops;
import org.sepconv.tensor.Tensor;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code sepconv} command line: {@code info}, {@code demo}, {@code summary}, {@code train},
 * {@code eval}, {@code predict}, {@code export} and {@code completion}. A bad command line (an
 * unknown flag, a flag value out of its range, no command) prints one line, {@code sepconv
 * <command>: <message> (see ...)}, and exits 2; errors of the environment a user can fix (missing
 * or corrupt data, a checkpoint that does not match, a full disk, too little memory, no GPU) print
 * one line, {@code sepconv: <message>}, and exit 1.
 */
@Command(name = "sepconv", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "Depthwise-separable convolutions for the JVM: train and run MobileNet/ResNet models on the CPU.",
    subcommands = {HelpCommand.class})
public final class Main implements Callable<Integer> {
  @Spec CommandSpec spec;

  public static void main(String[] args) {
    int code = run(System.out, System.err, args);
    if (code != 0) System.exit(code);
  }

  /** Runs the command line with the given streams and returns the exit code (for tests and embedding). */
  public static int run(PrintStream out, PrintStream err, String... args) {
    if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    CommandLine cl = new CommandLine(new Main());
    cl.addSubcommand("info", new CommandLine(new Info(out)));
    cl.addSubcommand("demo", new CommandLine(new Demo(out)));
    cl.addSubcommand("summary", new SummaryCommand(out));
    cl.addSubcommand("train", new TrainCommand(out));
    cl.addSubcommand("eval", new EvalCommand(out));
    cl.addSubcommand("predict", new PredictCommand(out));
    cl.addSubcommand("export", new ExportCommand(out));
    cl.addSubcommand("completion", new CommandLine(new Completion(out)));
    Choices.register(cl); // after the subcommands: picocli gives a converter to those added so far
    cl.setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true));
    cl.setParameterExceptionHandler((e, line) -> {
      CommandLine at = e.getCommandLine();
      String name = at.getCommandSpec().qualifiedName();
      err.println(name + ": " + e.getMessage() + " (see '" + name + " --help')");
      return at.getCommandSpec().exitCodeOnInvalidInput();
    });
    cl.setExecutionExceptionHandler((e, line, parsed) -> {
      if (e instanceof IllegalArgumentException || e instanceof IllegalStateException || e instanceof DataException
          || e instanceof SepconvException || e instanceof UncheckedIOException
          || e instanceof UnsupportedOperationException) {
        err.println("sepconv: " + e.getMessage());
        return 1;
      }
      throw e; // a bug: the stack trace is wanted
    });
    try {
      return cl.execute(args);
    } catch (OutOfMemoryError e) { // Java heap or native memory: one line, not a stack trace
      err.println("sepconv: out of memory (" + e.getMessage() + "); try a smaller --batch-size or --width-mult, or "
          + "give Java more heap (-Xmx)");
      return 1;
    }
  }

  /** No command: the usage, on stderr, as a bad command line. */
  @Override
  public Integer call() {
    spec.commandLine().usage(new PrintWriter(spec.commandLine().getErr(), true));
    return spec.exitCodeOnInvalidInput();
  }

  @Command(name = "completion", mixinStandardHelpOptions = true,
      description = {"Prints a bash completion script for sepconv: its commands, options and the choices of each.",
          "Install it with: java -jar sepconv.jar completion > ~/.local/share/bash-completion/completions/sepconv",
          "(it completes the command 'sepconv': alias sepconv='java -jar /path/to/sepconv.jar')."})
  static final class Completion implements Runnable {
    private final PrintStream out;
    @Spec CommandSpec spec;

    Completion(PrintStream out) {
      this.out = out;
    }

    @Override
    public void run() {
      out.print(picocli.AutoComplete.bash("sepconv", spec.root().commandLine()));
    }
  }

  /** {@code --version}: the library and native engine. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"sepconv " + Sepconv.version()};
    }
  }

  @Command(name = "info", mixinStandardHelpOptions = true,
      description = "The native engine: version, CPU instruction set, threads, BLAS, CUDA.")
  static final class Info implements Runnable {
    private final PrintStream out;

    Info(PrintStream out) {
      this.out = out;
    }

    @Override
    public void run() {
      info(out);
    }
  }

  @Command(name = "demo", mixinStandardHelpOptions = true,
      description = "One MobileNetV2 depthwise-separable block, forward and backward, timed and checked against the "
          + "naive reference.")
  static final class Demo implements Runnable {
    private final PrintStream out;

    Demo(PrintStream out) {
      this.out = out;
    }

    @Override
    public void run() {
      demo(out);
    }
  }

  static void info(PrintStream out) {
    out.println("sepconv " + Sepconv.version());
    out.println("cpu isa: " + Sepconv.isa() + " (best supported: " + Sepconv.maxIsa() + ")");
    out.println("threads: " + Sepconv.numThreads());
    String blasProblem = NativeLib.blasProblem();
    out.println("blas: " + (Sepconv.blasAttached() ? "OpenBLAS attached" : "built-in GEMM")
        + (blasProblem == null ? "" : " (" + blasProblem + ")"));
    String cuda = Sepconv.cudaUnavailableReason();
    out.println("cuda: " + (cuda == null ? "available" : cuda));
  }

  /** Depthwise 3x3 + BN + ReLU6, then pointwise 1x1 + BN, on MobileNetV2's 16x16x192 stage. */
  private static void demo(PrintStream out) {
    info(out);
    Random rng = new Random(42);
    int n = 64, c = 192, co = 64, hw = 16;
    Conv2dSpec dw = Conv2dSpec.of(n, c, hw, hw, c, 3).withPad(1).withGroups(c);
    Conv2dSpec pw = Conv2dSpec.of(n, c, hw, hw, co, 1);
    try (Tensor x = Tensor.rand(rng, n, c, hw, hw);
        Tensor w1 = Tensor.rand(rng, c, 1, 3, 3);
        Tensor w2 = Tensor.rand(rng, co, c, 1, 1);
        Tensor h1 = Tensor.zeros(n, c, hw, hw);
        Tensor h2 = Tensor.zeros(n, c, hw, hw);
        Tensor y = Tensor.zeros(n, co, hw, hw);
        Tensor ref = Tensor.zeros(n, co, hw, hw);
        Tensor mean = Tensor.zeros(c);
        Tensor invstd = Tensor.zeros(c);
        Tensor dh = Tensor.zeros(n, c, hw, hw);
        Tensor dw2 = Tensor.zeros(co, c, 1, 1)) {
      long t0 = System.nanoTime();
      Ops.conv2dForward(Exec.CPU, dw, x.buffer(), w1.buffer(), null, h1.buffer());
      Ops.batchNormForwardTraining(Exec.CPU, n, c, hw * hw, h1.buffer(), null, null, 1e-5f, 0.1f,
          null, null, mean.buffer(), invstd.buffer(), Activation.RELU6, h2.buffer());
      Ops.conv2dForward(Exec.CPU, pw, h2.buffer(), w2.buffer(), null, y.buffer());
      Ops.conv2dBackward(Exec.CPU, pw, Grad.INPUT | Grad.WEIGHT, h2.buffer(), w2.buffer(),
          y.buffer(), dh.buffer(), dw2.buffer(), null);
      long t1 = System.nanoTime();
      Ops.conv2dForward(Exec.CPU_REFERENCE, pw, h2.buffer(), w2.buffer(), null, ref.buffer());
      double err = 0, max = 0;
      var yb = y.buffer();
      var rb = ref.buffer();
      for (int i = 0; i < yb.capacity(); i++) {
        err = Math.max(err, Math.abs(yb.get(i) - rb.get(i)));
        max = Math.max(max, Math.abs(rb.get(i)));
      }
      out.printf(Locale.ROOT, "block %s -> %s: forward+backward %.2f ms, max rel. error vs reference %.2e%n",
          dw, pw, (t1 - t0) / 1e6, err / max);
    }
  }
}
