package org.sepconv.data;

import java.io.PrintStream;
import java.util.Locale;

/**
 * The one progress bar of the command line: {@code label [=======         ] detail}. On a terminal
 * it is redrawn in place ({@code \r}) at most every {@code redrawSeconds}; into a log (CI, a file)
 * it prints a plain line every {@code lineSeconds} instead, so logs stay readable. The last state
 * ({@code done == total}) is always drawn. Used by the trainer for its epochs and by the CIFAR-10
 * download.
 */
public final class ProgressBar {
  private final PrintStream out;
  private final boolean terminal;
  private final int width;
  private final long intervalNanos;
  private long lastDraw;
  private boolean drawn;

  /**
   * @param out where to draw; null draws nothing
   * @param terminal redraw one line in place, else print a line per interval
   * @param seconds the least time between two draws
   * @param width the bar's cells
   */
  public ProgressBar(PrintStream out, boolean terminal, double seconds, int width) {
    this.out = out;
    this.terminal = terminal;
    this.intervalNanos = (long) (seconds * 1e9);
    this.width = width;
    reset();
  }

  /** Draws when it is time to (or when {@code done == total}); {@code total <= 0} draws no bar. */
  public void update(String label, long done, long total, String detail) {
    if (out == null) return;
    long now = System.nanoTime();
    if (done != total && now - lastDraw < intervalNanos) return;
    lastDraw = now;
    drawn = true;
    String line;
    if (total > 0) {
      int filled = (int) Math.min(width, width * Math.max(0, done) / total);
      line = String.format(Locale.ROOT, "%s [%s%s] %s", label, "=".repeat(filled), " ".repeat(width - filled), detail);
    } else {
      line = label + " " + detail;
    }
    if (terminal) {
      out.print("\r" + line + "\u001b[K");
      if (done == total) end();
    } else {
      out.println(line);
    }
    out.flush();
  }

  /** Ends a partly drawn terminal line (an interrupted, failed or finished bar). */
  public void end() {
    if (out != null && terminal && drawn) out.println();
    drawn = false;
  }

  /** Starts again: a terminal draws at the next update, a log after the first interval. */
  public void reset() {
    drawn = false;
    lastDraw = System.nanoTime() - (terminal ? intervalNanos : 0);
  }

  /** h:mm:ss or m:ss; "--:--" for an unknown time. */
  public static String clock(double seconds) {
    if (!(seconds >= 0) || Double.isInfinite(seconds)) return "--:--";
    long s = Math.round(seconds);
    return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
        : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
  }
}
