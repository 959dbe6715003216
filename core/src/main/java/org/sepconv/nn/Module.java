package org.sepconv.nn;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.sepconv.autograd.Variable;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Tensor;

/**
 * A layer or a model: named parameters (leaves that require grad), named buffers (state that
 * is saved but not trained, e.g. BN's running statistics) and named children. Names join with
 * dots in registration order, as torchvision's state-dict keys do ({@code features.0.0.weight}).
 * A module owns its parameters and buffers: {@link #close()} frees them. {@link #to(Device)}
 * moves them to a device (except the host buffers, counters that stay on the host); the
 * layers' forward then runs there, on inputs that live there.
 */
public abstract class Module implements AutoCloseable {
  private final Map<String, Variable> params = new LinkedHashMap<>();
  private final Map<String, Variable> buffers = new LinkedHashMap<>(); // leaves without grad, so that to() moves them in place
  private final Set<String> hostBuffers = new HashSet<>();
  private final Map<String, Module> children = new LinkedHashMap<>();
  private boolean training = true;

  /** The layer's computation; ops record themselves on the autograd tape. */
  public abstract Variable forward(Variable x);

  protected final <M extends Module> M register(String name, M child) {
    checkName(name);
    children.put(name, child);
    return child;
  }

  protected final Variable param(String name, Tensor value) {
    checkName(name);
    Variable v = Variable.leaf(value, true);
    params.put(name, v);
    return v;
  }

  /** Registers saved, untrained state; the returned variable's value follows the module to its device. */
  protected final Variable buffer(String name, Tensor value) {
    checkName(name);
    Variable v = Variable.leaf(value, false);
    buffers.put(name, v);
    return v;
  }

  /** Registers saved state that stays in host memory whatever the module's device (a step counter, say). */
  protected final Tensor hostBuffer(String name, Tensor value) {
    buffer(name, value);
    hostBuffers.add(name);
    return value;
  }

  /**
   * Moves every parameter and buffer of this module and its descendants to {@code device}, in
   * place (the variables stay the same objects, so an optimizer built on them follows), and
   * returns this module. Host buffers stay on the host.
   */
  public final Module to(Device device) {
    if (device == null) throw new IllegalArgumentException("device must not be null");
    params.values().forEach(v -> v.to(device));
    buffers.forEach((k, v) -> {
      if (!hostBuffers.contains(k)) v.to(device);
    });
    children.values().forEach(m -> m.to(device));
    return this;
  }

  /** Where the module's parameters (or, lacking any, its buffers) live; a module with neither has no device. */
  public final Device device() {
    for (Variable v : parameters()) return v.value().device();
    for (Tensor t : namedBuffers().values()) return t.device();
    throw new IllegalStateException(getClass().getSimpleName() + " has no parameters or buffers, so no device");
  }

  private void checkName(String name) {
    if (params.containsKey(name) || buffers.containsKey(name) || children.containsKey(name))
      throw new IllegalStateException("name '" + name + "' is already registered in " + getClass().getSimpleName());
  }

  public final Map<String, Module> children() {
    return java.util.Collections.unmodifiableMap(children);
  }

  /**
   * This module (named {@code ""}) and every descendant, by dotted name ({@code classifier.1}),
   * each before its children, in registration order: torch's {@code named_modules()}.
   */
  public final Map<String, Module> namedModules() {
    Map<String, Module> out = new LinkedHashMap<>();
    modulesInto("", out);
    return out;
  }

  private void modulesInto(String name, Map<String, Module> out) {
    out.put(name, this);
    children.forEach((k, m) -> m.modulesInto(name.isEmpty() ? k : name + "." + k, out));
  }

  /** Every parameter of this module and its descendants, by dotted name. */
  public final Map<String, Variable> namedParameters() {
    Map<String, Variable> out = new LinkedHashMap<>();
    namedModules().forEach((name, m) -> m.params.forEach((k, v) -> out.put(dotted(name, k), v)));
    return out;
  }

  /** Every buffer of this module and its descendants, by dotted name. */
  public final Map<String, Tensor> namedBuffers() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    namedModules().forEach((name, m) -> m.buffers.forEach((k, v) -> out.put(dotted(name, k), v.value())));
    return out;
  }

  private static String dotted(String module, String key) {
    return module.isEmpty() ? key : module + "." + key;
  }

  public final List<Variable> parameters() {
    return new ArrayList<>(namedParameters().values());
  }

  public final long parameterCount() {
    long n = 0;
    for (Variable v : parameters()) n += v.value().size();
    return n;
  }

  /** Parameters then buffers of each module, in registration order, as torchvision orders them. */
  public final Map<String, Tensor> stateDict() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    namedModules().forEach((name, m) -> {
      m.params.forEach((k, v) -> out.put(dotted(name, k), v.value()));
      m.buffers.forEach((k, v) -> out.put(dotted(name, k), v.value()));
    });
    return out;
  }

  /**
   * Copies every tensor of {@code state} into the matching parameter or buffer. Strict: a
   * missing key, an unexpected key or a shape mismatch is an IllegalArgumentException that
   * lists them all, and nothing is copied.
   */
  public final void loadStateDict(Map<String, Tensor> state) {
    Map<String, Tensor> mine = stateDict();
    TreeSet<String> missing = new TreeSet<>(mine.keySet()), unexpected = new TreeSet<>(state.keySet());
    missing.removeAll(state.keySet());
    unexpected.removeAll(mine.keySet());
    List<String> shapes = new ArrayList<>();
    for (Map.Entry<String, Tensor> e : mine.entrySet()) {
      Tensor t = state.get(e.getKey());
      if (t != null && !t.shape().equals(e.getValue().shape()))
        shapes.add(e.getKey() + " expected " + e.getValue().shape() + " got " + t.shape());
    }
    if (!missing.isEmpty() || !unexpected.isEmpty() || !shapes.isEmpty()) {
      List<String> parts = new ArrayList<>();
      if (!missing.isEmpty())
        parts.add(missing.size() + " missing key(s), the first " + missing.first() + " " + mine.get(missing.first()).shape());
      if (!unexpected.isEmpty()) parts.add(unexpected.size() + " unexpected key(s), the first " + unexpected.first());
      if (!shapes.isEmpty()) parts.add(shapes.size() + " shape mismatch(es), the first " + shapes.get(0));
      throw new IllegalArgumentException("state dict does not match " + getClass().getSimpleName() + ": "
          + String.join("; ", parts));
    }
    for (Map.Entry<String, Tensor> e : mine.entrySet()) e.getValue().copyFrom(state.get(e.getKey()));
  }

  /** Training mode (batch statistics, dropout) for this module and its descendants. */
  public final Module train(boolean on) {
    training = on;
    children.values().forEach(m -> m.train(on));
    return this;
  }

  public final Module eval() {
    return train(false);
  }

  public final boolean isTraining() {
    return training;
  }

  public final void zeroGrad() {
    for (Variable v : parameters()) v.zeroGrad();
  }

  /** Frees every parameter and buffer of this module and its descendants. Idempotent. */
  @Override
  public void close() {
    params.values().forEach(Variable::close);
    buffers.values().forEach(Variable::close);
    children.values().forEach(Module::close);
  }
}
