package org.sepconv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sepconv.cli.MainTest.Run;
import org.sepconv.train.Checkpoint;
import org.sepconv.train.Pretrained;
import org.sepconv.train.PretrainedTest;

/** train --init-from: torchvision-named weights into a new run, on the command line. */
class InitFromCliTest {
  @TempDir Path tmp;

  /** An imagenet-variant state dict of 1000 classes, as torchvision's would be. */
  private Path imagenetWeights(String model) {
    return PretrainedTest.stateDict(tmp.resolve(model + ".safetensors"), model, "imagenet", 0.25f, 1000);
  }

  private String[] train(Path out, int epochs, String... extra) {
    List<String> a = new java.util.ArrayList<>(List.of("train", "--dataset", "synthetic", "--model", "mobilenetv2",
        "--variant", "imagenet", "--width-mult", "0.25", "--limit-train", "64", "--batch-size", "32", "--epochs", Integer.toString(epochs),
        "--out", out.toString()));
    a.addAll(List.of(extra));
    return a.toArray(new String[0]);
  }

  @Test
  void fineTunesAnImagenetVariantOn32x32ImagesWithAFreshClassifierAndResumesWithoutTheFile() throws IOException {
    Path file = imagenetWeights("mobilenetv2"), out = tmp.resolve("run");
    Run r = MainTest.exec(train(out, 1, "--init-from", file.toString()));
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue(r.out().contains("\nnote: --variant imagenet is built for 224x224 images; these 32x32 images are used as "
        + "they are, not resized, so each feature map is that much smaller than the model was designed for\n"), r.out());
    assertTrue(r.out().contains("\ninit: loaded 312 tensors from " + file + "; replaced classifier.1.weight [1000, 1280] "
        + "and classifier.1.bias [1000] by fresh ones for 10 classes\n"), r.out());
    assertTrue(r.out().contains("epoch 1/1: train loss"), r.out());
    Pretrained init = Checkpoint.read(out.resolve("last.safetensors")).init();
    assertEquals(Pretrained.of(file), init);
    assertEquals(Files.size(file), init.bytes());

    Files.delete(file);
    r = MainTest.exec(train(out, 2, "--resume"));
    assertEquals(0, r.code(), r.err() + r.out());
    assertFalse(r.out().contains("init:"), "a resumed run does not load the file again: " + r.out());
    assertTrue(r.out().contains("epoch 2/2: train loss"), r.out());
    assertEquals(init, Checkpoint.read(out.resolve("last.safetensors")).init());
  }

  @Test
  void withResumeItIsABadCommandLine() {
    Run r = MainTest.exec(train(tmp.resolve("run"), 1, "--resume", "--init-from", "w.safetensors"));
    assertEquals(2, r.code());
    assertEquals("sepconv train: --init-from starts a new run from pretrained weights and --resume continues one from its "
        + "checkpoint: give one of them (see 'sepconv train --help')\n", r.err());
  }

  @Test
  void aMissingOrMismatchedFileIsOneLineBeforeAnyTraining() {
    Path none = tmp.resolve("none.safetensors"), out = tmp.resolve("run");
    Run r = MainTest.exec(train(out, 1, "--init-from", none.toString()));
    assertEquals(1, r.code());
    assertEquals("sepconv: --init-from " + none + ": no such file\n", r.err());

    Path v1 = imagenetWeights("mobilenetv1");
    r = MainTest.exec(train(out, 1, "--init-from", v1.toString()));
    assertEquals(1, r.code());
    assertEquals("sepconv: --init-from " + v1 + ": state dict does not match MobileNetV2: 308 missing key(s), the first "
        + "classifier.1.bias [10]; 158 unexpected key(s), the first fc.bias\n", r.err());
    assertFalse(r.out().contains("epoch 1/1"), r.out());
    assertFalse(Files.exists(out.resolve("last.safetensors")), "the folder holds no run");
  }

  @Test
  void helpDocumentsIt() {
    Run r = MainTest.exec("train", "--help");
    assertTrue(r.out().replaceAll("\\s+", " ").contains("--init-from=FILE start from the weights of a safetensors state dict"),
        r.out());
  }
}
