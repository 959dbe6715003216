package org.sepconv;

import org.bytedeco.javacpp.BytePointer;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.nativeapi.SepconvNative;

/** Process-wide settings and facts of the native engine. */
public final class Sepconv {
  private Sepconv() {}

  static {
    NativeLib.ensureLoaded();
  }

  /** CPU instruction sets, in the order of SEPCONV_ISA_*. */
  public enum Isa {
    GENERIC,
    AVX2,
    AVX512
  }

  public static String version() {
    return SepconvNative.sepconv_version().getString();
  }

  /** Threads used by CPU kernels (and by the attached BLAS). Results do not depend on it. */
  public static void setNumThreads(int n) {
    NativeLib.check(SepconvNative.sepconv_set_num_threads(n));
  }

  public static int numThreads() {
    return SepconvNative.sepconv_get_num_threads();
  }

  /** The best instruction set this CPU supports. */
  public static Isa maxIsa() {
    return Isa.values()[SepconvNative.sepconv_cpu_isa_max()];
  }

  /** The instruction set the kernels use now. */
  public static Isa isa() {
    return Isa.values()[SepconvNative.sepconv_cpu_isa()];
  }

  /** Forces a lower instruction set (to test or compare the fallbacks); null restores the best. */
  public static void setIsa(Isa isa) {
    NativeLib.check(SepconvNative.sepconv_set_cpu_isa(isa == null ? -1 : isa.ordinal()));
  }

  /** Uses cblas_sgemm from the given library (a path or soname); null returns to the built-in GEMM. */
  public static void attachBlas(String library) {
    NativeLib.check(SepconvNative.sepconv_blas_attach(library == null ? null : new BytePointer(library)));
  }

  public static boolean blasAttached() {
    return SepconvNative.sepconv_blas_attached() != 0;
  }

  /** Scratch bytes the native library holds right now; 0 between calls. */
  public static long workspaceBytes() {
    return SepconvNative.sepconv_workspace_bytes();
  }

  /** The name of CUDA device 0 ("NVIDIA H200"), or null where CUDA cannot be used. */
  public static String cudaDeviceName() {
    if (cudaUnavailableReason() != null) return null;
    try (BytePointer name = new BytePointer(256)) {
      return SepconvNative.sepconv_cuda_device_name(0, name, 256) == SepconvNative.OK ? name.getString() : null;
    }
  }

  /** Null if CUDA can be used, otherwise the plain reason why not. */
  public static String cudaUnavailableReason() {
    int st = SepconvNative.sepconv_cuda_available();
    return st == SepconvNative.OK ? null : NativeLib.lastError();
  }
}
