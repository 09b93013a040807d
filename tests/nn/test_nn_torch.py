"""gpugrad.nn against torch.nn: reprs, state_dict keys, forward values and parameter
gradients with copied weights, losses with their options, and checkpoints both ways."""
from collections import OrderedDict

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn as gnn

torch = pytest.importorskip("torch")
tnn = torch.nn

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def both(build):
    """The same architecture built from torch.nn and from gpugrad.nn."""
    return build(tnn), build(gnn)


def g(t, device="cpu", requires_grad=None):
    """A torch tensor as a gpugrad one (same values and dtype)."""
    rg = t.requires_grad if requires_grad is None else requires_grad
    return gg.tensor(t.detach().numpy(), device=device, requires_grad=rg)


def copy_weights(tm, gm, device):
    """Load torch's state dict into the gpugrad module: the keys must be the same."""
    res = gm.load_state_dict({k: g(v, device, False) for k, v in tm.state_dict().items()})
    assert res.missing_keys == [] and res.unexpected_keys == []


def big(nn):
    return nn.Sequential(
        nn.Linear(4, 3), nn.ReLU(), nn.Sequential(nn.Dropout(0.2), nn.Flatten()),
        nn.ModuleList([nn.Tanh(), nn.Sigmoid()]),
        nn.ModuleDict({"a": nn.Identity(), "b": nn.LeakyReLU(0.2)}),
        nn.Softplus(), nn.Softplus(beta=2, threshold=10), nn.Softmax(dim=1), nn.LogSoftmax(1),
        nn.Softmax(), nn.LayerNorm(4), nn.LayerNorm((2, 3), elementwise_affine=False),
        nn.LayerNorm([4], eps=1e-3, bias=False), nn.Embedding(10, 3),
        nn.Embedding(10, 3, padding_idx=0), nn.Embedding(10, 3, padding_idx=-1),
        nn.CrossEntropyLoss(), nn.CrossEntropyLoss(label_smoothing=0.1),
        nn.CrossEntropyLoss(weight=torch.ones(3) if nn is tnn else gg.ones(3)),
        nn.MSELoss(), nn.BCEWithLogitsLoss(),
        nn.BCEWithLogitsLoss(pos_weight=torch.ones(3) if nn is tnn else gg.ones(3)),
        nn.BCELoss(), nn.Linear(2, 2, bias=False), nn.ReLU(inplace=True),
        nn.LeakyReLU(inplace=True), nn.Dropout(0.5, inplace=True), nn.Dropout(p=1),
        nn.ModuleList(), nn.Sequential(), nn.Flatten(0, 2), nn.Identity(3, x=1),
        nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU(), nn.ReLU(), nn.Tanh()]),
        nn.ModuleDict(),
        nn.Sequential(OrderedDict([("enc", nn.Linear(2, 2)), ("act", nn.Tanh())])),
    )


def test_repr_matches_torch():
    t, m = both(big)
    assert repr(m) == repr(t)
    assert str(m) == str(t)


def test_state_dict_keys_and_shapes_match_torch():
    t, m = both(big)
    ts, gs = t.state_dict(), m.state_dict()
    assert list(gs) == list(ts)
    for k in ts:
        assert tuple(gs[k].shape) == tuple(ts[k].shape), k


def test_gpugrad_checkpoint_loads_into_torch(tmp_path):
    t, m = both(big)
    for p in m.parameters():
        gnn.init.normal_(p)
    sd = {k: torch.from_numpy(v.numpy()) for k, v in m.state_dict().items()}
    res = t.load_state_dict(sd)
    assert not res.missing_keys and not res.unexpected_keys
    for (k, tv), gv in zip(t.state_dict().items(), m.state_dict().values()):
        np.testing.assert_array_equal(tv.numpy(), gv.numpy(), err_msg=k)
    # and through a file: gg.save of the state dict, safetensors read by name
    path = tmp_path / "model.safetensors"
    gg.save(m.state_dict(), str(path))
    back = gg.load(str(path))
    other = big(gnn)
    other.load_state_dict(back)
    for (k, a), b in zip(m.state_dict().items(), other.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_parameter_names_and_counts_match_torch():
    t, m = both(big)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in m.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in m.named_children()] == [n for n, _ in t.named_children()]


# ---- forward values and gradients, with torch's weights -----------------------------------
def _compare(tm, gm, inputs, dtype, device, grad_inputs=True):
    """Run both modules on the same inputs, backprop a fixed random cotangent, compare the
    outputs, the parameter gradients and the input gradients."""
    tm = tm.to(TORCH_DTYPE[dtype])
    gm.to(np.dtype(dtype)).to(device)
    copy_weights(tm, gm, device)
    tin = [x.to(TORCH_DTYPE[dtype]).requires_grad_(grad_inputs) if x.is_floating_point() else x
           for x in inputs]
    gin = [g(x, device) for x in tin]
    tout, gout = tm(*tin), gm(*gin)
    tol = TOL[dtype]
    np.testing.assert_allclose(gout.numpy(), tout.detach().numpy(), **tol)
    cot = torch.from_numpy(np.random.default_rng(0).standard_normal(tuple(tout.shape))).to(
        tout.dtype)
    tout.backward(cot)
    gout.backward(g(cot, device, False))
    for (name, tp), gp in zip(tm.named_parameters(), gm.parameters()):
        if tp.grad is None:
            assert gp.grad is None or not gp.grad.numpy().any(), name
        else:
            np.testing.assert_allclose(gp.grad.numpy(), tp.grad.numpy(), err_msg=name, **tol)
    for tx, gx in zip(tin, gin):
        if tx.requires_grad:
            np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), **tol)


DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_matches_torch(device, dtype):
    def build(nn):
        return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(),
                             nn.Linear(8, 3, bias=False), nn.LeakyReLU(0.1), nn.Linear(3, 2),
                             nn.Softplus(beta=2.0, threshold=3.0), nn.Linear(2, 4),
                             nn.Sigmoid(), nn.LogSoftmax(dim=-1))
    torch.manual_seed(0)
    t, m = both(build)
    _compare(t, m, [torch.randn(6, 5)], dtype, device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (2, 3, 7), (0, 7)])
def test_linear_matches_torch_on_batched_and_1d_inputs(device, dtype, shape):
    torch.manual_seed(1)
    t, m = both(lambda nn: nn.Linear(7, 4))
    _compare(t, m, [torch.randn(*shape)], dtype, device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("normalized, shape, kwargs", [
    (6, (4, 6), {}),
    ((3, 4), (2, 5, 3, 4), {}),
    ([5], (5,), {"eps": 1e-2}),
    (6, (3, 6), {"elementwise_affine": False}),
    (6, (3, 6), {"bias": False}),
])
def test_layer_norm_matches_torch(device, dtype, normalized, shape, kwargs):
    torch.manual_seed(2)
    t, m = both(lambda nn: nn.LayerNorm(normalized, **kwargs))
    with torch.no_grad():  # weight and bias away from their ones/zeros
        for p in t.parameters():
            p.normal_()
    x = torch.randn(*shape) * 3 + 1.5
    _compare(t, m, [x], dtype, device)


def test_layer_norm_constant_rows_match_torch(device):
    # var = 0: the output is 0 (not nan) and the gradient finite, as torch's
    t, m = both(lambda nn: nn.LayerNorm(4))
    _compare(t, m, [torch.full((2, 4), 3.0)], np.float64, device)


def test_layer_norm_second_derivative_gradcheck():
    ln = gnn.LayerNorm(3, dtype=gg.float64)
    x = gg.tensor(np.random.default_rng(3).standard_normal((2, 3)), requires_grad=True)
    assert gg.gradcheck(lambda v: ln(v), (x,))
    assert gg.gradgradcheck(lambda v: ln(v), (x,))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 0, 3, -2])
def test_embedding_matches_torch(device, dtype, padding_idx):
    torch.manual_seed(3)
    t, m = both(lambda nn: nn.Embedding(6, 4, padding_idx=padding_idx))
    with torch.no_grad():
        t.weight.normal_()  # the padding row too: its values are read, never trained
    idx = torch.tensor([[0, 3, 3, 1], [4, 0, 5, 3]])  # repeats accumulate
    _compare(t, m, [idx], dtype, device)
    assert m.padding_idx == t.padding_idx


def test_embedding_init_matches_torch_rule():
    gg.manual_seed(0)
    e = gnn.Embedding(20000, 8, padding_idx=2)
    w = e.weight.numpy()
    assert not w[2].any()
    rest = np.delete(w, 2, axis=0).ravel()
    n = rest.size
    assert abs(rest.mean()) < 4 / np.sqrt(n)
    assert abs(rest.std() - 1.0) < 4 * np.sqrt(0.5 / n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("module, kwargs", [
    ("Sigmoid", {}), ("Tanh", {}), ("ReLU", {}), ("LeakyReLU", {}),
    ("LeakyReLU", {"negative_slope": 0.3}), ("Softplus", {}),
    ("Softplus", {"beta": 0.5, "threshold": 2.0}), ("Softplus", {"beta": 3, "threshold": 2}),
    ("Identity", {}), ("Flatten", {}), ("Dropout", {"p": 0.0}), ("Dropout", {"p": 1.0})])
def test_activations_match_torch(device, dtype, module, kwargs):
    t, m = both(lambda nn: getattr(nn, module)(**kwargs))
    x = torch.randn(3, 2, 4) * 4
    x[0, 0, 0] = 0.0
    x[1, 1, 1] = 30.0  # past softplus's threshold
    x[2, 1, 1] = 2.0 / 3.0  # beta * x at the threshold, for beta=3 and threshold=2
    _compare(t, m, [x], dtype, device)


def test_dropout_in_eval_mode_is_the_identity_as_torch(device):
    t, m = both(lambda nn: nn.Dropout(0.7))
    t.eval()
    m.eval()
    _compare(t, m, [torch.randn(4, 5)], np.float64, device)


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_softmax_modules_match_torch(device, dim):
    for name in ("Softmax", "LogSoftmax"):
        t, m = both(lambda nn: getattr(nn, name)(dim=dim))
        _compare(t, m, [torch.randn(3, 4, 5)], np.float64, device)


def test_flatten_dims_match_torch(device):
    x = torch.randn(2, 3, 4, 5)
    for args in [(), (0,), (1, 2), (0, -2), (2, 3), (-1, -1)]:
        t, m = both(lambda nn: nn.Flatten(*args))
        _compare(t, m, [x], np.float64, device)


# ---- losses --------------------------------------------------------------------------------
def _loss_compare(tl, gl, x, y, device, grad_target=False):
    tx = x.clone().requires_grad_(True)
    ty = y.clone().requires_grad_(grad_target) if y.is_floating_point() else y
    gx, gy = g(tx, device), g(ty, device)
    tout, gout = tl(tx, ty), gl(gx, gy)
    np.testing.assert_allclose(gout.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    cot = torch.from_numpy(np.random.default_rng(1).standard_normal(tuple(tout.shape)))
    tout.backward(cot)
    gout.backward(g(cot, device, False))
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-11, atol=1e-12)
    if grad_target:
        np.testing.assert_allclose(gy.grad.numpy(), ty.grad.numpy(), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 1])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_loss_matches_torch(device, reduction, weighted, ignore_index,
                                          label_smoothing):
    rng = torch.Generator().manual_seed(4)
    w = torch.rand(5, generator=rng, dtype=torch.float64) + 0.5 if weighted else None
    kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)
    tl = tnn.CrossEntropyLoss(weight=w, **kw)
    gl = gnn.CrossEntropyLoss(weight=None if w is None else g(w, device), **kw)
    x = torch.randn(6, 5, generator=rng, dtype=torch.float64)
    y = torch.tensor([0, 1, 4, 1, 2, 3])
    _loss_compare(tl, gl, x, y, device)
    # spatial: (N, C, d1, d2)
    x = torch.randn(2, 5, 3, 2, generator=rng, dtype=torch.float64)
    y = torch.randint(0, 5, (2, 3, 2), generator=rng)
    _loss_compare(tl, gl, x, y, device)


def test_cross_entropy_loss_with_probabilities_matches_torch(device):
    x = torch.randn(4, 3, dtype=torch.float64)
    p = torch.softmax(torch.randn(4, 3, dtype=torch.float64), 1)
    for ls in (0.0, 0.2):
        _loss_compare(tnn.CrossEntropyLoss(label_smoothing=ls),
                      gnn.CrossEntropyLoss(label_smoothing=ls), x, p, device)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_torch(device, reduction):
    x, y = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    _loss_compare(tnn.MSELoss(reduction=reduction), gnn.MSELoss(reduction=reduction), x, y,
                  device, grad_target=True)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos", [False, True])
def test_bce_with_logits_loss_matches_torch(device, reduction, weighted, pos):
    x = torch.randn(5, 3, dtype=torch.float64) * 3
    y = torch.rand(5, 3, dtype=torch.float64)
    w = torch.rand(3, dtype=torch.float64) if weighted else None
    pw = torch.rand(3, dtype=torch.float64) * 3 if pos else None
    tl = tnn.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction=reduction)
    gl = gnn.BCEWithLogitsLoss(weight=None if w is None else g(w, device),
                               pos_weight=None if pw is None else g(pw, device),
                               reduction=reduction)
    _loss_compare(tl, gl, x, y, device, grad_target=True)
    assert list(gl.state_dict()) == list(tl.state_dict())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_loss_matches_torch(device, reduction):
    x = torch.rand(4, 3, dtype=torch.float64) * 0.9 + 0.05
    y = torch.rand(4, 3, dtype=torch.float64)
    w = torch.rand(4, 3, dtype=torch.float64)
    _loss_compare(tnn.BCELoss(weight=w, reduction=reduction),
                  gnn.BCELoss(weight=g(w, device), reduction=reduction), x, y, device)


def test_loss_modules_refuse_the_deprecated_pair():
    with pytest.raises(ValueError, match="size_average and reduce are deprecated"):
        gnn.MSELoss(size_average=False)
    with pytest.raises(ValueError, match="size_average and reduce are deprecated"):
        gnn.CrossEntropyLoss(None, None, -100, False)


# ---- functional ---------------------------------------------------------------------------
def test_functional_names():
    F = gnn.functional
    for name in ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "dropout",
                 "cross_entropy", "mse_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits", "linear", "one_hot", "layer_norm",
                 "embedding", "softplus", "leaky_relu"]:
        assert callable(getattr(F, name)), name
        assert name in F.__all__
    # Wrappers with torch's signatures over gpugrad's ops (see test_review_nn.py)
    assert F.cross_entropy.__doc__ and "softmax_cross_entropy" in F.cross_entropy.__doc__


def test_functional_matches_torch(device):
    F, TF = gnn.functional, torch.nn.functional
    x = torch.randn(3, 4, dtype=torch.float64)
    w = torch.randn(5, 4, dtype=torch.float64)
    b = torch.randn(5, dtype=torch.float64)
    gx, gw, gb = g(x, device), g(w, device), g(b, device)
    close = np.testing.assert_allclose
    close(F.linear(gx, gw, gb).numpy(), TF.linear(x, w, b).numpy(), rtol=1e-12)
    close(F.linear(gx, gw).numpy(), TF.linear(x, w).numpy(), rtol=1e-12)
    close(F.layer_norm(gx, (4,)).numpy(), TF.layer_norm(x, (4,)).numpy(), rtol=1e-12,
          atol=1e-12)
    close(F.softmax(gx, dim=0).numpy(), TF.softmax(x, dim=0).numpy(), rtol=1e-12)
    close(F.log_softmax(gx, 1).numpy(), TF.log_softmax(x, 1).numpy(), rtol=1e-12)
    close(F.softmax(g(x.float(), device), dim=1, dtype=gg.float64).numpy(),
          TF.softmax(x.float(), dim=1, dtype=torch.float64).numpy(), rtol=1e-12)
    idx = torch.tensor([[1, 0], [4, 4]])
    close(F.embedding(g(idx, device), gw, padding_idx=4).numpy(),
          TF.embedding(idx, w, padding_idx=4).numpy())
    close(F.dropout(gx, 0.3, training=False).numpy(), x.numpy())


def test_functional_dropout_inplace(device):
    x = gg.ones(1000, device=device)
    y = gnn.functional.dropout(x, 0.5, True, True)
    assert y is x and set(np.unique(x.numpy())) <= {0.0, 2.0}


def test_load_state_dict_result_and_error_text_match_torch():
    t, m = both(lambda nn: nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1)))
    sd_t = {k: v for k, v in t.state_dict().items() if k != "1.bias"}
    sd_t["extra.weight"] = torch.ones(1)
    sd_g = {k: g(v) for k, v in sd_t.items()}
    assert repr(m.load_state_dict(sd_g, strict=False)) == \
        repr(t.load_state_dict(sd_t, strict=False))
    assert repr(m.load_state_dict(m.state_dict())) == repr(t.load_state_dict(t.state_dict()))
    with pytest.raises(RuntimeError) as te:
        t.load_state_dict(sd_t)
    with pytest.raises(RuntimeError) as ge:
        m.load_state_dict(sd_g)
    assert str(ge.value) == str(te.value)  # no shapes in this one: the text is torch's


@pytest.mark.parametrize("dtype", DTYPES)
def test_training_steps_match_torch(device, dtype):
    """Five SGD steps (written out, no optimizer) on a small classifier, with dropout off
    in eval mode: the weights stay equal to torch's."""
    def build(nn):
        return nn.Sequential(nn.Embedding(7, 5, padding_idx=0), nn.Flatten(),
                             nn.Linear(15, 8), nn.LayerNorm(8), nn.Tanh(), nn.Dropout(0.3),
                             nn.Linear(8, 4))
    torch.manual_seed(5)
    t, m = both(build)
    t, m = t.to(TORCH_DTYPE[dtype]), m.to(np.dtype(dtype)).to(device)
    copy_weights(t, m, device)
    t.eval()
    m.eval()
    idx = torch.randint(0, 7, (6, 3))
    y = torch.randint(0, 4, (6,))
    tl = tnn.CrossEntropyLoss(label_smoothing=0.1)
    gl = gnn.CrossEntropyLoss(label_smoothing=0.1)
    gidx, gy = g(idx, device), g(y, device)
    for _ in range(5):
        t.zero_grad()
        m.zero_grad()
        tloss, gloss = tl(t(idx), y), gl(m(gidx), gy)
        np.testing.assert_allclose(gloss.item(), tloss.item(), **TOL[dtype])
        tloss.backward()
        gloss.backward()
        with torch.no_grad():
            for p in t.parameters():
                p -= 0.5 * p.grad
        with gg.no_grad():
            for p in m.parameters():
                p -= 0.5 * p.grad
    for (k, a), b in zip(t.state_dict().items(), m.state_dict().values()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), err_msg=k, **TOL[dtype])
    assert not m[0].weight.numpy()[0].any()  # the padding row: zero, and never trained
