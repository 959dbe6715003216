package org.sepconv.data;

import static org.sepconv.data.DataException.reason;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
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
    byte[] labels = parse(lbFile, lb -> {
      int n = header(lb, lbFile, LABELS_MAGIC, 1)[0];
      byte[] l = new byte[n];
      body(lb, lbFile, l, 0, n, 8);
      for (int i = 0; i < n; i++)
        if ((l[i] & 0xFF) > 9) throw new DataException(lbFile + ": label " + i + " is " + (l[i] & 0xFF) + ", expected 0..9");
      end(lb, lbFile, 8 + (long) n);
      return l;
    });
    byte[] images = parse(imFile, im -> {
      int[] dims = header(im, imFile, IMAGES_MAGIC, 3);
      int n = dims[0];
      if (dims[1] != RAW || dims[2] != RAW)
        throw new DataException(imFile + ": images are " + dims[1] + "×" + dims[2] + ", expected 28×28");
      if (n != labels.length)
        throw new DataException(imFile + " holds " + n + " images but " + lbFile.getFileName() + " holds "
            + labels.length + " labels");
      byte[] px = new byte[n * SIDE * SIDE]; // n <= MAX_IMAGES, checked by header(): this fits
      for (int i = 0; i < n; i++)
        for (int r = 0; r < RAW; r++) body(im, imFile, px, (i * SIDE + r + PAD) * SIDE + PAD, RAW, 16 + (long) n * RAW * RAW);
      end(im, imFile, 16 + (long) n * RAW * RAW);
      return px;
    });
    return new Dataset("fashion-mnist-" + (train ? "train" : "test"), CLASSES, 1, SIDE, SIDE, images, labels);
  }

  /** The most images one padded byte array holds (about 2.1 million; the real set has 70,000). */
  static final int MAX_IMAGES = (Integer.MAX_VALUE - 8) / (SIDE * SIDE);

  private static Path find(Path dir, String base) {
    for (Path p : new Path[] {dir.resolve(base + ".gz"), dir.resolve(base)})
      if (Files.isRegularFile(p)) return p;
    throw new DataException("Fashion-MNIST not found in " + dir + ": install the Debian package "
        + "dataset-fashion-mnist or pass --data DIR with the four IDX .gz files (" + base
        + ".gz missing)");
  }

  private interface Body<T> {
    T read(DataInputStream in) throws IOException;
  }

  /** Decompressed bytes read to tell a corrupt gzip from a bad header (the real train images are 47 MB). */
  private static final long GZIP_CHECK = 64L << 20;

  /**
   * Runs {@code body} over the file's stream. A .gz file whose content looks wrong is read on
   * (up to {@link #GZIP_CHECK} bytes): if the gzip itself breaks there, that is the problem named.
   */
  private static <T> T parse(Path f, Body<T> body) {
    try (DataInputStream in = open(f)) {
      try {
        return body.read(in);
      } catch (DataException e) {
        if (!f.getFileName().toString().endsWith(".gz")) throw e;
        try {
          for (long skipped = 0, s; skipped < GZIP_CHECK && (s = in.skip(1 << 16)) > 0; ) skipped += s;
        } catch (IOException broken) {
          throw new DataException(f + ": corrupt or truncated gzip (" + reason(broken) + ")", broken);
        }
        throw e;
      }
    } catch (IOException e) {
      throw unreadable(f, e);
    }
  }

  /** The file as a stream, gunzipped when its name ends in .gz: read as it goes, never whole. */
  private static DataInputStream open(Path f) {
    try {
      InputStream raw = new BufferedInputStream(Files.newInputStream(f), 1 << 16);
      try {
        return new DataInputStream(f.getFileName().toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw);
      } catch (IOException e) {
        raw.close();
        throw e;
      }
    } catch (IOException e) {
      throw unreadable(f, e);
    }
  }

  private static DataException unreadable(Path f, IOException e) {
    boolean gz = f.getFileName().toString().endsWith(".gz");
    return new DataException(f + ": " + (gz ? "corrupt or truncated gzip" : "cannot read") + " (" + reason(e) + ")", e);
  }

  /**
   * Reads and checks the magic number and the {@code dims} dimensions; the first one, N, must be
   * in [1, {@link #MAX_IMAGES}] before a single data byte is read, so that a header that
   * declares too much is refused rather than filled.
   */
  private static int[] header(DataInputStream in, Path f, int magic, int dims) throws IOException {
    int m;
    int[] d = new int[dims];
    try {
      m = in.readInt();
      if (m != magic) throw new DataException(f + String.format(": magic number 0x%08x, expected 0x%08x", m, magic));
      for (int i = 0; i < dims; i++) d[i] = in.readInt();
    } catch (EOFException e) {
      throw new DataException(f + ": too short for an IDX header (" + 4 * (dims + 1) + " bytes)", e);
    }
    if (d[0] < 1 || d[0] > MAX_IMAGES)
      throw new DataException(f + ": the header declares " + Integer.toUnsignedString(d[0]) + " items, expected 1 to "
          + MAX_IMAGES);
    return d;
  }

  /** Reads exactly len bytes into b[at..], or names the file as truncated ({@code expected} bytes in all). */
  private static void body(DataInputStream in, Path f, byte[] b, int at, int len, long expected) throws IOException {
    try {
      in.readFully(b, at, len);
    } catch (EOFException e) {
      throw new DataException(f + ": " + (f.getFileName().toString().endsWith(".gz") ? "corrupt or truncated gzip: it"
          : "truncated: it") + " ends before the " + expected + " bytes its header declares", e);
    }
  }

  /** The data must end where the header says. */
  private static void end(DataInputStream in, Path f, long expected) throws IOException {
    if (in.read() >= 0)
      throw new DataException(f + ": trailing bytes: more than the " + expected + " bytes its header declares");
  }
}
