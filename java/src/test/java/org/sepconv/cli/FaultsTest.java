package org.sepconv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sepconv.cli.MainTest.Run;
import org.sepconv.data.FashionMnist;
import org.sepconv.io.SafeTensors;
import org.sepconv.tensor.Tensor;

/**
 * The faults a user meets, each through the command line: one line on stderr naming the file and
 * what is wrong, a non-zero exit, and the run's last checkpoint as it was and still resumable.
 * The full disk and the read-only folder are real: a small tmpfs mounted in a private mount
 * namespace ({@code unshare}); the test is skipped, with the reason, where that is not allowed.
 */
class FaultsTest {
  @TempDir Path tmp;

  static final String[] TINY = {"--model", "mobilenetv1", "--width-mult", "0.25", "--batch-size", "40", "--lr", "0.05",
      "--seed", "1"};

  static String[] train(Path out, String dataset, Path data, int epochs, String... extra) {
    List<String> a = new ArrayList<>(List.of("train", "--dataset", dataset, "--epochs", Integer.toString(epochs), "--out",
        out.toString()));
    if (data != null) a.addAll(List.of("--data", data.toString()));
    if (dataset.equals("synthetic") && !List.of(extra).contains("--limit-train")) a.addAll(List.of("--limit-train", "80"));
    a.addAll(List.of(TINY));
    a.addAll(List.of(extra));
    return a.toArray(new String[0]);
  }

  static void assertOneLine(Run r, int code, String... parts) {
    assertEquals(code, r.code(), r.err() + r.out());
    assertEquals(1, r.err().split("\n").length, "one line: " + r.err());
    assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    for (String p : parts) assertTrue(r.err().contains(p), "'" + p + "' in: " + r.err());
  }

  /** Trains one tiny epoch in {@code run} and returns the bytes of its last checkpoint. */
  static byte[] firstEpoch(Path run, String dataset, Path data) throws IOException {
    Run r = MainTest.exec(train(run, dataset, data, 1));
    assertEquals(0, r.code(), r.err() + r.out());
    return Files.readAllBytes(run.resolve("last.safetensors"));
  }

  static void assertResumes(Path run, String dataset, Path data, byte[] lastBefore) throws IOException {
    assertArrayEquals(lastBefore, Files.readAllBytes(run.resolve("last.safetensors")), "last.safetensors is as it was");
    Run r = MainTest.exec(train(run, dataset, data, 2, "--resume"));
    assertEquals(0, r.code(), "and the run resumes: " + r.err() + r.out());
    assertTrue(r.out().contains("done: 2 epochs"), r.out());
  }

  // ------------------------------------------------------------------ disk and folders

  /** Runs {@code script} (sh, $1..: args) in a private mount namespace; null if this machine does not allow one. */
  static String inMountNamespace(Path dir, String script, String... args) throws IOException, InterruptedException {
    boolean root = "0".equals(new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes()).trim());
    List<String> cmd = new ArrayList<>(root ? List.of("unshare", "-m", "--propagation", "private")
        : List.of("unshare", "-r", "-m", "--propagation", "private"));
    cmd.addAll(List.of("sh", "-c", "set -u\nsc() { \"$JAVA\" -Xmx1g -Djava.awt.headless=true -cp \"$CP\" "
        + Main.class.getName() + " \"$@\"; }\n" + script, "sh"));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("script.log").toFile());
    pb.environment().put("JAVA", Child.JAVA);
    pb.environment().put("CP", Child.CP);
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      return null; // no unshare
    }
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the script ended");
    String log = Files.readString(dir.resolve("script.log"));
    if (p.exitValue() == 90) return null; // the mount was refused
    assertEquals(0, p.exitValue(), log);
    return log;
  }

  @Test
  void aFullDiskFailsTheCheckpointWriteAndKeepsTheLastOne() throws Exception {
    Path mnt = Files.createDirectories(tmp.resolve("mnt")), logs = Files.createDirectories(tmp.resolve("logs"));
    String args = String.join(" ", List.of(TINY)) + " --dataset synthetic --limit-train 80";
    String script = ""
        + "mount -t tmpfs -o size=8m tmpfs \"$1\" || exit 90\n"
        + "sc train " + args + " --epochs 1 --out \"$1/run\" > \"$2/1.out\" 2> \"$2/1.err\"; echo $? > \"$2/1.rc\"\n"
        + "cp \"$1/run/last.safetensors\" \"$2/last-before\"\n"
        + "dd if=/dev/zero of=\"$1/filler\" bs=4096 2> /dev/null\n" // the disk is full ...
        + "truncate -s -64K \"$1/filler\"\n" // ... but for 64 KB: the checkpoints are 2 MB
        + "sc train " + args + " --epochs 2 --resume --out \"$1/run\" > \"$2/2.out\" 2> \"$2/2.err\"; echo $? > \"$2/2.rc\"\n"
        + "cp \"$1/run/last.safetensors\" \"$2/last-after\"; ls -a \"$1/run\" > \"$2/ls\"\n"
        + "rm \"$1/filler\"\n"
        + "sc train " + args + " --epochs 2 --resume --out \"$1/run\" > \"$2/3.out\" 2> \"$2/3.err\"; echo $? > \"$2/3.rc\"\n";
    String log = inMountNamespace(tmp, script, mnt.toString(), logs.toString());
    Assumptions.assumeTrue(log != null, "this machine allows no private tmpfs mount (unshare -m / mount -t tmpfs)");
    assertEquals("0", Files.readString(logs.resolve("1.rc")).trim(), Files.readString(logs.resolve("1.err")));
    String err = Files.readString(logs.resolve("2.err"));
    assertEquals("1", Files.readString(logs.resolve("2.rc")).trim(), err);
    assertEquals(1, err.strip().split("\n").length, "one line: " + err);
    assertTrue(err.startsWith("sepconv: saving ") && err.contains(".safetensors") && err.contains("No space left on device"),
        err);
    assertArrayEquals(Files.readAllBytes(logs.resolve("last-before")), Files.readAllBytes(logs.resolve("last-after")),
        "last.safetensors is as it was");
    assertFalse(Files.readString(logs.resolve("ls")).contains(".tmp"), "no temp file is left: " + Files.readString(logs.resolve("ls")));
    assertEquals("0", Files.readString(logs.resolve("3.rc")).trim(), "and resumes with space again: "
        + Files.readString(logs.resolve("3.err")));
    assertTrue(Files.readString(logs.resolve("3.out")).contains("done: 2 epochs"));
  }

  @Test
  void aReadOnlyOrFileOutIsRefusedBeforeAnyWork() throws Exception {
    Path file = Files.writeString(tmp.resolve("afile"), "x");
    assertOneLine(MainTest.exec(train(file, "synthetic", null, 1)), 1, "--out " + file + " is a file, not a folder");

    Path mnt = Files.createDirectories(tmp.resolve("ro")), logs = Files.createDirectories(tmp.resolve("logs"));
    String args = String.join(" ", List.of(TINY)) + " --dataset synthetic --limit-train 80 --epochs 1";
    String script = ""
        + "mount -t tmpfs -o ro,size=1m tmpfs \"$1\" || exit 90\n"
        + "sc train " + args + " --out \"$1/run\" > /dev/null 2> \"$2/a.err\"; echo $? > \"$2/a.rc\"\n"
        + "sc train " + args + " --out \"$1\" > /dev/null 2> \"$2/b.err\"; echo $? > \"$2/b.rc\"\n";
    String log = inMountNamespace(tmp, script, mnt.toString(), logs.toString());
    Assumptions.assumeTrue(log != null, "this machine allows no private tmpfs mount (unshare -m / mount -t tmpfs)");
    for (String k : List.of("a", "b")) {
      String err = Files.readString(logs.resolve(k + ".err"));
      assertEquals("1", Files.readString(logs.resolve(k + ".rc")).trim(), err);
      assertEquals(1, err.strip().split("\n").length, "one line: " + err);
      assertTrue(err.contains(mnt.toString()) && err.contains("Read-only file system"), err);
    }
  }

  /** Native memory runs out (an address-space limit of 3 GB, batch 2048): one line, exit 1. */
  @Test
  void runningOutOfMemoryIsOneLine() throws Exception {
    Path run = tmp.resolve("run");
    List<String> cmd = new ArrayList<>(List.of("sh", "-c", "ulimit -v 3000000 && exec \"$@\"", "sh", Child.JAVA, "-Xmx256m",
        "-XX:ReservedCodeCacheSize=32m", "-XX:CompressedClassSpaceSize=64m", "-XX:MaxMetaspaceSize=96m",
        "-XX:+UseSerialGC", "-Djava.awt.headless=true", "-cp", Child.CP, Main.class.getName(), "train", "--dataset",
        "synthetic", "--model", "mobilenetv1", "--batch-size", "2048", "--limit-train", "2048", "--epochs", "1", "--out",
        run.toString()));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("MALLOC_ARENA_MAX", "2"); // glibc reserves 64 MB of address space per arena
    Process p = pb.redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(300, TimeUnit.SECONDS));
    Assumptions.assumeFalse(err.contains("Error occurred during initialization of VM") || err.contains("Could not reserve"),
        "the JVM does not start under a 3 GB address-space limit here: " + err);
    assertEquals(1, p.exitValue(), err);
    assertEquals(1, err.strip().split("\n").length, "one line: " + err);
    assertTrue(err.startsWith("sepconv: out of memory (") && err.contains("--batch-size"), err);
  }

  // ------------------------------------------------------------------ checkpoints

  static void rewriteMetadata(Path file, Map<String, String> changes) {
    Map<String, String> meta = new LinkedHashMap<>(SafeTensors.metadata(file));
    meta.putAll(changes);
    Map<String, Tensor> all = SafeTensors.load(file);
    try {
      SafeTensors.save(file, all, meta);
    } finally {
      all.values().forEach(Tensor::close);
    }
  }

  @Test
  void damagedCheckpointsAreNamedAndNothingIsOverwritten() throws IOException {
    Path run = tmp.resolve("run");
    byte[] good = firstEpoch(run, "synthetic", null);
    Path last = run.resolve("last.safetensors");
    byte[] header = "{\"__metadata__\": {\"a\": \"b\"}, \"t\": {\"dtype\": \"F32\", \"shape\": [".getBytes(StandardCharsets.UTF_8);
    Map<String, byte[]> damaged = new LinkedHashMap<>();
    damaged.put("truncated", java.util.Arrays.copyOf(good, good.length / 2));
    byte[] corrupt = good.clone();
    corrupt[8] = '#'; // the header JSON's opening brace
    damaged.put("header", corrupt);
    damaged.put("JSON", ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length)
        .put(header).array());
    damaged.put("header length", ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
    for (Map.Entry<String, byte[]> d : damaged.entrySet()) {
      Files.write(last, d.getValue());
      assertOneLine(MainTest.exec(train(run, "synthetic", null, 2, "--resume")), 1, last.toString(), d.getKey());
      assertOneLine(MainTest.exec("eval", "--checkpoint", last.toString()), 1, last.toString(), d.getKey());
      assertArrayEquals(d.getValue(), Files.readAllBytes(last), "the damaged file is not written over");
    }
    Files.write(last, good);
    assertResumes(run, "synthetic", null, good);
  }

  @Test
  void aCheckpointOfAnotherModelOrWithEditedMetadataIsRefusedByName() throws IOException {
    Path run = tmp.resolve("run");
    byte[] good = firstEpoch(run, "synthetic", null);
    Path last = run.resolve("last.safetensors");
    Map<String, String[]> edits = new LinkedHashMap<>(); // key -> value, the words the error must have
    edits.put("config.model", new String[] {"mobilenetv2", "state dict does not match MobileNetV2", "missing key"});
    edits.put("run.batch", new String[] {"999999", "run.batch 999999 is beyond the 2 batches of an epoch"});
    edits.put("run.epoch", new String[] {"-5", "run.epoch must be in [0, 1], got -5"});
    edits.put("data.classes", new String[] {"a\nb", "data.classes names 2 classes, but the model has 10"});
    edits.put("run.best_acc", new String[] {"7", "run.best_acc must be in [0, 1]"});
    edits.put("data.std", new String[] {"0,1,1", "data.std finite and > 0"});
    edits.put("init.sha256", new String[] {"XYZ", "checkpoint metadata has no 'init.file'"}); // half a record of --init-from
    for (Map.Entry<String, String[]> e : edits.entrySet()) {
      Files.write(last, good);
      rewriteMetadata(last, Map.of(e.getKey(), e.getValue()[0]));
      byte[] edited = Files.readAllBytes(last);
      Run r = MainTest.exec("train", "--resume", "--out", run.toString()); // the settings come from the checkpoint
      assertOneLine(r, 1, last.toString(), e.getValue()[1]);
      if (!e.getKey().startsWith("run."))
        assertOneLine(MainTest.exec("eval", "--checkpoint", last.toString()), 1, last.toString(), e.getValue()[1]);
      assertArrayEquals(edited, Files.readAllBytes(last), e.getKey() + ": nothing is written over");
    }
    Files.write(last, good);
    assertResumes(run, "synthetic", null, good);
  }

  // ------------------------------------------------------------------ data

  static void cifar(Path dir, int perFile, Random rng) throws IOException {
    Files.createDirectories(dir);
    for (String f : List.of("data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
        "data_batch_5.bin", "test_batch.bin")) {
      byte[] b = new byte[perFile * 3073];
      rng.nextBytes(b);
      for (int r = 0; r < perFile; r++) b[r * 3073] = (byte) rng.nextInt(10);
      Files.write(dir.resolve(f), b);
    }
  }

  @Test
  void aCifarLabelAboveNineIsNamedAndTheRunResumesOnceFixed() throws IOException {
    Path data = tmp.resolve("cifar"), run = tmp.resolve("run");
    cifar(data, 16, new Random(3));
    byte[] good = firstEpoch(run, "cifar10", data);
    Path batch = data.resolve("data_batch_3.bin");
    byte[] original = Files.readAllBytes(batch), bad = original.clone();
    bad[5 * 3073] = 10;
    Files.write(batch, bad);
    assertOneLine(MainTest.exec(train(run, "cifar10", data, 2, "--resume")), 1, batch.toString(),
        "record 5 has label 10, expected 0..9");
    Files.write(batch, original);
    assertResumes(run, "cifar10", data, good);
  }

  static byte[] gz(byte[] raw) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (GZIPOutputStream g = new GZIPOutputStream(b)) {
      g.write(raw);
    }
    return b.toByteArray();
  }

  static byte[] idx(int magic, int n, byte[] data, int... dims) {
    ByteBuffer b = ByteBuffer.allocate(8 + 4 * dims.length + data.length).putInt(magic).putInt(n);
    for (int d : dims) b.putInt(d);
    return b.put(data).array();
  }

  static void fashion(Path dir, int train, int test, Random rng) throws IOException {
    Files.createDirectories(dir);
    for (String split : List.of("train", "t10k")) {
      int n = split.equals("train") ? train : test;
      byte[] px = new byte[n * 28 * 28], lb = new byte[n];
      rng.nextBytes(px);
      for (int i = 0; i < n; i++) lb[i] = (byte) rng.nextInt(10);
      Files.write(dir.resolve(split + "-images-idx3-ubyte.gz"), gz(idx(0x803, n, px, 28, 28)));
      Files.write(dir.resolve(split + "-labels-idx1-ubyte.gz"), gz(idx(0x801, n, lb)));
    }
  }

  @Test
  void aTruncatedFashionMnistGzipIsNamedAndTheRunResumesOnceFixed() throws IOException {
    Path data = tmp.resolve("fashion"), run = tmp.resolve("run");
    fashion(data, 80, 20, new Random(4));
    byte[] good = firstEpoch(run, "fashion-mnist", data);
    Path images = data.resolve("train-images-idx3-ubyte.gz");
    byte[] original = Files.readAllBytes(images);
    Files.write(images, java.util.Arrays.copyOf(original, original.length - 40));
    assertOneLine(MainTest.exec(train(run, "fashion-mnist", data, 2, "--resume")), 1, images.toString(),
        "corrupt or truncated gzip");
    Files.write(images, original);
    assertResumes(run, "fashion-mnist", data, good);
  }

  // ------------------------------------------------------------------ the run folder and the command line

  @Test
  void aFolderThatHoldsARunIsNotSilentlyOverwritten() throws IOException {
    Path run = tmp.resolve("run");
    byte[] good = firstEpoch(run, "synthetic", null);
    assertOneLine(MainTest.exec(train(run, "synthetic", null, 1)), 1, "--out " + run + " already holds a run",
        "last.safetensors at epoch 1 of 1", "--resume", "--overwrite");
    assertArrayEquals(good, Files.readAllBytes(run.resolve("last.safetensors")));
    Run again = MainTest.exec(train(run, "synthetic", null, 1, "--overwrite"));
    assertEquals(0, again.code(), again.err());
    assertOneLine(MainTest.exec(train(run, "synthetic", null, 1, "--overwrite", "--resume")), 2, "contradict");
    Path empty = tmp.resolve("empty");
    assertOneLine(MainTest.exec(train(empty, "synthetic", null, 1, "--resume")), 1, "no run to continue in " + empty);
  }

  @Test
  void staleTempFilesOfAKilledWriteAreRemovedWhenTheNextRunStarts() throws IOException {
    Path run = tmp.resolve("run");
    byte[] good = firstEpoch(run, "synthetic", null);
    List<Path> stale = List.of(run.resolve(".last.safetensors.8472619234.tmp"), run.resolve(".metrics.csv.12.tmp"));
    for (Path p : stale) Files.write(p, new byte[1000]);
    Path mine = Files.write(run.resolve(".notes.123.tmp"), new byte[1]), other = Files.write(run.resolve("keep.tmp"), new byte[1]);
    Run r = MainTest.exec(train(run, "synthetic", null, 2, "--resume"));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("removed 2 temp file(s)"), r.out());
    for (Path p : stale) assertFalse(Files.exists(p), p + " is gone");
    assertTrue(Files.exists(mine) && Files.exists(other), "files that are not ours stay");
    try (Stream<Path> files = Files.list(run)) {
      assertEquals(0, files.filter(p -> p.getFileName().toString().matches("\\.(last|best).*\\.tmp")).count());
    }
  }

  @Test
  void flagValuesOutOfRangeAreABadCommandLine() throws IOException {
    Path run = tmp.resolve("run");
    Object[][] cases = {
        {new String[] {"--classes", "1"}, "--classes must be in [2, 256] for synthetic data, got 1"},
        {new String[] {"--crop-pad", "100"}, "--crop-pad must be in [0, 16]"},
        {new String[] {"--cutout", "1000"}, "--cutout must be in [0, 32]"},
        {new String[] {"--threads", "1000"}, "--threads must be in [0, "},
        {new String[] {"--device", "tpu"}, "--device must be cpu or cuda"}};
    for (Object[] c : cases) {
      Run r = MainTest.exec(train(run, "synthetic", null, 1, (String[]) c[0]));
      assertOneLine(r, 2, "sepconv train: " + c[1], "(see 'sepconv train --help')");
      assertFalse(Files.exists(run), "nothing was started");
    }
    assertOneLine(MainTest.exec(train(run, "synthetic", null, 0)), 2, "--epochs must be >= 1, got 0");
    assertOneLine(MainTest.exec("train", "--dataset", "synthetic", "--width-mult", "30", "--out", run.toString()), 2,
        "--width-mult must be in (0, 4.0], got 30.0");
    assertOneLine(MainTest.exec(train(run, "fashion-mnist", null, 1, "--classes", "5")), 2,
        "--classes must be 10 for fashion-mnist (its class count), got 5");
    assertOneLine(MainTest.exec(train(run, "synthetic", null, 1, "--limit-train", "5000")), 2,
        "--limit-train must be at most the 2048 training images of synthetic, got 5000");
    assertOneLine(MainTest.exec("eval", "--checkpoint", "x", "--batch-size", "0"), 2, "--batch-size must be >= 1");
  }

  @Test
  void resumingWithFewerEpochsThanDoneIsRefused() throws IOException {
    Path run = tmp.resolve("run");
    Run r = MainTest.exec(train(run, "synthetic", null, 4, "--limit-train", "40"));
    assertEquals(0, r.code(), r.err());
    assertOneLine(MainTest.exec(train(run, "synthetic", null, 2, "--resume", "--limit-train", "40")), 2,
        "--epochs 2 is fewer than the 4 epochs this run has done");
    r = MainTest.exec(train(run, "synthetic", null, 4, "--resume", "--limit-train", "40"));
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("epoch 5"), r.out());
  }

  // ------------------------------------------------------------------ Ctrl-C

  static void assumeFashionMnist() {
    Assumptions.assumeTrue(Files.isDirectory(FashionMnist.DEFAULT_DIR),
        FashionMnist.DEFAULT_DIR + " is absent (Debian package dataset-fashion-mnist): no 10,000-image evaluation to interrupt");
  }

  /** Ctrl-C while the last epoch is evaluated: saved, exit 130, no "done"; the resume evaluates it. */
  @Test
  void ctrlCDuringTheLastEvaluationSavesAndTheResumeEvaluates() throws Exception {
    assumeFashionMnist();
    Path run = tmp.resolve("run");
    String[] args = {"train", "--dataset", "fashion-mnist", "--model", "mobilenetv1", "--limit-train", "64", "--batch-size",
        "64", "--epochs", "1", "--crop-pad", "0", "--out", run.toString()};
    Child c = Child.start(Child.command(args));
    assertTrue(c.awaitLine(l -> l.startsWith("epoch 1/1 [") && l.contains(" 1/1 "), 120), "trained: " + c.out() + c.err());
    c.signal("INT"); // evaluating 10,000 images takes seconds
    int code = c.waitFor(120);
    assertEquals(130, code, c.out() + c.err());
    assertTrue(c.out().contains("interrupted during the evaluation of epoch 1"), c.out());
    assertFalse(c.out().contains("done:"), c.out());
    List<String> resumed = new ArrayList<>(List.of(args));
    resumed.add("--resume");
    Run r = MainTest.exec(resumed.toArray(new String[0]));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("epoch 1/1: train loss") && r.out().contains("done: 1 epochs"), r.out());
  }

  @Test
  void aSecondCtrlCQuitsAtOnce() throws Exception {
    assumeFashionMnist();
    Path run = tmp.resolve("run");
    Child c = Child.start(Child.command("train", "--dataset", "fashion-mnist", "--model", "mobilenetv1", "--limit-train",
        "6400", "--batch-size", "64", "--epochs", "1", "--out", run.toString()));
    assertTrue(c.awaitLine(l -> l.startsWith("train: "), 120), c.out() + c.err());
    Thread.sleep(3000); // training
    c.signal("INT");
    Thread.sleep(50); // well inside the batch the first one lets finish
    c.signal("INT");
    int code = c.waitFor(30);
    assertEquals(130, code, c.out() + c.err());
    assertTrue(c.err().contains("quit at once"), c.err());
  }
}
