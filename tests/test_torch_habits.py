"""PyTorch habits, compared with torch: the in-place methods (add_, sub_, mul_, div_,
fill_, zero_) with the operators' values, versions, gradients and refusals, and the
float32 that int tensors give with floats."""
import warnings

import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")


def pair(a, requires_grad=False):
    return (gg.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


@pytest.mark.parametrize("call", [
    lambda t, o: t.add_(o), lambda t, o: t.add_(o, alpha=-0.25), lambda t, o: t.sub_(o),
    lambda t, o: t.sub_(o, alpha=3), lambda t, o: t.mul_(o), lambda t, o: t.div_(o),
    lambda t, o: t.fill_(2.5), lambda t, o: t.zero_(), lambda t, o: t.mul_(2).add_(o),
])
def test_values_and_version_as_torch(call):
    a = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]], np.float32)
    o = np.array([0.5, -1.5, 2.0], np.float32)
    (g, t), (go, to) = pair(a), pair(o)
    v = g._vc[0]
    r = call(g, go)
    call(t, to)
    assert r is g
    assert g._vc[0] > v
    np.testing.assert_array_equal(g.numpy(), t.numpy())


def test_the_update_a_hand_written_loop_makes():
    a = np.array([1.0, -2.0, 3.0], np.float32)
    (w, tw) = pair(a, requires_grad=True)
    for x, lib in ((w, gg), (tw, torch)):
        (x * x).sum().backward()
        with lib.no_grad():
            x.add_(x.grad, alpha=-0.1)
        x.grad.zero_()
    np.testing.assert_array_equal(w.detach().numpy(), tw.detach().numpy())
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros(3, np.float32))


@pytest.mark.parametrize("method", ["zero_", "fill_"])
def test_recorded_fill_passes_a_zero_gradient_as_torch(method):
    args = () if method == "zero_" else (7.0,)
    out = []
    for lib, mk in ((gg, gg.tensor), (torch, torch.tensor)):
        x = mk([1.0, 2.0, 3.0], requires_grad=True)
        h = x * 2
        getattr(h, method)(*args)
        assert h.requires_grad
        (h * 3 + x * x).sum().backward()
        out.append((h.detach().numpy(), x.grad.numpy()))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])


def test_recorded_add_alpha_gradient_as_torch():
    out = []
    for lib, mk in ((gg, gg.tensor), (torch, torch.tensor)):
        x = mk([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = mk([3.0, -1.0], dtype=lib.float64, requires_grad=True)
        h = x * 1.0
        h.add_(y * y, alpha=0.5)
        h.sub_(x, alpha=2)
        (h * h).sum().backward()
        out.append((x.grad.numpy(), y.grad.numpy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_refusals_name_the_method():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    for call in (lambda: w.zero_(), lambda: w.add_(1.0), lambda: w.fill_(3)):
        with pytest.raises(RuntimeError, match=r"_: a leaf tensor that requires grad"):
            call()
    x = gg.ones(2, 3)
    with pytest.raises(gg.errors.ShapeError, match=r"fill_: .*shape \(2,\)"):
        x.fill_(gg.ones(2))
    with pytest.raises(RuntimeError, match=r"add_"):
        x.add_(gg.ones(4))
    with pytest.raises(TypeError, match=r"add_"):
        x.add_(gg.ones(3), 2)  # alpha is keyword-only, as in torch
    np.testing.assert_array_equal(x.numpy(), np.ones((2, 3), np.float32))


@pytest.mark.parametrize("expr", [
    "t * 0.5", "0.5 * t", "t + 1.5", "t - 0.25", "t / 2", "2 / t", "t / t", "t ** 0.5",
    "t * np.float64(0.5)", "np.float64(0.5) * t", "(t > 1) * 0.5", "(t > 1) / 2",
    "t.sum() / 2", "t * 2", "t + 1",
])
def test_int_tensor_arithmetic_dtype_and_values_as_torch(expr):
    """An int or bool tensor with a float, or divided, gives torch's float32, not float64."""
    g = eval(expr, {"np": np, "t": gg.arange(1, 5)})
    t = eval(expr, {"np": np, "t": torch.arange(1, 5)})
    assert g.dtype == np.dtype(str(t.dtype).replace("torch.", ""))
    np.testing.assert_array_equal(g.numpy(), t.numpy())


def _grad_of_an_unrelated_output(lib, n_roots, hook):
    x1 = lib.tensor(1.5, requires_grad=True)
    x2 = lib.tensor(0.5, requires_grad=True)
    outs = [x1 * 1.0 for _ in range(n_roots)]
    for w in outs:
        if hook:
            w.register_hook(lambda g: g * 10)
        w.retain_grad()
    seeds = [lib.tensor(2.0 + i) for i in range(n_roots)]
    gs = lib.autograd.grad(outs, [x2], grad_outputs=seeds, allow_unused=True)
    return [None if w.grad is None else float(w.grad) for w in outs], gs


@pytest.mark.parametrize("n_roots", [1, 2])
@pytest.mark.parametrize("hook", [False, True])
def test_grad_of_an_output_no_input_depends_on_retains_as_torch(n_roots, hook):
    """torch.autograd.grad of one output runs its hooks and retain_grad even when no input
    depends on it; with several outputs, none of theirs."""
    g, t = (_grad_of_an_unrelated_output(lib, n_roots, hook) for lib in (gg, torch))
    assert g[0] == t[0]
    assert g[1] == (None,) and t[1] == (None,)


def test_overwritten_elements_pass_a_zero_not_a_nan_gradient_as_torch():
    """y[idx] = v drops y's old gradient there by a select: a NaN arriving at the
    overwritten elements (std of one element) must not reach the input as NaN * 0."""
    out = []
    for lib in (gg, torch):
        x = lib.tensor(np.array([0.3]), requires_grad=True)
        v = x.squeeze(0).clone()
        v[...] = 2.5
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v.std(correction=1).backward()
        out.append(x.grad.numpy())
    np.testing.assert_array_equal(out[0], out[1])
    assert out[0].tolist() == [0.0]
