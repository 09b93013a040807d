"""Reverse-mode autodiff: grad mode, the graph node, the backward run, and on top of
them gg.autograd.functional. The engine knows no op by name.

grad_mode.py  whether ops record (no_grad, enable_grad, set_grad_enabled)
anomaly.py    anomaly mode: forward stacks on nodes, NaN/inf checks (detect_anomaly)
function.py   the graph node: Function, apply, saved values, graph introspection
engine.py     the backward run: backward() and grad()
functional.py vjp, jvp, jacobian, hessian, hvp, vhp, built on grad()
oom.py        out of memory: name the op, free the failed step inside the caller's except
"""
from __future__ import annotations

import sys
import types

from . import anomaly, engine, function, grad_mode  # noqa: F401
from .anomaly import (detect_anomaly, is_anomaly_check_nan_enabled,  # noqa: F401
                      is_anomaly_enabled, set_detect_anomaly)
from .engine import backward, grad
from .oom import handle_out_of_memory  # noqa: F401
from .function import OPS, AccumulateGrad, Function, _nograd_views, _wrap  # noqa: F401
from .grad_mode import _mode, enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401

__all__ = ["Function", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "backward", "grad", "OPS", "functional", "detect_anomaly",
           "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "handle_out_of_memory"]

Tensor = None  # set by gpugrad.tensor, which imports this package first


class _Package(types.ModuleType):
    """gpugrad.tensor sets `autograd.Tensor` once, when the class exists; the modules
    that test `isinstance(x, Tensor)` on the hot path keep it as a plain global."""

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name == "Tensor":
            for m in (function, engine, functional):
                m.Tensor = value


from . import functional  # noqa: E402

sys.modules[__name__].__class__ = _Package
