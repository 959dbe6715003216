package org.sepconv.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * The live progress line of an epoch: batch, loss, accuracy, images/s and ETA. On a terminal
 * it is redrawn in place (at most 5 times a second); otherwise (a log file, CI) a plain line
 * is printed every {@code lineSeconds}, so logs stay readable.
 */
final class Progress {
  private static final int BAR = 24;
  private final PrintStream out;
  private final boolean terminal;
  private final long lineNanos;
  private long lastDraw;
  private boolean drawn;

  Progress(PrintStream out, boolean terminal, double lineSeconds) {
    this.out = out;
    this.terminal = terminal;
    this.lineNanos = (long) (lineSeconds * 1e9);
  }

  /** Called after every batch; draws when it is time to. */
  void update(String label, int batch, int batches, double loss, double acc, double imagesPerS, double etaSeconds) {
    long now = System.nanoTime();
    if (batch != batches && now - lastDraw < interval()) return;
    lastDraw = now;
    drawn = true;
    int filled = (int) ((long) BAR * batch / Math.max(1, batches));
    String line = String.format(Locale.ROOT, "%s [%s%s] %d/%d loss %.4f acc %.2f%% %.0f img/s ETA %s", label,
        "=".repeat(filled), " ".repeat(BAR - filled), batch, batches, loss, 100 * acc, imagesPerS, clock(etaSeconds));
    if (terminal) {
      out.print("\r" + line + "\u001b[K");
      if (batch == batches) out.println();
    } else {
      out.println(line);
    }
    out.flush();
  }

  /** Ends a partly drawn terminal line (an interrupted or failed epoch). */
  void abandon() {
    if (terminal && drawn) out.println();
    drawn = false;
  }

  /** Starts a new epoch: a terminal draws at once, a log after the first interval. */
  void reset() {
    drawn = false;
    lastDraw = System.nanoTime() - (terminal ? interval() : 0);
  }

  private long interval() {
    return terminal ? 200_000_000L : lineNanos;
  }

  static String clock(double seconds) {
    if (!(seconds >= 0) || Double.isInfinite(seconds)) return "--:--";
    long s = Math.round(seconds);
    return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
        : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
  }
}
