"""Softmax, log-softmax and the losses. softmax_cross_entropy is one fused op."""
from __future__ import annotations

import math
import numbers

from ..autograd import Function
from ..tensor import Tensor
from . import _common as rule
from ._common import as_tensor, broadcasts_to, fsum
from .reduce import _axis

__all__ = ["softmax", "log_softmax", "softmax_cross_entropy", "mse_loss", "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("none", "mean", "sum")


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        xp = ctx.backend.xp
        X = x._data
        ctx.axis = axis
        if X.size == 0:  # no max over an empty axis: the (empty) result is all there is
            y = X.copy()
            ctx.save_for_backward(y)
            return y
        y = X - X.max(axis=axis, keepdims=True)
        xp.exp(y, out=y)
        y /= fsum(y, axis, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        gy = g * y
        return gy - y * rule.sum(gy, ctx.axis, keepdims=True), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        xp = ctx.backend.xp
        X = x._data
        ctx.axis = axis
        if X.size == 0:  # as in Softmax
            y = X.copy()
            ctx.save_for_backward(y)
            return y
        m = X.max(axis=axis, keepdims=True)
        y = X - m
        lse = xp.log(fsum(xp.exp(y), axis, keepdims=True))
        y -= lse
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g - rule.exp(ctx, y) * rule.sum(g, ctx.axis, keepdims=True), None


def softmax(x, axis=-1):
    axis = _axis("softmax", axis, x.ndim)
    return Softmax.apply(x, axis)


def log_softmax(x, axis=-1):
    axis = _axis("log_softmax", axis, x.ndim)
    return LogSoftmax.apply(x, axis)


# ---- softmax cross-entropy ----------------------------------------------------
def _rows(x):
    """(N, C, d1, ...) -> (N, C, S): the layout the fused kernels take, free of copies
    for a contiguous tensor."""
    N, C = x.shape[:2]
    return x.reshape(N, C, _positions(x.shape))


def _label_rows(t, x):
    """Labels (N, d1, ...) -> (N, S), matching _rows(x)."""
    return t.reshape(x.shape[0], _positions(x.shape))


def _positions(shape):
    """S, the positions per row: counted, not inferred with -1, which an empty batch
    leaves ambiguous."""
    return math.prod(shape[2:])


class SoftmaxCrossEntropy(Function):
    @staticmethod
    def forward(ctx, x, t, weight, opts):
        X, T = x._data, t._data
        W = None if weight is None else weight._data
        loss, stat, den = ctx.backend.softmax_cross_entropy_forward(
            _rows(X), _label_rows(T, X), W, *opts)
        if opts[2] == "none":
            loss = loss.reshape(T.shape)
        ctx.opts = opts
        # Backward needs the logits and two numbers per row (max and log-sum of
        # exps: see the backends): no softmax is kept.
        ctx.save_for_backward(x, t, weight, stat, den)
        return loss

    @staticmethod
    def backward(ctx, g):
        x, t, weight, stat, den = ctx.saved_tensors
        if isinstance(x, Tensor):
            gx = SoftmaxCrossEntropyBackward.apply(x, g, t, weight, stat, den, ctx.opts)
        else:
            gx = _sce_backward(ctx.backend, x, g, t, weight, stat, den, ctx.opts)
        return gx, None, None, None


def _sce_backward(backend, X, G, T, W, stat, den, opts):
    T = _label_rows(T, X)
    if opts[2] == "none":
        G = G.reshape(T.shape)
    gx = backend.softmax_cross_entropy_backward(_rows(X), T, stat, G, den, W, *opts)
    return gx.reshape(X.shape)


class SoftmaxCrossEntropyBackward(Function):
    """gx = scale_r * (A_r softmax(x) - B): the backend's fused kernel, differentiable.

    Per row r with label t: A_r = (1-eps) w_t + eps/C * sum(w), B = (1-eps) w_t
    one_hot(t) + eps/C * w, scale_r = g_r (none), g (sum) or g / den (mean),
    zero for ignored rows.
    """

    # A second-order rule, written for Tensors alone (it is rarely on a hot path).
    array_backward = False

    @staticmethod
    def forward(ctx, x, g, t, weight, stat, den, opts):
        ctx.opts = opts
        ctx.save_for_backward(x, g, t, weight, den)
        return _sce_backward(ctx.backend, x._data, g._data, t._data,
                             None if weight is None else weight._data, stat._data, den._data, opts)

    @staticmethod
    def backward(ctx, v):
        nx, ng = ctx.needs_input_grad[:2]
        x, g, t, weight, den = ctx.saved_tensors
        ignore_index, eps, reduction = ctx.opts
        xp = ctx.backend.xp
        X, T = x._data, t._data
        C = X.shape[1]
        keep = (X.shape[0], 1) + X.shape[2:]  # per-row values broadcast over classes
        valid = T != ignore_index
        tt = xp.where(valid, T, 0)
        w_t = valid.astype(X.dtype) if weight is None else weight._data[tt] * valid
        total_w = C if weight is None else weight._data.sum()
        A = (w_t * (1 - eps) + (eps / C) * total_w).reshape(keep)
        if reduction == "none":
            scale = g.reshape(keep) * valid.reshape(keep)
        else:
            scale = (g * _inverse(den, X.dtype) if reduction == "mean" else g) * valid.reshape(keep)
        p = softmax(x, axis=1)
        gx = gg = None
        if nx:
            u = v * (scale * A)
            gx = p * u - p * (p * u).sum(axis=1, keepdims=True)
        if ng:
            B = xp.zeros(X.shape, X.dtype)
            xp.put_along_axis(B, tt.reshape(keep), (w_t * (1 - eps)).reshape(keep), axis=1)
            if eps:
                w = 1 if weight is None else weight._data.reshape((1, C) + (1,) * (X.ndim - 2))
                B += (eps / C) * w
            q = (v * (p * A - as_tensor(B, x, "softmax_cross_entropy"))).sum(axis=1)
            q = q * valid
            gg = q if reduction == "none" else (q.sum() * _inverse(den, X.dtype)
                                                if reduction == "mean" else q.sum())
        return gx, gg, None, None, None, None, None


def _inverse(den, dtype):
    """1/den as a constant of the logits' dtype; den itself may be wider (float16 logits
    keep a float32 den, whose reciprocal float16 still holds)."""
    xp = den._backend.xp
    d = den._data
    # Every row ignored: den is 0 and so is each row's gradient (never 0 * inf = NaN).
    return xp.where(d == 0, 0, 1 / xp.where(d == 0, 1, d)).astype(dtype)


def softmax_cross_entropy(logits, labels, weight=None, ignore_index=-100, reduction="mean",
                          label_smoothing=0.0):
    """Cross-entropy of softmax(logits) against integer labels; PyTorch's cross_entropy.

    logits (N, C) or (N, C, d1, ...); labels (N,) or (N, d1, ...) integers in [0, C)
    or ignore_index; weight (C,) rescales each class.
    """
    op = "softmax_cross_entropy"
    if not isinstance(logits, Tensor):
        raise TypeError(f"{op}: logits must be a Tensor, got {type(logits).__name__}")
    if logits.ndim < 2:
        raise ValueError(f"{op}: logits must be (N, C) or (N, C, d1, ...), got shape "
                         f"{tuple(logits.shape)}")
    if logits.dtype.kind != "f":
        raise TypeError(f"{op}: logits must be floating point, got {logits.dtype}")
    labels = as_tensor(labels, logits, op)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: labels must be integers (class indices), got {labels.dtype}")
    want = logits.shape[:1] + logits.shape[2:]
    if labels.shape != want:
        raise ValueError(f"{op}: labels of shape {tuple(labels.shape)} do not match logits of "
                         f"shape {tuple(logits.shape)} (expected labels of shape {want})")
    if weight is not None:
        weight = as_tensor(weight, logits, op)
        if weight.shape != (logits.shape[1],):
            raise ValueError(f"{op}: weight must have shape ({logits.shape[1]},) for "
                             f"{logits.shape[1]} classes, got {tuple(weight.shape)}")
        if weight.dtype != logits.dtype:
            raise TypeError(f"{op}: weight dtype {weight.dtype} differs from logits dtype "
                            f"{logits.dtype}; cast explicitly")
        if weight.requires_grad:
            raise ValueError(f"{op}: the gradient with respect to weight is not supported; "
                             "pass weight.detach()")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not isinstance(ignore_index, numbers.Integral) or isinstance(ignore_index, bool):
        raise TypeError(f"{op}: ignore_index must be an int, got {ignore_index!r}")
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be a number in [0, 1], got "
                         f"{label_smoothing!r}")
    opts = (int(ignore_index), float(label_smoothing), reduction)
    return SoftmaxCrossEntropy.apply(logits, labels, weight, opts)


# ---- composite losses ------------------------------------------------------------
def _reduce(op, loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _same_shape(op, a, b, what="target"):
    if a.shape != b.shape:
        raise ValueError(f"{op}: input of shape {tuple(a.shape)} and {what} of shape "
                         f"{tuple(b.shape)} differ; reshape explicitly")


def _like(op, x, input, what):
    """A loss's target or weight as a Tensor of input's device, in input's float dtype."""
    x = as_tensor(x, input, op)
    if x.dtype != input.dtype and x.dtype.kind == "f" == input.dtype.kind:
        raise TypeError(f"{op}: {what} dtype {x.dtype} differs from input dtype {input.dtype}; "
                        "cast explicitly with .to(dtype)")
    return x


def _fits(op, w, input, what):
    """A weight that broadcasts to input's shape without growing it (a larger weight
    would silently change what the mean divides by)."""
    w = _like(op, w, input, what)
    shape = tuple(input.shape)
    if not broadcasts_to(w.shape, shape):
        raise ValueError(f"{op}: {what} of shape {tuple(w.shape)} does not broadcast to the "
                         f"input's shape {shape}")
    return w


def mse_loss(input, target, reduction="mean"):
    target = _like("mse_loss", target, input, "target")
    _same_shape("mse_loss", input, target)
    d = input - target
    return _reduce("mse_loss", d * d, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """-[pw t log sigmoid(x) + (1-t) log(1 - sigmoid(x))], stably, as in PyTorch.

    Written as (1-t) softplus(x) + pw t softplus(-x): softplus never overflows, and
    the gradient comes out as (1-t) sigmoid(x) - pw t sigmoid(-x), each term exact.
    PyTorch's (1-t) x + (1 + (pw-1) t) softplus(-x) has the same value, but its
    gradient (1-t) - (...) sigmoid(-x) cancels to 0 for t = 0 and x << 0.
    """
    op = "binary_cross_entropy_with_logits"
    target = _like(op, target, input, "target")
    _same_shape(op, input, target)
    pt = target if pos_weight is None else _fits(op, pos_weight, input, "pos_weight") * target
    loss = (1 - target) * softplus(input) + pt * softplus(-input)
    if weight is not None:
        loss = loss * _fits(op, weight, input, "weight")
    return _reduce(op, loss, reduction)


from .unary import softplus  # noqa: E402
