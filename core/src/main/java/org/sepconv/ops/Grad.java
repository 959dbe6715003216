package org.sepconv.ops;

/**
 * Output-mask bits for backward ops: only the gradients asked for are computed. Input
 * gradients are overwritten; weight and bias gradients accumulate (+=).
 */
public final class Grad {
  private Grad() {}

  /** dx */
  public static final int INPUT = 1;
  /** dw (conv, linear) or dgamma (batch norm) */
  public static final int WEIGHT = 2;
  /** dbias (conv, linear) or dbeta (batch norm) */
  public static final int BIAS = 4;
  public static final int ALL = INPUT | WEIGHT | BIAS;
}
