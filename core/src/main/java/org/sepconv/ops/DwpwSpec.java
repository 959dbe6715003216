package org.sepconv.ops;

import org.bytedeco.javacpp.IntPointer;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.nativeapi.SepconvNative;
import org.sepconv.nativeapi.SepconvNative.DwpwDesc;

/**
 * The geometry of a fused depthwise-separable block, {@link Ops#dwpwForward}: MobileNet's
 * block with its BatchNorms folded into the convs, over NCHW fp32 data.
 *
 * <pre>
 *   e = actExpand(wExpand . x + bExpand)     1x1, cIn -&gt; cExpand, only with {@link #withExpand}
 *   h = actDw(depthwise(e) + bDw)            k x k, stride, pad, cExpand*mult channels
 *   y = actPw(wPw . h + bPw) + residual      1x1, -&gt; cOut; the residual is optional
 * </pre>
 *
 * Weights: wExpand [cExpand][cIn], wDw [cExpand*mult][1][k][k], wPw [cOut][cExpand*mult]. Build
 * with {@link #of} and the {@code with*} methods; like {@link Conv2dSpec}, a spec is validated by
 * the native library when it is first used (or by {@link #validate()}):
 *
 * <pre>{@code
 * // MobileNetV2's 24-channel block at 32x32, expansion 6
 * DwpwSpec s = DwpwSpec.of(64, 24, 32, 32, 3, 1, 24).withExpand(144, Activation.RELU6)
 *     .withActivations(Activation.RELU6, Activation.NONE);
 * }</pre>
 */
public final class DwpwSpec {
  public final int n, cIn, h, w, cExpand, k, stride, pad, mult, cOut;
  /** Whether the block starts with the 1x1 expansion (else e is x and cExpand == cIn). */
  public final boolean expand;
  public final Activation actExpand, actDw, actPw;
  private int outH = -1, outW = -1;

  private DwpwSpec(int[] v, boolean expand, Activation actExpand, Activation actDw, Activation actPw) {
    n = v[0]; cIn = v[1]; h = v[2]; w = v[3]; cExpand = v[4]; k = v[5]; stride = v[6]; pad = v[7]; mult = v[8];
    cOut = v[9];
    this.expand = expand;
    this.actExpand = actExpand;
    this.actDw = actDw;
    this.actPw = actPw;
  }

  /** No expansion, pad (k-1)/2, channel multiplier 1, no activations. */
  public static DwpwSpec of(int n, int cIn, int h, int w, int k, int stride, int cOut) {
    return new DwpwSpec(new int[] {n, cIn, h, w, cIn, k, stride, (k - 1) / 2, 1, cOut}, false, Activation.NONE,
        Activation.NONE, Activation.NONE);
  }

  private int[] values() {
    return new int[] {n, cIn, h, w, cExpand, k, stride, pad, mult, cOut};
  }

  private DwpwSpec with(int index, int value) {
    int[] v = values();
    v[index] = value;
    return new DwpwSpec(v, expand, actExpand, actDw, actPw);
  }

  /** A 1x1 expansion to {@code channels} with {@code act} before the depthwise (MobileNetV2). */
  public DwpwSpec withExpand(int channels, Activation act) {
    if (act == null) throw new IllegalArgumentException("act must not be null (use Activation.NONE)");
    int[] v = values();
    v[4] = channels;
    return new DwpwSpec(v, true, act, actDw, actPw);
  }

  /** The activations after the depthwise and after the pointwise. */
  public DwpwSpec withActivations(Activation dw, Activation pw) {
    if (dw == null || pw == null) throw new IllegalArgumentException("activations must not be null (use Activation.NONE)");
    return new DwpwSpec(values(), expand, actExpand, dw, pw);
  }

  public DwpwSpec withPad(int p) { return with(7, p); }
  public DwpwSpec withMult(int m) { return with(8, m); }
  public DwpwSpec withBatch(int n) { return with(0, n); }

  /** Checks the geometry; throws IllegalArgumentException naming the bad argument. */
  public DwpwSpec validate() {
    if (outH >= 0) return this;
    NativeLib.ensureLoaded();
    try (DwpwDesc d = rawDesc(); IntPointer oh = new IntPointer(1); IntPointer ow = new IntPointer(1)) {
      NativeLib.check(SepconvNative.sepconv_dwpw_output_shape(d, oh, ow));
      outW = ow.get();
      outH = oh.get();
    }
    return this;
  }

  public int outH() { return validate().outH; }
  public int outW() { return validate().outW; }

  /** The depthwise conv's output channels, cExpand * mult: the pointwise's inputs. */
  public int midChannels() { return cExpand * mult; }

  public long inputSize() { validate(); return (long) n * cIn * h * w; }
  public long expandWeightSize() { validate(); return (long) cExpand * cIn; }
  public long dwWeightSize() { validate(); return (long) midChannels() * k * k; }
  public long pwWeightSize() { validate(); return (long) cOut * midChannels(); }
  public long outputSize() { return (long) n * cOut * outH() * outW(); }

  /** Multiply-accumulates of the block. */
  public long macs() {
    long in = (long) n * h * w, out = (long) n * outH() * outW();
    return (expand ? in * cExpand * cIn : 0) + out * midChannels() * k * k + out * cOut * midChannels();
  }

  /** A native descriptor of the validated spec; the caller closes it. */
  public DwpwDesc toNative() {
    validate();
    return rawDesc();
  }

  private DwpwDesc rawDesc() {
    DwpwDesc d = new DwpwDesc();
    d.n(n).c_in(cIn).h(h).w(w).c_expand(cExpand).k(k).stride(stride).pad(pad).mult(mult).c_out(cOut)
        .act_expand(actExpand.code()).act_dw(actDw.code()).act_pw(actPw.code());
    return d;
  }

  /** NxCxHxW[>cExpand]/k/stride[xmult]->cOut with the activations, as the benchmark reports write it. */
  @Override
  public String toString() {
    return n + "x" + cIn + "x" + h + "x" + w + (expand ? ">" + cExpand + "+" + actExpand : "") + "/" + k + "/" + stride
        + (pad != (k - 1) / 2 ? "p" + pad : "") + (mult != 1 ? "x" + mult : "") + "+" + actDw + "->" + cOut + "+" + actPw;
  }
}
