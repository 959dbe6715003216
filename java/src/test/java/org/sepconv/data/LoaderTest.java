package org.sepconv.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Random;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.Test;
import org.sepconv.tensor.Tensor;

class LoaderTest {
  private static final float[] ZERO3 = {0, 0, 0}, ONE3 = {1, 1, 1};

  /** n images of c×h×w whose first pixel of channel 0 is the image's index. */
  private static Dataset indexed(int n, int c, int h, int w) {
    Random rng = new Random(n);
    byte[] im = new byte[n * c * h * w], lb = new byte[n];
    rng.nextBytes(im);
    for (int i = 0; i < n; i++) {
      im[i * c * h * w] = (byte) i;
      lb[i] = (byte) rng.nextInt(10);
    }
    String[] classes = new String[10];
    Arrays.fill(classes, "x");
    return new Dataset("indexed", classes, c, h, w, im, lb);
  }

  /** The index each image of an un-augmented batch (mean 0, std 1) came from. */
  private static int[] indices(Batch b, int perImage) {
    float[] v = b.images().toArray();
    int[] idx = new int[b.size()];
    for (int i = 0; i < idx.length; i++) idx[i] = Math.round(v[i * perImage] * 255);
    return idx;
  }

  private static List<float[]> epoch(Dataset ds, Augment aug, long seed, int epoch) {
    List<float[]> out = new ArrayList<>();
    try (Loader l = new Loader(ds, 7, true, aug, ZERO3, ONE3, 3, seed, epoch, 2)) {
      while (l.hasNext())
        try (Batch b = l.next()) {
          out.add(b.images().toArray());
        }
    }
    return out;
  }

  @Test
  void everyIndexOncePerEpochWithItsLabelAndAPartialLastBatch() {
    Dataset ds = indexed(37, 3, 4, 4);
    List<Integer> seen = new ArrayList<>();
    List<Integer> sizes = new ArrayList<>();
    try (Loader l = new Loader(ds, 8, true, Augment.NONE, ZERO3, ONE3, 3, 1, 0, 2)) {
      assertEquals(5, l.batches());
      for (Batch b : (Iterable<Batch>) () -> l) {
        try (b) {
          assertArrayEquals(new int[] {b.size(), 3, 4, 4}, b.images().shape().dims());
          int[] idx = indices(b, 48);
          for (int i = 0; i < idx.length; i++) {
            seen.add(idx[i]);
            assertEquals(ds.label(idx[i]), b.labels()[i]);
          }
          sizes.add(b.size());
        }
      }
      assertThrows(NoSuchElementException.class, l::next);
      assertTrue(l.producerNanos() > 0);
      assertTrue(l.waitNanos() >= 0);
    }
    assertEquals(List.of(8, 8, 8, 8, 5), sizes);
    List<Integer> sorted = new ArrayList<>(seen);
    sorted.sort(null);
    for (int i = 0; i < 37; i++) assertEquals(i, sorted.get(i));
    assertNotEquals(sorted, seen, "the training order is shuffled");
  }

  @Test
  void batchesDependOnlyOnSeedAndEpoch() {
    Dataset ds = indexed(30, 3, 8, 8);
    Augment aug = new Augment(2, true, 3);
    List<float[]> a = epoch(ds, aug, 42, 3), b = epoch(ds, aug, 42, 3);
    assertEquals(a.size(), b.size());
    for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), "batch " + i);
    assertFalse(Arrays.equals(a.get(0), epoch(ds, aug, 42, 4).get(0)), "another epoch");
    assertFalse(Arrays.equals(a.get(0), epoch(ds, aug, 43, 3).get(0)), "another seed");
  }

  @Test
  void evalKeepsOrderAndNormalises() {
    Dataset ds = indexed(10, 3, 5, 6);
    float[] mean = {0.4914f, 0.4822f, 0.4465f}, std = {0.247f, 0.243f, 0.261f};
    int per = 3 * 5 * 6, at = 0;
    try (Loader l = new Loader(ds, 4, false, null, mean, std, 3, 9, 9, 1)) {
      while (l.hasNext())
        try (Batch b = l.next()) {
          float[] v = b.images().toArray();
          for (int i = 0; i < b.size(); i++, at++) {
            assertEquals(ds.label(at), b.labels()[i]);
            for (int k = 0; k < per; k++) {
              int c = k / 30;
              double expected = ((ds.images()[at * per + k] & 0xFF) / 255.0 - mean[c]) / std[c];
              assertEquals(expected, v[i * per + k], 1e-5, "image " + at + " element " + k);
            }
          }
        }
    }
    assertEquals(10, at);
  }

  @Test
  void grayIsRepeatedIntoThreeChannels() {
    Dataset ds = indexed(3, 1, 4, 4);
    float[] mean = {0.1f, 0.2f, 0.3f}, std = {0.5f, 0.6f, 0.7f};
    try (Loader l = new Loader(ds, 3, false, null, mean, std, 3, 0, 0, 1);
        Batch b = l.next()) {
      assertArrayEquals(new int[] {3, 3, 4, 4}, b.images().shape().dims());
      float[] v = b.images().toArray();
      for (int i = 0; i < 3; i++)
        for (int c = 0; c < 3; c++)
          for (int p = 0; p < 16; p++)
            assertEquals(((ds.images()[i * 16 + p] & 0xFF) / 255.0 - mean[c]) / std[c],
                v[(i * 3 + c) * 16 + p], 1e-5);
    }
  }

  /** Pad, crop, flip, normalise, one step at a time, as the torchvision pipeline describes. */
  private static float[] naive(byte[] src, int off, int c, int h, int w, float[][] lut, int pad,
      int dy, int dx, boolean flip) {
    int ph = h + 2 * pad, pw = w + 2 * pad;
    int[][][] padded = new int[c][ph][pw];
    for (int ch = 0; ch < c; ch++)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          padded[ch][y + pad][x + pad] = src[off + (ch * h + y) * w + x] & 0xFF;
    int[][][] crop = new int[c][h][w];
    for (int ch = 0; ch < c; ch++)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) crop[ch][y][x] = padded[ch][y + dy][x + dx];
    float[] out = new float[lut.length * h * w];
    for (int oc = 0; oc < lut.length; oc++)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          out[(oc * h + y) * w + x] = lut[oc][crop[c == 1 ? 0 : oc][y][flip ? w - 1 - x : x]];
    return out;
  }

  private static float[][] lut(int channels, Random rng) {
    float[][] lut = new float[channels][256];
    for (float[] l : lut) for (int v = 0; v < 256; v++) l[v] = rng.nextFloat() * 4 - 2;
    return lut;
  }

  @Test
  void cropAndFlipMatchThePaddedImageReference() {
    Random rng = new Random(5);
    int h = 5, w = 7, pad = 3;
    for (int[] chans : new int[][] {{3, 3}, {1, 1}, {1, 3}}) {
      byte[] src = new byte[2 * chans[0] * h * w];
      rng.nextBytes(src);
      float[][] lut = lut(chans[1], rng);
      for (int dy = 0; dy <= 2 * pad; dy++)
        for (int dx = 0; dx <= 2 * pad; dx++)
          for (boolean flip : new boolean[] {false, true}) {
            float[] got = new float[3 + lut.length * h * w];
            Loader.augmentInto(src, chans[0] * h * w, chans[0], h, w, lut, pad, dy, dx, flip,
                got, 3);
            float[] want = naive(src, chans[0] * h * w, chans[0], h, w, lut, pad, dy, dx, flip);
            assertArrayEquals(want, Arrays.copyOfRange(got, 3, got.length),
                Arrays.toString(chans) + " dy=" + dy + " dx=" + dx + " flip=" + flip);
          }
    }
  }

  @Test
  void cutoutZeroesTheClippedSquare() {
    int h = 6, w = 8, c = 2;
    for (int size : new int[] {1, 3, 4})
      for (int cy = 0; cy < h; cy++)
        for (int cx = 0; cx < w; cx++) {
          float[] img = new float[c * h * w];
          Arrays.fill(img, 7f);
          Loader.cutoutInto(img, 0, c, h, w, size, cy, cx);
          for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
              for (int x = 0; x < w; x++) {
                boolean in = y >= cy - size / 2 && y < cy - size / 2 + size
                    && x >= cx - size / 2 && x < cx - size / 2 + size;
                assertEquals(in ? 0f : 7f, img[(ch * h + y) * w + x]);
              }
        }
  }

  /** Each training image is one of the crops/flips of its source, and not all are identity. */
  @Test
  void trainingImagesAreCropsAndFlipsOfTheirSource() {
    Dataset ds = indexed(12, 3, 6, 6);
    float[] mean = {0.5f, 0.4f, 0.3f}, std = {0.2f, 0.3f, 0.4f};
    float[][] lut = new float[3][256];
    for (int c = 0; c < 3; c++)
      for (int v = 0; v < 256; v++) lut[c][v] = (float) ((v / 255.0 - mean[c]) / std[c]);
    int per = 108, moved = 0, flipped = 0, matched = 0;
    try (Loader l = new Loader(ds, 5, true, Augment.standard(), mean, std, 3, 7, 1, 3)) {
      while (l.hasNext())
        try (Batch b = l.next()) {
          float[] v = b.images().toArray();
          for (int i = 0; i < b.size(); i++) {
            float[] img = Arrays.copyOfRange(v, i * per, (i + 1) * per);
            search:
            for (int idx = 0; idx < ds.size(); idx++)
              for (int dy = 0; dy <= 8; dy++)
                for (int dx = 0; dx <= 8; dx++)
                  for (boolean flip : new boolean[] {false, true}) {
                    float[] cand = new float[per];
                    Loader.augmentInto(ds.images(), idx * per, 3, 6, 6, lut, 4, dy, dx, flip,
                        cand, 0);
                    if (Arrays.equals(cand, img) && ds.label(idx) == b.labels()[i]) {
                      matched++;
                      if (dy != 4 || dx != 4) moved++;
                      if (flip) flipped++;
                      break search;
                    }
                  }
          }
        }
    }
    assertEquals(12, matched);
    assertTrue(moved > 0 && flipped > 0, "moved " + moved + ", flipped " + flipped);
  }

  @Test
  void producerFailureIsRethrownWithItsMessage() {
    Dataset ds = indexed(20, 3, 4, 4);
    long baseline = Tensor.liveBytes();
    IntConsumer failAt2 = b -> {
      if (b == 2) throw new DataException("disk.bin: gone");
    };
    try (Loader l = new Loader(ds, 4, true, Augment.NONE, ZERO3, ONE3, 3, 0, 0, 2, failAt2)) {
      l.next().close();
      l.next().close();
      DataException e = assertThrows(DataException.class, l::next);
      assertEquals("disk.bin: gone", e.getMessage());
      assertInstanceOf(DataException.class, e.getCause());
      assertSame(e, assertThrows(DataException.class, l::next));
      assertFalse(l.hasNext());
    }
    IntConsumer bug = b -> {
      throw new ArithmeticException("boom");
    };
    try (Loader l = new Loader(ds, 4, true, Augment.NONE, ZERO3, ONE3, 3, 0, 0, 2, bug)) {
      RuntimeException e = assertThrows(RuntimeException.class, l::next);
      assertEquals("boom", e.getMessage());
      assertInstanceOf(ArithmeticException.class, e.getCause());
    }
    assertEquals(baseline, Tensor.liveBytes());
  }

  @Test
  void closeMidEpochStopsTheProducerAndFreesQueuedBatches() {
    Dataset ds = indexed(64, 3, 8, 8);
    long baseline = Tensor.liveBytes();
    assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
      Loader l = new Loader(ds, 4, true, Augment.standard(), ZERO3, ONE3, 3, 0, 0, 4);
      l.next().close();
      while (Tensor.liveBytes() < baseline + 4L * 4 * 3 * 8 * 8 * 4) Thread.sleep(1); // full
      l.close();
      l.close(); // idempotent
      assertEquals(baseline, Tensor.liveBytes());
      assertFalse(l.hasNext());
      assertThrows(IllegalStateException.class, l::next);
    });
  }

  @Test
  void validatesItsArguments() {
    Dataset rgb = indexed(4, 3, 4, 4), gray = indexed(4, 1, 4, 4);
    assertMessage("batchSize: must be >= 1, got 0",
        () -> new Loader(rgb, 0, false, null, ZERO3, ONE3, 3, 0, 0, 1));
    assertMessage("prefetch: must be >= 1, got 0",
        () -> new Loader(rgb, 1, false, null, ZERO3, ONE3, 3, 0, 0, 0));
    assertMessage("outChannels: expected 3 for indexed, got 1",
        () -> new Loader(rgb, 1, false, null, ZERO3, ONE3, 1, 0, 0, 1));
    assertMessage("outChannels: expected 1 or 3 for indexed, got 2",
        () -> new Loader(gray, 1, false, null, ZERO3, ONE3, 2, 0, 0, 1));
    assertMessage("mean: expected 3 values (outChannels), got 1",
        () -> new Loader(gray, 1, false, null, new float[1], ONE3, 3, 0, 0, 1));
    assertMessage("std: expected 1 values (outChannels), got 3",
        () -> new Loader(gray, 1, false, null, new float[1], ONE3, 1, 0, 0, 1));
    assertMessage("std[1]: must be > 0, got 0.0",
        () -> new Loader(rgb, 1, false, null, ZERO3, new float[] {1, 0, 1}, 3, 0, 0, 1));
    assertMessage("mean[2]: must be finite, got NaN",
        () -> new Loader(rgb, 1, false, null, new float[] {0, 0, Float.NaN}, ONE3, 3, 0, 0, 1));
    assertMessage("aug: must not be null",
        () -> new Loader(rgb, 1, true, null, ZERO3, ONE3, 3, 0, 0, 1));
    assertMessage("padCrop: must be >= 0, got -1", () -> new Augment(-1, false, 0));
    assertMessage("cutout: must be >= 0, got -2", () -> new Augment(0, false, -2));
  }

  private static void assertMessage(String message, Runnable r) {
    assertEquals(message,
        assertThrows(IllegalArgumentException.class, r::run).getMessage());
  }
}
