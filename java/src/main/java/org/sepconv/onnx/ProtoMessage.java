package org.sepconv.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * One protobuf message in the making: each call appends one field in the wire format, in call
 * order, with the field number the caller names (repeated scalars unpacked, as proto2 writes
 * them). A nested message or a byte string is joined by reference ({@link ByteString#concat}
 * makes a rope), so finishing each enclosing message copies no initializer again: a model's
 * tens of megabytes are flattened once, when the file is written.
 */
final class ProtoMessage {
  private final ByteString.Output pending = ByteString.newOutput();
  private final CodedOutputStream out = CodedOutputStream.newInstance(pending);
  private ByteString done = ByteString.EMPTY;

  private interface Field {
    void write(CodedOutputStream out) throws IOException;
  }

  private ProtoMessage put(Field f) {
    try {
      f.write(out);
    } catch (IOException e) { // a ByteString.Output is memory: it never throws
      throw new UncheckedIOException(e);
    }
    return this;
  }

  /** An int64, int32 or enum field: one varint, the same for the three when v >= 0. */
  ProtoMessage varint(int field, long v) {
    return put(o -> o.writeInt64(field, v));
  }

  /** A repeated int64, unpacked: one field per value. */
  ProtoMessage varints(int field, long... vs) {
    for (long v : vs) varint(field, v);
    return this;
  }

  ProtoMessage string(int field, String v) {
    return put(o -> o.writeString(field, v));
  }

  ProtoMessage bytes(int field, ByteString v) {
    put(o -> {
      o.writeTag(field, WireFormat.WIRETYPE_LENGTH_DELIMITED);
      o.writeUInt32NoTag(v.size());
    });
    flush();
    done = done.concat(v);
    return this;
  }

  ProtoMessage message(int field, ProtoMessage m) {
    return bytes(field, m.toByteString());
  }

  /** The fields so far, encoded. */
  ByteString toByteString() {
    flush();
    return done;
  }

  private void flush() {
    put(CodedOutputStream::flush);
    done = done.concat(pending.toByteString());
    pending.reset();
  }
}
