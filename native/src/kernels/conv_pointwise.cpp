// Pointwise (1x1, stride 1, no padding) convolution, all three directions, straight on NCHW:
// no im2col, no per-image gather of dY, no scatter of the result. Compiled per ISA; the AVX2
// and AVX-512 builds run it, the generic build says "not handled" and GEMM runs.
//
// Every direction is one register tile  C[MR rows][NC vectors] += A[row][k] (broadcast) *
// B[k][vector]  with its own A, B and C addressing:
//   forward        C = y of one image (rows: output channels, vectors: VL plane positions),
//                  A = W packed [row tile][k][MR], B = x's channel rows (k: input channel).
//                  A tile's NC vectors are any VL-position runs of any images (several small
//                  planes per tile, partial runs masked), so y and x are read and written in
//                  place whatever the plane size.
//   backward data  the same with A = W^T (rows: input channels, k: output channels), B = dy.
//   backward weight C = dw (rows: output channels, vectors: VL input channels), A = dy's rows
//                  (k: plane positions, image after image), B = x transposed to [position][c_in]
//                  once per call (the one reorder: dy is read in place).
// Forward and data: each output element is one k-loop in channel order, so results never
// depend on the split. Weight: the positions are cut into slices (their count depends on the
// shape only), each slice summed in order into its own partial, the partials added to dw in
// slice order.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../conv.h"
#include "simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

#if defined(__AVX512F__) || defined(__AVX2__)
namespace {

constexpr int MR = VL == 16 ? 8 : 6;  // tile rows (accumulators: MR x NC)
constexpr int NC = VL == 16 ? 3 : 2;  // tile vectors

// Vector j of a tile: B at b + k*bks + boff[j], C at c + m*cms + coff[j], `lanes[j]` <= VL.
struct Cols {
  int64_t boff[NC], coff[NC];
  int lanes[NC];
  int n;      // vectors in the tile (1..NC)
  bool full;  // every vector has VL lanes
};

// A run of k: A(m, k) at a + m*ams + k*aks, B's vector j at b + boff[j] + k*bks.
struct Seg {
  const float* a;
  const float* b;
  int64_t len;
};

// C (+)= sum over the segments' k of A B; rows >= `rows` are computed on A's rows as given
// (callers point them at valid memory) but not stored. load_c: C starts from its current
// value, else from 0 (+ bias[m] when bias). The accumulators stay in registers across segments;
// act (SEPCONV_ACT_*) is applied as they are stored.
template <int N, bool FULL>
inline void tile(const Seg* segs, int nseg, int64_t ams, int64_t aks, int64_t bks, const Cols& cl, float* c,
                 int64_t cms, int rows, bool load_c, const float* bias, int act) {
  vf acc[MR][N];
  for (int m = 0; m < MR; m++)
    for (int j = 0; j < N; j++) {
      if (load_c && m < rows)
        acc[m][j] = FULL ? vld(c + m * cms + cl.coff[j]) : vld_n(c + m * cms + cl.coff[j], cl.lanes[j]);
      else
        acc[m][j] = bias && m < rows ? vset(bias[m]) : vzero();
    }
  for (int sg = 0; sg < nseg; sg++) {
    const float* bp[N];
    for (int j = 0; j < N; j++) bp[j] = segs[sg].b + cl.boff[j];
    const float* ak = segs[sg].a;
    for (int64_t k = 0; k < segs[sg].len; k++, ak += aks) {
      vf bv[N];
      for (int j = 0; j < N; j++) bv[j] = FULL ? vld(bp[j] + k * bks) : vld_n(bp[j] + k * bks, cl.lanes[j]);
      for (int m = 0; m < MR; m++) {
        const vf av = vset(ak[m * ams]);
        for (int j = 0; j < N; j++) acc[m][j] = vfma(av, bv[j], acc[m][j]);
      }
    }
  }
  for (int m = 0; m < rows; m++)
    for (int j = 0; j < N; j++) {
      float* d = c + m * cms + cl.coff[j];
      const vf v = vact(act, acc[m][j]);
      if (FULL) vst(d, v);
      else vst_n(d, v, cl.lanes[j]);
    }
}

inline void run_tile(const Seg* segs, int nseg, int64_t ams, int64_t aks, int64_t bks, const Cols& cl, float* c,
                     int64_t cms, int rows, bool load_c, const float* bias, int act = SEPCONV_ACT_NONE) {
#define SEPCONV_PW_TILE(n)                                                                 \
  (cl.full ? tile<n, true>(segs, nseg, ams, aks, bks, cl, c, cms, rows, load_c, bias, act) \
           : tile<n, false>(segs, nseg, ams, aks, bks, cl, c, cms, rows, load_c, bias, act))
  if (cl.n == NC) SEPCONV_PW_TILE(NC);
  else if (cl.n == 1) SEPCONV_PW_TILE(1);
  else if constexpr (NC == 3) SEPCONV_PW_TILE(2);
#undef SEPCONV_PW_TILE
}
static_assert(NC <= 3, "run_tile instantiates tiles of 1, 2 and NC vectors");

// ---------------------------------------------------------------- forward and backward data
// out[n][M][P] = A (M x K) in[n][K][P] (+ bias), in and out with image strides in_img, out_img.
// ap: A packed [M/MR tiles][K][MR] (rows past M zero).
// ld: the row (channel) stride of in and out, P for NCHW tensors.
void nn_planes(int n, int64_t P, int64_t ld, int M, int K, const float* ap, const float* in, int64_t in_img,
               float* out, int64_t out_img, const float* bias, int act) {
  // the vectors: runs of VL positions of each image, in image order
  const int64_t per = (P + VL - 1) / VL, nvec = n * per;
  const int64_t ntiles = (nvec + NC - 1) / NC;
  const int mt = (M + MR - 1) / MR;
  // Units: (a group of vector tiles, a block of row tiles), each operand's share <= 512 KiB so
  // that both stay in L2 while the unit runs (row tiles outer: a row tile's A stays in L1), cut
  // finer until there are 16 units. All by the shape only.
  constexpr int64_t kShare = 512 << 10;
  int64_t tg = std::max<int64_t>(1, std::min<int64_t>(ntiles, kShare / ((int64_t)K * NC * VL * 4)));
  int64_t mbt = std::max<int64_t>(1, std::min<int64_t>(mt, kShare / ((int64_t)K * MR * 4)));
  auto units = [&] { return ((ntiles + tg - 1) / tg) * ((mt + mbt - 1) / mbt); };
  while (units() < 16 && (tg > 1 || mbt > 1)) {
    if (tg >= mbt && tg > 1) tg = (tg + 1) / 2;
    else mbt = (mbt + 1) / 2;
  }
  const int64_t ngroups = (ntiles + tg - 1) / tg;
  parallel_for(units(), [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; u++) {
      const int64_t t0 = (u % ngroups) * tg, t1 = std::min(ntiles, t0 + tg);
      const int r0 = (int)((u / ngroups) * mbt), r1 = (int)std::min<int64_t>(mt, r0 + mbt);
      for (int r = r0; r < r1; r++) {
        const int rows = std::min(MR, M - r * MR);
        for (int64_t t = t0; t < t1; t++) {
          Cols cl;
          cl.n = (int)std::min<int64_t>(NC, nvec - t * NC);
          cl.full = true;
          for (int j = 0; j < cl.n; j++) {
            const int64_t v = t * NC + j, img = v / per, p0 = (v % per) * VL;
            cl.boff[j] = img * in_img + p0;
            cl.coff[j] = img * out_img + p0;
            cl.lanes[j] = (int)std::min<int64_t>(VL, P - p0);
            cl.full = cl.full && cl.lanes[j] == VL;
          }
          const Seg seg{ap + (int64_t)r * K * MR, in, K};
          run_tile(&seg, 1, 1, MR, ld, cl, out + (int64_t)r * MR * ld, ld, rows, false, bias ? bias + r * MR : nullptr,
                   act);
        }
      }
    }
  });
}

// A = W (trans false: M = c_out rows of K = c_in) or W^T (trans: M = c_in, K = c_out), w row-major
// [c_out][c_in], packed into [tile][k][MR].
void pack_a(const float* w, int cout, int cin, bool trans, float* ap) {
  const int M = trans ? cin : cout, K = trans ? cout : cin, mt = (M + MR - 1) / MR;
  for (int r = 0; r < mt; r++)
    for (int k = 0; k < K; k++)
      for (int i = 0; i < MR; i++) {
        const int m = r * MR + i;
        ap[((int64_t)r * K + k) * MR + i] = m >= M ? 0.0f : trans ? w[(int64_t)k * cin + m] : w[(int64_t)m * cin + k];
      }
}

// ---------------------------------------------------------------- backward weight
// t[(img*P + p) * ts + r] = src[img*src_img + r*P + p] for r < rows (ts = rows rounded up to VL;
// the pad columns are read into lanes that are never stored), in blocks of VL x VL.
void transpose_rows(int n, int64_t P, int rows, const float* src, int64_t src_img, int64_t ts, float* t) {
  const int64_t pb = (P + VL - 1) / VL, rb = (rows + VL - 1) / VL;
  parallel_for((int64_t)n * pb, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; u++) {
      const int64_t img = u / pb, p0 = (u % pb) * VL, np = std::min<int64_t>(VL, P - p0);
      const float* s0 = src + img * src_img + p0;
      float* dst = t + (img * P + p0) * ts;
      for (int64_t c0 = 0; c0 < rb * VL; c0 += VL) {
        const int nc = (int)std::min<int64_t>(VL, rows - c0);
        alignas(64) float blk[VL][VL];
        for (int i = 0; i < nc; i++) {
          const float* s = s0 + (c0 + i) * P;
          for (int p = 0; p < np; p++) blk[p][i] = s[p];
        }
        for (int p = 0; p < np; p++) {
          for (int i = nc; i < VL; i++) blk[p][i] = 0.0f;
          vst(dst + p * ts + c0, vld(blk[p]));
        }
      }
    }
  });
}

// C[M][N] (row stride N) = sum over positions of a[img][m][p] * t_src[img][j][p]: A's rows read
// in place (broadcast), the other operand transposed once. accumulate: C += the sum, else C =.
void weight_nt(int n, int64_t P, int M, int N, const float* a_src, int64_t a_img, const float* t_src,
               int64_t t_img, float* C, bool accumulate) {
  // the transposed rows' stride: N rounded up to VL, plus VL when that is a multiple of 256
  // floats (a power-of-two stride would map a chunk's rows onto the same cache sets)
  int64_t ts = (N + VL - 1) / VL * VL;
  if (ts % 256 == 0) ts += VL;
  const int64_t total = (int64_t)n * P;
  Workspace tw((size_t)(total * ts));
  float* t = tw.data();
  transpose_rows(n, P, N, t_src, t_img, ts, t);
  const int64_t csize = (int64_t)M * N;
  const int mt = (M + MR - 1) / MR;
  constexpr int kBlockTiles = 4;  // row tiles per unit
  const int nob = (mt + kBlockTiles - 1) / kBlockTiles;
  // slices of positions: enough units for the pool, >= 256 positions each, partials <= 8M floats
  int64_t slices = std::max<int64_t>(1, std::min<int64_t>((16 + nob - 1) / nob, total / 256));
  slices = std::max<int64_t>(1, std::min<int64_t>(slices, ((int64_t)8 << 20) / csize));
  Workspace partw(slices > 1 ? (size_t)(slices * csize) : 0);
  // positions per pass over the unit's tiles: their transposed rows stay in L2
  const int64_t chunk = std::max<int64_t>(64, std::min<int64_t>(2048, ((int64_t)128 << 10) / ts));
  const int ncv = (N + VL - 1) / VL;
  parallel_for(slices * nob, [&](int64_t u0, int64_t u1) {
    std::vector<Seg> segs((size_t)(chunk / P + 2));
    for (int64_t u = u0; u < u1; u++) {
      const int64_t s = u / nob;
      const int ob = (int)(u % nob);
      const int64_t q0 = total * s / slices, q1 = total * (s + 1) / slices;
      float* c = slices > 1 ? partw.data() + s * csize : C;
      const bool fresh = slices > 1 || !accumulate;  // a partial starts at 0
      for (int64_t c0 = q0; c0 < q1; c0 += chunk) {
        const int64_t c1 = std::min(q1, c0 + chunk);
        for (int r = ob * kBlockTiles; r < std::min(mt, (ob + 1) * kBlockTiles); r++) {
          const int rows = std::min(MR, M - r * MR);
          for (int v0 = 0; v0 < ncv; v0 += NC) {
            Cols cl;
            cl.n = std::min(NC, ncv - v0);
            cl.full = true;
            for (int j = 0; j < cl.n; j++) {
              const int i0 = (v0 + j) * VL;
              cl.boff[j] = i0, cl.coff[j] = i0;
              cl.lanes[j] = std::min(VL, N - i0);
              cl.full = cl.full && cl.lanes[j] == VL;
            }
            float* ct = c + (int64_t)r * MR * N;
            const bool load = !(c0 == q0 && fresh);
            // positions [c0, c1), one segment per image run (A's rows are per image)
            for (int m = 0; m < (rows == MR ? 1 : rows); m++) {
              // the last row tile goes one row at a time (its MR rows broadcast that row)
              const int64_t off = (int64_t)r * MR * P + (int64_t)m * P;
              int nseg = 0;
              for (int64_t q = c0; q < c1; nseg++) {
                const int64_t img = q / P, p = q % P, len = std::min(c1 - q, P - p);
                segs[nseg] = Seg{a_src + img * a_img + off + p, t + q * ts, len};
                q += len;
              }
              run_tile(segs.data(), nseg, rows == MR ? P : 0, 1, ts, cl, ct + (int64_t)m * N, N,
                       rows == MR ? MR : 1, load, nullptr);
            }
          }
        }
      }
    }
  });
  if (slices > 1)
    parallel_for((csize + 4095) / 4096, [&](int64_t b0, int64_t b1) {
      for (int64_t e = b0 * 4096; e < std::min(csize, b1 * 4096); e++) {
        float sum = accumulate ? C[e] : 0.0f;
        for (int64_t k = 0; k < slices; k++) sum += partw.data()[k * csize + e];
        C[e] = sum;
      }
    });
}

// dw_g (c_out x c_in) += dy_g x_g^T. The operand with fewer channels is the one transposed:
// dw directly when that is x, else dw^T into scratch, added to dw transposed.
void weight_group(const ConvGeom& g, const float* x, const float* dy, int gi, float* dw) {
  const int64_t P = g.in_plane();
  const int cout = g.cout_g, cin = g.cin_g;
  const float* xg = x + (int64_t)gi * cin * P;
  const float* dyg = dy + (int64_t)gi * cout * P;
  const int64_t x_img = (int64_t)g.c_in * P, dy_img = (int64_t)g.c_out * P;
  if (cin <= cout) {
    weight_nt(g.n, P, cout, cin, dyg, dy_img, xg, x_img, dw, true);
    return;
  }
  Workspace tw((size_t)cout * cin);
  weight_nt(g.n, P, cin, cout, xg, x_img, dyg, dy_img, tw.data(), false);
  const float* t = tw.data();
  parallel_for(cout, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o++)
      for (int64_t i = 0; i < cin; i++) dw[o * cin + i] += t[i * cout + o];
  });
}

bool applies(const ConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}
// Forward and data read B's rows at a stride of one plane: from 16x16 planes up, that stride
// (1 KiB and more) makes the K rows of a tile fight for the same cache sets, and the GEMM path,
// which packs B, is faster (bench/notes/pointwise.md). Planes under VL positions go through
// nn_any's gather and scatter, whose plane for the kernel is the batch's.
bool planes_fit(const ConvGeom& g) {
  return g.in_plane() <= 64 && (g.in_plane() >= VL || g.n * g.in_plane() >= 4 * VL);
}
// Backward weight wins on planes up to 8x8 and from 32x32 (where the GEMM path's packing of
// long dY rows dominates), and loses on 16x16 (28% vs 33-40% of the peak, measured): GEMM there.
bool weight_planes_fit(const ConvGeom& g) { return g.in_plane() <= 64 || g.in_plane() >= 1024; }

}  // namespace

// nn_planes, except that planes smaller than a vector (2x2, 1x1) are first laid side by side:
// in's K rows of every image gathered into one [K][n*P] plane, the result scattered back. Those
// tensors are small (MobileNetV1's 1024x2x2 at batch 64: 1 MiB) next to their FLOPs.
void nn_any(int n, int64_t P, int M, int K, const float* ap, const float* in, int64_t in_img, float* out,
            int64_t out_img, const float* bias, int act) {
  if (P >= VL) {
    nn_planes(n, P, P, M, K, ap, in, in_img, out, out_img, bias, act);
    return;
  }
  const int64_t cols = (int64_t)n * P;
  // the rows' stride: cols rounded up to VL, plus VL when a multiple of 256 floats (a 1 KiB
  // multiple puts a tile's K rows on the same cache sets)
  int64_t ld = (cols + VL - 1) / VL * VL;
  if (ld % 256 == 0) ld += VL;
  Workspace bw((size_t)(K * ld)), cw((size_t)(M * ld));
  float *b = bw.data(), *c = cw.data();
  parallel_for(K, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; k++)
      for (int i = 0; i < n; i++) std::memcpy(b + k * ld + i * P, in + i * in_img + k * P, sizeof(float) * P);
  });
  nn_planes(1, cols, ld, M, K, ap, b, 0, c, 0, bias, act);
  parallel_for(M, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; m++)
      for (int i = 0; i < n; i++) std::memcpy(out + i * out_img + m * P, c + m * ld + i * P, sizeof(float) * P);
  });
}

bool pointwise_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, int act, float* y) {
  if (!applies(g) || !planes_fit(g)) return false;
  const int M = g.cout_g, K = g.cin_g, mt = (M + MR - 1) / MR;
  Workspace ap((size_t)mt * MR * K);
  const int64_t P = g.in_plane();
  for (int gi = 0; gi < g.groups; gi++) {
    pack_a(w + (int64_t)gi * M * K, M, K, false, ap.data());
    nn_any(g.n, P, M, K, ap.data(), x + (int64_t)gi * K * P, (int64_t)g.c_in * P, y + (int64_t)gi * M * P,
           (int64_t)g.c_out * P, bias ? bias + (int64_t)gi * M : nullptr, act);
  }
  return true;
}

int pointwise_backward(const ConvGeom& g, int mask, const float* x, const float* w, const float* dy, float* dx,
                       float* dw) {
  if (!applies(g)) return 0;
  const int64_t P = g.in_plane();
  int done = 0;
  if ((mask & SEPCONV_GRAD_INPUT) && planes_fit(g)) {
    const int M = g.cin_g, K = g.cout_g, mt = (M + MR - 1) / MR;
    Workspace ap((size_t)mt * MR * K);
    for (int gi = 0; gi < g.groups; gi++) {
      pack_a(w + (int64_t)gi * K * M, K, M, true, ap.data());
      nn_any(g.n, P, M, K, ap.data(), dy + (int64_t)gi * K * P, (int64_t)g.c_out * P, dx + (int64_t)gi * M * P,
             (int64_t)g.c_in * P, nullptr, SEPCONV_ACT_NONE);
    }
    done |= SEPCONV_GRAD_INPUT;
  }
  if ((mask & SEPCONV_GRAD_WEIGHT) && weight_planes_fit(g)) {
    for (int gi = 0; gi < g.groups; gi++) weight_group(g, x, dy, gi, dw + (int64_t)gi * g.cout_g * g.cin_g);
    done |= SEPCONV_GRAD_WEIGHT;
  }
  return done;
}

#else  // generic: the GEMM path runs pointwise convolutions

bool pointwise_forward(const ConvGeom&, const float*, const float*, const float*, int, float*) { return false; }
int pointwise_backward(const ConvGeom&, int, const float*, const float*, const float*, float*, float*) { return 0; }

#endif

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
