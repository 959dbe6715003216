package org.sepconv.bench.gpu;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.bench.Shapes;
import org.sepconv.models.MobileNetV1;
import org.sepconv.models.MobileNetV2;
import org.sepconv.models.ResNet18;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.Module;
import org.sepconv.nn.Trace;
import org.sepconv.ops.Activation;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * The distinct conv and BatchNorm layer shapes of the GPU benchmark, derived by tracing the
 * model classes (one forward at batch 1 on the CPU, eval mode, no grad) rather than written by
 * hand: MobileNetV1-cifar, MobileNetV2-cifar and ResNet18-cifar at batch 128 and 256, and
 * MobileNetV2-imagenet at batch 64. Shapes shared by several models are listed once, with the
 * names of every model that uses them.
 */
public final class GpuShapes {
  private GpuShapes() {}

  /** A model and the batches it is benchmarked at. */
  public record Model(String name, int inputHw, int[] batches, Supplier<Module> factory) {}

  public static final List<Model> MODELS = List.of(
      new Model("mobilenetv1-cifar", 32, new int[] {128, 256}, () -> MobileNetV1.cifar(10, 1f, new Random(0))),
      new Model("mobilenetv2-cifar", 32, new int[] {128, 256}, () -> MobileNetV2.cifar(10, 1f, new Random(0))),
      new Model("resnet18-cifar", 32, new int[] {128, 256}, () -> ResNet18.cifar(10, new Random(0))),
      new Model("mobilenetv2-imagenet", 224, new int[] {64}, () -> MobileNetV2.imagenet(1000, 1f, new Random(0))));

  /** A convolution: family is depthwise, pointwise, dense or grouped. */
  public record Conv(String family, Conv2dSpec spec, List<String> models) {
    public String id() {
      return spec.toString();
    }
  }

  /** A BatchNorm over [n][c][hw] with the activation fused after it (NONE, RELU or RELU6). */
  public record Bn(int n, int c, int hw, Activation act, List<String> models) {
    public String id() {
      return n + "x" + c + "x" + hw + (act == Activation.NONE ? "" : "+" + act.name().toLowerCase());
    }
  }

  /** The distinct shapes, in first-traced order. */
  public record Layers(List<Conv> convs, List<Bn> bns) {}

  /** Every distinct layer shape of the models whose names contain {@code modelFilter} ("" for all). */
  public static Layers derive(String modelFilter) {
    Map<String, Conv> convs = new LinkedHashMap<>();
    Map<String, Bn> bns = new LinkedHashMap<>();
    for (Model m : MODELS) {
      if (!m.name().contains(modelFilter)) continue;
      List<Trace.Call> calls;
      try (Module model = m.factory().get(); GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open();
           Tensor in = Tensor.zeros(1, 3, m.inputHw(), m.inputHw())) {
        model.eval();
        calls = Trace.run(model, Variable.leaf(in, false));
        for (int batch : m.batches())
          for (Trace.Call call : calls) {
            String tag = m.name() + "@" + batch;
            if (call.module() instanceof Conv2d conv) {
              Conv2dSpec spec = inputOf(conv, call.input(), batch);
              Conv c = convs.computeIfAbsent(spec.toString(), k -> new Conv(Shapes.family(conv), spec, new ArrayList<>()));
              if (!c.models().contains(tag)) c.models().add(tag);
            } else if (call.module() instanceof BatchNorm2d) {
              Shape o = call.output();
              Activation act = call.fused() == null ? Activation.NONE : Activation.valueOf(call.fused());
              Bn b = new Bn(batch, o.get(1), o.get(2) * o.get(3), act, new ArrayList<>());
              Bn bn = bns.computeIfAbsent(b.id(), k -> b);
              if (!bn.models().contains(tag)) bn.models().add(tag);
            }
          }
      }
    }
    return new Layers(new ArrayList<>(convs.values()), new ArrayList<>(bns.values()));
  }

  /** The conv's geometry at {@code batch}, from its traced input. */
  static Conv2dSpec inputOf(Conv2d c, Shape in, int batch) {
    return Conv2dSpec.of(batch, c.inChannels(), in.get(2), in.get(3), c.outChannels(), c.kernel()).withStride(c.stride())
        .withPad(c.pad()).withDilation(c.dilation()).withGroups(c.groups());
  }

  /** Prints the derived shapes: {@code java -cp ... org.sepconv.bench.gpu.GpuShapes [modelFilter]}. */
  public static void main(String[] args) {
    Layers all = derive(args.length > 0 ? args[0] : "");
    for (Conv c : all.convs()) System.out.printf("conv %-10s %-28s %s%n", c.family(), c.id(), c.models());
    for (Bn b : all.bns()) System.out.printf("bn   %-10s %-28s %s%n", "", b.id(), b.models());
    System.out.printf("%d conv shapes, %d bn shapes%n", all.convs().size(), all.bns().size());
  }
}
