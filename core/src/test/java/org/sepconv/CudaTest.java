package org.sepconv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.sepconv.autograd.F;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.models.MobileNetV2;
import org.sepconv.nn.Module;
import org.sepconv.ops.Activation;
import org.sepconv.optim.Adam;
import org.sepconv.optim.AdamW;
import org.sepconv.optim.Optimizer;
import org.sepconv.optim.SGD;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * CUDA against the CPU, through the same Java code: every {@link F} op forward and backward, the
 * optimizers, and 20 training steps of MobileNetV2-cifar. Skipped, with the reason, where no GPU
 * is usable; never weakened.
 */
class CudaTest {
  static final double TOL = 1e-4;

  @BeforeEach
  void needsAGpu() {
    String why = Sepconv.cudaUnavailableReason();
    Assumptions.assumeTrue(why == null, "no CUDA: " + why);
  }

  static float[] random(Random rng, long n, float scale) {
    float[] v = new float[(int) n];
    for (int i = 0; i < v.length; i++) v[i] = (rng.nextFloat() * 2 - 1) * scale;
    return v;
  }

  static double relErr(float[] want, float[] got) {
    double err = 0, max = 1e-6;
    for (int i = 0; i < want.length; i++) {
      if (Float.isNaN(got[i]) && !Float.isNaN(want[i])) return Double.POSITIVE_INFINITY;
      err = Math.max(err, Math.abs((double) want[i] - got[i]));
      max = Math.max(max, Math.abs(want[i]));
    }
    return err / max;
  }

  /**
   * Runs {@code f} on leaves holding {@code data} on each device, backward with the same seed
   * gradient, and compares the outputs and every input's gradient.
   */
  static void sameOnBothDevices(String what, Function<Variable[], Variable> f, Shape[] shapes, float scale) {
    Random rng = new Random(what.hashCode());
    float[][] data = new float[shapes.length][];
    for (int i = 0; i < shapes.length; i++) data[i] = random(rng, shapes[i].size(), scale);
    float[][][] results = new float[2][][];
    float[] seed = null;
    for (Device d : new Device[] {Device.CPU, Device.CUDA}) {
      Variable[] in = new Variable[shapes.length];
      List<float[]> out = new ArrayList<>();
      try (Scope s = Scope.open()) {
        for (int i = 0; i < in.length; i++) in[i] = Variable.leaf(Tensor.of(data[i], shapes[i], d), true);
        Variable y = f.apply(in).retain();
        out.add(y.value().toArray());
        if (seed == null) seed = random(rng, y.value().size(), 1);
        try (Tensor g = Tensor.of(seed, y.value().shape(), d)) {
          y.backward(g);
        }
        for (Variable v : in) out.add(v.grad().toArray());
      } finally {
        for (Variable v : in) if (v != null) v.close();
      }
      results[d.ordinal()] = out.toArray(new float[0][]);
    }
    for (int i = 0; i < results[0].length; i++) {
      double e = relErr(results[0][i], results[1][i]);
      assertTrue(e < TOL, what + ": " + (i == 0 ? "output" : "gradient of input " + (i - 1)) + " differs by " + e);
    }
  }

  static Shape[] shapes(int[]... dims) {
    Shape[] s = new Shape[dims.length];
    for (int i = 0; i < dims.length; i++) s[i] = Shape.of(dims[i]);
    return s;
  }

  /** Tensors on two devices in one op: refused, naming the argument and both devices. */
  @Test
  void anOpRefusesArgumentsOnTwoDevices() {
    try (Tensor a = Tensor.zeros(Shape.of(4)); Tensor b = Tensor.zeros(Shape.of(4), Device.CUDA);
        Tensor y = Tensor.zeros(Shape.of(4), Device.CUDA)) {
      IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> org.sepconv.ops.Ops.add(a, b, y));
      assertTrue(e.getMessage().startsWith("b is on CUDA but a is on CPU"), e.getMessage());
    }
  }

  @Test
  void everyFunctionalOpMatchesTheCpu() {
    sameOnBothDevices("conv depthwise s2", v -> F.conv2d(v[0], v[1], v[2], 2, 1, 1, 16),
        shapes(new int[] {4, 16, 15, 15}, new int[] {16, 1, 3, 3}, new int[] {16}), 1);
    sameOnBothDevices("conv dense 3x3", v -> F.conv2d(v[0], v[1], null, 1, 1, 1, 1),
        shapes(new int[] {4, 24, 9, 9}, new int[] {40, 24, 3, 3}), 1);
    sameOnBothDevices("conv pointwise", v -> F.conv2d(v[0], v[1], v[2], 1, 0, 1, 1),
        shapes(new int[] {8, 96, 8, 8}, new int[] {24, 96, 1, 1}, new int[] {24}), 1);
    sameOnBothDevices("conv grouped dilated", v -> F.conv2d(v[0], v[1], null, 1, 2, 2, 4),
        shapes(new int[] {2, 8, 11, 9}, new int[] {12, 2, 3, 3}), 1);
    for (Activation act : Activation.values()) {
      Tensor[] stats = {Tensor.zeros(Shape.of(6), Device.CUDA), Tensor.full(Shape.of(6), 1f, Device.CUDA),
          Tensor.zeros(Shape.of(6)), Tensor.full(Shape.of(6), 1f)};
      try {
        sameOnBothDevices("batchnorm " + act, v -> {
          boolean cuda = v[0].value().device() == Device.CUDA;
          return F.batchNorm(v[0], v[1], v[2], stats[cuda ? 0 : 2], stats[cuda ? 1 : 3], true, 0.1f, 1e-5f, act);
        }, shapes(new int[] {8, 6, 7, 7}, new int[] {6}, new int[] {6}), 3);
        assertArrayEquals(stats[2].toArray(), stats[0].toArray(), 1e-5f, "running means");
      } finally {
        for (Tensor t : stats) t.close();
      }
    }
    sameOnBothDevices("relu6", v -> F.relu6(v[0]), shapes(new int[] {3, 4, 9, 9}), 8);
    sameOnBothDevices("add", v -> F.add(v[0], v[1]), shapes(new int[] {3, 4, 9, 9}, new int[] {3, 4, 9, 9}), 1);
    sameOnBothDevices("avgpool", v -> F.avgPool2d(v[0], 3, 2, 1, false), shapes(new int[] {2, 5, 11, 9}), 1);
    sameOnBothDevices("maxpool", v -> F.maxPool2d(v[0], 3, 2, 1), shapes(new int[] {2, 5, 11, 9}), 1);
    sameOnBothDevices("global avgpool + linear", v -> F.linear(F.flatten(F.globalAvgPool(v[0])), v[1], v[2]),
        shapes(new int[] {8, 32, 4, 4}, new int[] {10, 32}, new int[] {10}), 1);
    sameOnBothDevices("dropout", v -> F.dropout(v[0], 0.25f, 99), shapes(new int[] {16, 100}), 1);
    int[] labels = {3, 1, 4, 1, 5, 9, 2, 6};
    sameOnBothDevices("cross-entropy", v -> F.crossEntropy(v[0], labels, 0.1f), shapes(new int[] {8, 10}), 3);
  }

  /** Three steps of each optimizer on both devices, from the same parameters and gradients: bit for bit. */
  @Test
  void optimizersStepAlikeOnBothDevices() {
    Random rng = new Random(5);
    Shape[] shapes = {Shape.of(64, 3, 3, 3), Shape.of(64), Shape.of(10, 1280)};
    float[][] values = new float[shapes.length][], grads = new float[shapes.length][];
    for (int i = 0; i < shapes.length; i++) {
      values[i] = random(rng, shapes[i].size(), 1);
      grads[i] = random(rng, shapes[i].size(), 0.1f);
    }
    for (int kind = 0; kind < 3; kind++) {
      float[][][] after = new float[2][shapes.length][];
      for (Device d : new Device[] {Device.CPU, Device.CUDA}) {
        List<Variable> ps = new ArrayList<>();
        for (int i = 0; i < shapes.length; i++) ps.add(Variable.leaf(Tensor.of(values[i], shapes[i], d), true));
        Optimizer opt = kind == 0 ? new SGD(ps, 0.1, 0.9, 0, true, 5e-4)
            : kind == 1 ? new Adam(ps, 1e-3, 0.9, 0.999, 1e-8, 1e-4) : new AdamW(ps, 1e-3, 0.9, 0.999, 1e-8, 1e-2);
        try (opt) {
          for (int step = 0; step < 3; step++) {
            for (int i = 0; i < ps.size(); i++) ps.get(i).gradBuffer().copyFrom(grads[i]);
            opt.step();
            opt.zeroGrad();
          }
          for (int i = 0; i < ps.size(); i++) after[d.ordinal()][i] = ps.get(i).value().toArray();
        } finally {
          ps.forEach(Variable::close);
        }
      }
      for (int i = 0; i < shapes.length; i++) assertArrayEquals(after[0][i], after[1][i], "optimizer " + kind + ", parameter " + i);
    }
  }

  /** 20 SGD steps of MobileNetV2-cifar at batch 32 from the same weights and batches: the losses agree. */
  @Test
  void twentyTrainingStepsOfMobileNetV2FollowTheCpu() {
    Random data = new Random(17);
    int steps = 20, batch = 32;
    float[][] images = new float[steps][];
    int[][] labels = new int[steps][batch];
    for (int s = 0; s < steps; s++) {
      images[s] = random(data, (long) batch * 3 * 32 * 32, 1);
      for (int i = 0; i < batch; i++) labels[s][i] = data.nextInt(10);
    }
    double[][] losses = new double[2][steps];
    for (Device d : new Device[] {Device.CPU, Device.CUDA}) {
      try (Module model = MobileNetV2.cifar(10, 1.0f, new Random(3)).to(d);
          SGD sgd = new SGD(model.parameters(), 0.05, 0.9, 0, true, 5e-4)) {
        for (int s = 0; s < steps; s++) {
          try (Scope sc = Scope.open(); Tensor x = Tensor.of(images[s], Shape.of(batch, 3, 32, 32), d)) {
            Variable loss = F.crossEntropy(model.forward(Variable.leaf(x, false)), labels[s], 0.1f);
            losses[d.ordinal()][s] = loss.value().get(0);
            loss.backward();
            sgd.step();
            model.zeroGrad();
          }
        }
      }
    }
    for (int s = 0; s < steps; s++) {
      assertTrue(Double.isFinite(losses[0][s]) && Double.isFinite(losses[1][s]), "finite losses");
      assertEquals(losses[0][s], losses[1][s], 1e-3 * Math.abs(losses[0][s]), "loss of step " + s + ": CPU "
          + java.util.Arrays.toString(losses[0]) + ", CUDA " + java.util.Arrays.toString(losses[1]));
    }
  }
}
