package org.sepconv.models;

import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.sepconv.nn.Module;

/** Builds the bundled models by name, as the command line and checkpoints refer to them. */
public final class Models {
  /** The model names {@link #create} accepts. */
  public static final List<String> NAMES = List.of("mobilenetv1", "mobilenetv2", "resnet18");
  /** The variants: {@code cifar} (32×32 inputs) and {@code imagenet} (224×224). */
  public static final List<String> VARIANTS = List.of("cifar", "imagenet");
  /**
   * The widest MobileNet: 16 times the parameters of width 1 (tens of millions). Width 100 would
   * ask for tens of gigabytes before its first step.
   */
  public static final float MAX_WIDTH = 4f;

  private Models() {}

  /**
   * @param name one of {@link #NAMES}
   * @param variant one of {@link #VARIANTS}
   * @param widthMult the width multiplier in (0, {@link #MAX_WIDTH}] (MobileNets only; ResNet18 requires 1)
   * @param classes the number of output classes, >= 1
   * @param rng initialises the weights
   */
  public static Module create(String name, String variant, float widthMult, int classes, Random rng) {
    boolean cifar = isCifar(variant);
    if (classes < 1) throw new IllegalArgumentException("classes must be >= 1, got " + classes);
    if (!(widthMult > 0 && widthMult <= MAX_WIDTH))
      throw new IllegalArgumentException("width multiplier must be in (0, " + MAX_WIDTH + "], got " + widthMult);
    switch (name == null ? "" : name.toLowerCase(Locale.ROOT)) {
      case "mobilenetv1":
        return cifar ? MobileNetV1.cifar(classes, widthMult, rng) : MobileNetV1.imagenet(classes, widthMult, rng);
      case "mobilenetv2":
        return cifar ? MobileNetV2.cifar(classes, widthMult, rng) : MobileNetV2.imagenet(classes, widthMult, rng);
      case "resnet18":
        if (widthMult != 1f) throw new IllegalArgumentException("resnet18 has no width multiplier: expected 1, got " + widthMult);
        return cifar ? ResNet18.cifar(classes, rng) : ResNet18.imagenet(classes, rng);
      default:
        throw new IllegalArgumentException("model must be one of " + NAMES + ", got '" + name + "'");
    }
  }

  /** The input height and width the variant is built for: 32 (cifar) or 224 (imagenet). */
  public static int inputSize(String variant) {
    return isCifar(variant) ? 32 : 224;
  }

  private static boolean isCifar(String variant) {
    if ("cifar".equals(variant)) return true;
    if ("imagenet".equals(variant)) return false;
    throw new IllegalArgumentException("variant must be one of " + VARIANTS + ", got '" + variant + "'");
  }
}
