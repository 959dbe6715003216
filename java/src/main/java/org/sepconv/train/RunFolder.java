package org.sepconv.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.sepconv.io.AtomicFile;

/**
 * The run folder of one training run, held for the run's duration: created if needed, checked
 * to be writable before any work starts, locked against a second {@code train} in the same
 * folder, and cleaned of the temp files that a killed write left behind. A new run refuses a
 * folder that already holds a run unless it is told to overwrite it.
 */
final class RunFolder implements AutoCloseable {
  static final String LAST = "last.safetensors", BEST = "best.safetensors", METRICS = "metrics.csv", CURVES = "curves.png";
  /** The files a run writes (and the only names whose temp files are cleaned up). */
  static final List<String> FILES = List.of(LAST, BEST, METRICS, CURVES);
  private static final String LOCK = ".lock";

  private final Path dir;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final int removedTemps;

  private RunFolder(Path dir, FileChannel lockChannel, FileLock lock, int removedTemps) {
    this.dir = dir;
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.removedTemps = removedTemps;
  }

  /** Opens (creating) {@code dir} for a run that starts as {@code start}; the caller closes it. */
  static RunFolder open(Path dir, Trainer.Start start) {
    if (Files.exists(dir) && !Files.isDirectory(dir))
      throw new IllegalArgumentException("--out " + dir + " is a file, not a folder");
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the run folder " + dir + ": " + reason(e), e);
    }
    FileChannel ch;
    try {
      ch = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write in the run folder " + dir + ": " + reason(e), e);
    }
    try {
      FileLock lock;
      try {
        lock = ch.tryLock();
      } catch (OverlappingFileLockException sameProcess) {
        lock = null;
      }
      if (lock == null) throw new IllegalStateException("the run folder " + dir + " is in use by another train ("
          + Files.readString(dir.resolve(LOCK)).trim() + "); wait for it to end, or choose another --out");
      probeWritable(dir, ch);
      boolean holdsRun = Files.exists(dir.resolve(LAST)) || Files.exists(dir.resolve(BEST))
          || Files.exists(dir.resolve(METRICS));
      if (start == Trainer.Start.NEW && holdsRun)
        throw new IllegalArgumentException("--out " + dir + " already holds a run (" + describe(dir)
            + "); pass --resume to continue it, --overwrite to replace it, or choose another --out");
      if (start == Trainer.Start.RESUME && !Files.exists(dir.resolve(LAST)))
        throw new IllegalArgumentException("--resume: there is no run to continue in " + dir + " (no " + LAST + ")");
      int removed = AtomicFile.removeStaleTemps(dir, FILES);
      if (start == Trainer.Start.OVERWRITE) for (String f : FILES) Files.deleteIfExists(dir.resolve(f));
      return new RunFolder(dir, ch, lock, removed);
    } catch (IOException e) {
      close(ch);
      throw new UncheckedIOException("run folder " + dir + ": " + reason(e), e);
    } catch (RuntimeException e) {
      close(ch);
      throw e;
    }
  }

  /** Writes this process's id into the lock file and syncs it: fails early where the folder takes no writes. */
  private static void probeWritable(Path dir, FileChannel lock) {
    try {
      lock.truncate(0);
      lock.write(ByteBuffer.wrap(("pid " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
      lock.force(true);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write in the run folder " + dir + ": " + reason(e), e);
    }
  }

  private static String describe(Path dir) {
    Path last = dir.resolve(LAST);
    if (!Files.exists(last)) return "its files " + FILES;
    try {
      Checkpoint ck = Checkpoint.read(last);
      return LAST + " at epoch " + ck.epochsDone() + " of " + ck.config().epochs();
    } catch (RuntimeException e) {
      return LAST + ", unreadable";
    }
  }

  private static String reason(IOException e) {
    if (e instanceof FileSystemException f && f.getReason() != null) return f.getReason();
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  Path dir() {
    return dir;
  }

  /** How many stale temp files were deleted when the folder was opened. */
  int removedTemps() {
    return removedTemps;
  }

  private static void close(FileChannel ch) {
    try {
      ch.close();
    } catch (IOException ignored) {
      // the first error is the one to report
    }
  }

  /** Releases the lock (the lock file stays, empty of meaning once unlocked). */
  @Override
  public void close() {
    try {
      if (lock.isValid()) lock.release();
    } catch (IOException ignored) {
      // closing the channel releases it too
    }
    close(lockChannel);
  }
}
