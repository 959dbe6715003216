// The random bits of dropout, shared by the CPU kernels, the CPU reference and the CUDA kernels
// (host and device code), so that every device draws the same mask for the same seed.
//
// Philox-4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
// SC'11), the counter-based generator of Random123, cuRAND and torch's CUDA dropout: four
// 32-bit words from a counter and a key, with no state carried between calls, so element i's
// bits depend on (seed, i) alone, not on threads, blocks or the device. Known answer (Random123's
// kat_vectors): counter 0, key 0 -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8.
//
// Dropout element i takes word i % 4 of counter i / 4 under key = seed; its top 24 bits over
// 2^24 are a float u in [0, 1), exact; the element is kept when u >= p. Integer arithmetic and
// exact conversions only: bit-identical on every device.
#pragma once
#include <stdint.h>

#if defined(__CUDACC__)
#define SEPCONV_HD __host__ __device__ __forceinline__
#else
#define SEPCONV_HD inline
#endif

namespace sepconv {

struct Philox4 {
  uint32_t v[4];
};

// The four words of the 128-bit counter (ctr, 0) under the 64-bit key.
SEPCONV_HD Philox4 philox4x32_10(uint64_t ctr, uint64_t key) {
  uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
  for (int r = 0; r < 10; r++) {
    const uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
    const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;  // the key schedule (Weyl sequence)
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Whether the element whose word is `word` survives dropout with probability p of dropping.
SEPCONV_HD bool dropout_keep(uint32_t word, float p) { return (float)(word >> 8) * 0x1p-24f >= p; }

// The kept elements' mask value 1/(1-p): in double, rounded once to float (the same everywhere).
SEPCONV_HD float dropout_scale(float p) { return (float)(1.0 / (1.0 - (double)p)); }

}  // namespace sepconv
