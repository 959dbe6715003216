package org.sepconv.ops;

import java.nio.Buffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.sepconv.nativeapi.NativeLib;

/**
 * The arguments of one native call, checked before anything runs and then handed over as
 * pointers. One rule holds for every buffer of every entry point: its data starts at its
 * position, and it needs at least the op's element count between its position and its limit.
 * Outputs must be writable, and no output may overlap another argument unless the op says it
 * may be the very same memory (an in-place activation, say). A float or int view of a
 * {@code ByteBuffer} at an odd byte offset is legal NIO but not aligned for the kernels: it is
 * staged through an aligned copy (copied back for outputs), so it gives the same result.
 *
 * <p>Use: one instance per call, {@code try (Args a = new Args()) {...}}; take the pointers
 * with {@link #in}, {@link #out}, {@link #ints} and friends, then call the binding inside
 * {@link #done}{@code (op, a.start(), status)}: Java evaluates {@link #start()} (the overlap
 * check) before the native call.
 */
final class Args implements AutoCloseable {
  private static final int MAX = 16;
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

  /** An input of {@code need} floats. */
  FloatPointer in(String name, FloatBuffer b, long need) {
    return new FloatPointer(take(name, b, need, false));
  }

  /** An output (or an in/out, such as an accumulated gradient) of {@code need} floats. */
  FloatPointer out(String name, FloatBuffer b, long need) {
    return new FloatPointer(take(name, b, need, true));
  }

  /** As {@link #in}, but null stays null (an optional argument). */
  FloatPointer optIn(String name, FloatBuffer b, long need) {
    return b == null ? null : in(name, b, need);
  }

  FloatPointer optOut(String name, FloatBuffer b, long need) {
    return b == null ? null : out(name, b, need);
  }

  /** An int32 input ({@code writable} false) or output of {@code need} ints. */
  IntPointer ints(String name, IntBuffer b, long need, boolean writable) {
    return new IntPointer(take(name, b, need, writable));
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

  private Pointer take(String name, Buffer b, long need, boolean writable) {
    if (b == null) throw new IllegalArgumentException(name + " must not be null");
    String kind = b instanceof FloatBuffer ? "floats" : "ints";
    if (!b.isDirect())
      throw new IllegalArgumentException(name + " must be a direct buffer (ByteBuffer.allocateDirect(4 * n)"
          + ".order(ByteOrder.nativeOrder()).as" + (b instanceof FloatBuffer ? "Float" : "Int") + "Buffer()), got a heap buffer");
    ByteOrder order = b instanceof FloatBuffer f ? f.order() : ((IntBuffer) b).order();
    if (order != ByteOrder.nativeOrder())
      throw new IllegalArgumentException(name + " must be in native byte order (" + ByteOrder.nativeOrder() + "), got " + order);
    if (b.remaining() < need)
      throw new IllegalArgumentException(name + " needs " + need + " " + kind + " from its position, but has "
          + b.remaining() + " (position " + b.position() + ", limit " + b.limit() + ")");
    if (writable && b.isReadOnly()) throw new IllegalArgumentException(name + " is an output and must be writable, got a read-only buffer");
    if (count == MAX) throw new IllegalStateException("more than " + MAX + " arguments");
    // the data from the position on: a slice starts there (JavaCPP's Pointer(Buffer) mishandles positions)
    Buffer from = b instanceof FloatBuffer f ? f.slice() : ((IntBuffer) b).slice();
    Pointer p = new Pointer(from);
    long bytes = 4 * need;
    names[count] = name;
    begin[count] = p.address();
    end[count] = p.address() + bytes;
    written[count] = writable;
    count++;
    return (p.address() & 3) == 0 ? p : stage(p, bytes, writable);
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
