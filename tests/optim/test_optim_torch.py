"""Every optimizer against torch.optim, step for step, for every option combination.

One small problem (a two-layer tanh regression with a 0-d parameter, an empty
one, and one that never gets a gradient), two parameter groups with their own
options, gradients computed by each library from the same starting weights;
the parameters and every state tensor are compared after each of 50 steps.
"""
import itertools

import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")

STEPS = 50
RTOL = {"float64": 1e-10, "float32": 1e-5}


def _close(actual, desired, dtype, msg, scales, key):
    """Relative to each tensor's scale over the run (its largest magnitude so far): an
    element that passes near 0 on its way is held to the absolute error of the values it
    came through, not to a relative one that float rounding cannot give."""
    r = RTOL[dtype]
    scale = max(scales.get(key, 0.0), float(np.abs(desired).max()) if desired.size else 0.0)
    scales[key] = scale
    assert actual.shape == desired.shape and actual.dtype == desired.dtype, msg
    if not (np.abs(actual - desired) <= r * scale + r * np.abs(desired)).all():
        # the slow, thorough comparison (and its report) only for a suspect
        np.testing.assert_allclose(actual, desired, rtol=r, atol=r * scale, err_msg=msg)


def _problem(lib, dtype, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    shapes = {"W1": (5, 4), "b1": (4,), "W2": (4,), "s": (), "e": (0, 3), "frozen": (3,)}
    init = {k: rng.standard_normal(v).astype(dtype) for k, v in shapes.items()}
    X = rng.standard_normal((16, 5)).astype(dtype)
    y = rng.standard_normal(16).astype(dtype)
    m = torch if lib == "torch" else gg  # the same calls in both libraries
    P = {k: m.tensor(v, requires_grad=True) for k, v in init.items()}
    X, y = m.tensor(X), m.tensor(y)

    def loss():
        h = m.tanh(X @ P["W1"] + P["b1"])
        r = (h @ P["W2"]) * P["s"] - y + P["e"].sum()
        return (r * r).mean()
    return P, loss


def _groups(P, second):
    # 'frozen' never gets a gradient (skipped, no state), as in PyTorch.
    return [{"params": [P["W1"], P["b1"], P["frozen"]]},
            {"params": [P["W2"], P["s"], P["e"]], **second}]


def _fixed_grads(P, lib, dtype, seed=1):
    """A loss stand-in: the same gradient sequence for both libraries (the float32
    test, where two libraries' own gradients differ in their last bits and a
    gradient that cancels to near 0 would hide the optimizer's own error)."""
    rng = np.random.default_rng(seed)
    seq = [{k: (rng.standard_normal(P[k].shape) * 10.0 ** rng.uniform(-3, 1)).astype(dtype)
            for k in P if k != "frozen"} for _ in range(STEPS)]
    it = iter(seq)

    def loss():
        for k, g in next(it).items():
            P[k].grad = torch.tensor(g) if lib == "torch" else gg.tensor(g)
    return loss


def _run(name, kwargs, second, dtype, closure=False, fixed=False):
    Pt, lt = _problem("torch", dtype)
    Pg, lg = _problem("gg", dtype)
    if fixed:
        lt, lg = _fixed_grads(Pt, "torch", dtype), _fixed_grads(Pg, "gg", dtype)
    elif kwargs.get("maximize"):  # ascend the negated loss: the same well-conditioned path
        lt, lg = (lambda f=lt: -f()), (lambda f=lg: -f())
    ot = getattr(torch.optim, name)(_groups(Pt, second), **kwargs)
    og = getattr(gg.optim, name)(_groups(Pg, second), **kwargs)
    scales = {}
    for step in range(STEPS):
        for o, lossf in ((ot, lt), (og, lg)):
            o.zero_grad()
            if closure:
                def c(lossf=lossf):
                    o.zero_grad()
                    v = lossf()
                    v.backward()
                    return v
                o.step(c)
            else:
                v = lossf()
                if v is not None:
                    v.backward()
                o.step()
        _compare(Pt, Pg, ot, og, dtype, f"{name} {kwargs} {second} step {step + 1}", scales)


def _compare(Pt, Pg, ot, og, dtype, what, scales):
    for k in Pt:
        _close(Pg[k].numpy(), Pt[k].detach().numpy(), dtype, f"{what}: parameter {k}",
               scales, k)
    st, sg = ot.state_dict(), og.state_dict()
    assert st["state"].keys() == sg["state"].keys(), what
    for i, s in st["state"].items():
        assert s.keys() == sg["state"][i].keys(), (what, i)
        for key, v in s.items():
            w = sg["state"][i][key]
            if key == "step":
                assert isinstance(w, gg.Tensor) and w.dtype == np.float32 and w.shape == ()
                assert str(w.device) == "cpu" and w.item() == v.item(), (what, i)
            else:
                assert w.dtype == np.dtype(dtype), (what, i, key)
                _close(w.numpy(), v.numpy(), dtype, f"{what}: state {i} {key}", scales,
                       (i, key))


def _product(**options):
    keys = list(options)
    return [dict(zip(keys, vals)) for vals in itertools.product(*options.values())]


DTYPES = ["float64", "float32"]

SGD = [kw for kw in _product(lr=[0.05], momentum=[0.0, 0.9], dampening=[0.0, 0.3],
                              nesterov=[False, True], weight_decay=[0.0, 0.1],
                              maximize=[False, True])
       if not kw["nesterov"] or (kw["momentum"] > 0 and kw["dampening"] == 0)]
ADAM = _product(lr=[0.01], weight_decay=[0.0, 0.1], amsgrad=[False, True],
                maximize=[False, True])
ADAMW = _product(lr=[0.01], weight_decay=[0.0, 0.05], amsgrad=[False, True],
                 maximize=[False, True])
RMSPROP = _product(lr=[0.01], alpha=[0.9], eps=[1e-6], weight_decay=[0.0, 0.1],
                   momentum=[0.0, 0.8], centered=[False, True], maximize=[False, True])
ADAGRAD = _product(lr=[0.05], lr_decay=[0.0, 0.1], weight_decay=[0.0, 0.1],
                   initial_accumulator_value=[0.0, 0.2], eps=[1e-10], maximize=[False, True])
# The second group overrides options; beta1 = 0.3 takes lerp's other form (weight >= 0.5).
SECOND = {"SGD": {"lr": 0.02, "momentum": 0.5}, "Adam": {"lr": 0.03, "betas": (0.3, 0.9)},
          "AdamW": {"lr": 0.03, "betas": (0.3, 0.9), "weight_decay": 0.2},
          "RMSprop": {"lr": 0.02, "alpha": 0.5}, "Adagrad": {"lr": 0.1, "eps": 1e-3}}
CASES = ([("SGD", kw) for kw in SGD] + [("Adam", kw) for kw in ADAM]
         + [("AdamW", kw) for kw in ADAMW] + [("RMSprop", kw) for kw in RMSPROP]
         + [("Adagrad", kw) for kw in ADAGRAD])


def test_every_combination_is_listed():
    assert len(SGD) == 20 and len(ADAM) == 8 and len(ADAMW) == 8
    assert len(RMSPROP) == 16 and len(ADAGRAD) == 16


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                     enumerate(CASES)])
def test_matches_torch_fixed_gradients(name, kwargs, dtype):
    _run(name, kwargs, _second(name, kwargs), dtype, fixed=True)


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                     enumerate(CASES)])
def test_matches_torch_own_gradients(name, kwargs):
    """float64, each library differentiating the same loss itself."""
    _run(name, kwargs, _second(name, kwargs), "float64")


def _second(name, kwargs):
    second = dict(SECOND[name])
    if name == "SGD" and kwargs["nesterov"]:
        second.pop("momentum")  # keep the group's momentum for nesterov
    return second


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_closure_matches_torch(name):
    _run(name, {"lr": 0.01}, {}, "float64", closure=True)
