package org.sepconv.train;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
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
 * {@code data.classes} (names, one per line), {@code data.train_size}; and the run's position:
 * {@code run.epoch} (epochs completed), {@code run.batch} (batches done in the next epoch),
 * {@code run.step}, {@code run.epoch_seconds}, {@code run.loss_sum}, {@code run.correct},
 * {@code run.seen} (the partial epoch's running sums), {@code run.best_acc},
 * {@code run.best_epoch}, {@code run.metrics} (the metrics.csv text).
 */
public final class Checkpoint {
  static final String FORMAT = "1";
  private final Map<String, String> meta;
  private final TrainConfig config;

  private Checkpoint(Map<String, String> meta) {
    this.meta = meta;
    this.config = TrainConfig.fromMetadata(meta);
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

  /** The dataset's own channel count (1 for Fashion-MNIST, 3 for CIFAR-10). */
  public int dataChannels() {
    return (int) new TrainConfig.Meta(meta).lng("data.channels");
  }

  public String[] classNames() {
    return new TrainConfig.Meta(meta).str("data.classes").split("\n");
  }

  /** Epochs completed when this checkpoint was written. */
  public int epochsDone() {
    return (int) new TrainConfig.Meta(meta).lng("run.epoch");
  }
}
