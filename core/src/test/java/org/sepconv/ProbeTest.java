package org.sepconv;

import static org.junit.jupiter.api.Assertions.*;

import org.bytedeco.javacpp.DoublePointer;
import org.junit.jupiter.api.Test;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.nativeapi.SepconvNative;

/** The machine probes give plausible numbers and refuse bad arguments by name (no timing assertions beyond that). */
class ProbeTest {
  @Test
  void peakAndBandwidthArePlausible() {
    double one = Sepconv.cpuPeakGflops(1, 0.1), all = Sepconv.cpuPeakGflops(0, 0.1);
    for (double p : new double[] {one, all}) assertTrue(Double.isFinite(p) && p >= 1 && p <= 10000, "peak " + p + " GFLOP/s");
    double bw = Sepconv.cpuBandwidthGBs(0, 0.2);
    assertTrue(Double.isFinite(bw) && bw >= 0.1 && bw <= 10000, "bandwidth " + bw + " GB/s");
    assertEquals(0, Sepconv.workspaceBytes(), "the copy buffers are freed");
  }

  @Test
  void badArgumentsAreRefusedByName() {
    int pool = Sepconv.numThreads();
    assertMessage("threads", () -> Sepconv.cpuPeakGflops(pool + 1));
    assertMessage("threads", () -> Sepconv.cpuBandwidthGBs(pool + 1, 0.1));
    for (double s : new double[] {0, -1, 61, Double.NaN, Double.POSITIVE_INFINITY})
      assertMessage("seconds", () -> Sepconv.cpuPeakGflops(1, s));
    try (DoublePointer r = new DoublePointer(1)) {
      assertMessage("what", () -> NativeLib.check(SepconvNative.sepconv_cpu_probe(2, 1, 0.1, r)));
      assertMessage("what", () -> NativeLib.check(SepconvNative.sepconv_cpu_probe(-1, 1, 0.1, r)));
    }
    assertMessage("result", () -> NativeLib.check(SepconvNative.sepconv_cpu_probe(0, 1, 0.1, null)));
  }

  private static void assertMessage(String argument, org.junit.jupiter.api.function.Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().startsWith(argument + " "), e.getMessage());
  }
}
