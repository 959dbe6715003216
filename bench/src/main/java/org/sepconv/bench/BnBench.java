package org.sepconv.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;
import org.sepconv.ops.Activation;
import org.sepconv.ops.Exec;
import org.sepconv.ops.Grad;
import org.sepconv.ops.Ops;
import org.sepconv.tensor.Tensor;

/**
 * Training-mode BatchNorm + ReLU6 at batch 64: the fused kernels against BN followed by a
 * separate ReLU6 (and, backward, ReLU6's backward followed by BN's), and the naive reference.
 * {@code shape} is {@code CxHW}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class BnBench {
  @Param({"96x1024"})
  public String shape;

  @Param({"sepconv", "sepconv-unfused", "naive"})
  public String impl;

  @Param({"forward-training", "backward"})
  public String direction;

  int n = Shapes.BATCH, c, hw;
  Tensor x, y, z, dy, g, dx, gamma, beta, rm, rv, mean, inv, dgamma, dbeta;

  @Setup(Level.Trial)
  public void setup() {
    String[] p = shape.split("x");
    c = Integer.parseInt(p[0]);
    hw = Integer.parseInt(p[1]);
    Random rng = new Random(3);
    x = Tensor.rand(rng, n, c, hw);
    dy = Tensor.rand(rng, n, c, hw);
    y = Tensor.zeros(n, c, hw);
    z = Tensor.zeros(n, c, hw);
    g = Tensor.zeros(n, c, hw);
    dx = Tensor.zeros(n, c, hw);
    gamma = Tensor.rand(rng, c);
    beta = Tensor.rand(rng, c);
    rm = Tensor.zeros(c);
    rv = Tensor.zeros(c);
    mean = Tensor.zeros(c);
    inv = Tensor.zeros(c);
    dgamma = Tensor.zeros(c);
    dbeta = Tensor.zeros(c);
    forward(Exec.CPU, Activation.RELU6, y); // the saved statistics and output backward reads
  }

  void forward(Exec e, Activation act, Tensor out) {
    Ops.batchNormForwardTraining(e, n, c, hw, x.buffer(), gamma.buffer(), beta.buffer(), 1e-5f, 0.1f,
        rm.buffer(), rv.buffer(), mean.buffer(), inv.buffer(), act, out.buffer());
  }

  @Benchmark
  public void run() {
    boolean fwd = direction.equals("forward-training");
    long count = (long) n * c * hw;
    if (impl.equals("sepconv-unfused")) {
      if (fwd) {
        forward(Exec.CPU, Activation.NONE, z);
        Ops.activationForward(Exec.CPU, Activation.RELU6, count, z.buffer(), y.buffer());
      } else {
        Ops.activationBackward(Exec.CPU, Activation.RELU6, count, y.buffer(), dy.buffer(), g.buffer());
        Ops.batchNormBackward(Exec.CPU, n, c, hw, Grad.ALL, x.buffer(), null, g.buffer(), gamma.buffer(),
            mean.buffer(), inv.buffer(), Activation.NONE, dx.buffer(), dgamma.buffer(), dbeta.buffer());
      }
      return;
    }
    Exec e = impl.equals("naive") ? Exec.CPU_REFERENCE : Exec.CPU;
    if (fwd) forward(e, Activation.RELU6, y);
    else
      Ops.batchNormBackward(e, n, c, hw, Grad.ALL, x.buffer(), y.buffer(), dy.buffer(), gamma.buffer(),
          mean.buffer(), inv.buffer(), Activation.RELU6, dx.buffer(), dgamma.buffer(), dbeta.buffer());
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (Tensor t : new Tensor[] {x, y, z, dy, g, dx, gamma, beta, rm, rv, mean, inv, dgamma, dbeta}) t.close();
  }
}
