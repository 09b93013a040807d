"""The NumPy backend's fused ops: stability, exactness against float64 formulas, errors."""

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends import get_backend

cpu = get_backend("cpu")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_stable_at_large_magnitude(dtype):
    x = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], dtype=dtype)
    y = cpu.sigmoid_forward(x)
    assert y.dtype == dtype and np.isfinite(y).all()
    assert y[0] == 0 and y[-1] == 1 and y[3] == 0.5
    # relative precision where sigmoid(x) ~ exp(x) is tiny
    np.testing.assert_allclose(y[2], np.exp(-30.0) / (1 + np.exp(-30.0)), rtol=1e-6)
    gx = cpu.sigmoid_backward(y, np.ones_like(y))
    assert np.isfinite(gx).all() and gx.dtype == dtype


def test_sigmoid_0d():
    assert cpu.sigmoid_forward(np.array(0.0)).shape == ()


def _reference(x, t, w, ignore_index, eps, reduction):
    """float64 formula straight from the definition, one row at a time."""
    x = x.astype(np.float64)
    N, C, S = x.shape
    losses, ws = np.zeros((N, S)), 0.0
    for n in range(N):
        for s in range(S):
            lab = t[n, s]
            if lab == ignore_index:
                continue
            row = x[n, :, s]
            logp = row - (row.max() + np.log(np.exp(row - row.max()).sum()))
            wc = np.ones(C) if w is None else w
            losses[n, s] = -(1 - eps) * wc[lab] * logp[lab] - eps / C * (wc * logp).sum()
            ws += wc[lab]
    return {"none": losses, "sum": losses.sum(), "mean": losses.sum() / ws}[reduction]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_sce_forward_matches_definition(dtype, weighted, eps, reduction):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((5, 7, 3)) * 4).astype(dtype)
    t = rng.integers(0, 7, (5, 3))
    t[0, 1] = -100
    w = (np.abs(rng.standard_normal(7)) + 0.1).astype(dtype) if weighted else None
    loss, stat, den = cpu.softmax_cross_entropy_forward(x, t, w, -100, eps, reduction)
    # the row statistics (max, log-sum of exps) stay in the compute dtype
    assert loss.dtype == dtype and stat.shape == (2, 5, 3)
    assert stat.dtype == (np.float32 if dtype == np.float16 else dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss, _reference(x, t, w, -100, eps, reduction), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sce_stable_at_large_logits(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=np.float64).astype(dtype)[:, :, None]
    if dtype == np.float16:
        x = np.clip(x, -6e4, 6e4).astype(dtype)
    t = np.array([[1], [2]])
    loss, stat, den = cpu.softmax_cross_entropy_forward(x, t, None, -100, 0.1, "none")
    assert np.isfinite(loss).all() and np.isfinite(stat).all()
    gx = cpu.softmax_cross_entropy_backward(x, t, stat, np.ones((2, 1), dtype), den, None, -100, 0.1, "none")
    assert np.isfinite(gx).all() and gx.dtype == dtype


def test_sce_float16_long_row_does_not_overflow():
    x = np.full((2, 50_000, 1), 8.0, dtype=np.float16)  # sum of exp in float16 would overflow
    t = np.zeros((2, 1), dtype=np.int64)
    loss, stat, den = cpu.softmax_cross_entropy_forward(x, t, None, -100, 0.0, "mean")
    assert loss.dtype == np.float16
    np.testing.assert_allclose(float(loss), np.log(50_000), rtol=1e-3)


def test_sce_backward_is_softmax_minus_onehot_scaled():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6, 1))
    t = rng.integers(0, 6, (4, 1))
    loss, stat, den = cpu.softmax_cross_entropy_forward(x, t, None, -100, 0.0, "mean")
    gx = cpu.softmax_cross_entropy_backward(x, t, stat, np.array(2.0), den, None, -100, 0.0, "mean")
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.zeros_like(x)
    np.put_along_axis(onehot, t[:, None, :], 1, axis=1)
    np.testing.assert_allclose(gx, 2.0 * (p - onehot) / 4, rtol=1e-12)


def test_all_ignored_mean_is_nan_with_zero_gradient():
    x = np.zeros((2, 3, 1))
    t = np.full((2, 1), -100)
    with np.errstate(all="ignore"):
        loss, stat, den = cpu.softmax_cross_entropy_forward(x, t, None, -100, 0.0, "mean")
        gx = cpu.softmax_cross_entropy_backward(x, t, stat, np.array(1.0), den, None, -100, 0.0, "mean")
    assert np.isnan(loss) and (gx == 0).all()


# ---- errors through the public op ------------------------------------------------------
def logits(shape=(3, 4), dtype=gg.float32, device="cpu"):
    return gg.tensor(np.zeros(shape), dtype=dtype, device=device, requires_grad=True)


def test_label_out_of_range_names_the_label():
    with pytest.raises(ValueError, match=r"label 7 is outside \[0, 4\)"):
        gg.softmax_cross_entropy(logits(), gg.tensor([0, 7, 1]))
    with pytest.raises(ValueError, match=r"label -1 is outside"):
        gg.softmax_cross_entropy(logits(), gg.tensor([0, -1, 1]))


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: gg.softmax_cross_entropy(logits(()), gg.tensor(0)), ValueError, r"\(N, C\).*got a 0-d"),
    (lambda: gg.softmax_cross_entropy(logits((4,)), gg.tensor([0])), ValueError, r"labels of shape \(1,\) do not match logits of shape \(4,\) \(expected labels of shape \(\)\)"),
    (lambda: gg.softmax_cross_entropy(logits(), gg.tensor([0, 1])), ValueError, r"labels of shape \(2,\).*\(3, 4\)"),
    (lambda: gg.softmax_cross_entropy(logits(), gg.tensor([0.0, 1.0, 2.0])), ValueError, r"class-probability target of shape \(3,\) does not match logits of shape \(3, 4\)"),
    (lambda: gg.softmax_cross_entropy(logits(), gg.tensor([True, False, True])), TypeError, "target must be integer class indices or float class probabilities, got bool"),
    (lambda: gg.softmax_cross_entropy(logits(), gg.tensor([0, 1, 2]), weight=gg.tensor([1.0, 2.0])), ValueError, r"weight must have shape \(4,\)"),
    (lambda: gg.softmax_cross_entropy(logits(), gg.tensor([0, 1, 2]), weight=gg.tensor([1.0] * 4, dtype=gg.float64)), TypeError, "weight dtype float64 differs"),
    (lambda: gg.softmax_cross_entropy(logits(), gg.tensor([0, 1, 2]), reduction="avg"), ValueError, "reduction must be one of"),
    (lambda: gg.softmax_cross_entropy(logits(), gg.tensor([0, 1, 2]), label_smoothing=1.5), ValueError, r"label_smoothing must be a number in \[0, 1\]"),
    (lambda: gg.mse_loss(logits((3,)), gg.tensor([1.0, 2.0])), ValueError, r"mse_loss: input of shape \(3,\) and target of shape \(2,\)"),
    (lambda: logits() @ logits((3, 2)), ValueError, r"matmul: shapes \(3, 4\) and \(3, 2\) do not align"),
    (lambda: logits().sum(axis=2), ValueError, "axis 2 is out of range"),
    (lambda: gg.binary_cross_entropy(logits((3,)), gg.tensor([1.0, 0.0, 1.0], dtype=gg.float64)), TypeError, "binary_cross_entropy: target dtype float64 differs from input dtype float32"),
])
def test_bad_input_messages(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_sce_float16_mean_over_many_rows_keeps_its_gradient():
    """A float16 den over more than 65504 rows would be inf and zero the gradient."""
    N = 70_000
    x = np.zeros((N, 2, 1), dtype=np.float16)
    t = np.zeros((N, 1), dtype=np.int64)
    loss, stat, den = cpu.softmax_cross_entropy_forward(x, t, None, -100, 0.0, "mean")
    assert np.isfinite(den) and float(den) == N
    gx = cpu.softmax_cross_entropy_backward(x, t, stat, np.array(1.0, np.float16), den, None,
                                            -100, 0.0, "mean")
    np.testing.assert_allclose(gx[0, :, 0].astype(np.float64), [-0.5 / N, 0.5 / N], rtol=2e-3)


@pytest.mark.parametrize("layout", [(6, 5, 1), (6, 5, 2)])
@pytest.mark.parametrize("ignore_index", [-100, 2, 4])
def test_sce_backward_matches_forward_differences(layout, ignore_index):
    """The backward's shortcuts (2-D rows, no second label scan when the forward kept
    every row) against central differences of the forward, with an ignore_index
    outside the classes, inside but used by no label (2), and used by some (4)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal(layout)
    t = rng.integers(0, 5, (layout[0], layout[2]))
    t[t == 2] = 3
    loss, stat, den = cpu.softmax_cross_entropy_forward(x, t, None, ignore_index, 0.0, "mean")
    assert float(den) == (t != ignore_index).sum()
    gx = cpu.softmax_cross_entropy_backward(x, t, stat, np.array(1.0), den, None, ignore_index,
                                            0.0, "mean")
    num = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = 1e-6
        hi = cpu.softmax_cross_entropy_forward(x + d, t, None, ignore_index, 0.0, "mean")[0]
        lo = cpu.softmax_cross_entropy_forward(x - d, t, None, ignore_index, 0.0, "mean")[0]
        num[i] = (hi - lo) / 2e-6
    np.testing.assert_allclose(gx, num, rtol=1e-6, atol=1e-9)
    if ignore_index == 4:
        assert (gx[(t == 4).nonzero()[0], :, (t == 4).nonzero()[1]] == 0).all()


def test_sce_backward_longdouble():
    """A float dtype without an exact-count entry takes the label scan, not a KeyError."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 1)).astype(np.longdouble)
    t = np.array([[0], [1], [3]])
    loss, stat, den = cpu.softmax_cross_entropy_forward(x, t, None, -100, 0.0, "mean")
    gx = cpu.softmax_cross_entropy_backward(x, t, stat, np.array(1.0, np.longdouble), den, None,
                                            -100, 0.0, "mean")
    ref = cpu.softmax_cross_entropy_backward(x.astype(np.float64), t, stat.astype(np.float64),
                                             np.array(1.0), den.astype(np.float64), None, -100,
                                             0.0, "mean")
    assert gx.dtype == np.longdouble
    np.testing.assert_allclose(gx.astype(np.float64), ref, rtol=1e-12)


# ---- class-probability targets ----------------------------------------------------------------
def _probs_reference(x, t, w, eps, reduction):
    """float64, straight from PyTorch's definition: -sum_c w_c t'_c log_softmax_c per row."""
    x, t = x.astype(np.float64), t.astype(np.float64)
    N, C, S = x.shape
    w = np.ones(C) if w is None else w.astype(np.float64)
    tt = t * (1 - eps) + eps / C
    logp = x - x.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    loss = -(tt * w[:, None] * logp).sum(axis=1)
    return {"none": loss, "sum": loss.sum(), "mean": loss.sum() / (N * S)}[reduction]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_sce_probs_forward_matches_definition(dtype, weighted, eps, reduction):
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((5, 6, 3)) * 3).astype(dtype)
    t = rng.uniform(0, 1, (5, 6, 3)).astype(dtype)  # not normalized: PyTorch does not either
    w = rng.uniform(0.5, 2, 6).astype(dtype) if weighted else None
    loss, stat = cpu.softmax_cross_entropy_probs_forward(x, t, w, eps, reduction)
    assert loss.dtype == dtype and stat.shape == (3, 5, 3)
    assert stat.dtype == (np.float32 if dtype == np.float16 else dtype)
    rtol = {np.float16: 2e-3, np.float32: 1e-5, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(loss, _probs_reference(x, t, w, eps, reduction), rtol=rtol)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_sce_probs_backward_matches_forward_differences(reduction):
    rng = np.random.default_rng(22)
    x = rng.standard_normal((3, 4, 2))
    t = rng.uniform(0, 1, (3, 4, 2))
    w = rng.uniform(0.5, 2, 4)
    g = rng.standard_normal((3, 2)) if reduction == "none" else np.array(0.7)

    def f(x, t):
        return (cpu.softmax_cross_entropy_probs_forward(x, t, w, 0.1, reduction)[0] * g).sum()

    _, stat = cpu.softmax_cross_entropy_probs_forward(x, t, w, 0.1, reduction)
    gx, gt = cpu.softmax_cross_entropy_probs_backward(x, t, stat, g, w, 0.1, reduction, True, True)
    h = 1e-6
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        np.testing.assert_allclose(gx[i], (f(x + e, t) - f(x - e, t)) / (2 * h), atol=1e-8)
        np.testing.assert_allclose(gt[i], (f(x, t + e) - f(x, t - e)) / (2 * h), atol=1e-8)
    assert cpu.softmax_cross_entropy_probs_backward(x, t, stat, g, w, 0.1, reduction,
                                                    True, False)[1] is None
    assert cpu.softmax_cross_entropy_probs_backward(x, t, stat, g, w, 0.1, reduction,
                                                    False, True)[0] is None


def test_sce_probs_float16_long_row_does_not_overflow():
    x = np.full((2, 131072, 1), 3.0, np.float16)
    t = np.full((2, 131072, 1), 1 / 131072, np.float16)
    loss, _ = cpu.softmax_cross_entropy_probs_forward(x, t, None, 0.0, "mean")
    np.testing.assert_allclose(float(loss), np.log(131072) * float(t.astype(np.float32).sum()) / 2,
                               rtol=2e-3)


# ---- binary cross-entropy ---------------------------------------------------------------------
def test_bce_at_0_and_1_is_clamped_without_warnings():
    x = np.array([0.0, 0.0, 1.0, 1.0, 0.5])
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.5])
    loss = cpu.binary_cross_entropy_forward(x, t, None)
    np.testing.assert_array_equal(loss, [0.0, 100.0, 0.0, 100.0, np.log(2)])
    gx, gt = cpu.binary_cross_entropy_backward(x, t, None, np.array(1.0), True, True)
    assert gx[1] == -1 / np.float64(np.float32(1e-12)) and gx[0] == 0
    assert gt[0] == np.inf and gt[3] == -np.inf and gt[4] == 0


def test_bce_range_check_names_the_value():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: all elements of target should "
                                         r"be between 0 and 1, got 2.0"):
        cpu.binary_cross_entropy_forward(np.array([0.5, 0.5]), np.array([0.5, 2.0]), None)
