package org.sepconv.bench.gpu;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Locale;
import java.util.Random;
import org.sepconv.Sepconv;
import org.sepconv.autograd.F;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.data.Batch;
import org.sepconv.data.Dataset;
import org.sepconv.data.Loader;
import org.sepconv.data.Augment;
import org.sepconv.data.Synthetic;
import org.sepconv.models.Models;
import org.sepconv.nn.Module;
import org.sepconv.optim.SGD;
import org.sepconv.tensor.CudaMemory;
import org.sepconv.tensor.Device;

/**
 * The same training steps on the CPU and on CUDA, side by side: a model from one seed, the same
 * augmented batches (the trainer's {@link Loader}, each batch uploaded once), SGD with momentum,
 * and the loss of every step on each device, its relative difference, images/s per device (the
 * steps after the first five) and the peak device memory. Writes a Markdown report.
 *
 * <pre>java -cp ... org.sepconv.bench.gpu.TrainCheck [--model mobilenetv2] [--batch 256] [--steps 50]
 *     [--tol 1e-3] [--out bench/results/gpu-train-GPU.md]</pre>
 *
 * Exit status 1 if some step's losses differ by more than {@code --tol} (relative), 0 otherwise;
 * without a usable GPU it says why and exits 0.
 */
public final class TrainCheck {
  private TrainCheck() {}

  record Run(double[] losses, double imagesPerS, long peakBytes) {}

  public static void main(String[] args) throws Exception {
    String model = "mobilenetv2", out = null;
    int batch = 256, steps = 50;
    double tol = 1e-3;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--model": model = args[++i]; break;
        case "--batch": batch = Integer.parseInt(args[++i]); break;
        case "--steps": steps = Integer.parseInt(args[++i]); break;
        case "--tol": tol = Double.parseDouble(args[++i]); break;
        case "--out": out = args[++i]; break;
        default: throw new IllegalArgumentException("unknown argument '" + args[i] + "' (--model, --batch, --steps, --tol, --out)");
      }
    }
    String why = Sepconv.cudaUnavailableReason();
    if (why != null) {
      System.out.println("train check skipped: no CUDA: " + why);
      return;
    }
    Dataset data = Synthetic.make(batch * steps, 10, 3, 32, 1);
    Run cpu = run(model, Device.CPU, data, batch, steps), cuda = run(model, Device.CUDA, data, batch, steps);
    StringBuilder md = new StringBuilder(String.format(Locale.ROOT, "# %s-cifar: %d training steps at batch %d, CPU vs CUDA%n%n",
        model, steps, batch));
    md.append(String.format(Locale.ROOT, "GPU: %s. Same seed, same batches (synthetic, crop and flip), SGD lr 0.05 momentum "
        + "0.9 Nesterov, weight decay 5e-4, label smoothing 0.1, fp32 (no TF32).%n%n", Sepconv.cudaDeviceName()));
    md.append(String.format(Locale.ROOT, "| device | images/s (steps 6..%d) | peak device memory |%n|---|---:|---:|%n", steps));
    md.append(String.format(Locale.ROOT, "| cpu (%d threads) | %.1f | - |%n", Sepconv.numThreads(), cpu.imagesPerS()));
    md.append(String.format(Locale.ROOT, "| cuda | %.1f | %.0f MiB |%n%n", cuda.imagesPerS(), cuda.peakBytes() / 1048576.0));
    md.append("| step | loss cpu | loss cuda | relative difference |\n|---:|---:|---:|---:|\n");
    double worst = 0;
    for (int s = 0; s < steps; s++) {
      double d = Math.abs(cpu.losses()[s] - cuda.losses()[s]) / Math.max(1e-12, Math.abs(cpu.losses()[s]));
      if (!(d <= worst)) worst = d; // NaN stays
      md.append(String.format(Locale.ROOT, "| %d | %.6f | %.6f | %.2e |%n", s + 1, cpu.losses()[s], cuda.losses()[s], d));
    }
    boolean ok = worst <= tol;
    md.append(String.format(Locale.ROOT, "%nWorst relative difference %.2e (tolerance %.0e): %s.%n", worst, tol,
        ok ? "the CUDA losses follow the CPU's" : "MISMATCH"));
    System.out.print(md);
    if (out != null) {
      Path p = Paths.get(out);
      if (p.getParent() != null) Files.createDirectories(p.getParent());
      GpuReport.writeAtomically(p, md.toString());
    }
    System.exit(ok ? 0 : 1);
  }

  static Run run(String name, Device device, Dataset data, int batch, int steps) {
    double[] losses = new double[steps];
    float[] mean = {0.5f, 0.5f, 0.5f}, std = {0.25f, 0.25f, 0.25f};
    long t0 = 0;
    try (Module model = Models.create(name, "cifar", 1f, 10, new Random(3)).to(device);
        SGD sgd = new SGD(model.parameters(), 0.05, 0.9, 0, true, 5e-4);
        Loader loader = new Loader(data, batch, true, new Augment(4, true, 0), mean, std, 3, 7, 0, 4)) {
      for (int s = 0; s < steps; s++) {
        if (s == 5) {
          if (device == Device.CUDA) CudaMemory.synchronize();
          t0 = System.nanoTime();
        }
        try (Batch b = loader.next(); Batch d = b.on(device); Scope sc = Scope.open()) {
          Variable loss = F.crossEntropy(model.forward(Variable.leaf(d.images(), false)), d.labelTensor(), 0.1f);
          losses[s] = loss.value().get(0);
          loss.backward();
          sgd.step();
          model.zeroGrad();
        }
      }
      if (device == Device.CUDA) CudaMemory.synchronize();
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    long peak = device == Device.CUDA ? CudaMemory.stats()[2] : 0;
    return new Run(losses, (double) batch * (steps - 5) / seconds, peak);
  }

}
