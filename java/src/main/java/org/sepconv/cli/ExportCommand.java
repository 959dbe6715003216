package org.sepconv.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.sepconv.nn.Module;
import org.sepconv.onnx.OnnxExport;
import org.sepconv.train.Checkpoint;
import org.sepconv.train.TrainConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Writes a checkpoint's model for inference in another runtime: ONNX (opset " + OnnxExport.OPSET
        + "), in eval mode, every BatchNorm folded into its conv.",
        "Input 'input' float32 [N,3,S,S] (S = 32 for the cifar variant, 224 for imagenet), normalised as in training; "
            + "output 'logits' [N,classes]. The normalisation and class names go into the file's metadata."})
final class ExportCommand implements Callable<Integer> {
  /** The formats {@code --format} accepts. */
  enum Format { onnx }

  private final PrintStream out;
  @Spec CommandSpec spec;

  @Option(names = "--checkpoint", required = true, paramLabel = "FILE", description = "a checkpoint written by train")
  Path checkpoint;

  @Option(names = "--format", defaultValue = "onnx", paramLabel = "FORMAT", description = "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
  Format format;

  @Option(names = "--out", required = true, paramLabel = "FILE", description = "the file to write, e.g. model.onnx; replaced atomically if it exists")
  Path file;

  ExportCommand(PrintStream out) {
    this.out = out;
  }

  @Override
  public Integer call() {
    Checkpoint ck = Checkpoint.read(checkpoint);
    TrainConfig cfg = ck.config();
    Path target = file.toAbsolutePath();
    try {
      if (Files.exists(target) && Files.isSameFile(target, checkpoint))
        throw new CommandLine.ParameterException(spec.commandLine(), "--out must not be the checkpoint, got " + file);
      Files.createDirectories(target.getParent());
    } catch (IOException e) {
      throw new UncheckedIOException("--out " + file + ": " + e.getMessage(), e);
    }
    int size = ck.imageSize(); // the images it was trained on (an imagenet variant may have trained at 32x32)
    long bytes;
    try (Module model = ck.loadModel(checkpoint)) {
      bytes = OnnxExport.write(model, 3, size, metadata(ck), file);
    }
    out.printf(Locale.ROOT, "wrote %s: %s (%s variant, width %s), %d classes, %,d bytes, ONNX opset %d (IR version %d)%n",
        file, cfg.model(), cfg.variant(), cfg.widthMult(), cfg.classes(), bytes, OnnxExport.OPSET, OnnxExport.IR_VERSION);
    out.printf(Locale.ROOT, "input 'input' float32 [N,3,%d,%d]: (pixel / 255 - mean) / std per channel, mean %s, std %s%s; "
        + "output 'logits' [N,%d]%n", size, size, ck.metadata().get("data.mean"), ck.metadata().get("data.std"),
        ck.dataChannels() == 1 ? ", a gray image repeated into the 3 channels" : "", cfg.classes());
    return 0;
  }

  /** What a deployment needs besides the graph: the model, the input's normalisation, the class names. */
  private static Map<String, String> metadata(Checkpoint ck) {
    TrainConfig cfg = ck.config();
    Map<String, String> m = new LinkedHashMap<>();
    m.put("sepconv.model", cfg.model());
    m.put("sepconv.variant", cfg.variant());
    m.put("sepconv.width_mult", Float.toString(cfg.widthMult()));
    m.put("sepconv.dataset", cfg.dataset());
    m.put("sepconv.epochs_done", Integer.toString(ck.epochsDone()));
    for (String k : new String[] {"data.mean", "data.std", "data.channels", "data.classes"}) m.put(k, ck.metadata().get(k));
    m.put("data.preprocessing", "input[c] = (pixel[c] / 255 - data.mean[c]) / data.std[c], NCHW"
        + (ck.dataChannels() == 1 ? "; the gray image is repeated into the 3 channels" : ""));
    return m;
  }
}
