package org.sepconv.train;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.sepconv.io.AtomicFile;

/**
 * The per-epoch metrics of a run, written as {@code metrics.csv} with the columns
 * {@code epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds,images_per_s} (accuracies as
 * fractions in [0, 1]; {@code lr} is the rate of the epoch's last step; {@code seconds} the
 * epoch's training time without evaluation). The whole file is rewritten through a temp file
 * and a rename, so a reader never sees half a row. The same text travels in every checkpoint,
 * so a resumed run continues the file exactly where its checkpoint was taken.
 */
public final class Metrics {
  public static final String HEADER = "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds,images_per_s";

  /** One epoch's row. */
  public record Row(int epoch, double trainLoss, double trainAcc, double testLoss, double testAcc, double lr,
      double seconds, double imagesPerS) {
    String csv() {
      return String.format(Locale.ROOT, "%d,%.6f,%.6f,%.6f,%.6f,%.6g,%.3f,%.1f", epoch, trainLoss, trainAcc, testLoss,
          testAcc, lr, seconds, imagesPerS);
    }
  }

  private final List<Row> rows = new ArrayList<>();

  public List<Row> rows() {
    return List.copyOf(rows);
  }

  public void add(Row r) {
    rows.add(r);
  }

  /** The CSV text, header first. */
  public String csv() {
    StringBuilder sb = new StringBuilder(HEADER).append('\n');
    for (Row r : rows) sb.append(r.csv()).append('\n');
    return sb.toString();
  }

  /** Parses what {@link #csv} wrote; {@code source} names it in errors. */
  public static Metrics parse(String csv, String source) {
    Metrics m = new Metrics();
    String[] lines = csv.split("\n");
    if (lines.length == 0 || !lines[0].equals(HEADER))
      throw new IllegalArgumentException(source + ": not a metrics table (expected the header " + HEADER + ")");
    for (int i = 1; i < lines.length; i++) {
      if (lines[i].isBlank()) continue;
      String[] f = lines[i].split(",");
      try {
        if (f.length != 8) throw new NumberFormatException("expected 8 columns, got " + f.length);
        m.add(new Row(Integer.parseInt(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2]),
            Double.parseDouble(f[3]), Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6]),
            Double.parseDouble(f[7])));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(source + ": line " + (i + 1) + " is not a metrics row: " + e.getMessage());
      }
    }
    return m;
  }

  /** Writes {@link #csv} to {@code file} atomically. */
  public void write(Path file) {
    AtomicFile.write(file, csv().getBytes(StandardCharsets.UTF_8));
  }
}
