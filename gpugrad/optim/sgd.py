"""Stochastic gradient descent, PyTorch's torch.optim.SGD."""
from __future__ import annotations

from ..autograd import no_grad
from . import _arrays
from ._kernels import FIRST, MAXIMIZE, MOMENTUM, NESTEROV
from .optimizer import _CHUNK_BYTES, Optimizer, _array_module, _fused, _nonneg, _real

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

    def _step_group(self, group):
        """Plain SGD (no momentum, weight decay or maximize) of a parameter that fits one
        slice of Optimizer._run, on a backend without fused kernels (the host), is
        `p += g * (-lr)` on the arrays: the general update's two roundings (lr rounded
        to p's dtype, then the product, then the sum) without its per-parameter set-up,
        the group's options read once, and without no_grad (2 µs), since nothing here
        is a Tensor op. Everything else takes the general update."""
        if group["momentum"] != 0 or group["weight_decay"] != 0 or group["maximize"]:
            return super()._step_group(group)
        neg_lr = -group["lr"]
        dtype = scale = None
        for p in group["params"]:
            g = p.grad
            if g is None:  # as in PyTorch: no gradient, no update, no state
                continue
            a = p.data
            if a.nbytes <= _CHUNK_BYTES and not _fused(_array_module(p, a)):
                if a.dtype is not dtype:  # -lr in p's dtype, once per dtype in a row
                    dtype = a.dtype
                    scale = dtype.type(neg_lr)
                a += g.data * scale
                p.data = a  # bumps the version counter, as Optimizer._step_one does
            else:
                with no_grad():  # as Optimizer._step_group runs it
                    self._step_one(group, p)

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
