"""softmax_cross_entropy with class-probability targets, binary_cross_entropy, one_hot, and
softmax/log_softmax's 0-d and dim= forms: values, gradients and errors against PyTorch."""
import itertools

import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}
TDT = {np.float64: torch.float64, np.float32: torch.float32}


def both(a, device, dtype, requires_grad=False):
    """The same values as a gpugrad tensor on device and a CPU torch tensor."""
    a = np.asarray(a, dtype)
    return (gg.tensor(a, device=device, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def close(got, want, dtype, scale=1.0):
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    got = got.numpy() if isinstance(got, gg.Tensor) else np.asarray(got)
    tol = TOL[dtype]
    np.testing.assert_allclose(got, want, rtol=tol["rtol"], atol=tol["atol"] * scale)


# ---- softmax_cross_entropy, class-probability targets -----------------------------------------
PROB_COMBOS = list(itertools.product(
    [False, True],                     # weight
    [0.0, 0.25],                       # label_smoothing
    ["none", "sum", "mean"],           # reduction
    [(6, 4), (2, 3, 4, 2)],            # (N, C) and (N, C, d1, d2)
    [np.float32, np.float64],
    [False, True],                     # target requires grad
))


@pytest.mark.parametrize("weighted,eps,reduction,shape,dtype,target_grad", PROB_COMBOS,
                         ids=lambda v: str(v) if not isinstance(v, type) else v.__name__)
def test_probs_every_option_matches_torch(device, weighted, eps, reduction, shape, dtype,
                                          target_grad):
    rng = np.random.default_rng(abs(hash((weighted, eps, reduction, shape))) % 2**32)
    x, tx = both(rng.standard_normal(shape) * 2, device, dtype, True)
    probs = rng.dirichlet(np.ones(shape[1]), (shape[0],) + shape[2:])
    t, tt = both(np.moveaxis(probs, -1, 1), device, dtype, target_grad)
    w = tw = None
    if weighted:
        w, tw = both(rng.uniform(0.2, 2.0, shape[1]), device, dtype)
    loss = gg.softmax_cross_entropy(x, t, weight=w, reduction=reduction, label_smoothing=eps)
    want = F.cross_entropy(tx, tt, weight=tw, reduction=reduction, label_smoothing=eps)
    assert loss.dtype == x.dtype and loss.shape == tuple(want.shape)
    close(loss, want, dtype)
    seed = rng.standard_normal(tuple(want.shape))
    inputs, tinputs = ([x, t], [tx, tt]) if target_grad else ([x], [tx])
    grads = gg.grad(loss, inputs, gg.tensor(seed, dtype=loss.dtype, device=device))
    tgrads = torch.autograd.grad(want, tinputs, torch.tensor(seed, dtype=TDT[dtype]))
    for g, tg in zip(grads, tgrads):
        assert g.dtype == x.dtype and g.shape == x.shape
        close(g, tg, dtype)
    if not target_grad:  # a target without requires_grad gets no gradient computed
        assert t.grad is None


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted,eps", [(False, 0.0), (True, 0.3)])
def test_probs_second_derivatives_match_torch(device, reduction, weighted, eps):
    """Hessian-vector products in x, and the mixed derivative d/dt <d loss/d x, v>, through
    create_graph (the backward is itself differentiable)."""
    rng = np.random.default_rng(3)
    shape = (3, 4, 2)
    x, tx = both(rng.standard_normal(shape), device, np.float64, True)
    t, tt = both(rng.uniform(0, 1, shape), device, np.float64, True)
    w, tw = both(rng.uniform(0.5, 2, 4), device, np.float64) if weighted else (None, None)
    v, tv = both(rng.standard_normal(shape), device, np.float64)
    loss = gg.softmax_cross_entropy(x, t, weight=w, reduction=reduction, label_smoothing=eps)
    want = F.cross_entropy(tx, tt, weight=tw, reduction=reduction, label_smoothing=eps)
    gx, gt = gg.grad(loss.sum(), [x, t], create_graph=True)
    tgx, tgt = torch.autograd.grad(want.sum(), [tx, tt], create_graph=True)
    close(gx, tgx, np.float64)
    close(gt, tgt, np.float64)
    hx, ht = gg.grad((gx * v).sum() + (gt * v).sum(), [x, t])
    thx, tht = torch.autograd.grad((tgx * tv).sum() + (tgt * tv).sum(), [tx, tt])
    close(hx, thx, np.float64)
    close(ht, tht, np.float64)


def test_probs_hessian_vector_product_with_functional(device):
    rng = np.random.default_rng(4)
    x, tx = both(rng.standard_normal((5, 3)), device, np.float64, True)
    t, tt = both(rng.dirichlet(np.ones(3), 5), device, np.float64)
    v, tv = both(rng.standard_normal((5, 3)), device, np.float64)
    (g,) = gg.grad(gg.softmax_cross_entropy(x, t, label_smoothing=0.1), x, create_graph=True)
    (hv,) = gg.grad((g * v).sum(), x)
    _, thv = torch.autograd.functional.hvp(
        lambda a: F.cross_entropy(a, tt, label_smoothing=0.1), tx, tv)
    close(hv, thv, np.float64)


@pytest.mark.parametrize("kind", ["probs", "labels"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_unbatched_logits_match_torch(device, kind, reduction):
    rng = np.random.default_rng(5)
    x, tx = both(rng.standard_normal(5), device, np.float64, True)
    if kind == "probs":
        t, tt = both(rng.dirichlet(np.ones(5)), device, np.float64)
    else:
        t, tt = gg.tensor(3, device=device), torch.tensor(3)
    loss = gg.softmax_cross_entropy(x, t, reduction=reduction, label_smoothing=0.1)
    want = F.cross_entropy(tx, tt, reduction=reduction, label_smoothing=0.1)
    assert loss.shape == tuple(want.shape) == ()
    close(loss, want, np.float64)
    close(gg.grad(loss, x)[0], torch.autograd.grad(want, tx)[0], np.float64)


def test_probs_negative_ignore_index_is_ignored_as_in_torch(device):
    rng = np.random.default_rng(6)
    x, tx = both(rng.standard_normal((4, 3)), device, np.float32)
    t, tt = both(rng.dirichlet(np.ones(3), 4), device, np.float32)
    close(gg.softmax_cross_entropy(x, t, ignore_index=-1),
          F.cross_entropy(tx, tt, ignore_index=-1), np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_probs_empty_batch_and_no_classes_match_torch(device, dtype):
    for shape in [(0, 4), (3, 0), (0, 3, 2)]:
        for reduction in ["none", "sum", "mean"]:
            x, tx = both(np.zeros(shape), device, dtype, True)
            t, tt = both(np.zeros(shape), device, dtype)
            t.requires_grad_()
            loss = gg.softmax_cross_entropy(x, t, reduction=reduction, label_smoothing=0.1)
            want = F.cross_entropy(tx, tt, reduction=reduction, label_smoothing=0.1)
            assert loss.shape == tuple(want.shape) and loss.dtype == x.dtype
            np.testing.assert_array_equal(np.abs(loss.numpy()), np.abs(want.detach().numpy()))
            for create_graph in (False, True):
                gx, gt = gg.grad(loss.sum(), [x, t], retain_graph=True,
                                 create_graph=create_graph)
                assert gx.shape == gt.shape == shape and (gx.numpy() == 0).all()


def test_probs_non_finite_logits_match_torch(device):
    inf = np.inf
    rows = [[-inf, 0.0, 1.0], [-inf, 0.0, 1.0], [-inf, -inf, -inf], [np.nan, 0.0, 1.0]]
    targets = [[0.0, 0.5, 0.5], [0.5, 0.25, 0.25], [0.2, 0.3, 0.5], [0.2, 0.3, 0.5]]
    x, tx = both(rows, device, np.float64)
    t, tt = both(targets, device, np.float64)
    got = gg.softmax_cross_entropy(x, t, reduction="none").numpy()
    want = F.cross_entropy(tx, tt, reduction="none").numpy()
    np.testing.assert_array_equal(got, want)  # NaN, inf, NaN, NaN


def test_probs_large_logits_keep_float32_precision(device):
    """float32 logits spread over 1e4, the target's mass away from the first logit."""
    rng = np.random.default_rng(7)
    x64 = rng.standard_normal((8, 50)) * 3
    x64[:, 0] = -1e4
    x64[:, 1] += 1e4 / 3
    t64 = rng.dirichlet(np.ones(50), 8)
    t64[:, 0] = 0
    t64 /= t64.sum(axis=1, keepdims=True)
    x, t = (gg.tensor(a.astype(np.float32), device=device, requires_grad=True) for a in (x64, t64))
    want = F.cross_entropy(torch.tensor(x64.astype(np.float32).astype(np.float64)),
                           torch.tensor(t64.astype(np.float32).astype(np.float64)), reduction="none")
    np.testing.assert_allclose(gg.softmax_cross_entropy(x, t, reduction="none").numpy(),
                               want.numpy(), rtol=1e-5)


def test_probs_saves_three_numbers_per_row_not_a_softmax(device):
    x = gg.tensor(np.zeros((4, 6, 5)), device=device, requires_grad=True)
    t = gg.tensor(np.full((4, 6, 5), 1 / 6), device=device)
    loss = gg.softmax_cross_entropy(x, t)
    saved = loss.grad_fn._saved[0]
    assert [None if a is None else a.shape for a in saved] == [(4, 6, 5), (4, 6, 5), None, (3, 4, 5)]
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_probs_in_place_change_of_target_is_caught(device):
    x = gg.tensor(np.zeros((2, 3)), device=device, requires_grad=True)
    t = gg.tensor(np.full((2, 3), 1 / 3), device=device)
    loss = gg.softmax_cross_entropy(x, t)
    t += 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_probs_errors_name_the_op_and_shapes(device):
    x = gg.tensor(np.zeros((4, 3)), device=device, requires_grad=True)
    op = "softmax_cross_entropy"
    with pytest.raises(ValueError, match=rf"{op}: class-probability target of shape \(4, 2\) "
                                         r"does not match logits of shape \(4, 3\)"):
        gg.softmax_cross_entropy(x, gg.tensor(np.zeros((4, 2)), device=device))
    with pytest.raises(TypeError, match=rf"{op}: class-probability target dtype float32 differs "
                                        "from logits dtype float64"):
        gg.softmax_cross_entropy(x, gg.tensor(np.zeros((4, 3), np.float32), device=device))
    t = gg.tensor(np.zeros((4, 3)), device=device)
    for bad in (0, 2, 5):
        with pytest.raises(ValueError, match=rf"{op}: ignore_index \({bad}\) is not supported "
                                             "for class-probability targets"):
            gg.softmax_cross_entropy(x, t, ignore_index=bad)
    with pytest.raises(TypeError, match=rf"{op}: target must be integer class indices or float "
                                        "class probabilities, got bool"):
        gg.softmax_cross_entropy(x, gg.tensor(np.zeros((4, 3), bool), device=device))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        gg.softmax_cross_entropy(x, t, weight=gg.tensor(np.ones(4), device=device))
    with pytest.raises(ValueError, match="label_smoothing"):
        gg.softmax_cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction"):
        gg.softmax_cross_entropy(x, t, reduction="avg")
    with pytest.raises(ValueError, match=r"gradient with respect to weight"):
        gg.softmax_cross_entropy(x, t, weight=gg.tensor(np.ones(3), device=device,
                                                        requires_grad=True))
    with pytest.raises(ValueError, match=rf"{op}: logits must be .* got a 0-d"):
        gg.softmax_cross_entropy(gg.tensor(1.0, device=device), gg.tensor(1.0, device=device))


def test_labels_still_match_torch_with_every_option(device):
    """The integer-label path, after the dispatch on the target's dtype."""
    rng = np.random.default_rng(8)
    x, tx = both(rng.standard_normal((6, 4, 3)), device, np.float64, True)
    labels = rng.integers(0, 4, (6, 3))
    labels[0, 0] = -100
    w, tw = both(rng.uniform(0.5, 2, 4), device, np.float64)
    for reduction in ["none", "sum", "mean"]:
        loss = gg.softmax_cross_entropy(x, gg.tensor(labels, device=device), weight=w,
                                        reduction=reduction, label_smoothing=0.1)
        want = F.cross_entropy(tx, torch.tensor(labels), weight=tw, reduction=reduction,
                               label_smoothing=0.1)
        close(loss, want, np.float64)


# ---- binary_cross_entropy -----------------------------------------------------------------------
def _bce_inputs(rng, shape):
    x = rng.uniform(0, 1, shape)
    t = rng.uniform(0, 1, shape)
    flat_x, flat_t = x.reshape(-1), t.reshape(-1)
    # exact 0 and 1 inputs against each kind of target: torch's clamps
    edge = [(0.0, 0.0), (0.0, 1.0), (0.0, 0.5), (1.0, 1.0), (1.0, 0.0), (1.0, 0.3),
            (1e-30, 1.0), (1e-8, 0.0)]
    for i, (a, b) in enumerate(edge[:flat_x.size]):
        flat_x[i], flat_t[i] = a, b
    return x, t


BCE_COMBOS = list(itertools.product([None, (4,), (3, 1)], ["none", "sum", "mean"],
                                    [np.float32, np.float64]))


@pytest.mark.parametrize("wshape,reduction,dtype", BCE_COMBOS, ids=str)
def test_bce_matches_torch_also_at_0_and_1(device, wshape, reduction, dtype):
    rng = np.random.default_rng(9)
    xa, ta = _bce_inputs(rng, (3, 4))
    if dtype == np.float32:
        xa[0, 6 % 4] = 0.0  # 1e-30 is 0 in float32
    x, tx = both(xa, device, dtype, True)
    t, tt = both(ta, device, dtype, True)
    w, tw = (None, None) if wshape is None else both(rng.uniform(0.5, 2, wshape), device, dtype)
    loss = gg.binary_cross_entropy(x, t, weight=w, reduction=reduction)
    want = F.binary_cross_entropy(tx, tt, weight=tw, reduction=reduction)
    assert loss.dtype == x.dtype and loss.shape == tuple(want.shape)
    close(loss, want, dtype)
    seed = rng.standard_normal(tuple(want.shape))
    gx, gt = gg.grad(loss, [x, t], gg.tensor(seed, dtype=dtype, device=device))
    tgx, tgt = torch.autograd.grad(want, [tx, tt], torch.tensor(seed, dtype=TDT[dtype]))
    # gradients reach 1e12 at the clamps (and inf for the target at 0 and 1): relative
    close(gx, tgx, dtype, scale=0)
    close(gt, tgt, dtype, scale=0)
    assert gx.dtype == gt.dtype == x.dtype


def test_bce_gradients_at_the_clamps_are_torchs_numbers(device):
    x = gg.tensor([0.0, 0.0, 1.0, 1.0], dtype=gg.float64, device=device, requires_grad=True)
    t = gg.tensor([0.0, 1.0, 1.0, 0.0], dtype=gg.float64, device=device, requires_grad=True)
    loss = gg.binary_cross_entropy(x, t, reduction="none")
    assert loss.tolist() == [0.0, 100.0, 0.0, 100.0]
    gx, gt = gg.grad(loss.sum(), [x, t])
    assert gx.tolist() == [0.0, -1000000003995.8029, 0.0, 1000000003995.8029]
    assert gt.tolist() == [np.inf, np.inf, -np.inf, -np.inf]


def test_bce_second_derivatives_match_torch_inside_the_clamps(device):
    rng = np.random.default_rng(10)
    x, tx = both(rng.uniform(0.05, 0.95, (3, 4)), device, np.float64, True)
    t, tt = both(rng.uniform(0, 1, (3, 4)), device, np.float64, True)
    w, tw = both(rng.uniform(0.5, 2, (4,)), device, np.float64)
    v, tv = both(rng.standard_normal((3, 4)), device, np.float64)
    gx, gt = gg.grad(gg.binary_cross_entropy(x, t, weight=w), [x, t], create_graph=True)
    tgx, tgt = torch.autograd.grad(F.binary_cross_entropy(tx, tt, weight=tw), [tx, tt],
                                   create_graph=True)
    h = gg.grad(((gx + gt) * v).sum(), [x, t])
    th = torch.autograd.grad(((tgx + tgt) * tv).sum(), [tx, tt])
    for a, b in zip(h, th):
        close(a, b, np.float64)


def test_bce_empty_and_0d_match_torch(device):
    for shape in [(0,), (), (2, 0)]:
        for reduction in ["none", "sum", "mean"]:
            x, tx = both(np.full(shape, 0.3), device, np.float32)
            t, tt = both(np.full(shape, 1.0), device, np.float32)
            got = gg.binary_cross_entropy(x, t, reduction=reduction)
            want = F.binary_cross_entropy(tx, tt, reduction=reduction)
            assert got.shape == tuple(want.shape)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_bce_errors(device):
    op = "binary_cross_entropy"
    x = gg.tensor([0.5, 0.2], device=device)
    # The CPU names the bad value at once; CUDA finds it without waiting for the GPU and
    # reports it at the next synchronization (here .numpy()).
    for bad_x, bad_t, what, value in [([0.5, 1.5], [0.5, 0.2], "input", "1.5"),
                                      ([0.5, 0.2], [-0.1, 0.5], "target", "-0.1"),
                                      ([np.nan, 0.5], [0.5, 0.2], "input", "nan")]:
        msg = (rf"{op}: all elements of {what} should be between 0 and 1, got {value}"
               if device == "cpu" else rf"{op}: all elements of input and target should be "
                                       r"between 0 and 1, but one is not")
        with pytest.raises(ValueError, match=msg):
            gg.binary_cross_entropy(gg.tensor(bad_x, device=device),
                                    gg.tensor(bad_t, device=device)).numpy()
    assert gg.binary_cross_entropy(x, x).numpy() > 0  # nothing left over to report
    with pytest.raises(ValueError, match=rf"{op}: input of shape \(2,\) and target of shape "
                                         r"\(1,\) differ"):
        gg.binary_cross_entropy(x, gg.tensor([1.0], device=device))
    with pytest.raises(TypeError, match=rf"{op}: target dtype float64 differs from input dtype "
                                        "float32"):
        gg.binary_cross_entropy(x, gg.tensor(np.array([1.0, 0.0]), device=device))
    with pytest.raises(ValueError, match=r"weight of shape \(2, 2\) does not broadcast"):
        gg.binary_cross_entropy(x, x, weight=gg.tensor(np.ones((2, 2), np.float32), device=device))
    with pytest.raises(ValueError, match="reduction"):
        gg.binary_cross_entropy(x, x, reduction="avg")
    with pytest.raises(TypeError, match=rf"{op}: input must be floating point"):
        gg.binary_cross_entropy(gg.tensor([0, 1], device=device), x)


# ---- one_hot ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("values,num_classes", [([0, 2, 1], -1), ([0, 2, 1], 5), ([[1, 0], [3, 3]], -1),
                                                (2, -1), (2, 4), ([], 3), ([[]], 2)])
def test_one_hot_matches_torch(device, values, num_classes):
    labels = np.array(values, dtype=np.int64)
    got = gg.one_hot(gg.tensor(labels, device=device), num_classes)
    want = F.one_hot(torch.tensor(labels), num_classes)
    assert got.dtype == gg.int64 and not got.requires_grad and got.device == gg.device(device)
    assert got.shape == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_one_hot_takes_any_integer_labels(device):
    got = gg.one_hot(gg.tensor(np.array([1, 0], np.int32), device=device), 3)
    assert got.dtype == gg.int64 and got.tolist() == [[0, 1, 0], [1, 0, 0]]


def test_one_hot_errors(device):
    t = gg.tensor(np.array([0, 3, 1]), device=device)
    with pytest.raises(ValueError, match=r"one_hot: class values must be smaller than num_classes "
                                         r"\(3\), got label 3"):
        gg.one_hot(t, 3)
    with pytest.raises(ValueError, match="one_hot: class values must be non-negative, got label -2"):
        gg.one_hot(gg.tensor(np.array([0, -2]), device=device))
    with pytest.raises(ValueError, match=r"one_hot: cannot infer the number of classes from "
                                         r"labels of shape \(0,\)"):
        gg.one_hot(gg.tensor(np.array([], np.int64), device=device))
    with pytest.raises(TypeError, match="one_hot: labels must be integers .* got float32"):
        gg.one_hot(gg.tensor([0.0, 1.0], device=device))
    with pytest.raises(TypeError, match="one_hot: labels must be integers .* got bool"):
        gg.one_hot(gg.tensor([True], device=device))
    with pytest.raises(TypeError, match="one_hot: num_classes must be an int, got 2.5"):
        gg.one_hot(t, 2.5)
    with pytest.raises(ValueError, match="one_hot: num_classes must be -1 .* got -2"):
        gg.one_hot(t, -2)


# ---- softmax / log_softmax: 0-d and dim= --------------------------------------------------------------
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("value", [3.0, -1e30, np.inf, np.nan])
def test_softmax_of_0d_matches_torch(device, name, value):
    x = gg.tensor(value, dtype=gg.float64, device=device, requires_grad=True)
    tx = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    for kw in [{}, {"dim": 0}, {"axis": -1}]:
        y = getattr(gg, name)(x, **kw)
        ty = getattr(torch, name)(tx, kw.get("dim", kw.get("axis", -1)))
        assert y.shape == () and y.dtype == x.dtype
        np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
        (g,) = gg.grad(y, x)
        (tg,) = torch.autograd.grad(ty, tx)
        np.testing.assert_array_equal(g.numpy(), tg.numpy())


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dim_and_axis(device, name):
    rng = np.random.default_rng(11)
    x, tx = both(rng.standard_normal((2, 3, 4)), device, np.float64, True)
    f = getattr(gg, name)
    for d in (0, 1, -1, 2):
        want = getattr(torch, name)(tx, d)
        close(f(x, dim=d), want, np.float64)
        close(f(x, axis=d), want, np.float64)
        close(f(x, d), want, np.float64)
    close(f(x), getattr(torch, name)(tx, -1), np.float64)
    with pytest.raises(TypeError, match=rf"{name}: got both axis=1 and dim=0; pass one"):
        f(x, axis=1, dim=0)
    with pytest.raises(ValueError, match=rf"{name}: axis 3 is out of range"):
        f(x, dim=3)
    with pytest.raises(ValueError, match=rf"{name}: axis 1 is out of range"):
        f(gg.tensor(1.0, device=device), dim=1)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_softmax_of_integers_raises_naming_the_op(device, name, dtype):
    # PyTorch refuses them too; NumPy's own error named neither the op nor the shape
    x = gg.tensor(np.array([1, 0, 1], dtype=dtype), device=device)
    with pytest.raises(TypeError, match=rf"{name}: expected a floating point tensor, got "
                                        rf"{np.dtype(dtype)} \(shape \(3,\)\)"):
        getattr(gg, name)(x, dim=0)


def test_new_functions_are_public_and_documented():
    from gpugrad.ops import loss
    for name in ["one_hot", "binary_cross_entropy", "softmax_cross_entropy", "softmax",
                 "log_softmax"]:
        assert name in loss.__all__ and getattr(gg, name) is getattr(loss, name)
        assert getattr(loss, name).__doc__.strip()
