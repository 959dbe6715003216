package org.sepconv.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.sepconv.data.Dataset;
import org.sepconv.models.Folded;
import org.sepconv.nn.Module;
import org.sepconv.tensor.Device;
import org.sepconv.train.Checkpoint;
import org.sepconv.train.Evaluator;
import org.sepconv.train.TrainConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Evaluates a checkpoint on its dataset's test split: loss, accuracy and accuracy per class.")
final class EvalCommand implements Callable<Integer> {
  private final PrintStream out;
  @Spec CommandSpec spec;

  @Option(names = "--checkpoint", required = true, paramLabel = "FILE", description = "a checkpoint written by train, e.g. runs/latest/best.safetensors")
  Path checkpoint;

  @Option(names = "--data", paramLabel = "DIR", description = "the dataset folder, if not the default (see train --help)")
  Path data;

  @Option(names = "--batch-size", defaultValue = "64", paramLabel = "N", description = "batch size; larger ones only spill the CPU caches (default: ${DEFAULT-VALUE})")
  int batchSize;

  @Option(names = "--folded", description = "evaluate the inference model with every BatchNorm folded into its conv and "
      + "the fused ops (a conv, its BN and activation in one pass; a MobileNet block in one pass per tile of rows): "
      + "the same metrics, to float rounding")
  boolean folded;

  @Mixin MachineOptions machine = new MachineOptions();

  EvalCommand(PrintStream out) {
    this.out = out;
  }

  @Override
  public Integer call() {
    if (batchSize < 1) throw new CommandLine.ParameterException(spec.commandLine(), "--batch-size must be >= 1, got " + batchSize);
    Device device = machine.apply(spec);
    Checkpoint ck = Checkpoint.read(checkpoint);
    TrainConfig cfg = ck.config();
    Dataset test = DataSets.open(cfg.dataset(), data, false, cfg.classes(), cfg.seed(), out);
    String[] names = ck.classNames();
    if (test.classes().length != names.length)
      throw new IllegalArgumentException(checkpoint + " has " + names.length + " classes, the test set " + test.classes().length);
    Module model = ck.loadModel(checkpoint);
    try (model) {
      model.to(device);
      try (Folded inference = folded ? Folded.of(model) : null) {
        Evaluator.Result r = Evaluator.evaluate(folded ? inference : model, test, ck.mean(), ck.std(), batchSize);
        out.printf(Locale.ROOT, "%s (%s, epoch %d%s) on %s test (%d images): loss %.4f, accuracy %.4f, %.0f img/s%n",
            checkpoint, cfg.model(), ck.epochsDone(), folded ? ", folded" : "", cfg.dataset(), r.images(), r.loss(),
            r.accuracy(), r.imagesPerSecond());
        for (int k = 0; k < names.length; k++)
          out.printf(Locale.ROOT, "  %-12s %.4f (%d/%d)%n", names[k],
              r.totalPerClass()[k] == 0 ? 0.0 : (double) r.correctPerClass()[k] / r.totalPerClass()[k],
              r.correctPerClass()[k], r.totalPerClass()[k]);
      }
    }
    return 0;
  }
}
