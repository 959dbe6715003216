package org.sepconv.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sepconv.io.SafeTensors;
import org.sepconv.models.Models;
import org.sepconv.nn.Module;
import org.sepconv.tensor.Tensor;

/** Runs from pretrained weights: what is loaded, what is replaced, what is refused, and the resume. */
public class PretrainedTest {
  @TempDir Path tmp;

  /**
   * A state dict as torchvision's {@code save_file(model.state_dict(), ...)} writes one (no
   * metadata; num_batches_tracked as I64): a model of another seed than the runs', with BN
   * statistics that are not their initial values. (Also used by the command-line tests.)
   */
  public static Path stateDict(Path file, String model, String variant, float width, int classes) {
    try (Module m = Models.create(model, variant, width, classes, new Random(11))) {
      m.namedBuffers().forEach((k, t) -> t.fill(k.endsWith(".running_var") ? 2f : k.endsWith(".num_batches_tracked") ? 5f : 0.25f));
      SafeTensors.save(file, m.stateDict(), null);
    }
    return file;
  }

  /** The file of {@link #stateDict} for MobileNetV2-cifar, width 0.25, 1000 classes, edited. */
  private Path edited(String name, Consumer<Map<String, Tensor>> edit) {
    Path base = stateDict(tmp.resolve("base.safetensors"), "mobilenetv2", "cifar", 0.25f, 1000);
    Map<String, Tensor> state = new LinkedHashMap<>(SafeTensors.load(base));
    try {
      edit.accept(state);
      SafeTensors.save(tmp.resolve(name), state, null);
    } finally {
      state.values().forEach(Tensor::close);
    }
    return tmp.resolve(name);
  }

  private static Map<String, float[]> arrays(Module m) {
    Map<String, float[]> out = new LinkedHashMap<>();
    m.stateDict().forEach((k, v) -> out.put(k, v.toArray()));
    return out;
  }

  /** A fresh model of the run's configuration, as the trainer builds it. */
  private static Module fresh(TrainConfig cfg) {
    return Models.create(cfg.model(), cfg.variant(), cfg.widthMult(), cfg.classes(), new Random(cfg.seed()));
  }

  private static Trainer trainer(TrainConfig cfg, Path dir, ByteArrayOutputStream log) {
    return new Trainer(cfg, TrainerTest.TRAIN, TrainerTest.TEST, dir, new PrintStream(log, true, StandardCharsets.UTF_8), false);
  }

  @Test
  void aRunStartsFromTheFilesWeightsWithAFreshClassifierAndResumesBitForBitWithoutIt() throws Exception {
    TrainConfig cfg = TrainerTest.config(1, 0.05, "cosine"); // MobileNetV2-cifar, width 0.25, 4 classes
    Path file = stateDict(tmp.resolve("mobilenet_v2.safetensors"), "mobilenetv2", "cifar", 0.25f, 1000);
    Pretrained init = Pretrained.of(file);
    assertEquals(new Pretrained(file.toAbsolutePath(), Files.size(file),
        HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)))), init);
    String loaded = "init: loaded 312 tensors from " + file.toAbsolutePath() + "; replaced classifier.1.weight "
        + "[1000, 1280] and classifier.1.bias [1000] by fresh ones for 4 classes\n";

    Path full = tmp.resolve("full"), cut = tmp.resolve("cut");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    assertEquals(Trainer.Outcome.COMPLETED, trainer(cfg, full, log).run(Trainer.Start.NEW, init).outcome());
    assertTrue(log.toString(StandardCharsets.UTF_8).contains(loaded), log.toString(StandardCharsets.UTF_8));

    // stopped before its first step, the run's checkpoint holds the weights it starts from
    Trainer t = trainer(cfg, cut, new ByteArrayOutputStream());
    t.stopAtStep(0);
    assertEquals(Trainer.Outcome.INTERRUPTED, t.run(Trainer.Start.NEW, init).outcome());
    Map<String, float[]> start = TrainerTest.tensors(Trainer.lastCheckpoint(cut)), pretrained = TrainerTest.tensors(file);
    try (Module m = fresh(cfg)) {
      Map<String, float[]> initial = arrays(m);
      assertEquals(314, initial.size());
      initial.forEach((k, v) -> assertArrayEquals(k.startsWith("classifier.1.") ? v : pretrained.get(k), start.get("model." + k), k));
    }
    assertEquals(init, Checkpoint.read(Trainer.lastCheckpoint(cut)).init(), "the checkpoint names the file");

    // the resume continues from the checkpoint: the file is not read again, and need not be there
    Files.delete(file);
    log.reset();
    assertEquals(Trainer.Outcome.COMPLETED, trainer(cfg, cut, log).run(Trainer.Start.RESUME).outcome());
    assertFalse(log.toString(StandardCharsets.UTF_8).contains("init:"), log.toString(StandardCharsets.UTF_8));
    assertEquals(init, Checkpoint.read(Trainer.lastCheckpoint(cut)).init(), "every checkpoint of the run names it");
    Map<String, float[]> a = TrainerTest.tensors(Trainer.lastCheckpoint(full)), b = TrainerTest.tensors(Trainer.lastCheckpoint(cut));
    assertEquals(a.keySet(), b.keySet());
    a.forEach((k, v) -> assertArrayEquals(v, b.get(k), k));

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> trainer(cfg, cut, new ByteArrayOutputStream()).run(Trainer.Start.RESUME, init));
    assertEquals("a resumed run continues from its checkpoint: it takes no pretrained weights", e.getMessage());
  }

  @Test
  void aFileOfTheRunsClassCountLoadsWhole() throws IOException {
    Path file = stateDict(tmp.resolve("four.safetensors"), "mobilenetv2", "cifar", 0.25f, 4);
    try (Module m = fresh(TrainerTest.config(1, 0.05, "cosine"))) {
      assertEquals("init: loaded 314 tensors from " + file.toAbsolutePath(), Pretrained.of(file).loadInto(m));
      Map<String, float[]> want = TrainerTest.tensors(file);
      arrays(m).forEach((k, v) -> assertArrayEquals(want.get(k), v, k));
    }
  }

  /**
   * torchvision's weights are the imagenet variants'. MobileNetV2's cifar variant has the same
   * tensors (only strides differ), so they load into it too; ResNet18's has a 3x3 stem, not 7x7.
   */
  @Test
  void imagenetWeightsFitTheCifarMobileNetV2ButNotTheCifarResNet18() {
    Path v2 = stateDict(tmp.resolve("v2.safetensors"), "mobilenetv2", "imagenet", 1f, 1000);
    try (Module m = Models.create("mobilenetv2", "cifar", 1f, 10, new Random(0))) {
      assertEquals("init: loaded 312 tensors from " + v2.toAbsolutePath() + "; replaced classifier.1.weight [1000, 1280] "
          + "and classifier.1.bias [1000] by fresh ones for 10 classes", Pretrained.of(v2).loadInto(m));
    }
    Path r18 = stateDict(tmp.resolve("r18.safetensors"), "resnet18", "imagenet", 1f, 1000);
    try (Module m = Models.create("resnet18", "cifar", 1f, 10, new Random(0))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Pretrained.of(r18).loadInto(m));
      assertEquals("--init-from " + r18.toAbsolutePath() + ": state dict does not match ResNet18: 1 shape mismatch(es), "
          + "the first conv1.weight expected [64, 3, 3, 3] got [64, 3, 7, 7]", e.getMessage());
    }
  }

  /** Each bad file is one message naming the first bad key and the expected shape; the model is left as it was. */
  @Test
  void filesThatDoNotFitAreRefusedNamingTheFirstBadKeyAndItsShape() throws IOException {
    String prefix = "state dict does not match MobileNetV2: ";
    assertRefused(stateDict(tmp.resolve("v1.safetensors"), "mobilenetv1", "cifar", 0.25f, 1000),
        prefix + "308 missing key(s), the first classifier.1.bias [4]; 158 unexpected key(s), the first fc.bias");
    assertRefused(stateDict(tmp.resolve("wider.safetensors"), "mobilenetv2", "cifar", 0.5f, 1000),
        prefix + "242 shape mismatch(es), the first features.0.0.weight expected [8, 3, 3, 3] got [16, 3, 3, 3]");
    assertRefused(edited("extra.safetensors", s -> s.put("extra.weight", Tensor.zeros(3))),
        prefix + "1 unexpected key(s), the first extra.weight");
    assertRefused(edited("missing.safetensors", s -> s.remove("features.18.1.running_var").close()),
        prefix + "1 missing key(s), the first features.18.1.running_var [1280]");
    assertRefused(edited("narrow.safetensors", s -> {
      s.put("classifier.1.weight", Tensor.zeros(1000, 640)).close();
      s.put("classifier.1.bias", Tensor.zeros(1000)).close();
    }), prefix + "2 shape mismatch(es), the first classifier.1.weight expected [4, 1280] got [1000, 640]");
    assertRefused(edited("nobias.safetensors", s -> s.remove("classifier.1.bias").close()),
        prefix + "1 missing key(s), the first classifier.1.bias [4]; 1 shape mismatch(es), the first classifier.1.weight "
            + "expected [4, 1280] got [1000, 1280]");
  }

  private void assertRefused(Path file, String why) throws IOException {
    try (Module m = fresh(TrainerTest.config(1, 0.05, "cosine"))) {
      Map<String, float[]> before = arrays(m);
      Pretrained init = Pretrained.of(file);
      long live = Tensor.liveCount();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> init.loadInto(m));
      assertEquals("--init-from " + file.toAbsolutePath() + ": " + why, e.getMessage());
      assertEquals(live, Tensor.liveCount(), "no tensor of the file is left behind");
      arrays(m).forEach((k, v) -> assertArrayEquals(before.get(k), v, "nothing copied: " + k));
    }
  }

  @Test
  void missingBrokenOrMisrecordedFilesAreNamed() throws IOException {
    Path none = tmp.resolve("none.safetensors");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Pretrained.of(none));
    assertEquals("--init-from " + none + ": no such file", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Pretrained.of(tmp));
    assertEquals("--init-from " + tmp + ": not a file", e.getMessage());
    Path cut = tmp.resolve("cut.safetensors");
    Files.write(cut, new byte[] {1, 2, 3});
    e = assertThrows(IllegalArgumentException.class, () -> Pretrained.of(cut));
    assertEquals("--init-from: safetensors file " + cut + ": truncated: 3 bytes, fewer than the 8-byte header length",
        e.getMessage());

    assertNull(Pretrained.fromMetadata(Map.of("config.model", "mobilenetv2")), "a run from fresh weights");
    Pretrained p = new Pretrained(tmp.resolve("w.safetensors"), 100, "0123456789abcdef".repeat(4));
    assertEquals(p, Pretrained.fromMetadata(p.toMetadata()));
    Map<String, String> m = new LinkedHashMap<>(p.toMetadata());
    m.put("init.sha256", "XYZ");
    e = assertThrows(IllegalArgumentException.class, () -> Pretrained.fromMetadata(m));
    assertEquals("init.sha256 must be 64 lower-case hex digits, got XYZ", e.getMessage());
    m.remove("init.bytes");
    e = assertThrows(IllegalArgumentException.class, () -> Pretrained.fromMetadata(m));
    assertEquals("checkpoint metadata has no 'init.bytes'", e.getMessage());
  }
}
