package org.sepconv.tensor;

/**
 * The element type of a tensor: 32-bit floats for data and parameters, 32-bit ints for class
 * labels and pooling indices (the kernels' {@code int32_t}).
 */
public enum DType {
  F32,
  I32;

  /** Bytes per element. */
  public int bytes() {
    return 4;
  }
}
