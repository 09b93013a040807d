"""Reductions over NumPy-style `axis` (None, int or tuple) with `keepdims`.

Each also takes PyTorch's spelling, `dim=` and `keepdim=`; giving both spellings of
one argument raises. Each spelling keeps its library's meaning of an empty tuple:
`dim=()` reduces every axis (torch.sum(x, dim=())), `axis=()` none (np.sum).
`max`/`min` give each library's meaning by spelling too: their positional argument is
PyTorch's dim. One int dim gives PyTorch's `(values, indices)` pair, so that
`values, indices = t.max(1)` works as in torch; a tuple of dims gives the values, as
torch.amax; `axis=` gives NumPy's values only. `argmax`/`argmin` give the indices alone.
"""
from __future__ import annotations

import collections
import contextlib
import math
import operator

from ..autograd import Function, _wrap
from ..errors import AxisError, DtypeError, ShapeError, warn
from ..tensor import Tensor
from . import _common as rule
from ._common import expand, fmean, fsum
from .unary import _floating as _as_float

__all__ = ["sum", "mean", "max", "min", "argmax", "argmin", "var", "std", "norm",
           "logsumexp"]


def _axes(op, axis, ndim, what=None):
    """axis (None, an int or a tuple of ints; NumPy integers too) as a tuple in [0, ndim).
    A 0-d tensor takes axis 0 or -1, as in PyTorch, and has nothing to reduce: ()."""
    if axis is None:
        return tuple(range(ndim))
    if _is_bool(axis) or isinstance(axis, (tuple, list)) and any(_is_bool(a) for a in axis):
        # operator.index(True) is 1: a flag passed where an axis goes (x.sum(True)) would
        # reduce axis 1 silently; NumPy and PyTorch refuse it.
        raise TypeError(f"{op}: axis must be None, an int or a tuple of ints, got {axis!r}")
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
            raise AxisError(f"{op}: axis {a} is out of range for "
                            f"{what or f'a tensor of {ndim} dimensions'} "
                            f"(expected {-n} to {n - 1})")
    out = tuple(a % ndim for a in axes) if ndim else ()
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return out


def _is_bool(v):
    """Whether v is a Python or NumPy bool."""
    return isinstance(v, bool) or type(v).__name__ == "bool_"


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
        if _is_bool(axis):
            raise TypeError
        operator.index(axis)
    except TypeError:
        raise TypeError(f"{op}: axis must be an int, got {axis!r}") from None
    if not ndim:
        raise AxisError(f"{op}: expected a tensor of at least 1 dimension, got a 0-d one")
    return _axes(op, axis, ndim, what)[0]


def _dim(op, axis, dim, default=None):
    """axis= (NumPy's name) or dim= (PyTorch's): the one given. Both raise, unless the
    NumPy one is at its default (a signature cannot tell that from not given)."""
    if dim is None:
        return axis
    if axis is not default:
        raise TypeError(f"{op}: got both axis={axis!r} and dim={dim!r}; they are one "
                        "argument (NumPy's and PyTorch's names): pass one of them")
    return dim


def _reduce_dim(op, axis, dim):
    """_dim for the reductions: dim=() or [] (PyTorch's spelling) reduces every axis, as
    in torch.sum(x, dim=()); axis=() (NumPy's) reduces none, as in np.sum(a, axis=())."""
    axis = _dim(op, axis, dim)
    if dim is not None and isinstance(dim, (tuple, list)) and not dim:
        return None
    return axis


def _keepdim(op, keepdims, keepdim):
    """keepdims= or keepdim=, checked as a bool; both given (keepdims not at its default
    False) raise."""
    if keepdim is not None:
        if keepdims is not False:
            raise TypeError(f"{op}: got both keepdims={keepdims!r} and keepdim={keepdim!r}; "
                            "they are one argument (NumPy's and PyTorch's names): pass one")
        keepdims = keepdim
    return _flag(op, "keepdims", keepdims)


def _tensor(op, x):
    """TypeError naming op unless x is a Tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__module__}."
                        f"{type(x).__name__}")


def _floating(op, x):
    """TypeError naming op unless x is a float Tensor (var, std and norm take no ints, as torch)."""
    _tensor(op, x)
    if x._data.dtype.kind != "f":
        raise DtypeError(f"{op}: expected a floating point tensor, got {x._data.dtype} "
                         f"(shape {tuple(x.shape)})")


def _quiet(xp):
    """NumPy's floating point warnings off, where a result of inf or nan is the answer
    (log(0) = -inf of an empty sum); CuPy has none to silence."""
    errstate = getattr(xp, "errstate", None)
    return errstate(all="ignore") if errstate is not None else contextlib.nullcontext()


def _kept_shape(shape, axes):
    """shape with the reduced axes as 1s."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _out_shape(shape, axes, keepdims):
    """A reduction's result shape."""
    return _kept_shape(shape, axes) if keepdims else \
        tuple(s for i, s in enumerate(shape) if i not in axes)


def _count(shape, axes):
    """How many elements each reduced slice holds."""
    return math.prod(shape[a] for a in axes)


def _spread(ctx, g, shape, axes, keepdims):
    """The gradient of a reduction, broadcast back over the reduced axes."""
    if not keepdims and axes:
        g = g.reshape(_kept_shape(shape, axes))
    return expand(ctx, g, shape)


def _kept(y, shape, axes, keepdims):
    """A reduction's result with its reduced axes back as 1s (broadcasts against x)."""
    return y if keepdims or not axes else y.reshape(_kept_shape(shape, axes))


def _upcast16(fn, X, *args):
    """fn(X, ...) for float16 in float32, rounded once (squares of float16 overflow at 256)."""
    if X.dtype.char == "e":
        return fn(X.astype("float32"), *args).astype(X.dtype)
    return fn(X, *args)


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
        count = _count(ctx.shape, axes)
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
        return y if keepdims else y.reshape(_out_shape(X.shape, axes, False))

    @staticmethod
    def backward(ctx, g):
        axes, keepdims = ctx.axes, ctx.keepdims
        (w,) = ctx.saved_tensors
        return _spread(ctx, g, ctx.shape, axes, keepdims) * w, None, None


class Max(_Extremum):
    reduce = staticmethod(lambda X, **kw: X.max(**kw))


class Min(_Extremum):
    reduce = staticmethod(lambda X, **kw: X.min(**kw))


# ---- variance and standard deviation -------------------------------------------
def _var_forward(X, axes, dof, keepdims):
    """Sum of squared deviations from the mean over axes, divided by dof."""
    d = X - fmean(X, axes, keepdims=True)
    s = fsum(d * d, axes, keepdims)
    # dof <= 0: PyTorch divides by 0 (inf, or nan where every deviation is 0)
    return s / X.dtype.type(dof) if dof > 0 else s * X.dtype.type(math.inf)


def _var_backward(ctx, G, x):
    """d var / dx times G (already spread over x's shape): 2 (x - mean) / dof."""
    axes, dof = ctx.axes, ctx.dof
    if ctx.n == 0:
        return G * 0.0
    mean = x.mean(axis=axes, keepdims=True) if isinstance(x, Tensor) else \
        fmean(x, axes, keepdims=True)
    d = x - mean
    xp = ctx.backend.xp
    if ctx.whole and dof <= 0:
        # PyTorch's rule for a reduction over everything (no dim given) with no degrees
        # of freedom left: G * inf, nan where x is the mean (d's sign is not used)
        D = rule.arr(d)
        with _quiet(xp):
            return G * xp.where(D == 0, D.dtype.type(math.nan), D.dtype.type(math.inf))
    if dof != 0:  # with a dim, PyTorch's 2 / (n - correction), finite where that is < 0
        return G * d * (2.0 / dof)
    # 2 / 0: inf with the sign of G d, nan where x is the mean or G is 0
    with _quiet(xp):
        return G * d * math.inf


class _Moment(Function):
    """var and std: the forward and the shared part of their rules."""

    @staticmethod
    def forward(ctx, x, axes, dof, keepdims, whole):
        X = x._data
        ctx.shape, ctx.axes, ctx.dof, ctx.keepdims = X.shape, axes, dof, keepdims
        ctx.whole = whole
        ctx.n = _count(X.shape, axes)
        xp = ctx.backend.xp
        if ctx.n == 0:  # the mean of nothing is nan, and so is its spread (PyTorch)
            y = xp.full(_out_shape(X.shape, axes, keepdims), math.nan, X.dtype)
        else:
            with _quiet(xp):
                y = _upcast16(_var_forward, X, axes, dof, keepdims)
        if ctx.root:
            y = xp.sqrt(y)
        ctx.save_for_backward(x, y if ctx.root else None)
        return y


class Var(_Moment):
    root = False

    @staticmethod
    def backward(ctx, g):
        x, _ = ctx.saved_tensors
        G = _spread(ctx, g, ctx.shape, ctx.axes, ctx.keepdims)
        return _var_backward(ctx, G, x), None, None, None, None


class Std(_Moment):
    """sqrt(var); where std is 0 the gradient is 0, not 0 / 0 (PyTorch's rule)."""

    root = True

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        zero = rule.arr(y) == 0
        # a safe denominator where std is 0, so that no inf enters a recorded rule
        gv = rule.where(ctx, zero, 0.0, g / (2 * rule.where(ctx, zero, 1.0, y)))
        G = _spread(ctx, gv, ctx.shape, ctx.axes, ctx.keepdims)
        return _var_backward(ctx, G, x), None, None, None, None


def _moment(cls, op, x, axis, correction, keepdims, dim, keepdim, unbiased):
    """var and std: check the arguments, warn where dof <= 0, apply cls."""
    _floating(op, x)
    if _is_bool(axis) and dim is None:
        # torch.var(x, unbiased) and x.std(False): a bool in axis's place is unbiased,
        # not axis 0 or 1
        if unbiased is not None or correction != 1:
            raise TypeError(f"{op}: got unbiased={axis!r} positionally and also "
                            f"correction={correction!r} / unbiased={unbiased!r}; pass one")
        axis, unbiased = None, axis
    axis = _reduce_dim(op, axis, dim)
    axes = _axes(op, axis, x.ndim)
    keepdims = _keepdim(op, keepdims, keepdim)
    if unbiased is not None:  # PyTorch's older spelling: unbiased=False is correction=0
        if correction != 1:
            raise TypeError(f"{op}: got both correction={correction!r} and "
                            f"unbiased={unbiased!r}; pass one of them")
        correction = int(_flag(op, "unbiased", unbiased))
    if isinstance(correction, bool):  # torch's positional unbiased: x.var(0, False)
        correction = int(correction)
    if not isinstance(correction, (int, float)) or not math.isfinite(correction):
        raise TypeError(f"{op}: correction must be a finite number, got {correction!r}")
    n = _count(x.shape, axes)
    dof = n - correction
    if dof <= 0:
        warn(f"{op}: degrees of freedom is <= 0 ({n} elements, correction "
             f"{correction}): the result is nan or inf", RuntimeWarning)
    # dof itself, also where negative: the forward divides by max(dof, 0); the rule is
    # PyTorch's, which differs between no dim given (whole) and a dim given
    whole = axis is None or x.ndim == 0
    return cls.apply(x, axes, dof, keepdims, whole)


# ---- norms ------------------------------------------------------------------------
def _norm_forward(X, p, axes, xp):
    """The p-norm over axes, keeping them as 1s."""
    A = xp.abs(X)
    if p == 2:
        return xp.sqrt(fsum(X * X, axes, keepdims=True))
    if p == 1:
        return fsum(A, axes, keepdims=True)
    if p == math.inf:
        return A.max(axis=axes, keepdims=True)
    if p == -math.inf:
        return A.min(axis=axes, keepdims=True)
    if p == 0:
        return fsum((X != 0).astype(X.dtype), axes, keepdims=True)
    return fsum(A ** p, axes, keepdims=True) ** (1.0 / p)


class Norm(Function):
    """The vector p-norm over axes; its rule is PyTorch's, 0 (not nan) at a norm of 0."""

    @staticmethod
    def forward(ctx, x, p, axes, keepdims):
        X = x._data
        ctx.shape, ctx.p, ctx.axes, ctx.keepdims = X.shape, p, axes, keepdims
        xp = ctx.backend.xp
        with _quiet(xp):  # 0 ** -1 = inf and its kin are part of negative p's answer
            y = _upcast16(_norm_forward, X, p, axes, xp)
        if not keepdims:
            y = y.reshape(_out_shape(X.shape, axes, False))
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        p, axes = ctx.p, ctx.axes
        if p == 0:  # a count: its gradient is 0 everywhere, given as none (PyTorch)
            return None, None, None, None
        x, y = ctx.saved_tensors
        G = _spread(ctx, g, ctx.shape, axes, ctx.keepdims)
        y = _kept(y, ctx.shape, axes, ctx.keepdims)
        xp = ctx.backend.xp
        X, Y = rule.arr(x), rule.arr(y)
        # a constant (its derivative is 0 wherever it exists); 0 at nan, as torch's sgn
        sign = (X > 0).astype(X.dtype) - (X < 0).astype(X.dtype)
        if p == 1:
            return G * sign, None, None, None
        if p == math.inf or p == -math.inf:
            # the elements at the extremum (or nan) share the gradient, as in PyTorch
            A = xp.abs(X)
            hit = ((A == Y) | xp.isnan(A)).astype(X.dtype)
            return G * (sign * hit / fsum(hit, axes, keepdims=True)), None, None, None
        zero = Y == 0
        safe_y = rule.where(ctx, zero, 1.0, y)
        with _quiet(xp):
            if p == 2:
                gx = rule.where(ctx, zero, 0.0, G * x / safe_y)
            elif p < 1:
                # |x| ** (p - 1) is infinite at x = 0, where the gradient is 0
                safe_a = rule.where(ctx, X == 0, 1.0, abs(x))
                gx = sign * safe_a ** (p - 1) * G * y ** (1 - p)
            else:
                xs = sign * abs(x) ** (p - 1) if p < 2 else x * abs(x) ** (p - 2)
                gx = xs * rule.where(ctx, zero, 0.0, G / safe_y ** (p - 1))
        return gx, None, None, None


def _norm_order(p, n_axes):
    """p as a float ('fro' is 2 over at most 2 axes); other strings and nan raise."""
    if p is None:  # torch.norm's p=None: the 2-norm
        return 2.0
    if isinstance(p, str):
        if p == "fro":
            if n_axes > 2:
                raise ShapeError(f"norm: p='fro' is the norm of a matrix: at most 2 axes, got "
                                 f"{n_axes}; use p=2 for a vector norm over more")
            return 2
        raise ValueError(f"norm: p={p!r} is not supported (the vector p-norms and 'fro' are)")
    if isinstance(p, bool) or not isinstance(p, (int, float)) and not hasattr(p, "__float__"):
        raise TypeError(f"norm: p must be a number or 'fro', got {p!r}")
    p = float(p)
    if math.isnan(p):
        raise ValueError("norm: p must not be nan")
    return p


class LogSumExp(Function):
    """log(sum(exp(x))) over axes, shifted by the max; rows of -inf give -inf (PyTorch)."""

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        X = x._data
        ctx.shape, ctx.axes, ctx.keepdims = X.shape, axes, keepdims
        xp = ctx.backend.xp
        if _count(X.shape, axes) == 0:  # the log of an empty sum
            y = xp.full(_out_shape(X.shape, axes, keepdims), -math.inf, X.dtype)
        else:
            m = X.max(axis=axes, keepdims=True)
            # an infinite max would make inf - inf: shift by 0 there (PyTorch does too)
            m = xp.where(xp.isinf(m), X.dtype.type(0), m)
            with _quiet(xp):
                y = xp.log(fsum(xp.exp(X - m), axes, keepdims=True))
            y += m
            if not keepdims:
                y = y.reshape(_out_shape(X.shape, axes, False))
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        axes, keepdims = ctx.axes, ctx.keepdims
        G = _spread(ctx, g, ctx.shape, axes, keepdims)
        with _quiet(ctx.backend.xp):  # -inf - -inf: nan, as PyTorch's gradient there
            return G * rule.exp(ctx, x - _kept(y, ctx.shape, axes, keepdims)), None, None


# ---- public functions ----------------------------------------------------------------
def _reduction(cls, name, x, axis, keepdims, dim=None, keepdim=None):
    """Check a reduction's arguments (either spelling) and apply cls."""
    _tensor(name, x)
    axes = _axes(name, _reduce_dim(name, axis, dim), x.ndim)
    keepdims = _keepdim(name, keepdims, keepdim)
    if name == "mean" and x._data.dtype.kind != "f":
        # PyTorch refuses too; NumPy's answer would be float64, a silent promotion
        raise DtypeError(f"mean: expected a floating point tensor, got {x._data.dtype} "
                         f"(shape {tuple(x.shape)}); cast first, e.g. x.float().mean()")
    if name in ("max", "min") and any(x._data.shape[a] == 0 for a in axes):
        # torch: IndexError naming the dim; with no dim, RuntimeError
        raise (ShapeError if axis is None and dim is None else AxisError)(
            f"{name}: reduction over an empty axis (shape {tuple(x.shape)}, "
            f"axis {axis if dim is None else dim}) has no identity")
    return cls.apply(x, axes, keepdims)


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Sum over axis (None: all; an int or a tuple), keeping reduced axes as 1s if keepdims."""
    return _reduction(Sum, "sum", x, axis, keepdims, dim, keepdim)


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Mean over axis (None: all; an int or a tuple), keeping reduced axes if keepdims."""
    return _reduction(Mean, "mean", x, axis, keepdims, dim, keepdim)


def max(x, dim=None, keepdim=None, *, axis=None, keepdims=False):
    """The largest value: with one int dim (positional or dim=), torch's (values, indices)
    along it, the gradient to the index picked; with axis= (None, an int or a tuple) or a
    tuple of dims, NumPy's values only, ties sharing the gradient (torch's amax)."""
    return _extremum(Max, "max", x, dim, keepdim, axis, keepdims)


def min(x, dim=None, keepdim=None, *, axis=None, keepdims=False):
    """The smallest value: (values, indices) along one int dim, as torch.min; values only
    over axis= or a tuple of dims, as NumPy's min (see max)."""
    return _extremum(Min, "min", x, dim, keepdim, axis, keepdims)


# What max and min along one dim return, as torch's: a pair that unpacks, with the
# two also as attributes.
ValuesIndices = collections.namedtuple("ValuesIndices", ("values", "indices"))


def _extremum(cls, name, x, dim, keepdim, axis, keepdims):
    if dim is None or isinstance(dim, (tuple, list)):  # values only (torch's amax)
        return _reduction(cls, name, x, axis, keepdims, dim, keepdim)
    _tensor(name, x)
    if axis is not None:
        raise TypeError(f"{name}: got both dim={dim!r} and axis={axis!r}; they are one "
                        "argument (PyTorch's and NumPy's names): pass one of them")
    if isinstance(dim, Tensor):
        raise TypeError(f"{name}: got a Tensor of shape {tuple(dim.shape)} where dim goes; "
                        f"the elementwise {name} of two tensors is gg.{name}imum(a, b)")
    keep = _keepdim(name, keepdims, keepdim)
    X, backend = x._data, x._backend
    if X.ndim == 0:  # torch: the element itself, at index 0
        _axes(name, dim, 0)
        return ValuesIndices(cls.apply(x, (), keep),
                             _wrap(backend.asarray(0).astype("int64"), backend))
    a = _axis(name, dim, X.ndim)
    if X.shape[a] == 0:
        raise AxisError(f"{name}: reduction over an empty axis (shape {tuple(x.shape)}, "
                        f"dim {dim}) has no identity")
    idx = (X.argmax if cls is Max else X.argmin)(axis=a, keepdims=True)
    # The values picked by the indices: the gradient goes to that one element (torch's
    # max(dim) rule), where amax's shares it among ties.
    xp = backend.xp
    index = tuple(idx if i == a else xp.arange(n).reshape((n,) + (1,) * (X.ndim - 1 - i))
                  for i, n in enumerate(X.shape))
    values = x[index]
    idx = idx.astype("int64", copy=False)
    if not keep:
        values = values.squeeze(a)
        idx = idx.squeeze(a)
    return ValuesIndices(values, _wrap(idx, backend))


def _arg(op, x, axis, keepdims, dim, keepdim):
    """argmax/argmin: int64 indices, no gradient."""
    _tensor(op, x)
    axis = _dim(op, axis, dim)
    keepdims = _keepdim(op, keepdims, keepdim)
    X, backend = x._data, x._backend
    find = X.argmax if op == "argmax" else X.argmin
    if axis is None:  # the index into the flattened tensor
        if X.size == 0:
            raise AxisError(f"{op}: an empty tensor (shape {tuple(x.shape)}) has no {op[3:]}")
        out = backend.asarray(find())
        if keepdims:
            out = out.reshape((1,) * X.ndim)
    elif X.ndim == 0:  # one element: its index along the only axis (0 or -1) is 0
        _axes(op, axis, 0)
        out = backend.asarray(find())
    else:
        a = _axis(op, axis, X.ndim)
        if X.shape[a] == 0:
            raise AxisError(f"{op}: axis {axis} of shape {tuple(x.shape)} is empty: no {op[3:]}")
        out = find(axis=a, keepdims=keepdims)
    return _wrap(out.astype("int64", copy=False), backend)


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index (int64, no gradient) of the largest value along axis; None: into the flattened x."""
    return _arg("argmax", x, axis, keepdims, dim, keepdim)


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index (int64, no gradient) of the smallest value along axis; None: into the flattened x."""
    return _arg("argmin", x, axis, keepdims, dim, keepdim)


def var(x, axis=None, correction=1, keepdims=False, *, dim=None, keepdim=None, unbiased=None):
    """Variance over axis, dividing by N - correction (1: unbiased, as torch.var)."""
    return _moment(Var, "var", x, axis, correction, keepdims, dim, keepdim, unbiased)


def std(x, axis=None, correction=1, keepdims=False, *, dim=None, keepdim=None, unbiased=None):
    """Standard deviation over axis, sqrt(var(x, axis, correction)), as torch.std."""
    return _moment(Std, "std", x, axis, correction, keepdims, dim, keepdim, unbiased)


def norm(x, p=2, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Vector p-norm over axis (None: all): p any number, inf, -inf, 0 (a count) or 'fro'."""
    _floating("norm", x)
    axis = _reduce_dim("norm", axis, dim)
    axes = _axes("norm", axis, x.ndim)
    keepdims = _keepdim("norm", keepdims, keepdim)
    p = _norm_order(p, len(axes) if axis is not None else 0)
    if (p < 0 or p == math.inf) and any(x._data.shape[a] == 0 for a in axes):
        raise ShapeError(f"norm: the {p:g} norm over an empty axis (shape {tuple(x.shape)}) "
                         "has no identity")
    return Norm.apply(x, p, axes, keepdims)


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """log(sum(exp(x))) over axis (None: all), without overflow; int input gives float32."""
    x = _as_float("logsumexp", x)
    axes = _axes("logsumexp", _reduce_dim("logsumexp", axis, dim), x.ndim)
    return LogSumExp.apply(x, axes, _keepdim("logsumexp", keepdims, keepdim))
