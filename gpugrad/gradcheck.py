"""Numerical gradient checks: analytic gradients against float64 central differences."""
from __future__ import annotations

import numpy as np

from .autograd import enable_grad, grad
from .errors import DtypeError
from .tensor import Tensor, tensor


class GradcheckError(AssertionError):
    """A gradient check failed: the message names the worst element."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return out if isinstance(out, tuple) else (out,)


def _real(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Compare the gradient of fn at inputs with central differences.

    Each output is projected on a fixed random direction u (so one backward
    gives u^T J), and every element of every input that requires grad is
    perturbed by +-eps. Returns True, or raises GradcheckError naming the
    worst element.
    """
    if not callable(fn):
        raise TypeError(f"gradcheck: fn must be callable, got {type(fn).__name__}")
    # A negative tolerance would pass every gradient (the ratio below turns negative).
    for name, v in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        positive = name == "eps"
        if not _real(v) or (v <= 0 if positive else v < 0):
            raise ValueError(f"gradcheck: {name} must be a "
                             f"{'positive' if positive else 'non-negative'} number, got {v!r}")
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    for i in wrt:
        if inputs[i].dtype != np.float64:
            raise DtypeError(f"gradcheck: input {i} is {inputs[i].dtype}; central differences "
                             "need float64 inputs (use .double())")
    rng = np.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    # Every float output is differenced, also one without a graph: its analytic
    # gradient is zero, so an output that silently lost its graph fails the check.
    proj = [k for k, o in enumerate(outs) if isinstance(o, Tensor) and o.dtype.kind == "f"]
    if not proj:
        raise ValueError("gradcheck: fn returned no floating point Tensor")
    us = {k: rng.standard_normal(outs[k].shape) for k in proj}
    diff = [k for k in proj if outs[k].requires_grad]
    analytic = [None] * len(wrt)
    if diff:
        seeds = [tensor(us[k], dtype=outs[k].dtype, device=outs[k].device) for k in diff]
        analytic = grad([outs[k] for k in diff], [inputs[i] for i in wrt], seeds,
                        allow_unused=True)

    def projected():
        # Recording stays on: fn may itself call grad() (checks of second derivatives).
        now = _outputs(fn, inputs)
        return sum(float((now[k].numpy().astype(np.float64) * us[k]).sum()) for k in proj)

    worst = None
    for k, i in enumerate(wrt):
        x = inputs[i]
        a = np.zeros(x.shape) if analytic[k] is None else analytic[k].numpy()
        num = np.zeros(x.shape)
        data = x.data  # raw writes: the perturbation must not bump the version
        for j in np.ndindex(*x.shape):
            orig = data[j].item()
            try:
                data[j] = orig + eps
                fp = projected()
                data[j] = orig - eps
                fm = projected()
            finally:  # fn may raise: the caller's input must come back as it was
                data[j] = orig
            num[j] = (fp - fm) / (2 * eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.abs(a - num) / (atol + rtol * np.abs(num))
        ratio = np.where(np.isfinite(ratio), ratio, np.inf)  # NaN never passes
        ratio = np.where(a == num, 0.0, ratio)  # exact agreement passes any tolerance
        if ratio.size:
            j = np.unravel_index(np.argmax(ratio), ratio.shape)
            if worst is None or ratio[j] > worst[0]:
                worst = (ratio[j], i, j, a[j], num[j])
    if worst is not None and not worst[0] <= 1.0:
        _, i, j, a, n = worst
        raise GradcheckError(
            f"gradcheck: input {i}, element {tuple(int(v) for v in j)}: analytic {a:.10g} vs "
            f"numeric {n:.10g} (|diff| {abs(a - n):.3g} > atol {atol} + rtol {rtol} * |numeric|)")
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, seed=1):
    """gradcheck of the gradient itself: second derivatives through create_graph."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(
            tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=o.device,
                   requires_grad=True) for o in outs)
    n = len(inputs)

    def first(*args):
        xs, gs = args[:n], args[n:]
        with enable_grad():  # gradcheck evaluates this under no_grad; it needs a graph
            gr = grad(_outputs(fn, xs), [x for x in xs if isinstance(x, Tensor) and x.requires_grad],
                      list(gs), create_graph=True, allow_unused=True)
        return tuple(g for g in gr if g is not None)

    return gradcheck(first, inputs + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     seed=seed)
