package org.sepconv.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.sepconv.autograd.GradMode;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.data.ImageFiles;
import org.sepconv.nn.Module;
import org.sepconv.tensor.Device;
import org.sepconv.tensor.Tensor;
import org.sepconv.train.Checkpoint;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "predict", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Classifies PNG/JPEG images with a checkpoint and prints the top-k classes with their "
        + "probabilities, one line per image.",
        "Images are converted to the dataset's channels (gray or RGB) and resized to the model's input size."})
final class PredictCommand implements Callable<Integer> {
  private final PrintStream out;
  @Spec CommandSpec spec;

  @Option(names = "--checkpoint", required = true, paramLabel = "FILE", description = "a checkpoint written by train")
  Path checkpoint;

  @Option(names = "--top-k", defaultValue = "3", paramLabel = "K", description = "classes to print per image (default: ${DEFAULT-VALUE})")
  int topK;

  @Parameters(arity = "1..*", paramLabel = "PATH", description = "image files, or folders of .png/.jpg/.jpeg files")
  List<Path> paths;

  @Mixin MachineOptions machine = new MachineOptions();

  PredictCommand(PrintStream out) {
    this.out = out;
  }

  @Override
  public Integer call() {
    Device device = machine.apply(spec);
    Checkpoint ck = Checkpoint.read(checkpoint);
    String[] names = ck.classNames();
    if (topK < 1 || topK > names.length)
      throw new CommandLine.ParameterException(spec.commandLine(), "--top-k must be in [1, " + names.length + "] (the "
          + "checkpoint's classes), got " + topK);
    int size = ck.imageSize(), channels = ck.dataChannels(); // the size it was trained at
    float[] mean = ck.mean(), std = ck.std();
    List<ImageFiles.Image> images = new ArrayList<>();
    for (Path p : paths) images.addAll(ImageFiles.load(p, channels, size));
    Module model = ck.loadModel(checkpoint);
    try (model; GradMode.Guard g = GradMode.noGrad()) {
      model.to(device).eval();
      int batch = 64;
      for (int at = 0; at < images.size(); at += batch) {
        List<ImageFiles.Image> part = images.subList(at, Math.min(images.size(), at + batch));
        try (Tensor host = normalised(part, channels, size, mean, std); Tensor x = host.to(device);
            Scope s = Scope.open()) {
          float[] logits = model.forward(Variable.leaf(x, false)).value().toArray();
          for (int i = 0; i < part.size(); i++) out.println(part.get(i).path() + ": " + top(logits, i, names));
        }
      }
    }
    return 0;
  }

  /** [n, 3, size, size]: the images normalised per model channel; a gray image fills all three. */
  private static Tensor normalised(List<ImageFiles.Image> part, int channels, int size, float[] mean, float[] std) {
    int plane = size * size, c = mean.length;
    float[] v = new float[part.size() * c * plane];
    for (int i = 0; i < part.size(); i++) {
      float[] src = part.get(i).chw();
      for (int ch = 0; ch < c; ch++) {
        int from = (channels == 1 ? 0 : ch) * plane, to = (i * c + ch) * plane;
        for (int p = 0; p < plane; p++) v[to + p] = (src[from + p] - mean[ch]) / std[ch];
      }
    }
    return Tensor.of(v, part.size(), c, size, size);
  }

  private String top(float[] logits, int row, String[] names) {
    int k = names.length;
    double[] p = new double[k];
    double max = Double.NEGATIVE_INFINITY, sum = 0;
    for (int j = 0; j < k; j++) max = Math.max(max, logits[row * k + j]);
    for (int j = 0; j < k; j++) sum += p[j] = Math.exp(logits[row * k + j] - max);
    Integer[] order = new Integer[k];
    for (int j = 0; j < k; j++) order[j] = j;
    java.util.Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
    StringBuilder sb = new StringBuilder();
    for (int j = 0; j < topK; j++)
      sb.append(j == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%s %.4f", names[order[j]], p[order[j]] / sum));
    return sb.toString();
  }
}
