package org.sepconv.autograd;

/** Whether ops record the tape on this thread. {@code try (var g = GradMode.noGrad()) {...}} turns it off. */
public final class GradMode {
  private static final ThreadLocal<Boolean> ENABLED = ThreadLocal.withInitial(() -> true);

  private GradMode() {}

  public static boolean isEnabled() {
    return ENABLED.get();
  }

  /** Disables recording until the returned guard is closed (restoring the previous mode). */
  public static AutoCloseable noGrad() {
    boolean before = ENABLED.get();
    ENABLED.set(false);
    return new Guard(before);
  }

  private record Guard(boolean before) implements AutoCloseable {
    @Override
    public void close() {
      ENABLED.set(before);
    }
  }
}
