package org.sepconv.nativeapi;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * The raw JavaCPP binding of {@code native/include/sepconv/sepconv.h}, one method per C
 * function. Every method returns the C status code; callers go through {@link NativeLib},
 * which loads the libraries in order and turns a bad status into an exception. Nothing here
 * checks buffer lengths: use {@link org.sepconv.ops.Ops} unless you check them yourself.
 */
@Platform(include = "sepconv/sepconv.h", link = "sepconv")
public final class SepconvNative {
  static {
    NativeLib.loadDependencies();
    Loader.load();
  }

  private SepconvNative() {}

  public static final int OK = 0, EINVAL = 1, EUNSUPPORTED = 2, ENOMEM = 3, EINTERNAL = 4,
      EDEVICE = 5;
  public static final int MEMCPY_HOST_TO_DEVICE = 1, MEMCPY_DEVICE_TO_HOST = 2,
      MEMCPY_DEVICE_TO_DEVICE = 3;
  public static final int PROBE_FMA_PEAK = 0, PROBE_COPY_BANDWIDTH = 1;

  /** Mirrors {@code sepconv_conv2d}. */
  @Name("sepconv_conv2d")
  public static final class Conv2dDesc extends Pointer {
    static {
      Loader.load();
    }

    public Conv2dDesc() {
      super((Pointer) null);
      allocate();
    }

    private native void allocate();

    public native int n(); public native Conv2dDesc n(int v);
    public native int c_in(); public native Conv2dDesc c_in(int v);
    public native int h(); public native Conv2dDesc h(int v);
    public native int w(); public native Conv2dDesc w(int v);
    public native int c_out(); public native Conv2dDesc c_out(int v);
    public native int kh(); public native Conv2dDesc kh(int v);
    public native int kw(); public native Conv2dDesc kw(int v);
    public native int stride_h(); public native Conv2dDesc stride_h(int v);
    public native int stride_w(); public native Conv2dDesc stride_w(int v);
    public native int pad_h(); public native Conv2dDesc pad_h(int v);
    public native int pad_w(); public native Conv2dDesc pad_w(int v);
    public native int dil_h(); public native Conv2dDesc dil_h(int v);
    public native int dil_w(); public native Conv2dDesc dil_w(int v);
    public native int groups(); public native Conv2dDesc groups(int v);
  }

  /** Mirrors {@code sepconv_dwpw}. */
  @Name("sepconv_dwpw")
  public static final class DwpwDesc extends Pointer {
    static {
      Loader.load();
    }

    public DwpwDesc() {
      super((Pointer) null);
      allocate();
    }

    private native void allocate();

    public native int n(); public native DwpwDesc n(int v);
    public native int c_in(); public native DwpwDesc c_in(int v);
    public native int h(); public native DwpwDesc h(int v);
    public native int w(); public native DwpwDesc w(int v);
    public native int c_expand(); public native DwpwDesc c_expand(int v);
    public native int k(); public native DwpwDesc k(int v);
    public native int stride(); public native DwpwDesc stride(int v);
    public native int pad(); public native DwpwDesc pad(int v);
    public native int mult(); public native DwpwDesc mult(int v);
    public native int c_out(); public native DwpwDesc c_out(int v);
    public native int act_expand(); public native DwpwDesc act_expand(int v);
    public native int act_dw(); public native DwpwDesc act_dw(int v);
    public native int act_pw(); public native DwpwDesc act_pw(int v);
  }

  /** Mirrors {@code sepconv_pool2d}. */
  @Name("sepconv_pool2d")
  public static final class Pool2dDesc extends Pointer {
    static {
      Loader.load();
    }

    public Pool2dDesc() {
      super((Pointer) null);
      allocate();
    }

    private native void allocate();

    public native int n(); public native Pool2dDesc n(int v);
    public native int c(); public native Pool2dDesc c(int v);
    public native int h(); public native Pool2dDesc h(int v);
    public native int w(); public native Pool2dDesc w(int v);
    public native int kh(); public native Pool2dDesc kh(int v);
    public native int kw(); public native Pool2dDesc kw(int v);
    public native int stride_h(); public native Pool2dDesc stride_h(int v);
    public native int stride_w(); public native Pool2dDesc stride_w(int v);
    public native int pad_h(); public native Pool2dDesc pad_h(int v);
    public native int pad_w(); public native Pool2dDesc pad_w(int v);
    public native int count_include_pad(); public native Pool2dDesc count_include_pad(int v);
  }

  // ---- runtime
  public static native @Cast("const char*") BytePointer sepconv_version();
  public static native @Cast("const char*") BytePointer sepconv_last_error();
  public static native int sepconv_set_num_threads(int n);
  public static native int sepconv_get_num_threads();
  public static native int sepconv_cpu_isa_max();
  public static native int sepconv_cpu_isa();
  public static native int sepconv_set_cpu_isa(int isa);
  public static native int sepconv_blas_attach(@Cast("const char*") BytePointer library);
  public static native int sepconv_blas_attached();
  public static native @Cast("int64_t") long sepconv_workspace_bytes();
  public static native int sepconv_cpu_probe(int what, int threads, double seconds,
      @Cast("double*") DoublePointer result);
  public static native int sepconv_cuda_available();

  // ---- CUDA runtime and memory (device pointers; see sepconv.h)
  public static native int sepconv_cuda_device_count(IntPointer count);
  public static native int sepconv_cuda_device_name(int device, @Cast("char*") BytePointer name, int capacity);
  public static native int sepconv_cuda_device_capability(int device, IntPointer major, IntPointer minor);
  public static native int sepconv_cuda_malloc(@Cast("int64_t") long bytes, @Cast("void**") PointerPointer ptr);
  public static native int sepconv_cuda_free(Pointer ptr);
  public static native int sepconv_cuda_empty_cache();
  public static native int sepconv_cuda_memory_stats(@Cast("int64_t*") LongPointer allocated,
      @Cast("int64_t*") LongPointer reserved, @Cast("int64_t*") LongPointer peak);
  public static native int sepconv_cuda_memcpy(Pointer dst, @Const Pointer src, @Cast("int64_t") long bytes, int kind);
  public static native int sepconv_cuda_memset(Pointer ptr, int value, @Cast("int64_t") long bytes);
  public static native int sepconv_cuda_synchronize();
  public static native int sepconv_cuda_stream(@Cast("void**") PointerPointer stream);
  public static native int sepconv_cuda_set_tf32(int enabled);
  public static native int sepconv_cuda_tf32();

  // ---- convolution
  public static native int sepconv_conv2d_output_shape(@Const Conv2dDesc d, IntPointer outH, IntPointer outW);
  public static native int sepconv_conv2d_forward(int exec, @Const Conv2dDesc d, @Const FloatPointer x,
      @Const FloatPointer w, @Const FloatPointer bias, FloatPointer y);
  public static native int sepconv_conv2d_forward_act(int exec, @Const Conv2dDesc d, @Const FloatPointer x,
      @Const FloatPointer w, @Const FloatPointer bias, int act, FloatPointer y);
  public static native int sepconv_conv2d_backward(int exec, @Const Conv2dDesc d, int mask,
      @Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer dy, FloatPointer dx,
      FloatPointer dw, FloatPointer dbias);

  // ---- the fused depthwise-separable block
  public static native int sepconv_dwpw_output_shape(@Const DwpwDesc d, IntPointer outH, IntPointer outW);
  public static native int sepconv_dwpw_forward(int exec, @Const DwpwDesc d, @Const FloatPointer x,
      @Const FloatPointer wExpand, @Const FloatPointer bExpand, @Const FloatPointer wDw, @Const FloatPointer bDw,
      @Const FloatPointer wPw, @Const FloatPointer bPw, @Const FloatPointer residual, FloatPointer y);

  // ---- batch norm
  public static native int sepconv_batchnorm_forward_training(int exec, int n, int c, int hw,
      @Const FloatPointer x, @Const FloatPointer gamma, @Const FloatPointer beta, float eps,
      float momentum, FloatPointer runningMean, FloatPointer runningVar, FloatPointer saveMean,
      FloatPointer saveInvstd, int act, FloatPointer y);
  public static native int sepconv_batchnorm_forward_inference(int exec, int n, int c, int hw,
      @Const FloatPointer x, @Const FloatPointer gamma, @Const FloatPointer beta,
      @Const FloatPointer runningMean, @Const FloatPointer runningVar, float eps, int act,
      FloatPointer y);
  public static native int sepconv_batchnorm_backward(int exec, int n, int c, int hw, int mask,
      @Const FloatPointer x, @Const FloatPointer y, @Const FloatPointer dy,
      @Const FloatPointer gamma, @Const FloatPointer saveMean, @Const FloatPointer saveInvstd,
      int act, FloatPointer dx, FloatPointer dgamma, FloatPointer dbeta);
  public static native int sepconv_batchnorm_fold_exec(int exec, int c, @Cast("int64_t") long perChannel,
      FloatPointer w, FloatPointer bias, @Const FloatPointer gamma, @Const FloatPointer beta,
      @Const FloatPointer mean, @Const FloatPointer var, float eps);
  public static native int sepconv_batchnorm_fold(int c, @Cast("int64_t") long perChannel,
      FloatPointer w, FloatPointer bias, @Const FloatPointer gamma, @Const FloatPointer beta,
      @Const FloatPointer mean, @Const FloatPointer var, float eps);

  // ---- elementwise
  public static native int sepconv_activation_forward(int exec, int act, @Cast("int64_t") long count,
      @Const FloatPointer x, FloatPointer y);
  public static native int sepconv_activation_backward(int exec, int act, @Cast("int64_t") long count,
      @Const FloatPointer y, @Const FloatPointer dy, FloatPointer dx);
  public static native int sepconv_add(int exec, @Cast("int64_t") long count, @Const FloatPointer a,
      @Const FloatPointer b, FloatPointer y);
  public static native int sepconv_dropout_forward(int exec, @Cast("int64_t") long count, float p,
      @Cast("uint64_t") long seed, @Const FloatPointer x, FloatPointer mask, FloatPointer y);
  public static native int sepconv_dropout_backward(int exec, @Cast("int64_t") long count,
      @Const FloatPointer mask, @Const FloatPointer dy, FloatPointer dx);
  /** {@code result} is host memory on every device (on CUDA the call synchronises). */
  public static native int sepconv_sum_squares(int exec, @Cast("int64_t") long count, @Const FloatPointer x,
      @Cast("double*") DoublePointer result);
  public static native int sepconv_scale(int exec, @Cast("int64_t") long count, float alpha,
      @Const FloatPointer x, FloatPointer y);

  // ---- pooling
  public static native int sepconv_pool2d_output_shape(@Const Pool2dDesc p, IntPointer outH, IntPointer outW);
  public static native int sepconv_avgpool2d_forward(int exec, @Const Pool2dDesc p, @Const FloatPointer x, FloatPointer y);
  public static native int sepconv_avgpool2d_backward(int exec, @Const Pool2dDesc p, @Const FloatPointer dy, FloatPointer dx);
  public static native int sepconv_maxpool2d_forward(int exec, @Const Pool2dDesc p, @Const FloatPointer x,
      FloatPointer y, @Cast("int32_t*") IntPointer argmax);
  public static native int sepconv_maxpool2d_backward(int exec, @Const Pool2dDesc p, @Const FloatPointer dy,
      @Cast("const int32_t*") IntPointer argmax, FloatPointer dx);
  public static native int sepconv_global_avgpool_forward(int exec, int n, int c, int hw,
      @Const FloatPointer x, FloatPointer y);
  public static native int sepconv_global_avgpool_backward(int exec, int n, int c, int hw,
      @Const FloatPointer dy, FloatPointer dx);

  // ---- linear
  public static native int sepconv_linear_forward(int exec, int n, int inFeatures, int outFeatures,
      @Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer bias, FloatPointer y);
  public static native int sepconv_linear_backward(int exec, int n, int inFeatures, int outFeatures,
      int mask, @Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer dy,
      FloatPointer dx, FloatPointer dw, FloatPointer dbias);

  // ---- softmax cross-entropy
  public static native int sepconv_softmax_xent_forward(int exec, int n, int classes,
      @Const FloatPointer logits, @Cast("const int32_t*") IntPointer labels, float labelSmoothing,
      FloatPointer probs, FloatPointer loss);
  public static native int sepconv_softmax_xent_backward(int exec, int n, int classes,
      @Const FloatPointer probs, @Cast("const int32_t*") IntPointer labels, float labelSmoothing,
      float dloss, FloatPointer dlogits);
  public static native int sepconv_argmax_rows(int exec, int n, int classes, @Const FloatPointer x,
      @Cast("int32_t*") IntPointer idx);

  // ---- optimizer updates
  public static native int sepconv_sgd_update(int exec, @Cast("int64_t") long count, FloatPointer p,
      @Const FloatPointer g, FloatPointer momentumBuffer, double lr, double momentum, double dampening,
      double weightDecay, int nesterov, @Cast("int64_t") long step);
  public static native int sepconv_adam_update(int exec, @Cast("int64_t") long count, FloatPointer p,
      @Const FloatPointer g, FloatPointer expAvg, FloatPointer expAvgSq, double lr, double beta1,
      double beta2, double eps, double weightDecay, int decoupled, @Cast("int64_t") long step);
}
