"""RMSprop, PyTorch's torch.optim.RMSprop."""
from __future__ import annotations

from . import _arrays
from ._kernels import CENTERED, MAXIMIZE, MOMENTUM
from .optimizer import Optimizer, _nonneg

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop: a running mean of squared gradients (alpha), centered, momentum,
    L2 weight decay, maximize."""

    _state_keys = ("step", "square_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay,
                                      maximize=maximize))

    def _check(self, group):
        _nonneg("RMSprop", group, "lr", "eps", "momentum", "weight_decay", "alpha")
        if group["alpha"] > 1:
            # PyTorch takes it: the running mean then subtracts squared gradients, goes
            # negative, and its square root turns the parameters into NaN.
            raise ValueError(f"RMSprop: invalid alpha value: {group['alpha']!r} (expected "
                             "0 <= alpha <= 1)")

    def _update(self, group, p, g, state):
        if not state:
            state["step"] = self._new_step()
            state["square_avg"] = self._zeros(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = self._zeros(p)
            if group["centered"]:
                state["grad_avg"] = self._zeros(p)
        self._advance(state["step"])
        flags = MAXIMIZE if group["maximize"] else 0
        gavg = mbuf = None
        if group["centered"]:
            flags |= CENTERED
            gavg = self._state(state, "grad_avg", p)
        if group["momentum"] > 0:
            flags |= MOMENTUM
            mbuf = self._state(state, "momentum_buffer", p)
        alpha = group["alpha"]
        scalars = (alpha, 1 - alpha, group["eps"], group["weight_decay"], group["momentum"],
                   -group["lr"])
        self._run("rmsprop", _arrays.rmsprop, p, g, scalars, flags,
                  (state["square_avg"].data, gavg, mbuf))

    def _state(self, state, key, p):
        # A group's options may change after the first step (momentum switched on):
        # the buffer then starts at zero, as PyTorch's would be missing and fail.
        if key not in state:
            state[key] = self._zeros(p)
        return state[key].data
