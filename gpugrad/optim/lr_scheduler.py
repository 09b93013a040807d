"""Learning-rate schedules, as torch.optim.lr_scheduler.

Each schedule computes the next rate from the current one (PyTorch's recursive
forms), so the rates match PyTorch's step for step, rounding included, and a
schedule composes with anything else that changes `group['lr']`. The
constructor makes PyTorch's initial step: `last_epoch` becomes 0 and the groups
get their epoch-0 rates.
"""
from __future__ import annotations

import math
import numbers
import warnings
from bisect import bisect_right
from collections import Counter
from contextlib import contextmanager

from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LinearLR", "OneCycleLR"]


@contextmanager
def _restoring(optimizer):
    """Undo what a failing constructor wrote into the groups (initial_lr, max_lr,
    momentum, the first rates), so that an error leaves the optimizer as it was."""
    groups = [dict(g) for g in optimizer.param_groups]
    try:
        yield
    except BaseException:
        for g, old in zip(optimizer.param_groups, groups):
            g.clear()
            g.update(old)
        raise


def _check_optimizer(name, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{name}: {type(optimizer).__name__} is not an Optimizer")


def _check_last_epoch(name, last_epoch):
    # -1 starts afresh; k >= 0 resumes after epoch k. Anything else shifted the schedule.
    if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral) or \
            last_epoch < -1:
        raise ValueError(f"{name}: last_epoch must be -1 (start) or an epoch >= 0 to resume "
                         f"from, got last_epoch={last_epoch!r}")
    return int(last_epoch)


def _real(sched, name, value):
    # Checked when the schedule is made: otherwise the first step() after it fails.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{sched}: {name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{sched}: {name} must be a finite number, got {value!r}")
    return value


class LRScheduler:
    """Base class: subclasses give `get_lr()`, the rates for `last_epoch`."""

    def __init__(self, optimizer, last_epoch: int = -1):
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        last_epoch = _check_last_epoch(name, last_epoch)
        with _restoring(optimizer):
            self._start(optimizer, last_epoch)

    def _start(self, optimizer, last_epoch):
        name = type(self).__name__
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{name}: param 'initial_lr' is not specified in "
                                   f"param_groups[{i}] when resuming with last_epoch="
                                   f"{last_epoch}; load the optimizer's state first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        """The rates for the current last_epoch (subclasses)."""
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The rates that the last step() set, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch=None) -> None:
        """Advance one epoch (call after optimizer.step()) and set the groups' rates.

        `epoch` (deprecated in PyTorch, kept for its users) jumps to that epoch,
        through the closed form where the schedule has one. A step that raises (a
        OneCycleLR past its last step) leaves the epoch count and the rates as they were."""
        last_epoch, step_count = self.last_epoch, self._step_count
        try:
            values = self._next_lrs(epoch)
            groups = self.optimizer.param_groups
            if len(values) != len(groups):
                raise ValueError(f"{type(self).__name__}.get_lr: {len(values)} rates for "
                                 f"{len(groups)} parameter groups")
        except BaseException:
            self.last_epoch, self._step_count = last_epoch, step_count
            raise
        for group, lr in zip(groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in groups]

    def _next_lrs(self, epoch):
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
            return list(self.get_lr())
        warnings.warn("The epoch parameter in `scheduler.step()` is deprecated, as in "
                      "PyTorch; call `scheduler.step()` instead.", UserWarning, stacklevel=3)
        self.last_epoch = _check_last_epoch(f"{type(self).__name__}.step", epoch)
        closed = getattr(self, "_get_closed_form_lr", None)
        return list(closed() if closed is not None else self.get_lr())

    def state_dict(self) -> dict:
        """Everything but the optimizer, as PyTorch's."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state_dict() of a schedule of this kind (one of another kind, which
        lacks this one's settings, is refused, and nothing is changed)."""
        name = type(self).__name__
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}.load_state_dict: expected a dict, got "
                            f"{type(state_dict).__name__}")
        lacking = [k for k in self.state_dict() if k not in state_dict]
        if lacking:
            raise ValueError(f"{name}.load_state_dict: the state dict lacks "
                             f"{', '.join(map(repr, lacking))} (is it the state of another "
                             f"kind of schedule than {name}?)")
        _check_last_epoch(f"{name}.load_state_dict", state_dict["last_epoch"])
        self.__dict__.update(state_dict)

    def _lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]


def _milestones(milestones):
    """Epochs >= 0 in any order, as torch counts them (one listed k times applies
    gamma**k): a float or negative one never equals an epoch, so it would silently never
    fire."""
    try:
        ms = list(milestones)
    except TypeError:
        raise TypeError(f"MultiStepLR: milestones must be a list of epochs, got "
                        f"{milestones!r}") from None
    for i, m in enumerate(ms):
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 0:
            raise ValueError(f"MultiStepLR: milestones must be epochs (ints >= 0), got "
                             f"{m!r} at index {i} of {ms}")
    return [int(m) for m in ms]


def _positive_int(sched, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{sched}: expected a positive integer {name}, got {value!r}")
    return int(value)


class StepLR(LRScheduler):
    """Multiply the rate by gamma every step_size epochs."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = _positive_int("StepLR", "step_size", step_size)
        self.gamma = _real("StepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """The current rates, times gamma at each multiple of step_size."""
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _get_closed_form_lr(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by gamma at each milestone (by gamma**k at one listed k times)."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self.milestones = Counter(_milestones(milestones))
        self.gamma = _real("MultiStepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """The current rates, times gamma**count at a milestone."""
        if self.last_epoch not in self.milestones:
            return self._lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._lrs()]

    def _get_closed_form_lr(self):
        ms = sorted(self.milestones.elements())
        return [b * self.gamma ** bisect_right(ms, self.last_epoch) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rate by gamma every epoch."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = _real("ExponentialLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """The current rates times gamma (unchanged at the initial step)."""
        if self._is_initial:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _get_closed_form_lr(self):
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine from the initial rate down to eta_min over T_max epochs (and back up
    after, as PyTorch's recursive form does)."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.T_max = _positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = _real("CosineAnnealingLR", "eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """PyTorch's recursive cosine step."""
        T, e, lo = self.T_max, self.last_epoch, self.eta_min
        if self._is_initial:
            return self._lrs()
        if self._step_count == 1 and e > 0:  # resumed: start from the closed form
            return [lo + (b - lo) * (1 + math.cos(e * math.pi / T)) / 2 for b in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:  # the trough: the recursion would divide by 0
            return [lr + (b - lo) * (1 - math.cos(math.pi / T)) / 2
                    for b, lr in zip(self.base_lrs, self._lrs())]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
                * (lr - lo) + lo for lr in self._lrs()]

    def _get_closed_form_lr(self):
        return [self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch
                                                                  / self.T_max)) / 2
                for b in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the rate linearly from start_factor to end_factor over total_iters epochs."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        _real("LinearLR", "start_factor", start_factor)
        _real("LinearLR", "end_factor", end_factor)
        if not 0 < start_factor <= 1.0:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1.0:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        # 0 iterations left the rate at start_factor for good, never reaching end_factor.
        self.total_iters = _positive_int("LinearLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """PyTorch's recursive linear step."""
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._lrs()
        d = self.end_factor - self.start_factor
        f = 1.0 + d / (self.total_iters * self.start_factor + (self.last_epoch - 1) * d)
        return [lr * f for lr in self._lrs()]

    def _get_closed_form_lr(self):
        d = self.end_factor - self.start_factor
        return [b * (self.start_factor + d * min(self.total_iters, self.last_epoch)
                     / self.total_iters) for b in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm up from max_lr/div_factor to max_lr, anneal to
    initial_lr/final_div_factor ('cos' or 'linear'; three_phase returns to the
    initial rate before the final anneal), cycling momentum (or Adam's beta1)
    the other way between max_momentum and base_momentum."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True,
                 base_momentum=0.85, max_momentum=0.95, div_factor=25.0,
                 final_div_factor=1e4, three_phase=False, last_epoch=-1):
        _check_optimizer("OneCycleLR", optimizer)
        _check_last_epoch("OneCycleLR", last_epoch)
        with _restoring(optimizer):  # max_lr, initial_lr and momentum are written below
            self._setup(optimizer, max_lr, total_steps, epochs, steps_per_epoch, pct_start,
                        anneal_strategy, cycle_momentum, base_momentum, max_momentum,
                        div_factor, final_div_factor, three_phase, last_epoch)

    def _setup(self, optimizer, max_lr, total_steps, epochs, steps_per_epoch, pct_start,
               anneal_strategy, cycle_momentum, base_momentum, max_momentum, div_factor,
               final_div_factor, three_phase, last_epoch):
        self.optimizer = optimizer
        if total_steps is not None:
            self.total_steps = _positive_int("OneCycleLR", "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_positive_int("OneCycleLR", "epochs", epochs)
                                * _positive_int("OneCycleLR", "steps_per_epoch",
                                                steps_per_epoch))
        else:
            raise ValueError("OneCycleLR: you must define either total_steps OR "
                             "(epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: expected a float between 0 and 1 pct_start, "
                             f"got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        n = self.total_steps
        up = float(pct_start * n) - 1
        if three_phase:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (float(2 * pct_start * n) - 2, "max_lr", "initial_lr",
                             "base_momentum", "max_momentum"),
                            (n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        groups = optimizer.param_groups
        max_lrs = _per_group("max_lr", max_lr, groups)
        if last_epoch == -1:
            for m, group in zip(max_lrs, groups):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"OneCycleLR: {type(optimizer).__name__} has neither momentum "
                                 "nor betas to cycle; pass cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            if last_epoch == -1:
                for hi, lo, group in zip(_per_group("max_momentum", max_momentum, groups),
                                         _per_group("base_momentum", base_momentum, groups),
                                         groups):
                    self._set_momentum(group, hi)
                    group["max_momentum"] = hi
                    group["base_momentum"] = lo
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        """The rates for last_epoch; sets the groups' momentum (or beta1) as it goes."""
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times; the specified number "
                             f"of total steps is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
                if step <= end or i == len(self._phases) - 1:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[lr0], group[lr1], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[m0], group[m1], pct))
                    break
                start = end
        return lrs


def _per_group(name, value, groups):
    if isinstance(value, (list, tuple)):
        if len(value) != len(groups):
            raise ValueError(f"OneCycleLR: {name} must have one value per parameter group: "
                             f"{len(value)} values, {len(groups)} groups")
        return list(value)
    return [value] * len(groups)
