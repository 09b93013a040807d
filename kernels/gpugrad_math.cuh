// Per-element and per-row arithmetic of gpugrad's fused kernels.
//
// Everything here is __host__ __device__ and free of memory layout, so the
// same lines run inside the CUDA kernels and in a host program that the
// CPU-only tests compare with the NumPy backend (tests/test_kernels_host.py).
// A is the compute type: float (for float16 and float32 data) or double.
#pragma once

#if defined(__CUDACC__)
#define GG_HD __host__ __device__ inline
#else
#define GG_HD inline
#endif

#if !defined(__CUDACC_RTC__)
#include <cmath>
#include <limits>
#endif

namespace gg {

GG_HD float exp_(float x) { return expf(x); }
GG_HD double exp_(double x) { return exp(x); }
GG_HD float log_(float x) { return logf(x); }
GG_HD double log_(double x) { return log(x); }

// Infinity and NaN without <limits>, which NVRTC does not have.
template <class A> struct lim;
template <> struct lim<float> {
#if defined(__CUDA_ARCH__)
    static GG_HD float inf() { return __int_as_float(0x7f800000); }
    static GG_HD float nan() { return __int_as_float(0x7fffffff); }
#else
    static GG_HD float inf() { return std::numeric_limits<float>::infinity(); }
    static GG_HD float nan() { return std::numeric_limits<float>::quiet_NaN(); }
#endif
};
template <> struct lim<double> {
#if defined(__CUDA_ARCH__)
    static GG_HD double inf() { return __longlong_as_double(0x7ff0000000000000LL); }
    static GG_HD double nan() { return __longlong_as_double(0x7ff8000000000000LL); }
#else
    static GG_HD double inf() { return std::numeric_limits<double>::infinity(); }
    static GG_HD double nan() { return std::numeric_limits<double>::quiet_NaN(); }
#endif
};

// ---- sigmoid ----------------------------------------------------------------
// 1/(1+exp(-x)) keeps full relative precision for x << 0; exp overflowing to
// inf gives the exact 0.
template <class A> GG_HD A sigmoid(A x) { return A(1) / (A(1) + exp_(-x)); }

// Same operation order as the NumPy backend: ((1 - y) * y) * gy.
template <class A> GG_HD A sigmoid_grad(A y, A gy) { return (A(1) - y) * y * gy; }

// ---- online log-sum-exp -----------------------------------------------------
// A running (max m, sum s of exp(x - m)). m never holds NaN (the comparison
// skips it); a NaN logit turns s into NaN instead, so it still reaches the loss.
template <class A> GG_HD A max_skip_nan(A m, A x) { return x > m ? x : m; }

// Shifting by -inf would make exp(-inf - -inf) = NaN: rows (or lanes) that
// have only seen -inf use 0 as the shift, and their exps are exactly 0.
template <class A> GG_HD A lse_shift(A m) { return m == -lim<A>::inf() ? A(0) : m; }

template <class A> GG_HD void lse_init(A& m, A& s) { m = -lim<A>::inf(); s = A(0); }

// Fold U new values into (m, s) with one rescale: U + 1 exps for U elements.
// Padding lanes pass -inf, which adds exactly 0.
template <class A, int U> GG_HD void lse_push(A& m, A& s, const A (&v)[U]) {
    A mm = m;
    for (int k = 0; k < U; ++k) mm = max_skip_nan(mm, v[k]);
    const A sh = lse_shift(mm);
    A add = A(0);
    for (int k = 0; k < U; ++k) add += exp_(v[k] - sh);
    s = s * exp_(m - sh) + add;
    m = mm;
}

// Combine two partial (m, s) pairs, e.g. from two threads.
template <class A> GG_HD void lse_merge(A& m, A& s, A m2, A s2) {
    const A mm = max_skip_nan(m, m2);
    const A sh = lse_shift(mm);
    s = s * exp_(m - sh) + s2 * exp_(m2 - sh);
    m = mm;
}

// ---- softmax cross-entropy --------------------------------------------------
// A row is kept as its max m and l = log(sum_c exp(x_c - m)), never as their sum
// lse = m + l: x - lse loses the digits of l when |x| is large (logits near 1e4
// in float16, 1e6 in float32), while (x - m) - l keeps them (x - m is exact for
// x near m).
//
// Per row with label t (not ignored), eps = label smoothing, w_t its class
// weight (1 without weights), W = sum of the weights (C without):
//   loss = (1-eps) w_t (l - (x_t - m)) + eps/C (W l - sum_c w_c (x_c - m))
// The last sum is accumulated in the same pass, before m is known, against a
// reference logit x_ref (the row's first, or 0 if that is not finite):
//   sum_c w_c (x_c - m) = swr - W (m - x_ref),  swr = sum_c w_c (x_c - x_ref)
// The mean divides the sum of losses by den = sum of w_t over kept rows.
enum { GG_NONE = 0, GG_SUM = 1, GG_MEAN = 2 };

// x itself if finite, else 0 (x - x is 0 only for a finite x).
template <class A> GG_HD A finite_or_zero(A x) { return x - x == A(0) ? x : A(0); }

template <class A>
GG_HD A ce_row_loss(A m, A l, A x_t, A w_t, A one_minus_eps, A eps_over_c,
                    bool smoothing, A W, A swr, A x_ref) {
    A loss = (l - (x_t - m)) * (w_t * one_minus_eps);
    if (smoothing) loss += eps_over_c * (W * l - (swr - W * (m - x_ref)));
    return loss;
}

// The 0-d result of 'sum' / 'mean' from the sum of row losses and den.
// 0/0 (every row ignored) is NaN, as in PyTorch.
template <class A> GG_HD A ce_reduce(A total, A den, int reduction) {
    if (reduction == GG_SUM) return total;
    return den != A(0) ? total / den : lim<A>::nan();
}

// The factor d out / d loss_row for a kept row: g itself, or g / den for the
// mean (0 when den is 0: every row ignored, and their gradient is 0).
template <class A> GG_HD A ce_row_scale(A g, A den, int reduction) {
    if (reduction != GG_MEAN) return g;
    return den != A(0) ? g / den : A(0);
}

// gx_c = a * softmax_c - hot * [c == t] - smooth * w_c, with per-row
//   hot = scale w_t (1-eps),  a = hot + scale eps/C W,  smooth = scale eps/C.
template <class A> struct ce_coef { A a, hot, smooth; };

template <class A>
GG_HD ce_coef<A> ce_row_coef(A scale, A w_t, A one_minus_eps, A eps_over_c, A W) {
    ce_coef<A> k;
    k.hot = scale * w_t * one_minus_eps;
    k.a = k.hot + scale * (eps_over_c * W);
    k.smooth = scale * eps_over_c;
    return k;
}

// smooth_w = smooth * w_c (0 when eps == 0).
template <class A>
GG_HD A ce_grad(A x, A m, A l, const ce_coef<A>& k, bool is_label, A smooth_w) {
    A v = exp_((x - m) - l) * k.a;
    if (is_label) v -= k.hot;
    return v - smooth_w;
}

// ---- softmax cross-entropy, class-probability targets ---------------------
// Per row, with wt_c = w_c ((1-eps) t_c + eps/C) (PyTorch's smoothed target, in
// its order of operations, times the class weight), mass = sum_c wt_c and
// dot = sum_c wt_c (x_c - m), both accumulated in a second pass once m is known:
//   loss = -sum_c wt_c log_softmax_c = mass l - dot
// The gradients, with s the row's factor (ce_row_scale; 'mean' divides by the
// number of rows) and nl_c = l - (x_c - m) = -log_softmax_c:
//   d x_c = exp(-nl_c) (s mass) - wt_c s,   d t_c = nl_c (s (1-eps) w_c)
template <class A>
GG_HD A ce_soft_target(A t, A w, A one_minus_eps, A eps_over_c, bool smoothing) {
    return (smoothing ? t * one_minus_eps + eps_over_c : t) * w;
}

template <class A> GG_HD A ce_soft_loss(A mass, A l, A dot) { return mass * l - dot; }

template <class A> GG_HD A ce_neg_log_softmax(A x, A m, A l) { return l - (x - m); }

template <class A> GG_HD A ce_soft_grad_x(A nl, A s_mass, A wt, A scale) {
    return exp_(-nl) * s_mass - wt * scale;
}

template <class A> GG_HD A ce_soft_grad_t(A nl, A s_w) { return nl * s_w; }

}  // namespace gg
