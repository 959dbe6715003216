package org.sepconv.models;

import java.util.Random;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.ConvBNAct;
import org.sepconv.nn.Dropout;
import org.sepconv.nn.GlobalAvgPool;
import org.sepconv.nn.Init;
import org.sepconv.nn.Linear;
import org.sepconv.nn.Module;
import org.sepconv.nn.Sequential;
import org.sepconv.ops.Activation;

/**
 * MobileNetV2 (Sandler et al., 2018) with torchvision's structure and state-dict names:
 * {@code features.0} the 3x3 stride-2 stem ({@link ConvBNAct}, ReLU6), {@code features.1-17}
 * the {@link InvertedResidual}s of the paper's table 2 (t, c, n, s), {@code features.18} the
 * 1x1 conv to 1280, then global average pooling ({@code pool}, no state) and
 * {@code classifier.0} Dropout(0.2), {@code classifier.1} Linear. Channels are
 * {@code makeDivisible(c * widthMult, 8)}; the last is 1280 * max(1, widthMult), likewise
 * rounded.
 *
 * <p>Init as torchvision: convs kaiming-normal (fan_out), BN 1 and 0, classifier weight
 * N(0, 0.01) and bias 0. With 1000 classes and width 1: 3,504,872 parameters.
 */
public final class MobileNetV2 extends Module {
  /** Table 2 of the paper: expansion t, output channels c, repeats n, first stride s. */
  private static final int[][] SETTINGS = {
    {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};

  private final Sequential features, classifier;
  private final GlobalAvgPool pool;

  private MobileNetV2(int numClasses, float widthMult, boolean imagenet, Random rng) {
    if (!(widthMult > 0)) throw new IllegalArgumentException("widthMult must be > 0, got " + widthMult);
    int in = makeDivisible(32 * widthMult, 8), last = makeDivisible(1280 * Math.max(1f, widthMult), 8);
    features = new Sequential(new ConvBNAct(3, in, 3, imagenet ? 2 : 1, 1, Activation.RELU6, rng));
    for (int[] s : SETTINGS) {
      int out = makeDivisible(s[1] * widthMult, 8);
      int stride = !imagenet && s[1] == 24 ? 1 : s[3];
      for (int i = 0; i < s[2]; i++) {
        features.add(new InvertedResidual(in, out, i == 0 ? stride : 1, s[0], rng));
        in = out;
      }
    }
    features.add(new ConvBNAct(in, last, 1, 1, 1, Activation.RELU6, rng));
    register("features", features);
    pool = register("pool", new GlobalAvgPool());
    Linear fc = new Linear(last, numClasses, true, rng);
    Init.normal(fc.weight().value(), 0.01, rng);
    fc.bias().value().fill(0f);
    classifier = register("classifier", new Sequential(new Dropout(0.2f, rng.nextLong()), fc));
  }

  /** torchvision's mobilenet_v2 for 224x224 inputs. */
  public static MobileNetV2 imagenet(int numClasses, float widthMult, Random rng) {
    return new MobileNetV2(numClasses, widthMult, true, rng);
  }

  /**
   * For 32x32 inputs: the stem and the first 24-channel stage at stride 1 (so 32x32 ends at
   * 4x4); everything else as {@link #imagenet}.
   */
  public static MobileNetV2 cifar(int numClasses, float widthMult, Random rng) {
    return new MobileNetV2(numClasses, widthMult, false, rng);
  }

  @Override
  public Variable forward(Variable x) {
    return classifier.forward(pool.forward(features.forward(x)));
  }

  /**
   * torchvision's {@code _make_divisible}: v rounded to the nearest multiple of divisor, at
   * least divisor, and never more than 10% below v.
   */
  static int makeDivisible(float v, int divisor) {
    int r = Math.max(divisor, (int) (v + divisor / 2f) / divisor * divisor);
    return r < 0.9f * v ? r + divisor : r;
  }
}
