package org.sepconv.autograd;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * A per-step memory scope: every op result created on this thread while the scope is open is
 * closed when it closes. Scopes nest; a result belongs to the innermost one.
 *
 * <pre>{@code try (Scope s = Scope.open()) { Variable loss = ...; loss.backward(); optimizer.step(); }}</pre>
 */
public final class Scope implements AutoCloseable {
  private static final ThreadLocal<Deque<Scope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);
  private final List<Variable> owned = new ArrayList<>();
  private boolean closed;

  private Scope() {}

  public static Scope open() {
    Scope s = new Scope();
    STACK.get().push(s);
    return s;
  }

  static void register(Variable v) {
    Scope s = STACK.get().peek();
    if (s != null) s.owned.add(v);
  }

  /** Moves v out of this scope: the caller becomes responsible for closing it. */
  public Variable detach(Variable v) {
    owned.remove(v);
    return v;
  }

  @Override
  public void close() {
    if (closed) return;
    Deque<Scope> stack = STACK.get();
    if (stack.peek() != this) throw new IllegalStateException("scopes must be closed innermost first");
    closed = true;
    stack.pop();
    for (int i = owned.size() - 1; i >= 0; i--) owned.get(i).close();
    owned.clear();
  }
}
