// Internal runtime shared by every kernel family: errors, geometry, threads, ISA dispatch,
// scratch memory and GEMM. Nothing here crosses the C ABI.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <new>
#include <string>

#include "sepconv/sepconv.h"

namespace sepconv {

// ---- errors: entry points catch these and turn them into a status + message ----
struct Error {
  int status;
  std::string message;
};
[[noreturn]] void fail(int status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
#define SEPCONV_CHECK_ARG(cond, ...)                          \
  do {                                                        \
    if (!(cond)) ::sepconv::fail(SEPCONV_EINVAL, __VA_ARGS__); \
  } while (0)

// ---- the fused activations (SEPCONV_ACT_*): ReLU max(v, 0), ReLU6 min(max(v, 0), 6); NaN
// passes through. One definition for float (kernels) and double (references); the vector form
// is vact in kernels/simd.h, the CUDA one apply_act in cuda/common.cuh.
template <class T>
inline T activate(int act, T v) {
  if (act != SEPCONV_ACT_NONE && v < 0) v = 0;
  if (act == SEPCONV_ACT_RELU6 && v > 6) v = 6;
  return v;
}

// ---- convolution geometry, validated once in the entry point ----
struct ConvGeom {
  int n, c_in, h, w, c_out, kh, kw, sh, sw, ph, pw, dh, dw, groups;
  int oh, ow;
  int cin_g, cout_g;  // channels per group
  int64_t in_plane() const { return (int64_t)h * w; }
  int64_t out_plane() const { return (int64_t)oh * ow; }
  int64_t weights_per_out() const { return (int64_t)cin_g * kh * kw; }
};

// ---- threads: one persistent pool; f(begin, end) over [0, count) in contiguous chunks.
// A call made while the pool is busy (another caller, or a nested call) runs inline, so
// kernels must give results that do not depend on how the range is split.
void parallel_for(int64_t count, const std::function<void(int64_t, int64_t)>& f);
int num_threads();

// ---- ISA dispatch: kernel files in kernels/ are compiled once per ISA into the
// namespaces isa_generic, isa_avx2 and isa_avx512.
int active_isa();
// Entry points pick their kernels through dispatch tables (dispatch.h). Inside a family,
// SEPCONV_ISA_CALL_AT runs the copy for a given ISA (read once by callers that must use the
// same ISA for several calls, e.g. packing and multiplying).
#define SEPCONV_ISA_CALL_AT(isa, fn, ...)                                \
  ((isa) == SEPCONV_ISA_AVX512 ? ::sepconv::isa_avx512::fn(__VA_ARGS__) \
   : (isa) == SEPCONV_ISA_AVX2 ? ::sepconv::isa_avx2::fn(__VA_ARGS__)   \
                               : ::sepconv::isa_generic::fn(__VA_ARGS__))
#define SEPCONV_ISA_CALL(fn, ...) SEPCONV_ISA_CALL_AT(::sepconv::active_isa(), fn, __VA_ARGS__)
// Declares the same kernel list in all three namespaces: LIST(ns) must expand to
// `namespace ns { ...declarations... }`.
#define SEPCONV_DECLARE_FOR_EACH_ISA(LIST) LIST(isa_generic) LIST(isa_avx2) LIST(isa_avx512)

// ---- scratch memory: 64-byte aligned, counted, freed when the Workspace goes out of scope.
class Workspace {
 public:
  explicit Workspace(size_t floats);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  float* data() const { return ptr_; }

 private:
  float* ptr_;
  size_t bytes_;
};
int64_t workspace_bytes();

// ---- GEMM, row-major: C = alpha * op(A) op(B) + beta * C, op(A) is m x k, op(B) k x n.
// gemm() may use the attached BLAS and all threads; call it from the entry point's thread.
// gemm_serial() is the built-in kernel on the calling thread only, safe inside parallel_for.
void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
          int lda, const float* b, int ldb, float beta, float* c, int ldc);
void gemm_serial(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                 int lda, const float* b, int ldb, float beta, float* c, int ldc);
bool blas_attached();

}  // namespace sepconv

namespace sepconv {
// Runs f, turning Error / bad_alloc / anything else into a status code and the thread's
// last-error text. Every C entry point is `return guarded([&] { ... });`.
int guarded(const std::function<void()>& f);
}  // namespace sepconv

namespace sepconv {
// The decoded `exec` argument (see dispatch.h, which picks the kernel from it).
struct Exec {
  int device;
  int algo;
};
// Fails with SEPCONV_EINVAL unless exec is SEPCONV_EXEC(device in 0..1, algo in 0..2).
Exec decode_exec(int exec);
// Fails with SEPCONV_EUNSUPPORTED, naming `op` and why it has no kernel for e: CUDA in a build
// without CUDA, REFERENCE or IM2COL on CUDA (CPU-only kernels), or a slot a table leaves empty.
[[noreturn]] void unsupported(const Exec& e, const char* op);

// The product of `dims` as an element count; fails naming `what` when it (or its size in
// bytes) does not fit int64.
int64_t numel(std::initializer_list<int64_t> dims, const char* what);
// mask must combine GRAD_INPUT|GRAD_WEIGHT|GRAD_BIAS (0..7).
void check_mask(int mask);
// act must be a SEPCONV_ACT_* value; the message names the argument `name`.
void check_act(int act, const char* name);
// Validates a backward's mask (0..7) and that every pointer the mask needs is non-NULL:
// dy always; w and dx for GRAD_INPUT; x and dw for GRAD_WEIGHT; dbias for GRAD_BIAS.
void check_backward_args(int mask, const void* x, const void* w, const void* dy, const void* dx,
                         const void* dw, const void* dbias);
}  // namespace sepconv
