package org.sepconv.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.annotations.Mode;
import org.sepconv.Sepconv;
import org.sepconv.ops.Conv2dSpec;

/**
 * Runs the CPU benchmarks side by side in one process and writes the report (and JMH's raw JSON
 * of every run, {@code cpu-jmh.json}):
 * {@code cpu.csv} (op,direction,shape,impl,ms,gflops,gbps), {@code cpu-sgemm.csv} (plain
 * OpenBLAS sgemm on each conv's equivalent GEMM) and {@code cpu.md} (the tables for the
 * README), all into {@code bench/results} or {@code --out DIR}.
 *
 * <pre>java -jar bench/target/benchmarks.jar [--quick] [--filter REGEX] [--out DIR]</pre>
 */
public final class CpuReport {
  private CpuReport() {}

  record Row(String op, String direction, String shape, String impl, double ms, double gflops, double gbps) {}

  public static void main(String[] args) throws Exception {
    boolean quick = false;
    String filter = ".*";
    Path out = Paths.get("bench", "results");
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--quick": quick = true; break;
        case "--filter": filter = args[++i]; break;
        case "--out": out = Paths.get(args[++i]); break;
        default: throw new IllegalArgumentException("unknown argument '" + args[i] + "' (use --quick, --filter REGEX, --out DIR)");
      }
    }
    Pattern keep = Pattern.compile(filter);
    List<String> convShapes = new ArrayList<>(), gemmShapes = new ArrayList<>(), bnShapes = new ArrayList<>();
    for (Shapes.Layer l : Shapes.all()) {
      if (!keep.matcher(l.id()).find()) continue;
      convShapes.add(l.id());
      if (!l.family().equals("depthwise")) gemmShapes.add(l.id());
    }
    for (String s : Shapes.BN_SHAPES) if (keep.matcher(s).find()) bnShapes.add(s);
    System.out.printf(Locale.ROOT, "sepconv %s, isa %s, threads %d, blas attached %s%n", Sepconv.version(),
        Sepconv.isa(), Sepconv.numThreads(), Sepconv.blasAttached());

    List<Row> rows = new ArrayList<>(), sgemm = new ArrayList<>();
    if (!convShapes.isEmpty()) {
      for (RunResult r : run(ConvBench.class, quick, false, Map.of("shape", convShapes, "impl", List.of("sepconv", "im2col-openblas"))))
        rows.add(convRow(r));
      for (RunResult r : run(ConvBench.class, quick, true, Map.of("shape", convShapes, "impl", List.of("naive"))))
        rows.add(convRow(r));
    }
    if (!gemmShapes.isEmpty())
      for (RunResult r : run(GemmBench.class, quick, false, Map.of("shape", gemmShapes))) {
        Conv2dSpec s = Shapes.get(r.getParams().getParam("shape")).spec();
        double ms = ms(r);
        long m = s.cOut, n = (long) s.n * s.outH() * s.outW(), k = (long) s.cIn / s.groups * s.kh * s.kw;
        sgemm.add(new Row("sgemm", "forward", s.toString(), "openblas", ms, 2.0 * m * n * k / ms / 1e6, 4.0 * (m * k + k * n + m * n) / ms / 1e6));
      }
    if (!bnShapes.isEmpty()) {
      for (RunResult r : run(BnBench.class, quick, false, Map.of("shape", bnShapes, "impl", List.of("sepconv", "sepconv-unfused"))))
        rows.add(bnRow(r));
      for (RunResult r : run(BnBench.class, quick, true, Map.of("shape", bnShapes, "impl", List.of("naive"))))
        rows.add(bnRow(r));
    }
    Files.createDirectories(out);
    writeCsv(out.resolve("cpu.csv"), rows);
    writeCsv(out.resolve("cpu-sgemm.csv"), sgemm);
    String md = Tables.markdown(rows, sgemm);
    writeAtomically(out.resolve("cpu.md"), md);
    writeJson(out.resolve("cpu-jmh.json"), RAW);
    System.out.println(md);
  }

  static Collection<RunResult> run(Class<?> bench, boolean quick, boolean singleShot, Map<String, List<String>> params)
      throws RunnerException {
    ChainedOptionsBuilder o = new OptionsBuilder().include(Pattern.quote(bench.getName()) + ".*")
        .forks(0) // in-process: the work is native, and 2 cores cannot afford a JVM per case
        .shouldFailOnError(true);
    if (singleShot) {
      o.mode(Mode.SingleShotTime).warmupIterations(0).measurementIterations(1);
    } else {
      o.warmupIterations(1).warmupTime(TimeValue.milliseconds(quick ? 200 : 500))
          .measurementIterations(quick ? 2 : 3).measurementTime(TimeValue.milliseconds(quick ? 300 : 700));
    }
    for (Map.Entry<String, List<String>> e : params.entrySet()) o.param(e.getKey(), e.getValue().toArray(new String[0]));
    Collection<RunResult> results = new Runner(o.build()).run();
    RAW.addAll(results);
    return results;
  }

  /** Every JMH result of this process, for the raw JSON beside the reports. */
  static final List<RunResult> RAW = new ArrayList<>();

  /** JMH's own JSON of {@code results} (what jmh's -rf json writes), atomically into {@code file}. */
  static void writeJson(Path file, Collection<RunResult> results) throws IOException {
    java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
    try (java.io.PrintStream ps = new java.io.PrintStream(buf, true, StandardCharsets.UTF_8)) {
      org.openjdk.jmh.results.format.ResultFormatFactory.getInstance(
          org.openjdk.jmh.results.format.ResultFormatType.JSON, ps).writeOut(results);
    }
    writeAtomically(file, buf.toString(StandardCharsets.UTF_8));
  }

  static double ms(RunResult r) {
    double v = r.getPrimaryResult().getScore();
    String unit = r.getPrimaryResult().getScoreUnit();
    if (unit.startsWith("s/")) return v * 1e3;
    if (unit.startsWith("us/")) return v / 1e3;
    if (unit.startsWith("ns/")) return v / 1e6;
    return v;
  }

  static Row convRow(RunResult r) {
    Shapes.Layer l = Shapes.get(r.getParams().getParam("shape"));
    Conv2dSpec s = l.spec();
    double ms = ms(r);
    double flops = 2.0 * s.macs();
    double bytes = 4.0 * (s.inputSize() + s.outputSize() + s.weightSize());
    return new Row(l.family(), r.getParams().getParam("direction"), l.id(), r.getParams().getParam("impl"), ms,
        flops / ms / 1e6, bytes / ms / 1e6);
  }

  /** BN rows: compulsory bytes are x and y forward, x, y, dy and dx backward; flops ~7 and ~10 per element. */
  static Row bnRow(RunResult r) {
    String shape = r.getParams().getParam("shape");
    String[] p = shape.split("x");
    double count = (double) Shapes.BATCH * Integer.parseInt(p[0]) * Integer.parseInt(p[1]);
    boolean fwd = r.getParams().getParam("direction").startsWith("forward");
    double ms = ms(r);
    return new Row("bn+relu6", r.getParams().getParam("direction"), Shapes.BATCH + "x" + shape, r.getParams().getParam("impl"), ms,
        count * (fwd ? 7 : 10) / ms / 1e6, 4 * count * (fwd ? 2 : 4) / ms / 1e6);
  }

  static void writeCsv(Path file, List<Row> rows) throws IOException {
    StringBuilder sb = new StringBuilder("op,direction,shape,impl,ms,gflops,gbps\n");
    for (Row r : rows)
      sb.append(String.format(Locale.ROOT, "%s,%s,%s,%s,%.4f,%.2f,%.2f%n", r.op(), r.direction(), r.shape(), r.impl(), r.ms(), r.gflops(), r.gbps()));
    writeAtomically(file, sb.toString());
  }

  /** Results are written to a temp file and renamed, so a killed run never leaves half a report. */
  static void writeAtomically(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(tmp, text.getBytes(StandardCharsets.UTF_8));
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** Groups rows by key, keeping insertion order. */
  static Map<String, Map<String, Row>> byShape(List<Row> rows, String op, String direction) {
    Map<String, Map<String, Row>> m = new LinkedHashMap<>();
    for (Row r : rows)
      if (r.op().equals(op) && r.direction().equals(direction))
        m.computeIfAbsent(r.shape(), k -> new LinkedHashMap<>()).put(r.impl(), r);
    return m;
  }
}
