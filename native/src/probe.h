// Machine probes behind sepconv_cpu_probe: the FMA peak and the copy bandwidth of this CPU,
// measured on the library's own threads, the two numbers a roofline floor divides by.
//   entry point, threads and timing   api_probe.cpp
//   per-thread loops (per ISA)        kernels/probe.cpp
#pragma once
#include "common.h"

// ---- per-thread loops, one copy per ISA (kernels/probe.cpp) ----
// fma_chains: `rounds` rounds of independent multiply-add chains at the ISA's widest vector
// (AVX-512: 16 chains of zmm, AVX2: 12 of ymm, generic: 12 of 4-float arrays, which the
// compiler turns into SSE multiplies and adds); returns the flops done (2 per lane per
// multiply-add) and writes the sum of the chains to *sink so that none is optimised away.
// stream_copy: dst[0..count) = src[0..count); dst is 64-byte aligned and count a multiple of
// 64, so every store is a full-vector non-temporal store (plain stores in the generic build).
#define SEPCONV_PROBE_KERNELS(ns)                                         \
  namespace sepconv {                                                     \
  namespace ns {                                                          \
  double fma_chains(int64_t rounds, float* sink);                         \
  void stream_copy(const float* src, float* dst, int64_t count);          \
  }                                                                       \
  }
SEPCONV_DECLARE_FOR_EACH_ISA(SEPCONV_PROBE_KERNELS)
