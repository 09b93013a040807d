"""gpugrad.nn.utils (gradient clipping) and init.calculate_gain against PyTorch."""
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn

torch = pytest.importorskip("torch")


def _pair(device, shapes, scale=1.0, dtype=np.float64, seed=0):
    """Parameters with gradients, as torch and gpugrad tensors holding the same values."""
    rng = np.random.default_rng(seed)
    tp, gp = [], []
    for s in shapes:
        w = np.asarray(rng.standard_normal(s), dtype)
        gr = np.asarray(rng.standard_normal(s) * scale, dtype)
        t = torch.from_numpy(w.copy()).requires_grad_()
        t.grad = torch.from_numpy(gr.copy())
        p = nn.Parameter(gg.tensor(w, device=device))
        p.grad = gg.tensor(gr, device=device)
        tp.append(t)
        gp.append(p)
    return tp, gp


SHAPES = [(3, 4), (5,), (), (2, 1, 3)]


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, 0.5, math.inf, -math.inf, 0, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_norm_matches_torch(device, norm_type, max_norm, dtype):
    tp, gp = _pair(device, SHAPES, dtype=dtype)
    t_norm = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type=norm_type)
    g_norm = nn.utils.clip_grad_norm_(iter(gp), max_norm, norm_type=norm_type)
    assert isinstance(g_norm, gg.Tensor) and g_norm.shape == () and g_norm.dtype == dtype
    tol = dict(rtol=1e-12) if dtype == np.float64 else dict(rtol=2e-6)
    np.testing.assert_allclose(g_norm.item(), t_norm.item(), **tol)
    for t, p in zip(tp, gp):
        np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), **tol)


def test_clip_grad_norm_scales_down_to_max_norm(device):
    tp, gp = _pair(device, SHAPES, scale=10.0)
    total = nn.utils.clip_grad_norm_(gp, 1.0).item()
    assert total > 10
    after = math.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in gp))
    assert after == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_skips_missing_grads_and_empty(device):
    tp, gp = _pair(device, [(2, 2), (3,)])
    tp[0].grad = None
    gp[0].grad = None
    np.testing.assert_allclose(nn.utils.clip_grad_norm_(gp, 0.1).item(),
                               torch.nn.utils.clip_grad_norm_(tp, 0.1).item(), rtol=1e-12)
    assert gp[0].grad is None
    np.testing.assert_allclose(gp[1].grad.numpy(), tp[1].grad.numpy(), rtol=1e-12)
    none = nn.utils.clip_grad_norm_([], 1.0)
    assert none.item() == 0.0 and none.dtype == gg.float32
    single = nn.Parameter(gg.ones(3, device=device))
    single.grad = gg.full((3,), 2.0, device=device)
    assert nn.utils.clip_grad_norm_(single, 1.0).item() == pytest.approx(math.sqrt(12))


@pytest.mark.filterwarnings("ignore:.*invalid value encountered")  # inf * 0, as torch's nan
def test_clip_grad_norm_nonfinite(device):
    tp, gp = _pair(device, [(2, 2)])
    with torch.no_grad():
        tp[0].grad[0, 0] = math.inf
    gp[0].grad = gg.tensor(tp[0].grad.numpy(), device=device)
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(gp, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(gp[0].grad.numpy(), tp[0].grad.numpy())  # untouched
    t_norm = torch.nn.utils.clip_grad_norm_(tp, 1.0)
    g_norm = nn.utils.clip_grad_norm_(gp, 1.0)
    assert g_norm.item() == t_norm.item() == math.inf
    np.testing.assert_array_equal(gp[0].grad.numpy(), tp[0].grad.numpy())


def test_clip_grad_norm_keeps_grad_objects(device):
    _, gp = _pair(device, SHAPES)
    grads = [p.grad for p in gp]
    nn.utils.clip_grad_norm_(gp, 0.1)
    assert all(p.grad is g for p, g in zip(gp, grads))


@pytest.mark.parametrize("clip", [0.3, 2.0])
def test_clip_grad_value_matches_torch(device, clip):
    tp, gp = _pair(device, SHAPES)
    torch.nn.utils.clip_grad_value_(tp, clip)
    grads = [p.grad for p in gp]
    assert nn.utils.clip_grad_value_(gp, clip) is None
    for t, p, g0 in zip(tp, gp, grads):
        assert p.grad is g0
        np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())


def test_clip_argument_checks():
    _, gp = _pair("cpu", [(2,)])
    with pytest.raises(ValueError, match="norm_type"):
        nn.utils.clip_grad_norm_(gp, 1.0, norm_type="fro")
    with pytest.raises(TypeError, match="max_norm must be a number"):
        nn.utils.clip_grad_norm_(gp, None)
    with pytest.raises(TypeError, match="element 0"):
        nn.utils.clip_grad_value_([np.ones(2)], 1.0)


@pytest.mark.parametrize("name, param", [
    ("linear", None), ("conv1d", None), ("conv_transpose3d", None), ("sigmoid", None),
    ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.3),
    ("leaky_relu", 2), ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    assert nn.init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


def test_linear_init_has_torch_bounds():
    # Same rule as torch's: compare the bounds both reach on large draws.
    gg.manual_seed(0)
    torch.manual_seed(0)
    for fin, fout in [(3, 500), (250, 40)]:
        t, m = torch.nn.Linear(fin, fout), nn.Linear(fin, fout)
        for a, b in [(t.weight, m.weight), (t.bias, m.bias)]:
            ta, ga = abs(a.detach().numpy()).max(), abs(b.numpy()).max()
            bound = 1 / math.sqrt(fin)
            assert ta <= bound and ga <= bound
            assert ga > 0.9 * bound and ta > 0.9 * bound
