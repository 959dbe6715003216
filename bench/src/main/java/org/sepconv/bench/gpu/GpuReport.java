package org.sepconv.bench.gpu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.nativeapi.SepconvNative;
import org.sepconv.ops.Activation;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.ops.Grad;
import org.sepconv.ops.Ops;

/**
 * sepconv's CUDA kernels against cuDNN, side by side in one process on one stream, over every
 * distinct conv and BatchNorm layer of the benchmarked models ({@link GpuShapes}), in fp32 and
 * tf32, forward and both backward directions. Writes {@code gpu-<gpu>.csv}
 * ({@code op,direction,shape,impl,ms,gflops,gbps,fraction_of_floor}), {@code gpu-<gpu>.md}
 * (tables) and {@code gpu-<gpu>.png} (geometric-mean speedups) into {@code bench/results} or
 * {@code --out DIR}, rewriting them after every shape so a run cut short keeps what it measured.
 *
 * <p>Not JMH: the work is asynchronous on the device, so a host clock around each call (what
 * JMH measures) would time launches and synchronisation; CUDA events on the stream time the
 * device. Rigor is JMH's otherwise: warm-up runs, then repeated timed runs, the median.
 * {@code fraction_of_floor} is the roofline floor (the larger of FLOPs over the cuBLAS sgemm
 * rate of that precision and compulsory bytes over the device-to-device copy bandwidth, both
 * measured at the start of the same run) over the measured time. After timing, each shape
 * runs once more on NaN-poisoned outputs and sepconv's results are compared with cuDNN fp32's.
 *
 * <p>Without a GPU, a CUDA runtime, cuDNN or sepconv's CUDA backend, it says which is missing,
 * skips what needs it, and exits 0.
 *
 * <pre>java -cp ... org.sepconv.bench.gpu.GpuReport [--list] [--quick] [--models SUBSTR]
 *     [--filter REGEX] [--ops conv,bn] [--precision fp32,tf32] [--budget-s S] [--gpu NAME] [--out DIR]</pre>
 */
public final class GpuReport {
  record Row(String op, String direction, String shape, String impl, double ms, double gflops, double gbps, double fraction) {}

  private static final float EPS = 1e-5f, MOMENTUM = 0.1f;

  private final List<Row> rows = new ArrayList<>();
  private final Map<String, String> usedBy = new LinkedHashMap<>();
  private final List<String> precisions;
  private final int warmup, reps;
  private Gpu gpu;
  private Cudnn cudnn;
  private boolean ours;
  private double bandwidth;
  private final Map<String, Double> peak = new LinkedHashMap<>();
  private int failures, mismatches;

  private GpuReport(List<String> precisions, boolean quick) {
    this.precisions = precisions;
    warmup = quick ? 2 : 5;
    reps = quick ? 7 : 25;
  }

  public static void main(String[] args) throws Exception {
    System.setProperty("java.awt.headless", "true");
    boolean quick = false, list = false;
    String models = "", filter = ".*", ops = "conv,bn", precision = "fp32,tf32", gpuName = null;
    double budget = 480;
    Path out = Paths.get("bench", "results");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick": quick = true; break;
        case "--list": list = true; break;
        case "--models": models = args[++i]; break;
        case "--filter": filter = args[++i]; break;
        case "--ops": ops = args[++i]; break;
        case "--precision": precision = args[++i]; break;
        case "--budget-s": budget = Double.parseDouble(args[++i]); break;
        case "--gpu": gpuName = args[++i]; break;
        case "--out": out = Paths.get(args[++i]); break;
        default: throw new IllegalArgumentException("unknown argument '" + args[i]
            + "' (use --list, --quick, --models SUBSTR, --filter REGEX, --ops conv,bn, --precision fp32,tf32, --budget-s S, --gpu NAME, --out DIR)");
      }
    }
    long t0 = System.nanoTime();
    Pattern keep = Pattern.compile(filter);
    GpuShapes.Layers layers = GpuShapes.derive(models);
    List<GpuShapes.Conv> convs = new ArrayList<>();
    List<GpuShapes.Bn> bns = new ArrayList<>();
    if (ops.contains("conv")) for (GpuShapes.Conv c : layers.convs()) if (keep.matcher(c.id()).find()) convs.add(c);
    if (ops.contains("bn")) for (GpuShapes.Bn b : layers.bns()) if (keep.matcher(b.id()).find()) bns.add(b);
    System.out.printf("%d conv shapes, %d bn shapes selected%n", convs.size(), bns.size());
    if (list) {
      for (GpuShapes.Conv c : convs) System.out.printf("conv %-10s %-28s %s%n", c.family(), c.id(), c.models());
      for (GpuShapes.Bn b : bns) System.out.printf("bn   %-10s %-28s %s%n", "", b.id(), b.models());
      return;
    }

    String noGpu = Gpu.unavailable();
    if (noGpu != null) {
      System.out.println("GPU benchmarks skipped: " + noGpu);
      return;
    }
    String noCudnn = Cudnn.unavailable(), noOurs = sepconvUnavailable();
    if (noCudnn != null) System.out.println("cuDNN baselines skipped: " + noCudnn);
    if (noOurs != null) System.out.println("sepconv rows skipped: " + noOurs);
    if (noCudnn != null && noOurs != null) {
      System.out.println("GPU benchmarks skipped: neither cuDNN nor sepconv's CUDA backend is usable");
      return;
    }
    GpuReport r = new GpuReport(List.of(precision.split(",")), quick);
    int status = r.run(noOurs == null, noCudnn == null, convs, bns, out, gpuName, budget, t0);
    System.exit(status);
  }

  private int run(boolean withOurs, boolean withCudnn, List<GpuShapes.Conv> convs, List<GpuShapes.Bn> bns, Path out,
                  String gpuName, double budget, long t0) throws Exception {
    ours = withOurs;
    gpu = new Gpu(ours ? sepconvStream() : null);
    String slug = gpuName != null ? gpuName : slug(gpu.name);
    Files.createDirectories(out);
    Path csv = out.resolve("gpu-" + slug + ".csv"), md = out.resolve("gpu-" + slug + ".md"), png = out.resolve("gpu-" + slug + ".png");
    try {
      if (withCudnn) cudnn = new Cudnn(gpu, 1L << 30);
      bandwidth = gpu.copyBandwidth();
      rows.add(new Row("memcpy", "device-to-device", "1GiB", "cudart", 2.0 * (1L << 30) / bandwidth / 1e6, 0, bandwidth, 1));
      for (String p : precisions) {
        double rate = Double.NaN;
        try {
          rate = gpu.sgemmRate(p.equals("tf32"));
          rows.add(new Row("sgemm", "forward", "8192x8192x8192", "cublas-" + p, 2.0 * Math.pow(8192, 3) / rate / 1e6, rate, 0, 1));
        } catch (Throwable t) {
          System.out.println("cuBLAS " + p + " ceiling not measured (floors use bandwidth alone): " + t);
        }
        peak.put(p, rate);
      }
      System.out.println(header());
      int done = 0, total = convs.size() + bns.size();
      for (Object layer : concat(convs, bns)) {
        if ((System.nanoTime() - t0) / 1e9 > budget) {
          System.out.printf("time budget of %.0f s reached: %d of %d shapes measured%n", budget, done, total);
          break;
        }
        try {
          if (layer instanceof GpuShapes.Conv c) conv(c);
          else bn((GpuShapes.Bn) layer);
        } catch (RuntimeException e) {
          failures++;
          System.out.println("  FAILED: " + e);
          gpu.synchronize(); // a sticky device error ends the run here
        }
        done++;
        write(csv, md);
      }
    } finally {
      write(csv, md);
      chart(png);
      if (cudnn != null) cudnn.close();
      gpu.close();
    }
    System.out.printf("wrote %s, %s, %s; %d failures, %d mismatches%n", csv, md, png, failures, mismatches);
    return failures + mismatches == 0 ? 0 : 1;
  }

  /** Why sepconv's CUDA ops cannot be benchmarked here, or null if they can. */
  private static String sepconvUnavailable() {
    try {
      NativeLib.ensureLoaded();
      return SepconvNative.sepconv_cuda_available() == SepconvNative.OK ? null : "sepconv: " + NativeLib.lastError();
    } catch (Throwable t) {
      return "sepconv's native library could not be loaded: " + t;
    }
  }

  /** sepconv's one stream: its kernels do not synchronise with the legacy default stream, so the events go there. */
  private static CUstream_st sepconvStream() {
    try (PointerPointer<Pointer> out = new PointerPointer<>(1)) {
      NativeLib.check(SepconvNative.sepconv_cuda_stream(out));
      return new CUstream_st(out.get(0));
    }
  }

  private static void setTf32(boolean on) {
    NativeLib.check(SepconvNative.sepconv_cuda_set_tf32(on ? 1 : 0));
  }

  private static List<Object> concat(List<?> a, List<?> b) {
    List<Object> l = new ArrayList<>(a);
    l.addAll(b);
    return l;
  }

  /** "NVIDIA H100 80GB HBM3" -> "h100": what bench/gpu/run.sh derives from nvidia-smi too. */
  static String slug(String deviceName) {
    String[] words = deviceName.replaceFirst("(?i)^nvidia\\s+", "").trim().split("\\s+");
    String s = words[0].toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "");
    return s.isEmpty() ? "gpu" : s;
  }

  private String header() {
    return String.format(Locale.ROOT, "%s (sm_%d%d), driver %d, runtime %d, cuDNN %s; stream: %s; copy %.0f GB/s; sgemm %s GFLOP/s",
        gpu.name, gpu.major, gpu.minor, gpu.driverVersion, gpu.runtimeVersion, cudnn == null ? "-" : "" + cudnn.version,
        ours ? "sepconv's" : "the report's own", bandwidth, peak.toString());
  }

  private double floorMs(double flops, double bytes, String precision) {
    double rate = peak.getOrDefault(precision, Double.NaN);
    double compute = Double.isNaN(rate) ? 0 : flops / rate / 1e6;
    return Math.max(compute, bytes / bandwidth / 1e6);
  }

  /** Times one case and records its row; an unsupported or failing case is reported and skipped. */
  private void measure(String op, String dir, String shape, String impl, double flops, double bytes, Runnable run) {
    try {
      double ms = gpu.time(run, warmup, reps);
      String precision = impl.substring(impl.indexOf('-') + 1);
      rows.add(new Row(op, dir, shape, impl, ms, flops / ms / 1e6, bytes / ms / 1e6, floorMs(flops, bytes, precision) / ms));
    } catch (UnsupportedOperationException | IllegalArgumentException e) {
      System.out.printf("  %s %s %s skipped: %s%n", op, dir, impl, e.getMessage());
    }
  }

  private void conv(GpuShapes.Conv c) {
    Conv2dSpec s = c.spec();
    String id = c.id(), op = c.family();
    usedBy.put(id, String.join(" ", c.models()));
    long xs = s.inputSize(), ws = s.weightSize(), ys = s.outputSize();
    double flops = 2.0 * s.macs(), bytes = 4.0 * (xs + ws + ys);
    List<Cudnn.Conv> plans = new ArrayList<>();
    try (Gpu.Buffers b = new Gpu.Buffers(ours)) {
      Gpu.Buf x = b.alloc(xs), w = b.alloc(ws), dy = b.alloc(ys), y = b.alloc(ys), dx = b.alloc(xs), dw = b.alloc(ws);
      gpu.fillRandom(x.p(), xs);
      gpu.fillRandom(w.p(), ws);
      gpu.fillRandom(dy.p(), ys);
      StringBuilder log = new StringBuilder(String.format(Locale.ROOT, "%-10s %-28s", op, id));
      for (String p : precisions) {
        boolean tf32 = p.equals("tf32");
        if (cudnn != null) {
          Cudnn.Conv plan = cudnn.new Conv(s, tf32);
          plans.add(plan);
          try {
            plan.find(x.p(), w.p(), y.p(), dy.p(), dx.p(), dw.p());
            log.append(" cudnn-").append(p).append(" algos ").append(plan.algos()).append(';');
            measure(op, "forward", id, "cudnn-" + p, flops, bytes, () -> plan.forward(x.p(), w.p(), y.p()));
            measure(op, "backward-data", id, "cudnn-" + p, flops, bytes, () -> plan.backwardData(w.p(), dy.p(), dx.p()));
            measure(op, "backward-weight", id, "cudnn-" + p, flops, bytes, () -> plan.backwardFilter(x.p(), dy.p(), dw.p()));
          } catch (IllegalStateException e) { // sepconv is still measured; a sticky device error fails it too
            failures++;
            plans.remove(plan);
            plan.destroy();
            log.append(" cudnn-").append(p).append(" FAILED: ").append(e.getMessage()).append(';');
          }
        }
        if (ours) {
          setTf32(tf32);
          measure(op, "forward", id, "sepconv-" + p, flops, bytes, () -> Ops.conv2dForward(s, x.t(), w.t(), null, y.t()));
          measure(op, "backward-data", id, "sepconv-" + p, flops, bytes,
              () -> Ops.conv2dBackward(s, Grad.INPUT, null, w.t(), dy.t(), dx.t(), null, null));
          measure(op, "backward-weight", id, "sepconv-" + p, flops, bytes,
              () -> Ops.conv2dBackward(s, Grad.WEIGHT, x.t(), null, dy.t(), null, dw.t(), null));
        }
      }
      System.out.println(log);
      Cudnn.Conv ref = plans.stream().filter(pl -> !pl.tf32).findFirst().orElse(null);
      if (ours && ref != null) {
        FloatPointer yr = b.alloc(ys).p(), dxr = b.alloc(xs).p(), dwr = b.alloc(ws).p();
        poison(yr, ys, dxr, xs, dwr, ws);
        ref.forward(x.p(), w.p(), yr);
        ref.backwardData(w.p(), dy.p(), dxr);
        ref.backwardFilter(x.p(), dy.p(), dwr);
        for (String p : precisions) {
          setTf32(p.equals("tf32"));
          poison(y.p(), ys, dx.p(), xs, null, 0);
          gpu.memset(dw.p(), ws, 0); // dw accumulates
          try {
            Ops.conv2dForward(s, x.t(), w.t(), null, y.t());
            Ops.conv2dBackward(s, Grad.INPUT | Grad.WEIGHT, x.t(), w.t(), dy.t(), dx.t(), dw.t(), null);
          } catch (UnsupportedOperationException e) {
            continue;
          }
          compare(id + " sepconv-" + p, p, new String[] {"forward", "backward-data", "backward-weight"},
              new FloatPointer[] {y.p(), dx.p(), dw.p()}, new FloatPointer[] {yr, dxr, dwr}, new long[] {ys, xs, ws});
        }
        setTf32(false);
      }
    } finally {
      for (Cudnn.Conv pl : plans) pl.destroy();
    }
  }

  private void bn(GpuShapes.Bn l) {
    String id = l.id(), op = l.act() == Activation.NONE ? "bn" : "bn+" + l.act().name().toLowerCase(Locale.ROOT);
    usedBy.put(id, String.join(" ", l.models()));
    long count = (long) l.n() * l.c() * l.hw();
    double fwdBytes = 4.0 * count * 2, bwdBytes = 4.0 * count * (l.act() == Activation.NONE ? 3 : 4);
    Cudnn.Bn plan = cudnn == null ? null : cudnn.new Bn(l.n(), l.c(), l.hw(), l.act(), EPS, MOMENTUM);
    try (Gpu.Buffers b = new Gpu.Buffers(ours)) {
      Gpu.Buf x = b.alloc(count), dz = b.alloc(count), y = b.alloc(count), z = b.alloc(count), dy = b.alloc(count), dx = b.alloc(count);
      Gpu.Buf gamma = b.alloc(l.c()), beta = b.alloc(l.c()), mean = b.alloc(l.c()), var = b.alloc(l.c());
      Gpu.Buf saveMean = b.alloc(l.c()), saveInv = b.alloc(l.c()), dgamma = b.alloc(l.c()), dbeta = b.alloc(l.c());
      for (Gpu.Buf p : new Gpu.Buf[] {x, dz, gamma, beta}) gpu.fillRandom(p.p(), p == x || p == dz ? count : l.c());
      gpu.memset(mean.p(), l.c(), 0);
      gpu.memset(var.p(), l.c(), 0);
      FloatPointer cudnnOut = (l.act() == Activation.NONE ? z : y).p();
      if (plan != null) {
        measure(op, "forward-training", id, "cudnn-fp32", 7.0 * count, fwdBytes,
            () -> plan.forward(x.p(), gamma.p(), beta.p(), mean.p(), var.p(), saveMean.p(), saveInv.p(), cudnnOut, z.p()));
        measure(op, "backward", id, "cudnn-fp32", 10.0 * count, bwdBytes,
            () -> plan.backward(x.p(), y.p(), z.p(), dz.p(), gamma.p(), saveMean.p(), saveInv.p(), dy.p(), dx.p(), dgamma.p(), dbeta.p()));
      }
      Runnable forward = () -> Ops.batchNormForwardTraining(l.n(), l.c(), l.hw(), x.t(), gamma.t(), beta.t(), EPS, MOMENTUM,
          mean.t(), var.t(), saveMean.t(), saveInv.t(), l.act(), z.t());
      Runnable backward = () -> Ops.batchNormBackward(l.n(), l.c(), l.hw(), Grad.ALL, x.t(), z.t(), dz.t(), gamma.t(),
          saveMean.t(), saveInv.t(), l.act(), dx.t(), dgamma.t(), dbeta.t());
      if (ours) {
        measure(op, "forward-training", id, "sepconv-fp32", 7.0 * count, fwdBytes, forward);
        measure(op, "backward", id, "sepconv-fp32", 10.0 * count, bwdBytes, backward);
      }
      System.out.printf(Locale.ROOT, "%-10s %-28s%n", op, id);
      if (plan != null && ours) {
        FloatPointer zr = b.alloc(count).p(), dxr = b.alloc(count).p();
        poison(zr, count, dxr, count, null, 0);
        plan.forward(x.p(), gamma.p(), beta.p(), mean.p(), var.p(), saveMean.p(), saveInv.p(), l.act() == Activation.NONE ? zr : y.p(), zr);
        plan.backward(x.p(), y.p(), zr, dz.p(), gamma.p(), saveMean.p(), saveInv.p(), dy.p(), dxr, dgamma.p(), dbeta.p());
        poison(z.p(), count, dx.p(), count, null, 0);
        try {
          forward.run();
          backward.run();
          compare(id + " sepconv-fp32", "fp32", new String[] {"forward", "backward"}, new FloatPointer[] {z.p(), dx.p()},
              new FloatPointer[] {zr, dxr}, new long[] {count, count});
        } catch (UnsupportedOperationException e) {
          // reported by measure() already
        }
      }
    } finally {
      if (plan != null) plan.destroy();
    }
  }

  private void poison(FloatPointer a, long na, FloatPointer b, long nb, FloatPointer c, long nc) {
    gpu.memset(a, na, 0xff);
    gpu.memset(b, nb, 0xff);
    if (c != null) gpu.memset(c, nc, 0xff);
  }

  /** Relative error against cuDNN fp32 on up to 2^20 sampled elements; over 1e-3 (fp32) or 1e-2 (tf32), or NaN, is a mismatch. */
  private void compare(String what, String precision, String[] names, FloatPointer[] ours, FloatPointer[] refs, long[] sizes) {
    double tol = precision.equals("tf32") ? 1e-2 : 1e-3;
    StringBuilder sb = new StringBuilder("  check " + what + " vs cudnn-fp32:");
    for (int i = 0; i < names.length; i++) {
      double e = Gpu.relError(gpu.sample(ours[i], sizes[i], 1 << 20), gpu.sample(refs[i], sizes[i], 1 << 20));
      boolean bad = !(e <= tol);
      if (bad) mismatches++;
      sb.append(String.format(Locale.ROOT, " %s %.1e%s", names[i], e, bad ? " MISMATCH" : ""));
    }
    System.out.println(sb);
  }

  // ---------------------------------------------------------------- report files

  private void write(Path csv, Path md) throws IOException {
    StringBuilder sb = new StringBuilder("op,direction,shape,impl,ms,gflops,gbps,fraction_of_floor\n");
    for (Row r : rows)
      sb.append(String.format(Locale.ROOT, "%s,%s,%s,%s,%.4f,%.1f,%.1f,%.3f%n", r.op(), r.direction(), r.shape(), r.impl(), r.ms(), r.gflops(), r.gbps(), r.fraction()));
    writeAtomically(csv, sb.toString());
    writeAtomically(md, markdown());
  }

  static void writeAtomically(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(tmp, text.getBytes(StandardCharsets.UTF_8));
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** Rows of one (op, direction), by shape then impl. */
  private Map<String, Map<String, Map<String, Row>>> grouped() {
    Map<String, Map<String, Map<String, Row>>> g = new LinkedHashMap<>();
    for (Row r : rows)
      if (!r.op().equals("memcpy") && !r.op().equals("sgemm"))
        g.computeIfAbsent(r.op() + " " + r.direction(), k -> new LinkedHashMap<>()).computeIfAbsent(r.shape(), k -> new LinkedHashMap<>()).put(r.impl(), r);
    return g;
  }

  /** Geometric mean of cudnn-P ms over sepconv-P ms over the shapes that have both, or NaN. */
  private static double geomeanSpeedup(Map<String, Map<String, Row>> shapes, String precision) {
    double logs = 0;
    int n = 0;
    for (Map<String, Row> impls : shapes.values()) {
      Row o = impls.get("sepconv-" + precision), c = impls.get("cudnn-" + precision);
      if (o != null && c != null) {
        logs += Math.log(c.ms() / o.ms());
        n++;
      }
    }
    return n == 0 ? Double.NaN : Math.exp(logs / n);
  }

  private String markdown() {
    StringBuilder sb = new StringBuilder("# GPU: sepconv vs cuDNN\n\n");
    if (gpu != null) sb.append(header()).append("\n\n");
    sb.append("Median ms of ").append(reps).append(" runs after ").append(warmup)
        .append(" warm-up runs, CUDA events on one stream, L2 flushed before each run. Speedup = cuDNN ms / sepconv ms (>1: sepconv faster). ")
        .append("Floor = max(FLOPs / cuBLAS sgemm rate, compulsory bytes / copy bandwidth); 'of floor' = floor / measured.\n\n");
    Map<String, Map<String, Map<String, Row>>> g = grouped();
    sb.append("| op | direction | shapes | speedup fp32 (geomean) | speedup tf32 (geomean) |\n|---|---|---:|---:|---:|\n");
    for (Map.Entry<String, Map<String, Map<String, Row>>> e : g.entrySet()) {
      String[] od = e.getKey().split(" ");
      sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %s | %s |%n", od[0], od[1], e.getValue().size(),
          fmt(geomeanSpeedup(e.getValue(), "fp32"), "%.2fx"), fmt(geomeanSpeedup(e.getValue(), "tf32"), "%.2fx")));
    }
    for (Map.Entry<String, Map<String, Map<String, Row>>> e : g.entrySet()) {
      List<String> impls = new ArrayList<>();
      for (Map<String, Row> m : e.getValue().values()) for (String i : m.keySet()) if (!impls.contains(i)) impls.add(i);
      impls.sort(null);
      sb.append("\n**").append(e.getKey()).append("** (ms)\n\n| shape |");
      for (String i : impls) sb.append(' ').append(i).append(" |");
      for (String p : precisions) sb.append(" speedup ").append(p).append(" |");
      sb.append(" sepconv-fp32 GB/s | GFLOP/s | of floor | cudnn-fp32 of floor | used by |\n|---|");
      sb.append("---:|".repeat(impls.size() + precisions.size() + 4)).append("---|\n");
      for (Map.Entry<String, Map<String, Row>> s : e.getValue().entrySet()) {
        Map<String, Row> m = s.getValue();
        sb.append("| ").append(s.getKey()).append(" |");
        for (String i : impls) sb.append(' ').append(m.containsKey(i) ? fmt(m.get(i).ms(), "%.4f") : "-").append(" |");
        for (String p : precisions) {
          Row o = m.get("sepconv-" + p), c = m.get("cudnn-" + p);
          sb.append(' ').append(o == null || c == null ? "-" : fmt(c.ms() / o.ms(), "%.2fx")).append(" |");
        }
        Row o = m.get("sepconv-fp32"), c = m.get("cudnn-fp32");
        sb.append(String.format(Locale.ROOT, " %s | %s | %s | %s | %s |%n", o == null ? "-" : fmt(o.gbps(), "%.0f"), o == null ? "-" : fmt(o.gflops(), "%.0f"),
            o == null ? "-" : fmt(100 * o.fraction(), "%.0f%%"), c == null ? "-" : fmt(100 * c.fraction(), "%.0f%%"), usedBy.getOrDefault(s.getKey(), "")));
      }
    }
    return sb.toString();
  }

  private static String fmt(double v, String f) {
    return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, f, v);
  }

  /** One bar per (op, direction) and precision: the geometric-mean speedup. PNG only; a missing font or AWT is reported, not fatal. */
  private void chart(Path png) {
    Map<String, Map<String, Map<String, Row>>> g = grouped();
    if (g.isEmpty()) return;
    try {
      CategoryChart chart = new CategoryChartBuilder().width(1400).height(600).title("sepconv vs cuDNN: geometric-mean speedup (cuDNN ms / sepconv ms)")
          .xAxisTitle("op, direction").yAxisTitle("speedup").build();
      chart.getStyler().setXAxisLabelRotation(45);
      List<String> keys = new ArrayList<>(g.keySet());
      for (String p : precisions) {
        List<Double> v = new ArrayList<>();
        for (String k : keys) {
          double s = geomeanSpeedup(g.get(k), p);
          v.add(Double.isNaN(s) ? 0.0 : s);
        }
        if (v.stream().anyMatch(d -> d > 0)) chart.addSeries(p, keys, v);
      }
      if (!chart.getSeriesMap().isEmpty()) BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    } catch (Throwable t) {
      System.out.println("chart skipped: " + t);
    }
  }
}
