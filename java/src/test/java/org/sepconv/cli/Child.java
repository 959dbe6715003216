package org.sepconv.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** The command line in a child JVM: for real signals, and for file systems mounted in a namespace. */
final class Child {
  static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
  static final String CP = classPath();

  /**
   * The test JVM's class path, with the location of the command line's classes in front when it
   * lacks them (the JUnit console launcher loads them through a class loader of its own).
   */
  private static String classPath() {
    String cp = System.getProperty("java.class.path");
    try {
      String main = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
      return cp.contains(main) ? cp : main + java.io.File.pathSeparator + cp;
    } catch (java.net.URISyntaxException | SecurityException | NullPointerException e) {
      return cp;
    }
  }

  private final Process process;
  private final List<String> out = new ArrayList<>();
  private final StringBuilder err = new StringBuilder();
  private final Thread outReader, errReader;

  private Child(Process p) {
    process = p;
    outReader = reader(p.getInputStream(), line -> {
      synchronized (out) {
        out.add(line);
        out.notifyAll();
      }
    });
    errReader = reader(p.getErrorStream(), line -> {
      synchronized (err) {
        err.append(line).append('\n');
      }
    });
  }

  /** The command line of {@code sepconv args...} in a new JVM. */
  static List<String> command(String... args) {
    List<String> c = new ArrayList<>(List.of(JAVA, "-Xmx1g", "-Djava.awt.headless=true", "-cp", CP, Main.class.getName()));
    c.addAll(List.of(args));
    return c;
  }

  static Child start(List<String> command) {
    try {
      return new Child(new ProcessBuilder(command).start());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Thread reader(java.io.InputStream in, java.util.function.Consumer<String> sink) {
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) sink.accept(line);
      } catch (IOException ignored) {
        // the process is gone
      }
    });
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** Waits (up to {@code seconds}) for a stdout line that matches; false if none came. */
  boolean awaitLine(Predicate<String> match, double seconds) throws InterruptedException {
    long end = System.nanoTime() + (long) (seconds * 1e9);
    synchronized (out) {
      for (int seen = 0; ; ) {
        for (; seen < out.size(); seen++) if (match.test(out.get(seen))) return true;
        long left = end - System.nanoTime();
        if (left <= 0 || !process.isAlive() && seen == out.size()) return false;
        out.wait(Math.max(1, Math.min(200, left / 1_000_000)));
      }
    }
  }

  void signal(String name) throws IOException, InterruptedException {
    new ProcessBuilder("kill", "-" + name, Long.toString(process.pid())).inheritIO().start().waitFor();
  }

  /** The exit code, or -1 if the process had not ended after {@code seconds} (it is then killed). */
  int waitFor(double seconds) throws InterruptedException {
    if (!process.waitFor((long) (seconds * 1000), TimeUnit.MILLISECONDS)) {
      process.destroyForcibly().waitFor();
      return -1;
    }
    outReader.join(5000);
    errReader.join(5000);
    return process.exitValue();
  }

  String out() {
    synchronized (out) {
      return String.join("\n", out);
    }
  }

  String err() {
    synchronized (err) {
      return err.toString();
    }
  }
}
