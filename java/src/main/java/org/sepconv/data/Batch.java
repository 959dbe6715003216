package org.sepconv.data;

import org.sepconv.tensor.Device;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * A batch of normalised images, [B, C, H, W], and their labels: as an I32 tensor beside the
 * images (what the loss reads) and as host ints (what accuracy counts compare with). The batch
 * owns its tensors: {@link #close()} frees them, and closing twice is harmless.
 */
public final class Batch implements AutoCloseable {
  private final Tensor images, labelTensor;
  private final int[] labels;

  Batch(Tensor images, int[] labels) {
    this(images, Tensor.ofInts(labels, Shape.of(labels.length), images.device()), labels);
  }

  private Batch(Tensor images, Tensor labelTensor, int[] labels) {
    this.images = images;
    this.labelTensor = labelTensor;
    this.labels = labels;
  }

  public Tensor images() {
    return images;
  }

  /** The labels as an I32 tensor on the images' device. */
  public Tensor labelTensor() {
    return labelTensor;
  }

  /** The labels, on the host. */
  public int[] labels() {
    return labels;
  }

  public int size() {
    return labels.length;
  }

  /**
   * This batch on {@code device}: itself when it is there already, else a copy (one upload of
   * the images and the labels) that the caller closes as well.
   */
  public Batch on(Device device) {
    if (images.device() == device) return this;
    Tensor im = images.to(device);
    try {
      return new Batch(im, labelTensor.to(device), labels);
    } catch (RuntimeException e) {
      im.close();
      throw e;
    }
  }

  @Override
  public void close() {
    images.close();
    labelTensor.close();
  }
}
