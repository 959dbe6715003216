package org.sepconv.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.models.Models;
import org.sepconv.nn.AvgPool2d;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.Dropout;
import org.sepconv.nn.Flatten;
import org.sepconv.nn.GlobalAvgPool;
import org.sepconv.nn.Linear;
import org.sepconv.nn.MaxPool2d;
import org.sepconv.nn.Module;
import org.sepconv.nn.ReLU;
import org.sepconv.nn.ReLU6;
import org.sepconv.nn.Sequential;
import org.sepconv.tensor.Tensor;

/**
 * The exported graphs run in ONNX Runtime (which checks each model as it loads it) and compute
 * what sepconv computes in eval mode, with random weights and random BatchNorm statistics and
 * affine parameters, so that the folding is tested too.
 */
class OnnxExportTest {
  @TempDir static Path tmp;

  static Stream<Arguments> bundledModels() {
    return Models.NAMES.stream().flatMap(m -> Models.VARIANTS.stream().map(v -> Arguments.of(m, v)));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("bundledModels")
  void bundledModelsMatchSepconvInOnnxRuntime(String name, String variant) throws Exception {
    Random rng = new Random((name + variant).hashCode());
    int size = Models.inputSize(variant), classes = size == 32 ? 10 : 1000;
    try (Module model = Models.create(name, variant, 1f, classes, rng)) {
      randomiseNorms(model, rng);
      double err = exportAndCompare(model, 3, size, 2, rng, name + "-" + variant);
      System.out.printf(Locale.ROOT, "onnx parity %s %s: max rel. error %.2e%n", name, variant, err);
      assertTrue(err <= 1e-4, name + " " + variant + ": max |ort - sepconv| / max |sepconv| = " + err);
    }
  }

  /** The layers the bundled models do not use as they do: dilation, a conv's own bias folded, pools' padding, no bias. */
  @Test
  void otherLayersMatchSepconvInOnnxRuntime() throws Exception {
    Random rng = new Random(5);
    try (Module model = new Sequential(
        Conv2d.builder(3, 8, 3).optPad(2).optDilation(2).build(rng), new BatchNorm2d(8), new ReLU6(),
        new AvgPool2d(3, 2, 1, false), Conv2d.builder(8, 8, 3).optStride(2).optGroups(4).build(rng), new ReLU(),
        new MaxPool2d(2, 2, 0), new Flatten(), new Dropout(0.5f, 1), new Linear(32, 5, false, rng))) {
      randomiseNorms(model, rng);
      FloatBuffer bias = ((Conv2d) model.children().get("0")).bias().value().buffer();
      for (int i = 0; i < 8; i++) bias.put(i, rng.nextFloat() - 0.5f);
      double err = exportAndCompare(model, 3, 20, 3, rng, "layers");
      assertTrue(err <= 1e-5, "max rel. error " + err);
    }
  }

  @Test
  void refusesWhatItCannotWriteNamingIt() {
    Random rng = new Random(1);
    Path out = tmp.resolve("bad.onnx");
    try (Module model = Models.create("mobilenetv1", "cifar", 0.25f, 10, rng)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OnnxExport.write(model, 1, 32, Map.of(), out));
      assertTrue(e.getMessage().startsWith("inputChannels: the model's first layer (Conv2d at features.0.0) expects "
          + "[N][3][H][W], the input is [N][1][32][32]"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> OnnxExport.write(model, 3, 0, Map.of(), out));
      assertEquals("inputSize must be >= 1, got 0", e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> OnnxExport.write(model, 3, 32, null, out));
      assertTrue(e.getMessage().startsWith("metadata must not be null"), e.getMessage());
    }
    try (Module model = new Sequential(Conv2d.builder(3, 4, 3).build(rng), new Unknown())) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OnnxExport.write(model, 3, 8, Map.of(), out));
      assertTrue(e.getMessage().startsWith("ONNX export: no rule for " + Unknown.class.getName() + " at 1"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> OnnxExport.write(model, 3, 2, Map.of(), out));
      assertTrue(e.getMessage().startsWith("inputSize 2 is too small: Conv2d at 0 gets 2x2, less than its 3x3 window"),
          e.getMessage());
    }
    try (Module model = new Sequential(new BatchNorm2d(3), new GlobalAvgPool())) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OnnxExport.write(model, 3, 8, Map.of(), out));
      assertTrue(e.getMessage().contains("BatchNorm2d at 0 does not follow a Conv2d"), e.getMessage());
    }
    assertTrue(Files.notExists(out), "nothing is written when the export fails");
  }

  private static final class Unknown extends Module {
    @Override
    public Variable forward(Variable x) {
      return x;
    }
  }

  /**
   * Exports {@code model} for [batch][c][size][size] inputs, checks the file's declared input and
   * output, runs both on one random batch and returns max |ort - sepconv| / max |sepconv|.
   */
  private static double exportAndCompare(Module model, int c, int size, int batch, Random rng, String name)
      throws IOException, OrtException {
    Path file = tmp.resolve(name + ".onnx");
    long bytes = OnnxExport.write(model, c, size, Map.of("test", name), file);
    assertEquals(Files.size(file), bytes);
    float[] expected;
    long[] shape = {batch, c, size, size};
    try (Tensor x = Tensor.rand(rng, batch, c, size, size)) {
      expected = evalOutput(model, x);
      OrtEnvironment env = OrtEnvironment.getEnvironment();
      try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
        options.setIntraOpNumThreads(2);
        try (OrtSession session = env.createSession(file.toString(), options);
            OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.toArray()), shape);
            OrtSession.Result r = session.run(Map.of("input", in))) {
          int classes = expected.length / batch;
          assertArrayEquals(new long[] {-1, c, size, size}, shapeOf(session.getInputInfo(), "input"));
          assertArrayEquals(new long[] {-1, classes}, shapeOf(session.getOutputInfo(), "logits"));
          assertEquals("sepconv", session.getMetadata().getProducerName());
          assertEquals(Map.of("test", name), session.getMetadata().getCustomMetadata());
          OnnxTensor logits = (OnnxTensor) r.get("logits").orElseThrow();
          assertArrayEquals(new long[] {batch, classes}, logits.getInfo().getShape());
          FloatBuffer got = logits.getFloatBuffer();
          double err = 0, max = 0;
          for (int i = 0; i < expected.length; i++) {
            err = Math.max(err, Math.abs((double) got.get(i) - expected[i]));
            max = Math.max(max, Math.abs(expected[i]));
          }
          assertTrue(max > 0, "the model's output is all zeros");
          return err / max;
        }
      }
    }
  }

  private static long[] shapeOf(Map<String, NodeInfo> infos, String name) {
    assertEquals(List.of(name), List.copyOf(infos.keySet()));
    return ((TensorInfo) infos.get(name).getInfo()).getShape();
  }

  /** The model's eval-mode output for x (under no-grad), as an array; the model's mode is restored. */
  private static float[] evalOutput(Module m, Tensor x) {
    boolean training = m.isTraining();
    m.eval();
    try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open()) {
      return m.forward(Variable.leaf(x, false)).value().toArray();
    } finally {
      m.train(training);
    }
  }

  /**
   * Gives every BN random gamma in [0.5, 1.5), beta in [-0.5, 0.5), running mean in [-0.5, 0.5)
   * and running variance in [0.5, 1.5): the core's model tests randomise gamma and beta so.
   */
  private static void randomiseNorms(Module m, Random rng) {
    for (Module child : m.children().values()) randomiseNorms(child, rng);
    if (m instanceof BatchNorm2d bn) {
      FloatBuffer g = bn.weight().value().buffer(), b = bn.bias().value().buffer();
      FloatBuffer mean = bn.runningMean().buffer(), var = bn.runningVar().buffer();
      for (int i = 0; i < bn.channels(); i++) {
        g.put(i, 0.5f + rng.nextFloat());
        b.put(i, rng.nextFloat() - 0.5f);
        mean.put(i, rng.nextFloat() - 0.5f);
        var.put(i, 0.5f + rng.nextFloat());
      }
    }
  }
}
