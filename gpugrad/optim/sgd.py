"""Stochastic gradient descent, PyTorch's torch.optim.SGD."""
from __future__ import annotations

from . import _arrays
from ._kernels import FIRST, MAXIMIZE, MOMENTUM, NESTEROV
from .optimizer import Optimizer, _nonneg, _real

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with momentum (PyTorch's form: the buffer starts as the first gradient),
    dampening, Nesterov momentum, L2 weight decay, maximize."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _check(self, group):
        _nonneg("SGD", group, "lr", "momentum", "weight_decay")
        _real("dampening", group["dampening"], "SGD")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: Nesterov momentum requires a momentum and zero dampening "
                             f"(got momentum={group['momentum']!r}, "
                             f"dampening={group['dampening']!r})")

    def _update(self, group, p, g, state):
        flags = MAXIMIZE if group["maximize"] else 0
        mbuf = None
        if group["momentum"] != 0:
            flags |= MOMENTUM
            if state.get("momentum_buffer") is None:
                state["momentum_buffer"] = self._zeros(p)
                flags |= FIRST
            if group["nesterov"]:
                flags |= NESTEROV
            mbuf = state["momentum_buffer"].data
        scalars = (-group["lr"], group["momentum"], 1 - group["dampening"],
                   group["weight_decay"])
        self._run("sgd", _arrays.sgd, p, g, scalars, flags, (mbuf,))
