"""The graph node: Function (forward, backward, apply), saved values, output wrapping.

A node is an instance of a Function subclass; it holds edges to the nodes (or leaf
tensors) of its inputs and whatever its forward chose to save. gpugrad's own one-, two-
and three-argument ops record through apply1, apply2 and apply3 (Function.apply's lean
branch, called directly); everything else through the generic path, _apply.
"""
from __future__ import annotations

import inspect
import sys
import weakref

from ..errors import DeviceError, ShapeError
from .grad_mode import _mode
from .oom import handle_out_of_memory

__all__ = ["Function", "AccumulateGrad", "OPS"]

Tensor = None  # set by gpugrad.tensor through the package (it imports autograd first)

# Every op that gpugrad itself defines, by name: the tests walk this table and
# fail when an op has no gradient check.
OPS: dict[str, type] = {}

# What a node's saved values become once backward has released them.
_FREED = object()


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
    _fwd_stack = None  # anomaly mode: the user's stack at the forward call (a str)
    _out_backends = None  # set when an output lives on another device than the inputs
    _n_out = 1  # outputs; set where there are several
    # Whether backward()'s short branch may run this node (engine.py): one of gpugrad's
    # array rules, one output, no hooks or retain_grad. Set per class, cleared per node.
    _plain = False
    # An op whose output may be a view of its first input shares that
    # input's version counter, so an in-place change through either is seen.
    view_of_input = False
    # An elementwise op whose array arguments broadcast together: when its forward
    # raises NumPy's or CuPy's plain ValueError, apply names the op and the shapes.
    broadcasts = False

    # gpugrad's own ops compute on arrays in forward, so grad mode need not be
    # switched off around it; a user's forward may use Tensor arithmetic.
    _array_forward = False
    array_backward = False
    # gpugrad's rules return fresh arrays (or pass on the gradient they were given);
    # a user's rule may return anything, also an array it keeps: see _user_grads.
    _own_rule = False

    # Set per class: gpugrad's own ops whose single output is a fresh array record
    # through the lean branch of apply (see there).
    _lean = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._lean = False
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
        cls._lean = cls._array_forward and cls._own_rule and not cls.view_of_input
        # forward and backward are called on the class with ctx first: a plain method
        # (forward(self, ctx, x)) would take ctx for self. Refused at apply, as the
        # class may be fixed by a subclass before it is used.
        plain = [n for n in ("forward", "backward")
                 if not isinstance(inspect.getattr_static(cls, n),
                                  (staticmethod, classmethod))]
        if plain:
            cls.apply = classmethod(_not_static(plain))
        elif getattr(getattr(inspect.getattr_static(cls, "apply"), "__func__", None),
                     "_refuses", False):
            cls.apply = Function.__dict__["apply"]
        cls._plain = cls._own_rule and cls.array_backward

    @staticmethod
    def forward(ctx, *args):
        """The op's result from its arguments; a subclass defines it."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        """One gradient (or None) per argument of forward; a subclass defines it."""
        raise NotImplementedError

    # -- ctx API --
    def save_for_backward(self, *objs):
        """Keep tensors, arrays (or Python scalars) for backward; freed after backward."""
        self._to_save = objs

    @property
    def saved_tensors(self):
        """What forward passed to save_for_backward, checked against in-place changes."""
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
                j = outputs[i]
                obj = _wrap(values[i], self._out_backend(j), self, j, True)
                obj._vc = next(vc for k, vc, _ in checks if k == i)
            elif obj is not None and not isinstance(obj, Tensor) and self.backend.is_array(obj):
                obj = _wrap(obj, self.backend)  # a constant
            out.append(obj)
        return tuple(out)

    def _take_saved(self, arr):
        """Whether a rule may overwrite arr, one of its saved arrays as saved_tensors gave
        it (and the rule's one local name for it): in a backward run that frees this
        node's saved values after its rule anyway, when nothing else holds arr (no
        output Tensor alive, no view of it, no other node's saved values, no user's
        reference: counted, as the engine's _private does). Then this node's saved
        values are marked freed first, so that a later read raises the retain_graph
        error instead of seeing the changed array."""
        if _mode.consume and arr.base is None and sys.getrefcount(arr) <= _TAKE_REFS:
            self._saved = _FREED
            return True
        return False

    # -- graph introspection, with PyTorch's names: what a graph walker (gg.viz) reads --
    def name(self):
        """This node's name, PyTorch's way: the op's class name + 'Backward'."""
        return type(self).__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()}>"

    @property
    def next_functions(self):
        """One (node, output index) pair per Tensor argument of forward, as in PyTorch:
        the node that made it, an AccumulateGrad for a leaf that requires grad, or
        (None, 0) for a tensor that requires none."""
        out = []
        for e in self._next:
            if e is False:  # a Tensor that needs no gradient (None: no Tensor at all)
                out.append((None, 0))
            elif e is None:
                continue
            elif e[1] < 0:
                out.append((_accumulator(e[0]), 0))
            else:
                out.append((e[0], e[1]))
        return tuple(out)

    def _out_backend(self, j):
        return self.backend if self._out_backends is None else self._out_backends[j]

    def input_shape(self, i):
        """The shape of input i if it needs a gradient (its graph edge keeps it), else None."""
        e = self._next[i]
        return e[2] if e else None

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
                    outputs[i] = j  # which output (its version counter: in checks)
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

    def _resolve_own(self, t):
        """_resolve_saved for gpugrad's own single-output ops (t: the output), which
        save inputs as Tensors, the output as its array, and constants as they are:
        the same saved values, checks and objects, without the generic search."""
        objs = self._to_save
        self._to_save = ()
        if len(objs) == 1:  # the common case, unrolled
            obj = objs[0]
            if isinstance(obj, Tensor):
                vc = obj._vc
                self._saved = ((obj._data,), ((0, vc, vc[0]),), objs, None)
            elif obj is t._data:
                vc = t._vc
                self._saved = (objs, ((0, vc, vc[0]),), objs, _OUT0)
            else:
                self._saved = (objs, [], objs, None)
            return
        if len(objs) == 2 and objs[0] is None and isinstance(objs[1], Tensor):
            # Mul's, with only its second input needing a gradient (a constant times x)
            vc = objs[1]._vc
            self._saved = ((None, objs[1]._data), ((1, vc, vc[0]),), objs, None)
            return
        values = objs
        checks = []
        outputs = None
        for i, obj in enumerate(objs):
            if obj is None:
                continue
            if isinstance(obj, Tensor):
                if values is objs:
                    values = list(objs)
                vc = obj._vc
                values[i] = obj._data
                checks.append((i, vc, vc[0]))
            elif obj is t._data:
                if outputs is None:
                    outputs = {}
                outputs[i] = 0
                checks.append((i, t._vc, t._vc[0]))
        self._saved = (tuple(values), checks, objs, outputs)

    @classmethod
    def apply(cls, *args):
        """Run forward on args and, when recording, add this op to the graph."""
        if cls._lean and _lean[0]:
            n = len(args)
            if n == 1:
                return apply1(cls, args[0])
            if n == 2:
                return apply2(cls, args[0], args[1])
            if n == 3:
                return apply3(cls, *args)
        return _apply(cls, args)


def apply1(cls, a):
    """cls.apply(a), as gpugrad's ops call it: for its own single-output ops (cls._lean)
    the same node, edges, saved values and output as the generic path, unrolled. What
    this does not expect (no Tensor, an output that is not one float array, another
    class) goes on to the generic path or _wrap_outputs, which raise."""
    if not (isinstance(a, Tensor) and cls._lean and _lean[0]):
        return _apply(cls, (a,))
    try:
        backend = a._backend
        ctx = _new_object(cls)
        if a._rg and _mode.enabled:
            ctx.needs_input_grad = _TRUE1
            node = a._node
            ctx._next = ((a, -1, a._data.shape) if node is None else
                         (node, a._idx, a._data.shape),)
            rec = True
        else:
            ctx.needs_input_grad = _FALSE1
            rec = False
        ctx.backend = backend
        fs = backend.float_state  # _forward's, inline
        if fs is None:
            out = cls.forward(ctx, a)
        else:
            var, states = fs
            token = var.set(states[var.get()])
            try:
                out = cls.forward(ctx, a)
            finally:
                var.reset(token)
        if type(out) is backend.array_type:
            if not rec:
                return _wrap(out, backend)
            if out.dtype.kind in "fc":
                return _lean_output(ctx, out, backend)
        return _wrap_outputs(out, backend, ctx if rec else None, (a,), cls)
    except (ValueError, MemoryError) as e:
        _forward_failed(cls, (a,), e)
        raise


def apply2(cls, a, b):
    """cls.apply(a, b) for gpugrad's own ops (cls._lean), as apply1. Two devices go on
    to the generic path, which raises."""
    ta = isinstance(a, Tensor)
    tb = isinstance(b, Tensor)
    if ta:
        backend = a._backend
        if tb and b._backend is not backend:
            return _apply(cls, (a, b))
    elif tb:
        backend = b._backend
    else:
        return _apply(cls, (a, b))
    if not (cls._lean and _lean[0]):
        return _apply(cls, (a, b))
    try:
        ctx = _new_object(cls)
        ra = ta and a._rg
        rb = tb and b._rg
        rec = (ra or rb) and _mode.enabled
        if rec:
            ctx.needs_input_grad = _NIG2[ra][rb]
            if ra:
                node = a._node
                ea = (a, -1, a._data.shape) if node is None else (node, a._idx, a._data.shape)
            else:
                ea = False if ta else None
            if rb:
                node = b._node
                eb = (b, -1, b._data.shape) if node is None else (node, b._idx, b._data.shape)
            else:
                eb = False if tb else None
            ctx._next = (ea, eb)
        else:
            ctx.needs_input_grad = _FALSE2
        ctx.backend = backend
        fs = backend.float_state
        if fs is None:
            out = cls.forward(ctx, a, b)
        else:
            var, states = fs
            token = var.set(states[var.get()])
            try:
                out = cls.forward(ctx, a, b)
            finally:
                var.reset(token)
        if type(out) is backend.array_type:
            if not rec:
                return _wrap(out, backend)
            if out.dtype.kind in "fc":
                return _lean_output(ctx, out, backend)
        return _wrap_outputs(out, backend, ctx if rec else None, (a, b), cls)
    except (ValueError, MemoryError) as e:
        _forward_failed(cls, (a, b), e)
        raise


def apply3(cls, a, b, c):
    """cls.apply(a, b, c) for gpugrad's own ops (cls._lean) when all three are Tensors
    of one device (linear with a bias), as apply2; anything else goes on to the
    generic path."""
    if not (isinstance(a, Tensor) and isinstance(b, Tensor) and isinstance(c, Tensor)
            and cls._lean and _lean[0]):
        return _apply(cls, (a, b, c))
    backend = a._backend
    if b._backend is not backend or c._backend is not backend:
        return _apply(cls, (a, b, c))
    try:
        ctx = _new_object(cls)
        ra, rb, rc = a._rg, b._rg, c._rg
        rec = (ra or rb or rc) and _mode.enabled
        if rec:
            ctx.needs_input_grad = (ra, rb, rc)
            edges = []
            for t, r in ((a, ra), (b, rb), (c, rc)):
                if r:
                    node = t._node
                    edges.append((t, -1, t._data.shape) if node is None else
                                 (node, t._idx, t._data.shape))
                else:
                    edges.append(False)
            ctx._next = tuple(edges)
        else:
            ctx.needs_input_grad = _FALSES[3]
        ctx.backend = backend
        out = _float_run(backend, cls.forward, ctx, a, b, c)
        if type(out) is backend.array_type:
            if not rec:
                return _wrap(out, backend)
            if out.dtype.kind in "fc":
                return _lean_output(ctx, out, backend)
        return _wrap_outputs(out, backend, ctx if rec else None, (a, b, c), cls)
    except (ValueError, MemoryError) as e:
        _forward_failed(cls, (a, b, c), e)
        raise


def _lean_output(ctx, out, backend):
    """The recorded output of gpugrad's own ops (one float array: apply1, apply2, apply3
    and the generic path) and ctx's saved values: _wrap and _resolve_saved, inline."""
    t = _new_tensor(Tensor)
    t._data = out
    t._backend = backend
    t._node = ctx
    t._idx = 0
    t._rg = True
    t._grad = None
    t._vc = vc = [0, False]
    t._hooks = None
    saved = ctx._to_save
    if saved:
        if len(saved) == 1 and saved[0] is out:  # the output alone
            ctx._to_save = ()
            ctx._saved = (saved, ((0, vc, 0),), saved, _OUT0)
        else:
            ctx._resolve_own(t)
    return t


def _apply(cls, args):
    """Function.apply's generic path: any arguments, any outputs, a user's forward."""
    try:
        if _mode.anomaly:  # anomaly.py turns the lean branch off while it is on
            return _anomaly_apply(cls, args)
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
                    raise DeviceError(
                        f"{cls.__name__}: expected all tensors on the same device, got "
                        f"{backend.device} and {a._backend.device}; move one with .to()")
                if a._rg:
                    requires = True
                    nig.append(True)
                    node = a._node
                    edges.append((a, -1, a._data.shape) if node is None else
                                 (node, a._idx, a._data.shape))
                    continue
                edges.append(False)  # a Tensor without gradient (None: no Tensor)
            else:
                edges.append(None)
            nig.append(False)
        if backend is None:
            raise TypeError(f"{cls.__name__}: got no Tensor argument to take a device from")
        ctx = cls.__new__(cls)
        ctx.backend = backend
        enabled = _mode.enabled
        if not (requires and enabled):
            # Nothing to record: no edges, no saved values, no output node.
            n = len(args)
            ctx.needs_input_grad = _FALSES[n] if n < len(_FALSES) else (False,) * n
            out = _forward(cls, ctx, args, backend, enabled and not cls._array_forward)
            if type(out) is backend.array_type and not cls.view_of_input:
                return _wrap(out, backend)
            return _wrap_outputs(out, backend, None, args, cls)
        ctx.needs_input_grad = tuple(nig)
        ctx._next = edges
        if not cls._own_rule:  # for _user_grads: the dtypes a user's rule must return
            ctx._in_dtypes = [a._data.dtype if isinstance(a, Tensor) else None for a in args]
        out = _forward(cls, ctx, args, backend, not cls._array_forward)
        if type(out) is backend.array_type and cls._array_forward and not cls.view_of_input \
                and out.dtype.kind in "fc":
            if cls._lean:  # gpugrad's own op with three or more arguments
                return _lean_output(ctx, out, backend)
            t = _wrap(out, backend, ctx, 0, True)
            if ctx._to_save:
                ctx._resolve_saved(args, (t,))
            return t
        return _wrap_outputs(out, backend, ctx, args, cls)
    except (ValueError, MemoryError) as e:
        _forward_failed(cls, args, e)
        raise


def _forward_failed(cls, args, e):
    """The failure path of apply1, apply2, apply3 and _apply, which re-raise e after it. Out of
    memory: the op named in a note and its temporaries freed (oom.py). NumPy's and CuPy's
    plain ValueError of an op that broadcasts names no op: a ShapeError naming it and the
    shapes instead, if they do not broadcast."""
    if isinstance(e, MemoryError):
        handle_out_of_memory(e)
    elif type(e) is ValueError and cls.broadcasts:
        name = "".join("_" + c.lower() if c.isupper() else c for c in cls.__name__)
        broadcast_error(name.lstrip("_"), *args)


def broadcast_error(op, *xs):
    """Raise a ShapeError naming op and the shapes if xs (Tensors, arrays; numbers and
    None are passed over) do not broadcast together; return otherwise. For failure paths
    only: checking first would cost every call that succeeds."""
    shapes = [tuple(x.shape) for x in xs if hasattr(x, "shape")]
    n = max(map(len, shapes), default=0)
    for d in range(1, n + 1):
        sizes = {s[-d] for s in shapes if len(s) >= d} - {1}
        if len(sizes) > 1:
            a, b = sorted(sizes)[:2]
            raise ShapeError(f"{op}: shapes {' and '.join(map(str, shapes))} do not broadcast: "
                             f"sizes {a} and {b} at dimension {-d}") from None


def _not_static(names):
    def apply(cls, *args):
        which = " and ".join(names)
        raise TypeError(f"{cls.__name__}: {which} must be a @staticmethod taking ctx first "
                        f"({names[0]}(ctx, ...)), as in torch.autograd.Function: put "
                        f"@staticmethod above def {names[0]}")
    apply._refuses = True
    return apply


_FALSES = [(False,) * n for n in range(12)]
_FALSE1, _FALSE2, _TRUE1 = (False,), (False, False), (True,)
_NIG2 = (((False, False), (False, True)), ((True, False), (True, True)))

# Whether gpugrad's own ops take apply's lean branch; tests/test_engine_paths.py turns
# it off to check that both branches record the same graph.
_lean = [True]
_new_tensor = _new_object = object.__new__
_OUT0 = {0: 0}  # saved value 0 is output 0: shared, never changed


def _count_take_refs():
    """What sys.getrefcount reports, inside _take_saved, for a saved array held by the
    saved values and the rule's local name alone. Measured, not assumed: interpreters
    differ (3.14 borrows stack references)."""
    class Probe:
        base = None

    def take(arr):
        return sys.getrefcount(arr)

    values = (Probe(),)  # the node's saved values
    (y,) = values  # the rule's local name
    return take(y)


_TAKE_REFS = _count_take_refs()


def _forward(cls, ctx, args, backend, grad_off):
    """cls.forward under the backend's float_state, with recording off if grad_off (a
    user's forward may use Tensor ops)."""
    if grad_off:
        _mode.enabled = False
        try:
            return _float_run(backend, cls.forward, ctx, *args)
        finally:
            _mode.enabled = True
    return _float_run(backend, cls.forward, ctx, *args)


def _float_run(backend, fn, *args):
    """fn(*args) with the backend's float_state entered (see backends/__init__.py)."""
    fs = backend.float_state
    if fs is None:
        return fn(*args)
    var, states = fs
    token = var.set(states[var.get()])
    try:
        return fn(*args)
    finally:
        var.reset(token)


def _anomaly_apply(cls, args):
    """apply in anomaly mode: the op runs as usual (the flag off around it, so this is
    not re-entered), then its node keeps the user's stack and, with check_nan, an
    output with NaN or inf raises here, at the op that made it."""
    from .anomaly import _check_forward, _user_stack
    stack = _user_stack()
    _mode.anomaly = False
    try:
        out = cls.apply(*args)
    finally:
        _mode.anomaly = True
    outs = out if type(out) is tuple else (out,)
    for t in outs:
        node = getattr(t, "_node", None)
        if node is not None and node._fwd_stack is None:
            node._fwd_stack = stack
    if _mode.check_nan:
        _check_forward(cls, args, outs, stack)
    return out


class AccumulateGrad:
    """What next_functions shows for a leaf that requires grad, as PyTorch does: the
    leaf is `.variable`, and backward adds into its `.grad`. The engine needs no such
    node (a leaf is its own edge); one is made when a graph walker asks for it."""

    __slots__ = ("variable", "__weakref__")
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        """'AccumulateGrad', as PyTorch names it."""
        return "AccumulateGrad"

    def __repr__(self):
        return "<AccumulateGrad>"


# One AccumulateGrad per leaf while something holds it, so a walker that meets a leaf
# from two consumers sees one node. Keyed by id: the value holds its leaf alive, so
# the id cannot be reused while the entry exists.
_accumulators = weakref.WeakValueDictionary()


def _accumulator(leaf):
    acc = _accumulators.get(id(leaf))
    if acc is None:
        _accumulators[id(leaf)] = acc = AccumulateGrad(leaf)
    return acc


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
        if len(res) != 1:
            node._plain = False
        if len(res) > 1:
            node._out_meta = [(t.shape, t.dtype) for t in res]
        if any(t._backend is not backend for t in res):
            node._out_backends = [t._backend for t in res]
        if node._to_save:
            node._resolve_saved(args, res, outs)
    return res[0] if single else tuple(res)
