"""The CPU softmax-cross-entropy forward reduces over few classes (C <= _FEW_CLASSES) in a
classes-first copy and over more in the rows-first views: both layouts against the
float64 definition, against each other, and through the public op's errors."""

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends import cpu as cpu_module
from gpugrad.backends import get_backend

from .test_cpu import _reference

cpu = get_backend("cpu")
FEW = cpu_module._FEW_CLASSES


def _case(C, S, dtype, weighted, ignore):
    rng = np.random.default_rng(C * 10 + S)
    x = (rng.standard_normal((6, C, S)) * 4).astype(dtype)
    t = rng.integers(0, C, (6, S))
    if ignore:
        t[1, 0] = -100
    w = (np.abs(rng.standard_normal(C)) + 0.1).astype(dtype) if weighted else None
    return x, t, w


@pytest.mark.parametrize("C", [5, FEW, FEW + 1, 70])
@pytest.mark.parametrize("S", [1, 3])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("ignore", [False, True])
def test_forward_matches_definition_in_both_layouts(C, S, dtype, weighted, eps, reduction, ignore):
    x, t, w = _case(C, S, dtype, weighted, ignore)
    loss, stat, den = cpu.softmax_cross_entropy_forward(x, t, w, -100, eps, reduction)
    cdt = np.float32 if dtype == np.float16 else dtype
    assert loss.dtype == dtype and stat.shape == (2, 6, S) and stat.dtype == cdt
    kept = t != -100
    want_den = kept.sum() if w is None else w.astype(np.float64)[t[kept]].sum()
    assert den.dtype == cdt
    np.testing.assert_allclose(float(den), want_den, rtol=1e-6 if cdt == np.float32 else 1e-13)
    ref = _reference(x, t, None if w is None else w, -100, eps, reduction)
    tol = {np.float16: 2e-3, np.float32: 1e-5, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(loss.astype(np.float64), ref, rtol=tol, atol=tol)
    # the row statistics: m the max over classes, l the log-sum of exp(x - m)
    x64 = x.astype(np.float64)
    np.testing.assert_array_equal(stat[0], x.astype(cdt).max(axis=1))
    l_ref = np.log(np.exp(x64 - x64.max(axis=1, keepdims=True)).sum(axis=1))
    np.testing.assert_allclose(stat[1], l_ref, rtol=1e-6 if cdt == np.float32 else 1e-13,
                               atol=1e-6 if cdt == np.float32 else 1e-13)


@pytest.mark.parametrize("C", [2, 10, FEW])
@pytest.mark.parametrize("S", [1, 4])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_layouts_agree(monkeypatch, C, S, weighted, eps):
    """Few classes forced through the rows-first layout: the same maxima, the same
    losses and gradients up to the order of the class sums."""
    x, t, w = _case(C, S, np.float32, weighted, True)
    few = cpu.softmax_cross_entropy_forward(x, t, w, -100, eps, "none")
    monkeypatch.setattr(cpu_module, "_FEW_CLASSES", 0)
    rows = cpu.softmax_cross_entropy_forward(x, t, w, -100, eps, "none")
    np.testing.assert_array_equal(few[1][0], rows[1][0])
    np.testing.assert_allclose(few[1][1], rows[1][1], rtol=4e-7 * C, atol=4e-7 * C)
    np.testing.assert_allclose(few[0], rows[0], rtol=1e-6 * C, atol=1e-6 * C)
    assert few[0].shape == rows[0].shape == (6, S) and few[2] == rows[2]


@pytest.mark.parametrize("C", [4, FEW + 8])
def test_label_error_names_the_logits_shape(C):
    x = gg.zeros((3, C), requires_grad=True)
    with pytest.raises(ValueError, match=rf"label {C} is outside \[0, {C}\) for logits of "
                                         rf"shape \(3, {C}\) and is not ignore_index \(-100\)"):
        gg.softmax_cross_entropy(x, gg.tensor([0, C, 1]))
    with pytest.raises(ValueError, match=rf"label -2 is outside \[0, {C}\) for logits of "
                                         rf"shape \(3, {C}, 2\)"):
        gg.softmax_cross_entropy(gg.zeros((3, C, 2)), gg.tensor([[0, 1], [-2, 1], [1, 1]]))


@pytest.mark.parametrize("C", [3, FEW + 5])
@pytest.mark.parametrize("kw", [{}, {"reduction": "sum"}, {"ignore_index": 1},
                                {"label_smoothing": 0.1}, {"weight": True}])
def test_public_op_matches_torch(C, kw):
    """Forward and gradient against PyTorch, with the defaults (two-argument node) and
    with each option (four-argument node)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(C)
    x = rng.standard_normal((7, C))
    t = rng.integers(0, C, 7)
    kw = dict(kw)
    if kw.get("weight"):
        kw["weight"] = np.abs(rng.standard_normal(C)) + 0.5
    gkw = {k: (gg.tensor(v) if k == "weight" else v) for k, v in kw.items()}
    tkw = {k: (torch.tensor(v) if k == "weight" else v) for k, v in kw.items()}
    gx = gg.tensor(x, requires_grad=True)
    loss = gg.softmax_cross_entropy(gx, gg.tensor(t), **gkw)
    loss.backward()
    tx = torch.tensor(x, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(t), **tkw)
    tl.backward()
    np.testing.assert_allclose(loss.numpy(), tl.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15)
    # what a graph walker sees: logits and labels, and the weight where there is one
    assert len(loss.grad_fn.next_functions) == 2 + ("weight" in kw)


@pytest.mark.parametrize("C", [10, FEW + 8])
@pytest.mark.parametrize("S", [1, 3])
def test_non_contiguous_logits(C, S):
    """Logits that are a transposed view: the kernels' copies, views and flat label
    index must follow the logical layout, not the memory order."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    raw = rng.standard_normal((S, C, 9))
    t = rng.integers(0, C, (9, S))
    perm = (2, 1, 0)
    gx = gg.tensor(raw, requires_grad=True)
    logits = gx.permute(*perm) if S > 1 else gx.reshape(C, 9).T
    assert not logits.data.flags.c_contiguous
    labels = t if S > 1 else t[:, 0]
    loss = gg.softmax_cross_entropy(logits, gg.tensor(labels))
    loss.backward()
    tx = torch.tensor(raw, requires_grad=True)
    tlog = tx.permute(*perm) if S > 1 else tx.reshape(C, 9).T
    tl = torch.nn.functional.cross_entropy(tlog, torch.tensor(labels))
    tl.backward()
    np.testing.assert_allclose(loss.numpy(), tl.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.int64])
def test_small_label_types_index_far_positions(dtype):
    """uint8 labels with 300 positions per row: label * S + s is past 255."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 300))
    t = rng.integers(0, 3, (2, 300)).astype(dtype)
    gx = gg.tensor(x, requires_grad=True)
    loss = gg.softmax_cross_entropy(gx, gg.tensor(t), reduction="sum")
    loss.backward()
    tx = torch.tensor(x, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(t.astype(np.int64)), reduction="sum")
    tl.backward()
    np.testing.assert_allclose(loss.numpy(), tl.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15)
