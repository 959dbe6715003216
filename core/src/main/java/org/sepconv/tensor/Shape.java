package org.sepconv.tensor;

import java.util.Arrays;

/** An immutable list of dimensions, outermost first (NCHW for images). */
public final class Shape {
  private final int[] dims;
  private final long size;

  public Shape(int... dims) {
    if (dims == null) throw new IllegalArgumentException("dims must not be null");
    long s = 1;
    for (int i = 0; i < dims.length; i++) {
      if (dims[i] < 0)
        throw new IllegalArgumentException("dims[" + i + "] must be >= 0, got " + dims[i]);
      s = Math.multiplyExact(s, dims[i]);
    }
    this.dims = dims.clone();
    this.size = s;
  }

  public static Shape of(int... dims) {
    return new Shape(dims);
  }

  public int rank() {
    return dims.length;
  }

  public int get(int axis) {
    return dims[axis];
  }

  public int[] dims() {
    return dims.clone();
  }

  /** The number of elements. */
  public long size() {
    return size;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Shape && Arrays.equals(dims, ((Shape) o).dims);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(dims);
  }

  @Override
  public String toString() {
    return Arrays.toString(dims);
  }
}
