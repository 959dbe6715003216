package org.sepconv.examples;

import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.sepconv.autograd.F;
import org.sepconv.autograd.Scope;
import org.sepconv.autograd.Variable;
import org.sepconv.io.SafeTensors;
import org.sepconv.models.MobileNetV2;
import org.sepconv.optim.LrSchedule;
import org.sepconv.optim.SGD;
import org.sepconv.tensor.Tensor;

/** Fits MobileNetV2 (CIFAR variant) to one fixed batch of random images and labels, then saves it. */
public final class TrainingExample {
  public static void main(String[] args) {
    Path out = Path.of(args.length > 0 ? args[0] : "mobilenetv2.safetensors");
    int steps = 30, batch = 32;
    Random rng = new Random(0);
    int[] labels = new int[batch];
    for (int i = 0; i < batch; i++) labels[i] = rng.nextInt(10);
    try (MobileNetV2 model = MobileNetV2.cifar(10, 1.0f, rng);
        SGD sgd = new SGD(model.parameters(), 0.05, 0.9, 0, true, 5e-4);
        Variable x = Variable.leaf(Tensor.rand(rng, batch, 3, 32, 32), false)) {
      LrSchedule lr = LrSchedule.cosine(0.05, steps, 0.0);
      for (int step = 0; step < steps; step++) {
        try (Scope s = Scope.open()) { // frees every intermediate of the step
          Variable loss = F.crossEntropy(model.forward(x), labels, 0.0f);
          if (step % 10 == 0 || step == steps - 1) System.out.printf("step %d: loss %.4f%n", step, loss.value().get(0));
          loss.backward();
          lr.apply(sgd, step);
          sgd.step();
          model.zeroGrad();
        }
      }
      SafeTensors.save(out, model.stateDict(), Map.of("arch", "mobilenetv2-cifar"));
      System.out.println("saved " + out);
    }
  }
}
