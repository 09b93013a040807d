"""gpugrad.nn against torch.nn where a review round found them apart: train() through the
children's own train(), load_state_dict's unexpected keys, clip_* signatures and float16
grads, torch.nn.functional's signatures (positional calls), weighted mse_loss, and
Sequential.insert."""
import inspect

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn as gnn


# ---- train / eval ------------------------------------------------------------------------
class _Frozen(gnn.Module):
    """A child that stays in eval mode whatever its parent asks (a frozen backbone)."""

    def __init__(self):
        super().__init__()
        self.inner = gnn.Dropout(0.5)

    def train(self, mode=True):
        return super().train(False)


def test_train_goes_through_each_childs_train():
    m = gnn.Sequential(gnn.Linear(2, 2), _Frozen())
    m.train()
    assert m.training and m[0].training
    assert not m[1].training and not m[1].inner.training  # the override is obeyed
    m.eval()
    assert not any(x.training for x in m.modules())
    m.train(True)
    assert [x.training for x in m.modules()] == [True, True, False, False]


def test_train_matches_torch_with_an_override():
    torch = pytest.importorskip("torch")

    class TFrozen(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = torch.nn.Dropout(0.5)

        def train(self, mode=True):
            return super().train(False)

    t = torch.nn.Sequential(torch.nn.Linear(2, 2), TFrozen(), torch.nn.ReLU())
    m = gnn.Sequential(gnn.Linear(2, 2), _Frozen(), gnn.ReLU())
    for step in ("eval", "train", "eval", "train"):
        getattr(t, step)()
        getattr(m, step)()
        assert [x.training for x in m.modules()] == [x.training for x in t.modules()]


# ---- load_state_dict: unexpected keys ------------------------------------------------------
def _odd_keys(nn, ones):
    m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 3), nn.ModuleList([nn.Linear(1, 1)]))
    m.add_module("none", None)
    m[0].register_buffer("nb", None)
    sd = dict(m.state_dict())
    for k in ["zz.0", "0.weight.extra", "1", "x", "1.x.y", "0.", "none.q", "0.nb", "2.0.z",
              "2.0", "2.1.w", "2.0.weight.x"]:
        sd[k] = ones(2)
    return m, sd


def test_unexpected_keys_follow_torchs_walk():
    m, sd = _odd_keys(gnn, gg.ones)
    res = m.load_state_dict(sd, strict=False)
    # Module by module, as torch's load walks the tree; a key under a None child and one
    # whose next name is a child slot are not unexpected; "0.weight.extra" is.
    assert res.unexpected_keys == ["zz.0", "1", "x", "0.weight.extra", "0.", "0.nb", "1.x.y",
                                   "2.0", "2.1.w", "2.0.z", "2.0.weight.x"]
    assert res.missing_keys == []
    with pytest.raises(RuntimeError, match='Unexpected key.*"zz.0", "1", "x", '):
        m.load_state_dict(sd)


def test_unexpected_keys_match_torch():
    torch = pytest.importorskip("torch")
    t, tsd = _odd_keys(torch.nn, torch.ones)
    m, sd = _odd_keys(gnn, gg.ones)
    assert m.load_state_dict(sd, strict=False) == t.load_state_dict(tsd, strict=False)
    with pytest.raises(RuntimeError) as gerr:
        m.load_state_dict(sd)
    with pytest.raises(RuntimeError) as terr:
        t.load_state_dict(tsd)
    assert str(gerr.value) == str(terr.value)


# ---- clip_grad_* -----------------------------------------------------------------------------
def _params(grads, device="cpu"):
    ps = []
    for a in grads:
        p = gg.zeros(*a.shape, dtype=a.dtype, device=device, requires_grad=True)
        p.grad = gg.tensor(a, device=device)
        ps.append(p)
    return ps


@pytest.mark.parametrize("foreach", [None, True, False])
def test_clip_functions_take_foreach(device, foreach):
    grads = [np.array([3.0, 4.0], np.float32), np.array([[12.0]], np.float32)]
    ps = _params(grads, device)
    total = gnn.utils.clip_grad_norm_(ps, 1.0, foreach=foreach)
    assert total.item() == pytest.approx(13.0)
    np.testing.assert_allclose(ps[0].grad.numpy(), [3 / 13, 4 / 13], rtol=1e-5)
    gnn.utils.clip_grad_value_(ps, 0.25, foreach=foreach)
    np.testing.assert_allclose(ps[0].grad.numpy(), [3 / 13, 0.25], rtol=1e-5)
    assert gnn.utils.get_total_norm([p.grad for p in ps], foreach=foreach).item() > 0
    gnn.utils.clip_grads_with_norm_(ps, 0.1, gg.tensor(1.0, device=device), foreach=foreach)


def test_clip_signatures_match_torch():
    torch = pytest.importorskip("torch")
    for name in ["clip_grad_norm_", "clip_grad_value_", "get_total_norm",
                 "clip_grads_with_norm_"]:
        t = inspect.signature(getattr(torch.nn.utils, name)).parameters
        g = inspect.signature(getattr(gnn.utils, name)).parameters
        assert list(g) == list(t), name
        assert [p.default for p in g.values()] == [p.default for p in t.values()], name


def test_clip_grad_norm_float16_grads_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(64).astype(np.float16),
             rng.standard_normal(7).astype(np.float32)]
    tps = []
    for a in grads:
        p = torch.zeros(a.shape, dtype=getattr(torch, str(a.dtype)), requires_grad=True)
        p.grad = torch.tensor(a)
        tps.append(p)
    ps = _params(grads)
    for norm_type in (2.0, 1.0, float("inf")):
        tt = torch.nn.utils.clip_grad_norm_(tps, 0.5, norm_type)
        gt = gnn.utils.clip_grad_norm_(ps, 0.5, norm_type)
        assert gt.dtype == np.float32 and gt.item() == pytest.approx(tt.item(), rel=1e-6)
        for p, tp in zip(ps, tps):
            # float16: the product in float32, rounded once, is torch's exact answer
            np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


# ---- torch.nn.functional signatures -----------------------------------------------------------
def test_functional_signatures_match_torch():
    torch = pytest.importorskip("torch")
    TF, F = torch.nn.functional, gnn.functional
    for name in F.__all__:
        try:
            t = inspect.signature(getattr(TF, name)).parameters
        except ValueError:  # a C builtin (linear, softplus, one_hot): checked by calls below
            continue
        g = inspect.signature(getattr(F, name)).parameters
        extra = ["generator"] if name == "dropout" else []  # keyword-only, gpugrad's own
        assert list(g) == list(t) + extra, name
        assert [g[k].default for k in t] == [t[k].default for k in t], name


def test_functional_positional_calls_mean_what_they_mean_in_torch():
    torch = pytest.importorskip("torch")
    TF, F = torch.nn.functional, gnn.functional
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4))
    y = np.array([0, 2, 1, 2, 3])
    w = rng.uniform(0.5, 1.5, 4)
    p = rng.uniform(0, 1, (5, 4))
    T, G = torch.tensor, gg.tensor
    pairs = [
        (TF.cross_entropy(T(x), T(y), T(w), None, 2, None, "sum", 0.1),
         F.cross_entropy(G(x), G(y), G(w), None, 2, None, "sum", 0.1)),
        (TF.mse_loss(T(x), T(p), None, None, "sum"), F.mse_loss(G(x), G(p), None, None, "sum")),
        (TF.binary_cross_entropy(T(p), T(p > 0.5).double(), None, None, None, "sum"),
         F.binary_cross_entropy(G(p), G(p > 0.5).double(), None, None, None, "sum")),
        (TF.binary_cross_entropy_with_logits(T(x), T(p), None, None, None, "none", T(w)),
         F.binary_cross_entropy_with_logits(G(x), G(p), None, None, None, "none", G(w))),
        (TF.softmax(T(x).float(), 1, 3, torch.float64),
         F.softmax(G(x).float(), 1, 3, gg.float64)),
        (TF.log_softmax(T(x).float(), 0, 3, torch.float64),
         F.log_softmax(G(x).float(), 0, 3, gg.float64)),
        (TF.leaky_relu(T(x) * 1, 0.3, True), F.leaky_relu(G(x) * 1, 0.3, True)),
        (TF.relu(T(x), False), F.relu(G(x), False)),
        (TF.one_hot(input=T(y), num_classes=5), F.one_hot(input=G(y), num_classes=5)),
        (TF.softplus(input=T(x), beta=2, threshold=1), F.softplus(input=G(x), beta=2, threshold=1)),
        (TF.linear(input=T(x), weight=T(x[:3]), bias=None),
         F.linear(input=G(x), weight=G(x[:3]), bias=None)),
    ]
    for t, m in pairs:
        assert str(m.dtype) == str(t.dtype).replace("torch.", "")
        np.testing.assert_allclose(m.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="cross_entropy: size_average"):
        F.cross_entropy(G(x), G(y), None, True)
    with pytest.raises(ValueError, match="mse_loss: size_average and reduce"):
        F.mse_loss(G(x), G(p), None, False)
    with pytest.raises(NotImplementedError, match="embedding: max_norm=1.0"):
        F.embedding(G(y), G(x), None, 1.0)


def test_inplace_relu_writes_into_its_input():
    h = gg.tensor([-1.0, 2.0], requires_grad=True) * 1
    out = gnn.functional.relu(h, inplace=True)
    assert out is h and h.numpy().tolist() == [0.0, 2.0]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_weight_matches_torch(reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, y, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))
    tx, gx = torch.tensor(x, requires_grad=True), gg.tensor(x, requires_grad=True)
    t = torch.nn.functional.mse_loss(tx, torch.tensor(y), reduction=reduction,
                                     weight=torch.tensor(w))
    m = gnn.functional.mse_loss(gx, gg.tensor(y), reduction=reduction, weight=gg.tensor(w))
    np.testing.assert_allclose(m.numpy(), t.detach().numpy(), rtol=1e-12)
    t.sum().backward()
    m.sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"mse_loss: weight of shape \(4,\)"):
        gnn.functional.mse_loss(gx, gg.tensor(y), weight=gg.tensor(w[0]))


# ---- Sequential.insert ----------------------------------------------------------------------
def test_sequential_insert_returns_self_and_checks_range():
    s = gnn.Sequential(gnn.ReLU(), gnn.Tanh())
    assert s.insert(-1, gnn.Sigmoid()) is s
    assert [type(m).__name__ for m in s] == ["ReLU", "Sigmoid", "Tanh"]
    assert list(s._modules) == ["0", "1", "2"]
    assert s.insert(3, gnn.Identity()) is s and isinstance(s[3], gnn.Identity)
    with pytest.raises(IndexError, match="Sequential.insert: index 6 is out of range"):
        s.insert(6, gnn.ReLU())
    with pytest.raises(IndexError):
        s.insert(-6, gnn.ReLU())
    with pytest.raises(TypeError, match="Sequential.insert: expected a Module"):
        s.insert(0, "relu")
    assert len(s) == 4


# ---- constructor signatures ---------------------------------------------------------------------
def test_module_constructor_signatures_match_torch():
    torch = pytest.importorskip("torch")
    for name in gnn.__all__:
        G = getattr(gnn, name)
        if not isinstance(G, type) or name in ("Module", "Parameter", "Sequential", "Sigmoid",
                                               "Tanh"):  # torch's take *args / **kwargs
            continue
        t = inspect.signature(getattr(torch.nn, name).__init__).parameters
        g = inspect.signature(G.__init__).parameters
        assert list(g) == list(t), name
        assert [p.default for p in g.values()] == [p.default for p in t.values()], name
    t = inspect.signature(torch.nn.Embedding.from_pretrained).parameters
    assert list(inspect.signature(gnn.Embedding.from_pretrained).parameters) == list(t)


def test_embedding_positional_arguments_land_as_in_torch():
    e = gnn.Embedding(10, 3, 0, None, 2.0, False, False, None, False, "cpu", gg.float64)
    assert e.weight.dtype == np.float64 and e.padding_idx == 0
    assert repr(e) == "Embedding(10, 3, padding_idx=0)"
    assert repr(gnn.Embedding(4, 2, None, None, 3.0)) == "Embedding(4, 2, norm_type=3.0)"
    with pytest.raises(NotImplementedError, match="Embedding: max_norm=1.0"):
        gnn.Embedding(10, 3, None, 1.0)
    with pytest.raises(NotImplementedError, match="sparse=True"):
        gnn.Embedding.from_pretrained(gg.ones(2, 2), sparse=True)
