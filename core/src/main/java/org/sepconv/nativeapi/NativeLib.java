package org.sepconv.nativeapi;

import java.io.File;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;

/**
 * Loads the native libraries in order (OpenBLAS, then libsepconv and its JNI glue, all from
 * the jar) and turns C status codes into Java exceptions.
 *
 * <p>The system property {@code sepconv.blas} picks the GEMM behind the convolutions and
 * linear layers: {@code openblas} (default: the OpenBLAS shipped in the bytedeco jar),
 * {@code none} (the built-in AVX-512/AVX2 GEMM), or a path to any library that exports
 * {@code cblas_sgemm}.
 */
public final class NativeLib {
  private static String blasLibrary;
  private static String blasProblem;
  private static volatile boolean ready;

  private NativeLib() {}

  /** Called from SepconvNative's static initialiser, before libsepconv is loaded. */
  static synchronized void loadDependencies() {
    String mode = System.getProperty("sepconv.blas", "openblas");
    if (mode.equals("none")) return;
    if (!mode.equals("openblas")) {
      blasLibrary = mode;
      return;
    }
    try {
      // the BLAS-only binding: it extracts and loads libopenblas.so.0 (sgemm is all we call) without the
      // 24 MB JNI library of the LAPACK binding, which the executable jar leaves out
      String jni = Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class);
      File lib = new File(new File(jni).getParentFile(), "libopenblas.so.0");
      blasLibrary = lib.isFile() ? lib.getPath() : "libopenblas.so.0";
    } catch (Throwable t) {
      blasProblem = "OpenBLAS could not be loaded (" + t + "); using the built-in GEMM";
    }
  }

  /** Loads everything once; safe to call from any thread, any number of times. */
  public static void ensureLoaded() {
    if (ready) return;
    synchronized (NativeLib.class) {
      if (ready) return;
      Loader.load(SepconvNative.class);
      if (blasLibrary != null) {
        int st = SepconvNative.sepconv_blas_attach(new BytePointer(blasLibrary));
        if (st != SepconvNative.OK) blasProblem = lastError();
      }
      ready = true;
    }
  }

  /** The BLAS library attached at load time (a path or soname), or null. */
  public static String blasLibrary() {
    ensureLoaded();
    return blasProblem == null ? blasLibrary : null;
  }

  /** Why no BLAS is attached, or null if none was asked for or it attached fine. */
  public static String blasProblem() {
    ensureLoaded();
    return blasProblem;
  }

  public static String lastError() {
    BytePointer p = SepconvNative.sepconv_last_error();
    return p == null ? "" : p.getString();
  }

  /** Throws the exception matching a non-OK status, carrying the native error text. */
  public static void check(int status) {
    if (status == SepconvNative.OK) return;
    String msg = lastError();
    switch (status) {
      case SepconvNative.EINVAL:
        throw new IllegalArgumentException(msg);
      case SepconvNative.EUNSUPPORTED:
        throw new UnsupportedOperationException(msg);
      default:
        throw new SepconvException(status, msg);
    }
  }
}
