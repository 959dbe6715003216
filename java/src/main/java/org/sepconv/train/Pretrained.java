package org.sepconv.train;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sepconv.io.SafeTensors;
import org.sepconv.nn.Linear;
import org.sepconv.nn.Module;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * Pretrained weights that a new run starts from ({@code train --init-from FILE}): a safetensors
 * state dict under the model's own names, which are torchvision's, so that torchvision's
 * {@code model.state_dict()} saved with {@code safetensors.torch.save_file} loads as it is.
 * Every key must match the model's, shape for shape, with one exception: a classifier (the
 * model's last {@link Linear}) for another class count is replaced, i.e. left at the run's
 * fresh initialisation, as fine-tuning for another dataset needs.
 *
 * <p>Every checkpoint of the run names the file ({@code init.file}, {@code init.bytes},
 * {@code init.sha256}); it is read only when the run starts, so a resumed run continues from
 * its checkpoint whether or not the file is still there.
 *
 * @param file the file, absolute
 * @param bytes its size
 * @param sha256 its SHA-256, 64 lower-case hex digits
 */
public record Pretrained(Path file, long bytes, String sha256) {
  /** Checks the fields; the message names the metadata key. */
  public Pretrained {
    if (file == null || !file.isAbsolute()) throw new IllegalArgumentException("init.file must be an absolute path, got " + file);
    if (bytes < 8) throw new IllegalArgumentException("init.bytes must be >= 8 (a safetensors header), got " + bytes);
    if (sha256 == null || !sha256.matches("[0-9a-f]{64}"))
      throw new IllegalArgumentException("init.sha256 must be 64 lower-case hex digits, got " + sha256);
  }

  /**
   * Identifies {@code file} before any work: it must be a safetensors file (its header and
   * layout are checked, not its tensors' names); its size and SHA-256 are taken.
   */
  public static Pretrained of(Path file) {
    if (!Files.isRegularFile(file))
      throw new IllegalArgumentException("--init-from " + file + (Files.exists(file) ? ": not a file" : ": no such file"));
    try {
      SafeTensors.metadata(file);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--init-from: " + e.getMessage(), e);
    }
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
    try (InputStream in = new DigestInputStream(Files.newInputStream(file), sha)) {
      long bytes = in.transferTo(OutputStream.nullOutputStream());
      return new Pretrained(file.toAbsolutePath().normalize(), bytes, HexFormat.of().formatHex(sha.digest()));
    } catch (IOException e) {
      throw new UncheckedIOException("--init-from " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Copies the file's tensors into {@code model}'s parameters and buffers and returns the line
   * that says so: how many, and which classifier tensors were replaced and why. Strict, as
   * {@link Module#loadStateDict}: a key of the file that the model lacks, a key of the model
   * that the file lacks, or another shape anywhere but in a classifier for another class count
   * is an IllegalArgumentException naming the first such key and the shape the model expects,
   * and nothing is copied.
   */
  public String loadInto(Module model) {
    Map<String, Tensor> state = SafeTensors.load(file);
    try {
      String prefix = null;
      Linear fc = null;
      for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
        if (e.getValue() instanceof Linear l) {
          prefix = e.getKey().isEmpty() ? "" : e.getKey() + ".";
          fc = l;
        }
      }
      List<String> replaced = fc == null ? List.of() : replaceClassifier(prefix, fc, state);
      model.loadStateDict(state);
      String line = "init: loaded " + (state.size() - replaced.size()) + " tensors from " + file;
      return replaced.isEmpty() ? line
          : line + "; replaced " + String.join(" and ", replaced) + " by fresh ones for " + fc.outFeatures() + " classes";
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--init-from " + file + ": " + e.getMessage(), e);
    } finally {
      state.values().forEach(Tensor::close);
    }
  }

  /**
   * Where the file holds {@code fc}'s tensors (its keys under {@code prefix}) for another class
   * count, i.e. with {@code fc}'s shapes but for dimension 0, puts copies of {@code fc}'s fresh
   * tensors in their place in {@code state} and returns the replaced keys with the file's
   * shapes; else changes nothing, and the strict load reports any mismatch.
   */
  private static List<String> replaceClassifier(String prefix, Linear fc, Map<String, Tensor> state) {
    Tensor w = state.get(prefix + "weight");
    if (w == null || w.shape().rank() != 2 || w.shape().get(0) == fc.outFeatures()) return List.of();
    Map<String, Tensor> fresh = fc.stateDict();
    for (Map.Entry<String, Tensor> e : fresh.entrySet()) {
      Tensor t = state.get(prefix + e.getKey());
      int[] dims = e.getValue().shape().dims();
      dims[0] = w.shape().get(0);
      if (t == null || !t.shape().equals(Shape.of(dims))) return List.of();
    }
    List<String> replaced = new ArrayList<>();
    for (Map.Entry<String, Tensor> e : fresh.entrySet()) {
      String key = prefix + e.getKey();
      replaced.add(key + " " + state.get(key).shape());
      state.put(key, e.getValue().copy()).close();
    }
    return replaced;
  }

  /** The {@code init.*} metadata entries of the run's checkpoints. */
  Map<String, String> toMetadata() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("init.file", file.toString());
    m.put("init.bytes", Long.toString(bytes));
    m.put("init.sha256", sha256);
    return m;
  }

  /** What {@link #toMetadata} wrote, checked; null for a run that started from fresh weights (no {@code init.*}). */
  static Pretrained fromMetadata(Map<String, String> m) {
    if (!m.containsKey("init.file") && !m.containsKey("init.bytes") && !m.containsKey("init.sha256")) return null;
    TrainConfig.Meta r = new TrainConfig.Meta(m);
    return new Pretrained(Path.of(r.str("init.file")), r.lng("init.bytes"), r.str("init.sha256"));
  }
}
