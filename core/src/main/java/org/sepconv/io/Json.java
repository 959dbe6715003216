package org.sepconv.io;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The small JSON reader and writer that a safetensors header needs (RFC 8259). Values read as
 * {@code Map<String, Object>} (insertion-ordered; a duplicate key is an error), {@code List},
 * {@code String}, {@code Long} (integers that fit), {@code Double} (other numbers),
 * {@code Boolean} and {@code null}. The writer emits compact JSON, as serde_json does.
 */
final class Json {
  private static final int MAX_DEPTH = 64;

  private final String s;
  private int pos;

  private Json(String s) {
    this.s = s;
  }

  /** Parses one JSON value that makes up the whole of {@code text}, surrounding whitespace aside. */
  static Object parse(String text) {
    Json p = new Json(text);
    p.skipWs();
    Object v = p.value(0);
    p.skipWs();
    if (p.pos != text.length()) throw p.error("unexpected " + p.describe() + " after the value");
    return v;
  }

  private Object value(int depth) {
    if (depth > MAX_DEPTH) throw error("nesting deeper than " + MAX_DEPTH);
    if (pos >= s.length()) throw error("unexpected end of input");
    char c = s.charAt(pos);
    switch (c) {
      case '{': return object(depth);
      case '[': return array(depth);
      case '"': return string();
      case 't': return literal("true", Boolean.TRUE);
      case 'f': return literal("false", Boolean.FALSE);
      case 'n': return literal("null", null);
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        throw error("unexpected " + describe());
    }
  }

  private Map<String, Object> object(int depth) {
    Map<String, Object> out = new LinkedHashMap<>();
    pos++;
    skipWs();
    if (peek() == '}') {
      pos++;
      return out;
    }
    while (true) {
      skipWs();
      if (peek() != '"') throw error("expected a string key, got " + describe());
      int at = pos;
      String key = string();
      skipWs();
      expect(':');
      skipWs();
      Object v = value(depth + 1);
      if (out.containsKey(key)) {
        pos = at;
        throw error("duplicate key \"" + key + "\"");
      }
      out.put(key, v);
      skipWs();
      if (peek() == ',') {
        pos++;
        continue;
      }
      expect('}');
      return out;
    }
  }

  private List<Object> array(int depth) {
    List<Object> out = new ArrayList<>();
    pos++;
    skipWs();
    if (peek() == ']') {
      pos++;
      return out;
    }
    while (true) {
      skipWs();
      out.add(value(depth + 1));
      skipWs();
      if (peek() == ',') {
        pos++;
        continue;
      }
      expect(']');
      return out;
    }
  }

  private String string() {
    pos++; // opening quote
    StringBuilder b = new StringBuilder();
    while (true) {
      if (pos >= s.length()) throw error("unterminated string");
      char c = s.charAt(pos++);
      if (c == '"') return b.toString();
      if (c < 0x20) {
        pos--;
        throw error("unescaped control character U+" + String.format("%04X", (int) c) + " in a string");
      }
      if (c != '\\') {
        b.append(c);
        continue;
      }
      if (pos >= s.length()) throw error("unterminated escape");
      char e = s.charAt(pos++);
      switch (e) {
        case '"': b.append('"'); break;
        case '\\': b.append('\\'); break;
        case '/': b.append('/'); break;
        case 'b': b.append('\b'); break;
        case 'f': b.append('\f'); break;
        case 'n': b.append('\n'); break;
        case 'r': b.append('\r'); break;
        case 't': b.append('\t'); break;
        case 'u':
          if (pos + 4 > s.length()) throw error("truncated \\u escape");
          int cp = 0;
          for (int i = 0; i < 4; i++) {
            int d = Character.digit(s.charAt(pos + i), 16);
            if (d < 0) throw error("bad hex digit in \\u escape");
            cp = cp * 16 + d;
          }
          pos += 4;
          b.append((char) cp); // surrogate pairs arrive as two escapes and join in the builder
          break;
        default:
          pos--;
          throw error("bad escape \\" + e);
      }
    }
  }

  private Object number() {
    int start = pos;
    if (peek() == '-') pos++;
    if (peek() == '0') pos++;
    else if (isDigit(peek())) while (isDigit(peek())) pos++;
    else throw error("bad number");
    boolean integral = true;
    if (peek() == '.') {
      integral = false;
      pos++;
      if (!isDigit(peek())) throw error("bad number: digits expected after '.'");
      while (isDigit(peek())) pos++;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      pos++;
      if (peek() == '+' || peek() == '-') pos++;
      if (!isDigit(peek())) throw error("bad number: digits expected in the exponent");
      while (isDigit(peek())) pos++;
    }
    String text = s.substring(start, pos);
    if (integral) {
      try {
        return Long.parseLong(text);
      } catch (NumberFormatException tooBig) {
        // falls through to a double
      }
    }
    return Double.parseDouble(text);
  }

  private Object literal(String word, Object v) {
    if (!s.startsWith(word, pos)) throw error("unexpected " + describe());
    pos += word.length();
    return v;
  }

  private static boolean isDigit(int c) {
    return c >= '0' && c <= '9';
  }

  private int peek() {
    return pos < s.length() ? s.charAt(pos) : -1;
  }

  private void expect(char c) {
    if (peek() != c) throw error("expected '" + c + "', got " + describe());
    pos++;
  }

  private void skipWs() {
    while (pos < s.length()) {
      char c = s.charAt(pos);
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      pos++;
    }
  }

  private String describe() {
    return pos >= s.length() ? "end of input" : "'" + s.charAt(pos) + "'";
  }

  private IllegalArgumentException error(String what) {
    return new IllegalArgumentException("bad JSON at character " + pos + ": " + what);
  }

  /** Writes {@code v} (a Map with String keys, List, String, Number, Boolean or null) compactly. */
  static String write(Object v) {
    StringBuilder b = new StringBuilder();
    write(v, b);
    return b.toString();
  }

  private static void write(Object v, StringBuilder b) {
    if (v == null) {
      b.append("null");
    } else if (v instanceof String) {
      quote((String) v, b);
    } else if (v instanceof Long || v instanceof Integer) {
      b.append(v);
    } else if (v instanceof Number) {
      double d = ((Number) v).doubleValue();
      if (!Double.isFinite(d)) throw new IllegalArgumentException("JSON has no " + d);
      b.append(d);
    } else if (v instanceof Boolean) {
      b.append(v);
    } else if (v instanceof Map) {
      b.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
        if (!first) b.append(',');
        first = false;
        if (!(e.getKey() instanceof String)) throw new IllegalArgumentException("JSON object keys must be strings, got " + e.getKey());
        quote((String) e.getKey(), b);
        b.append(':');
        write(e.getValue(), b);
      }
      b.append('}');
    } else if (v instanceof List) {
      b.append('[');
      boolean first = true;
      for (Object x : (List<?>) v) {
        if (!first) b.append(',');
        first = false;
        write(x, b);
      }
      b.append(']');
    } else {
      throw new IllegalArgumentException("cannot write " + v.getClass().getName() + " as JSON");
    }
  }

  /** Quotes as serde_json does: escapes " \ and control characters, keeps other characters as they are. */
  private static void quote(String s, StringBuilder b) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': b.append("\\\""); break;
        case '\\': b.append("\\\\"); break;
        case '\n': b.append("\\n"); break;
        case '\r': b.append("\\r"); break;
        case '\t': b.append("\\t"); break;
        case '\b': b.append("\\b"); break;
        case '\f': b.append("\\f"); break;
        default:
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
      }
    }
    b.append('"');
  }
}
