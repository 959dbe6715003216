package org.sepconv.data;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Extracts a tar stream (POSIX ustar and old GNU headers): regular files and directories only.
 * Other entries (links, devices, pax and GNU long-name headers) are skipped, so names longer
 * than the 100 + 155 header bytes are not supported. Absolute names and names with a ".."
 * segment are rejected.
 */
final class Tar {
  private Tar() {}

  private static final int BLOCK = 512;

  /** Writes the entries of {@code in} under {@code dest}; {@code archive} names it in errors. */
  static void extract(InputStream in, Path dest, String archive) throws IOException {
    byte[] h = new byte[BLOCK];
    byte[] buf = new byte[1 << 16];
    while (true) {
      if (!readBlock(in, h, archive)) return; // no end-of-archive blocks: tolerated
      if (isZero(h)) return;
      checkSum(h, archive);
      String name = entryName(h);
      long size = number(h, 124, 12, archive, name);
      char type = (char) h[156];
      long rest = (size + BLOCK - 1) / BLOCK * BLOCK; // the data, padded to whole blocks
      if (type == '5') {
        Files.createDirectories(safePath(dest, name, archive));
      } else if (type == '0' || type == '\0') {
        Path p = safePath(dest, name, archive);
        Files.createDirectories(p.getParent());
        try (OutputStream out = Files.newOutputStream(p)) {
          copy(in, out, size, buf, archive, name);
        }
        rest -= size;
      }
      skip(in, rest, archive, name); // the padding, or an entry that is not extracted
    }
  }

  private static String entryName(byte[] h) {
    String name = field(h, 0, 100);
    // POSIX "ustar\0" has a name prefix at 345; old GNU "ustar  " keeps other fields there
    String prefix = field(h, 257, 6).equals("ustar") ? field(h, 345, 155) : "";
    return prefix.isEmpty() ? name : prefix + "/" + name;
  }

  private static Path safePath(Path dest, String name, String archive) {
    String n = name.startsWith("./") ? name.substring(2) : name;
    if (n.startsWith("/") || n.contains("\\"))
      throw new DataException(archive + ": unsafe entry name '" + name + "'");
    for (String seg : n.split("/"))
      if (seg.equals(".."))
        throw new DataException(archive + ": unsafe entry name '" + name + "' (contains '..')");
    return dest.resolve(n);
  }

  private static void checkSum(byte[] h, String archive) {
    long sum = 0;
    for (int i = 0; i < BLOCK; i++) sum += (i >= 148 && i < 156) ? ' ' : (h[i] & 0xFF);
    long stored = number(h, 148, 8, archive, field(h, 0, 100));
    if (sum != stored)
      throw new DataException(archive + ": corrupt tar header (checksum " + stored
          + ", computed " + sum + ")");
  }

  /** An octal field, or base-256 when its first byte has the high bit set (GNU, > 8 GiB). */
  private static long number(byte[] h, int off, int len, String archive, String name) {
    if ((h[off] & 0x80) != 0) {
      long v = h[off] & 0x7F;
      for (int i = off + 1; i < off + len; i++) v = (v << 8) | (h[i] & 0xFF);
      return v;
    }
    String s = field(h, off, len).trim();
    try {
      return s.isEmpty() ? 0 : Long.parseLong(s, 8);
    } catch (NumberFormatException e) {
      throw new DataException(archive + ": corrupt tar header of '" + name + "' (number '"
          + s + "')");
    }
  }

  private static String field(byte[] h, int off, int len) {
    int end = off;
    while (end < off + len && h[end] != 0) end++;
    return new String(h, off, end - off, StandardCharsets.UTF_8);
  }

  private static boolean isZero(byte[] h) {
    for (byte b : h) if (b != 0) return false;
    return true;
  }

  /** Fills {@code b}; false at a clean end of stream, an error at a partial block. */
  private static boolean readBlock(InputStream in, byte[] b, String archive) throws IOException {
    int n = in.readNBytes(b, 0, BLOCK);
    if (n > 0 && n < BLOCK) throw new DataException(archive + ": truncated tar header");
    return n == BLOCK;
  }

  private static void copy(InputStream in, OutputStream out, long n, byte[] buf, String archive,
      String name) throws IOException {
    while (n > 0) {
      int r = in.read(buf, 0, (int) Math.min(buf.length, n));
      if (r < 0) throw new DataException(archive + ": truncated inside '" + name + "'");
      out.write(buf, 0, r);
      n -= r;
    }
  }

  private static void skip(InputStream in, long n, String archive, String name)
      throws IOException {
    try {
      in.skipNBytes(n);
    } catch (EOFException e) {
      throw new DataException(archive + ": truncated inside '" + name + "'");
    }
  }
}
