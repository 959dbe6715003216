// Dispatch: one table per op with a slot for each way the op can run (ATen's DispatchStub), and
// one parse_exec / dispatch pair that picks the slot from the C ABI's `exec` argument. Every
// entry point is
//     Exec e = parse_exec(exec, table);   // first, before any argument is looked at
//     ...validate the arguments once, the same for every device...
//     dispatch(e, table, args...);
// Adding a device means one more slot per table; adding an op, one table beside its entry point
// (the family's api_*.cpp). A table's type is the signature of its slots, written as
// Table<decltype(ref_xxx)>: the reference's declaration in the family header.
//
// Slots:  reference  SEPCONV_ALGO_REFERENCE on the CPU (reference/*.cpp, double accumulation)
//         cpu[isa]   SEPCONV_ALGO_AUTO on the CPU: the copy compiled for the active ISA
//                    (sepconv_cpu_isa; kernels/*.cpp are built once per ISA)
//         im2col     SEPCONV_ALGO_IM2COL on the CPU (convolutions only). A table without one
//                    runs cpu[isa] for IM2COL: it is a convolution choice, and every other op
//                    has always run its fast kernel for it.
//         cuda       SEPCONV_ALGO_AUTO on CUDA (cuda/*.cu), SEPCONV_CUDA_SLOT(...) so that it is
//                    NULL in a build without CUDA. REFERENCE and IM2COL have no CUDA slot.
// An empty slot fails with SEPCONV_EUNSUPPORTED and a message naming the op and why (runtime.cpp).
// Where the geometry picks the kernel (depthwise or GEMM convolution), the slot's function
// makes that choice.
#pragma once
#include <utility>

#include "common.h"

namespace sepconv {

template <class Fn>
struct Table {
  const char* op;  // the C function's name without "sepconv_", for messages
  Fn* reference;
  Fn* cpu[3];  // by SEPCONV_ISA_GENERIC, _AVX2, _AVX512
  Fn* im2col;
  Fn* cuda;
};

// The three ISA copies of one kernel, for a table's cpu slots.
#define SEPCONV_ISA_SLOTS(fn) \
  { ::sepconv::isa_generic::fn, ::sepconv::isa_avx2::fn, ::sepconv::isa_avx512::fn }

// The table of an op whose kernels are named after one function `fn`: ref_<fn> (reference),
// isa_*::<fn> (CPU) and gpu::<fn> (CUDA); no im2col slot. Defines `<fn>_table`.
#define SEPCONV_TABLE(fn, op)                                                      \
  const ::sepconv::Table<decltype(::sepconv::ref_##fn)> fn##_table = {             \
      op, ::sepconv::ref_##fn, SEPCONV_ISA_SLOTS(fn), nullptr,                     \
      SEPCONV_CUDA_SLOT(::sepconv::gpu::fn)}

// The slot that e selects (NULL when the table has none).
template <class Fn>
Fn* slot(const Exec& e, const Table<Fn>& t) {
  if (e.device == SEPCONV_DEVICE_CUDA) return e.algo == SEPCONV_ALGO_AUTO ? t.cuda : nullptr;
  if (e.algo == SEPCONV_ALGO_REFERENCE) return t.reference;
  if (e.algo == SEPCONV_ALGO_IM2COL && t.im2col) return t.im2col;
  return t.cpu[active_isa()];
}

// Decodes exec (SEPCONV_EINVAL when out of range) and fails with SEPCONV_EUNSUPPORTED when the
// table has no kernel for it.
template <class Fn>
Exec parse_exec(int exec, const Table<Fn>& t) {
  Exec e = decode_exec(exec);
  if (!slot(e, t)) unsupported(e, t.op);
  return e;
}

// Runs the slot that e selects.
template <class Fn, class... Args>
void dispatch(const Exec& e, const Table<Fn>& t, Args&&... args) {
  Fn* f = slot(e, t);
  if (!f) unsupported(e, t.op);
  f(std::forward<Args>(args)...);
}

}  // namespace sepconv
