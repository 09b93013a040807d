"""Shape, indexing, copy and device ops."""
from __future__ import annotations

import math
import numbers
import operator

from ..autograd import Function, _wrap
from ..autograd.function import apply1, apply2
from ..errors import DeviceError, DtypeError, ShapeError
from ..tensor import Tensor
from ._common import (_operand, broadcasts_to, expand, keep, keep_mask, sum_to_array,
                      unbroadcast)
from .reduce import _axes, _axis, _dim

__all__ = ["reshape", "transpose", "permute", "squeeze", "unsqueeze", "flatten", "broadcast_to",
           "sum_to", "concatenate", "cat", "stack", "clone"]


class Reshape(Function):
    view_of_input = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x._data.shape
        return x._data.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class Permute(Function):
    view_of_input = True

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x._data.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inverse[a] = i
        return (permute(g, *inverse) if isinstance(g, Tensor) else g.transpose(inverse)), None


class BroadcastTo(Function):
    view_of_input = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x._data.shape
        return ctx.backend.xp.broadcast_to(x._data, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape), None


class SumTo(Function):
    """Sum over the axes that broadcasting added or stretched: the adjoint of broadcast_to."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x._data.shape
        return sum_to_array(x._data, shape)

    @staticmethod
    def backward(ctx, g):
        return expand(ctx, g, ctx.shape), None


def _index(op, x, index):
    """Normalise an index: Tensors to their arrays (same device), lists to arrays."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    basic = True
    for i in items:
        if isinstance(i, Tensor):
            if i._backend is not x._backend:
                raise DeviceError(f"{op}: index is on {i.device} but the tensor is on {x.device}")
            i = i._data
        elif isinstance(i, (list, tuple)):  # a tuple inside the index is a list (NumPy's, torch's)
            i = x._backend.asarray(_list_index(op, x, list(i)))
            if i.size == 0 and i.dtype.kind == "f":  # [] picks nothing: an empty int index
                i = i.astype("int64")
        elif not (i is None or i is Ellipsis or isinstance(i, (int, slice)) or
                  x._backend.is_array(i) or isinstance(i, numbers.Integral)):
            raise IndexError(f"{op}: index of type {type(i).__module__}.{type(i).__name__} "
                             f"for a tensor on {x.device}; index with gpugrad Tensors, "
                             "arrays of its device, ints, slices, None or Ellipsis")
        if not (i is None or i is Ellipsis or isinstance(i, (int, slice))):
            if getattr(i, "dtype", None) is None or i.dtype.kind not in "iub":
                raise IndexError(f"{op}: only integers, slices, None, Ellipsis and integer "
                                 f"or bool arrays are valid indices, got {i!r}")
            basic = basic and getattr(i, "ndim", 1) == 0 and i.dtype.kind != "b"
        out.append(i)
    return tuple(out), basic


def _list_index(op, x, items):
    """A list index with Tensors in it: each must live on x's device (their arrays
    stand in for them), or asarray would convert them, across devices too."""
    out = []
    for v in items:
        if isinstance(v, Tensor):
            if v._backend is not x._backend:
                raise DeviceError(f"{op}: index is on {v.device} but the tensor is on "
                                  f"{x.device}")
            v = v._data
        elif isinstance(v, (list, tuple)):
            v = _list_index(op, x, list(v))
        out.append(v)
    return out


class GetItem(Function):
    view_of_input = True

    @staticmethod
    def forward(ctx, x, index, basic):
        if basic and not any(i is Ellipsis for i in index):
            # NumPy returns a copy (a scalar) when ints pick one element; with an
            # Ellipsis it returns a 0-d view, as PyTorch does (t[0] += 1 writes to t).
            index = index + (Ellipsis,)
        ctx.shape, ctx.index, ctx.basic = x._data.shape, index, basic
        return x._data[index]

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):
            return IndexAdd.apply(g, ctx.shape, ctx.index, ctx.basic), None, None
        return _index_add(ctx.backend, g, ctx.shape, ctx.index, ctx.basic), None, None


class IndexAdd(Function):
    """zeros(shape) with g added at index; repeated indices accumulate."""

    @staticmethod
    def forward(ctx, g, shape, index, basic):
        ctx.index, ctx.basic = index, basic
        return _index_add(ctx.backend, g._data, shape, index, basic)

    @staticmethod
    def backward(ctx, v):
        gv = GetItem.apply(v, ctx.index, ctx.basic) if isinstance(v, Tensor) else v[ctx.index]
        return gv, None, None, None


def _index_add(backend, G, shape, index, basic):
    """zeros(shape) with G added at index (repeated indices accumulate)."""
    out = backend.xp.zeros(shape, G.dtype)
    if basic:
        out[index] = G
    else:
        backend.scatter_add(out, index, G)
    return out


class IndexPut(Function):
    """Out-of-place `x[index] = v`: what an in-place setitem records."""

    @staticmethod
    def forward(ctx, x, index, v, basic):
        ctx.index = index
        ctx.vshape = v._data.shape if isinstance(v, Tensor) else ()
        out = x._data.copy()
        V = v._data if isinstance(v, Tensor) else v
        if getattr(V, "ndim", 0):
            # torch drops a value's leading 1s beyond the target's rank; NumPy does too,
            # except into a single element, where it calls the value a sequence.
            lead = V.ndim - out[index].ndim
            if lead > 0 and all(n == 1 for n in V.shape[:lead]):
                V = V.reshape(V.shape[lead:])
        out[index] = V
        xp = ctx.backend.xp
        drop = xp.zeros(out.shape, bool)
        drop[index] = True
        ctx.save_for_backward(keep_mask(xp, drop))  # a select: NaN * 0 would be NaN
        return out

    @staticmethod
    def backward(ctx, g):
        nx, _, nv, _ = ctx.needs_input_grad
        (mask,) = ctx.saved_tensors
        gx = keep(ctx, g, mask) if nx else None
        gv = None
        if nv:
            gv = g[ctx.index]
            extra = len(ctx.vshape) - gv.ndim  # leading 1s that the write dropped
            gv = unbroadcast(gv, ctx.vshape) if extra <= 0 else \
                unbroadcast(gv, ctx.vshape[extra:]).reshape(ctx.vshape)
        return gx, None, gv, None


class Concatenate(Function):
    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        ctx.sizes = [x._data.shape[axis] for x in xs]
        return ctx.backend.xp.concatenate([x._data for x in xs], axis=axis)

    @staticmethod
    def backward(ctx, g):
        axis = ctx.axis
        lead = (slice(None),) * (axis % g.ndim)
        grads, start = [None], 0
        for n, need in zip(ctx.sizes, ctx.needs_input_grad[1:]):
            grads.append(g[lead + (slice(start, start + n),)] if need else None)
            start += n
        return tuple(grads)


class Stack(Function):
    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        return ctx.backend.xp.stack([x._data for x in xs], axis=axis)

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * (ctx.axis % g.ndim)
        return (None,) + tuple(g[lead + (i,)] if need else None
                               for i, need in enumerate(ctx.needs_input_grad[1:]))


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return x._data.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class Cast(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x._data.dtype
        return x._data.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return (cast(g, ctx.dtype) if isinstance(g, Tensor) else g.astype(ctx.dtype)), None


class ToDevice(Function):
    """An explicit copy between devices; the gradient travels back the same way."""

    @staticmethod
    def forward(ctx, x, backend):
        ctx.dst = backend
        return _wrap(backend.from_numpy(x._backend.to_numpy(x._data)), backend)

    @staticmethod
    def backward(ctx, g):
        src = ctx.backend  # the input's device
        if isinstance(g, Tensor):
            return to_device(g, src), None
        return src.from_numpy(ctx.dst.to_numpy(g)), None


# ---- public functions ------------------------------------------------------------
def _dims(op, shape, infer=False):
    """A shape argument as a tuple of ints (one -1 allowed where infer)."""
    try:
        dims = (operator.index(shape),) if not isinstance(shape, (tuple, list)) else \
            tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{op}: shape must be an int or a tuple of ints, got {shape!r}") from None
    if any(isinstance(d, bool) or type(d).__name__ == "bool_" for d in
           ((shape,) if not isinstance(shape, (tuple, list)) else shape)):
        # operator.index(True) is 1: a flag where a size goes would reshape silently
        raise TypeError(f"{op}: shape must be an int or a tuple of ints, got {shape!r}")
    if any(d < (-1 if infer else 0) for d in dims) or infer and dims.count(-1) > 1:
        raise ShapeError(f"{op}: invalid shape {dims}")
    return dims


def reshape(x, shape):
    """x with a new shape of the same size (one -1 is inferred); a view where NumPy can."""
    dims = _dims("reshape", shape, infer=True)
    known = math.prod(d for d in dims if d != -1)
    size = x._data.size
    if (size != known) if -1 not in dims else (known == 0 or size % known):
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} "
                         f"({size} elements) into {dims}")
    return Reshape.apply(x, dims)


def transpose(x, dim0=None, dim1=None):
    """Swap two axes (PyTorch's transpose); with none given, reverse all (x.T)."""
    n = x.ndim
    if dim0 is None and dim1 is None:
        return Permute.apply(x, tuple(range(n - 1, -1, -1)))
    if dim0 is None or dim1 is None:
        raise TypeError("transpose: give both dim0 and dim1, or neither to reverse all axes")
    if n == 0:  # PyTorch: 0 and -1 name a 0-d tensor's only (virtual) axis
        _axes("transpose", dim0, 0), _axes("transpose", dim1, 0)
        return Permute.apply(x, ())
    axes = list(range(n))
    # _axis refuses a bool (True would swap axis 1) and a float, names the op and the range
    dim0, dim1 = _axis("transpose", dim0, n), _axis("transpose", dim1, n)
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute.apply(x, tuple(axes))


def permute(x, *dims):
    """x with its axes reordered: permute(x, 2, 0, 1) or permute(x, (2, 0, 1))."""
    if len(dims) == 1 and not isinstance(dims[0], int):
        dims = tuple(dims[0])
    n = x.ndim
    axes = _axes("permute", dims, n) if len(dims) == n else None
    if axes is None or sorted(axes) != list(range(n)):
        raise ShapeError(f"permute: {dims} is not a permutation of the {n} axes of shape "
                         f"{tuple(x.shape)}")
    return Permute.apply(x, axes)


def squeeze(x, axis=None, *, dim=None):
    """Drop axes of size 1: all of them, or those named (an int or a tuple) that have size 1."""
    axis = _dim("squeeze", axis, dim)
    shape = x.shape
    axes = [i for i, s in enumerate(shape) if s == 1] if axis is None else \
        [a for a in _axes("squeeze", axis, len(shape)) if shape[a] == 1]
    # Nothing to drop still gives a new view, as in torch: the input itself would let a
    # hook or retain_grad on the result act on the input's gradient.
    return reshape(x, tuple(s for i, s in enumerate(shape) if i not in axes))


def unsqueeze(x, axis=None, *, dim=None):
    """Insert an axis of size 1 at position axis (or dim), in [-ndim - 1, ndim]."""
    axis = _dim("unsqueeze", axis, dim)
    if axis is None:
        raise TypeError("unsqueeze: missing the position of the new axis (axis= or dim=)")
    shape = list(x.shape)
    n = len(shape)
    shape.insert(_axis("unsqueeze", axis, n + 1, f"inserting into a tensor of {n} dimensions"), 1)
    return reshape(x, tuple(shape))


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes start_dim..end_dim (inclusive) into one, as torch.flatten; a 0-d x gives (1,)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"flatten: expected a Tensor, got {type(x).__module__}.{type(x).__name__}")
    shape = x.shape
    if not shape:  # PyTorch: axes 0 and -1 name the 0-d tensor's only (virtual) axis
        _axes("flatten", start_dim, 0)
        _axes("flatten", end_dim, 0)
        return reshape(x, (1,))
    start = _axis("flatten", start_dim, len(shape))
    end = _axis("flatten", end_dim, len(shape))
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"for shape {tuple(shape)}")
    return reshape(x, shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])


def broadcast_to(x, shape):
    """x broadcast to shape (a view); its gradient sums back over the broadcast axes."""
    shape = _dims("broadcast_to", shape)
    if not broadcasts_to(x.shape, shape):
        raise ShapeError(f"broadcast_to: a tensor of shape {tuple(x.shape)} does not "
                         f"broadcast to {shape}")
    return BroadcastTo.apply(x, shape)


def sum_to(x, shape):
    """Sum x down to shape, which must broadcast to x's shape (PyTorch's sum_to_size)."""
    shape = _dims("sum_to", shape)
    if x._data.shape == shape:
        return x
    full = x._data.shape
    if not broadcasts_to(shape, full):
        raise ShapeError(f"sum_to: shape {shape} does not broadcast to the tensor's shape "
                         f"{tuple(full)}")
    return apply2(SumTo, x, shape)


def _torch_order(index):
    """(pre, post) when index mixes ints with array indices, else None.

    PyTorch applies ints first, as selects, and then the array indices to what is left;
    NumPy counts the ints among the advanced indices, which moves the broadcast axes
    to the front when a slice separates them (t[0, :, [0, 1]]: NumPy (2, 3), PyTorch
    (3, 2) for a (2, 3, 4) t). Indexing with pre (basic: ints, slices, None, ...) and
    then post (the arrays, with a full slice for every axis pre kept) is PyTorch's
    order in NumPy's terms.
    """
    ints = arrays = False
    for i in index:
        if type(i) is int or getattr(i, "ndim", -1) == 0 and i.dtype.kind in "iu":
            ints = True
        elif getattr(i, "ndim", -1) >= 0:  # an integer array of 1+ dims, or a bool mask
            arrays = True
    if not (ints and arrays):
        return None
    pre, post = [], []
    for i in index:
        if i is None or i is Ellipsis or isinstance(i, (slice, bool)):
            pre.append(i)
            post.append(Ellipsis if i is Ellipsis else slice(None))
        elif type(i) is int or i.ndim == 0 and i.dtype.kind in "iu":
            pre.append(i)  # a select: its axis is gone before post
        else:  # the array keeps its axes for post (a bool mask covers ndim of them)
            pre.extend([slice(None)] * (i.ndim if i.dtype.kind == "b" else 1))
            post.append(i)
    return tuple(pre), tuple(post)


def getitem(x, index):
    """x[index], with PyTorch's axis order where ints and arrays mix."""
    index, basic = _index("getitem", x, index)
    split = _torch_order(index)
    try:
        if split is not None:
            pre, post = split
            return GetItem.apply(GetItem.apply(x, pre, True), post, False)
        return GetItem.apply(x, index, basic)
    except IndexError as e:  # NumPy's, without the op or the shape
        raise IndexError(f"getitem: {e} (a tensor of shape {tuple(x.shape)})") from None


def index_put(x, index, value):
    """Out of place `x[index] = value`: a new tensor (what an in-place setitem records)."""
    index, basic = _index("setitem", x, index)
    if not isinstance(value, Tensor):  # numbers stay numbers; arrays of another library raise
        value = _operand("setitem", value, x)
    if isinstance(value, Tensor):
        if value._backend is not x._backend:
            raise DeviceError(f"setitem: value is on {value.device} but the tensor is on "
                              f"{x.device}")
        if value.dtype != x.dtype and value.dtype.kind == "f" == x.dtype.kind:
            raise DtypeError(f"setitem: cannot write {value.dtype} values into a {x.dtype} "
                             "tensor; cast explicitly with .to(dtype)")
    split = _torch_order(index)
    try:
        if split is not None:  # x[pre][post] = value, written back through x[pre]
            pre, post = split
            inner = IndexPut.apply(GetItem.apply(x, pre, True), post, value, False)
            return IndexPut.apply(x, pre, inner, True)
        return IndexPut.apply(x, index, value, basic)
    except IndexError as e:  # NumPy's, without the op or the shape
        raise IndexError(f"setitem: {e} (a tensor of shape {tuple(x.shape)})") from None
    except ValueError as e:  # mostly a value that does not broadcast to x[index]
        # (NaN into an int tensor is another ValueError: NumPy's words say which)
        raise (ShapeError if "broadcast" in str(e) or "input values" in str(e)
               else ValueError)(
            f"setitem: value of shape {tuple(getattr(value, 'shape', ()))} does not fit the "
            f"indexed part of a tensor of shape {tuple(x.shape)}: {e}") from None


def _tensors(op, tensors):
    """tensors as a list; a lone Tensor or a non-sequence raises."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of Tensors, got "
                        f"{type(tensors).__name__}")
    return list(tensors)


def _same_kind(op, xs):
    """Check that xs is a non-empty list of Tensors of one dtype."""
    if not xs:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: element {i} is a {type(x).__module__}.{type(x).__name__}, "
                            "expected Tensors; wrap arrays with gg.tensor(...)")
    dtypes = {x.dtype for x in xs}
    if len(dtypes) > 1:
        raise DtypeError(f"{op}: all tensors must share one dtype, got "
                         f"{sorted(str(d) for d in dtypes)}")


def concatenate(tensors, axis=0, *, dim=None):
    """Join tensors along an existing axis (or dim); gg.cat is the same function."""
    axis = _dim("concatenate", axis, dim, default=0)
    tensors = _tensors("concatenate", tensors)
    _same_kind("concatenate", tensors)
    # PyTorch's legacy rule: 1-D empty tensors (shape (0,)) join anything, adding nothing
    kept = [t for t in tensors if t.shape != (0,)] or tensors[:1]
    a = _axis("concatenate", axis, kept[0].ndim)
    first = kept[0].shape
    for t in kept:
        s = t.shape
        if len(s) != len(first) or any(m != n for k, (m, n) in enumerate(zip(s, first))
                                       if k != a):
            raise ShapeError(f"concatenate: shapes {tuple(first)} and {tuple(s)} differ "
                             f"outside axis {axis}")
    return Concatenate.apply(a, *kept)


cat = concatenate  # PyTorch's name


def stack(tensors, axis=0, *, dim=None):
    """Join same-shape tensors along a new axis (or dim)."""
    axis = _dim("stack", axis, dim, default=0)
    tensors = _tensors("stack", tensors)
    _same_kind("stack", tensors)
    first = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != first:
            raise ShapeError(f"stack: tensors must have one shape, got {tuple(first)} at "
                             f"entry 0 and {tuple(t.shape)} at entry {i}")
    n = tensors[0].ndim
    return Stack.apply(_axis("stack", axis, n + 1, f"stacking tensors of {n} dimensions"),
                       *tensors)


def clone(x):
    """A copy of x in new memory that keeps its place in the graph."""
    return apply1(Clone, x)


def cast(x, dtype):
    """x converted to dtype; an int or bool result carries no gradient."""
    dtype = x._backend.xp.dtype(dtype)
    if dtype.kind not in "biuf":
        raise DtypeError(f"cast: tensors hold bools, integers and floats, not {dtype}")
    if dtype.kind not in "fc":  # an int or bool result carries no gradient
        x = x.detach()
    return apply2(Cast, x, dtype)


def to_device(x, backend):
    """An explicit copy of x to another device; the gradient travels back."""
    return ToDevice.apply(x, backend)
