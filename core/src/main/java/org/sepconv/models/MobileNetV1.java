package org.sepconv.models;

import java.util.Random;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.ConvBNAct;
import org.sepconv.nn.GlobalAvgPool;
import org.sepconv.nn.Init;
import org.sepconv.nn.Linear;
import org.sepconv.nn.Module;
import org.sepconv.nn.Sequential;
import org.sepconv.ops.Activation;

/**
 * MobileNetV1 (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile
 * Vision Applications", 2017), table 1: a 3x3 stride-2 stem conv to 32 channels, 13
 * depthwise-separable blocks, global average pooling and a linear classifier; every conv is
 * followed by BN and ReLU, and no conv has a bias. torchvision has no MobileNetV1; the names
 * follow its MobileNetV2: {@code features.0} the stem ({@link ConvBNAct}: {@code features.0.0}
 * conv, {@code features.0.1} BN), {@code features.N} for N = 1..13 a block whose {@code 0} is
 * the depthwise 3x3 ConvBNAct and {@code 1} the pointwise 1x1 ConvBNAct
 * ({@code features.1.0.0.weight}, {@code features.1.1.1.running_mean}), {@code pool} (no
 * state), {@code fc}.
 *
 * <p>The width multiplier alpha scales every channel count, rounded with MobileNetV2's
 * {@code makeDivisible(c * alpha, 8)}. Init as our MobileNetV2: convs kaiming-normal
 * (fan_out), BN 1 and 0, fc N(0, 0.01) and bias 0. With 1000 classes and alpha 1: 4,231,976
 * parameters.
 */
public final class MobileNetV1 extends Module {
  /** Table 1 of the paper: each block's output channels and depthwise stride. */
  private static final int[][] BLOCKS = {
    {64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2},
    {512, 1}, {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};

  private final Sequential features;
  private final GlobalAvgPool pool;
  private final Linear fc;

  private MobileNetV1(int numClasses, float alpha, boolean imagenet, Random rng) {
    if (!(alpha > 0)) throw new IllegalArgumentException("alpha must be > 0, got " + alpha);
    int in = MobileNetV2.makeDivisible(32 * alpha, 8);
    features = register("features", new Sequential(new ConvBNAct(3, in, 3, imagenet ? 2 : 1, 1, Activation.RELU, rng)));
    for (int[] b : BLOCKS) {
      int out = MobileNetV2.makeDivisible(b[0] * alpha, 8);
      features.add(new Sequential(
          new ConvBNAct(in, in, 3, b[1], in, Activation.RELU, rng),
          new ConvBNAct(in, out, 1, 1, 1, Activation.RELU, rng)));
      in = out;
    }
    pool = register("pool", new GlobalAvgPool());
    fc = register("fc", new Linear(in, numClasses, true, rng));
    Init.normal(fc.weight().value(), 0.01, rng);
    fc.bias().value().fill(0f);
  }

  /** The paper's network for 224x224 inputs. */
  public static MobileNetV1 imagenet(int numClasses, float alpha, Random rng) {
    return new MobileNetV1(numClasses, alpha, true, rng);
  }

  /** For 32x32 inputs: a stride-1 stem (so 32x32 ends at 2x2); the 13 blocks as the paper's. */
  public static MobileNetV1 cifar(int numClasses, float alpha, Random rng) {
    return new MobileNetV1(numClasses, alpha, false, rng);
  }

  @Override
  public Variable forward(Variable x) {
    return fc.forward(pool.forward(features.forward(x)));
  }
}
