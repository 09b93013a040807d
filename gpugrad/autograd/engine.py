"""The backward run: backward() and grad().

The engine knows no op. It orders the nodes that lead to the roots with Kahn's
algorithm (iterative: a 100 000-op chain is fine), calls each node's rule once all
its consumers have delivered their gradients, and sums gradients where a value fed
several consumers.
"""
from __future__ import annotations

import sys
import threading

from ..errors import DeviceError, DtypeError, ShapeError
from .anomaly import _check_backward
from .function import _FREED, _wrap
from .grad_mode import _mode
from .oom import handle_out_of_memory

__all__ = ["backward", "grad"]

Tensor = None  # set by gpugrad.tensor through the package (it imports autograd first)
_grad_lock = threading.Lock()


# ---- backward ------------------------------------------------------------
# An edge is (node, output index, shape) for a non-leaf input and
# (leaf tensor, -1, shape) for a leaf; the shape checks what a rule returns.
# An argument that needs no gradient has a false edge: False for a Tensor, None
# for anything else (next_functions lists the Tensors), so the test is `if e`.

def _dependencies(roots, targets):
    """Reachable nodes -> number of consumer edges among them (Kahn's in-degrees).

    With targets (grad()), only nodes from which a target can be reached count:
    the rest contributes nothing and is never run.
    """
    deps = {}
    stack = []
    for r in roots:
        if r._node is not None and r._node not in deps:
            deps[r._node] = 0
            stack.append(r._node)
    while stack:  # one pass: discover nodes and count their consumers
        for e in stack.pop()._next:
            if e and e[1] >= 0:
                m = e[0]
                d = deps.get(m)
                if d is None:
                    deps[m] = 1
                    stack.append(m)
                else:
                    deps[m] = d + 1
    if targets is None:
        return deps
    consumers = {}
    for n in deps:
        for e in n._next:
            if e:
                consumers.setdefault(id(e[0]), []).append(n)
    needed = set()
    stack = []
    for t in targets:
        if t._node is None:
            stack.extend(consumers.get(id(t), ()))
        elif t._node in deps:  # a target the roots do not reach must not count
            stack.append(t._node)
    while stack:
        n = stack.pop()
        if n not in needed:
            needed.add(n)
            stack.extend(consumers.get(id(n), ()))
    deps = dict.fromkeys(needed, 0)
    for n in needed:
        for e in n._next:
            if e and e[1] >= 0 and e[0] in deps:
                deps[e[0]] += 1
    return deps


def _run(roots, root_grads, retain_graph, create_graph, targets=None):
    """The engine. With targets, returns their gradients instead of filling .grad.

    Without create_graph nothing of the backward pass is recorded, so the
    gradients flow as raw arrays between rules that accept them
    (Function.array_backward); they become Tensors only at a hook, a retained
    .grad, a rule written for Tensors alone, and at the end.
    """
    deps = _dependencies(roots, targets)
    results = leaf_pos = node_pos = None
    if targets is not None:
        results = [None] * len(targets)
        leaf_pos, node_pos = {}, {}
        for pos, t in enumerate(targets):
            if t._node is None:
                leaf_pos.setdefault(id(t), []).append(pos)
            else:
                node_pos.setdefault(t._node, []).append((t._idx, pos))
    arrays = not create_graph
    buffers = {}     # node -> gradients of its outputs, summed as they arrive
    leaf_grads = {}  # id(leaf) -> [leaf, summed gradient]
    # Arrays held elsewhere (the caller's seeds, retained .grads, .grads already
    # filled): a leaf's .grad must not alias them.
    seen = set()
    for g in root_grads:
        g = g._data
        seen.add(id(g))  # _mark, inline
        if g.base is not None:
            seen.add(id(g.base))

    prev = _mode.enabled, _mode.arrays, _mode.consume
    # The rules' floating-point warnings at the user's line, as the forwards' (one entry
    # per backend of the roots, usually one).
    entered = []
    for backend in ((roots[0]._backend,) if len(roots) == 1 else
                    {r._backend: None for r in roots}):
        if backend.float_state is not None:
            var, states = backend.float_state
            entered.append((var, var.set(states[var.get()])))
    _mode.enabled, _mode.arrays, _mode.consume = create_graph, arrays, not retain_graph
    # Anomaly mode (anomaly.py), read once per run: its checks are in the general
    # branch, so it turns the short one off. A rule's own ops (recorded with
    # create_graph) are not checked as forwards: the rule's result is, naming the node.
    check = _mode.anomaly and _mode.check_nan
    if check:
        _mode.check_nan = False
    try:
        for r, g in zip(roots, root_grads):
            if arrays:
                g = g._data
            if r._node is None:
                _to_leaf(leaf_grads, leaf_pos, r, g)
            else:
                _accumulate(buffers, r._node, r._idx, g, r._backend)
        if targets is not None and len(roots) == 1:
            # torch.autograd.grad of one output that no input depends on still runs
            # that output's hooks and retain_grad (with several outputs it runs none).
            n = roots[0]._node
            if n is not None and n not in deps and n in buffers and \
                    (n._out_hooks is not None or n._retain is not None):
                g = buffers.pop(n)
                _output_hooks(n, [g] if n._n_out == 1 else g, seen, arrays)
        # Only a root's node can have no consumer among the nodes reached from the roots.
        ready = []
        for r in roots:
            n = r._node
            if n is not None and deps.get(n) == 0 and \
                    (not ready or not any(n is m for m in ready)):
                ready.append(n)
        carried = None if arrays else Tensor
        # The common node of backward() without create_graph: one output, no hooks, no
        # retain_grad, one of gpugrad's array rules. It takes the short branch below,
        # which does what the general one does for such a node, without the tests.
        plain = arrays and results is None and not check
        while ready:
            node = ready.pop()
            if plain and node._plain:
                grads = buffers.pop(node, None)
                nxt = node._next
                if grads is None:
                    if not retain_graph and node._saved is not None:
                        node._saved = _FREED
                    for e in nxt:
                        if e and e[1] >= 0:
                            target = e[0]
                            d = deps[target]
                            if d == 1:
                                ready.append(target)
                            deps[target] = d - 1
                    continue
                saved = node._saved
                if saved is _FREED:
                    node.saved_tensors  # raises the retain_graph error
                gin = type(node).backward(node, grads)
                if type(gin) is not tuple:
                    gin = (gin,)
                if len(gin) != len(nxt):
                    raise RuntimeError(
                        f"{type(node).__name__}: backward returned {len(gin)} gradients, "
                        f"expected {len(nxt)} (one per argument of forward)")
                backend = node.backend
                carried = backend.array_type
                for e, g in zip(nxt, gin):
                    if not e:
                        continue
                    target, idx, shape = e
                    if g is not None:
                        if type(g) is not carried:
                            g = _as_grad(g, backend, True, node)
                        if g.shape != shape:
                            raise ShapeError(
                                f"{type(node).__name__}: backward returned a gradient of "
                                f"shape {tuple(g.shape)} for an input of shape {shape}")
                        if idx < 0:
                            slot = leaf_grads.get(id(target))
                            if slot is None:
                                leaf_grads[id(target)] = [target, g]
                            else:
                                slot[1] = _sum(slot[1], g, target._backend)
                            continue
                        if target._n_out == 1:
                            old = buffers.get(target)
                            buffers[target] = g if old is None else _sum(old, g, backend)
                        else:
                            _accumulate(buffers, target, idx, g, backend)
                    elif idx < 0:
                        continue
                    d = deps[target]
                    if d == 1:
                        ready.append(target)
                    deps[target] = d - 1
                if not retain_graph and saved is not None:
                    node._saved = _FREED  # the saved arrays go now, not with the graph
                continue
            backend = node.backend
            # A single-output node's buffer is its gradient; a multi-output
            # node's, a list with one slot per output.
            grads = buffers.pop(node, None)
            single = node._n_out == 1
            if grads is None and not single:
                grads = [None] * node._n_out
            if node._out_hooks is not None or node._retain is not None or node_pos is not None:
                grads = _node_extras(node, [grads] if single else grads, results, node_pos,
                                     seen, arrays)
                if single:
                    grads = grads[0]
            # `is None`, never `in`/`count`: those compare with ==, which for a
            # Tensor is an elementwise op (and on CUDA an error).
            if (grads is None if single else all(g is None for g in grads)) or \
                    (results is not None and not _useful(node, deps, leaf_pos)):
                gin = (None,) * len(node._next)
            else:
                if node._saved is _FREED:
                    node.saved_tensors  # raises the retain_graph error
                if single:
                    if arrays and not node.array_backward:  # a rule for Tensors only
                        grads = _wrap(grads, node._out_backend(0))
                    gin = type(node).backward(node, grads)
                else:
                    gin = type(node).backward(node, *_fill_grads(node, grads, arrays))
                if type(gin) is not tuple:
                    gin = (gin,)
                if len(gin) != len(node._next):
                    raise RuntimeError(
                        f"{type(node).__name__}: backward returned {len(gin)} gradients, "
                        f"expected {len(node._next)} (one per argument of forward)")
                if not node._own_rule:
                    gin = _user_grads(node, gin, seen, arrays)
                if check:
                    _check_backward(node, gin, grads)
            if arrays:
                carried = backend.array_type
            for e, g in zip(node._next, gin):
                if not e:
                    continue
                target, idx, shape = e
                if g is not None:
                    if type(g) is not carried or (not arrays and g._backend is not backend):
                        g = _as_grad(g, backend, arrays, node)
                    if g.shape != shape:
                        raise ShapeError(
                            f"{type(node).__name__}: backward returned a gradient of shape "
                            f"{tuple(g.shape)} for an input of shape {shape}")
                    if idx < 0:
                        _to_leaf(leaf_grads, leaf_pos, target, g)
                        continue
                elif idx < 0:
                    continue
                d = deps.get(target)
                if d is None:
                    continue
                if g is not None:
                    _accumulate(buffers, target, idx, g, backend)
                if d == 1:
                    ready.append(target)
                deps[target] = d - 1
            if not retain_graph and node._saved is not None:
                node._saved = _FREED
        # The loop's last gradients, dropped: a view they hold would count as a second
        # reference to a leaf gradient's base and cost _private a copy (W of x @ W.T).
        grads = gin = g = None
        if results is not None and arrays:
            results = [g if g is None or isinstance(g, Tensor) else _wrap(g, t._backend)
                       for g, t in zip(results, targets)]
        _finish_leaves(leaf_grads, leaf_pos, results, create_graph, seen, arrays)
        return results
    finally:
        _mode.enabled, _mode.arrays, _mode.consume = prev
        for var, token in reversed(entered):
            var.reset(token)
        if check:
            _mode.check_nan = True


def _node_extras(node, grads, results, node_pos, seen, arrays):
    """What a node's gradients meet besides its rule: hooks, retain_grad, and in
    grad() the requested outputs among its own."""
    if node._out_hooks is not None or node._retain is not None:
        _output_hooks(node, grads, seen, arrays)
    if node_pos is not None:
        for idx, pos in node_pos.get(node, ()):
            results[pos] = grads[idx]
    return grads


def _user_grads(node, gin, seen, arrays):
    """A user's rule's gradients, as the pass carries them, in their inputs' dtypes.

    A float gradient of another dtype is cast (as PyTorch does), anything else that is
    no number raises. Each is marked as held elsewhere: the rule may have returned an
    array it keeps (ctx.w, a saved constant), which must never become a .grad that a
    later backward adds into, nor pass on to one through a rule that hands g on.
    """
    out = []
    for e, g, dtype in zip(node._next, gin, node._in_dtypes):
        if g is not None and e:
            g = _as_grad(g, node.backend, arrays, node)
            if g.dtype != dtype:
                if g.dtype.kind not in "biufc":
                    raise DtypeError(f"{type(node).__name__}: backward returned a gradient of "
                                     f"dtype {g.dtype} for a {dtype} input")
                g = g.astype(dtype) if arrays else g.to(dtype)
            if g.shape != e[2]:
                g = _sum_to(g, e[2])
            _mark(seen, g if arrays else g._data)
        out.append(g)
    return tuple(out)


def _sum_to(g, shape):
    """A user's gradient of a shape that the input's shape broadcasts to (that of a
    broadcast output), summed down to the input's shape, as torch's engine does
    (validate_outputs: at::sum_to). Any other shape comes back as it is, for the
    caller's error. g is an array or, when recording, a Tensor (then the sum is too)."""
    gs = tuple(g.shape)
    lead = len(gs) - len(shape)
    if lead < 0 or any(s != 1 and s != d for s, d in zip(shape, gs[lead:])):
        return g
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and gs[lead + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def _fill_grads(node, grads, arrays):
    """A multi-output node's gradients, zeros for outputs that got none, as its rule
    takes them (Tensors for a rule written for Tensors alone)."""
    if any(g is None for g in grads):
        grads = [g if g is not None else _zeros(node._out_backend(j), shape, dtype, arrays)
                 for j, (g, (shape, dtype)) in enumerate(zip(grads, node._out_meta))]
    if arrays and not node.array_backward:
        grads = [_wrap(g, node._out_backend(j)) for j, g in enumerate(grads)]
    return grads


def _sum(a, b, backend):
    s = a + b
    if type(s) is not type(a):  # NumPy adds two 0-d arrays into a scalar
        s = backend.asarray(s)
    return s


def _accumulate(buffers, node, idx, g, backend):
    """Add g to the gradient of node's output idx; backend: the device g lives on."""
    if node._n_out == 1:
        old = buffers.get(node)
        buffers[node] = g if old is None else _sum(old, g, backend)
        return
    buf = buffers.get(node)
    if buf is None:
        buffers[node] = buf = [None] * node._n_out
    buf[idx] = g if buf[idx] is None else _sum(buf[idx], g, backend)


def _to_leaf(leaf_grads, leaf_pos, leaf, g):
    if leaf_pos is not None and id(leaf) not in leaf_pos:
        return  # grad(): not a requested input
    slot = leaf_grads.get(id(leaf))
    if slot is None:
        leaf_grads[id(leaf)] = [leaf, g]
    else:
        slot[1] = _sum(slot[1], g, leaf._backend)


def _useful(node, deps, leaf_pos):
    # In grad(), a target's own node is run only if it leads further.
    return any(e and ((e[1] >= 0 and e[0] in deps) or
                                  (e[1] < 0 and id(e[0]) in leaf_pos))
               for e in node._next)


def _as_grad(g, backend, arrays, node):
    """A rule's result as what the pass carries: an array of the backend (NumPy
    hands back 0-d results as scalars), or a Tensor when recording."""
    if isinstance(g, Tensor):
        if g._backend is not backend:
            raise DeviceError(f"{type(node).__name__}: backward returned a gradient on "
                              f"{g.device} for an input on {backend.device}; move it with .to()")
        return g._data if arrays else g
    if not backend.is_array(g):
        if getattr(g, "ndim", 0):  # another library's array: converting it would copy
            raise RuntimeError(f"{type(node).__name__}: backward returned a "
                               f"{type(g).__module__}.{type(g).__name__} for an input on "
                               f"{backend.device}")
        g = backend.asarray(g)  # a scalar, e.g. NumPy's for a 0-d result
    return g if arrays else _wrap(g, backend)


def _zeros(backend, shape, dtype, arrays):
    z = backend.xp.zeros(shape, dtype)
    return z if arrays else _wrap(z, backend)


def _output_hooks(node, grads, seen, arrays):
    """Tensor hooks and retain_grad on a node's outputs, once their sum is known; in
    grad() too, as PyTorch fills retained grads on any pass that reaches them."""
    hooks = node._out_hooks
    if hooks:
        for idx, fns in hooks.items():
            be = node._out_backend(idx)
            for fn in list(fns):  # a hook may remove itself
                g = grads[idx]
                if g is not None:
                    _mark(seen, g if arrays else g._data)  # the hook may keep it
                    r = fn(_wrap(g, be) if arrays else g)
                    if r is not None:
                        _check_hook_result(r, g if arrays else g._data, be)
                        grads[idx] = r = r._data if arrays else r
                        _mark(seen, r if arrays else r._data)  # the hook's caller may hold it
    retain = node._retain
    if retain:
        for idx, ref in retain.items():
            t = ref()
            g = grads[idx]
            if t is not None and g is not None:
                # A copy, as PyTorch's retain_grad makes: the gradient flows on, and
                # may reach a leaf, another retained tensor, or be the caller's seed.
                # With create_graph a recorded clone: the .grad keeps its history.
                g = _wrap(g.copy(), node._out_backend(idx)) if arrays else g.clone()
                with _grad_lock:
                    t.grad = g if t.grad is None else t.grad + g


def _check_hook_result(r, like, backend):
    """A hook's replacement must look like the gradient it replaces (like: an array)."""
    if not isinstance(r, Tensor) or r._backend is not backend or \
            r._data.shape != like.shape or r._data.dtype != like.dtype:
        got = (f"a {r.dtype} Tensor of shape {tuple(r.shape)} on {r.device}"
               if isinstance(r, Tensor) else type(r).__name__)
        cls = RuntimeError if not isinstance(r, Tensor) else DeviceError if \
            r._backend is not backend else ShapeError if r._data.shape != like.shape else \
            DtypeError
        raise cls(f"hook: must return None or a {like.dtype} Tensor of shape "
                  f"{tuple(like.shape)} on {backend.device} (the gradient's), got {got}")


def _mark(seen, arr):
    """Record arr (and the array it views) as held by something: a seed, a .grad."""
    seen.add(id(arr))
    if arr.base is not None:
        seen.add(id(arr.base))


def _private(arr, seen_arrays):
    """Whether arr's memory is reachable from nothing but this gradient.

    A rule may hand the same array to several inputs (seen_arrays). A view is
    private when it is the whole of a base referenced by this view alone: the
    reshape of a rule's fresh result (softmax_cross_entropy's gradient, say),
    which would otherwise cost a copy the size of the logits. A slice or a
    broadcast (read-only in NumPy, stride 0 in CuPy) is never a .grad of its
    own. Views collapse to the owning array in NumPy and CuPy, so two views of
    one base count each other.
    """
    base = arr.base
    if base is None:
        return id(arr) not in seen_arrays
    if arr.size != getattr(base, "size", -1) or not getattr(arr.flags, "writeable", True) or \
            _overlapping(arr):
        return False
    # References to base: the view, the local name, getrefcount's argument (as
    # counted by this interpreter: see _BASE_REFS).
    return id(base) not in seen_arrays and sys.getrefcount(base) <= _BASE_REFS


def _overlapping(arr):
    """Whether several elements share memory (a broadcast: stride 0), so that an
    in-place write through one changes others. NumPy marks its broadcasts read-only;
    CuPy's are writable."""
    return any(st == 0 and n > 1 for st, n in zip(arr.strides, arr.shape))


def _count_base_refs():
    """What sys.getrefcount reports, inside _private, for a base nothing else holds.
    Measured, not assumed: interpreters differ (3.14 borrows stack references)."""
    class View:
        pass
    v = View()
    v.base = View()  # held by v alone
    base = v.base
    return sys.getrefcount(base)


_BASE_REFS = _count_base_refs()


def _finish_leaves(leaf_grads, leaf_pos, results, create_graph, seen_arrays, arrays):
    for leaf, g in leaf_grads.values():
        if arrays:
            g = _wrap(g, leaf._backend)
        if leaf._hooks:
            for fn in list(leaf._hooks):  # a hook may remove itself
                _mark(seen_arrays, g._data)  # the hook may keep what it is given
                r = fn(g)
                if r is not None:
                    _check_hook_result(r, g._data, leaf._backend)
                    g = r
            _mark(seen_arrays, g._data)  # a replacement's caller may hold it too
        if results is not None:
            for pos in leaf_pos[id(leaf)]:
                results[pos] = g
            continue
        if leaf._grad is not None and not create_graph:
            with _grad_lock:
                old = leaf._grad
                if old is not None and getattr(old._data.flags, "writeable", True) and \
                        not _overlapping(old._data):
                    # In place, as PyTorch's AccumulateGrad: a reference to .grad taken
                    # before this backward sees the sum, and nothing is allocated.
                    try:
                        old._data += g._data
                    except ValueError:  # .data replaced by one of another shape
                        raise ShapeError(
                            f"backward: the .grad of a leaf of shape {tuple(leaf.shape)} has "
                            f"shape {tuple(old.shape)} (its .data was replaced by one of "
                            "another shape?); set .grad = None first") from None
                    old._vc[0] += 1
                    continue
        # A .grad must own its memory, so in-place use is safe: copy unless it is
        # provably private (PyTorch's AccumulateGrad steals on the same kind of
        # reference count). With create_graph the copy is a recorded clone.
        a = g._data
        if a.base is None:  # _private and _mark, inline for the common fresh array
            if id(a) in seen_arrays:
                g = g.clone() if create_graph else _wrap(a.copy(), g._backend)
                a = g._data
            seen_arrays.add(id(a))
        else:
            if not _private(a, seen_arrays):
                g = g.clone() if create_graph else _wrap(a.copy(), g._backend)
            _mark(seen_arrays, g._data)
        # ._grad, not the checking setter: the engine made g to the leaf's shape and
        # device. Locked: two threads may run backward into one leaf.
        with _grad_lock:
            leaf._grad = g if leaf._grad is None else leaf._grad + g


# ---- public entry points ----------------------------------------------------
def _seed(outputs, grad_outputs, what):
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, (list, tuple)):
        if len(grad_outputs) != len(outputs):
            raise RuntimeError(f"{what}: got {len(outputs)} outputs and {len(grad_outputs)} "
                               "gradients; pass one gradient (or None) per output")
    else:  # one gradient: a Tensor, an array or a number
        grad_outputs = [grad_outputs]
        if len(outputs) != 1:
            raise RuntimeError(f"{what}: got {len(outputs)} outputs and one gradient; pass "
                               "a list with one gradient (or None) per output")
    seeds = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not t._rg:
            raise RuntimeError(
                f"{what}: element {i} of the outputs does not require grad and has no "
                "graph (was it computed under no_grad, or from tensors with "
                "requires_grad=False?)")
        if g is None:
            if t._data.size != 1:
                raise ShapeError(
                    f"{what}: grad can be implicitly created only for scalar outputs; "
                    f"output {i} has shape {tuple(t.shape)}: pass gradient=/grad_outputs=")
            g = _ones_like(t)
        else:
            if not isinstance(g, Tensor):
                g = _seed_tensor(g, t, i, what)
            if g._backend is not t._backend:
                raise DeviceError(
                    f"{what}: gradient is on {g.device} but output {i} is on {t.device}")
            if g._data.shape != t._data.shape:
                raise ShapeError(
                    f"{what}: gradient of shape {tuple(g.shape)} does not match output {i} "
                    f"of shape {tuple(t.shape)}")
            if g._data.dtype != t._data.dtype:
                raise DtypeError(
                    f"{what}: gradient dtype {g.dtype} does not match output {i} dtype "
                    f"{t.dtype}")
        seeds.append(g)
    return seeds


def _seed_tensor(g, t, i, what):
    """A gradient given as an array or a number, on t's device in t's dtype. Arrays
    of another device, or of another float dtype, raise: nothing is copied or
    converted behind the caller's back."""
    backend = t._backend
    if backend.is_array(g):
        if g.dtype != t._data.dtype and g.dtype.kind == "f":
            raise DtypeError(f"{what}: gradient dtype {g.dtype} does not match output {i} "
                             f"dtype {t.dtype}")
    elif getattr(g, "ndim", 0):  # another library's or device's array (scalars convert)
        raise DeviceError(f"{what}: gradient for output {i} is a {type(g).__module__}."
                          f"{type(g).__name__} but the output is on {t.device}; pass a "
                          "Tensor on that device")
    return _wrap(backend.asarray(g, dtype=t._data.dtype), backend)


def _ones_like(t):
    """The implicit seed of a one-element output."""
    # empty + fill: both C calls, where NumPy's ones is Python around them
    g = t._backend.xp.empty(t._data.shape, t._data.dtype)
    g.fill(1)
    return _wrap(g, t._backend)


def _tensor_list(what, role, x):
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (list, tuple)) and all(isinstance(t, Tensor) for t in x):
        return list(x)
    raise TypeError(f"{what}: {role} must be a Tensor or a sequence of Tensors, got "
                    f"{type(x).__name__}")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate d(tensors)/d(leaf) into every leaf's .grad."""
    if grad_tensors is None and isinstance(tensors, Tensor) and tensors._rg and \
            tensors._data.size == 1:  # loss.backward(): what _seed checks, passed
        tensors, seeds = [tensors], [_ones_like(tensors)]
    else:
        tensors = _tensor_list("backward", "tensors", tensors)
        seeds = _seed(tensors, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    try:
        _run(tensors, seeds, retain_graph, create_graph)
    except MemoryError as e:  # oom.py: note the node, free the pass's gradients
        del tensors, seeds  # the traceback keeps this frame: not the graph with it
        handle_out_of_memory(e)
        raise


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of outputs with respect to inputs, as a tuple; .grad is untouched."""
    outputs = _tensor_list("grad", "outputs", outputs)
    inputs = _tensor_list("grad", "inputs", inputs)
    for i, t in enumerate(inputs):
        if not t._rg:
            raise RuntimeError(f"grad: input {i} (shape {tuple(t.shape)}) does not require grad")
    seeds = _seed(outputs, grad_outputs, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    try:
        results = _run(outputs, seeds, retain_graph, create_graph, targets=inputs)
    except MemoryError as e:  # oom.py: note the node, free the pass's gradients
        del outputs, seeds  # the traceback keeps this frame: not the graph with it
        handle_out_of_memory(e)
        raise
    for i, g in enumerate(results):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {tuple(inputs[i].shape)}) was not used to compute "
                "the outputs; pass allow_unused=True if that is expected")
        if g is not None and _overlapping(g._data):  # the caller may write into it
            g = results[i] = g.clone() if create_graph else _wrap(g._data.copy(), g._backend)
        if g is not None and not create_graph and g._node is not None:
            results[i] = g.detach()
    return tuple(results)
