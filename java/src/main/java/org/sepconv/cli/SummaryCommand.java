package org.sepconv.cli;

import java.io.PrintStream;
import java.util.Random;
import java.util.concurrent.Callable;
import org.sepconv.models.Models;
import org.sepconv.models.Summary;
import org.sepconv.nn.Module;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "summary", mixinStandardHelpOptions = true,
    description = "The model's layer table: output shapes, parameters and MACs per image, then 'params: N' and "
        + "'macs: M'.")
final class SummaryCommand implements Callable<Integer> {
  private final PrintStream out;

  @Option(names = "--model", defaultValue = "mobilenetv2", description = "mobilenetv1, mobilenetv2 or resnet18 (default: ${DEFAULT-VALUE})")
  String model;

  @Option(names = "--variant", defaultValue = "cifar", description = "cifar (32x32 input) or imagenet (224x224) (default: ${DEFAULT-VALUE})")
  String variant;

  @Option(names = "--width-mult", defaultValue = "1", paramLabel = "A", description = "MobileNet width multiplier (default: ${DEFAULT-VALUE})")
  float widthMult;

  @Option(names = "--classes", paramLabel = "K", description = "output classes (default: 10 for cifar, 1000 for imagenet)")
  Integer classes;

  SummaryCommand(PrintStream out) {
    this.out = out;
  }

  @Override
  public Integer call() {
    int size = Models.inputSize(variant);
    int k = classes != null ? classes : size == 32 ? 10 : 1000;
    try (Module m = Models.create(model, variant, widthMult, k, new Random(0))) {
      out.println(model + " (" + variant + ", " + k + " classes, input 3x" + size + "x" + size + ")");
      out.print(Summary.of(m, 3, size, size));
    }
    return 0;
  }
}
