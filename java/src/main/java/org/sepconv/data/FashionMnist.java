package org.sepconv.data;

import static org.sepconv.data.DataException.reason;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Fashion-MNIST (Xiao, Rasul and Vollgraf 2017) from its four IDX files, gzipped or not: {@code
 * train-images-idx3-ubyte[.gz]}, {@code train-labels-idx1-ubyte[.gz]} and the same with {@code
 * t10k} for the test split. An IDX file is big-endian: magic 0x00000803 (images) or 0x00000801
 * (labels), the dimensions as 32-bit ints (N, 28, 28 or N), then N×28×28 or N unsigned bytes.
 * The 28×28 gray images are padded with two zero pixels on every side to 32×32, so that the
 * CIFAR-10 networks take them unchanged.
 */
public final class FashionMnist {
  private FashionMnist() {}

  /** Where the Debian package dataset-fashion-mnist installs the files. */
  public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");
  static final int RAW = 28, PAD = 2, SIDE = RAW + 2 * PAD;
  private static final int IMAGES_MAGIC = 0x803, LABELS_MAGIC = 0x801;
  private static final String[] CLASSES = {"T-shirt/top", "Trouser", "Pullover", "Dress",
      "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

  /**
   * Loads the train (60000 images) or test (10000) split from {@code dir}.
   *
   * @throws DataException a file is missing, not valid gzip, or not a well-formed IDX file of
   *     the expected kind, size and label range
   */
  public static Dataset load(Path dir, boolean train) {
    String split = train ? "train" : "t10k";
    Path imFile = find(dir, split + "-images-idx3-ubyte");
    Path lbFile = find(dir, split + "-labels-idx1-ubyte");
    ByteBuffer im = ByteBuffer.wrap(read(imFile)), lb = ByteBuffer.wrap(read(lbFile));
    int n = header(im, imFile, IMAGES_MAGIC, 4);
    int rows = im.getInt(8), cols = im.getInt(12);
    if (rows != RAW || cols != RAW)
      throw new DataException(imFile + ": images are " + rows + "×" + cols + ", expected 28×28");
    int nl = header(lb, lbFile, LABELS_MAGIC, 2);
    if (n != nl)
      throw new DataException(imFile + " holds " + n + " images but " + lbFile.getFileName()
          + " holds " + nl + " labels");
    exactLength(im, imFile, 16 + (long) n * RAW * RAW);
    exactLength(lb, lbFile, 8 + (long) n);
    if ((long) n * SIDE * SIDE > Integer.MAX_VALUE - 8)
      throw new DataException(imFile + ": " + n + " images do not fit in one byte array");
    byte[] labels = new byte[n], images = new byte[n * SIDE * SIDE];
    for (int i = 0; i < n; i++) {
      labels[i] = lb.get(8 + i);
      if ((labels[i] & 0xFF) > 9)
        throw new DataException(lbFile + ": label " + i + " is " + (labels[i] & 0xFF)
            + ", expected 0..9");
      for (int r = 0; r < RAW; r++)
        im.get(16 + (i * RAW + r) * RAW, images, (i * SIDE + r + PAD) * SIDE + PAD, RAW);
    }
    return new Dataset("fashion-mnist-" + (train ? "train" : "test"), CLASSES, 1, SIDE, SIDE,
        images, labels);
  }

  private static Path find(Path dir, String base) {
    for (Path p : new Path[] {dir.resolve(base + ".gz"), dir.resolve(base)})
      if (Files.isRegularFile(p)) return p;
    throw new DataException("Fashion-MNIST not found in " + dir + ": install the Debian package "
        + "dataset-fashion-mnist or pass --data DIR with the four IDX .gz files (" + base
        + ".gz missing)");
  }

  /** The whole file, gunzipped when its name ends in .gz. */
  private static byte[] read(Path f) {
    boolean gz = f.getFileName().toString().endsWith(".gz");
    try (InputStream raw = Files.newInputStream(f);
        InputStream in = gz ? new GZIPInputStream(raw, 1 << 16) : raw) {
      return in.readAllBytes();
    } catch (IOException e) {
      String what = gz ? "corrupt or truncated gzip" : "cannot read";
      throw new DataException(f + ": " + what + " (" + reason(e) + ")", e);
    }
  }

  /** Checks the magic number and that the header fits; returns N, the first dimension. */
  private static int header(ByteBuffer b, Path f, int magic, int headerInts) {
    if (b.capacity() < 4 * headerInts)
      throw new DataException(f + ": " + b.capacity() + " bytes, too short for an IDX header");
    if (b.getInt(0) != magic)
      throw new DataException(f + String.format(": magic number 0x%08x, expected 0x%08x",
          b.getInt(0), magic));
    int n = b.getInt(4);
    if (n < 1) throw new DataException(f + ": " + n + " items, expected at least 1");
    return n;
  }

  private static void exactLength(ByteBuffer b, Path f, long expected) {
    if (b.capacity() != expected)
      throw new DataException(f + ": " + (b.capacity() < expected ? "truncated" : "trailing bytes")
          + ": " + b.capacity() + " bytes of data, expected " + expected + " from its header");
  }
}
