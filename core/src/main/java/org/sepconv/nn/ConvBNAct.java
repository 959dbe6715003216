package org.sepconv.nn;

import java.util.Random;
import org.sepconv.autograd.Variable;
import org.sepconv.ops.Activation;

/**
 * Conv (no bias) then batch norm then an activation, torchvision's
 * {@code Conv2dNormActivation}: children "0" ({@link Conv2d}) and "1" ({@link BatchNorm2d}), so
 * state-dict keys match ({@code features.0.0.weight}, {@code features.0.1.running_var}). The
 * activation is not a child: it runs inside the batch-norm kernel, forward and backward.
 * Padding is (k-1)/2, so stride 1 keeps the spatial size.
 */
public final class ConvBNAct extends Module {
  private final Conv2d conv;
  private final BatchNorm2d bn;
  private final Activation act;

  public ConvBNAct(int in, int out, int k, int stride, int groups, Activation act, Random rng) {
    conv = register("0", Conv2d.builder(in, out, k).optStride(stride).optPad((k - 1) / 2).optGroups(groups).optBias(false).build(rng));
    bn = register("1", new BatchNorm2d(out));
    this.act = act;
  }

  @Override
  public Variable forward(Variable x) {
    return bn.forward(conv.forward(x), act);
  }

  public Conv2d conv() { return conv; }
  public BatchNorm2d bn() { return bn; }
  public Activation activation() { return act; }
}
