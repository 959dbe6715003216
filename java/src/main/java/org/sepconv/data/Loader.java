package org.sepconv.data;

import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntConsumer;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * One epoch of batches over a {@link Dataset}, built ahead by a background daemon thread.
 *
 * <p>Each image becomes x = (pixel/255 - mean[c]) / std[c], a [B, outChannels, H, W] float
 * tensor; a 1-channel data set may be read with outChannels = 3, which repeats the gray
 * channel. With {@code train} the order is a fresh shuffle and every image is augmented (see
 * {@link Augment}); without it the order is the data set's and nothing is augmented. The last
 * batch holds the remainder (no drop_last).
 *
 * <p>All randomness comes from one generator seeded from (seed, epoch) and is drawn in batch
 * order by the one producer thread, so the batches are a function of the arguments alone, not
 * of timing: a run resumed at epoch e sees the same batches as one that got there without
 * stopping.
 *
 * <p>Batches returned by {@link #next()} belong to the caller, who closes them; {@link
 * #close()} stops the producer and frees the batches it had built ahead. A loader that is never
 * closed keeps its thread and up to {@code prefetch} batches of native memory. Use it from one
 * thread.
 */
public final class Loader implements Iterator<Batch>, AutoCloseable {
  private final Dataset ds;
  private final int batchSize, outChannels, batches;
  private final boolean train;
  private final Augment aug;
  private final float[][] lut; // lut[oc][v]: the normalised value of pixel v in out channel oc
  private final int[] order;
  private final SplittableRandom rng; // the producer's, after the shuffle
  private final IntConsumer beforeBatch; // a test seam: runs in the producer before each batch
  private final BlockingQueue<Object> queue; // Batch, or the Throwable that ended the producer
  private final Thread producer;
  private final AtomicLong producerNanos = new AtomicLong();
  private volatile boolean closed;
  private long waitNanos;
  private int taken;
  private RuntimeException failure;

  /**
   * Starts producing the batches of one epoch.
   *
   * @param batchSize images per batch (the last may hold fewer), >= 1
   * @param train shuffle and augment when true; data set order, no augmentation when false
   * @param aug the augmentation when training (ignored otherwise)
   * @param mean per output channel, of pixels scaled to [0, 1]; outChannels values
   * @param std per output channel, each > 0; outChannels values
   * @param outChannels the data set's channels, or 3 for a 1-channel data set
   * @param seed with epoch, fixes the shuffle and the augmentation
   * @param prefetch batches built ahead, >= 1
   */
  public Loader(Dataset ds, int batchSize, boolean train, Augment aug, float[] mean, float[] std,
      int outChannels, long seed, int epoch, int prefetch) {
    this(ds, batchSize, train, aug, mean, std, outChannels, seed, epoch, prefetch, null);
  }

  Loader(Dataset ds, int batchSize, boolean train, Augment aug, float[] mean, float[] std,
      int outChannels, long seed, int epoch, int prefetch, IntConsumer beforeBatch) {
    if (batchSize < 1)
      throw new IllegalArgumentException("batchSize: must be >= 1, got " + batchSize);
    if (prefetch < 1) throw new IllegalArgumentException("prefetch: must be >= 1, got " + prefetch);
    if (train && aug == null) throw new IllegalArgumentException("aug: must not be null");
    int c = ds.channels();
    if (outChannels != c && !(c == 1 && outChannels == 3))
      throw new IllegalArgumentException("outChannels: expected " + c + (c == 1 ? " or 3" : "")
          + " for " + ds.name() + ", got " + outChannels);
    this.lut = new float[outChannels][256];
    for (int oc = 0; oc < outChannels; oc++) {
      float m = value(mean, "mean", oc, outChannels), s = value(std, "std", oc, outChannels);
      if (!(s > 0)) throw new IllegalArgumentException("std[" + oc + "]: must be > 0, got " + s);
      for (int v = 0; v < 256; v++) lut[oc][v] = (float) ((v / 255.0 - m) / s);
    }
    this.ds = ds;
    this.batchSize = batchSize;
    this.outChannels = outChannels;
    this.batches = (ds.size() + batchSize - 1) / batchSize;
    this.train = train;
    this.aug = aug;
    this.beforeBatch = beforeBatch;
    this.rng = new SplittableRandom(mix64(seed ^ mix64(epoch)));
    this.order = new int[ds.size()];
    for (int i = 0; i < order.length; i++) order[i] = i;
    if (train)
      for (int i = order.length - 1; i > 0; i--) { // Fisher-Yates
        int j = rng.nextInt(i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    this.queue = new ArrayBlockingQueue<>(prefetch);
    this.producer = new Thread(this::produce, "sepconv-loader");
    producer.setDaemon(true);
    producer.start();
  }

  private static float value(float[] a, String name, int i, int n) {
    if (a == null || a.length != n)
      throw new IllegalArgumentException(name + ": expected " + n + " values (outChannels), got "
          + (a == null ? "null" : a.length));
    if (!Float.isFinite(a[i]))
      throw new IllegalArgumentException(name + "[" + i + "]: must be finite, got " + a[i]);
    return a[i];
  }

  /** Stafford's mix13, as in SplittableRandom: nearby inputs give unrelated outputs. */
  private static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  /** The number of batches in the epoch. */
  public int batches() {
    return batches;
  }

  /** Nanoseconds the producer spent building batches so far. */
  public long producerNanos() {
    return producerNanos.get();
  }

  /** Nanoseconds {@link #next()} spent waiting for the producer so far. */
  public long waitNanos() {
    return waitNanos;
  }

  @Override
  public boolean hasNext() {
    return !closed && failure == null && taken < batches;
  }

  /**
   * The next batch, which the caller must close.
   *
   * @throws DataException or RuntimeException with the producer's message, when building a batch
   *     failed (again on every later call)
   * @throws NoSuchElementException after the last batch
   */
  @Override
  public Batch next() {
    if (failure != null) throw failure;
    if (closed) throw new IllegalStateException("loader is closed");
    if (taken == batches)
      throw new NoSuchElementException("the epoch's " + batches + " batches are all taken");
    long t0 = System.nanoTime();
    Object o;
    try {
      o = queue.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for a batch", e);
    } finally {
      waitNanos += System.nanoTime() - t0;
    }
    if (o instanceof Throwable t) {
      String msg = t.getMessage() != null ? t.getMessage() : t.toString();
      failure = t instanceof DataException ? new DataException(msg, t)
          : new RuntimeException(msg, t);
      throw failure;
    }
    taken++;
    return (Batch) o;
  }

  /** Stops the producer (waiting for it to end) and frees the batches not yet taken. */
  @Override
  public void close() {
    if (closed) return;
    closed = true;
    producer.interrupt();
    boolean interrupted = false;
    while (producer.isAlive()) {
      try {
        producer.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    for (Object o; (o = queue.poll()) != null; ) if (o instanceof Batch b) b.close();
    if (interrupted) Thread.currentThread().interrupt();
  }

  private void produce() {
    int plane = ds.height() * ds.width();
    float[] staging = new float[batchSize * outChannels * plane];
    try {
      for (int b = 0; b < batches && !closed; b++) {
        if (beforeBatch != null) beforeBatch.accept(b);
        long t0 = System.nanoTime();
        Batch batch = build(b, staging);
        producerNanos.addAndGet(System.nanoTime() - t0);
        try {
          queue.put(batch);
        } catch (InterruptedException e) { // close() wants us gone
          batch.close();
          return;
        }
      }
    } catch (Throwable t) { // handed to next(), which rethrows it on the consumer's thread
      try {
        queue.put(t);
      } catch (InterruptedException e) {
        // close() wants us gone; nobody will call next()
      }
    }
  }

  private Batch build(int b, float[] staging) {
    int c = ds.channels(), h = ds.height(), w = ds.width(), per = outChannels * h * w;
    int start = b * batchSize, n = Math.min(batchSize, ds.size() - start);
    byte[] images = ds.images();
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      int idx = order[start + i];
      labels[i] = ds.label(idx);
      if (train) {
        int dy = rng.nextInt(2 * aug.padCrop() + 1), dx = rng.nextInt(2 * aug.padCrop() + 1);
        boolean flip = aug.flip() && rng.nextBoolean();
        augmentInto(images, idx * c * h * w, c, h, w, lut, aug.padCrop(), dy, dx, flip,
            staging, i * per);
        if (aug.cutout() > 0)
          cutoutInto(staging, i * per, outChannels, h, w, aug.cutout(), rng.nextInt(h),
              rng.nextInt(w));
      } else {
        augmentInto(images, idx * c * h * w, c, h, w, lut, 0, 0, 0, false, staging, i * per);
      }
    }
    Tensor t = Tensor.empty(Shape.of(n, outChannels, h, w));
    t.buffer().put(0, staging, 0, n * per);
    return new Batch(t, labels);
  }

  /**
   * Writes one normalised image, cropped and maybe flipped, to dst[dstOff..]: out channel oc,
   * pixel (y, x) is lut[oc][src pixel (y + dy - pad, x' + dx - pad)] with x' = w-1-x when
   * flipped, else x; positions outside the source read pixel 0 (the zero padding). The source
   * channel is oc, or 0 when the source has one channel and lut has more.
   */
  static void augmentInto(byte[] src, int srcOff, int channels, int h, int w, float[][] lut,
      int pad, int dy, int dx, boolean flip, float[] dst, int dstOff) {
    int plane = h * w, shift = dx - pad;
    // the x whose source column is inside the image: sx = x + shift, or w-1-x + shift flipped
    int x0 = Math.max(0, flip ? shift : -shift), x1 = Math.min(w, flip ? w + shift : w - shift);
    for (int oc = 0; oc < lut.length; oc++) {
      float[] l = lut[oc];
      int s = srcOff + (channels == lut.length ? oc : 0) * plane, d = dstOff + oc * plane;
      for (int y = 0; y < h; y++) {
        int sy = y + dy - pad, row = d + y * w;
        if (sy < 0 || sy >= h || x0 >= x1) {
          Arrays.fill(dst, row, row + w, l[0]);
          continue;
        }
        Arrays.fill(dst, row, row + x0, l[0]);
        Arrays.fill(dst, row + x1, row + w, l[0]);
        if (flip) {
          int base = s + sy * w + w - 1 + shift;
          for (int x = x0; x < x1; x++) dst[row + x] = l[src[base - x] & 0xFF];
        } else {
          int base = s + sy * w + shift;
          for (int x = x0; x < x1; x++) dst[row + x] = l[src[base + x] & 0xFF];
        }
      }
    }
  }

  /**
   * Zeroes, in every channel of the image at dst[dstOff..], the size×size square whose top left
   * is (cy - size/2, cx - size/2), clipped at the borders.
   */
  static void cutoutInto(float[] dst, int dstOff, int channels, int h, int w, int size, int cy,
      int cx) {
    int y0 = Math.max(0, cy - size / 2), y1 = Math.min(h, cy - size / 2 + size);
    int x0 = Math.max(0, cx - size / 2), x1 = Math.min(w, cx - size / 2 + size);
    for (int c = 0; c < channels; c++)
      for (int y = y0; y < y1; y++) {
        int row = dstOff + (c * h + y) * w;
        Arrays.fill(dst, row + x0, row + x1, 0f);
      }
  }
}
