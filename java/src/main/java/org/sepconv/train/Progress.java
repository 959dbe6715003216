package org.sepconv.train;

import java.io.PrintStream;
import java.util.Locale;
import org.sepconv.data.ProgressBar;

/**
 * The live progress line of an epoch: batch, loss, accuracy, images/s and ETA, on the command
 * line's one {@link ProgressBar}. On a terminal it is redrawn in place (at most 5 times a second);
 * otherwise (a log file, CI) a plain line is printed every {@code lineSeconds}, so logs stay
 * readable.
 */
final class Progress {
  private final ProgressBar bar;

  Progress(PrintStream out, boolean terminal, double lineSeconds) {
    bar = new ProgressBar(out, terminal, terminal ? 0.2 : lineSeconds, 24);
  }

  /** Called after every batch; draws when it is time to. */
  void update(String label, int batch, int batches, double loss, double acc, double imagesPerS, double etaSeconds) {
    bar.update(label, batch, batches, String.format(Locale.ROOT, "%d/%d loss %.4f acc %.2f%% %.0f img/s ETA %s", batch,
        batches, loss, 100 * acc, imagesPerS, ProgressBar.clock(etaSeconds)));
  }

  /** Ends a partly drawn terminal line (an interrupted or failed epoch). */
  void abandon() {
    bar.end();
  }

  /** Starts a new epoch: a terminal draws at once, a log after the first interval. */
  void reset() {
    bar.reset();
  }
}
