"""The CUDA path of the optimizers: one cupy.ElementwiseKernel per optimizer.

Each kernel's operation calls one `__host__ __device__` function of
kernels/optim.cu (the kernel's preamble): the gradient comes in, the parameter
and its state are updated in place, nothing else is allocated. Hyperparameters
are kernel arguments, so one compiled kernel per dtype (CuPy compiles on first
use per dtype and device and caches) serves every group and every step.

State that an option may leave out (a momentum buffer, amsgrad's running max) is
a `raw` argument: the function receives a pointer that is null when the flag
says the buffer is absent, and a one-element placeholder stands in for it.
"""
from __future__ import annotations

import numpy as np

# Bits of the kernels' `flags` argument: the enum at the top of kernels/optim.cu.
MAXIMIZE, MOMENTUM, FIRST, NESTEROV, AMSGRAD, DECOUPLED, CENTERED = 1, 2, 4, 8, 16, 32, 64

_SPECS = {
    # name: (in_params, out_params, operation)
    "sgd": ("T g, T neg_lr, T momentum, T one_minus_dampening, T wd, int32 flags",
            "T p, raw T buf",
            "gg_optim::sgd_step(p, (flags & GG_OPT_MOMENTUM) ? &buf[i] : (T*)0, g, neg_lr, "
            "momentum, one_minus_dampening, wd, flags)"),
    "adam": ("T g, T decay, T wd, T w1, T beta2, T c2, T bc2_sqrt, T eps, T neg_step, "
             "int32 flags",
             "T p, T m, T v, raw T vmax",
             "gg_optim::adam_step(p, m, v, (flags & GG_OPT_AMSGRAD) ? &vmax[i] : (T*)0, g, "
             "decay, wd, w1, beta2, c2, bc2_sqrt, eps, neg_step, flags)"),
    "rmsprop": ("T g, T alpha, T c, T eps, T wd, T momentum, T neg_lr, int32 flags",
                "T p, T sq, raw T gavg, raw T buf",
                "gg_optim::rmsprop_step(p, sq, (flags & GG_OPT_CENTERED) ? &gavg[i] : (T*)0, "
                "(flags & GG_OPT_MOMENTUM) ? &buf[i] : (T*)0, g, alpha, c, eps, wd, "
                "momentum, neg_lr, flags)"),
    "adagrad": ("T g, T wd, T eps, T neg_clr, int32 flags",
                "T p, T acc",
                "gg_optim::adagrad_step(p, acc, g, wd, eps, neg_clr, flags)"),
}
_kernels: dict = {}
_placeholders: dict = {}
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def has_kernels(xp) -> bool:
    """Whether the array module compiles elementwise kernels (CuPy does, NumPy does not).

    A capability, not a device name: any backend whose `xp` offers CuPy's
    ElementwiseKernel gets the one-launch update; the others run the same
    arithmetic as in-place ufuncs."""
    return hasattr(xp, "ElementwiseKernel")


def kernel(xp, name: str):
    """The ElementwiseKernel of one optimizer, built once (CuPy compiles per dtype)."""
    k = _kernels.get(name)
    if k is None:
        from ..backends.cuda import kernel_source  # the CUDA backend is loaded: it made p
        in_params, out_params, operation = _SPECS[name]
        k = xp.ElementwiseKernel(in_params, out_params, operation, name=f"gg_{name}_step",
                                 preamble=kernel_source("optim.cu"))
        _kernels[name] = k
    return k


def placeholder(xp, like):
    """A one-element array of like's dtype and device for a raw buffer that is absent."""
    key = (like.device.id, like.dtype)
    a = _placeholders.get(key)
    if a is None:
        with like.device:
            a = _placeholders[key] = xp.empty(1, like.dtype)
    return a


def launch(xp, name: str, p, g, scalars, flags: int, state_arrays):
    """Run one optimizer's kernel over parameter p (updated in place)."""
    T = p.dtype.type
    args = [g, *(T(s) for s in scalars), np.int32(flags), p,
            *(placeholder(xp, p) if a is None else a for a in state_arrays)]
    with p.device:
        kernel(xp, name)(*args)
