package org.sepconv.ops;

import org.bytedeco.javacpp.IntPointer;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.nativeapi.SepconvNative;
import org.sepconv.nativeapi.SepconvNative.Conv2dDesc;

/**
 * The geometry of a 2-D convolution over NCHW fp32 data. Weights
 * are laid out [cOut][cIn/groups][kh][kw]; groups == cIn is depthwise, kh == kw == 1 is
 * pointwise. Build with {@link #of} and the {@code with*} methods:
 *
 * <pre>{@code Conv2dSpec s = Conv2dSpec.of(64, 96, 32, 32, 96, 3).withPad(1).withGroups(96);}</pre>
 *
 * A spec is validated by the native library when it is first used (or by {@link #validate()}),
 * so that a chain of {@code with*} calls may pass through incomplete states.
 */
public final class Conv2dSpec {
  public final int n, cIn, h, w, cOut, kh, kw, strideH, strideW, padH, padW, dilH, dilW, groups;
  private int outH = -1, outW = -1;

  private Conv2dSpec(int[] v) {
    n = v[0]; cIn = v[1]; h = v[2]; w = v[3]; cOut = v[4]; kh = v[5]; kw = v[6];
    strideH = v[7]; strideW = v[8]; padH = v[9]; padW = v[10]; dilH = v[11]; dilW = v[12];
    groups = v[13];
  }

  /** Checks the geometry; throws IllegalArgumentException naming the bad argument. */
  public Conv2dSpec validate() {
    if (outH >= 0) return this;
    NativeLib.ensureLoaded();
    try (Conv2dDesc d = rawDesc(); IntPointer oh = new IntPointer(1); IntPointer ow = new IntPointer(1)) {
      NativeLib.check(SepconvNative.sepconv_conv2d_output_shape(d, oh, ow));
      outW = ow.get();
      outH = oh.get();
    }
    return this;
  }

  public int outH() { return validate().outH; }
  public int outW() { return validate().outW; }

  /** A square kernel, stride 1, no padding, dilation 1, one group. */
  public static Conv2dSpec of(int n, int cIn, int h, int w, int cOut, int k) {
    return new Conv2dSpec(new int[] {n, cIn, h, w, cOut, k, k, 1, 1, 0, 0, 1, 1, 1});
  }

  private int[] values() {
    return new int[] {n, cIn, h, w, cOut, kh, kw, strideH, strideW, padH, padW, dilH, dilW, groups};
  }

  private Conv2dSpec with(int index, int a, int b) {
    int[] v = values();
    v[index] = a;
    if (b != Integer.MIN_VALUE) v[index + 1] = b;
    return new Conv2dSpec(v);
  }

  public Conv2dSpec withKernel(int kh, int kw) { return with(5, kh, kw); }
  public Conv2dSpec withStride(int s) { return with(7, s, s); }
  public Conv2dSpec withStride(int sh, int sw) { return with(7, sh, sw); }
  public Conv2dSpec withPad(int p) { return with(9, p, p); }
  public Conv2dSpec withPad(int ph, int pw) { return with(9, ph, pw); }
  public Conv2dSpec withDilation(int d) { return with(11, d, d); }
  public Conv2dSpec withDilation(int dh, int dw) { return with(11, dh, dw); }
  public Conv2dSpec withGroups(int g) { return with(13, g, Integer.MIN_VALUE); }
  public Conv2dSpec withBatch(int n) { return with(0, n, Integer.MIN_VALUE); }

  public boolean isDepthwise() {
    return groups == cIn;
  }

  public long inputSize() { validate(); return (long) n * cIn * h * w; }
  public long weightSize() { validate(); return (long) cOut * (cIn / groups) * kh * kw; }
  public long outputSize() { return (long) n * cOut * outH() * outW(); }

  /** Multiply-accumulates of the forward pass. */
  public long macs() { return (long) n * cOut * outH() * outW() * (cIn / groups) * kh * kw; }

  /** A native descriptor of the validated spec; the caller closes it. */
  public Conv2dDesc toNative() {
    validate();
    return rawDesc();
  }

  private Conv2dDesc rawDesc() {
    Conv2dDesc d = new Conv2dDesc();
    d.n(n).c_in(cIn).h(h).w(w).c_out(cOut).kh(kh).kw(kw).stride_h(strideH).stride_w(strideW)
        .pad_h(padH).pad_w(padW).dil_h(dilH).dil_w(dilW).groups(groups);
    return d;
  }

  /** NxCxHxW/k/stride/groups, as the benchmark reports write it. */
  @Override
  public String toString() {
    String k = kh == kw ? "" + kh : kh + "x" + kw;
    String s = strideH == strideW ? "" + strideH : strideH + "x" + strideW;
    return n + "x" + cIn + "x" + h + "x" + w + "/" + k + "/" + s + "/" + groups
        + (cOut != cIn ? "->" + cOut : "");
  }
}
