package org.sepconv.autograd;

/** Whether ops record the tape on this thread. {@code try (var g = GradMode.noGrad()) {...}} turns it off. */
public final class GradMode {
  private static final ThreadLocal<Boolean> ENABLED = ThreadLocal.withInitial(() -> true);

  private GradMode() {}

  public static boolean isEnabled() {
    return ENABLED.get();
  }

  /** Disables recording until the returned guard is closed (restoring the previous mode). */
  public static Guard noGrad() {
    boolean before = ENABLED.get();
    ENABLED.set(false);
    return new Guard(before);
  }

  /** Restores the previous grad mode on close; closing throws nothing. */
  public static final class Guard implements AutoCloseable {
    private final boolean before;

    private Guard(boolean before) {
      this.before = before;
    }

    @Override
    public void close() {
      ENABLED.set(before);
    }
  }
}
