"""Values and gradients against PyTorch, where PyTorch has the same op (skips without torch)."""
import itertools

import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")
F = torch.nn.functional


def both(rng, *shapes, low=None, dtype=np.float64):
    arrays = []
    for s in shapes:
        a = rng.standard_normal(s).astype(dtype)
        if low is not None:
            a = np.abs(a) + low
        arrays.append(a)
    return arrays


def compare(device, gg_fn, torch_fn, arrays, rtol=1e-10, atol=1e-12):
    xs = [gg.tensor(a, device=device, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = gg_fn(*xs), torch_fn(*ts)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)
    u = np.random.default_rng(7).standard_normal(ref.shape).astype(arrays[0].dtype)
    out.backward(gg.tensor(u, device=device))
    ref.backward(torch.tensor(u))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


UNARY = [
    (gg.exp, torch.exp, None), (gg.log, torch.log, 0.1), (gg.sqrt, torch.sqrt, 0.1),
    (gg.abs, torch.abs, None), (gg.tanh, torch.tanh, None), (gg.sigmoid, torch.sigmoid, None),
    (gg.relu, torch.relu, None), (lambda x: gg.leaky_relu(x, 0.1), lambda x: F.leaky_relu(x, 0.1), None),
    (gg.softplus, F.softplus, None), (lambda x: -x, lambda x: -x, None),
    (lambda x: x ** 3, lambda x: x ** 3, None), (lambda x: 2.0 ** x, lambda x: 2.0 ** x, None),
    (lambda x: gg.softmax(x, axis=1), lambda x: torch.softmax(x, 1), None),
    (lambda x: gg.log_softmax(x, axis=0), lambda x: torch.log_softmax(x, 0), None),
    (lambda x: x.sum(axis=(0, 2), keepdims=True), lambda x: x.sum((0, 2), keepdim=True), None),
    (lambda x: x.mean(axis=1), lambda x: x.mean(1), None),
    (lambda x: x.max(), lambda x: x.amax(), None), (lambda x: x.min(axis=2), lambda x: x.amin(2), None),
    (lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1), None),
    (lambda x: x.transpose(0, 1), lambda x: x.transpose(0, 1), None),
    (lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1), None),
    (lambda x: x[:, 1:, ::2], lambda x: x[:, 1:, ::2], None),
    (lambda x: x[[0, 0, 1]], lambda x: x[[0, 0, 1]], None),
]


@pytest.mark.parametrize("k", range(len(UNARY)))
def test_unary_vs_torch(device, rng, k):
    g, t, low = UNARY[k]
    compare(device, g, t, both(rng, (2, 3, 4), low=low))


BINARY = [
    (lambda a, b: a + b, (3, 4), (4,)), (lambda a, b: a - b, (2, 1, 4), (3, 4)),
    (lambda a, b: a * b, (3, 4), (3, 1)), (lambda a, b: a / b, (3, 4), (4,)),
    (lambda a, b: a ** b, (3, 4), (4,)), (lambda a, b: a @ b, (5, 3, 4), (4, 2)),
    (lambda a, b: a @ b, (4,), (2, 4, 3)),
]


@pytest.mark.parametrize("k", range(len(BINARY)))
def test_binary_vs_torch(device, rng, k):
    fn, sa, sb = BINARY[k]
    compare(device, fn, fn, both(rng, sa, sb, low=0.2))


# Values where a formula meets 0 * inf, log(0), or an intermediate that overflows
# although the answer does not: values and gradients must still be PyTorch's.
EDGES = [
    ("x ** 0 at 0", lambda x: x ** 0, [[0.0, 1.0, -2.0]]),
    ("x ** b at 0", lambda x, b: x ** b, [[0.0, 0.0, 0.0, 2.0, -2.0], [0.0, -1.0, 2.0, 0.0, 1.5]]),
    ("0 ** b", lambda b: 0.0 ** b, [[-1.0, 0.0, 2.0]]),
    ("(-2) ** b", lambda b: (-2.0) ** b, [[1.0, 2.0, 0.5]]),
    ("a / b, large and tiny", lambda a, b: a / b, [[1e-25, 1e20, 3.0], [1e-25, 1e20, -1e-30]]),
    ("relu at -inf", lambda x: x.relu(), [[-np.inf, -1.0, 0.5, np.inf]]),
]


def test_x_pow_0_is_constant_to_second_order(device):
    x = gg.tensor(np.array([0.0, 1.0, -2.0]), device=device, requires_grad=True)
    assert gg.gradgradcheck(lambda a: a ** 0, (x,))  # a NaN second derivative at 0 before
    b = gg.tensor(np.zeros(3), device=device)  # a tensor exponent of 0
    (g,) = gg.grad((x ** b).sum(), x, create_graph=True)
    (g2,) = gg.grad(g.sum(), x)
    assert np.isfinite(g2.numpy()).all()


def test_float16_sigmoid_is_computed_in_float32(device):
    """exp(-x) in float16 overflows below -11.1: sigmoid and its gradient were 0 down
    to -16.6 on the CPU (1e-5 and less is right), and CPU and CUDA disagreed."""
    x = np.arange(-20.0, 20.0, 1 / 64).astype(np.float16)
    t = gg.tensor(x, device=device, requires_grad=True)
    y = gg.sigmoid(t)
    y.sum().backward()
    ref = 1 / (1 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(y.numpy().astype(np.float64), ref, rtol=1e-3, atol=6e-8)
    np.testing.assert_allclose(t.grad.numpy().astype(np.float64),
                               ref.astype(np.float16).astype(np.float64) * (1 - ref.astype(
                                   np.float16).astype(np.float64)), rtol=2e-3, atol=6e-8)
    assert y.dtype == t.grad.dtype == gg.float16


def test_pow_second_derivatives_with_0d_operands_and_a_zero_base(device):
    x = gg.tensor(np.float32(2.0), device=device, requires_grad=True)
    y = gg.tensor(np.float32(3.0), device=device, requires_grad=True)
    gx, gy = gg.grad(x ** y, [x, y], create_graph=True)  # refused a NumPy bool mask
    assert gx.item() == 12.0 and abs(gy.item() - 8 * np.log(2)) < 1e-5
    b = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    g = gg.tensor([1.0, 1.0], device=device, requires_grad=True)
    (gb,) = gg.grad(0.0 ** b, [b], grad_outputs=g, create_graph=True)
    (gg_,) = gg.grad(gb.sum(), [g])
    assert gg_.tolist() == [0.0, 0.0]  # was NaN: 0 * -inf in the masked branch


def test_float32_sums_over_many_rows_are_accurate(device):
    """NumPy adds along a strided axis one row at a time: a million rows of 0.1 summed
    to 100958 (1% off), in sum, mean and a bias gradient alike."""
    x = gg.tensor(np.full((10 ** 6, 2), 0.1, np.float32), device=device)
    np.testing.assert_allclose(x.sum(axis=0).numpy(), 1e5, rtol=1e-6)
    np.testing.assert_allclose(x.mean(axis=0).numpy(), 0.1, rtol=1e-6)
    np.testing.assert_allclose(x.sum(axis=0, keepdims=True).numpy(), [[1e5, 1e5]], rtol=1e-6)
    b = gg.tensor(np.zeros(2, np.float32), device=device, requires_grad=True)
    ((x + b) * 0.1).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), 1e5, rtol=1e-6)
    y = gg.tensor(np.full((2, 10 ** 5, 3), 0.1, np.float32), device=device)
    np.testing.assert_allclose(y.sum(axis=(0, 1)).numpy(), 2e4, rtol=1e-6)  # leading axes
    np.testing.assert_allclose(y.sum(axis=1).numpy(), 1e4, rtol=1e-6)  # a middle one


def test_bce_with_logits_gradient_keeps_small_values(device):
    """The gradient (1-t) - sigmoid(-x) cancelled to 0 for t = 0, x << 0 (2e-9 at
    x = -20); it is formed as (1-t) sigmoid(x) - pw t sigmoid(-x) now."""
    x = np.array([-20.0, -10.0, 20.0, -1.0], np.float32)
    for t, pw in ((0.0, None), (1.0, None), (0.3, None), (0.0, 2.0), (1.0, 2.0)):
        xx = gg.tensor(x, device=device, requires_grad=True)
        tt = np.full(4, t, np.float32)
        kw = {} if pw is None else {"pos_weight": gg.tensor(np.full(4, pw, np.float32),
                                                             device=device)}
        gg.binary_cross_entropy_with_logits(xx, gg.tensor(tt, device=device), reduction="sum",
                                            **kw).backward()
        s = 1 / (1 + np.exp(-x.astype(np.float64)))
        ref = (1 - t) * s - (1 if pw is None else pw) * t * (1 - s)
        np.testing.assert_allclose(xx.grad.numpy(), ref, rtol=1e-6)


def test_pow_exponent_0_with_a_tiny_base(device):
    a = gg.tensor(np.array([1e-39, 0.0, 2.0], np.float32), device=device, requires_grad=True)
    b = gg.tensor(np.zeros(3, np.float32), device=device)
    with np.errstate(divide="ignore"):
        (a ** b).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0, 0.0]  # 1e-39 ** -1 is inf: 0 * inf was NaN


def test_softplus_gradient_keeps_small_values(device):
    x = gg.tensor(np.array([-80.0, -89.0, 3.0], np.float32), device=device, requires_grad=True)
    gg.softplus(x).sum().backward()
    ref = 1 / (1 + np.exp(-np.array([-80.0, -89.0, 3.0])))
    np.testing.assert_allclose(x.grad.numpy()[[0, 2]], ref[[0, 2]], rtol=1e-6)
    if device == "cpu":  # a subnormal result (1/(1+exp(89)) overflowed to 0)
        np.testing.assert_allclose(x.grad.numpy()[1], ref[1], rtol=1e-4)


def test_float16_matmul_over_a_long_inner_axis(device, rng):
    a = ((1 + 1e-3 * rng.random((1, 10 ** 6))) / 100).astype(np.float16)
    b = ((1 + 1e-3 * rng.random((10 ** 6, 1))) / 100).astype(np.float16)
    out = (gg.tensor(a, device=device) @ gg.tensor(b, device=device))
    assert out.dtype == gg.float16
    np.testing.assert_allclose(out.item(), (a.astype(np.float64) @ b.astype(np.float64)).item(),
                               rtol=1e-3)


def test_numpy_bool_scalars_are_operands(device):
    t = gg.tensor([1.0, 2.0], device=device)
    assert (t + np.bool_(True)).tolist() == [2.0, 3.0]
    assert (np.bool_(True) * t).dtype == gg.float32


def test_div_survives_an_in_place_change_of_its_output(device):
    """The divisor's gradient must not need the output: p = e / s; p += eps works."""
    a = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    b = gg.tensor([2.0, 4.0, 5.0], device=device, requires_grad=True)
    y = a / b
    y += 1
    ga, gb = gg.grad(y.sum(), [a, b])
    np.testing.assert_allclose(ga.numpy(), [0.5, 0.25, 0.2], rtol=1e-6)
    np.testing.assert_allclose(gb.numpy(), [-0.25, -0.125, -0.12], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", range(len(EDGES)), ids=[e[0] for e in EDGES])
def test_edge_values_vs_torch(device, k, dtype):
    _, fn, values = EDGES[k]
    arrays = [np.array(v, dtype) for v in values]
    xs = [gg.tensor(a, device=device, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    with np.errstate(all="ignore"):
        out, ref = fn(*xs), fn(*ts)
        out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-6)
    for x, t in zip(xs, ts):
        assert x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype,offset,rtol", [(np.float16, 1e3, 2e-3), (np.float32, 1e6, 1e-6),
                                               (np.float64, 1e12, 1e-12)])
@pytest.mark.parametrize("eps,weighted", [(0.0, False), (0.1, False), (0.1, True)])
def test_softmax_cross_entropy_large_logits_keep_precision(device, rng, dtype, offset, rtol,
                                                           eps, weighted):
    """Logits far from 0 with a small spread: PyTorch keeps the softmax's precision
    (float64 reference here), so must the fused op. Saving lse = max + log-sum and
    taking exp(x - lse) lost it (float16 near 1e3: 20% off; float32 near 1e6: 2%)."""
    x = (rng.standard_normal((16, 10)) * 2 + offset).astype(dtype)
    t = rng.integers(0, 10, 16)
    w = rng.uniform(0.5, 2.0, 10).astype(dtype) if weighted else None
    X = gg.tensor(x, device=device, requires_grad=True)
    loss = gg.softmax_cross_entropy(X, gg.tensor(t, device=device), label_smoothing=eps,
                                    weight=None if w is None else gg.tensor(w, device=device))
    loss.backward()
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ref = F.cross_entropy(tx, torch.tensor(t), label_smoothing=eps,
                          weight=None if w is None else torch.tensor(w.astype(np.float64)))
    ref.backward()
    assert loss.dtype == dtype and X.grad.dtype == dtype
    np.testing.assert_allclose(float(loss.item()), ref.item(), rtol=rtol)
    gref = tx.grad.numpy()
    np.testing.assert_allclose(X.grad.numpy().astype(np.float64), gref, rtol=0,
                               atol=rtol * np.abs(gref).max())


MASK = [[True, False, True, True], [False] * 4, [True] * 4]  # a list: it takes x's device
# ints mixed with array indices: PyTorch applies the ints first (NumPy alone would move
# the array's axis to the front where a slice separates them)
MIXED_INDICES = [(0, slice(None), [0, 1]), ([0, 1], slice(None), 0), (slice(None), [2, 0], -1),
                 (0, [0, 1]), (Ellipsis, [1, 0, 1], 2), (1, None, slice(None), [3, 1, 1]),
                 (0, MASK), (1, slice(1, None), [[0, 1], [2, 3]])]


@pytest.mark.parametrize("k", range(len(MIXED_INDICES)))
def test_mixed_int_and_array_indices_vs_torch(device, rng, k):
    idx = MIXED_INDICES[k]
    tidx = tuple(torch.tensor(i) if isinstance(i, (list, np.ndarray)) else i for i in idx)
    a = rng.standard_normal((2, 3, 4))
    x, tx = gg.tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = x[idx], tx[tidx]
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy())
    u = rng.standard_normal(ty.shape)
    y.backward(gg.tensor(u, device=device))
    ty.backward(torch.tensor(u))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    # setitem on a non-leaf, recorded: values and both gradients
    v = rng.standard_normal(ty.shape)
    gv, tv = gg.tensor(v, device=device, requires_grad=True), torch.tensor(v, requires_grad=True)
    x.grad, tx.grad = None, None
    h, th = x * 1.0, tx * 1.0
    h[idx] = gv
    th[tidx] = tv
    np.testing.assert_allclose(h.numpy(), th.detach().numpy())
    w = rng.standard_normal(a.shape)
    (h * gg.tensor(w, device=device)).sum().backward()
    (th * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(gv.grad.numpy(), tv.grad.numpy())


def test_maximum_minimum_ties_vs_torch(device):
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 1.0, 4.0])
    compare(device, gg.maximum, torch.maximum, [a, b])
    compare(device, gg.minimum, torch.minimum, [a, b])


def test_max_ties_vs_torch(device):
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    compare(device, lambda x: x.max(axis=1), lambda x: x.amax(1), [a])


def test_concatenate_stack_where_vs_torch(device, rng):
    compare(device, lambda a, b: gg.concatenate([a, b], axis=1), lambda a, b: torch.cat([a, b], 1),
            both(rng, (2, 3), (2, 2)))
    compare(device, lambda a, b: gg.stack([a, b], axis=1), lambda a, b: torch.stack([a, b], 1),
            both(rng, (2, 3), (2, 3)))
    m = rng.standard_normal((2, 3)) > 0
    compare(device, lambda a, b: gg.where(gg.tensor(m, device=device), a, b),
            lambda a, b: torch.where(torch.tensor(m), a, b), both(rng, (2, 3), (3,)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_vs_torch(device, rng, reduction):
    compare(device, lambda a, b: gg.mse_loss(a, b, reduction=reduction),
            lambda a, b: F.mse_loss(a, b, reduction=reduction), both(rng, (4, 3), (4, 3)))


@pytest.mark.parametrize("reduction,weighted,pos", list(itertools.product(
    ["mean", "sum", "none"], [False, True], [False, True])))
def test_bce_with_logits_vs_torch(device, rng, reduction, weighted, pos):
    x, t = both(rng, (5, 3), (5, 3))
    x *= 10  # include large logits
    t = (t > 0).astype(np.float64) * 0.9 + 0.05
    w, pw = np.abs(rng.standard_normal(3)), np.abs(rng.standard_normal(3)) + 0.5
    kw_gg = dict(reduction=reduction, weight=gg.tensor(w, device=device) if weighted else None,
                 pos_weight=gg.tensor(pw, device=device) if pos else None)
    kw_t = dict(reduction=reduction, weight=torch.tensor(w) if weighted else None,
                pos_weight=torch.tensor(pw) if pos else None)
    compare(device, lambda a, b: gg.binary_cross_entropy_with_logits(a, b, **kw_gg),
            lambda a, b: F.binary_cross_entropy_with_logits(a, b, **kw_t), [x, t])


# ---- softmax cross-entropy: every option combination, values, gradients, HVP -------------
SCE_OPTIONS = list(itertools.product(
    [None, "w"], [False, True], ["mean", "sum", "none"], [0.0, 0.15], ["2d", "nd"]))


def _sce_case(rng, weight, ignore, layout):
    shape = (6, 5) if layout == "2d" else (3, 5, 2, 2)
    x = rng.standard_normal(shape) * 3
    labels = rng.integers(0, 5, (shape[0],) + shape[2:])
    if ignore:
        labels.flat[::3] = 2 if ignore == "class" else -100
    w = np.abs(rng.standard_normal(5)) + 0.1 if weight else None
    return x, labels, w


@pytest.mark.parametrize("weight,ignore,reduction,smoothing,layout", SCE_OPTIONS)
def test_softmax_cross_entropy_vs_torch(device, rng, weight, ignore, reduction, smoothing, layout):
    x, labels, w = _sce_case(rng, weight, ignore, layout)
    kw = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=-100)
    compare(device,
            lambda a: gg.softmax_cross_entropy(a, gg.tensor(labels, device=device),
                                               weight=None if w is None else gg.tensor(w, device=device), **kw),
            lambda a: F.cross_entropy(a, torch.tensor(labels),
                                      weight=None if w is None else torch.tensor(w), **kw),
            [x])


@pytest.mark.parametrize("weight,ignore,reduction,smoothing,layout", SCE_OPTIONS)
def test_softmax_cross_entropy_hvp_vs_torch(device, rng, weight, ignore, reduction, smoothing, layout):
    """Double backward: the Hessian-vector product H v, and d/d(grad_output)."""
    x, labels, w = _sce_case(rng, weight, ignore, layout)
    v = rng.standard_normal(x.shape)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    a = gg.tensor(x, device=device, requires_grad=True)
    loss = gg.softmax_cross_entropy(a, gg.tensor(labels, device=device),
                                    weight=None if w is None else gg.tensor(w, device=device), **kw)
    go = gg.tensor(np.ones(loss.shape) * 1.5, device=device, requires_grad=True)
    (g,) = gg.grad(loss, a, go, create_graph=True)
    hv, dgo = gg.grad((g * gg.tensor(v, device=device)).sum(), [a, go])

    t = torch.tensor(x, requires_grad=True)
    tl = F.cross_entropy(t, torch.tensor(labels), weight=None if w is None else torch.tensor(w), **kw)
    tgo = torch.full(tl.shape, 1.5, dtype=torch.float64, requires_grad=True)
    (tg,) = torch.autograd.grad(tl, t, tgo, create_graph=True)
    thv, tdgo = torch.autograd.grad((tg * torch.tensor(v)).sum(), [t, tgo])
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dgo.numpy(), tdgo.numpy(), rtol=1e-9, atol=1e-12)


def test_softmax_cross_entropy_ignore_index_inside_class_range(device, rng):
    x, labels, _ = _sce_case(rng, None, "class", "2d")
    compare(device,
            lambda a: gg.softmax_cross_entropy(a, gg.tensor(labels, device=device), ignore_index=2),
            lambda a: F.cross_entropy(a, torch.tensor(labels), ignore_index=2), [x])


def test_softmax_cross_entropy_float32_vs_torch(device, rng):
    x = (rng.standard_normal((64, 100)) * 5).astype(np.float32)
    labels = rng.integers(0, 100, 64)
    compare(device, lambda a: gg.softmax_cross_entropy(a, gg.tensor(labels, device=device), label_smoothing=0.1),
            lambda a: F.cross_entropy(a, torch.tensor(labels), label_smoothing=0.1), [x],
            rtol=2e-5, atol=1e-7)


def test_softmax_cross_entropy_all_ignored_double_backward_is_zero(device):
    x = gg.tensor(np.zeros((3, 4)), device=device, requires_grad=True)
    labels = gg.tensor([-100, -100, -100], device=device)
    loss = gg.softmax_cross_entropy(x, labels)
    (g,) = gg.grad(loss, x, create_graph=True)
    (h,) = gg.grad(g.sum(), x)
    assert np.isnan(loss.item())  # 0/0, as in PyTorch
    assert (g.numpy() == 0).all() and (h.numpy() == 0).all()


@pytest.mark.parametrize("shape", [(0, 5), (0, 5, 3)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_cross_entropy_empty_batch(device, shape, reduction):
    """N = 0: mean is 0/0 = NaN, sum 0, none empty, as in PyTorch; the gradient is empty."""
    x = np.zeros(shape)
    labels = np.zeros((0,) + shape[2:], dtype=np.int64)
    a = gg.tensor(x, device=device, requires_grad=True)
    loss = gg.softmax_cross_entropy(a, gg.tensor(labels, device=device), reduction=reduction)
    t = torch.tensor(x, requires_grad=True)
    tl = F.cross_entropy(t, torch.tensor(labels), reduction=reduction)
    assert loss.shape == tuple(tl.shape)
    np.testing.assert_array_equal(loss.numpy(), tl.detach().numpy())
    loss.sum().backward()
    tl.sum().backward()
    assert a.grad.shape == shape
    np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
