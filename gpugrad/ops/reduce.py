"""Reductions over NumPy-style `axis` (None, int or tuple) with `keepdims`."""
from __future__ import annotations

from ..autograd import Function
from ._common import expand


def _axes(op, axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < (ndim or 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(out)


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
        return x._data.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        axes, keepdims = ctx.axes, ctx.keepdims
        return _spread(ctx, g, ctx.shape, axes, keepdims), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.shape, ctx.axes, ctx.keepdims = x._data.shape, axes, keepdims
        return x._data.mean(axis=axes, keepdims=keepdims)

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
        mask = (X == y).astype(X.dtype)
        mask /= mask.sum(axis=axes, keepdims=True)
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
    if name in ("max", "min") and x._data.size == 0:
        raise ValueError(f"{name}: reduction of an empty tensor (shape {tuple(x.shape)}) "
                         "has no identity")
    return cls.apply(x, axes, bool(keepdims))


def sum(x, axis=None, keepdims=False):
    return _reduction(Sum, "sum", x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return _reduction(Mean, "mean", x, axis, keepdims)


def max(x, axis=None, keepdims=False):
    return _reduction(Max, "max", x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    return _reduction(Min, "min", x, axis, keepdims)
