// Entry points of the convolution families: validate, then dispatch (see conv.h and dispatch.h).
#include "cuda_backend.h"
#include "dispatch.h"

namespace sepconv {

static ConvGeom make_geom(const sepconv_conv2d* d) {
  SEPCONV_CHECK_ARG(d != nullptr, "desc must not be NULL");
  ConvGeom g{};
  g.n = d->n, g.c_in = d->c_in, g.h = d->h, g.w = d->w, g.c_out = d->c_out;
  g.kh = d->kh, g.kw = d->kw, g.sh = d->stride_h, g.sw = d->stride_w;
  g.ph = d->pad_h, g.pw = d->pad_w, g.dh = d->dil_h, g.dw = d->dil_w, g.groups = d->groups;
  SEPCONV_CHECK_ARG(g.n >= 1, "n must be >= 1, got %d", g.n);
  SEPCONV_CHECK_ARG(g.c_in >= 1, "c_in must be >= 1, got %d", g.c_in);
  SEPCONV_CHECK_ARG(g.h >= 1, "h must be >= 1, got %d", g.h);
  SEPCONV_CHECK_ARG(g.w >= 1, "w must be >= 1, got %d", g.w);
  SEPCONV_CHECK_ARG(g.c_out >= 1, "c_out must be >= 1, got %d", g.c_out);
  SEPCONV_CHECK_ARG(g.kh >= 1, "kh must be >= 1, got %d", g.kh);
  SEPCONV_CHECK_ARG(g.kw >= 1, "kw must be >= 1, got %d", g.kw);
  SEPCONV_CHECK_ARG(g.sh >= 1, "stride_h must be >= 1, got %d", g.sh);
  SEPCONV_CHECK_ARG(g.sw >= 1, "stride_w must be >= 1, got %d", g.sw);
  SEPCONV_CHECK_ARG(g.ph >= 0, "pad_h must be >= 0, got %d", g.ph);
  SEPCONV_CHECK_ARG(g.pw >= 0, "pad_w must be >= 0, got %d", g.pw);
  SEPCONV_CHECK_ARG(g.dh >= 1, "dil_h must be >= 1, got %d", g.dh);
  SEPCONV_CHECK_ARG(g.dw >= 1, "dil_w must be >= 1, got %d", g.dw);
  SEPCONV_CHECK_ARG(g.groups >= 1, "groups must be >= 1, got %d", g.groups);
  SEPCONV_CHECK_ARG(g.c_in % g.groups == 0, "groups must divide c_in=%d, got %d", g.c_in,
                    g.groups);
  SEPCONV_CHECK_ARG(g.c_out % g.groups == 0, "groups must divide c_out=%d, got %d", g.c_out,
                    g.groups);
  const int64_t big = 1 << 20;
  SEPCONV_CHECK_ARG(g.kh < big && g.kw < big && g.ph < big && g.pw < big && g.dh < big &&
                        g.dw < big && g.h < big && g.w < big,
                    "kernel, padding, dilation and spatial sizes must be < %lld",
                    (long long)big);
  int64_t ekh = (int64_t)(g.kh - 1) * g.dh + 1, ekw = (int64_t)(g.kw - 1) * g.dw + 1;
  int64_t oh = ((int64_t)g.h + 2 * g.ph - ekh) / g.sh + 1;
  int64_t ow = ((int64_t)g.w + 2 * g.pw - ekw) / g.sw + 1;
  SEPCONV_CHECK_ARG((int64_t)g.h + 2 * g.ph >= ekh,
                    "kh: dilated kernel height %lld must be <= h + 2*pad_h = %lld",
                    (long long)ekh, (long long)g.h + 2 * g.ph);
  SEPCONV_CHECK_ARG((int64_t)g.w + 2 * g.pw >= ekw,
                    "kw: dilated kernel width %lld must be <= w + 2*pad_w = %lld",
                    (long long)ekw, (long long)g.w + 2 * g.pw);
  g.oh = (int)oh, g.ow = (int)ow;
  g.cin_g = g.c_in / g.groups, g.cout_g = g.c_out / g.groups;
  const int64_t limit = (int64_t)1 << 31;
  struct Extent {
    const char* what;
    int64_t count;
  };
  for (Extent t : {Extent{"x (n*c_in*h*w)", numel({g.n, g.c_in, g.h, g.w}, "x")},
                   Extent{"y (n*c_out*out_h*out_w)", numel({g.n, g.c_out, oh, ow}, "y")},
                   Extent{"w (c_out*c_in/groups*kh*kw)", numel({g.c_out, g.cin_g, g.kh, g.kw}, "w")},
                   Extent{"the patch matrix (c_in/groups*kh*kw*out_h*out_w)",
                          numel({g.cin_g, g.kh, g.kw, oh, ow}, "patch matrix")}})
    SEPCONV_CHECK_ARG(t.count < limit, "%s must have fewer than 2^31 elements, got %lld", t.what,
                      (long long)t.count);
  return g;
}

// The fused block's three convolutions (see sepconv_dwpw in sepconv.h). Its own fields are
// checked by name first; make_geom then checks the extents of each convolution.
static DwpwGeom make_dwpw_geom(const sepconv_dwpw* d, bool expand) {
  SEPCONV_CHECK_ARG(d != nullptr, "desc must not be NULL");
  struct Field {
    const char* name;
    int value, min;
  };
  for (Field f : {Field{"n", d->n, 1}, Field{"c_in", d->c_in, 1}, Field{"h", d->h, 1},
                  Field{"w", d->w, 1}, Field{"c_expand", d->c_expand, 1}, Field{"k", d->k, 1},
                  Field{"stride", d->stride, 1}, Field{"pad", d->pad, 0}, Field{"mult", d->mult, 1},
                  Field{"c_out", d->c_out, 1}})
    SEPCONV_CHECK_ARG(f.value >= f.min, "%s must be >= %d, got %d", f.name, f.min, f.value);
  check_act(d->act_expand, "act_expand");
  check_act(d->act_dw, "act_dw");
  check_act(d->act_pw, "act_pw");
  if (!expand)
    SEPCONV_CHECK_ARG(d->c_expand == d->c_in,
                      "c_expand must equal c_in = %d without an expansion (w_expand NULL), got %d",
                      d->c_in, d->c_expand);
  const int64_t big = 1 << 20;
  SEPCONV_CHECK_ARG(d->k < big && d->pad < big, "k and pad must be < %lld", (long long)big);
  SEPCONV_CHECK_ARG((int64_t)d->k <= (int64_t)d->h + 2 * d->pad && (int64_t)d->k <= (int64_t)d->w + 2 * d->pad,
                    "k = %d must be <= h + 2*pad = %lld and w + 2*pad = %lld", d->k,
                    (long long)d->h + 2 * d->pad, (long long)d->w + 2 * d->pad);
  const int64_t c_mid = numel({d->c_expand, d->mult}, "c_expand*mult");
  SEPCONV_CHECK_ARG(c_mid < ((int64_t)1 << 31), "c_expand*mult must be < 2^31, got %lld",
                    (long long)c_mid);
  DwpwGeom g{};
  g.expand = expand;
  g.act_ex = d->act_expand, g.act_dw = d->act_dw, g.act_pw = d->act_pw;
  const sepconv_conv2d ex{d->n, d->c_in, d->h, d->w, d->c_expand, 1, 1, 1, 1, 0, 0, 1, 1, 1};
  const sepconv_conv2d dw{d->n, d->c_expand, d->h, d->w, (int)c_mid, d->k, d->k, d->stride,
                          d->stride, d->pad, d->pad, 1, 1, d->c_expand};
  g.ex = make_geom(&ex);
  g.dw = make_geom(&dw);
  const sepconv_conv2d pw{d->n, (int)c_mid, g.dw.oh, g.dw.ow, d->c_out, 1, 1, 1, 1, 0, 0, 1, 1, 1};
  g.pw = make_geom(&pw);
  return g;
}

// ---- dispatch: the CPU and CUDA slots pick the family from the geometry
namespace {
using Forward = decltype(ref_conv2d_forward);
using Backward = decltype(ref_conv2d_backward);

bool is_depthwise(const ConvGeom& g) { return g.groups == g.c_in; }

template <Forward* DEPTHWISE, Forward* GEMM>
void forward_by_geometry(const ConvGeom& g, const float* x, const float* w, const float* bias,
                         int act, float* y) {
  (is_depthwise(g) ? DEPTHWISE : GEMM)(g, x, w, bias, act, y);
}

// The CPU forward of one ISA: depthwise (small planes channel-vectorised), else the direct or
// the pointwise kernel where one takes the shape, else GEMM; each applies `act` as it writes.
template <Forward* DEPTHWISE, decltype(isa_generic::depthwise_small_forward)* DEPTHWISE_SMALL,
          decltype(isa_generic::direct_conv_forward)* DIRECT,
          decltype(isa_generic::pointwise_forward)* POINTWISE>
void cpu_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, int act,
                 float* y) {
  if (is_depthwise(g)) {
    if (!DEPTHWISE_SMALL(g, x, w, bias, act, y)) DEPTHWISE(g, x, w, bias, act, y);
  } else if (!DIRECT(g, x, w, bias, act, y) && !POINTWISE(g, x, w, bias, act, y)) {
    gemm_conv_forward(g, x, w, bias, act, y);
  }
}
#define SEPCONV_CPU_FORWARD(ns) \
  cpu_forward<ns::depthwise_forward, ns::depthwise_small_forward, ns::direct_conv_forward, \
              ns::pointwise_forward>

// The CPU depthwise backward of one ISA: its data and weight kernels as the mask asks, and the
// bias gradient that every CPU family shares.
// (small planes first: the channel-vectorised kernels where they take the shape)
template <decltype(isa_generic::depthwise_backward_data)* DATA,
          decltype(isa_generic::depthwise_backward_weight)* WEIGHT,
          decltype(isa_generic::depthwise_small_backward_data)* SMALL_DATA,
          decltype(isa_generic::depthwise_small_backward_weight)* SMALL_WEIGHT>
void depthwise_backward(const ConvGeom& g, int mask, const float* x, const float* w,
                        const float* dy, float* dx, float* dw, float* dbias) {
  if ((mask & SEPCONV_GRAD_INPUT) && !SMALL_DATA(g, w, dy, dx)) DATA(g, w, dy, dx);
  if ((mask & SEPCONV_GRAD_WEIGHT) && !SMALL_WEIGHT(g, x, dy, dw)) WEIGHT(g, x, dy, dw);
  if (mask & SEPCONV_GRAD_BIAS) bias_backward(g.n, g.c_out, g.out_plane(), dy, dbias);
}
#define SEPCONV_CPU_DEPTHWISE_BACKWARD(ns)                                          \
  depthwise_backward<ns::depthwise_backward_data, ns::depthwise_backward_weight,    \
                     ns::depthwise_small_backward_data, ns::depthwise_small_backward_weight>

// The CPU dense backward of one ISA: the direct kernel for the gradients it takes, GEMM for
// the rest (and the bias gradient).
template <decltype(isa_generic::direct_conv_backward)* DIRECT,
          decltype(isa_generic::pointwise_backward)* POINTWISE>
void dense_backward(const ConvGeom& g, int mask, const float* x, const float* w, const float* dy,
                    float* dx, float* dw, float* dbias) {
  int rest = mask & ~DIRECT(g, mask, x, w, dy, dx, dw);
  rest &= ~POINTWISE(g, rest, x, w, dy, dx, dw);
  if (rest) gemm_conv_backward(g, rest, x, w, dy, dx, dw, dbias);
}
#define SEPCONV_CPU_DENSE_BACKWARD(ns) \
  dense_backward<ns::direct_conv_backward, ns::pointwise_backward>

template <Backward* DEPTHWISE, Backward* GEMM>
void backward_by_geometry(const ConvGeom& g, int mask, const float* x, const float* w,
                          const float* dy, float* dx, float* dw, float* dbias) {
  (is_depthwise(g) ? DEPTHWISE : GEMM)(g, mask, x, w, dy, dx, dw, dbias);
}

// sepconv_conv2d_forward and _forward_act share their slots; the tables differ in the name
// their messages give.
#define SEPCONV_FORWARD_SLOTS                                                                  \
  ref_conv2d_forward,                                                                          \
      {SEPCONV_CPU_FORWARD(isa_generic), SEPCONV_CPU_FORWARD(isa_avx2),                        \
       SEPCONV_CPU_FORWARD(isa_avx512)},                                                       \
      im2col_conv_forward,                                                                     \
      SEPCONV_CUDA_SLOT(forward_by_geometry<gpu::depthwise_forward, gpu::gemm_conv_forward>)
const Table<Forward> forward_table = {"conv2d_forward", SEPCONV_FORWARD_SLOTS};
const Table<Forward> forward_act_table = {"conv2d_forward_act", SEPCONV_FORWARD_SLOTS};
#undef SEPCONV_FORWARD_SLOTS

const Table<Backward> backward_table = {
    "conv2d_backward",
    ref_conv2d_backward,
    {backward_by_geometry<SEPCONV_CPU_DEPTHWISE_BACKWARD(isa_generic), SEPCONV_CPU_DENSE_BACKWARD(isa_generic)>,
     backward_by_geometry<SEPCONV_CPU_DEPTHWISE_BACKWARD(isa_avx2), SEPCONV_CPU_DENSE_BACKWARD(isa_avx2)>,
     backward_by_geometry<SEPCONV_CPU_DEPTHWISE_BACKWARD(isa_avx512), SEPCONV_CPU_DENSE_BACKWARD(isa_avx512)>},
    im2col_conv_backward,
    SEPCONV_CUDA_SLOT(backward_by_geometry<gpu::depthwise_backward, gpu::gemm_conv_backward>)};
const Table<decltype(ref_dwpw_forward)> dwpw_table = {
    "dwpw_forward", ref_dwpw_forward, SEPCONV_ISA_SLOTS(dwpw_forward), nullptr,
    SEPCONV_CUDA_SLOT(gpu::dwpw_forward)};
}  // namespace

}  // namespace sepconv

using namespace sepconv;

extern "C" {

int sepconv_conv2d_output_shape(const sepconv_conv2d* d, int* out_h, int* out_w) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(out_h && out_w, "out_h and out_w must not be NULL");
    ConvGeom g = make_geom(d);
    *out_h = g.oh;
    *out_w = g.ow;
  });
}

int sepconv_conv2d_forward(int exec, const sepconv_conv2d* d, const float* x, const float* w,
                           const float* bias, float* y) {
  return guarded([&] {
    Exec e = parse_exec(exec, forward_table);
    ConvGeom g = make_geom(d);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(w, "w must not be NULL");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    dispatch(e, forward_table, g, x, w, bias, SEPCONV_ACT_NONE, y);
  });
}

int sepconv_conv2d_forward_act(int exec, const sepconv_conv2d* d, const float* x, const float* w,
                               const float* bias, int act, float* y) {
  return guarded([&] {
    Exec e = parse_exec(exec, forward_act_table);
    ConvGeom g = make_geom(d);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(w, "w must not be NULL");
    check_act(act, "act");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    dispatch(e, forward_act_table, g, x, w, bias, act, y);
  });
}

int sepconv_conv2d_backward(int exec, const sepconv_conv2d* d, int mask, const float* x,
                            const float* w, const float* dy, float* dx, float* dw,
                            float* dbias) {
  return guarded([&] {
    Exec e = parse_exec(exec, backward_table);
    ConvGeom g = make_geom(d);
    check_backward_args(mask, x, w, dy, dx, dw, dbias);
    if (mask == 0) return;
    dispatch(e, backward_table, g, mask, x, w, dy, dx, dw, dbias);
  });
}

int sepconv_dwpw_output_shape(const sepconv_dwpw* d, int* out_h, int* out_w) {
  return guarded([&] {
    SEPCONV_CHECK_ARG(out_h && out_w, "out_h and out_w must not be NULL");
    DwpwGeom g = make_dwpw_geom(d, true);
    *out_h = g.pw.oh;
    *out_w = g.pw.ow;
  });
}

int sepconv_dwpw_forward(int exec, const sepconv_dwpw* d, const float* x, const float* w_expand,
                         const float* b_expand, const float* w_dw, const float* b_dw,
                         const float* w_pw, const float* b_pw, const float* residual, float* y) {
  return guarded([&] {
    Exec e = parse_exec(exec, dwpw_table);
    DwpwGeom g = make_dwpw_geom(d, w_expand != nullptr);
    SEPCONV_CHECK_ARG(x, "x must not be NULL");
    SEPCONV_CHECK_ARG(w_expand || !b_expand, "b_expand must be NULL without an expansion (w_expand NULL)");
    SEPCONV_CHECK_ARG(w_dw, "w_dw must not be NULL");
    SEPCONV_CHECK_ARG(w_pw, "w_pw must not be NULL");
    SEPCONV_CHECK_ARG(y, "y must not be NULL");
    SEPCONV_CHECK_ARG(y != x && y != residual, "y must not alias x or residual");
    dispatch(e, dwpw_table, g, DwpwData{x, w_expand, b_expand, w_dw, b_dw, w_pw, b_pw, residual, y});
  });
}

}  // extern "C"
