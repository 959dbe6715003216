// Compiled when the library is built without nvcc: every CUDA function answers
// SEPCONV_EUNSUPPORTED with the reason (ops answer SEPCONV_DEVICE_CUDA from the empty cuda
// slots of their dispatch tables, see dispatch.h).
#include "common.h"

using sepconv::fail;
using sepconv::guarded;

namespace {
int absent() {
  return guarded([] {
    fail(SEPCONV_EUNSUPPORTED,
         "CUDA unavailable: this build has no CUDA backend (nvcc was not found when it was "
         "compiled)");
  });
}
}  // namespace

extern "C" {
int sepconv_cuda_available(void) { return absent(); }
int sepconv_cuda_device_count(int*) { return absent(); }
int sepconv_cuda_device_name(int, char*, int) { return absent(); }
int sepconv_cuda_device_capability(int, int*, int*) { return absent(); }
int sepconv_cuda_malloc(int64_t, void** ptr) {
  if (ptr) *ptr = nullptr;
  return absent();
}
int sepconv_cuda_free(void*) { return absent(); }
int sepconv_cuda_empty_cache(void) { return absent(); }
int sepconv_cuda_memory_stats(int64_t*, int64_t*, int64_t*) { return absent(); }
int sepconv_cuda_memcpy(void*, const void*, int64_t, int) { return absent(); }
int sepconv_cuda_memset(void*, int, int64_t) { return absent(); }
int sepconv_cuda_synchronize(void) { return absent(); }
int sepconv_cuda_stream(void** stream) {
  if (stream) *stream = nullptr;
  return absent();
}
int sepconv_cuda_set_tf32(int) { return absent(); }
int sepconv_cuda_tf32(void) { return 0; }
}
