// Naive reference convolution: direct loops, double accumulation, never tuned.
// It defines correctness for every fast kernel, CPU and CUDA.
#include <vector>

#include "../conv.h"

namespace sepconv {

// Calls f(oc, oy, ox, ic, ky, kx, input_index) for every input cell that output (n, oc, oy, ox)
// reads, skipping the padding.
template <class F>
static void for_taps(const ConvGeom& g, int n, int oc, int oy, int ox, F&& f) {
  int grp = oc / g.cout_g;
  for (int icg = 0; icg < g.cin_g; icg++) {
    int ic = grp * g.cin_g + icg;
    for (int ky = 0; ky < g.kh; ky++) {
      int iy = oy * g.sh - g.ph + ky * g.dh;
      if (iy < 0 || iy >= g.h) continue;
      for (int kx = 0; kx < g.kw; kx++) {
        int ix = ox * g.sw - g.pw + kx * g.dw;
        if (ix < 0 || ix >= g.w) continue;
        int64_t xi = (((int64_t)n * g.c_in + ic) * g.h + iy) * g.w + ix;
        int64_t wi = (((int64_t)oc * g.cin_g + icg) * g.kh + ky) * g.kw + kx;
        f(xi, wi);
      }
    }
  }
}

// y = act(conv(x, w) + bias), summed in double; x and y float or double.
template <class In, class Out>
static void forward(const ConvGeom& g, const In* x, const float* w, const float* bias, int act,
                    Out* y) {
  for (int n = 0; n < g.n; n++)
    for (int oc = 0; oc < g.c_out; oc++)
      for (int oy = 0; oy < g.oh; oy++)
        for (int ox = 0; ox < g.ow; ox++) {
          double s = bias ? bias[oc] : 0.0;
          for_taps(g, n, oc, oy, ox, [&](int64_t xi, int64_t wi) { s += (double)x[xi] * w[wi]; });
          y[(((int64_t)n * g.c_out + oc) * g.oh + oy) * g.ow + ox] = (Out)activate(act, s);
        }
}

void ref_conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                        int act, float* y) {
  forward(g, x, w, bias, act, y);
}

// The fused block as its three convolutions, one after the other, in double throughout: e and
// h are never rounded to float.
void ref_dwpw_forward(const DwpwGeom& g, const DwpwData& a) {
  std::vector<double> e((size_t)g.dw.n * g.dw.c_in * g.dw.in_plane());
  if (g.expand) forward(g.ex, a.x, a.w_ex, a.b_ex, g.act_ex, e.data());
  else
    for (size_t i = 0; i < e.size(); i++) e[i] = a.x[i];
  std::vector<double> h((size_t)g.pw.n * g.pw.c_in * g.pw.in_plane());
  forward(g.dw, e.data(), a.w_dw, a.b_dw, g.act_dw, h.data());
  std::vector<double> y((size_t)g.pw.n * g.pw.c_out * g.pw.out_plane());
  forward(g.pw, h.data(), a.w_pw, a.b_pw, g.act_pw, y.data());
  for (size_t i = 0; i < y.size(); i++) a.y[i] = (float)(y[i] + (a.residual ? a.residual[i] : 0.0));
}

void ref_conv2d_backward(const ConvGeom& g, int mask, const float* x, const float* w,
                         const float* dy, float* dx, float* dw, float* dbias) {
  std::vector<double> gx((mask & SEPCONV_GRAD_INPUT) ? (size_t)g.n * g.c_in * g.h * g.w : 0);
  std::vector<double> gw((mask & SEPCONV_GRAD_WEIGHT) ? (size_t)g.c_out * g.weights_per_out() : 0);
  for (int n = 0; n < g.n; n++)
    for (int oc = 0; oc < g.c_out; oc++)
      for (int oy = 0; oy < g.oh; oy++)
        for (int ox = 0; ox < g.ow; ox++) {
          double d = dy[(((int64_t)n * g.c_out + oc) * g.oh + oy) * g.ow + ox];
          if (mask & (SEPCONV_GRAD_INPUT | SEPCONV_GRAD_WEIGHT))
            for_taps(g, n, oc, oy, ox, [&](int64_t xi, int64_t wi) {
              if (mask & SEPCONV_GRAD_INPUT) gx[xi] += d * w[wi];
              if (mask & SEPCONV_GRAD_WEIGHT) gw[wi] += d * x[xi];
            });
        }
  for (size_t i = 0; i < gx.size(); i++) dx[i] = (float)gx[i];
  for (size_t i = 0; i < gw.size(); i++) dw[i] += (float)gw[i];
  if (mask & SEPCONV_GRAD_BIAS) ref_bias_backward(g.n, g.c_out, g.out_plane(), dy, dbias);
}

void ref_bias_backward(int n, int c, int64_t plane, const float* dy, float* dbias) {
  for (int ch = 0; ch < c; ch++) {
    double s = 0;
    for (int i = 0; i < n; i++)
      for (int64_t j = 0; j < plane; j++) s += dy[((int64_t)i * c + ch) * plane + j];
    dbias[ch] += (float)s;
  }
}

}  // namespace sepconv
