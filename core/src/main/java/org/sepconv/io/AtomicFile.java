package org.sepconv.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Collection;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whole-file writes that never leave a half-written file under the target name: the bytes go
 * to a temp file in the same folder, are forced to disk, and the temp file is renamed over the
 * target. A crash at any moment leaves either the old file or the new one (plus, at worst, a
 * stray {@code .name.<digits>.tmp} beside it, which {@link #removeStaleTemps} recognises).
 */
public final class AtomicFile {
  private AtomicFile() {}

  /** Replaces {@code file}'s content with {@code bytes} atomically. */
  public static void write(Path file, byte[] bytes) {
    Path abs = file.toAbsolutePath();
    Path tmp = null;
    try {
      tmp = tempBeside(abs);
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) ch.write(b);
        ch.force(true);
      }
      commit(tmp, abs);
      tmp = null;
    } catch (IOException e) {
      throw new UncheckedIOException("writing " + file + ": " + e.getMessage(), e);
    } finally {
      deleteQuietly(tmp);
    }
  }

  /** Replaces {@code target} with a copy of {@code src} atomically (temp file, force, rename). */
  public static void copy(Path src, Path target) {
    Path abs = target.toAbsolutePath();
    Path tmp = null;
    try {
      tmp = tempBeside(abs);
      try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ);
          FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        for (long at = 0, size = in.size(); at < size; ) at += in.transferTo(at, size - at, out);
        out.force(true);
      }
      commit(tmp, abs);
      tmp = null;
    } catch (IOException e) {
      throw new UncheckedIOException("copying " + src + " to " + target + ": " + e.getMessage(), e);
    } finally {
      deleteQuietly(tmp);
    }
  }

  /**
   * Deletes the temp files that a killed write of {@code names} (file names in {@code dir}) left
   * behind: {@code .<name>.<digits>.tmp}, the pattern {@link #write} uses, and nothing else.
   * Returns how many were deleted. Call it only while no other process writes in {@code dir}.
   */
  public static int removeStaleTemps(Path dir, Collection<String> names) {
    int removed = 0;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, ".*.tmp")) {
      for (Path f : files) {
        Matcher m = TEMP.matcher(f.getFileName().toString());
        if (m.matches() && names.contains(m.group(1)) && Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
          Files.delete(f);
          removed++;
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cleaning up temp files in " + dir + ": " + e.getMessage(), e);
    }
    return removed;
  }

  /** {@code .<name>.<random digits>.tmp}: what {@link Files#createTempFile} makes of our prefix and suffix. */
  private static final Pattern TEMP = Pattern.compile("\\.(.+)\\.[0-9]+\\.tmp");

  /** A new temp file beside {@code target}, with the target's permissions (or rw-r--r--). */
  static Path tempBeside(Path target) throws IOException {
    Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName() + ".", ".tmp");
    if (Files.getFileStore(tmp).supportsFileAttributeView("posix"))
      Files.setPosixFilePermissions(tmp, Files.exists(target)
          ? Files.getPosixFilePermissions(target) : PosixFilePermissions.fromString("rw-r--r--"));
    return tmp;
  }

  /** Renames the (already forced) {@code tmp} over {@code target} and makes the rename durable. */
  static void commit(Path tmp, Path target) throws IOException {
    try {
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException(target + ": the file system cannot rename atomically", e);
    }
    try (FileChannel ch = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | UnsupportedOperationException ignored) {
      // not every platform can open a folder; the data itself was forced before the rename
    }
  }

  static void deleteQuietly(Path tmp) {
    if (tmp == null) return;
    try {
      Files.deleteIfExists(tmp);
    } catch (IOException ignored) {
      // the original error is the one to report
    }
  }
}
