// Per-element updates of gpugrad's optimizers (gpugrad/optim/).
//
// On CUDA each optimizer step of one parameter is one cupy.ElementwiseKernel whose
// operation calls one function below (gpugrad/optim/_kernels.py passes this file as
// the kernel's preamble): the gradient is read once, and the parameter and its
// state are updated in place, with no temporary arrays.
//
// The functions are __host__ __device__ and free of memory layout, so
// tests/optim/test_optim_kernels_host.py compiles them as host code and compares
// them with the NumPy path of gpugrad/optim (their oracle). Both follow PyTorch's
// operation order, operation by operation (lerp, addcmul, ...).
//
// T is the parameter dtype (float or double). Every hyperparameter is a kernel
// argument already rounded to T, as PyTorch rounds its Python scalars; the host
// computes the per-step ones (bias corrections, decayed learning rates) in double.

#if defined(__CUDACC__)
#define GG_OPT_HD __host__ __device__ inline
#else
#define GG_OPT_HD inline
#endif

#if !defined(__CUDACC_RTC__)
#include <cmath>
#endif

// Bits of the `flags` argument; gpugrad/optim/_kernels.py keeps the same values
// (a test checks).
enum {
    GG_OPT_MAXIMIZE = 1,
    GG_OPT_MOMENTUM = 2,   // SGD / RMSprop keep a momentum buffer
    GG_OPT_FIRST = 4,      // SGD: the buffer is new, it takes the gradient as is
    GG_OPT_NESTEROV = 8,
    GG_OPT_AMSGRAD = 16,
    GG_OPT_DECOUPLED = 32, // AdamW: decay the parameter, not the gradient
    GG_OPT_CENTERED = 64,
};

namespace gg_optim {

GG_OPT_HD float sqrt_(float x) { return sqrtf(x); }
GG_OPT_HD double sqrt_(double x) { return sqrt(x); }

// torch.maximum / numpy.maximum: a NaN on either side wins.
template <class T> GG_OPT_HD T maximum(T a, T b) { return (a != a || a > b) ? a : b; }

// PyTorch's lerp: the form that keeps precision on the side the weight leans to.
template <class T> GG_OPT_HD T lerp(T a, T b, T w) {
    return (w < T(0.5) && w > T(-0.5)) ? a + w * (b - a) : b - (b - a) * (T(1) - w);
}

// The gradient the update sees: negated to maximize, plus L2 weight decay
// (skipped at wd == 0, as PyTorch does: 0 * inf would be NaN).
template <class T> GG_OPT_HD T effective_grad(T g, T p, T wd, int flags) {
    if (flags & GG_OPT_MAXIMIZE) g = -g;
    if (wd != T(0)) g = g + wd * p;
    return g;
}

// SGD. buf is null without momentum.
template <class T>
GG_OPT_HD void sgd_step(T& p, T* buf, T g, T neg_lr, T momentum, T one_minus_dampening,
                        T wd, int flags) {
    g = effective_grad(g, p, wd, flags);
    if (flags & GG_OPT_MOMENTUM) {
        const T b = (flags & GG_OPT_FIRST) ? g : *buf * momentum + one_minus_dampening * g;
        *buf = b;
        g = (flags & GG_OPT_NESTEROV) ? g + momentum * b : b;
    }
    p = p + neg_lr * g;
}

// Adam and AdamW. decay = 1 - lr * weight_decay (AdamW), wd the coupled weight
// decay (Adam), w1 = 1 - beta1, c2 = 1 - beta2, neg_step = -lr / (1 - beta1^t).
// vmax is null without amsgrad.
template <class T>
GG_OPT_HD void adam_step(T& p, T& m, T& v, T* vmax, T g, T decay, T wd, T w1, T beta2,
                         T c2, T bc2_sqrt, T eps, T neg_step, int flags) {
    if (flags & GG_OPT_DECOUPLED) p = p * decay;
    g = effective_grad(g, p, wd, flags);
    m = lerp(m, g, w1);
    v = v * beta2 + c2 * g * g;
    T s = v;
    if (flags & GG_OPT_AMSGRAD) {
        s = maximum(*vmax, v);
        *vmax = s;
    }
    const T denom = sqrt_(s) / bc2_sqrt + eps;
    p = p + neg_step * (m / denom);
}

// RMSprop. c = 1 - alpha. gavg is null unless centered, buf null without momentum.
template <class T>
GG_OPT_HD void rmsprop_step(T& p, T& sq, T* gavg, T* buf, T g, T alpha, T c, T eps, T wd,
                            T momentum, T neg_lr, int flags) {
    g = effective_grad(g, p, wd, flags);
    sq = sq * alpha + c * g * g;
    T avg;
    if (flags & GG_OPT_CENTERED) {
        const T a = lerp(*gavg, g, c);
        *gavg = a;
        avg = sqrt_(sq - a * a);
    } else {
        avg = sqrt_(sq);
    }
    avg = avg + eps;
    if (flags & GG_OPT_MOMENTUM) {
        const T b = *buf * momentum + g / avg;
        *buf = b;
        p = p + neg_lr * b;
    } else {
        p = p + neg_lr * (g / avg);
    }
}

// Adagrad. neg_clr = -lr / (1 + (t - 1) * lr_decay).
template <class T>
GG_OPT_HD void adagrad_step(T& p, T& sum, T g, T wd, T eps, T neg_clr, int flags) {
    g = effective_grad(g, p, wd, flags);
    sum = sum + g * g;
    p = p + neg_clr * (g / (sqrt_(sum) + eps));
}

}  // namespace gg_optim
