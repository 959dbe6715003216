package org.sepconv.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sepconv.models.ModelTestSupport.evalOutput;
import static org.sepconv.models.ModelTestSupport.randomiseNorms;
import static org.sepconv.models.ModelTestSupport.relDiff;
import static org.sepconv.models.ModelTestSupport.warmUpStatistics;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sepconv.io.SafeTensors;
import org.sepconv.autograd.F;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.ConvBNAct;
import org.sepconv.nn.Module;
import org.sepconv.nn.Sequential;
import org.sepconv.ops.Activation;
import org.sepconv.tensor.Tensor;

class ExportTest {
  private static void closeAll(Map<String, Tensor> m) {
    m.values().forEach(Tensor::close);
  }

  @Test
  void aFoldedConvEqualsConvThenBnInEval() throws Exception {
    Random rng = new Random(21);
    // a depthwise ConvBNAct (no conv bias) and a dense conv with a bias followed by a BN
    Sequential net = new Sequential(new ConvBNAct(4, 4, 3, 2, 4, Activation.RELU6, rng),
        Conv2d.builder(4, 6, 3).optPad(1).build(rng), new BatchNorm2d(6));
    try (net; Tensor x = Tensor.rand(rng, 2, 4, 9, 9)) {
      randomiseNorms(net, rng);
      var bias = ((Conv2d) net.get(1)).bias().value().buffer();
      for (int i = 0; i < bias.capacity(); i++) bias.put(i, rng.nextFloat() - 0.5f);
      warmUpStatistics(net, rng, 4, 9, 3);
      Map<String, Tensor> folded = Export.foldBatchNorm(net);
      try {
        assertEquals(List.of("0.0.weight", "0.0.bias", "1.weight", "1.bias"), new ArrayList<>(folded.keySet()));
        float[] want = evalOutput(net, x);
        float[] got;
        try (AutoCloseable g = GradMode.noGrad(); Scope s = Scope.open()) {
          Variable y = F.conv2d(Variable.leaf(x, false), Variable.leaf(folded.get("0.0.weight"), false),
              Variable.leaf(folded.get("0.0.bias"), false), 2, 1, 1, 4);
          y = F.conv2d(F.relu6(y), Variable.leaf(folded.get("1.weight"), false), Variable.leaf(folded.get("1.bias"), false), 1, 1, 1, 1);
          got = y.value().toArray();
        }
        double e = relDiff(got, want);
        assertTrue(e < 1e-5, "folded vs conv+BN: " + e);
        assertFalse(folded.get("1.weight").isClosed());
        assertTrue(folded.get("1.weight") != net.stateDict().get("1.weight"), "new tensors, not the model's");
      } finally {
        closeAll(folded);
      }
    }
  }

  /** Whole models: load the folded convs back and make every BN an identity that adds the folded bias. */
  @Test
  void foldedModelsMatchTheirEvalOutputs() {
    Random rng = new Random(22);
    try (ResNet18 r = ResNet18.cifar(10, rng); MobileNetV2 m = MobileNetV2.cifar(10, 0.35f, rng);
        MobileNetV1 v1 = MobileNetV1.cifar(10, 0.25f, rng); Tensor x = Tensor.rand(rng, 2, 3, 16, 16)) {
      for (Module model : new Module[] {r, m, v1}) {
        randomiseNorms(model, rng);
        warmUpStatistics(model, rng, 3, 16, 2);
        float[] want = evalOutput(model, x);
        Map<String, Tensor> folded = Export.foldBatchNorm(model);
        try {
          for (String k : folded.keySet()) assertFalse(k.contains("running") || k.contains("num_batches"), k);
          if (model == r) {
            assertTrue(folded.containsKey("conv1.bias") && folded.containsKey("layer2.0.downsample.0.bias") && folded.containsKey("fc.bias"));
            assertFalse(folded.containsKey("bn1.weight") || folded.containsKey("layer2.0.downsample.1.weight"));
            assertEquals(20 * 2 + 2, folded.size()); // 20 convs with weight and bias, fc
          }
          if (model == m) {
            assertTrue(folded.containsKey("features.1.conv.1.bias") && folded.containsKey("features.2.conv.2.bias")
                && folded.containsKey("features.0.0.bias") && folded.containsKey("classifier.1.weight"));
            assertFalse(folded.containsKey("features.2.conv.3.weight"));
          }
          int pairs = applyFolded(model, "", folded);
          assertTrue(pairs > 10);
          double e = relDiff(evalOutput(model, x), want);
          assertTrue(e < 1e-4, model.getClass().getSimpleName() + ": folded vs eval: " + e);
        } finally {
          closeAll(folded);
        }
      }
    }
  }

  /** Writes folded weights into each conv and turns its BN into y = x + folded bias; returns the pairs seen. */
  private static int applyFolded(Module m, String prefix, Map<String, Tensor> folded) {
    int pairs = 0;
    List<Module> kids = new ArrayList<>(m.children().values());
    List<String> names = new ArrayList<>(m.children().keySet());
    for (int i = 0; i < kids.size(); i++) {
      if (kids.get(i) instanceof Conv2d conv && i + 1 < kids.size() && kids.get(i + 1) instanceof BatchNorm2d bn) {
        String p = prefix + names.get(i) + ".";
        conv.weight().value().copyFrom(folded.get(p + "weight"));
        bn.weight().value().fill(1f);
        bn.bias().value().copyFrom(folded.get(p + "bias"));
        bn.runningMean().fill(0f);
        bn.runningVar().fill(1f - bn.eps());
        pairs++;
        i++;
      } else {
        pairs += applyFolded(kids.get(i), prefix + names.get(i) + ".", folded);
      }
    }
    return pairs;
  }


  @Test
  void saveFoldedWritesTheFoldedStateDict(@TempDir Path dir) {
    Random rng = new Random(23);
    try (MobileNetV2 m = MobileNetV2.cifar(10, 0.35f, rng)) {
      randomiseNorms(m, rng);
      warmUpStatistics(m, rng, 3, 16, 1);
      Path file = dir.resolve("mobilenet_v2_folded.safetensors");
      Export.saveFolded(m, file, Map.of("arch", "mobilenet_v2"));
      assertTrue(Files.isRegularFile(file));
      assertEquals(Map.of("arch", "mobilenet_v2"), SafeTensors.metadata(file));
      Map<String, Tensor> want = Export.foldBatchNorm(m), got = SafeTensors.load(file);
      try {
        assertEquals(new ArrayList<>(want.keySet()), new ArrayList<>(got.keySet()));
        for (String k : want.keySet()) {
          assertEquals(want.get(k).shape(), got.get(k).shape(), k);
          assertTrue(java.util.Arrays.equals(want.get(k).toArray(), got.get(k).toArray()), k);
        }
      } finally {
        closeAll(want);
        closeAll(got);
      }
    }
  }
}
