"""Derivatives of whole functions, on top of grad(): PyTorch's torch.autograd.functional.

`func` takes Tensors and returns a Tensor or a tuple of Tensors; `inputs` (and `v`)
are a Tensor or a tuple of Tensors, and each result comes back in the same form
(a Tensor for a Tensor, a tuple for a tuple), as in PyTorch. Every function runs
`func` with recording on, on fresh copies of the inputs, and returns results
without history unless `create_graph=True`, when they can be differentiated again.

`strict=True` raises where an output does not depend on an input (PyTorch's rule);
otherwise that part of the result is zeros, its true value. gpugrad records no
graph for a first gradient that does not depend on the inputs at all (of relu or
abs alone), so where PyTorch's strict mode checks that a Jacobian "requires grad"
(hessian, vhp, hvp, and create_graph=True results) gpugrad raises for such a
function too, where PyTorch would let its zeros through.
"""
from __future__ import annotations

from ..errors import DeviceError, DtypeError, ShapeError
from .engine import grad
from .function import _wrap
from .grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

Tensor = None  # set by gpugrad.tensor through the package


# ---- arguments and results ----------------------------------------------------
def _as_tuple(x, what, fn):
    """(whether x was a tuple, x as a tuple of Tensors). A list is refused, as in
    PyTorch: a tuple of results mirrors a tuple of arguments, nothing else."""
    if isinstance(x, Tensor):
        return False, (x,)
    if isinstance(x, tuple):
        for i, t in enumerate(x):
            if not isinstance(t, Tensor):
                raise TypeError(f"{fn}: {what} must be a Tensor or a tuple of Tensors; "
                                f"element {i} is a {type(t).__name__}")
        return True, x
    raise TypeError(f"{fn}: {what} must be a Tensor or a tuple of Tensors, got a "
                    f"{type(x).__name__}")


def _fresh(inputs, create_graph):
    """New Tensor objects for the inputs, so that grad() tells the arguments apart
    from the same tensors captured by func. With create_graph an input's history is
    kept (a recorded reshape to its own shape), else each is a detached leaf."""
    return tuple(t.reshape(t.shape) if create_graph and t.requires_grad
                 else t.detach().requires_grad_(True) for t in inputs)


def _vector(v, like, like_tuple, fn, role):
    """v as a tuple matching `like` (the outputs for vjp, the inputs otherwise):
    one Tensor per entry, of the same shape, dtype and device."""
    _, v = _as_tuple(v, "v", fn)
    if len(v) != len(like):
        raise RuntimeError(f"{fn}: v must hold one Tensor per {role}: got {len(v)} for "
                           f"{len(like)} {role}s" if like_tuple else
                           f"{fn}: v must be a single Tensor (the {role} is one), got "
                           f"a tuple of {len(v)}")
    for i, (a, b) in enumerate(zip(v, like)):
        where = f"v[{i}]" if like_tuple else "v"
        if a.shape != b.shape:
            raise ShapeError(f"{fn}: {where} has shape {tuple(a.shape)} but {role} {i} "
                             f"has shape {tuple(b.shape)}")
        if a.dtype != b.dtype:
            raise DtypeError(f"{fn}: {where} has dtype {a.dtype} but {role} {i} has dtype "
                             f"{b.dtype}; cast one with .to()")
        if a.device != b.device:
            raise DeviceError(f"{fn}: {where} is on {a.device} but {role} {i} is on "
                              f"{b.device}; move one with .to()")
    return v


def _no_vector(ts, fn, role):
    """v may be left out only where it has one element: it is then 1."""
    if len(ts) != 1 or ts[0].numel() != 1:
        raise ShapeError(f"{fn}: v can be None only when the {role} is a single Tensor "
                         f"with one element; got {len(ts)} {role}(s) of shapes "
                         f"{[tuple(t.shape) for t in ts]}")


def _check_outputs(outputs, fn, strict):
    if strict:
        for i, o in enumerate(outputs):
            if not o.requires_grad:
                raise RuntimeError(
                    f"{fn}: output {i} of the function does not require grad: with "
                    "strict=True every output must be computed differentiably from the "
                    "inputs")


def _single_output(outputs, out_tuple, fn):
    """hessian, vhp and hvp take functions of one scalar."""
    if out_tuple or outputs[0].numel() != 1:
        got = (f"a tuple of {len(outputs)}" if out_tuple
               else f"a Tensor of shape {tuple(outputs[0].shape)}")
        raise (ShapeError if not out_tuple else RuntimeError)(
            f"{fn}: the function must return a single Tensor with one element, got {got}")


def _grads(outputs, inputs, seeds=None, create_graph=False, retain_graph=None):
    """grad() over the outputs that have a graph (the rest contribute nothing);
    None for an input none of them reaches."""
    if seeds is None:
        seeds = (None,) * len(outputs)
    pairs = [(o, s) for o, s in zip(outputs, seeds) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad([o for o, _ in pairs], list(inputs), [s for _, s in pairs],
                retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)


def _zeros_like(t, requires_grad=False):
    be = t._backend
    return _wrap(be.xp.zeros(t._data.shape, t._data.dtype), be, None, 0, requires_grad)


def _fill(grads, refs, fn, strict, create_graph, missing, constant):
    """Zeros (shaped like refs) for the gradients that are None; with strict, an
    error instead, and with strict and create_graph, also for a gradient without
    graph. missing/constant: the error for input i, as a format string."""
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: " + missing.format(i=i) +
                                   "; strict=True does not allow that")
            g = _zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(f"{fn}: " + constant.format(i=i) +
                               "; strict=True with create_graph=True does not allow that")
        out.append(g)
    return tuple(out)


def _finish(ts, create_graph):
    """Results without history unless the caller asked for a graph."""
    return tuple(ts) if create_graph else tuple(t.detach() for t in ts)


def _check_strategy(fn, name, strategy, vectorize):
    if strategy == "forward-mode":
        raise NotImplementedError(
            f"{fn}: {name}='forward-mode' is not implemented: gpugrad has no forward-mode "
            f"AD; use {name}='reverse-mode' (the default), which gives the same result")
    if strategy != "reverse-mode":
        raise ValueError(f"{fn}: {name} must be 'reverse-mode' or 'forward-mode', got "
                         f"{strategy!r}")
    if vectorize:
        raise NotImplementedError(
            f"{fn}: vectorize=True is not implemented: gpugrad has no batched gradients; "
            "vectorize=False (the default) computes the same result one row at a time")


_INDEPENDENT = "the output is independent of input {i}"
_CONSTANT_JACOBIAN = "the Jacobian with respect to input {i} does not depend on the inputs"


# ---- the six functions ----------------------------------------------------------
def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product, by one reverse pass."""
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _fresh(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "the function's output", "vjp")
        _check_outputs(outputs, "vjp", strict)
        if v is None:
            _no_vector(outputs, "vjp", "output")
        else:
            v = _vector(v, outputs, out_tuple, "vjp", "output")
    res = _grads(outputs, inputs, v, create_graph)
    res = _fill(res, inputs, "vjp", strict, create_graph, _INDEPENDENT, _CONSTANT_JACOBIAN)
    outputs, res = _finish(outputs, create_graph), _finish(res, create_graph)
    return (outputs if out_tuple else outputs[0]), (res if in_tuple else res[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, forward direction.

    gpugrad has reverse mode only, so this uses the double-backward identity: with
    u a dummy gradient for the outputs, g(u) = J^T u is linear in u, and the
    gradient of g(u) . v with respect to u is J v. It costs two reverse passes
    (the first recorded), as PyTorch's torch.autograd.functional.jvp does.
    """
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _fresh(inputs, create_graph)
        if v is None:
            _no_vector(inputs, "jvp", "input")
        else:
            v = _vector(v, inputs, in_tuple, "jvp", "input")
        out_tuple, outputs = _as_tuple(func(*inputs), "the function's output", "jvp")
        _check_outputs(outputs, "jvp", strict)
        for i, o in enumerate(outputs):
            if o.dtype.kind not in "fc":  # u below must require grad (PyTorch raises too)
                raise RuntimeError(f"jvp: output {i} has dtype {o.dtype}; only float "
                                   "outputs have a Jacobian-vector product")
        # J^T u is linear in u, so u's value never matters: zeros keep NaN and inf out.
        u = tuple(_zeros_like(o, requires_grad=True) for o in outputs)
        g = _grads(outputs, inputs, u, create_graph=True)
        if strict:
            for i, gi in enumerate(g):
                if gi is None:
                    raise RuntimeError(f"jvp: {_INDEPENDENT.format(i=i)}; strict=True does "
                                       "not allow that")
                if not gi.requires_grad:
                    raise RuntimeError(f"jvp: the gradient with respect to input {i} does "
                                       "not depend on the output's gradient; strict=True "
                                       "does not allow that")
    res = _grads(g, u, v, create_graph)
    res = _fill(res, outputs, "jvp", strict, create_graph,
                "the gradient with respect to the inputs is independent of output {i}",
                _CONSTANT_JACOBIAN)
    outputs, res = _finish(outputs, create_graph), _finish(res, create_graph)
    return (outputs if out_tuple else outputs[0]), (res if out_tuple else res[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of func at inputs, one row (one reverse pass) per output element.

    J[i][j] has shape outputs[i].shape + inputs[j].shape and inputs[j]'s dtype; a
    single output or input drops that level of nesting, as in PyTorch.
    """
    _check_strategy("jacobian", "strategy", strategy, vectorize)
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _fresh(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "the function's output", "jacobian")
        _check_outputs(outputs, "jacobian", strict)
        jac = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]
            n = out.numel()
            for k in range(n):
                grads = _grads((out,), inputs, (_one_hot(out, k),), create_graph,
                               retain_graph=True)
                for j, g in enumerate(grads):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"jacobian: output {i} is independent of "
                                               f"input {j}; strict=True does not allow that")
                        g = _zeros_like(inputs[j])
                    elif strict and create_graph and not g.requires_grad:
                        raise RuntimeError(
                            f"jacobian: the Jacobian of output {i} with respect to input {j}"
                            " does not depend on the inputs; strict=True with "
                            "create_graph=True does not allow that")
                    rows[j].append(g)
            jac.append(tuple(_assemble(r, out, x) for r, x in zip(rows, inputs)))
    jac = tuple(_finish(row, create_graph) for row in jac)
    if not in_tuple:
        jac = tuple(row[0] for row in jac)
    return jac if out_tuple else jac[0]


def _one_hot(out, k):
    """A seed that picks element k of out (flat order): row k of the Jacobian. Fresh
    each time: a gradient may be the seed itself (for an identity, say)."""
    be = out._backend
    e = be.xp.zeros(out._data.size, out._data.dtype)
    e[k] = 1
    return _wrap(e.reshape(out._data.shape), be)


def _assemble(rows, out, x):
    """Rows (one per element of out, each shaped like x) as out.shape + x.shape."""
    shape = tuple(out.shape) + tuple(x.shape)
    if not rows:  # an output with no elements: an empty Jacobian
        return _wrap(x._backend.xp.zeros(shape, x._data.dtype), x._backend)
    from ..ops import stack  # the ops are built on this package: imported when used
    return stack(rows).reshape(shape)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar func: the Jacobian of its gradient.

    H[i][j] has shape inputs[i].shape + inputs[j].shape; a single input gives one
    Tensor, as in PyTorch.
    """
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    _check_strategy("hessian", "outer_jacobian_strategy", outer_jacobian_strategy, vectorize)

    def scalar(*xs):
        out_tuple, outs = _as_tuple(func(*xs), "the function's output", "hessian")
        _check_outputs(outs, "hessian", strict)
        _single_output(outs, out_tuple, "hessian")
        return outs[0].reshape(())

    def gradient(*xs):
        g = jacobian(scalar, xs, create_graph=True)
        if strict:
            for i, gi in enumerate(g):
                if not gi.requires_grad:
                    raise RuntimeError(
                        f"hessian: the gradient with respect to input {i} does not depend "
                        "on the inputs (a linear function, say); strict=True does not "
                        "allow that")
        return g

    h = jacobian(gradient, inputs, create_graph=create_graph, strict=strict)
    return h if in_tuple else h[0][0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar func: the gradient of (grad . v)."""
    return _hessian_product("vhp", func, inputs, v, create_graph, strict)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar func, by the double-backward identity (as
    jvp): for a twice continuously differentiable func it equals vhp, which is cheaper."""
    return _hessian_product("hvp", func, inputs, v, create_graph, strict)


def _hessian_product(fn, func, inputs, v, create_graph, strict):
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", fn)
        inputs = _fresh(inputs, create_graph)
        if v is None:
            _no_vector(inputs, fn, "input")
        else:
            v = _vector(v, inputs, in_tuple, fn, "input")
        out_tuple, outputs = _as_tuple(func(*inputs), "the function's output", fn)
        _check_outputs(outputs, fn, strict)
        _single_output(outputs, out_tuple, fn)
        jac = _grads(outputs, inputs, create_graph=True)
        if strict:
            for i, g in enumerate(jac):
                if g is None or not g.requires_grad:
                    raise RuntimeError(
                        f"{fn}: the gradient with respect to input {i} does not depend on "
                        "the inputs (a linear function, say); strict=True does not allow "
                        "that")
        if fn == "hvp":
            # H v = d/du [d/dx (g . u)] . v, with u a dummy direction (as in jvp).
            u = tuple(_zeros_like(x, requires_grad=True) for x in inputs)
            back = _grads(jac, inputs, u, create_graph=True)
    res = _grads(back, u, v, create_graph) if fn == "hvp" else \
        _grads(jac, inputs, v, create_graph)
    res = _fill(res, inputs, fn, strict, create_graph,
                "the Hessian is independent of input {i}",
                "the Hessian with respect to input {i} does not depend on the inputs")
    outputs, res = _finish(outputs, create_graph), _finish(res, create_graph)
    return (outputs if out_tuple else outputs[0]), (res if in_tuple else res[0])

