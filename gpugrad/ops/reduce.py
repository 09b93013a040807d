"""Reductions over NumPy-style `axis` (None, int or tuple) with `keepdims`."""
from __future__ import annotations

import operator

from ..autograd import Function
from ._common import expand, fmean, fsum

__all__ = ["sum", "mean", "max", "min"]


def _axes(op, axis, ndim, what=None):
    """axis (None, an int or a tuple of ints; NumPy integers too) as a tuple in [0, ndim).
    A 0-d tensor takes axis 0 or -1, as in PyTorch, and has nothing to reduce: ()."""
    if axis is None:
        return tuple(range(ndim))
    try:
        axes = (operator.index(axis),)
    except TypeError:
        try:
            if not isinstance(axis, (tuple, list)):
                raise TypeError
            axes = tuple(operator.index(a) for a in axis)
        except TypeError:
            raise TypeError(f"{op}: axis must be None, an int or a tuple of ints, "
                            f"got {axis!r}") from None
    n = ndim or 1
    for a in axes:
        if not -n <= a < n:
            raise ValueError(f"{op}: axis {a} is out of range for "
                             f"{what or f'a tensor of {ndim} dimensions'} "
                             f"(expected {-n} to {n - 1})")
    out = tuple(a % ndim for a in axes) if ndim else ()
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return out


def _flag(op, name, value):
    """A bool argument: True/False (or 1/0), never a truthy string or list."""
    if value is True or value is False or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    if type(value).__name__ == "bool_":  # NumPy's
        return bool(value)
    raise TypeError(f"{op}: {name} must be a bool, got {value!r}")


def _axis(op, axis, ndim, what=None):
    """One axis (an int) in [0, ndim), for ops that take exactly one; what names the
    range's owner in errors when it is not the tensor (stack's or unsqueeze's result)."""
    try:
        operator.index(axis)
    except TypeError:
        raise TypeError(f"{op}: axis must be an int, got {axis!r}") from None
    if not ndim:
        raise ValueError(f"{op}: expected a tensor of at least 1 dimension, got a 0-d one")
    return _axes(op, axis, ndim, what)[0]


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _spread(ctx, g, shape, axes, keepdims):
    """The gradient of a reduction, broadcast back over the reduced axes."""
    if not keepdims and axes:
        g = g.reshape(_kept_shape(shape, axes))
    return expand(ctx, g, shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = x._data.shape, axes, keepdims
        return fsum(x._data, axes, keepdims)

    @staticmethod
    def backward(ctx, g):
        axes, keepdims = ctx.axes, ctx.keepdims
        return _spread(ctx, g, ctx.shape, axes, keepdims), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = x._data.shape, axes, keepdims
        return fmean(x._data, axes, keepdims)

    @staticmethod
    def backward(ctx, g):
        axes, keepdims = ctx.axes, ctx.keepdims
        count = 1
        for a in axes:
            count *= ctx.shape[a]
        # g / count rounds once; where count overflows the dtype (float16 past 65504)
        # the reciprocal does not.
        if count > float(ctx.backend.xp.finfo(g.dtype).max):
            return _spread(ctx, g * (1.0 / count), ctx.shape, axes, keepdims), None, None
        return _spread(ctx, g / count, ctx.shape, axes, keepdims), None, None


class _Extremum(Function):
    """max/min: ties share the gradient evenly (PyTorch's amax/amin rule)."""

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        X = x._data
        ctx.shape, ctx.axes, ctx.keepdims = X.shape, axes, keepdims
        y = ctx.reduce(X, axis=axes, keepdims=True)
        if ctx.needs_input_grad[0]:  # the tie weights, for a float x that records
            mask = (X == y).astype(X.dtype)
            mask /= fsum(mask, axes, keepdims=True)
            ctx.save_for_backward(mask)
        return y if keepdims else y.reshape(tuple(s for i, s in enumerate(X.shape) if i not in axes))

    @staticmethod
    def backward(ctx, g):
        axes, keepdims = ctx.axes, ctx.keepdims
        (w,) = ctx.saved_tensors
        return _spread(ctx, g, ctx.shape, axes, keepdims) * w, None, None


class Max(_Extremum):
    reduce = staticmethod(lambda X, **kw: X.max(**kw))


class Min(_Extremum):
    reduce = staticmethod(lambda X, **kw: X.min(**kw))


def _reduction(cls, name, x, axis, keepdims):
    axes = _axes(name, axis, x.ndim)
    keepdims = _flag(name, "keepdims", keepdims)
    if name in ("max", "min") and any(x._data.shape[a] == 0 for a in axes):
        raise ValueError(f"{name}: reduction over an empty axis (shape {tuple(x.shape)}, "
                         f"axis {axis}) has no identity")
    return cls.apply(x, axes, bool(keepdims))


def sum(x, axis=None, keepdims=False):
    return _reduction(Sum, "sum", x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return _reduction(Mean, "mean", x, axis, keepdims)


def max(x, axis=None, keepdims=False):
    return _reduction(Max, "max", x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    return _reduction(Min, "min", x, axis, keepdims)
