package org.sepconv.tensor;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.javacpp.Pointer;

/**
 * The caching allocator behind CPU tensors. A training step frees and reallocates the same
 * activation sizes every step; glibc serves blocks over 32 MiB (its largest mmap threshold)
 * with a fresh mmap, so without a cache every step page-faults and zeroes its largest tensors
 * again. Blocks of at least {@link #MIN_CACHED} bytes are rounded up to a size class (a
 * sixteenth of the next power of two, so under an eighth is wasted) and, when freed, kept for the
 * next request of that class, up to {@code -Dsepconv.hostCache.bytes} in all (default 2 GiB; 0
 * turns caching off). Smaller blocks go straight to malloc and free, which serve them from
 * their own free lists.
 */
public final class HostMemory {
  /** Smaller blocks are not cached. */
  public static final long MIN_CACHED = 256 << 10;
  private static long limit = Long.getLong("sepconv.hostCache.bytes", 2L << 30);
  private static final Map<Long, ArrayDeque<Pointer>> FREE = new HashMap<>();
  private static long cached;

  private HostMemory() {}

  /** The host's {@link Allocator}. */
  static final Allocator ALLOCATOR = new Allocator() {
    @Override
    public Pointer allocate(long bytes) {
      return HostMemory.allocate(bytes);
    }

    @Override
    public void release(Pointer p, long bytes) {
      HostMemory.release(p, bytes);
    }
  };

  /** The bytes actually reserved for a request of {@code bytes}. */
  static long sizeClass(long bytes) {
    if (bytes < MIN_CACHED) return bytes;
    long step = Long.highestOneBit(bytes - 1) >> 3; // the next power of two, over 16
    return (bytes + step - 1) / step * step;
  }

  /** A block of at least {@code bytes}, reused from the cache when one of its class is free. */
  static Pointer allocate(long bytes) {
    long size = sizeClass(bytes);
    if (size >= MIN_CACHED) {
      synchronized (FREE) {
        ArrayDeque<Pointer> q = FREE.get(size);
        if (q != null && !q.isEmpty()) {
          cached -= size;
          return q.pop();
        }
      }
    }
    Pointer p = Pointer.malloc(size);
    if (p == null || p.isNull()) {
      emptyCache(); // give the cache back and try once more
      p = Pointer.malloc(size);
    }
    if (p == null || p.isNull()) throw new OutOfMemoryError("cannot allocate " + size + " bytes off-heap");
    return p;
  }

  /** Returns a block from {@link #allocate} of the same {@code bytes}. */
  static void release(Pointer p, long bytes) {
    long size = sizeClass(bytes);
    if (size >= MIN_CACHED) {
      synchronized (FREE) {
        if (cached + size <= limit) {
          FREE.computeIfAbsent(size, k -> new ArrayDeque<>()).push(p);
          cached += size;
          return;
        }
      }
    }
    Pointer.free(p);
  }

  /** Caps the cache at {@code bytes} (0 turns caching off), freeing cached blocks now if needed. */
  public static void setLimit(long bytes) {
    if (bytes < 0) throw new IllegalArgumentException("bytes must be >= 0, got " + bytes);
    synchronized (FREE) {
      limit = bytes;
      if (cached > limit) emptyCache();
    }
  }

  /** Frees every cached block (live tensors keep theirs). */
  public static void emptyCache() {
    synchronized (FREE) {
      for (ArrayDeque<Pointer> q : FREE.values()) for (Pointer p : q) Pointer.free(p);
      FREE.clear();
      cached = 0;
    }
  }

  /** Bytes held in the cache for reuse (not counted by {@link Tensor#liveBytes()}). */
  public static long cachedBytes() {
    synchronized (FREE) {
      return cached;
    }
  }
}
