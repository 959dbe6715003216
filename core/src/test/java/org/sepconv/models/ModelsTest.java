package org.sepconv.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sepconv.models.ModelTestSupport.evalOutput;
import static org.sepconv.models.ModelTestSupport.randomiseNorms;
import static org.sepconv.models.ModelTestSupport.warmUpStatistics;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.Dropout;
import org.sepconv.nn.Linear;
import org.sepconv.nn.Module;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

class ModelsTest {
  // Hand counts of what the cifar variants change, from the imagenet counts:
  //  - classifier 10 instead of 1000 classes: in*10 + 10 instead of in*1000 + 1000;
  //  - ResNet18's stem 3x3x3x64 = 1,728 instead of 7x7x3x64 = 9,408 weights.
  static final long RESNET18_IMAGENET = 11_689_512, MOBILENET_V2_IMAGENET = 3_504_872, MOBILENET_V1_IMAGENET = 4_231_976;
  static final long RESNET18_CIFAR10 = RESNET18_IMAGENET - 9_408 + 1_728 - (512 * 1000 + 1000) + (512 * 10 + 10);
  static final long MOBILENET_V2_CIFAR10 = MOBILENET_V2_IMAGENET - (1280 * 1000 + 1000) + (1280 * 10 + 10);
  static final long MOBILENET_V1_CIFAR10 = MOBILENET_V1_IMAGENET - (1024 * 1000 + 1000) + (1024 * 10 + 10);

  static Shape outputShape(Module m, int n, int size) {
    try (Scope s = Scope.open(); Tensor x = Tensor.rand(new Random(0), n, 3, size, size)) {
      return m.forward(Variable.leaf(x, false)).value().shape();
    }
  }

  @Test
  void imagenetParameterCountsMatchTorchvision() {
    try (ResNet18 r = ResNet18.imagenet(1000, new Random(1));
        MobileNetV2 v2 = MobileNetV2.imagenet(1000, 1f, new Random(1));
        MobileNetV1 v1 = MobileNetV1.imagenet(1000, 1f, new Random(1))) {
      assertEquals(RESNET18_IMAGENET, r.parameterCount());
      assertEquals(MOBILENET_V2_IMAGENET, v2.parameterCount());
      assertEquals(MOBILENET_V1_IMAGENET, v1.parameterCount());
    }
  }

  @Test
  void cifarParameterCountsMatchTheHandCount() {
    try (ResNet18 r = ResNet18.cifar(10, new Random(1));
        MobileNetV2 v2 = MobileNetV2.cifar(10, 1f, new Random(1));
        MobileNetV1 v1 = MobileNetV1.cifar(10, 1f, new Random(1))) {
      System.out.printf("cifar-10 parameters: ResNet18 %,d, MobileNetV2 %,d, MobileNetV1 %,d%n",
          r.parameterCount(), v2.parameterCount(), v1.parameterCount());
      assertEquals(11_173_962, RESNET18_CIFAR10);
      assertEquals(RESNET18_CIFAR10, r.parameterCount());
      assertEquals(MOBILENET_V2_CIFAR10, v2.parameterCount());
      assertEquals(MOBILENET_V1_CIFAR10, v1.parameterCount());
    }
  }

  @Test
  void widthMultipliersRoundChannelsAsTorchvision() {
    assertEquals(32, MobileNetV2.makeDivisible(32 * 1f, 8));
    assertEquals(16, MobileNetV2.makeDivisible(32 * 0.5f, 8));
    assertEquals(8, MobileNetV2.makeDivisible(16 * 0.35f, 8));
    assertEquals(16, MobileNetV2.makeDivisible(24 * 0.5f, 8)); // 12 -> 16: round half up
    assertEquals(56, MobileNetV2.makeDivisible(160 * 0.35f, 8));
    try (MobileNetV2 half = MobileNetV2.imagenet(1000, 0.5f, new Random(1))) {
      Map<String, Tensor> s = half.stateDict();
      assertEquals(Shape.of(16, 3, 3, 3), s.get("features.0.0.weight").shape());
      assertEquals(Shape.of(16, 96, 1, 1), s.get("features.3.conv.2.weight").shape()); // 24 * 0.5 = 12 -> 16
      assertEquals(Shape.of(1280, 160, 1, 1), s.get("features.18.0.weight").shape()); // last stays 1280 below width 1
    }
  }

  @Test
  void outputShapesAreBatchByClasses() {
    try (ResNet18 r = ResNet18.imagenet(7, new Random(1)); MobileNetV2 v2 = MobileNetV2.imagenet(7, 0.5f, new Random(1));
        MobileNetV1 v1 = MobileNetV1.imagenet(7, 0.25f, new Random(1))) {
      assertEquals(Shape.of(2, 7), outputShape(r, 2, 64));
      assertEquals(Shape.of(2, 7), outputShape(v2, 2, 64));
      assertEquals(Shape.of(2, 7), outputShape(v1, 2, 64));
    }
    try (ResNet18 r = ResNet18.cifar(10, new Random(1)); MobileNetV2 v2 = MobileNetV2.cifar(10, 0.5f, new Random(1));
        MobileNetV1 v1 = MobileNetV1.cifar(10, 0.25f, new Random(1))) {
      assertEquals(Shape.of(3, 10), outputShape(r, 3, 32));
      assertEquals(Shape.of(3, 10), outputShape(v2, 3, 32));
      assertEquals(Shape.of(3, 10), outputShape(v1, 3, 32));
    }
  }

  static void assertKeys(Map<String, Tensor> state, String... keys) {
    for (String k : keys) assertTrue(state.containsKey(k), "missing " + k);
  }

  @Test
  void stateDictKeysAreTorchvisions() {
    try (ResNet18 r = ResNet18.imagenet(1000, new Random(1))) {
      Map<String, Tensor> s = r.stateDict();
      assertEquals(Arrays.asList("conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
          "bn1.num_batches_tracked", "layer1.0.conv1.weight"), s.keySet().stream().limit(7).toList());
      assertKeys(s, "layer1.1.bn2.running_var", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var",
          "layer4.1.conv2.weight", "fc.weight", "fc.bias");
      assertFalse(s.containsKey("layer1.0.downsample.0.weight"));
      assertFalse(s.containsKey("layer2.1.downsample.0.weight"));
      assertEquals(Shape.of(128, 64, 1, 1), s.get("layer2.0.downsample.0.weight").shape());
      assertEquals(Shape.of(64, 3, 7, 7), s.get("conv1.weight").shape());
      assertEquals(Shape.of(), s.get("bn1.num_batches_tracked").shape());
      assertEquals(122, s.size()); // 1 + 5 (stem) + 8 blocks x 12 + 3 downsamples x 6 + 2 (fc), as torchvision's
    }
    try (MobileNetV2 m = MobileNetV2.imagenet(1000, 1f, new Random(1))) {
      Map<String, Tensor> s = m.stateDict();
      assertKeys(s, "features.0.0.weight", "features.0.1.running_mean", "features.1.conv.0.0.weight", "features.1.conv.0.1.bias",
          "features.1.conv.1.weight", "features.1.conv.2.running_var", "features.2.conv.0.0.weight", "features.2.conv.1.0.weight",
          "features.2.conv.2.weight", "features.2.conv.3.num_batches_tracked", "features.17.conv.3.bias",
          "features.18.0.weight", "features.18.1.running_var", "classifier.1.weight", "classifier.1.bias");
      assertFalse(s.containsKey("features.1.conv.3.weight"), "t=1 blocks have no expansion");
      assertFalse(s.containsKey("features.19.0.weight"));
      assertEquals(Shape.of(32, 3, 3, 3), s.get("features.0.0.weight").shape());
      assertEquals(Shape.of(96, 1, 3, 3), s.get("features.2.conv.1.0.weight").shape());
      assertEquals(Shape.of(1280, 320, 1, 1), s.get("features.18.0.weight").shape());
      assertEquals(Shape.of(1000, 1280), s.get("classifier.1.weight").shape());
      assertEquals(314, s.size()); // 6 (stem) + 12 (t=1 block) + 16 x 18 + 6 (last conv) + 2 (classifier), as torchvision's
    }
    try (MobileNetV1 m = MobileNetV1.imagenet(1000, 1f, new Random(1))) {
      Map<String, Tensor> s = m.stateDict();
      assertKeys(s, "features.0.0.weight", "features.0.1.running_var", "features.1.0.0.weight", "features.1.1.1.running_mean",
          "features.13.1.0.weight", "fc.weight", "fc.bias");
      assertEquals(Shape.of(512, 1, 3, 3), s.get("features.12.0.0.weight").shape());
      assertEquals(Shape.of(1024, 512, 1, 1), s.get("features.12.1.0.weight").shape());
      assertFalse(s.containsKey("features.14.0.0.weight"));
    }
  }

  /** namedModules(): the model as "", each module before its children; the last Linear is the classifier. */
  @Test
  void namedModulesListParentsBeforeChildrenInRegistrationOrder() {
    try (MobileNetV2 m = MobileNetV2.cifar(10, 0.25f, new Random(1))) {
      Map<String, Module> all = m.namedModules();
      List<String> names = List.copyOf(all.keySet());
      assertEquals(List.of("", "features", "features.0", "features.0.0", "features.0.1", "features.1", "features.1.conv"),
          names.subList(0, 7));
      assertEquals(List.of("pool", "classifier", "classifier.0", "classifier.1"), names.subList(names.size() - 4, names.size()));
      assertSame(m, all.get(""));
      assertTrue(all.get("classifier.1") instanceof Linear);
      assertTrue(all.get("classifier.0") instanceof Dropout);
    }
    for (Module m : List.of(MobileNetV1.cifar(10, 0.25f, new Random(1)), ResNet18.cifar(10, new Random(1)))) {
      try (m) {
        String lastLinear = null;
        for (Map.Entry<String, Module> e : m.namedModules().entrySet()) if (e.getValue() instanceof Linear) lastLinear = e.getKey();
        assertEquals("fc", lastLinear, m.getClass().getSimpleName());
      }
    }
  }

  @Test
  void initialisationFollowsTorchvision() {
    try (MobileNetV2 m = MobileNetV2.imagenet(1000, 1f, new Random(3)); ResNet18 r = ResNet18.imagenet(1000, new Random(3))) {
      Map<String, Tensor> s = m.stateDict();
      assertEquals(Math.sqrt(2.0 / (1280 * 1 * 1)), std(s.get("features.18.0.weight").toArray()), 0.03 * Math.sqrt(2.0 / 1280));
      assertEquals(Math.sqrt(2.0 / (960 * 9)), std(s.get("features.17.conv.1.0.weight").toArray()), 0.05 * Math.sqrt(2.0 / (960 * 9)));
      assertEquals(0.01, std(s.get("classifier.1.weight").toArray()), 0.0005);
      for (float b : s.get("classifier.1.bias").toArray()) assertEquals(0f, b);
      for (float g : s.get("features.5.conv.3.weight").toArray()) assertEquals(1f, g);
      float[] fcb = r.stateDict().get("fc.bias").toArray();
      double bound = 1 / Math.sqrt(512);
      for (float b : fcb) assertTrue(Math.abs(b) <= bound);
      assertTrue(std(fcb) > 0.5 * bound / Math.sqrt(3), "ResNet's fc keeps PyTorch's uniform default");
    }
  }

  static double std(float[] a) {
    double s = 0, s2 = 0;
    for (float v : a) { s += v; s2 += (double) v * v; }
    return Math.sqrt(s2 / a.length - (s / a.length) * (s / a.length));
  }

  @Test
  void aFixedSeedGivesIdenticalOutputs() {
    checkSeeded(rng -> MobileNetV2.cifar(10, 0.5f, rng), 32);
    checkSeeded(rng -> MobileNetV1.cifar(10, 0.25f, rng), 32);
    checkSeeded(rng -> ResNet18.cifar(10, rng), 16);
  }

  private static void checkSeeded(Function<Random, Module> make, int size) {
    try (Module a = make.apply(new Random(42)); Module b = make.apply(new Random(42)); Module c = make.apply(new Random(43));
        Tensor x = Tensor.rand(new Random(5), 2, 3, size, size)) {
      float[] ya, yb, yc;
      try (Scope s = Scope.open()) { // training mode: batch statistics and seeded dropout
        ya = a.forward(Variable.leaf(x, false)).value().toArray();
        yb = b.forward(Variable.leaf(x, false)).value().toArray();
        yc = c.forward(Variable.leaf(x, false)).value().toArray();
      }
      assertArrayEquals(ya, yb);
      assertFalse(Arrays.equals(ya, yc), "another seed must give another model");
      assertArrayEquals(evalOutput(a, x), evalOutput(b, x));
    }
  }

  @Test
  void aCopiedStateDictReproducesOutputsBitForBit() {
    try (MobileNetV2 a = MobileNetV2.cifar(10, 0.5f, new Random(1)); MobileNetV2 b = MobileNetV2.cifar(10, 0.5f, new Random(2));
        ResNet18 ra = ResNet18.cifar(10, new Random(1)); ResNet18 rb = ResNet18.cifar(10, new Random(2));
        Tensor x = Tensor.rand(new Random(3), 2, 3, 32, 32)) {
      for (Module[] p : new Module[][] {{a, b}, {ra, rb}}) {
        randomiseNorms(p[0], new Random(4));
        warmUpStatistics(p[0], new Random(5), 3, 16, 2);
        assertFalse(Arrays.equals(evalOutput(p[0], x), evalOutput(p[1], x)));
        p[1].loadStateDict(p[0].stateDict());
        assertArrayEquals(evalOutput(p[0], x), evalOutput(p[1], x));
        assertEquals(2f, p[1].stateDict().get(p[0] == a ? "features.0.1.num_batches_tracked" : "bn1.num_batches_tracked").get(0));
      }
    }
  }
}
