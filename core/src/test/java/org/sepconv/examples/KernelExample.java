package org.sepconv.examples;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Random;
import org.sepconv.ops.Activation;
import org.sepconv.ops.Conv2dSpec;
import org.sepconv.ops.Exec;
import org.sepconv.ops.Grad;
import org.sepconv.ops.Ops;

/** A depthwise 3x3 conv, then BatchNorm fused with ReLU6, forward and backward, on plain NIO buffers. */
public final class KernelExample {
  static FloatBuffer floats(long n) { // direct, native byte order: what every Ops method takes
    return ByteBuffer.allocateDirect((int) (4 * n)).order(ByteOrder.nativeOrder()).asFloatBuffer();
  }

  static FloatBuffer random(long n, Random rng) {
    FloatBuffer b = floats(n);
    for (int i = 0; i < n; i++) b.put(i, rng.nextFloat() * 2 - 1);
    return b;
  }

  public static void main(String[] args) {
    Random rng = new Random(0);
    // MobileNetV2's stride-2 depthwise conv on the 144-channel 32x32 stage, batch 64
    Conv2dSpec dw = Conv2dSpec.of(64, 144, 32, 32, 144, 3).withStride(2).withPad(1).withGroups(144);
    FloatBuffer x = random(dw.inputSize(), rng), w = random(dw.weightSize(), rng), y = floats(dw.outputSize());
    Ops.conv2dForward(Exec.CPU, dw, x, w, null, y);

    // BatchNorm with the batch's statistics, fused with ReLU6; the running statistics move towards them
    int c = 144, hw = dw.outH() * dw.outW();
    FloatBuffer gamma = floats(c), beta = floats(c), runMean = floats(c), runVar = floats(c);
    for (int i = 0; i < c; i++) {
      gamma.put(i, 1);
      runVar.put(i, 1);
    }
    FloatBuffer mean = floats(c), invstd = floats(c), z = floats(dw.outputSize());
    Ops.batchNormForwardTraining(Exec.CPU, 64, c, hw, y, gamma, beta, 1e-5f, 0.1f, runMean, runVar, mean, invstd,
        Activation.RELU6, z);

    // backward from a random upstream gradient dz; only the gradients in the mask are computed.
    // Input gradients are overwritten, parameter gradients accumulate (new buffers start at zero).
    FloatBuffer dz = random(dw.outputSize(), rng), dy = floats(dw.outputSize()), dx = floats(dw.inputSize());
    FloatBuffer dgamma = floats(c), dbeta = floats(c), dwGrad = floats(dw.weightSize());
    Ops.batchNormBackward(Exec.CPU, 64, c, hw, Grad.ALL, y, z, dz, gamma, mean, invstd, Activation.RELU6, dy, dgamma,
        dbeta);
    Ops.conv2dBackward(Exec.CPU, dw, Grad.INPUT | Grad.WEIGHT, x, w, dy, dx, dwGrad, null);

    // the same conv through the naive double-precision reference kernel
    FloatBuffer ref = floats(dw.outputSize());
    Ops.conv2dForward(Exec.CPU_REFERENCE, dw, x, w, null, ref);
    double err = 0, max = 0, active = 0;
    for (int i = 0; i < ref.capacity(); i++) {
      err = Math.max(err, Math.abs(y.get(i) - ref.get(i)));
      max = Math.max(max, Math.abs(ref.get(i)));
      if (z.get(i) > 0 && z.get(i) < 6) active++;
    }
    System.out.printf("conv %s -> [64, 144, %d, %d]: max |y - reference| / max |reference| = %.1e%n", dw, dw.outH(),
        dw.outW(), err / max);
    System.out.printf("bn+relu6: %.1f%% of outputs in (0, 6); dgamma[0] = %.4f, dbeta[0] = %.4f, dw[0] = %.4f%n",
        100 * active / z.capacity(), dgamma.get(0), dbeta.get(0), dwGrad.get(0));
  }
}
