package org.sepconv.data;

import java.util.SplittableRandom;

/**
 * A learnable stand-in for a real data set, for smoke tests that must run offline in seconds.
 * Each class has a template: a colour per channel plus a smooth pattern (a random 4×4 grid
 * interpolated bilinearly to the image size). An image is its class's template plus
 * independent uniform noise of ±48 per pixel. The colours mostly survive global pooling and the
 * patterns are smooth, so a small network learns it in an epoch or two, with or without crop
 * and flip augmentation. With one channel and many classes some colours are close, and only
 * the patterns tell those classes apart.
 *
 * <p>The templates depend only on (classes, channels, size), never on the seed: data sets made
 * with different seeds share them, so make the train and test splits with different seeds.
 */
public final class Synthetic {
  private Synthetic() {}

  private static final long TEMPLATE_SEED = 0x5EC0_4A7AL;
  private static final int GRID = 4, NOISE = 48;

  /**
   * {@code n} images of {@code channels}×{@code size}×{@code size}, labels balanced over {@code
   * classes} (they differ by at most one) in an order shuffled by {@code seed}. Deterministic:
   * the same arguments give the same bytes.
   */
  public static Dataset make(int n, int classes, int channels, int size, long seed) {
    if (n < 1 || classes < 2 || classes > 256 || channels < 1 || size < 1)
      throw new IllegalArgumentException("n >= 1, classes in 2..256, channels >= 1, size >= 1 "
          + "expected, got n=" + n + ", classes=" + classes + ", channels=" + channels
          + ", size=" + size);
    int plane = size * size, bytes = channels * plane;
    if ((long) n * bytes > Integer.MAX_VALUE - 8)
      throw new IllegalArgumentException("n: " + n + " images of " + bytes
          + " bytes do not fit in one byte array");
    float[] templates = templates(classes, channels, size);
    SplittableRandom rng = new SplittableRandom(seed);
    byte[] labels = new byte[n], images = new byte[n * bytes];
    for (int i = 0; i < n; i++) labels[i] = (byte) (i % classes);
    for (int i = n - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      byte t = labels[i];
      labels[i] = labels[j];
      labels[j] = t;
    }
    for (int i = 0; i < n; i++) {
      int t = (labels[i] & 0xFF) * bytes;
      for (int k = 0; k < bytes; k++) {
        float v = templates[t + k] + rng.nextInt(-NOISE, NOISE + 1);
        images[i * bytes + k] = (byte) Math.max(0, Math.min(255, Math.round(v)));
      }
    }
    String[] names = new String[classes];
    for (int c = 0; c < classes; c++) names[c] = "class" + c;
    return new Dataset("synthetic", names, channels, size, size, images, labels);
  }

  /** classes × channels × size × size template values, around 128 and within [16, 240]. */
  private static float[] templates(int classes, int channels, int size) {
    SplittableRandom rng = new SplittableRandom(TEMPLATE_SEED);
    int plane = size * size;
    float[] t = new float[classes * channels * plane];
    float[] grid = new float[GRID * GRID];
    for (int k = 0; k < classes * channels; k++) {
      float colour = 128 + rng.nextInt(-64, 65);
      for (int g = 0; g < grid.length; g++) grid[g] = rng.nextInt(-48, 49);
      for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
          t[k * plane + y * size + x] = colour + bilinear(grid, (float) y / size * (GRID - 1),
              (float) x / size * (GRID - 1));
    }
    return t;
  }

  private static float bilinear(float[] g, float y, float x) {
    int y0 = (int) y, x0 = (int) x;
    int y1 = Math.min(y0 + 1, GRID - 1), x1 = Math.min(x0 + 1, GRID - 1);
    float fy = y - y0, fx = x - x0;
    float top = g[y0 * GRID + x0] * (1 - fx) + g[y0 * GRID + x1] * fx;
    float bottom = g[y1 * GRID + x0] * (1 - fx) + g[y1 * GRID + x1] * fx;
    return top * (1 - fy) + bottom * fy;
  }
}
