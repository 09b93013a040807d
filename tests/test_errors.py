"""gpugrad's exception classes: caught by NumPy-style and PyTorch-style except clauses,
raised by the ops where each library raises its class, and picklable (a worker process
of a data loader or a pool sends them back). Also the PyTorch habits that now work as in
torch or fail loudly: max along a dim, `w.data -= lr * w.grad`, NumPy's functions on a
Tensor, the .grad of a non-leaf, a Function without @staticmethod."""
import pickle
import warnings

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.cuda import CUDAUnavailableError
from gpugrad.errors import AxisError, DeviceError, DtypeError, ShapeError

# Each class, the NumPy-minded caller's class and the PyTorch-minded caller's.
CLASSES = [
    (ShapeError, ValueError, RuntimeError),
    (AxisError, np.exceptions.AxisError, IndexError),
    (AxisError, ValueError, IndexError),
    (DtypeError, TypeError, RuntimeError),
    (DeviceError, ValueError, RuntimeError),
    (CUDAUnavailableError, DeviceError, ImportError),
]


def _raise(cls):
    raise cls("op: the message (5, 4)")


@pytest.mark.parametrize("cls,numpy_style,torch_style", CLASSES,
                         ids=[f"{c[0].__name__}-{c[1].__name__}-{c[2].__name__}" for c in CLASSES])
def test_both_except_styles_catch(cls, numpy_style, torch_style):
    for style in (numpy_style, torch_style, cls):
        try:
            _raise(cls)
        except style as e:
            assert str(e) == "op: the message (5, 4)"
        else:  # pragma: no cover - the raise above always runs
            pytest.fail("nothing raised")
    # and nothing broader than intended: a shape error is no TypeError, a dtype error no
    # ValueError (code that tells them apart keeps working)
    assert not issubclass(ShapeError, TypeError) and not issubclass(DtypeError, ValueError)
    assert not issubclass(AxisError, RuntimeError)


# One representative bad call per class and case, with the classes it must be.
OPS = [
    ("broadcast", lambda: gg.ones(2, 3) + gg.ones(4), ShapeError, "add: shapes (2, 3) and (4,)"),
    ("matmul", lambda: gg.ones(2, 3) @ gg.ones(2, 3), ShapeError,
     "matmul: shapes (2, 3) and (2, 3)"),
    ("reshape", lambda: gg.ones(2, 3).reshape(4, 2), ShapeError, "reshape"),
    ("permute", lambda: gg.ones(2, 3).permute(1, 1), ShapeError, "permute: repeated axis"),
    ("sum axis", lambda: gg.ones(2, 3).sum(2), AxisError, "sum: axis 2 is out of range"),
    ("softmax dim", lambda: gg.ones(2, 3).softmax(-3), AxisError, "softmax: axis -3"),
    ("float dtypes", lambda: gg.ones(2) * gg.ones(2, dtype=gg.float64), DtypeError,
     "mul: dtype mismatch: float32 and float64"),
    ("mean of ints", lambda: gg.arange(3).mean(), DtypeError, "mean: expected a floating point"),
    ("device", lambda: gg.ones(2, device="tpu"), DeviceError, "device: unknown device type 'tpu'"),
]


@pytest.mark.parametrize("name,call,cls,words", OPS, ids=[o[0] for o in OPS])
def test_ops_raise_the_class_and_it_pickles(name, call, cls, words):
    with pytest.raises(cls) as info:
        call()
    assert words in str(info.value)
    back = pickle.loads(pickle.dumps(info.value))
    assert type(back) is cls and str(back) == str(info.value)


def test_numpy_broadcast_error_is_replaced_not_chained():
    """NumPy's 'operands could not be broadcast' said neither the op nor gpugrad's shapes."""
    with pytest.raises(ShapeError) as info:
        gg.ones(2, 3, requires_grad=True) * gg.ones(3, 2)
    assert str(info.value) == ("mul: shapes (2, 3) and (3, 2) do not broadcast: sizes 2 and "
                               "3 at dimension -1")
    assert info.value.__suppress_context__


def test_cuda_unavailable_is_a_device_error():
    assert issubclass(CUDAUnavailableError, DeviceError)
    if not gg.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA"):
            gg.ones(2, device="cuda")


# ---- max and min along a dim: torch's (values, indices) ----------------------------------
def test_max_dim_unpacks_like_torch():
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 5.0, 5.0], [7.0, 2.0, 7.0]])
    x = gg.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    for keep in (False, True):
        values, indices = x.max(1, keep)
        want = t.max(1, keep)
        np.testing.assert_array_equal(values.numpy(), want.values.detach().numpy())
        np.testing.assert_array_equal(indices.numpy(), want.indices.numpy())
        assert indices.dtype == gg.int64 and values.shape == tuple(want.values.shape)
    # ties: the gradient goes to the index picked, as torch's max(dim) (amax shares it)
    x.max(dim=1).values.sum().backward()
    t.max(dim=1).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    # NumPy's spelling keeps NumPy's meaning: the values only
    assert isinstance(x.max(axis=1), gg.Tensor) and x.max(axis=1).tolist() == [5.0, 7.0]
    assert x.max((0, 1)).item() == 7.0 and x.max().item() == 7.0


def test_max_dim_of_0d_tensor():
    values, indices = gg.tensor(3.0).max(0)
    assert values.item() == 3.0 and indices.item() == 0 and indices.dtype == gg.int64


# ---- NumPy's protocols -------------------------------------------------------------------
def test_data_step_works_as_in_torch():
    """`w.data -= lr * w.grad` writes into w's array, as in PyTorch; w's version moves on
    (the attribute is assigned back), so a pending backward that saved w sees it."""
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    array, version = w.data, w._vc[0]
    w.data -= 0.5 * w.grad
    assert w.data is array and w.tolist() == [0.0, 0.0] and w._vc[0] > version


def test_array_operators_give_tensors():
    t = gg.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([3.0, 4.0], np.float32)
    for got, want in ((a + t, [4.0, 6.0]), (a * t, [3.0, 8.0]), (a - t, [2.0, 2.0]),
                      (np.float32(2) * t, [2.0, 4.0])):
        assert isinstance(got, gg.Tensor) and got.requires_grad and got.tolist() == want
    assert (a < t).tolist() == [False, False] and isinstance(a @ t, gg.Tensor)


def test_asarray_and_numpy_unchanged():
    t = gg.tensor([1.0, 2.0])
    assert np.shares_memory(np.asarray(t), t.data)  # the array itself, no copy
    assert not np.shares_memory(t.numpy(), t.data)  # a copy
    assert np.allclose(t, [1.0, 2.0]) and np.array_equal(t, t)  # values, through __array__


@pytest.mark.parametrize("call,words", [
    (lambda t: np.exp(t), "np.exp does not take gpugrad Tensors"),
    (lambda t: np.sum(t), "use gg.sum(t) or t.sum()"),
    (lambda t: np.mean(t, axis=0), "use gg.mean(t) or t.mean()"),
    (lambda t: np.stack([t, t]), "use gg.stack(tensors)"),
    (lambda t: np.tanh(t), "use gg.tanh(t) or t.tanh()"),
    (lambda t: np.square(t), "gpugrad has no square"),
])
def test_numpy_functions_name_gpugrads(call, words):
    with pytest.raises(TypeError) as info:
        call(gg.ones(2, requires_grad=True))
    assert words in str(info.value)


# ---- .grad of a non-leaf ---------------------------------------------------------------------
def test_non_leaf_grad_warns_at_the_callers_line():
    w = gg.ones(2, requires_grad=True)
    h = w * 2
    h.sum().backward()
    with pytest.warns(UserWarning, match="non-leaf") as rec:
        line = _line() + 1
        assert h.grad is None
    assert rec[0].filename == __file__ and rec[0].lineno == line


def _line():
    import inspect
    return inspect.currentframe().f_back.f_lineno


def test_no_warning_where_torch_gives_none():
    w = gg.ones(2, requires_grad=True)
    h = w * 2
    h.retain_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert w.grad is None and h.grad is None  # a leaf; a non-leaf that retains
        (h * 3).sum().backward()
        assert h.grad.tolist() == [3.0, 3.0] and w.grad.tolist() == [6.0, 6.0]
        assert gg.ones(2).grad is None  # no graph at all


# ---- custom Functions ------------------------------------------------------------------------
def test_function_without_staticmethod_refused_and_fixed_by_subclass():
    class Double(gg.autograd.Function):
        def forward(ctx, x):
            return x * 2

        def backward(ctx, g):
            return g * 2

    with pytest.raises(TypeError, match=r"Double: forward and backward must be a @staticmethod"):
        Double.apply(gg.ones(2, requires_grad=True))

    class Fixed(Double):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = gg.ones(2, requires_grad=True)
    Fixed.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


# ---- a refused in-place op leaves the graph as it was ----------------------------------------
@pytest.mark.parametrize("bad", [
    lambda h: h.__iadd__(gg.ones(2, 2, 3)),  # the result would grow h
    lambda h: h.__iadd__(gg.ones(7)),  # does not broadcast
    lambda h: h.__imul__(gg.ones(2, 3, dtype=gg.float64)),  # another float dtype
    lambda h: h.__setitem__(5, 1.0),  # out of bounds
    lambda h: h.__setitem__(0, gg.ones(4)),  # does not fit
], ids=["grows", "broadcast", "dtype", "index", "value-shape"])
def test_refused_inplace_leaves_graph_unchanged(bad):
    def run(with_bad_call):
        w = gg.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]], requires_grad=True)
        h = (w * w).tanh()
        node, version, data = h.grad_fn, h._vc[0], h.numpy()
        if with_bad_call:
            with pytest.raises((ValueError, TypeError, IndexError)):
                bad(h)
            assert h.grad_fn is node and h._vc[0] == version
            np.testing.assert_array_equal(h.numpy(), data)
        (h * 2).sum().backward()
        return w.grad.numpy()

    np.testing.assert_array_equal(run(True), run(False))
