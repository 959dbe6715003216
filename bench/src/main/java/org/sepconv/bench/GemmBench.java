package org.sepconv.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
import org.openjdk.jmh.annotations.*;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.tensor.Tensor;

/**
 * Plain OpenBLAS sgemm on the GEMM that a pointwise or dense conv shape amounts to:
 * M = cOut, N = batch * outH * outW, K = cIn/groups * kh * kw. The yardstick for the
 * "fraction of sgemm" targets.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class GemmBench {
  @Param({"64x64x32x32/3/1/1"})
  public String shape;

  private int m, n, k;
  private Tensor a, b, c;

  @Setup(Level.Trial)
  public void setup() {
    Conv2dSpec s = Shapes.get(shape).spec();
    m = s.cOut;
    n = s.n * s.outH() * s.outW();
    k = s.cIn / s.groups * s.kh * s.kw;
    Random rng = new Random(2);
    a = Tensor.rand(rng, m, k);
    b = Tensor.rand(rng, k, n);
    c = Tensor.zeros(m, n);
  }

  @Benchmark
  public void sgemm() {
    openblas.cblas_sgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasNoTrans, m, n, k,
        1f, new FloatPointer(a.buffer()), k, new FloatPointer(b.buffer()), n, 0f, new FloatPointer(c.buffer()), n);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    a.close();
    b.close();
    c.close();
  }
}
