package org.sepconv.examples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's two Java examples are these programs, word for word, and they run. */
class ReadmeExamplesTest {
  static final Path MODULE = Path.of(System.getProperty("basedir", "."));

  /** The program as the README shows it: the source file without its package line. */
  static String program(String name) throws IOException {
    String src = Files.readString(MODULE.resolve("src/test/java/org/sepconv/examples/" + name + ".java"));
    return src.substring(src.indexOf('\n') + 1).strip();
  }

  static String run(Runnable main) {
    PrintStream saved = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      main.run();
    } finally {
      System.setOut(saved);
    }
    String out = buf.toString(StandardCharsets.UTF_8);
    saved.print(out);
    return out;
  }

  @Test
  void theReadmeShowsBothProgramsAsTheyAre() throws IOException {
    Path file = MODULE.resolve("../README.md");
    Assumptions.assumeTrue(Files.isRegularFile(file) && Files.isDirectory(MODULE.resolve("src/test/java")),
        "no source tree here (the GPU bundle carries compiled tests only)");
    String readme = Files.readString(file);
    for (String name : new String[] {"KernelExample", "TrainingExample"})
      assertTrue(readme.contains(program(name)), "README.md must show " + name + ".java as it is (without its package "
          + "line); update the README from the file");
  }

  @Test
  void theKernelExampleMatchesTheReference() {
    String out = run(() -> KernelExample.main(new String[0]));
    Matcher m = Pattern.compile("max \\|y - reference\\| / max \\|reference\\| = ([0-9.eE+-]+)").matcher(out);
    assertTrue(m.find(), out);
    assertTrue(Double.parseDouble(m.group(1)) < 1e-5, out);
    Matcher bn = Pattern.compile("bn\\+relu6: ([0-9.]+)% of outputs in \\(0, 6\\)").matcher(out);
    assertTrue(bn.find() && Double.parseDouble(bn.group(1)) > 20 && Double.parseDouble(bn.group(1)) < 80,
        "normalised outputs: about half are positive and below 6: " + out);
  }

  @Test
  void theTrainingExampleFitsItsBatchAndSaves(@TempDir Path tmp) {
    Path file = tmp.resolve("m.safetensors");
    String out = run(() -> TrainingExample.main(new String[] {file.toString()}));
    Matcher m = Pattern.compile("step (\\d+): loss ([0-9.]+)").matcher(out);
    double first = Double.NaN, last = Double.NaN;
    while (m.find()) {
      double v = Double.parseDouble(m.group(2));
      if (Double.isNaN(first)) first = v;
      last = v;
    }
    assertTrue(first > 1.5 && last < first / 4, "the loss of one fixed batch falls: " + out);
    assertTrue(Files.isRegularFile(file) && out.contains("saved " + file), out);
  }
}
