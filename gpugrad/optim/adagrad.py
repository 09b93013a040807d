"""Adagrad, PyTorch's torch.optim.Adagrad."""
from __future__ import annotations

from . import _arrays
from ._kernels import MAXIMIZE
from .optimizer import Optimizer, _nonneg

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad: steps scaled by the root of the summed squared gradients; lr_decay,
    L2 weight decay, initial_accumulator_value, maximize. As in PyTorch, its state
    exists from construction (add_param_group creates it too)."""

    _state_keys = ("step", "sum")

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, *, maximize=False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize))

    def _check(self, group):
        _nonneg("Adagrad", group, "lr", "lr_decay", "weight_decay",
                "initial_accumulator_value", "eps")

    def _init_group(self, group):
        for p in group["params"]:
            self._init_state(self.state[p], group, p)

    def _init_state(self, state, group, p):
        """Fill an empty state dict: step 0 and the accumulator at its initial value."""
        if not state:
            state["step"] = self._new_step()
            state["sum"] = self._zeros(p, group["initial_accumulator_value"])

    def _update(self, group, p, g, state):
        # State dropped by a load_state_dict without it: fill the dict that step() keeps
        # (filling self.state[p] instead left this one empty, a KeyError on 'step').
        self._init_state(state, group, p)
        step = self._advance(state["step"])
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        flags = MAXIMIZE if group["maximize"] else 0
        scalars = (group["weight_decay"], group["eps"], -clr)
        self._run("adagrad", _arrays.adagrad, p, g, scalars, flags, (state["sum"].data,))
