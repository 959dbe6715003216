package org.sepconv.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FashionMnistTest {
  @TempDir Path dir;

  private static final String IMAGES = "train-images-idx3-ubyte.gz";
  private static final String LABELS = "train-labels-idx1-ubyte.gz";

  private static byte raw(int i, int r, int c) {
    return (byte) (1 + i * 31 + r * 7 + c); // mostly nonzero, unlike the padding
  }

  /** An IDX file: the header ints (magic first) then the data. */
  private static byte[] idx(byte[] data, int... header) {
    ByteBuffer b = ByteBuffer.allocate(4 * header.length + data.length);
    for (int h : header) b.putInt(h);
    return b.put(data).array();
  }

  private static byte[] images(int n) {
    byte[] d = new byte[n * 784];
    for (int i = 0; i < n; i++)
      for (int r = 0; r < 28; r++)
        for (int c = 0; c < 28; c++) d[(i * 28 + r) * 28 + c] = raw(i, r, c);
    return idx(d, 0x803, n, 28, 28);
  }

  private static byte[] labels(int n) {
    byte[] d = new byte[n];
    for (int i = 0; i < n; i++) d[i] = (byte) ((3 * i + 1) % 10);
    return idx(d, 0x801, n);
  }

  static byte[] gz(byte[] b) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream g = new GZIPOutputStream(out)) {
      g.write(b);
    }
    return out.toByteArray();
  }

  private void write(byte[] images, byte[] labels) throws IOException {
    Files.write(dir.resolve(IMAGES), gz(images));
    Files.write(dir.resolve(LABELS), gz(labels));
  }

  @Test
  void readsPadsAndLabels() throws IOException {
    write(images(5), labels(5));
    Dataset ds = FashionMnist.load(dir, true);
    assertEquals(5, ds.size());
    assertEquals(1, ds.channels());
    assertEquals(32, ds.height());
    assertEquals(32, ds.width());
    assertEquals("Ankle boot", ds.classes()[9]);
    for (int i = 0; i < 5; i++) {
      assertEquals((3 * i + 1) % 10, ds.label(i));
      for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) {
          boolean inside = y >= 2 && y < 30 && x >= 2 && x < 30;
          assertEquals(inside ? raw(i, y - 2, x - 2) : 0, ds.images()[i * 1024 + y * 32 + x],
              "image " + i + " (" + y + ", " + x + ")");
        }
    }
  }

  @Test
  void readsUncompressedTestFiles() throws IOException {
    Files.write(dir.resolve("t10k-images-idx3-ubyte"), images(3));
    Files.write(dir.resolve("t10k-labels-idx1-ubyte"), labels(3));
    Dataset ds = FashionMnist.load(dir, false);
    assertEquals(3, ds.size());
    assertEquals(raw(2, 0, 0), ds.images()[2 * 1024 + 2 * 32 + 2]);
  }

  private String failure(byte[] imagesFile, byte[] labelsFile) throws IOException {
    Files.write(dir.resolve(IMAGES), imagesFile);
    Files.write(dir.resolve(LABELS), labelsFile);
    return assertThrows(DataException.class, () -> FashionMnist.load(dir, true)).getMessage();
  }

  private static void assertContains(String message, String... parts) {
    for (String p : parts) assertTrue(message.contains(p), message);
  }

  @Test
  void wrongMagic() throws IOException {
    byte[] im = images(2);
    im[3] = 0x01;
    assertContains(failure(gz(im), gz(labels(2))), IMAGES,
        "magic number 0x00000801, expected 0x00000803");
    assertContains(failure(gz(images(2)), gz(images(2))), LABELS, "expected 0x00000801");
  }

  @Test
  void truncatedGzip() throws IOException {
    byte[] g = gz(images(4));
    assertContains(failure(Arrays.copyOf(g, g.length - 12), gz(labels(4))), IMAGES,
        "corrupt or truncated gzip");
  }

  @Test
  void corruptGzip() throws IOException {
    byte[] g = gz(labels(4));
    for (int i = 12; i < g.length - 8; i++) g[i] ^= 0x33;
    assertContains(failure(gz(images(4)), g), LABELS, "corrupt or truncated gzip");
    byte[] notGzip = labels(4); // right name, but not gzipped
    assertContains(failure(gz(images(4)), notGzip), LABELS, "corrupt or truncated gzip");
  }

  @Test
  void shortDataAndTrailingBytes() throws IOException {
    byte[] im = images(4);
    assertContains(failure(gz(Arrays.copyOf(im, im.length - 1)), gz(labels(4))), IMAGES,
        "truncated");
    assertContains(failure(gz(Arrays.copyOf(im, im.length + 3)), gz(labels(4))), IMAGES,
        "trailing bytes");
    assertContains(failure(gz(Arrays.copyOf(im, 10)), gz(labels(4))), IMAGES, "too short");
  }

  @Test
  void countMismatchWrongSizeAndBadLabel() throws IOException {
    assertContains(failure(gz(images(3)), gz(labels(2))), IMAGES, "3 images", "2 labels");
    byte[] big = idx(new byte[2 * 30 * 30], 0x803, 2, 30, 30);
    assertContains(failure(gz(big), gz(labels(2))), IMAGES, "30×30, expected 28×28");
    byte[] lb = labels(3);
    lb[8 + 1] = 10;
    assertContains(failure(gz(images(3)), gz(lb)), LABELS, "label 1 is 10");
  }

  /** A valid header that declares more than fits is refused before any data is read (once an OutOfMemoryError). */
  @Test
  void hugeDeclaredSizesAreRefusedBeforeReading() throws IOException {
    assertContains(failure(gz(images(2)), gz(idx(new byte[16], 0x801, Integer.MAX_VALUE))), LABELS,
        "declares 2147483647 items, expected 1 to " + FashionMnist.MAX_IMAGES);
    assertContains(failure(gz(idx(new byte[16], 0x803, 3_000_000, 28, 28)), gz(labels(2))), IMAGES,
        "declares 3000000 items");
    assertContains(failure(gz(idx(new byte[16], 0x803, -1, 28, 28)), gz(labels(2))), IMAGES, "declares 4294967295 items");
    // a header that agrees with its labels but whose data stops early: read as a stream, refused when it ends
    assertContains(failure(gz(idx(new byte[784 * 3], 0x803, 4, 28, 28)), gz(labels(4))), IMAGES,
        "ends before the 3152 bytes its header declares");
  }

  @Test
  void missingFilesSayWhatToInstall() throws IOException {
    Files.write(dir.resolve(IMAGES), gz(images(1)));
    String m = assertThrows(DataException.class, () -> FashionMnist.load(dir, true)).getMessage();
    assertContains(m, "Fashion-MNIST not found in " + dir + ": install the Debian package "
        + "dataset-fashion-mnist or pass --data DIR with the four IDX .gz files", LABELS);
  }

  @Test
  void realFilesWhenInstalled() {
    Assumptions.assumeTrue(Files.isDirectory(FashionMnist.DEFAULT_DIR),
        FashionMnist.DEFAULT_DIR + " is absent (Debian package dataset-fashion-mnist)");
    Dataset train = FashionMnist.load(FashionMnist.DEFAULT_DIR, true);
    Dataset test = FashionMnist.load(FashionMnist.DEFAULT_DIR, false);
    assertEquals(60000, train.size());
    assertEquals(10000, test.size());
    int[] trainCounts = new int[10], testCounts = new int[10];
    for (int i = 0; i < train.size(); i++) trainCounts[train.label(i)]++;
    for (int i = 0; i < test.size(); i++) testCounts[test.label(i)]++;
    for (int c = 0; c < 10; c++) {
      assertEquals(6000, trainCounts[c], "train class " + c);
      assertEquals(1000, testCounts[c], "test class " + c);
    }
    // the padding is zero and the published mean of the 28×28 pixels, 0.2860, is recovered
    double mean = train.channelMean()[0] * 32 * 32 / (28 * 28);
    assertEquals(0.2860, mean, 1e-4);
  }
}
