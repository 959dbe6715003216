package org.sepconv.models;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.io.SafeTensors;
import org.sepconv.nn.Module;
import org.sepconv.tensor.Tensor;

/** Saving a trained-looking model to safetensors and loading it into a fresh one reproduces its outputs bit for bit. */
class SaveLoadTest {
  @TempDir Path dir;

  static Module build(String name, Random rng) {
    switch (name) {
      case "mobilenetv1": return MobileNetV1.cifar(10, 0.5f, rng);
      case "mobilenetv2": return MobileNetV2.cifar(10, 0.5f, rng);
      default: return ResNet18.cifar(10, rng);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mobilenetv1", "mobilenetv2", "resnet18"})
  void saveThenLoadReproducesOutputsBitForBit(String name) throws Exception {
    Path file = dir.resolve(name + ".safetensors");
    try (Module a = build(name, new Random(1)); Module b = build(name, new Random(2));
        Tensor x = Tensor.rand(new Random(3), 2, 3, 16, 16)) {
      ModelTestSupport.randomiseNorms(a, new Random(4));
      try (Variable in = Variable.leaf(x.copy(), false); Scope s = Scope.open()) {
        a.forward(in); // a training-mode pass moves the running statistics
      }
      SafeTensors.save(file, a.stateDict(), Map.of("model", name));
      assertNotEquals(0, Files.size(file));
      float[] before = ModelTestSupport.evalOutput(b, x);
      SafeTensors.loadInto(b, file);
      float[] expect = ModelTestSupport.evalOutput(a, x), got = ModelTestSupport.evalOutput(b, x);
      assertFalse(java.util.Arrays.equals(before, got), "loading changed the model");
      assertArrayEquals(expect, got, "eval outputs after a save/load round trip");
      assertEquals(name, SafeTensors.metadata(file).get("model"));
    }
  }
}
