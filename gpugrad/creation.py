"""Tensors from scratch: zeros, ones, full, empty, arange, linspace, eye, and the *_like forms.

Arrays are made by the device's own array module (`backend.xp`: NumPy or CuPy), so a
CUDA tensor is filled on the GPU and nothing goes through the host. Defaults follow
PyTorch: float32 for floats, int64 for `arange` of ints, the default device.
"""
from __future__ import annotations

import cmath
import contextlib
import math
import numbers
import operator

import numpy as np

from .autograd import _wrap
from .backends import get_backend
from .errors import DtypeError, ShapeError
from .tensor import Tensor

__all__ = ["zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like",
           "empty_like", "arange", "linspace", "eye"]

_FLOAT = np.dtype("float32")  # PyTorch's default dtype
_INT = np.dtype("int64")
_NULL = contextlib.nullcontext()


# ---- helpers shared with gpugrad.random ---------------------------------------------
def _size(op, size):
    """A shape from `f(2, 3)` or `f((2, 3))` / `f([2, 3])`: a tuple of ints >= 0."""
    if not size:  # f() is a mistake, as in PyTorch; f(()) is a 0-d tensor
        raise TypeError(f"{op}: missing size (give ints, or () for a 0-d tensor)")
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    elif len(size) == 1 and hasattr(size[0], "__len__") and not isinstance(size[0], Tensor):
        size = tuple(size[0])  # torch.Size-like or a NumPy shape array
    shape = []
    for s in size:
        if isinstance(s, (bool, np.bool_)):
            raise TypeError(f"{op}: size must be ints, got the bool {s!r} in {tuple(size)!r}")
        try:
            n = operator.index(s)
        except TypeError:
            raise TypeError(f"{op}: size must be ints, got {type(s).__name__} {s!r} in "
                            f"{tuple(size)!r}") from None
        if n < 0:
            raise ShapeError(f"{op}: negative dimension {n} in size {tuple(size)!r}")
        shape.append(n)
    return tuple(shape)


def _dtype(op, dtype, default):
    """np.dtype(dtype) for a number or bool dtype; `default` when None."""
    if dtype is None:
        return default
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: dtype {dtype!r} is not a dtype (use gg.float32, gg.int64, "
                        "...)") from None
    if dt.kind not in "biufc":
        raise DtypeError(f"{op}: cannot make a tensor of dtype {dt}; expected a number or "
                         "bool dtype")
    return dt


def _check_grad(op, requires_grad, dtype):
    if requires_grad is not True and requires_grad is not False:
        raise TypeError(f"{op}: requires_grad must be a bool, got {requires_grad!r}")
    if requires_grad and dtype.kind != "f":
        raise DtypeError(f"{op}: only floating point tensors can require gradients, "
                         f"got dtype {dtype}")


def _on(backend):
    """The backend's device as the current one while arrays are allocated: with several
    GPUs, CuPy allocates on the current device, which need not be the backend's."""
    return getattr(backend, "_ctx", _NULL)


def _new(arr, backend, requires_grad):
    t = _wrap(arr, backend)
    t._rg = requires_grad  # checked by _check_grad before the allocation
    return t


def _scalar(op, value, dtype):
    """fill_value as a NumPy scalar of dtype; a value that does not fit raises (as in
    PyTorch) rather than wrapping around or becoming inf."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{op}: fill_value must be a number or a one-element tensor, "
                             f"got a tensor of shape {tuple(value.shape)}")
        value = value.item()  # a Scalar, as in PyTorch: read once, explicitly
    if not isinstance(value, (numbers.Number, np.bool_)):
        raise TypeError(f"{op}: fill_value must be a number or a bool, got "
                        f"{type(value).__name__} {value!r:.60}")
    if dtype.kind in "iub" and isinstance(value, (float, np.floating)) and \
            not math.isfinite(value):
        raise ValueError(f"{op}: fill_value {value} cannot be converted to {dtype}")
    if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real) and \
            dtype.kind != "c":
        raise TypeError(f"{op}: a complex fill_value {value!r} needs a complex dtype, "
                        f"got {dtype}")
    if dtype.kind == "b":
        return np.bool_(bool(value))
    if dtype.kind in "iu":
        v = int(value)  # floats truncate toward zero, as in PyTorch
        info = np.iinfo(dtype)
        if not info.min <= v <= info.max:
            raise OverflowError(f"{op}: fill_value {value!r} is out of the range of {dtype} "
                                f"[{info.min}, {info.max}]")
        return dtype.type(v)
    try:
        with np.errstate(over="ignore"):
            out = dtype.type(value)
        overflow = bool(np.isinf(out)) and \
            (isinstance(value, numbers.Integral) or not cmath.isinf(value))
    except OverflowError:  # a Python int beyond float64
        overflow = True
    if overflow:
        raise OverflowError(f"{op}: fill_value {value!r:.40} overflows {dtype}")
    return out


def _fill_dtype(value):
    """PyTorch's dtype for full(): bool, int64, float32 or complex64 by the fill's kind."""
    if isinstance(value, Tensor):
        kind = value.dtype.kind
    elif isinstance(value, (bool, np.bool_)):
        kind = "b"
    elif isinstance(value, numbers.Integral):
        kind = "i"
    elif isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
        kind = "c"
    else:
        kind = "f"
    return {"b": np.dtype("bool"), "i": _INT, "u": _INT, "f": _FLOAT,
            "c": np.dtype("complex64")}[kind]


def _like(op, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    return t


# ---- constant fills ----------------------------------------------------------------
def _filled(op, fill, size, dtype, device, requires_grad):
    shape = _size(op, size)
    dtype = _dtype(op, dtype, _FLOAT)
    _check_grad(op, requires_grad, dtype)
    backend = get_backend(device)
    xp = backend.xp
    with _on(backend):
        arr = getattr(xp, fill)(shape, dtype=dtype)
    return _new(arr, backend, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros: `zeros(2, 3)` or `zeros((2, 3))`; float32 unless dtype is given."""
    return _filled("zeros", "zeros", size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones: `ones(2, 3)` or `ones((2, 3))`; float32 unless dtype is given."""
    return _filled("ones", "ones", size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialized tensor (its values are whatever the memory held)."""
    return _filled("empty", "empty", size, dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of shape `size` filled with fill_value; the dtype follows the fill
    (bool, int64, float32) unless given, as in PyTorch."""
    shape = _size("full", (size,))
    dtype = _fill_dtype(fill_value) if dtype is None else _dtype("full", dtype, None)
    _check_grad("full", requires_grad, dtype)
    value = _scalar("full", fill_value, dtype)
    backend = get_backend(device)
    with _on(backend):
        arr = backend.xp.full(shape, value, dtype=dtype)
    return _new(arr, backend, requires_grad)


# ---- *_like -------------------------------------------------------------------------
def _filled_like(op, fill, t, dtype, device, requires_grad):
    t = _like(op, t)
    return _filled(op, fill, (t.shape,), t.dtype if dtype is None else dtype,
                   t.device if device is None else device, requires_grad)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Zeros of input's shape, with its dtype and device unless given."""
    return _filled_like("zeros_like", "zeros", input, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Ones of input's shape, with its dtype and device unless given."""
    return _filled_like("ones_like", "ones", input, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialized tensor of input's shape, dtype and device (unless given)."""
    return _filled_like("empty_like", "empty", input, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """fill_value in input's shape, with its dtype and device unless given."""
    t = _like("full_like", input)
    dtype = _dtype("full_like", dtype, t.dtype)
    _check_grad("full_like", requires_grad, dtype)
    value = _scalar("full_like", fill_value, dtype)
    backend = get_backend(t.device if device is None else device)
    with _on(backend):
        arr = backend.xp.full(t.shape, value, dtype=dtype)
    return _new(arr, backend, requires_grad)


# ---- ranges -------------------------------------------------------------------------
def _number(op, name, x):
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise ValueError(f"{op}: {name} must be a number or a one-element tensor, got "
                             f"a tensor of shape {tuple(x.shape)}")
        x = x.item()
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(x).__name__} {x!r:.60}")
    if not math.isfinite(x):
        raise ValueError(f"{op}: {name} must be finite, got {x}")
    return x


def arange(start, end=None, step=1, *, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Values from start (default 0) up to end, excluded, by step; int64 when all the
    arguments are ints, float32 otherwise (as in PyTorch)."""
    if end is None:
        start, end = 0, start
    start, end, step = (_number("arange", n, v) for n, v in
                        (("start", start), ("end", end), ("step", step)))
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = _dtype("arange", dtype, _INT if ints else _FLOAT)
    if dtype.kind == "b":
        raise DtypeError("arange: dtype bool is not supported")
    _check_grad("arange", requires_grad, dtype)
    integral = dtype.kind in "iu"
    if integral:  # PyTorch converts the bounds to the integer type first
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise ValueError(f"arange: step must be nonzero (start={start}, end={end})")
    if (end - start) * step < 0:
        raise ValueError(f"arange: end {end} is on the wrong side of start {start} for "
                         f"step {step}")
    if integral:
        n = -((start - end) // step)  # ceil((end - start) / step), exactly
    else:
        n = math.ceil((end - start) / step)
    backend = get_backend(device)
    xp = backend.xp
    with _on(backend):
        if integral:
            if n and not (np.iinfo(dtype).min <= min(start, start + (n - 1) * step) and
                          max(start, start + (n - 1) * step) <= np.iinfo(dtype).max):
                raise OverflowError(f"arange: values from {start} to {end} do not fit {dtype}")
            # in int64 (Python ints stay weak), checked to fit above, then cast
            arr = (xp.arange(n, dtype=np.int64) * step + start).astype(dtype)
        else:
            # start + i * step in float64, rounded once to dtype (PyTorch's CPU formula)
            arr = (xp.arange(n, dtype=np.float64) * float(step) + float(start)).astype(dtype)
    return _new(arr, backend, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """steps evenly spaced values from start to end, both included; float32 by default."""
    start, end = _number("linspace", "start", start), _number("linspace", "end", end)
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"linspace: steps must be an int, got {type(steps).__name__} {steps!r}")
    steps = int(steps)
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    dtype = _dtype("linspace", dtype, _FLOAT)
    _check_grad("linspace", requires_grad, dtype)
    backend = get_backend(device)
    xp = backend.xp
    with _on(backend):
        i = xp.arange(steps, dtype=np.float64)
        if steps > 1:
            # PyTorch's symmetric form: the first half counts up from start, the second
            # down from end, so both ends are exact and the spacing is symmetric.
            delta = (float(end) - float(start)) / (steps - 1)
            half = steps // 2
            i[:half] = float(start) + delta * i[:half]
            i[half:] = float(end) - delta * (steps - 1 - i[half:])
        elif steps == 1:
            i[0] = float(start)
        arr = i.astype(dtype)  # an integer dtype truncates, as PyTorch's does
    return _new(arr, backend, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n x m (n x n) identity matrix: ones on the diagonal, zeros elsewhere."""
    rows = _size("eye", (n,))[0]
    cols = rows if m is None else _size("eye", (m,))[0]
    dtype = _dtype("eye", dtype, _FLOAT)
    _check_grad("eye", requires_grad, dtype)
    backend = get_backend(device)
    with _on(backend):
        arr = backend.xp.eye(rows, cols, dtype=dtype)
    return _new(arr, backend, requires_grad)
