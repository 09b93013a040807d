"""The reverse-mode engine: Function (one node of the graph), grad mode, backward.

The engine knows no op. A node is an instance of a Function subclass; it holds
edges to the nodes (or leaf tensors) of its inputs and whatever its forward
chose to save. `backward` orders the nodes that lead to the roots with Kahn's
algorithm (iterative: a 100 000-op chain is fine), calls each node's rule once
all its consumers have delivered their gradients, and sums gradients where a
value fed several consumers.
"""
from __future__ import annotations

import functools
import inspect
import sys
import threading
import weakref

__all__ = ["Function", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "backward", "grad", "OPS"]

Tensor = None  # set by gpugrad.tensor (it imports this module first)

# Every op that gpugrad itself defines, by name: the tests walk this table and
# fail when an op has no gradient check.
OPS: dict[str, type] = {}


# ---- grad mode ----------------------------------------------------------
class _Mode(threading.local):
    enabled = True
    arrays = False  # a backward pass that records nothing is running array rules


_mode = _Mode()


def is_grad_enabled() -> bool:
    return _mode.enabled


class set_grad_enabled:
    """Sets grad mode: for a `with` body, for a decorated function's calls, or, called
    as a plain function (`gg.set_grad_enabled(False)`), from here on, as in PyTorch."""

    _before = None  # the mode a plain call replaced, until a `with` or decorator takes it

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = []
        # The plain call takes effect now; a `with` or a decorator puts it back.
        self._before = _mode.enabled
        _mode.enabled = self.mode

    def __enter__(self):
        before, self._before = self._before, None
        self.prev.append(_mode.enabled if before is None else before)
        _mode.enabled = self.mode

    def __exit__(self, *exc):
        _mode.enabled = self.prev.pop()

    def __call__(self, fn):
        if self._before is not None:
            _mode.enabled, self._before = self._before, None
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: decorates a function, got "
                            f"{type(fn).__name__}")
        mode = self.mode
        if inspect.isgeneratorfunction(fn):
            # The body runs at each next(), after the call has returned: the mode is
            # set around every resumption of it instead (PyTorch does the same).
            @functools.wraps(fn)
            def gen_wrapper(*args, **kwargs):
                gen = fn(*args, **kwargs)
                resume, value = gen.send, None
                while True:
                    try:
                        with set_grad_enabled(mode):
                            item = resume(value)
                    except StopIteration as stop:
                        return stop.value
                    try:
                        value, resume = (yield item), gen.send
                    except GeneratorExit:
                        with set_grad_enabled(mode):
                            gen.close()
                        raise
                    except BaseException as e:  # thrown into the wrapper: into the body
                        value, resume = e, gen.throw
            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(set_grad_enabled):
    """`with gg.no_grad():` or `@gg.no_grad()` / `@gg.no_grad`: record nothing."""

    _mode_value = False

    def __new__(cls, fn=None):
        self = object.__new__(cls)
        if fn is not None:  # used as a bare decorator
            self.__init__()
            return self(fn)
        return self

    def __init__(self, fn=None):
        # Set directly, not through set_grad_enabled.__init__: an optimizer step
        # enters one of these per parameter.
        self.mode = self._mode_value
        self.prev = []


class enable_grad(no_grad):
    """Turn recording back on inside a no_grad region."""

    _mode_value = True


# ---- saved values --------------------------------------------------------
_FREED = object()
_grad_lock = threading.Lock()


class Function:
    """An op: `forward(ctx, *args)` and `backward(ctx, *grads)` side by side.

    Subclass it with two staticmethods and call `MyOp.apply(*args)`.
    `forward` receives the arguments as given (Tensors stay Tensors) and runs
    with recording off; it returns arrays or Tensors (or a tuple of them).
    `backward` receives one gradient Tensor per output and returns one
    gradient (Tensor or None) per argument of forward. It is written with
    Tensor ops, so with `create_graph=True` it is recorded and can itself be
    differentiated. The instance passed as `ctx` is the graph node.

    A class that sets `array_backward = True` promises a rule that runs on
    arrays as well as on Tensors (operators, and helpers that accept either).
    When the backward pass itself is not recorded (create_graph=False), the
    engine hands such a rule raw arrays, and `saved_tensors` returns arrays
    too: no Tensor, no node and no dispatch per operation of the rule. With
    create_graph=True the same rule runs on Tensors and is recorded, so one
    formula serves first and higher derivatives.
    """

    needs_input_grad: tuple = ()
    # Per-node state that most nodes never set: class defaults keep apply lean.
    _to_save = ()
    _saved = None
    _out_hooks = None
    _retain = None
    _out_backends = None  # set when an output lives on another device than the inputs
    # An op whose output may be a view of its first input shares that
    # input's version counter, so an in-place change through either is seen.
    view_of_input = False

    # gpugrad's own ops compute on arrays in forward, so grad mode need not be
    # switched off around it; a user's forward may use Tensor arithmetic.
    _array_forward = False
    array_backward = False
    # gpugrad's rules return fresh arrays (or pass on the gradient they were given);
    # a user's rule may return anything, also an array it keeps: see _user_grads.
    _own_rule = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("gpugrad.ops"):
            cls._array_forward = True
            cls._own_rule = True
            # gpugrad's rules are written for arrays and Tensors alike unless they opt out.
            if "array_backward" not in cls.__dict__:
                cls.array_backward = True
            if not cls.__name__.startswith("_"):  # a leading underscore marks a shared base
                OPS[cls.__name__] = cls
        else:
            # A user's subclass of one of gpugrad's ops keeps what it inherits, but a
            # forward or backward of its own is the user's: Tensor code, as documented.
            if "forward" in cls.__dict__:
                cls._array_forward = False
            if "backward" in cls.__dict__:
                cls._own_rule = False
                if "array_backward" not in cls.__dict__:
                    cls.array_backward = False

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    # -- ctx API --
    def save_for_backward(self, *objs):
        """Keep tensors, arrays (or Python scalars) for backward; freed after backward."""
        self._to_save = objs

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is None:  # nothing was saved (or forward has not returned yet)
            return ()
        if saved is _FREED:
            raise RuntimeError(
                f"{type(self).__name__}: trying to backward through the graph a second "
                "time (or to read saved tensors after they were freed). Saved values "
                "are released after backward; pass retain_graph=True to the first "
                "backward() or grad() call if you need to backward twice.")
        values, checks, objs, outputs = saved
        for i, vc, version in checks:
            if vc[0] != version:
                raise RuntimeError(
                    f"{type(self).__name__}: one of the tensors needed for gradient "
                    f"computation has been modified by an in-place operation: saved "
                    f"tensor {i} of shape {tuple(values[i].shape)} is at version {vc[0]}, "
                    f"expected version {version}. Avoid in-place changes (+=, t[i] = v, "
                    f".data = ...) to tensors used by a pending backward, or clone first.")
        if _mode.arrays and self.array_backward:
            return values
        out = []
        for i, obj in enumerate(objs):
            if outputs and i in outputs:  # rebuilt on demand, to avoid a node->output cycle
                j, vc = outputs[i]
                obj = _wrap(values[i], self._out_backend(j), self, j, True)
                obj._vc = vc
            elif obj is not None and not isinstance(obj, Tensor) and self.backend.is_array(obj):
                obj = _wrap(obj, self.backend)  # a constant
            out.append(obj)
        return tuple(out)

    def _out_backend(self, j):
        return self.backend if self._out_backends is None else self._out_backends[j]

    def input_shape(self, i):
        """The shape of input i if it needs a gradient (its graph edge keeps it), else None."""
        e = self._next[i]
        return None if e is None else e[2]

    def _resolve_saved(self, args, outs, raw=None):
        """Sort what save_for_backward was given, once: inputs stay Tensors (their
        versions recorded), outputs stay arrays (a Tensor would point back at this
        node), the rest are constants. Kept as the values an array rule reads, the
        version checks, and what a Tensor rule's values are built from."""
        objs = self._to_save
        values = list(objs)
        checks = []
        outputs = None
        for i, obj in enumerate(objs):
            if obj is None:
                continue
            if isinstance(obj, Tensor) and not (raw is not None and any(obj is r for r in raw)):
                values[i] = obj._data
                checks.append((i, obj._vc, obj._vc[0]))
                continue
            for j, o in enumerate(outs):
                # raw: what forward returned, before a NumPy scalar became a 0-d array
                # or a returned Tensor became the graph's output
                if obj is o._data or (raw is not None and obj is raw[j]):
                    values[i] = o._data
                    if outputs is None:
                        outputs = {}
                    outputs[i] = (j, o._vc)
                    checks.append((i, o._vc, o._vc[0]))
                    break
            else:
                if self._array_forward:
                    continue  # gpugrad's ops save inputs as Tensors, never their arrays
                for a in args:  # an input's array: saved as that input
                    if isinstance(a, Tensor) and a._data is obj:
                        if objs is self._to_save:
                            objs = list(objs)
                        objs[i] = a
                        checks.append((i, a._vc, a._vc[0]))
                        break
        self._to_save = ()
        self._saved = (tuple(values), checks, objs, outputs)

    @classmethod
    def apply(cls, *args):
        # One pass over the arguments: their device, and the graph edges of those
        # that require grad (used only if this call records).
        backend = None
        nig = []
        edges = []
        requires = False
        for a in args:
            if isinstance(a, Tensor):
                if backend is None:
                    backend = a._backend
                elif a._backend is not backend:
                    raise RuntimeError(
                        f"{cls.__name__}: expected all tensors on the same device, got "
                        f"{backend.device} and {a._backend.device}; move one with .to()")
                if a._rg:
                    requires = True
                    nig.append(True)
                    node = a._node
                    edges.append((a, -1, a._data.shape) if node is None else
                                 (node, a._idx, a._data.shape))
                    continue
            nig.append(False)
            edges.append(None)
        if backend is None:
            raise TypeError(f"{cls.__name__}: got no Tensor argument to take a device from")
        ctx = cls.__new__(cls)
        ctx.backend = backend
        enabled = _mode.enabled
        if not (requires and enabled):
            # Nothing to record: no edges, no saved values, no output node.
            n = len(args)
            ctx.needs_input_grad = _FALSES[n] if n < len(_FALSES) else (False,) * n
            if enabled and not cls._array_forward:
                _mode.enabled = False
                try:
                    out = cls.forward(ctx, *args)
                finally:
                    _mode.enabled = True
            else:
                out = cls.forward(ctx, *args)
            if type(out) is backend.array_type and not cls.view_of_input:
                return _wrap(out, backend)
            return _wrap_outputs(out, backend, None, args, cls)
        ctx.needs_input_grad = tuple(nig)
        ctx._next = edges
        if not cls._own_rule:  # for _user_grads: the dtypes a user's rule must return
            ctx._in_dtypes = [a._data.dtype if isinstance(a, Tensor) else None for a in args]
        if cls._array_forward:
            out = cls.forward(ctx, *args)
        else:
            _mode.enabled = False
            try:
                out = cls.forward(ctx, *args)
            finally:
                _mode.enabled = True
        if type(out) is backend.array_type and cls._array_forward and not cls.view_of_input \
                and out.dtype.kind in "fc":
            ctx._n_out = 1
            t = _wrap(out, backend, ctx, 0, True)
            if ctx._to_save:
                ctx._resolve_saved(args, (t,))
            return t
        return _wrap_outputs(out, backend, ctx, args, cls)


_FALSES = [(False,) * n for n in range(12)]


def _wrap(arr, backend, node=None, idx=0, requires_grad=False):
    t = Tensor.__new__(Tensor)
    t._data = arr
    t._backend = backend
    t._node = node
    t._idx = idx
    t._rg = requires_grad
    t._grad = None
    # [version, shared]: views share the list with their base; "shared" marks
    # memory that several tensors see, where a recorded in-place op would be unsafe.
    t._vc = [0, False]
    t._hooks = None
    return t


# Views taken without recording (under no_grad) of a tensor that requires grad, by
# id. An in-place change through one while recording is on would leave that tensor's
# graph disagreeing with its data unseen; PyTorch refuses it, and so does _inplace.
_nograd_views = weakref.WeakValueDictionary()


def _wrap_outputs(out, backend, node, args, cls):
    single = type(out) is not tuple
    outs = (out,) if single else out
    res = []
    rg = node is not None
    for i, o in enumerate(outs):
        be = backend
        if isinstance(o, Tensor):  # e.g. a device transfer, or a custom op's result
            arr, be = o._data, o._backend
        else:
            arr = o
            if type(arr) is not be.array_type:
                if o is None or not hasattr(o, "dtype") and not isinstance(o, (int, float, bool)):
                    raise TypeError(f"{cls.__name__}: forward returned a {type(o).__name__} as "
                                    f"output {i}; outputs are arrays or Tensors")
                # NumPy turns 0-d results into scalars; a tensor always holds an array.
                arr = be.asarray(arr)
        # Only float outputs carry a gradient (an int or bool one is data, as in PyTorch).
        diff = rg and arr.dtype.kind in "fc"
        t = _wrap(arr, be, node if diff else None, i, diff)
        if cls.view_of_input or not cls._array_forward:
            # An output in an input's memory shares that input's version, so an in-place
            # change through either is seen: a declared view of the first input, or what
            # a user's forward returned (an input, or a view of one). NumPy and CuPy
            # views name the array that owns the memory as their base.
            root = arr if arr.base is None else arr.base
            for a in (args[:1] if cls.view_of_input else args):
                if isinstance(a, Tensor) and (a._data if a._data.base is None
                                              else a._data.base) is root:
                    t._vc = a._vc
                    a._vc[1] = True
                    if cls.view_of_input and node is None and a._rg and not _mode.enabled:
                        _nograd_views[id(t)] = t
                    break
        res.append(t)
    if rg:
        node._n_out = len(res)
        if len(res) > 1:
            node._out_meta = [(t.shape, t.dtype) for t in res]
        if any(t._backend is not backend for t in res):
            node._out_backends = [t._backend for t in res]
        if node._to_save:
            node._resolve_saved(args, res, outs)
    return res[0] if single else tuple(res)


# ---- backward ------------------------------------------------------------
# An edge is (node, output index, shape) for a non-leaf input and
# (leaf tensor, -1, shape) for a leaf; the shape checks what a rule returns.

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
            if e is not None and e[1] >= 0:
                m = e[0]
                if m in deps:
                    deps[m] += 1
                else:
                    deps[m] = 1
                    stack.append(m)
    if targets is None:
        return deps
    consumers = {}
    for n in deps:
        for e in n._next:
            if e is not None:
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
            if e is not None and e[1] >= 0 and e[0] in deps:
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
        _mark(seen, g._data)

    prev = _mode.enabled, _mode.arrays
    _mode.enabled, _mode.arrays = create_graph, arrays
    try:
        for r, g in zip(roots, root_grads):
            if arrays:
                g = g._data
            if r._node is None:
                _to_leaf(leaf_grads, leaf_pos, r, g)
            else:
                _accumulate(buffers, r._node, r._idx, g, r._backend)
        # Only a root's node can have no consumer among the nodes reached from the roots.
        ready = []
        for r in roots:
            n = r._node
            if n is not None and deps.get(n) == 0 and not any(n is m for m in ready):
                ready.append(n)
        carried = None if arrays else Tensor
        while ready:
            node = ready.pop()
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
            if arrays:
                carried = backend.array_type
            for e, g in zip(node._next, gin):
                if e is None:
                    continue
                target, idx, shape = e
                if g is not None:
                    if type(g) is not carried or (not arrays and g._backend is not backend):
                        g = _as_grad(g, backend, arrays, node)
                    if g.shape != shape:
                        raise RuntimeError(
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
        if results is not None and arrays:
            results = [g if g is None or isinstance(g, Tensor) else _wrap(g, t._backend)
                       for g, t in zip(results, targets)]
        _finish_leaves(leaf_grads, leaf_pos, results, create_graph, seen, arrays)
        return results
    finally:
        _mode.enabled, _mode.arrays = prev


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
        if g is not None and e is not None:
            g = _as_grad(g, node.backend, arrays, node)
            if g.dtype != dtype:
                if g.dtype.kind not in "biufc":
                    raise TypeError(f"{type(node).__name__}: backward returned a gradient of "
                                    f"dtype {g.dtype} for a {dtype} input")
                g = g.astype(dtype) if arrays else g.to(dtype)
            _mark(seen, g if arrays else g._data)
        out.append(g)
    return tuple(out)


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
    return any(e is not None and ((e[1] >= 0 and e[0] in deps) or
                                  (e[1] < 0 and id(e[0]) in leaf_pos))
               for e in node._next)


def _as_grad(g, backend, arrays, node):
    """A rule's result as what the pass carries: an array of the backend (NumPy
    hands back 0-d results as scalars), or a Tensor when recording."""
    if isinstance(g, Tensor):
        if g._backend is not backend:
            raise RuntimeError(f"{type(node).__name__}: backward returned a gradient on "
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
        raise RuntimeError(f"hook: must return None or a {like.dtype} Tensor of shape "
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
                    old._data += g._data
                    old._vc[0] += 1
                    continue
        # A .grad must own its memory, so in-place use is safe: copy unless it is
        # provably private (PyTorch's AccumulateGrad steals on the same kind of
        # reference count). With create_graph the copy is a recorded clone.
        if not _private(g._data, seen_arrays):
            g = g.clone() if create_graph else _wrap(g._data.copy(), g._backend)
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
                raise RuntimeError(
                    f"{what}: grad can be implicitly created only for scalar outputs; "
                    f"output {i} has shape {tuple(t.shape)}: pass gradient=/grad_outputs=")
            g = _wrap(t._backend.xp.ones(t._data.shape, t._data.dtype), t._backend)
        else:
            if not isinstance(g, Tensor):
                g = _seed_tensor(g, t, i, what)
            if g._backend is not t._backend:
                raise RuntimeError(
                    f"{what}: gradient is on {g.device} but output {i} is on {t.device}")
            if g._data.shape != t._data.shape:
                raise RuntimeError(
                    f"{what}: gradient of shape {tuple(g.shape)} does not match output {i} "
                    f"of shape {tuple(t.shape)}")
            if g._data.dtype != t._data.dtype:
                raise TypeError(
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
            raise TypeError(f"{what}: gradient dtype {g.dtype} does not match output {i} "
                            f"dtype {t.dtype}")
    elif getattr(g, "ndim", 0):  # another library's or device's array (scalars convert)
        raise RuntimeError(f"{what}: gradient for output {i} is a {type(g).__module__}."
                           f"{type(g).__name__} but the output is on {t.device}; pass a "
                           "Tensor on that device")
    return _wrap(backend.asarray(g, dtype=t._data.dtype), backend)


def _tensor_list(what, role, x):
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (list, tuple)) and all(isinstance(t, Tensor) for t in x):
        return list(x)
    raise TypeError(f"{what}: {role} must be a Tensor or a sequence of Tensors, got "
                    f"{type(x).__name__}")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate d(tensors)/d(leaf) into every leaf's .grad."""
    tensors = _tensor_list("backward", "tensors", tensors)
    seeds = _seed(tensors, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    _run(tensors, seeds, retain_graph, create_graph)


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
    results = _run(outputs, seeds, retain_graph, create_graph, targets=inputs)
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
