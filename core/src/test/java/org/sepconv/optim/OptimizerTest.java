package org.sepconv.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sepconv.autograd.Variable;
import org.sepconv.io.SafeTensors;
import org.sepconv.tensor.Tensor;

/**
 * Each optimizer against torch's update formulas, re-implemented here in double, over several
 * steps with a different gradient each step.
 */
class OptimizerTest {
  private final List<AutoCloseable> owned = new ArrayList<>();

  @AfterEach
  void free() throws Exception {
    for (AutoCloseable c : owned) c.close();
  }

  private static final float[] P0 = {0.5f, -1.25f, 2f, 0.1f, -0.3f, 3f};

  /** The gradient at step k (1-based) for element i: varied signs and sizes. */
  private static double grad(int k, int i) {
    return Math.sin(1.3 * k + 0.7 * i) * (1 + 0.5 * i) + (k == 2 && i == 3 ? -4 : 0);
  }

  private Variable param(float[] init) {
    Variable v = Variable.leaf(Tensor.of(init.clone(), init.length), true);
    owned.add(v);
    return v;
  }

  private static void setGrad(Variable v, int k) {
    v.zeroGrad();
    FloatBuffer g = v.gradBuffer().buffer();
    for (int i = 0; i < g.capacity(); i++) g.put(i, (float) grad(k, i));
  }

  /** Runs {@code steps} steps of {@code opt} on a fresh copy of P0 and returns the parameter. */
  private float[] run(Function<List<Variable>, Optimizer> make, int steps) {
    Variable p = param(P0);
    try (Optimizer opt = make.apply(List.of(p))) {
      for (int k = 1; k <= steps; k++) {
        setGrad(p, k);
        opt.step();
      }
    }
    return p.value().toArray();
  }

  private static void assertClose(double[] expected, float[] actual) {
    for (int i = 0; i < expected.length; i++)
      assertEquals(expected[i], actual[i], 2e-6 * Math.max(1, Math.abs(expected[i])), "element " + i);
  }

  /** torch.optim.SGD's single-tensor update, in double. */
  private static double[] sgdRef(int steps, double lr, double mu, double damp, boolean nesterov, double wd) {
    double[] p = new double[P0.length], b = new double[P0.length];
    for (int i = 0; i < p.length; i++) p[i] = P0[i];
    for (int k = 1; k <= steps; k++) {
      for (int i = 0; i < p.length; i++) {
        double d = grad(k, i) + wd * p[i];
        if (mu != 0) {
          b[i] = k == 1 ? d : mu * b[i] + (1 - damp) * d;
          d = nesterov ? d + mu * b[i] : b[i];
        }
        p[i] -= lr * d;
      }
    }
    return p;
  }

  /** torch.optim.Adam / AdamW's single-tensor update, in double. */
  private static double[] adamRef(int steps, double lr, double b1, double b2, double eps, double wd, boolean decoupled) {
    double[] p = new double[P0.length], m = new double[P0.length], v = new double[P0.length];
    for (int i = 0; i < p.length; i++) p[i] = P0[i];
    for (int t = 1; t <= steps; t++) {
      for (int i = 0; i < p.length; i++) {
        double g = grad(t, i);
        if (decoupled) p[i] *= 1 - lr * wd;
        else g += wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        double mHat = m[i] / (1 - Math.pow(b1, t)), vHat = v[i] / (1 - Math.pow(b2, t));
        p[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
      }
    }
    return p;
  }

  @Test
  void plainSgd() {
    assertClose(sgdRef(4, 0.1, 0, 0, false, 0), run(ps -> new SGD(ps, 0.1), 4));
  }

  @Test
  void sgdMomentumDampeningWeightDecay() {
    float[] got = run(ps -> new SGD(ps, 0.05, 0.9, 0.25, false, 1e-2), 5);
    assertClose(sgdRef(5, 0.05, 0.9, 0.25, false, 1e-2), got);
    // torch's first step copies d into the buffer undampened; a dampened first step would differ
    double[] p = new double[P0.length], b = new double[P0.length];
    for (int i = 0; i < p.length; i++) p[i] = P0[i];
    for (int k = 1; k <= 5; k++)
      for (int i = 0; i < p.length; i++) {
        double d = grad(k, i) + 1e-2 * p[i];
        b[i] = 0.9 * b[i] + 0.75 * d;
        p[i] -= 0.05 * b[i];
      }
    assertTrue(Math.abs(p[0] - got[0]) > 1e-3, "the test must tell the two first-step rules apart");
  }

  @Test
  void sgdNesterov() {
    float[] got = run(ps -> new SGD(ps, 0.05, 0.9, 0, true, 5e-3), 5);
    assertClose(sgdRef(5, 0.05, 0.9, 0, true, 5e-3), got);
    float[] classic = run(ps -> new SGD(ps, 0.05, 0.9, 0, false, 5e-3), 5);
    assertNotEquals(classic[0], got[0], 1e-3f);
  }

  @Test
  void adamWithL2AndBiasCorrection() {
    float[] got = run(ps -> new Adam(ps, 1e-2, 0.9, 0.999, 1e-8, 0.1), 6);
    assertClose(adamRef(6, 1e-2, 0.9, 0.999, 1e-8, 0.1, false), got);
    // bias correction: Adam's first step moves every element by about lr, whatever |g|
    float[] one = run(ps -> new Adam(ps, 1e-2), 1);
    for (int i = 0; i < P0.length; i++)
      assertEquals(1e-2, Math.abs(one[i] - P0[i]), 1e-6, "element " + i);
  }

  @Test
  void adamWDecoupledDecay() {
    float[] got = run(ps -> new AdamW(ps, 1e-2, 0.8, 0.99, 1e-6, 0.5), 6);
    assertClose(adamRef(6, 1e-2, 0.8, 0.99, 1e-6, 0.5, true), got);
    float[] l2 = run(ps -> new Adam(ps, 1e-2, 0.8, 0.99, 1e-6, 0.5), 6);
    assertNotEquals(l2[5], got[5], 1e-4f);
  }

  @Test
  void learningRateChangesBetweenSteps() {
    Variable p = param(P0);
    try (SGD opt = new SGD(List.of(p), 0.1)) {
      setGrad(p, 1);
      opt.setLr(0.5);
      assertEquals(0.5, opt.lr());
      opt.step();
    }
    for (int i = 0; i < P0.length; i++) assertEquals(P0[i] - 0.5 * grad(1, i), p.value().get(i), 1e-6);
    assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(p), -1));
  }

  @Test
  void parameterWithoutGradientIsSkippedAndKeepsNoState() {
    Variable a = param(P0), b = param(P0);
    try (Adam opt = new Adam(List.of(a, b), 1e-2)) {
      setGrad(a, 1);
      opt.step();
      opt.step();
      assertArrayEquals(P0, b.value().toArray());
      assertEquals(2, opt.stepCount(0));
      assertEquals(0, opt.stepCount(1));
      Map<String, Tensor> sd = opt.stateDict();
      assertEquals(List.of("step", "0.exp_avg", "0.exp_avg_sq"), new ArrayList<>(sd.keySet()));
      assertArrayEquals(new float[] {2, 0}, sd.get("step").toArray());
      // b's first update later uses its own step 1 bias correction
      a.zeroGrad();
      setGrad(b, 1);
      opt.step();
      for (int i = 0; i < P0.length; i++) assertEquals(1e-2, Math.abs(b.value().get(i) - P0[i]), 1e-6);
    }
  }

  @Test
  void zeroGradFreesGradients() {
    Variable a = param(P0);
    try (SGD opt = new SGD(List.of(a), 0.1)) {
      setGrad(a, 1);
      opt.zeroGrad();
      assertEquals(null, a.grad());
      opt.step(); // no gradient: nothing happens
      assertArrayEquals(P0, a.value().toArray());
    }
  }

  @Test
  void invalidConstruction() {
    Variable a = param(P0);
    assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(a), 0.1, 0, 0, true, 0), "nesterov needs momentum");
    assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(a), 0.1, 0.9, 0.1, true, 0), "nesterov needs dampening 0");
    assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(a, a), 0.1), "duplicate parameter");
    assertThrows(IllegalArgumentException.class, () -> new Adam(List.of(a), 0.1, 1.0, 0.999, 1e-8, 0));
    assertThrows(IllegalArgumentException.class, () -> new AdamW(List.of(a), 0.1, 0.9, 0.999, -1, 0));
  }

  /** Steps 1-3, checkpoint through a safetensors file, resume in a fresh optimizer: steps 4-6 match bit for bit. */
  @Test
  void stateSurvivesACheckpoint(@TempDir Path dir) {
    for (Function<List<Variable>, Optimizer> make : List.<Function<List<Variable>, Optimizer>>of(
        ps -> new SGD(ps, 0.05, 0.9, 0, true, 1e-3), ps -> new Adam(ps, 1e-2, 0.9, 0.99, 1e-8, 1e-2),
        ps -> new AdamW(ps, 1e-2))) {
      Variable a = param(P0), frozen = param(new float[] {1, 2});
      Variable b;
      Path file = dir.resolve("opt.safetensors");
      try (Optimizer opt = make.apply(List.of(a, frozen))) {
        for (int k = 1; k <= 3; k++) {
          setGrad(a, k);
          opt.step();
        }
        SafeTensors.save(file, opt.stateDict(), null);
        b = param(a.value().toArray());
        for (int k = 4; k <= 6; k++) {
          setGrad(a, k);
          opt.step();
        }
      }
      Variable frozen2 = param(new float[] {1, 2});
      Map<String, Tensor> loaded = SafeTensors.load(file);
      try (Optimizer resumed = make.apply(List.of(b, frozen2))) {
        resumed.loadStateDict(loaded);
        assertEquals(3, resumed.stepCount(0));
        for (int k = 4; k <= 6; k++) {
          setGrad(b, k);
          resumed.step();
        }
      } finally {
        loaded.values().forEach(Tensor::close);
      }
      assertArrayEquals(a.value().toArray(), b.value().toArray(), "resumed run differs");
    }
  }

  @Test
  void loadStateDictIsStrict() {
    Variable a = param(P0);
    try (Adam opt = new Adam(List.of(a), 1e-2); Tensor step = Tensor.of(new float[] {2}, 1);
        Tensor small = Tensor.zeros(3); Tensor ok = Tensor.zeros(6); Tensor extra = Tensor.zeros(1)) {
      Map<String, Tensor> sd = new LinkedHashMap<>();
      sd.put("step", step);
      sd.put("0.exp_avg", small);
      sd.put("bogus", extra);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> opt.loadStateDict(sd));
      assertTrue(e.getMessage().contains("missing key: 0.exp_avg_sq"), e.getMessage());
      assertTrue(e.getMessage().contains("0.exp_avg expected shape [6] got [3]"), e.getMessage());
      assertTrue(e.getMessage().contains("unexpected key: bogus"), e.getMessage());
      assertEquals(0, opt.stepCount(0), "nothing is loaded from a bad dict");
      Map<String, Tensor> good = Map.of("step", step, "0.exp_avg", ok, "0.exp_avg_sq", ok);
      opt.loadStateDict(good);
      assertEquals(2, opt.stepCount(0));
    }
  }

  @Test
  void closeFreesState() {
    Variable a = param(P0);
    Adam opt = new Adam(List.of(a), 1e-2);
    setGrad(a, 1);
    long withGrad = Tensor.liveCount();
    opt.step();
    opt.stateDict();
    assertEquals(withGrad + 3, Tensor.liveCount(), "two moments and the step tensor");
    opt.close();
    opt.close();
    assertEquals(withGrad, Tensor.liveCount());
    assertThrows(IllegalStateException.class, opt::step);
  }
}
