package org.sepconv.ops;

import org.bytedeco.javacpp.IntPointer;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.nativeapi.SepconvNative;
import org.sepconv.nativeapi.SepconvNative.Pool2dDesc;

/** The geometry of average or max pooling over NCHW data (floor mode), validated on construction. */
public final class Pool2dSpec {
  public final int n, c, h, w, kh, kw, strideH, strideW, padH, padW;
  public final boolean countIncludePad;
  private final int outH, outW;

  public Pool2dSpec(int n, int c, int h, int w, int k, int stride, int pad, boolean countIncludePad) {
    this(n, c, h, w, k, k, stride, stride, pad, pad, countIncludePad);
  }

  public Pool2dSpec(int n, int c, int h, int w, int kh, int kw, int strideH, int strideW,
      int padH, int padW, boolean countIncludePad) {
    this.n = n; this.c = c; this.h = h; this.w = w; this.kh = kh; this.kw = kw;
    this.strideH = strideH; this.strideW = strideW; this.padH = padH; this.padW = padW;
    this.countIncludePad = countIncludePad;
    NativeLib.ensureLoaded();
    try (Pool2dDesc d = toNative(); IntPointer oh = new IntPointer(1); IntPointer ow = new IntPointer(1)) {
      NativeLib.check(SepconvNative.sepconv_pool2d_output_shape(d, oh, ow));
      outH = oh.get();
      outW = ow.get();
    }
  }

  public int outH() { return outH; }
  public int outW() { return outW; }

  public long inputSize() { return (long) n * c * h * w; }
  public long outputSize() { return (long) n * c * outH * outW; }

  public Pool2dDesc toNative() {
    Pool2dDesc d = new Pool2dDesc();
    d.n(n).c(c).h(h).w(w).kh(kh).kw(kw).stride_h(strideH).stride_w(strideW).pad_h(padH)
        .pad_w(padW).count_include_pad(countIncludePad ? 1 : 0);
    return d;
  }

  @Override
  public String toString() {
    return n + "x" + c + "x" + h + "x" + w + "/" + kh + "/" + strideH + "/pad" + padH;
  }
}
