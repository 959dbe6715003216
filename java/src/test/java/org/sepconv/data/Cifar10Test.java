package org.sepconv.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Cifar10Test {
  @TempDir Path dir;

  /** Pixel (c, y, x) of the r-th record written by any file of these tests. */
  private static byte pixel(int r, int c, int y, int x) {
    return (byte) (r * 7 + c * 80 + y * 3 + x);
  }

  /** {@code n} records whose labels are (first + r) % 10 and pixels pixel(first + r, ...). */
  static byte[] records(int first, int n) {
    byte[] b = new byte[n * Cifar10.RECORD];
    for (int r = 0; r < n; r++) {
      b[r * Cifar10.RECORD] = (byte) ((first + r) % 10);
      for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
          for (int x = 0; x < 32; x++)
            b[r * Cifar10.RECORD + 1 + c * 1024 + y * 32 + x] = pixel(first + r, c, y, x);
    }
    return b;
  }

  /** The six files: 1, 2, 3, 1, 2 train records from record 0, and 2 test records from 100. */
  static Map<String, byte[]> batchFiles() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    int[] counts = {1, 2, 3, 1, 2};
    int first = 0;
    for (int i = 0; i < 5; i++) {
      m.put("data_batch_" + (i + 1) + ".bin", records(first, counts[i]));
      first += counts[i];
    }
    m.put("test_batch.bin", records(100, 2));
    return m;
  }

  private Path writeBatches() throws IOException {
    Path d = Files.createDirectories(dir.resolve(Cifar10.FOLDER));
    for (Map.Entry<String, byte[]> e : batchFiles().entrySet())
      Files.write(d.resolve(e.getKey()), e.getValue());
    return d;
  }

  private static void assertRecords(Dataset ds, int first, int n) {
    assertEquals(n, ds.size());
    assertEquals(3, ds.channels());
    assertEquals(32, ds.height());
    assertEquals(32, ds.width());
    for (int i = 0; i < n; i++) {
      assertEquals((first + i) % 10, ds.label(i), "label " + i);
      for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
          for (int x = 0; x < 32; x++)
            assertEquals(pixel(first + i, c, y, x), ds.images()[i * 3072 + c * 1024 + y * 32 + x]);
    }
  }

  @Test
  void readsTrainFilesInOrderAndTestFile() throws IOException {
    Path d = writeBatches();
    assertRecords(Cifar10.load(d, true), 0, 9);
    assertRecords(Cifar10.load(d, false), 100, 2);
    assertRecords(Cifar10.load(dir, false), 100, 2); // the parent folder works too
    assertEquals("automobile", Cifar10.load(d, false).classes()[1]);
    assertEquals(10, Cifar10.load(d, false).classes().length);
  }

  private DataException broken(String file, byte[] contents) throws IOException {
    Path d = writeBatches();
    Files.write(d.resolve(file), contents);
    return assertThrows(DataException.class, () -> Cifar10.load(d, !file.startsWith("test")));
  }

  @Test
  void truncatedFile() throws IOException {
    byte[] b = records(0, 3);
    DataException e = broken("data_batch_3.bin", Arrays.copyOf(b, b.length - 1));
    assertTrue(e.getMessage().contains("data_batch_3.bin: truncated: 9218 bytes"), e.getMessage());
  }

  @Test
  void emptyFile() throws IOException {
    DataException e = broken("test_batch.bin", new byte[0]);
    assertTrue(e.getMessage().contains("test_batch.bin: empty"), e.getMessage());
  }

  @Test
  void badLabel() throws IOException {
    byte[] b = records(0, 3);
    b[2 * Cifar10.RECORD] = 10;
    DataException e = broken("data_batch_4.bin", b);
    assertTrue(e.getMessage().contains("data_batch_4.bin: record 2 has label 10"), e.getMessage());
  }

  @Test
  void missingFile() throws IOException {
    Path d = writeBatches();
    Files.delete(d.resolve("data_batch_5.bin"));
    DataException e = assertThrows(DataException.class, () -> Cifar10.load(d, true));
    assertTrue(e.getMessage().contains("data_batch_5.bin: not found"), e.getMessage());
    assertRecords(Cifar10.load(d, false), 100, 2); // the test split does not need it
  }

  // ---- download ----

  /** A ustar archive of the given entries (a name ending in '/' is a directory), gzipped. */
  static byte[] tarGz(Map<String, byte[]> entries) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
      for (Map.Entry<String, byte[]> e : entries.entrySet()) {
        boolean isDir = e.getKey().endsWith("/");
        byte[] data = isDir ? new byte[0] : e.getValue();
        byte[] h = new byte[512];
        put(h, 0, e.getKey());
        put(h, 100, "0000644");
        put(h, 108, "0000000");
        put(h, 116, "0000000");
        put(h, 124, String.format("%011o", data.length));
        put(h, 136, "00000000000");
        h[156] = (byte) (isDir ? '5' : '0');
        put(h, 257, "ustar");
        put(h, 263, "00");
        for (int i = 148; i < 156; i++) h[i] = ' ';
        int sum = 0;
        for (byte b : h) sum += b & 0xFF;
        put(h, 148, String.format("%06o", sum));
        h[154] = 0;
        gz.write(h);
        gz.write(data);
        gz.write(new byte[(512 - data.length % 512) % 512]);
      }
      gz.write(new byte[1024]);
    }
    return bytes.toByteArray();
  }

  private static void put(byte[] h, int off, String s) {
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(b, 0, h, off, b.length);
  }

  static String md5(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(b));
  }

  private static Map<String, byte[]> archiveEntries() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put(Cifar10.FOLDER + "/", null);
    batchFiles().forEach((k, v) -> m.put(Cifar10.FOLDER + "/" + k, v));
    m.put(Cifar10.FOLDER + "/readme.html", "<p>hi</p>".getBytes(StandardCharsets.UTF_8));
    return m;
  }

  private Path archive(byte[] b) throws IOException {
    return Files.write(dir.resolve(Cifar10.ARCHIVE), b);
  }

  private static String[] listing(Path p) throws IOException {
    try (Stream<Path> s = Files.list(p)) {
      return s.map(q -> q.getFileName().toString()).sorted().toArray(String[]::new);
    }
  }

  @Test
  void downloadsChecksExtractsAndThenReusesTheFolder() throws Exception {
    byte[] tgz = tarGz(archiveEntries());
    Path cache = dir.resolve("cache");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    Path got = Cifar10.download(cache, archive(tgz).toUri().toString(), md5(tgz),
        new PrintStream(log, true, StandardCharsets.UTF_8));
    assertEquals(cache.resolve(Cifar10.FOLDER), got);
    assertRecords(Cifar10.load(got, true), 0, 9);
    assertRecords(Cifar10.load(cache, false), 100, 2);
    String bar = log.toString(StandardCharsets.UTF_8);
    assertTrue(bar.startsWith("\r") && bar.contains("100%") && bar.contains("MB/s"), bar);
    assertArrayEquals(new String[] {Cifar10.FOLDER}, listing(cache)); // no temporary left
    // complete: a second call downloads nothing, so even an unreachable URL is fine
    assertEquals(got, Cifar10.download(cache, "http://127.0.0.1:1/x.tar.gz", "0", null));
  }

  @Test
  void checksumMismatchLeavesNothing() throws Exception {
    byte[] tgz = tarGz(archiveEntries());
    Path cache = dir.resolve("cache");
    String wrong = "00112233445566778899aabbccddeeff";
    DataException e = assertThrows(DataException.class,
        () -> Cifar10.download(cache, archive(tgz).toUri().toString(), wrong, null));
    assertTrue(e.getMessage().contains(Cifar10.ARCHIVE), e.getMessage());
    assertTrue(e.getMessage().contains("expected md5 " + wrong + ", got " + md5(tgz)),
        e.getMessage());
    assertArrayEquals(new String[0], listing(cache));
  }

  @Test
  void unreachableUrlSaysHowToProceedOffline() {
    String url = "http://127.0.0.1:1/x.tar.gz";
    Path cache = dir.resolve("cache");
    DataException e = assertThrows(DataException.class,
        () -> Cifar10.download(cache, url, null));
    assertTrue(e.getMessage().startsWith("cannot download CIFAR-10 from " + url + " ("),
        e.getMessage());
    assertTrue(e.getMessage().contains("pass --data <dir>/cifar-10-batches-bin"), e.getMessage());
    assertFalse(Files.exists(cache.resolve(Cifar10.FOLDER)));
    DataException missing = assertThrows(DataException.class,
        () -> Cifar10.download(cache, dir.resolve("nope.tar.gz").toUri().toString(), null));
    assertTrue(missing.getMessage().contains("pass --data"), missing.getMessage());
  }

  @Test
  void rejectsUnsafeIncompleteAndCorruptArchives() throws Exception {
    Path cache = dir.resolve("cache");
    Map<String, byte[]> evil = archiveEntries();
    evil.put(Cifar10.FOLDER + "/../../evil.bin", new byte[] {1});
    assertDownloadFails(cache, tarGz(evil), "unsafe entry name");
    assertFalse(Files.exists(dir.resolve("evil.bin")));
    Map<String, byte[]> absolute = archiveEntries();
    absolute.put("/tmp/evil.bin", new byte[] {1});
    assertDownloadFails(cache, tarGz(absolute), "unsafe entry name '/tmp/evil.bin'");
    Map<String, byte[]> partial = archiveEntries();
    partial.remove(Cifar10.FOLDER + "/test_batch.bin");
    assertDownloadFails(cache, tarGz(partial), "lacks a valid test_batch.bin");
    byte[] truncated = tarGz(archiveEntries());
    assertDownloadFails(cache, Arrays.copyOf(truncated, truncated.length / 2),
        "truncated");
    byte[] corrupt = tarGz(archiveEntries());
    for (int i = 100; i < 120; i++) corrupt[i] ^= 0x5A;
    assertDownloadFails(cache, corrupt, Cifar10.ARCHIVE);
    assertArrayEquals(new String[0], listing(cache));
  }

  private void assertDownloadFails(Path cache, byte[] tgz, String message) throws Exception {
    String url = archive(tgz).toUri().toString(), sum = md5(tgz);
    DataException e = assertThrows(DataException.class,
        () -> Cifar10.download(cache, url, sum, null));
    assertTrue(e.getMessage().contains(message), e.getMessage());
  }

  @Test
  void anIncompleteExistingFolderIsNotTakenForAFinishedOne() throws Exception {
    Path cache = dir.resolve("cache");
    Path d = Files.createDirectories(cache.resolve(Cifar10.FOLDER));
    Files.write(d.resolve("data_batch_1.bin"), records(0, 1));
    DataException e = assertThrows(DataException.class,
        () -> Cifar10.download(cache, "http://127.0.0.1:1/x.tar.gz", null));
    assertTrue(e.getMessage().contains("delete the folder"), e.getMessage());
  }

  @Test
  void defaultCacheIsUnderTheUsersCacheOrSepconvCache() {
    Path p = Cifar10.defaultCache();
    assertEquals("cifar10", p.getFileName().toString());
    String env = System.getenv("SEPCONV_CACHE");
    assertEquals(env != null && !env.isEmpty() ? Path.of(env, "cifar10")
        : Path.of(System.getProperty("user.home"), ".cache/sepconv/cifar10"), p);
  }
}
