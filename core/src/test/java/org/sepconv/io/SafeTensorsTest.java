package org.sepconv.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sepconv.autograd.Variable;
import org.sepconv.nn.Module;
import org.sepconv.tensor.Tensor;

class SafeTensorsTest {
  @TempDir Path dir;
  private final List<Tensor> owned = new ArrayList<>();

  @AfterEach
  void free() {
    owned.forEach(Tensor::close);
  }

  private Tensor own(Tensor t) {
    owned.add(t);
    return t;
  }

  private Map<String, Tensor> loadOwned(Path f) {
    Map<String, Tensor> m = SafeTensors.load(f);
    owned.addAll(m.values());
    return m;
  }

  private static int[] bits(Tensor t) {
    float[] f = t.toArray();
    int[] b = new int[f.length];
    for (int i = 0; i < f.length; i++) b[i] = Float.floatToRawIntBits(f[i]);
    return b;
  }

  /** A file from a header string (padded as given) and raw data bytes. */
  private Path file(String name, String header, byte[] data) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h).put(data);
    Path f = dir.resolve(name);
    Files.write(f, b.array());
    return f;
  }

  @Test
  void roundTripIsBitExact() {
    Random rng = new Random(7);
    Map<String, Tensor> src = new LinkedHashMap<>();
    src.put("conv.weight", own(Tensor.rand(rng, 8, 3, 3, 3)));
    src.put("special", own(Tensor.of(new float[] {-0f, Float.MIN_VALUE, Float.NaN, Float.intBitsToFloat(0x7fc12345),
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE, 1e-40f}, 2, 4)));
    src.put("scalar", own(Tensor.of(new float[] {3.5f})));
    src.put("empty", own(Tensor.zeros(0, 3)));
    src.put("big", own(Tensor.rand(rng, 300_000))); // spans two 1 MiB chunks
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("format", "pt");
    meta.put("quote\"back\\slash", "tab\tnewline\nctrl\u0001 unicode é 漢 🙂");
    Path f = dir.resolve("m.safetensors");
    SafeTensors.save(f, src, meta);
    Map<String, Tensor> back = loadOwned(f);
    assertEquals(new ArrayList<>(src.keySet()), new ArrayList<>(back.keySet()), "keys in the map's order");
    for (String k : src.keySet()) {
      assertEquals(src.get(k).shape(), back.get(k).shape(), k);
      assertArrayEquals(bits(src.get(k)), bits(back.get(k)), k);
    }
    assertEquals(0, back.get("scalar").shape().rank());
    assertEquals(meta, SafeTensors.metadata(f));
  }

  /** The exact bytes of a tiny file: the format must not drift. */
  @Test
  void goldenByteLayout() throws IOException {
    Map<String, Tensor> src = new LinkedHashMap<>();
    src.put("a", own(Tensor.of(new float[] {1f, -2f}, 2)));
    src.put("bn.num_batches_tracked", own(Tensor.of(new float[] {7f})));
    Path f = dir.resolve("golden.safetensors");
    SafeTensors.save(f, src, Map.of("format", "pt"));
    String json = "{\"__metadata__\":{\"format\":\"pt\"},"
        + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]}} "; // 159 + 1 pad
    ByteBuffer want = ByteBuffer.allocate(8 + 160 + 16).order(ByteOrder.LITTLE_ENDIAN);
    want.putLong(160).put(json.getBytes(StandardCharsets.US_ASCII));
    want.put(new byte[] {0, 0, (byte) 0x80, 0x3f, 0, 0, 0, (byte) 0xc0}); // 1.0f, -2.0f
    want.put(new byte[] {7, 0, 0, 0, 0, 0, 0, 0}); // 7L
    assertEquals(160, json.length());
    assertArrayEquals(want.array(), Files.readAllBytes(f));
    Map<String, Tensor> back = loadOwned(f);
    assertArrayEquals(new float[] {7f}, back.get("bn.num_batches_tracked").toArray());
  }

  /** A file as another writer could produce it: whitespace, other key order, I32/I64, escapes. */
  @Test
  void readsForeignLayouts() throws IOException {
    ByteBuffer data = ByteBuffer.allocate(4 + 16 + 8).order(ByteOrder.LITTLE_ENDIAN);
    data.putInt(-5).putLong(1L << 40).putLong(-3).putFloat(0.25f).putFloat(-8f);
    String header = "{ \"b\\u00e9\\\"x\" : {\"shape\": [2, 1], \"dtype\": \"I64\", \"data_offsets\": [4, 20]},\n"
        + "  \"f\": {\"data_offsets\":[20,28],\"dtype\":\"F32\",\"shape\":[2]},"
        + "  \"i\": {\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},"
        + "  \"__metadata__\": {\"k\": \"v\\n\\u2603\"}}   ";
    Path f = file("foreign.safetensors", header, data.array());
    Map<String, Tensor> m = loadOwned(f);
    assertEquals(List.of("bé\"x", "f", "i"), new ArrayList<>(m.keySet()));
    assertArrayEquals(new float[] {(float) (1L << 40), -3f}, m.get("bé\"x").toArray());
    assertArrayEquals(new int[] {2, 1}, m.get("bé\"x").shape().dims());
    assertArrayEquals(new float[] {0.25f, -8f}, m.get("f").toArray());
    assertArrayEquals(new float[] {-5f}, m.get("i").toArray());
    assertEquals(Map.of("k", "v\n\u2603"), SafeTensors.metadata(f));
  }

  /** Half-precision files as PyTorch writes them (model.half(), model.bfloat16()): each value, byte by byte. */
  @Test
  void readsF16AndBf16ExactlyWithEverySpecialValue() throws IOException {
    // little-endian F16: +0, -0, the smallest subnormal 2^-24, the largest subnormal 1023 * 2^-24,
    // the smallest normal 2^-14, 1, -2, 1/3 rounded, the largest finite 65504, +inf, -inf, a quiet
    // NaN, a negative quiet NaN with a payload
    byte[] f16 = {0x00, 0x00, 0x00, (byte) 0x80, 0x01, 0x00, (byte) 0xff, 0x03, 0x00, 0x04, 0x00, 0x3c, 0x00,
        (byte) 0xc0, 0x55, 0x35, (byte) 0xff, 0x7b, 0x00, 0x7c, 0x00, (byte) 0xfc, 0x00, 0x7e, 0x01, (byte) 0xfe};
    float[] f16Want = {0f, -0f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f, 1f, -2f, 0x1.554p-2f, 65504f,
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x7fc00000), Float.intBitsToFloat(0xffc02000)};
    // little-endian BF16: +0, -0, the smallest subnormal 2^-133, the smallest normal 2^-126, 1, -2,
    // pi rounded, the largest finite, +inf, -inf, a quiet NaN, a negative quiet NaN with a payload
    byte[] bf16 = {0x00, 0x00, 0x00, (byte) 0x80, 0x01, 0x00, (byte) 0x80, 0x00, (byte) 0x80, 0x3f, 0x00, (byte) 0xc0,
        0x49, 0x40, 0x7f, 0x7f, (byte) 0x80, 0x7f, (byte) 0x80, (byte) 0xff, (byte) 0xc0, 0x7f, (byte) 0xc1, (byte) 0xff};
    float[] bf16Want = {0f, -0f, 0x1p-133f, 0x1p-126f, 1f, -2f, 0x1.92p1f, Float.intBitsToFloat(0x7f7f0000),
        Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x7fc00000), Float.intBitsToFloat(0xffc10000)};
    byte[] data = new byte[f16.length + bf16.length];
    System.arraycopy(f16, 0, data, 0, f16.length);
    System.arraycopy(bf16, 0, data, f16.length, bf16.length);
    Path f = file("half.safetensors", "{\"h\":{\"dtype\":\"F16\",\"shape\":[13],\"data_offsets\":[0,26]},"
        + "\"b\":{\"dtype\":\"BF16\",\"shape\":[12],\"data_offsets\":[26,50]}}", data);
    Map<String, Tensor> m = loadOwned(f);
    assertArrayEquals(bits(own(Tensor.of(f16Want, 13))), bits(m.get("h")), "F16 bit for bit");
    assertArrayEquals(bits(own(Tensor.of(bf16Want, 12))), bits(m.get("b")), "BF16 bit for bit");
  }

  /** Every one of the 65,536 F16 and BF16 bit patterns, against the value their fields define. */
  @Test
  void readsEveryHalfBitPattern() throws IOException {
    ByteBuffer data = ByteBuffer.allocate(4 << 16).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 1 << 16; i++) data.putShort((short) i);
    for (int i = 0; i < 1 << 16; i++) data.putShort((short) i);
    Path f = file("all.safetensors", "{\"h\":{\"dtype\":\"F16\",\"shape\":[65536],\"data_offsets\":[0,131072]},"
        + "\"b\":{\"dtype\":\"BF16\",\"shape\":[256,256],\"data_offsets\":[131072,262144]}}", data.array());
    Map<String, Tensor> m = loadOwned(f);
    float[] h = m.get("h").toArray(), b = m.get("b").toArray();
    for (int i = 0; i < 1 << 16; i++) {
      int sign = i >> 15, exp = (i >> 10) & 0x1f, mant = i & 0x3ff;
      double v = exp == 0 ? Math.scalb((double) mant, -24) : exp == 31 ? (mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN)
          : Math.scalb(1 + mant / 1024.0, exp - 15);
      if (sign == 1) v = -v;
      String what = String.format("F16 0x%04x", i);
      if (Double.isNaN(v)) assertEquals(sign << 31 | 0x7f800000 | mant << 13, Float.floatToRawIntBits(h[i]), what);
      else assertEquals(Float.floatToRawIntBits((float) v), Float.floatToRawIntBits(h[i]), what);
      assertEquals(i << 16, Float.floatToRawIntBits(b[i]), String.format("BF16 0x%04x", i));
    }
  }

  private void assertRejected(Path f, String... fragments) {
    long live = Tensor.liveCount();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.load(f));
    assertTrue(e.getMessage().contains(f.toString()), "names the file: " + e.getMessage());
    for (String s : fragments) assertTrue(e.getMessage().contains(s), "mentions '" + s + "': " + e.getMessage());
    assertEquals(live, Tensor.liveCount(), "a rejected load leaves no tensors behind");
  }

  private static final String F2 = "\"dtype\":\"F32\",\"shape\":[2]";

  @Test
  void rejectsCorruptFiles() throws IOException {
    byte[] d8 = new byte[8], d16 = new byte[16];
    Files.write(dir.resolve("empty.st"), new byte[0]);
    assertRejected(dir.resolve("empty.st"), "truncated");
    Files.write(dir.resolve("tiny.st"), new byte[] {1, 2, 3});
    assertRejected(dir.resolve("tiny.st"), "truncated");
    Path good = file("good.st", "{\"a\":{" + F2 + ",\"data_offsets\":[0,8]}}", d8);
    byte[] all = Files.readAllBytes(good);
    Files.write(dir.resolve("cut.st"), java.util.Arrays.copyOf(all, all.length - 3));
    assertRejected(dir.resolve("cut.st"), "truncated: ", "reach beyond the data (5 bytes)");
    Files.write(dir.resolve("cuthead.st"), java.util.Arrays.copyOf(all, 20));
    assertRejected(dir.resolve("cuthead.st"), "beyond the file");
    ByteBuffer huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-2).putLong(0);
    Files.write(dir.resolve("huge.st"), huge.array());
    assertRejected(dir.resolve("huge.st"), "header length 18446744073709551614 exceeds the limit");
    assertRejected(file("json.st", "{\"a\":{" + F2 + ",\"data_offsets\":[0,8]}", d8), "bad JSON");
    assertRejected(file("json2.st", "{\"a\":{" + F2 + ",\"data_offsets\":[0,8],}}", d8), "bad JSON");
    assertRejected(file("array.st", "[1,2]", d8), "not a JSON object");
    assertRejected(file("dup.st", "{\"a\":{" + F2 + ",\"data_offsets\":[0,8]},\"a\":{" + F2 + ",\"data_offsets\":[0,8]}}", d8), "duplicate key");
    assertRejected(file("f64.st", "{\"h\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", d8), "unsupported dtype F64", "\"h\"");
    assertRejected(file("range.st", "{\"a\":{" + F2 + ",\"data_offsets\":[8,16]}}", d8), "reach beyond the data");
    assertRejected(file("size.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", d8), "needs 12");
    assertRejected(file("overlap.st", "{\"a\":{" + F2 + ",\"data_offsets\":[0,8]},\"b\":{" + F2 + ",\"data_offsets\":[4,12]}}",
        new byte[12]), "overlaps");
    assertRejected(file("gap.st", "{\"a\":{" + F2 + ",\"data_offsets\":[0,8]},\"b\":{" + F2 + ",\"data_offsets\":[12,20]}}",
        new byte[20]), "belong to no tensor");
    assertRejected(file("trailing.st", "{\"a\":{" + F2 + ",\"data_offsets\":[0,8]}}", d16), "cover 8");
    assertRejected(file("meta.st", "{\"__metadata__\":{\"k\":1}}", new byte[0]), "not a string");
    assertRejected(file("shape.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", d8), "bad shape");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.metadata(dir.resolve("f64.st")));
    assertTrue(e.getMessage().contains("f64.st") && e.getMessage().contains("F64"), e.getMessage());
  }

  /** A save that fails half-way (a closed tensor after a written one) leaves the old file and no temporaries. */
  @Test
  void abortedSaveKeepsTheOldFile() throws IOException {
    Path f = dir.resolve("ckpt.safetensors");
    SafeTensors.save(f, Map.of("w", own(Tensor.of(new float[] {1, 2, 3}, 3))), Map.of("epoch", "1"));
    byte[] before = Files.readAllBytes(f);
    Tensor closed = Tensor.zeros(4);
    closed.close();
    Map<String, Tensor> bad = new LinkedHashMap<>();
    bad.put("first", own(Tensor.rand(new Random(1), 100_000)));
    bad.put("gone", closed);
    RuntimeException e = assertThrows(RuntimeException.class, () -> SafeTensors.save(f, bad, Map.of("epoch", "2")));
    assertTrue(e.getMessage().contains("gone"), e.getMessage());
    assertArrayEquals(before, Files.readAllBytes(f));
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(List.of("ckpt.safetensors"), s.map(p -> p.getFileName().toString()).collect(Collectors.toList()));
    }
    assertEquals(Map.of("epoch", "1"), SafeTensors.metadata(f));
  }

  @Test
  void saveReplacesAnExistingFile() throws IOException {
    Path f = dir.resolve("x.safetensors");
    SafeTensors.save(f, Map.of("a", own(Tensor.of(new float[] {1}, 1))), null);
    SafeTensors.save(f, Map.of("b", own(Tensor.of(new float[] {2, 3}, 2))), Map.of());
    Map<String, Tensor> m = loadOwned(f);
    assertEquals(List.of("b"), new ArrayList<>(m.keySet()));
    if (Files.getFileStore(f).supportsFileAttributeView("posix"))
      assertEquals(PosixFilePermissions.fromString("rw-r--r--"), Files.getPosixFilePermissions(f), "not the temp file's owner-only mode");
    assertEquals(Map.of(), SafeTensors.metadata(f));
  }

  @Test
  void rejectsBadNamesAndNonIntegerCounters() {
    Path f = dir.resolve("bad.safetensors");
    Tensor t = own(Tensor.of(new float[] {1}, 1));
    assertThrows(IllegalArgumentException.class, () -> SafeTensors.save(f, Map.of("__metadata__", t), null));
    assertThrows(IllegalArgumentException.class, () -> SafeTensors.save(f, Map.of("", t), null));
    Tensor half = own(Tensor.of(new float[] {2.5f}, 1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SafeTensors.save(f, Map.of("bn.num_batches_tracked", half), null));
    assertTrue(e.getMessage().contains("non-integer"), e.getMessage());
    assertTrue(Files.notExists(f));
  }

  /** A tiny model: a parameter, a child with a parameter and two buffers (BN-like). */
  static final class Tiny extends Module {
    static final class Norm extends Module {
      Norm(float seed) {
        param("weight", Tensor.of(new float[] {seed, seed + 1}, 2));
        buffer("running_mean", Tensor.of(new float[] {seed * 2, -seed}, 2));
        buffer("num_batches_tracked", Tensor.of(new float[] {seed * 10}));
      }

      @Override
      public Variable forward(Variable x) {
        return x;
      }
    }

    Tiny(float seed, int width) {
      param("w", Tensor.of(new float[] {seed, -seed, seed / 3, 4, 5, 6}, 2, 3));
      register("bn", new Norm(seed));
      if (width > 0) param("extra", Tensor.zeros(width));
    }

    @Override
    public Variable forward(Variable x) {
      return x;
    }
  }

  @Test
  void moduleRoundTripWithLoadInto() {
    Path f = dir.resolve("tiny.safetensors");
    try (Tiny a = new Tiny(3, 0); Tiny b = new Tiny(-1, 0)) {
      SafeTensors.save(f, a.stateDict(), Map.of("arch", "tiny"));
      SafeTensors.loadInto(b, f);
      for (Map.Entry<String, Tensor> e : a.stateDict().entrySet())
        assertArrayEquals(bits(e.getValue()), bits(b.stateDict().get(e.getKey())), e.getKey());
    }
    try (Tiny c = new Tiny(0, 4)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.loadInto(c, f));
      assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("1 missing key(s), the first extra [4]"), e.getMessage());
      assertArrayEquals(new float[] {0, 1}, c.stateDict().get("bn.weight").toArray(), "nothing copied");
    }
  }
}
