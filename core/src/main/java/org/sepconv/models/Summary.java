package org.sepconv.models;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.Linear;
import org.sepconv.nn.Module;
import org.sepconv.nn.Trace;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/** A per-layer table of a model: what {@code torchinfo.summary} prints, computed by running it. */
public final class Summary {
  private Summary() {}

  /**
   * Runs one forward on a zero [1][c][h][w] input in eval mode under no-grad (the model is put
   * back in training mode afterwards if it was in it) and lists every layer call: dotted name,
   * type (a fused activation after a '+'), output shape, the layer's own parameters and its
   * multiply-accumulates per image (convs and linears; other layers count 0, as torchinfo's
   * Mult-Adds). The last lines are {@code params: N} (every parameter of the model) and
   * {@code macs: M}.
   */
  public static String of(Module model, int c, int h, int w) {
    Map<Module, String> names = new IdentityHashMap<>();
    name("", model, names);
    boolean training = model.isTraining();
    model.eval();
    StringBuilder sb = new StringBuilder(String.format("%-28s %-22s %-20s %12s %14s%n", "layer", "type", "output", "params", "macs"));
    long macs = 0;
    try (GradMode.Guard g = GradMode.noGrad(); Scope s = Scope.open(); Tensor in = Tensor.zeros(1, c, h, w)) {
      List<Trace.Call> calls = Trace.run(model, Variable.leaf(in, false));
      for (Trace.Call call : calls) {
        Module m = call.module();
        long p = m.parameterCount();
        long mac = macs(m, call.output());
        macs += mac;
        String type = m.getClass().getSimpleName() + (call.fused() == null ? "" : "+" + call.fused());
        sb.append(String.format("%-28s %-22s %-20s %,12d %,14d%n", names.getOrDefault(m, "?"), type, call.output(), p, mac));
      }
    } finally {
      model.train(training);
    }
    return sb.append("params: ").append(model.parameterCount()).append('\n').append("macs: ").append(macs).append('\n').toString();
  }

  private static long macs(Module m, Shape out) {
    if (m instanceof Conv2d conv)
      return (long) out.get(1) * out.get(2) * out.get(3) * (conv.inChannels() / conv.groups()) * conv.kernel() * conv.kernel();
    if (m instanceof Linear lin) return (long) lin.inFeatures() * lin.outFeatures();
    return 0;
  }

  private static void name(String prefix, Module m, Map<Module, String> names) {
    names.put(m, prefix.isEmpty() ? "(model)" : prefix);
    m.children().forEach((k, child) -> name(prefix.isEmpty() ? k : prefix + "." + k, child, names));
  }
}
