package org.sepconv.cli;

import java.util.ArrayList;
import java.util.List;
import org.sepconv.models.Models;
import org.sepconv.train.TrainConfig;
import picocli.CommandLine;

/**
 * The closed sets of values of the command line's options, as enums: picocli converts and checks
 * them (a value outside the set is a bad command line that lists the set) and {@code --help}
 * lists them. The constants are spelled as on the command line and in checkpoints, lower case
 * ({@code toString()}: a dash for an underscore), the names {@link Models} and {@link TrainConfig}
 * accept (a test holds them equal).
 */
final class Choices {
  private Choices() {}

  enum Model { mobilenetv1, mobilenetv2, resnet18 }

  enum Variant { cifar, imagenet }

  enum Dataset {
    cifar10, fashion_mnist, synthetic;

    @Override
    public String toString() {
      return name().replace('_', '-');
    }
  }

  enum Optimizer { sgd, adam, adamw }

  enum Schedule { cosine, onecycle, step, constant }

  /** The constant of {@code type} spelled {@code s}, or a conversion error that lists the choices. */
  static <E extends Enum<E>> E parse(Class<E> type, String s) {
    List<String> ids = new ArrayList<>();
    for (E e : type.getEnumConstants()) {
      if (e.toString().equals(s)) return e;
      ids.add(e.toString());
    }
    throw new CommandLine.TypeConversionException("expected one of " + ids + ", got '" + s + "'");
  }

  /** Teaches {@code cl} (and its subcommands added later) to read every choice by its spelling. */
  static void register(CommandLine cl) {
    for (Class<? extends Enum<?>> c : List.<Class<? extends Enum<?>>>of(Model.class, Variant.class, Dataset.class,
        Optimizer.class, Schedule.class))
      converter(cl, c);
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static void converter(CommandLine cl, Class c) {
    cl.registerConverter(c, s -> parse(c, s));
  }
}
