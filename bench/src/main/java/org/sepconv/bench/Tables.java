package org.sepconv.bench;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.sepconv.bench.CpuReport.Row;

/** The markdown tables of the CPU report: speedups and fractions of sgemm, side by side. */
final class Tables {
  private Tables() {}

  static String markdown(List<Row> rows, List<Row> sgemm) {
    StringBuilder sb = new StringBuilder();
    for (String op : new String[] {"depthwise", "pointwise", "dense"})
      for (String dir : new String[] {"forward", "backward-data", "backward-weight"}) {
        Map<String, Map<String, Row>> m = CpuReport.byShape(rows, op, dir);
        if (m.isEmpty()) continue;
        boolean gemm = !op.equals("depthwise");
        sb.append("\n**").append(op).append(' ').append(dir).append("** (ms; batch 64)\n\n");
        sb.append("| shape | sepconv | im2col+OpenBLAS | naive | vs im2col | vs naive | GB/s | GFLOP/s |")
            .append(gemm ? " sgemm GFLOP/s | of sgemm |" : "").append('\n');
        sb.append("|---|---:|---:|---:|---:|---:|---:|---:|").append(gemm ? "---:|---:|" : "").append('\n');
        double worst = Double.MAX_VALUE, worstGemm = Double.MAX_VALUE;
        for (Map.Entry<String, Map<String, Row>> e : m.entrySet()) {
          Row ours = e.getValue().get("sepconv"), base = e.getValue().get("im2col-openblas"), ref = e.getValue().get("naive");
          if (ours == null) continue;
          double vsBase = base == null ? Double.NaN : base.ms() / ours.ms();
          double vsRef = ref == null ? Double.NaN : ref.ms() / ours.ms();
          if (!Double.isNaN(vsBase)) worst = Math.min(worst, vsBase);
          sb.append(String.format(Locale.ROOT, "| %s | %.3f | %s | %s | %.2fx | %s | %.1f | %.1f |", e.getKey(), ours.ms(),
              fmt(base), fmt(ref), vsBase, Double.isNaN(vsRef) ? "-" : String.format(Locale.ROOT, "%.0fx", vsRef), ours.gbps(), ours.gflops()));
          if (gemm) {
            Row g = sgemm.stream().filter(r -> r.shape().equals(e.getKey())).findFirst().orElse(null);
            double frac = g == null ? Double.NaN : ours.gflops() / g.gflops();
            if (!Double.isNaN(frac)) worstGemm = Math.min(worstGemm, frac);
            sb.append(String.format(Locale.ROOT, " %s | %s |", g == null ? "-" : String.format(Locale.ROOT, "%.1f", g.gflops()),
                Double.isNaN(frac) ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * frac)));
          }
          sb.append('\n');
        }
        sb.append(String.format(Locale.ROOT, "%nslowest speedup vs im2col+OpenBLAS: %.2fx", worst));
        if (gemm && worstGemm != Double.MAX_VALUE) sb.append(String.format(Locale.ROOT, "; lowest fraction of sgemm: %.0f%%", 100 * worstGemm));
        sb.append('\n');
      }
    Map<String, Map<String, Row>> f = CpuReport.byShape(rows, "bn+relu6", "forward-training");
    Map<String, Map<String, Row>> b = CpuReport.byShape(rows, "bn+relu6", "backward");
    if (!f.isEmpty()) {
      sb.append("\n**BatchNorm+ReLU6, training forward + backward** (ms)\n\n");
      sb.append("| shape | fused | BN then ReLU6 | naive | fused speedup | fused GB/s fwd | fused GB/s bwd |\n|---|---:|---:|---:|---:|---:|---:|\n");
      for (String shape : f.keySet()) {
        Map<String, Row> fr = f.get(shape), br = b.get(shape);
        if (br == null || fr.get("sepconv") == null || br.get("sepconv") == null) continue;
        double fused = fr.get("sepconv").ms() + br.get("sepconv").ms();
        double unfused = fr.get("sepconv-unfused") == null || br.get("sepconv-unfused") == null ? Double.NaN
            : fr.get("sepconv-unfused").ms() + br.get("sepconv-unfused").ms();
        double naive = fr.get("naive") == null || br.get("naive") == null ? Double.NaN : fr.get("naive").ms() + br.get("naive").ms();
        sb.append(String.format(Locale.ROOT, "| %s | %.3f | %.3f | %.1f | %.2fx | %.1f | %.1f |%n", shape, fused, unfused, naive,
            unfused / fused, fr.get("sepconv").gbps(), br.get("sepconv").gbps()));
      }
    }
    return sb.toString();
  }

  private static String fmt(Row r) {
    return r == null ? "-" : String.format(Locale.ROOT, r.ms() >= 100 ? "%.0f" : "%.3f", r.ms());
  }
}
