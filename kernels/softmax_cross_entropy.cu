// Fused softmax cross-entropy for float16 / float32 / float64 logits (T).
//
// Logits are (N, C, S) C-contiguous, so row r = n * S + s holds its classes at
// base + c * S with base = n * C * S + s. A group of G threads owns one row:
// G = 1 when S > 1 and rows are many (neighbouring threads then read
// neighbouring s: coalesced), a power of two up to 32 for short rows, or the
// whole block for long rows. G and every other scalar are kernel arguments.
//
// forward:  one pass over the logits per row (online max and rescaled sum),
//           writes the row statistics stat = (m, l) (see ce_row_loss), the
//           loss per row ('none') and per-block partial sums of (loss, w_t);
//           sce_finish folds those into the 0-d result and den without
//           leaving the device. stat is (2, R) in the accumulation type.
// backward: one pass over the logits, one write of the gradient.
// sce_soft_forward / sce_soft_backward do the same for class-probability
// targets (t of the logits' layout; see the section below).
#include "gpugrad_device.cuh"

// Loads each thread has in flight before it uses any: 16 bytes' worth.
template <class T> struct unroll { enum { N = 16 / sizeof(T) }; };

// The row this thread's group of G owns (>= R for the spare groups of the last
// block), and the offset of the row's class 0 in the (N, C, S) logits.
__device__ inline long long group_row(int G) {
    return (long long)blockIdx.x * (blockDim.x / G) + threadIdx.x / G;
}
__device__ inline long long row_base(long long r, int C, long long S) {
    const long long n = r / S;
    return n * C * S + (r - n * S);
}

// A lane's first pass over its row: xp points at its class `lane`; classes lane,
// lane + G, ... (gs = G * S apart) are read U at a time, padded with -inf, and
// folded into (m, s). Each group of U also goes to visit(c0, v), c0 its first class.
template <class T, class A, int U, class Visit>
__device__ inline void lane_lse(const T* __restrict__ xp, int lane, int G, int C, long long gs,
                                A& m, A& s, Visit visit) {
    for (int c0 = lane; c0 < C; c0 += G * U, xp += U * gs) {
        A v[U];
#pragma unroll
        for (int k = 0; k < U; ++k)
            v[k] = c0 + k * G < C ? gg::to_acc(xp[k * gs]) : -gg::lim<A>::inf();
        gg::lse_push(m, s, v);
        visit(c0, v);
    }
}

template <class T>
__global__ void __launch_bounds__(512)
sce_forward(const T* __restrict__ x, const void* __restrict__ labels, int labels64,
            const T* __restrict__ weight, const typename gg::acc<T>::type* __restrict__ wsum,
            long long R, int C, long long S, long long ignore_index, double eps, int G,
            typename gg::acc<T>::type* __restrict__ stat, T* __restrict__ loss_out,
            typename gg::acc<T>::type* __restrict__ partial, long long* __restrict__ bad) {
    typedef typename gg::acc<T>::type A;
    enum { U = unroll<T>::N };
    __shared__ A sa[32], sb[32];
    const int lane = threadIdx.x & (G - 1);
    const long long r = group_row(G);
    const bool active = r < R;  // no early return: every thread joins the reductions
    const bool smoothing = eps != 0.0;
    long long base = 0;
    A m, s, swr = A(0), x_ref = A(0);
    gg::lse_init(m, s);
    if (active) {
        base = row_base(r, C, S);
        if (smoothing) x_ref = gg::finite_or_zero(gg::to_acc(x[base]));
        lane_lse<T, A, U>(x + base + lane * S, lane, G, C, G * S, m, s,
                          [&](int c0, const A (&v)[U]) {
            if (smoothing) {
#pragma unroll
                for (int k = 0; k < U; ++k) {
                    const int c = c0 + k * G;
                    if (c < C) swr += (weight ? gg::to_acc(weight[c]) : A(1)) * (v[k] - x_ref);
                }
            }
        });
    }
    gg::group_lse(m, s, G, sa, sb);
    if (smoothing) swr = gg::group_sum(swr, G, sa);

    A loss = A(0), w_row = A(0);
    if (active && lane == 0) {
        const A l = gg::log_(s);
        const long long t = gg::load_label(labels, labels64, r);
        if (t != ignore_index) {
            if (t < 0 || t >= C) {
                // Raised as ValueError at the next host sync; until then the
                // row's loss is NaN, never a plausible number.
                gg::record_bad_label(bad, t, C, ignore_index);
                loss = gg::lim<A>::nan();
            } else {
                const A w_t = weight ? gg::to_acc(weight[t]) : A(1);
                const A W = smoothing && weight ? *wsum : A(C);  // wsum is passed only then
                loss = gg::ce_row_loss(m, l, gg::to_acc(x[base + t * S]), w_t, A(1.0 - eps),
                                       A(eps / C), smoothing, W, swr, x_ref);
                w_row = w_t;
            }
        }
        stat[r] = m;
        stat[R + r] = l;
        if (loss_out) loss_out[r] = gg::from_acc<T>(loss);
    }
    loss = gg::group_sum(loss, blockDim.x, sa);
    w_row = gg::group_sum(w_row, blockDim.x, sb);
    if (threadIdx.x == 0) {
        partial[2 * blockIdx.x] = loss;
        partial[2 * blockIdx.x + 1] = w_row;
    }
}

// One block: sums the forward's per-block partials in a fixed order (so the
// result is deterministic) into den and, for 'sum' / 'mean', the 0-d loss.
// rows >= 0 replaces den by that count (class-probability targets: the mean
// divides by the number of rows, not by a sum of weights).
// den stays in the accumulation type: a float16 sum of weights passes 65504
// with a large batch, and an infinite den would zero the mean's gradient.
template <class T>
__global__ void __launch_bounds__(512)
sce_finish(const typename gg::acc<T>::type* __restrict__ partial, long long nparts,
           int reduction, double rows, T* __restrict__ out,
           typename gg::acc<T>::type* __restrict__ den_out) {
    typedef typename gg::acc<T>::type A;
    __shared__ A sa[32], sb[32];
    A total = A(0), den = A(0);
    for (long long i = threadIdx.x; i < nparts; i += blockDim.x) {
        total += partial[2 * i];
        den += partial[2 * i + 1];
    }
    total = gg::group_sum(total, blockDim.x, sa);
    den = gg::group_sum(den, blockDim.x, sb);
    if (rows >= 0.0) den = A(rows);
    if (threadIdx.x == 0) {
        *den_out = den;
        if (reduction != gg::GG_NONE) *out = gg::from_acc<T>(gg::ce_reduce(total, den, reduction));
    }
}

// g is 0-d ('sum', 'mean') or one value per row ('none': g_rows = 1); den is
// read only for 'mean'. Ignored rows get exact zeros; rows with an
// out-of-range label (already flagged by the forward) get NaN.
template <class T>
__global__ void __launch_bounds__(512)
sce_backward(const T* __restrict__ x, const void* __restrict__ labels, int labels64,
             const T* __restrict__ weight, const typename gg::acc<T>::type* __restrict__ wsum,
             const typename gg::acc<T>::type* __restrict__ stat, const T* __restrict__ g,
             int g_rows,
             const typename gg::acc<T>::type* __restrict__ den, int reduction, long long R,
             int C, long long S,
             long long ignore_index, double eps, int G, T* __restrict__ gx) {
    typedef typename gg::acc<T>::type A;
    enum { U = unroll<T>::N };
    const int lane = threadIdx.x & (G - 1);
    const long long r = group_row(G);
    if (r >= R) return;  // no block-wide sync below
    const long long base = row_base(r, C, S);
    const long long t = gg::load_label(labels, labels64, r);
    if (t == ignore_index || t < 0 || t >= C) {
        const T fill = gg::from_acc<T>(t == ignore_index ? A(0) : gg::lim<A>::nan());
        for (int c = lane; c < C; c += G) gx[base + c * S] = fill;
        return;
    }
    const bool smoothing = eps != 0.0;
    const A scale = gg::ce_row_scale(gg::to_acc(g[g_rows ? r : 0]),
                                     reduction == gg::GG_MEAN ? *den : A(1), reduction);
    const A w_t = weight ? gg::to_acc(weight[t]) : A(1);
    const A W = smoothing && weight ? *wsum : A(C);  // wsum is passed only then
    const gg::ce_coef<A> k = gg::ce_row_coef(scale, w_t, A(1.0 - eps), A(eps / C), W);
    const A m = stat[r], l = stat[R + r];
    const long long gs = G * S;
    const T* xp = x + base + lane * S;
    T* gp = gx + base + lane * S;
    for (int c0 = lane; c0 < C; c0 += G * U, xp += U * gs, gp += U * gs) {
        A v[U];
#pragma unroll
        for (int u = 0; u < U; ++u) v[u] = c0 + u * G < C ? gg::to_acc(xp[u * gs]) : A(0);
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int c = c0 + u * G;
            if (c < C) {
                const A sw = smoothing ? k.smooth * (weight ? gg::to_acc(weight[c]) : A(1)) : A(0);
                gp[u * gs] = gg::from_acc<T>(gg::ce_grad(v[u], m, l, k, c == t, sw));
            }
        }
    }
}

// ---- class-probability targets --------------------------------------------
// t has the logits' layout. Two passes over the row: the online max and sum of
// exps, then (m known) the target's mass and its dot with x - m, so that dot
// keeps the precision of x - m (see ce_soft_loss). stat is (3, R): m, l, mass.
// partial holds (loss, 0) per block; sce_finish divides by the rows it is given.
template <class T>
__global__ void __launch_bounds__(512)
sce_soft_forward(const T* __restrict__ x, const T* __restrict__ t, const T* __restrict__ weight,
                 long long R, int C, long long S, double eps, int G,
                 typename gg::acc<T>::type* __restrict__ stat, T* __restrict__ loss_out,
                 typename gg::acc<T>::type* __restrict__ partial) {
    typedef typename gg::acc<T>::type A;
    enum { U = unroll<T>::N };
    __shared__ A sa[32], sb[32];
    const int lane = threadIdx.x & (G - 1);
    const long long r = group_row(G);
    const bool active = r < R;  // no early return: every thread joins the reductions
    const bool smoothing = eps != 0.0;
    const long long gs = G * S;  // from one of the lane's classes to its next
    long long base = 0;
    A m, s;
    gg::lse_init(m, s);
    if (active) {
        base = row_base(r, C, S);
        lane_lse<T, A, U>(x + base + lane * S, lane, G, C, gs, m, s, [](int, const A (&)[U]) {});
    }
    gg::group_lse(m, s, G, sa, sb);

    A mass = A(0), dot = A(0);
    if (active) {
        const A one_minus_eps = A(1.0 - eps), eps_over_c = A(eps / C);
        const T* xp = x + base + lane * S;
        const T* tp = t + base + lane * S;
        for (int c0 = lane; c0 < C; c0 += G * U, xp += U * gs, tp += U * gs) {
            A v[U], p[U];
#pragma unroll
            for (int k = 0; k < U; ++k) {
                const bool in = c0 + k * G < C;
                v[k] = in ? gg::to_acc(xp[k * gs]) : A(0);
                p[k] = in ? gg::to_acc(tp[k * gs]) : A(0);
            }
#pragma unroll
            for (int k = 0; k < U; ++k) {
                const int c = c0 + k * G;
                if (c < C) {
                    const A wt = gg::ce_soft_target(p[k], weight ? gg::to_acc(weight[c]) : A(1),
                                                    one_minus_eps, eps_over_c, smoothing);
                    mass += wt;
                    dot += wt * (v[k] - m);
                }
            }
        }
    }
    mass = gg::group_sum(mass, G, sa);
    dot = gg::group_sum(dot, G, sb);

    A loss = A(0);
    if (active && lane == 0) {
        const A l = gg::log_(s);
        loss = gg::ce_soft_loss(mass, l, dot);
        stat[r] = m;
        stat[R + r] = l;
        stat[2 * R + r] = mass;
        if (loss_out) loss_out[r] = gg::from_acc<T>(loss);
    }
    loss = gg::group_sum(loss, blockDim.x, sa);
    if (threadIdx.x == 0) {
        partial[2 * blockIdx.x] = loss;
        partial[2 * blockIdx.x + 1] = A(0);
    }
}

// One pass over the logits (and the targets when gx is wanted); gx or gt may be
// null (that gradient is not needed). rows is the mean's divisor.
template <class T>
__global__ void __launch_bounds__(512)
sce_soft_backward(const T* __restrict__ x, const T* __restrict__ t, const T* __restrict__ weight,
                  const typename gg::acc<T>::type* __restrict__ stat, const T* __restrict__ g,
                  int g_rows, int reduction, double rows, long long R, int C, long long S,
                  double eps, int G, T* __restrict__ gx, T* __restrict__ gt) {
    typedef typename gg::acc<T>::type A;
    enum { U = unroll<T>::N };
    const int lane = threadIdx.x & (G - 1);
    const long long r = group_row(G);
    if (r >= R) return;  // no block-wide sync below
    const long long base = row_base(r, C, S);
    const bool smoothing = eps != 0.0;
    const A one_minus_eps = A(1.0 - eps), eps_over_c = A(eps / C);
    const A scale = gg::ce_row_scale(gg::to_acc(g[g_rows ? r : 0]), A(rows), reduction);
    const A m = stat[r], l = stat[R + r], s_mass = scale * stat[2 * R + r];
    const A s_t = scale * one_minus_eps;
    const long long gs = G * S;
    const long long off = base + lane * S;
    for (int c0 = lane; c0 < C; c0 += G * U) {
        const long long i0 = off + (long long)(c0 - lane) * S;  // this lane's k = 0 element
        A v[U], p[U];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const bool in = c0 + u * G < C;
            v[u] = in ? gg::to_acc(x[i0 + u * gs]) : A(0);
            p[u] = in && gx ? gg::to_acc(t[i0 + u * gs]) : A(0);
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int c = c0 + u * G;
            if (c < C) {
                const A w = weight ? gg::to_acc(weight[c]) : A(1);
                const A nl = gg::ce_neg_log_softmax(v[u], m, l);
                if (gx) {
                    const A wt = gg::ce_soft_target(p[u], w, one_minus_eps, eps_over_c, smoothing);
                    gx[i0 + u * gs] = gg::from_acc<T>(gg::ce_soft_grad_x(nl, s_mass, wt, scale));
                }
                if (gt) gt[i0 + u * gs] = gg::from_acc<T>(gg::ce_soft_grad_t(nl, s_t * w));
            }
        }
    }
}

#ifdef GG_DTYPE
typedef typename gg::acc<GG_DTYPE>::type gg_acc_t;
template __global__ void sce_forward<GG_DTYPE>(const GG_DTYPE*, const void*, int, const GG_DTYPE*,
                                               const gg_acc_t*, long long, int, long long,
                                               long long, double, int, gg_acc_t*, GG_DTYPE*,
                                               gg_acc_t*, long long*);
template __global__ void sce_finish<GG_DTYPE>(const gg_acc_t*, long long, int, double,
                                              GG_DTYPE*, gg_acc_t*);
template __global__ void sce_backward<GG_DTYPE>(const GG_DTYPE*, const void*, int,
                                                const GG_DTYPE*, const gg_acc_t*,
                                                const gg_acc_t*, const GG_DTYPE*, int,
                                                const gg_acc_t*, int, long long, int, long long,
                                                long long, double, int, GG_DTYPE*);
template __global__ void sce_soft_forward<GG_DTYPE>(const GG_DTYPE*, const GG_DTYPE*,
                                                    const GG_DTYPE*, long long, int, long long,
                                                    double, int, gg_acc_t*, GG_DTYPE*, gg_acc_t*);
template __global__ void sce_soft_backward<GG_DTYPE>(const GG_DTYPE*, const GG_DTYPE*,
                                                     const GG_DTYPE*, const gg_acc_t*,
                                                     const GG_DTYPE*, int, int, double, long long,
                                                     int, long long, double, int, GG_DTYPE*,
                                                     GG_DTYPE*);
#endif
