package org.sepconv.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

class HostMemoryTest {
  @Test
  void sizeClassesCoverTheRequestAndWasteUnderAnEighth() {
    assertEquals(1000, HostMemory.sizeClass(1000), "small blocks are not rounded");
    long prev = 0;
    for (long b = HostMemory.MIN_CACHED; b < (1L << 34); b = b * 17 / 16 + 12345) {
      long c = HostMemory.sizeClass(b);
      assertTrue(c >= b && c - b < b / 8 + 1, b + " -> " + c);
      assertTrue(c >= prev, "monotonic at " + b);
      prev = c;
    }
    assertEquals(1L << 20, HostMemory.sizeClass(1L << 20));
    assertEquals((1L << 20) + (128 << 10), HostMemory.sizeClass((1L << 20) + 1));
  }

  @Test
  void aFreedBlockIsReusedForTheSameClassAndEmptyCacheFreesIt() {
    HostMemory.emptyCache();
    long bytes = 3_000_000;
    Pointer a = HostMemory.allocate(bytes);
    long address = a.address();
    HostMemory.release(a, bytes);
    assertEquals(HostMemory.sizeClass(bytes), HostMemory.cachedBytes());
    Pointer b = HostMemory.allocate(bytes - 1000); // same class
    assertEquals(address, b.address());
    assertEquals(0, HostMemory.cachedBytes());
    HostMemory.release(b, bytes - 1000);
    HostMemory.emptyCache();
    assertEquals(0, HostMemory.cachedBytes());
  }

  @Test
  void reusedMemoryIsZeroedByZerosAndNotCountedAsLive() {
    long live = Tensor.liveBytes();
    Tensor dirty = Tensor.empty(Shape.of(512, 1024));
    dirty.fill(7f);
    dirty.close();
    assertEquals(live, Tensor.liveBytes());
    assertTrue(HostMemory.cachedBytes() >= 512 * 1024 * 4);
    try (Tensor z = Tensor.zeros(512, 1024)) {
      float[] v = z.toArray();
      for (int i = 0; i < v.length; i++) assertEquals(0f, v[i], "element " + i);
      assertEquals(live + 512 * 1024 * 4, Tensor.liveBytes());
    }
  }
}
