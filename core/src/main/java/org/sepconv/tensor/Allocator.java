package org.sepconv.tensor;

import org.bytedeco.javacpp.Pointer;

/**
 * Where a tensor's memory comes from: one allocator per {@link Device}. The host's is
 * {@link HostMemory} (a caching allocator over malloc), CUDA's is the native library's caching
 * device allocator ({@code sepconv_cuda_malloc}/{@code sepconv_cuda_free}). Memory is returned
 * by {@link #release} when its tensor is closed, never by the garbage collector.
 */
interface Allocator {
  /** At least {@code bytes} (>= 1) of memory on this allocator's device; never null. */
  Pointer allocate(long bytes);

  /** Returns memory from {@link #allocate} of the same {@code bytes}. */
  void release(Pointer p, long bytes);

  static Allocator of(Device d) {
    return d == Device.CPU ? HostMemory.ALLOCATOR : CudaMemory.ALLOCATOR;
  }
}
