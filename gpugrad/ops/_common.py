"""Helpers the op families share: operand coercion and un-broadcasting."""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import _wrap
from ..autograd.function import broadcast_error  # noqa: F401 (for the ops)
from ..errors import DeviceError, DtypeError
from ..tensor import Tensor

_SCALARS = (int, float, bool)


def arr(x):
    """The array behind a Tensor; Python scalars pass through (NumPy keeps them weak)."""
    return x._data if isinstance(x, Tensor) else x


def shape_of(x):
    if isinstance(x, Tensor):
        return x._data.shape
    t = type(x)
    return () if t is float or t is int else getattr(x, "shape", ())


def numpy_scalar(x):
    """Whether x is a NumPy scalar (np.float32(2), np.bool_(True)): a host value like a
    Python number, not an array of some device."""
    t = type(x)
    return t.__module__ == "numpy" and t.__name__ != "ndarray" and hasattr(x, "item")


def as_tensor(x, like: Tensor, op: str) -> Tensor:
    """A constant operand (array, list, NumPy scalar) as a Tensor on like's device."""
    if isinstance(x, Tensor):
        return x
    backend = like._backend
    if backend.is_array(x):
        return _wrap(x, backend)
    if numpy_scalar(x):
        return _wrap(backend.asarray(x), backend)
    if hasattr(x, "__array__") or hasattr(x, "__cuda_array_interface__"):
        kind = type(x).__module__.split(".")[0]
        raise DeviceError(f"{op}: operand is a {kind} array but the tensor is on {like.device}; "
                          "move it explicitly (gg.tensor(..., device=...)): no silent copies")
    if isinstance(x, (list, tuple)) and _holds_tensor(x):
        raise TypeError(f"{op}: operand is a {type(x).__name__} of Tensors, which would be a "
                        "constant without their gradients; combine them with gg.stack first")
    a = backend.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{op}: operand {x!r:.60} ({type(x).__name__}) is not a number, a bool "
                        "or an array of them")
    return _wrap(a, backend)


def _holds_tensor(x):
    return any(isinstance(v, Tensor) or isinstance(v, (list, tuple)) and _holds_tensor(v)
               for v in x)


def operands(op: str, a, b):
    """Coerce a binary op's operands without silent float promotion.

    Python scalars stay scalars (they never change a tensor's dtype); int and
    bool tensors take the float operand's dtype; float32 meets float64 only
    through an explicit cast. At least one result is a Tensor; the other may be
    a Python scalar or a constant array of the same device and dtype.
    """
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    # The common cases first: a tensor with a Python number, a same-dtype tensor,
    # or a same-dtype array of its device (a constant: it stays an array).
    if ta:
        t = type(b)
        if t is int or (t is float and a._data.dtype.kind not in "biu"):
            return a, b
        if tb:
            if a._data.dtype is b._data.dtype:
                return a, b
        elif t is a._backend.array_type and b.dtype is a._data.dtype:
            return a, b
    elif tb:
        t = type(a)
        if t is int or (t is float and b._data.dtype.kind not in "biu") or \
                (t is b._backend.array_type and a.dtype is b._data.dtype):
            return a, b
    if ta and tb:
        pass
    elif ta:
        b = _operand(op, b, a)
    elif tb:
        a = _operand(op, a, b)
    else:
        raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        da, db = a._data.dtype, b._data.dtype
        if da != db:
            fa, fb = da.kind == "f", db.kind == "f"
            if fa and fb:
                raise DtypeError(
                    f"{op}: dtype mismatch: {da} and {db} (shapes {tuple(a.shape)} and "
                    f"{tuple(b.shape)}); gpugrad never promotes floats silently: cast one "
                    "with .to(dtype)")
            if fa:
                b = _wrap(b._data.astype(da), b._backend)
            elif fb:
                a = _wrap(a._data.astype(db), a._backend)
    elif type(b) is float and a._data.dtype.kind in "biu":  # a Python or NumPy float
        a = _default_float(a)
    elif type(a) is float and b._data.dtype.kind in "biu":
        b = _default_float(b)
    return a, b


def _default_float(t):
    """An int or bool tensor meeting a Python float: float32 first, PyTorch's default
    dtype (NumPy would compute in float64)."""
    return _wrap(t._data.astype(np.float32), t._backend)


def true_division_operands(a, b):
    """a / b of ints and bools (tensors or Python ints): float32 as in PyTorch, not
    NumPy's float64."""
    ka = a._data.dtype.kind if isinstance(a, Tensor) else ("i" if type(a) is int else "f")
    kb = b._data.dtype.kind if isinstance(b, Tensor) else ("i" if type(b) is int else "f")
    if ka in "biu" and kb in "biu":
        if isinstance(a, Tensor):
            a = _default_float(a)
        if isinstance(b, Tensor):
            b = _default_float(b)
    return a, b


def _operand(op, x, like):
    t = type(x)
    if t is float or t is int or t is bool:
        return x
    if t is complex:
        raise DtypeError(f"{op}: complex operands are not supported (got {x!r})")
    if isinstance(x, numbers.Number) and not hasattr(x, "shape"):
        return x
    if numpy_scalar(x):
        # A NumPy scalar is strong under NEP 50: make it a weak Python one. Another
        # library's 0-d array is none: as_tensor refuses it.
        return x.item()
    return as_tensor(x, like, op)


def broadcasts_to(small, big):
    """Whether shape small broadcasts to shape big without growing it."""
    return len(small) <= len(big) and all(s == 1 or s == b for s, b in
                                          zip(reversed(small), reversed(big)))


# ---- for derivative rules, which run on Tensors or on raw arrays -------------------
# (see Function.array_backward). Operators and methods that Tensors and arrays
# share need nothing; these cover the rest.
def unbroadcast(g, shape):
    """Sum a gradient back down to the shape of the input it belongs to."""
    if g.shape == shape:
        return g
    if isinstance(g, Tensor):
        from .shape import sum_to
        return sum_to(g, shape)
    return sum_to_array(g, shape)


def fsum(X, axis=None, keepdims=False):
    """X.sum of an array, accurate where NumPy's is not.

    NumPy sums pairwise only along the contiguous last axis; along any other it adds
    one row at a time. In float16 that running sum stops growing at 2048 (a bias
    gradient over 5 000 rows was 2048), so float16 adds in float32. In float32 the
    error grows with the rows (a million rows of 0.1: 1% off), so many rows are
    added pairwise, by halves (_halving_sum). CuPy reduces in a tree already.
    """
    c = X.dtype.char
    if c == "e":
        return X.sum(axis=axis, keepdims=keepdims, dtype="float32").astype(X.dtype)
    if c == "f" and X.ndim > 1 and type(X).__module__ == "numpy":  # np.memmap too
        if axis == 0 and X.shape[0] <= _NAIVE_ROWS:  # a bias gradient: few rows
            return _ADD(X, axis=0, keepdims=keepdims)
        axes = tuple(range(X.ndim)) if axis is None else \
            (axis,) if isinstance(axis, int) else tuple(axis)
        rows = 1
        for a in axes:
            rows *= X.shape[a]
        if rows > _NAIVE_ROWS and axes != (X.ndim - 1,) and X.size:
            return _halving_sum(X, axes, keepdims)
    return X.sum(axis=axis, keepdims=keepdims)


_ADD = np.add.reduce  # X.sum without ndarray.sum's Python wrapper


_NAIVE_ROWS = 256  # up to here NumPy's row-by-row float32 sum stays within a few ulp


def _halving_sum(X, axes, keepdims):
    """Sum over axes by adding halves: log2(rows) passes, each over half the last one's
    rows, so rounding grows with log(rows) instead of rows. A block of columns at a
    time, halved in place after the first pass: the temporaries stay near _BLOCK
    elements (a bias gradient's were half of it), the sums are the same."""
    kept = [a for a in range(X.ndim) if a not in axes]
    shape = [X.shape[a] for a in kept]
    Y = X.transpose(list(axes) + kept).reshape(-1, _prod(shape))
    n, m = Y.shape
    k = n
    while k > 8:
        k //= 2
    last = Y[:k].copy()  # the k rows left of each block, summed over at the end
    step = max(1, _BLOCK // max(n // 2, 1))
    for c in range(0, m, step):
        B, r = Y[:, c:c + step], n
        if r > 8:
            h = r // 2
            B = B[:h] + B[h:2 * h]
            if r % 2:
                B[0] += Y[r - 1, c:c + step]
            r = h
            while r > 8:
                h = r // 2
                B[:h] += B[h:2 * h]
                if r % 2:
                    B[0] += B[r - 1]
                r = h
        last[:, c:c + step] = B[:k]
    s = last.sum(axis=0)
    s = s.reshape(shape)
    if keepdims:
        s = s.reshape([1 if a in axes else X.shape[a] for a in range(X.ndim)])
    return s


_BLOCK = 1 << 16


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def fmean(X, axes, keepdims):
    """X.mean with fsum's accuracy (float16 through float32, as NumPy's mean does)."""
    count = 1
    for a in axes:
        count *= X.shape[a]
    if X.dtype.char == "e":
        return (fsum(X.astype("float32"), axes, keepdims) / count).astype(X.dtype)
    s = fsum(X, axes, keepdims)
    return s / X.dtype.type(count) if X.dtype.kind == "f" else X.mean(axis=axes,
                                                                      keepdims=keepdims)


def sum_to_array(X, shape):
    """Sum over the axes that broadcasting added or stretched to reach X.shape."""
    lead = X.ndim - len(shape)
    if X.shape[lead:] == shape:  # e.g. a bias gradient: one reduction, no view of a temporary
        return fsum(X, 0 if lead == 1 else tuple(range(lead)))
    kept = tuple(lead + i for i, s in enumerate(shape) if s == 1 and X.shape[lead + i] != 1)
    return fsum(X, tuple(range(lead)) + kept, keepdims=True).reshape(shape)


def expand(ctx, g, shape):
    """broadcast_to, for a gradient."""
    if g.shape == shape:
        return g
    if isinstance(g, Tensor):
        from .shape import broadcast_to
        return broadcast_to(g, shape)
    return ctx.backend.xp.broadcast_to(g, shape)


def where(ctx, cond, a, b):
    """cond may be a mask of values (an array) also when a or b is a Tensor."""
    if isinstance(cond, Tensor) or isinstance(a, Tensor) or isinstance(b, Tensor):
        from .arith import where
        return where(cond, a, b)
    return ctx.backend.xp.where(cond, a, b)


def keep_mask(xp, drop):
    """What `keep` selects with (forward saves it), from a bool array that is true
    where the gradient is dropped: int8, 0 there and -1 (every bit set) elsewhere; a
    byte an element, the same on every backend and for every dtype."""
    one = _ONE.get(xp)
    if one is None:
        one = _ONE[xp] = xp.int8(1)  # a NumPy scalar: quicker than a Python int's 1
    m = drop.view(xp.int8) - one
    return m if m.ndim else xp.asarray(m)  # NumPy gives a 0-d result as a scalar


_ONE = {}


_BITS = {}  # a float dtype -> the int dtype of its size, whose view `keep` ands


def keep(ctx, g, mask):
    """g where mask (from keep_mask) keeps it, 0 elsewhere: a select, as torch's rules
    do it, so that a NaN or inf in g stays in its own elements (g * a 0/1 mask spreads
    it: NaN * 0 is NaN).

    On arrays a bitwise and of g's bits with the mask (sign-extended: 0 or all ones),
    exactly the select and about as cheap as a multiply, where NumPy's where branches
    per element and costs 5 to 30 times a multiply (NumPy 2.4, 1e5 float32 elements;
    the more mixed the mask, the slower). On Tensors the recorded where, so that the
    rule stays differentiable."""
    if isinstance(g, Tensor):
        from .arith import where
        return where(arr(mask) != 0, g, 0.0)
    dt = g.dtype
    bits = _BITS.get(dt)
    if bits is None:
        if dt.kind not in "fc" or dt.itemsize not in (1, 2, 4, 8):  # complex128: no int128
            return ctx.backend.xp.where(mask != 0, g, dt.type(0))
        bits = _BITS[dt] = ctx.backend.xp.dtype(f"int{8 * dt.itemsize}")
    out = (g.view(bits) & mask).view(dt)
    return out if out.ndim else ctx.backend.asarray(out)  # 0-d: NumPy's & gives a scalar


def exp(ctx, x):
    if isinstance(x, Tensor):
        from .unary import exp
        return exp(x)
    return ctx.backend.xp.exp(x)


def log(ctx, x):
    if isinstance(x, Tensor):
        from .unary import log
        return log(x)
    return ctx.backend.xp.log(x)


def sum(x, axis, keepdims=False):
    """x.sum for a rule: the op on a Tensor, fsum on an array."""
    return x.sum(axis=axis, keepdims=keepdims) if isinstance(x, Tensor) else \
        fsum(x, axis, keepdims)


def mm(ctx, a, b):
    """a @ b; on arrays through the backend's matmul (its fast path for 2-D operands)."""
    return a @ b if isinstance(a, Tensor) else ctx.backend.matmul(a, b)


def mT(x):
    """Swap the last two axes."""
    return x.transpose(-1, -2) if isinstance(x, Tensor) else x.swapaxes(-1, -2)
