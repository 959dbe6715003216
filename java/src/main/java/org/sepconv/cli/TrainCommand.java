package org.sepconv.cli;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.sepconv.Sepconv;
import org.sepconv.data.Dataset;
import org.sepconv.tensor.Device;
import org.sepconv.train.Checkpoint;
import org.sepconv.train.Pretrained;
import org.sepconv.train.TrainConfig;
import org.sepconv.train.Trainer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Trains a model, evaluating on the test split after every epoch.",
        "The run folder (--out) gets last.safetensors (the resume point, written atomically after every epoch and on "
            + "Ctrl-C), best.safetensors (best test accuracy), metrics.csv and curves.png."},
    footer = {"", "Exit codes: 0 done, 1 an error (one line on stderr), 2 a bad command line, 3 the loss became "
        + "NaN/Inf, 130 interrupted (Ctrl-C: the checkpoint was saved; a second Ctrl-C quits at once without saving)."})
final class TrainCommand implements Callable<Integer> {
  private final PrintStream out;
  @Spec CommandSpec spec;

  @Mixin ModelOptions m = new ModelOptions();

  @Option(names = "--dataset", defaultValue = "cifar10", description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
  Choices.Dataset dataset;

  @Option(names = "--data", paramLabel = "DIR", description = {"the dataset folder. cifar10: cifar-10-batches-bin (default: "
      + "download into ~/.cache/sepconv or $SEPCONV_CACHE); fashion-mnist: the four IDX .gz files (default: "
      + "/usr/share/datasets/fashion-mnist, Debian package dataset-fashion-mnist)"})
  Path data;

  @Option(names = "--limit-train", defaultValue = "0", paramLabel = "N", description = "train on a seeded subset of N images (default: all)")
  int limitTrain;

  @Option(names = "--epochs", defaultValue = "30", paramLabel = "N", description = "epochs (default: ${DEFAULT-VALUE}); with --resume, may extend the run")
  int epochs;

  @Option(names = "--batch-size", defaultValue = "128", paramLabel = "N", description = "batch size (default: ${DEFAULT-VALUE})")
  int batchSize;

  @Option(names = "--optimizer", defaultValue = "sgd", description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
  Choices.Optimizer optimizer;

  @Option(names = "--lr", defaultValue = "0.1", paramLabel = "X", description = "peak learning rate (default: ${DEFAULT-VALUE})")
  double lr;

  @Option(names = "--momentum", defaultValue = "0.9", paramLabel = "X", description = "SGD momentum (default: ${DEFAULT-VALUE})")
  double momentum;

  @Option(names = "--weight-decay", defaultValue = "5e-4", paramLabel = "X", description = "weight decay: L2 for sgd/adam, decoupled for adamw (default: ${DEFAULT-VALUE})")
  double weightDecay;

  @Option(names = "--schedule", defaultValue = "cosine", description = "per-step learning rate, ${COMPLETION-CANDIDATES}: cosine (to 0), onecycle, step (x0.1 after each third), constant (default: ${DEFAULT-VALUE})")
  Choices.Schedule schedule;

  @Option(names = "--warmup-epochs", defaultValue = "0", paramLabel = "X", description = "linear warm-up from lr/10 over X epochs (default: ${DEFAULT-VALUE})")
  double warmupEpochs;

  @Option(names = "--label-smoothing", defaultValue = "0", paramLabel = "X", description = "label smoothing in [0, 1) (default: ${DEFAULT-VALUE})")
  float labelSmoothing;

  @Option(names = "--crop-pad", defaultValue = "4", paramLabel = "PX", description = "random crop after zero-padding by PX pixels, 0 = off (default: ${DEFAULT-VALUE})")
  int cropPad;

  @Option(names = "--flip", negatable = true, defaultValue = "true", fallbackValue = "true", description = "random horizontal flips; --no-flip turns them off (default: on)")
  boolean flip;

  @Option(names = "--cutout", defaultValue = "0", paramLabel = "PX", description = "cutout square side in pixels, 0 = off (default: ${DEFAULT-VALUE})")
  int cutout;

  @Mixin MachineOptions machine = new MachineOptions();

  @Option(names = "--seed", defaultValue = "0", paramLabel = "N", description = "seeds weights, data order, augmentation and dropout (default: ${DEFAULT-VALUE})")
  long seed;

  @Option(names = "--out", defaultValue = "runs/latest", paramLabel = "DIR", description = "run folder (default: ${DEFAULT-VALUE})")
  Path outDir;

  @Option(names = "--resume", description = "continue the run in --out from its last.safetensors, with its stored settings")
  boolean resume;

  @Option(names = "--overwrite", description = "start a new run in --out even though it holds one (its files are deleted)")
  boolean overwrite;

  @Option(names = "--init-from", paramLabel = "FILE", description = {"start from the weights of a safetensors state dict "
      + "under torchvision's names (e.g. torchvision's pretrained ones); a classifier for another class count is replaced "
      + "by a fresh one. Not with --resume"})
  Path initFrom;

  TrainCommand(PrintStream out) {
    this.out = out;
  }

  @Override
  public Integer call() throws InterruptedException {
    if (resume && overwrite) throw usage("--resume and --overwrite contradict each other: give one of them");
    if (resume && initFrom != null)
      throw usage("--init-from starts a new run from pretrained weights and --resume continues one from its checkpoint: "
          + "give one of them");
    Device device = machine.apply(spec);
    TrainConfig cfg = resume ? resumedConfig(device) : config(() -> new TrainConfig(m.model.toString(),
        m.variant.toString(), m.widthMult, m.classes != null ? m.classes : DataSets.classes(dataset.toString(), 10),
        dataset.toString(), limitTrain, epochs, batchSize, optimizer.toString(), lr, momentum, weightDecay,
        schedule.toString(), warmupEpochs, labelSmoothing, cropPad, flip, cutout, seed, device));
    if (cfg.device() != device) MachineOptions.usable(cfg.device()); // a resumed run's own
    Pretrained init = initFrom == null ? null : Pretrained.of(initFrom); // a missing or broken file stops before the data
    Dataset train = DataSets.open(cfg.dataset(), data, true, cfg.classes(), cfg.seed(), out);
    Dataset test = DataSets.open(cfg.dataset(), data, false, cfg.classes(), cfg.seed(), out);
    if (cfg.limitTrain() > train.size())
      throw usage("--limit-train must be at most the " + train.size() + " training images of " + cfg.dataset() + ", got "
          + cfg.limitTrain());
    if (cfg.limitTrain() > 0) train = train.subset(cfg.limitTrain(), cfg.seed());
    out.printf(Locale.ROOT, "train: %s (%s, %d classes, width %s) on %s: %d train / %d test images of %dx%dx%d; "
            + "%d epochs, batch %d, %s lr %s (%s), on %s, %d threads, out %s%n", cfg.model(), cfg.variant(), cfg.classes(),
        cfg.widthMult(), cfg.dataset(), train.size(), test.size(), train.channels(), train.height(), train.width(),
        cfg.epochs(), cfg.batchSize(), cfg.optimizer(), cfg.lr(), cfg.schedule(), Devices.describe(cfg.device()),
        Sepconv.numThreads(), outDir);

    Trainer trainer = new Trainer(cfg, train, test, outDir, out, System.console() != null);
    Trainer.Start start = resume ? Trainer.Start.RESUME : overwrite ? Trainer.Start.OVERWRITE : Trainer.Start.NEW;
    try (Interrupts stop = Interrupts.install(trainer, out)) {
      Trainer.Result r = trainer.run(start, init);
      switch (r.outcome()) {
        case COMPLETED: return 0;
        case DIVERGED: return 3;
        default: return 130;
      }
    }
  }

  private CommandLine.ParameterException usage(String message) {
    return new CommandLine.ParameterException(spec.commandLine(), message);
  }

  /** Builds the config; a flag value out of range is a bad command line (exit 2), named by the message. */
  private TrainConfig config(java.util.function.Supplier<TrainConfig> make) {
    try {
      return make.get();
    } catch (IllegalArgumentException e) {
      throw usage(e.getMessage());
    }
  }

  /**
   * The checkpoint's settings. A flag given on this command line must agree with them, except
   * --epochs, which may extend the run (not cut it below the epochs already done), and
   * --device: a run may go on on another device (the stored one is used when none is given).
   */
  private TrainConfig resumedConfig(Device device) {
    Path last = Trainer.lastCheckpoint(outDir);
    if (!Files.exists(last))
      throw new IllegalArgumentException("--resume: there is no run to continue in " + outDir + " (no " + last.getFileName()
          + "); start one without --resume");
    Checkpoint ck = Checkpoint.read(last);
    TrainConfig s = ck.config();
    CommandLine.ParseResult pr = spec.commandLine().getParseResult();
    java.util.function.Predicate<String> given = pr::hasMatchedOption;
    TrainConfig mine = config(() -> new TrainConfig(given.test("--model") ? m.model.toString() : s.model(),
        given.test("--variant") ? m.variant.toString() : s.variant(), given.test("--width-mult") ? m.widthMult : s.widthMult(),
        m.classes != null ? m.classes : s.classes(), given.test("--dataset") ? dataset.toString() : s.dataset(),
        given.test("--limit-train") ? limitTrain : s.limitTrain(), given.test("--epochs") ? epochs : s.epochs(),
        given.test("--batch-size") ? batchSize : s.batchSize(), given.test("--optimizer") ? optimizer.toString() : s.optimizer(),
        given.test("--lr") ? lr : s.lr(), given.test("--momentum") ? momentum : s.momentum(),
        given.test("--weight-decay") ? weightDecay : s.weightDecay(), given.test("--schedule") ? schedule.toString() : s.schedule(),
        given.test("--warmup-epochs") ? warmupEpochs : s.warmupEpochs(),
        given.test("--label-smoothing") ? labelSmoothing : s.labelSmoothing(),
        given.test("--crop-pad") ? cropPad : s.cropPad(), given.test("--flip") ? flip : s.flip(),
        given.test("--cutout") ? cutout : s.cutout(), given.test("--seed") ? seed : s.seed(),
        given.test("--device") ? device : s.device()));
    Map<String, String> stored = s.toMetadata(), wanted = mine.toMetadata();
    List<String> conflicts = new ArrayList<>();
    for (String key : wanted.keySet())
      if (!key.equals("config.epochs") && !key.equals("config.device") && !wanted.get(key).equals(stored.get(key)))
        conflicts.add("--" + key.substring("config.".length()).replace('_', '-') + " " + wanted.get(key) + " (the run has "
            + stored.get(key) + ")");
    if (!conflicts.isEmpty())
      throw usage("--resume continues the run in " + outDir + " with its own settings; these "
          + "flags differ: " + String.join(", ", conflicts) + ". Start a new --out to change them.");
    if (mine.epochs() < ck.epochsDone())
      throw usage("--epochs " + mine.epochs() + " is fewer than the " + ck.epochsDone() + " epochs this run has done; "
          + "give at least " + ck.epochsDone() + ", or leave it out to finish the run's " + s.epochs());
    return mine;
  }
}
