package org.sepconv.cli;

import java.io.PrintStream;
import org.sepconv.train.Trainer;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Ctrl-C during training. The first SIGINT asks the trainer to save and stop (it finishes the
 * batch, or abandons an evaluation, and the command exits 130); a second one quits at once,
 * without saving. SIGTERM (a shutdown, {@code kill}) runs a shutdown hook that asks the same and
 * waits for the checkpoint, for up to two minutes. Both are undone on {@link #close()}.
 */
final class Interrupts implements AutoCloseable {
  private static final Signal INT = new Signal("INT");
  private final SignalHandler previous;
  private final Thread hook;

  private Interrupts(SignalHandler previous, Thread hook) {
    this.previous = previous;
    this.hook = hook;
  }

  static Interrupts install(Trainer trainer, PrintStream out) {
    int[] count = {0};
    SignalHandler previous = Signal.handle(INT, sig -> {
      if (++count[0] == 1) {
        out.println();
        out.println("stopping: saving a checkpoint after this batch (Ctrl-C again to quit at once, without saving)");
        trainer.requestStop();
      } else {
        System.err.println("sepconv: quit at once: nothing was saved since the last checkpoint");
        Runtime.getRuntime().halt(130);
      }
    });
    Thread hook = new Thread(() -> { // SIGTERM: let the loop save, then let the JVM exit
      trainer.requestStop();
      try {
        trainer.awaitFinished(120_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "sepconv-save-on-exit");
    Runtime.getRuntime().addShutdownHook(hook);
    return new Interrupts(previous, hook);
  }

  @Override
  public void close() {
    Signal.handle(INT, previous);
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      // the hook is running: it returns once the run has returned
    }
  }
}
