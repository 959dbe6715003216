// Compiled when the library is built without nvcc: CUDA is reported as absent, with the reason.
#include "common.h"

extern "C" int sepconv_cuda_available(void) {
  return sepconv::guarded([] {
    sepconv::fail(SEPCONV_EUNSUPPORTED,
                  "CUDA unavailable: this sepconv build has no CUDA backend (nvcc was not found "
                  "when it was compiled)");
  });
}
