package org.sepconv.ops;

import static org.junit.jupiter.api.Assertions.*;
import static org.sepconv.TestSupport.*;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Pooling, linear and softmax cross-entropy against the reference and their definitions. */
class PoolLinearLossTest {
  @Test
  void poolingMatchesReference() {
    Random rng = new Random(11);
    int[][] planes = {{7, 7}, {13, 17}, {1, 1}, {32, 32}};
    for (int[] hw : planes)
      for (int n : new int[] {1, 8})
        for (int c : new int[] {1, 3, 17})
          for (int[] kps : new int[][] {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}, {2, 1, 0}, {3, 3, 0}}) {
            if (hw[0] + 2 * kps[2] < kps[0] || hw[1] + 2 * kps[2] < kps[0]) continue;
            for (boolean inc : new boolean[] {true, false}) {
              Pool2dSpec p = new Pool2dSpec(n, c, hw[0], hw[1], kps[0], kps[1], kps[2], inc);
              FloatBuffer x = rand(rng, p.inputSize()), dy = rand(rng, p.outputSize());
              checkOp("avgpool-fwd " + p + " inc=" + inc, new FloatBuffer[] {poisoned(p.outputSize())},
                  (e, o) -> Ops.avgPool2dForward(e, p, x, o[0]));
              checkOp("avgpool-bwd " + p + " inc=" + inc, new FloatBuffer[] {poisoned(p.inputSize())},
                  (e, o) -> Ops.avgPool2dBackward(e, p, dy, o[0]));
              if (!inc) continue;
              IntBuffer arg = ints(p.outputSize());
              checkOp("maxpool-fwd " + p, new FloatBuffer[] {poisoned(p.outputSize())},
                  (e, o) -> Ops.maxPool2dForward(e, p, x, o[0], arg));
              FloatBuffer y = floats(p.outputSize());
              Ops.maxPool2dForward(Exec.CPU, p, x, y, arg);
              for (int i = 0; i < p.outputSize(); i++) {
                int plane = i / (p.outH() * p.outW());
                assertEquals(y.get(i), x.get(plane * p.h * p.w + arg.get(i)), 0f, "argmax points at the max");
              }
              checkOp("maxpool-bwd " + p, new FloatBuffer[] {poisoned(p.inputSize())},
                  (e, o) -> Ops.maxPool2dBackward(e, p, dy, arg, o[0]));
            }
          }
    for (int hw : new int[] {1, 16, 49, 1024}) {
      FloatBuffer x = rand(rng, 8L * 17 * hw), dy = rand(rng, 8 * 17);
      checkOp("gap-fwd " + hw, new FloatBuffer[] {poisoned(8 * 17)}, (e, o) -> Ops.globalAvgPoolForward(e, 8, 17, hw, x, o[0]));
      checkOp("gap-bwd " + hw, new FloatBuffer[] {poisoned(8L * 17 * hw)}, (e, o) -> Ops.globalAvgPoolBackward(e, 8, 17, hw, dy, o[0]));
    }
  }

  @Test
  void linearMatchesReference() {
    Random rng = new Random(12);
    int[][] shapes = {{1, 1, 1}, {8, 17, 3}, {64, 1280, 10}, {3, 96, 1000}, {5, 7, 9}};
    for (int[] s : shapes) {
      int n = s[0], in = s[1], out = s[2];
      FloatBuffer x = rand(rng, (long) n * in), w = rand(rng, (long) out * in), b = rand(rng, out);
      FloatBuffer dy = rand(rng, (long) n * out), dw0 = rand(rng, (long) out * in), db0 = rand(rng, out);
      checkOp("linear-fwd " + n + "x" + in + "->" + out, new FloatBuffer[] {poisoned((long) n * out)},
          (e, o) -> Ops.linearForward(e, n, in, out, x, w, b, o[0]));
      checkOp("linear-fwd-nobias", new FloatBuffer[] {poisoned((long) n * out)},
          (e, o) -> Ops.linearForward(e, n, in, out, x, w, null, o[0]));
      checkOp("linear-bwd " + n + "x" + in + "->" + out, new FloatBuffer[] {poisoned((long) n * in), dw0, db0},
          (e, o) -> Ops.linearBackward(e, n, in, out, Grad.ALL, x, w, dy, o[0], o[1], o[2]));
    }
  }

  @Test
  void softmaxCrossEntropyMatchesReferenceAndDefinition() {
    Random rng = new Random(13);
    for (int[] s : new int[][] {{1, 1}, {8, 10}, {64, 10}, {3, 1000}}) {
      int n = s[0], k = s[1];
      FloatBuffer logits = rand(rng, (long) n * k);
      for (int i = 0; i < n * k; i++) logits.put(i, 20 * logits.get(i)); // large logits: stability
      IntBuffer labels = ints(n);
      for (int i = 0; i < n; i++) labels.put(i, rng.nextInt(k));
      for (float smooth : new float[] {0f, 0.1f}) {
        checkOp("xent-fwd " + n + "x" + k + " s=" + smooth, new FloatBuffer[] {poisoned((long) n * k), floats(1)},
            (e, o) -> o[1].put(0, Ops.softmaxCrossEntropyForward(e, n, k, logits, labels, smooth, o[0])));
        FloatBuffer probs = floats((long) n * k);
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
        assertEquals(expect, loss, 1e-5 * Math.max(1, Math.abs(expect)), "loss");
        checkOp("xent-bwd " + n + "x" + k, new FloatBuffer[] {poisoned((long) n * k)},
            (e, o) -> Ops.softmaxCrossEntropyBackward(e, n, k, probs, labels, smooth, 2.5f, o[0]));
      }
    }
  }
}
