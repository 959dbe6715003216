package org.sepconv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sepconv.cli.MainTest.Run;

/** {@code sepconv export} on a checkpoint from a tiny synthetic training run, and its errors. */
class ExportCliTest {
  @TempDir static Path tmp;
  static Path checkpoint;

  @BeforeAll
  static void train() {
    Path run = tmp.resolve("run");
    Run r = MainTest.exec("train", "--dataset", "synthetic", "--model", "mobilenetv2", "--width-mult", "0.25",
        "--limit-train", "128", "--batch-size", "64", "--epochs", "1", "--seed", "1", "--out", run.toString());
    assertEquals(0, r.code(), r.err() + r.out());
    checkpoint = run.resolve("best.safetensors");
  }

  @Test
  void writesAModelThatOnnxRuntimeRuns() throws Exception {
    Path dir = tmp.resolve("deploy"), file = dir.resolve("model.onnx");
    Run r = MainTest.exec("export", "--checkpoint", checkpoint.toString(), "--format", "onnx", "--out", file.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals("", r.err());
    String[] lines = r.out().split("\n");
    assertEquals(2, lines.length, r.out());
    assertEquals(String.format(Locale.ROOT, "wrote %s: mobilenetv2 (cifar variant, width 0.25), 10 classes, %,d bytes, "
        + "ONNX opset 13 (IR version 7)", file, Files.size(file)), lines[0]);
    assertTrue(lines[1].startsWith("input 'input' float32 [N,3,32,32]: (pixel / 255 - mean) / std per channel, mean ")
        && lines[1].endsWith("; output 'logits' [N,10]"), lines[1]);
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of(file), files.toList(), "the temp file was renamed, not left beside it");
    }

    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession session = env.createSession(file.toString());
        OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(new float[3 * 32 * 32]), new long[] {1, 3, 32, 32});
        OrtSession.Result out = session.run(Map.of("input", in))) {
      Map<String, String> meta = session.getMetadata().getCustomMetadata();
      assertEquals("mobilenetv2", meta.get("sepconv.model"));
      assertEquals("cifar", meta.get("sepconv.variant"));
      assertEquals(10, meta.get("data.classes").split("\n").length, meta.toString());
      assertEquals(3, meta.get("data.mean").split(",").length, meta.toString());
      OnnxTensor logits = (OnnxTensor) out.get("logits").orElseThrow();
      assertArrayEquals(new long[] {1, 10}, logits.getInfo().getShape());
    }
  }

  @Test
  void badArgumentsAreOneLine() {
    Path file = tmp.resolve("bad.onnx");
    Run r = MainTest.exec("export", "--checkpoint", checkpoint.toString(), "--format", "tflite", "--out", file.toString());
    assertEquals(2, r.code());
    assertEquals("sepconv export: Invalid value for option '--format': expected one of [onnx] (case-sensitive) but was "
        + "'tflite' (see 'sepconv export --help')\n", r.err());

    Path missing = tmp.resolve("nope.safetensors");
    r = MainTest.exec("export", "--checkpoint", missing.toString(), "--out", file.toString());
    assertEquals(1, r.code());
    assertEquals("sepconv: checkpoint not found: " + missing + "\n", r.err());

    r = MainTest.exec("export", "--checkpoint", checkpoint.toString(), "--out", checkpoint.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("sepconv export: --out must not be the checkpoint"), r.err());

    r = MainTest.exec("export", "--checkpoint", checkpoint.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("sepconv export: Missing required option: '--out=FILE'"), r.err());
    assertTrue(Files.notExists(file));
  }
}
