package org.sepconv.cli;

import java.util.Locale;
import java.util.Random;
import org.sepconv.Sepconv;
import org.sepconv.models.MobileNetV1;
import org.sepconv.models.MobileNetV2;
import org.sepconv.models.ResNet18;
import org.sepconv.models.Summary;
import org.sepconv.nativeapi.NativeLib;
import org.sepconv.ops.Activation;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.ops.Exec;
import org.sepconv.ops.Grad;
import org.sepconv.ops.Ops;
import org.sepconv.tensor.Tensor;

/** The sepconv command line. */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    String cmd = args.length == 0 ? "info" : args[0];
    try {
      switch (cmd) {
        case "info":
          info();
          break;
        case "demo":
          demo();
          break;
        case "summary":
          summary(args);
          break;
        case "-h":
        case "--help":
        case "help":
          usage();
          break;
        default:
          System.err.println("sepconv: unknown command '" + cmd + "'");
          usage();
          System.exit(2);
      }
    } catch (NumberFormatException e) {
      System.err.println("sepconv: not a number: " + e.getMessage());
      System.exit(2);
    } catch (RuntimeException e) {
      System.err.println("sepconv: " + e.getMessage());
      System.exit(1);
    }
  }

  private static void usage() {
    System.out.println("usage: java -jar sepconv.jar <command>\n"
        + "  info   the native engine: version, CPU instruction set, threads, BLAS, CUDA\n"
        + "  demo   one MobileNetV2 depthwise-separable block, forward and backward, timed\n"
        + "         and checked against the naive reference\n"
        + "  summary [--model mobilenetv1|mobilenetv2|resnet18] [--variant cifar|imagenet]\n"
        + "          [--width-mult A] [--classes K]\n"
        + "         the layer table with output shapes, parameters and MACs per image");
  }

  private static void summary(String[] args) {
    String model = "mobilenetv2", variant = "cifar";
    float width = 1f;
    int classes = -1;
    for (int i = 1; i < args.length; i++) {
      String a = args[i];
      if (i + 1 >= args.length) throw new IllegalArgumentException(a + ": missing value");
      String v = args[++i];
      switch (a) {
        case "--model": model = v; break;
        case "--variant": variant = v; break;
        case "--width-mult": width = Float.parseFloat(v); break;
        case "--classes": classes = Integer.parseInt(v); break;
        default: throw new IllegalArgumentException("unknown option '" + a + "' (see --help)");
      }
    }
    boolean cifar;
    if (variant.equals("cifar")) cifar = true;
    else if (variant.equals("imagenet")) cifar = false;
    else throw new IllegalArgumentException("--variant must be cifar or imagenet, got '" + variant + "'");
    if (classes < 0) classes = cifar ? 10 : 1000;
    int size = cifar ? 32 : 224;
    Random rng = new Random(0);
    org.sepconv.nn.Module m;
    switch (model) {
      case "mobilenetv1": m = cifar ? MobileNetV1.cifar(classes, width, rng) : MobileNetV1.imagenet(classes, width, rng); break;
      case "mobilenetv2": m = cifar ? MobileNetV2.cifar(classes, width, rng) : MobileNetV2.imagenet(classes, width, rng); break;
      case "resnet18": m = cifar ? ResNet18.cifar(classes, rng) : ResNet18.imagenet(classes, rng); break;
      default: throw new IllegalArgumentException("--model must be mobilenetv1, mobilenetv2 or resnet18, got '" + model + "'");
    }
    try (m) {
      System.out.println(model + " (" + variant + ", " + classes + " classes, input 3x" + size + "x" + size + ")");
      System.out.print(Summary.of(m, 3, size, size));
    }
  }

  private static void info() {
    System.out.println("sepconv " + Sepconv.version());
    System.out.println("cpu isa: " + Sepconv.isa() + " (best supported: " + Sepconv.maxIsa() + ")");
    System.out.println("threads: " + Sepconv.numThreads());
    String blasProblem = NativeLib.blasProblem();
    System.out.println("blas: " + (Sepconv.blasAttached() ? "OpenBLAS attached" : "built-in GEMM")
        + (blasProblem == null ? "" : " (" + blasProblem + ")"));
    String cuda = Sepconv.cudaUnavailableReason();
    System.out.println("cuda: " + (cuda == null ? "available" : cuda));
  }

  /** Depthwise 3x3 + BN + ReLU6, then pointwise 1x1 + BN, on MobileNetV2's 16x16x192 stage. */
  private static void demo() {
    info();
    Random rng = new Random(42);
    int n = 64, c = 192, co = 64, hw = 16;
    Conv2dSpec dw = Conv2dSpec.of(n, c, hw, hw, c, 3).withPad(1).withGroups(c);
    Conv2dSpec pw = Conv2dSpec.of(n, c, hw, hw, co, 1);
    try (Tensor x = Tensor.rand(rng, n, c, hw, hw);
        Tensor w1 = Tensor.rand(rng, c, 1, 3, 3);
        Tensor w2 = Tensor.rand(rng, co, c, 1, 1);
        Tensor h1 = Tensor.zeros(n, c, hw, hw);
        Tensor h2 = Tensor.zeros(n, c, hw, hw);
        Tensor y = Tensor.zeros(n, co, hw, hw);
        Tensor ref = Tensor.zeros(n, co, hw, hw);
        Tensor mean = Tensor.zeros(c);
        Tensor invstd = Tensor.zeros(c);
        Tensor dh = Tensor.zeros(n, c, hw, hw);
        Tensor dw2 = Tensor.zeros(co, c, 1, 1)) {
      long t0 = System.nanoTime();
      Ops.conv2dForward(Exec.CPU, dw, x.buffer(), w1.buffer(), null, h1.buffer());
      Ops.batchNormForwardTraining(Exec.CPU, n, c, hw * hw, h1.buffer(), null, null, 1e-5f, 0.1f,
          null, null, mean.buffer(), invstd.buffer(), Activation.RELU6, h2.buffer());
      Ops.conv2dForward(Exec.CPU, pw, h2.buffer(), w2.buffer(), null, y.buffer());
      Ops.conv2dBackward(Exec.CPU, pw, Grad.INPUT | Grad.WEIGHT, h2.buffer(), w2.buffer(),
          y.buffer(), dh.buffer(), dw2.buffer(), null);
      long t1 = System.nanoTime();
      Ops.conv2dForward(Exec.CPU_REFERENCE, pw, h2.buffer(), w2.buffer(), null, ref.buffer());
      double err = 0, max = 0;
      var yb = y.buffer();
      var rb = ref.buffer();
      for (int i = 0; i < yb.capacity(); i++) {
        err = Math.max(err, Math.abs(yb.get(i) - rb.get(i)));
        max = Math.max(max, Math.abs(rb.get(i)));
      }
      System.out.printf(Locale.ROOT, "block %s -> %s: forward+backward %.2f ms, max rel. error vs reference %.2e%n",
          dw, pw, (t1 - t0) / 1e6, err / max);
    }
  }
}
