package org.sepconv.tensor;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.nativeapi.SepconvNative;

/**
 * A dense tensor of {@link DType#F32} (or {@link DType#I32}) elements on a {@link Device}: host
 * memory for {@link Device#CPU}, device memory for {@link Device#CUDA}. The device is a property
 * of the data: every op over tensors runs where its arguments are. Memory comes from the
 * device's caching allocator and is returned by {@link #close()}, never left to the garbage
 * collector: use try-with-resources or a scope that closes it.
 *
 * <p>Moving data between devices is always explicit: {@link #to(Device)} copies, {@link
 * #copyFrom(Tensor)} copies across devices, and {@link #get}, {@link #toArray()} and {@link
 * #copyFrom(float[])} stage through the host (one copy each way, synchronous). {@link #buffer()}
 * is a view of host memory and is refused for a device tensor.
 */
public final class Tensor implements AutoCloseable {
  private static final AtomicLong[] LIVE_BYTES = {new AtomicLong(), new AtomicLong()};
  private static final AtomicLong LIVE_COUNT = new AtomicLong();

  private final Shape shape;
  private final DType dtype;
  private final Device device;
  private final Tensor base; // non-null for a view: the tensor that owns the memory
  private Pointer data;
  private FloatBuffer view;

  private Tensor(Shape shape, DType dtype, Device device) {
    if (shape == null) throw new IllegalArgumentException("shape must not be null");
    if (dtype == null) throw new IllegalArgumentException("dtype must not be null");
    if (device == null) throw new IllegalArgumentException("device must not be null");
    if (shape.size() > Integer.MAX_VALUE)
      throw new IllegalArgumentException("shape " + shape + " has more than 2^31-1 elements");
    this.shape = shape;
    this.dtype = dtype;
    this.device = device;
    this.base = null;
    // no JavaCPP deallocator: close() returns the memory, and JavaCPP's GC-driven limit
    // (maxBytes, the Java heap size by default) does not apply
    this.data = Allocator.of(device).allocate(allocated());
    LIVE_BYTES[device.ordinal()].addAndGet(bytes());
    LIVE_COUNT.incrementAndGet();
  }

  private Tensor(Tensor base, Shape shape) {
    this.shape = shape;
    this.dtype = base.dtype;
    this.device = base.device;
    this.base = base;
    this.data = base.data;
  }

  // ------------------------------------------------------------------ creation

  /** Uninitialised F32 contents on the host. */
  public static Tensor empty(Shape shape) {
    return new Tensor(shape, DType.F32, Device.CPU);
  }

  /** Uninitialised F32 contents on {@code device}. */
  public static Tensor empty(Shape shape, Device device) {
    return new Tensor(shape, DType.F32, device);
  }

  public static Tensor empty(Shape shape, DType dtype, Device device) {
    return new Tensor(shape, dtype, device);
  }

  /** Zeros (F32) on the host. */
  public static Tensor zeros(Shape shape) {
    return zeros(shape, DType.F32, Device.CPU);
  }

  public static Tensor zeros(int... dims) {
    return zeros(Shape.of(dims));
  }

  public static Tensor zeros(Shape shape, Device device) {
    return zeros(shape, DType.F32, device);
  }

  public static Tensor zeros(Shape shape, DType dtype, Device device) {
    return make(shape, dtype, device, t -> t.fill(0f));
  }

  /** A new tensor that {@code init} fills; freed again if init throws. */
  private static Tensor make(Shape shape, DType dtype, Device device, java.util.function.Consumer<Tensor> init) {
    Tensor t = new Tensor(shape, dtype, device);
    try {
      init.accept(t);
      return t;
    } catch (RuntimeException | Error e) {
      t.close();
      throw e;
    }
  }

  /** {@code value} in every element (F32), on the host. */
  public static Tensor full(Shape shape, float value) {
    return full(shape, value, Device.CPU);
  }

  /** {@code value} in every element (F32), on {@code device}. */
  public static Tensor full(Shape shape, float value, Device device) {
    return make(shape, DType.F32, device, t -> t.fill(value));
  }

  /** Uniform values in [-1, 1) from {@code rng}, on the host. */
  public static Tensor rand(Random rng, int... dims) {
    Tensor t = new Tensor(Shape.of(dims), DType.F32, Device.CPU);
    FloatBuffer b = t.buffer();
    for (int i = 0; i < b.capacity(); i++) b.put(i, rng.nextFloat() * 2 - 1);
    return t;
  }

  /** A host tensor holding a copy of {@code values}, whose length must match the shape. */
  public static Tensor of(float[] values, int... dims) {
    return of(values, Shape.of(dims), Device.CPU);
  }

  /** A tensor on {@code device} holding a copy of {@code values} (staged through the host for a device). */
  public static Tensor of(float[] values, Shape shape, Device device) {
    return make(shape, DType.F32, device, t -> t.copyFrom(values));
  }

  /** An I32 tensor on {@code device} holding a copy of {@code values} (class labels, say). */
  public static Tensor ofInts(int[] values, Shape shape, Device device) {
    return make(shape, DType.I32, device, t -> t.copyFrom(values));
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
    return new Tensor(base == null ? this : base, s);
  }

  // ------------------------------------------------------------------ copies

  /** A new tensor on {@code device} holding a copy of this one; the caller owns (closes) it, even for the same device. */
  public Tensor to(Device device) {
    ensureOpen();
    return make(shape, dtype, device, t -> t.copyFrom(this));
  }

  /** A new tensor on this device holding a copy of this one. */
  public Tensor copy() {
    return to(device);
  }

  /** Copies {@code src} (as many elements, the same dtype, any device) into this tensor. */
  public void copyFrom(Tensor src) {
    if (src == null) throw new IllegalArgumentException("src must not be null");
    if (src.size() != size())
      throw new IllegalArgumentException("src: expected " + size() + " elements, got " + src.size());
    if (src.dtype != dtype) throw new IllegalArgumentException("src: expected " + dtype + ", got " + src.dtype);
    copyBytes(data(), device, src.data(), src.device, bytes());
  }

  /** Copies {@code values} (one per element) into this F32 tensor. */
  public void copyFrom(float[] values) {
    if (values == null || values.length != size())
      throw new IllegalArgumentException("values: expected " + size() + " floats for shape " + shape + ", got "
          + (values == null ? "null" : values.length));
    requireType(DType.F32);
    if (device == Device.CPU) {
      buffer().put(0, values);
      return;
    }
    try (FloatPointer host = new FloatPointer(values)) {
      copyBytes(data(), device, host, Device.CPU, bytes());
    }
  }

  /** Copies {@code values} (one per element) into this I32 tensor. */
  public void copyFrom(int[] values) {
    if (values == null || values.length != size())
      throw new IllegalArgumentException("values: expected " + size() + " ints for shape " + shape + ", got "
          + (values == null ? "null" : values.length));
    requireType(DType.I32);
    try (IntPointer host = new IntPointer(values)) {
      copyBytes(data(), device, host, Device.CPU, bytes());
    }
  }

  /** Sets every element to {@code v} (F32; 0 is also fine for I32). */
  public void fill(float v) {
    if (v == 0f) {
      if (size() == 0) return;
      if (device == Device.CPU) Pointer.memset(data(), 0, bytes());
      else NativeLib.check(SepconvNative.sepconv_cuda_memset(data(), 0, bytes()));
      return;
    }
    requireType(DType.F32);
    if (device == Device.CPU) {
      FloatBuffer b = buffer();
      for (int i = 0; i < b.capacity(); i++) b.put(i, v);
      return;
    }
    float[] values = new float[(int) size()];
    Arrays.fill(values, v);
    copyFrom(values);
  }

  /** Host to host, host to device, device to host or device to device; a device copy completes before this returns. */
  private static void copyBytes(Pointer dst, Device dd, Pointer src, Device sd, long bytes) {
    if (bytes == 0) return;
    if (dd == Device.CPU && sd == Device.CPU) {
      Pointer.memcpy(dst, src, bytes);
      return;
    }
    int kind = dd == Device.CPU ? SepconvNative.MEMCPY_DEVICE_TO_HOST
        : sd == Device.CPU ? SepconvNative.MEMCPY_HOST_TO_DEVICE : SepconvNative.MEMCPY_DEVICE_TO_DEVICE;
    NativeLib.check(SepconvNative.sepconv_cuda_memcpy(dst, src, bytes, kind));
  }

  // ------------------------------------------------------------------ reading

  /**
   * A direct, native-order view of this host F32 tensor's memory (position 0), invalid after
   * close(). A device tensor has no host memory: this refuses, naming what to do instead.
   */
  public FloatBuffer buffer() {
    ensureOpen();
    requireHost("buffer()");
    requireType(DType.F32);
    if (view == null) view = new FloatPointer(data).capacity(shape.size()).limit(shape.size()).asBuffer();
    return view.duplicate().clear();
  }

  /** A view of this host I32 tensor's memory (position 0). */
  public IntBuffer intBuffer() {
    ensureOpen();
    requireHost("intBuffer()");
    requireType(DType.I32);
    return new IntPointer(data).capacity(shape.size()).limit(shape.size()).asBuffer();
  }

  /** One F32 element; a device tensor copies it to the host (a synchronous 4-byte copy). */
  public float get(long index) {
    checkIndex(index);
    requireType(DType.F32);
    if (device == Device.CPU) return buffer().get((int) index);
    try (FloatPointer one = new FloatPointer(1)) {
      copyBytes(one, Device.CPU, new Pointer(data()).position(4 * index), device, 4);
      return one.get();
    }
  }

  /** Every F32 element in a new array; a device tensor is copied to the host. */
  public float[] toArray() {
    requireType(DType.F32);
    float[] out = new float[(int) shape.size()];
    if (device == Device.CPU) {
      buffer().get(0, out);
      return out;
    }
    try (FloatPointer host = new FloatPointer(Math.max(1, out.length))) {
      copyBytes(host, Device.CPU, data(), device, bytes());
      host.get(out);
    }
    return out;
  }

  /** Every I32 element in a new array; a device tensor is copied to the host. */
  public int[] toIntArray() {
    requireType(DType.I32);
    int[] out = new int[(int) shape.size()];
    try (IntPointer host = new IntPointer(Math.max(1, out.length))) {
      copyBytes(host, Device.CPU, data(), device, bytes());
      host.get(out);
    }
    return out;
  }

  private void checkIndex(long index) {
    if (index < 0 || index >= size())
      throw new IndexOutOfBoundsException("index " + index + " is outside " + shape + " (" + size() + " elements)");
  }

  private void requireHost(String what) {
    if (device != Device.CPU)
      throw new IllegalStateException(what + ": " + this + " lives in " + device + " memory, not the host's; copy it with "
          + "to(Device.CPU), or read it with toArray() or get(i)");
  }

  private void requireType(DType t) {
    if (dtype != t) throw new IllegalStateException(this + " holds " + dtype + " elements, not " + t);
  }

  // ------------------------------------------------------------------ facts

  public Shape shape() {
    return shape;
  }

  public DType dtype() {
    return dtype;
  }

  public Device device() {
    return device;
  }

  public long size() {
    return shape.size();
  }

  /** The bytes of the elements. */
  public long bytes() {
    return shape.size() * dtype.bytes();
  }

  private long allocated() {
    return Math.max(1, shape.size()) * dtype.bytes();
  }

  /**
   * The native address of element 0: host memory for a CPU tensor, device memory for a CUDA one.
   * For code that hands the tensor to native kernels of its own; valid until the tensor (or, for
   * a view, its base) is closed.
   */
  public long address() {
    return data().address();
  }

  private Pointer data() {
    ensureOpen();
    return data;
  }

  public boolean isClosed() {
    return data == null || (base != null && base.isClosed());
  }

  /** Frees the memory now (a view frees nothing). Idempotent. */
  @Override
  public synchronized void close() {
    if (data == null) return;
    if (base == null) {
      Allocator.of(device).release(data, allocated());
      LIVE_BYTES[device.ordinal()].addAndGet(-bytes());
      LIVE_COUNT.decrementAndGet();
    }
    data = null;
    view = null;
  }

  private void ensureOpen() {
    if (isClosed()) throw new IllegalStateException("tensor " + shape + " is closed");
  }

  /** Bytes held by the tensors on {@code device} that are not closed yet, process-wide. */
  public static long liveBytes(Device device) {
    return LIVE_BYTES[device.ordinal()].get();
  }

  /** Bytes held by every tensor not closed yet, on all devices. */
  public static long liveBytes() {
    long s = 0;
    for (AtomicLong a : LIVE_BYTES) s += a.get();
    return s;
  }

  public static long liveCount() {
    return LIVE_COUNT.get();
  }

  @Override
  public String toString() {
    return "Tensor" + shape + (dtype == DType.F32 ? "" : " " + dtype) + "@" + device + (isClosed() ? " (closed)" : "");
  }
}
