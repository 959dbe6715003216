package org.sepconv.bench;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.sepconv.Sepconv;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.models.Folded;
import org.sepconv.models.MobileNetV1;
import org.sepconv.models.MobileNetV2;
import org.sepconv.models.ResNet18;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Module;
import org.sepconv.ops.Profiler;
import org.sepconv.tensor.Tensor;

/**
 * Inference of the BN-folded models ({@link Folded}: conv + bias + activation in one pass, one
 * fused call per MobileNet block) against the same models in eval mode (conv, then BN with its
 * activation, block by block), for MobileNetV1-, MobileNetV2- and ResNet18-cifar on 32x32 inputs:
 * images/s at batch 64 and the latency of one image. Both forms of a model run side by side,
 * alternating sample by sample (the order flipped every round), so that a shared machine's drift
 * reaches both alike; each sample repeats the forward until it has run {@code --sample-s}
 * seconds and keeps its median forward, and the table gives the median of {@code --rounds}
 * samples with their range, and the speedup of the medians and of the best samples. Batch 1
 * runs on {@code --latency-threads} threads (1: on a shared machine a parallel op of a few
 * microseconds waits for whichever worker the scheduler parked). Then a
 * per-op profile of each model at batch 64, unfused and folded, and the largest relative
 * difference of their logits. Writes {@code folded.md} atomically.
 *
 * <pre>java -cp bench/target/benchmarks.jar org.sepconv.bench.FoldedReport [--out DIR] [--rounds N] [--sample-s S]
 *     [--threads N] [--latency-threads N]</pre>
 *
 * It is timed by hand rather than by JMH because JMH runs its parameters one after the other,
 * and the point here is the ratio measured in the same minutes.
 */
public final class FoldedReport {
  private FoldedReport() {}

  /** One way of running one model: unfused eval, or folded. */
  private record Impl(String name, Module module) {}

  public static void main(String[] args) throws Exception {
    Path out = Paths.get("bench", "results");
    int rounds = 15, latencyThreads = 1;
    double sampleS = 0.3;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--out" -> out = Paths.get(args[++i]);
        case "--rounds" -> rounds = Integer.parseInt(args[++i]);
        case "--sample-s" -> sampleS = Double.parseDouble(args[++i]);
        case "--threads" -> Sepconv.setNumThreads(Integer.parseInt(args[++i]));
        case "--latency-threads" -> latencyThreads = Integer.parseInt(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument '" + args[i]
            + "' (use --out DIR, --rounds N, --sample-s S, --threads N, --latency-threads N)");
      }
    }
    Random rng = new Random(7);
    Map<String, Module> models = new LinkedHashMap<>();
    models.put("MobileNetV1-cifar", MobileNetV1.cifar(10, 1f, rng));
    models.put("MobileNetV2-cifar", MobileNetV2.cifar(10, 1f, rng));
    models.put("ResNet18-cifar", ResNet18.cifar(10, rng));
    int[] batches = {64, 1};
    Map<String, Impl[]> impls = new LinkedHashMap<>();
    Map<String, Tensor> inputs = new LinkedHashMap<>();
    for (Map.Entry<String, Module> m : models.entrySet()) {
      randomStatistics(m.getValue(), rng);
      m.getValue().eval();
      impls.put(m.getKey(), new Impl[] {new Impl("unfused", m.getValue()), new Impl("folded", Folded.of(m.getValue()))});
      for (int b : batches) inputs.put(m.getKey() + "/" + b, Tensor.rand(rng, b, 3, 32, 32));
    }
    double load0 = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    final int threads = Sepconv.numThreads(), latency = latencyThreads;
    java.util.function.IntConsumer threadsFor = b -> Sepconv.setNumThreads(b == 1 ? latency : threads);

    // warm-up, then the alternating rounds: samples[model/batch/impl] = seconds per forward
    Map<String, double[]> samples = new LinkedHashMap<>();
    for (String m : models.keySet())
      for (int b : batches)
        for (Impl impl : impls.get(m)) {
          threadsFor.accept(b);
          forward(impl.module(), inputs.get(m + "/" + b));
          forward(impl.module(), inputs.get(m + "/" + b));
          samples.put(m + "/" + b + "/" + impl.name(), new double[rounds]);
        }
    for (int r = 0; r < rounds; r++)
      for (String m : models.keySet())
        for (int b : batches)
          for (int k = 0; k < 2; k++) {
            Impl impl = impls.get(m)[(k + r) % 2];
            threadsFor.accept(b);
            samples.get(m + "/" + b + "/" + impl.name())[r] = sample(impl.module(), inputs.get(m + "/" + b), sampleS);
          }
    double load1 = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    Sepconv.setNumThreads(threads);

    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "# Folded vs unfused inference (CPU)%n%n"
        + "Produced by `java -cp bench/target/benchmarks.jar org.sepconv.bench.FoldedReport%s` "
        + "(after `mvn -B -q package -DskipTests`): %s, %d threads at batch 64 and %d at batch 1, %d alternating rounds "
        + "per configuration; load average %.2f before, %.2f after (the machine is shared).%n%n",
        args.length == 0 ? "" : " " + String.join(" ", args), Sepconv.isa(), threads, latency, rounds, load0, load1));
    sb.append("Unfused: the model in eval mode under no-grad (conv, then BN fused with its activation, per layer). "
        + "Folded: `Folded.of(model)`, every BN folded into its conv; conv + bias + activation in one pass, each "
        + "MobileNet block (expansion, depthwise, projection, shortcut) one `dwpw_forward` per tile of rows; ResNet18's "
        + "blocks as two fused convs, the shortcut, add and ReLU. Random weights and BN statistics, 32x32 inputs.\n\n");
    sb.append("| model | batch | unfused | folded | speedup (medians) | speedup (best samples) |\n"
        + "|---|---:|---:|---:|---:|---:|\n");
    for (String m : models.keySet())
      for (int b : batches) {
        double[] u = samples.get(m + "/" + b + "/unfused"), f = samples.get(m + "/" + b + "/folded");
        sb.append(String.format(Locale.ROOT, "| %s | %d | %s | %s | %.2fx | %.2fx |%n", m, b, rate(u, b), rate(f, b),
            median(u) / median(f), Arrays.stream(u).min().getAsDouble() / Arrays.stream(f).min().getAsDouble()));
      }
    sb.append("\nBatch 64: images/s; batch 1: ms per image (latency). A sample is the median forward of >= "
        + sampleS + " s of forwards; the columns give the median sample [best .. worst].\n\n");

    // where the time goes, and the check that both compute the same logits
    sb.append("Profile of one batch-64 forward of each (ms per op family, after the timed rounds; one forward, so as "
        + "noisy as the machine):\n\n");
    for (String m : models.keySet()) {
      Tensor x = inputs.get(m + "/64");
      List<Map<String, long[]>> profiles = new ArrayList<>();
      float[][] logits = new float[2][];
      for (int i = 0; i < 2; i++) {
        Module impl = impls.get(m)[i].module();
        forward(impl, x);
        Profiler.reset();
        Profiler.enable(true);
        logits[i] = forward(impl, x);
        Profiler.enable(false);
        profiles.add(Profiler.snapshot());
      }
      sb.append(String.format(Locale.ROOT, "%s (logits: max |folded - unfused| / max |unfused| = %.1e):%n%n", m,
          relDiff(logits[1], logits[0])));
      sb.append("| op family | unfused ms | calls | folded ms | calls |\n|---|---:|---:|---:|---:|\n");
      List<String> families = new ArrayList<>(profiles.get(0).keySet());
      for (String k : profiles.get(1).keySet()) if (!families.contains(k)) families.add(k);
      for (String k : families) {
        long[] u = profiles.get(0).getOrDefault(k, new long[2]), f = profiles.get(1).getOrDefault(k, new long[2]);
        sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s |%n", k, ms(u), u[1] == 0 ? "" : u[1], ms(f),
            f[1] == 0 ? "" : f[1]));
      }
      sb.append('\n');
    }
    Files.createDirectories(out);
    CpuReport.writeAtomically(out.resolve("folded.md"), sb.toString());
    System.out.print(sb);
    for (Impl[] i : impls.values()) i[1].module().close();
    for (Module m : models.values()) m.close();
    for (Tensor t : inputs.values()) t.close();
  }

  /** Random gamma and beta, running mean in [-0.2, 0.2) and variance in [0.5, 1.5): no BN is an identity. */
  private static void randomStatistics(Module m, Random rng) {
    for (Module c : m.children().values()) randomStatistics(c, rng);
    if (m instanceof BatchNorm2d bn) {
      for (int i = 0; i < bn.channels(); i++) {
        bn.weight().value().buffer().put(i, 0.5f + rng.nextFloat());
        bn.bias().value().buffer().put(i, rng.nextFloat() - 0.5f);
        bn.runningMean().buffer().put(i, 0.4f * rng.nextFloat() - 0.2f);
        bn.runningVar().buffer().put(i, 0.5f + rng.nextFloat());
      }
    }
  }

  /** One forward; the logits come to the host (what an inference returns). */
  private static float[] forward(Module m, Tensor x) {
    try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open()) {
      return m.forward(Variable.leaf(x, false)).value().toArray();
    }
  }

  /**
   * Seconds per forward: the median forward of a sample that repeats it until {@code seconds}
   * have passed (the median, not the mean: a forward the other work on a shared machine
   * descheduled does not move it).
   */
  private static double sample(Module m, Tensor x, double seconds) {
    long end = System.nanoTime() + (long) (seconds * 1e9), t;
    List<Double> times = new ArrayList<>();
    do {
      long t0 = System.nanoTime();
      forward(m, x);
      t = System.nanoTime();
      times.add((t - t0) / 1e9);
    } while (t < end || times.size() < 3);
    return median(times.stream().mapToDouble(Double::doubleValue).toArray());
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  /** Batch 1: ms per image; else images/s; the median with the range. */
  private static String rate(double[] seconds, int batch) {
    double[] s = seconds.clone();
    Arrays.sort(s);
    if (batch == 1)
      return String.format(Locale.ROOT, "%.2f ms [%.2f .. %.2f]", 1e3 * median(s), 1e3 * s[0], 1e3 * s[s.length - 1]);
    return String.format(Locale.ROOT, "%.0f img/s [%.0f .. %.0f]", batch / median(s), batch / s[s.length - 1], batch / s[0]);
  }

  private static String ms(long[] p) {
    return p[1] == 0 ? "" : String.format(Locale.ROOT, "%.2f", p[0] / 1e6);
  }

  private static double relDiff(float[] a, float[] ref) {
    double err = 0, max = 0;
    for (int i = 0; i < a.length; i++) {
      err = Math.max(err, Math.abs((double) a[i] - ref[i]));
      max = Math.max(max, Math.abs(ref[i]));
    }
    return err / max;
  }
}
