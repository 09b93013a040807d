"""Gradient clipping, as torch.nn.utils: clip_grad_norm_ and clip_grad_value_."""
from __future__ import annotations

import math
import numbers

from .. import ops as _ops
from ..autograd import no_grad
from ..errors import DeviceError
from ..tensor import Tensor, tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(op, tensors):
    if isinstance(tensors, Tensor):
        return [tensors]
    out = list(tensors)
    for i, t in enumerate(out):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: element {i} is a {type(t).__module__}.{type(t).__name__}, "
                            "expected Tensors (parameters)")
    return out


def _grads(op, parameters):
    return [p.grad for p in _as_list(op, parameters) if p.grad is not None]


def _norm_type(op, norm_type):
    if isinstance(norm_type, str) and norm_type in ("inf", "-inf"):
        return float(norm_type)
    if not isinstance(norm_type, numbers.Real) or isinstance(norm_type, bool) or \
            math.isnan(norm_type):
        raise ValueError(f"{op}: norm_type must be a number (or inf), got {norm_type!r}")
    return float(norm_type)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of all tensors together, as if concatenated into one vector (a 0-d Tensor;
    0.0 when there are none). Tensors of several float dtypes give the widest dtype's.
    foreach is accepted for PyTorch's signature: one code path serves both."""
    op = "get_total_norm"
    tensors = _as_list(op, tensors)
    norm_type = _norm_type(op, norm_type)
    if not tensors:
        return tensor(0.0)
    devices = {str(t.device) for t in tensors}
    if len(devices) > 1:
        raise DeviceError(f"{op}: tensors live on several devices {sorted(devices)}; "
                           "gpugrad does not copy between devices behind your back")
    with no_grad():
        norms = [_ops.norm(t, norm_type) for t in tensors]
        widest = max((n.dtype for n in norms), key=lambda d: d.itemsize)
        total = _ops.norm(_ops.stack([n.to(widest) for n in norms]), norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"{op}: the total norm of order {norm_type} of the gradients is "
                           "non-finite, so it cannot be clipped; to scale the gradients by "
                           "the non-finite norm anyway, set error_if_nonfinite=False")
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every .grad in place by min(1, max_norm / (total_norm + 1e-6)) (foreach as in
    get_total_norm)."""
    grads = _grads("clip_grads_with_norm_", parameters)
    if not grads:
        return
    with no_grad():
        coef = _ops.clamp(max_norm / (total_norm + 1e-6), max=1.0)
        for g in grads:
            if g.dtype.itemsize < coef.dtype.itemsize:
                # PyTorch multiplies a float16 grad by the float32 coefficient in float32
                # and rounds once; rounding the coefficient to float16 first is off by ulps.
                g[...] = (g.to(coef.dtype) * coef).to(g.dtype)
            else:
                g *= coef.to(g.dtype)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Rescale the gradients of parameters in place so that their total norm is at most
    max_norm (PyTorch's rule: multiply by min(1, max_norm / (norm + 1e-6))); returns the
    total norm before clipping, as a 0-d Tensor. foreach: as in get_total_norm."""
    parameters = _as_list("clip_grad_norm_", parameters)  # a generator is read once
    if not isinstance(max_norm, numbers.Real) or isinstance(max_norm, bool):
        raise TypeError(f"clip_grad_norm_: max_norm must be a number, got {max_norm!r}")
    if not max_norm >= 0:  # NaN fails too
        # PyTorch takes it, and a negative coefficient turns every gradient around.
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm!r}")
    total = get_total_norm(_grads("clip_grad_norm_", parameters), norm_type,
                           error_if_nonfinite)
    clip_grads_with_norm_(parameters, float(max_norm), total)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every .grad in place to [-clip_value, clip_value] (foreach as in
    get_total_norm)."""
    if not isinstance(clip_value, numbers.Real) or isinstance(clip_value, bool):
        raise TypeError(f"clip_grad_value_: clip_value must be a number, got {clip_value!r}")
    if not clip_value >= 0:  # NaN fails too
        # PyTorch takes it: clamping to [c, -c] with c > 0 sets every gradient to -c.
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value!r}")
    c = float(clip_value)
    with no_grad():
        for g in _grads("clip_grad_value_", parameters):
            g[...] = _ops.clamp(g, -c, c)
