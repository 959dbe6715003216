package org.sepconv.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.sepconv.Sepconv;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.models.BasicBlock;
import org.sepconv.models.InvertedResidual;
import org.sepconv.models.MobileNetV1;
import org.sepconv.models.MobileNetV2;
import org.sepconv.models.Models;
import org.sepconv.models.ResNet18;
import org.sepconv.nn.AvgPool2d;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.ConvBNAct;
import org.sepconv.nn.Dropout;
import org.sepconv.nn.Flatten;
import org.sepconv.nn.GlobalAvgPool;
import org.sepconv.nn.Linear;
import org.sepconv.nn.MaxPool2d;
import org.sepconv.nn.Module;
import org.sepconv.nn.ReLU;
import org.sepconv.nn.ReLU6;
import org.sepconv.nn.Sequential;
import org.sepconv.nn.Trace;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * The roofline floor of one model step: every kernel the step needs, each layer call and
 * direction with its FLOPs and compulsory bytes, and the floor max(FLOPs / peak, bytes /
 * bandwidth) summed over them, with the peak and bandwidth measured on this machine
 * ({@link Machine#measure}). A training step is the forward in training mode, softmax
 * cross-entropy, the backward and an SGD-with-momentum update; inference is the forward in eval
 * mode. The counting rules are in {@code bench/README.md} ("Roofline floors"); in short, each
 * kernel reads its inputs once and writes its outputs once, in fp32, and nothing is fused across
 * layers beyond what sepconv's layers fuse (BatchNorm with its activation).
 *
 * <p>The layer calls come from {@link Trace} (one eval-mode forward at batch 1, rescaled to the
 * batch). The ops that blocks run outside layers are added by rule: a {@link BasicBlock} ends in
 * an add and a ReLU, an {@link InvertedResidual} with a residual in an add, and the backward of
 * each sums the two gradients that reach the block's input. Any other module with a forward of
 * its own is refused, so that a new block cannot be counted short without notice.
 *
 * <pre>java -cp bench/target/benchmarks.jar org.sepconv.bench.Roofline [MODEL [BATCH [SIZE]]]</pre>
 */
public final class Roofline {
  /** The two ceilings: the multiply-add peak in GFLOP/s and the copy bandwidth in GB/s. */
  public record Machine(double peakGflops, double bandwidthGBs) {
    /** Measures both: the peak on {@code threads} of sepconv's threads, the bandwidth on all of them. */
    public static Machine measure(int threads) {
      return new Machine(Sepconv.cpuPeakGflops(threads, 1.0), Sepconv.cpuBandwidthGBs(0, 2.0));
    }

    /** The floor of one kernel: max(flops / peak, bytes / bandwidth), in seconds. */
    public double seconds(double flops, double bytes) {
      return Math.max(flops / (peakGflops * 1e9), bytes / (bandwidthGBs * 1e9));
    }
  }

  /** One kernel: the layer (dotted name), the op, the direction, its FLOPs and compulsory bytes. */
  public record Cost(String layer, String op, String direction, double flops, double bytes) {
    public double seconds(Machine m) {
      return m.seconds(flops, bytes);
    }
  }

  // FLOPs per element of the elementwise kernels (a multiply-add is 2, a max or a compare 1)
  static final int BN_TRAIN_FWD = 5; // sum and sum of squares (3), x * scale + shift (2)
  static final int BN_EVAL_FWD = 2; // x * scale + shift
  static final int BN_BWD = 9; // x-hat (2), sums of dy and dy * x-hat (3), dx (4)
  static final int ACT = 1; // ReLU / ReLU6 forward or backward, and the fused one
  static final int XENT_FWD = 4, XENT_BWD = 3; // per logit
  static final int SGD = 6; // d = g + wd * p, b = mu * b + d, p -= lr * b
  static final int SGD_TENSORS = 5; // p, g, b read; p, b written

  private final List<Cost> costs;

  private Roofline(List<Cost> costs) {
    this.costs = Collections.unmodifiableList(costs);
  }

  /** Forward (training mode), cross-entropy, backward and SGD with momentum over [batch][channels][size][size]. */
  public static Roofline training(Module model, int batch, int channels, int size) {
    return of(model, batch, channels, size, true);
  }

  /** The forward in eval mode over [batch][channels][size][size]. */
  public static Roofline inference(Module model, int batch, int channels, int size) {
    return of(model, batch, channels, size, false);
  }

  public List<Cost> costs() {
    return costs;
  }

  /** The floor: the sum over kernels of max(flops / peak, bytes / bandwidth), in seconds. */
  public double seconds(Machine m) {
    double s = 0;
    for (Cost c : costs) s += c.seconds(m);
    return s;
  }

  public double flops() {
    return costs.stream().mapToDouble(Cost::flops).sum();
  }

  public double bytes() {
    return costs.stream().mapToDouble(Cost::bytes).sum();
  }

  private static final Set<Class<?>> LAYERS = Set.of(Conv2d.class, BatchNorm2d.class, Linear.class, GlobalAvgPool.class,
      Dropout.class, MaxPool2d.class, AvgPool2d.class, ReLU.class, ReLU6.class, Flatten.class);
  // containers whose forward only chains traced layers, and the blocks whose extra ops are added by rule
  private static final Set<Class<?>> CONTAINERS = Set.of(Sequential.class, ConvBNAct.class, MobileNetV1.class,
      MobileNetV2.class, ResNet18.class, BasicBlock.class, InvertedResidual.class);

  private static Roofline of(Module model, int batch, int channels, int size, boolean training) {
    if (batch < 1 || channels < 1 || size < 1)
      throw new IllegalArgumentException("batch, channels and size must be >= 1, got " + batch + ", " + channels + ", " + size);
    Map<Module, String> names = new IdentityHashMap<>();
    Map<String, Module> blocks = new HashMap<>();
    model.namedModules().forEach((name, m) -> {
      if (!LAYERS.contains(m.getClass()) && !CONTAINERS.contains(m.getClass()))
        throw new IllegalArgumentException("model: Roofline does not know what " + m.getClass().getSimpleName()
            + (name.isEmpty() ? "" : " (" + name + ")") + " runs in its forward");
      names.put(m, name.isEmpty() ? "(model)" : name);
      if (m instanceof BasicBlock || m instanceof InvertedResidual ir && ir.hasResidual()) blocks.put(name, m);
    });
    List<Trace.Call> calls = trace(model, channels, size);
    // the first and last traced call inside each block: its input, and where its tail goes
    Map<String, int[]> span = new LinkedHashMap<>();
    for (int i = 0; i < calls.size(); i++) {
      String p = names.get(calls.get(i).module());
      for (int dot = p.lastIndexOf('.'); dot > 0; dot = p.lastIndexOf('.', dot - 1)) {
        int[] s = span.get(p.substring(0, dot));
        if (s != null) s[1] = i;
        else if (blocks.containsKey(p.substring(0, dot))) span.put(p.substring(0, dot), new int[] {i, i});
      }
    }
    List<Cost> fwd = new ArrayList<>(), bwd = new ArrayList<>();
    Counter k = new Counter(fwd, bwd, training);
    for (int i = 0; i < calls.size(); i++) {
      Trace.Call c = calls.get(i);
      Shape in = batched(c.input(), batch), out = batched(c.output(), batch);
      k.layer(names.get(c.module()), c.module(), c.fused(), in, out, i == 0);
      for (Map.Entry<String, int[]> e : span.entrySet())
        if (e.getValue()[1] == i) k.tail(e.getKey(), blocks.get(e.getKey()), batched(calls.get(e.getValue()[0]).input(), batch), out);
    }
    List<Cost> all = new ArrayList<>(fwd);
    if (training) {
      Shape logits = batched(calls.get(calls.size() - 1).output(), batch);
      double n = logits.size(), rows = logits.get(0);
      all.add(new Cost("(loss)", "softmax-xent", "forward", XENT_FWD * n, 4 * (n + rows)));
      all.add(new Cost("(loss)", "softmax-xent", "backward", XENT_BWD * n, 4 * (2 * n + rows)));
      Collections.reverse(bwd);
      all.addAll(bwd);
      double p = model.parameterCount();
      all.add(new Cost("(all parameters)", "sgd-momentum", "update", SGD * p, 4.0 * SGD_TENSORS * p));
    }
    return new Roofline(all);
  }

  /** One eval-mode forward at batch 1 under no-grad: the layer calls and their shapes. */
  private static List<Trace.Call> trace(Module model, int channels, int size) {
    boolean wasTraining = model.isTraining();
    model.eval();
    try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open(); Tensor in = Tensor.zeros(1, channels, size, size)) {
      List<Trace.Call> calls = Trace.run(model, Variable.leaf(in, false));
      if (calls.isEmpty()) throw new IllegalArgumentException("model: its forward runs no layer");
      return calls;
    } finally {
      model.train(wasTraining);
    }
  }

  private static Shape batched(Shape s, int batch) {
    int[] d = s.dims();
    d[0] = batch;
    return Shape.of(d);
  }

  /** Appends the costs of each call: forward ones in order, backward ones to be reversed. */
  private record Counter(List<Cost> fwd, List<Cost> bwd, boolean training) {
    void layer(String name, Module m, String fused, Shape in, Shape out, boolean first) {
      double x = in.size(), y = out.size();
      if (m instanceof Conv2d conv) {
        Conv2dSpec s = Conv2dSpec.of(in.get(0), in.get(1), in.get(2), in.get(3), conv.outChannels(), conv.kernel())
            .withStride(conv.stride()).withPad(conv.pad()).withDilation(conv.dilation()).withGroups(conv.groups());
        double w = s.weightSize(), flops = 2.0 * s.macs(), b = conv.bias() == null ? 0 : conv.outChannels();
        String op = "conv-" + Shapes.family(conv);
        fwd.add(new Cost(name, op, "forward", flops + (b > 0 ? y : 0), 4 * (x + w + b + y)));
        if (!training) return;
        // the model's input needs no gradient: the first layer has no backward-data
        if (!first) bwd.add(new Cost(name, op, "backward-data", flops, 4 * (y + w + x)));
        bwd.add(new Cost(name, op, "backward-weight", flops + (b > 0 ? y : 0), 4 * (x + y + w + b)));
      } else if (m instanceof BatchNorm2d) {
        int act = fused == null ? 0 : ACT;
        String op = fused == null ? "batchnorm" : "batchnorm+" + fused.toLowerCase(Locale.ROOT);
        if (!training) {
          fwd.add(new Cost(name, op, "forward", (BN_EVAL_FWD + act) * x, 4 * (x + y)));
          return;
        }
        fwd.add(new Cost(name, op, "forward", (BN_TRAIN_FWD + act) * x, 4 * (x + y)));
        // x, dy read, dx written: x-hat and the activation's mask are recomputed from x
        bwd.add(new Cost(name, op, "backward", (BN_BWD + act) * x, 4 * (2 * x + y)));
      } else if (m instanceof Linear lin) {
        double w = (double) lin.inFeatures() * lin.outFeatures(), b = lin.bias() == null ? 0 : lin.outFeatures();
        double flops = 2 * in.get(0) * w;
        fwd.add(new Cost(name, "linear", "forward", flops + (b > 0 ? y : 0), 4 * (x + w + b + y)));
        if (!training) return;
        if (!first) bwd.add(new Cost(name, "linear", "backward-data", flops, 4 * (y + w + x)));
        bwd.add(new Cost(name, "linear", "backward-weight", flops + (b > 0 ? y : 0), 4 * (x + y + w + b)));
      } else if (m instanceof GlobalAvgPool || m instanceof AvgPool2d) {
        String op = m instanceof GlobalAvgPool ? "global-avgpool" : "avgpool";
        fwd.add(new Cost(name, op, "forward", x, 4 * (x + y)));
        if (training) bwd.add(new Cost(name, op, "backward", x, 4 * (y + x)));
      } else if (m instanceof MaxPool2d mp) {
        // backward routes dy through the argmax that forward stored (4 bytes per output)
        fwd.add(new Cost(name, "maxpool", "forward", (double) mp.kernel() * mp.kernel() * y, 4 * (x + 2 * y)));
        if (training) bwd.add(new Cost(name, "maxpool", "backward", y, 4 * (2 * y + x)));
      } else if (m instanceof ReLU || m instanceof ReLU6) {
        activation(name, m instanceof ReLU ? "relu" : "relu6", x);
      } else if (m instanceof Dropout d && training && d.p() > 0) {
        // the mask is a function of (seed, index): regenerated, never stored
        fwd.add(new Cost(name, "dropout", "forward", x, 4 * (x + y)));
        bwd.add(new Cost(name, "dropout", "backward", x, 4 * (y + x)));
      }
      // Flatten is a view; Dropout in eval is the identity
    }

    /** The ops a block runs outside its layers, on its output: the residual add (and ReLU). */
    void tail(String name, Module block, Shape in, Shape out) {
      double y = out.size();
      fwd.add(new Cost(name, "add", "forward", y, 4 * 3 * y));
      // the block's input feeds its branch and its shortcut: backward sums the two gradients
      bwd.add(new Cost(name, "add", "backward", in.size(), 4 * 3 * in.size()));
      if (block instanceof BasicBlock) activation(name, "relu", y);
    }

    void activation(String name, String op, double x) {
      fwd.add(new Cost(name, op, "forward", ACT * x, 4 * 2 * x));
      if (training) bwd.add(new Cost(name, op, "backward", ACT * x, 4 * 3 * x)); // y, dy read, dx written
    }
  }

  /** The floor of each op and direction, summed, with the totals: a table for the reports and the command line. */
  public String table(Machine m) {
    Map<String, double[]> by = new LinkedHashMap<>();
    for (Cost c : costs) {
      double[] t = by.computeIfAbsent(c.op() + " " + c.direction(), key -> new double[4]);
      t[0] += c.flops();
      t[1] += c.bytes();
      t[2] += c.seconds(m);
      t[3]++;
    }
    double total = seconds(m);
    StringBuilder sb = new StringBuilder("| op | direction | kernels | GFLOP | MB | floor ms | share | bound |\n|---|---|---:|---:|---:|---:|---:|---|\n");
    by.forEach((key, t) -> {
      String[] od = key.split(" ");
      boolean compute = t[0] / (m.peakGflops() * 1e9) >= t[1] / (m.bandwidthGBs() * 1e9);
      sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %.3f | %.1f | %.2f | %.1f%% | %s |%n", od[0], od[1], (int) t[3],
          t[0] / 1e9, t[1] / 1e6, t[2] * 1e3, 100 * t[2] / total, compute ? "compute" : "memory"));
    });
    sb.append(String.format(Locale.ROOT, "| **total** | | %d | %.3f | %.1f | **%.2f** | | |%n", costs.size(), flops() / 1e9,
        bytes() / 1e6, total * 1e3));
    return sb.toString();
  }

  /** Prints the training and inference floors of a model on this machine. */
  public static void main(String[] args) {
    String name = args.length > 0 ? args[0] : "mobilenetv2";
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 64, size = args.length > 2 ? Integer.parseInt(args[2]) : 32;
    Machine m = Machine.measure(Sepconv.numThreads());
    System.out.printf(Locale.ROOT, "%s-cifar, batch %d, %dx%d; %s, %d threads: peak %.1f GFLOP/s, bandwidth %.1f GB/s%n%n",
        name, batch, size, size, Sepconv.isa(), Sepconv.numThreads(), m.peakGflops(), m.bandwidthGBs());
    try (Module model = Models.create(name, "cifar", 1f, 10, new Random(0))) {
      System.out.println("training step:\n\n" + training(model, batch, 3, size).table(m));
      System.out.println("inference:\n\n" + inference(model, batch, 3, size).table(m));
    }
  }
}
