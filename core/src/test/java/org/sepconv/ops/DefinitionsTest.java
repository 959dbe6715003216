package org.sepconv.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.sepconv.TestSupport.*;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The kernels against their definitions rather than against another kernel (which
 * {@link KernelTableTest} does on every device): batch statistics as PyTorch defines them, exact
 * activations, an in-place add, argmax indices that point at the max, the cross-entropy's closed
 * form, and a folded batch norm that equals conv-then-norm.
 */
class DefinitionsTest {
  @Test
  void batchStatisticsAreTorchs() {
    Random rng = new Random(5);
    int n = 8, c = 17, hw = 49;
    long size = (long) n * c * hw;
    FloatBuffer x = rand(rng, size), y = floats(size), sm = floats(c), si = floats(c);
    for (int i = 0; i < size; i++) x.put(i, 3 * x.get(i) + 0.5f);
    for (Exec e : new Exec[] {Exec.CPU_REFERENCE, Exec.CPU}) {
      Ops.batchNormForwardTraining(e, n, c, hw, x, null, null, 1e-5f, 0.1f, null, null, sm, si, Activation.NONE, y);
      for (int ch = 0; ch < c; ch++) {
        double s = 0, s2 = 0;
        for (int b = 0; b < n; b++) for (int j = 0; j < hw; j++) s += x.get((b * c + ch) * hw + j);
        double mean = s / (n * hw);
        for (int b = 0; b < n; b++)
          for (int j = 0; j < hw; j++) {
            double d = x.get((b * c + ch) * hw + j) - mean;
            s2 += d * d;
          }
        assertEquals(mean, sm.get(ch), 1e-5 * Math.max(1, Math.abs(mean)), e + " mean");
        assertEquals(1 / Math.sqrt(s2 / (n * hw) + 1e-5), si.get(ch), 1e-4 * si.get(ch), e + " invstd");
      }
    }
  }

  @Test
  void foldingBatchNormIntoConvGivesTheSameInference() {
    Random rng = new Random(7);
    Conv2dSpec s = Conv2dSpec.of(2, 8, 9, 9, 12, 3).withPad(1).withGroups(4);
    FloatBuffer x = rand(rng, s.inputSize()), w = rand(rng, s.weightSize()), b = rand(rng, s.cOut);
    FloatBuffer gamma = rand(rng, s.cOut), beta = rand(rng, s.cOut), mean = rand(rng, s.cOut), var = rand(rng, s.cOut);
    for (int i = 0; i < s.cOut; i++) var.put(i, 0.5f + Math.abs(var.get(i)));
    FloatBuffer y = floats(s.outputSize()), expect = floats(s.outputSize()), got = floats(s.outputSize());
    Ops.conv2dForward(Exec.CPU_REFERENCE, s, x, w, b, y);
    Ops.batchNormForwardInference(Exec.CPU_REFERENCE, s.n, s.cOut, s.outH() * s.outW(), y, gamma, beta, mean, var, 1e-5f,
        Activation.NONE, expect);
    FloatBuffer wf = copy(w), bf = copy(b);
    Ops.batchNormFold(s.cOut, s.weightSize() / s.cOut, wf, bf, gamma, beta, mean, var, 1e-5f);
    Ops.conv2dForward(Exec.CPU_REFERENCE, s, x, wf, bf, got);
    assertClose("folded conv", got, expect, s.outputSize());
  }

  @Test
  void activationsAreExactAndTheAddRunsInPlace() {
    Random rng = new Random(3);
    for (long count : new long[] {1, 7, 1000, 4099}) {
      FloatBuffer x = rand(rng, count), b = rand(rng, count), y = floats(count);
      for (int i = 0; i < count; i++) x.put(i, 8 * x.get(i)); // spans both ReLU6 edges
      for (Activation act : Activation.values()) {
        Ops.activationForward(Exec.CPU, act, count, x, y);
        for (int i = 0; i < count; i++) {
          float v = x.get(i);
          float expect = act == Activation.NONE ? v : act == Activation.RELU ? Math.max(v, 0) : Math.min(Math.max(v, 0), 6);
          assertEquals(expect, y.get(i), 0f, act + " at " + v);
        }
      }
      FloatBuffer inPlace = copy(x);
      Ops.add(Exec.CPU, count, inPlace, b, inPlace);
      for (int i = 0; i < count; i++) assertEquals(x.get(i) + b.get(i), inPlace.get(i), 0f);
    }
  }

  @Test
  void maxPoolIndicesPointAtTheMax() {
    Random rng = new Random(11);
    Pool2dSpec p = new Pool2dSpec(8, 3, 13, 17, 3, 2, 1, true);
    FloatBuffer x = rand(rng, p.inputSize()), y = floats(p.outputSize());
    IntBuffer arg = ints(p.outputSize());
    Ops.maxPool2dForward(Exec.CPU, p, x, y, arg);
    for (int i = 0; i < p.outputSize(); i++) {
      int plane = i / (p.outH() * p.outW());
      assertEquals(y.get(i), x.get(plane * p.h * p.w + arg.get(i)), 0f, "argmax points at the max");
    }
  }

  @Test
  void crossEntropyIsItsClosedForm() {
    Random rng = new Random(13);
    for (int[] s : new int[][] {{1, 1}, {8, 10}, {3, 1000}}) {
      int n = s[0], k = s[1];
      FloatBuffer logits = rand(rng, (long) n * k), probs = floats((long) n * k);
      for (int i = 0; i < n * k; i++) logits.put(i, 20 * logits.get(i)); // large logits: stability
      IntBuffer labels = ints(n);
      for (int i = 0; i < n; i++) labels.put(i, rng.nextInt(k));
      for (float smooth : new float[] {0f, 0.1f}) {
        float loss = Ops.softmaxCrossEntropyForward(Exec.CPU, n, k, logits, labels, smooth, probs);
        double expect = 0;
        for (int i = 0; i < n; i++) {
          double m = Double.NEGATIVE_INFINITY, z = 0;
          for (int j = 0; j < k; j++) m = Math.max(m, logits.get(i * k + j));
          for (int j = 0; j < k; j++) z += Math.exp(logits.get(i * k + j) - m);
          for (int j = 0; j < k; j++) {
            double logp = logits.get(i * k + j) - m - Math.log(z);
            double q = (j == labels.get(i) ? 1 - smooth : 0) + smooth / k;
            expect -= q * logp;
          }
        }
        expect /= n;
        assertEquals(expect, loss, 1e-5 * Math.max(1, Math.abs(expect)), "loss " + n + "x" + k + " smoothing " + smooth);
      }
    }
  }
}
