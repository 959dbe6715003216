package org.sepconv.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.sepconv.Sepconv;
import org.sepconv.TestSupport;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.ops.KernelCases.Arg;
import org.sepconv.ops.KernelCases.Case;
import org.sepconv.ops.KernelCases.Role;
import org.sepconv.tensor.DType;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Tensor;

/**
 * Every case of {@link KernelCases} on every target: the CPU kernels under each instruction set
 * this CPU has, the im2col baseline (convolutions), and CUDA. The truth is the reference kernel
 * (double accumulation) on the CPU. A CUDA target without a usable GPU is skipped with the
 * reason, so the same suite runs the CUDA cases on a GPU host.
 */
class KernelTableTest {
  /** A place a case runs: a device, an algorithm and, on the CPU, an instruction set. */
  record Target(String name, Device device, Exec.Algo algo, Sepconv.Isa isa) {}

  /** The CUDA tolerance: another summation order than the CPU's, still fp32. */
  static final double CUDA_TOL = 2e-5;

  static List<Target> targets(Case c) {
    List<Target> out = new ArrayList<>();
    for (Sepconv.Isa isa : TestSupport.isas()) {
      out.add(new Target("cpu " + isa, Device.CPU, Exec.Algo.AUTO, isa));
      if (c.im2col) out.add(new Target("cpu im2col " + isa, Device.CPU, Exec.Algo.IM2COL, isa));
    }
    out.add(new Target("cuda", Device.CUDA, Exec.Algo.AUTO, null));
    return out;
  }

  /** Runs {@code c} on {@code t} and returns every written output, as float[] or int[], by name. */
  static Map<String, Object> run(Case c, Target t) {
    KernelCases.Tensors ts = new KernelCases.Tensors();
    try {
      for (Arg a : c.args) {
        Tensor x = Tensor.empty(a.shape(), a.dtype(), t.device());
        ts.m.put(a.name(), x);
        if (a.role() == Role.OUT) {
          if (a.dtype() == DType.F32) x.fill(Float.NaN);
          else x.copyFrom(new int[(int) x.size()]);
        } else if (a.dtype() == DType.F32) {
          x.copyFrom(a.f());
        } else {
          x.copyFrom(a.i());
        }
      }
      Runnable body = () -> {
        try (Exec.Scope s = Exec.use(t.algo())) {
          c.run.accept(ts);
        }
      };
      if (t.isa() != null) TestSupport.withIsa(t.isa(), body);
      else body.run();
      Map<String, Object> out = new LinkedHashMap<>();
      for (Arg a : c.args)
        if (a.role() != Role.IN) out.put(a.name(), a.dtype() == DType.F32 ? ts.t(a.name()).toArray() : ts.t(a.name()).toIntArray());
      return out;
    } finally {
      ts.m.values().forEach(Tensor::close);
    }
  }

  @TestFactory
  Stream<DynamicNode> everyCaseOnEveryTarget() {
    String noCuda = Sepconv.cudaUnavailableReason();
    return KernelCases.all().stream().map(c -> {
      Map<String, Object>[] ref = new Map[1];
      List<DynamicNode> tests = new ArrayList<>();
      for (Target t : targets(c))
        tests.add(DynamicTest.dynamicTest(t.name(), () -> {
          if (t.device() == Device.CUDA) Assumptions.assumeTrue(noCuda == null, "no CUDA: " + noCuda);
          if (ref[0] == null) ref[0] = run(c, new Target("reference", Device.CPU, Exec.Algo.REFERENCE, null));
          Map<String, Object> got = run(c, t);
          double tol = t.device() == Device.CUDA && c.tol > 0 ? CUDA_TOL : c.tol;
          for (Map.Entry<String, Object> e : ref[0].entrySet())
            compare(c + " on " + t.name() + ": " + e.getKey(), e.getValue(), got.get(e.getKey()), tol,
                ref[0].get(c.scaleOf.getOrDefault(e.getKey(), e.getKey())));
        }));
      return DynamicContainer.dynamicContainer(c.name, tests);
    });
  }

  /** The dense, grouped and pointwise paths again, on the built-in GEMM instead of the attached BLAS. */
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
          Conv2dSpec.of(2, 3, 31, 29, 16, 7).withStride(2).withPad(3)}) {
        Case c = KernelCases.conv(s, true);
        Map<String, Object> ref = run(c, new Target("reference", Device.CPU, Exec.Algo.REFERENCE, null));
        for (Target t : targets(c)) {
          if (t.device() != Device.CPU) continue;
          Map<String, Object> got = run(c, t);
          ref.forEach((k, v) -> compare(c + " on " + t.name() + " without BLAS: " + k, v, got.get(k), c.tol,
              ref.get(c.scaleOf.getOrDefault(k, k))));
        }
      }
    } finally {
      if (blas != null) Sepconv.attachBlas(blas);
    }
  }

  static void compare(String what, Object want, Object got, double tol) {
    compare(what, want, got, tol, want);
  }

  /** As {@link #compare(String, Object, Object, double)}, the error relative to the largest value of {@code scale}. */
  static void compare(String what, Object want, Object got, double tol, Object scale) {
    if (want instanceof int[] w) {
      int[] g = (int[]) got;
      for (int i = 0; i < w.length; i++) assertEquals(w[i], g[i], what + "[" + i + "]");
      return;
    }
    float[] w = (float[]) want, g = (float[]) got;
    if (tol == 0) {
      for (int i = 0; i < w.length; i++)
        assertEquals(Float.floatToRawIntBits(w[i]), Float.floatToRawIntBits(g[i]), what + "[" + i + "]: " + w[i] + " vs " + g[i]);
      return;
    }
    double err = 0, max = 0;
    for (int i = 0; i < w.length; i++) {
      assertTrue(Float.isNaN(w[i]) || !Float.isNaN(g[i]), what + "[" + i + "] is NaN (not written?)");
      err = Math.max(err, Math.abs((double) g[i] - w[i]));
    }
    for (float v : (float[]) scale) max = Math.max(max, Math.abs(v));
    double rel = max == 0 ? err : err / max;
    assertTrue(rel < tol, what + ": relative error " + rel + " >= " + tol);
  }
}
