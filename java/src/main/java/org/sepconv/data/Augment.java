package org.sepconv.data;

/**
 * Training-time augmentation, applied in this order (as the usual torchvision CIFAR pipeline
 * {@code RandomCrop(32, padding=4), RandomHorizontalFlip(), Normalize, Cutout}):
 *
 * <ol>
 *   <li>random crop: the raw image is padded with {@code padCrop} zero pixels on every side and
 *       a window of the original size is taken at an offset uniform in [0, 2·padCrop] along each
 *       axis. The padding is pixel value 0 (black) before normalisation, as torchvision's
 *       default {@code fill=0}, so it becomes -mean/std after;
 *   <li>horizontal flip with probability 1/2;
 *   <li>cutout (DeVries and Taylor 2017): after normalisation, a {@code cutout}×{@code cutout}
 *       square around a centre uniform over the image is set to 0 (the mean), clipped at the
 *       borders, in every image.
 * </ol>
 *
 * Zero turns a step off.
 */
public record Augment(int padCrop, boolean flip, int cutout) {
  public static final Augment NONE = new Augment(0, false, 0);

  public Augment {
    if (padCrop < 0) throw new IllegalArgumentException("padCrop: must be >= 0, got " + padCrop);
    if (cutout < 0) throw new IllegalArgumentException("cutout: must be >= 0, got " + cutout);
  }

  /** The standard CIFAR augmentation: pad-4 random crop and horizontal flip, no cutout. */
  public static Augment standard() {
    return new Augment(4, true, 0);
  }
}
