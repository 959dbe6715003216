package org.sepconv.models;

import java.util.Random;
import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.Module;
import org.sepconv.nn.Sequential;
import org.sepconv.ops.Activation;

/**
 * ResNet's two-conv block (He et al., "Deep Residual Learning for Image Recognition", 2015), as
 * torchvision's {@code BasicBlock}: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), where
 * the shortcut is the identity or, when the stride or width changes, {@code downsample}: a 1x1
 * conv at the stride and a BN. The first ReLU runs inside bn1's kernel.
 */
public final class BasicBlock extends Module {
  private final Conv2d conv1, conv2;
  private final BatchNorm2d bn1, bn2;
  private final Sequential downsample;

  public BasicBlock(int in, int out, int stride, Random rng) {
    conv1 = register("conv1", conv3x3(in, out, stride, rng));
    bn1 = register("bn1", new BatchNorm2d(out));
    conv2 = register("conv2", conv3x3(out, out, 1, rng));
    bn2 = register("bn2", new BatchNorm2d(out));
    downsample = stride != 1 || in != out
        ? register("downsample", new Sequential(Conv2d.builder(in, out, 1).optStride(stride).optBias(false).build(rng), new BatchNorm2d(out)))
        : null;
  }

  static Conv2d conv3x3(int in, int out, int stride, Random rng) {
    return Conv2d.builder(in, out, 3).optStride(stride).optPad(1).optBias(false).build(rng);
  }

  public Conv2d conv1() { return conv1; }
  public BatchNorm2d bn1() { return bn1; }
  public Conv2d conv2() { return conv2; }
  public BatchNorm2d bn2() { return bn2; }

  /** The shortcut's 1x1 conv and BN, or null when the shortcut is the identity. */
  public Sequential downsample() { return downsample; }

  @Override
  public Variable forward(Variable x) {
    Variable y = bn2.forward(conv2.forward(bn1.forward(conv1.forward(x), Activation.RELU)));
    return F.relu(F.add(y, downsample == null ? x : downsample.forward(x)));
  }
}
