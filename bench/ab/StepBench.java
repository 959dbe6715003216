import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.sepconv.autograd.F;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.models.MobileNetV1;
import org.sepconv.models.MobileNetV2;
import org.sepconv.models.ResNet18;
import org.sepconv.nn.Module;
import org.sepconv.ops.Profiler;
import org.sepconv.optim.SGD;
import org.sepconv.tensor.Tensor;

/**
 * One CIFAR training step (forward, cross-entropy, backward, SGD) of a model at a batch size,
 * timed with the host clock: the median ms of {@code steps} steps after {@code warmup}. It uses
 * only API that every version since the first trainer has, so ab.sh can run it against an
 * older commit's jar and this one's, alternating, in one run. With {@code profile} it also turns
 * the native-op profiler on for the timed steps and prints the ms per step of each op family,
 * so that runs of two builds show where a change moved time.
 *
 * <pre>java -cp sepconv.jar:. StepBench mobilenetv1|mobilenetv2|resnet18 BATCH WARMUP STEPS [profile]</pre>
 */
public final class StepBench {
  public static void main(String[] args) {
    String name = args[0];
    int batch = Integer.parseInt(args[1]), warmup = Integer.parseInt(args[2]), steps = Integer.parseInt(args[3]);
    boolean profile = args.length > 4 && args[4].equals("profile");
    Random rng = new Random(7);
    int[] labels = new int[batch];
    for (int i = 0; i < batch; i++) labels[i] = rng.nextInt(10);
    try (Module model = name.equals("resnet18") ? ResNet18.cifar(10, rng)
            : name.equals("mobilenetv1") ? MobileNetV1.cifar(10, 1.0f, rng) : MobileNetV2.cifar(10, 1.0f, rng);
        SGD sgd = new SGD(model.parameters(), 0.01, 0.9, 0, false, 5e-4);
        Variable x = Variable.leaf(Tensor.rand(rng, batch, 3, 32, 32), false)) {
      double[] ms = new double[steps];
      for (int s = 0; s < warmup + steps; s++) {
        if (profile && s == warmup) {
          Profiler.reset();
          Profiler.enable(true);
        }
        long t0 = System.nanoTime();
        try (Scope sc = Scope.open()) {
          Variable loss = F.crossEntropy(model.forward(x), labels, 0f);
          loss.backward();
          sgd.step();
          model.zeroGrad();
        }
        if (s >= warmup) ms[s - warmup] = (System.nanoTime() - t0) / 1e6;
      }
      Profiler.enable(false);
      double total = Arrays.stream(ms).sum();
      Arrays.sort(ms);
      StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
          "%s batch %d: median %.1f ms/step (min %.1f, max %.1f) over %d steps", name, batch, ms[steps / 2], ms[0],
          ms[steps - 1], steps));
      if (profile) {
        double inside = 0;
        for (Map.Entry<String, long[]> e : Profiler.snapshot().entrySet()) {
          inside += e.getValue()[0] / 1e6;
          sb.append(String.format(Locale.ROOT, "; %s %.1f", e.getKey(), e.getValue()[0] / 1e6 / steps));
        }
        sb.append(String.format(Locale.ROOT, "; outside native ops %.1f", (total - inside) / steps));
      }
      System.out.println(sb);
    }
  }
}
