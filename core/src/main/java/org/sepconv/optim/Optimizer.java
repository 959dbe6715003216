package org.sepconv.optim;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.sepconv.autograd.Variable;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * Updates a fixed list of parameters (leaf {@link Variable}s) from their gradients, as
 * {@code torch.optim.Optimizer} does for one parameter group. {@link #step()} skips a parameter
 * whose {@code grad()} is null, and then neither its state nor its step count changes (torch
 * keeps a per-parameter {@code state['step']} for the same reason).
 *
 * <p>State: each subclass names its per-parameter slots (e.g. {@code exp_avg}); a slot tensor
 * of the parameter's shape is allocated, zero-filled, the first time that parameter gets a
 * gradient, and reused from then on, so a step allocates no tensors after the first. The state
 * lives on the parameter's device (it follows a parameter that moves) and is freed by
 * {@link #close()}; the updates run there.
 *
 * <p>{@link #stateDict()} keys, with {@code i} the parameter's index in the list:
 * <ul>
 *   <li>{@code step}: shape [n], the number of updates each parameter has had (stored as
 *       float: exact up to 2^24 = 16,777,216 steps);
 *   <li>{@code i.slot} for every slot of every parameter that has been updated at least once.
 * </ul>
 * Hyperparameters (lr, betas, ...) are not state: they come from the constructor and the
 * learning-rate schedule, as for a torch checkpoint resumed with the same code.
 */
public abstract class Optimizer implements AutoCloseable {
  private final List<Variable> params;
  private final String[] slots;
  private final long[] steps;
  private final Tensor[][] state; // [param][slot], null until the parameter's first update
  private Tensor stepTensor;
  private double lr;
  private boolean closed;

  /**
   * @param params the parameters, leaves, each at most once
   * @param lr the initial learning rate, finite and >= 0
   * @param slots the names of the per-parameter state tensors this optimizer keeps
   */
  protected Optimizer(List<Variable> params, double lr, String... slots) {
    if (params == null) throw new IllegalArgumentException("params must not be null");
    Set<Variable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    for (int i = 0; i < params.size(); i++) {
      Variable p = params.get(i);
      if (p == null) throw new IllegalArgumentException("params[" + i + "] is null");
      if (!p.isLeaf()) throw new IllegalArgumentException("params[" + i + "]: cannot optimize a non-leaf " + p);
      if (!seen.add(p)) throw new IllegalArgumentException("params[" + i + "] appears more than once: " + p);
    }
    this.params = List.copyOf(params);
    this.slots = slots.clone();
    this.steps = new long[params.size()];
    this.state = new Tensor[params.size()][];
    setLr(lr);
  }

  /**
   * Updates one parameter in place. {@code p}, {@code g} and the slot tensors {@code s} (in
   * the order of the constructor's slots) have one shape and live on one device; {@code step}
   * is this parameter's update count including this one (1 on its first update, when every
   * slot is zero).
   */
  protected abstract void update(Tensor p, Tensor g, Tensor[] s, long step, double lr);

  /** One update of every parameter that has a gradient. */
  public final void step() {
    ensureOpen();
    for (int i = 0; i < params.size(); i++) {
      Variable v = params.get(i);
      Tensor g = v.grad();
      if (g == null) continue;
      Tensor p = v.value();
      if (!g.shape().equals(p.shape()))
        throw new IllegalStateException("params[" + i + "]: gradient shape " + g.shape() + " != value shape " + p.shape());
      if (state[i] == null) allocate(i, p);
      else if (state[i].length > 0 && state[i][0].device() != p.device()) follow(i, p);
      steps[i]++;
      update(p, g, state[i], steps[i], lr);
    }
  }

  /** Frees every parameter's gradient (the next backward starts from zero). */
  public final void zeroGrad() {
    for (Variable v : params) v.zeroGrad();
  }

  public final double lr() {
    return lr;
  }

  /** Sets the learning rate used by the next {@link #step()}, e.g. from an {@link LrSchedule}. */
  public final void setLr(double lr) {
    if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("lr must be finite and >= 0, got " + lr);
    this.lr = lr;
  }

  public final List<Variable> parameters() {
    return params;
  }

  /** How many updates parameter {@code index} has had. */
  public final long stepCount(int index) {
    return steps[index];
  }

  /**
   * The optimizer's state by key (see the class comment). The tensors are live and owned by
   * this optimizer: read or save them before the next step, and do not close them.
   */
  public final Map<String, Tensor> stateDict() {
    ensureOpen();
    if (stepTensor == null) stepTensor = Tensor.zeros(params.size()); // the step counts are host numbers
    FloatBuffer sb = stepTensor.buffer();
    for (int i = 0; i < steps.length; i++) sb.put(i, (float) steps[i]);
    Map<String, Tensor> out = new LinkedHashMap<>();
    out.put("step", stepTensor);
    for (int i = 0; i < params.size(); i++)
      if (state[i] != null) for (int k = 0; k < slots.length; k++) out.put(i + "." + slots[k], state[i][k]);
    return out;
  }

  /**
   * Copies {@code dict} (as written by {@link #stateDict()} of an optimizer of the same kind
   * over parameters of the same shapes) into this optimizer. Strict: a missing or unexpected
   * key, a shape mismatch or a bad step count is an IllegalArgumentException that lists them
   * all, and nothing is changed.
   */
  public final void loadStateDict(Map<String, Tensor> dict) {
    ensureOpen();
    List<String> problems = new ArrayList<>();
    TreeSet<String> unexpected = new TreeSet<>(dict.keySet());
    unexpected.remove("step");
    long[] loaded = new long[params.size()];
    Tensor st = dict.get("step");
    if (st == null) problems.add("missing key: step");
    else if (!st.shape().equals(Shape.of(params.size())))
      problems.add("step expected shape [" + params.size() + "] got " + st.shape());
    else {
      float[] b = st.toArray(); // the step counts come to the host, where they are kept
      for (int i = 0; i < loaded.length; i++) {
        float f = b[i];
        if (!(f >= 0) || f != Math.rint(f) || f > (1 << 24)) problems.add("step[" + i + "] is not a step count: " + f);
        else loaded[i] = (long) f;
      }
    }
    for (int i = 0; i < params.size(); i++) {
      for (String slot : slots) {
        String key = i + "." + slot;
        Tensor t = dict.get(key);
        unexpected.remove(key);
        boolean wanted = slots.length > 0 && loaded[i] > 0;
        if (t == null && wanted) problems.add("missing key: " + key);
        if (t != null && !wanted && st != null) problems.add("unexpected key: " + key + " (parameter " + i + " has step 0)");
        if (t != null && !t.shape().equals(params.get(i).value().shape()))
          problems.add(key + " expected shape " + params.get(i).value().shape() + " got " + t.shape());
      }
    }
    for (String k : unexpected) problems.add("unexpected key: " + k);
    if (!problems.isEmpty())
      throw new IllegalArgumentException(getClass().getSimpleName() + " state dict does not match: " + String.join("; ", problems));
    for (int i = 0; i < params.size(); i++) {
      steps[i] = loaded[i];
      if (loaded[i] == 0) {
        freeState(i);
        continue;
      }
      if (state[i] == null) allocate(i, params.get(i).value());
      for (int k = 0; k < slots.length; k++) state[i][k].copyFrom(dict.get(i + "." + slots[k]));
    }
  }

  /** Zeroed slots for parameter i, shaped and placed as {@code like}. */
  private void allocate(int i, Tensor like) {
    Tensor[] ts = new Tensor[slots.length];
    try {
      for (int k = 0; k < slots.length; k++) ts[k] = Tensor.zeros(like.shape(), like.device());
    } catch (RuntimeException | Error e) {
      for (Tensor t : ts) if (t != null) t.close();
      throw e;
    }
    state[i] = ts;
  }

  /** Moves parameter i's slots to the device its parameter moved to. */
  private void follow(int i, Tensor p) {
    for (int k = 0; k < slots.length; k++) {
      Tensor moved = state[i][k].to(p.device());
      state[i][k].close();
      state[i][k] = moved;
    }
  }

  private void freeState(int i) {
    if (state[i] == null) return;
    for (Tensor t : state[i]) t.close();
    state[i] = null;
  }

  private void ensureOpen() {
    if (closed) throw new IllegalStateException(getClass().getSimpleName() + " is closed");
  }

  /** Frees the optimizer state (not the parameters). Idempotent. */
  @Override
  public void close() {
    closed = true;
    for (int i = 0; i < state.length; i++) freeState(i);
    if (stepTensor != null) {
      stepTensor.close();
      stepTensor = null;
    }
  }
}
