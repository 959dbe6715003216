package org.sepconv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.sepconv.cli.MainTest.Run;
import org.sepconv.data.Dataset;
import org.sepconv.data.Synthetic;
import org.sepconv.train.Metrics;

/** The whole command line on synthetic data: train, resume, eval, predict, and its errors. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TrainCliTest {
  @TempDir static Path tmp;
  static Path run;

  static String[] trainArgs(int epochs, String... extra) {
    List<String> a = new java.util.ArrayList<>(List.of("train", "--dataset", "synthetic", "--model", "mobilenetv1",
        "--width-mult", "0.25", "--limit-train", "320", "--batch-size", "64", "--epochs", Integer.toString(epochs),
        "--lr", "0.05", "--seed", "3", "--out", run.toString()));
    a.addAll(List.of(extra));
    return a.toArray(new String[0]);
  }

  @BeforeAll
  static void setUp() {
    run = tmp.resolve("run");
  }

  @Test
  @Order(1)
  void trainsATinyEpochAndWritesTheRunFolder() throws IOException {
    Run r = MainTest.exec(trainArgs(1));
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue(r.out().contains("epoch 1/1: train loss"), r.out());
    assertTrue(r.out().contains("done: 1 epochs of mobilenetv1 on synthetic"), r.out());
    for (String f : List.of("last.safetensors", "best.safetensors", "metrics.csv", "curves.png"))
      assertTrue(Files.isRegularFile(run.resolve(f)), f);
    assertEquals(1, Metrics.parse(Files.readString(run.resolve("metrics.csv")), "metrics.csv").rows().size());
  }

  @Test
  @Order(2)
  void resumeExtendsTheRunAndRefusesChangedSettings() throws IOException {
    Run bad = MainTest.exec(trainArgs(2, "--resume", "--optimizer", "adam"));
    assertEquals(2, bad.code(), "a flag that contradicts the run is a bad command line");
    assertTrue(bad.err().startsWith("sepconv train: --resume continues the run") && bad.err().contains("--optimizer adam"),
        bad.err());
    Run r = MainTest.exec(trainArgs(2, "--resume"));
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue(r.out().contains("resumed ") && r.out().contains("epoch 2 of 2"), r.out());
    assertFalse(r.out().contains("epoch 1/2:"), "epoch 1 is not trained again: " + r.out());
    List<Metrics.Row> rows = Metrics.parse(Files.readString(run.resolve("metrics.csv")), "metrics.csv").rows();
    assertEquals(2, rows.size());
    assertEquals(2, rows.get(1).epoch());
  }

  @Test
  @Order(3)
  void evalReproducesTheTestAccuracyOfTheLastEpoch() throws IOException {
    Run r = MainTest.exec("eval", "--checkpoint", run.resolve("last.safetensors").toString());
    assertEquals(0, r.code(), r.err());
    List<Metrics.Row> rows = Metrics.parse(Files.readString(run.resolve("metrics.csv")), "metrics.csv").rows();
    Matcher m = Pattern.compile("loss ([0-9.]+), accuracy ([0-9.]+)").matcher(r.out());
    assertTrue(m.find(), r.out());
    assertEquals(rows.get(1).testAcc(), Double.parseDouble(m.group(2)), 1e-4, r.out());
    assertEquals(rows.get(1).testLoss(), Double.parseDouble(m.group(1)), 1e-3, r.out());
    assertEquals(11, r.out().split("\n").length, "a total line and one line per class: " + r.out());
  }

  /** eval --folded: the BN-folded inference model gives the same accuracy, per class too, and the loss to float rounding. */
  @Test
  @Order(3)
  void evalFoldedGivesTheSameMetrics() {
    String ck = run.resolve("last.safetensors").toString();
    Run plain = MainTest.exec("eval", "--checkpoint", ck), folded = MainTest.exec("eval", "--checkpoint", ck, "--folded");
    assertEquals(0, plain.code(), plain.err());
    assertEquals(0, folded.code(), folded.err());
    Pattern total = Pattern.compile(
        "\\(mobilenetv1, epoch 2(, folded)?\\) on synthetic test \\(\\d+ images\\): loss ([0-9.]+), accuracy ([0-9.]+)");
    Matcher p = total.matcher(plain.out()), f = total.matcher(folded.out());
    assertTrue(p.find() && p.group(1) == null, plain.out());
    assertTrue(f.find() && ", folded".equals(f.group(1)), folded.out());
    assertEquals(p.group(3), f.group(3), "accuracy");
    assertEquals(Double.parseDouble(p.group(2)), Double.parseDouble(f.group(2)), 2e-4, "loss");
    String[] a = plain.out().split("\n"), b = folded.out().split("\n");
    assertEquals(a.length, b.length);
    for (int i = 1; i < a.length; i++) assertEquals(a[i], b[i], "per-class line " + i);
    assertTrue(MainTest.exec("eval", "--help").out().contains("--folded"));
  }

  @Test
  @Order(4)
  void predictPrintsTopKClassesForFilesAndFolders() throws IOException {
    Dataset test = Synthetic.make(4, 10, 3, 32, 99);
    Path images = Files.createDirectories(tmp.resolve("images"));
    for (int i = 0; i < test.size(); i++) ImageIO.write(rgb(test, i), "png", images.resolve("img" + i + ".png").toFile());
    Run r = MainTest.exec("predict", "--checkpoint", run.resolve("best.safetensors").toString(), "--top-k", "3",
        images.toString(), images.resolve("img0.png").toString());
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().split("\n");
    assertEquals(5, lines.length, r.out());
    Pattern line = Pattern.compile(".*img\\d\\.png: (class\\d) ([0-9.]+), (class\\d) ([0-9.]+), (class\\d) ([0-9.]+)");
    for (String l : lines) {
      Matcher m = line.matcher(l);
      assertTrue(m.matches(), l);
      double p1 = Double.parseDouble(m.group(2)), p2 = Double.parseDouble(m.group(4)), p3 = Double.parseDouble(m.group(6));
      assertTrue(p1 >= p2 && p2 >= p3 && p1 + p2 + p3 <= 1.0001 && p3 >= 0, l);
    }
    Run bad = MainTest.exec("predict", "--checkpoint", run.resolve("best.safetensors").toString(), "--top-k", "11",
        images.toString());
    assertEquals(2, bad.code());
    assertTrue(bad.err().contains("--top-k must be in [1, 10]"), bad.err());
  }

  @Test
  @Order(5)
  void helpDocumentsEveryTrainFlag() {
    Run r = MainTest.exec("train", "--help");
    assertEquals(0, r.code());
    for (String flag : List.of("--model", "--variant", "--width-mult", "--classes", "--dataset", "--data",
        "--limit-train", "--epochs", "--batch-size", "--optimizer", "--lr", "--weight-decay", "--schedule",
        "--label-smoothing", "--device", "--threads", "--seed", "--out", "--resume", "--cutout", "--momentum", "--crop-pad", "--no-flip", "--warmup-epochs"))
      assertTrue(r.out().contains(flag), flag + " in " + r.out());
    String flat = r.out().replaceAll("\\s+", " "); // picocli wraps long descriptions
    for (String d : List.of("(default: 0.1)", "(default: sgd)", "(default: cosine)", "(default: 128)", "(default: 5e-4)",
        "(default: 0.9)"))
      assertTrue(flat.contains(d), d + " in " + r.out());
  }

  @Test
  @Order(6)
  void userErrorsAreOneLineWithoutAStackTrace(@TempDir Path empty) throws IOException {
    Run r = MainTest.exec("train", "--dataset", "cifar10", "--data", empty.toString(), "--out", tmp.resolve("x").toString());
    assertEquals(1, r.code());
    assertEquals(1, r.err().split("\n").length, r.err());
    assertTrue(r.err().startsWith("sepconv: ") && r.err().contains("data_batch_1.bin"), r.err());
    Files.write(empty.resolve("data_batch_1.bin"), new byte[3073 * 2 + 5]);
    r = MainTest.exec("train", "--dataset", "cifar10", "--data", empty.toString(), "--out", tmp.resolve("x").toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains("data_batch_1.bin") && r.err().toLowerCase(Locale.ROOT).contains("truncated"), r.err());
    assertFalse(r.err().contains("\tat "), r.err());

    String noCuda = org.sepconv.Sepconv.cudaUnavailableReason();
    if (noCuda != null) { // no GPU: one line that says why (no CUDA in this build, no driver, no device), exit 1
      r = MainTest.exec("train", "--dataset", "synthetic", "--device", "cuda", "--out", tmp.resolve("y").toString());
      assertEquals(1, r.code());
      assertEquals("sepconv: --device cuda: " + noCuda + "; use --device cpu\n", r.err());
    }
    r = MainTest.exec("eval", "--checkpoint", tmp.resolve("nope.safetensors").toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains("checkpoint not found"), r.err());
  }

  private static BufferedImage rgb(Dataset d, int i) {
    int s = d.height(), plane = s * s;
    BufferedImage img = new BufferedImage(s, s, BufferedImage.TYPE_INT_RGB);
    byte[] px = d.images();
    for (int y = 0; y < s; y++)
      for (int x = 0; x < s; x++) {
        int at = i * 3 * plane + y * s + x;
        img.setRGB(x, y, (px[at] & 0xFF) << 16 | (px[at + plane] & 0xFF) << 8 | (px[at + 2 * plane] & 0xFF));
      }
    return img;
  }
}
