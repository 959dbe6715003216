package org.sepconv;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.ops.ConvTest;
import org.sepconv.ops.Conv2dSpec;
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
    assertNotNull(Sepconv.cudaUnavailableReason(), "this build has no CUDA kernels, so CUDA must report why not");
    assertThrows(UnsupportedOperationException.class, () -> Sepconv.attachBlas("libdoes-not-exist.so"));
  }

  /** The dense, grouped and pointwise paths again, on the built-in GEMM instead of OpenBLAS. */
  @Test
  void builtinGemmMatchesReference() {
    String blas = NativeLib.blasLibrary();
    Sepconv.attachBlas(null);
    try {
      assertFalse(Sepconv.blasAttached());
      for (Conv2dSpec s : new Conv2dSpec[] {
          Conv2dSpec.of(3, 17, 13, 17, 33, 3).withPad(1),
          Conv2dSpec.of(2, 96, 7, 7, 40, 1),
          Conv2dSpec.of(2, 96, 9, 9, 48, 1).withStride(2),
          Conv2dSpec.of(1, 12, 13, 11, 18, 5).withStride(2).withPad(2).withGroups(3),
          Conv2dSpec.of(2, 3, 31, 29, 16, 7).withStride(2).withPad(3)})
        ConvTest.check(s, true);
    } finally {
      if (blas != null) Sepconv.attachBlas(blas);
    }
  }
}
