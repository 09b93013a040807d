"""gg.linear (x @ W.T + b in one node) and gg.nn.functional.linear against PyTorch's
F.linear: values and gradients, float64 and float32, with and without a bias, inputs of
one, two and three dimensions; the graph it records; the errors it raises."""
import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}
DTYPES = [np.float64, np.float32]
SHAPES = [((4, 3), 5), ((3,), 2), ((2, 4, 3), 5), ((0, 3), 2), ((64, 64), 32)]


def _compare(device, fn, x_shape, out_features, bias, dtype, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal((out_features, x_shape[-1]))]
    if bias:
        arrays.append(rng.standard_normal(out_features))
    arrays = [a.astype(dtype) for a in arrays]
    xs = [gg.tensor(a, device=device, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = fn(*xs), F.linear(*ts)
    assert out.dtype == dtype and out.shape == tuple(ref.shape)
    assert type(out.grad_fn).__name__ == "Linear"  # one node, not MatMul + Permute + Add
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOL[dtype])
    u = rng.standard_normal(ref.shape).astype(dtype)
    out.backward(gg.tensor(u, device=device))
    ref.backward(torch.tensor(u))
    for x, t in zip(xs, ts):
        assert x.grad.dtype == dtype and x.grad.shape == x.shape
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOL[dtype])
    return xs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,out_features", SHAPES)
def test_linear_matches_torch(device, x_shape, out_features, bias, dtype):
    _compare(device, gg.linear, x_shape, out_features, bias, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
def test_functional_linear_is_the_op(device, bias, dtype):
    _compare(device, gg.nn.functional.linear, (6, 4), 3, bias, dtype, seed=1)


def test_weight_gradient_in_weight_layout(device):
    """W's gradient is C-contiguous (g^T x), as the optimizers' in-place update wants."""
    xs = _compare(device, gg.linear, (8, 5), 3, True, np.float32, seed=2)
    assert xs[1].grad.data.flags.c_contiguous


def test_only_the_wanted_gradients(device):
    rng = np.random.default_rng(3)
    x = gg.tensor(rng.standard_normal((4, 3)), device=device)
    w = gg.tensor(rng.standard_normal((2, 3)), device=device, requires_grad=True)
    b = gg.tensor(rng.standard_normal(2), device=device)
    gg.linear(x, w, b).sum().backward()
    assert x.grad is None and b.grad is None and w.grad is not None
    np.testing.assert_allclose(w.grad.numpy(), np.ones((4, 2)).T @ x.numpy())


def test_nn_linear_records_one_node(device):
    layer = gg.nn.Linear(3, 2, device=device)
    y = layer(gg.tensor(np.ones((4, 3), np.float32), device=device))
    assert type(y.grad_fn).__name__ == "Linear"
    assert y.grad_fn.next_functions[1][0].variable is layer.weight


def test_second_derivative_matches_torch(device):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)]
    xs = [gg.tensor(a, device=device, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    gx = gg.grad((gg.sigmoid(gg.linear(*xs)) ** 2).sum(), xs[0], create_graph=True)[0]
    tx = torch.autograd.grad((torch.sigmoid(F.linear(*ts)) ** 2).sum(), ts[0],
                             create_graph=True)[0]
    want = torch.autograd.grad((tx * tx).sum(), ts[1:])
    for g, t in zip(gg.grad((gx * gx).sum(), xs[1:]), want):
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-10, atol=1e-12)


def test_functional_linear_keeps_the_composed_cases(device):
    """An integer input and a bias that broadcasts otherwise take the composed path, as
    before (gg.linear itself refuses them)."""
    w = gg.tensor(np.ones((2, 3), np.float32), device=device)
    x = gg.tensor(np.ones((4, 3), np.int64), device=device)
    y = gg.nn.functional.linear(x, w)
    assert y.dtype == np.float32 and y.shape == (4, 2)
    y = gg.nn.functional.linear(gg.tensor(np.ones((4, 3), np.float32), device=device), w,
                                gg.tensor(np.ones((4, 1), np.float32), device=device))
    np.testing.assert_allclose(y.numpy(), np.full((4, 2), 4.0))
    with pytest.raises(TypeError, match="linear: expected floating point"):
        gg.linear(x, w)
    with pytest.raises(ValueError, match="linear: bias of shape"):
        gg.linear(x.to(gg.float32), w, gg.tensor(np.ones((4, 1), np.float32), device=device))


def test_errors(device):
    w = gg.tensor(np.ones((2, 3)), device=device)
    with pytest.raises(ValueError, match=r"linear: input of shape \(4, 2\) does not fit"):
        gg.linear(gg.tensor(np.ones((4, 2)), device=device), w)
    with pytest.raises(ValueError, match="does not fit"):
        gg.nn.functional.linear(gg.tensor(np.ones((4, 2)), device=device), w)
    with pytest.raises(TypeError, match="linear: expected Tensors"):
        gg.linear(np.ones((4, 3)), w)
    with pytest.raises(TypeError, match="linear: input must be a gpugrad Tensor"):
        gg.nn.functional.linear(np.ones((4, 3)), w)
    with pytest.raises(TypeError, match="expected floating point input, weight and bias of "
                                        "one dtype"):
        gg.linear(gg.tensor(np.ones((4, 3), np.float32), device=device), w)
