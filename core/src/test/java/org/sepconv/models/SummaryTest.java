package org.sepconv.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.GlobalAvgPool;
import org.sepconv.nn.Linear;
import org.sepconv.nn.Module;
import org.sepconv.nn.ReLU;
import org.sepconv.nn.Sequential;

class SummaryTest {
  private static long total(String summary, String what) {
    Matcher m = Pattern.compile("(?m)^" + what + ": (\\d+)$").matcher(summary);
    assertTrue(m.find(), "no '" + what + ": N' line in\n" + summary);
    return Long.parseLong(m.group(1));
  }

  @Test
  void countsASmallModelExactly() {
    Random rng = new Random(1);
    try (Sequential s = new Sequential(Conv2d.builder(3, 8, 3).optStride(2).optPad(1).build(rng), new ReLU(), new GlobalAvgPool(),
        new Linear(8, 5, true, rng))) {
      String sum = Summary.of(s, 3, 10, 10);
      assertEquals(8 * 27 + 8 + 8 * 5 + 5, total(sum, "params"));
      assertEquals(8L * 5 * 5 * 27 + 8 * 5, total(sum, "macs")); // conv: 8 x 5x5 outputs x 27 taps; linear: 8x5
      assertTrue(sum.contains("[1, 8, 5, 5]") && sum.contains("[1, 5]"), sum);
      assertTrue(s.isTraining(), "the summary puts the model back in training mode");
    }
  }

  @Test
  void torchvisionModelsHaveTheirKnownCosts() {
    // conv and linear multiply-adds at 224x224, as torchinfo reports them: 300.77 M and 1.81 G
    check(MobileNetV2.imagenet(1000, 1f, new Random(1)), 224, 3_504_872, 300_774_272L);
    check(ResNet18.imagenet(1000, new Random(1)), 224, 11_689_512, 1_814_073_344L);
  }

  private static void check(Module model, int size, long params, long macs) {
    try (model) {
      String sum = Summary.of(model, 3, size, size);
      assertEquals(params, total(sum, "params"));
      assertEquals(macs, total(sum, "macs"));
      assertTrue(sum.lines().anyMatch(l -> l.startsWith("features.0.0 ") || l.startsWith("conv1 ")), sum);
    }
  }
}
