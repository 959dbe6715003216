package org.sepconv;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
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

  /**
   * The multiply-add peak of this CPU in GFLOP/s (2 flops per lane per multiply-add), at the
   * widest vector of the active {@link #isa()}, on {@code threads} threads of the kernels'
   * pool ({@code <= 0}: all of them), the best of repeated measurements over about 0.3 s: the
   * compute ceiling of a roofline floor.
   */
  public static double cpuPeakGflops(int threads) {
    return cpuPeakGflops(threads, 0.3);
  }

  /** As {@link #cpuPeakGflops(int)}, measured for about {@code seconds}, in (0, 60]. */
  public static double cpuPeakGflops(int threads, double seconds) {
    return probe(SepconvNative.PROBE_FMA_PEAK, threads, seconds);
  }

  /**
   * The copy bandwidth of this machine in GB/s (bytes read plus bytes written), between two
   * buffers of max(256 MiB, the last-level cache) each, on all the pool's threads, the best
   * pass of about 1 s: the memory ceiling of a roofline floor.
   */
  public static double cpuBandwidthGBs() {
    return cpuBandwidthGBs(0, 1.0);
  }

  /** As {@link #cpuBandwidthGBs()}, on {@code threads} threads ({@code <= 0}: all), for about {@code seconds}. */
  public static double cpuBandwidthGBs(int threads, double seconds) {
    return probe(SepconvNative.PROBE_COPY_BANDWIDTH, threads, seconds);
  }

  private static double probe(int what, int threads, double seconds) {
    try (DoublePointer result = new DoublePointer(1)) {
      NativeLib.check(SepconvNative.sepconv_cpu_probe(what, threads, seconds, result));
      return result.get();
    }
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
