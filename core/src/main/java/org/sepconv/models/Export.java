package org.sepconv.models;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sepconv.io.SafeTensors;
import org.sepconv.nn.BatchNorm2d;
import org.sepconv.nn.Conv2d;
import org.sepconv.nn.Module;
import org.sepconv.tensor.Shape;
import org.sepconv.tensor.Tensor;

/** Inference export: a state dict with every batch norm folded into the conv before it. */
public final class Export {
  private Export() {}

  /**
   * The model's state dict, in its order, with each (Conv2d, BatchNorm2d) pair folded: the
   * conv's {@code weight} scaled by gamma/sqrt(running_var + eps) and a {@code bias} (new if
   * the conv had none) of (bias - running_mean) * scale + beta, and the BN's entries dropped.
   * The result equals conv-then-BN in eval mode. A pair is a Conv2d child followed, in
   * registration order, by a BatchNorm2d sibling over its output channels, which is how
   * torchvision's models and ours are built (ConvBNAct's "0" and "1", BasicBlock's conv1 and
   * bn1, a downsample's "0" and "1"); a BN without running statistics is left unfolded.
   *
   * <p>Every tensor in the map is new: the caller closes them.
   */
  public static Map<String, Tensor> foldBatchNorm(Module model) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    try {
      fold("", model, out);
    } catch (RuntimeException e) {
      out.values().forEach(Tensor::close);
      throw e;
    }
    return out;
  }

  /**
   * Writes {@link #foldBatchNorm}'s state dict to {@code file} in the safetensors format, with
   * {@code metadata} (may be null), and frees it.
   */
  public static void saveFolded(Module model, Path file, Map<String, String> metadata) {
    Map<String, Tensor> folded = foldBatchNorm(model);
    try {
      SafeTensors.save(file, folded, metadata);
    } finally {
      folded.values().forEach(Tensor::close);
    }
  }

  /** A conv's weight [out][in/groups][k][k] and bias [out], new tensors that the caller closes. */
  public record FoldedConv(Tensor weight, Tensor bias) implements AutoCloseable {
    @Override
    public void close() {
      weight.close();
      bias.close();
    }
  }

  /**
   * {@code conv} then {@code bn} in eval mode as one conv, on the conv's device: the weight
   * scaled by gamma/sqrt(running_var + eps), the bias (bias - running_mean) * scale + beta.
   * {@code bn} must hold running statistics over the conv's output channels.
   */
  public static FoldedConv fold(Conv2d conv, BatchNorm2d bn) {
    Tensor w = conv.weight().value().copy();
    Tensor b = conv.bias() == null ? Tensor.zeros(Shape.of(conv.outChannels()), w.device()) : conv.bias().value().copy();
    FoldedConv f = new FoldedConv(w, b);
    try {
      bn.foldInto(w, b);
    } catch (RuntimeException e) {
      f.close();
      throw e;
    }
    return f;
  }

  private static void fold(String prefix, Module m, Map<String, Tensor> out) {
    m.stateDict().forEach((k, t) -> {
      if (k.indexOf('.') < 0) out.put(prefix + k, t.copy()); // this module's own entries
    });
    List<Map.Entry<String, Module>> kids = new ArrayList<>(m.children().entrySet());
    for (int i = 0; i < kids.size(); i++) {
      String name = prefix + kids.get(i).getKey() + ".";
      Module child = kids.get(i).getValue(), next = i + 1 < kids.size() ? kids.get(i + 1).getValue() : null;
      if (child instanceof Conv2d conv && next instanceof BatchNorm2d bn
          && bn.channels() == conv.outChannels() && bn.runningMean() != null) {
        FoldedConv f = fold(conv, bn);
        out.put(name + "weight", f.weight());
        out.put(name + "bias", f.bias());
        i++;
      } else {
        fold(name, child, out);
      }
    }
  }
}
