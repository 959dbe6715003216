package org.sepconv.train;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.sepconv.autograd.F;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.data.Augment;
import org.sepconv.data.Batch;
import org.sepconv.data.Dataset;
import org.sepconv.data.Loader;
import org.sepconv.io.AtomicFile;
import org.sepconv.models.Models;
import org.sepconv.nn.Dropout;
import org.sepconv.nn.Module;
import org.sepconv.optim.Adam;
import org.sepconv.optim.AdamW;
import org.sepconv.optim.LrSchedule;
import org.sepconv.optim.Optimizer;
import org.sepconv.optim.SGD;

/**
 * The training loop: epochs of shuffled, augmented batches, an evaluation after each epoch,
 * {@code last.safetensors} (the resume point) and {@code best.safetensors} (best test accuracy)
 * in the run folder, {@code metrics.csv} and {@code curves.png} rewritten after each epoch.
 *
 * <p>Everything random is derived from the run's seed and the position in the run: the weights
 * from the seed (or, for a run from pretrained weights, {@link Pretrained}, all but a replaced
 * classifier from the file), each epoch's order and augmentation from (seed, epoch), dropout
 * masks from (seed, step). A run resumed from any checkpoint, including one written mid-epoch by
 * {@link #requestStop()}, therefore computes the same steps as an uninterrupted one.
 *
 * <p>A non-finite loss stops the run before the bad step is applied; the last checkpoint (from
 * the last completed epoch) is left as it was.
 */
public final class Trainer {
  /** How a run ended. */
  public enum Outcome { COMPLETED, INTERRUPTED, DIVERGED }

  /** How a run starts in its folder. */
  public enum Start {
    /** A new run; the folder must not hold one already. */
    NEW,
    /** Continue the run that the folder holds, from its {@code last.safetensors}. */
    RESUME,
    /** A new run that first deletes the run the folder holds. */
    OVERWRITE
  }

  /**
   * The end of a run. {@code meanEpochSeconds} and {@code imagesPerS} cover every completed epoch
   * of the run (from the metrics, so including epochs trained before a resume);
   * {@code dataWaitShare} is the fraction of this process's training time the loop waited for
   * batches, {@code dataWorkShare} the time the background thread spent building them.
   */
  public record Result(Outcome outcome, int epochsDone, double bestAcc, int bestEpoch, double lastAcc,
      double meanEpochSeconds, double imagesPerS, double dataWaitShare, double dataWorkShare, String message) {}

  private final TrainConfig cfg;
  private final Dataset train, test;
  private final Path dir;
  private final PrintStream log;
  private final Progress progress;
  private final int prefetch;
  private volatile boolean stopRequested;
  private volatile long stopAtStep = Long.MAX_VALUE; // tests: interrupt at an exact step
  private final CountDownLatch finished = new CountDownLatch(1);

  /**
   * @param cfg the run
   * @param train the training set (already limited to {@code cfg.limitTrain()})
   * @param test the test set
   * @param dir the run folder (created if needed)
   * @param log where progress and per-epoch lines go
   * @param terminal whether {@code log} is a terminal (the progress line is then redrawn in place)
   */
  public Trainer(TrainConfig cfg, Dataset train, Dataset test, Path dir, PrintStream log, boolean terminal) {
    if (train.classes().length != cfg.classes() || test.classes().length != cfg.classes())
      throw new IllegalArgumentException("--classes must equal the dataset's class count " + train.classes().length
          + ", got " + cfg.classes());
    if (train.channels() != test.channels() || train.height() != test.height() || train.width() != test.width())
      throw new IllegalArgumentException("train and test images differ in shape");
    this.cfg = cfg;
    this.train = train;
    this.test = test;
    this.dir = dir;
    this.log = log;
    this.progress = new Progress(log, terminal, 15);
    this.prefetch = 4;
  }

  /** The checkpoint {@code --resume} continues from, in run folder {@code dir}. */
  public static Path lastCheckpoint(Path dir) {
    return dir.resolve(RunFolder.LAST);
  }

  /** The checkpoint with the best test accuracy so far, in run folder {@code dir}. */
  public static Path bestCheckpoint(Path dir) {
    return dir.resolve(RunFolder.BEST);
  }

  /**
   * Asks the running loop to save a checkpoint at the end of the current batch (or, during an
   * evaluation, at once: the epoch's training is kept and its evaluation is redone on resume)
   * and return {@link Outcome#INTERRUPTED}. Safe to call from any thread (e.g. a Ctrl-C handler).
   */
  public void requestStop() {
    stopRequested = true;
  }

  /** As {@link #requestStop()}, but once {@code step} steps of the run have been taken (for tests). */
  void stopAtStep(long step) {
    stopAtStep = step;
  }

  /** Waits until {@link #run} has returned (true) or the timeout passed (false). */
  public boolean awaitFinished(long millis) throws InterruptedException {
    return finished.await(millis, TimeUnit.MILLISECONDS);
  }

  /** Trains from scratch ({@link Start#NEW}), or from {@code last.safetensors} when {@code resume} is set. */
  public Result run(boolean resume) {
    return run(resume ? Start.RESUME : Start.NEW);
  }

  /** {@link #run(Start, Pretrained)}, a new run starting from the seed's fresh weights. */
  public Result run(Start start) {
    return run(start, null);
  }

  /**
   * Runs in the folder, which is locked for the run's duration: a second run in the same folder
   * is refused, as is a new run in a folder that holds one (unless {@link Start#OVERWRITE}).
   * Temp files that a killed write left in the folder are deleted first.
   *
   * @param init the weights a new run starts from (null: the seed's fresh initialisation); its
   *     checkpoints name them. A resumed run continues from its checkpoint and takes none.
   */
  public Result run(Start start, Pretrained init) {
    try {
      if (start == Start.RESUME && init != null)
        throw new IllegalArgumentException("a resumed run continues from its checkpoint: it takes no pretrained weights");
      try (RunFolder folder = RunFolder.open(dir, start)) {
        if (folder.removedTemps() > 0)
          log.println("removed " + folder.removedTemps() + " temp file(s) that an interrupted write left in " + dir);
        try {
          Chart.warmUp();
        } catch (RuntimeException | LinkageError e) {
          log.println("warning: charts are off, Java2D does not work here: " + e);
        }
        return runInternal(start == Start.RESUME, init);
      }
    } finally {
      finished.countDown();
    }
  }

  private Result runInternal(boolean resume, Pretrained init) {
    State st = new State();
    float[] mean, std;
    Checkpoint ck = null;
    int perEpoch = (train.size() + cfg.batchSize() - 1) / cfg.batchSize();
    if (resume) { // the normalisation the run started with, not recomputed
      ck = Checkpoint.read(lastCheckpoint(dir));
      checkResumable(ck);
      mean = ck.mean();
      std = ck.std();
      st.load(ck.metadata());
      checkPosition(st, perEpoch);
      repairBest(st);
      if (!st.metrics.rows().isEmpty()) st.metrics.write(dir.resolve(RunFolder.METRICS)); // as of the checkpoint
    } else {
      mean = expand(train.channelMean());
      std = expand(train.channelStd());
      st.init = init;
    }
    int size = Models.inputSize(cfg.variant()); // nothing resizes: at 32x32 the imagenet variants end on 1x1 maps
    if (size != train.height())
      log.printf(Locale.ROOT, "note: --variant %s is built for %dx%d images; these %dx%d images are used as they are, not "
          + "resized, so each feature map is that much smaller than the model was designed for%n", cfg.variant(), size,
          size, train.height(), train.width());
    long totalSteps = (long) perEpoch * cfg.epochs();
    LrSchedule schedule = schedule(perEpoch, totalSteps);
    Augment aug = new Augment(cfg.cropPad(), cfg.flip(), cfg.cutout());
    // the model moves to the run's device once; its optimizer's state is made there
    try (Module model = Models.create(cfg.model(), cfg.variant(), cfg.widthMult(), cfg.classes(), new Random(cfg.seed()))
            .to(cfg.device());
        Optimizer opt = optimizer(model)) {
      if (ck != null) {
        Checkpoint.restore(lastCheckpoint(dir), model, opt);
        if (st.epoch < cfg.epochs())
          log.printf(Locale.ROOT, "resumed %s: epoch %d of %d, batch %d of %d, step %d%n", lastCheckpoint(dir),
              st.epoch + 1, cfg.epochs(), st.batch, perEpoch, st.step);
        else
          log.printf(Locale.ROOT, "resumed %s: the run has done all its %d epochs (give --epochs N to extend it)%n",
              lastCheckpoint(dir), cfg.epochs());
      } else if (st.init != null) {
        log.println(st.init.loadInto(model));
      }
      List<Dropout> dropouts = dropouts(model);
      double trainSeconds = 0, waitSeconds = 0, workSeconds = 0;
      double lastAcc = st.metrics.rows().isEmpty() ? Double.NaN : st.metrics.rows().get(st.metrics.rows().size() - 1).testAcc();
      while (st.epoch < cfg.epochs()) {
        String label = String.format(Locale.ROOT, "epoch %d/%d", st.epoch + 1, cfg.epochs());
        model.train(true);
        progress.reset();
        long startNanos = System.nanoTime();
        double startSeconds = st.epochSeconds;
        long startSeen = st.seen;
        long waitNanos, workNanos;
        try (Loader loader = new Loader(train, cfg.batchSize(), true, aug, mean, std, mean.length, cfg.seed(), st.epoch,
            prefetch)) {
          for (int k = 0; k < st.batch; k++) loader.next().close(); // resumed mid-epoch: same order, skip what was done
          while (loader.hasNext()) {
            if (stopRequested || st.step >= stopAtStep) {
              st.epochSeconds = startSeconds + (System.nanoTime() - startNanos) / 1e9;
              progress.abandon();
              save(model, opt, st, mean, std, lastCheckpoint(dir));
              String msg = String.format(Locale.ROOT,
                  "interrupted at epoch %d, batch %d of %d: saved %s; continue with --resume --out %s", st.epoch + 1,
                  st.batch, perEpoch, lastCheckpoint(dir), dir);
              log.println(msg);
              return result(Outcome.INTERRUPTED, st, lastAcc, trainSeconds, waitSeconds, workSeconds, msg);
            }
            try (Batch b = loader.next()) {
              float loss = step(model, opt, schedule, dropouts, b, st);
              if (!Float.isFinite(loss)) {
                progress.abandon();
                String msg = String.format(Locale.ROOT,
                    "stopped: the loss became %s at epoch %d, batch %d (step %d, lr %.4g); the last good checkpoint "
                        + "%s is unchanged (try a lower --lr or a warm-up)", loss, st.epoch + 1, st.batch + 1, st.step,
                    opt.lr(), Files.exists(lastCheckpoint(dir)) ? lastCheckpoint(dir) : "(none yet)");
                log.println(msg);
                return result(Outcome.DIVERGED, st, lastAcc, trainSeconds, waitSeconds, workSeconds, msg);
              }
            }
            double secs = startSeconds + (System.nanoTime() - startNanos) / 1e9;
            double ips = (st.seen - startSeen) / Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
            progress.update(label, st.batch, perEpoch, st.lossSum / st.seen, (double) st.correct / st.seen, ips,
                (train.size() - st.seen) / Math.max(ips, 1e-9));
            st.epochSeconds = secs;
          }
          waitNanos = loader.waitNanos();
          workNanos = loader.producerNanos();
        }
        double epochWall = (System.nanoTime() - startNanos) / 1e9;
        trainSeconds += epochWall;
        waitSeconds += waitNanos / 1e9;
        workSeconds += workNanos / 1e9;

        // the training batch size: on the CPU larger eval batches only spill the caches (MobileNetV2
        // evaluates at 499 img/s at batch 64, 330 at batch 256)
        Evaluator.Result ev = Evaluator.evaluate(model, test, mean, std, cfg.batchSize(), () -> stopRequested);
        if (ev == null) { // interrupted: keep the epoch's training (batch == perEpoch), evaluate it on resume
          save(model, opt, st, mean, std, lastCheckpoint(dir));
          String msg = String.format(Locale.ROOT,
              "interrupted during the evaluation of epoch %d: saved %s with the epoch trained; continue with "
                  + "--resume --out %s", st.epoch + 1, lastCheckpoint(dir), dir);
          log.println(msg);
          return result(Outcome.INTERRUPTED, st, lastAcc, trainSeconds, waitSeconds, workSeconds, msg);
        }
        lastAcc = ev.accuracy();
        Metrics.Row row = new Metrics.Row(st.epoch + 1, st.lossSum / st.seen, (double) st.correct / st.seen, ev.loss(),
            ev.accuracy(), opt.lr(), st.epochSeconds, st.seen / st.epochSeconds);
        st.metrics.add(row);
        boolean best = ev.accuracy() > st.bestAcc;
        if (best) {
          st.bestAcc = ev.accuracy();
          st.bestEpoch = st.epoch + 1;
        }
        st.nextEpoch();
        // best before last: a kill between the two leaves a best.safetensors one epoch ahead of
        // last.safetensors, which the resumed run rewrites identically; never a last that records
        // a best epoch that best.safetensors does not hold (see repairBest for older folders)
        if (best) save(model, opt, st, mean, std, bestCheckpoint(dir));
        save(model, opt, st, mean, std, lastCheckpoint(dir));
        st.metrics.write(dir.resolve(RunFolder.METRICS));
        writeChart(st.metrics);
        log.printf(Locale.ROOT,
            "epoch %d/%d: train loss %.4f acc %.4f | test loss %.4f acc %.4f%s | lr %.4g | %.1f s, %.0f img/s, "
                + "data wait %.1f%%, data work %.1f%% | eval %.1f s%n",
            row.epoch(), cfg.epochs(), row.trainLoss(), row.trainAcc(), row.testLoss(), row.testAcc(),
            best ? " (best)" : "", row.lr(), row.seconds(), row.imagesPerS(), 100 * waitNanos / 1e9 / epochWall,
            100 * workNanos / 1e9 / epochWall, ev.seconds());
      }
      String msg = String.format(Locale.ROOT,
          "done: %d epochs of %s on %s; best test acc %.4f (epoch %d), last %.4f; run folder %s", cfg.epochs(),
          cfg.model(), cfg.dataset(), st.bestAcc, st.bestEpoch, lastAcc, dir);
      Result r = result(Outcome.COMPLETED, st, lastAcc, trainSeconds, waitSeconds, workSeconds, msg);
      log.printf(Locale.ROOT, "%s; %.1f s/epoch, %.0f img/s, data wait %.1f%% of training time%n", msg,
          r.meanEpochSeconds(), r.imagesPerS(), 100 * r.dataWaitShare());
      return r;
    }
  }

  /** One optimisation step; returns the batch's loss (the step is skipped if it is not finite). */
  private float step(Module model, Optimizer opt, LrSchedule schedule, List<Dropout> dropouts, Batch b, State st) {
    for (int i = 0; i < dropouts.size(); i++) dropouts.get(i).reseed(mix(cfg.seed(), st.step, i));
    schedule.apply(opt, st.step);
    try (Scope s = Scope.open(); Batch d = b.on(cfg.device())) { // each batch is uploaded once
      Variable logits = model.forward(Variable.leaf(d.images(), false));
      Variable loss = F.crossEntropy(logits, d.labelTensor(), cfg.labelSmoothing());
      float value = loss.value().get(0); // the loss comes to the host: it is logged, and a NaN stops the run
      if (!Float.isFinite(value)) return value;
      int[] pred = Evaluator.predictions(logits.value()); // the predicted classes come to the host, to count the hits
      for (int i = 0; i < b.size(); i++) if (pred[i] == b.labels()[i]) st.correct++;
      loss.backward();
      opt.step();
      model.zeroGrad();
      st.lossSum += (double) value * b.size();
      st.seen += b.size();
      st.batch++;
      st.step++;
      return value;
    }
  }

  private void writeChart(Metrics m) {
    try {
      Chart.write(dir.resolve(RunFolder.CURVES), m.rows(), cfg.model() + " on " + cfg.dataset());
    } catch (RuntimeException | LinkageError e) { // e.g. a Java runtime without fonts: the run goes on
      log.println("warning: could not draw curves.png: " + e);
    }
  }

  private void save(Module model, Optimizer opt, State st, float[] mean, float[] std, Path file) {
    Map<String, String> meta = new LinkedHashMap<>(cfg.toMetadata());
    meta.put("data.mean", join(mean));
    meta.put("data.std", join(std));
    meta.put("data.channels", Integer.toString(train.channels()));
    meta.put("data.image_size", Integer.toString(train.height())); // the square side the model was trained at
    meta.put("data.classes", String.join("\n", train.classes()));
    meta.put("data.train_size", Integer.toString(train.size()));
    meta.putAll(st.toMetadata());
    Checkpoint.save(file, model, opt, meta);
  }

  private void checkResumable(Checkpoint ck) {
    Map<String, String> m = ck.metadata();
    if (!m.get("data.train_size").equals(Integer.toString(train.size())))
      throw new IllegalArgumentException(lastCheckpoint(dir) + " was trained on " + m.get("data.train_size")
          + " images, but the training set now has " + train.size() + " (same --dataset, --data and --limit-train?)");
    if (ck.dataChannels() != train.channels())
      throw new IllegalArgumentException(lastCheckpoint(dir) + " was trained on " + ck.dataChannels()
          + "-channel images, but the training set has " + train.channels());
  }

  /** The run's position must be one this run can reach: a checkpoint's numbers are not trusted. */
  private void checkPosition(State st, int perEpoch) {
    Path f = lastCheckpoint(dir);
    if (st.batch > perEpoch)
      throw new IllegalArgumentException(f + ": run.batch " + st.batch + " is beyond the " + perEpoch + " batches of an epoch");
    long step = (long) st.epoch * perEpoch + st.batch;
    if (st.step != step)
      throw new IllegalArgumentException(f + ": run.step " + st.step + " does not match epoch " + st.epoch + ", batch "
          + st.batch + " (" + perEpoch + " batches per epoch: step " + step + ")");
    long seen = Math.min((long) st.batch * cfg.batchSize(), train.size());
    if (st.seen != seen)
      throw new IllegalArgumentException(f + ": run.seen " + st.seen + " does not match " + st.batch + " batches of "
          + cfg.batchSize() + " (" + seen + " images)");
  }

  /**
   * Makes best.safetensors hold the best epoch that last.safetensors records. Written in the
   * order best, then last, they agree but for one case that needs nothing: a kill between the two
   * writes leaves best one epoch ahead, and the resumed run rewrites it with the same bytes.
   * Folders written in the other order, or edited by hand, can disagree: when last is itself
   * the best epoch's checkpoint, best is rebuilt from it; otherwise the run's record is set to
   * what best holds, so that the record never names weights that are not there.
   */
  private void repairBest(State st) {
    if (st.bestEpoch == 0) return;
    Path best = bestCheckpoint(dir);
    int bestFileEpoch = -1;
    double bestFileAcc = -1;
    if (Files.exists(best)) {
      try {
        Checkpoint b = Checkpoint.read(best);
        bestFileEpoch = b.epochsDone();
        bestFileAcc = new TrainConfig.Meta(b.metadata()).num("run.best_acc");
      } catch (RuntimeException unreadable) {
        log.println("warning: " + best + " is unreadable (" + unreadable.getMessage() + ")");
      }
    }
    if (bestFileEpoch == st.bestEpoch || bestFileEpoch > st.epoch) return;
    if (st.epoch == st.bestEpoch && st.batch == 0) {
      AtomicFile.copy(lastCheckpoint(dir), best);
      log.println("repaired " + best + " from " + lastCheckpoint(dir) + " (epoch " + st.bestEpoch + ", the run's best)");
      return;
    }
    log.printf(Locale.ROOT, "warning: %s does not hold the run's best epoch %d and cannot be rebuilt; the run's best is "
        + "now what it holds (%s)%n", best, st.bestEpoch, bestFileEpoch < 0 ? "nothing" : "epoch " + bestFileEpoch);
    st.bestEpoch = Math.max(bestFileEpoch, 0);
    st.bestAcc = bestFileEpoch < 0 ? -1 : bestFileAcc;
  }

  private Result result(Outcome o, State st, double lastAcc, double trainSeconds, double wait, double work, String msg) {
    double seconds = 0, images = 0;
    for (Metrics.Row r : st.metrics.rows()) {
      seconds += r.seconds();
      images += r.seconds() * r.imagesPerS();
    }
    int epochs = st.metrics.rows().size();
    return new Result(o, st.epoch, st.bestAcc, st.bestEpoch, lastAcc, epochs == 0 ? 0 : seconds / epochs,
        images / Math.max(seconds, 1e-9), wait / Math.max(trainSeconds, 1e-9), work / Math.max(trainSeconds, 1e-9), msg);
  }

  private Optimizer optimizer(Module model) {
    switch (cfg.optimizer()) {
      case "sgd":
        return new SGD(model.parameters(), cfg.lr(), cfg.momentum(), 0, false, cfg.weightDecay());
      case "adam":
        return new Adam(model.parameters(), cfg.lr(), 0.9, 0.999, 1e-8, cfg.weightDecay());
      case "adamw":
        return new AdamW(model.parameters(), cfg.lr(), 0.9, 0.999, 1e-8, cfg.weightDecay());
      default: // TrainConfig admits only TrainConfig.OPTIMIZERS: a name here that is not one is a bug
        throw new IllegalStateException("optimizer '" + cfg.optimizer() + "' has no case here; expected one of "
            + TrainConfig.OPTIMIZERS);
    }
  }

  /** Step schedules: cosine to 0, one-cycle, ×0.1 after each third of the run, or constant; plus warm-up. */
  private LrSchedule schedule(int perEpoch, long total) {
    LrSchedule s;
    switch (cfg.schedule()) {
      case "cosine": s = LrSchedule.cosine(cfg.lr(), total, 0); break;
      case "onecycle": s = LrSchedule.oneCycle(cfg.lr(), total); break;
      case "step": s = LrSchedule.step(cfg.lr(), Math.max(1, (total + 2) / 3), 0.1); break;
      case "constant": s = LrSchedule.constant(cfg.lr()); break;
      default: // as for the optimizer: only TrainConfig.SCHEDULES get here
        throw new IllegalStateException("schedule '" + cfg.schedule() + "' has no case here; expected one of "
            + TrainConfig.SCHEDULES);
    }
    long warm = Math.round(cfg.warmupEpochs() * perEpoch);
    return warm > 0 ? LrSchedule.warmup(s, warm, 0.1) : s;
  }

  /** A 1-channel dataset is fed to the 3-channel models by repeating the channel. */
  private static float[] expand(double[] perChannel) {
    float[] out = new float[perChannel.length == 1 ? 3 : perChannel.length];
    for (int i = 0; i < out.length; i++) out[i] = (float) perChannel[perChannel.length == 1 ? 0 : i];
    return out;
  }

  private static List<Dropout> dropouts(Module m) {
    return m.namedModules().values().stream().filter(Dropout.class::isInstance).map(Dropout.class::cast).toList();
  }

  /** A well-mixed 64-bit seed from three values (SplitMix64 finaliser). */
  static long mix(long a, long b, long c) {
    long z = a * 0x9E3779B97F4A7C15L + b * 0xC2B2AE3D27D4EB4FL + c * 0x165667B19E3779F9L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  private static String join(float[] v) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < v.length; i++) sb.append(i == 0 ? "" : ",").append(v[i]);
    return sb.toString();
  }

  /** The position in the run, the partial epoch's sums and the run's origin: what a checkpoint must carry. */
  private static final class State {
    int epoch, batch, bestEpoch;
    long step, seen, correct;
    double lossSum, epochSeconds, bestAcc = -1;
    Metrics metrics = new Metrics();
    Pretrained init; // the weights the run started from, or null

    void nextEpoch() {
      epoch++;
      batch = 0;
      seen = correct = 0;
      lossSum = epochSeconds = 0;
    }

    Map<String, String> toMetadata() {
      Map<String, String> m = new LinkedHashMap<>();
      m.put("run.epoch", Integer.toString(epoch));
      m.put("run.batch", Integer.toString(batch));
      m.put("run.step", Long.toString(step));
      m.put("run.epoch_seconds", Double.toString(epochSeconds));
      m.put("run.loss_sum", Double.toString(lossSum));
      m.put("run.correct", Long.toString(correct));
      m.put("run.seen", Long.toString(seen));
      m.put("run.best_acc", Double.toString(bestAcc));
      m.put("run.best_epoch", Integer.toString(bestEpoch));
      m.put("run.metrics", metrics.csv());
      if (init != null) m.putAll(init.toMetadata());
      return m;
    }

    void load(Map<String, String> meta) {
      TrainConfig.Meta r = new TrainConfig.Meta(meta);
      epoch = (int) r.lng("run.epoch");
      batch = (int) r.lng("run.batch");
      step = r.lng("run.step");
      epochSeconds = r.num("run.epoch_seconds");
      lossSum = r.num("run.loss_sum");
      correct = r.lng("run.correct");
      seen = r.lng("run.seen");
      bestAcc = r.num("run.best_acc");
      bestEpoch = (int) r.lng("run.best_epoch");
      metrics = Metrics.parse(r.str("run.metrics"), "checkpoint metadata run.metrics");
      init = Pretrained.fromMetadata(meta);
    }
  }
}
