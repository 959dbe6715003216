package org.sepconv.nn;

import org.sepconv.autograd.F;
import org.sepconv.autograd.Variable;
import org.sepconv.ops.Activation;
import org.sepconv.ops.Ops;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * Batch normalisation over the channels of NCHW input (Ioffe and Szegedy, "Batch
 * Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift",
 * 2015), as {@code torch.nn.BatchNorm2d}:
 *
 * <pre>  y[n][c][h][w] = (x[n][c][h][w] - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]</pre>
 *
 * In training mode mean and var are the batch's, over n, h and w (var biased), and the running
 * statistics move towards them: {@code running = (1 - momentum) * running + momentum * batch},
 * with the unbiased batch variance; {@code num_batches_tracked} counts those batches. In eval
 * mode mean and var are the running statistics. Without {@code trackRunningStats} there are no
 * running statistics and batch statistics are used in both modes.
 *
 * <p>State (torchvision's names): parameters {@code weight} (gamma, init 1) and {@code bias}
 * (beta, init 0), each [c], when affine; buffers {@code running_mean} [c] (init 0),
 * {@code running_var} [c] (init 1) and {@code num_batches_tracked}, a rank-0 tensor (a float
 * here, int64 in PyTorch), when tracking.
 *
 * <p>Eval mode has no backward: run it under {@link org.sepconv.autograd.GradMode#noGrad()},
 * or the forward throws UnsupportedOperationException.
 */
public final class BatchNorm2d extends Module {
  private final int channels;
  private final float eps, momentum;
  private final Variable weight, bias, runningMean, runningVar;
  private final Tensor numBatchesTracked;

  /** eps 1e-5, momentum 0.1, affine, tracking running statistics: PyTorch's defaults. */
  public BatchNorm2d(int channels) {
    this(channels, 1e-5f, 0.1f, true, true);
  }

  public BatchNorm2d(int channels, float eps, float momentum, boolean affine, boolean trackRunningStats) {
    if (channels < 1) throw new IllegalArgumentException("channels must be >= 1, got " + channels);
    if (!(eps > 0)) throw new IllegalArgumentException("eps must be > 0, got " + eps);
    if (!(momentum >= 0 && momentum <= 1)) throw new IllegalArgumentException("momentum must be in [0, 1], got " + momentum);
    this.channels = channels;
    this.eps = eps;
    this.momentum = momentum;
    if (affine) {
      weight = param("weight", Tensor.full(Shape.of(channels), 1f));
      bias = param("bias", Tensor.zeros(channels));
    } else {
      weight = bias = null;
    }
    if (trackRunningStats) {
      runningMean = buffer("running_mean", Tensor.zeros(channels));
      runningVar = buffer("running_var", Tensor.full(Shape.of(channels), 1f));
      numBatchesTracked = hostBuffer("num_batches_tracked", Tensor.zeros(Shape.of()));
    } else {
      runningMean = runningVar = null;
      numBatchesTracked = null;
    }
  }

  @Override
  public Variable forward(Variable x) {
    return forward(x, Activation.NONE);
  }

  /** The norm with {@code act} applied in the same kernel (forward and backward). */
  public Variable forward(Variable x, Activation act) {
    if (x.value().shape().rank() != 4 || x.value().shape().get(1) != channels)
      throw new IllegalArgumentException("x: expected [n][" + channels + "][h][w], got " + x.value().shape());
    boolean batchStats = isTraining() || runningMean == null;
    Variable y = F.batchNorm(x, weight, bias, runningMean == null ? null : runningMean.value(),
        runningVar == null ? null : runningVar.value(), batchStats, momentum, eps, act);
    // PyTorch's int64 counter, kept as a host float that never moves to a device: no device read
    if (isTraining() && numBatchesTracked != null)
      numBatchesTracked.buffer().put(0, numBatchesTracked.buffer().get(0) + 1);
    return Trace.record(this, act == Activation.NONE ? null : act.name(), x, y);
  }

  /**
   * Scales {@code convWeight} ([channels][...]) in place and overwrites {@code convBias}
   * ([channels], holding the conv's bias or zeros) so that conv-then-this-norm in eval mode
   * becomes one conv. Needs running statistics.
   */
  public void foldInto(Tensor convWeight, Tensor convBias) {
    if (runningMean == null) throw new IllegalStateException("a norm without running statistics cannot be folded");
    if (convWeight.shape().get(0) != channels || convBias.size() != channels)
      throw new IllegalArgumentException("conv: expected " + channels + " output channels, got weight " + convWeight.shape() + " bias " + convBias.shape());
    Ops.batchNormFold(channels, convWeight.size() / channels, convWeight, convBias, weight == null ? null : weight.value(),
        bias == null ? null : bias.value(), runningMean.value(), runningVar.value(), eps);
  }

  public int channels() { return channels; }
  public float eps() { return eps; }
  public float momentum() { return momentum; }

  /** gamma, or null when not affine. */
  public Variable weight() { return weight; }

  /** beta, or null when not affine. */
  public Variable bias() { return bias; }

  /** Null when not tracking running statistics, as are the other two buffers. */
  public Tensor runningMean() { return runningMean == null ? null : runningMean.value(); }
  public Tensor runningVar() { return runningVar == null ? null : runningVar.value(); }
  public Tensor numBatchesTracked() { return numBatchesTracked; }
}
