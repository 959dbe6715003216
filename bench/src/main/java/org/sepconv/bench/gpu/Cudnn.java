package org.sepconv.bench.gpu;

import static org.bytedeco.cuda.global.cudnn.*;

import org.bytedeco.cuda.cudnn.cudnnActivationStruct;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdDataAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdFilterAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.sepconv.ops.Activation;
import org.sepconv.ops.Conv2dSpec;

/**
 * The cuDNN baselines, fp32 NCHW on the report's stream: convolutions with a group count, each
 * direction's algorithm found once per shape and math type by {@code cudnnFind*AlgorithmEx}
 * (PyTorch's {@code cudnn.benchmark}), all running in one workspace allocated once; training
 * BatchNorm followed by {@code cudnnActivationForward/Backward} (ReLU, or clipped ReLU at 6 for
 * ReLU6), the unfused pair a framework on cuDNN runs.
 */
final class Cudnn implements AutoCloseable {
  static final int FIND = 8; // algorithms asked of each Find

  final cudnnContext handle = new cudnnContext();
  final long version;
  private final Pointer workspace;
  private final long workspaceBytes;
  private final FloatPointer one = new FloatPointer(1f), zero = new FloatPointer(0f);

  /** Why cuDNN cannot be used here, or null if it can. */
  static String unavailable() {
    try {
      Loader.load(org.bytedeco.cuda.global.cudnn.class);
      return null;
    } catch (Throwable t) {
      return "cuDNN could not be loaded (needs libcudnn*.so.9 and libcublas*.so.13 on LD_LIBRARY_PATH; -Dorg.bytedeco.javacpp.logger.debug=true shows what the loader tried): " + t;
    }
  }

  Cudnn(Gpu gpu, long workspaceBytes) {
    check(cudnnCreate(handle), "cudnnCreate");
    check(cudnnSetStream(handle, gpu.stream), "cudnnSetStream");
    version = cudnnGetVersion();
    this.workspaceBytes = workspaceBytes;
    workspace = Gpu.malloc(workspaceBytes / 4);
  }

  static void check(int status, String what) {
    if (status != CUDNN_STATUS_SUCCESS) throw new IllegalStateException(what + ": " + cudnnGetErrorString(status).getString());
  }

  private static cudnnTensorStruct tensor(int n, int c, int h, int w) {
    cudnnTensorStruct t = new cudnnTensorStruct();
    check(cudnnCreateTensorDescriptor(t), "cudnnCreateTensorDescriptor");
    check(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w), "cudnnSetTensor4dDescriptor");
    return t;
  }

  /** One convolution shape at one math type: descriptors and an algorithm per direction. */
  final class Conv {
    final boolean tf32;
    private final cudnnTensorStruct x, y;
    private final cudnnFilterStruct w = new cudnnFilterStruct();
    private final cudnnConvolutionStruct fwd, bwdData, bwdFilter;
    private int fwdAlgo = -1, bwdDataAlgo = -1, bwdFilterAlgo = -1;

    Conv(Conv2dSpec s, boolean tf32) {
      this.tf32 = tf32;
      x = tensor(s.n, s.cIn, s.h, s.w);
      y = tensor(s.n, s.cOut, s.outH(), s.outW());
      check(cudnnCreateFilterDescriptor(w), "cudnnCreateFilterDescriptor");
      check(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s.cOut, s.cIn / s.groups, s.kh, s.kw), "cudnnSetFilter4dDescriptor");
      fwd = conv(s);
      bwdData = conv(s);
      bwdFilter = conv(s);
    }

    private cudnnConvolutionStruct conv(Conv2dSpec s) {
      cudnnConvolutionStruct c = new cudnnConvolutionStruct();
      check(cudnnCreateConvolutionDescriptor(c), "cudnnCreateConvolutionDescriptor");
      check(cudnnSetConvolution2dDescriptor(c, s.padH, s.padW, s.strideH, s.strideW, s.dilH, s.dilW, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
          "cudnnSetConvolution2dDescriptor");
      check(cudnnSetConvolutionGroupCount(c, s.groups), "cudnnSetConvolutionGroupCount");
      check(cudnnSetConvolutionMathType(c, tf32 ? CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION : CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");
      return c;
    }

    /** Finds the fastest algorithm of each direction on these buffers (outputs are overwritten) and keeps its math type. */
    void find(FloatPointer xs, FloatPointer ws, FloatPointer ys, FloatPointer dys, FloatPointer dxs, FloatPointer dws) {
      try (IntPointer count = new IntPointer(1); cudnnConvolutionFwdAlgoPerf_t p = new cudnnConvolutionFwdAlgoPerf_t(FIND)) {
        check(cudnnFindConvolutionForwardAlgorithmEx(handle, x, xs, w, ws, fwd, y, ys, FIND, count, p, workspace, workspaceBytes), "cudnnFindConvolutionForwardAlgorithmEx");
        for (int i = 0; i < count.get() && fwdAlgo < 0; i++)
          if (p.position(i).status() == CUDNN_STATUS_SUCCESS) {
            fwdAlgo = p.algo();
            check(cudnnSetConvolutionMathType(fwd, p.mathType()), "cudnnSetConvolutionMathType");
          }
      }
      try (IntPointer count = new IntPointer(1); cudnnConvolutionBwdDataAlgoPerf_t p = new cudnnConvolutionBwdDataAlgoPerf_t(FIND)) {
        check(cudnnFindConvolutionBackwardDataAlgorithmEx(handle, w, ws, y, dys, bwdData, x, dxs, FIND, count, p, workspace, workspaceBytes), "cudnnFindConvolutionBackwardDataAlgorithmEx");
        for (int i = 0; i < count.get() && bwdDataAlgo < 0; i++)
          if (p.position(i).status() == CUDNN_STATUS_SUCCESS) {
            bwdDataAlgo = p.algo();
            check(cudnnSetConvolutionMathType(bwdData, p.mathType()), "cudnnSetConvolutionMathType");
          }
      }
      try (IntPointer count = new IntPointer(1); cudnnConvolutionBwdFilterAlgoPerf_t p = new cudnnConvolutionBwdFilterAlgoPerf_t(FIND)) {
        check(cudnnFindConvolutionBackwardFilterAlgorithmEx(handle, x, xs, y, dys, bwdFilter, w, dws, FIND, count, p, workspace, workspaceBytes), "cudnnFindConvolutionBackwardFilterAlgorithmEx");
        for (int i = 0; i < count.get() && bwdFilterAlgo < 0; i++)
          if (p.position(i).status() == CUDNN_STATUS_SUCCESS) {
            bwdFilterAlgo = p.algo();
            check(cudnnSetConvolutionMathType(bwdFilter, p.mathType()), "cudnnSetConvolutionMathType");
          }
      }
      if (fwdAlgo < 0 || bwdDataAlgo < 0 || bwdFilterAlgo < 0) throw new IllegalStateException("cuDNN found no working algorithm for a direction");
    }

    String algos() {
      return "fwd " + fwdAlgo + ", bwd-data " + bwdDataAlgo + ", bwd-filter " + bwdFilterAlgo;
    }

    void forward(FloatPointer xs, FloatPointer ws, FloatPointer ys) {
      check(cudnnConvolutionForward(handle, one, x, xs, w, ws, fwd, fwdAlgo, workspace, workspaceBytes, zero, y, ys), "cudnnConvolutionForward");
    }

    void backwardData(FloatPointer ws, FloatPointer dys, FloatPointer dxs) {
      check(cudnnConvolutionBackwardData(handle, one, w, ws, y, dys, bwdData, bwdDataAlgo, workspace, workspaceBytes, zero, x, dxs), "cudnnConvolutionBackwardData");
    }

    void backwardFilter(FloatPointer xs, FloatPointer dys, FloatPointer dws) {
      check(cudnnConvolutionBackwardFilter(handle, one, x, xs, y, dys, bwdFilter, bwdFilterAlgo, workspace, workspaceBytes, zero, w, dws), "cudnnConvolutionBackwardFilter");
    }

    void destroy() {
      cudnnDestroyTensorDescriptor(x);
      cudnnDestroyTensorDescriptor(y);
      cudnnDestroyFilterDescriptor(w);
      cudnnDestroyConvolutionDescriptor(fwd);
      cudnnDestroyConvolutionDescriptor(bwdData);
      cudnnDestroyConvolutionDescriptor(bwdFilter);
    }
  }

  /** Training BatchNorm (spatial) over [n][c][hw] then the activation, forward and backward. */
  final class Bn {
    private final cudnnTensorStruct x, params = new cudnnTensorStruct();
    private final cudnnActivationStruct act;
    private final double eps, momentum;

    Bn(int n, int c, int hw, Activation a, double eps, double momentum) {
      x = tensor(n, c, hw, 1);
      check(cudnnCreateTensorDescriptor(params), "cudnnCreateTensorDescriptor");
      check(cudnnDeriveBNTensorDescriptor(params, x, CUDNN_BATCHNORM_SPATIAL), "cudnnDeriveBNTensorDescriptor");
      this.eps = eps;
      this.momentum = momentum;
      if (a == Activation.NONE) {
        act = null;
      } else {
        act = new cudnnActivationStruct();
        check(cudnnCreateActivationDescriptor(act), "cudnnCreateActivationDescriptor");
        check(cudnnSetActivationDescriptor(act, a == Activation.RELU6 ? CUDNN_ACTIVATION_CLIPPED_RELU : CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN,
            a == Activation.RELU6 ? 6.0 : 0.0), "cudnnSetActivationDescriptor");
      }
    }

    /** y = BN(x) (batch statistics; running statistics updated), then z = act(y); without an activation z is unused. */
    void forward(FloatPointer xs, FloatPointer gamma, FloatPointer beta, FloatPointer runMean, FloatPointer runVar,
                 FloatPointer saveMean, FloatPointer saveInvVar, FloatPointer ys, FloatPointer zs) {
      check(cudnnBatchNormalizationForwardTraining(handle, CUDNN_BATCHNORM_SPATIAL, one, zero, x, xs, x, ys, params, gamma, beta, momentum,
          runMean, runVar, eps, saveMean, saveInvVar), "cudnnBatchNormalizationForwardTraining");
      if (act != null) check(cudnnActivationForward(handle, act, one, x, ys, zero, x, zs), "cudnnActivationForward");
    }

    /** From dz (or dy without an activation): dy = act'(z) dz into {@code dys}, then dx, dgamma, dbeta. */
    void backward(FloatPointer xs, FloatPointer ys, FloatPointer zs, FloatPointer dzs, FloatPointer gamma, FloatPointer saveMean,
                  FloatPointer saveInvVar, FloatPointer dys, FloatPointer dxs, FloatPointer dgamma, FloatPointer dbeta) {
      FloatPointer grad = dzs;
      if (act != null) {
        check(cudnnActivationBackward(handle, act, one, x, zs, x, dzs, x, ys, zero, x, dys), "cudnnActivationBackward");
        grad = dys;
      }
      check(cudnnBatchNormalizationBackward(handle, CUDNN_BATCHNORM_SPATIAL, one, zero, one, zero, x, xs, x, grad, x, dxs, params, gamma,
          dgamma, dbeta, eps, saveMean, saveInvVar), "cudnnBatchNormalizationBackward");
    }

    void destroy() {
      cudnnDestroyTensorDescriptor(x);
      cudnnDestroyTensorDescriptor(params);
      if (act != null) cudnnDestroyActivationDescriptor(act);
    }
  }

  @Override
  public void close() {
    org.bytedeco.cuda.global.cudart.cudaFree(workspace);
    cudnnDestroy(handle);
    one.close();
    zero.close();
  }
}
