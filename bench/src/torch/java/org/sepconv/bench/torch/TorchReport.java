package org.sepconv.bench.torch;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import org.sepconv.Sepconv;
import org.sepconv.autograd.F;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.bench.Alternation;
import org.sepconv.bench.Alternation.Contender;
import org.sepconv.bench.Alternation.Plan;
import org.sepconv.bench.Alternation.Samples;
import org.sepconv.bench.Roofline;
import org.sepconv.bench.Roofline.Machine;
import org.sepconv.bench.Shapes;
import org.sepconv.io.AtomicFile;
import org.sepconv.models.Models;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.Module;
import org.sepconv.nn.Trace;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.optim.SGD;
import org.sepconv.tensor.Tensor;

/**
 * sepconv against libtorch (through DJL's PyTorch engine) on the CPU, in one JVM, at the same
 * thread count: for MobileNetV1-cifar, MobileNetV2-cifar and ResNet18-cifar the training step
 * (forward, softmax cross-entropy, backward, SGD with momentum) and the eval-mode forward at
 * batch 64 in images/s, and the batch-1 forward's latency; then each distinct conv shape of
 * ResNet18-cifar and a handful of MobileNetV2-cifar's depthwise and pointwise ones at batch 64,
 * forward, backward-data and backward-weight. Every measurement alternates rounds of sepconv,
 * libtorch NCHW and libtorch channels_last ({@link Alternation}) and quotes medians, the
 * libtorch/sepconv time ratios, and each one's fraction of the roofline floor ({@link Roofline},
 * with the peak and bandwidth measured at the start of the run). Before timing a model, its
 * libtorch twin is loaded with sepconv's weights and the two must give the same logits on one
 * batch (relative error at most 1e-3, or the run fails). Writes {@code torch.md} and
 * {@code torch.csv} atomically into {@code bench/results} or {@code --out DIR}.
 *
 * <pre>java -cp bench/target/benchmarks.jar org.sepconv.bench.torch.TorchReport [--threads N] [--rounds N]
 *     [--models mobilenetv1,mobilenetv2,resnet18] [--sections train,infer,latency,ops] [--quick] [--out DIR]</pre>
 */
public final class TorchReport {
  private TorchReport() {}

  static final int BATCH = 64, CLASSES = 10, SIZE = 32;
  static final float LR = 0.01f, MU = 0.9f, WD = 5e-4f;
  static final double MAX_REL_ERR = 1e-3;
  static final List<String> MODELS = List.of("mobilenetv1", "mobilenetv2", "resnet18");
  static final List<String> SECTIONS = List.of("train", "infer", "latency", "ops");
  static final String SEPCONV = "sepconv";
  static final List<String> IMPLS = List.of(SEPCONV, TorchNet.Layout.NCHW.impl, TorchNet.Layout.CHANNELS_LAST.impl);

  record Options(int threads, int rounds, List<String> models, List<String> sections, boolean quick, Path out) {
    static Options parse(String[] args) {
      int threads = 2, rounds = 0;
      List<String> models = MODELS, sections = SECTIONS;
      boolean quick = false;
      Path out = Paths.get("bench", "results");
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        if (a.equals("--quick")) {
          quick = true;
          continue;
        }
        if (i + 1 >= args.length) throw new IllegalArgumentException(a + ": needs a value (or is unknown)");
        String v = args[++i];
        switch (a) {
          case "--threads" -> threads = positive(a, v);
          case "--rounds" -> rounds = positive(a, v);
          case "--models" -> models = subset(a, v, MODELS);
          case "--sections" -> sections = subset(a, v, SECTIONS);
          case "--out" -> out = Paths.get(v);
          default -> throw new IllegalArgumentException("unknown argument '" + a
              + "' (use --threads N, --rounds N, --models LIST, --sections LIST, --quick, --out DIR)");
        }
      }
      return new Options(threads, rounds, models, sections, quick, out);
    }

    private static int positive(String flag, String v) {
      try {
        int n = Integer.parseInt(v);
        if (n >= 1) return n;
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalArgumentException(flag + " must be an integer >= 1, got '" + v + "'");
    }

    private static List<String> subset(String flag, String v, List<String> all) {
      List<String> picked = Arrays.asList(v.split(","));
      for (String p : picked)
        if (!all.contains(p)) throw new IllegalArgumentException(flag + ": '" + p + "' is not one of " + all);
      return all.stream().filter(picked::contains).toList();
    }

    /** The plan of one section: --quick is one round of one timed call after one warm-up; --rounds overrides. */
    Plan plan(String section) {
      Plan p = quick ? new Plan(1, 1, 0, 1, 0) : switch (section) {
        case "train" -> new Plan(3, 1, 0.5, 2, 1.5);
        case "infer" -> new Plan(3, 1, 0.3, 3, 1.0);
        case "latency" -> new Plan(3, 3, 0.2, 10, 0.5);
        default -> new Plan(3, 1, 0.1, 2, 0.15);
      };
      return rounds > 0 ? p.withRounds(rounds) : p;
    }
  }

  /**
   * One measurement of one implementation; {@code flops} and {@code floor} are per call, {@code
   * others} the share of the machine's CPU time that other processes used meanwhile.
   */
  record Row(String section, String model, String shape, String family, String direction, String impl, int batch, Samples samples,
      double flops, double floorSeconds, double others) {
    double ms() {
      return samples.median() * 1e3;
    }

    double gflops() {
      return flops / samples.median() / 1e9;
    }

    double fractionOfFloor() {
      return floorSeconds / samples.median();
    }
  }

  public static void main(String[] args) throws Exception {
    Options o;
    try {
      o = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("TorchReport: " + e.getMessage());
      System.exit(2);
      return;
    }
    // libtorch from the jar only, never downloaded; DJL's CUDA probe warns on every CPU-only host
    System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
    System.setProperty("org.slf4j.simpleLogger.log.ai.djl.util.cuda", System.getProperty("org.slf4j.simpleLogger.log.ai.djl.util.cuda", "error"));
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
    // read by DJL when the engine starts: intra-op threads as sepconv's, one inter-op thread (nothing runs ops concurrently)
    System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(o.threads()));
    System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
    Sepconv.setNumThreads(o.threads());
    Engine engine = Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(o.threads());
    if (JniUtils.getNumThreads() != o.threads())
      throw new IllegalStateException("libtorch runs " + JniUtils.getNumThreads() + " intra-op threads, asked for " + o.threads());
    Machine machine = Machine.measure(o.threads());
    String header = header(o, args, machine, engine);
    System.out.println(header);

    List<Row> rows = new ArrayList<>();
    List<String> checks = new ArrayList<>();
    Files.createDirectories(o.out());
    for (String model : o.models()) {
      try (ModelRun run = new ModelRun(model, o, machine)) {
        checks.addAll(run.check());
        for (String section : o.sections()) rows.addAll(run.section(section));
      }
      write(o.out(), header, checks, rows, machine); // after each model, so that a cut run keeps what it measured
    }
    System.out.println(markdown(header, checks, rows, machine));
  }

  /** One model: sepconv's, its two libtorch twins, their inputs, and the sections over them. */
  private static final class ModelRun implements AutoCloseable {
    final String name;
    final Options o;
    final Machine machine;
    final Module sep;
    final NDManager manager = NDManager.newBaseManager();
    final Map<TorchNet.Layout, TorchNet> nets = new LinkedHashMap<>();
    final Map<TorchNet.Layout, PtNDArray[]> inputs = new LinkedHashMap<>(); // x, labels, x of batch 1
    final Tensor x, x1;
    final int[] labels;

    ModelRun(String name, Options o, Machine machine) {
      this.name = name;
      this.o = o;
      this.machine = machine;
      Random rng = new Random(1);
      sep = Models.create(name, "cifar", 1f, CLASSES, rng);
      x = Tensor.rand(rng, BATCH, 3, SIZE, SIZE);
      float[] xs = x.toArray();
      x1 = Tensor.of(Arrays.copyOf(xs, 3 * SIZE * SIZE), 1, 3, SIZE, SIZE);
      labels = new int[BATCH];
      for (int i = 0; i < BATCH; i++) labels[i] = rng.nextInt(CLASSES);
      // one training-mode forward, so that the running statistics are no longer 0 and 1 and
      // every BatchNorm's place shows in the eval logits compared below
      sep.train(true);
      try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open()) {
        sep.forward(Variable.leaf(x, false));
      }
      Map<String, Tensor> state = sep.stateDict();
      long[] ls = Arrays.stream(labels).asLongStream().toArray();
      for (TorchNet.Layout l : TorchNet.Layout.values()) {
        nets.put(l, new TorchNet(name, CLASSES, l, state, manager));
        inputs.put(l, new PtNDArray[] {TorchNet.create(manager, l, xs, BATCH, 3, SIZE, SIZE),
            (PtNDArray) manager.create(ls, new Shape(BATCH, 1)), TorchNet.create(manager, l, x1.toArray(), 1, 3, SIZE, SIZE)});
      }
    }

    String title() {
      return TorchReport.title(name);
    }

    /** Parameter counts, the layouts, and the eval logits of both twins against sepconv's; throws on a mismatch. */
    List<String> check() {
      List<String> out = new ArrayList<>();
      sep.eval();
      float[] ref;
      try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open()) {
        ref = sep.forward(Variable.leaf(x, false)).value().toArray();
      }
      StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "| %s | %,d |", title(), sep.parameterCount()));
      for (TorchNet net : nets.values()) {
        if (net.parameterCount() != sep.parameterCount())
          throw new IllegalStateException(title() + ": libtorch's twin has " + net.parameterCount() + " parameters, sepconv's "
              + sep.parameterCount());
        PtNDArray[] in = inputs.get(net.layout());
        String layout = net.checkLayout(in[0]);
        System.out.println(title() + ": " + layout);
        float[] got;
        try (PtNDArray logits = net.infer(in[0], manager)) {
          got = logits.toFloatArray();
        }
        double err = relativeError(got, ref);
        System.out.printf(Locale.ROOT, "%s: %s parameters %,d (sepconv %,d), eval logits max relative error %.2e%n", title(),
            net.layout().impl, net.parameterCount(), sep.parameterCount(), err);
        if (!(err <= MAX_REL_ERR))
          throw new IllegalStateException(String.format(Locale.ROOT, "%s: %s logits differ from sepconv's by %.3e (relative, "
              + "max |a - b| / max |b|), over %.0e: not the same network", title(), net.layout().impl, err, MAX_REL_ERR));
        line.append(String.format(Locale.ROOT, " %,d | %.1e |", net.parameterCount(), err));
      }
      out.add(line.toString());
      return out;
    }

    List<Row> section(String section) {
      return switch (section) {
        case "train" -> train();
        case "infer" -> infer("infer", BATCH);
        case "latency" -> infer("latency", 1);
        default -> ops();
      };
    }

    List<Row> train() {
      sep.train(true);
      Variable sx = Variable.leaf(x, false);
      try (SGD sgd = new SGD(sep.parameters(), LR, MU, 0, false, WD)) {
        List<Contender> cs = new ArrayList<>();
        cs.add(new Contender(SEPCONV, () -> {
          try (Scope s = Scope.open()) {
            F.crossEntropy(sep.forward(sx), labels, 0f).backward();
            sgd.step();
            sep.zeroGrad();
          }
        }));
        nets.forEach((l, net) -> cs.add(new Contender(l.impl, () -> net.trainStep(inputs.get(l)[0], inputs.get(l)[1], LR, MU, WD))));
        Roofline r = Roofline.training(sep, BATCH, 3, SIZE);
        return measure("train", "train-step", BATCH, cs, r.flops(), r.seconds(machine));
      }
    }

    List<Row> infer(String section, int batch) {
      sep.eval();
      Variable sx = Variable.leaf(batch == 1 ? x1 : x, false);
      List<Contender> cs = new ArrayList<>();
      cs.add(new Contender(SEPCONV, () -> {
        try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open()) {
          sep.forward(sx);
        }
      }));
      nets.forEach((l, net) -> cs.add(new Contender(l.impl, () -> net.infer(inputs.get(l)[batch == 1 ? 2 : 0], manager).close())));
      Roofline r = Roofline.inference(sep, batch, 3, SIZE);
      return measure(section, "forward-eval", batch, cs, r.flops(), r.seconds(machine));
    }

    private List<Row> measure(String section, String direction, int batch, List<Contender> cs, double flops, double floor) {
      List<Row> rows = new ArrayList<>();
      Measured m = measured(o.plan(section), cs);
      for (Samples s : m.samples()) {
        rows.add(new Row(section, name, batch + "x3x" + SIZE + "x" + SIZE, "model", direction, s.name(), batch, s, flops, floor, m.others()));
        System.out.printf(Locale.ROOT, "%s %s batch %d %s: %.2f ms (median of %d, min %.2f)%n", title(), section, batch, s.name(),
            s.median() * 1e3, s.n(), s.min() * 1e3);
      }
      return rows;
    }

    /**
     * The conv shapes timed per op, each with its family: every distinct one of ResNet18; of
     * MobileNetV2 the first depthwise conv at each input size and stride, and the first pointwise
     * conv at each input size.
     */
    Map<Conv2dSpec, String> opShapes() {
      Map<Conv2dSpec, String> out = new LinkedHashMap<>();
      if (name.equals("mobilenetv1")) return out;
      Map<String, Conv2dSpec> distinct = new LinkedHashMap<>();
      Map<String, String> families = new LinkedHashMap<>();
      Map<String, Integer> perKind = new LinkedHashMap<>();
      sep.eval();
      List<Trace.Call> calls;
      try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open(); Tensor in = Tensor.zeros(1, 3, SIZE, SIZE)) {
        calls = Trace.run(sep, Variable.leaf(in, false));
      }
      for (Trace.Call c : calls) {
        if (!(c.module() instanceof Conv2d conv)) continue;
        org.sepconv.tensor.Shape i = c.input();
        Conv2dSpec spec = Conv2dSpec.of(BATCH, i.get(1), i.get(2), i.get(3), conv.outChannels(), conv.kernel()).withStride(conv.stride())
            .withPad(conv.pad()).withDilation(conv.dilation()).withGroups(conv.groups());
        String family = Shapes.family(conv);
        if (name.equals("mobilenetv2")) {
          if (family.equals("dense")) continue;
          String kind = family + "@" + i.get(2) + (family.equals("depthwise") ? "/" + conv.stride() : "");
          if (perKind.merge(kind, 1, Integer::sum) > 1) continue;
        }
        distinct.putIfAbsent(spec.toString(), spec);
        families.putIfAbsent(spec.toString(), family);
      }
      distinct.forEach((id, spec) -> {
        if (!o.quick() || out.size() < 2) out.put(spec, families.get(id));
      });
      return out;
    }

    List<Row> ops() {
      List<Row> rows = new ArrayList<>();
      int k = 0;
      for (Map.Entry<Conv2dSpec, String> e : opShapes().entrySet()) {
        Conv2dSpec s = e.getKey();
        try (ConvTrials t = new ConvTrials(s, manager, 100 + k++)) {
          double flops = 2.0 * s.macs(), bytes = 4.0 * (s.inputSize() + s.weightSize() + s.outputSize());
          for (String dir : ConvTrials.DIRECTIONS) {
            Measured m = measured(o.plan("ops"), t.contenders(dir));
            for (Samples c : m.samples())
              rows.add(new Row("ops", name, s.toString(), e.getValue(), dir, c.name(), s.n, c, flops, machine.seconds(flops, bytes), m.others()));
            List<Row> last = rows.subList(rows.size() - IMPLS.size(), rows.size());
            System.out.printf(Locale.ROOT, "%s %s %s: %s%n", title(), s, dir, last.stream()
                .map(r -> String.format(Locale.ROOT, "%s %.2f ms", r.impl(), r.ms())).collect(Collectors.joining(", ")));
          }
        }
      }
      return rows;
    }

    @Override
    public void close() {
      nets.values().forEach(TorchNet::close);
      manager.close();
      sep.close();
      x.close();
      x1.close();
    }
  }

  /** Other processes may take at most this share of the CPUs while a measurement runs, or it is run again. */
  static final double MAX_OTHERS = 0.10;
  static final int ATTEMPTS = 3;
  static final double QUIET_WAIT_S = 60;

  /** A measurement's samples and the share of the CPUs other processes took meanwhile. */
  record Measured(List<Samples> samples, double others) {}

  /**
   * Runs {@code cs} under {@code plan} once the machine is quiet, and again (up to {@link
   * #ATTEMPTS} in all) while other processes took more than {@link #MAX_OTHERS} of the CPUs
   * meanwhile: libtorch's OpenMP threads spin at their barriers, so a job that takes one of the
   * cores slows libtorch far more than sepconv, and such a run says little about either. Keeps
   * the least disturbed attempt.
   */
  static Measured measured(Plan plan, List<Contender> cs) {
    Measured best = null;
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
      waitForQuiet();
      CpuShare start = CpuShare.now();
      List<Samples> s = Alternation.run(plan, cs);
      double others = CpuShare.now().othersSince(start);
      if (best == null || others < best.others()) best = new Measured(s, others);
      if (!(others > MAX_OTHERS)) break; // NaN: no /proc, nothing to go by
      System.out.printf(Locale.ROOT, "  other processes took %.0f%% of the CPUs meanwhile%s%n", 100 * others,
          attempt < ATTEMPTS ? "; measuring again" : "; keeping the least disturbed of " + ATTEMPTS);
    }
    return best;
  }

  /** Waits, up to {@link #QUIET_WAIT_S}, for half a second in which other processes take under half of {@link #MAX_OTHERS}. */
  private static void waitForQuiet() {
    long deadline = System.nanoTime() + (long) (QUIET_WAIT_S * 1e9);
    boolean said = false;
    while (System.nanoTime() < deadline) {
      CpuShare start = CpuShare.now();
      try {
        Thread.sleep(500);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      double others = CpuShare.now().othersSince(start);
      if (!(others >= MAX_OTHERS / 2)) return;
      if (!said) System.out.printf(Locale.ROOT, "  waiting for the machine: other processes take %.0f%% of the CPUs%n", 100 * others);
      said = true;
    }
  }

  /** max |a - b| / max |b|. */
  static double relativeError(float[] a, float[] b) {
    if (a.length != b.length) return Double.POSITIVE_INFINITY;
    double diff = 0, scale = 0;
    for (int i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs((double) a[i] - b[i]));
      scale = Math.max(scale, Math.abs((double) b[i]));
    }
    return diff / scale;
  }

  // ------------------------------------------------------------------ output

  private static String header(Options o, String[] args, Machine m, Engine engine) {
    String cpu = "unknown CPU";
    try {
      for (String l : Files.readAllLines(Paths.get("/proc/cpuinfo"), StandardCharsets.UTF_8))
        if (l.startsWith("model name")) {
          cpu = l.substring(l.indexOf(':') + 1).trim();
          break;
        }
    } catch (IOException e) {
      // not Linux: the CPU stays unnamed
    }
    return String.format(Locale.ROOT, "- Machine: %s, %d logical CPUs; **%d threads** for both (sepconv's pool%s; libtorch intra-op %d, "
        + "inter-op %d)%n- Ceilings measured in this run: FMA peak **%.1f GFLOP/s** on %d threads (%s), copy bandwidth **%.1f GB/s**%n"
        + "- sepconv %s (%s); libtorch %s through DJL %s (Java %s)%n- Date: %s; load average (1, 5, 15 min) at the start %s%n"
        + "- Command: `%s`%n",
        cpu, Runtime.getRuntime().availableProcessors(), o.threads(), Sepconv.blasAttached() ? " and OpenBLAS" : ", built-in GEMM",
        JniUtils.getNumThreads(), JniUtils.getNumInteropThreads(), m.peakGflops(), o.threads(), Sepconv.isa(), m.bandwidthGBs(),
        Sepconv.version(), Sepconv.blasAttached() ? "OpenBLAS sgemm attached" : "built-in GEMM", engine.getVersion(),
        Engine.getDjlVersion(), System.getProperty("java.version"),
        ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'")), loadAverage(), command(args));
  }

  /** The 1, 5 and 15 minute load averages: anything else running on the machine shows here. */
  private static String loadAverage() {
    try {
      String[] f = Files.readString(Paths.get("/proc/loadavg")).trim().split("\\s+");
      return f[0] + ", " + f[1] + ", " + f[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  /** The command line as typed, relative to the working directory, without the JVM's own path. */
  private static String command(String[] args) {
    List<String> parts = new ArrayList<>(List.of("java"));
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
      if (a.startsWith("-D") || a.startsWith("-X")) parts.add(a);
    Path cp = Paths.get(System.getProperty("java.class.path"));
    Path here = Paths.get("").toAbsolutePath();
    parts.add("-cp");
    parts.add(cp.isAbsolute() ? (cp.startsWith(here) ? here.relativize(cp) : cp.getFileName()).toString() : cp.toString());
    parts.add(TorchReport.class.getName());
    parts.addAll(List.of(args));
    return String.join(" ", parts);
  }

  private static void write(Path dir, String header, List<String> checks, List<Row> rows, Machine m) {
    AtomicFile.write(dir.resolve("torch.md"), markdown(header, checks, rows, m).getBytes(StandardCharsets.UTF_8));
    AtomicFile.write(dir.resolve("torch.csv"), csv(rows, m).getBytes(StandardCharsets.UTF_8));
  }

  /** The rows of one measurement (a model section, or one op shape and direction), by implementation. */
  private static Map<String, Map<String, Row>> grouped(List<Row> rows) {
    Map<String, Map<String, Row>> g = new LinkedHashMap<>();
    for (Row r : rows) g.computeIfAbsent(r.section() + " " + r.model() + " " + r.shape() + " " + r.direction(), k -> new LinkedHashMap<>()).put(r.impl(), r);
    return g;
  }

  /** The faster libtorch layout of one measurement. */
  private static Row bestTorch(Map<String, Row> byImpl) {
    Row a = byImpl.get(IMPLS.get(1)), b = byImpl.get(IMPLS.get(2));
    return a == null ? b : b == null || a.ms() <= b.ms() ? a : b;
  }

  static String csv(List<Row> rows, Machine m) {
    StringBuilder sb = new StringBuilder("section,model,shape,family,direction,impl,batch,calls,median_ms,min_ms,images_per_s,gflops,"
        + "pct_peak,floor_ms,fraction_of_floor,time_vs_sepconv,others_cpu_pct\n");
    for (Map<String, Row> byImpl : grouped(rows).values()) {
      Row sep = byImpl.get(SEPCONV);
      for (Row r : byImpl.values())
        sb.append(String.format(Locale.ROOT, "%s,%s,%s,%s,%s,%s,%d,%d,%.4f,%.4f,%.1f,%.2f,%.2f,%.4f,%.4f,%s,%.1f%n", r.section(), r.model(),
            r.shape(), r.family(), r.direction(), r.impl(), r.batch(), r.samples().n(), r.ms(), r.samples().min() * 1e3,
            r.section().equals("ops") ? Double.NaN : r.batch() / r.samples().median(), r.gflops(), 100 * r.gflops() / m.peakGflops(),
            r.floorSeconds() * 1e3, r.fractionOfFloor(), sep == null ? "" : String.format(Locale.ROOT, "%.3f", r.ms() / sep.ms()),
            100 * r.others()));
    }
    return sb.toString();
  }

  static String markdown(String header, List<String> checks, List<Row> rows, Machine m) {
    StringBuilder sb = new StringBuilder("# sepconv against libtorch on the CPU\n\n").append(header)
        .append("- Load average when this file was written: ").append(loadAverage()).append('\n');
    sb.append("\nEach number is a median over alternating rounds of sepconv, libtorch NCHW and libtorch channels_last in one JVM "
        + "(bench/README.md, \"libtorch baseline\"). Ratios are libtorch's time over sepconv's: above 1, sepconv is faster.\n");
    sb.append("\n## The same network\n\nlibtorch's twin of each model is filled with sepconv's weights and running statistics; "
        + "eval-mode logits on the timed batch of 64, max |torch - sepconv| / max |sepconv|:\n\n"
        + "| model | sepconv parameters | torch NCHW parameters | logits error | torch channels_last parameters | logits error |\n"
        + "|---|---:|---:|---:|---:|---:|\n");
    checks.forEach(c -> sb.append(c).append('\n'));
    Map<String, Map<String, Row>> g = grouped(rows);
    sb.append("\n## Models\n\nTraining step (forward, cross-entropy, backward, SGD momentum 0.9, weight decay 5e-4) and eval "
        + "forward at batch 64 in images/s, eval forward at batch 1 in ms; the floor is Roofline's for that step on this "
        + "machine, and \"of floor\" the floor over the median time (1 would be the ceiling); \"others\" is the share of the "
        + "machine's CPU time that other processes took while it was measured.\n\n"
        + "| model | measure | sepconv | torch NCHW | torch channels_last | torch's best | NCHW / sepconv | channels_last / sepconv "
        + "| floor ms | sepconv of floor | torch's best of floor | others |\n|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
    String lastModel = "";
    for (Map<String, Row> byImpl : g.values()) {
      Row sep = byImpl.get(SEPCONV);
      if (sep == null || sep.section().equals("ops")) continue;
      Row nchw = byImpl.get(IMPLS.get(1)), cl = byImpl.get(IMPLS.get(2)), best = bestTorch(byImpl);
      boolean latency = sep.section().equals("latency");
      String measure = switch (sep.section()) {
        case "train" -> "training, img/s";
        case "infer" -> "inference, img/s";
        default -> "latency, ms (batch 1)";
      };
      String model = title(sep.model());
      sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.3f | %s | %.0f%% |%n",
          model.equals(lastModel) ? "" : model, measure, value(sep, latency), value(nchw, latency), value(cl, latency),
          best == null ? "-" : best == nchw ? "NCHW" : "channels_last", ratio(nchw, sep), ratio(cl, sep), sep.floorSeconds() * 1e3,
          sep.fractionOfFloor(), best == null ? "-" : String.format(Locale.ROOT, "%.3f", best.fractionOfFloor()), 100 * sep.others()));
      lastModel = model;
    }
    sb.append(String.format(Locale.ROOT, "%n## Conv layers, batch 64%n%nEach distinct conv shape of ResNet18-cifar, and of MobileNetV2-cifar "
        + "the first depthwise conv at each input size and stride and the first pointwise conv at each input size; shape `NxCxHxW/k/stride/groups[->cOut]`. "
        + "GFLOP/s is 2·MACs over the median time, %% peak against the measured %.1f GFLOP/s; libtorch's backward is its "
        + "autograd's, the forward that built the graph not timed.%n%n"
        + "| model | shape | family | direction | sepconv ms | GFLOP/s | %% peak | torch NCHW ms | torch channels_last ms "
        + "| torch's best GFLOP/s | %% peak | NCHW / sepconv | channels_last / sepconv | others |%n"
        + "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|%n", m.peakGflops()));
    lastModel = "";
    String lastShape = "";
    for (Map<String, Row> byImpl : g.values()) {
      Row sep = byImpl.get(SEPCONV);
      if (sep == null || !sep.section().equals("ops")) continue;
      Row nchw = byImpl.get(IMPLS.get(1)), cl = byImpl.get(IMPLS.get(2)), best = bestTorch(byImpl);
      String model = title(sep.model());
      boolean sameShape = sep.shape().equals(lastShape);
      sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %.3f | %.1f | %.0f%% | %s | %s | %s | %s | %s | %s | %.0f%% |%n",
          model.equals(lastModel) ? "" : model, sameShape ? "" : "`" + sep.shape() + "`", sameShape ? "" : sep.family(),
          sep.direction(), sep.ms(), sep.gflops(), 100 * sep.gflops() / m.peakGflops(), ms(nchw), ms(cl),
          best == null ? "-" : String.format(Locale.ROOT, "%.1f", best.gflops()),
          best == null ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * best.gflops() / m.peakGflops()), ratio(nchw, sep), ratio(cl, sep),
          100 * sep.others()));
      lastModel = model;
      lastShape = sep.shape();
    }
    return sb.toString();
  }

  private static String title(String model) {
    return switch (model) {
      case "mobilenetv1" -> "MobileNetV1-cifar";
      case "mobilenetv2" -> "MobileNetV2-cifar";
      default -> "ResNet18-cifar";
    };
  }

  private static String value(Row r, boolean latency) {
    if (r == null) return "-";
    return latency ? String.format(Locale.ROOT, "%.2f", r.ms()) : String.format(Locale.ROOT, "%.1f", r.batch() / r.samples().median());
  }

  private static String ms(Row r) {
    return r == null ? "-" : String.format(Locale.ROOT, "%.3f", r.ms());
  }

  private static String ratio(Row torch, Row sep) {
    return torch == null ? "-" : String.format(Locale.ROOT, "%.2fx", torch.ms() / sep.ms());
  }
}
