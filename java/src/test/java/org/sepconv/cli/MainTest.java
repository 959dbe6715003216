package org.sepconv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class MainTest {
  /** The exit code, stdout and stderr of one command line. */
  record Run(int code, String out, String err) {}

  static Run exec(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
    int code = Main.run(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
        args);
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void summaryPrintsTheExactParameterCount() {
    Run r = exec("summary", "--model", "mobilenetv2", "--variant", "imagenet");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("\nparams: 3504872\n"), r.out());
    assertTrue(r.out().contains("features.18.0"), r.out());
    assertTrue(r.out().contains("\nmacs: "), r.out());
  }

  /** The options' enums list exactly the names the library and the trainer accept. */
  @Test
  void choicesAreTheNamesTheLibraryAccepts() {
    assertEquals(org.sepconv.models.Models.NAMES, names(Choices.Model.values()));
    assertEquals(org.sepconv.models.Models.VARIANTS, names(Choices.Variant.values()));
    assertEquals(org.sepconv.train.TrainConfig.DATASETS, names(Choices.Dataset.values()));
    assertEquals(org.sepconv.train.TrainConfig.OPTIMIZERS, names(Choices.Optimizer.values()));
    assertEquals(org.sepconv.train.TrainConfig.SCHEDULES, names(Choices.Schedule.values()));
    Run r = exec("train", "--help");
    assertTrue(r.out().contains("cifar10, fashion-mnist, synthetic") && r.out().contains("sgd, adam, adamw"), r.out());
  }

  static java.util.List<String> names(Enum<?>[] values) {
    return java.util.Arrays.stream(values).map(Object::toString).toList();
  }

  @Test
  void completionPrintsABashScriptWithEveryCommandAndChoice() {
    Run r = exec("completion");
    assertEquals(0, r.code(), r.err());
    for (String w : java.util.List.of("complete -F", "sepconv", "train", "eval", "predict", "--optimizer", "adamw",
        "fashion-mnist", "--device"))
      assertTrue(r.out().contains(w), w + " in the completion script");
  }

  @Test
  void infoNamesTheInstructionSetAndBlas() {
    Run r = exec("info");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("cpu isa: ") && r.out().contains("blas: ") && r.out().contains("cuda: "), r.out());
  }

  @Test
  void badCommandLinesExitTwoWithTheProblem() {
    Run r = exec("summary", "--no-such-flag");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--no-such-flag"), r.err());
    r = exec("frobnicate");
    assertEquals(2, r.code());
    r = exec("summary", "--model", "vgg16");
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("sepconv summary: Invalid value for option '--model'")
        && r.err().contains("expected one of [mobilenetv1, mobilenetv2, resnet18], got 'vgg16'"), r.err());
    r = exec("train", "--optimizer", "lbfgs", "--dataset", "synthetic");
    assertEquals(2, r.code(), "an unknown optimizer is refused by name, never taken for another");
    assertTrue(r.err().contains("expected one of [sgd, adam, adamw], got 'lbfgs'"), r.err());
    r = exec("summary", "--width-mult", "100");
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("sepconv summary: width multiplier must be in (0, 4.0], got 100.0"), r.err());
    r = exec();
    assertEquals(2, r.code(), "no command is a bad command line");
    assertTrue(r.err().contains("Usage: sepconv") && r.err().contains("train"), r.err());
    assertEquals("", r.out());
  }
}
