package org.sepconv.nn;

import java.util.Random;
import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * 2-D convolution over NCHW input, as {@code torch.nn.Conv2d} with square kernel, stride,
 * padding and dilation. Parameters: {@code weight} [out][in/groups][k][k] and, if enabled,
 * {@code bias} [out]. groups == in is depthwise, k == 1 is pointwise.
 *
 * <p>Initialised as torchvision's models initialise their convs: weight
 * {@code kaiming_normal_(mode="fan_out", nonlinearity="relu")}, i.e. N(0, 2 / (out*k*k)),
 * bias zero.
 *
 * <pre>{@code Conv2d dw = Conv2d.builder(96, 96, 3).optStride(2).optPad(1).optGroups(96).build(rng);}</pre>
 */
public final class Conv2d extends Module {
  private final int in, out, k, stride, pad, dilation, groups;
  private final Variable weight, bias;

  private Conv2d(Builder b, Random rng) {
    if (b.in < 1 || b.out < 1 || b.k < 1) throw new IllegalArgumentException("in, out and k must be >= 1, got " + b.in + ", " + b.out + ", " + b.k);
    if (b.groups < 1 || b.in % b.groups != 0 || b.out % b.groups != 0)
      throw new IllegalArgumentException("groups: must divide in (" + b.in + ") and out (" + b.out + "), got " + b.groups);
    in = b.in;
    out = b.out;
    k = b.k;
    stride = b.stride;
    pad = b.pad;
    dilation = b.dilation;
    groups = b.groups;
    Tensor w = Tensor.empty(Shape.of(out, in / groups, k, k));
    Init.kaimingNormalFanOut(w, rng);
    weight = param("weight", w);
    bias = b.bias ? param("bias", Tensor.zeros(out)) : null;
  }

  /** A conv from {@code in} to {@code out} channels with a k x k kernel; stride 1, no padding, one group, with bias unless told. */
  public static Builder builder(int in, int out, int k) {
    return new Builder(in, out, k);
  }

  @Override
  public Variable forward(Variable x) {
    return Trace.record(this, x, F.conv2d(x, weight, bias, stride, pad, dilation, groups));
  }

  public Variable weight() { return weight; }

  /** The bias, or null if the conv has none. */
  public Variable bias() { return bias; }

  public int inChannels() { return in; }
  public int outChannels() { return out; }
  public int kernel() { return k; }
  public int stride() { return stride; }
  public int pad() { return pad; }
  public int dilation() { return dilation; }
  public int groups() { return groups; }

  @Override
  public String toString() {
    return "Conv2d(" + in + ", " + out + ", k=" + k + ", stride=" + stride + ", pad=" + pad
        + (dilation != 1 ? ", dilation=" + dilation : "") + (groups != 1 ? ", groups=" + groups : "")
        + (bias == null ? ", bias=false" : "") + ")";
  }

  /** Optional settings of a {@link Conv2d}; the defaults are PyTorch's. */
  public static final class Builder {
    private final int in, out, k;
    private int stride = 1, pad, dilation = 1, groups = 1;
    private boolean bias = true;

    private Builder(int in, int out, int k) {
      this.in = in;
      this.out = out;
      this.k = k;
    }

    public Builder optStride(int s) { stride = s; return this; }
    public Builder optPad(int p) { pad = p; return this; }
    public Builder optDilation(int d) { dilation = d; return this; }
    public Builder optGroups(int g) { groups = g; return this; }
    public Builder optBias(boolean b) { bias = b; return this; }

    /** The conv, its weight drawn from {@code rng}. */
    public Conv2d build(Random rng) {
      return new Conv2d(this, rng);
    }
  }
}
