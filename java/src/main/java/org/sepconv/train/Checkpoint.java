package org.sepconv.train;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.sepconv.io.SafeTensors;
import org.sepconv.models.Models;
import org.sepconv.nn.Module;
import org.sepconv.optim.Optimizer;
import org.sepconv.tensor.Tensor;

/**
 * A training checkpoint: one safetensors file with the model's state dict under {@code model.},
 * the optimizer's under {@code optim.}, and metadata holding the {@link TrainConfig}, the data
 * normalisation and class names, the position in the run and the metrics so far. Written
 * through a temp file and a rename ({@link SafeTensors#save}), so a kill at any moment leaves
 * the previous checkpoint whole.
 *
 * <p>Metadata keys besides {@code config.*}: {@code sepconv.checkpoint} (format version),
 * {@code data.mean}, {@code data.std} (comma-separated, per model input channel),
 * {@code data.channels} (the dataset's channels: 1 is repeated into the model's 3),
 * {@code data.image_size} (the side of the square images it trained on),
 * {@code data.classes} (names, one per line), {@code data.train_size}; and the run's position:
 * {@code run.epoch} (epochs completed), {@code run.batch} (batches done in the next epoch),
 * {@code run.step}, {@code run.epoch_seconds}, {@code run.loss_sum}, {@code run.correct},
 * {@code run.seen} (the partial epoch's running sums), {@code run.best_acc},
 * {@code run.best_epoch}, {@code run.metrics} (the metrics.csv text); and where the run started
 * from pretrained weights ({@code train --init-from}), {@code init.file}, {@code init.bytes} and
 * {@code init.sha256} ({@link Pretrained}).
 */
public final class Checkpoint {
  static final String FORMAT = "1";
  private final Map<String, String> meta;
  private final TrainConfig config;

  private Checkpoint(Map<String, String> meta) {
    this.meta = meta;
    this.config = TrainConfig.fromMetadata(meta);
    validate();
  }

  /**
   * Checks every field that is not the config (which its constructor checks): a hand-edited or
   * damaged checkpoint is refused with the field and the range it must be in, never trusted.
   */
  private void validate() {
    TrainConfig.Meta r = new TrainConfig.Meta(meta);
    float[] mean = r.floats("data.mean"), std = r.floats("data.std");
    if (mean.length != 3 || std.length != 3)
      throw new IllegalArgumentException("data.mean and data.std must hold 3 values (the models' input channels), got "
          + mean.length + " and " + std.length);
    for (int i = 0; i < 3; i++)
      if (!Float.isFinite(mean[i]) || !(std[i] > 0) || !Float.isFinite(std[i]))
        throw new IllegalArgumentException("data.mean must be finite and data.std finite and > 0, got " + meta.get("data.mean")
            + " and " + meta.get("data.std"));
    long channels = r.lng("data.channels");
    if (channels != 1 && channels != 3) throw new IllegalArgumentException("data.channels must be 1 or 3, got " + channels);
    String[] names = classNames();
    if (names.length != config.classes())
      throw new IllegalArgumentException("data.classes names " + names.length + " classes, but the model has "
          + config.classes() + " (config.classes)");
    for (String n : names) if (n.isBlank()) throw new IllegalArgumentException("data.classes holds an empty class name");
    range(r, "data.train_size", 1, Integer.MAX_VALUE);
    if (meta.containsKey("data.image_size")) range(r, "data.image_size", 1, 1 << 16);
    int epoch = (int) range(r, "run.epoch", 0, config.epochs());
    range(r, "run.batch", 0, Integer.MAX_VALUE);
    range(r, "run.step", 0, Long.MAX_VALUE);
    long seen = range(r, "run.seen", 0, Long.MAX_VALUE);
    range(r, "run.correct", 0, seen);
    for (String k : new String[] {"run.loss_sum", "run.epoch_seconds"}) {
      double v = r.num(k);
      if (!(v >= 0) || Double.isInfinite(v)) throw new IllegalArgumentException(k + " must be a finite number >= 0, got " + v);
    }
    int bestEpoch = (int) range(r, "run.best_epoch", 0, epoch);
    double bestAcc = r.num("run.best_acc");
    if (bestEpoch == 0 ? bestAcc != -1 : !(bestAcc >= 0 && bestAcc <= 1))
      throw new IllegalArgumentException("run.best_acc must be " + (bestEpoch == 0 ? "-1 (no epoch evaluated yet)"
          : "in [0, 1]") + " with run.best_epoch " + bestEpoch + ", got " + bestAcc);
    List<Metrics.Row> rows = Metrics.parse(r.str("run.metrics"), "run.metrics").rows();
    if (rows.size() != epoch)
      throw new IllegalArgumentException("run.metrics holds " + rows.size() + " epochs, but run.epoch is " + epoch);
    for (int i = 0; i < rows.size(); i++)
      if (rows.get(i).epoch() != i + 1)
        throw new IllegalArgumentException("run.metrics row " + (i + 1) + " is for epoch " + rows.get(i).epoch());
    init(); // the init.* record, where the run started from pretrained weights
  }

  private static long range(TrainConfig.Meta r, String key, long lo, long hi) {
    long v = r.lng(key);
    if (v < lo || v > hi) throw new IllegalArgumentException(key + " must be in [" + lo + ", " + hi + "], got " + v);
    return v;
  }

  /** Reads a checkpoint's metadata (not its tensors) and checks its format. */
  public static Checkpoint read(Path file) {
    if (!Files.isRegularFile(file)) throw new IllegalArgumentException("checkpoint not found: " + file);
    Map<String, String> meta = SafeTensors.metadata(file);
    if (!FORMAT.equals(meta.get("sepconv.checkpoint")))
      throw new IllegalArgumentException(file + ": not a sepconv training checkpoint (no sepconv.checkpoint=" + FORMAT
          + " in its metadata)");
    try {
      return new Checkpoint(meta);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  /** Writes model, optimizer (may be null: then a model-only file) and metadata to {@code file}. */
  static void save(Path file, Module model, Optimizer optimizer, Map<String, String> meta) {
    Map<String, Tensor> all = new LinkedHashMap<>();
    model.stateDict().forEach((k, v) -> all.put("model." + k, v));
    if (optimizer != null) optimizer.stateDict().forEach((k, v) -> all.put("optim." + k, v));
    Map<String, String> m = new LinkedHashMap<>();
    m.put("sepconv.checkpoint", FORMAT);
    m.putAll(meta);
    SafeTensors.save(file, all, m);
  }

  /** Loads {@code file}'s tensors into {@code model} and (if not null) {@code optimizer}; strict. */
  static void restore(Path file, Module model, Optimizer optimizer) {
    Map<String, Tensor> all = SafeTensors.load(file);
    try {
      Map<String, Tensor> m = new LinkedHashMap<>(), o = new LinkedHashMap<>();
      all.forEach((k, v) -> {
        if (k.startsWith("model.")) m.put(k.substring(6), v);
        else if (k.startsWith("optim.")) o.put(k.substring(6), v);
        else throw new IllegalArgumentException(file + ": unexpected tensor '" + k + "'");
      });
      model.loadStateDict(m);
      if (optimizer != null) optimizer.loadStateDict(o);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    } finally {
      all.values().forEach(Tensor::close);
    }
  }

  /** Builds the checkpoint's model and loads its weights (for eval and predict). */
  public Module loadModel(Path file) {
    Module model = Models.create(config.model(), config.variant(), config.widthMult(), config.classes(), new Random(0));
    try {
      restore(file, model, null);
      return model;
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
  }

  public TrainConfig config() {
    return config;
  }

  public Map<String, String> metadata() {
    return meta;
  }

  /** Per model-input-channel normalisation mean. */
  public float[] mean() {
    return new TrainConfig.Meta(meta).floats("data.mean");
  }

  public float[] std() {
    return new TrainConfig.Meta(meta).floats("data.std");
  }

  /**
   * The side of the square images the model was trained on: what predict resizes to and what an
   * export declares. Checkpoints from before it was recorded: the variant's own size.
   */
  public int imageSize() {
    String v = meta.get("data.image_size");
    return v == null ? Models.inputSize(config.variant()) : (int) new TrainConfig.Meta(meta).lng("data.image_size");
  }

  /** The dataset's own channel count (1 for Fashion-MNIST, 3 for CIFAR-10). */
  public int dataChannels() {
    return (int) new TrainConfig.Meta(meta).lng("data.channels");
  }

  public String[] classNames() {
    return new TrainConfig.Meta(meta).str("data.classes").split("\n");
  }

  /** The pretrained weights the run started from, or null where it started from fresh ones. */
  public Pretrained init() {
    return Pretrained.fromMetadata(meta);
  }

  /** Epochs completed when this checkpoint was written. */
  public int epochsDone() {
    return (int) new TrainConfig.Meta(meta).lng("run.epoch");
  }
}
