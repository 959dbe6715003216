package org.sepconv.cli;

import picocli.CommandLine.Option;

/** The model flags shared by {@code train} and {@code summary}. */
final class ModelOptions {
  @Option(names = "--model", defaultValue = "mobilenetv2", description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
  Choices.Model model;

  @Option(names = "--variant", defaultValue = "cifar", description = "${COMPLETION-CANDIDATES}: cifar (32x32 input, stride-1 stem) or imagenet (224x224) (default: ${DEFAULT-VALUE})")
  Choices.Variant variant;

  @Option(names = "--width-mult", defaultValue = "1", paramLabel = "A", description = "MobileNet width multiplier (default: ${DEFAULT-VALUE})")
  float widthMult;

  @Option(names = "--classes", paramLabel = "K", description = "output classes (default: train: the dataset's; summary: 10 for cifar, 1000 for imagenet)")
  Integer classes;
}
