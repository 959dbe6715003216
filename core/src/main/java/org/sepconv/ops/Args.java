package org.sepconv.ops;

import java.nio.Buffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.tensor.DType;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Tensor;

/**
 * The arguments of one native call, checked before anything runs and then handed over as
 * pointers; the one place where {@link Ops} turns buffers or tensors into memory.
 *
 * <p>Buffers (the host-only façade): a buffer's data starts at its position, and it needs at
 * least the op's element count between its position and its limit. A float or int view of a
 * {@code ByteBuffer} at an odd byte offset is legal NIO but not aligned for the kernels: it is
 * staged through an aligned copy (copied back for outputs), so it gives the same result.
 *
 * <p>Tensors: each must be open, of the element type the op reads, hold exactly the op's element
 * count, and live on the same device as the others; that device is where the op runs, with the
 * thread's {@link Exec#use algorithm}.
 *
 * <p>Both: outputs must be writable, and no output may overlap another argument unless the op
 * says it may be the very same memory (an in-place activation, say).
 *
 * <p>Use: one instance per call, {@code try (Args a = Args.host(exec)) {...}} or {@link
 * #tensors()}; take the pointers with {@link #in}, {@link #out}, {@link #ints} and friends, then
 * call the binding inside {@link #done}{@code (op, a.start(), status)}: Java evaluates {@link
 * #start()} (the overlap check) and {@link #exec()} before the native call.
 */
final class Args implements AutoCloseable {
  /** One argument of an op: a buffer or a tensor (null stays null: an absent argument). */
  static final class Arg {
    final Buffer buffer;
    final Tensor tensor;

    private Arg(Buffer buffer, Tensor tensor) {
      this.buffer = buffer;
      this.tensor = tensor;
    }

    static Arg of(Buffer b) {
      return b == null ? null : new Arg(b, null);
    }

    static Arg of(Tensor t) {
      return t == null ? null : new Arg(null, t);
    }
  }

  /** A pointer at a known address, without a JNI call. */
  private static final class Address extends Pointer {
    Address(long address) {
      this.address = address;
    }
  }

  private static final int MAX = 16;
  private final Exec exec; // the buffers' exec, or null for tensors
  private Device device;
  private String deviceArg;
  private final String[] names = new String[MAX];
  private final long[] begin = new long[MAX], end = new long[MAX];
  private final boolean[] written = new boolean[MAX];
  private final String[] sameOk = new String[MAX]; // "out=other": pairs that may be the same memory
  private int sameCount;
  private int count;
  private Pointer[] stagedCopy; // aligned copies of misaligned buffers, null if none
  private Pointer[] stagedOrig;
  private long[] stagedBytes;
  private boolean[] stagedOut;
  private int staged;

  private Args(Exec exec) {
    this.exec = exec;
  }

  /** The arguments of a call over buffers: host memory, run as {@code e} says. */
  static Args host(Exec e) {
    if (e == null) throw new IllegalArgumentException("exec must not be null (use Exec.CPU)");
    if (e.device() != Device.CPU)
      throw new IllegalArgumentException("exec: FloatBuffers are host memory, so their ops run on the CPU, got " + e
          + "; for " + e.device() + " pass Tensors that live there (Tensor.to(Device." + e.device() + "))");
    return new Args(e);
  }

  /** The arguments of a call over tensors: it runs on their device. */
  static Args tensors() {
    return new Args(null);
  }

  /** The SEPCONV_EXEC value of the call: the buffers' exec, or the tensors' device with this thread's algorithm. */
  int exec() {
    if (exec != null) return exec.code();
    if (device == null) throw new IllegalStateException("no tensor argument was taken");
    return Exec.code(device, Exec.currentAlgo());
  }

  /** An F32 input of {@code need} elements. */
  FloatPointer in(String name, Arg a, long need) {
    return new FloatPointer(take(name, a, need, false, DType.F32));
  }

  /** An F32 output (or an in/out, such as an accumulated gradient) of {@code need} elements. */
  FloatPointer out(String name, Arg a, long need) {
    return new FloatPointer(take(name, a, need, true, DType.F32));
  }

  /** As {@link #in}, but null stays null (an optional argument). */
  FloatPointer optIn(String name, Arg a, long need) {
    return a == null ? null : in(name, a, need);
  }

  FloatPointer optOut(String name, Arg a, long need) {
    return a == null ? null : out(name, a, need);
  }

  /** An int32 input ({@code writable} false) or output of {@code need} elements. */
  IntPointer ints(String name, Arg a, long need, boolean writable) {
    return new IntPointer(take(name, a, need, writable, DType.I32));
  }

  /** Allows output {@code out} to be exactly the memory of argument {@code other}. */
  void maySame(String out, String other) {
    sameOk[sameCount++] = out + "=" + other;
  }

  private boolean sameAllowed(String a, String b) {
    for (int i = 0; i < sameCount; i++) if (sameOk[i].equals(a + "=" + b) || sameOk[i].equals(b + "=" + a)) return true;
    return false;
  }

  /** Checks that no output overlaps another argument; returns the profiler's start time. */
  long start() {
    for (int i = 0; i < count; i++)
      for (int j = i + 1; j < count; j++) {
        if (!(written[i] || written[j]) || begin[i] >= end[j] || begin[j] >= end[i]) continue;
        if (begin[i] == begin[j] && end[i] == end[j] && sameAllowed(names[i], names[j])) continue;
        String o = written[i] ? names[i] : names[j], other = o == names[i] ? names[j] : names[i];
        throw new IllegalArgumentException(o + " must not overlap " + other + (begin[i] == begin[j] && end[i] == end[j]
            ? " (they are the same memory, and this op cannot run in place)" : " (their memory ranges intersect)"));
      }
    return Profiler.start();
  }

  /** Records the call's time, copies staged outputs back and turns a bad status into an exception. */
  void done(String op, long t0, int status) {
    Profiler.stop(op, t0);
    if (status == 0) copyBack();
    NativeLib.check(status);
  }

  private Pointer take(String name, Arg a, long need, boolean writable, DType type) {
    if (a == null) throw new IllegalArgumentException(name + " must not be null");
    if (count == MAX) throw new IllegalStateException("more than " + MAX + " arguments");
    Pointer p = a.tensor != null ? tensor(name, a.tensor, need, type) : buffer(name, a.buffer, need, writable, type);
    names[count] = name;
    begin[count] = p.address();
    end[count] = p.address() + 4 * need;
    written[count] = writable;
    count++;
    return a.buffer != null && (p.address() & 3) != 0 ? stage(p, 4 * need, writable) : p;
  }

  private Pointer tensor(String name, Tensor t, long need, DType type) {
    if (t.isClosed()) throw new IllegalArgumentException(name + " is a closed tensor");
    if (t.dtype() != type) throw new IllegalArgumentException(name + " must hold " + type + " elements, got " + t);
    if (device == null) {
      device = t.device();
      deviceArg = name;
    } else if (t.device() != device) {
      throw new IllegalArgumentException(name + " is on " + t.device() + " but " + deviceArg + " is on " + device
          + ": the tensors of an op must be on one device (move one with Tensor.to)");
    }
    if (t.size() != need)
      throw new IllegalArgumentException(name + " must have " + need + " elements, got " + t.shape() + " (" + t.size() + ")");
    return new Address(t.address());
  }

  private Pointer buffer(String name, Buffer b, long need, boolean writable, DType type) {
    boolean floats = b instanceof FloatBuffer;
    if (floats != (type == DType.F32))
      throw new IllegalArgumentException(name + " must be a" + (floats ? "n IntBuffer" : " FloatBuffer"));
    String kind = floats ? "floats" : "ints";
    if (!b.isDirect())
      throw new IllegalArgumentException(name + " must be a direct buffer (ByteBuffer.allocateDirect(4 * n)"
          + ".order(ByteOrder.nativeOrder()).as" + (floats ? "Float" : "Int") + "Buffer()), got a heap buffer");
    ByteOrder order = floats ? ((FloatBuffer) b).order() : ((IntBuffer) b).order();
    if (order != ByteOrder.nativeOrder())
      throw new IllegalArgumentException(name + " must be in native byte order (" + ByteOrder.nativeOrder() + "), got " + order);
    if (b.remaining() < need)
      throw new IllegalArgumentException(name + " needs " + need + " " + kind + " from its position, but has "
          + b.remaining() + " (position " + b.position() + ", limit " + b.limit() + ")");
    if (writable && b.isReadOnly()) throw new IllegalArgumentException(name + " is an output and must be writable, got a read-only buffer");
    // the data from the position on: a slice starts there (JavaCPP's Pointer(Buffer) mishandles positions)
    return new Pointer(floats ? ((FloatBuffer) b).slice() : ((IntBuffer) b).slice());
  }

  private Pointer stage(Pointer orig, long bytes, boolean writable) {
    if (stagedCopy == null) {
      stagedCopy = new Pointer[MAX];
      stagedOrig = new Pointer[MAX];
      stagedBytes = new long[MAX];
      stagedOut = new boolean[MAX];
    }
    Pointer copy = Pointer.malloc(Math.max(bytes, 4));
    if (copy == null || copy.isNull()) throw new OutOfMemoryError("cannot allocate " + bytes + " bytes to align an argument");
    Pointer.memcpy(copy, orig, bytes);
    stagedCopy[staged] = copy;
    stagedOrig[staged] = orig;
    stagedBytes[staged] = bytes;
    stagedOut[staged] = writable;
    staged++;
    return copy;
  }

  private void copyBack() {
    for (int i = 0; i < staged; i++) if (stagedOut[i]) Pointer.memcpy(stagedOrig[i], stagedCopy[i], stagedBytes[i]);
  }

  /** Frees the staging copies. */
  @Override
  public void close() {
    for (int i = 0; i < staged; i++) Pointer.free(stagedCopy[i]);
    staged = 0;
  }
}
