// GEMM-based convolutions: the fast path for dense, grouped and pointwise convolutions, and the
// Caffe-style im2col + sgemm baseline (ALGO_IM2COL); also the bias gradient every CPU
// convolution family shares (dbias +=). See conv.h for the family contract.
//
// Per group the convolution is the GEMM  Y_g[cout_g][cols] = W_g[cout_g][K] . X_g[K][cols]
// with K = cin_g*kh*kw and one column per output position. The fast path lays several
// images side by side in the column dimension when planes are small (so the GEMM is wide),
// skips im2col for 1x1 / stride 1 / pad 0, and splits one image's columns into pieces when
// its patch matrix would not fit the scratch budget. Bias and activation are the epilogue of
// each unit: applied to the unit's output columns right after its GEMM.
//
// Two ways of running the same work units (image chunk x group):
//  - entry mode: units one after another on the entry thread; im2col, scatter and col2im
//    are parallel loops and the GEMM is sepconv::gemm (the attached BLAS, or the built-in
//    kernel split over column blocks).
//  - task mode: units in parallel_for, each on one thread with gemm_serial and its own
//    scratch. Used for many groups (always), and whenever there are >= kMinTasks units unless
//    a BLAS is attached and the active ISA has no AVX-512 kernel (see use_tasks).
// The forward and backward-data sums (over K and over cout_g) do not depend on how the work is
// split, so both modes give the same bits with the built-in GEMM. Backward-weight sums over
// the batch in a fixed order whose chunking depends only on the shapes, the ISA and whether a
// BLAS is attached, never on the thread count. (An attached OpenBLAS is itself not
// bit-identical across its thread counts.)
#include <algorithm>
#include <cstring>
#include <memory>

#include "conv.h"
#include "kernels/gemm.h"

namespace sepconv {
namespace {

constexpr int64_t kEntryBudget = (int64_t)8 << 20;  // scratch floats in entry mode (32 MiB)
constexpr int64_t kTaskBudget = (int64_t)4 << 20;   // scratch floats per task (16 MiB)
constexpr int64_t kEntryCols = 4096;  // target GEMM width in entry mode (BLAS threads need it)
constexpr int64_t kTaskCols = 1024;   // target GEMM width of a task (amortises packing W)
constexpr int kManyGroups = 4;        // from this many groups, groups run as parallel tasks
constexpr int64_t kMinTasks = 4;      // fewer units than this run in entry mode
constexpr int64_t kTaskUnits = 8;     // task mode cuts small-plane batches into this many

// par: entry mode. Its helper loops (im2col, scatter, col2im) run on the pool unless a BLAS
// is attached: the BLAS threads spin between calls and would fight the pool for the cores.
void for_range(bool par, int64_t count, const std::function<void(int64_t, int64_t)>& f) {
  if (count <= 0) return;
  if (par && !blas_attached()) parallel_for(count, f);
  else f(0, count);
}

void mm(bool par, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
        const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (par) gemm(ta, tb, (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
  else gemm_serial(ta, tb, (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

// ---------------------------------------------------------------- packed weights
// Task mode packs the A operand (forward: W_g, backward-data: W_g^T) once per call into the
// built-in kernel's micro-panels, shared read-only by every task: before, each task re-packed
// all of W_g per GEMM of ~1000 columns. The ISA is read once so that packing and multiplying
// use the same panel layout; the bits equal gemm_serial's.

struct PackedA {
  int isa, m, k;
  size_t per_group;  // floats per group
  Workspace ws;
  // Packs op(A_g) (m x k) of every group; A_g = a + gi*group_stride, leading dimension lda.
  PackedA(int isa_, bool trans, int m_, int k_, int groups, const float* a, int64_t group_stride,
          int lda)
      : isa(isa_), m(m_), k(k_), per_group(SEPCONV_ISA_CALL_AT(isa_, gemm_packed_a_size, m_, k_)),
        ws(per_group * groups) {
    const int rows = SEPCONV_ISA_CALL_AT(isa, gemm_mr) * 16;  // whole micro-panels per piece
    const int64_t pieces = (m + rows - 1) / rows;
    parallel_for(pieces * groups, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; t++) {
        const int gi = (int)(t / pieces), r0 = (int)(t % pieces) * rows;
        SEPCONV_ISA_CALL_AT(isa, gemm_pack_a, trans, m, k, 1.0f, a + gi * group_stride, lda, r0,
                      r0 + rows, ws.data() + gi * per_group);
      }
    });
  }
  void mul(int gi, int n, const GemmB& b, float beta, float* c, int64_t ldc) const {
    SEPCONV_ISA_CALL_AT(isa, gemm_serial_packed_a, ws.data() + gi * per_group, m, n, k, b, beta, c,
                  (int)ldc);
  }
};

// ---------------------------------------------------------------- im2col / col2im
// Row r = (ic, ky, kx) of one image's patch matrix, output positions [q0, q1). xg points at
// the image's first channel of the group. Padding reads as zero.
struct RowGeom {
  int64_t ky_off, kx_off;  // iy = oy*sh + ky_off, ix = ox*sw + kx_off
  int lo, hi;              // output columns ox whose input column is inside [0, w)
};

inline RowGeom row_geom(const ConvGeom& g, int64_t r) {
  RowGeom rg;
  const int kx = (int)(r % g.kw), ky = (int)((r / g.kw) % g.kh);
  rg.ky_off = (int64_t)ky * g.dh - g.ph;
  rg.kx_off = (int64_t)kx * g.dw - g.pw;
  int64_t lo = rg.kx_off >= 0 ? 0 : (-rg.kx_off + g.sw - 1) / g.sw;
  int64_t last = (int64_t)g.w - 1 - rg.kx_off;
  int64_t hi = last < 0 ? 0 : last / g.sw + 1;
  lo = std::min<int64_t>(lo, g.ow);
  hi = std::max(lo, std::min<int64_t>(hi, g.ow));
  rg.lo = (int)lo, rg.hi = (int)hi;
  return rg;
}

void im2col_row(const ConvGeom& g, const float* xg, int64_t r, int64_t q0, int64_t q1,
                float* dst) {
  RowGeom rg = row_geom(g, r);
  const float* plane = xg + (r / ((int64_t)g.kh * g.kw)) * g.in_plane();
  for (int64_t q = q0; q < q1;) {
    int oy = (int)(q / g.ow), ox0 = (int)(q % g.ow);
    int ox1 = (int)std::min<int64_t>(g.ow, ox0 + (q1 - q));
    float* d = dst + (q - q0) - ox0;  // d[ox]
    int64_t iy = (int64_t)oy * g.sh + rg.ky_off;
    if (iy < 0 || iy >= g.h) {
      for (int ox = ox0; ox < ox1; ox++) d[ox] = 0.0f;
    } else {
      const float* row = plane + iy * g.w;
      int a = std::min(std::max(rg.lo, ox0), ox1), b = std::min(std::max(rg.hi, a), ox1);
      for (int ox = ox0; ox < a; ox++) d[ox] = 0.0f;
      if (g.sw == 1) {
        if (b > a) std::memcpy(d + a, row + (a + rg.kx_off), sizeof(float) * (b - a));
      } else {
        for (int ox = a; ox < b; ox++) d[ox] = row[(int64_t)ox * g.sw + rg.kx_off];
      }
      for (int ox = b; ox < ox1; ox++) d[ox] = 0.0f;
    }
    q += ox1 - ox0;
  }
}

// im2col_row for a whole output plane, with the row geometry computed once by the caller.
void im2col_plane(const ConvGeom& g, const RowGeom& rg, const float* plane, float* dst) {
  const int ow = g.ow, lo = rg.lo, hi = rg.hi;
  for (int oy = 0; oy < g.oh; oy++, dst += ow) {
    int64_t iy = (int64_t)oy * g.sh + rg.ky_off;
    if (iy < 0 || iy >= g.h) {
      for (int ox = 0; ox < ow; ox++) dst[ox] = 0.0f;
      continue;
    }
    const float* row = plane + iy * g.w;
    for (int ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
    if (g.sw == 1)
      for (int ox = lo; ox < hi; ox++) dst[ox] = row[ox + rg.kx_off];
    else if (g.sw == 2)
      for (int ox = lo; ox < hi; ox++) dst[ox] = row[2 * (int64_t)ox + rg.kx_off];
    else
      for (int ox = lo; ox < hi; ox++) dst[ox] = row[(int64_t)ox * g.sw + rg.kx_off];
    for (int ox = hi; ox < ow; ox++) dst[ox] = 0.0f;
  }
}

// The adjoint of im2col_row: dxg[...] += src for the cells row r reads.
void col2im_row(const ConvGeom& g, float* dxg, int64_t r, int64_t q0, int64_t q1,
                const float* src) {
  RowGeom rg = row_geom(g, r);
  float* plane = dxg + (r / ((int64_t)g.kh * g.kw)) * g.in_plane();
  for (int64_t q = q0; q < q1;) {
    int oy = (int)(q / g.ow), ox0 = (int)(q % g.ow);
    int ox1 = (int)std::min<int64_t>(g.ow, ox0 + (q1 - q));
    const float* s = src + (q - q0) - ox0;
    int64_t iy = (int64_t)oy * g.sh + rg.ky_off;
    if (iy >= 0 && iy < g.h) {
      float* row = plane + iy * g.w;
      int a = std::min(std::max(rg.lo, ox0), ox1), b = std::min(std::max(rg.hi, a), ox1);
      if (g.sw == 1) {
        for (int ox = a; ox < b; ox++) row[ox + rg.kx_off] += s[ox];
      } else {
        for (int ox = a; ox < b; ox++) row[(int64_t)ox * g.sw + rg.kx_off] += s[ox];
      }
    }
    q += ox1 - ox0;
  }
}

// ---------------------------------------------------------------- planning
struct Plan {
  int64_t K, P;     // GEMM depth per group, output plane
  bool direct;      // 1x1, stride 1, no padding: X_g is the patch matrix
  int nb;           // images per chunk
  int64_t nchunks;  // ceil(n / nb)
  int64_t cw;       // most columns per GEMM (a chunk of nb > 1 images is never split)
  int64_t tables;   // float offset of the index tables in the scratch
  size_t scratch;   // floats per unit of work
};

Plan make_plan(const ConvGeom& g, bool entry) {
  Plan p;
  p.K = g.weights_per_out();
  p.P = g.out_plane();
  p.direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
  int64_t budget = entry ? kEntryBudget : kTaskBudget;
  int64_t target = entry ? kEntryCols : kTaskCols;
  int64_t per_col = p.K + g.cout_g;
  int64_t cw_max = std::max<int64_t>(64, budget / per_col);
  int64_t want = std::min(target, cw_max);
  // 1x1 / stride 1 / no padding reads X in place when one image is wide enough; narrower
  // planes are gathered side by side (a copy, cheaper than re-packing W for every image).
  if (p.direct && !entry) want = std::min<int64_t>(want, 256);
  if (p.P >= want) {
    p.nb = 1;
    int64_t pieces = (p.P + cw_max - 1) / cw_max;
    p.cw = (p.P + pieces - 1) / pieces;
  } else {
    p.nb = (int)std::max<int64_t>(1, std::min<int64_t>(g.n, want / p.P));
    // Task mode shares the packed W, so narrow chunks cost little: cut small-plane batches
    // into >= kTaskUnits units (>= 64 columns each) instead of falling back to entry mode.
    if (!entry) {
      const int64_t chunks = (kTaskUnits + g.groups - 1) / g.groups;
      const int64_t cap = std::max<int64_t>((g.n + chunks - 1) / chunks, (64 + p.P - 1) / p.P);
      p.nb = (int)std::max<int64_t>(1, std::min<int64_t>(p.nb, cap));
    }
    p.cw = p.nb * p.P;
  }
  p.nchunks = (g.n + p.nb - 1) / p.nb;
  p.tables = (per_col * p.cw + 15) / 16 * 16;
  p.scratch = (size_t)(p.tables + 2 * (p.K + g.cout_g + p.cw));  // + int64 row/column index tables
  return p;
}

inline const float* x_at(const ConvGeom& g, const float* x, int64_t img, int gi) {
  return x + ((int64_t)img * g.c_in + (int64_t)gi * g.cin_g) * g.in_plane();
}
inline float* dx_at(const ConvGeom& g, float* dx, int64_t img, int gi) {
  return dx + ((int64_t)img * g.c_in + (int64_t)gi * g.cin_g) * g.in_plane();
}
inline int64_t y_off(const ConvGeom& g, int64_t img, int gi) {
  return ((int64_t)img * g.c_out + (int64_t)gi * g.cout_g) * g.out_plane();
}

// Patch matrix of images [n0, n0+nimg) (whole planes), or of columns [c0, c1) of image n0
// (nimg == 1), into cols[K][cw].
void build_cols(const ConvGeom& g, const Plan& pl, bool par, const float* x, int64_t n0,
                int nimg, int gi, int64_t c0, int64_t c1, float* cols) {
  const int64_t cw = c1 - c0, kk = (int64_t)g.kh * g.kw;
  for_range(par, pl.K, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      float* dst = cols + r * cw;
      if (nimg == 1) {
        im2col_row(g, x_at(g, x, n0, gi), r, c0, c1, dst);
        continue;
      }
      const RowGeom rg = row_geom(g, r);
      const int64_t ch = r / kk;
      for (int i = 0; i < nimg; i++, dst += pl.P) {
        const float* plane = x_at(g, x, n0 + i, gi) + ch * g.in_plane();
        if (pl.direct) std::memcpy(dst, plane, sizeof(float) * pl.P);
        else im2col_plane(g, rg, plane, dst);
      }
    }
  });
}

// dY_g of images [n0, n0+nimg) laid side by side: dyb[cout_g][nimg*P].
void gather_dy(const ConvGeom& g, const Plan& pl, bool par, const float* dy, int64_t n0,
               int nimg, int gi, float* dyb) {
  const int64_t cw = (int64_t)nimg * pl.P;
  for_range(par, g.cout_g, [&](int64_t o0, int64_t o1) {
    for (int64_t oc = o0; oc < o1; oc++)
      for (int i = 0; i < nimg; i++)
        std::memcpy(dyb + oc * cw + (int64_t)i * pl.P, dy + y_off(g, n0 + i, gi) + oc * pl.P,
                    sizeof(float) * pl.P);
  });
}

// ---------------------------------------------------------------- units of work
// GEMM with the shared packed A when there is one, else mm().
void mul(const PackedA* pa, bool par, bool ta, int gi, int64_t m, int64_t n, int64_t k,
         const float* a, int64_t lda, const GemmB& b, float beta, float* c, int64_t ldc) {
  if (pa) pa->mul(gi, (int)n, b, beta, c, ldc);
  else mm(par, ta, false, m, n, k, a, lda, b.b, b.ldb, beta, c, ldc);
}

// Index tables of the fused patch matrix (no padding, so every read is inside X): row
// r = (ic, ky, kx) and column c of images [n0, ...) read xg[row_off[r] + col_off[c - c0]].
void patch_rows(const ConvGeom& g, int64_t K, int64_t* row_off) {
  for (int64_t r = 0; r < K; r++) {
    const int64_t kx = r % g.kw, ky = (r / g.kw) % g.kh, ic = r / ((int64_t)g.kh * g.kw);
    row_off[r] = ic * g.in_plane() + ky * g.dh * g.w + kx * g.dw;
  }
}
void patch_cols(const ConvGeom& g, int64_t P, int64_t c0, int64_t c1, int64_t* col_off) {
  const int64_t img_stride = (int64_t)g.c_in * g.in_plane();
  for (int64_t c = c0; c < c1; c++) {
    const int64_t q = c % P;
    col_off[c - c0] = (c / P) * img_stride + (q / g.ow) * g.sh * g.w + (q % g.ow) * g.sw;
  }
}

// The epilogue of a unit's output rows while they are in cache: d[j] = act(s[j] + bias), with
// d == s in place. act NONE without a bias is left to the caller (nothing to do in place).
inline void epilogue(const float* s, float* d, int64_t len, float bias, int act) {
  switch (act) {
    case SEPCONV_ACT_RELU:
      for (int64_t j = 0; j < len; j++) d[j] = activate(SEPCONV_ACT_RELU, s[j] + bias);
      break;
    case SEPCONV_ACT_RELU6:
      for (int64_t j = 0; j < len; j++) d[j] = activate(SEPCONV_ACT_RELU6, s[j] + bias);
      break;
    default:
      for (int64_t j = 0; j < len; j++) d[j] = s[j] + bias;
  }
}

void forward_unit(const ConvGeom& g, const Plan& pl, bool par, int64_t n0, int nimg, int gi,
                  const float* x, const float* w, const float* bias, int act, float* y,
                  float* scratch, const PackedA* pa) {
  const float* wg = w + (int64_t)gi * g.cout_g * pl.K;
  const float* bg = bias ? bias + (int64_t)gi * g.cout_g : nullptr;
  const int64_t total = (int64_t)nimg * pl.P;
  // Strided or k x k without padding (1x1 stride 2): the packed-A kernel reads X straight
  // into its B panels, no im2col copy. Not for 1x1 stride 1 planes side by side: there the
  // memcpy gather + contiguous packing beat the per-element indexed packing (mb2 144>32@8
  // 0.80 -> 0.54 of sgemm when fused).
  const bool fused = pa && g.ph == 0 && g.pw == 0 && !pl.direct;
  int64_t* row_off = reinterpret_cast<int64_t*>(scratch + pl.tables);
  int64_t* col_off = row_off + pl.K + g.cout_g;
  if (fused) patch_rows(g, pl.K, row_off);
  for (int64_t c0 = 0; c0 < total; c0 += pl.cw) {
    const int64_t c1 = std::min(total, c0 + pl.cw), cw = c1 - c0;
    GemmB b{nullptr, 0, false, nullptr, nullptr};
    float* cols = scratch;
    float* out = scratch + pl.K * cw;
    if (pl.direct && nimg == 1) {
      b.b = x_at(g, x, n0, gi) + c0, b.ldb = pl.P;
    } else if (fused) {
      patch_cols(g, pl.P, c0, c1, col_off);
      b.b = x_at(g, x, n0, gi), b.row_off = row_off, b.col_off = col_off;
    } else {
      build_cols(g, pl, par, x, n0, nimg, gi, c0, c1, cols);
      b.b = cols, b.ldb = cw;
    }
    if (nimg == 1) {
      float* c = y + y_off(g, n0, gi) + c0;
      mul(pa, par, false, gi, g.cout_g, cw, pl.K, wg, pl.K, b, 0.0f, c, pl.P);
      if (bg || act != SEPCONV_ACT_NONE)
        for_range(par, g.cout_g, [&](int64_t o0, int64_t o1) {
          for (int64_t oc = o0; oc < o1; oc++)
            epilogue(c + oc * pl.P, c + oc * pl.P, cw, bg ? bg[oc] : 0.0f, act);
        });
    } else {
      mul(pa, par, false, gi, g.cout_g, cw, pl.K, wg, pl.K, b, 0.0f, out, cw);
      for_range(par, g.cout_g, [&](int64_t o0, int64_t o1) {
        for (int64_t oc = o0; oc < o1; oc++) {
          const float bv = bg ? bg[oc] : 0.0f;
          for (int i = 0; i < nimg; i++)
            epilogue(out + oc * cw + (int64_t)i * pl.P, y + y_off(g, n0 + i, gi) + oc * pl.P, pl.P, bv,
                     act);
        }
      });
    }
  }
}

void backward_data_unit(const ConvGeom& g, const Plan& pl, bool par, int64_t n0, int nimg,
                        int gi, const float* w, const float* dy, float* dx, float* scratch,
                        const PackedA* pa) {
  const float* wg = w + (int64_t)gi * g.cout_g * pl.K;
  const int64_t total = (int64_t)nimg * pl.P;
  const bool write_direct = pl.direct && nimg == 1;
  if (!write_direct)
    for_range(par, (int64_t)nimg * g.cin_g, [&](int64_t a, int64_t b) {
      for (int64_t t = a; t < b; t++)
        std::memset(dx_at(g, dx, n0 + t / g.cin_g, gi) +
                        (t % g.cin_g) * g.in_plane(),
                    0, sizeof(float) * g.in_plane());
    });
  for (int64_t c0 = 0; c0 < total; c0 += pl.cw) {
    const int64_t c1 = std::min(total, c0 + pl.cw), cw = c1 - c0;
    float* dcols = scratch;
    float* dyb = scratch + pl.K * cw;
    GemmB b{nullptr, 0, false, nullptr, nullptr};
    if (nimg == 1) {
      b.b = dy + y_off(g, n0, gi) + c0, b.ldb = pl.P;
    } else if (pa) {  // dY of the images side by side, read straight into the B panels
      int64_t* row_off = reinterpret_cast<int64_t*>(scratch + pl.tables);
      int64_t* col_off = row_off + pl.K + g.cout_g;
      for (int64_t oc = 0; oc < g.cout_g; oc++) row_off[oc] = oc * pl.P;
      for (int64_t c = 0; c < cw; c++)
        col_off[c] = (c / pl.P) * g.c_out * pl.P + c % pl.P;
      b.b = dy + y_off(g, n0, gi), b.row_off = row_off, b.col_off = col_off;
    } else {
      gather_dy(g, pl, par, dy, n0, nimg, gi, dyb);
      b.b = dyb, b.ldb = cw;
    }
    if (write_direct) {
      float* c = dx_at(g, dx, n0, gi) + c0;
      mul(pa, par, true, gi, pl.K, cw, g.cout_g, wg, pl.K, b, 0.0f, c, pl.P);
      continue;
    }
    mul(pa, par, true, gi, pl.K, cw, g.cout_g, wg, pl.K, b, 0.0f, dcols, cw);
    const int64_t kk = (int64_t)g.kh * g.kw;
    for_range(par, g.cin_g, [&](int64_t i0, int64_t i1) {
      for (int64_t ic = i0; ic < i1; ic++)
        for (int i = 0; i < nimg; i++) {
          float* dxg = dx_at(g, dx, n0 + i, gi);
          for (int64_t r = ic * kk; r < (ic + 1) * kk; r++)
            col2im_row(g, dxg, r, nimg == 1 ? c0 : 0, nimg == 1 ? c1 : pl.P,
                       dcols + r * cw + (int64_t)i * pl.P);
        }
    });
  }
}

// dwg[cout_g][K] (beta_first: 0 overwrites, 1 accumulates) += sum over chunks [k0, k1).
void backward_weight_unit(const ConvGeom& g, const Plan& pl, bool par, int64_t k0, int64_t k1,
                          int gi, const float* x, const float* dy, float* dwg, float beta_first,
                          float* scratch) {
  float beta = beta_first;
  for (int64_t ci = k0; ci < k1; ci++) {
    const int64_t n0 = ci * pl.nb;
    const int nimg = (int)std::min<int64_t>(pl.nb, g.n - n0);
    const int64_t total = (int64_t)nimg * pl.P;
    for (int64_t c0 = 0; c0 < total; c0 += pl.cw) {
      const int64_t c1 = std::min(total, c0 + pl.cw), cw = c1 - c0;
      float* cols = scratch;
      float* dyb = scratch + pl.K * cw;
      const float *a, *b;
      int64_t lda, ldb;
      if (nimg == 1) {
        a = dy + y_off(g, n0, gi) + c0, lda = pl.P;
      } else {
        gather_dy(g, pl, par, dy, n0, nimg, gi, dyb);
        a = dyb, lda = cw;
      }
      if (pl.direct && nimg == 1) {
        b = x_at(g, x, n0, gi) + c0, ldb = pl.P;
      } else {
        build_cols(g, pl, par, x, n0, nimg, gi, c0, c1, cols);
        b = cols, ldb = cw;
      }
      mm(par, false, true, g.cout_g, pl.K, cw, a, lda, b, ldb, beta, dwg, pl.K);
      beta = 1.0f;
    }
  }
}

// Task mode: units in parallel, each with the built-in kernel (on AVX-512 as fast per core as
// OpenBLAS, and free of fork/join per GEMM). Entry mode when there are too few units (batch 1),
// or with a BLAS attached and no AVX-512 kernel. The choice depends on the shapes, the ISA and
// whether a BLAS is attached, never on the thread count.
bool use_tasks(const ConvGeom& g) {
  if (g.groups >= kManyGroups) return true;
  if (blas_attached() && active_isa() != SEPCONV_ISA_AVX512) return false;
  return make_plan(g, false).nchunks * g.groups >= kMinTasks;
}

// Runs unit(n0, nimg, gi, par, scratch) over every (chunk, group).
template <class Unit>
void run_units(const ConvGeom& g, bool tasks, Unit&& unit) {
  const Plan pl = make_plan(g, !tasks);
  if (!tasks) {
    Workspace ws(pl.scratch);
    for (int64_t ci = 0; ci < pl.nchunks; ci++)
      for (int gi = 0; gi < g.groups; gi++) {
        int64_t n0 = ci * pl.nb;
        unit(pl, true, n0, (int)std::min<int64_t>(pl.nb, g.n - n0), gi, ws.data());
      }
    return;
  }
  parallel_for(pl.nchunks * g.groups, [&](int64_t t0, int64_t t1) {
    Workspace ws(pl.scratch);
    for (int64_t t = t0; t < t1; t++) {
      int64_t ci = t / g.groups;
      int gi = (int)(t % g.groups);
      int64_t n0 = ci * pl.nb;
      unit(pl, false, n0, (int)std::min<int64_t>(pl.nb, g.n - n0), gi, ws.data());
    }
  });
}

void gemm_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw) {
  const int64_t wsize = (int64_t)g.cout_g * g.weights_per_out();  // per group
  if (blas_attached() && active_isa() != SEPCONV_ISA_AVX512 && g.groups < kManyGroups) {
    // The BLAS parallelises each GEMM; chunks are summed into dw in order.
    const Plan pl = make_plan(g, true);
    Workspace ws(pl.scratch);
    for (int gi = 0; gi < g.groups; gi++)
      backward_weight_unit(g, pl, true, 0, pl.nchunks, gi, x, dy, dw + gi * wsize, 1.0f,
                           ws.data());
    return;
  }
  // Tasks (group, slice of the batch). With few groups the batch is cut into S slices summed
  // into S partial buffers and added to dw in slice order; S depends on the shapes only.
  const Plan pl = make_plan(g, false);
  int64_t slices = 1;
  if (g.groups < kManyGroups) {
    slices = std::min<int64_t>(8, pl.nchunks);
    slices = std::max<int64_t>(1, std::min<int64_t>(slices, kEntryBudget / (wsize * g.groups)));
  }
  Workspace partial(slices > 1 ? (size_t)(slices * g.groups * wsize) : 0);
  parallel_for(slices * g.groups, [&](int64_t t0, int64_t t1) {
    Workspace ws(pl.scratch);
    for (int64_t t = t0; t < t1; t++) {
      int gi = (int)(t / slices);
      int64_t s = t % slices;
      int64_t k0 = pl.nchunks * s / slices, k1 = pl.nchunks * (s + 1) / slices;
      if (slices == 1) {
        backward_weight_unit(g, pl, false, k0, k1, gi, x, dy, dw + gi * wsize, 1.0f, ws.data());
      } else {
        float* part = partial.data() + t * wsize;
        if (k1 > k0)
          backward_weight_unit(g, pl, false, k0, k1, gi, x, dy, part, 0.0f, ws.data());
        else
          std::memset(part, 0, sizeof(float) * wsize);
      }
    }
  });
  if (slices > 1) {
    const int64_t total = g.groups * wsize;
    parallel_for((total + 4095) / 4096, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; b++) {
        int64_t e0 = b * 4096, e1 = std::min(total, e0 + 4096);
        for (int64_t e = e0; e < e1; e++) {
          int gi = (int)(e / wsize);
          int64_t o = e % wsize;
          float s = dw[e];
          for (int64_t k = 0; k < slices; k++) s += partial.data()[(gi * slices + k) * wsize + o];
          dw[e] = s;
        }
      }
    });
  }
}

}  // namespace

// ---------------------------------------------------------------- fast path
void gemm_conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                       int act, float* y) {
  const bool tasks = use_tasks(g);
  const int64_t K = g.weights_per_out();
  std::unique_ptr<PackedA> pa;
  if (tasks)
    pa.reset(new PackedA(active_isa(), false, g.cout_g, (int)K, g.groups, w, g.cout_g * K, (int)K));
  run_units(g, tasks, [&](const Plan& pl, bool par, int64_t n0, int nimg, int gi, float* scratch) {
    forward_unit(g, pl, par, n0, nimg, gi, x, w, bias, act, y, scratch, pa.get());
  });
}

void gemm_conv_backward(const ConvGeom& g, int mask, const float* x, const float* w,
                        const float* dy, float* dx, float* dw, float* dbias) {
  if (mask & SEPCONV_GRAD_INPUT) {
    const bool tasks = use_tasks(g);
    const int64_t K = g.weights_per_out();
    std::unique_ptr<PackedA> pa;  // W_g^T: K x cout_g
    if (tasks)
      pa.reset(new PackedA(active_isa(), true, (int)K, g.cout_g, g.groups, w, g.cout_g * K, (int)K));
    run_units(g, tasks, [&](const Plan& pl, bool par, int64_t n0, int nimg, int gi, float* scratch) {
      backward_data_unit(g, pl, par, n0, nimg, gi, w, dy, dx, scratch, pa.get());
    });
  }
  if (mask & SEPCONV_GRAD_WEIGHT) gemm_backward_weight(g, x, dy, dw);
  if (mask & SEPCONV_GRAD_BIAS) bias_backward(g.n, g.c_out, g.out_plane(), dy, dbias);
}

// ---------------------------------------------------------------- bias gradient
// Shared by every CPU family (depthwise, GEMM, im2col): per channel, float lanes within a
// plane and double across planes, images in order; parallel over channels.
void bias_backward(int n, int c, int64_t plane, const float* dy, float* dbias) {
  parallel_for(c, [&](int64_t c0, int64_t c1) {
    for (int64_t ch = c0; ch < c1; ch++) {
      double s = 0;
      for (int i = 0; i < n; i++) {
        const float* p = dy + ((int64_t)i * c + ch) * plane;
        float part = 0;
        for (int64_t j = 0; j < plane; j++) part += p[j];
        s += part;
      }
      dbias[ch] += (float)s;
    }
  });
}

// ---------------------------------------------------------------- baseline
// Caffe-style: per image and group, im2col of the whole image, then one sgemm.
void im2col_conv_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                         int act, float* y) {
  const int64_t K = g.weights_per_out(), P = g.out_plane();
  Workspace cols((size_t)(K * P));
  for (int n = 0; n < g.n; n++)
    for (int gi = 0; gi < g.groups; gi++) {
      const float* xg = x_at(g, x, n, gi);
      for (int64_t r = 0; r < K; r++) im2col_row(g, xg, r, 0, P, cols.data() + r * P);
      float* yg = y + y_off(g, n, gi);
      gemm(false, false, g.cout_g, (int)P, (int)K, 1.0f, w + (int64_t)gi * g.cout_g * K, (int)K,
           cols.data(), (int)P, 0.0f, yg, (int)P);
      if (bias || act != SEPCONV_ACT_NONE)
        for (int oc = 0; oc < g.cout_g; oc++)
          epilogue(yg + oc * P, yg + oc * P, P, bias ? bias[(int64_t)gi * g.cout_g + oc] : 0.0f, act);
    }
}

void im2col_conv_backward(const ConvGeom& g, int mask, const float* x, const float* w,
                          const float* dy, float* dx, float* dw, float* dbias) {
  const int64_t K = g.weights_per_out(), P = g.out_plane();
  Workspace cols((mask & (SEPCONV_GRAD_INPUT | SEPCONV_GRAD_WEIGHT)) ? (size_t)(K * P) : 0);
  if (mask & SEPCONV_GRAD_INPUT) {
    std::memset(dx, 0, sizeof(float) * (size_t)g.n * g.c_in * g.in_plane());
    for (int n = 0; n < g.n; n++)
      for (int gi = 0; gi < g.groups; gi++) {
        gemm(true, false, (int)K, (int)P, g.cout_g, 1.0f, w + (int64_t)gi * g.cout_g * K, (int)K,
             dy + y_off(g, n, gi), (int)P, 0.0f, cols.data(), (int)P);
        float* dxg = dx_at(g, dx, n, gi);
        for (int64_t r = 0; r < K; r++) col2im_row(g, dxg, r, 0, P, cols.data() + r * P);
      }
  }
  if (mask & SEPCONV_GRAD_WEIGHT) {
    for (int n = 0; n < g.n; n++)
      for (int gi = 0; gi < g.groups; gi++) {
        const float* xg = x_at(g, x, n, gi);
        for (int64_t r = 0; r < K; r++) im2col_row(g, xg, r, 0, P, cols.data() + r * P);
        gemm(false, true, g.cout_g, (int)K, (int)P, 1.0f, dy + y_off(g, n, gi), (int)P,
             cols.data(), (int)P, 1.0f, dw + (int64_t)gi * g.cout_g * K, (int)K);
      }
  }
  if (mask & SEPCONV_GRAD_BIAS) bias_backward(g.n, g.c_out, P, dy, dbias);
}

}  // namespace sepconv
