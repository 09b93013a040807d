"""gpugrad.optim's API: groups, errors, zero_grad, skipped parameters, state_dict,
version counters; and every optimizer on every device against torch (float32)."""
import copy

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.optim import _kernels

OPTS = {"SGD": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        "Adam": dict(lr=0.01, amsgrad=True, weight_decay=0.01),
        "AdamW": dict(lr=0.01, amsgrad=True, maximize=True),
        "RMSprop": dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
        "Adagrad": dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)}


def _param(shape=(3, 2), dtype=np.float64, device="cpu", seed=0):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return gg.tensor(a, device=device, requires_grad=True)


def _grad(p, seed):
    g = np.random.default_rng(seed).standard_normal(p.shape).astype(p.dtype)
    p.grad = gg.tensor(g, device=p.device)


def _train(ps, opt, steps):
    """opt.step() once per i in steps, parameter k's gradient seeded by 10 * i + k."""
    for i in steps:
        for k, p in enumerate(ps):
            _grad(p, 10 * i + k)
        opt.step()


def _resumed(make, ps, sd):
    """A fresh (params, optimizer) from make(), given ps's values and the state dict sd."""
    ps2, opt2 = make()
    for p, q in zip(ps, ps2):
        q.data = p.data.copy()
    opt2.load_state_dict(sd)
    return ps2, opt2


def _assert_steps_agree(ps, opt, ps2, opt2, steps):
    """Both optimizers step on the same gradients (as _train) and end bit for bit equal."""
    for i in steps:
        for k, (p, q) in enumerate(zip(ps, ps2)):
            _grad(p, 10 * i + k)
            q.grad = gg.tensor(p.grad.numpy())
        opt.step()
        opt2.step()
    for p, q in zip(ps, ps2):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


# ---- bad hyperparameters ------------------------------------------------------------
@pytest.mark.parametrize("name,kw,match", [
    ("SGD", dict(lr=-0.1), "SGD: invalid lr value: -0.1"),
    ("SGD", dict(momentum=-0.5), "invalid momentum"),
    ("SGD", dict(weight_decay=-1), "invalid weight_decay"),
    ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "zero dampening"),
    ("Adam", dict(lr=-1e-3), "Adam: invalid lr"),
    ("Adam", dict(betas=(1.0, 0.9)), "invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "index 1"),
    ("Adam", dict(eps=-1e-8), "invalid eps"),
    ("AdamW", dict(weight_decay=-0.1), "AdamW: invalid weight_decay"),
    ("AdamW", dict(betas=(0.9,)), "betas must be a pair"),
    ("RMSprop", dict(alpha=-0.1), "invalid alpha"),
    ("RMSprop", dict(momentum=-0.1), "invalid momentum"),
    ("RMSprop", dict(eps=-1.0), "invalid eps"),
    ("Adagrad", dict(lr_decay=-0.1), "invalid lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "invalid initial_accumulator_value"),
    ("Adagrad", dict(lr=float("nan")), "invalid lr"),
])
def test_bad_hyperparameters_raise(name, kw, match):
    with pytest.raises(ValueError, match=match):
        getattr(gg.optim, name)([_param()], **kw)


def test_bad_hyperparameter_in_a_group_raises():
    with pytest.raises(ValueError, match="invalid lr"):
        gg.optim.SGD([{"params": [_param()], "lr": -1.0}], lr=0.1)
    opt = gg.optim.Adam([_param()])
    with pytest.raises(ValueError, match="index 0"):
        opt.add_param_group({"params": [_param(seed=1)], "betas": (1.5, 0.9)})
    with pytest.raises(TypeError, match="lr must be a real number"):
        gg.optim.SGD([_param()], lr="0.1")


# ---- parameters -----------------------------------------------------------------------
def test_bad_params_raise():
    p = _param()
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        gg.optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        gg.optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        gg.optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="ordered"):
        gg.optim.SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        gg.optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="floating point"):
        gg.optim.SGD([gg.tensor([1, 2])], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        gg.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.warns(UserWarning, match="more than once"):
        opt = gg.optim.SGD([p, p], lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 1


def test_groups_take_defaults_and_own_options():
    a, b = _param(seed=1), _param(seed=2)
    opt = gg.optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["params"] == [b]
    c = _param(seed=3)
    opt.add_param_group({"params": [c], "momentum": 0.0})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.0
    before = c.numpy()
    _grad(c, 4)
    opt.step()
    np.testing.assert_allclose(c.numpy(), before - 0.1 * c.grad.numpy(), rtol=1e-15)
    assert "SGD (" in repr(opt) and "Parameter Group 2" in repr(opt)


def test_adagrad_state_for_added_group():
    a, b = _param(seed=1), _param(seed=2)
    opt = gg.optim.Adagrad([a], initial_accumulator_value=0.5)
    opt.add_param_group({"params": [b], "initial_accumulator_value": 0.25})
    assert float(opt.state[b]["sum"].numpy().max()) == 0.25
    assert opt.state[a]["step"].item() == 0.0
    _grad(b, 3)
    opt.step()
    assert opt.state[b]["step"].item() == 1.0 and opt.state[a]["step"].item() == 0.0


# ---- the step ---------------------------------------------------------------------------
def test_parameter_without_grad_is_skipped():
    a, b = _param(seed=1), _param(seed=2)
    opt = gg.optim.Adam([a, b], lr=0.1)
    before = b.numpy()
    _grad(a, 3)
    opt.step()
    np.testing.assert_array_equal(b.numpy(), before)
    assert b not in opt.state and opt.state[a]["step"].item() == 1.0
    assert set(opt.state_dict()["state"]) == {0}


def test_zero_grad():
    a = _param()
    opt = gg.optim.SGD([a], lr=0.1)
    _grad(a, 1)
    g = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is g and (g.numpy() == 0).all()
    opt.zero_grad()
    assert a.grad is None
    opt.zero_grad()  # no gradient: nothing to do


def test_closure_returns_loss_and_records():
    a = _param()
    opt = gg.optim.SGD([a], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (a * a).sum()
        loss.backward()
        return loss
    with gg.no_grad():  # the closure records all the same, as in PyTorch
        loss = opt.step(closure)
    assert isinstance(loss, gg.Tensor) and a.grad is not None


def test_step_bumps_the_version_counter():
    """A graph that saved the parameter before the step refuses to backward after it."""
    a = _param()
    y = (a * a).sum()
    opt = gg.optim.SGD([a], lr=0.1)
    _grad(a, 1)
    opt.step()
    with pytest.raises(RuntimeError):
        y.backward()


def test_float32_stays_float32_and_0d_and_empty_work():
    ps = [_param((), np.float32), _param((0, 4), np.float32), _param((2, 3), np.float32)]
    for name, kw in OPTS.items():
        opt = getattr(gg.optim, name)(ps, **kw)
        _train(ps, opt, range(3))
        for p in ps:
            assert p.dtype == np.float32
            for key, v in opt.state[p].items():
                if key == "step":
                    assert v.dtype == np.float32 and str(v.device) == "cpu"
                else:
                    assert v.dtype == np.float32 and v.shape == p.shape, (name, key)
        assert np.isfinite(ps[0].numpy()) and ps[1].shape == (0, 4)


def test_non_contiguous_gradient():
    a = _param((4, 3))
    b = gg.tensor(a.numpy(), requires_grad=True)
    g = np.random.default_rng(1).standard_normal((3, 4))
    a.grad = gg.tensor(g).T  # a transposed view
    b.grad = gg.tensor(np.ascontiguousarray(g.T))
    for p in (a, b):
        gg.optim.Adam([p], lr=0.1, weight_decay=0.1).step()
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_no_allocation_per_step_after_the_first():
    """The NumPy path reuses the optimizer's scratch buffers: no per-step temporaries."""
    p = _param((50, 40))
    opt = gg.optim.Adam([p], lr=0.1, weight_decay=0.1, maximize=True)
    _grad(p, 1)
    opt.step()
    bufs = {k: v.__array_interface__["data"][0] for k, v in opt._scratch.items()}
    assert len(bufs) == 2  # scratch, and the modified gradient (weight decay, maximize)
    _grad(p, 2)
    opt.step()
    assert {k: v.__array_interface__["data"][0] for k, v in opt._scratch.items()} == bufs


# ---- state_dict ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(OPTS))
def test_state_dict_round_trip_continues_exactly(name):
    def make(seed_shift=0):
        ps = [_param((3, 2), seed=1), _param((4,), seed=2), _param((), seed=3)]
        opt = getattr(gg.optim, name)([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.05}],
                                      **OPTS[name])
        return ps, opt

    ps, opt = make()
    _train(ps, opt, range(5))
    sd = copy.deepcopy(opt.state_dict())
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.05
    assert set(sd["state"]) == {0, 1, 2}
    if name != "SGD":  # SGD keeps no step count, as PyTorch's
        assert sd["state"][0]["step"].item() == 5.0
    ps2, opt2 = _resumed(make, ps, sd)
    _assert_steps_agree(ps, opt, ps2, opt2, range(5, 9))
    # loaded state is the optimizer's own copy, not the dict's
    key = next(iter(sd["state"][0]))
    assert opt2.state[ps2[0]][key] is not sd["state"][0][key]


def test_load_state_dict_casts_state_to_the_parameter_dtype():
    p = _param((3,), np.float64)
    opt = gg.optim.Adam([p])
    _grad(p, 1)
    opt.step()
    sd = opt.state_dict()
    q = _param((3,), np.float32)
    opt2 = gg.optim.Adam([q])
    opt2.load_state_dict(sd)
    assert opt2.state[q]["exp_avg"].dtype == np.float32
    assert opt2.state[q]["step"].dtype == np.float32


def test_load_state_dict_mismatch_raises():
    opt = gg.optim.SGD([_param(), _param(seed=1)], lr=0.1, momentum=0.9)
    other = gg.optim.SGD([_param()], lr=0.1)
    with pytest.raises(ValueError, match="group 0 has 1 parameters in the state dict and 2"):
        opt.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="keys 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    p = _param((3,))
    o = gg.optim.SGD([p], lr=0.1, momentum=0.9)
    _grad(p, 1)
    o.step()
    q = _param((4,))
    with pytest.raises(ValueError, match=r"state 'momentum_buffer' has shape \(3,\)"):
        gg.optim.SGD([q], lr=0.1, momentum=0.9).load_state_dict(o.state_dict())


def test_state_dict_matches_torch_layout():
    torch = pytest.importorskip("torch")
    p = _param((2,))
    t = torch.tensor(p.numpy(), requires_grad=True)
    og, ot = gg.optim.Adam([p], amsgrad=True), torch.optim.Adam([t], amsgrad=True)
    _grad(p, 1)
    t.grad = torch.tensor(p.grad.numpy())
    og.step()
    ot.step()
    sg, st = og.state_dict(), ot.state_dict()
    assert sg["state"][0].keys() == st["state"][0].keys()
    assert set(sg["param_groups"][0]) <= set(st["param_groups"][0])
    # a torch state dict (tensors converted) loads
    sd = {"state": {0: {k: (gg.tensor(v.numpy()) if isinstance(v, torch.Tensor) else v)
                        for k, v in st["state"][0].items()}},
          "param_groups": st["param_groups"]}
    q = gg.tensor(p.numpy(), requires_grad=True)
    o2 = gg.optim.Adam([q], amsgrad=True)
    o2.load_state_dict(sd)
    np.testing.assert_array_equal(o2.state[q]["exp_avg"].numpy(), st["state"][0]["exp_avg"].numpy())


def test_amsgrad_switched_on_after_steps():
    """amsgrad turned on once there is state: its running maximum starts at zero, so the
    next step equals plain Adam's (it was a KeyError after the step count had moved)."""
    p, q = _param(), _param()
    o_p, o_q = gg.optim.Adam([p], lr=0.1), gg.optim.Adam([q], lr=0.1)
    for seed in (1, 2):
        _grad(p, seed)
        _grad(q, seed)
        o_p.step()
        o_q.step()
        if seed == 1:
            o_p.param_groups[0]["amsgrad"] = True
    np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert o_p.state[p]["step"].item() == 2
    np.testing.assert_array_equal(o_p.state[p]["max_exp_avg_sq"].numpy(),
                                  o_q.state[q]["exp_avg_sq"].numpy())
    _grad(p, 3)
    o_p.step()  # and on from there as amsgrad
    assert o_p.state[p]["step"].item() == 3


# ---- every device, against torch ------------------------------------------------------------
@pytest.mark.parametrize("name", list(OPTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_device_matches_torch(device, name, dtype):
    """On CUDA this runs the fused kernels; on the CPU the NumPy path."""
    torch = pytest.importorskip("torch")
    shapes = [(33, 17), (5,), (), (0, 2), (1000,)]
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    pg = [gg.tensor(a, device=device, requires_grad=True) for a in init]
    pt = [torch.tensor(a, requires_grad=True) for a in init]
    kw = OPTS[name]
    og = getattr(gg.optim, name)([{"params": pg[:3]}, {"params": pg[3:], "lr": 0.003}], **kw)
    ot = getattr(torch.optim, name)([{"params": pt[:3]}, {"params": pt[3:], "lr": 0.003}], **kw)
    for step in range(20):
        for a, b in zip(pg, pt):
            g = rng.standard_normal(a.shape).astype(dtype)
            a.grad = gg.tensor(g, device=device)
            b.grad = torch.tensor(g)
        og.step()
        ot.step()
    tol = 2e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(pg, pt):
        assert str(a.device).split(":")[0] == device and a.dtype == dtype
        ref = b.detach().numpy()
        np.testing.assert_allclose(a.numpy(), ref, rtol=tol,
                                   atol=tol * (np.abs(ref).max() if ref.size else 0))
        for key, v in og.state[a].items():
            if key != "step":
                assert v.device == a.device and v.dtype == dtype


def test_kernel_path_is_chosen_by_capability(device):
    xp = gg.backends.get_backend(device).xp
    assert _kernels.has_kernels(xp) == (device == "cuda")


@pytest.mark.parametrize("name", list(OPTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sliced_host_path_is_bitwise_the_whole_array_path(name, dtype):
    """Large contiguous parameters are updated slice by slice (cache-sized); a
    non-contiguous gradient takes the whole-array path: the numbers are identical."""
    from gpugrad.optim.optimizer import _CHUNK_BYTES
    n = _CHUNK_BYTES // np.dtype(dtype).itemsize
    shape = (3 * n // 100 + 7, 100)  # 3 slices and a partial one
    a, b = _param(shape, dtype), _param(shape, dtype)
    oa, ob = (getattr(gg.optim, name)([p], **OPTS[name]) for p in (a, b))
    for i in range(3):
        g = np.random.default_rng(i).standard_normal(shape[::-1]).astype(dtype)
        a.grad = gg.tensor(np.ascontiguousarray(g.T))
        b.grad = gg.tensor(g).T
        oa.step()
        ob.step()
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    for key in oa.state[a]:
        np.testing.assert_array_equal(oa.state[a][key].numpy(), ob.state[b][key].numpy())
    assert max(v.size for v in oa._scratch.values()) == n  # scratch is one slice


def test_large_parameters_match_torch():
    torch = pytest.importorskip("torch")
    shape = (700, 300)
    for name, kw in OPTS.items():
        a = _param(shape, np.float32)
        t = torch.tensor(a.numpy(), requires_grad=True)
        og, ot = getattr(gg.optim, name)([a], **kw), getattr(torch.optim, name)([t], **kw)
        for i in range(4):
            _grad(a, i)
            t.grad = torch.tensor(a.grad.numpy())
            og.step()
            ot.step()
        ref = t.detach().numpy()
        np.testing.assert_allclose(a.numpy(), ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max(),
                                   err_msg=name)


def test_checkpoint_through_gg_save_and_load(tmp_path):
    """An optimizer's state_dict survives gg.save / gg.load and training continues
    exactly; state keys written as strings load too."""
    def make():
        ps = [_param((4, 3), seed=1), _param((3,), seed=2)]
        return ps, gg.optim.AdamW([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.1}],
                                  amsgrad=True)
    ps, opt = make()
    _train(ps, opt, range(3))
    gg.save({"opt": opt.state_dict()}, tmp_path / "ckpt.safetensors")
    sd = gg.load(tmp_path / "ckpt.safetensors")["opt"]
    sd["state"] = {str(k): v for k, v in sd["state"].items()}
    ps2, opt2 = _resumed(make, ps, sd)
    assert opt2.param_groups[1]["lr"] == 0.1 and opt2.param_groups[0]["betas"] == (0.9, 0.999)
    _assert_steps_agree(ps, opt, ps2, opt2, range(3, 6))


# ---- review round: hyperparameters rounded to the parameter's dtype; Adagrad's state ----
@pytest.mark.parametrize("name", list(OPTS))
def test_numpy_float64_hyperparameters_round_like_python_floats(name):
    """A float32 parameter's update from NumPy float64 hyperparameters (a schedule or
    config computed with NumPy) is the update from the same Python floats: the scalars
    are rounded to float32 as PyTorch and the kernel round them, not used in float64."""
    kw = {k: (tuple(np.float64(b) for b in v) if isinstance(v, tuple)
              else np.float64(v) if isinstance(v, float) else v) for k, v in OPTS[name].items()}
    kw["betas" if name.startswith("Adam") else "lr"] = (
        (np.float64(0.9), np.float64(0.999)) if name.startswith("Adam") else np.float64(0.1))
    py = {k: (tuple(float(b) for b in v) if isinstance(v, tuple)
              else float(v) if isinstance(v, np.floating) else v) for k, v in kw.items()}
    ps = [_param((50, 40), np.float32), _param((50, 40), np.float32)]
    opts = [getattr(gg.optim, name)([ps[0]], **kw), getattr(gg.optim, name)([ps[1]], **py)]
    for step in range(5):
        for p, o in zip(ps, opts):
            _grad(p, step)
            o.step()
    np.testing.assert_array_equal(ps[0].numpy(), ps[1].numpy())


def test_adam_lerp_weight_rounded_before_choosing_the_form():
    """1 - beta1 = 0.4999999999990 in double is 0.5 in float32: PyTorch (and the kernel)
    take lerp's second form then; the NumPy path took the first on the double weight
    and half the elements of exp_avg differed from PyTorch's in the last bit."""
    torch = pytest.importorskip("torch")
    betas = (0.5 + 1e-12, 0.999)
    rng = np.random.default_rng(0)
    g = [(rng.standard_normal(4000) * 100).astype(np.float32) for _ in range(2)]
    p = gg.tensor(np.ones(4000, np.float32), requires_grad=True)
    q = torch.ones(4000, requires_grad=True)
    og, ot = gg.optim.Adam([p], betas=betas), torch.optim.Adam([q], betas=betas)
    for gi in g:
        p.grad, q.grad = gg.tensor(gi), torch.tensor(gi)
        og.step()
        ot.step()
    np.testing.assert_array_equal(og.state[p]["exp_avg"].numpy(),
                                  ot.state[q]["exp_avg"].numpy())


def test_adagrad_step_after_loading_a_state_dict_without_a_parameters_state():
    """A loaded state dict without a parameter's entry: Adagrad starts that parameter's
    state afresh (initial_accumulator_value), as at construction, instead of a KeyError."""
    ps = [_param(), _param((4,), seed=1)]
    ref = [_param(), _param((4,), seed=1)]
    o = gg.optim.Adagrad(ps, lr=0.1, initial_accumulator_value=0.5)
    sd = o.state_dict()
    o.load_state_dict({"state": {1: sd["state"][1]}, "param_groups": sd["param_groups"]})
    fresh = gg.optim.Adagrad(ref, lr=0.1, initial_accumulator_value=0.5)
    for step in range(3):
        for p, r in zip(ps, ref):
            _grad(p, step)
            _grad(r, step)
        o.step()
        fresh.step()
    for p, r in zip(ps, ref):
        np.testing.assert_array_equal(p.numpy(), r.numpy())
    assert o.state[ps[0]]["step"].item() == 3.0


def test_load_state_dict_rejects_state_that_is_not_a_tensor():
    """State arrays of another kind (NumPy) are refused at load, naming the key, not
    kept to fail inside the next step."""
    p = _param()
    o = gg.optim.SGD([p], lr=0.1, momentum=0.9)
    _grad(p, 0)
    o.step()
    sd = o.state_dict()
    bad = {"state": {0: {"momentum_buffer": sd["state"][0]["momentum_buffer"].numpy()}},
           "param_groups": sd["param_groups"]}
    with pytest.raises(TypeError, match=r"SGD.load_state_dict: state 'momentum_buffer' is a "
                                        r"numpy.ndarray of shape \(3, 2\)"):
        o.load_state_dict(bad)
    o.step()  # the optimizer is as it was
