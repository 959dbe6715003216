package org.sepconv.models;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.ConvBNAct;
import org.sepconv.nn.Dropout;
import org.sepconv.nn.GlobalAvgPool;
import org.sepconv.nn.Linear;
import org.sepconv.nn.MaxPool2d;
import org.sepconv.nn.Module;
import org.sepconv.nn.ReLU;
import org.sepconv.nn.ReLU6;
import org.sepconv.nn.Sequential;
import org.sepconv.ops.Activation;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.ops.DwpwSpec;
import org.sepconv.ops.Ops;
import org.sepconv.ops.Pool2dSpec;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * An inference copy of a model with every BatchNorm folded into the conv before it
 * ({@link Export#fold}, the fold the ONNX export writes), run on the fused ops:
 *
 * <ul>
 *   <li>a conv with its BN and activation is one conv whose activation is its epilogue
 *       ({@link Ops#conv2dForward(Conv2dSpec, Tensor, Tensor, Tensor, Activation, Tensor)});
 *   <li>a depthwise-separable block is one {@link Ops#dwpwForward} call, per tile of output rows:
 *       MobileNetV1's depthwise and pointwise ConvBNActs, MobileNetV2's inverted residual with
 *       its expansion, its linear projection and its shortcut;
 *   <li>ResNet18's block is its two fused convs, the shortcut (a fused 1x1 conv or the input),
 *       the residual add and the ReLU in place;
 *   <li>pooling and the classifier as they were; Dropout is left out (eval mode).
 * </ul>
 *
 * Its logits equal the source model's in eval mode to float rounding ({@code FoldedTest} holds
 * them within 1e-5 relative for the three models, random weights and BatchNorm statistics).
 *
 * <p>The folded weights are a snapshot of the model's weights and running statistics when
 * {@link #of} runs, made on the model's device. They are this module's buffers, named as
 * {@link Export#foldBatchNorm} names them ({@code features.1.conv.0.0.weight}, a folded conv's
 * {@code bias}), so {@link #to} moves them and {@link #close()} frees them; later changes to the
 * model do not reach them. Inference only: {@link #forward} records no backward and returns a
 * result without gradient whatever the grad mode, and the training flag changes nothing. Each
 * intermediate activation is freed as soon as the next layer has read it.
 *
 * <pre>{@code try (Folded f = Folded.of(model); Scope s = Scope.open()) { Tensor logits = f.forward(x).value(); }}</pre>
 */
public final class Folded extends Module {
  /** One layer of the folded network: a new tensor computed from x (x stays). */
  private interface Stage {
    Tensor run(Tensor x);
  }

  private final List<Stage> stages = new ArrayList<>();
  private final String source;

  private Folded(String source) {
    this.source = source;
  }

  /**
   * Folds {@code model}: a bundled model ({@link MobileNetV1}, {@link MobileNetV2},
   * {@link ResNet18}) or a tree of the modules they are made of: Sequential, ConvBNAct,
   * InvertedResidual, BasicBlock, Conv2d (with the BatchNorm2d after it, if any), Linear,
   * MaxPool2d, GlobalAvgPool, ReLU, ReLU6 and Dropout. Every BatchNorm2d must follow a conv and
   * hold running statistics.
   *
   * @throws IllegalArgumentException naming the module (its class and path) that cannot be folded
   */
  public static Folded of(Module model) {
    if (model == null) throw new IllegalArgumentException("model must not be null");
    Folded f = new Folded(model.getClass().getSimpleName());
    try {
      f.add("", model, f.stages);
    } catch (RuntimeException e) {
      f.close();
      throw e;
    }
    return f;
  }

  /** The logits of x ([n][c][h][w] on this module's device), as a result of the current scope without gradient. */
  @Override
  public Variable forward(Variable x) {
    return Variable.result("folded " + source, run(stages, x.value()), null, null);
  }

  // ------------------------------------------------------------------ running

  /** The stages one after the other; each intermediate is freed once the next has read it, x never. */
  private static Tensor run(List<Stage> stages, Tensor x) {
    Tensor cur = x;
    for (Stage s : stages) {
      Tensor next;
      try {
        next = s.run(cur);
      } finally {
        if (cur != x) cur.close();
      }
      cur = next;
    }
    return cur == x ? x.copy() : cur;
  }

  /** A new tensor of {@code shape} on x's device, filled by op; freed again if op throws. */
  private static Tensor output(Shape shape, Tensor x, Consumer<Tensor> op) {
    Tensor y = Tensor.empty(shape, x.device());
    try {
      op.accept(y);
      return y;
    } catch (RuntimeException e) {
      y.close();
      throw e;
    }
  }

  private static void requireInput(String path, Tensor x, int rank, int channels) {
    if (x.shape().rank() != rank || x.shape().get(1) != channels)
      throw new IllegalArgumentException(where(path) + ": expected [n][" + channels + "]" + (rank == 4 ? "[h][w]" : "")
          + ", got " + x.shape());
  }

  // ------------------------------------------------------------------ building

  private void add(String path, Module m, List<Stage> out) {
    if (m instanceof ResNet18) chain(path, m, Activation.RELU, out); // the stem's bn1 carries the ReLU
    else if (m instanceof Sequential || m instanceof MobileNetV1 || m instanceof MobileNetV2) chain(path, m, Activation.NONE, out);
    else if (m instanceof ConvBNAct c) conv(join(path, "0"), c.conv(), c.bn(), c.activation(), out);
    else if (m instanceof InvertedResidual r) invertedResidual(path, r, out);
    else if (m instanceof BasicBlock b) basicBlock(path, b, out);
    else if (m instanceof Conv2d c) conv(path, c, null, Activation.NONE, out);
    else if (m instanceof Linear l) linear(path, l, out);
    else if (m instanceof MaxPool2d p) maxPool(path, p, out);
    else if (m instanceof GlobalAvgPool) globalAvgPool(path, out);
    else if (m instanceof ReLU) activation(Activation.RELU, out);
    else if (m instanceof ReLU6) activation(Activation.RELU6, out);
    else if (m instanceof Dropout) return; // the identity in eval mode
    else if (m instanceof BatchNorm2d)
      throw new IllegalArgumentException("fold: the BatchNorm2d at " + where(path) + " does not follow a conv");
    else
      throw new IllegalArgumentException("fold: no rule for " + m.getClass().getName() + " at " + where(path)
          + "; it folds the bundled models and Sequential, ConvBNAct, InvertedResidual, BasicBlock, Conv2d (+ BatchNorm2d), "
          + "Linear, MaxPool2d, GlobalAvgPool, ReLU, ReLU6, Dropout");
  }

  /** m's children in order: a conv followed by a BN is one folded conv with {@code pairAct}, a depthwise-separable run one block. */
  private void chain(String path, Module m, Activation pairAct, List<Stage> out) {
    List<Map.Entry<String, Module>> kids = new ArrayList<>(m.children().entrySet());
    for (int i = 0; i < kids.size(); ) {
      int used = block(path, kids, i, false, out);
      if (used > 0) {
        i += used;
        continue;
      }
      String at = join(path, kids.get(i).getKey());
      Module kid = kids.get(i).getValue(), next = i + 1 < kids.size() ? kids.get(i + 1).getValue() : null;
      if (kid instanceof Conv2d c && next instanceof BatchNorm2d bn) {
        conv(at, c, bn, pairAct, out);
        i += 2;
      } else {
        add(at, kid, out);
        i++;
      }
    }
  }

  private static boolean pointwise(Conv2d c) {
    return c.kernel() == 1 && c.stride() == 1 && c.pad() == 0 && c.dilation() == 1 && c.groups() == 1;
  }

  private static boolean depthwise(Conv2d c) {
    return c.groups() == c.inChannels() && c.dilation() == 1;
  }

  private static Module kid(List<Map.Entry<String, Module>> kids, int i) {
    return i < kids.size() ? kids.get(i).getValue() : null;
  }

  /**
   * A depthwise-separable block at kids[i]: [1x1 ConvBNAct] depthwise ConvBNAct, then a 1x1
   * ConvBNAct or a 1x1 Conv2d [+ BatchNorm2d]. Adds its stage and returns the children it took,
   * or 0 where they do not form one.
   */
  private int block(String path, List<Map.Entry<String, Module>> kids, int i, boolean residual, List<Stage> out) {
    int j = i;
    ConvBNAct expand = null;
    if (kid(kids, j) instanceof ConvBNAct e && pointwise(e.conv()) && kid(kids, j + 1) instanceof ConvBNAct d
        && depthwise(d.conv()) && d.conv().inChannels() == e.conv().outChannels()) {
      expand = e;
      j++;
    }
    if (!(kid(kids, j) instanceof ConvBNAct dw) || !depthwise(dw.conv())) return 0;
    String dwPath = join(join(path, kids.get(j).getKey()), "0");
    j++;
    Conv2d pw;
    BatchNorm2d pwBn = null;
    Activation pwAct = Activation.NONE;
    String pwPath;
    if (kid(kids, j) instanceof ConvBNAct p && pointwise(p.conv())) {
      pw = p.conv();
      pwBn = p.bn();
      pwAct = p.activation();
      pwPath = join(join(path, kids.get(j).getKey()), "0");
      j++;
    } else if (kid(kids, j) instanceof Conv2d p && pointwise(p)) {
      pw = p;
      pwPath = join(path, kids.get(j).getKey());
      j++;
      if (kid(kids, j) instanceof BatchNorm2d b) {
        pwBn = b;
        j++;
      }
    } else {
      return 0;
    }
    if (pw.inChannels() != dw.conv().outChannels()) return 0;
    if (residual && (pw.outChannels() != (expand != null ? expand.conv().inChannels() : dw.conv().inChannels())
        || dw.conv().stride() != 1 || 2 * dw.conv().pad() != dw.conv().kernel() - 1)) return 0;
    Variable[] ex = expand == null ? null : fold(join(join(path, kids.get(i).getKey()), "0"), expand.conv(), expand.bn());
    Variable[] d = fold(dwPath, dw.conv(), dw.bn()), p = fold(pwPath, pw, pwBn);
    Conv2d dc = dw.conv();
    int cIn = expand != null ? expand.conv().inChannels() : dc.inChannels(), cOut = pw.outChannels();
    int cExp = dc.inChannels(), k = dc.kernel(), stride = dc.stride(), pad = dc.pad(), mult = dc.outChannels() / dc.inChannels();
    Activation exAct = expand == null ? Activation.NONE : expand.activation(), dwAct = dw.activation(), act = pwAct;
    String at = join(path, kids.get(i).getKey());
    out.add(x -> {
      requireInput(at, x, 4, cIn);
      Shape xs = x.shape();
      DwpwSpec base = DwpwSpec.of(xs.get(0), cIn, xs.get(2), xs.get(3), k, stride, cOut).withPad(pad).withMult(mult)
          .withActivations(dwAct, act);
      DwpwSpec s = ex == null ? base : base.withExpand(cExp, exAct);
      return output(Shape.of(s.n, cOut, s.outH(), s.outW()), x, y -> Ops.dwpwForward(s, x, ex == null ? null : ex[0].value(),
          ex == null ? null : value(ex[1]), d[0].value(), value(d[1]), p[0].value(), value(p[1]), residual ? x : null, y));
    });
    return j - i;
  }

  private void invertedResidual(String path, InvertedResidual r, List<Stage> out) {
    List<Map.Entry<String, Module>> kids = new ArrayList<>(r.conv().children().entrySet());
    if (block(join(path, "conv"), kids, 0, r.hasResidual(), out) == kids.size()) return;
    // not one block (a tree built by hand): its layers, then the shortcut
    List<Stage> body = new ArrayList<>();
    chain(join(path, "conv"), r.conv(), Activation.NONE, body);
    out.add(r.hasResidual() ? residual(body, List.of(), Activation.NONE) : x -> run(body, x));
  }

  private void basicBlock(String path, BasicBlock b, List<Stage> out) {
    List<Stage> body = new ArrayList<>(), shortcut = new ArrayList<>();
    conv(join(path, "conv1"), b.conv1(), b.bn1(), Activation.RELU, body);
    conv(join(path, "conv2"), b.conv2(), b.bn2(), Activation.NONE, body);
    if (b.downsample() != null) chain(join(path, "downsample"), b.downsample(), Activation.NONE, shortcut);
    out.add(residual(body, shortcut, Activation.RELU));
  }

  /** act(body(x) + shortcut(x)); an empty shortcut is x itself. */
  private static Stage residual(List<Stage> body, List<Stage> shortcut, Activation act) {
    return x -> {
      Tensor y = run(body, x);
      try {
        Tensor s = shortcut.isEmpty() ? x : run(shortcut, x);
        try {
          Ops.add(y, s, y);
        } finally {
          if (s != x) s.close();
        }
        if (act != Activation.NONE) Ops.activationForward(act, y, y);
        return y;
      } catch (RuntimeException e) {
        y.close();
        throw e;
      }
    };
  }

  /** Registers conv's weight and bias, with bn (nullable) folded in, as buffers under path; returns them (bias null for none). */
  private Variable[] fold(String path, Conv2d c, BatchNorm2d bn) {
    if (bn == null)
      return new Variable[] {buffer(path + ".weight", c.weight().value().copy()),
          c.bias() == null ? null : buffer(path + ".bias", c.bias().value().copy())};
    if (bn.runningMean() == null)
      throw new IllegalArgumentException("fold: the BatchNorm2d after " + where(path) + " has no running statistics");
    Export.FoldedConv f = Export.fold(c, bn);
    Variable w;
    try {
      w = buffer(path + ".weight", f.weight());
    } catch (RuntimeException e) {
      f.close();
      throw e;
    }
    try {
      return new Variable[] {w, buffer(path + ".bias", f.bias())};
    } catch (RuntimeException e) {
      f.bias().close();
      throw e;
    }
  }

  private static Tensor value(Variable v) {
    return v == null ? null : v.value();
  }

  private void conv(String path, Conv2d c, BatchNorm2d bn, Activation act, List<Stage> out) {
    Variable[] wb = fold(path, c, bn);
    int cIn = c.inChannels(), cOut = c.outChannels(), k = c.kernel(), stride = c.stride(), pad = c.pad();
    int dilation = c.dilation(), groups = c.groups();
    out.add(x -> {
      requireInput(path, x, 4, cIn);
      Shape xs = x.shape();
      Conv2dSpec s = Conv2dSpec.of(xs.get(0), cIn, xs.get(2), xs.get(3), cOut, k).withStride(stride).withPad(pad)
          .withDilation(dilation).withGroups(groups);
      return output(Shape.of(s.n, cOut, s.outH(), s.outW()), x, y -> Ops.conv2dForward(s, x, wb[0].value(), value(wb[1]), act, y));
    });
  }

  private void linear(String path, Linear l, List<Stage> out) {
    Variable w = buffer(join(path, "weight"), l.weight().value().copy());
    Variable b = l.bias() == null ? null : buffer(join(path, "bias"), l.bias().value().copy());
    int in = l.inFeatures(), outF = l.outFeatures();
    out.add(x -> {
      requireInput(path, x, 2, in);
      int n = x.shape().get(0);
      return output(Shape.of(n, outF), x, y -> Ops.linearForward(n, in, outF, x, w.value(), value(b), y));
    });
  }

  private static void maxPool(String path, MaxPool2d p, List<Stage> out) {
    int k = p.kernel(), stride = p.stride(), pad = p.pad();
    out.add(x -> {
      if (x.shape().rank() != 4) throw new IllegalArgumentException(where(path) + ": expected [n][c][h][w], got " + x.shape());
      Shape xs = x.shape();
      Pool2dSpec s = new Pool2dSpec(xs.get(0), xs.get(1), xs.get(2), xs.get(3), k, stride, pad, true);
      return output(Shape.of(s.n, s.c, s.outH(), s.outW()), x, y -> Ops.maxPool2dForward(s, x, y, null));
    });
  }

  private static void globalAvgPool(String path, List<Stage> out) {
    out.add(x -> {
      if (x.shape().rank() != 4) throw new IllegalArgumentException(where(path) + ": expected [n][c][h][w], got " + x.shape());
      int n = x.shape().get(0), c = x.shape().get(1), hw = x.shape().get(2) * x.shape().get(3);
      return output(Shape.of(n, c), x, y -> Ops.globalAvgPoolForward(n, c, hw, x, y));
    });
  }

  private static void activation(Activation act, List<Stage> out) {
    out.add(x -> output(x.shape(), x, y -> Ops.activationForward(act, x, y)));
  }

  /** A child's dotted path, as state-dict names join them. */
  private static String join(String path, String child) {
    return path.isEmpty() ? child : path + "." + child;
  }

  private static String where(String path) {
    return path.isEmpty() ? "the model" : "'" + path + "'";
  }
}
