"""gpugrad.optim.lr_scheduler against torch.optim.lr_scheduler, 100+ steps, exact."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.optim import lr_scheduler as S

torch = pytest.importorskip("torch")
T = torch.optim.lr_scheduler
# torch warns when a test steps a schedule without an optimizer step in between
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")


def _pair(opt_name, groups_kw, **kw):
    pt = [torch.zeros(2, requires_grad=True) for _ in groups_kw]
    pg = [gg.tensor(np.zeros(2, np.float32), requires_grad=True) for _ in groups_kw]
    ot = getattr(torch.optim, opt_name)([{"params": [p], **g} for p, g in zip(pt, groups_kw)],
                                        **kw)
    og = getattr(gg.optim, opt_name)([{"params": [p], **g} for p, g in zip(pg, groups_kw)],
                                     **kw)
    return ot, og


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


CASES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[5, 20, 20, 60], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.97)),
    ("CosineAnnealingLR", dict(T_max=30, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=25)),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.9, total_iters=40)),
    ("LinearLR", dict()),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], total_steps=130)),
    ("OneCycleLR", dict(max_lr=0.4, epochs=13, steps_per_epoch=10, anneal_strategy="linear")),
    ("OneCycleLR", dict(max_lr=0.4, total_steps=130, three_phase=True, pct_start=0.25)),
    ("OneCycleLR", dict(max_lr=0.4, total_steps=130, cycle_momentum=False, div_factor=10.0,
                        final_div_factor=100.0)),
]


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_torch(opt_name, name, kw):
    groups = [{"lr": 0.1}, {"lr": 0.03}]
    extra = {"momentum": 0.9} if opt_name == "SGD" else {}
    ot, og = _pair(opt_name, groups, **extra)
    st, sg = getattr(T, name)(ot, **kw), getattr(S, name)(og, **kw)
    assert sg.last_epoch == st.last_epoch == 0
    steps = kw.get("total_steps", 130 if name == "OneCycleLR" else 0) or 150
    for i in range(steps):
        assert sg.get_last_lr() == st.get_last_lr(), (name, i)  # exact: same float ops
        assert [g["lr"] for g in og.param_groups] == [g["lr"] for g in ot.param_groups]
        assert _momenta(og) == _momenta(ot), (name, i)
        ot.step()
        og.step()
        if i < steps - 1 or name != "OneCycleLR":
            st.step()
            sg.step()
    assert sg.last_epoch == st.last_epoch


def test_onecycle_past_total_steps_raises():
    _, og = _pair("SGD", [{"lr": 0.1}], momentum=0.9)
    s = S.OneCycleLR(og, max_lr=1.0, total_steps=3)
    for _ in range(2):
        s.step()
    s.step()  # step 3 == total_steps: allowed, as in PyTorch
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 4 times"):
        s.step()


def test_onecycle_needs_momentum():
    _, og = _pair("Adagrad", [{"lr": 0.1}])
    with pytest.raises(ValueError, match="neither momentum nor betas"):
        S.OneCycleLR(og, max_lr=1.0, total_steps=10)
    S.OneCycleLR(og, max_lr=1.0, total_steps=10, cycle_momentum=False)


@pytest.mark.parametrize("bad", [dict(total_steps=0), dict(), dict(total_steps=10, pct_start=2.0),
                                 dict(total_steps=10, anneal_strategy="exp"),
                                 dict(total_steps=10, pct_start=1)])
def test_onecycle_bad_arguments(bad):
    _, og = _pair("SGD", [{"lr": 0.1}], momentum=0.9)
    with pytest.raises(ValueError, match="OneCycleLR"):
        S.OneCycleLR(og, max_lr=1.0, **bad)


def test_state_dict_round_trip_resumes_the_schedule():
    ot, og = _pair("SGD", [{"lr": 0.1}])
    st, sg = T.CosineAnnealingLR(ot, T_max=20), S.CosineAnnealingLR(og, T_max=20)
    for _ in range(7):
        st.step()
        sg.step()
    sd = sg.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 7 and sd["base_lrs"] == [0.1]
    assert set(sd) >= {"T_max", "eta_min", "base_lrs", "last_epoch", "_step_count", "_last_lr"}
    _, og2 = _pair("SGD", [{"lr": 0.1}])
    sg2 = S.CosineAnnealingLR(og2, T_max=20)
    sg2.load_state_dict(sd)
    for g in og2.param_groups:
        g["lr"] = sd["_last_lr"][0]
    for _ in range(30):
        st.step()
        sg2.step()
        assert sg2.get_last_lr() == st.get_last_lr()


def test_resume_with_last_epoch_needs_initial_lr():
    _, og = _pair("SGD", [{"lr": 0.1}])
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(og, step_size=3, last_epoch=5)


def test_resume_with_last_epoch_matches_torch():
    ot, og = _pair("SGD", [{"lr": 0.1}])
    for o in (ot, og):
        o.param_groups[0]["initial_lr"] = 0.1
    st, sg = T.CosineAnnealingLR(ot, T_max=10, last_epoch=4), \
        S.CosineAnnealingLR(og, T_max=10, last_epoch=4)
    for _ in range(12):
        assert sg.get_last_lr() == st.get_last_lr()
        st.step()
        sg.step()


def test_step_with_epoch_uses_the_closed_form():
    ot, og = _pair("SGD", [{"lr": 0.1}])
    st, sg = T.StepLR(ot, step_size=3), S.StepLR(og, step_size=3)
    with pytest.warns(UserWarning):
        st.step(7)
    with pytest.warns(UserWarning, match="deprecated"):
        sg.step(7)
    assert sg.get_last_lr() == st.get_last_lr() and sg.last_epoch == 7


def test_not_an_optimizer():
    with pytest.raises(TypeError, match="StepLR: list is not an Optimizer"):
        S.StepLR([], step_size=1)


def test_bad_arguments():
    _, og = _pair("SGD", [{"lr": 0.1}])
    with pytest.raises(ValueError, match="LinearLR: start_factor"):
        S.LinearLR(og, start_factor=0.0)
    with pytest.raises(ValueError, match="LinearLR: end_factor"):
        S.LinearLR(og, end_factor=1.5)
    with pytest.raises(ValueError, match="StepLR: expected a positive integer step_size"):
        S.StepLR(og, step_size=0)
