"""Softmax, log-softmax and the losses. softmax_cross_entropy is one fused op."""
from __future__ import annotations

import math
import numbers

from ..autograd import Function, _wrap
from ..autograd.function import apply2
from ..errors import DtypeError, ShapeError
from ..tensor import Tensor
from . import _common as rule
from ._common import as_tensor, broadcasts_to, fsum
from .reduce import _axes, _axis

__all__ = ["softmax", "log_softmax", "softmax_cross_entropy", "one_hot", "mse_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("none", "mean", "sum")


class Softmax(Function):
    """softmax along one axis; the backward needs only the result."""

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
    """log_softmax along one axis; the backward needs only the result."""

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


def _softmax_axis(op, axis, dim):
    """The one axis of softmax/log_softmax, spelled axis= or dim= (not both); -1 if neither."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: got both axis={axis!r} and dim={dim!r}; pass one of them")
        axis = dim
    return -1 if axis is None else axis


def _along(cls, op, x, axis, dim):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind in "biu":  # as PyTorch: NumPy's exp would fail on its integer output
        raise DtypeError(f"{op}: expected a floating point tensor, got {x.dtype} (shape "
                         f"{tuple(x.shape)}); cast with .to(dtype)")
    axis = _softmax_axis(op, axis, dim)
    if x.ndim == 0:
        # PyTorch: one element along its only axis (0 or -1), so 1 (softmax) or 0
        # (log_softmax), with gradient 0; the 1-element rule gives exactly that.
        _axes(op, axis, 0)
        return cls.apply(x.reshape(1), 0).reshape(())
    return apply2(cls, x, _axis(op, axis, x.ndim))


def softmax(x, axis=None, dim=None):
    """exp(x) / sum(exp(x)) along axis (or dim; default -1), as torch.softmax."""
    return _along(Softmax, "softmax", x, axis, dim)


def log_softmax(x, axis=None, dim=None):
    """x - logsumexp(x) along axis (or dim; default -1), as torch.log_softmax."""
    return _along(LogSoftmax, "log_softmax", x, axis, dim)


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


# softmax_cross_entropy's defaults: (ignore_index, label_smoothing, reduction)
_DEFAULT_OPTS = (-100, 0.0, "mean")


class SoftmaxCrossEntropy(Function):
    """Cross-entropy against integer labels, fused (see the backends for the formulas).

    Called with the logits and labels alone when weight and options are the defaults:
    with two arguments the op records through apply's lean branch."""

    @staticmethod
    def forward(ctx, x, t, weight=None, opts=_DEFAULT_OPTS):
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
        return (gx, None, None, None)[:len(ctx.needs_input_grad)]  # one per argument


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


class SoftmaxCrossEntropyProbs(Function):
    """Cross-entropy against class probabilities t (N, C, d1, ...), per row r:
    loss_r = -sum_c w_c t'_c log_softmax(x)_c,  t' = (1-eps) t + eps/C,
    and 'mean' divides the sum by the number of rows N*d1*... (PyTorch's definition).

    Gradients, with s_r the row's factor (g_r, g or g/rows) and A_r = sum_c w_c t'_c:
    d/dx_c = s_r (A_r softmax(x)_c - w_c t'_c),  d/dt_c = -s_r (1-eps) w_c log_softmax(x)_c.
    """

    @staticmethod
    def forward(ctx, x, t, weight, opts):
        X = x._data
        loss, stat = ctx.backend.softmax_cross_entropy_probs_forward(
            _rows(X), _rows(t._data), None if weight is None else weight._data, *opts)
        if opts[1] == "none":
            loss = loss.reshape(X.shape[:1] + X.shape[2:])
        ctx.opts = opts
        # Backward needs the logits, the targets and three numbers per row (max,
        # log-sum of exps and A_r): no softmax is kept.
        ctx.save_for_backward(x, t, weight, stat)
        return loss

    @staticmethod
    def backward(ctx, g):
        nx, nt = ctx.needs_input_grad[:2]
        x, t, weight, stat = ctx.saved_tensors
        if isinstance(x, Tensor):  # create_graph: the same formulas, recorded
            gx, gt = _probs_grads(x, g, t, weight, ctx.opts, nx, nt)
        else:
            N = x.shape[0]
            G = g.reshape(N, _positions(x.shape)) if ctx.opts[1] == "none" else g
            gx, gt = ctx.backend.softmax_cross_entropy_probs_backward(
                _rows(x), _rows(t), stat, G, weight, *ctx.opts, nx, nt)
            gx = None if gx is None else gx.reshape(x.shape)
            gt = None if gt is None else gt.reshape(x.shape)
        return gx, gt, None, None


def _probs_grads(x, g, t, weight, opts, nx, nt):
    """SoftmaxCrossEntropyProbs's gradients as Tensor ops (differentiable again)."""
    eps, reduction = opts
    C = x.shape[1]
    keep = (x.shape[0], 1) + x.shape[2:]  # per-row values broadcast over classes
    if reduction == "none":
        s = g.reshape(keep)
    elif reduction == "mean":
        s = g / max(x.shape[0] * _positions(x.shape), 1)
    else:
        s = g
    w = None if weight is None else weight.reshape((1, C) + (1,) * (x.ndim - 2))
    gx = gt = None
    if nx:
        wt = t * (1 - eps) + eps / max(C, 1) if eps else t  # C = 0: nothing to smooth
        if w is not None:
            wt = wt * w
        gx = (softmax(x, axis=1) * wt.sum(axis=1, keepdims=True) - wt) * s
    if nt:
        f = -(1 - eps) * s
        gt = log_softmax(x, axis=1) * (f if w is None else f * w)
    return gx, gt


def softmax_cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean",
                          label_smoothing=0.0):
    """Cross-entropy of softmax(logits) against class indices or class probabilities, as
    torch.nn.functional.cross_entropy.

    logits (N, C), (N, C, d1, ...) or unbatched (C,); target either integer labels
    (N,), (N, d1, ...) or () in [0, C) or ignore_index, or float class probabilities
    of the logits' shape and dtype (ignore_index then must stay negative, as in
    PyTorch); weight (C,) rescales each class.
    """
    if isinstance(logits, Tensor) and isinstance(target, Tensor) and weight is None:
        # The usual call (2-D floating logits, one integer label per row, the default
        # options) passes every check below: these tests say so in fewer steps.
        X, T = logits._data, target._data
        if X.ndim == 2 and T.shape == X.shape[:1] and X.dtype.kind == "f" and \
                T.dtype.kind in "iu" and type(ignore_index) is int and ignore_index == -100 \
                and type(reduction) is str and reduction == "mean" and \
                type(label_smoothing) is float and label_smoothing == 0.0:
            return apply2(SoftmaxCrossEntropy, logits, target)
    op = "softmax_cross_entropy"
    if not isinstance(logits, Tensor):
        raise TypeError(f"{op}: logits must be a Tensor, got {type(logits).__name__}")
    if logits.ndim < 1:
        raise ShapeError(f"{op}: logits must be (C,), (N, C) or (N, C, d1, ...), got a 0-d "
                         "tensor")
    if logits.dtype.kind != "f":
        raise DtypeError(f"{op}: logits must be floating point, got {logits.dtype}")
    target = as_tensor(target, logits, op)
    probs = target.dtype.kind == "f"
    if not probs and target.dtype.kind not in "iu":
        raise DtypeError(f"{op}: target must be integer class indices or float class "
                         f"probabilities, got {target.dtype}")
    C = logits.shape[1] if logits.ndim > 1 else logits.shape[0]
    if probs:
        if target.shape != logits.shape:
            raise ShapeError(f"{op}: class-probability target of shape {tuple(target.shape)} "
                             f"does not match logits of shape {tuple(logits.shape)} (a float "
                             "target has the logits' shape; class indices are integers)")
        if target.dtype != logits.dtype:
            raise DtypeError(f"{op}: class-probability target dtype {target.dtype} differs from "
                             f"logits dtype {logits.dtype}; cast explicitly with .to(dtype)")
    else:
        want = logits.shape[:1] + logits.shape[2:] if logits.ndim > 1 else ()
        if target.shape != want:
            raise ShapeError(f"{op}: labels of shape {tuple(target.shape)} do not match logits "
                             f"of shape {tuple(logits.shape)} (expected labels of shape {want})")
    if logits.ndim == 1:  # unbatched, as in PyTorch: one row
        loss = softmax_cross_entropy(logits.reshape(1, C), target.reshape((1,) + target.shape),
                                     weight, ignore_index, reduction, label_smoothing)
        return loss.reshape(()) if reduction == "none" else loss
    if weight is not None:
        weight = as_tensor(weight, logits, op)
        if weight.shape != (C,):
            raise ShapeError(f"{op}: weight must have shape ({C},) for {C} classes, got "
                             f"{tuple(weight.shape)}")
        if weight.dtype != logits.dtype:
            raise DtypeError(f"{op}: weight dtype {weight.dtype} differs from logits dtype "
                             f"{logits.dtype}; cast explicitly")
        if weight.requires_grad:
            raise ValueError(f"{op}: the gradient with respect to weight is not supported; "
                             "pass weight.detach()")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    # `type(...) is`: the common case without the slower ABC checks
    if type(ignore_index) is not int and (not isinstance(ignore_index, numbers.Integral) or
                                          isinstance(ignore_index, bool)):
        raise TypeError(f"{op}: ignore_index must be an int, got {ignore_index!r}")
    if (type(label_smoothing) is not float and not isinstance(label_smoothing, numbers.Real)) \
            or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be a number in [0, 1], got "
                         f"{label_smoothing!r}")
    if probs:
        if ignore_index >= 0:
            # PyTorch refuses it too: no row of a probability target is a class to ignore.
            raise ValueError(f"{op}: ignore_index ({ignore_index}) is not supported for "
                             "class-probability targets; leave it negative (default -100)")
        return SoftmaxCrossEntropyProbs.apply(logits, target, weight,
                                              (float(label_smoothing), reduction))
    opts = (int(ignore_index), float(label_smoothing), reduction)
    if weight is None and opts == _DEFAULT_OPTS:
        return apply2(SoftmaxCrossEntropy, logits, target)
    return SoftmaxCrossEntropy.apply(logits, target, weight, opts)


def one_hot(labels, num_classes=-1):
    """Integer labels (any shape) as int64 one-hot vectors along a new last axis, as
    torch.nn.functional.one_hot; num_classes=-1 takes max(labels) + 1."""
    op = "one_hot"
    if not isinstance(labels, Tensor):
        raise TypeError(f"{op}: labels must be a Tensor, got {type(labels).__name__}")
    if labels.dtype.kind not in "iu":
        raise DtypeError(f"{op}: labels must be integers (class indices), got {labels.dtype}")
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool):
        raise TypeError(f"{op}: num_classes must be an int, got {num_classes!r}")
    if num_classes < -1:
        raise ValueError(f"{op}: num_classes must be -1 (infer) or at least 0, got {num_classes}")
    xp = labels._backend.xp
    L = labels._data
    if L.size == 0:
        if num_classes <= 0:
            raise ValueError(f"{op}: cannot infer the number of classes from labels of shape "
                             f"{tuple(labels.shape)} (empty); pass num_classes")
    else:
        # Data preparation, not a recorded op: the range check reads the labels back
        # (on CUDA a synchronization, as num_classes=-1 needs anyway).
        lo, hi = int(L.min()), int(L.max())
        if lo < 0:
            raise ValueError(f"{op}: class values must be non-negative, got label {lo}")
        if num_classes == -1:
            num_classes = hi + 1
        elif hi >= num_classes:
            raise ValueError(f"{op}: class values must be smaller than num_classes "
                             f"({num_classes}), got label {hi}")
    out = (L[..., None] == xp.arange(int(num_classes))).astype(xp.int64)
    return _wrap(out, labels._backend)


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
        raise ShapeError(f"{op}: input of shape {tuple(a.shape)} and {what} of shape "
                         f"{tuple(b.shape)} differ; reshape explicitly")


def _like(op, x, input, what):
    """A loss's target or weight as a Tensor of input's device, in input's float dtype."""
    x = as_tensor(x, input, op)
    if x.dtype != input.dtype and x.dtype.kind == "f" == input.dtype.kind:
        raise DtypeError(f"{op}: {what} dtype {x.dtype} differs from input dtype {input.dtype}; "
                         "cast explicitly with .to(dtype)")
    return x


def _fits(op, w, input, what):
    """A weight that broadcasts to input's shape without growing it (a larger weight
    would silently change what the mean divides by)."""
    w = _like(op, w, input, what)
    shape = tuple(input.shape)
    if not broadcasts_to(w.shape, shape):
        raise ShapeError(f"{op}: {what} of shape {tuple(w.shape)} does not broadcast to the "
                         f"input's shape {shape}")
    return w


def mse_loss(input, target, reduction="mean"):
    """Mean squared error (input - target)^2, reduced as torch.nn.functional.mse_loss."""
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
    # threshold=inf: the exact log(1 + e^x) everywhere, not softplus's linear tail past 20
    inf = math.inf
    loss = (1 - target) * softplus(input, threshold=inf) + pt * softplus(-input, threshold=inf)
    if weight is not None:
        loss = loss * _fits(op, weight, input, "weight")
    return _reduce(op, loss, reduction)


# torch's clamp of x (1 - x) in the BCE gradient: 1e-12 rounded to float32, also for
# float64 (its gradient at x = 0, t = 1 is -1.0000000039958e12, not -1e12).
_BCE_EPS = 9.999999960041972e-13


class BinaryCrossEntropy(Function):
    """-w (t log x + (1-t) log(1-x)) with each log clamped at -100, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, t, weight, reduction):
        W = None if weight is None else weight._data
        loss = ctx.backend.binary_cross_entropy_forward(x._data, t._data, W)
        ctx.reduction = reduction
        ctx.save_for_backward(x, t, weight)
        if reduction == "none":
            return loss
        total = fsum(loss)
        if reduction == "sum":
            return total
        return total / loss.size if loss.size else total * math.nan  # PyTorch: NaN if empty

    @staticmethod
    def backward(ctx, g):
        nx, nt = ctx.needs_input_grad[:2]
        x, t, weight = ctx.saved_tensors
        if ctx.reduction == "mean":
            g = g / max(math.prod(x.shape), 1)
        if not isinstance(x, Tensor):
            return (*ctx.backend.binary_cross_entropy_backward(x, t, weight, g, nx, nt),
                    None, None)
        # create_graph: PyTorch's first derivatives as Tensor ops, differentiable again
        # (its clamp of x (1 - x) at 1e-12 included, and its unclamped target gradient).
        if weight is not None:
            g = g * weight
        gx = gt = None
        if nx:
            gx = rule.expand(ctx, g * (x - t) / maximum((1 - x) * x, _BCE_EPS), x.shape)
        if nt:
            gt = rule.expand(ctx, g * (log(1 - x) - log(x)), t.shape)
        return gx, gt, None, None


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """Binary cross-entropy of probabilities input against target, as
    torch.nn.functional.binary_cross_entropy (each log clamped at -100).

    Values outside [0, 1] raise on the CPU; on CUDA they are found by the device and
    reported at the next synchronization (.item(), .numpy()), as a bad label is.
    """
    op = "binary_cross_entropy"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise DtypeError(f"{op}: input must be floating point (probabilities), got {input.dtype}")
    target = _like(op, target, input, "target")
    if target.dtype != input.dtype:
        raise DtypeError(f"{op}: target dtype {target.dtype} differs from input dtype "
                         f"{input.dtype}; cast explicitly with .to(dtype)")
    _same_shape(op, input, target)
    if weight is not None:
        weight = _fits(op, weight, input, "weight")
        if weight.dtype != input.dtype:
            raise DtypeError(f"{op}: weight dtype {weight.dtype} differs from input dtype "
                             f"{input.dtype}; cast explicitly with .to(dtype)")
        if weight.requires_grad:
            raise ValueError(f"{op}: the gradient with respect to weight is not supported; "
                             "pass weight.detach()")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return BinaryCrossEntropy.apply(input, target, weight, reduction)


from .arith import maximum  # noqa: E402
from .unary import log, softplus  # noqa: E402
