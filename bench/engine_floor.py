"""The floor of a feature-equivalent engine: `python bench/engine_floor.py` (about 20 s)

Issue 13 set its CPU targets (op chain and MLP step at <= 2.2-2.3x hand-written NumPy and
<= 0.80-0.85x PyTorch) from "a minimal engine with the same per-node features", which was
never committed. This is one: a small define-by-run engine with what gpugrad does per
node (device identity and dtype checks, thread-local grad mode, version counters checked
in backward, node and leaf hooks, a create_graph flag, Kahn ordering, accumulation with
shape checks, saved arrays freed as each node runs, NumPy's float_state around each
forward and the backward run), every recorder inlined, on gpugrad's own CPU kernels,
timed beside hand-written NumPy, gpugrad and PyTorch (cpu_workloads' chain, mlp.py's
steps; one BLAS thread, process CPU time, 21 interleaved rounds, medians of per-round
ratios). It runs with and without float_state (added after the targets were set).
selfcheck() shows each feature acting once; the gradients and three training steps
match NumPy's and gpugrad's exactly.

Findings (2-vCPU shared VM, 2026-12-06, six runs; x NumPy / x PyTorch):
                        chain, 1 element       chain, 1 000           MLP (64, 64-32-10)
  prototype             2.37-2.57 / 0.97-1.04  2.23-2.43 / 0.89-0.93  1.89-2.04 / 0.52-0.61
  same, no float_state  2.20-2.42 / 0.90-0.96  2.11-2.22 / 0.83-0.86  1.85-1.95 / 0.50-0.58
The chain targets are out of reach of a Python engine with these features, even without
float_state: over the kernels the prototype adds 1.4-1.7 µs per node forward and 1.1-2.0
backward (python_floor.py's bare tape, with no checks at all: 1.25x NumPy). How it is
written matters as much as float_state: the same engine with helper calls (edge, output
Tensor and saved values as functions, forward through *args) ran the 1 000-element chain
at 2.48x, the inlined one at 2.25x. The MLP step's are within the prototype's reach
(PyTorch's nn+optim step is 3.2-3.5x NumPy here), whose step has no nn.Module or
Optimizer: gpugrad's step on gg.linear and an array update took 2.38-2.49x NumPy in three
runs, with nn.Linear and optim.SGD 2.57-2.74x, the prototype 1.99-2.04x. Where gpugrad spent more than the prototype, per node (µs,
before this session's changes): chain forward sigmoid +0.3-0.6, mul +0.7-1.1, add
+0.35-0.7 (apply2's calls to _lean_output and _resolve_own, Mul.forward's frame and
save_for_backward); backward +0.2-1.2 (saved_tensors +0.2, the rest the engine's loop);
in the MLP step +39 (backward +22, SGD +5, each nn.Linear +3.4, cross-entropy +3).
"""
from __future__ import annotations

import gc
import os
import sys
import threading
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy and PyTorch start their pools

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import cpu_workloads as cw  # noqa: E402
import mlp  # noqa: E402
from common import ProcessTimer, Settings, measure, ratio  # noqa: E402
from gpugrad.backends import get_backend  # noqa: E402

ndarray = np.ndarray
_new = object.__new__


# ---- the engine ----------------------------------------------------------------------
class _Mode(threading.local):
    enabled = True


_mode = _Mode()


class no_grad:
    def __enter__(self):
        self.prev = _mode.enabled
        _mode.enabled = False

    def __exit__(self, *exc):
        _mode.enabled = self.prev


class Device:
    """Tensors compare devices by identity. Two devices on the same CPU kernels differ
    only in float_state, so the prototype runs with and without it on one code path."""

    def __init__(self, name, kernels, float_state):
        self.name = name
        self.float_state = float_state
        k = kernels
        self.sigmoid_forward, self.sigmoid_backward = k.sigmoid_forward, k.sigmoid_backward
        self.matmul = k.matmul
        self.sce_forward = k.softmax_cross_entropy_forward
        self.sce_backward = k.softmax_cross_entropy_backward


class Tensor:
    __slots__ = ("data", "dev", "rg", "grad", "node", "idx", "vc", "hooks")

    def __init__(self, data, dev, requires_grad=False):
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"requires_grad: only float tensors, got {data.dtype}")
        self.data, self.dev, self.rg, self.grad = data, dev, requires_grad, None
        self.node, self.idx, self.vc, self.hooks = None, 0, [0], None

    def __mul__(self, other):
        return _binary(Mul, self, other)

    def __add__(self, other):
        return _binary(Add, self, other)

    def add_(self, arr):
        """In place: a saved copy of self is stale from here on."""
        self.data += arr
        self.vc[0] += 1
        return self

    def register_hook(self, fn):
        """fn(grad) -> None or a replacement; on the node for a non-leaf, else the leaf."""
        owner = self if self.node is None else self.node
        if owner.hooks is None:
            owner.hooks = []
        owner.hooks.append(fn)

    def backward(self, grad=None, retain_graph=False, create_graph=False):
        backward(self, grad, retain_graph, create_graph)


def _wrap(arr, dev):
    t = _new(Tensor)
    t.data, t.dev, t.rg, t.grad, t.node, t.idx, t.vc, t.hooks = \
        arr, dev, False, None, None, 0, [0], None
    return t


class Node:
    """One recorded op. saved: the arrays its rule needs (FREED after it ran);
    checks: (version counter, version at save time) for each saved tensor."""
    __slots__ = ("dev", "next", "saved", "checks", "hooks")


FREED = object()
_NONES = [(None,) * n for n in range(4)]


def _edge(t):
    """Where t's gradient goes: its node and output index, or the leaf itself (-1)."""
    n = t.node
    return (t, -1, t.data.shape) if n is None else (n, t.idx, t.data.shape)


# The chain's ops record through _unary and _binary with everything inline: a first
# version with helpers (edge, output Tensor and saved-value resolution as functions, the
# forward called through *args) ran the 1 000-element chain at 2.48x NumPy where this
# one ran 2.25x, interleaved in one process.
def _unary(op, x):
    """op.forward(dev, X) under float_state; the node saves the output (op.saves_output)."""
    if type(x) is not Tensor or x.data.dtype.kind != "f":
        raise TypeError(f"{op.__name__}: expected a float Tensor")
    dev, X = x.dev, x.data
    fs = dev.float_state
    if fs is None:
        y = op.forward(dev, X)
    else:
        var, states = fs
        token = var.set(states[var.get()])
        try:
            y = op.forward(dev, X)
        finally:
            var.reset(token)
    if type(y) is not ndarray:
        y = np.asarray(y)  # NumPy hands back 0-d results as scalars
    t = _new(Tensor)
    t.data, t.dev, t.grad, t.idx, t.hooks = y, dev, None, 0, None
    t.vc = vc = [0]
    if not (x.rg and _mode.enabled):
        t.rg, t.node = False, None
        return t
    node = _new(op)
    n = x.node
    node.dev, node.hooks = dev, None
    node.next = ((x, -1, X.shape) if n is None else (n, x.idx, X.shape),)
    if op.saves_output:
        node.saved, node.checks = (y,), ((vc, 0),)
    else:
        node.saved, node.checks = (), ()
    t.rg, t.node = True, node
    return t


def _binary(op, a, b):
    """op.kernel(A, B) (a ufunc, broadcasting) under float_state, for Tensors of one
    device and one float dtype; the node saves each side for the other's gradient when
    op.saves_other."""
    if type(a) is not Tensor or type(b) is not Tensor:
        raise TypeError(f"{op.__name__}: operands must be Tensors")
    dev = a.dev
    if b.dev is not dev:
        raise RuntimeError(f"{op.__name__}: tensors on {dev.name} and {b.dev.name}")
    A, B = a.data, b.data
    dt = A.dtype
    if dt.kind != "f" or B.dtype is not dt and B.dtype != dt:
        raise TypeError(f"{op.__name__}: expected one float dtype, got {dt} and {B.dtype}")
    fs = dev.float_state
    if fs is None:
        out = op.kernel(A, B)
    else:
        var, states = fs
        token = var.set(states[var.get()])
        try:
            out = op.kernel(A, B)
        finally:
            var.reset(token)
    if type(out) is not ndarray:
        out = np.asarray(out)
    t = _new(Tensor)
    t.data, t.dev, t.grad, t.idx, t.vc, t.hooks = out, dev, None, 0, [0], None
    ra, rb = a.rg, b.rg
    if not ((ra or rb) and _mode.enabled):
        t.rg, t.node = False, None
        return t
    node = _new(op)
    node.dev, node.hooks = dev, None
    if ra:
        n = a.node
        ea = (a, -1, A.shape) if n is None else (n, a.idx, A.shape)
    else:
        ea = None
    if rb:
        n = b.node
        eb = (b, -1, B.shape) if n is None else (n, b.idx, B.shape)
    else:
        eb = None
    node.next = (ea, eb)
    if not op.saves_other:
        node.saved, node.checks = (), ()
    elif ra and rb:
        node.saved, node.checks = (B, A), ((b.vc, b.vc[0]), (a.vc, a.vc[0]))
    elif ra:
        node.saved, node.checks = (B, None), ((b.vc, b.vc[0]),)
    else:
        node.saved, node.checks = (None, A), ((a.vc, a.vc[0]),)
    t.rg, t.node = True, node
    return t


def _recordn(op, args, dev):
    """The other ops (inputs checked by the op's function): op.forward(ctx, *args) sets
    ctx.saved to Tensors (kept with their version) or arrays (its own output: the
    output's version; anything else a constant)."""
    node = _new(op)
    node.dev, node.hooks = dev, None
    rec = _mode.enabled and any(a.rg for a in args)
    node.next = tuple(_edge(a) if a.rg else None for a in args) if rec else \
        _NONES[len(args)]
    fs = dev.float_state
    if fs is None:
        out = op.forward(node, *args)
    else:
        var, states = fs
        token = var.set(states[var.get()])
        try:
            out = op.forward(node, *args)
        finally:
            var.reset(token)
    t = _wrap(out if type(out) is ndarray else np.asarray(out), dev)
    if not rec:
        return t
    t.rg, t.node = True, node
    values, checks = [], []
    for s in node.saved:
        if type(s) is Tensor:
            vc = s.vc
            checks.append((vc, vc[0]))
            s = s.data
        elif s is out:
            checks.append((t.vc, 0))
        values.append(s)
    node.saved, node.checks = values, checks
    return t


def _floating(op, *ts):
    """Device and dtype checks of an op: one device, one float dtype."""
    dev, dt = ts[0].dev, ts[0].data.dtype
    for t in ts:
        if type(t) is not Tensor:
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
        if t.dev is not dev:
            raise RuntimeError(f"{op}: tensors on {dev.name} and {t.dev.name}")
        if t.data.dtype is not dt and t.data.dtype != dt or dt.kind != "f":
            raise TypeError(f"{op}: expected one float dtype, got {dt} and {t.data.dtype}")
    return dev


def _unbroadcast(g, shape):
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and g.shape[i + lead] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


# ---- the ops: forward and derivative rule side by side --------------------------------
class Sigmoid(Node):
    __slots__ = ()
    saves_output = True  # the rule is (1 - y) y g

    @staticmethod
    def forward(dev, X):
        return dev.sigmoid_forward(X)

    @staticmethod
    def backward(ctx, g, y):
        return (ctx.dev.sigmoid_backward(y, g),)


def sigmoid(x):
    return _unary(Sigmoid, x)


class Mul(Node):
    __slots__ = ()
    kernel = np.multiply
    saves_other = True  # saved as (B, A): each side's gradient needs the other

    @staticmethod
    def backward(ctx, g, b, a):
        ea, eb = ctx.next
        ga = gb = None
        if ea:
            ga = g * b
            if ga.shape != ea[2]:
                ga = _unbroadcast(ga, ea[2])
        if eb:
            gb = g * a
            if gb.shape != eb[2]:
                gb = _unbroadcast(gb, eb[2])
        return ga, gb


class Add(Node):
    __slots__ = ()
    kernel = np.add
    saves_other = False

    @staticmethod
    def backward(ctx, g):
        ea, eb = ctx.next
        return (None if not ea else g if g.shape == ea[2] else _unbroadcast(g, ea[2]),
                None if not eb else g if g.shape == eb[2] else _unbroadcast(g, eb[2]))


class Linear(Node):
    """x @ W.T + b in one node, W (out, in) as nn.Linear keeps it."""
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b):
        ex, ew, _ = ctx.next
        ctx.saved = (w if ex else None, x if ew else None)
        out = ctx.dev.matmul(x.data, w.data.T)
        out += b.data  # the product is fresh: add in place
        return out

    @staticmethod
    def backward(ctx, g, w, x):
        ex, ew, eb = ctx.next
        return (ctx.dev.matmul(g, w) if ex else None,
                ctx.dev.matmul(g.T, x) if ew else None,
                g.sum(axis=0) if eb else None)  # gpugrad's fsum: this up to 256 rows


def linear(x, w, b):
    dev = _floating("linear", x, w, b)
    X, W = x.data, w.data
    if X.ndim != 2 or W.ndim != 2 or X.shape[1] != W.shape[1] or b.data.shape != W.shape[:1]:
        raise ValueError(f"linear: shapes {X.shape}, {W.shape}, {b.data.shape} do not fit")
    return _recordn(Linear, (x, w, b), dev)


_SCE_OPTS = (-100, 0.0, "mean")  # ignore_index, label_smoothing, reduction


class SoftmaxCrossEntropy(Node):
    """Mean cross-entropy of 2-D logits against int labels, on the backend's fused
    kernels (the (N, C, 1) layout gpugrad's loss.py hands them)."""
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, t):
        X = x.data
        N, C = X.shape
        loss, stat, den = ctx.dev.sce_forward(X.reshape(N, C, 1), t.data.reshape(N, 1), None,
                                              *_SCE_OPTS)
        ctx.saved = (x, t, stat, den)  # logits and labels checked, the row stats constant
        return loss

    @staticmethod
    def backward(ctx, g, X, T, stat, den):
        N, C = X.shape
        gx = ctx.dev.sce_backward(X.reshape(N, C, 1), T.reshape(N, 1), stat, g, den, None,
                                  *_SCE_OPTS)
        return gx.reshape(N, C), None


def softmax_cross_entropy(x, t):
    dev = _floating("softmax_cross_entropy", x)
    if t.dev is not dev:
        raise RuntimeError(f"softmax_cross_entropy: logits on {dev.name}, labels on {t.dev.name}")
    if x.data.ndim != 2 or t.data.dtype.kind not in "iu" or t.data.shape != x.data.shape[:1]:
        raise ValueError("softmax_cross_entropy: expected (N, C) float logits, (N,) int labels")
    return _recordn(SoftmaxCrossEntropy, (x, t), dev)


# ---- backward ----------------------------------------------------------------------
def backward(root, grad=None, retain_graph=False, create_graph=False):
    dev = root.dev
    if not root.rg:
        raise RuntimeError("backward: the tensor does not require grad")
    if grad is None:
        if root.data.size != 1:
            raise ValueError("backward: pass a gradient for a non-scalar output")
        g = np.empty(root.data.shape, root.data.dtype)
        g.fill(1)
    else:
        if grad.dev is not dev or grad.data.shape != root.data.shape or \
                grad.data.dtype != root.data.dtype:
            raise ValueError("backward: gradient must match the output's device, shape, dtype")
        g = grad.data
    seen = {id(g)}  # the caller's seed: never to become a .grad itself
    leaf_grads = {}  # id(leaf) -> [leaf, summed gradient]
    start = root.node
    if start is None:
        leaf_grads[id(root)] = [root, g]
        ready, deps, buffers = [], {}, {}
    else:
        deps = {start: 0}  # Kahn: consumers of each reachable node
        stack = [start]
        while stack:
            for e in stack.pop().next:
                if e is not None and e[1] >= 0:
                    m = e[0]
                    d = deps.get(m)
                    if d is None:
                        deps[m] = 1
                        stack.append(m)
                    else:
                        deps[m] = d + 1
        ready, buffers = [start], {start: g}
    arrays = not create_graph
    fs = dev.float_state
    if fs is not None:
        var, states = fs
        token = var.set(states[var.get()])
    try:
        while ready:
            node = ready.pop()
            g = buffers.pop(node, None)
            if node.hooks is not None and g is not None:
                g = _hooked(node.hooks, g, node.dev, seen)
            saved = node.saved
            if saved is FREED:
                raise RuntimeError(f"{type(node).__name__}: backward through the graph a "
                                   "second time; pass retain_graph=True the first time")
            for vc, version in node.checks:
                if vc[0] != version:
                    raise RuntimeError(f"{type(node).__name__}: a saved tensor was modified "
                                       f"in place (version {vc[0]}, saved at {version})")
            if not arrays:  # a recorded backward needs Tensor rules
                raise NotImplementedError("create_graph=True")
            nxt = node.next
            gin = _NONES[len(nxt)] if g is None else node.backward(node, g, *saved)
            for e, gi in zip(nxt, gin):
                if e is None:
                    continue
                target, idx, shape = e
                if gi is not None:
                    if type(gi) is not ndarray:
                        gi = np.asarray(gi)
                    if gi.shape != shape:
                        raise ValueError(f"{type(node).__name__}: gradient of shape "
                                         f"{gi.shape} for an input of shape {shape}")
                    if idx < 0:
                        slot = leaf_grads.get(id(target))
                        if slot is None:
                            leaf_grads[id(target)] = [target, gi]
                        else:
                            slot[1] = _sum(slot[1], gi)
                        continue
                    old = buffers.get(target)
                    buffers[target] = gi if old is None else _sum(old, gi)
                elif idx < 0:
                    continue
                d = deps[target]
                if d == 1:
                    ready.append(target)
                deps[target] = d - 1
            if not retain_graph:
                node.saved = FREED
        g = gin = gi = None  # no second reference to a leaf's gradient while it is taken
        _finish_leaves(leaf_grads, seen)
    finally:
        if fs is not None:
            var.reset(token)


def _sum(a, b):
    s = a + b
    return s if type(s) is ndarray else np.asarray(s)


def _hooked(hooks, g, dev, seen):
    for fn in hooks:
        seen.add(id(g))  # the hook may keep it
        r = fn(_wrap(g, dev))
        if r is not None:
            if type(r) is not Tensor or r.dev is not dev or r.data.shape != g.shape or \
                    r.data.dtype != g.dtype:
                raise ValueError("hook: must return None or a Tensor like its gradient")
            g = r.data
            seen.add(id(g))
    return g


def _finish_leaves(leaf_grads, seen):
    for leaf, g in leaf_grads.values():
        _to_leaf(leaf, g, seen)


def _to_leaf(leaf, g, seen):
    if leaf.hooks is not None:
        g = _hooked(leaf.hooks, g, leaf.dev, seen)
    old = leaf.grad
    if old is not None:
        if old.data.shape != g.shape:
            raise ValueError(f"backward: .grad of shape {old.data.shape}, gradient {g.shape}")
        old.data += g
        old.vc[0] += 1
        return
    if g.base is not None or id(g) in seen:  # a .grad owns its memory
        g = g.copy()
    leaf.grad = _wrap(g, leaf.dev)


# ---- workloads on the prototype --------------------------------------------------------
def proto_chain_fn(dev, n):
    """cpu_workloads.gpugrad_chain on the prototype, on the same data."""
    x, g, a, b = cw.chain_data(n)
    tx, tg = Tensor(x, dev, True), _wrap(g, dev)
    ta, tb = [_wrap(v, dev) for v in a], [_wrap(v, dev) for v in b]

    def run():
        h = tx
        for i in range(cw.CHAIN_OPS):
            h = sigmoid(h) if i % 2 == 0 else ta[i // 2] * h + tb[i // 2]
        h.backward(tg)
        gx, tx.grad = tx.grad, None
        return gx.data
    return run


def _update(params, lr=mlp.LR):
    """gpugrad's SGD fast path (optim/sgd.py _step_group) on the prototype: p += g * (-lr)
    on the arrays, -lr in p's dtype, the version bumped."""
    scale = None
    for p in params:
        g = p.grad
        if g is None:
            continue
        a = p.data
        if scale is None or scale.dtype != a.dtype:
            scale = a.dtype.type(-lr)
        a += g.data * scale
        p.vc[0] += 1


def proto_mlp(dev, batch, sizes, lr=mlp.LR):
    """(step, params): the step of mlp.gpugrad_nn_step, weights (out, in) as nn.Linear."""
    X, y, init = mlp.make_data(batch, sizes)
    W1, b1, W2, b2 = init
    params = [Tensor(np.ascontiguousarray(W1.T), dev, True), Tensor(b1.copy(), dev, True),
              Tensor(np.ascontiguousarray(W2.T), dev, True), Tensor(b2.copy(), dev, True)]
    tx, ty = _wrap(X, dev), _wrap(y, dev)
    w1, c1, w2, c2 = params

    def step():
        for p in params:
            p.grad = None
        loss = softmax_cross_entropy(linear(sigmoid(linear(tx, w1, c1)), w2, c2), ty)
        loss.backward()
        _update(params, lr)
        return loss
    return step, params


def gg_functional_mlp(gg, batch, sizes, lr=mlp.LR):
    """proto_mlp's step on gpugrad's public API (gg.linear, no nn.Module or Optimizer):
    what nn+optim add above the engine, beside the prototype."""
    X, y, init = mlp.make_data(batch, sizes)
    W1, b1, W2, b2 = init
    params = [gg.tensor(np.ascontiguousarray(W1.T), requires_grad=True),
              gg.tensor(b1.copy(), requires_grad=True),
              gg.tensor(np.ascontiguousarray(W2.T), requires_grad=True),
              gg.tensor(b2.copy(), requires_grad=True)]
    tx, ty = gg.from_numpy(X), gg.from_numpy(y)
    w1, c1, w2, c2 = params
    scale = np.float32(-lr)

    def step():
        for p in params:
            p.grad = None
        loss = gg.softmax_cross_entropy(gg.linear(gg.sigmoid(gg.linear(tx, w1, c1)), w2, c2), ty)
        loss.backward()
        for p in params:
            a = p.data
            a += p.grad.data * scale
            p.data = a  # bumps the version, as SGD's fast path
        return loss
    return step


# ---- measurement ---------------------------------------------------------------------
class NsProcessTimer(ProcessTimer):
    """common.ProcessTimer on the integer clock (time.process_time_ns)."""

    def sample(self, fn, n):
        t0 = time.process_time_ns()
        for _ in range(n):
            fn()
        return (time.process_time_ns() - t0) * 1e-9 / n


TIMER = NsProcessTimer()
SETTINGS = Settings(rounds=21, warmup=3, min_sample=0.04)
NP, GG, PT, PR, PR0 = "NumPy", "gpugrad", "PyTorch", "prototype", "prototype, no float_state"
GGF = "gpugrad, no nn/optim"


def table(title, st, per, unit):
    print(f"\n{title} ({unit}; medians of {SETTINGS.rounds} interleaved rounds, process CPU "
          "time; ratios: median of per-round ratios)")
    print(f"  {'contender':28} {unit:>9} {'xNumPy':>8} {'xPyTorch':>9}")
    for k in st:
        print(f"  {k:28} {st[k].median / per * 1e6:9.2f} {ratio(st, k, NP):8.3f} "
              f"{ratio(st, k, PT):9.3f}")


def headline(gg, torch, dev, dev0):
    for n in (1, 1000):
        gc.collect()
        runs, _ = cw.chain_contenders(torch, n)
        runs[PR], runs[PR0] = proto_chain_fn(dev, n), proto_chain_fn(dev0, n)
        ref = cw.numpy_chain(*cw.chain_data(n))
        print(f"\nchain n={n}: max |grad - NumPy's|: " + ", ".join(
            f"{k} {np.max(np.abs(np.asarray(runs[k](), np.float64) - ref)):.1e}"
            for k in (GG, PR, PR0)))
        table(f"Op chain, {n} element(s), {cw.CHAIN_OPS} ops", measure(runs, TIMER, SETTINGS),
              cw.CHAIN_OPS, "µs/op")
    gc.collect()
    X, y, init = mlp.make_data(64, (64, 32, 10))
    np_p = [p.copy() for p in init]
    gm, tm = mlp.nn_model(gg, init), mlp.nn_model(torch, init)
    gx, gy, tx, ty = gg.from_numpy(X), gg.from_numpy(y), torch.from_numpy(X), torch.from_numpy(y)
    (pstep, pparams), (pstep0, _) = (proto_mlp(d, 64, (64, 32, 10)) for d in (dev, dev0))
    steps = {NP: lambda: mlp.handwritten_step(np, X, y, np_p),
             GG: lambda: mlp.gpugrad_nn_step(gg, gx, gy, gm),
             GGF: gg_functional_mlp(gg, 64, (64, 32, 10)),
             PT: lambda: mlp.torch_nn_step(torch, tx, ty, tm), PR: pstep, PR0: pstep0}
    for _ in range(3):  # before any timing: both from the same start, three steps each
        lg, lp = float(steps[GG]().item()), float(pstep().data)
    gpar = [p.data for layer in gm[0] for p in (layer.weight, layer.bias)]
    print(f"\nMLP (64, 64-32-10) after 3 steps: loss gpugrad {lg:.7f}, prototype {lp:.7f}; max "
          f"|param diff| {max(np.max(np.abs(a - b.data)) for a, b in zip(gpar, pparams)):.1e}")
    table("MLP step (64, 64-32-10), nn.Linear + SGD", measure(steps, TIMER, SETTINGS), 1,
          "µs/step")


def selfcheck(dev, dev0):
    """The features are live, not just present: each one raises or acts once."""
    x = Tensor(np.linspace(-1, 1, 5, dtype=np.float32), dev, True)
    two, ones = _wrap(np.asarray(np.float32(2)), dev), _wrap(np.ones(5, np.float32), dev)
    y = sigmoid(two * x)
    seen = []
    y.register_hook(lambda g: seen.append("node"))
    x.register_hook(lambda g: seen.append("leaf") or _wrap(g.data * 2, dev))
    with no_grad():
        assert sigmoid(x).node is None
    two.add_(np.float32(1))  # Mul saved `two`
    for bad, err in ((lambda: y.backward(ones), RuntimeError),  # the version check
                     (lambda: x * Tensor(np.ones(5, np.float32), dev0), RuntimeError),
                     (lambda: x * _wrap(np.ones(5), dev), TypeError)):
        try:
            bad()
            raise AssertionError("not caught")
        except err:
            pass
    y = sigmoid(x * x)
    y.backward(ones, retain_graph=True)
    y.register_hook(lambda g: seen.append("node"))
    y.backward(ones)  # accumulates into x.grad
    s = 1 / (1 + np.exp(-x.data * x.data))
    assert np.allclose(x.grad.data, 2 * 2 * 2 * x.data * s * (1 - s))
    assert seen == ["node", "leaf", "node", "leaf"], seen  # the failed run: hook, then check
    try:
        y.backward(ones)
        raise AssertionError("second backward without retain_graph not caught")
    except RuntimeError:
        pass


def main():
    import torch
    torch.set_num_threads(1)
    import gpugrad as gg
    cpu = get_backend("cpu")
    dev, dev0 = Device("cpu", cpu, cpu.float_state), Device("cpu, no float_state", cpu, None)
    selfcheck(dev, dev0)
    t0 = time.perf_counter()
    headline(gg, torch, dev, dev0)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
