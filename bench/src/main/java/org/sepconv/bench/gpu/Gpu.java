package org.sepconv.bench.gpu;

import static org.bytedeco.cuda.global.cudart.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * Device 0 as the GPU report uses it, through the bytedeco CUDA runtime: device memory, random
 * data, the timer and the two ceilings. Everything is queued on one stream, the one sepconv's
 * kernels run on, so that cuDNN and sepconv are timed by the same events under the same
 * conditions.
 *
 * <p>Timing: each timed run is preceded (outside the events) by a memset of twice the L2 size,
 * so every run starts with a cold L2, as a layer in a training step does; a run is bracketed by
 * two events on the stream; warm-up runs come first; the result is the median.
 */
final class Gpu implements AutoCloseable {
  final String name;
  final int major, minor, driverVersion, runtimeVersion;
  final CUstream_st stream;
  private final long flushBytes;
  private final FloatPointer flush, pool;
  private final long poolFloats = 1 << 24;
  private final CUevent_st[] start = new CUevent_st[64], stop = new CUevent_st[64];
  private int flushValue;

  /** Why no CUDA device can be used here, or null if one can. */
  static String unavailable() {
    try {
      Loader.load(org.bytedeco.cuda.global.cudart.class);
    } catch (Throwable t) {
      return "the CUDA runtime could not be loaded (needs libcudart.so.13 and the driver's libcuda.so.1 on LD_LIBRARY_PATH; -Dorg.bytedeco.javacpp.logger.debug=true shows what the loader tried): " + t;
    }
    try (IntPointer n = new IntPointer(1)) {
      int e = cudaGetDeviceCount(n);
      if (e != cudaSuccess) return "cudaGetDeviceCount failed: " + cudaGetErrorString(e).getString();
      if (n.get() < 1) return "cudaGetDeviceCount found no CUDA device";
    }
    return null;
  }

  /** Uses {@code stream}, or a new stream of its own when null. */
  Gpu(CUstream_st stream) {
    check(cudaSetDevice(0), "cudaSetDevice");
    try (cudaDeviceProp p = new cudaDeviceProp(); IntPointer drv = new IntPointer(1); IntPointer rt = new IntPointer(1)) {
      check(cudaGetDeviceProperties(p, 0), "cudaGetDeviceProperties");
      name = p.name().getString();
      major = p.major();
      minor = p.minor();
      flushBytes = Math.max(2L * p.l2CacheSize(), 64L << 20);
      check(cudaDriverGetVersion(drv), "cudaDriverGetVersion");
      check(cudaRuntimeGetVersion(rt), "cudaRuntimeGetVersion");
      driverVersion = drv.get();
      runtimeVersion = rt.get();
    }
    if (stream == null) {
      stream = new CUstream_st();
      check(cudaStreamCreate(stream), "cudaStreamCreate");
    }
    this.stream = stream;
    for (int i = 0; i < start.length; i++) {
      start[i] = new CUevent_st();
      stop[i] = new CUevent_st();
      check(cudaEventCreate(start[i]), "cudaEventCreate");
      check(cudaEventCreate(stop[i]), "cudaEventCreate");
    }
    flush = malloc(flushBytes / 4);
    pool = malloc(poolFloats);
    float[] host = new float[(int) poolFloats];
    Random rng = new Random(42);
    for (int i = 0; i < host.length; i++) host[i] = rng.nextFloat() * 2 - 1;
    try (FloatPointer h = new FloatPointer(host)) { // on the stream: sepconv's does not wait for the legacy one
      check(cudaMemcpyAsync(pool, h, poolFloats * 4, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync pool");
      synchronize(); // before the host copy is freed
    }
  }

  static void check(int err, String what) {
    if (err != cudaSuccess) throw new IllegalStateException(what + ": " + cudaGetErrorName(err).getString() + " (" + cudaGetErrorString(err).getString() + ")");
  }

  static FloatPointer malloc(long floats) {
    FloatPointer p = new FloatPointer();
    check(cudaMalloc(p, Math.max(1, floats) * 4), "cudaMalloc " + floats * 4 + " bytes");
    return p;
  }

  /**
   * Device memory of one benchmark case: a sepconv CUDA tensor (what sepconv's ops take, from its
   * caching allocator) when sepconv's CUDA backend is in use, with a pointer at the same memory
   * for cuDNN; else (cuDNN alone) raw cudaMalloc memory with no tensor. Freed together at close.
   */
  static final class Buffers implements AutoCloseable {
    private final boolean tensors;
    private final List<Buf> held = new ArrayList<>();

    Buffers(boolean tensors) {
      this.tensors = tensors;
    }

    Buf alloc(long floats) {
      Buf b;
      if (tensors) {
        Tensor t = Tensor.empty(Shape.of(Math.toIntExact(floats)), Device.CUDA);
        b = new Buf(new FloatPointer(new Pointer() {
          {
            address = t.address();
          }
        }), t);
      } else {
        b = new Buf(malloc(floats), null);
      }
      held.add(b);
      return b;
    }

    @Override
    public void close() {
      for (Buf b : held) {
        if (b.t() != null) b.t().close();
        else cudaFree(b.p());
      }
      held.clear();
    }
  }

  /** Device memory: {@code p} for cuDNN and cudart, {@code t} (null without sepconv's backend) for sepconv's ops. */
  record Buf(FloatPointer p, Tensor t) {}

  /** Fills {@code floats} elements with uniform [-1, 1) values (tiles of one random pool), on the stream. */
  void fillRandom(FloatPointer p, long floats) {
    for (long off = 0; off < floats; off += poolFloats) {
      long n = Math.min(poolFloats, floats - off);
      check(cudaMemcpyAsync(new FloatPointer(p).position(off), pool, n * 4, cudaMemcpyDeviceToDevice, stream), "fill");
    }
  }

  /** Sets every byte to {@code value}: 0 zeroes, 0xff poisons with NaN. */
  void memset(FloatPointer p, long floats, int value) {
    check(cudaMemsetAsync(p, value, floats * 4, stream), "cudaMemsetAsync");
  }

  void synchronize() {
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (an earlier kernel failed)");
  }

  /** The median device time of {@code op} in ms over {@code reps} runs after {@code warmup} runs, each after an L2 flush. */
  double time(Runnable op, int warmup, int reps) {
    reps = Math.min(reps, start.length);
    for (int i = 0; i < warmup; i++) {
      flushL2();
      op.run();
    }
    for (int i = 0; i < reps; i++) {
      flushL2();
      check(cudaEventRecord(start[i], stream), "cudaEventRecord");
      op.run();
      check(cudaEventRecord(stop[i], stream), "cudaEventRecord");
    }
    synchronize();
    float[] ms = new float[reps];
    try (FloatPointer t = new FloatPointer(1)) {
      for (int i = 0; i < reps; i++) {
        check(cudaEventElapsedTime(t, start[i], stop[i]), "cudaEventElapsedTime");
        ms[i] = t.get();
      }
    }
    Arrays.sort(ms);
    return reps % 2 == 1 ? ms[reps / 2] : (ms[reps / 2 - 1] + ms[reps / 2]) / 2.0;
  }

  private void flushL2() {
    check(cudaMemsetAsync(flush, flushValue++ & 0xff, flushBytes, stream), "L2 flush");
  }

  /** Device-to-device copy bandwidth in GB/s, counting bytes read plus bytes written (1 GiB copied). */
  double copyBandwidth() {
    long floats = 1L << 28;
    try (Buffers b = new Buffers(false)) {
      FloatPointer src = b.alloc(floats).p(), dst = b.alloc(floats).p();
      fillRandom(src, floats);
      double ms = time(() -> check(cudaMemcpyAsync(dst, src, floats * 4, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync"), 3, 10);
      return 2.0 * floats * 4 / ms / 1e6;
    }
  }

  /** cuBLAS sgemm GFLOP/s on 8192^3, exact fp32 or tf32 tensor cores: the compute ceiling of each precision. */
  double sgemmRate(boolean tf32) {
    int n = 8192;
    long floats = (long) n * n;
    cublasContext h = new cublasContext();
    checkBlas(cublas.cublasCreate_v2(h), "cublasCreate");
    try (Buffers b = new Buffers(false); FloatPointer one = new FloatPointer(1f); FloatPointer zero = new FloatPointer(0f)) {
      checkBlas(cublas.cublasSetStream_v2(h, stream), "cublasSetStream");
      checkBlas(cublas.cublasSetMathMode(h, tf32 ? cublas.CUBLAS_TF32_TENSOR_OP_MATH : cublas.CUBLAS_PEDANTIC_MATH), "cublasSetMathMode");
      FloatPointer a = b.alloc(floats).p(), bb = b.alloc(floats).p(), c = b.alloc(floats).p();
      fillRandom(a, floats);
      fillRandom(bb, floats);
      double ms = time(() -> checkBlas(cublas.cublasSgemm_v2(h, cublas.CUBLAS_OP_N, cublas.CUBLAS_OP_N, n, n, n, one, a, n, bb, n, zero, c, n), "cublasSgemm"), 2, 5);
      return 2.0 * n * n * n / ms / 1e6;
    } finally {
      cublas.cublasDestroy_v2(h);
    }
  }

  private static void checkBlas(int st, String what) {
    if (st != cublas.CUBLAS_STATUS_SUCCESS) throw new IllegalStateException(what + ": cuBLAS status " + st);
  }

  /** Up to {@code max} evenly strided elements of a device buffer, copied to the host after the stream drains. */
  float[] sample(FloatPointer p, long floats, int max) {
    long stride = Math.max(1, (floats + max - 1) / max);
    int count = (int) ((floats + stride - 1) / stride);
    synchronize();
    try (FloatPointer h = new FloatPointer(count)) {
      check(cudaMemcpy2D(h, 4, p, 4 * stride, 4, count, cudaMemcpyDeviceToHost), "cudaMemcpy2D");
      float[] out = new float[count];
      h.get(out);
      return out;
    }
  }

  /** ||a - b|| / ||b||; NaN if either holds a NaN (an unwritten, poisoned element). */
  static double relError(float[] a, float[] b) {
    double num = 0, den = 0;
    for (int i = 0; i < a.length; i++) {
      double d = (double) a[i] - b[i];
      num += d * d;
      den += (double) b[i] * b[i];
    }
    return Math.sqrt(num / Math.max(den, 1e-30));
  }

  @Override
  public void close() {
    cudaFree(flush);
    cudaFree(pool);
    for (int i = 0; i < start.length; i++) {
      cudaEventDestroy(start[i]);
      cudaEventDestroy(stop[i]);
    }
  }
}
