package org.sepconv.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.sepconv.Sepconv;
import org.sepconv.io.AtomicFile;
import org.sepconv.models.BasicBlock;
import org.sepconv.models.Export;
import org.sepconv.models.InvertedResidual;
import org.sepconv.models.MobileNetV1;
import org.sepconv.models.MobileNetV2;
import org.sepconv.models.ResNet18;
import org.sepconv.nn.AvgPool2d;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.ConvBNAct;
import org.sepconv.nn.Dropout;
import org.sepconv.nn.Flatten;
import org.sepconv.nn.GlobalAvgPool;
import org.sepconv.nn.Linear;
import org.sepconv.nn.MaxPool2d;
import org.sepconv.nn.Module;
import org.sepconv.nn.ReLU;
import org.sepconv.nn.ReLU6;
import org.sepconv.nn.Sequential;
import org.sepconv.ops.Activation;
import org.sepconv.tensor.Tensor;

/**
 * Writes a model as an ONNX file for inference, e.g. to run it in ONNX Runtime.
 *
 * <p><b>The graph.</b> One input, {@code input}: float32 [N][C][S][S], N symbolic (named
 * {@code N}), C and S fixed by the caller. One output, {@code logits}: float32 [N][classes].
 * The graph computes the model's eval mode, whatever mode the model is in (it is only read):
 * every BatchNorm2d is folded into the Conv2d before it ({@link Export#fold}) and Dropout is
 * left out. Initializers are named after the state-dict entries they come from
 * ({@code features.1.conv.0.0.weight}; a folded conv's bias is {@code <conv>.bias} even where
 * the conv had none), nodes and their outputs after the module's path and the op
 * ({@code layer1.0.conv1/Conv}, {@code layer1.0/Add}).
 *
 * <p><b>The ops</b>, all in the default domain: Conv (kernel_shape, strides, pads, dilations,
 * group, and the folded bias), Relu, Clip (ReLU6: min and max as inputs, the scalar
 * initializers {@code relu6.min} and {@code relu6.max}), Add (the residuals), MaxPool,
 * AveragePool (count_include_pad as the layer's), GlobalAveragePool followed by Flatten (our
 * GlobalAvgPool yields [n][c]), Flatten (axis 1) and Gemm (transB 1: Linear's weight is
 * [out][in]).
 *
 * <p><b>Opset 13, IR version 7.</b> The graph needs opset 11 at least (Clip's bounds became
 * inputs and Gemm's bias optional there). At 13 every op above is at a version whose meaning
 * the newest opsets keep: their later versions only widen the element types (and AveragePool-19
 * adds dilations, which this exporter never writes). So 13 gives today's semantics while
 * staying old enough for nearly every maintained runtime and converter to read. IR version 7 is
 * the one ONNX 1.8, the release that defined opset 13, writes; ONNX Runtime 1.22, which the
 * tests run every exported model in, reads it.
 *
 * <p><b>Dataflow.</b> The graph is built by walking the module tree with each block's forward
 * written out: Sequential, MobileNetV1 and MobileNetV2 run their children in order, and so
 * does ResNet18, whose stem bn1 fuses a ReLU; within them a Conv2d followed by a BatchNorm2d is
 * one folded Conv. ConvBNAct is conv, norm and its activation; InvertedResidual is its
 * {@code conv} Sequential plus the input when {@link InvertedResidual#hasResidual()};
 * BasicBlock is relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). Any other module is an
 * IllegalArgumentException naming its class.
 */
public final class OnnxExport {
  /** The ONNX operator set the graph imports (default domain); see the class comment. */
  public static final int OPSET = 13;
  /** The ONNX IR version written; see the class comment. */
  public static final int IR_VERSION = 7;

  private final int size;
  private final List<Node> nodes = new ArrayList<>();
  private final List<ProtoMessage> initializers = new ArrayList<>();
  private final Set<String> names = new HashSet<>();

  private OnnxExport(int size) {
    this.size = size;
  }

  /**
   * Writes {@code model} to {@code out} as an ONNX model and returns the file's size in bytes.
   * The file is written through a temp file beside it and a rename ({@link AtomicFile}), so
   * {@code out} is either the old file or the whole new one.
   *
   * @param model a bundled model or a tree of the modules the class comment lists, on any device
   * @param inputChannels C, the input's channels (3 for the bundled models)
   * @param inputSize S, the input's height and width (32 for the cifar variants, 224 for imagenet)
   * @param metadata written, in its order, as the model's {@code metadata_props}; may be empty
   * @param out the file to write; its folder must exist
   * @throws IllegalArgumentException naming the argument, or the module the exporter cannot
   *     write (its class and path), or the layer the input does not fit
   */
  public static long write(Module model, int inputChannels, int inputSize, Map<String, String> metadata, Path out) {
    if (model == null) throw new IllegalArgumentException("model must not be null");
    if (inputChannels < 1) throw new IllegalArgumentException("inputChannels must be >= 1, got " + inputChannels);
    if (inputSize < 1) throw new IllegalArgumentException("inputSize must be >= 1, got " + inputSize);
    if (metadata == null) throw new IllegalArgumentException("metadata must not be null (Map.of() for none)");
    if (out == null) throw new IllegalArgumentException("out must not be null");
    OnnxExport e = new OnnxExport(inputSize);
    Value input = new Value("input", new int[] {inputChannels, inputSize, inputSize});
    Value logits = e.emit("", model, input);
    if (logits.dims.length != 1)
      throw new IllegalArgumentException(model.getClass().getSimpleName() + " computes [N]" + shape(logits.dims)
          + ", not logits [N][classes]");
    byte[] bytes = e.encode(model.getClass().getSimpleName(), input, logits, metadata).toByteArray();
    AtomicFile.write(out, bytes);
    return bytes.length;
  }

  // ------------------------------------------------------------------ the walk

  private Value emit(String path, Module m, Value x) {
    if (m instanceof ConvBNAct c) return act(join(path, "1"), c.activation(), conv(join(path, "0"), c.conv(), c.bn(), x));
    if (m instanceof InvertedResidual r) {
      Value y = chain(join(path, "conv"), r.conv(), Activation.NONE, x);
      return r.hasResidual() ? add(path, x, y) : y;
    }
    if (m instanceof BasicBlock b) {
      Value y = act(join(path, "bn1"), Activation.RELU, conv(join(path, "conv1"), b.conv1(), b.bn1(), x));
      y = conv(join(path, "conv2"), b.conv2(), b.bn2(), y);
      Value shortcut = b.downsample() == null ? x : chain(join(path, "downsample"), b.downsample(), Activation.NONE, x);
      return act(path, Activation.RELU, add(path, y, shortcut));
    }
    if (m instanceof ResNet18) return chain(path, m, Activation.RELU, x);
    if (m instanceof Sequential || m instanceof MobileNetV1 || m instanceof MobileNetV2) return chain(path, m, Activation.NONE, x);
    if (m instanceof Conv2d c) return conv(path, c, null, x);
    if (m instanceof Linear l) return linear(path, l, x);
    if (m instanceof MaxPool2d p) {
      int[] d = spatial(path, p, x, p.kernel(), p.stride(), p.pad(), 1);
      return node("MaxPool", path, new int[] {x.dims[0], d[0], d[1]}, List.of(x.name), window(p.kernel(), p.stride(), p.pad()));
    }
    if (m instanceof AvgPool2d p) {
      int[] d = spatial(path, p, x, p.kernel(), p.stride(), p.pad(), 1);
      List<ProtoMessage> a = new ArrayList<>(window(p.kernel(), p.stride(), p.pad()));
      a.add(integer("count_include_pad", p.countIncludePad() ? 1 : 0));
      return node("AveragePool", path, new int[] {x.dims[0], d[0], d[1]}, List.of(x.name), a);
    }
    if (m instanceof GlobalAvgPool) {
      requireRank(path, m, x, 3);
      Value pooled = node("GlobalAveragePool", path, new int[] {x.dims[0], 1, 1}, List.of(x.name), List.of());
      return flatten(path, pooled);
    }
    if (m instanceof Flatten) return flatten(path, x);
    if (m instanceof ReLU) return act(path, Activation.RELU, x);
    if (m instanceof ReLU6) return act(path, Activation.RELU6, x);
    if (m instanceof Dropout) return x; // the identity in eval mode
    if (m instanceof BatchNorm2d)
      throw new IllegalArgumentException("ONNX export: the BatchNorm2d at " + where(path) + " does not follow a Conv2d; "
          + "only a norm right after a conv is exported (folded into it)");
    throw new IllegalArgumentException("ONNX export: no rule for " + m.getClass().getName() + " at " + where(path)
        + "; it writes the bundled models and Sequential, ConvBNAct, Conv2d, BatchNorm2d after a Conv2d, Linear, "
        + "MaxPool2d, AvgPool2d, GlobalAvgPool, Flatten, ReLU, ReLU6, Dropout");
  }

  /** {@code m}'s children in order; a Conv2d followed by a BatchNorm2d is one folded Conv, then {@code pairAct}. */
  private Value chain(String path, Module m, Activation pairAct, Value x) {
    List<Map.Entry<String, Module>> kids = new ArrayList<>(m.children().entrySet());
    for (int i = 0; i < kids.size(); i++) {
      String at = join(path, kids.get(i).getKey());
      Module kid = kids.get(i).getValue(), next = i + 1 < kids.size() ? kids.get(i + 1).getValue() : null;
      if (kid instanceof Conv2d c && next instanceof BatchNorm2d bn) {
        x = act(join(path, kids.get(++i).getKey()), pairAct, conv(at, c, bn, x));
      } else {
        x = emit(at, kid, x);
      }
    }
    return x;
  }

  /** A Conv node; with {@code bn} (may be null) folded into its weight and bias. */
  private Value conv(String path, Conv2d c, BatchNorm2d bn, Value x) {
    requireRank(path, c, x, 3);
    if (x.dims[0] != c.inChannels()) throw mismatch(path, c, x, "[N][" + c.inChannels() + "][H][W]");
    int[] d = spatial(path, c, x, c.kernel(), c.stride(), c.pad(), c.dilation());
    List<String> in = new ArrayList<>(List.of(x.name));
    if (bn == null) {
      in.add(initializer(path + ".weight", c.weight().value()));
      if (c.bias() != null) in.add(initializer(path + ".bias", c.bias().value()));
    } else {
      try (Export.FoldedConv f = Export.fold(c, bn)) {
        in.add(initializer(path + ".weight", f.weight()));
        in.add(initializer(path + ".bias", f.bias()));
      }
    }
    List<ProtoMessage> a = new ArrayList<>(window(c.kernel(), c.stride(), c.pad()));
    a.add(ints("dilations", c.dilation(), c.dilation()));
    a.add(integer("group", c.groups()));
    return node("Conv", path, new int[] {c.outChannels(), d[0], d[1]}, in, a);
  }

  private Value linear(String path, Linear l, Value x) {
    requireRank(path, l, x, 1);
    if (x.dims[0] != l.inFeatures()) throw mismatch(path, l, x, "[N][" + l.inFeatures() + "]");
    List<String> in = new ArrayList<>(List.of(x.name, initializer(path + ".weight", l.weight().value())));
    if (l.bias() != null) in.add(initializer(path + ".bias", l.bias().value()));
    return node("Gemm", path, new int[] {l.outFeatures()}, in, List.of(integer("transB", 1)));
  }

  private Value act(String path, Activation a, Value x) {
    switch (a) {
      case NONE:
        return x;
      case RELU:
        return node("Relu", path, x.dims, List.of(x.name), List.of());
      case RELU6:
        if (!names.contains("relu6.min")) {
          initializer("relu6.min", new long[0], new float[] {0f});
          initializer("relu6.max", new long[0], new float[] {6f});
        }
        return node("Clip", path, x.dims, List.of(x.name, "relu6.min", "relu6.max"), List.of());
      default:
        throw new IllegalStateException("no ONNX op for activation " + a);
    }
  }

  private Value add(String path, Value a, Value b) {
    if (!Arrays.equals(a.dims, b.dims))
      throw new IllegalArgumentException(where(path) + ": the residual adds [N]" + shape(a.dims) + " and [N]" + shape(b.dims));
    return node("Add", path, a.dims, List.of(a.name, b.name), List.of());
  }

  private Value flatten(String path, Value x) {
    int n = 1;
    for (int d : x.dims) n *= d;
    return node("Flatten", path, new int[] {n}, List.of(x.name), List.of(integer("axis", 1)));
  }

  // ------------------------------------------------------------------ names and shapes (without the batch)

  /** [C][H][W] to [N][C][H][W] and the like, for messages. */
  private static String shape(int[] dims) {
    StringBuilder sb = new StringBuilder();
    for (int d : dims) sb.append('[').append(d).append(']');
    return sb.toString();
  }

  /** A child's dotted path, as state-dict names join them. */
  private static String join(String path, String child) {
    return path.isEmpty() ? child : path + "." + child;
  }

  private static String where(String path) {
    return path.isEmpty() ? "the top" : path;
  }

  private static void requireRank(String path, Module m, Value x, int rank) {
    if (x.dims.length != rank) throw mismatch(path, m, x, rank == 3 ? "[N][C][H][W]" : "[N][features]");
  }

  private static IllegalArgumentException mismatch(String path, Module m, Value x, String expected) {
    String got = "[N]" + shape(x.dims);
    return new IllegalArgumentException(x.name.equals("input")
        ? "inputChannels: the model's first layer (" + m.getClass().getSimpleName() + " at " + where(path) + ") expects "
            + expected + ", the input is " + got
        : m.getClass().getSimpleName() + " at " + where(path) + " expects " + expected + ", gets " + got);
  }

  /** The output height and width of a conv or pool (floor mode) over x's [C][H][W]. */
  private int[] spatial(String path, Module m, Value x, int k, int stride, int pad, int dilation) {
    requireRank(path, m, x, 3);
    int[] out = new int[2];
    for (int i = 0; i < 2; i++) {
      int in = x.dims[1 + i], span = dilation * (k - 1) + 1;
      if (in + 2 * pad < span)
        throw new IllegalArgumentException("inputSize " + size + " is too small: " + m.getClass().getSimpleName() + " at "
            + where(path) + " gets " + x.dims[1] + "x" + x.dims[2] + ", less than its " + span + "x" + span + " window");
      out[i] = (in + 2 * pad - span) / stride + 1;
    }
    return out;
  }

  // ------------------------------------------------------------------ the protobuf

  /** A value in the graph: its name and its shape without the batch dimension. */
  private record Value(String name, int[] dims) {}

  private record Node(String op, String name, List<String> inputs, String output, List<ProtoMessage> attributes) {
    ProtoMessage encode() {
      ProtoMessage m = new ProtoMessage();
      for (String in : inputs) m.string(OnnxProto.Node.INPUT, in);
      m.string(OnnxProto.Node.OUTPUT, output).string(OnnxProto.Node.NAME, name).string(OnnxProto.Node.OP_TYPE, op);
      for (ProtoMessage a : attributes) m.message(OnnxProto.Node.ATTRIBUTE, a);
      return m;
    }
  }

  /** Adds a node named {@code path/op} whose one output has the same name. */
  private Value node(String op, String path, int[] dims, List<String> inputs, List<ProtoMessage> attributes) {
    String name = path.isEmpty() ? op : path + "/" + op;
    claim(name);
    nodes.add(new Node(op, name, inputs, name, attributes));
    return new Value(name, dims);
  }

  private void claim(String name) {
    if (!names.add(name)) throw new IllegalStateException("ONNX export: two values named " + name); // a bug here
  }

  private String initializer(String name, Tensor t) {
    long[] dims = new long[t.shape().rank()];
    for (int i = 0; i < dims.length; i++) dims[i] = t.shape().get(i);
    return initializer(name, dims, t.toArray()); // a device tensor comes to the host here, to be written
  }

  /** A float32 initializer, its data as raw little-endian bytes. */
  private String initializer(String name, long[] dims, float[] values) {
    claim(name);
    ByteBuffer raw = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    raw.asFloatBuffer().put(values);
    initializers.add(new ProtoMessage().varints(OnnxProto.Tensor.DIMS, dims)
        .varint(OnnxProto.Tensor.DATA_TYPE, OnnxProto.Tensor.FLOAT).string(OnnxProto.Tensor.NAME, name)
        .bytes(OnnxProto.Tensor.RAW_DATA, UnsafeByteOperations.unsafeWrap(raw.array())));
    return name;
  }

  /** kernel_shape, strides and pads of a square window, padded alike on every side. */
  private static List<ProtoMessage> window(int k, int stride, int pad) {
    return List.of(ints("kernel_shape", k, k), ints("strides", stride, stride), ints("pads", pad, pad, pad, pad));
  }

  private static ProtoMessage integer(String name, long i) {
    return new ProtoMessage().string(OnnxProto.Attribute.NAME, name)
        .varint(OnnxProto.Attribute.TYPE, OnnxProto.Attribute.TYPE_INT).varint(OnnxProto.Attribute.I, i);
  }

  private static ProtoMessage ints(String name, long... is) {
    return new ProtoMessage().string(OnnxProto.Attribute.NAME, name)
        .varint(OnnxProto.Attribute.TYPE, OnnxProto.Attribute.TYPE_INTS).varints(OnnxProto.Attribute.INTS, is);
  }

  /** float32 [N] followed by {@code dims}, N symbolic. */
  private static ProtoMessage valueInfo(String name, int[] dims) {
    ProtoMessage shape = new ProtoMessage()
        .message(OnnxProto.TensorShape.DIM, new ProtoMessage().string(OnnxProto.TensorShape.DIM_PARAM, "N"));
    for (int d : dims) shape.message(OnnxProto.TensorShape.DIM, new ProtoMessage().varint(OnnxProto.TensorShape.DIM_VALUE, d));
    ProtoMessage tensor = new ProtoMessage().varint(OnnxProto.Type.ELEM_TYPE, OnnxProto.Tensor.FLOAT)
        .message(OnnxProto.Type.SHAPE, shape);
    return new ProtoMessage().string(OnnxProto.ValueInfo.NAME, name)
        .message(OnnxProto.ValueInfo.TYPE, new ProtoMessage().message(OnnxProto.Type.TENSOR_TYPE, tensor));
  }

  /** The ModelProto, the last node's output renamed {@code logits}. */
  private ByteString encode(String graphName, Value input, Value result, Map<String, String> metadata) {
    Node last = nodes.isEmpty() ? null : nodes.get(nodes.size() - 1);
    if (last == null || !last.output.equals(result.name))
      throw new IllegalArgumentException(graphName + " computes nothing: its output is its input");
    nodes.set(nodes.size() - 1, new Node(last.op, last.name, last.inputs, "logits", last.attributes));
    ProtoMessage graph = new ProtoMessage();
    for (Node n : nodes) graph.message(OnnxProto.Graph.NODE, n.encode());
    graph.string(OnnxProto.Graph.NAME, graphName);
    for (ProtoMessage t : initializers) graph.message(OnnxProto.Graph.INITIALIZER, t);
    graph.message(OnnxProto.Graph.INPUT, valueInfo(input.name, input.dims))
        .message(OnnxProto.Graph.OUTPUT, valueInfo("logits", result.dims));
    String doc = graphName + " for inference: input float32 [N]" + shape(input.dims) + ", output logits [N]"
        + shape(result.dims) + "; every BatchNorm2d folded into the conv before it, Dropout left out";
    ProtoMessage model = new ProtoMessage().varint(OnnxProto.Model.IR_VERSION, IR_VERSION)
        .message(OnnxProto.Model.OPSET_IMPORT, new ProtoMessage().string(OnnxProto.OperatorSetId.DOMAIN, "")
            .varint(OnnxProto.OperatorSetId.VERSION, OPSET))
        .string(OnnxProto.Model.PRODUCER_NAME, "sepconv").string(OnnxProto.Model.PRODUCER_VERSION, Sepconv.version())
        .string(OnnxProto.Model.DOC_STRING, doc).message(OnnxProto.Model.GRAPH, graph);
    metadata.forEach((k, v) -> model.message(OnnxProto.Model.METADATA_PROPS,
        new ProtoMessage().string(OnnxProto.StringStringEntry.KEY, k).string(OnnxProto.StringStringEntry.VALUE, v)));
    return model.toByteString();
  }
}
