package org.sepconv.tensor;

import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.sepconv.Sepconv;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.nativeapi.SepconvException;
import org.sepconv.nativeapi.SepconvNative;

/**
 * CUDA device memory, from the native library's caching allocator: freed blocks are kept and
 * reused in stream order, so a training step that allocates what the last one did calls no
 * cudaMalloc. Blocks are 256-byte aligned. Its statistics are the library's.
 */
public final class CudaMemory {
  private CudaMemory() {}

  static final Allocator ALLOCATOR = new Allocator() {
    @Override
    public Pointer allocate(long bytes) {
      NativeLib.ensureLoaded();
      try (PointerPointer<Pointer> out = new PointerPointer<>(1)) {
        int st = SepconvNative.sepconv_cuda_malloc(bytes, out);
        if (st == SepconvNative.ENOMEM) throw new OutOfMemoryError("CUDA: cannot allocate " + bytes + " bytes of device "
            + "memory (" + NativeLib.lastError() + ")");
        if (st == SepconvNative.EUNSUPPORTED)
          throw new UnsupportedOperationException("CUDA tensors: " + Sepconv.cudaUnavailableReason());
        NativeLib.check(st);
        Pointer p = out.get(0);
        if (p == null || p.isNull()) throw new SepconvException(SepconvNative.EINTERNAL, "sepconv_cuda_malloc gave NULL");
        return p;
      }
    }

    @Override
    public void release(Pointer p, long bytes) {
      NativeLib.check(SepconvNative.sepconv_cuda_free(p));
    }
  };

  /** {allocated, reserved, peak} bytes: held by tensors now, taken from the driver, the most held so far. */
  public static long[] stats() {
    NativeLib.ensureLoaded();
    try (LongPointer a = new LongPointer(1); LongPointer r = new LongPointer(1); LongPointer p = new LongPointer(1)) {
      NativeLib.check(SepconvNative.sepconv_cuda_memory_stats(a, r, p));
      return new long[] {a.get(), r.get(), p.get()};
    }
  }

  /** Waits for the library's stream, then gives every cached free block back to the driver. */
  public static void emptyCache() {
    NativeLib.ensureLoaded();
    NativeLib.check(SepconvNative.sepconv_cuda_empty_cache());
  }

  /** Waits until every queued kernel and copy is done; reports the first asynchronous error. */
  public static void synchronize() {
    NativeLib.ensureLoaded();
    NativeLib.check(SepconvNative.sepconv_cuda_synchronize());
  }
}
