package org.sepconv.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import org.sepconv.data.Cifar10;
import org.sepconv.data.Dataset;
import org.sepconv.data.FashionMnist;
import org.sepconv.data.Synthetic;

/** Opens the datasets the command line names. */
final class DataSets {
  /** Synthetic data: images per split, and the image size (3×32×32). */
  static final int SYNTHETIC_TRAIN = 2048, SYNTHETIC_TEST = 512;

  private DataSets() {}

  /**
   * @param name cifar10, fashion-mnist or synthetic
   * @param dir the folder given by --data, or null for the default (CIFAR-10: download into the
   *     cache; Fashion-MNIST: where the Debian package installs it)
   * @param train the training split (else the test split)
   * @param classes the class count (synthetic only)
   * @param seed seeds synthetic data
   * @param progress where a download shows its progress
   */
  static Dataset open(String name, Path dir, boolean train, int classes, long seed, PrintStream progress) {
    switch (name) {
      case "cifar10":
        return Cifar10.load(dir != null ? dir : Cifar10.download(Cifar10.defaultCache(), Cifar10.URL, progress), train);
      case "fashion-mnist":
        return FashionMnist.load(dir != null ? dir : FashionMnist.DEFAULT_DIR, train);
      case "synthetic":
        return train ? Synthetic.make(SYNTHETIC_TRAIN, classes, 3, 32, seed)
            : Synthetic.make(SYNTHETIC_TEST, classes, 3, 32, seed ^ 0x5DEECE66DL);
      default:
        throw new IllegalArgumentException("--dataset must be one of cifar10, fashion-mnist, synthetic, got '" + name + "'");
    }
  }

  /** The class count of a dataset before it is opened (synthetic: the given default). */
  static int classes(String name, int syntheticDefault) {
    return name.equals("synthetic") ? syntheticDefault : 10;
  }
}
