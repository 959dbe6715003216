package org.sepconv.tensor;

import java.nio.FloatBuffer;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A dense fp32 tensor in off-heap memory. Its memory is freed by {@link #close()}, never left
 * to the garbage collector: use try-with-resources or a scope that closes it.
 */
public final class Tensor implements AutoCloseable {
  private static final AtomicLong LIVE_BYTES = new AtomicLong();
  private static final AtomicLong LIVE_COUNT = new AtomicLong();

  private final Shape shape;
  private final Device device;
  private FloatPointer data;
  private FloatBuffer view;

  private Tensor(Shape shape, Device device) {
    if (device != Device.CPU)
      throw new UnsupportedOperationException("device " + device + ": only CPU tensors exist in this build");
    if (shape.size() > Integer.MAX_VALUE)
      throw new IllegalArgumentException("shape " + shape + " has more than 2^31-1 elements");
    this.shape = shape;
    this.device = device;
    this.data = new FloatPointer(Math.max(1, shape.size()));
    if (data.isNull()) throw new OutOfMemoryError("cannot allocate " + shape.size() * 4 + " bytes off-heap");
    LIVE_BYTES.addAndGet(shape.size() * 4);
    LIVE_COUNT.incrementAndGet();
  }

  /** A tensor whose contents are zero. */
  public static Tensor zeros(Shape shape) {
    Tensor t = new Tensor(shape, Device.CPU);
    Pointer.memset(t.data, 0, shape.size() * 4);
    return t;
  }

  public static Tensor zeros(int... dims) {
    return zeros(Shape.of(dims));
  }

  /** Uniform values in [-1, 1) from {@code rng}. */
  public static Tensor rand(Random rng, int... dims) {
    Tensor t = new Tensor(Shape.of(dims), Device.CPU);
    FloatBuffer b = t.buffer();
    for (int i = 0; i < b.capacity(); i++) b.put(i, rng.nextFloat() * 2 - 1);
    return t;
  }

  /** A tensor holding a copy of {@code values}, whose length must match the shape. */
  public static Tensor of(float[] values, int... dims) {
    Shape s = Shape.of(dims);
    if (values == null || values.length != s.size())
      throw new IllegalArgumentException("values: expected " + s.size() + " floats for shape " + s
          + ", got " + (values == null ? "null" : values.length));
    Tensor t = new Tensor(s, Device.CPU);
    t.buffer().put(0, values);
    return t;
  }

  public Shape shape() {
    return shape;
  }

  public Device device() {
    return device;
  }

  public long size() {
    return shape.size();
  }

  /** A direct, native-order view of the memory (position 0). Invalid after close(). */
  public FloatBuffer buffer() {
    ensureOpen();
    if (view == null) view = data.limit(shape.size()).asBuffer();
    return view.duplicate().clear();
  }

  public float get(long index) {
    return buffer().get(Math.toIntExact(index));
  }

  public float[] toArray() {
    float[] out = new float[(int) shape.size()];
    buffer().get(0, out);
    return out;
  }

  public boolean isClosed() {
    return data == null;
  }

  /** Frees the memory now. Idempotent. */
  @Override
  public synchronized void close() {
    if (data == null) return;
    data.deallocate();
    data = null;
    view = null;
    LIVE_BYTES.addAndGet(-shape.size() * 4);
    LIVE_COUNT.decrementAndGet();
  }

  private void ensureOpen() {
    if (data == null) throw new IllegalStateException("tensor " + shape + " is closed");
  }

  /** Bytes held by tensors that are not closed yet, process-wide. */
  public static long liveBytes() {
    return LIVE_BYTES.get();
  }

  public static long liveCount() {
    return LIVE_COUNT.get();
  }

  @Override
  public String toString() {
    return "Tensor" + shape + "@" + device + (isClosed() ? " (closed)" : "");
  }
}
