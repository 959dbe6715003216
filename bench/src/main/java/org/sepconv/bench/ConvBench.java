package org.sepconv.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.ops.Exec;
import org.sepconv.ops.Grad;
import org.sepconv.ops.Ops;
import org.sepconv.tensor.Tensor;

/**
 * One convolution shape, direction and implementation: ours, im2col + OpenBLAS sgemm per
 * image and group, or the naive reference. The shape list comes from {@link Shapes}; the
 * {@code shape} parameter is filled in by {@link CpuReport}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class ConvBench {
  @Param({"64x96x32x32/3/1/96"})
  public String shape;

  @Param({"sepconv", "im2col-openblas", "naive"})
  public String impl;

  @Param({"forward", "backward-data", "backward-weight"})
  public String direction;

  private Conv2dSpec s;
  private Exec exec;
  private Tensor x, w, y, dy, dx, dw;

  @Setup(Level.Trial)
  public void setup() {
    s = Shapes.get(shape).spec();
    exec = impl.equals("sepconv") ? Exec.CPU : impl.equals("naive") ? Exec.CPU_REFERENCE : Exec.CPU_IM2COL;
    Random rng = new Random(1);
    x = Tensor.rand(rng, s.n, s.cIn, s.h, s.w);
    w = Tensor.rand(rng, s.cOut, s.cIn / s.groups, s.kh, s.kw);
    y = Tensor.zeros(s.n, s.cOut, s.outH(), s.outW());
    dy = Tensor.rand(rng, s.n, s.cOut, s.outH(), s.outW());
    dx = Tensor.zeros(s.n, s.cIn, s.h, s.w);
    dw = Tensor.zeros(s.cOut, s.cIn / s.groups, s.kh, s.kw);
  }

  @Benchmark
  public void run() {
    switch (direction) {
      case "forward":
        Ops.conv2dForward(exec, s, x.buffer(), w.buffer(), null, y.buffer());
        break;
      case "backward-data":
        Ops.conv2dBackward(exec, s, Grad.INPUT, null, w.buffer(), dy.buffer(), dx.buffer(), null, null);
        break;
      default:
        Ops.conv2dBackward(exec, s, Grad.WEIGHT, x.buffer(), null, dy.buffer(), null, dw.buffer(), null);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (Tensor t : new Tensor[] {x, w, y, dy, dx, dw}) t.close();
  }
}
