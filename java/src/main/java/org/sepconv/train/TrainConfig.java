package org.sepconv.train;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.sepconv.models.Models;
import org.sepconv.tensor.Device;

/**
 * Everything that defines a training run. It is stored in every checkpoint (as {@code config.*}
 * metadata), so that {@code --resume}, {@code eval} and {@code predict} rebuild exactly the same
 * model, data and optimizer from the checkpoint alone.
 *
 * @param model one of {@link Models#NAMES}
 * @param variant one of {@link Models#VARIANTS}
 * @param widthMult the MobileNet width multiplier, in (0, {@link Models#MAX_WIDTH}]
 * @param classes the number of classes: the dataset's (10), or 2..256 for synthetic data
 * @param dataset {@code cifar10}, {@code fashion-mnist} or {@code synthetic}
 * @param limitTrain train on this many images (a seeded subset); 0 = all
 * @param epochs the number of epochs of the whole run
 * @param batchSize the training batch size
 * @param optimizer {@code sgd}, {@code adam} or {@code adamw}
 * @param lr the peak learning rate
 * @param momentum SGD momentum (Adam's β1 is fixed at 0.9)
 * @param weightDecay L2 penalty (SGD, Adam) or decoupled decay (AdamW)
 * @param schedule {@code cosine}, {@code onecycle}, {@code step} or {@code constant}
 * @param warmupEpochs linear warm-up from lr/10 over this many epochs (0 = none); not with onecycle
 * @param labelSmoothing cross-entropy label smoothing in [0, 1)
 * @param cropPad random-crop padding in pixels (0 = no crop), at most {@link #MAX_CROP_PAD}
 * @param flip random horizontal flips
 * @param cutout the side of the cutout square in pixels (0 = off), at most {@link #MAX_CUTOUT}
 * @param seed seeds the weights, the data order, the augmentation and dropout
 * @param device where the model, its optimizer state and each batch live while the run trains
 *     (the run's latest segment: a resumed run may move to another device)
 */
public record TrainConfig(String model, String variant, float widthMult, int classes, String dataset, int limitTrain,
    int epochs, int batchSize, String optimizer, double lr, double momentum, double weightDecay, String schedule,
    double warmupEpochs, float labelSmoothing, int cropPad, boolean flip, int cutout, long seed, Device device) {
  public static final List<String> DATASETS = List.of("cifar10", "fashion-mnist", "synthetic");
  public static final List<String> OPTIMIZERS = List.of("sgd", "adam", "adamw");
  public static final List<String> SCHEDULES = List.of("cosine", "onecycle", "step", "constant");
  /** Every dataset here has 32x32 images: half of that is the most padding a crop may add. */
  public static final int MAX_CROP_PAD = 16, MAX_CUTOUT = 32;

  /** Checks every field; the message names the command-line flag and what it expects. */
  public TrainConfig {
    Models.inputSize(variant); // validates the variant
    if (!Models.NAMES.contains(model)) throw bad("--model", "one of " + Models.NAMES, model);
    if (!(widthMult > 0 && widthMult <= Models.MAX_WIDTH)) throw bad("--width-mult", "in (0, " + Models.MAX_WIDTH + "]", widthMult);
    if (!DATASETS.contains(dataset)) throw bad("--dataset", "one of " + DATASETS, dataset);
    if (dataset.equals("synthetic") ? classes < 2 || classes > 256 : classes != 10)
      throw bad("--classes", dataset.equals("synthetic") ? "in [2, 256] for synthetic data" : "10 for " + dataset
          + " (its class count)", classes);
    if (limitTrain < 0) throw bad("--limit-train", ">= 0 (0 = the whole training set)", limitTrain);
    if (epochs < 1) throw bad("--epochs", ">= 1", epochs);
    if (batchSize < 1) throw bad("--batch-size", ">= 1", batchSize);
    if (!OPTIMIZERS.contains(optimizer)) throw bad("--optimizer", "one of " + OPTIMIZERS, optimizer);
    if (!(lr > 0) || Double.isInfinite(lr)) throw bad("--lr", "a finite number > 0", lr);
    if (!(momentum >= 0 && momentum < 1)) throw bad("--momentum", "a number in [0, 1)", momentum);
    if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) throw bad("--weight-decay", "a finite number >= 0", weightDecay);
    if (!SCHEDULES.contains(schedule)) throw bad("--schedule", "one of " + SCHEDULES, schedule);
    if (!(warmupEpochs >= 0 && warmupEpochs <= epochs)) throw bad("--warmup-epochs", "a number in [0, epochs]", warmupEpochs);
    if (warmupEpochs > 0 && schedule.equals("onecycle"))
      throw bad("--warmup-epochs", "0 with --schedule onecycle (it has its own warm-up)", warmupEpochs);
    if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw bad("--label-smoothing", "a number in [0, 1)", labelSmoothing);
    if (cropPad < 0 || cropPad > MAX_CROP_PAD)
      throw bad("--crop-pad", "in [0, " + MAX_CROP_PAD + "] pixels (0 = off; more would crop mostly padding of a 32-pixel "
          + "image)", cropPad);
    if (device == null) throw bad("--device", Device.labels(), null);
    if (cutout < 0 || cutout > MAX_CUTOUT)
      throw bad("--cutout", "in [0, " + MAX_CUTOUT + "] pixels (0 = off; the images are 32x32)", cutout);
  }

  private static IllegalArgumentException bad(String flag, String expected, Object got) {
    return new IllegalArgumentException(flag + " must be " + expected + ", got " + got);
  }

  /** The fields as {@code config.<name>} metadata entries. */
  public Map<String, String> toMetadata() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("config.model", model);
    m.put("config.variant", variant);
    m.put("config.width_mult", Float.toString(widthMult));
    m.put("config.classes", Integer.toString(classes));
    m.put("config.dataset", dataset);
    m.put("config.limit_train", Integer.toString(limitTrain));
    m.put("config.epochs", Integer.toString(epochs));
    m.put("config.batch_size", Integer.toString(batchSize));
    m.put("config.optimizer", optimizer);
    m.put("config.lr", Double.toString(lr));
    m.put("config.momentum", Double.toString(momentum));
    m.put("config.weight_decay", Double.toString(weightDecay));
    m.put("config.schedule", schedule);
    m.put("config.warmup_epochs", Double.toString(warmupEpochs));
    m.put("config.label_smoothing", Float.toString(labelSmoothing));
    m.put("config.crop_pad", Integer.toString(cropPad));
    m.put("config.flip", Boolean.toString(flip));
    m.put("config.cutout", Integer.toString(cutout));
    m.put("config.seed", Long.toString(seed));
    m.put("config.device", device.label());
    return m;
  }

  /** Reads what {@link #toMetadata} wrote; a missing or malformed entry names itself. */
  public static TrainConfig fromMetadata(Map<String, String> m) {
    Meta r = new Meta(m);
    return new TrainConfig(r.str("config.model"), r.str("config.variant"), (float) r.num("config.width_mult"),
        (int) r.lng("config.classes"), r.str("config.dataset"), (int) r.lng("config.limit_train"),
        (int) r.lng("config.epochs"), (int) r.lng("config.batch_size"), r.str("config.optimizer"), r.num("config.lr"),
        r.num("config.momentum"), r.num("config.weight_decay"), r.str("config.schedule"),
        r.num("config.warmup_epochs"), (float) r.num("config.label_smoothing"), (int) r.lng("config.crop_pad"),
        r.bool("config.flip"), (int) r.lng("config.cutout"),
        r.lng("config.seed"), r.device("config.device"));
  }

  /** The same run with {@code epochs} changed (a resumed run may be extended). */
  public TrainConfig withEpochs(int epochs) {
    return new TrainConfig(model, variant, widthMult, classes, dataset, limitTrain, epochs, batchSize, optimizer, lr,
        momentum, weightDecay, schedule, warmupEpochs, labelSmoothing, cropPad, flip, cutout, seed, device);
  }

  /** Typed reads of checkpoint metadata. */
  static final class Meta {
    private final Map<String, String> m;

    Meta(Map<String, String> m) {
      this.m = m;
    }

    String str(String key) {
      String v = m.get(key);
      if (v == null) throw new IllegalArgumentException("checkpoint metadata has no '" + key + "'");
      return v;
    }

    double num(String key) {
      String v = str(key);
      try {
        return Double.parseDouble(v);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("checkpoint metadata '" + key + "' is not a number: '" + v + "'");
      }
    }

    boolean bool(String key) {
      String v = str(key);
      if (!v.equals("true") && !v.equals("false"))
        throw new IllegalArgumentException("checkpoint metadata '" + key + "' is not true or false: '" + v + "'");
      return v.equals("true");
    }

    long lng(String key) {
      String v = str(key);
      try {
        return Long.parseLong(v);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("checkpoint metadata '" + key + "' is not an integer: '" + v + "'");
      }
    }

    /**
     * A device label. Absent only in checkpoints written before runs recorded their device; those
     * versions had no other device than the CPU, so that is what such a run trained on.
     */
    Device device(String key) {
      String v = m.get(key);
      if (v == null) return Device.CPU;
      try {
        return Device.of(v);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("checkpoint metadata '" + key + "' is not " + Device.labels() + ": '" + v + "'");
      }
    }

    float[] floats(String key) {
      String[] parts = str(key).split(",");
      float[] out = new float[parts.length];
      for (int i = 0; i < parts.length; i++) {
        try {
          out[i] = Float.parseFloat(parts[i]);
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("checkpoint metadata '" + key + "' is not a list of numbers: '" + m.get(key) + "'");
        }
      }
      return out;
    }
  }
}
