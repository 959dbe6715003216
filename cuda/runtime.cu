// CUDA runtime of the library: the probe, errors, the one stream, the caching allocator, the
// device/host pointer checks, copies, the TF32 switch, and two small reductions that several op
// families share.
// cudart is linked statically, so this file loads on hosts without a driver: nothing here
// touches CUDA until a CUDA function is called, and every failure is reported as text.
//
// Contract of the shared kernels (at the end of the file):
//   add_partials   dst += sum of split partials (fixed order: deterministic)
//   bias_backward  dbias += sum of dy over images and the plane
#include <atomic>
#include <cstring>
#include <map>
#include <string>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common.cuh"

namespace sepconv {
namespace gpu {

// ---------------------------------------------------------------- errors
static bool no_device_error(cudaError_t e) {
  return e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice;
}

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so that the next call starts clean
  fail(no_device_error(e) ? SEPCONV_EUNSUPPORTED : SEPCONV_EDEVICE, "%s: %s: %s", what,
       cudaGetErrorName(e), cudaGetErrorString(e));
}

// Fails, with the reason as text, when CUDA cannot be used.
static void probe() {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    const char* why = e == cudaErrorInsufficientDriver ? "no NVIDIA driver (or one too old for CUDA 13)"
                      : e == cudaErrorNoDevice         ? "no CUDA device found"
                                                       : "the CUDA runtime could not start";
    cudaGetLastError();
    fail(SEPCONV_EUNSUPPORTED, "CUDA unavailable: %s (%s: %s)", why, cudaGetErrorName(e),
         cudaGetErrorString(e));
  }
  if (count == 0) fail(SEPCONV_EUNSUPPORTED, "CUDA unavailable: no CUDA device found");
}

// ---------------------------------------------------------------- the stream
namespace {
struct Runtime {
  cudaStream_t stream = nullptr;
  int sms = 0;
};
std::mutex g_init_mu;
std::atomic<Runtime*> g_rt{nullptr};
std::atomic<bool> g_tf32{false};

Runtime& runtime() {
  if (Runtime* r = g_rt.load(std::memory_order_acquire)) return *r;
  std::lock_guard<std::mutex> lk(g_init_mu);
  if (Runtime* r = g_rt.load()) return *r;
  probe();
  check(cudaSetDevice(0), "cudaSetDevice(0)");
  auto* r = new Runtime();  // lives for the process: kernels may still run at exit
  check(cudaDeviceGetAttribute(&r->sms, cudaDevAttrMultiProcessorCount, 0), "cudaDeviceGetAttribute");
  check(cudaStreamCreateWithFlags(&r->stream, cudaStreamNonBlocking), "cudaStreamCreate");
  g_rt.store(r, std::memory_order_release);
  return *r;
}
}  // namespace

cudaStream_t stream() { return runtime().stream; }
int sm_count() { return runtime().sms; }
bool tf32_enabled() { return g_tf32.load(std::memory_order_relaxed); }

// ---------------------------------------------------------------- caching allocator
// Requests are rounded up to a size class: multiples of 512 B up to 1 MiB, then 8 classes per
// power of two (at most 12.5% waste). Each class has a free list; a request takes a cached
// block of exactly its class or, failing that, a fresh cudaMalloc. Blocks are never split, so
// each one is a cudaMalloc base (256-byte aligned). When cudaMalloc fails, the stream is
// synchronised, the cache is emptied and the call tried once more.
namespace {
size_t size_class(size_t bytes) {
  if (bytes <= ((size_t)1 << 20)) return (bytes + 511) / 512 * 512;
  int top = 63 - __builtin_clzll(bytes);
  size_t step = (size_t)1 << (top - 3);
  return (bytes + step - 1) / step * step;
}

class Allocator {
 public:
  void* alloc(size_t bytes) {
    if (bytes == 0) return nullptr;
    size_t cls = size_class(bytes);
    std::lock_guard<std::mutex> lk(mu_);
    void* p = nullptr;
    auto it = free_.find(cls);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
    } else {
      runtime();
      cudaError_t e = cudaMalloc(&p, cls);
      if (e == cudaErrorMemoryAllocation) {  // give the cached blocks back, then retry once
        cudaGetLastError();
        release_cached();
        e = cudaMalloc(&p, cls);
      }
      if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        fail(SEPCONV_ENOMEM, "CUDA out of memory: cannot allocate %zu bytes (%lld allocated, %lld reserved)",
             cls, (long long)allocated_, (long long)reserved_);
      }
      check(e, "cudaMalloc");
      reserved_ += (int64_t)cls;
    }
    live_[(uintptr_t)p] = cls;
    allocated_ += (int64_t)cls;
    if (allocated_ > peak_) peak_ = allocated_;
    return p;
  }

  void release(void* p) {
    if (!p) return;
    std::lock_guard<std::mutex> lk(mu_);
    auto it = live_.find((uintptr_t)p);
    SEPCONV_CHECK_ARG(it != live_.end(), "ptr %p was not returned by sepconv_cuda_malloc (or is already free)", p);
    free_[it->second].push_back(p);
    allocated_ -= (int64_t)it->second;
    live_.erase(it);
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lk(mu_);
    if (reserved_ == allocated_) return;
    release_cached();
  }

  // Does p point into a block this allocator handed out?
  bool owns(const void* p) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = live_.upper_bound((uintptr_t)p);
    if (it == live_.begin()) return false;
    --it;
    return (uintptr_t)p < it->first + it->second;
  }

  void stats(int64_t* allocated, int64_t* reserved, int64_t* peak) {
    std::lock_guard<std::mutex> lk(mu_);
    if (allocated) *allocated = allocated_;
    if (reserved) *reserved = reserved_;
    if (peak) *peak = peak_;
  }

 private:
  // mu_ held. A cached block may still be read or written by work queued on the stream (it
  // went back to its free list at once, see sepconv_cuda_free): wait for the stream before the
  // driver gets it back. (cudaFree does not promise to wait for the work of other calls.)
  void release_cached() {
    check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize");
    for (auto& kv : free_)
      for (void* p : kv.second) {
        cudaFree(p);
        reserved_ -= (int64_t)kv.first;
      }
    free_.clear();
  }

  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> cached blocks
  std::map<uintptr_t, size_t> live_;                     // block base -> size class
  int64_t allocated_ = 0, reserved_ = 0, peak_ = 0;
};

Allocator& allocator() {
  static Allocator* a = new Allocator();  // never destroyed: freeing after the driver unloads fails
  return *a;
}
}  // namespace

void* alloc(size_t bytes) { return allocator().alloc(bytes); }
void release(void* p) { allocator().release(p); }

void check_device_ptrs(const char* op, const char* names, std::initializer_list<const void*> ptrs) {
  try {
    runtime();
  } catch (Error& e) {  // name the op: "conv2d_forward: CUDA unavailable: ..."
    e.message = std::string(op) + ": " + e.message;
    throw;
  }
  const char* name = names;
  for (const void* p : ptrs) {
    const char* end = std::strchr(name, ',');
    int len = end ? (int)(end - name) : (int)std::strlen(name);
    if (p && !allocator().owns(p)) {
      cudaPointerAttributes a{};
      cudaError_t e = cudaPointerGetAttributes(&a, p);
      if (e != cudaSuccess) cudaGetLastError();
      if (e != cudaSuccess || (a.type != cudaMemoryTypeDevice && a.type != cudaMemoryTypeManaged))
        fail(SEPCONV_EINVAL, "%s: %.*s is not CUDA device memory (a CUDA op takes pointers from sepconv_cuda_malloc)",
             op, len, name);
    }
    if (end) name = end + 1 + (end[1] == ' ');
  }
}

void check_host_ptr(const char* op, const char* name, const void* p) {
  cudaPointerAttributes a{};
  cudaError_t e = cudaPointerGetAttributes(&a, p);
  if (e != cudaSuccess) cudaGetLastError();  // not known to CUDA: plain host memory
  if (allocator().owns(p) || (e == cudaSuccess && a.type == cudaMemoryTypeDevice))
    fail(SEPCONV_EINVAL, "%s: %s must be host memory, got CUDA device memory", op, name);
}

// ---------------------------------------------------------------- shared kernels
__global__ void add_partials_kernel(int64_t count, int splits, const float* __restrict__ part,
                                    float* __restrict__ dst) {
  SEPCONV_GRID_STRIDE(i, count) {
    float s = 0.f;
    for (int k = 0; k < splits; k++) s += part[(int64_t)k * count + i];
    dst[i] += s;
  }
}

void add_partials(int64_t count, int splits, const float* part, float* dst) {
  add_partials_kernel<<<grid_for(count), kThreads, 0, stream()>>>(count, splits, part, dst);
  launched("add_partials_kernel");
}

// grid (c, splits): block (ch, s) sums images [s*n/splits, (s+1)*n/splits) of channel ch.
__global__ void bias_partial_kernel(int n, int c, int64_t plane, int splits,
                                    const float* __restrict__ dy, float* __restrict__ out) {
  __shared__ float tmp[32];
  const int ch = blockIdx.x, s = blockIdx.y;
  const int n0 = (int)((int64_t)n * s / splits), n1 = (int)((int64_t)n * (s + 1) / splits);
  const int64_t len = (int64_t)(n1 - n0) * plane;
  float acc = 0.f;
  for (int64_t e = threadIdx.x; e < len; e += blockDim.x) {
    int64_t img = n0 + e / plane, j = e % plane;
    acc += dy[(img * c + ch) * plane + j];
  }
  acc = block_sum(acc, tmp);
  if (threadIdx.x == 0) out[(int64_t)s * c + ch] = acc;
}

void bias_backward(int n, int c, int64_t plane, const float* dy, float* dbias) {
  int splits = splits_for(c, n);
  Scratch<float> part((size_t)splits * c);
  bias_partial_kernel<<<dim3(c, splits), kThreads, 0, stream()>>>(n, c, plane, splits, dy, part.get());
  launched("bias_partial_kernel");
  add_partials(c, splits, part.get(), dbias);
}

}  // namespace gpu
}  // namespace sepconv

using namespace sepconv;

extern "C" {

int sepconv_cuda_available(void) { return guarded([] { gpu::probe(); }); }

int sepconv_cuda_device_count(int* count) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(count, "count must not be NULL");
    *count = 0;
    cudaError_t e = cudaGetDeviceCount(count);
    if (gpu::no_device_error(e)) {
      cudaGetLastError();
      *count = 0;
      return;
    }
    gpu::check(e, "cudaGetDeviceCount");
  });
}

static cudaDeviceProp device_props(int device) {
  int count = 0;
  gpu::probe();
  gpu::check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
  SEPCONV_CHECK_ARG(device >= 0 && device < count, "device must be in [0, %d), got %d", count, device);
  cudaDeviceProp p{};
  gpu::check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  return p;
}

int sepconv_cuda_device_name(int device, char* name, int capacity) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(name, "name must not be NULL");
    SEPCONV_CHECK_ARG(capacity >= 1, "capacity must be >= 1, got %d", capacity);
    cudaDeviceProp p = device_props(device);
    std::strncpy(name, p.name, (size_t)capacity - 1);
    name[capacity - 1] = '\0';
  });
}

int sepconv_cuda_device_capability(int device, int* major, int* minor) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(major && minor, "major and minor must not be NULL");
    cudaDeviceProp p = device_props(device);
    *major = p.major;
    *minor = p.minor;
  });
}

int sepconv_cuda_malloc(int64_t bytes, void** ptr) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(ptr, "ptr must not be NULL");
    SEPCONV_CHECK_ARG(bytes >= 0, "bytes must be >= 0, got %lld", (long long)bytes);
    *ptr = nullptr;
    *ptr = gpu::alloc((size_t)bytes);
  });
}

int sepconv_cuda_free(void* ptr) { return guarded([&] { gpu::release(ptr); }); }

int sepconv_cuda_empty_cache(void) { return guarded([] { gpu::allocator().empty_cache(); }); }

int sepconv_cuda_memory_stats(int64_t* allocated, int64_t* reserved, int64_t* peak) {
  return guarded([&] { gpu::allocator().stats(allocated, reserved, peak); });
}

int sepconv_cuda_memcpy(void* dst, const void* src, int64_t bytes, int kind) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(bytes >= 0, "bytes must be >= 0, got %lld", (long long)bytes);
    SEPCONV_CHECK_ARG(kind >= SEPCONV_MEMCPY_HOST_TO_DEVICE && kind <= SEPCONV_MEMCPY_DEVICE_TO_DEVICE,
                      "kind must be 1 (host to device), 2 (device to host) or 3 (device to device), got %d", kind);
    if (bytes == 0) return;
    SEPCONV_CHECK_ARG(dst && src, "dst and src must not be NULL");
    cudaMemcpyKind k = kind == SEPCONV_MEMCPY_HOST_TO_DEVICE   ? cudaMemcpyHostToDevice
                       : kind == SEPCONV_MEMCPY_DEVICE_TO_HOST ? cudaMemcpyDeviceToHost
                                                               : cudaMemcpyDeviceToDevice;
    if (kind != SEPCONV_MEMCPY_HOST_TO_DEVICE) SEPCONV_DEVICE_PTRS("memcpy", src);
    if (kind != SEPCONV_MEMCPY_DEVICE_TO_HOST) SEPCONV_DEVICE_PTRS("memcpy", dst);
    cudaStream_t s = gpu::stream();
    gpu::check(cudaMemcpyAsync(dst, src, (size_t)bytes, k, s), "cudaMemcpyAsync");
    if (kind != SEPCONV_MEMCPY_DEVICE_TO_DEVICE) gpu::check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  });
}

int sepconv_cuda_memset(void* ptr, int value, int64_t bytes) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(bytes >= 0, "bytes must be >= 0, got %lld", (long long)bytes);
    if (bytes == 0) return;
    SEPCONV_CHECK_ARG(ptr, "ptr must not be NULL");
    SEPCONV_DEVICE_PTRS("memset", ptr);
    gpu::check(cudaMemsetAsync(ptr, value & 0xff, (size_t)bytes, gpu::stream()), "cudaMemsetAsync");
  });
}

int sepconv_cuda_synchronize(void) {
  return guarded([] { gpu::check(cudaStreamSynchronize(gpu::stream()), "cudaStreamSynchronize"); });
}

int sepconv_cuda_stream(void** stream) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(stream, "stream must not be NULL");
    *stream = (void*)gpu::stream();
  });
}

int sepconv_cuda_set_tf32(int enabled) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(enabled == 0 || enabled == 1, "enabled must be 0 or 1, got %d", enabled);
    gpu::g_tf32 = enabled == 1;
  });
}

int sepconv_cuda_tf32(void) { return gpu::tf32_enabled() ? 1 : 0; }

}  // extern "C"
