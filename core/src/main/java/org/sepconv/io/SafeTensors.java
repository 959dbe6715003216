package org.sepconv.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sepconv.nn.Module;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/**
 * Reads and writes the safetensors format (https://github.com/huggingface/safetensors), which
 * PyTorch ({@code safetensors.torch.load_file}) and Hugging Face read:
 *
 * <pre>
 *   bytes 0..8       N, the header length, unsigned 64-bit little-endian
 *   bytes 8..8+N     UTF-8 JSON: {"__metadata__": {"k": "v", ...},
 *                                 "name": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
 *                    padded with spaces so that the data starts 8-byte aligned
 *   bytes 8+N..      the tensors' raw little-endian row-major data; [begin, end) is relative
 *                    to the data start, and the tensors tile the data without gaps or overlap
 * </pre>
 *
 * We write F32, except keys ending in {@code .num_batches_tracked}, which PyTorch stores as I64
 * (our tensors hold them as floats). We read F32; F16 (IEEE half) and BF16 (the top 16 bits of
 * an F32), both widened to F32 exactly, with their subnormals, infinities and NaNs; and I64 and
 * I32 converted to float.
 * Everything the reader rejects is an IllegalArgumentException that names the file and the
 * problem; I/O errors are UncheckedIOExceptions.
 */
public final class SafeTensors {
  private SafeTensors() {}

  /** The reference implementation refuses headers above 100 MB; so do we. */
  static final long MAX_HEADER = 100_000_000;
  private static final String METADATA = "__metadata__";
  private static final int CHUNK = 1 << 20;

  private enum DType {
    F32(4), F16(2), BF16(2), I64(8), I32(4);

    final int bytes;

    DType(int bytes) {
      this.bytes = bytes;
    }
  }

  private static final class Entry {
    final String name;
    final DType dtype;
    final Shape shape;
    final long begin, end;

    Entry(String name, DType dtype, Shape shape, long begin, long end) {
      this.name = name;
      this.dtype = dtype;
      this.shape = shape;
      this.begin = begin;
      this.end = end;
    }
  }

  private static final class Header {
    final List<Entry> entries = new ArrayList<>();
    final Map<String, String> metadata = new LinkedHashMap<>();
    long dataStart;
  }

  // ---------------------------------------------------------------- writing

  /**
   * Writes {@code tensors} (in the map's order) and {@code metadata} (may be null or empty:
   * then no {@code __metadata__} entry) to {@code file}. The bytes go to a temporary file in the
   * same folder that is flushed to disk and then renamed over {@code file} atomically, so a
   * failure at any point leaves {@code file} as it was.
   */
  public static void save(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
    if (file == null || tensors == null) throw new IllegalArgumentException("file and tensors must not be null");
    Path abs = file.toAbsolutePath();
    Map<String, Object> header = new LinkedHashMap<>();
    if (metadata != null && !metadata.isEmpty()) {
      for (Map.Entry<String, String> e : metadata.entrySet())
        if (e.getKey() == null || e.getValue() == null)
          throw new IllegalArgumentException(file + ": metadata keys and values must not be null, got " + e);
      header.put(METADATA, new LinkedHashMap<>(metadata));
    }
    long offset = 0;
    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
      String name = e.getKey();
      if (name == null || name.isEmpty() || name.equals(METADATA))
        throw new IllegalArgumentException(file + ": bad tensor name " + (name == null ? "null" : "\"" + name + "\""));
      if (e.getValue() == null) throw new IllegalArgumentException(file + ": tensor \"" + name + "\" is null");
      DType dt = dtypeFor(name);
      long bytes = e.getValue().size() * dt.bytes;
      Map<String, Object> info = new LinkedHashMap<>();
      info.put("dtype", dt.name());
      List<Object> shape = new ArrayList<>();
      for (int d : e.getValue().shape().dims()) shape.add((long) d);
      info.put("shape", shape);
      info.put("data_offsets", List.of(offset, offset + bytes));
      header.put(name, info);
      offset += bytes;
    }
    byte[] json = utf8(Json.write(header), file);
    int padded = (json.length + 7) & ~7;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) head.put((byte) ' ');
    head.flip();

    Path tmp = null;
    try {
      tmp = AtomicFile.tempBeside(abs);
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        writeFully(ch, head);
        ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
          try {
            writeTensor(ch, chunk, e.getValue(), dtypeFor(e.getKey()));
          } catch (IllegalStateException | IllegalArgumentException x) {
            throw new IllegalArgumentException(file + ": tensor \"" + e.getKey() + "\": " + x.getMessage(), x);
          }
        }
        ch.force(true);
      }
      AtomicFile.commit(tmp, abs);
      tmp = null;
    } catch (IOException e) {
      throw new UncheckedIOException("saving " + file + ": " + e.getMessage(), e);
    } finally {
      AtomicFile.deleteQuietly(tmp);
    }
  }

  private static DType dtypeFor(String name) {
    return name.endsWith(".num_batches_tracked") ? DType.I64 : DType.F32;
  }

  private static void writeTensor(FileChannel ch, ByteBuffer chunk, Tensor t, DType dt) throws IOException {
    // checkpoint staging: a device tensor comes to the host to be written
    FloatBuffer src = t.device() == Device.CPU ? t.buffer() : FloatBuffer.wrap(t.toArray());
    int n = (int) t.size(), per = CHUNK / dt.bytes;
    for (int at = 0; at < n; at += per) {
      int m = Math.min(per, n - at);
      chunk.clear();
      if (dt == DType.F32) {
        chunk.asFloatBuffer().put(src.slice(at, m)); // a bulk copy when the platform is little-endian
        chunk.limit(m * 4);
      } else {
        for (int i = 0; i < m; i++) {
          float f = src.get(at + i);
          if (f != Math.rint(f) || Math.abs(f) > 0x1p63)
            throw new IllegalArgumentException("an I64 tensor holds the non-integer " + f);
          chunk.putLong((long) f);
        }
        chunk.flip();
      }
      writeFully(ch, chunk);
    }
  }

  private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) ch.write(b);
  }

  /** A temp file is created owner-only; give it the permissions of the file it replaces, or rw-r--r--. */
  private static byte[] utf8(String s, Path file) {
    try {
      ByteBuffer b = StandardCharsets.UTF_8.newEncoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).encode(CharBuffer.wrap(s));
      return Arrays.copyOf(b.array(), b.limit());
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException(file + ": a name or metadata string is not valid Unicode (lone surrogate)", e);
    }
  }

  // ---------------------------------------------------------------- reading

  /**
   * Reads every tensor of {@code file} into new tensors that the caller owns and closes, in
   * the header's order. If anything fails, the tensors read so far are closed.
   */
  public static Map<String, Tensor> load(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      Header h = readHeader(ch, file);
      Map<String, Tensor> out = new LinkedHashMap<>();
      boolean ok = false;
      try {
        ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
        for (Entry e : h.entries) {
          Tensor t = Tensor.empty(e.shape);
          out.put(e.name, t);
          readTensor(ch, chunk, h.dataStart + e.begin, e, t.buffer(), file);
        }
        ok = true;
        return out;
      } finally {
        if (!ok) out.values().forEach(Tensor::close);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("loading " + file + ": " + e.getMessage(), e);
    }
  }

  /** The {@code __metadata__} of {@code file} (empty if it has none); reads and checks only the header. */
  public static Map<String, String> metadata(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return Collections.unmodifiableMap(readHeader(ch, file).metadata);
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Loads {@code file} into {@code module}'s parameters and buffers with
   * {@link Module#loadStateDict} (strict: missing keys, unexpected keys and shape mismatches
   * are listed, and nothing is copied), then frees the loaded tensors.
   */
  public static void loadInto(Module module, Path file) {
    Map<String, Tensor> state = load(file);
    try {
      module.loadStateDict(state);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    } finally {
      state.values().forEach(Tensor::close);
    }
  }

  private static void readTensor(FileChannel ch, ByteBuffer chunk, long pos, Entry e, FloatBuffer dst, Path file) throws IOException {
    long n = e.shape.size();
    int per = CHUNK / e.dtype.bytes;
    for (long at = 0; at < n; at += per) {
      int m = (int) Math.min(per, n - at);
      chunk.clear().limit(m * e.dtype.bytes);
      while (chunk.hasRemaining()) {
        if (ch.read(chunk, pos + chunk.position()) < 0) throw bad(file, "tensor \"" + e.name + "\": the file ends inside its data");
      }
      pos += (long) m * e.dtype.bytes;
      chunk.flip();
      int base = (int) at;
      switch (e.dtype) {
        case F32:
          dst.put(base, chunk.asFloatBuffer(), 0, m);
          break;
        case F16:
          for (int i = 0; i < m; i++) dst.put(base + i, halfToFloat(chunk.getShort(2 * i)));
          break;
        case BF16:
          for (int i = 0; i < m; i++) dst.put(base + i, Float.intBitsToFloat(chunk.getShort(2 * i) << 16));
          break;
        case I64:
          for (int i = 0; i < m; i++) dst.put(base + i, (float) chunk.getLong(8 * i));
          break;
        case I32:
          for (int i = 0; i < m; i++) dst.put(base + i, (float) chunk.getInt(4 * i));
          break;
        default:
          throw new AssertionError(e.dtype);
      }
    }
  }

  /**
   * An IEEE 754 binary16 value as the float of the same value: the exponent is rebiased (15 to
   * 127) and the 10 mantissa bits move to the top of the 23; subnormals (exponent 0) are
   * mantissa * 2^-24, exactly representable as normal floats; infinities and NaNs keep their sign
   * and (shifted) payload.
   */
  static float halfToFloat(short h) {
    int sign = (h & 0x8000) << 16, exp = (h >>> 10) & 0x1F, mant = h & 0x3FF;
    if (exp == 0x1F) return Float.intBitsToFloat(sign | 0x7F800000 | mant << 13);
    if (exp == 0) return Float.intBitsToFloat(sign | Float.floatToRawIntBits(mant * 0x1p-24f));
    return Float.intBitsToFloat(sign | (exp + 127 - 15) << 23 | mant << 13);
  }

  private static Header readHeader(FileChannel ch, Path file) throws IOException {
    long size = ch.size();
    if (size < 8) throw bad(file, "truncated: " + size + " bytes, fewer than the 8-byte header length");
    ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, lenBuf, 0, file);
    long n = lenBuf.getLong(0);
    if (n < 0 || n > MAX_HEADER)
      throw bad(file, "header length " + Long.toUnsignedString(n) + " exceeds the limit of " + MAX_HEADER + " bytes");
    if (n > size - 8) throw bad(file, "truncated: header length " + n + " is beyond the file (" + size + " bytes)");
    ByteBuffer hb = ByteBuffer.allocate((int) n);
    readFully(ch, hb, 8, file);
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb.flip()).toString();
    } catch (CharacterCodingException e) {
      throw bad(file, "header is not valid UTF-8");
    }
    Object root;
    try {
      root = Json.parse(text);
    } catch (IllegalArgumentException e) {
      throw bad(file, "header: " + e.getMessage());
    }
    if (!(root instanceof Map)) throw bad(file, "header is not a JSON object");
    Header h = new Header();
    h.dataStart = 8 + n;
    long dataLen = size - h.dataStart;
    for (Map.Entry<?, ?> me : ((Map<?, ?>) root).entrySet()) {
      String name = (String) me.getKey();
      if (name.equals(METADATA)) {
        if (!(me.getValue() instanceof Map)) throw bad(file, "__metadata__ is not an object");
        for (Map.Entry<?, ?> kv : ((Map<?, ?>) me.getValue()).entrySet()) {
          if (!(kv.getValue() instanceof String)) throw bad(file, "__metadata__ value of \"" + kv.getKey() + "\" is not a string");
          h.metadata.put((String) kv.getKey(), (String) kv.getValue());
        }
        continue;
      }
      h.entries.add(entry(name, me.getValue(), dataLen, file));
    }
    List<Entry> byOffset = new ArrayList<>(h.entries);
    byOffset.sort((a, b) -> a.begin != b.begin ? Long.compare(a.begin, b.begin) : Long.compare(a.end, b.end));
    long at = 0;
    String prev = null;
    for (Entry e : byOffset) {
      if (e.begin < at) throw bad(file, "tensor \"" + e.name + "\" [" + e.begin + ", " + e.end + ") overlaps tensor \"" + prev + "\" which ends at " + at);
      if (e.begin > at) throw bad(file, "data bytes [" + at + ", " + e.begin + ") belong to no tensor");
      at = e.end;
      prev = e.name;
    }
    if (at != dataLen) throw bad(file, "data is " + dataLen + " bytes but the tensors cover " + at);
    return h;
  }

  private static Entry entry(String name, Object value, long dataLen, Path file) {
    String what = "tensor \"" + name + "\": ";
    if (!(value instanceof Map)) throw bad(file, what + "entry is not an object");
    Map<?, ?> m = (Map<?, ?>) value;
    Object dt = m.get("dtype"), shape = m.get("shape"), offs = m.get("data_offsets");
    if (!(dt instanceof String)) throw bad(file, what + "missing or non-string dtype");
    DType dtype;
    try {
      dtype = DType.valueOf((String) dt);
    } catch (IllegalArgumentException e) {
      throw bad(file, what + "unsupported dtype " + dt + " (supported: F32, F16, BF16, I64, I32)");
    }
    if (!(shape instanceof List)) throw bad(file, what + "missing or non-array shape");
    List<?> sl = (List<?>) shape;
    int[] dims = new int[sl.size()];
    long count = 1;
    for (int i = 0; i < dims.length; i++) {
      Object d = sl.get(i);
      if (!(d instanceof Long) || (Long) d < 0 || (Long) d > Integer.MAX_VALUE) throw bad(file, what + "bad shape " + shape);
      dims[i] = (int) (long) (Long) d;
      count *= dims[i];
      if (count > Integer.MAX_VALUE) throw bad(file, what + "shape " + shape + " has more than 2^31-1 elements");
    }
    if (!(offs instanceof List) || ((List<?>) offs).size() != 2) throw bad(file, what + "data_offsets must be [begin, end], got " + offs);
    Object b = ((List<?>) offs).get(0), e = ((List<?>) offs).get(1);
    if (!(b instanceof Long) || !(e instanceof Long)) throw bad(file, what + "data_offsets must be integers, got " + offs);
    long begin = (Long) b, end = (Long) e;
    if (begin < 0 || end < begin) throw bad(file, what + "data_offsets " + offs + " are not a range");
    if (end > dataLen)
      throw bad(file, "truncated: " + what + "data_offsets " + offs + " reach beyond the data (" + dataLen + " bytes)");
    if (end - begin != count * dtype.bytes)
      throw bad(file, what + "data_offsets " + offs + " hold " + (end - begin) + " bytes but shape " + shape + " of " + dtype + " needs " + count * dtype.bytes);
    return new Entry(name, dtype, Shape.of(dims), begin, end);
  }

  private static void readFully(FileChannel ch, ByteBuffer b, long pos, Path file) throws IOException {
    while (b.hasRemaining()) {
      int r = ch.read(b, pos + b.position());
      if (r < 0) throw bad(file, "truncated");
    }
  }

  private static IllegalArgumentException bad(Path file, String what) {
    return new IllegalArgumentException("safetensors file " + file + ": " + what);
  }
}
