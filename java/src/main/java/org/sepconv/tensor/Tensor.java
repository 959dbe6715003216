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
  private final Tensor base; // non-null for a view: the tensor that owns the memory
  private FloatPointer data;
  private FloatBuffer view;

  private Tensor(Shape shape, Device device) {
    if (device != Device.CPU)
      throw new UnsupportedOperationException("device " + device + ": only CPU tensors exist in this build");
    if (shape.size() > Integer.MAX_VALUE)
      throw new IllegalArgumentException("shape " + shape + " has more than 2^31-1 elements");
    this.shape = shape;
    this.device = device;
    this.base = null;
    // the caching allocator (malloc underneath), no JavaCPP deallocator: close() returns it, and
    // JavaCPP's GC-driven limit (maxBytes, the Java heap size by default) does not apply
    Pointer raw = HostMemory.allocate(Math.max(1, shape.size()) * 4);
    this.data = new FloatPointer(raw).capacity(Math.max(1, shape.size()));
    LIVE_BYTES.addAndGet(shape.size() * 4);
    LIVE_COUNT.incrementAndGet();
  }

  private Tensor(Tensor base, Shape shape) {
    this.shape = shape;
    this.device = base.device;
    this.base = base;
    this.data = base.data;
  }

  /**
   * The same memory under another shape with as many elements (a reshape that copies
   * nothing). Closing the view frees nothing; the view is invalid once its base is closed.
   */
  public Tensor view(int... dims) {
    ensureOpen();
    Shape s = Shape.of(dims);
    if (s.size() != shape.size())
      throw new IllegalArgumentException("dims: a view of " + shape + " needs " + shape.size()
          + " elements, got " + s + " (" + s.size() + ")");
    return new Tensor(owner(), s);
  }

  private Tensor owner() {
    return base == null ? this : base;
  }

  /** A tensor of the same shape with uninitialised contents. */
  public static Tensor empty(Shape shape) {
    return new Tensor(shape, Device.CPU);
  }

  /** A new tensor holding a copy of this one. */
  public Tensor copy() {
    FloatPointer src = data();
    Tensor t = new Tensor(shape, device);
    Pointer.memcpy(t.data, src, shape.size() * 4);
    return t;
  }

  /** Copies src (same number of elements) into this tensor. */
  public void copyFrom(Tensor src) {
    if (src.size() != size())
      throw new IllegalArgumentException("src: expected " + size() + " elements, got " + src.size());
    Pointer.memcpy(data(), src.data(), size() * 4);
  }

  /** Sets every element to v. */
  public void fill(float v) {
    if (v == 0f) {
      Pointer.memset(data(), 0, size() * 4);
      return;
    }
    FloatBuffer b = buffer();
    for (int i = 0; i < b.capacity(); i++) b.put(i, v);
  }

  private FloatPointer data() {
    ensureOpen();
    return data;
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
    if (view == null) view = new FloatPointer(data).capacity(shape.size()).limit(shape.size()).asBuffer();
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
    return data == null || (base != null && base.isClosed());
  }

  /** Frees the memory now (a view frees nothing). Idempotent. */
  @Override
  public synchronized void close() {
    if (data == null) return;
    if (base != null) {
      data = null;
      view = null;
      return;
    }
    HostMemory.release(data, Math.max(1, shape.size()) * 4);
    data = null;
    view = null;
    LIVE_BYTES.addAndGet(-shape.size() * 4);
    LIVE_COUNT.decrementAndGet();
  }

  private void ensureOpen() {
    if (isClosed()) throw new IllegalStateException("tensor " + shape + " is closed");
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
