// The fused depthwise-separable block of sepconv_dwpw_forward (sepconv.h has the formula),
// fp32 NCHW, compiled once per ISA. Contract: y is overwritten; nothing accumulates.
//
// Tile mode. A work unit is one image's tile of output rows [oy0, oy1), or, where planes are
// smaller than kUnitCols outputs, several whole images side by side (so that the GEMMs are wide
// enough for their micro-kernels: a 4x4 plane alone would fill half of one). It
//  1. expands the input rows that the tile's depthwise reads (its rows and the kernel's halo,
//     clipped to the image) with one GEMM, e[c_e][rows*w] = W_ex[c_e][c_in] . x[c_in][rows*w],
//     x's rows read in place by the GEMM's packing, or first gathered side by side for several
//     images (without an expansion, e is x itself);
//  2. writes e + bias, through its activation, into zero-padded lines, one per padded row and
//     column phase (phase p of a row holds its padded columns p, p+s, p+2s, ...: the layout of
//     kernels/depthwise.cpp, one row at a time), so that every tap of any stride is a
//     contiguous vector load;
//  3. runs the depthwise over the lines into h[c_mid][rows*ow] (+ bias, activation): dense, the
//     pointwise's B operand;
//  4. multiplies W_pw . h straight into y's rows (several images: into scratch), then adds
//     bias, activation and the residual while those rows are in cache.
// e, the lines and h live in the thread's scratch: a unit has as many rows (or images) as keep
// them within kTileBytes (L2), so only x, the weights and y touch memory. Both weight matrices are packed
// once per call into the built-in GEMM's panels (gemm_pack_a), shared by every unit.
// Stage mode. Where the batch cannot be cut into kMinUnits tiles of at least kMinRows rows
// (batch 1 on small planes, where everything stays in cache anyway), and for output planes under
// kMinPlane (4x4, 2x2), the three convolutions run one after the other over the batch, each
// parallel on its own (gemm_conv_forward and depthwise_forward with their epilogues), then the
// residual add. Below 8x8 a unit within the L2 budget holds too few columns for the GEMM's
// micro-kernel (MobileNetV2's 4x4 blocks: three images, 48 columns), and the intermediates that
// fusion keeps out of memory are small there: on one core at batch 64, fused 4x4 and 2x2 blocks
// ran at 0.70-0.83x the speed of the stages, 8x8 ones at 0.9-1.3x, 16x16 and 32x32 ones at
// 0.8-1.1x without an expansion and 1.3-2.2x with one (bench/results/folded.md: whole models).
// An output sums the same terms in the same order however the rows are tiled and the units
// shared among threads (the GEMM's sums do not depend on its column count), so results depend
// on neither; the mode depends on the shape alone. The depthwise sums as depthwise.cpp's
// templates do (one accumulator per tap row, bias in the first).
#include <cstring>
#include <memory>

#include "../conv.h"
#include "gemm.h"
#include "simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace {

constexpr int64_t kTileBytes = (int64_t)1 << 20;  // a unit's scratch: e, lines, h (and the gathers)
constexpr int64_t kMinUnits = 4;                  // tile mode needs this many units...
constexpr int kMinRows = 4;                       // ...of this many output rows (or the plane)
constexpr int64_t kUnitCols = 256;                // planes smaller than this go several to a unit
constexpr int64_t kMinPlane = 64;                 // and below this (8x8 outputs), stage by stage

// A unit: nimg images side by side (small planes, whole) or one image's tile of rows.
struct Plan {
  int c_in, c_e, m, c_mid, c_out, h, w, oh, ow, k, s, pad;
  int64_t lw;     // floats per line: ceil((w + 2*pad) / s)
  int nimg;       // images per unit (the last group may have fewer)
  int rows;       // output rows of a tile (the last may have fewer); oh when nimg > 1
  int tiles;      // tiles per image
  int in_rows;    // padded rows a full tile reads: (rows - 1)*s + k
  int64_t xbuf;   // scratch floats: x's rows gathered (nimg > 1 with an expansion), e, lines,
  int64_t ebuf;   // h, and y's rows before their epilogue (nimg > 1)
  int64_t lbuf;
  int64_t hbuf;
  int64_t ybuf;
  int64_t units;
  bool tiled;
  int64_t floats() const { return xbuf + ebuf + lbuf + hbuf + ybuf; }
};

void size_unit(Plan& p, int rows, int nimg, bool expand) {
  p.rows = rows, p.nimg = nimg;
  p.tiles = (p.oh + rows - 1) / rows;
  p.in_rows = (rows - 1) * p.s + p.k;
  const int64_t e_rows = std::min(p.h, p.in_rows);
  p.xbuf = expand && nimg > 1 ? (int64_t)p.c_in * nimg * e_rows * p.w : 0;
  p.ebuf = expand ? (int64_t)p.c_e * nimg * e_rows * p.w : 0;
  p.lbuf = (int64_t)p.c_e * nimg * p.in_rows * p.s * p.lw + 2 * VL;  // slack: the last vector's reads
  p.hbuf = (int64_t)p.c_mid * nimg * rows * p.ow;
  p.ybuf = nimg > 1 ? (int64_t)p.c_out * nimg * rows * p.ow : 0;
}

Plan make_plan(const DwpwGeom& g) {
  Plan p{};
  const int n = g.dw.n;
  p.c_in = g.dw.c_in, p.c_e = g.dw.c_in, p.m = g.dw.cout_g, p.c_mid = g.dw.c_out, p.c_out = g.pw.c_out;
  if (g.expand) p.c_in = g.ex.c_in;
  p.h = g.dw.h, p.w = g.dw.w, p.oh = g.dw.oh, p.ow = g.dw.ow, p.k = g.dw.kh, p.s = g.dw.sh, p.pad = g.dw.ph;
  p.lw = ceil_div((int64_t)p.w + 2 * p.pad, p.s);
  const int64_t plane = (int64_t)p.oh * p.ow;
  // small planes: whole images side by side, towards kUnitCols columns, keeping kMinUnits units
  int nimg = 1;
  if (plane < kUnitCols)
    nimg = (int)std::max<int64_t>(1, std::min<int64_t>(ceil_div(kUnitCols, plane), n / kMinUnits));
  for (; nimg > 1; nimg--) {
    size_unit(p, p.oh, nimg, g.expand);
    if (4 * p.floats() <= kTileBytes) break;
  }
  if (nimg == 1) {
    // the most rows within the budget, then, for small batches, finer tiles down to kMinRows
    int rows = p.oh;
    for (;; rows--) {
      size_unit(p, rows, 1, g.expand);
      if (rows == 1 || 4 * p.floats() <= kTileBytes) break;
    }
    const int64_t want = ceil_div(kMinUnits, n);  // tiles per image
    if (p.tiles < want) rows = std::min(rows, std::max(std::min(p.oh, kMinRows), (int)ceil_div(p.oh, want)));
    rows = (int)ceil_div(p.oh, ceil_div(p.oh, rows));  // even tiles
    size_unit(p, rows, 1, g.expand);
  }
  p.units = ceil_div(n, p.nimg) * p.tiles;
  p.tiled = p.units >= kMinUnits && plane >= kMinPlane;
  return p;
}

// A weight matrix [m][k] packed once for gemm_serial_packed_a, pieces in parallel.
struct PackedW {
  int m, k;
  Workspace ws;
  PackedW(int m_, int k_, const float* a) : m(m_), k(k_), ws(gemm_packed_a_size(m_, k_)) {
    const int rows = gemm_mr() * 16;
    parallel_for((m + rows - 1) / rows, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; t++)
        gemm_pack_a(false, m, k, 1.0f, a, k, (int)t * rows, (int)(t + 1) * rows, ws.data());
    });
  }
  // c[m][n] (leading dimension ldc) = this . b[k][n] (leading dimension ldb)
  void mul(const float* b, int64_t ldb, int n, float* c, int64_t ldc) const {
    gemm_serial_packed_a(ws.data(), m, n, k, GemmB{b, ldb, false, nullptr, nullptr}, 0.0f, c, (int)ldc);
  }
};

// dst[0, n) = act(src[0, n) + bias); dst may be src.
inline void bias_act(const float* src, int64_t n, float bias, int act, float* dst) {
  const vf vb = vset(bias);
  int64_t j = 0;
  for (; j + VL <= n; j += VL) vst(dst + j, vact(act, vadd(vld(src + j), vb)));
  if (j < n) vst_n(dst + j, vact(act, vadd(vld_n(src + j, (int)(n - j)), vb)), (int)(n - j));
}

// One image row of e (w floats; before its bias and activation when `raw`, stride 1 only) into
// its s lines.
void store_row(const Plan& p, const float* row, bool raw, float bias, int act, float* line) {
  if (p.s == 1) {
    if (raw) bias_act(row, p.w, bias, act, line + p.pad);
    else copy_n(line + p.pad, row, p.w);
    return;
  }
  if (p.s == 2) {
    deinterleave2(row, p.w, line + (p.pad % 2) * p.lw + p.pad / 2,
                  line + ((p.pad + 1) % 2) * p.lw + (p.pad + 1) / 2);
    return;
  }
  for (int j = 0; j < p.w; j++) {
    const int c = p.pad + j;
    line[(c % p.s) * p.lw + c / p.s] = row[j];
  }
}

// The depthwise of one channel over a tile: out[t*ow + ox] for t < rows. lines: the channel's
// first line; row r, phase q at lines + (r*s + q)*lw. K, S > 0: the template (taps in
// registers, one accumulator per tap row); K == 0: any k and s, one accumulator.
template <int K, int S>
void dw_channel(const Plan& p, const float* lines, const float* wt, float bias, int act, int rows,
                float* out) {
  const int k = K ? K : p.k, s = S ? S : p.s;
  const int64_t lw = p.lw;
  vf wv[K ? K * K : 1];
  if constexpr (K > 0)
    for (int t = 0; t < k * k; t++) wv[t] = vset(wt[t]);
  for (int t = 0; t < rows; t++) {
    const float* r0 = lines + (int64_t)t * s * s * lw;  // padded row t*s of the tile
    for (int ox = 0; ox < p.ow; ox += VL) {
      vf v;
      if constexpr (K > 0) {
        vf acc[K];
        _Pragma("GCC unroll 8") for (int ky = 0; ky < K; ky++) {
          acc[ky] = ky == 0 ? vset(bias) : vzero();
          const float* rk = r0 + (int64_t)ky * s * lw + ox;
          _Pragma("GCC unroll 8") for (int kx = 0; kx < K; kx++)
              acc[ky] = vfma(wv[ky * K + kx], vld(rk + (kx % S) * lw + kx / S), acc[ky]);
        }
        _Pragma("GCC unroll 8") for (int ky = 1; ky < K; ky++) acc[0] = vadd(acc[0], acc[ky]);
        v = acc[0];
      } else {
        v = vset(bias);
        for (int ky = 0; ky < k; ky++) {
          const float* rk = r0 + (int64_t)ky * s * lw + ox;
          for (int kx = 0; kx < k; kx++) v = vfma(vset(wt[ky * k + kx]), vld(rk + (kx % s) * lw + kx / s), v);
        }
      }
      v = vact(act, v);
      if (ox + VL <= p.ow) vst(out + (int64_t)t * p.ow + ox, v);
      else vst_n(out + (int64_t)t * p.ow + ox, v, p.ow - ox);
    }
  }
}

using DwChannel = decltype(&dw_channel<0, 0>);

DwChannel pick_dw(const Plan& p) {
  if (p.k == 3 && p.s == 1) return dw_channel<3, 1>;
  if (p.k == 3 && p.s == 2) return dw_channel<3, 2>;
  if (p.k == 5 && p.s == 1) return dw_channel<5, 1>;
  if (p.k == 5 && p.s == 2) return dw_channel<5, 2>;
  return dw_channel<0, 0>;
}

// dst[0, n) = act(src[0, n) + bias) + res[0, n) (res nullable); dst may be src.
inline void finish(const float* src, int64_t n, float bias, int act, const float* res, float* dst) {
  if (!res) return bias_act(src, n, bias, act, dst);
  const vf vb = vset(bias);
  int64_t j = 0;
  for (; j + VL <= n; j += VL) vst(dst + j, vadd(vact(act, vadd(vld(src + j), vb)), vld(res + j)));
  const int tail = (int)(n - j);
  if (tail) vst_n(dst + j, vadd(vact(act, vadd(vld_n(src + j, tail), vb)), vld_n(res + j, tail)), tail);
}

// One unit: images [n0, n0 + ni), output rows [oy0, oy1) of each. ws: the thread's scratch (its
// lines zeroed once, so that the padding columns of every line read as zeros).
void run_unit(const Plan& p, const DwpwGeom& g, const DwpwData& a, const PackedW* ex,
              const PackedW& pw, DwChannel dw, int n0, int ni, int oy0, int oy1, float* ws) {
  float *xg = ws, *eb = xg + p.xbuf, *lb = eb + p.ebuf, *hb = lb + p.lbuf, *yb = hb + p.hbuf;
  const int rows = oy1 - oy0, R0 = oy0 * p.s, nin = (rows - 1) * p.s + p.k;
  const int iy0 = std::max(0, R0 - p.pad), iy1 = std::min(p.h, R0 + nin - p.pad);
  const int64_t plane = (int64_t)p.h * p.w, er = (int64_t)(iy1 - iy0) * p.w;  // floats of an image's rows
  const float* x0 = a.x + (int64_t)n0 * p.c_in * plane + (int64_t)iy0 * p.w;
  // 1. the expanded rows [iy0, iy1) of image i, channel c at src + c*cs + i*er; at stride 1
  // their bias and activation come with the copy into the lines, else first, in place
  const float* src = x0;
  int64_t cs = plane, is = (int64_t)p.c_in * plane;
  if (ex) {
    const float* b = x0;
    int64_t ldb = plane;
    if (ni > 1) {  // the images' rows side by side: [c_in][ni*er]
      for (int c = 0; c < p.c_in; c++)
        for (int i = 0; i < ni; i++) copy_n(xg + (c * ni + i) * er, x0 + i * is + c * plane, er);
      b = xg, ldb = ni * er;
    }
    cs = ni * er, is = er;
    ex->mul(b, ldb, (int)cs, eb, cs);
    if (p.s != 1)
      for (int c = 0; c < p.c_e; c++)
        bias_act(eb + c * cs, cs, a.b_ex ? a.b_ex[c] : 0.0f, g.act_ex, eb + c * cs);
    src = eb;
  }
  // 2. the lines of padded rows R0 .. R0 + nin
  const int64_t chan_lines = (int64_t)p.in_rows * p.s * p.lw;
  for (int i = 0; i < ni; i++)
    for (int c = 0; c < p.c_e; c++) {
      const float bias = ex && a.b_ex ? a.b_ex[c] : 0.0f;
      for (int r = 0; r < nin; r++) {
        float* line = lb + (i * p.c_e + c) * chan_lines + (int64_t)r * p.s * p.lw;
        const int iy = R0 + r - p.pad;
        if (iy < 0 || iy >= p.h) std::memset(line, 0, sizeof(float) * p.s * p.lw);
        else store_row(p, src + i * is + c * cs + (int64_t)(iy - iy0) * p.w, ex && p.s == 1, bias, g.act_ex, line);
      }
    }
  // 3. h = act(dw(e) + b): [c_mid][ni*rows*ow], image i's rows at i*rows*ow
  const int64_t hcols = (int64_t)rows * p.ow, ld = ni * hcols;
  for (int i = 0; i < ni; i++)
    for (int oc = 0; oc < p.c_mid; oc++)
      dw(p, lb + (i * p.c_e + oc / p.m) * chan_lines, a.w_dw + (int64_t)oc * p.k * p.k,
         a.b_dw ? a.b_dw[oc] : 0.0f, g.act_dw, rows, hb + oc * ld + i * hcols);
  // 4. y's rows = act(W_pw . h + b) + residual: straight into y for one image, else through yb
  const int64_t oplane = (int64_t)p.oh * p.ow, off = (int64_t)n0 * p.c_out * oplane + (int64_t)oy0 * p.ow;
  float* c = ni == 1 ? a.y + off : yb;
  pw.mul(hb, ld, (int)ld, c, ni == 1 ? oplane : ld);
  for (int oc = 0; oc < p.c_out; oc++)
    for (int i = 0; i < ni; i++) {
      const int64_t o = off + (i * p.c_out + oc) * oplane;
      finish(ni == 1 ? a.y + o : yb + oc * ld + i * hcols, hcols, a.b_pw ? a.b_pw[oc] : 0.0f, g.act_pw,
             a.residual ? a.residual + o : nullptr, a.y + o);
    }
}

void run_stages(const DwpwGeom& g, const DwpwData& a) {
  Workspace eb(g.expand ? (size_t)(g.ex.n * (int64_t)g.ex.c_out * g.ex.out_plane()) : 0);
  Workspace hb((size_t)(g.dw.n * (int64_t)g.dw.c_out * g.dw.out_plane()));
  if (g.expand) gemm_conv_forward(g.ex, a.x, a.w_ex, a.b_ex, g.act_ex, eb.data());
  depthwise_forward(g.dw, g.expand ? eb.data() : a.x, a.w_dw, a.b_dw, g.act_dw, hb.data());
  gemm_conv_forward(g.pw, hb.data(), a.w_pw, a.b_pw, g.act_pw, a.y);
  if (!a.residual) return;
  const int64_t count = g.pw.n * (int64_t)g.pw.c_out * g.pw.out_plane();
  parallel_for(ceil_div(count, 4096), [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0 * 4096, end = std::min(count, b1 * 4096); i < end; i++) a.y[i] += a.residual[i];
  });
}

}  // namespace

void dwpw_forward(const DwpwGeom& g, const DwpwData& a) {
  const Plan p = make_plan(g);
  if (!p.tiled) return run_stages(g, a);
  std::unique_ptr<PackedW> ex;
  if (g.expand) ex.reset(new PackedW(p.c_e, p.c_in, a.w_ex));
  const PackedW pw(p.c_out, p.c_mid, a.w_pw);
  const DwChannel dw = pick_dw(p);
  parallel_for(p.units, [&](int64_t u0, int64_t u1) {
    Workspace ws((size_t)p.floats());
    std::memset(ws.data() + p.xbuf + p.ebuf, 0, sizeof(float) * p.lbuf);
    for (int64_t u = u0; u < u1; u++) {
      const int n0 = (int)(u / p.tiles) * p.nimg, oy0 = (int)(u % p.tiles) * p.rows;
      run_unit(p, g, a, ex.get(), pw, dw, n0, std::min(p.nimg, g.dw.n - n0), oy0, std::min(p.oh, oy0 + p.rows),
               ws.data());
    }
  });
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
