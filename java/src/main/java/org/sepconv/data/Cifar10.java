package org.sepconv.data;

import static org.sepconv.data.DataException.reason;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URLConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * CIFAR-10 (Krizhevsky 2009), binary version: the folder {@code cifar-10-batches-bin} holds
 * {@code data_batch_1.bin} .. {@code data_batch_5.bin} (train) and {@code test_batch.bin}
 * (test). Each file is a sequence of 3073-byte records: one label byte (0..9), then 1024 red,
 * 1024 green and 1024 blue bytes, each plane 32×32 row-major. That is already our planar CHW
 * layout, so loading is a copy. The official files hold 10000 records each; any positive whole
 * number is accepted.
 */
public final class Cifar10 {
  private Cifar10() {}

  public static final String URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
  public static final String MD5 = "c32a1d4ab5d03f1284b67883e8d87530";
  public static final String FOLDER = "cifar-10-batches-bin";
  static final String ARCHIVE = "cifar-10-binary.tar.gz";
  static final int SIDE = 32, IMAGE = 3 * SIDE * SIDE, RECORD = IMAGE + 1;
  private static final List<String> TRAIN = List.of("data_batch_1.bin", "data_batch_2.bin",
      "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin");
  private static final List<String> TEST = List.of("test_batch.bin");
  private static final String[] CLASSES = {"airplane", "automobile", "bird", "cat", "deer",
      "dog", "frog", "horse", "ship", "truck"};

  /**
   * Loads the train (50000 images with the official files) or test split from {@code dir}, which
   * is the {@code cifar-10-batches-bin} folder or the folder that contains it.
   *
   * @throws DataException a file is missing, empty, not a whole number of records, or has a
   *     label above 9
   */
  public static Dataset load(Path dir, boolean train) {
    Path d = Files.isDirectory(dir.resolve(FOLDER)) ? dir.resolve(FOLDER) : dir;
    List<Path> files = (train ? TRAIN : TEST).stream().map(d::resolve).toList();
    long total = 0;
    for (Path f : files) total += records(f);
    if (total * IMAGE > Integer.MAX_VALUE - 8)
      throw new DataException(d + ": " + total + " records do not fit in one byte array");
    byte[] images = new byte[(int) total * IMAGE], labels = new byte[(int) total];
    int at = 0;
    for (Path f : files) {
      byte[] b = read(f);
      if (b.length % RECORD != 0 || at + b.length / RECORD > total)
        throw new DataException(f + ": changed while being read");
      for (int r = 0; r < b.length / RECORD; r++, at++) {
        int label = b[r * RECORD] & 0xFF;
        if (label > 9)
          throw new DataException(f + ": record " + r + " has label " + label
              + ", expected 0..9");
        labels[at] = (byte) label;
        System.arraycopy(b, r * RECORD + 1, images, at * IMAGE, IMAGE);
      }
    }
    return new Dataset("cifar10-" + (train ? "train" : "test"), CLASSES, 3, SIDE, SIDE, images,
        labels);
  }

  /** The number of records in {@code f}, after checking that it exists and is well sized. */
  private static long records(Path f) {
    if (!Files.isRegularFile(f))
      throw new DataException(f + ": not found (expected the folder " + FOLDER + " of "
          + ARCHIVE + ")");
    long len;
    try {
      len = Files.size(f);
    } catch (IOException e) {
      throw new DataException(f + ": cannot read (" + reason(e) + ")", e);
    }
    if (len == 0) throw new DataException(f + ": empty");
    if (len % RECORD != 0)
      throw new DataException(f + ": truncated: " + len + " bytes is not a whole number of "
          + RECORD + "-byte records");
    return len / RECORD;
  }

  private static byte[] read(Path f) {
    try {
      return Files.readAllBytes(f);
    } catch (IOException e) {
      throw new DataException(f + ": cannot read (" + reason(e) + ")", e);
    }
  }

  /**
   * {@code $SEPCONV_CACHE/cifar10} when that variable is set, else {@code
   * ~/.cache/sepconv/cifar10}.
   */
  public static Path defaultCache() {
    String env = System.getenv("SEPCONV_CACHE");
    return env != null && !env.isEmpty()
        ? Path.of(env, "cifar10")
        : Path.of(System.getProperty("user.home"), ".cache", "sepconv", "cifar10");
  }

  /** {@link #download(Path, String, String, PrintStream)} checking against {@link #MD5}. */
  public static Path download(Path cacheDir, String url, PrintStream progress) {
    return download(cacheDir, url, MD5, progress);
  }

  /**
   * Makes sure {@code cacheDir/cifar-10-batches-bin} holds the six batch files and returns that
   * folder. When it is there already nothing is fetched. Otherwise the archive at {@code url}
   * (http, https or file) is downloaded, its MD5 checked against {@code md5}, and extracted, all
   * inside a temporary folder in {@code cacheDir} that is renamed to {@code
   * cifar-10-batches-bin} only once complete; the temporary folder is deleted on any failure.
   * A process killed mid-download leaves a {@code .download-*} folder that no later call takes
   * for a finished one (it may be deleted by hand).
   *
   * @param progress where a one-line progress bar is redrawn with '\r'; null for none
   * @throws DataException the download fails (the message says how to proceed offline), the
   *     checksum differs, or the archive is corrupt or lacks a batch file
   */
  public static Path download(Path cacheDir, String url, String md5, PrintStream progress) {
    Path target = cacheDir.resolve(FOLDER);
    if (Files.isDirectory(target)) {
      String missing = missing(target);
      if (missing == null) return target;
      throw new DataException(target + ": exists but " + missing
          + "; delete the folder to download it again");
    }
    Path tmp;
    try {
      Files.createDirectories(cacheDir);
      tmp = Files.createTempDirectory(cacheDir, ".download-");
    } catch (IOException e) {
      throw new DataException(cacheDir + ": cannot create (" + reason(e) + ")", e);
    }
    try {
      Path archive = tmp.resolve(ARCHIVE);
      String actual = fetch(url, archive, progress);
      if (!actual.equalsIgnoreCase(md5))
        throw new DataException(ARCHIVE + " from " + url + ": checksum mismatch: expected md5 "
            + md5 + ", got " + actual);
      Path out = tmp.resolve("extract");
      try (InputStream in = new GZIPInputStream(Files.newInputStream(archive), 1 << 16)) {
        Tar.extract(in, out, ARCHIVE);
      } catch (IOException e) {
        throw new DataException(ARCHIVE + ": corrupt or truncated (" + reason(e) + ")", e);
      }
      Path extracted = out.resolve(FOLDER);
      String missing = Files.isDirectory(extracted) ? missing(extracted) : "is not in it";
      if (missing != null) throw new DataException(ARCHIVE + ": " + FOLDER + " " + missing);
      try {
        Files.move(extracted, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) { // fine if another process has just put a complete folder there
        if (!Files.isDirectory(target) || missing(target) != null)
          throw new DataException(target + ": cannot move the extracted files there ("
              + reason(e) + ")", e);
      }
      return target;
    } finally {
      deleteTree(tmp);
    }
  }

  /** What is missing from a batches folder ("lacks test_batch.bin", ...), or null if nothing. */
  private static String missing(Path dir) {
    for (String n : Stream.concat(TRAIN.stream(), TEST.stream()).toList()) {
      Path f = dir.resolve(n);
      try {
        if (!Files.isRegularFile(f) || Files.size(f) == 0 || Files.size(f) % RECORD != 0)
          return "lacks a valid " + n;
      } catch (IOException e) {
        return "cannot read " + n + " (" + reason(e) + ")";
      }
    }
    return null;
  }

  /** Copies {@code url} to {@code dest} with a progress bar; returns the md5 in hex. */
  private static String fetch(String url, Path dest, PrintStream progress) {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("MD5");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no MD5", e);
    }
    try {
      URLConnection c = URI.create(url).toURL().openConnection();
      c.setConnectTimeout(30_000);
      c.setReadTimeout(60_000);
      if (c instanceof HttpURLConnection h && h.getResponseCode() != 200)
        throw new IOException("HTTP " + h.getResponseCode() + " " + h.getResponseMessage());
      Download bar = new Download(progress, c.getContentLengthLong());
      try (InputStream in = new DigestInputStream(c.getInputStream(), md);
          OutputStream out = Files.newOutputStream(dest)) {
        byte[] buf = new byte[1 << 16];
        for (int n; (n = in.read(buf)) > 0; ) {
          out.write(buf, 0, n);
          bar.add(n);
        }
      } finally {
        bar.done();
      }
    } catch (IOException | IllegalArgumentException e) {
      throw new DataException("cannot download CIFAR-10 from " + url + " (" + reason(e)
          + "); download " + ARCHIVE + " on a machine with network, extract it, and pass --data "
          + "<dir>/" + FOLDER, e);
    }
    return HexFormat.of().formatHex(md.digest());
  }

  /**
   * Best effort: a temporary folder left behind (say, on a read-only mount) is never taken for
   * a finished one, and must not hide the error that got us here.
   */
  private static void deleteTree(Path p) {
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
    } catch (IOException ignored) {
      // see above
    }
  }

  /** The download's bar: "CIFAR-10 [=====     ]  45.2/162.6 MB  27%  8.3 MB/s", redrawn at most 10 times a second. */
  private static final class Download {
    private final ProgressBar bar;
    private final long total, start = System.nanoTime();
    private long done;

    Download(PrintStream out, long total) {
      this.bar = new ProgressBar(out, true, 0.1, 30);
      this.total = total;
    }

    void add(long n) {
      done += n;
      draw(total > 0 ? Math.min(done, total - 1) : done); // the full bar is drawn once, by done()
    }

    void done() {
      draw(total > 0 ? total : done);
      bar.end();
    }

    private void draw(long shown) {
      double mb = done / 1e6, rate = mb / Math.max(1e-9, (System.nanoTime() - start) / 1e9);
      bar.update("CIFAR-10", shown, total > 0 ? total : -1, total > 0
          ? String.format(Locale.ROOT, "%6.1f/%.1f MB %3d%% %5.1f MB/s", mb, total / 1e6, 100 * done / total, rate)
          : String.format(Locale.ROOT, "%6.1f MB %5.1f MB/s", mb, rate));
    }
  }
}
