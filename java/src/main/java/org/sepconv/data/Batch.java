package org.sepconv.data;

import org.sepconv.tensor.Tensor;

/**
 * A batch of normalised images, [B, C, H, W], and their labels. The batch owns the image
 * tensor: {@link #close()} frees it.
 */
public final class Batch implements AutoCloseable {
  private final Tensor images;
  private final int[] labels;

  Batch(Tensor images, int[] labels) {
    this.images = images;
    this.labels = labels;
  }

  public Tensor images() {
    return images;
  }

  public int[] labels() {
    return labels;
  }

  public int size() {
    return labels.length;
  }

  @Override
  public void close() {
    images.close();
  }
}
