package org.sepconv.bench.torch;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.sepconv.bench.Alternation.Call;
import org.sepconv.bench.Alternation.Contender;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.ops.Exec;
import org.sepconv.ops.Grad;
import org.sepconv.ops.Ops;
import org.sepconv.tensor.Tensor;

/**
 * One conv shape's three directions, as sepconv's native entry points ({@link Ops} on the CPU,
 * into tensors allocated once, as {@code ConvBench} calls them) and as libtorch's conv2d with
 * autograd, in NCHW and channels_last. Backward-data builds {@code y = conv2d(x', w)} on a fresh
 * leaf x' (sharing x's storage) that requires grad while w does not, and times
 * {@code y.backward(dy)}: the convolution backward with only the input gradient asked for,
 * handed over into x'.grad without an accumulation; backward-weight does the same with the roles
 * swapped. The forward that builds the graph, and the freeing, are outside the clock. Each
 * libtorch call allocates its output, as eager PyTorch does.
 */
final class ConvTrials implements AutoCloseable {
  static final List<String> DIRECTIONS = List.of("forward", "backward-data", "backward-weight");

  private final Conv2dSpec s;
  private final Tensor x, w, y, dy, dx, dw;
  private final NDManager manager;
  private final List<PtNDArray[]> torch = new ArrayList<>(); // per layout: x, w, dy
  private final Shape stride, pad, dilation;

  ConvTrials(Conv2dSpec s, NDManager parent, long seed) {
    this.s = s;
    Random rng = new Random(seed);
    x = Tensor.rand(rng, s.n, s.cIn, s.h, s.w);
    w = Tensor.rand(rng, s.cOut, s.cIn / s.groups, s.kh, s.kw);
    dy = Tensor.rand(rng, s.n, s.cOut, s.outH(), s.outW());
    y = Tensor.zeros(s.n, s.cOut, s.outH(), s.outW());
    dx = Tensor.zeros(s.n, s.cIn, s.h, s.w);
    dw = Tensor.zeros(s.cOut, s.cIn / s.groups, s.kh, s.kw);
    manager = parent.newSubManager();
    for (TorchNet.Layout l : TorchNet.Layout.values())
      torch.add(new PtNDArray[] {array(l, x), array(l, w), array(l, dy)});
    stride = new Shape(s.strideH, s.strideW);
    pad = new Shape(s.padH, s.padW);
    dilation = new Shape(s.dilH, s.dilW);
  }

  private PtNDArray array(TorchNet.Layout l, Tensor t) {
    return TorchNet.create(manager, l, t.toArray(), t.shape().get(0), t.shape().get(1), t.shape().get(2), t.shape().get(3));
  }

  /** sepconv, then libtorch in each layout, for {@code direction}. */
  List<Contender> contenders(String direction) {
    List<Contender> out = new ArrayList<>();
    out.add(new Contender("sepconv", switch (direction) {
      case "forward" -> () -> Ops.conv2dForward(Exec.CPU, s, x.buffer(), w.buffer(), null, y.buffer());
      case "backward-data" -> () -> Ops.conv2dBackward(Exec.CPU, s, Grad.INPUT, null, w.buffer(), dy.buffer(), dx.buffer(), null, null);
      case "backward-weight" -> () -> Ops.conv2dBackward(Exec.CPU, s, Grad.WEIGHT, x.buffer(), null, dy.buffer(), null, dw.buffer(), null);
      default -> throw new IllegalArgumentException("direction must be one of " + DIRECTIONS + ", got '" + direction + "'");
    }));
    TorchNet.Layout[] layouts = TorchNet.Layout.values();
    for (int i = 0; i < layouts.length; i++) {
      PtNDArray[] t = torch.get(i);
      out.add(new Contender(layouts[i].impl, direction.equals("forward") ? forward(t[0], t[1]) : backward(t, direction.equals("backward-data"))));
    }
    return out;
  }

  private Call forward(PtNDArray tx, PtNDArray tw) {
    return new Call() {
      PtNDArray out;

      @Override public void before() { JniUtils.setGradMode(false); }
      @Override public void run() { out = JniUtils.convolution(tx, tw, null, stride, pad, dilation, s.groups); }
      @Override public void after() { out.close(); }
    };
  }

  private Call backward(PtNDArray[] t, boolean data) {
    return new Call() {
      PtNDArray leaf, out;

      @Override public void before() {
        JniUtils.setGradMode(true);
        leaf = JniUtils.detachGradient(data ? t[0] : t[1]);
        JniUtils.attachGradient(leaf, true);
        out = JniUtils.convolution(data ? leaf : t[0], data ? t[1] : leaf, null, stride, pad, dilation, s.groups);
      }

      @Override public void run() { JniUtils.backward(out, t[2], false, false); }

      @Override public void after() {
        JniUtils.setGradMode(false);
        PtNDArray g = JniUtils.getGradient(leaf);
        if (g == null) throw new IllegalStateException(s + ": libtorch's backward left no gradient");
        g.close();
        out.close();
        leaf.close();
      }
    };
  }

  @Override
  public void close() {
    manager.close();
    for (Tensor t : new Tensor[] {x, w, y, dy, dx, dw}) t.close();
  }
}
