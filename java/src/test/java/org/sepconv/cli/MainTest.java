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
    assertEquals("sepconv summary: model must be one of [mobilenetv1, mobilenetv2, resnet18], got 'vgg16' (see "
        + "'sepconv summary --help')\n", r.err());
    r = exec("summary", "--width-mult", "100");
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("sepconv summary: width multiplier must be in (0, 4.0], got 100.0"), r.err());
    r = exec();
    assertEquals(2, r.code(), "no command is a bad command line");
    assertTrue(r.err().contains("Usage: sepconv") && r.err().contains("train"), r.err());
    assertEquals("", r.out());
  }
}
