package org.sepconv.ops;

/** Activations that ops can fuse: ReLU is max(x, 0), ReLU6 is min(max(x, 0), 6). */
public enum Activation {
  NONE,
  RELU,
  RELU6;

  /** The SEPCONV_ACT_* value. */
  public int code() {
    return ordinal();
  }
}
