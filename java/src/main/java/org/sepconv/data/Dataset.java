package org.sepconv.data;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Labelled images held in memory as unsigned bytes: {@code images()} holds N images of C×H×W
 * bytes each, planar (all of channel 0, then channel 1, ...), rows top to bottom; {@code
 * labels()} holds N class indices. The arrays are shared, not copied: do not modify them.
 */
public final class Dataset {
  private final String name;
  private final String[] classes;
  private final int channels, height, width;
  private final byte[] images, labels;

  /**
   * Checks that {@code images} holds {@code labels.length} images of channels×height×width bytes
   * and that every label indexes {@code classes}; keeps the arrays without copying them.
   */
  public Dataset(String name, String[] classes, int channels, int height, int width,
      byte[] images, byte[] labels) {
    if (classes.length < 1 || classes.length > 256)
      throw new IllegalArgumentException("classes: expected 1..256 names, got " + classes.length);
    if (channels < 1 || height < 1 || width < 1)
      throw new IllegalArgumentException("channels, height, width: must be >= 1, got "
          + channels + ", " + height + ", " + width);
    if (labels.length == 0)
      throw new IllegalArgumentException("labels: a data set needs at least one image");
    if ((long) labels.length * channels * height * width != images.length)
      throw new IllegalArgumentException("images: expected " + labels.length + " × " + channels
          + "×" + height + "×" + width + " bytes, got " + images.length);
    for (int i = 0; i < labels.length; i++)
      if ((labels[i] & 0xFF) >= classes.length)
        throw new IllegalArgumentException("labels[" + i + "]: " + (labels[i] & 0xFF)
            + " is not below the " + classes.length + " classes");
    this.name = name;
    this.classes = classes.clone();
    this.channels = channels;
    this.height = height;
    this.width = width;
    this.images = images;
    this.labels = labels;
  }

  public String name() {
    return name;
  }

  public String[] classes() {
    return classes.clone();
  }

  public int channels() {
    return channels;
  }

  public int height() {
    return height;
  }

  public int width() {
    return width;
  }

  public int size() {
    return labels.length;
  }

  public int label(int i) {
    return labels[i] & 0xFF;
  }

  /** All images, N×C×H×W unsigned bytes (shared, not a copy). */
  public byte[] images() {
    return images;
  }

  /** All labels, N unsigned bytes (shared, not a copy). */
  public byte[] labels() {
    return labels;
  }

  /**
   * {@code n} images picked by a shuffle seeded with {@code seed} (not stratified), kept in
   * their original order. The same (n, seed) picks the same images.
   */
  public Dataset subset(int n, long seed) {
    if (n < 1 || n > size())
      throw new IllegalArgumentException("limit " + n + " must be in 1.." + size()
          + ", the size of " + name);
    int[] order = new int[size()];
    for (int i = 0; i < order.length; i++) order[i] = i;
    SplittableRandom rng = new SplittableRandom(seed);
    for (int i = 0; i < n; i++) { // partial Fisher-Yates: order[0..n) is a uniform sample
      int j = i + rng.nextInt(order.length - i);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    int[] pick = Arrays.copyOf(order, n);
    Arrays.sort(pick);
    int bytes = channels * height * width;
    byte[] im = new byte[n * bytes], lb = new byte[n];
    for (int i = 0; i < n; i++) {
      System.arraycopy(images, pick[i] * bytes, im, i * bytes, bytes);
      lb[i] = labels[pick[i]];
    }
    return new Dataset(name, classes, channels, height, width, im, lb);
  }

  /** Per-channel mean of the pixels scaled to [0, 1], over the whole data set. */
  public double[] channelMean() {
    return moments()[0];
  }

  /** Per-channel population standard deviation of the pixels scaled to [0, 1]. */
  public double[] channelStd() {
    return moments()[1];
  }

  /** {mean, std} per channel, two passes over a histogram of the 256 byte values per channel. */
  private double[][] moments() {
    long[][] hist = new long[channels][256];
    int plane = height * width;
    for (int p = 0; p < images.length; p += plane) {
      long[] h = hist[(p / plane) % channels];
      for (int i = p; i < p + plane; i++) h[images[i] & 0xFF]++;
    }
    double[] mean = new double[channels], std = new double[channels];
    double count = (double) size() * plane;
    for (int c = 0; c < channels; c++) {
      double s = 0, ss = 0;
      for (int v = 0; v < 256; v++) s += hist[c][v] * (v / 255.0);
      mean[c] = s / count;
      for (int v = 0; v < 256; v++) {
        double d = v / 255.0 - mean[c];
        ss += hist[c][v] * d * d;
      }
      std[c] = Math.sqrt(ss / count);
    }
    return new double[][] {mean, std};
  }

  @Override
  public String toString() {
    return name + " (" + size() + " images " + channels + "×" + height + "×" + width + ", "
        + classes.length + " classes)";
  }
}
