package org.sepconv.bench.torch;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.sepconv.tensor.Tensor;

/**
 * sepconv's three cifar models (MobileNetV1.cifar, MobileNetV2.cifar, ResNet18.cifar, width 1)
 * written again, layer by layer, in libtorch's eager ops through DJL's PyTorch engine: conv2d
 * without bias, batch_norm (momentum 0.1, eps 1e-5), relu, ReLU6 as clamp(0, 6), add,
 * adaptive_avg_pool2d to 1x1, dropout and linear; softmax cross-entropy as log_softmax, gather
 * and mean. Tensors carry torchvision's state-dict names, the names sepconv uses, and every one
 * is filled from a sepconv state dict, strictly (a missing, unexpected or misshapen key is an
 * error; {@code num_batches_tracked}, which libtorch's functional batch_norm does not keep, is
 * the one key left out), so the timed network starts from sepconv's weights.
 *
 * <p>{@link Layout#CHANNELS_LAST}: DJL has no memory_format, so every 4-d tensor (input, conv
 * weights, momentum) is created as NHWC and viewed through {@code transpose(0, 3, 1, 2)}: the
 * logical shape stays NCHW and the strides are channels_last, which libtorch propagates through
 * conv, batch_norm and the elementwise ops ({@link #checkLayout} verifies it).
 *
 * <p>A training step gives each parameter a fresh autograd leaf sharing its storage, so the
 * backward hands each gradient over without accumulating into an old one (PyTorch's
 * {@code zero_grad(set_to_none=True)}, its default); SGD is DJL's engine op {@code sgdUpdate}
 * (one native call per parameter: {@code b = mu * b + lr * (g + wd * p); p -= b}, which for a
 * fixed rate equals {@code torch.optim.SGD}'s momentum).
 */
final class TorchNet implements AutoCloseable {
  enum Layout {
    NCHW("torch-nchw"),
    CHANNELS_LAST("torch-channels_last");

    final String impl;

    Layout(String impl) {
      this.impl = impl;
    }
  }

  /** A layer or block: a function of its input over the net's live tensors. */
  private interface Block {
    PtNDArray apply(PtNDArray x);
  }

  private enum Act { NONE, RELU, RELU6 }

  static final float BN_MOMENTUM = 0.1f, BN_EPS = 1e-5f;

  private final Layout layout;
  private final PtNDManager manager;
  private final Map<String, long[]> params = new LinkedHashMap<>(), buffers = new LinkedHashMap<>();
  private final Map<String, PtNDArray> state = new HashMap<>(), momentum = new HashMap<>();
  private final Block body;
  private Map<String, PtNDArray> live = state;
  private boolean training;

  /** The network {@code model} with {@code classes} outputs, its tensors copied from {@code sepconvState}. */
  TorchNet(String model, int classes, Layout layout, Map<String, Tensor> sepconvState, NDManager parent) {
    this.layout = layout;
    this.manager = (PtNDManager) parent.newSubManager();
    body = switch (model) {
      case "mobilenetv1" -> mobileNetV1(classes);
      case "mobilenetv2" -> mobileNetV2(classes);
      case "resnet18" -> resNet18(classes);
      default -> throw new IllegalArgumentException("model must be mobilenetv1, mobilenetv2 or resnet18, got '" + model + "'");
    };
    load(sepconvState);
  }

  Layout layout() {
    return layout;
  }

  long parameterCount() {
    return params.values().stream().mapToLong(TorchNet::size).sum();
  }

  private static long size(long[] shape) {
    return Arrays.stream(shape).reduce(1, (a, b) -> a * b);
  }

  // ------------------------------------------------------------------ the three models

  private static final int[][] V1_BLOCKS = {
    {64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2}, {512, 1}, {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};

  /** Stride-1 3x3 stem to 32, 13 depthwise-separable blocks (each conv + BN + ReLU), pool, fc. */
  private Block mobileNetV1(int classes) {
    List<Block> f = new ArrayList<>(List.of(convBnAct("features.0", 3, 32, 3, 1, 1, Act.RELU)));
    int in = 32;
    for (int i = 0; i < V1_BLOCKS.length; i++) {
      int out = V1_BLOCKS[i][0], stride = V1_BLOCKS[i][1];
      String n = "features." + (i + 1);
      f.add(seq(List.of(convBnAct(n + ".0", in, in, 3, stride, in, Act.RELU), convBnAct(n + ".1", in, out, 1, 1, 1, Act.RELU))));
      in = out;
    }
    Block features = seq(f), fc = linear("fc", in, classes);
    return x -> fc.apply(pool(features.apply(x)));
  }

  /** (t, c, n, s) of the paper's table 2, with the 24-channel stage at stride 1 for 32x32 inputs. */
  private static final int[][] V2_SETTINGS = {{1, 16, 1, 1}, {6, 24, 2, 1}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};

  /** Stride-1 3x3 stem to 32 (ReLU6), 17 inverted residuals, 1x1 to 1280 (ReLU6), pool, dropout 0.2, fc. */
  private Block mobileNetV2(int classes) {
    List<Block> f = new ArrayList<>(List.of(convBnAct("features.0", 3, 32, 3, 1, 1, Act.RELU6)));
    int in = 32, i = 1;
    for (int[] s : V2_SETTINGS)
      for (int r = 0; r < s[2]; r++) {
        f.add(invertedResidual("features." + i++, in, s[1], r == 0 ? s[3] : 1, s[0]));
        in = s[1];
      }
    f.add(convBnAct("features." + i, in, 1280, 1, 1, 1, Act.RELU6));
    Block features = seq(f), fc = linear("classifier.1", 1280, classes);
    return x -> fc.apply(JniUtils.dropout(pool(features.apply(x)), 0.2, training));
  }

  /** [1x1 expand + BN + ReLU6 when t != 1], 3x3 depthwise + BN + ReLU6, 1x1 project + BN; x + that when shapes allow. */
  private Block invertedResidual(String name, int in, int out, int stride, int t) {
    int hidden = in * t, j = 0;
    List<Block> c = new ArrayList<>();
    if (t != 1) c.add(convBnAct(name + ".conv." + j++, in, hidden, 1, 1, 1, Act.RELU6));
    c.add(convBnAct(name + ".conv." + j++, hidden, hidden, 3, stride, hidden, Act.RELU6));
    c.add(conv(name + ".conv." + j++, hidden, out, 1, 1, 1));
    c.add(bn(name + ".conv." + j, out, Act.NONE));
    Block branch = seq(c);
    return stride == 1 && in == out ? x -> JniUtils.add(x, branch.apply(x)) : branch;
  }

  /** 3x3 stride-1 stem to 64 + BN + ReLU (no max-pool), four stages of two basic blocks, pool, fc. */
  private Block resNet18(int classes) {
    List<Block> f = new ArrayList<>(List.of(conv("conv1", 3, 64, 3, 1, 1), bn("bn1", 64, Act.RELU)));
    int in = 64;
    for (int i = 0; i < 4; i++) {
      int out = 64 << i;
      f.add(basicBlock("layer" + (i + 1) + ".0", in, out, i == 0 ? 1 : 2));
      f.add(basicBlock("layer" + (i + 1) + ".1", out, out, 1));
      in = out;
    }
    Block features = seq(f), fc = linear("fc", 512, classes);
    return x -> fc.apply(pool(features.apply(x)));
  }

  /** relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut a strided 1x1 conv + BN when the shape changes. */
  private Block basicBlock(String name, int in, int out, int stride) {
    Block branch = seq(List.of(conv(name + ".conv1", in, out, 3, stride, 1), bn(name + ".bn1", out, Act.RELU),
        conv(name + ".conv2", out, out, 3, 1, 1), bn(name + ".bn2", out, Act.NONE)));
    Block shortcut = stride != 1 || in != out
        ? seq(List.of(conv(name + ".downsample.0", in, out, 1, stride, 1), bn(name + ".downsample.1", out, Act.NONE)))
        : x -> x;
    return x -> JniUtils.relu(JniUtils.add(branch.apply(x), shortcut.apply(x)));
  }

  // ------------------------------------------------------------------ layers

  private Block conv(String name, int in, int out, int k, int stride, int groups) {
    String w = param(name + ".weight", out, in / groups, k, k);
    Shape s = new Shape(stride, stride), p = new Shape((k - 1) / 2, (k - 1) / 2), d = new Shape(1, 1);
    return x -> JniUtils.convolution(x, live.get(w), null, s, p, d, groups);
  }

  private Block bn(String name, int c, Act act) {
    String w = param(name + ".weight", c), b = param(name + ".bias", c);
    String mean = buffer(name + ".running_mean", c), var = buffer(name + ".running_var", c);
    return x -> {
      PtNDArray y = JniUtils.batchNorm(x, live.get(mean), live.get(var), live.get(w), live.get(b), training, BN_MOMENTUM, BN_EPS);
      return act == Act.RELU ? JniUtils.relu(y) : act == Act.RELU6 ? JniUtils.clip(y, 0f, 6f) : y;
    };
  }

  private Block convBnAct(String name, int in, int out, int k, int stride, int groups, Act act) {
    return seq(List.of(conv(name + ".0", in, out, k, stride, groups), bn(name + ".1", out, act)));
  }

  private Block linear(String name, int in, int out) {
    String w = param(name + ".weight", out, in), b = param(name + ".bias", out);
    return x -> JniUtils.linear(x, live.get(w), live.get(b));
  }

  /** Global average pooling: [N, C, H, W] to [N, C]. */
  private static PtNDArray pool(PtNDArray x) {
    PtNDArray y = JniUtils.adaptiveAvgPool(x, new Shape(1, 1));
    return y.reshape(new Shape(y.getShape().get(0), y.getShape().get(1)));
  }

  private static Block seq(List<Block> blocks) {
    return x -> {
      for (Block b : blocks) x = b.apply(x);
      return x;
    };
  }

  private String param(String name, long... shape) {
    params.put(name, shape);
    return name;
  }

  private String buffer(String name, long... shape) {
    buffers.put(name, shape);
    return name;
  }

  // ------------------------------------------------------------------ state

  private void load(Map<String, Tensor> sepconv) {
    Map<String, long[]> mine = new LinkedHashMap<>(params);
    mine.putAll(buffers);
    TreeSet<String> missing = new TreeSet<>(mine.keySet()), unexpected = new TreeSet<>(sepconv.keySet());
    missing.removeAll(sepconv.keySet());
    unexpected.removeAll(mine.keySet());
    unexpected.removeIf(k -> k.endsWith(".num_batches_tracked"));
    List<String> shapes = new ArrayList<>();
    mine.forEach((k, s) -> {
      Tensor t = sepconv.get(k);
      if (t != null && !Arrays.equals(Arrays.stream(t.shape().dims()).asLongStream().toArray(), s))
        shapes.add(k + " torch " + Arrays.toString(s) + ", sepconv " + t.shape());
    });
    if (!missing.isEmpty() || !unexpected.isEmpty() || !shapes.isEmpty())
      throw new IllegalArgumentException("the torch network does not match sepconv's: missing " + missing + ", unexpected "
          + unexpected + ", shapes " + shapes);
    mine.forEach((k, s) -> state.put(k, create(manager, layout, sepconv.get(k).toArray(), s)));
    params.forEach((k, s) -> momentum.put(k, create(manager, layout, new float[(int) size(s)], s)));
  }

  /** An fp32 array of {@code shape} holding {@code nchw} (row-major, logical order), strided as {@code layout} asks. */
  static PtNDArray create(NDManager m, Layout layout, float[] nchw, long... shape) {
    if (layout == Layout.NCHW || shape.length != 4) return (PtNDArray) m.create(nchw, new Shape(shape));
    int n = (int) shape[0], c = (int) shape[1], h = (int) shape[2], w = (int) shape[3];
    float[] nhwc = new float[nchw.length];
    for (int i = 0; i < n; i++)
      for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++)
          for (int x = 0; x < w; x++) nhwc[((i * h + y) * w + x) * c + ch] = nchw[((i * c + ch) * h + y) * w + x];
    return ((PtNDArray) m.create(nhwc, new Shape(n, h, w, c))).transpose(0, 3, 1, 2);
  }

  // ------------------------------------------------------------------ steps

  /** Logits of an eval-mode forward under no-grad; the array belongs to {@code out}. */
  PtNDArray infer(PtNDArray x, NDManager out) {
    try (NDManager step = manager.newSubManager()) {
      x.tempAttach(step);
      JniUtils.setGradMode(false);
      live = state;
      training = false;
      PtNDArray y = body.apply(x);
      y.attach(out);
      return y;
    }
  }

  /** Forward (training mode), cross-entropy, backward and SGD with momentum; every intermediate freed. */
  void trainStep(PtNDArray x, PtNDArray labels, float lr, float mu, float weightDecay) {
    try (NDManager step = manager.newSubManager()) {
      x.tempAttach(step);
      JniUtils.setGradMode(true);
      live = new HashMap<>(state);
      for (String p : params.keySet()) {
        PtNDArray leaf = JniUtils.detachGradient(state.get(p));
        leaf.attach(step);
        JniUtils.attachGradient(leaf, true);
        live.put(p, leaf);
      }
      training = true;
      PtNDArray logits = body.apply(x);
      PtNDArray loss = JniUtils.neg(JniUtils.mean(JniUtils.gather(JniUtils.logSoftmax(logits, 1, DataType.FLOAT32), labels, 1)));
      JniUtils.backward(loss, (PtNDArray) step.ones(loss.getShape()), false, false);
      JniUtils.setGradMode(false);
      for (String p : params.keySet()) {
        PtNDArray g = JniUtils.getGradient(live.get(p));
        if (g == null) throw new IllegalStateException(p + ": no gradient after the backward");
        g.attach(step);
        JniUtils.sgdUpdate(state.get(p), g, momentum.get(p), lr, weightDecay, 1f, -1f, mu);
      }
    } finally {
      live = state;
    }
  }

  /**
   * Checks that {@code x} is logically NCHW and strided as this net's layout, and that the first
   * conv's output (the stem: stride 1, one group, in all three models) keeps that layout; returns
   * a line saying so.
   */
  String checkLayout(PtNDArray x) {
    String first = params.keySet().iterator().next();
    PtNDArray w = state.get(first);
    long[] ws = params.get(first);
    JniUtils.setGradMode(false);
    try (PtNDArray y = JniUtils.convolution(x, w, null, new Shape(1, 1), new Shape((ws[2] - 1) / 2, (ws[3] - 1) / 2), new Shape(1, 1), 1);
        PtNDArray xt = x.transpose(0, 2, 3, 1);
        PtNDArray yt = y.transpose(0, 2, 3, 1)) {
      boolean cl = layout == Layout.CHANNELS_LAST;
      Shape xs = x.getShape();
      if (xs.dimension() != 4 || xs.get(1) != ws[1])
        throw new IllegalStateException(layout + ": input is " + xs + ", not NCHW with " + ws[1] + " channels");
      if (contiguous(x) == cl || contiguous(xt) != cl || contiguous(y) == cl || contiguous(yt) != cl)
        throw new IllegalStateException(layout + ": strides are not " + layout + " (contiguous as NCHW: input " + contiguous(x)
            + ", " + first + " output " + contiguous(y) + ")");
      return String.format("%s: input %s (logical NCHW), %s output %s, %s-strided", layout.impl, xs, first.replace(".weight", ""),
          y.getShape(), cl ? "NHWC" : "NCHW");
    }
  }

  /**
   * Tensor.is_contiguous() (dense row-major in the logical NCHW order). DJL has no stride API;
   * its JNI has this call, package-private, so it is reached by reflection, for this check only.
   */
  private static boolean contiguous(PtNDArray a) {
    try {
      Class<?> lib = Class.forName("ai.djl.pytorch.jni.PyTorchLibrary");
      Field f = lib.getDeclaredField("LIB");
      Method m = lib.getDeclaredMethod("torchIsContiguous", long.class);
      f.setAccessible(true);
      m.setAccessible(true);
      return (boolean) m.invoke(f.get(null), (Long) a.getHandle());
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("DJL's PyTorchLibrary.torchIsContiguous is not reachable: " + e, e);
    }
  }

  @Override
  public void close() {
    manager.close();
  }
}
