// CUDA runtime probe. cudart is linked statically, so this file loads on hosts without a
// driver; every failure is reported as text, never as a crash.
#include <cuda_runtime.h>

#include "common.h"

extern "C" int sepconv_cuda_available(void) {
  return sepconv::guarded([] {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      const char* why = e == cudaErrorInsufficientDriver ? "no NVIDIA driver (or one too old for CUDA 13)"
                        : e == cudaErrorNoDevice         ? "no CUDA device found"
                                                         : "the CUDA runtime could not start";
      cudaGetLastError();
      sepconv::fail(SEPCONV_EUNSUPPORTED, "CUDA unavailable: %s (%s: %s)", why, cudaGetErrorName(e),
                    cudaGetErrorString(e));
    }
    if (count == 0) sepconv::fail(SEPCONV_EUNSUPPORTED, "CUDA unavailable: no CUDA device found");
  });
}
