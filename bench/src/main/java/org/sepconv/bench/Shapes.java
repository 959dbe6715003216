package org.sepconv.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.sepconv.nn.Conv2d;
import org.sepconv.ops.Conv2dSpec;

/**
 * Every distinct convolution shape of MobileNetV2-cifar and ResNet18-cifar on 32x32 inputs at
 * batch 64 (cifar variants: stride-1 3x3 stems, no max-pool; MobileNetV2's first 24-channel
 * stage at stride 1), keyed by {@code NxCxHxW/k/stride/groups[->cOut]}.
 */
public final class Shapes {
  private Shapes() {}

  public static final int BATCH = 64;

  /** A layer shape with the family it exercises: depthwise, pointwise or dense. */
  public record Layer(String family, Conv2dSpec spec) {
    public String id() {
      return spec.toString();
    }
  }

  private static final Map<String, Layer> ALL = new LinkedHashMap<>();

  private static void add(String family, Conv2dSpec s) {
    ALL.putIfAbsent(s.toString(), new Layer(family, s));
  }

  private static void conv(int cin, int hw, int cout, int k, int stride) {
    String family = k == 1 ? "pointwise" : "dense";
    add(family, Conv2dSpec.of(BATCH, cin, hw, hw, cout, k).withStride(stride).withPad(k / 2));
  }

  private static void dw(int c, int hw, int stride) {
    add("depthwise", Conv2dSpec.of(BATCH, c, hw, hw, c, 3).withStride(stride).withPad(1).withGroups(c));
  }

  static {
    // MobileNetV2-cifar: stem, then (t, c, n, s) = (1,16,1,1) (6,24,2,1) (6,32,3,2) (6,64,4,2)
    // (6,96,3,1) (6,160,3,2) (6,320,1,1), then 1x1 to 1280
    conv(3, 32, 32, 3, 1);
    int[][] cfg = {{1, 16, 1, 1}, {6, 24, 2, 1}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int cin = 32, hw = 32;
    for (int[] st : cfg)
      for (int i = 0; i < st[2]; i++) {
        int stride = i == 0 ? st[3] : 1, hidden = cin * st[0];
        if (st[0] != 1) conv(cin, hw, hidden, 1, 1);
        dw(hidden, hw, stride);
        hw = (hw + 2 - 3) / stride + 1;
        conv(hidden, hw, st[1], 1, 1);
        cin = st[1];
      }
    conv(cin, hw, 1280, 1, 1);
    // ResNet18-cifar: 3x3 stem, four stages of basic blocks, strided 1x1 shortcuts
    conv(3, 32, 64, 3, 1);
    int c = 64;
    hw = 32;
    for (int out : new int[] {64, 128, 256, 512}) {
      int stride = out == 64 ? 1 : 2;
      conv(c, hw, out, 3, stride);
      if (stride != 1) conv(c, hw, out, 1, 2);
      hw /= stride;
      conv(out, hw, out, 3, 1);
      c = out;
    }
  }

  public static List<Layer> all() {
    return new ArrayList<>(ALL.values());
  }

  public static Layer get(String id) {
    Layer l = ALL.get(id);
    if (l == null) throw new IllegalArgumentException("shape: unknown id '" + id + "'");
    return l;
  }

  /** A conv layer's family: depthwise, grouped, pointwise (1x1) or dense. */
  public static String family(Conv2d c) {
    if (c.groups() > 1) return c.groups() == c.inChannels() && c.groups() == c.outChannels() ? "depthwise" : "grouped";
    return c.kernel() == 1 ? "pointwise" : "dense";
  }

  /** Channels and plane sizes of the BN+ReLU6 layers that follow MobileNetV2's depthwise convs. */
  public static final String[] BN_SHAPES = {
    "32x1024", "96x1024", "144x1024", "144x256", "192x256", "192x64", "384x64", "576x64", "576x16", "960x16"
  };
}
