"""The fused optimizer kernels on a GPU: against the NumPy path (their oracle) for
every flag combination, in place with no allocation, compiled once.

Needs CuPy and a GPU; the whole module is skipped, with the reason, without them.
(tests/optim/test_optim.py::test_device_matches_torch covers CUDA against torch.)
"""
import itertools

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import cuda as gg_cuda

if not gg_cuda.is_available():
    pytest.skip(f"CUDA optimizer tests: {gg_cuda.unavailable_reason()}", allow_module_level=True)

import cupy  # noqa: E402

from gpugrad.optim import _kernels  # noqa: E402

pytestmark = pytest.mark.gpu

OPTIONS = {
    "SGD": dict(lr=[0.05], momentum=[0.0, 0.9], dampening=[0.0, 0.3], nesterov=[False, True],
                weight_decay=[0.0, 0.1], maximize=[False, True]),
    "Adam": dict(lr=[0.01], betas=[(0.9, 0.99), (0.3, 0.9)], weight_decay=[0.0, 0.1],
                 amsgrad=[False, True], maximize=[False, True]),
    "AdamW": dict(lr=[0.01], weight_decay=[0.0, 0.05], amsgrad=[False, True],
                  maximize=[False, True]),
    "RMSprop": dict(lr=[0.01], alpha=[0.9, 0.3], weight_decay=[0.0, 0.1], momentum=[0.0, 0.8],
                    centered=[False, True], maximize=[False, True]),
    "Adagrad": dict(lr=[0.05], lr_decay=[0.0, 0.1], weight_decay=[0.0, 0.1],
                    initial_accumulator_value=[0.0, 0.2], maximize=[False, True]),
}
CASES = [(name, dict(zip(opts, vals))) for name, opts in OPTIONS.items()
         for vals in itertools.product(*opts.values())]
CASES = [(n, kw) for n, kw in CASES
         if not kw.get("nesterov") or (kw["momentum"] > 0 and kw["dampening"] == 0)]
SHAPES = [(257, 33), (7,), (), (0, 5), (64, 3)]


def _pair(dtype, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    return ([gg.tensor(a, device="cuda", requires_grad=True) for a in init],
            [gg.tensor(a, requires_grad=True) for a in init])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_kernel_matches_numpy_path(name, kw, dtype):
    pc, ph = _pair(dtype)
    oc = getattr(gg.optim, name)(pc, **kw)
    oh = getattr(gg.optim, name)(ph, **kw)
    rng = np.random.default_rng(1)
    # fused multiply-adds on the GPU round differently from NumPy's separate operations
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for _ in range(10):
        for c, h in zip(pc, ph):
            g = rng.standard_normal(c.shape).astype(dtype)
            c.grad, h.grad = gg.tensor(g, device="cuda"), gg.tensor(g)
        oc.step()
        oh.step()
    for c, h in zip(pc, ph):
        ref = h.numpy()
        np.testing.assert_allclose(c.numpy(), ref, rtol=tol, atol=tol * (np.abs(ref).max()
                                                                         if ref.size else 0))
        for key, v in oh.state[h].items():
            w = oc.state[c][key]
            if key == "step":
                assert w.item() == v.item() and str(w.device) == "cpu"
            else:
                assert str(w.device).startswith("cuda") and w.dtype == dtype
                r = v.numpy()
                np.testing.assert_allclose(w.numpy(), r, rtol=tol,
                                           atol=tol * (np.abs(r).max() if r.size else 0))


@pytest.mark.parametrize("name", list(OPTIONS))
def test_step_is_in_place_and_allocates_nothing(name):
    """After the first step (which makes the state), a step allocates no GPU memory:
    one kernel updates parameter and state where they are."""
    pc, _ = _pair(np.float32)
    kw = {k: v[-1] for k, v in OPTIONS[name].items()}
    if name == "SGD":
        kw["dampening"] = 0.0
    opt = getattr(gg.optim, name)(pc, **kw)
    for p in pc:
        p.grad = gg.tensor(np.ones(p.shape, np.float32), device="cuda")
    opt.step()
    cupy.cuda.Device().synchronize()
    ptrs = [p.data.data.ptr for p in pc]
    pool = cupy.get_default_memory_pool()
    used = pool.used_bytes()
    opt.step()
    cupy.cuda.Device().synchronize()
    assert pool.used_bytes() == used
    assert [p.data.data.ptr for p in pc] == ptrs
    assert not opt._scratch  # the NumPy path's buffers were never needed


def test_one_kernel_object_per_optimizer():
    pc, _ = _pair(np.float32)
    p64, _ = _pair(np.float64)
    for ps in (pc, p64):
        opt = gg.optim.Adam(ps, amsgrad=True)
        for p in ps:
            p.grad = gg.tensor(np.ones(p.shape, p.dtype), device="cuda")
        opt.step()
    k = _kernels._kernels["adam"]
    opt.step()
    assert _kernels._kernels["adam"] is k


def test_float16_takes_the_array_path():
    """No fused kernel for float16: the same arithmetic as in-place CuPy ufuncs."""
    pc, ph = _pair(np.float16)
    oc, oh = gg.optim.Adam(pc, lr=0.01), gg.optim.Adam(ph, lr=0.01)
    for c, h in zip(pc, ph):
        g = np.linspace(-1, 1, c.numel() or 1)[:c.numel()].reshape(c.shape).astype(np.float16)
        c.grad, h.grad = gg.tensor(g, device="cuda"), gg.tensor(g)
    oc.step()
    oh.step()
    for c, h in zip(pc, ph):
        assert c.dtype == np.float16
        np.testing.assert_allclose(c.numpy().astype(np.float32), h.numpy().astype(np.float32),
                                   rtol=2e-3, atol=2e-3)
