package org.sepconv.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class MainTest {
  static String run(String... args) {
    PrintStream old = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      Main.main(args);
    } finally {
      System.setOut(old);
    }
    return buf.toString(StandardCharsets.UTF_8);
  }

  @Test
  void summaryPrintsTheExactParameterCount() {
    String out = run("summary", "--model", "mobilenetv2", "--variant", "imagenet");
    assertTrue(out.contains("\nparams: 3504872\n"), out);
    assertTrue(out.contains("features.18.0"), out);
  }

  @Test
  void infoNamesTheInstructionSetAndBlas() {
    String out = run("info");
    assertTrue(out.contains("cpu isa: ") && out.contains("blas: ") && out.contains("cuda: "), out);
  }
}
