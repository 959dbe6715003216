package org.sepconv.autograd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.sepconv.ops.Ops;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Tensor;

/**
 * A tensor on the autograd tape, micrograd-style: a result keeps its parents and a closure
 * that, given this node's gradient, adds into the parents' gradients. {@link #backward()}
 * orders the graph topologically and runs the closures in reverse.
 *
 * <p>Memory: a leaf (a parameter or an input) owns its value and is closed by its owner. Every
 * result is registered in the current {@link Scope} and closed with it; backward also frees
 * each intermediate's gradient, saved tensors and value as soon as its closure has run (call
 * {@link #retain()} on a result whose value you still need after backward, e.g. the logits).
 */
public final class Variable implements AutoCloseable {
  /** Adds this node's gradient, {@code out.grad()}, into the gradients of its parents. */
  @FunctionalInterface
  public interface BackwardFn {
    void apply(Variable out);
  }

  private static final Variable[] NO_PARENTS = {};

  private Tensor value;
  private Tensor grad;
  private final boolean requiresGrad;
  private final boolean leaf;
  private final Variable[] parents;
  private final BackwardFn fn;
  private final String op;
  private final List<AutoCloseable> saved = new ArrayList<>();
  private boolean retained;

  private Variable(Tensor value, boolean requiresGrad, boolean leaf, Variable[] parents, BackwardFn fn, String op) {
    if (value == null) throw new IllegalArgumentException("value must not be null");
    this.value = value;
    this.requiresGrad = requiresGrad;
    this.leaf = leaf;
    this.parents = parents;
    this.fn = fn;
    this.op = op;
  }

  /** A leaf that owns {@code value}: a parameter (requiresGrad) or an input. */
  public static Variable leaf(Tensor value, boolean requiresGrad) {
    return new Variable(value, requiresGrad, true, NO_PARENTS, null, "leaf");
  }

  /**
   * The result of an op. It requires grad when grad mode is on and any parent requires it;
   * only then are the parents and {@code fn} kept. {@code saved} are tensors (or other native
   * memory) that fn needs; they are closed with the result.
   */
  public static Variable result(String op, Tensor value, BackwardFn fn, List<? extends AutoCloseable> saved, Variable... parents) {
    boolean req = false;
    if (GradMode.isEnabled()) for (Variable p : parents) if (p != null && p.requiresGrad) req = true;
    Variable v = req ? new Variable(value, true, false, parents, fn, op) : new Variable(value, false, false, NO_PARENTS, null, op);
    if (saved != null) v.saved.addAll(saved);
    if (!req) v.closeSaved();
    Scope.register(v);
    return v;
  }

  public Tensor value() {
    if (value == null) throw new IllegalStateException(op + ": value was freed by backward (call retain() to keep it)");
    return value;
  }

  /** The accumulated gradient, or null if none has flowed here yet. */
  public Tensor grad() {
    return grad;
  }

  public boolean requiresGrad() {
    return requiresGrad;
  }

  public boolean isLeaf() {
    return leaf;
  }

  public String op() {
    return op;
  }

  /** Keeps this result's value alive through backward (it is still closed with its scope). */
  public Variable retain() {
    retained = true;
    return this;
  }

  /** The gradient buffer, zero-filled on first use, on the value's device; ops add into it. */
  public Tensor gradBuffer() {
    if (grad == null) grad = Tensor.zeros(value().shape(), value().device());
    return grad;
  }

  /**
   * Moves this leaf's value (and gradient, if any) to {@code device}: the old memory is freed,
   * so every holder of this variable sees the moved tensor. {@link org.sepconv.nn.Module#to}
   * moves a model's parameters this way.
   */
  public void to(Device device) {
    if (!leaf) throw new IllegalStateException("only a leaf can be moved, not the result of " + op);
    if (value().device() == device) return;
    Tensor moved = value.to(device);
    value.close();
    value = moved;
    if (grad != null) {
      Tensor g = grad.to(device);
      grad.close();
      grad = g;
    }
  }

  /** Frees {@code c} with this result (memory an op's backward needs beyond its saved tensors). */
  void keep(AutoCloseable c) {
    saved.add(c);
  }

  /**
   * Adds a gradient produced by {@code writer}, a function that overwrites the tensor it is
   * given (as native input-gradient kernels do). The first contribution is written straight
   * into the gradient; later ones go through a temporary and an add.
   */
  public void accumulate(java.util.function.Consumer<Tensor> writer) {
    if (grad == null) {
      Tensor g = Tensor.empty(value().shape(), value().device());
      try {
        writer.accept(g);
      } catch (RuntimeException e) {
        g.close();
        throw e;
      }
      grad = g;
      return;
    }
    try (Tensor tmp = Tensor.empty(value().shape(), value().device())) {
      writer.accept(tmp);
      Ops.add(grad, tmp, grad);
    }
  }

  /** Frees the gradient (a leaf's value stays). */
  public void zeroGrad() {
    if (grad != null) {
      grad.close();
      grad = null;
    }
  }

  /** Backward from a scalar (one-element) result, seeding its gradient with 1. */
  public void backward() {
    if (value().size() != 1)
      throw new IllegalStateException("backward() needs a scalar result, got shape " + value.shape() + "; pass a seed gradient");
    try (Tensor seed = Tensor.full(value.shape(), 1f, value.device())) {
      backward(seed);
    }
  }

  /** Backward with an explicit seed gradient of this result's shape. */
  public void backward(Tensor seed) {
    if (!requiresGrad) throw new IllegalStateException("backward: " + op + " does not require grad");
    if (!seed.shape().equals(value().shape()))
      throw new IllegalArgumentException("seed: expected shape " + value.shape() + ", got " + seed.shape());
    List<Variable> order = topologicalOrder();
    if (grad == null) grad = seed.to(value.device());
    else grad.copyFrom(seed);
    Collections.reverse(order);
    for (Variable v : order) {
      if (v.leaf) continue;
      if (v.grad != null) v.fn.apply(v);
      v.releaseAfterBackward(v == this);
    }
  }

  private List<Variable> topologicalOrder() {
    List<Variable> order = new ArrayList<>();
    Set<Variable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    Deque<Object[]> stack = new ArrayDeque<>(); // iterative DFS: deep nets must not overflow the stack
    stack.push(new Object[] {this, 0});
    seen.add(this);
    while (!stack.isEmpty()) {
      Object[] top = stack.peek();
      Variable v = (Variable) top[0];
      int i = (Integer) top[1];
      if (i < v.parents.length) {
        top[1] = i + 1;
        Variable p = v.parents[i];
        if (p != null && p.requiresGrad && seen.add(p)) stack.push(new Object[] {p, 0});
      } else {
        stack.pop();
        order.add(v);
      }
    }
    return order;
  }

  private void releaseAfterBackward(boolean root) {
    closeSaved();
    if (grad != null) {
      grad.close();
      grad = null;
    }
    if (!root && !retained && value != null) {
      value.close();
      value = null;
    }
  }

  private void closeSaved() {
    for (AutoCloseable c : saved) {
      try {
        c.close();
      } catch (Exception e) {
        throw new IllegalStateException("closing a saved tensor of " + op, e);
      }
    }
    saved.clear();
  }

  /** Frees value, gradient and saved tensors. Idempotent. */
  @Override
  public void close() {
    closeSaved();
    zeroGrad();
    if (value != null) {
      value.close();
      value = null;
    }
  }

  @Override
  public String toString() {
    return "Variable(" + op + ", " + (value == null ? "freed" : value.shape()) + (requiresGrad ? ", requires grad" : "") + ")";
  }
}
