package org.sepconv;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.sepconv.tensor.DType;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

class TensorAndRuntimeTest {
  @Test
  void tensorsAreClosedDeterministically() {
    long before = Tensor.liveBytes();
    Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
    assertEquals(Shape.of(2, 3), t.shape());
    assertEquals(before + 24, Tensor.liveBytes());
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, t.toArray());
    t.close();
    t.close(); // idempotent
    assertEquals(before, Tensor.liveBytes());
    assertTrue(t.isClosed());
    assertThrows(IllegalStateException.class, t::buffer);
    assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[5], 2, 3));
    assertThrows(IllegalArgumentException.class, () -> Shape.of(2, -1));
    try (Tensor z = Tensor.zeros(3, 3); Tensor r = Tensor.rand(new Random(1), 100)) {
      for (float v : z.toArray()) assertEquals(0f, v);
      float sum = 0;
      for (float v : r.toArray()) sum += Math.abs(v);
      assertTrue(sum > 0);
    }
  }

  @Test
  void runtimeSettingsAreValidated() {
    assertThrows(IllegalArgumentException.class, () -> Sepconv.setNumThreads(0));
    assertFalse(Sepconv.version().isEmpty());
    assertEquals(Sepconv.maxIsa(), Sepconv.isa());
    assertThrows(UnsupportedOperationException.class, () -> Sepconv.attachBlas("libdoes-not-exist.so"));
  }

  /** A tensor knows its device; copies between devices are explicit, and a missing GPU says why. */
  @Test
  void tensorsLiveOnADevice() {
    try (Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, Shape.of(2, 2), Device.CPU); Tensor b = a.to(Device.CPU);
        Tensor labels = Tensor.ofInts(new int[] {3, 1, 4}, Shape.of(3), Device.CPU);
        Tensor ones = Tensor.full(Shape.of(5), 1f, Device.CPU)) {
      assertEquals(Device.CPU, b.device());
      assertNotSame(a, b);
      assertArrayEquals(a.toArray(), b.toArray());
      b.copyFrom(new float[] {5, 6, 7, 8});
      assertArrayEquals(new float[] {1, 2, 3, 4}, a.toArray(), "to() copies");
      a.copyFrom(b);
      assertEquals(8f, a.get(3));
      assertArrayEquals(new int[] {3, 1, 4}, labels.toIntArray());
      assertEquals(DType.I32, labels.dtype());
      assertThrows(IllegalStateException.class, labels::toArray, "an I32 tensor has no float view");
      assertThrows(IllegalArgumentException.class, () -> a.copyFrom(labels), "dtypes must match");
      assertEquals(5f, sum(ones.toArray()));
      assertTrue(Tensor.liveBytes(Device.CPU) >= 4 * (4 + 4 + 3 + 5));
    }
    String why = Sepconv.cudaUnavailableReason();
    if (why == null) { // a GPU: its tensors refuse host views, and count their bytes on their own device
      long before = Tensor.liveBytes(Device.CUDA);
      try (Tensor d = Tensor.of(new float[] {1, 2, 3}, Shape.of(3), Device.CUDA)) {
        assertEquals(before + 12, Tensor.liveBytes(Device.CUDA));
        IllegalStateException e = assertThrows(IllegalStateException.class, d::buffer);
        assertTrue(e.getMessage().contains("CUDA memory") && e.getMessage().contains("to(Device.CPU)"), e.getMessage());
        assertArrayEquals(new float[] {1, 2, 3}, d.toArray());
        assertEquals(2f, d.get(1));
      }
    } else { // no GPU: asking for CUDA memory says why, in one line
      UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
          () -> Tensor.zeros(Shape.of(4), Device.CUDA));
      assertTrue(e.getMessage().contains(why), e.getMessage());
    }
  }

  private static float sum(float[] v) {
    float s = 0;
    for (float x : v) s += x;
    return s;
  }
}
