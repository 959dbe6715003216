package org.sepconv.train;

import java.util.function.BooleanSupplier;
import org.sepconv.autograd.F;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.data.Augment;
import org.sepconv.data.Batch;
import org.sepconv.data.Dataset;
import org.sepconv.data.Loader;
import org.sepconv.nn.Module;
import org.sepconv.ops.Ops;
import org.sepconv.tensor.DType;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/** Test-set evaluation: mean cross-entropy (no smoothing), accuracy and per-class accuracy. */
public final class Evaluator {
  /** The outcome of one evaluation. {@code seconds} includes the data pipeline. */
  public record Result(double loss, double accuracy, long[] correctPerClass, long[] totalPerClass, int images,
      double seconds) {
    public double imagesPerSecond() {
      return images / Math.max(seconds, 1e-9);
    }
  }

  private Evaluator() {}

  /**
   * Runs {@code model} in eval mode over every image of {@code data} (in order) and puts it
   * back in the mode it was in.
   */
  public static Result evaluate(Module model, Dataset data, float[] mean, float[] std, int batchSize) {
    return evaluate(model, data, mean, std, batchSize, () -> false);
  }

  /** As {@link #evaluate(Module, Dataset, float[], float[], int)}, but returns null once {@code stop} says so. */
  public static Result evaluate(Module model, Dataset data, float[] mean, float[] std, int batchSize, BooleanSupplier stop) {
    int classes = data.classes().length;
    long[] correct = new long[classes], total = new long[classes];
    double lossSum = 0;
    long hits = 0;
    boolean wasTraining = model.isTraining();
    model.eval();
    long t0 = System.nanoTime();
    try (GradMode.Guard g = GradMode.noGrad();
        Loader loader = new Loader(data, batchSize, false, Augment.NONE, mean, std, mean.length, 0, 0, 2)) {
      Device device = model.device();
      while (loader.hasNext()) {
        if (stop.getAsBoolean()) return null;
        try (Batch b = loader.next(); Batch d = b.on(device); Scope s = Scope.open()) {
          Variable logits = model.forward(Variable.leaf(d.images(), false));
          // the batch's loss and predicted classes come to the host: they are what an evaluation reports
          lossSum += F.crossEntropy(logits, d.labelTensor(), 0f).value().get(0) * (double) b.size();
          int[] pred = predictions(logits.value());
          for (int i = 0; i < b.size(); i++) {
            int y = b.labels()[i];
            total[y]++;
            if (pred[i] == y) {
              correct[y]++;
              hits++;
            }
          }
        }
      }
    } finally {
      model.train(wasTraining);
    }
    int n = data.size();
    return new Result(lossSum / n, (double) hits / n, correct, total, n, (System.nanoTime() - t0) / 1e9);
  }

  /**
   * The index of each row's largest logit ([n, k], on any device; ties go to the lower index),
   * computed where the logits are and brought to the host: n ints.
   */
  public static int[] predictions(Tensor logits) {
    int n = logits.shape().get(0), k = (int) (logits.size() / n);
    try (Tensor idx = Tensor.empty(Shape.of(n), DType.I32, logits.device())) {
      Ops.argmaxRows(n, k, logits, idx);
      return idx.toIntArray();
    }
  }
}
