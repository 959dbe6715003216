package org.sepconv.cli;

import java.io.PrintStream;
import java.util.Random;
import java.util.concurrent.Callable;
import org.sepconv.models.Models;
import org.sepconv.models.Summary;
import org.sepconv.nn.Module;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(name = "summary", mixinStandardHelpOptions = true,
    description = "The model's layer table: output shapes, parameters and MACs per image, then 'params: N' and "
        + "'macs: M'.")
final class SummaryCommand implements Callable<Integer> {
  private final PrintStream out;
  @Spec CommandSpec spec;

  @Mixin ModelOptions m = new ModelOptions();

  SummaryCommand(PrintStream out) {
    this.out = out;
  }

  @Override
  public Integer call() {
    Module built;
    int size, k;
    try {
      size = Models.inputSize(m.variant.toString());
      k = m.classes != null ? m.classes : size == 32 ? 10 : 1000;
      built = Models.create(m.model.toString(), m.variant.toString(), m.widthMult, k, new Random(0));
    } catch (IllegalArgumentException e) { // a flag value: a bad command line
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    try (Module model = built) {
      out.println(m.model + " (" + m.variant + ", " + k + " classes, input 3x" + size + "x" + size + ")");
      out.print(Summary.of(model, 3, size, size));
    }
    return 0;
  }
}
