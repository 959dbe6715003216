package org.sepconv.models;

import java.util.Random;
import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.ConvBNAct;
import org.sepconv.nn.Module;
import org.sepconv.nn.Sequential;
import org.sepconv.ops.Activation;

/**
 * MobileNetV2's block (Sandler et al., "MobileNetV2: Inverted Residuals and Linear
 * Bottlenecks", 2018), as torchvision's {@code InvertedResidual}: one child "conv", a
 * Sequential of: the 1x1 expansion to in*t channels with ReLU6 (only when t != 1), the 3x3
 * depthwise conv at {@code stride} with ReLU6, the linear 1x1 projection and its BN. The input
 * is added to the output when stride is 1 and in == out.
 */
public final class InvertedResidual extends Module {
  private final Sequential conv;
  private final boolean residual;

  public InvertedResidual(int in, int out, int stride, int expandRatio, Random rng) {
    if (stride != 1 && stride != 2) throw new IllegalArgumentException("stride must be 1 or 2, got " + stride);
    int hidden = Math.round(in * (float) expandRatio);
    residual = stride == 1 && in == out;
    Sequential c = new Sequential();
    if (expandRatio != 1) c.add(new ConvBNAct(in, hidden, 1, 1, 1, Activation.RELU6, rng));
    c.add(new ConvBNAct(hidden, hidden, 3, stride, hidden, Activation.RELU6, rng));
    c.add(Conv2d.builder(hidden, out, 1).optBias(false).build(rng));
    c.add(new BatchNorm2d(out));
    conv = register("conv", c);
  }

  @Override
  public Variable forward(Variable x) {
    Variable y = conv.forward(x);
    return residual ? F.add(x, y) : y;
  }

  public boolean hasResidual() {
    return residual;
  }

  /** The block's layers (child "conv"), without the residual addition. */
  public Sequential conv() {
    return conv;
  }
}
