"""Tensor API: construction, dtypes, devices, conversions, in-place changes and their errors."""
import copy
import operator
import pickle

import numpy as np
import pytest

import gpugrad as gg
from tests.conftest import rand


def test_construction_defaults(device):
    t = gg.tensor([1.0, 2.0], device=device)
    assert t.dtype == gg.float32 and t.shape == (2,) and t.ndim == 1
    assert str(t.device) == ("cpu" if device == "cpu" else "cuda:0")
    assert gg.tensor([1, 2], device=device).dtype == gg.int64
    assert gg.tensor(np.zeros(3), device=device).dtype == gg.float64  # arrays keep their dtype
    assert not t.requires_grad and t.grad is None and t.is_leaf


def test_data_is_the_backend_array_without_copy():
    t = gg.tensor([1.0, 2.0])
    assert isinstance(t.data, np.ndarray) and t.data is t.data
    a = np.arange(3.0)
    assert gg.from_numpy(a).data is a


def test_tensor_copies_its_input():
    a = np.arange(3.0)
    t = gg.tensor(a)
    a[0] = 42
    assert t.data[0] == 0


def test_numpy_is_a_host_copy(device):
    t = gg.tensor([1.0, 2.0], device=device)
    n = t.numpy()
    n[0] = 9
    assert isinstance(n, np.ndarray) and t.item() if t.numel() == 1 else t.numpy()[0] == 1


def test_item_and_errors(device):
    assert gg.tensor(2.5, device=device).item() == 2.5
    with pytest.raises(ValueError, match=r"only one-element.*\(2,\)"):
        gg.tensor([1.0, 2.0], device=device).item()


def test_requires_grad_only_for_floats(device):
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients, got int64"):
        gg.tensor([1, 2], device=device, requires_grad=True)
    t = gg.tensor([1.0], device=device).requires_grad_()
    assert t.requires_grad


def test_detach_and_T(device, rng):
    x = rand(rng, (2, 3), device)
    d = x.detach()
    assert not d.requires_grad and d.data is x.data
    assert x.T.shape == (3, 2)


def test_repr(device):
    r = repr(gg.tensor([1.0, 2.0], device=device, requires_grad=True))
    assert r.startswith("tensor([1., 2.]") and "requires_grad=True" in r


def test_to_dtype_is_differentiable(device, rng):
    x = rand(rng, (3,), device)
    y = x.to(gg.float32)
    assert y.dtype == gg.float32
    y.sum().backward()
    assert x.grad.dtype == gg.float64 and np.allclose(x.grad.numpy(), 1)


def test_to_same_device_is_identity(device):
    t = gg.tensor([1.0], device=device)
    assert t.to(device) is t


# ---- dtype rules ------------------------------------------------------------------------
OPS = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
       lambda a, b: a ** b, gg.maximum, gg.minimum]


@pytest.mark.parametrize("op", OPS)
def test_float32_stays_float32_with_python_scalars(device, op):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    for y in (op(x, 2.0), op(2.0, x), op(x, 3), op(x, np.float64(2.0))):
        assert y.dtype == gg.float32
        y.sum().backward()
        assert x.grad.dtype == gg.float32


@pytest.mark.parametrize("op", OPS)
def test_0d_float32_stays_float32_with_python_scalars(device, op):
    # 0-d arrays are where NumPy 1.x's value-based promotion turned float32 into float64;
    # the gradient flows through rules on raw 0-d arrays (NumPy scalars on the way).
    x = gg.tensor(1.5, device=device, requires_grad=True)
    for y in (op(x, 2.0), op(2.0, x), op(x, 3), op(x * 0.5, np.float64(2.0)) * 0.25):
        assert y.dtype == gg.float32 and y.shape == ()
        y.backward()
        assert x.grad.dtype == gg.float32 and x.grad.shape == ()
        (gx,) = gg.grad(op(x, 2.0).mean() * 2.0, x, create_graph=True)
        assert gx.dtype == gg.float32


def test_float32_through_every_fused_op_and_gradient(device, rng):
    x = rand(rng, (4, 5), device, dtype=np.float32)
    labels = gg.tensor([0, 1, 2, 3], device=device)
    loss = gg.softmax_cross_entropy(gg.sigmoid(x) * 2.5 - 1, labels, label_smoothing=0.1)
    assert loss.dtype == gg.float32
    loss.backward()
    assert x.grad.dtype == gg.float32


@pytest.mark.parametrize("op", OPS + [lambda a, b: a @ b.reshape(2, 1)])
def test_float32_float64_mismatch_raises(device, op):
    a = gg.tensor([1.0, 2.0], dtype=gg.float32, device=device)
    b = gg.tensor([1.0, 2.0], dtype=gg.float64, device=device)
    with pytest.raises(TypeError, match="dtype mismatch: float32 and float64"):
        op(a, b)


def test_numpy_float64_array_does_not_promote(device):
    if device != "cpu":
        pytest.skip("a NumPy operand with a CUDA tensor is a device error, tested elsewhere")
    a = gg.tensor([1.0, 2.0], dtype=gg.float32)
    with pytest.raises(TypeError, match="float32 and float64"):
        a * np.array([1.0, 2.0])
    assert (a * np.array([1.0, 2.0], dtype=np.float32)).dtype == gg.float32
    assert (np.array([1.0, 2.0], dtype=np.float32) * a).dtype == gg.float32  # __array_ufunc__ = None


def test_int_tensor_takes_float_dtype(device):
    a = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    m = gg.tensor([1, 0], device=device)
    y = a * m
    assert y.dtype == gg.float32
    y.sum().backward()
    assert a.grad.numpy().tolist() == [1, 0]


def test_integer_tensors_carry_no_gradient(device):
    i = gg.tensor([1, 2], device=device)
    assert not (i * 2).requires_grad


def test_comparisons_have_no_gradient(device):
    x = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    for c in (x > 1.5, x < 2, x >= 2, x <= 2, x == 2, x != 2):
        assert c.dtype == gg.bool_ and not c.requires_grad
    assert (x > 1.5).numpy().tolist() == [False, True, True]


# ---- in-place changes and the version counter ---------------------------------------------
def test_inplace_on_leaf_requiring_grad_raises(device):
    w = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    for name, f in [("add_", lambda t: t.__iadd__(1)), ("sub_", lambda t: t.__isub__(1)),
                    ("mul_", lambda t: t.__imul__(2)), ("div_", lambda t: t.__itruediv__(2)),
                    ("setitem", lambda t: t.__setitem__(0, 5.0))]:
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            f(w)
    assert w.numpy().tolist() == [1, 2]


def test_inplace_on_leaf_under_no_grad_is_allowed(device):
    w = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    data = w.data
    with gg.no_grad():
        w -= 0.5
        w *= 2
        w[0] = 7.0
    assert w.data is data  # modified in place
    assert w.numpy().tolist() == [7, 3]


@pytest.mark.parametrize("change", [
    lambda t: t.__iadd__(1.0), lambda t: t.__isub__(1.0), lambda t: t.__imul__(2.0),
    lambda t: t.__itruediv__(2.0), lambda t: t.__setitem__(0, 3.0),
    lambda t: setattr(t, "data", t.data * 2)])
def test_modifying_a_saved_tensor_raises_at_backward(device, change):
    w = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    x = gg.tensor([3.0, 4.0], device=device)
    y = (x * w).sum()  # Mul saved x for w's gradient
    change(x)
    with pytest.raises(RuntimeError, match=r"Mul: .*modified by an in-place operation.*version 1, expected version 0"):
        y.backward()


def test_modifying_a_saved_output_raises(device):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x.exp()  # Exp saved its output
    z = y.sum()
    with gg.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match="Exp: .*in-place"):
        z.backward()


def test_modifying_through_a_view_raises(device):
    w = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    x = gg.tensor([3.0, 4.0, 5.0], device=device)
    y = (x * w).sum()
    v = x[1:]
    v += 1  # the view shares x's memory and its version counter
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_recorded_inplace_on_non_leaf(device):
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    h = x * 3
    h += x  # recorded: h = 3x + x
    h *= 2
    h.sum().backward()
    assert x.grad.numpy().tolist() == [8, 8]


def test_recorded_setitem_on_non_leaf(device):
    x = gg.tensor([1.0, 2.0, 3.0], dtype=gg.float64, device=device, requires_grad=True)
    v = gg.tensor(10.0, dtype=gg.float64, device=device, requires_grad=True)
    h = x * 2
    h[1] = v * 3
    (h * gg.tensor([1.0, 2.0, 4.0], dtype=gg.float64, device=device)).sum().backward()
    assert x.grad.numpy().tolist() == [2, 0, 8]
    assert v.grad.item() == 6


def test_inplace_on_a_view_while_recording_raises(device):
    x = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    h = x * 2
    v = h[:2]
    with pytest.raises(RuntimeError, match="shares memory with a view"):
        v += 1
    with pytest.raises(RuntimeError, match="shares memory with a view"):
        h += 1


def test_inplace_dtype_mismatch_raises(device):
    t = gg.tensor([1.0, 2.0], dtype=gg.float32, device=device)
    with pytest.raises(TypeError, match="float32 and float64"):
        t += gg.tensor([1.0, 2.0], dtype=gg.float64, device=device)


@pytest.mark.parametrize("op", ["*=", "/=", "+=", "-="])
def test_recorded_inplace_keeps_the_old_values_an_operand_needs(device, rng, op):
    """h *= w needs h's old values for w's gradient: they are kept (PyTorch's
    original_self), not overwritten and then refused by the version check."""
    xa, wa = rng.standard_normal(3), rng.standard_normal(3) + 3.0
    x = gg.tensor(xa, device=device, requires_grad=True)
    w = gg.tensor(wa, device=device, requires_grad=True)
    h = x * 1
    {"*=": operator.imul, "/=": operator.itruediv, "+=": operator.iadd,
     "-=": operator.isub}[op](h, w)
    (h * h).sum().backward()
    y = {"*=": xa * wa, "/=": xa / wa, "+=": xa + wa, "-=": xa - wa}[op]
    dx = {"*=": wa, "/=": 1 / wa, "+=": 1.0, "-=": 1.0}[op]
    dw = {"*=": xa, "/=": -xa / wa ** 2, "+=": 1.0, "-=": -1.0}[op]
    np.testing.assert_allclose(x.grad.numpy(), 2 * y * dx, rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), 2 * y * dw, rtol=1e-12)


def test_recorded_inplace_with_itself(device):
    x = gg.tensor([1.5, -2.0], device=device, requires_grad=True)
    h = x * 1
    h *= h  # x**2; PyTorch refuses this one
    (h * h).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.array([1.5, -2.0]) ** 3, rtol=1e-12)


def test_recorded_inplace_cannot_truncate_floats_into_ints(device):
    """An int tensor += a float tensor that requires grad: the recorded branch checks
    the result dtype as the unrecorded one does (it wrote [2, 4] into an int64)."""
    w = gg.tensor([1.5, 2.5], device=device, requires_grad=True)
    xi = gg.tensor([1, 2], device=device)
    with pytest.raises(TypeError, match=r"add_ \(\+=\): result dtype float32 .* int64"):
        xi += w
    assert xi.dtype == gg.int64 and xi.tolist() == [1, 2] and not xi.requires_grad


@pytest.mark.parametrize("call,message", [
    (lambda t: t.squeeze(2), "squeeze: axis 2 is out of range"),
    (lambda t: t.squeeze(-3), "squeeze: axis -3 is out of range"),
    (lambda t: t.unsqueeze(3), "unsqueeze: axis 3 is out of range"),
    (lambda t: t.unsqueeze(-4), "unsqueeze: axis -4 is out of range"),
    (lambda t: t.permute(0, 2), "permute: axis 2 is out of range"),
    (lambda t: t.permute(1, 1), "permute: repeated axis"),
    (lambda t: t.permute(0), "permute: .* is not a permutation"),
    (lambda t: gg.concatenate([t, t], axis=2), "concatenate: axis 2 is out of range"),
    (lambda t: gg.stack([t, t], axis=-4), "stack: axis -4 is out of range"),
    (lambda t: gg.softmax(t, axis=2), "softmax: axis 2 is out of range"),
    (lambda t: gg.sum_to(t, (3, 1)), r"sum_to: shape \(3, 1\) does not broadcast"),
    (lambda t: gg.sum_to(t, (2, 1, 3)), r"sum_to: shape \(2, 1, 3\) does not broadcast"),
])
def test_axis_and_shape_arguments_out_of_range_raise(device, call, message):
    """They wrapped around or were clamped into a wrong result before."""
    t = gg.tensor(np.ones((1, 3)), device=device)
    with pytest.raises(ValueError, match=message):
        call(t)


def test_axis_arguments_follow_pytorch(device):
    t = gg.tensor(np.ones((1, 3)), device=device)
    assert t.squeeze(-2).shape == (3,) and t.squeeze(1).shape == (1, 3)
    assert t.squeeze((0, 1)).shape == (3,) and gg.squeeze(t).shape == (3,)
    assert t.unsqueeze(-1).shape == (1, 3, 1) and gg.unsqueeze(t, 2).shape == (1, 3, 1)
    z = gg.tensor(2.0, device=device)  # a 0-d tensor takes axis 0 or -1
    assert z.squeeze(0).shape == () and z.unsqueeze(-1).shape == (1,)
    assert z.sum(axis=0).item() == 2.0 and z.mean(axis=-1).item() == 2.0
    a = gg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    assert a.sum(axis=np.int64(1)).tolist() == [3.0, 12.0]  # NumPy integers are ints
    assert gg.softmax(a, np.int64(0)).shape == (2, 3)
    with pytest.raises(TypeError, match="softmax: axis must be an int"):
        gg.softmax(a, (0, 1))
    with pytest.raises(TypeError, match="stack: element 1 is a numpy.ndarray"):
        gg.stack([a, np.ones((2, 3))])


@pytest.mark.parametrize("call,what", [
    (lambda x, d: gg.mse_loss(x, d), "mse_loss: target dtype float64"),
    (lambda x, d: gg.binary_cross_entropy_with_logits(x, d), "logits: target dtype float64"),
    (lambda x, d: gg.binary_cross_entropy_with_logits(x, x, weight=d), "weight dtype float64"),
    (lambda x, d: gg.binary_cross_entropy_with_logits(x, x, pos_weight=d), "pos_weight dtype"),
])
def test_loss_operand_dtype_mismatch_names_the_loss(device, call, what):
    x = gg.tensor(np.zeros((2, 3)), dtype=gg.float32, device=device)
    d = gg.tensor(np.zeros((2, 3)), dtype=gg.float64, device=device)
    with pytest.raises(TypeError, match=what):
        call(x, d)


def test_deepcopy_and_pickle_give_working_leaves(device):
    """A copied tensor came back with a new backend object, and every op with the
    original then refused: 'expected all tensors on the same device, got cpu and cpu'."""
    w = gg.tensor(np.ones((3, 2), np.float32), device=device, requires_grad=True)
    (w * w).sum().backward()
    x = gg.tensor(np.ones((4, 3), np.float32), device=device)
    for c in (copy.deepcopy(w), pickle.loads(pickle.dumps(w))):
        assert c.device == w.device and c.requires_grad and c.is_leaf
        assert (x @ c).shape == (4, 2)
        with gg.no_grad():
            c += 0.1 * w  # an EMA update
        np.testing.assert_allclose(c.numpy(), 1.1, rtol=1e-6)
        assert w.tolist() == [[1.0, 1.0]] * 3  # its own memory
    d = copy.deepcopy(w)
    assert d.grad is not w.grad and d.grad.tolist() == w.grad.tolist()
    with pytest.raises(RuntimeError, match="deepcopy: only leaf tensors"):
        copy.deepcopy(w * 3)  # its copied graph would send gradients to a copied w
    with pytest.raises(RuntimeError, match="pickle: only leaf tensors"):
        pickle.dumps(w * 3)


def test_copy_shares_memory_not_grad(device):
    q = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    (q * q).sum().backward()
    c = copy.copy(q)
    assert c.grad is None and c.requires_grad
    (c * 10).sum().backward()
    assert q.grad.tolist() == [2.0, 4.0] and c.grad.tolist() == [10.0, 10.0]
    with gg.no_grad():
        c += 1
    assert q.tolist() == [2.0, 3.0]  # same memory, as PyTorch's copy.copy


def test_foreign_arrays_are_refused_as_operands_values_and_indices(device):
    torch = pytest.importorskip("torch")
    t = gg.tensor([1.0, 3.0], device=device, requires_grad=True)
    w = torch.tensor(2.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="mul: operand is a torch array"):
        t * w  # a 0-d torch tensor was turned into a number, dropping its graph
    h = t * 1.0
    with pytest.raises(RuntimeError, match="setitem: operand is a torch array"):
        h[:] = torch.tensor([5.0, 6.0])
    with pytest.raises(IndexError, match="getitem: index of type torch.Tensor"):
        t[torch.tensor([0])]
    assert (t * np.float32(2)).dtype == gg.float32  # NumPy scalars stay numbers


def test_data_of_a_tensor_that_requires_grad_stays_float(device):
    p = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.raises(TypeError, match="requires grad takes floating point data, got int64"):
        p.data = p._backend.asarray(np.array([1, 2]))
    with pytest.raises(TypeError, match="grad: expected a gpugrad Tensor or None, got numpy"):
        p.grad = np.ones(2, np.float32)


def test_lists_of_numpy_values_keep_their_dtype():
    assert gg.tensor([np.ones(2)]).dtype == gg.float64
    assert gg.tensor([np.float64(2.0), 3.0]).dtype == gg.float64
    assert gg.tensor([gg.tensor(np.float64(1.0))]).dtype == gg.float64
    assert gg.tensor([1.0, 2.0]).dtype == gg.float32  # Python floats: float32


def test_format_index_and_repr_like_pytorch(device):
    loss = gg.tensor(1.23456, device=device)
    assert f"{loss:.3f}" == "1.235" and f"{gg.tensor([1.0], device=device)}".startswith("tensor(")
    assert [10, 20, 30][gg.tensor(1, device=device)] == 20
    with pytest.raises(TypeError, match="only one-element integer tensors"):
        [10, 20][gg.tensor(1.0, device=device)]
    assert "size=(2, 0)" in repr(gg.tensor(np.zeros((2, 0)), device=device))


@pytest.mark.parametrize("call,error,message", [
    (lambda x, a: x * [a, a], TypeError, "mul: operand is a list of Tensors"),
    (lambda x, a: gg.mse_loss(x, [a, a, a]), TypeError, "list of Tensors"),
    (lambda x, a: gg.concatenate(x), TypeError, "concatenate: expected a list or tuple"),
    (lambda x, a: x + None, TypeError, "add: operand None"),
    (lambda x, a: x ** None, TypeError, "pow: operand None"),
    (lambda x, a: x + "abc", TypeError, "add: operand 'abc'"),
    (lambda x, a: x + 1j, TypeError, "add: complex operands are not supported"),
    (lambda x, a: gg.where(x > 0, x, None), TypeError, "where: operand None"),
    (lambda x, a: gg.where("a", x, x), TypeError, "where: operand 'a'"),
    (lambda x, a: gg.where(x, x, x), TypeError, "where: the condition must be a bool"),
    (lambda x, a: gg.leaky_relu(x, None), TypeError, "negative_slope must be a number"),
    (lambda x, a: x.to(str), TypeError, "cast: tensors hold bools, integers and floats"),
    (lambda x, a: x.reshape(-2, 3), ValueError, r"reshape: invalid shape \(-2, 3\)"),
    (lambda x, a: x.reshape(4), ValueError, r"reshape: cannot reshape a tensor of shape \(3,\)"),
    (lambda x, a: gg.broadcast_to(x, (2.0, 3)), TypeError, "broadcast_to: shape must be"),
    (lambda x, a: gg.broadcast_to(x, (2, 4)), ValueError, "broadcast_to: a tensor of shape"),
    (lambda x, a: x.sum(axis={}), TypeError, "sum: axis must be None, an int or a tuple"),
    (lambda x, a: x.sum(keepdims="no"), TypeError, "sum: keepdims must be a bool"),
    (lambda x, a: gg.exp([1.0]), TypeError, "exp: expected a Tensor, got builtins.list"),
    (lambda x, a: gg.tensor([1.0], requires_grad="yes"), TypeError, "requires_grad: expected"),
    (lambda x, a: gg.tensor([1j], requires_grad=True), RuntimeError, "only floating point"),
    (lambda x, a: x.register_hook(None), TypeError, "register_hook: expected a function"),
    (lambda x, a: gg.grad(None, x), TypeError, "grad: outputs must be a Tensor"),
])
def test_bad_arguments_raise_naming_the_op(device, call, error, message):
    """Each of these gave a result (NaN, a constant without gradients, a dropped
    argument, a string tensor) or an error that named neither the op nor the value."""
    x = gg.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)
    a = gg.tensor(3.0, device=device, requires_grad=True)
    with pytest.raises(error, match=message):
        call(x, a)


def test_softmax_cross_entropy_and_bce_options_are_checked(device):
    logits = gg.tensor(np.zeros((2, 3)), device=device)
    labels = gg.tensor([0, 1], device=device)
    for bad in (1.5, "1", True):  # int() made 1 of them: rows labelled 1 were dropped
        with pytest.raises(TypeError, match="ignore_index must be an int"):
            gg.softmax_cross_entropy(logits, labels, ignore_index=bad)
    with pytest.raises(ValueError, match="label_smoothing must be a number"):
        gg.softmax_cross_entropy(logits, labels, label_smoothing=None)
    x = gg.tensor(np.zeros((4, 3)), device=device)
    with pytest.raises(ValueError, match=r"weight of shape \(2, 4, 3\) does not broadcast"):
        gg.binary_cross_entropy_with_logits(x, x, weight=gg.tensor(np.ones((2, 4, 3)),
                                                                   device=device))


def test_gradcheck_refuses_tolerances_that_pass_anything():
    class Wrong(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x._data ** 2

        @staticmethod
        def backward(ctx, g):
            return g * 100

    w = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    for kw in ({"atol": -1}, {"rtol": -1}, {"eps": 0}, {"atol": "a"}):
        with pytest.raises(ValueError, match="gradcheck: (atol|rtol|eps) must be"):
            gg.gradcheck(Wrong.apply, (w,), **kw)


def test_grad_setter_checks_shape(device):
    t = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="must match"):
        t.grad = gg.tensor([1.0], device=device)
    with pytest.raises(RuntimeError, match=r"grad: assigned gradient \(float64"):
        t.grad = gg.tensor([1.0, 2.0], dtype=gg.float64, device=device)


def test_cast_to_int_or_bool_carries_no_gradient(device):
    x = gg.tensor([1.5, 2.5], device=device, requires_grad=True)
    for dt in (gg.int64, gg.bool_):
        y = x.to(dt)
        assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        gg.grad(x.to(gg.int64).to(gg.float32).sum(), x)  # it gave [1, 1]


def test_custom_function_outputs_only_floats_carry_gradients(device):
    class Split(gg.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2, 5, a._data > 1

        @staticmethod
        def backward(ctx, g, g_count, g_mask):
            return g * 2

    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    y, count, mask = Split.apply(x)
    assert y.requires_grad and not count.requires_grad and not mask.requires_grad
    assert count.grad_fn is None and mask.grad_fn is None and count.dtype.kind == "i"
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]

    class Nothing(gg.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2, None

    with pytest.raises(TypeError, match="Nothing: forward returned a NoneType as output 1"):
        Nothing.apply(x)


@pytest.mark.parametrize("data", [["a"], b"ab", np.array(["a"]), np.array([None]),
                                  np.array(["2026-11-25"], dtype="datetime64[D]")],
                         ids=["str", "bytes", "str array", "object array", "datetime array"])
def test_tensors_hold_numbers_only(data):
    with pytest.raises(TypeError, match="tensor: cannot make a tensor of dtype"):
        gg.tensor(data)
    if isinstance(data, np.ndarray):
        with pytest.raises(TypeError, match="from_numpy: cannot make a tensor of dtype"):
            gg.from_numpy(data)


def test_python_int_beyond_int64_raises():
    with pytest.raises(OverflowError, match="int64 range"):
        gg.tensor(2 ** 63)
    assert gg.tensor(2 ** 63 - 1).dtype == gg.int64


def test_iteration_and_numpy_protocol(device):
    t = gg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    assert [row.tolist() for row in t] == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(gg.tensor(1.0, device=device))
    if device == "cpu":
        a = np.asarray(t)
        assert a is t.data and np.asarray(t, dtype=np.float64).dtype == np.float64
    else:
        with pytest.raises(TypeError, match="no silent copies between devices"):
            np.asarray(t)


def test_an_element_picked_by_ints_is_a_view(device):
    """t[0] of a 1-D tensor is a 0-d view, as in PyTorch (NumPy alone gives a copy)."""
    x = gg.tensor([1.0, 2.0, 3.0], device=device)
    v = x[0]
    v += 10
    assert x.tolist() == [11.0, 2.0, 3.0]
    w = gg.tensor(np.arange(6.0).reshape(2, 3), device=device, requires_grad=True)
    h = w * 1.0
    with pytest.raises(RuntimeError, match="shares memory with a view"):
        h[1, 2] += gg.tensor(1.0, dtype=gg.float64, device=device, requires_grad=True)
    w[1, 2].backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0, 0], [0, 0, 1]])


def test_a_no_grad_view_changed_in_place_while_recording_raises(device):
    """PyTorch refuses it: the base's graph would disagree with its data unseen."""
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    h = x * 1.0
    with gg.no_grad():
        v = h[:]
    with pytest.raises(RuntimeError, match=r"mul_ \(\*=\): .* view taken under no_grad"):
        v *= 3.0
    with pytest.raises(RuntimeError, match="view taken under no_grad"):
        v[0] = 5.0
    assert h.tolist() == [1.0, 2.0]
    with gg.no_grad():  # under no_grad it is the optimizer-step pattern: allowed
        v *= 3.0
    assert h.tolist() == [3.0, 6.0]
    d = h.detach()  # detach() promises no graph: PyTorch allows this one
    d *= 2.0
    assert h.tolist() == [6.0, 12.0]


def test_max_min_over_a_non_empty_axis_of_an_empty_tensor(device):
    e = gg.tensor(np.zeros((0, 3)), device=device)
    assert e.max(axis=1).shape == (0,) and e.min(axis=1, keepdims=True).shape == (0, 1)
    with pytest.raises(ValueError, match="max: reduction over an empty axis"):
        e.max(axis=0)


def test_softmax_over_an_empty_axis_is_empty(device):
    x = gg.tensor(np.zeros((3, 0)), device=device, requires_grad=True)
    for fn in (gg.softmax, gg.log_softmax):
        y = fn(x, axis=1)
        assert y.shape == (3, 0)
        y.sum().backward()
        assert x.grad.shape == (3, 0)
        x.grad = None


def test_data_setter_checks_type(device):
    t = gg.tensor([1.0, 2.0], device=device)
    with pytest.raises(TypeError, match="expected an array"):
        t.data = [1.0, 2.0]


# ---- devices ---------------------------------------------------------------------------
def test_device_objects():
    assert str(gg.device("cpu")) == "cpu" and gg.device("cpu") == "cpu"
    assert str(gg.device("cuda")) == "cuda:0" and str(gg.device("cuda:1")) == "cuda:1"
    assert gg.get_default_device() == gg.device("cpu")
    with pytest.raises(ValueError, match="unknown device type 'tpu'"):
        gg.device("tpu")


def test_a_device_has_one_spelling_and_one_backend():
    """Device('cpu', 0) was a second key for the host: a.to(it) made an alias with its
    own version counter (an in-place change through it went unseen by a pending
    backward), and ops between the two raised 'got cpu and cpu'."""
    assert gg.Device("cpu", 0) == gg.device("cpu") and gg.Device("cuda") == "cuda:0"
    a = gg.tensor([1.0, 2.0])
    assert a.to(gg.Device("cpu", 0)) is a
    assert (gg.tensor([1.0]) + gg.tensor([1.0], device=gg.Device("cpu", 0))).tolist() == [2.0]
    assert gg.device("cpu") in {"cpu"} and {gg.device("cuda:0"): 1}.get("cuda:0") == 1
    assert (gg.device("cpu") == "mps") is False and (gg.device("cpu") == "cpu:1") is False
    with pytest.raises(ValueError, match="bad device index"):
        gg.device("cuda:\u00b2")  # a superscript two is a digit to str.isdigit
    with pytest.raises(ValueError, match="the CPU has no index"):
        gg.Device("cpu", 1)


def test_set_default_device():
    gg.set_default_device("cpu")
    assert gg.tensor(1.0).device == gg.device("cpu")


def test_dlpack_roundtrip_cpu():
    a = np.arange(4.0)
    t = gg.from_dlpack(a)
    assert t.data.ctypes.data == a.ctypes.data
    b = np.from_dlpack(t)
    assert b.ctypes.data == a.ctypes.data


def test_backward_gradient_argument_is_not_aliased(device):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    seed = gg.tensor([3.0, 4.0], device=device)
    x.backward(seed)  # x is its own root: its .grad must not be the caller's array
    with gg.no_grad():
        seed *= 0
    assert x.grad.numpy().tolist() == [3, 4]


# ---- across devices (run where a GPU is present) -------------------------------------
from tests.conftest import CUDA_SKIP  # noqa: E402

cuda_only = pytest.mark.skipif(CUDA_SKIP is not None, reason=str(CUDA_SKIP))


@pytest.mark.gpu
@cuda_only
@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a @ b.reshape(2, 1),
                                lambda a, b: gg.where(a > 0, a, b), lambda a, b: a > b,
                                lambda a, b: gg.stack([a, b])])
def test_mixed_devices_raise_naming_both(op):
    a = gg.tensor([1.0, 2.0], device="cpu")
    b = gg.tensor([1.0, 2.0], device="cuda")
    with pytest.raises(RuntimeError, match=r"cpu.*cuda:0|cuda:0.*cpu"):
        op(a, b)


@pytest.mark.gpu
@cuda_only
def test_to_cuda_and_back_carries_the_gradient():
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    y = x.to("cuda")
    assert str(y.device) == "cuda:0" and y.grad_fn is not None
    (y * y).sum().to("cpu").backward()
    assert x.grad.device == gg.device("cpu") and x.grad.numpy().tolist() == [2, 4]
    assert gg.gradcheck(lambda t: (t.to("cuda") ** 2).to("cpu"), [x])


def test_dlpack_with_torch_cpu_is_zero_copy():
    torch = pytest.importorskip("torch")
    t = torch.arange(4, dtype=torch.float32)
    g = gg.from_dlpack(t)
    assert g.data.ctypes.data == t.data_ptr() and g.dtype == gg.float32
    back = torch.from_dlpack(g)
    assert back.data_ptr() == t.data_ptr()


@pytest.mark.gpu
@cuda_only
def test_dlpack_with_cupy_and_torch_on_cuda_is_zero_copy():
    import cupy
    a = cupy.arange(6, dtype=cupy.float32)
    g = gg.from_dlpack(a)
    assert str(g.device) == "cuda:0" and g.data.data.ptr == a.data.ptr
    assert cupy.from_dlpack(g).data.ptr == a.data.ptr
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch has no CUDA")
    t = torch.arange(6, dtype=torch.float32, device="cuda")
    g = gg.from_dlpack(t)
    assert g.data.data.ptr == t.data_ptr()
    assert torch.from_dlpack(g).data_ptr() == t.data_ptr()
    # and it is a real tensor: gradients flow through ops on it
    x = gg.from_dlpack(t.double()).requires_grad_()
    (x * x).sum().backward()
    assert np.allclose(x.grad.numpy(), 2 * np.arange(6))


@pytest.mark.parametrize("name", ["clamp_", "clip_"])
def test_clamp_in_place(device, name):
    """x.clamp_(min, max) as torch's: in place, returns self, recorded while recording."""
    a = np.array([-2.0, 0.5, 3.0])
    x = gg.tensor(a, device=device)
    assert getattr(x, name)(0.0, 1.0) is x and x.tolist() == [0.0, 0.5, 1.0]
    getattr(x, name)(max=gg.tensor([0.2, 0.2, 0.2], dtype=gg.float64, device=device))
    assert x.tolist() == [0.0, 0.2, 0.2]
    w = gg.tensor(a, device=device, requires_grad=True)
    h = w * 2.0
    getattr(h, name)(min=0.0)
    h.sum().backward()
    assert w.grad.tolist() == [0.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="clamp_: a leaf tensor that requires grad"):
        getattr(w, name)(0.0)
    i = gg.tensor([1, 5], device=device)
    with pytest.raises(TypeError, match="clamp_: result dtype float32 cannot be written"):
        getattr(i, name)(0.5)


def test_inplace_result_of_another_shape_raises(device):
    """An in-place op whose result has more (size-1) axes than the tensor raises, recorded
    or not, naming the op and both shapes (it was accepted: [...] = drops leading 1s)."""
    w = gg.tensor(np.zeros((1, 1, 3)), device=device, requires_grad=True)
    h = gg.tensor(np.ones(3), device=device, requires_grad=True) * 1.0
    for op in (lambda: h.__iadd__(w), lambda: h.__imul__(w)):
        with pytest.raises(ValueError, match=r"_ \(.=\).*\(1, 1, 3\).*\(3,\)"):
            op()
    with pytest.raises(ValueError, match=r"clamp_: .*\(1, 1, 3\).*\(3,\)"):
        h.clamp_(w, None)
    with gg.no_grad(), pytest.raises(ValueError, match=r"clamp_: .*\(1, 1, 3\).*\(3,\)"):
        h.clamp_(w, None)
    assert h.shape == (3,) and h.tolist() == [1.0, 1.0, 1.0]
