"""Adam and AdamW, PyTorch's torch.optim.Adam / AdamW."""
from __future__ import annotations


from . import _arrays
from ._kernels import AMSGRAD, DECOUPLED, MAXIMIZE
from .optimizer import Optimizer, _nonneg, _real

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam with L2 weight decay added to the gradient, amsgrad, maximize."""

    _decoupled = False
    _state_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _check(self, group):
        name = type(self).__name__
        _nonneg(name, group, "lr", "eps", "weight_decay")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, b in enumerate(betas):
            if not 0.0 <= _real(f"betas[{i}]", b, name) < 1.0:
                raise ValueError(f"{name}: invalid beta parameter at index {i}: {b!r} "
                                 "(expected 0 <= beta < 1)")
        group["betas"] = tuple(betas)

    def _update(self, group, p, g, state):
        if not state:
            state["step"] = self._new_step()
            state["exp_avg"] = self._zeros(p)
            state["exp_avg_sq"] = self._zeros(p)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            # First step, or amsgrad switched on later (a KeyError after the step count
            # had moved, before): the maximum starts at zero, so it starts at exp_avg_sq.
            state["max_exp_avg_sq"] = self._zeros(p)
        step = self._advance(state["step"])
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        flags = MAXIMIZE if group["maximize"] else 0
        decay = 1.0
        if self._decoupled and wd != 0:
            flags |= DECOUPLED
            decay, wd = 1 - lr * wd, 0.0
        vmax = None
        if group["amsgrad"]:
            flags |= AMSGRAD
            vmax = state["max_exp_avg_sq"].data
        # PyTorch's host arithmetic, in double, then rounded to the parameter's dtype.
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        scalars = (decay, wd, 1 - beta1, beta2, 1 - beta2, bias_correction2 ** 0.5,
                   group["eps"], -(lr / bias_correction1))
        self._run("adam", _arrays.adam, p, g, scalars, flags,
                  (state["exp_avg"].data, state["exp_avg_sq"].data, vmax))


class AdamW(Adam):
    """Adam with decoupled weight decay: the parameter shrinks by lr * weight_decay."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)


