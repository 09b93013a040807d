"""Tensor: a backend array, its device, its gradient and the node that made it."""
from __future__ import annotations

import functools
import math
import operator as _op
import sys
import warnings
import weakref

import numpy as np

from . import autograd
from .autograd import _mode, _wrap
from .autograd.function import _float_run
from .backends import Device, get_backend
from .errors import DeviceError, DtypeError, ShapeError

__all__ = ["Tensor", "tensor", "from_numpy", "from_dlpack", "float16", "float32",
           "float64", "int32", "int64", "bool_"]

float16, float32, float64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
int32, int64, bool_ = np.dtype("int32"), np.dtype("int64"), np.dtype("bool")


def _dtype(dtype):
    return None if dtype is None else np.dtype(dtype)


class _Handle:
    """Returned by register_hook; `.remove()` takes the hook off."""

    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


class Tensor:
    """An n-dimensional array on a device that can record how it was computed.

    `.data` is the backend array itself (a numpy.ndarray on the CPU). Writing
    into that array directly bypasses the version counter, as in PyTorch: use
    the Tensor API (`+=`, `t[i] = v`, `t.data = ...`) so that a pending
    backward can detect the change.

    `np.asarray(t)` is that array too on the CPU (no copy; a device tensor raises),
    `t.numpy()` a host copy. NumPy's functions and ufuncs that gpugrad has
    (np.exp, np.sum, np.concatenate, ...) raise on a Tensor, naming gg's: they
    would drop the graph. `array + t` and friends give the gpugrad op.
    """

    __slots__ = ("_data", "_backend", "_node", "_idx", "_rg", "_grad", "_vc",
                 "_hooks", "__weakref__")

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        t = tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        for name in Tensor.__slots__[:-1]:
            setattr(self, name, getattr(t, name))

    # ---- basic properties ------------------------------------------------
    @property
    def data(self):
        """The backend array itself (a numpy.ndarray on the CPU); assigning replaces it."""
        return self._data

    @data.setter
    def data(self, value):
        backend = self._backend
        if isinstance(value, Tensor):
            # PyTorch's `t.data = other`: t takes other's array, its device included
            # (nn.Module.to moves parameters this way and keeps them the same objects).
            backend, value = value._backend, value._data
        if not backend.is_array(value):
            raise TypeError(f"Tensor.data: expected an array of the {self.device} backend, "
                            f"got {type(value).__name__}")
        if self._rg and value.dtype.kind not in "fc":
            raise DtypeError(f"Tensor.data: a tensor that requires grad takes floating point "
                             f"data, got {value.dtype}")
        self._data, self._backend = value, backend
        self._vc[0] += 1

    @property
    def requires_grad(self):
        """Whether gradients flow to this tensor (only float tensors can)."""
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag):
        if flag not in (True, False):  # not a truthy 'no' or [0]
            raise TypeError(f"requires_grad: expected a bool, got {flag!r}")
        flag = bool(flag)
        if self._node is not None and not flag:
            raise RuntimeError("requires_grad: you can only change requires_grad of leaf "
                               "tensors; use detach() to get a tensor without history")
        if flag and self._data.dtype.kind != "f":  # complex gradients are not supported
            raise DtypeError(f"requires_grad: only floating point tensors can require "
                             f"gradients, got {self._data.dtype}")
        self._rg = flag

    def requires_grad_(self, requires_grad=True):
        """Set requires_grad in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        """The gradient accumulated by backward() (None until then). A non-leaf keeps
        none unless retain_grad() asked for it: reading it then warns, as in PyTorch."""
        g = self._grad
        if g is None and self._node is not None:
            retain = self._node._retain
            if retain is None or retain.get(self._idx) is None:
                warnings.warn(
                    f"grad: the .grad of a non-leaf tensor (shape {tuple(self.shape)}, made "
                    f"by {self._node.name()}) is being read; backward() does not fill it. "
                    "Call .retain_grad() on it before backward() to keep it, or read the "
                    ".grad of the leaf tensor you meant", UserWarning, stacklevel=2)
        return g

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: expected a gpugrad Tensor or None, got "
                                f"{type(value).__module__}.{type(value).__name__}")
            if value._backend is not self._backend or value.shape != self.shape or \
                    value.dtype != self.dtype:
                raise (DeviceError if value._backend is not self._backend else
                       ShapeError if value.shape != self.shape else DtypeError)(
                    f"grad: assigned gradient ({value.dtype}, {tuple(value.shape)} on "
                    f"{value.device}) must match the tensor ({self.dtype}, "
                    f"{tuple(self.shape)} on {self.device})")
        self._grad = value

    @property
    def device(self) -> Device:
        """The device the data lives on."""
        return self._backend.device

    @property
    def shape(self):
        """The shape, a tuple of ints."""
        return self._data.shape

    @property
    def dtype(self):
        """The element type (a numpy.dtype: gg.float32, gg.int64, ...)."""
        return self._data.dtype

    @property
    def ndim(self):
        """The number of dimensions."""
        return self._data.ndim

    def numel(self):
        """The number of elements."""
        return self._data.size

    def __len__(self):
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if not self._data.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __array__(self, dtype=None, copy=None):
        """np.asarray(t): a CPU tensor's array (no copy unless asked); never a device copy."""
        if self._backend.device.type != "cpu":
            raise TypeError(f"__array__: the tensor is on {self.device}; call .numpy() for "
                            "a host copy (no silent copies between devices)")
        a = self._data
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    # NumPy's protocols. np.asarray(t) and t.numpy() give the values (above); NumPy's
    # functions and ufuncs on a Tensor would compute on them and drop the graph, so the
    # ones gpugrad has raise, naming the gg function to call.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """An operator between a NumPy array (or scalar) and a Tensor is the gpugrad op
        (array + t is gg.add, array < t a comparison); an in-place operator on an array
        writes the Tensor's values into it (PyTorch's `w.data -= lr * w.grad`). Any
        other ufunc raises a TypeError naming gpugrad's function."""
        return _numpy_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """NumPy functions that gpugrad has (np.sum, np.concatenate, np.where, ...) raise a
        TypeError naming gpugrad's; the rest (np.allclose, np.array_equal, ...) see the
        values, as through np.asarray."""
        return _numpy_function(func, args, kwargs)

    @property
    def is_leaf(self):
        """True for a tensor made by the user rather than by a recorded op."""
        return self._node is None

    @property
    def output_nr(self):
        """Which output of its grad_fn this tensor is (0 for a leaf), as in PyTorch."""
        return self._idx if self._node is not None else 0

    @property
    def grad_fn(self):
        """The graph node that made this tensor (None for a leaf)."""
        return self._node

    @property
    def T(self):
        """All axes reversed (the transpose of a matrix)."""
        return transpose(self)

    # ---- conversions -------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """A host copy as a numpy.ndarray."""
        arr = self._backend.to_numpy(self._data)
        return np.array(arr, copy=True) if arr is self._data else np.asarray(arr)

    def item(self):
        """The one element as a Python number."""
        if self._data.size != 1:
            raise ShapeError(f"item: only one-element tensors convert to a Python number, "
                             f"got shape {tuple(self.shape)}")
        return self._backend.to_numpy(self._data).reshape(()).item()

    def tolist(self):
        """The data as (nested) Python lists of numbers."""
        return self._backend.to_numpy(self._data).tolist()

    def __float__(self):
        return float(self.item())

    def __format__(self, spec):
        # f"{loss:.4f}": a 0-d tensor formats as its number, as in PyTorch.
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __index__(self):
        # list[t], range(t): a one-element integer tensor is an int, as in PyTorch.
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError(f"__index__: only one-element integer tensors can be used as an "
                            f"index, got {self._data.dtype} of shape {tuple(self.shape)}")
        return int(self.item())

    # ---- copies -----------------------------------------------------------
    def __copy__(self):
        """A tensor on the same memory (and version), without .grad, as PyTorch's."""
        t = _wrap(self._data, self._backend, None, 0, self._rg and self._node is None)
        t._vc = self._vc
        return t

    def __deepcopy__(self, memo):
        """A leaf with its own copy of the data (and of .grad). A non-leaf refuses, as
        in PyTorch: its copied graph would send gradients to copies of its leaves."""
        if self._node is not None:
            raise RuntimeError("deepcopy: only leaf tensors (made by the user, not by an op) "
                               "support deepcopy; detach() first")
        t = _wrap(self._data.copy(), self._backend, None, 0, self._rg)
        memo[id(self)] = t
        if self._grad is not None:
            t._grad = self._grad.__deepcopy__(memo)
        return t

    def __reduce__(self):
        # Pickled as a leaf: its data on the host, its device and requires_grad.
        if self._node is not None:
            raise RuntimeError("pickle: only leaf tensors can be pickled (a non-leaf would "
                               "carry its graph); detach() first")
        return _rebuild, (self._backend.to_numpy(self._data), str(self.device), self._rg)

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"bool: the truth value of a tensor with {self._data.size} "
                               "elements is ambiguous")
        return bool(self.item())

    def __dlpack__(self, **kwargs):
        return self._data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def detach(self):
        """Same data, no history. Shares the version counter: an in-place change
        to either is seen by a pending backward that saved the other."""
        t = _wrap(self._data, self._backend)
        t._vc = self._vc
        return t

    def to(self, *args, device=None, dtype=None):
        """`.to('cuda')`, `.to(gg.float64)`, `.to(device=..., dtype=...)`."""
        for a in args:
            if isinstance(a, (str, Device)):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None and np.dtype(dtype) != self.dtype:
            out = cast(out, np.dtype(dtype))
        if device is not None and get_backend(device) is not self._backend:
            out = to_device(out, get_backend(device))
        return out

    def float(self):
        """This tensor as float32."""
        return self.to(dtype=float32)

    def double(self):
        """This tensor as float64."""
        return self.to(dtype=float64)

    def cpu(self):
        """This tensor on the CPU (a copy unless it is there already)."""
        return self.to("cpu")

    def cuda(self, index=0):
        """This tensor on CUDA device index (a copy unless it is there already)."""
        return self.to(f"cuda:{index}")

    # ---- autograd ------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate the gradient of this tensor into the .grad of every leaf it depends on."""
        try:
            autograd.backward(self, None if gradient is None else [gradient], retain_graph,
                              create_graph)
        except MemoryError:  # the traceback keeps this frame: let the caller free the graph
            del self
            raise

    def retain_grad(self):
        """Keep .grad for this non-leaf tensor too after backward."""
        if not self._rg:
            raise RuntimeError("retain_grad: tensor does not require grad")
        if self._node is not None:
            node = self._node
            if node._retain is None:
                node._retain = {}
                node._plain = False
            node._retain[self._idx] = weakref.ref(self)

    def register_hook(self, fn):
        """Call fn(grad) when this tensor's gradient is computed; a returned
        Tensor replaces the gradient."""
        if not callable(fn):
            raise TypeError(f"register_hook: expected a function, got {type(fn).__name__}")
        if not self._rg:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "does not require grad")
        if self._node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            node = self._node
            if node._out_hooks is None:
                node._out_hooks = {}
                node._plain = False
            hooks = node._out_hooks.setdefault(self._idx, [])
        hooks.append(fn)
        return _Handle(hooks, fn)

    # ---- in place --------------------------------------------------------------
    def _inplace(self, name, fn, *args, ufunc=None):
        """Apply fn(self, *args) and write the result into self's array.

        While recording, the change is recorded too: self takes the new node,
        the old value stays in the graph by its own version. Leaves that
        require grad, views and tensors with views refuse, rather than leave
        a graph that silently disagrees with the data. Otherwise (an optimizer
        step under no_grad, say) the ufunc writes straight into the array.
        """
        if ufunc is not None and not _mode.enabled:
            # Nothing records (an optimizer step under no_grad): the ufunc writes
            # straight into the array when the operand needs no coercion, which is what
            # the last branch below does for it after _operands.
            o = args[0]
            t = type(o)
            if t is float or t is int or (isinstance(o, Tensor) and o._backend is self._backend
                                          and o._data.dtype is self._data.dtype):
                _ufunc_into(name, ufunc, self, o if t is float or t is int else o._data, o)
                self._vc[0] += 1
                return self
        recording = _mode.enabled and (self._rg or any(
            isinstance(a, Tensor) and a._rg for a in args))
        if recording:
            if self._rg and self._node is None:
                raise RuntimeError(
                    f"{name}: a leaf tensor that requires grad (shape {tuple(self.shape)}) "
                    "is being used in an in-place operation; do the update under "
                    "gg.no_grad() or use an out-of-place op")
            if self._vc[1]:
                raise RuntimeError(
                    f"{name}: in-place change of a tensor that shares memory with a view "
                    f"(shape {tuple(self.shape)}) while recording gradients is not "
                    "supported; use clone() first")
            # A raw operand in this tensor's own memory (`h *= h.data[::-1]`) would be
            # saved as a constant and then overwritten: it stands for the old values.
            # NumPy and CuPy views name the array that owns the memory as their base.
            mine = self._data if self._data.base is None else self._data.base
            args = tuple(a.copy() if self._backend.is_array(a) and
                         (a if a.base is None else a.base) is mine else a for a in args)
            # An op may keep the old values for another operand's gradient (h *= w
            # keeps h for w's): then they get a copy of their own, PyTorch's
            # original_self, or the write below would fail the version check.
            keep = any(isinstance(a, Tensor) and a._rg for a in args)
            old = _wrap(self._data.copy() if keep else self._data, self._backend,
                        self._node, self._idx, self._rg)
            if not keep:
                old._vc = self._vc
            args = tuple(old if a is self else a for a in args)  # h *= h
            res = fn(old, *args)
            _check_inplace_result(name, res, self)
            self._data[...] = res._data
            self._node, self._idx, self._rg = res._node, res._idx, res._rg
        elif _mode.enabled and autograd._nograd_views.get(id(self)) is self:
            raise RuntimeError(
                f"{name}: this tensor (shape {tuple(self.shape)}) is a view taken under "
                "no_grad of a tensor that requires grad; changing it in place with "
                "recording on would leave that tensor's graph out of step with its data. "
                "Change it under no_grad too, or clone() it")
        elif ufunc is not None:
            other = _operands(name, self, args[0])[1]
            o = other._data if isinstance(other, Tensor) else other
            if isinstance(other, Tensor) and other._backend is not self._backend:
                raise DeviceError(f"{name}: expected both tensors on one device, got "
                                  f"{self.device} and {other.device}")
            _ufunc_into(name, ufunc, self, o, other)
        else:
            with autograd.no_grad():
                res = fn(self, *args)
            _check_inplace_result(name, res, self)
            self._data[...] = res._data
        self._vc[0] += 1
        return self

    def __iadd__(self, other):
        return self._inplace("add_ (+=)", add, other, ufunc="add")

    def __isub__(self, other):
        return self._inplace("sub_ (-=)", sub, other, ufunc="subtract")

    def __imul__(self, other):
        return self._inplace("mul_ (*=)", mul, other, ufunc="multiply")

    def __itruediv__(self, other):
        return self._inplace("div_ (/=)", div, other, ufunc="true_divide")

    def __setitem__(self, index, value):
        self._inplace("__setitem__", index_put, index, value)

    # PyTorch's in-place methods, for the loops people write by hand
    # (`p.add_(p.grad, alpha=-lr)`, `w.grad.zero_()`): the operators' rules and checks.
    def add_(self, other, *, alpha=1):
        """self += alpha * other, in place (PyTorch's add_)."""
        return self._inplace("add_", add, _scaled("add_", other, alpha), ufunc="add")

    def sub_(self, other, *, alpha=1):
        """self -= alpha * other, in place (PyTorch's sub_)."""
        return self._inplace("sub_", sub, _scaled("sub_", other, alpha), ufunc="subtract")

    def mul_(self, other):
        """self *= other, in place."""
        return self._inplace("mul_", mul, other, ufunc="multiply")

    def div_(self, other):
        """self /= other, in place."""
        return self._inplace("div_", div, other, ufunc="true_divide")

    def fill_(self, value):
        """Every element set to value, in place; recorded, the gradient through it is 0."""
        if isinstance(value, Tensor):
            if value._data.size != 1:
                raise ShapeError(f"fill_: the value must be a number or a one-element "
                                 f"tensor, got shape {tuple(value.shape)}")
            if value._rg and _mode.enabled:  # its gradient is the sum of self's
                return self._inplace("fill_", _filled_by, value)
            value = value.item()
        return self._inplace("fill_", _filled, value)

    def zero_(self):
        """Every element set to 0, in place (`w.grad.zero_()`)."""
        return self.fill_(0)

    # ---- operators ---------------------------------------------------------------
    # With a Python number, and nothing to record, these are the ufunc itself: what
    # operands() and the op's apply would do in that case, without them. With a Tensor of
    # the same dtype, the op's apply, as operands() would pass them on.
    def __add__(self, other):
        if type(other) is Tensor and other._data.dtype is self._data.dtype:
            return _apply2(_Add, self, other)
        if (type(other) is float or type(other) is int) and not (self._rg and _mode.enabled):
            return _unrecorded(self, _op.add, self._data, other)
        return add(self, other)

    def __radd__(self, other):
        if (type(other) is float or type(other) is int) and not (self._rg and _mode.enabled):
            return _unrecorded(self, _op.add, other, self._data)
        return add(other, self)

    def __sub__(self, other):
        if type(other) is Tensor and other._data.dtype is self._data.dtype:
            return _apply2(_Sub, self, other)
        return sub(self, other)

    def __rsub__(self, other): return sub(other, self)

    def __mul__(self, other):
        if type(other) is Tensor and other._data.dtype is self._data.dtype:
            return _apply2(_Mul, self, other)
        if (type(other) is float or type(other) is int) and not (self._rg and _mode.enabled):
            return _unrecorded(self, _op.mul, self._data, other)
        return mul(self, other)

    def __rmul__(self, other):
        if (type(other) is float or type(other) is int) and not (self._rg and _mode.enabled):
            return _unrecorded(self, _op.mul, other, self._data)
        return mul(other, self)

    def __truediv__(self, other): return div(self, other)
    def __rtruediv__(self, other): return div(other, self)
    def __pow__(self, other): return pow(self, other)
    def __rpow__(self, other): return pow(other, self)
    def __matmul__(self, other): return matmul(self, other)
    def __rmatmul__(self, other): return matmul(other, self)
    def __neg__(self): return neg(self)
    def __pos__(self): return self
    def __abs__(self): return abs(self)
    def __getitem__(self, index): return getitem(self, index)
    def __lt__(self, other): return _compare("lt", self, other)
    def __le__(self, other): return _compare("le", self, other)
    def __gt__(self, other): return _compare("gt", self, other)
    def __ge__(self, other): return _compare("ge", self, other)
    def __eq__(self, other): return _compare("eq", self, other)
    def __ne__(self, other): return _compare("ne", self, other)
    __hash__ = object.__hash__

    # ---- methods that mirror the functions ---------------------------------------
    # Reductions take NumPy's axis=/keepdims= and PyTorch's dim=/keepdim=.
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Sum over axis (or dim); see gg.sum."""
        return sum(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Mean over axis (or dim); see gg.mean."""
        return mean(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def max(self, dim=None, keepdim=None, *, axis=None, keepdims=False):
        """Largest value: (values, indices) along one int dim, as torch; values only over
        axis= (or a tuple), as NumPy; see gg.max."""
        return max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=None, *, axis=None, keepdims=False):
        """Smallest value: (values, indices) along one int dim, as torch; values only over
        axis= (or a tuple), as NumPy; see gg.min."""
        return min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Index of the largest value along axis (or dim); see gg.argmax."""
        return argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Index of the smallest value along axis (or dim); see gg.argmin."""
        return argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def var(self, axis=None, correction=1, keepdims=False, *, dim=None, keepdim=None,
            unbiased=None):
        """Variance over axis (or dim) with correction (1 by default); see gg.var."""
        return var(self, axis, correction, keepdims, dim=dim, keepdim=keepdim,
                   unbiased=unbiased)

    def std(self, axis=None, correction=1, keepdims=False, *, dim=None, keepdim=None,
            unbiased=None):
        """Standard deviation over axis (or dim) with correction; see gg.std."""
        return std(self, axis, correction, keepdims, dim=dim, keepdim=keepdim,
                   unbiased=unbiased)

    def norm(self, p=2, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Vector p-norm over axis (or dim; None: all); see gg.norm."""
        return norm(self, p, axis, keepdims, dim=dim, keepdim=keepdim)

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """log(sum(exp(x))) over axis (or dim), without overflow; see gg.logsumexp."""
        return logsumexp(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def exp(self):
        """e ** x, elementwise."""
        return exp(self)

    def log(self):
        """Natural logarithm, elementwise."""
        return log(self)

    def sqrt(self):
        """Square root, elementwise."""
        return sqrt(self)

    def abs(self):
        """|x|, elementwise."""
        return abs(self)

    def sin(self):
        """Sine, elementwise."""
        return sin(self)

    def cos(self):
        """Cosine, elementwise."""
        return cos(self)

    def tanh(self):
        """Hyperbolic tangent, elementwise."""
        return tanh(self)

    def sigmoid(self):
        """1 / (1 + exp(-x)), elementwise."""
        return sigmoid(self)

    def relu(self):
        """max(x, 0), elementwise."""
        return relu(self)

    def clamp(self, min=None, max=None):
        """x limited to [min, max] elementwise; see gg.clamp."""
        return clamp(self, min, max)

    clip = clamp

    def clamp_(self, min=None, max=None):
        """Limit self to [min, max] in place and return self; see gg.clamp."""
        return self._inplace("clamp_", clamp, min, max)

    clip_ = clamp_

    def softmax(self, axis=None, *, dim=None):
        """softmax along axis (or dim; default -1); see gg.softmax."""
        return softmax(self, axis=axis, dim=dim)

    def log_softmax(self, axis=None, *, dim=None):
        """log_softmax along axis (or dim; default -1); see gg.log_softmax."""
        return log_softmax(self, axis=axis, dim=dim)

    def clone(self):
        """A copy in new memory that stays in the graph."""
        return clone(self)

    def transpose(self, dim0=None, dim1=None):
        """Swap axes dim0 and dim1; with neither given, reverse all (as .T)."""
        return transpose(self, dim0, dim1)

    def permute(self, *dims):
        """The axes reordered: x.permute(2, 0, 1) or x.permute((2, 0, 1))."""
        return permute(self, *dims)

    def reshape(self, *shape):
        """The same data in a new shape: x.reshape(2, -1) or x.reshape((2, -1))."""
        return reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int)
                       else shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        """Axes start_dim..end_dim merged into one (all by default); see gg.flatten."""
        return flatten(self, start_dim, end_dim)

    def unsqueeze(self, axis=None, *, dim=None):
        """A new axis of size 1 at position axis (or dim)."""
        return unsqueeze(self, axis, dim=dim)

    def squeeze(self, axis=None, *, dim=None):
        """Axes of size 1 dropped: all, or those named by axis (or dim)."""
        return squeeze(self, axis, dim=dim)

    def __repr__(self):
        body = np.array2string(self._backend.to_numpy(self._data), separator=", ",
                               prefix="tensor(")
        extra = ""
        if self._data.size == 0 and self._data.shape != (0,):
            extra += f", size={tuple(self.shape)}"
        if self._backend.device.type != "cpu":
            extra += f", device='{self.device}'"
        if self._data.dtype not in (float32, int64, bool_):
            extra += f", dtype={self._data.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{self._node.name()}>"
        elif self._rg:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"


def _rebuild(host, device, requires_grad):
    return tensor(host, device=device, requires_grad=requires_grad)


def _numpy_inside(data):
    """Whether a nested list or tuple holds NumPy arrays, NumPy scalars or Tensors (whose
    dtype it keeps) rather than Python numbers only (float32 by default)."""
    stack = [data]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, (np.ndarray, np.generic, Tensor)):
            return True
    return False


def _unrecorded(t, op, a, b):
    """op(a, b), an unrecorded op on t's device, as apply would run and wrap it (NumPy
    hands 0-d results back as scalars; a tensor always holds an array)."""
    backend = t._backend
    if (type(a) is float or type(b) is float) and t._data.dtype.kind in "biu":
        # an int tensor and a Python float: float32 first, as in PyTorch (NumPy: float64)
        a, b = (x.astype(float32) if x is t._data else x for x in (a, b))
    arr = _float_run(backend, op, a, b)
    if type(arr) is not backend.array_type:
        arr = backend.asarray(arr)
    return _wrap(arr, backend)


_NP_OPERATORS = {"add": "add", "subtract": "sub", "multiply": "mul", "divide": "div",
                 "power": "pow", "matmul": "matmul"}
_NP_COMPARE = {"less": "lt", "less_equal": "le", "greater": "gt", "greater_equal": "ge",
               "equal": "eq", "not_equal": "ne"}
_NP_NAMES = {"absolute": "abs", "fabs": "abs", "negative": "neg", "amax": "max",
             "amin": "min", "true_divide": "div", "concat": "cat", "dot": "matmul",
             "add.reduce": "sum", "maximum.reduce": "max", "minimum.reduce": "min",
             "multiply": "mul", "subtract": "sub", "divide": "div", "power": "pow"}
_NP_SEQUENCES = {"concatenate", "cat", "stack"}  # their first argument: the tensors
_UFUNC_OPS = {}  # np.multiply -> gg.mul, ...: filled once ops is imported (end of file)


def _numpy_ufunc(ufunc, method, inputs, kwargs):
    if method == "__call__" and len(inputs) == 2:
        fn = _UFUNC_OPS.get(ufunc)
        if fn is not None:
            if not kwargs:  # array <op> t: the gg op
                return fn(*inputs)
            out = kwargs.get("out")  # NumPy drops out=None before it calls this
            if len(kwargs) == 1 and out is not None and len(out) == 1 and \
                    out[0] is inputs[0] and not isinstance(out[0], Tensor) and \
                    ufunc.__name__ in _NP_OPERATORS and ufunc.__name__ != "matmul":
                return _into_array(ufunc.__name__, out[0], inputs[1])
    name = ufunc.__name__
    raise TypeError(_numpy_refusal(name if method == "__call__" else f"{name}.{method}"))


def _compare_weak(op, a, b):
    """A comparison reached through NumPy: NumPy hands a scalar on the left
    (np.float64(2) < t) over as a 0-d array; a scalar again, weak as in t > np.float64(2)."""
    if type(a) is np.ndarray and a.ndim == 0:
        a = a.item()
    if type(b) is np.ndarray and b.ndim == 0:
        b = b.item()
    return _compare(op, a, b)


def _into_array(name, arr, t):
    """arr <op>= t for a NumPy (or CuPy) array arr: t's values, written into arr."""
    op = f"{_NP_OPERATORS[name]}_ (in place on a {type(arr).__module__.split('.')[0]} array)"
    if not t._backend.is_array(arr):
        raise DeviceError(f"{op}: the array is not on the tensor's device {t.device}: no "
                          "silent copies between devices")
    if t.dtype != arr.dtype and not (arr.dtype.kind == "f" and t.dtype.kind in "biu"):
        raise DtypeError(f"{op}: cannot write {t.dtype} values into a {arr.dtype} array of "
                         f"shape {arr.shape}; cast explicitly with .to(dtype)")
    try:
        getattr(t._backend.xp, name)(arr, t._data, out=arr)
    except ValueError:
        _inplace_shape_error(op, arr, t)
        raise
    return arr


def _numpy_function(func, args, kwargs):
    name = getattr(func, "__name__", "")
    fn = getattr(sys.modules[__package__], _NP_NAMES.get(name, name), None)
    if callable(fn) and not isinstance(fn, (type, np.dtype)):
        where = getattr(func, "__module__", None) or "numpy"  # np.linalg.norm: numpy.linalg
        raise TypeError(_numpy_refusal(name, where.replace("numpy", "np", 1)))
    impl = getattr(func, "_implementation", None)
    return NotImplemented if impl is None else impl(*args, **kwargs)


def _numpy_refusal(name, where="np"):
    g = _NP_NAMES.get(name, name)
    fn = getattr(sys.modules[__package__], g, None)
    method = g if callable(getattr(Tensor, g, None)) else None
    if callable(fn) and not isinstance(fn, (type, np.dtype)):
        hint = f"use gg.{g}({'tensors' if g in _NP_SEQUENCES else 't'})" + \
            (f" or t.{method}()" if method else "")
    elif method:
        hint = f"use t.{method}()"
    else:
        hint = f"gpugrad has no {g}: compute it with gpugrad's ops to keep the gradient"
    return (f"{where}.{name} does not take gpugrad Tensors (it would compute on the values and "
            f"drop the graph): {hint}; or call it on t.numpy() for a NumPy result without "
            "gradient")


def _check_inplace_result(name, res, t):
    # The shape too: assigning with [...] = would drop the leading 1s of a result that
    # broadcasting grew (h += w, w of shape (1, 1, 3), h of (3,)), where the ufunc of the
    # unrecorded path and torch refuse it; recorded, h would hold a node of that shape.
    if res._data.shape != t._data.shape:
        raise ShapeError(f"{name}: the result's shape {tuple(res.shape)} (the operands' "
                         f"broadcast shape) does not match the shape {tuple(t.shape)} of the "
                         "tensor changed in place")
    if res._data.dtype != t._data.dtype:
        raise DtypeError(f"{name}: result dtype {res.dtype} cannot be written into a "
                         f"{t.dtype} tensor of shape {tuple(t.shape)} in place")


def _ufunc_into(name, ufunc, t, o, other):
    """t's array <ufunc>= o in place (other: the operand as the caller gave it, for the
    messages), NumPy's shape and casting errors named as the in-place op's."""
    try:
        _float_run(t._backend, getattr(t._backend.xp, ufunc), t._data, o, t._data)
    except ValueError:
        _inplace_shape_error(name, t, other)
        raise
    except TypeError:  # NumPy's casting error: a float into an int tensor
        _inplace_dtype_error(name, t, other)
        raise


def _scaled(name, other, alpha):
    """alpha * other for add_/sub_ (a bool alpha refused, as torch does for floats)."""
    if isinstance(alpha, bool):
        raise TypeError(f"{name}: alpha must be a number, got the bool {alpha!r}")
    if alpha == 1:
        return other
    if isinstance(other, Tensor):
        return mul(other, alpha)
    return other * alpha


def _filled_by(t, v):
    """fill_ with a one-element tensor that requires grad: v's gradient is the sum of t's."""
    xp = t._backend.xp
    return where(_wrap(xp.zeros(t._data.shape, dtype=bool), t._backend), t,
                 v.reshape(()).to(dtype=t.dtype))


def _filled(t, value):
    """A constant of t's shape, dtype and device holding value (fill_'s result)."""
    xp = t._backend.xp
    dt = np.dtype(t._data.dtype)
    if isinstance(value, float) and not isinstance(value, bool):
        if dt.kind in "iu" and not (math.isfinite(value) and
                                    np.iinfo(dt).min <= value < np.iinfo(dt).max + 1):
            raise DtypeError(f"fill_: {value!r} cannot be converted to {dt} without overflow")
        if dt.kind == "f" and math.isfinite(value) and math.fabs(value) > float(np.finfo(dt).max):
            raise DtypeError(f"fill_: {value!r} cannot be converted to {dt} without overflow")
    try:
        arr = xp.full(t._data.shape, value, dtype=t._data.dtype)
    except (OverflowError, ValueError, TypeError) as e:
        raise DtypeError(f"fill_: cannot fill a {t.dtype} tensor with {value!r}: {e}") from None
    const = _wrap(arr, t._backend)
    if t._rg and _mode.enabled:  # recorded: still requires grad, with a zero gradient
        return where(_wrap(xp.zeros(t._data.shape, dtype=bool), t._backend), t, const)
    return const


def _inplace_shape_error(name, t, other):
    """ShapeError naming the in-place op when other does not broadcast to t's shape
    (NumPy's ufunc raised ValueError); returns if it does (another ValueError)."""
    s, shape = tuple(getattr(other, "shape", ())), tuple(t.shape)
    if not _common.broadcasts_to(s, shape):
        raise ShapeError(f"{name}: an operand of shape {s} does not broadcast to the shape "
                         f"{shape} of the tensor changed in place") from None


def _inplace_dtype_error(name, t, other):
    """DtypeError naming the in-place op when NumPy refused to cast the result into t's
    dtype (a float result into an int or bool tensor, as torch refuses)."""
    what = f"{other.dtype} operand" if isinstance(other, Tensor) else repr(other)
    raise DtypeError(f"{name}: the result of a {t.dtype} tensor (shape {tuple(t.shape)}) and "
                     f"{what} cannot be written into it in place; use an out-of-place op "
                     "or cast with .to(dtype)") from None


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new leaf tensor holding a copy of data.

    Python floats become float32 (as in PyTorch), arrays keep their dtype.
    """
    backend = get_backend(device)
    dtype = _dtype(dtype)
    if isinstance(data, Tensor):
        arr = data._data
        if data._backend is not backend:
            arr = backend.from_numpy(data._backend.to_numpy(arr))
        arr = arr.astype(dtype or arr.dtype, copy=True)
    elif backend.is_array(data):
        arr = data.astype(dtype or data.dtype, copy=True)
    else:
        if isinstance(data, (list, tuple)):  # gg.tensor(t.max(0)): values and indices
            kinds = {t.dtype for t in data if isinstance(t, Tensor)}
            if len(kinds) > 1:
                raise DtypeError(f"tensor: the {type(data).__name__} holds tensors of dtypes "
                                 f"{sorted(map(str, kinds))}; cast them to one dtype first")
        try:
            host = np.array(data, dtype=dtype, copy=True)
        except ValueError as e:  # ragged lists, strings for numbers: NumPy's words, no op
            raise ValueError(f"tensor: cannot make a tensor from the {type(data).__name__} "
                             f"given: {e}") from None
        python = not isinstance(data, (np.ndarray, np.generic))
        if dtype is None and host.dtype == float64 and python and not _numpy_inside(data):
            host = host.astype(float32)  # Python floats: PyTorch's default dtype
        if dtype is None and host.dtype == np.uint64 and python:  # NumPy's pick past int64
            raise OverflowError("tensor: an integer is out of the int64 range")
        _check_kind("tensor", host.dtype, type(data).__name__)
        arr = backend.from_numpy(host)
    _check_kind("tensor", arr.dtype, type(data).__name__)
    t = _wrap(arr, backend)
    if requires_grad is not False:
        t.requires_grad = requires_grad
    return t


def _check_kind(op, dtype, what):
    # bool, integers, floats and complex; strings, objects and dates are no tensors
    if dtype.kind not in "biufc":
        raise TypeError(f"{op}: cannot make a tensor of dtype {dtype} (from {what}); "
                        "expected numbers or bools")


def from_numpy(a: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with a (no copy)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected numpy.ndarray, got {type(a).__name__}")
    _check_kind("from_numpy", a.dtype, "numpy.ndarray")
    return _wrap(a, get_backend("cpu"))


_DLPACK_DEVICES = {1: "cpu", 2: "cuda", 3: "cuda"}  # kDLCPU, kDLCUDA, kDLCUDAHost


def from_dlpack(obj) -> Tensor:
    """Zero-copy view of any DLPack producer (NumPy, CuPy, PyTorch, ...)."""
    if not hasattr(obj, "__dlpack_device__"):
        raise TypeError(f"from_dlpack: expected an array that supports DLPack (NumPy, CuPy, "
                        f"PyTorch, ...), got {type(obj).__module__}.{type(obj).__name__}")
    dev_type, index = obj.__dlpack_device__()
    name = _DLPACK_DEVICES.get(int(dev_type))
    if name is None:
        raise RuntimeError(f"from_dlpack: DLPack device type {dev_type} is not supported")
    backend = get_backend(name if name == "cpu" else f"{name}:{index}")
    return _wrap(backend.from_dlpack(obj), backend)


autograd.Tensor = Tensor

from .ops import (abs, add, argmax, argmin, cast, clamp, clone, cos, div, exp,  # noqa: E402
                  flatten, getitem, index_put, log, log_softmax, logsumexp, matmul, max, mean,
                  min, mul, neg, norm, permute, pow, relu, reshape, sigmoid, sin, softmax,
                  sqrt, squeeze, std, sub, sum, tanh, to_device, transpose, unsqueeze, var,
                  where)
from . import ops  # noqa: E402
from .ops import _common  # noqa: E402
from .ops._common import operands as _operands  # noqa: E402
from .autograd.function import apply2 as _apply2  # noqa: E402
from .ops.arith import Add as _Add, Mul as _Mul, Sub as _Sub, _compare  # noqa: E402
_UFUNC_OPS.update({getattr(np, k): getattr(ops, v) for k, v in _NP_OPERATORS.items()})
_UFUNC_OPS.update({getattr(np, k): functools.partial(_compare_weak, v)
                   for k, v in _NP_COMPARE.items()})
