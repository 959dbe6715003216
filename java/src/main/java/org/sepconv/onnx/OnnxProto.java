package org.sepconv.onnx;

/**
 * The field numbers (and the few enum values) of the public ONNX schema, {@code onnx/onnx.proto}
 * (proto2), that {@link OnnxExport} writes: one nested class per message, named as the schema
 * names it, without the {@code Proto} suffix. Only the fields this exporter uses are listed.
 */
final class OnnxProto {
  private OnnxProto() {}

  static final class Model {
    static final int IR_VERSION = 1, PRODUCER_NAME = 2, PRODUCER_VERSION = 3, DOC_STRING = 6, GRAPH = 7,
        OPSET_IMPORT = 8, METADATA_PROPS = 14;
  }

  static final class OperatorSetId {
    static final int DOMAIN = 1, VERSION = 2;
  }

  static final class StringStringEntry {
    static final int KEY = 1, VALUE = 2;
  }

  static final class Graph {
    static final int NODE = 1, NAME = 2, INITIALIZER = 5, INPUT = 11, OUTPUT = 12;
  }

  static final class Node {
    static final int INPUT = 1, OUTPUT = 2, NAME = 3, OP_TYPE = 4, ATTRIBUTE = 5;
  }

  static final class Attribute {
    static final int NAME = 1, I = 3, INTS = 8, TYPE = 20;
    /** AttributeProto.AttributeType values. */
    static final int TYPE_INT = 2, TYPE_INTS = 7;
  }

  static final class Tensor {
    static final int DIMS = 1, DATA_TYPE = 2, NAME = 8, RAW_DATA = 9;
    /** TensorProto.DataType.FLOAT: float32. */
    static final int FLOAT = 1;
  }

  static final class ValueInfo {
    static final int NAME = 1, TYPE = 2;
  }

  /** TypeProto: its tensor_type, a TypeProto.Tensor. */
  static final class Type {
    static final int TENSOR_TYPE = 1;
    /** TypeProto.Tensor's fields. */
    static final int ELEM_TYPE = 1, SHAPE = 2;
  }

  /** TensorShapeProto: its dims, each a TensorShapeProto.Dimension. */
  static final class TensorShape {
    static final int DIM = 1;
    /** TensorShapeProto.Dimension's fields. */
    static final int DIM_VALUE = 1, DIM_PARAM = 2;
  }
}
