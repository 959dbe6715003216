package org.sepconv.nn;

import java.util.ArrayList;
import java.util.List;
import org.sepconv.autograd.Variable;
import org.sepconv.tensor.Shape;

/**
 * Records which layers a forward pass runs and the shapes each one takes and produces, in call
 * order. The layers of this package report themselves (containers do not); tools such as a
 * model summary or a roofline read the record. Recording is per thread and off unless
 * {@link #run} is active.
 */
public final class Trace {
  /** One layer call: the layer, the activation fused into it (BatchNorm2d only), its input and output shapes. */
  public record Call(Module module, String fused, Shape input, Shape output) {}

  private static final ThreadLocal<List<Call>> ACTIVE = new ThreadLocal<>();

  private Trace() {}

  /** Runs {@code model.forward(x)}, returning every layer call it made; the output is left to the caller's scope. */
  public static List<Call> run(Module model, Variable x) {
    List<Call> calls = new ArrayList<>(), before = ACTIVE.get();
    ACTIVE.set(calls);
    try {
      model.forward(x);
    } finally {
      if (before == null) ACTIVE.remove();
      else ACTIVE.set(before);
    }
    return calls;
  }

  static Variable record(Module m, Variable x, Variable y) {
    return record(m, null, x, y);
  }

  static Variable record(Module m, String fused, Variable x, Variable y) {
    List<Call> calls = ACTIVE.get();
    if (calls != null) calls.add(new Call(m, fused, x.value().shape(), y.value().shape()));
    return y;
  }
}
