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
 * StepBench's training step with the native-op profiler on: ms per step of each op family, so
 * that ab.sh-style runs of two builds show where a change moved time.
 *
 * <pre>java -cp sepconv.jar:. ProfileStep mobilenetv1|mobilenetv2|resnet18 BATCH WARMUP STEPS</pre>
 */
public final class ProfileStep {
  public static void main(String[] args) {
    String name = args[0];
    int batch = Integer.parseInt(args[1]), warmup = Integer.parseInt(args[2]), steps = Integer.parseInt(args[3]);
    Random rng = new Random(7);
    int[] labels = new int[batch];
    for (int i = 0; i < batch; i++) labels[i] = rng.nextInt(10);
    try (Module model = name.equals("resnet18") ? ResNet18.cifar(10, rng)
            : name.equals("mobilenetv1") ? MobileNetV1.cifar(10, 1.0f, rng) : MobileNetV2.cifar(10, 1.0f, rng);
        SGD sgd = new SGD(model.parameters(), 0.01, 0.9, 0, false, 5e-4);
        Variable x = Variable.leaf(Tensor.rand(rng, batch, 3, 32, 32), false)) {
      long wall = 0;
      for (int s = 0; s < warmup + steps; s++) {
        if (s == warmup) {
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
        if (s >= warmup) wall += System.nanoTime() - t0;
      }
      Profiler.enable(false);
      StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%s batch %d: %.1f ms/step;", name, batch, wall / 1e6 / steps));
      long inside = 0;
      for (Map.Entry<String, long[]> e : Profiler.snapshot().entrySet()) {
        inside += e.getValue()[0];
        sb.append(String.format(Locale.ROOT, " %s %.1f;", e.getKey(), e.getValue()[0] / 1e6 / steps));
      }
      sb.append(String.format(Locale.ROOT, " outside %.1f", (wall - inside) / 1e6 / steps));
      System.out.println(sb);
    }
  }
}
