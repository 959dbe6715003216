package org.sepconv.models;

import java.util.Random;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.GlobalAvgPool;
import org.sepconv.nn.Linear;
import org.sepconv.nn.MaxPool2d;
import org.sepconv.nn.Module;
import org.sepconv.nn.Sequential;
import org.sepconv.ops.Activation;

/**
 * ResNet-18 (He et al., 2015) with torchvision's structure and state-dict names: {@code conv1},
 * {@code bn1}, {@code layer1} ... {@code layer4} (two {@link BasicBlock}s each, 64/128/256/512
 * channels, the first block of layers 2-4 at stride 2 with a {@code downsample}), {@code fc}.
 * The stem's ReLU runs inside bn1's kernel; {@code maxpool} and {@code avgpool} hold no state.
 *
 * <p>Init as torchvision: convs kaiming-normal (fan_out), BN 1 and 0, fc PyTorch's Linear
 * default. With 1000 classes: 11,689,512 parameters.
 */
public final class ResNet18 extends Module {
  private final Conv2d conv1;
  private final BatchNorm2d bn1;
  private final MaxPool2d maxpool;
  private final Sequential[] layers = new Sequential[4];
  private final GlobalAvgPool avgpool;
  private final Linear fc;

  private ResNet18(int numClasses, boolean imagenet, Random rng) {
    conv1 = register("conv1", imagenet
        ? Conv2d.builder(3, 64, 7).optStride(2).optPad(3).optBias(false).build(rng)
        : BasicBlock.conv3x3(3, 64, 1, rng));
    bn1 = register("bn1", new BatchNorm2d(64));
    maxpool = imagenet ? register("maxpool", new MaxPool2d(3, 2, 1)) : null;
    int in = 64;
    for (int i = 0; i < 4; i++) {
      int out = 64 << i;
      layers[i] = register("layer" + (i + 1), new Sequential(new BasicBlock(in, out, i == 0 ? 1 : 2, rng), new BasicBlock(out, out, 1, rng)));
      in = out;
    }
    avgpool = register("avgpool", new GlobalAvgPool());
    fc = register("fc", new Linear(512, numClasses, true, rng));
  }

  /** torchvision's resnet18 for 224x224 inputs: 7x7 stride-2 stem and a 3x3 stride-2 max-pool. */
  public static ResNet18 imagenet(int numClasses, Random rng) {
    return new ResNet18(numClasses, true, rng);
  }

  /** For 32x32 inputs: a 3x3 stride-1 stem and no max-pool; the rest as {@link #imagenet}. */
  public static ResNet18 cifar(int numClasses, Random rng) {
    return new ResNet18(numClasses, false, rng);
  }

  @Override
  public Variable forward(Variable x) {
    Variable y = bn1.forward(conv1.forward(x), Activation.RELU);
    if (maxpool != null) y = maxpool.forward(y);
    for (Sequential layer : layers) y = layer.forward(y);
    return fc.forward(avgpool.forward(y));
  }
}
