package org.sepconv.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.sepconv.Sepconv;
import org.sepconv.ops.Profiler;

/**
 * The training-step benchmark: images/s of MobileNetV2-cifar at batch 64 (JMH), then a
 * profiled run that splits the step into native op families and everything outside them
 * (autograd bookkeeping, allocation, JNI). Writes {@code train-step.md}.
 *
 * <pre>java -cp bench/target/benchmarks.jar org.sepconv.bench.TrainStepReport [--out DIR]</pre>
 */
public final class TrainStepReport {
  private TrainStepReport() {}

  public static void main(String[] args) throws Exception {
    Path out = Paths.get("bench", "results");
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--out")) out = Paths.get(args[++i]);
      else throw new IllegalArgumentException("unknown argument '" + args[i] + "' (use --out DIR)");
    }
    double ms = 0, msNoCache = 0;
    int batch = 0;
    java.util.Collection<RunResult> raw = new Runner(new OptionsBuilder().include(Pattern.quote(TrainStepBench.class.getName()) + ".*")
        .forks(0).warmupIterations(2).warmupTime(TimeValue.seconds(3)).measurementIterations(5)
        .measurementTime(TimeValue.seconds(4)).build()).run();
    java.nio.file.Files.createDirectories(out);
    CpuReport.writeJson(out.resolve("train-step-jmh.json"), raw); // JMH's raw JSON beside the report
    for (RunResult r : raw) {
      batch = Integer.parseInt(r.getParams().getParam("batch"));
      if (r.getParams().getParam("hostCache").equals("on")) ms = CpuReport.ms(r);
      else msNoCache = CpuReport.ms(r);
    }

    // profiled steps, timed by hand, on a fresh state
    TrainStepBench b = new TrainStepBench();
    b.batch = batch;
    b.setup();
    for (int i = 0; i < 3; i++) b.step();
    Profiler.reset();
    Profiler.enable(true);
    int steps = 10;
    long t0 = System.nanoTime();
    for (int i = 0; i < steps; i++) b.step();
    long wall = System.nanoTime() - t0;
    Profiler.enable(false);
    b.tearDown();

    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "MobileNetV2-cifar training step, batch %d, 32x32, %d threads, %s: "
        + "**%.1f ms/step, %.0f images/s** (JMH, mean of 5 x 4 s)%n%n", batch, Sepconv.numThreads(), Sepconv.isa(), ms, batch * 1e3 / ms));
    sb.append(String.format(Locale.ROOT, "Without the caching host allocator (every tensor from malloc, blocks over 32 MiB "
        + "mmapped and page-faulted each step), same run: %.1f ms/step, %.0f images/s; the cache gives %.2fx.%n%n",
        msNoCache, batch * 1e3 / msNoCache, msNoCache / ms));
    sb.append(String.format(Locale.ROOT, "Profile of %d further steps (%.1f ms/step by wall clock):%n%n| op family | ms/step | share | calls/step |%n|---|---:|---:|---:|%n",
        steps, wall / 1e6 / steps));
    long inside = 0;
    for (Map.Entry<String, long[]> e : Profiler.snapshot().entrySet()) {
      inside += e.getValue()[0];
      sb.append(String.format(Locale.ROOT, "| %s | %.2f | %.1f%% | %d |%n", e.getKey(), e.getValue()[0] / 1e6 / steps,
          100.0 * e.getValue()[0] / wall, e.getValue()[1] / steps));
    }
    sb.append(String.format(Locale.ROOT, "| **outside native ops** (autograd, allocation, JNI glue) | %.2f | %.1f%% | |%n",
        (wall - inside) / 1e6 / steps, 100.0 * (wall - inside) / wall));
    Files.createDirectories(out);
    CpuReport.writeAtomically(out.resolve("train-step.md"), sb.toString());
    System.out.println(sb);
  }
}
