"""apply1, apply2 and apply3, the lean branch that gpugrad's own one-, two- and
three-argument ops call directly: whatever they do not expect goes on to Function.apply's generic path, with its
results and its errors; what they record is what Function.apply records."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.autograd import Function, function
from gpugrad.autograd.function import _apply, apply1, apply2, apply3
from gpugrad.errors import DeviceError
from gpugrad.ops.arith import Add, Mul
from gpugrad.ops.linear import Linear
from gpugrad.ops.unary import Exp, Sigmoid


class Triple(Function):
    """A user's op: not lean, so apply1 must hand it to the generic path."""

    @staticmethod
    def forward(ctx, x):
        return x * 3

    @staticmethod
    def backward(ctx, g):
        return g * 3


def _edges(t):
    return [(type(e[0]).__name__, e[1], e[2]) if e else e for e in t._node._next]


def test_apply1_and_apply2_record_what_function_apply_records(device):
    x = gg.tensor(np.array([0.5, -1.0, 2.0], dtype=np.float32), device=device,
                  requires_grad=True)
    c = gg.tensor(np.float32(2.0), device=device)
    for direct, generic in ((lambda: apply1(Sigmoid, x), lambda: Sigmoid.apply(x)),
                            (lambda: apply2(Mul, c, x), lambda: Mul.apply(c, x)),
                            (lambda: apply2(Add, x, 1.5), lambda: Add.apply(x, 1.5))):
        a, b = direct(), generic()
        assert type(a._node) is type(b._node)
        assert a._node.needs_input_grad == b._node.needs_input_grad
        assert _edges(a) == _edges(b)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        a.sum().backward()
        ga = x.grad.numpy().copy()
        x.grad = None
        b.sum().backward()
        np.testing.assert_array_equal(ga, x.grad.numpy())
        x.grad = None


def test_apply3_records_what_the_generic_path_records(device):
    gen = np.random.default_rng(3)
    x = gg.tensor(gen.standard_normal((4, 3)).astype(np.float32), device=device)
    w = gg.tensor(gen.standard_normal((2, 3)).astype(np.float32), device=device,
                  requires_grad=True)
    b = gg.tensor(gen.standard_normal(2).astype(np.float32), device=device,
                  requires_grad=True)
    for args in ((x, w, b), (x.detach().requires_grad_(), w, b), (x, w.detach(), b)):
        a, g = apply3(Linear, *args), _apply(Linear, args)
        assert type(a._node) is type(g._node)
        assert a._node.needs_input_grad == g._node.needs_input_grad
        assert _edges(a) == _edges(g)
        np.testing.assert_array_equal(a.numpy(), g.numpy())
        grads = []
        for out in (a, g):
            out.sum().backward()
            grads.append([t.grad.numpy().copy() for t in args if t.requires_grad])
            for t in args:
                t.grad = None
        for ga, gb in zip(*grads):
            np.testing.assert_array_equal(ga, gb)
    with gg.no_grad():  # nothing recorded: a plain result on either path
        a, g = apply3(Linear, x, w, b), _apply(Linear, (x, w, b))
    assert a.grad_fn is None and g.grad_fn is None and not a.requires_grad
    np.testing.assert_array_equal(a.numpy(), g.numpy())


def test_apply3_hands_what_it_does_not_expect_to_the_generic_path():
    with pytest.raises(TypeError, match="Linear: got no Tensor argument"):
        apply3(Linear, 1.0, 2.0, 3.0)


def test_apply1_hands_a_user_function_to_the_generic_path():
    x = gg.tensor(np.ones(3), requires_grad=True)
    y = apply1(Triple, x)
    assert type(y.grad_fn) is Triple and not Triple._lean
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 3.0))


def test_no_tensor_gets_the_generic_error():
    with pytest.raises(TypeError, match="Exp: got no Tensor argument"):
        apply1(Exp, np.ones(3))
    with pytest.raises(TypeError, match="Add: got no Tensor argument"):
        apply2(Add, 1.0, 2.0)


def test_they_follow_the_lean_switch(monkeypatch):
    """With the lean branch off (anomaly mode turns it off) they take the generic path."""
    calls = []
    generic = function._apply

    def spy(cls, args):
        calls.append(cls)
        return generic(cls, args)
    x = gg.tensor(np.ones(2), requires_grad=True)
    w = gg.tensor(np.ones((3, 2)), requires_grad=True)
    b = gg.tensor(np.ones(3), requires_grad=True)
    monkeypatch.setattr(function, "_apply", spy)
    apply1(Sigmoid, x)
    apply2(Mul, x, x)
    apply3(Linear, x, w, b)
    assert calls == []
    monkeypatch.setattr(function, "_lean", [False])
    apply1(Sigmoid, x)
    apply2(Mul, x, x)
    apply3(Linear, x, w, b)
    assert calls == [Sigmoid, Mul, Linear]


@pytest.mark.gpu
def test_two_devices_get_the_generic_error():
    if not gg.cuda.is_available():
        pytest.skip("CUDA unavailable: needs CuPy and a CUDA GPU")
    a = gg.tensor(np.ones(2), requires_grad=True)
    b = gg.tensor(np.ones(2), device="cuda")
    with pytest.raises(DeviceError, match="Mul: expected all tensors on the same device"):
        apply2(Mul, a, b)
    w = gg.tensor(np.ones((3, 2)), requires_grad=True)
    with pytest.raises(DeviceError, match="Linear: expected all tensors on the same device"):
        apply3(Linear, a, w, gg.ones(3, device="cuda"))


@pytest.mark.parametrize("path", ["lean", "generic"])
def test_out_of_memory_names_the_op_once_on_either_path(path, monkeypatch):
    """oom.py reads the op and its arguments from apply1's, apply2's or the generic path's
    frame: one part per op, also where the lean branch handed the call on."""
    def forward(ctx, a, b):
        raise MemoryError("no memory")
    monkeypatch.setattr(Mul, "forward", staticmethod(forward))
    if path == "generic":
        monkeypatch.setattr(function, "_lean", [False])
    x = gg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = gg.tensor(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(MemoryError) as info:
        x * y
    assert info.value.__notes__ == [
        "gpugrad: out of memory in Mul with arguments float32 (3,) on cpu, float32 (2, 3) on cpu"]


@pytest.mark.parametrize("path", ["lean", "generic"])
def test_out_of_memory_names_a_three_argument_op_once(path, monkeypatch):
    def forward(ctx, x, w, b):
        raise MemoryError("no memory")
    monkeypatch.setattr(Linear, "forward", staticmethod(forward))
    if path == "generic":
        monkeypatch.setattr(function, "_lean", [False])
    layer = gg.nn.Linear(3, 2)
    with pytest.raises(MemoryError) as info:
        layer(gg.ones((4, 3)))
    assert info.value.__notes__ == [
        "gpugrad: out of memory in Linear with arguments float32 (4, 3) on cpu, float32 (2, 3) "
        "on cpu, float32 (2,) on cpu"]
