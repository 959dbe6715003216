package org.sepconv.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sepconv.data.Dataset;
import org.sepconv.data.Synthetic;
import org.sepconv.io.SafeTensors;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Tensor;

class TrainerTest {
  static final Dataset TRAIN = Synthetic.make(192, 4, 3, 32, 1), TEST = Synthetic.make(64, 4, 3, 32, 2);

  static TrainConfig config(int epochs, double lr, String schedule) {
    return new TrainConfig("mobilenetv2", "cifar", 0.25f, 4, "synthetic", 0, epochs, 32, "sgd", lr, 0.9, 5e-4, schedule,
        0, 0.1f, 4, true, 8, 7, Device.CPU);
  }

  static Trainer.Result train(TrainConfig cfg, Path dir, boolean resume, long stopAt) {
    Trainer t = new Trainer(cfg, TRAIN, TEST, dir, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), false);
    if (stopAt >= 0) t.stopAtStep(stopAt);
    return t.run(resume);
  }

  static Map<String, float[]> tensors(Path file) {
    Map<String, Tensor> all = SafeTensors.load(file);
    Map<String, float[]> out = new LinkedHashMap<>();
    all.forEach((k, v) -> {
      out.put(k, v.toArray());
      v.close();
    });
    return out;
  }

  @Test
  void anInterruptedAndResumedRunEqualsAnUninterruptedOneBitForBit(@TempDir Path tmp) {
    TrainConfig cfg = config(2, 0.05, "cosine");
    Path a = tmp.resolve("a"), b = tmp.resolve("b");
    Trainer.Result full = train(cfg, a, false, -1);
    assertEquals(Trainer.Outcome.COMPLETED, full.outcome());
    assertEquals(2, full.epochsDone());

    // 6 steps per epoch: stop mid-epoch 1, resume, stop mid-epoch 2, resume to the end
    Trainer.Result first = train(cfg, b, false, 4);
    assertEquals(Trainer.Outcome.INTERRUPTED, first.outcome());
    Checkpoint mid = Checkpoint.read(Trainer.lastCheckpoint(b));
    assertEquals("4", mid.metadata().get("run.batch"));
    assertEquals(0, mid.epochsDone());
    assertEquals(Trainer.Outcome.INTERRUPTED, train(cfg, b, true, 9).outcome());
    assertEquals(Trainer.Outcome.COMPLETED, train(cfg, b, true, -1).outcome());

    Map<String, float[]> wa = tensors(Trainer.lastCheckpoint(a)), wb = tensors(Trainer.lastCheckpoint(b));
    assertEquals(wa.keySet(), wb.keySet());
    assertTrue(wa.keySet().stream().anyMatch(k -> k.startsWith("optim.")), "optimizer state is checkpointed");
    wa.forEach((k, v) -> assertArrayEquals(v, wb.get(k), k));
    List<Metrics.Row> ra = Metrics.parse(read(a.resolve("metrics.csv")), "a").rows();
    List<Metrics.Row> rb = Metrics.parse(read(b.resolve("metrics.csv")), "b").rows();
    assertEquals(2, rb.size());
    for (int i = 0; i < 2; i++) {
      assertEquals(ra.get(i).trainLoss(), rb.get(i).trainLoss(), 1e-6, "train loss of epoch " + (i + 1));
      assertEquals(ra.get(i).testAcc(), rb.get(i).testAcc(), 0, "test acc of epoch " + (i + 1));
      assertEquals(ra.get(i).lr(), rb.get(i).lr(), 1e-12);
    }
  }

  @Test
  void runFolderHoldsCheckpointsMetricsAndChart(@TempDir Path tmp) throws IOException {
    Trainer.Result r = train(config(2, 0.05, "onecycle"), tmp, false, -1);
    assertEquals(Trainer.Outcome.COMPLETED, r.outcome());
    for (String f : List.of("last.safetensors", "best.safetensors", "metrics.csv", "curves.png"))
      assertTrue(Files.size(tmp.resolve(f)) > 0, f);
    byte[] png = Files.readAllBytes(tmp.resolve("curves.png"));
    assertEquals((byte) 0x89, png[0]);
    assertEquals('P', png[1]);
    String csv = read(tmp.resolve("metrics.csv"));
    assertTrue(csv.startsWith(Metrics.HEADER + "\n"), csv);
    List<Metrics.Row> rows = Metrics.parse(csv, "metrics.csv").rows();
    assertEquals(2, rows.size());
    for (Metrics.Row row : rows) {
      assertTrue(row.trainAcc() >= 0 && row.trainAcc() <= 1 && row.testAcc() >= 0 && row.testAcc() <= 1, row.toString());
      assertTrue(row.seconds() > 0 && row.imagesPerS() > 0 && Double.isFinite(row.trainLoss()), row.toString());
    }
    Checkpoint best = Checkpoint.read(Trainer.bestCheckpoint(tmp));
    double bestAcc = Double.parseDouble(best.metadata().get("run.best_acc"));
    assertEquals(rows.stream().mapToDouble(Metrics.Row::testAcc).max().getAsDouble(), bestAcc, 0);
    assertEquals(r.bestAcc(), bestAcc, 0);
    assertEquals(TEST.classes().length, best.classNames().length);
    assertEquals(3, best.mean().length, "per model input channel");
    try (Stream<Path> files = Files.list(tmp)) {
      assertFalse(files.anyMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temp files left");
    }
  }

  @Test
  void aNonFiniteLossStopsTheRunAndKeepsTheLastGoodCheckpoint(@TempDir Path tmp) throws IOException {
    assertEquals(Trainer.Outcome.COMPLETED, train(config(1, 0.05, "constant"), tmp, false, -1).outcome());
    byte[] good = Files.readAllBytes(Trainer.lastCheckpoint(tmp));
    // the same run, extended by an epoch at an absurd rate: the weights overflow and the loss turns NaN
    Trainer.Result r = train(config(2, 1e30, "constant"), tmp, true, -1);
    assertEquals(Trainer.Outcome.DIVERGED, r.outcome());
    assertTrue(r.message().contains("the loss became") && r.message().contains("last.safetensors"), r.message());
    assertArrayEquals(good, Files.readAllBytes(Trainer.lastCheckpoint(tmp)));
  }

  @Test
  void aKilledCheckpointWriteLeavesThePreviousOneLoadable(@TempDir Path tmp) throws IOException {
    TrainConfig cfg = config(2, 0.05, "cosine");
    assertEquals(Trainer.Outcome.INTERRUPTED, train(cfg, tmp, false, 6).outcome()); // end of epoch 1
    Path last = Trainer.lastCheckpoint(tmp);
    byte[] before = Files.readAllBytes(last);

    // a writer killed half-way leaves its temp file; the checkpoint itself is untouched
    Files.write(tmp.resolve(".last.safetensors.123456.tmp"), java.util.Arrays.copyOf(before, before.length / 2));
    // a write that fails after the header (a tensor closed under it) changes nothing either
    Tensor ok = Tensor.zeros(4), closed = Tensor.zeros(1 << 20);
    closed.close();
    Map<String, Tensor> broken = new LinkedHashMap<>();
    broken.put("model.a", ok);
    broken.put("model.b", closed);
    assertThrows(RuntimeException.class, () -> SafeTensors.save(last, broken, Map.of()));
    ok.close();
    assertArrayEquals(before, Files.readAllBytes(last));

    assertEquals(Trainer.Outcome.COMPLETED, train(cfg, tmp, true, -1).outcome());
    assertEquals(2, Checkpoint.read(last).epochsDone());
  }

  static String log(TrainConfig cfg, Path dir, boolean resume) {
    java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
    Trainer t = new Trainer(cfg, TRAIN, TEST, dir, new PrintStream(buf, true, StandardCharsets.UTF_8), false);
    assertEquals(Trainer.Outcome.COMPLETED, t.run(resume).outcome());
    return buf.toString(StandardCharsets.UTF_8);
  }

  /**
   * The kills between the writes of best.safetensors and last.safetensors, rebuilt from the
   * deterministic run's own checkpoints: whichever file is ahead, the resumed run ends with a
   * best.safetensors that holds the epoch its last records. (On this tiny run epoch 1 stays
   * the best: the later epochs do not beat its accuracy.)
   */
  @Test
  void bestAndLastAgreeAfterAKillBetweenTheirWrites(@TempDir Path tmp) throws IOException {
    TrainConfig cfg = config(2, 0.05, "cosine");
    Path full = tmp.resolve("full");
    train(cfg, full, false, -1);
    assertEquals(1, Checkpoint.read(Trainer.bestCheckpoint(full)).epochsDone());

    // written last first (the old order) and killed during epoch 1's best write: last holds epoch 1, no best
    Path lastAhead = tmp.resolve("last-ahead");
    assertEquals(Trainer.Outcome.INTERRUPTED, train(cfg, lastAhead, false, 6).outcome()); // at the end of epoch 1
    Files.delete(Trainer.bestCheckpoint(lastAhead));
    byte[] epoch1 = Files.readAllBytes(Trainer.lastCheckpoint(lastAhead));
    String out = log(cfg, lastAhead, true);
    assertTrue(out.contains("repaired " + Trainer.bestCheckpoint(lastAhead)), out);
    assertArrayEquals(epoch1, Files.readAllBytes(Trainer.bestCheckpoint(lastAhead)), "best is epoch 1's checkpoint");

    // written best first (this order), killed before last: best holds epoch 1, last is mid-epoch 1
    Path bestAhead = tmp.resolve("best-ahead");
    assertEquals(Trainer.Outcome.INTERRUPTED, train(cfg, bestAhead, false, 4).outcome());
    Files.copy(Trainer.bestCheckpoint(full), Trainer.bestCheckpoint(bestAhead));
    log(cfg, bestAhead, true);
    Map<String, float[]> want = tensors(Trainer.bestCheckpoint(full)), got = tensors(Trainer.bestCheckpoint(bestAhead));
    want.forEach((k, v) -> assertArrayEquals(v, got.get(k), k));
    assertEquals(1, Checkpoint.read(Trainer.bestCheckpoint(bestAhead)).epochsDone());

    // best lost while last is mid-epoch: it cannot be rebuilt, and the run's record says so
    Path lost = tmp.resolve("lost");
    assertEquals(Trainer.Outcome.INTERRUPTED, train(cfg, lost, false, 9).outcome());
    Files.delete(Trainer.bestCheckpoint(lost));
    out = log(cfg, lost, true);
    assertTrue(out.contains("does not hold the run's best epoch 1 and cannot be rebuilt"), out);
    Checkpoint best = Checkpoint.read(Trainer.bestCheckpoint(lost));
    assertEquals(2, best.epochsDone(), "the next evaluated epoch is the best there is");
    assertEquals(best.metadata().get("run.best_acc"), Checkpoint.read(Trainer.lastCheckpoint(lost)).metadata().get("run.best_acc"));
  }

  /** An imagenet-variant run on 32x32 images records 32: predict and export use what it trained on, not 224. */
  @Test
  void aCheckpointRecordsTheImageSizeItTrainedOn(@TempDir Path tmp) {
    TrainConfig cfg = new TrainConfig("mobilenetv2", "imagenet", 0.25f, 4, "synthetic", 0, 1, 32, "sgd", 0.05, 0.9, 5e-4,
        "cosine", 0, 0f, 0, false, 0, 7, Device.CPU);
    assertEquals(Trainer.Outcome.COMPLETED, train(cfg, tmp, false, -1).outcome());
    Checkpoint ck = Checkpoint.read(Trainer.lastCheckpoint(tmp));
    assertEquals("32", ck.metadata().get("data.image_size"));
    assertEquals(32, ck.imageSize());
  }

  @Test
  void aRunFolderIsLockedWhileARunUsesIt(@TempDir Path tmp) throws Exception {
    TrainConfig cfg = config(1, 0.05, "cosine");
    try (RunFolder held = RunFolder.open(tmp, Trainer.Start.NEW)) {
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> train(cfg, tmp, false, -1));
      assertTrue(e.getMessage().contains("is in use by another train (pid " + ProcessHandle.current().pid() + ")"),
          e.getMessage());
    }
    assertEquals(Trainer.Outcome.COMPLETED, train(cfg, tmp, false, -1).outcome(), "free again once released");
  }

  @Test
  void resumeWithoutACheckpointOrFromATruncatedOneSaysWhat(@TempDir Path tmp) throws IOException {
    IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
        () -> train(config(1, 0.05, "cosine"), tmp, true, -1));
    assertTrue(none.getMessage().contains("no run to continue") && none.getMessage().contains("last.safetensors"),
        none.getMessage());
    train(config(1, 0.05, "cosine"), tmp, false, 2);
    Path last = Trainer.lastCheckpoint(tmp);
    byte[] bytes = Files.readAllBytes(last);
    Files.write(last, java.util.Arrays.copyOf(bytes, bytes.length - 100));
    RuntimeException e = assertThrows(RuntimeException.class, () -> train(config(1, 0.05, "cosine"), tmp, true, -1));
    assertTrue(e.getMessage().contains("last.safetensors"), e.getMessage());
  }

  @Test
  void configRejectsBadValuesNamingTheFlag() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new TrainConfig("mobilenetv2", "cifar", 1, 10, "synthetic", 0, 0, 128, "sgd", 0.1, 0.9, 5e-4, "cosine", 0,
            0, 4, true, 0, 0, Device.CPU));
    assertTrue(e.getMessage().startsWith("--epochs must be >= 1"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> new TrainConfig("mobilenetv2", "cifar", 1, 10, "synthetic", 0, 1, 128, "lbfgs", 0.1, 0.9, 5e-4, "cosine", 0,
            0, 4, true, 0, 0, Device.CPU));
    assertTrue(e.getMessage().contains("--optimizer") && e.getMessage().contains("lbfgs"), e.getMessage());
    TrainConfig c = config(3, 0.1, "step");
    assertEquals(c, TrainConfig.fromMetadata(c.toMetadata()));
  }

  @Test
  void metricsRoundTripAndRejectForeignText() {
    Metrics m = new Metrics();
    m.add(new Metrics.Row(1, 0.5, 0.8, 0.6, 0.75, 0.1, 12.5, 4800));
    Metrics back = Metrics.parse(m.csv(), "x");
    assertEquals(m.rows(), back.rows());
    assertThrows(IllegalArgumentException.class, () -> Metrics.parse("a,b\n1,2\n", "y"));
    assertThrows(IllegalArgumentException.class, () -> Metrics.parse(Metrics.HEADER + "\n1,2,3\n", "z"));
  }

  static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
