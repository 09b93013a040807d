"""The optimizers' updates as in-place ufuncs of an array module (NumPy, or CuPy
where no fused kernel applies): the oracle of kernels/optim.cu, step for step.

Each function takes the same scalars and flags as its kernel and follows
PyTorch's operation order (lerp, addcmul, addcdiv), so its numbers are
PyTorch's. `buf(k)` hands out reusable scratch arrays shaped like the
parameter: buffer 0 for intermediate values and, only with maximize or weight
decay, buffer 1 for the modified gradient (PyTorch's new `grad` tensor), which
later operations still read.
"""
from __future__ import annotations

from ._kernels import AMSGRAD, CENTERED, DECOUPLED, FIRST, MAXIMIZE, MOMENTUM, NESTEROV


def _effective_grad(xp, p, g, wd, flags, buf):
    """-g to maximize, plus wd * p: into scratch buffer 1, or g itself untouched."""
    maximize = flags & MAXIMIZE
    if wd == 0:
        return xp.negative(g, out=buf(1)) if maximize else g
    ge = xp.multiply(p, wd, out=buf(1))
    # -g + wd*p and wd*p - g round the same: one rounding of the same exact sum.
    return xp.subtract(ge, g, out=ge) if maximize else xp.add(ge, g, out=ge)


def _lerp_(xp, a, b, w, s):
    """a = lerp(a, b, w) in place, PyTorch's two forms; s is scratch."""
    xp.subtract(b, a, out=s)
    if -0.5 < w < 0.5:
        s *= w
        a += s
    else:
        s *= a.dtype.type(1) - a.dtype.type(w)  # 1 - w in the parameter's dtype, as the kernel
        xp.subtract(b, s, out=a)


def sgd(xp, p, g, scalars, flags, state, buf):
    """SGD with momentum, dampening, nesterov, weight decay, maximize."""
    neg_lr, momentum, one_minus_dampening, wd = scalars
    (mbuf,) = state
    ge = _effective_grad(xp, p, g, wd, flags, buf)
    s = buf(0)
    if flags & MOMENTUM:
        if flags & FIRST:
            xp.copyto(mbuf, ge)
        else:
            mbuf *= momentum
            xp.multiply(ge, one_minus_dampening, out=s)
            mbuf += s
        if flags & NESTEROV:
            xp.multiply(mbuf, momentum, out=s)
            s += ge
            ge = s
        else:
            ge = mbuf
    xp.multiply(ge, neg_lr, out=s)
    p += s


def adam(xp, p, g, scalars, flags, state, buf):
    """Adam (coupled weight decay) and AdamW (flags & DECOUPLED), amsgrad, maximize."""
    decay, wd, w1, beta2, c2, bc2_sqrt, eps, neg_step = scalars
    m, v, vmax = state
    if flags & DECOUPLED:
        p *= decay
    ge = _effective_grad(xp, p, g, wd, flags, buf)
    s = buf(0)
    _lerp_(xp, m, ge, w1, s)
    v *= beta2
    xp.multiply(ge, c2, out=s)
    s *= ge
    v += s
    if flags & AMSGRAD:
        xp.maximum(vmax, v, out=vmax)
        v = vmax
    xp.sqrt(v, out=s)
    s /= bc2_sqrt
    s += eps
    xp.divide(m, s, out=s)
    s *= neg_step
    p += s


def rmsprop(xp, p, g, scalars, flags, state, buf):
    """RMSprop with centering, momentum, weight decay, maximize."""
    alpha, c, eps, wd, momentum, neg_lr = scalars
    sq, gavg, mbuf = state
    ge = _effective_grad(xp, p, g, wd, flags, buf)
    s = buf(0)
    sq *= alpha
    xp.multiply(ge, c, out=s)
    s *= ge
    sq += s
    if flags & CENTERED:
        _lerp_(xp, gavg, ge, c, s)
        xp.multiply(gavg, gavg, out=s)
        xp.subtract(sq, s, out=s)
        xp.sqrt(s, out=s)
    else:
        xp.sqrt(sq, out=s)
    s += eps
    xp.divide(ge, s, out=s)
    if flags & MOMENTUM:
        mbuf *= momentum
        mbuf += s
        xp.multiply(mbuf, neg_lr, out=s)
    else:
        s *= neg_lr
    p += s


def adagrad(xp, p, g, scalars, flags, state, buf):
    """Adagrad with learning-rate decay, weight decay, maximize."""
    wd, eps, neg_clr = scalars
    (acc,) = state
    ge = _effective_grad(xp, p, g, wd, flags, buf)
    s = buf(0)
    xp.multiply(ge, ge, out=s)
    acc += s
    xp.sqrt(acc, out=s)
    s += eps
    xp.divide(ge, s, out=s)
    s *= neg_clr
    p += s
