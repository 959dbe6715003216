package org.sepconv.nn;

import java.util.ArrayList;
import java.util.List;
import org.sepconv.autograd.Variable;

/** Runs its layers in order; they are named "0", "1", ... as in {@code torch.nn.Sequential}. */
public final class Sequential extends Module {
  private final List<Module> layers = new ArrayList<>();

  public Sequential(Module... layers) {
    for (Module m : layers) add(m);
  }

  /** Appends a layer under the next index. */
  public Sequential add(Module layer) {
    layers.add(register(Integer.toString(layers.size()), layer));
    return this;
  }

  public Module get(int i) {
    return layers.get(i);
  }

  public int size() {
    return layers.size();
  }

  @Override
  public Variable forward(Variable x) {
    for (Module m : layers) x = m.forward(x);
    return x;
  }
}
