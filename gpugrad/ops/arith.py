"""Arithmetic: + - * / ** @, neg, maximum, minimum, clamp, where, comparisons."""
from __future__ import annotations

import math

from ..autograd import Function, _wrap
from ..autograd.function import apply1, apply2
from ..errors import DeviceError, DtypeError, ShapeError
from ..tensor import Tensor
from . import _common as rule
from ._common import (_operand, arr, as_tensor, broadcast_error, operands, shape_of,
                      true_division_operands, unbroadcast)

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "matmul", "maximum", "minimum", "clamp",
           "clip", "where"]


class Add(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        A = a._data if isinstance(a, Tensor) else a
        B = b._data if isinstance(b, Tensor) else b
        return A + B

    @staticmethod
    def backward(ctx, g):
        # Each input's shape from its graph edge (false: no gradient wanted); g passes
        # on as it is where no broadcasting happened.
        ea, eb = ctx._next
        return (None if not ea else g if g.shape == ea[2] else unbroadcast(g, ea[2]),
                None if not eb else g if g.shape == eb[2] else unbroadcast(g, eb[2]))


class Sub(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        return arr(a) - arr(b)

    @staticmethod
    def backward(ctx, g):
        ea, eb = ctx._next  # as Add's
        return (None if not ea else g if g.shape == ea[2] else unbroadcast(g, ea[2]),
                None if not eb else -g if g.shape == eb[2] else unbroadcast(-g, eb[2]))


class Mul(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        A = a._data if isinstance(a, Tensor) else a
        B = b._data if isinstance(b, Tensor) else b
        na, nb = ctx.needs_input_grad
        if na or nb:
            # Each side's gradient needs only the other side.
            ctx.save_for_backward(b if na else None, a if nb else None)
        return A * B

    @staticmethod
    def backward(ctx, g):
        ea, eb = ctx._next  # as Add's
        b, a = ctx.saved_tensors
        ga = gb = None
        if ea:
            ga = g * b
            if ga.shape != ea[2]:
                ga = unbroadcast(ga, ea[2])
        if eb:
            gb = g * a
            if gb.shape != eb[2]:
                gb = unbroadcast(gb, eb[2])
        return ga, gb


class Div(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        na, nb = ctx.needs_input_grad
        # a, not the output: an in-place change to the output (p = e / s; p += eps)
        # must not invalidate this node.
        ctx.save_for_backward(a if nb else None, b)
        return arr(a) / arr(b)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.input_shape(0), ctx.input_shape(1)
        a, b = ctx.saved_tensors
        ga = unbroadcast(g / b, sa) if na else None
        # -g a / b**2 as (a / b) / b: b**2 overflows or underflows long before the
        # quotient does (a = b = 1e20 in float32).
        gb = unbroadcast(-(g * ((a / b) / b)), sb) if nb else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a._data

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        na, nb = ctx.needs_input_grad
        out = arr(a) ** arr(b)
        ctx.save_for_backward(a, b, out if nb else None)
        return out

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.input_shape(0), ctx.input_shape(1)
        a, b, out = ctx.saved_tensors
        ga = gb = None
        # At a base of 0 the formulas meet 0 * inf and log(0). There, as in PyTorch:
        # d/da is 0 where b == 0 (x**0 is constant), d/db is 0 where b >= 0.
        # The masks are computed on the values (arrays, also for 0-d operands): they
        # carry no gradient.
        xp = ctx.backend.xp
        A, B = arr(a), arr(b)
        if na:
            if isinstance(b, (int, float)):
                # x**0 is constant: g * 0, as PyTorch (and no 0 * inf to differentiate)
                ga = g * 0.0 if b == 0 else g * b * a ** (b - 1)
            else:
                # A base of 1 where b == 0 and a**(b-1) is inf (a 0 or tiny base): b * 1
                # is the 0 wanted instead of 0 * inf, and second derivatives meet no inf
                # there. Elsewhere b == 0 keeps a: d2/da db = 1/a is not 0.
                tiny = 1 / float(xp.finfo(A.dtype).max)  # |a| below it: a**-1 is inf
                blowup = xp.asarray((B == 0) & (xp.abs(A) < tiny))
                ga = g * b * rule.where(ctx, blowup, 1.0, a) ** (b - 1)
            ga = unbroadcast(ga, sa)
        if nb:
            if isinstance(a, (int, float)) and a != 0:
                gb = g * out * (math.log(a) if a > 0 else math.nan)
            elif isinstance(a, (int, float)):
                # log 0 = -inf where b < 0 (out is inf there), 0 where b >= 0: a constant
                # factor, so no inf enters what second derivatives differentiate.
                dt = arr(out).dtype
                gb = g * out * xp.where(B >= 0, 0, -math.inf).astype(dt)
            else:
                # log of 1 where masked, so that second derivatives meet no log(0) there;
                # log stays a recorded op of a, so they see it elsewhere.
                safe = rule.where(ctx, xp.asarray((A == 0) & (B >= 0)), 1.0, a)
                gb = g * out * rule.log(ctx, safe)
            gb = unbroadcast(gb, sb)
        return ga, gb


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        na, nb = ctx.needs_input_grad
        ctx.save_for_backward(a if nb else None, b if na else None)
        B = b._data
        ctx.shapes = a._data.shape, B.shape
        # b a transposed view (x @ W.T, nn.Linear's weight): see backward
        ctx.b_transposed = nb and B.ndim == 2 and not B.flags.c_contiguous and \
            B.flags.f_contiguous
        return ctx.backend.matmul(a._data, B)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        if len(sa) == 2 and len(sb) == 2:  # the common case, without reshapes
            gb = None
            if nb:
                # For a transposed b the same product, in b's layout: (g^T a)^T, so
                # that the gradient reaching b's base (W of x @ W.T) is contiguous, as
                # an optimizer's in-place update wants it. Arrays only: a recorded .T
                # would add a node.
                gb = rule.mm(ctx, g.T, a).T if ctx.b_transposed and \
                    not isinstance(g, Tensor) else rule.mm(ctx, a.T, g)
            return (rule.mm(ctx, g, b.T) if na else None), gb
        # Treat 1-D operands as matrices (a row, b a column), as matmul does,
        # then reduce broadcast batch dimensions back to each operand's shape.
        a2 = sa if len(sa) > 1 else (1,) + sa
        b2 = sb if len(sb) > 1 else sb + (1,)
        batch = _broadcast_shape(a2[:-2], b2[:-2])
        G = g.reshape(batch + (a2[-2], b2[-1]))
        ga = gb = None
        if na:
            B = b.reshape(b2) if b.ndim == 1 else b
            ga = unbroadcast(rule.mm(ctx, G, rule.mT(B)), a2).reshape(sa)
        if nb:
            A = a.reshape(a2) if a.ndim == 1 else a
            gb = unbroadcast(rule.mm(ctx, rule.mT(A), G), b2).reshape(sb)
        return ga, gb


def _broadcast_shape(s1, s2):
    """The shape two shapes broadcast to."""
    n = len(s1) if len(s1) > len(s2) else len(s2)
    s1 = (1,) * (n - len(s1)) + tuple(s1)
    s2 = (1,) * (n - len(s2)) + tuple(s2)
    return tuple(x if y == 1 else y for x, y in zip(s1, s2))


class _Pick(Function):
    """maximum/minimum, with PyTorch's gradients: each side gets g where it is picked,
    half of it at ties, and 0 where the other side is picked; where a NaN makes the
    comparisons false, both get all of it."""
    broadcasts = True

    @staticmethod
    def forward(ctx, a, b):
        A, B = arr(a), arr(b)
        xp = ctx.backend.xp
        out = getattr(xp, ctx.pick)(A, B)
        na, nb = ctx.needs_input_grad
        if na or nb:
            dt = out.dtype
            # 1/2 at ties, 1 elsewhere, in out's dtype; an array even when 0-d, so the
            # in-place ops stay in place and in that dtype
            half = xp.asarray(A == B, dtype=dt)
            half *= dt.type(-0.5)
            half += dt.type(1)
            loses = getattr(xp, ctx.loses)
            ctx.save_for_backward(half,
                                  rule.keep_mask(xp, loses(A, B)) if na else None,
                                  rule.keep_mask(xp, loses(B, A)) if nb else None)
        return out

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        half, keep_a, keep_b = ctx.saved_tensors
        g = g * half
        # A select, not g * a 0/1 weight: a NaN or inf in g must not reach the side
        # that was not picked (NaN * 0 is NaN; torch gives 0 there).
        return (unbroadcast(rule.keep(ctx, g, keep_a), ctx.input_shape(0)) if na else None,
                unbroadcast(rule.keep(ctx, g, keep_b), ctx.input_shape(1)) if nb else None)


class Maximum(_Pick):
    pick, loses = "maximum", "less"


class Minimum(_Pick):
    pick, loses = "minimum", "greater"


class Clamp(Function):
    """min(max(x, lo), hi); lo and hi may be None, numbers or Tensors that broadcast.

    The gradients are PyTorch's: x gets it where lo <= x <= hi (the bounds included),
    lo where x < lo < hi, hi where x > hi or hi < lo (then every output is hi).
    """
    broadcasts = True

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = ctx.backend.xp
        X, L, H = arr(x), arr(lo), arr(hi)
        y = X
        if L is not None:
            y = xp.maximum(y, L)
        if H is not None:
            y = xp.minimum(y, H)
        nx, nl, nh = ctx.needs_input_grad
        masks = [None, None, None]
        if nx:
            masks[0] = (X >= L) & (X <= H) if L is not None and H is not None else \
                X >= L if L is not None else X <= H
        if nl:
            masks[1] = (X < L) & (L < H) if H is not None else X < L
        if nh:
            masks[2] = (X > H) | (H < L) if L is not None else X > H
        ctx.save_for_backward(*masks)
        return y

    @staticmethod
    def backward(ctx, g):
        zero = 0.0
        return tuple(None if m is None else
                     unbroadcast(rule.where(ctx, m, g, zero), ctx.input_shape(i))
                     for i, m in enumerate(ctx.saved_tensors))


class Where(Function):
    broadcasts = True

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return ctx.backend.xp.where(cond._data, arr(a), arr(b))

    @staticmethod
    def backward(ctx, g):
        _, na, nb = ctx.needs_input_grad
        sa, sb = ctx.input_shape(1), ctx.input_shape(2)
        (cond,) = ctx.saved_tensors
        zero = 0.0
        return (None,
                unbroadcast(rule.where(ctx, cond, g, zero), sa) if na else None,
                unbroadcast(rule.where(ctx, cond, zero, g), sb) if nb else None)


# ---- public functions ----------------------------------------------------------
def add(a, b):
    """a + b, broadcasting."""
    a, b = operands("add", a, b)
    return apply2(Add, a, b)


def sub(a, b):
    """a - b, broadcasting."""
    a, b = operands("sub", a, b)
    return apply2(Sub, a, b)


def mul(a, b):
    """a * b, broadcasting."""
    a, b = operands("mul", a, b)
    return apply2(Mul, a, b)


def div(a, b):
    """a / b, broadcasting (true division; ints and bools give float32, as in PyTorch)."""
    a, b = true_division_operands(*operands("div", a, b))
    return apply2(Div, a, b)


def neg(a):
    """-a."""
    try:
        return apply1(Neg, a)
    except TypeError:
        if isinstance(a, Tensor) and a.dtype.kind == "b":  # NumPy's message names no op
            raise DtypeError(f"neg: the - operator on a bool tensor (shape {tuple(a.shape)}) "
                             "is not supported; invert a mask with gg.where(mask, False, True) or "
                             "mask == False") from None
        raise


def pow(a, b):
    """a ** b, broadcasting; PyTorch's gradients where the base is 0."""
    a, b = operands("pow", a, b)
    try:
        return apply2(Pow, a, b)
    except ValueError as e:
        if type(e) is not ValueError:  # apply's ShapeError, a DeviceError: already clear
            raise
        # NumPy's "Integers to negative integer powers are not allowed", without the op
        raise ValueError(f"pow: {e} (a base of {_kind(a)} and an exponent of "
                         f"{_kind(b)})") from None


def _kind(x):
    return f"{x.dtype} of shape {tuple(x.shape)}" if isinstance(x, Tensor) else repr(x)


def matmul(a, b):
    """a @ b: matrix product, with NumPy's rules for 1-D operands and batch axes."""
    if type(a) is Tensor and type(b) is Tensor:  # the common case, checked on the arrays
        A, B = a._data, b._data
        if A.dtype is B.dtype and A.ndim == 2 and B.ndim == 2 and A.shape[1] == B.shape[0]:
            return apply2(MatMul, a, b)
    a, b = operands("matmul", a, b)
    if not isinstance(b, Tensor) and hasattr(b, "ndim"):  # a constant array: the op takes Tensors
        b = as_tensor(b, a, "matmul")
    elif not isinstance(a, Tensor) and hasattr(a, "ndim"):
        a = as_tensor(a, b, "matmul")
    if not isinstance(a, Tensor) or not isinstance(b, Tensor) or a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both operands must be tensors of at least 1 dimension, got "
                         f"shapes {shape_of(a)} and {shape_of(b)}")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise ShapeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not align "
                         f"({ka} != {kb})")
    try:
        return apply2(MatMul, a, b)
    except ValueError:  # the batch axes, the one thing not checked above
        sa, sb = a.shape[:-2], b.shape[:-2]
        if any(m != n and m != 1 and n != 1 for m, n in zip(reversed(sa), reversed(sb))):
            raise ShapeError(f"matmul: the batch shapes {sa} and {sb} of shapes "
                             f"{tuple(a.shape)} and {tuple(b.shape)} do not broadcast") from None
        raise


def maximum(a, b):
    """Elementwise larger of a and b; ties split the gradient evenly."""
    a, b = operands("maximum", a, b)
    return apply2(Maximum, a, b)


def minimum(a, b):
    """Elementwise smaller of a and b; ties split the gradient evenly."""
    a, b = operands("minimum", a, b)
    return apply2(Minimum, a, b)


def where(cond, a, b):
    """Elementwise `a if cond else b`; cond is a bool tensor (no gradient).

    With a and b both Python numbers the result takes PyTorch's dtype: float32 if
    either is a float, int64 if either is an int, else bool; on cond's device.
    """
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    if like is None:
        if not isinstance(cond, Tensor):
            raise TypeError("where: expected a Tensor among cond, a and b, got "
                            f"{type(cond).__name__}, {type(a).__name__} and {type(b).__name__}")
        like = cond
        kinds = {type(a), type(b)}
        if kinds <= _PYTHON_NUMBERS:
            dtype = "float32" if float in kinds else "int64" if int in kinds else "bool"
            a = _wrap(cond._backend.asarray(a, dtype), cond._backend)
            b = _wrap(cond._backend.asarray(b, dtype), cond._backend)
        elif type(a) not in _PYTHON_NUMBERS:
            a = as_tensor(a, like, "where")
        else:
            b = as_tensor(b, like, "where")
    cond = as_tensor(cond, like, "where")
    if cond.dtype.kind != "b":  # as PyTorch: 0.5 or NaN as True would be a guess
        raise DtypeError(f"where: the condition must be a bool tensor, got {cond.dtype} of "
                         f"shape {tuple(cond.shape)}; compare first (x > 0)")
    a, b = operands("where", a, b)
    for v, t, name in ((a, b, "a"), (b, a, "b")):
        if type(v) is int and isinstance(t, Tensor):
            _fits("where", v, t, t.dtype, name)
    return Where.apply(cond, a, b)


_PYTHON_NUMBERS = {bool, int, float}


def _fits(op, v, like, dtype, name):
    """OverflowError unless the Python int v is a value of dtype where that is an integer
    type (np.where would wrap it: where(c, int32 t, 2**40) gave 0)."""
    xp = like._backend.xp
    dtype = xp.dtype(dtype)
    if dtype.kind in "iu":
        info = xp.iinfo(dtype)
        if not info.min <= v <= info.max:
            raise OverflowError(f"{op}: {name}={v} is out of the range of {dtype} "
                                f"({info.min} to {info.max})")


def _bound(x, v, name):
    """A clamp bound: None, a Python number (kept weak), or a Tensor on x's device."""
    if v is None or isinstance(v, Tensor):
        return v
    v = _operand("clamp", v, x)
    if isinstance(v, bool) or not isinstance(v, (int, float, Tensor)):
        raise TypeError(f"clamp: {name} must be None, a number or a Tensor, got {v!r}")
    return v


def clamp(x, min=None, max=None):
    """Limit x to [min, max] elementwise (either may be None; numbers or Tensors that
    broadcast); where min > max every element is max, as in torch.clamp."""
    if not isinstance(x, Tensor):
        raise TypeError(f"clamp: expected a Tensor, got {type(x).__module__}.{type(x).__name__}")
    if min is None and max is None:
        raise TypeError("clamp: at least one of min and max must not be None")
    lo, hi = _bound(x, min, "min"), _bound(x, max, "max")
    floats = {t.dtype for t in (x, lo, hi) if isinstance(t, Tensor) and t.dtype.kind == "f"}
    if len(floats) > 1:
        kinds = ", ".join(str(t.dtype) if isinstance(t, Tensor) else repr(t) for t in (x, lo, hi))
        raise DtypeError(f"clamp: dtype mismatch: x, min and max are {kinds}; gpugrad never "
                         "promotes floats silently: cast with .to(dtype)")
    # int tensors take the float tensor's dtype; clamped to a float number, float32
    # (PyTorch); int tensors alone, their common type (an int64 bound is not cut to int32)
    dt = floats.pop() if floats else "float32" if isinstance(lo, float) or \
        isinstance(hi, float) else x._backend.xp.result_type(
            *(t.dtype for t in (x, lo, hi) if isinstance(t, Tensor)))
    for v, name in ((lo, "min"), (hi, "max")):
        if type(v) is int:
            _fits("clamp", v, x, dt, name)
    x, lo, hi = (t.to(dtype=dt) if isinstance(t, Tensor) and t.dtype != dt else t
                 for t in (x, lo, hi))
    return Clamp.apply(x, lo, hi)


clip = clamp


_CMP = {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
        "eq": "equal", "ne": "not_equal"}


def _compare(name, a, b):
    """Comparisons carry no gradient: a plain bool tensor."""
    a, b = operands(name, a, b)
    t = a if isinstance(a, Tensor) else b
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a._backend is not b._backend:
        raise DeviceError(f"{name}: expected both tensors on one device, got {a.device} "
                          f"and {b.device}")
    try:
        out = getattr(t._backend.xp, _CMP[name])(arr(a), arr(b))
    except ValueError:
        broadcast_error(name, a, b)
        raise
    if type(out) is not t._backend.array_type:
        out = t._backend.asarray(out)
    return _wrap(out, t._backend)

