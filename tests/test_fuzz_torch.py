"""Differential fuzzing against PyTorch: random programs run in gpugrad and in torch.

Hypothesis draws a program a step at a time (st.data(): each step is drawn knowing
the shapes the earlier ones produced) and each step runs at once in both
libraries, from source text, so the program that fails is exactly the one
printed: two runnable snippets, gpugrad's and torch's, with the line where they
part marked. A program mixes random shapes with broadcasting, the ops of
gpugrad's registry (`gpugrad.autograd.OPS`, each mapped to a generator below or
excluded with a reason, and a test fails when a new op is in neither), views and
slices, in-place ops under no_grad (and recorded ones on fresh clones), hooks,
retain_grad, custom Functions, backward with and without retain_graph, grad()
with create_graph and second derivatives, in float32 or float64; and calls that
must raise (shapes that do not broadcast, axes out of range, a second backward
through freed buffers, an in-place change to a saved tensor, ...). After every
step the two must agree on whether it raised, and on the values, dtypes and
requires_grad of what it made or changed; after every backward, on the leaves'
.grad, the retained gradients and what the hooks saw.

Tolerances: float64 to 1e-7 relative; a float32 program is also run in torch in
float64 (the "shadow"), and gpugrad's float32 may differ from torch's float32 by
a few times torch's own float32 error plus a few ulps of the tensor's scale, so
an ill-conditioned program does not fail for rounding.

Budget: GPUGRAD_FUZZ_EXAMPLES programs (default 500, about 12 s on one core),
GPUGRAD_FUZZ_STEPS steps at most each (default 16); the seed is fixed
(derandomize), so a run is reproducible; raise the budget for a longer hunt.
GPUGRAD_FUZZ_SEED picks another fixed stream of programs.
"""
import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, seed, settings
from hypothesis import strategies as st

import gpugrad as gg
from gpugrad.autograd import OPS

torch = pytest.importorskip("torch")

N_EXAMPLES = int(os.environ.get("GPUGRAD_FUZZ_EXAMPLES", "500"))
MAX_STEPS = int(os.environ.get("GPUGRAD_FUZZ_STEPS", "16"))
SEED = int(os.environ.get("GPUGRAD_FUZZ_SEED", "20261206"))

# ---------------------------------------------------------------------------------------
# Where each registered op is exercised. An op missing from both tables fails
# test_every_registered_op_is_fuzzed: add a generator for it (or a reason).
COVERED = {
    "Abs": "abs", "Add": "add", "BinaryCrossEntropy": "bce", "BroadcastTo": "broadcast_to",
    "Cast": "cast", "Clamp": "clamp", "Clone": "clone", "Concatenate": "cat",
    "Cos": "cos", "Div": "div", "Dropout": "dropout", "Exp": "exp", "GetItem": "getitem",
    "IndexPut": "inplace_recorded", "LeakyRelu": "leaky_relu", "Log": "log",
    "Linear": "linear", "LogSoftmax": "log_softmax", "LogSumExp": "logsumexp",
    "MatMul": "matmul", "Max": "max",
    "Maximum": "maximum", "Mean": "mean", "Min": "min", "Minimum": "minimum", "Mul": "mul",
    "Neg": "neg", "Norm": "norm", "Permute": "permute", "Pow": "pow", "Relu": "relu",
    "Reshape": "reshape", "Sigmoid": "sigmoid", "Sin": "sin", "Softmax": "softmax",
    "SoftmaxCrossEntropy": "cross_entropy", "SoftmaxCrossEntropyProbs": "cross_entropy",
    "Softplus": "softplus", "Sqrt": "sqrt", "Stack": "stack", "Std": "std", "Sub": "sub",
    "Sum": "sum", "SumTo": "sum_to", "Tanh": "tanh", "ToDevice": "to_cpu", "Var": "var",
    "Where": "where",
}
# Ops that only the backward of another op records: reached by the second
# derivatives (grad with create_graph=True) of the ops named.
VIA_SECOND_DERIVATIVES = {
    "IndexAdd": "getitem (the gradient of indexing, recorded under create_graph)",
    "SigmoidBackward": "sigmoid",
    "SoftmaxCrossEntropyBackward": "cross_entropy",
}


def test_every_registered_op_is_fuzzed():
    missing = sorted(set(OPS) - set(COVERED) - set(VIA_SECOND_DERIVATIVES))
    assert not missing, f"ops the fuzzer never generates: {missing}"
    assert set(COVERED.values()) <= set(GENERATORS), sorted(set(COVERED.values()) - set(GENERATORS))


# ---------------------------------------------------------------------------------------
# The two libraries' headers: the custom Functions and a data helper. `arr(seed, shape)`
# draws standard normals in the program's dtype; the float64 shadow of a float32 program
# draws the same float32 numbers and widens them.
GG_HEADER = '''\
import numpy as np
import gpugrad as gg
DT = {dt!r}
def arr(seed, shape, low=None):
    a = np.random.default_rng(seed).standard_normal(shape).astype(DT)
    return a if low is None else np.abs(a) + np.asarray(low, DT)
class Cube(gg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x
class CubeA(Cube):
    array_backward = True     # the rule runs on raw arrays when not recorded
class MulScale(gg.Function):
    @staticmethod
    def forward(ctx, x, y, s):
        ctx.save_for_backward(x, y)
        ctx.s = s
        return x * y * s
    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y * ctx.s, g * x * ctx.s, None
'''
TORCH_HEADER = '''\
import numpy as np
import torch
import torch.nn.functional as F
DT = {dt!r}
def arr(seed, shape, low=None):
    a = np.random.default_rng(seed).standard_normal(shape).astype({dt0!r}).astype(DT)
    return a if low is None else np.abs(a) + np.asarray(low, DT)
class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x
CubeA = Cube
class MulScale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y, s):
        ctx.save_for_backward(x, y)
        ctx.s = s
        return x * y * s
    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y * ctx.s, g * x * ctx.s, None
'''


class Disagreement(AssertionError):
    pass


def _exec(src, ns):
    """The exception that running src in ns raised, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(src, ns)
    except Exception as e:  # noqa: BLE001 - which calls raise is what we compare
        return e
    return None


def _is_freed_error(e):
    return isinstance(e, RuntimeError) and "backward through the graph a second time" in str(e)


def _is_version_error(e):
    return isinstance(e, RuntimeError) and "modified by an in" in str(e)


class Var:
    """One named tensor of the program, as torch sees it (gpugrad must agree)."""

    def __init__(self, name, shape, group, leaf=False):
        self.name, self.shape, self.group, self.leaf = name, tuple(shape), group, leaf
        self.bounded = True  # |values| < 8: safe to exponentiate
        self.requires_grad = False

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def numel(self):
        return int(np.prod(self.shape, dtype=np.int64))


class Program:
    """Runs each step in gpugrad, torch, and (float32) torch in float64; compares."""

    def __init__(self, dt):
        self.dt = dt
        self.G, self.T = {}, {}
        exec(GG_HEADER.format(dt=dt), self.G)
        exec(TORCH_HEADER.format(dt=dt, dt0=dt), self.T)
        self.S = None
        if dt == "float32":  # the float64 shadow: the same numbers, widened
            self.S = {}
            exec(TORCH_HEADER.format(dt="float64", dt0=dt), self.S)
        self.lines = []  # (gg source, torch source, both raised)
        self.vars = []
        self.groups = {}  # alias group -> {"members": [...], "tainted": bool}
        self.retained, self.hooks = [], []
        self.n = 0
        self.ended = False
        self.snapshots = None  # torch's saved-tensor hooks once it runs on saved copies

    # ---- bookkeeping ----------------------------------------------------------------
    def fresh(self, prefix="v"):
        self.n += 1
        return f"{prefix}{self.n}"

    def new_group(self, var, tainted=False):
        gid = len(self.groups)
        self.groups[gid] = {"members": [var], "tainted": tainted}
        var.group = gid

    def join(self, var, src, tainted=False):
        g = self.groups[src.group]
        g["members"].append(var)
        g["tainted"] |= tainted
        var.group = src.group

    def group_of(self, var):
        return self.groups[var.group]

    def live(self):
        return [v for v in self.vars if v.name in self.T]

    # ---- the snippet ----------------------------------------------------------------
    def snippet(self, mark=None):
        out = []
        for lib, header, idx in (("gpugrad", GG_HEADER.format(dt=self.dt), 0),
                                 ("torch", TORCH_HEADER.format(dt=self.dt, dt0=self.dt), 1)):
            body = [header]
            for k, line in enumerate(self.lines):
                src, raised = line[idx], line[2]
                if raised:
                    body.append("try:\n    " + src + "\nexcept Exception as e:  # both raise\n"
                                "    print(type(e).__name__, e)")
                else:
                    body.append(src + ("    # <-- they part here" if k == mark else ""))
            if lib == "torch" and self.snapshots is not None:
                body.insert(1, "torch.autograd.graph.saved_tensors_hooks(lambda t: t.detach()"
                            ".clone(), lambda t: t).__enter__()  # saved tensors: copies")
            out.append(f"# ---- {lib} ----\n" + "\n".join(body))
        return "\n\n".join(out)

    def fail(self, msg):
        text = f"{msg}\n\n{self.snippet(mark=len(self.lines) - 1)}"
        note(text)
        raise Disagreement(text)

    # ---- running a step -------------------------------------------------------------
    def run(self, gsrc, tsrc=None):
        """Run one statement in each library; True when it ran, False when both raised."""
        if tsrc is None:
            tsrc = gsrc.replace("{L}", "torch")
            gsrc = gsrc.replace("{L}", "gg")
        self.lines.append([gsrc, tsrc, False])
        ge, te = _exec(gsrc, self.G), _exec(tsrc, self.T)
        if self.S is not None and _exec(tsrc, self.S) is not None:
            self.S = None  # the shadow is only a tolerance guide
        if (ge is None) != (te is None) and _is_version_error(ge or te):
            return self._version_replay(ge, te)
        if (ge is None) != (te is None) and _is_freed_error(ge or te):
            # A second backward through a node whose saved values were freed: which
            # nodes save anything is each library's choice (gpugrad's IndexPut keeps its
            # index, torch's fill of `t[...] = 2.5` keeps nothing), so the error fires
            # in one only. The program ends there: after a backward that one library
            # refused, the two states no longer match.
            event(f"freed buffers: only {'gpugrad' if ge is not None else 'torch'} raised; "
                  "program ended")
            self.lines[-1][2] = True
            self.ended = True
            return False
        if (ge is None) != (te is None):
            who = "gpugrad" if ge is not None else "torch"
            err = ge if ge is not None else te
            self.fail(f"only {who} raised: {type(err).__name__}: {err}")
        if ge is not None:
            self.lines[-1][2] = True
            return False
        return True

    def _version_replay(self, ge, te):
        """One library reports a saved tensor changed in place, the other does not.

        Which tensors an op saves is each library's choice (gpugrad's abs saves sign(x),
        torch's saves x), so the check fires differently where an in-place change under
        no_grad touched a tensor only one of them saved. When only torch raised,
        gpugrad's answer must be the gradient of the graph as recorded: torch computes
        that one when every saved tensor is a copy taken at save time (a
        saved_tensors_hooks pair), so the whole program runs again in torch that way
        and goes on against that run. When only gpugrad raised (it saved what torch
        does not), the program ends there: there is no answer to compare."""
        if ge is not None:
            event("version check: only gpugrad raised (it saved more); program ended")
            self.lines[-1][2] = True
            self.ended = True
            return False
        self.close()
        self.snapshots = torch.autograd.graph.saved_tensors_hooks(
            lambda t: t.detach().clone(), lambda t: t)
        self.snapshots.__enter__()
        T = {}
        exec(TORCH_HEADER.format(dt=self.dt, dt0=self.dt), T)
        for gsrc, tsrc, raised in self.lines[:-1]:
            if raised:  # raised in both, so changed nothing (a version error among them
                continue  # would not be raised on copies)
            err = _exec(tsrc, T)
            if err is not None:
                self.fail(f"torch, run again with its saved tensors copied at save time, "
                          f"did not do what it did before at `{tsrc}`: {err!r}")
        err = _exec(self.lines[-1][1], T)
        if err is not None:
            self.fail(f"only torch raised ({type(te).__name__}: {te}), and also when run "
                      f"with its saved tensors copied at save time: {err!r}")
        event("version check: only torch raised; compared with torch on saved copies")
        self.T, self.S = T, None
        return True

    def close(self):
        if self.snapshots is not None:
            self.snapshots.__exit__(None, None, None)
            self.snapshots = None

    def assign(self, expr_g, expr_t=None, *, view_of=None, tainted=False, leaf=False,
               prefix="v"):
        """name = expr in both; the new Var (None when both raised)."""
        name = self.fresh(prefix)
        ok = self.run(f"{name} = {expr_g}", None if expr_t is None else f"{name} = {expr_t}")
        if not ok:
            return None
        t = self.T[name]
        if not isinstance(t, torch.Tensor):
            return None
        v = Var(name, t.shape, None, leaf=leaf)
        if view_of is not None:
            self.join(v, view_of, tainted)
        else:
            self.new_group(v, tainted)
        self.vars.append(v)
        self.check_var(v)
        return v

    # ---- comparisons ----------------------------------------------------------------
    def check_var(self, v, what=None):
        g, t = self.G.get(v.name), self.T[v.name]
        s = self.S.get(v.name) if self.S is not None else None
        self.check_tensor(g, t, s, what or v.name)
        v.shape = tuple(t.shape)
        v.requires_grad = t.requires_grad
        if t.dtype.is_floating_point:
            a = t.detach().abs()
            v.bounded = bool(a.numel() == 0 or (torch.isfinite(a).all() and a.max() < 8))
        else:
            v.bounded = True

    def check_tensor(self, g, t, s, what):
        if not isinstance(g, gg.Tensor):
            self.fail(f"{what}: gpugrad gave {type(g).__name__}, torch a Tensor")
        if tuple(g.shape) != tuple(t.shape):
            self.fail(f"{what}: shape {tuple(g.shape)} vs torch {tuple(t.shape)}")
        gd, td = str(g.dtype).replace("gpugrad.", ""), str(t.dtype).replace("torch.", "")
        if gd != td:
            self.fail(f"{what}: dtype {gd} vs torch {td}")
        if g.requires_grad != t.requires_grad:
            self.fail(f"{what}: requires_grad {g.requires_grad} vs torch {t.requires_grad}")
        self.check_values(g.numpy(), t.detach().numpy(),
                          None if s is None or not isinstance(s, torch.Tensor)
                          else s.detach().numpy(), what)

    def check_values(self, a, b, s, what):
        if a.dtype.kind == "b" or a.dtype.kind in "iu":
            if not np.array_equal(a, b):
                self.fail(f"{what}: values differ\n gpugrad {a!r}\n torch   {b!r}")
            return
        a, b = a.astype(np.float64), b.astype(np.float64)
        fa, fb = np.isfinite(a), np.isfinite(b)
        if not np.array_equal(fa, fb) or not np.array_equal(a[~fa], b[~fb], equal_nan=True):
            self.fail(f"{what}: non-finite values differ\n gpugrad {a!r}\n torch   {b!r}")
        if not fa.any():
            return
        a, b = a[fa], b[fa]
        scale = float(np.abs(b).max())
        # a floor of a few ulps of 1 for results that should be 0 but are rounding
        # residues (softmax_cross_entropy's gradient for one class with label smoothing)
        if self.dt == "float64":
            tol = 1e-7 * np.abs(b) + 1e-9 * scale + 1e-13
        else:
            tol = 1e-4 * np.abs(b) + 1e-5 * scale + 1e-6
            if s is not None and s.shape == fa.shape and np.isfinite(s[fa]).all():
                tol = tol + 16 * np.abs(b - s[fa])  # torch's own float32 error
        bad = np.abs(a - b) > tol
        if bad.any():
            i = int(np.argmax(np.abs(a - b) - tol))
            self.fail(f"{what}: values differ beyond tolerance at {int(bad.sum())} of {b.size} "
                      f"(worst: gpugrad {a[i]!r} vs torch {b[i]!r})\n gpugrad {a!r}\n"
                      f" torch   {b!r}")

    def check_grads(self):
        """Every leaf's .grad, every retained gradient, every hook's log."""
        for v in self.live():
            if not (v.leaf or v.name in self.retained):
                continue
            g, t = self.G[v.name].grad, self.T[v.name].grad
            if (g is None) != (t is None):
                self.fail(f"{v.name}.grad: gpugrad {'None' if g is None else 'a tensor'}, torch "
                          f"{'None' if t is None else 'a tensor'}")
            if g is not None:
                s = self.S[v.name].grad if self.S is not None and v.name in self.S else None
                self.check_tensor(g, t, s, f"{v.name}.grad")
        for h in self.hooks:
            a, b = self.G[h], self.T[h]
            if len(a) != len(b):
                self.fail(f"hook log {h}: gpugrad ran it {len(a)} times, torch {len(b)}")
            sh = self.S[h] if self.S is not None else None
            self.check_values(np.array(a, dtype=np.float64), np.array(b, dtype=np.float64),
                              None if sh is None or len(sh) != len(b) else np.array(sh), h)


# ---------------------------------------------------------------------------------------
# Drawing helpers
def pick(d, P, pred=lambda v: True):
    cands = [v for v in P.live() if pred(v)]
    if not cands:
        return None
    return cands[d.draw(st.integers(0, len(cands) - 1), label="operand")]


def broadcastable(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def draw_shape(d, max_dims=3):
    return tuple(d.draw(st.lists(st.integers(1, 4), min_size=0, max_size=max_dims), label="shape"))


def draw_broadcast_shape(d, shape):
    """A shape that broadcasts with `shape`: a suffix of it, some sides set to 1, perhaps
    a leading 1 or a leading new axis."""
    k = d.draw(st.integers(0, len(shape)))
    out = [1 if d.draw(st.booleans()) and d.draw(st.booleans()) else s
           for s in shape[len(shape) - k:]]
    if len(out) < 3 and d.draw(st.integers(0, 4)) == 0:
        out.insert(0, d.draw(st.integers(1, 3)))
    return tuple(out)


def new_tensor(d, P, shape, requires_grad=None, low=None):
    """A fresh leaf (requires grad) or constant of `shape`, drawn by arr()."""
    if requires_grad is None:
        requires_grad = d.draw(st.integers(0, 3), label="leaf?") > 0
    s = d.draw(st.integers(0, 10**6), label="data seed")
    lowarg = "" if low is None else f", low={low}"
    rg = ", requires_grad=True" if requires_grad else ""
    return P.assign(f"{{L}}.tensor(arr({s}, {shape!r}{lowarg}){rg})", leaf=requires_grad,
                    prefix="x" if requires_grad else "c")


def partner(d, P, a, *, same=False, anything=True):
    """A second operand for `a`: mostly one that broadcasts with it (from the program or
    new), sometimes anything (then the call may have to raise in both)."""
    r = d.draw(st.integers(0 if anything else 1, 9), label="partner kind")
    if r == 0:
        b = pick(d, P)
    elif r <= 5:
        ok = (lambda v: v.shape == a.shape) if same else (lambda v: broadcastable(v.shape, a.shape))
        b = pick(d, P, ok)
    else:
        b = None
    if b is None:
        b = new_tensor(d, P, a.shape if same else draw_broadcast_shape(d, a.shape))
    return b


def draw_dim(d, nd, allow_none=True, allow_tuple=True, bad_ok=True):
    """None, an int (sometimes out of range: must raise in both) or a tuple of distinct ints."""
    opts = ["int"] + (["none"] if allow_none else []) + (["tuple"] if allow_tuple and nd else [])
    kind = d.draw(st.sampled_from(opts), label="dim kind")
    if kind == "none":
        return None
    if kind == "tuple":
        dims = d.draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
        return tuple(x - nd if d.draw(st.booleans()) else x for x in dims)
    lo, hi = (-max(nd, 1), max(nd, 1) - 1)
    if bad_ok and d.draw(st.integers(0, 12)) == 0:
        return d.draw(st.sampled_from([hi + 1, lo - 1]), label="bad dim")
    return d.draw(st.integers(lo, hi), label="dim")


# ---------------------------------------------------------------------------------------
# Generators: each draws its operands and emits one assignment (or more). They return
# nothing; a generator that finds no operand does nothing.
GENERATORS = {}


def gen(name):
    def deco(fn):
        GENERATORS[name] = fn
        return fn
    return deco


def unary(name, g, t=None, bounded=False):
    @gen(name)
    def _g(d, P):
        a = pick(d, P, (lambda v: v.bounded) if bounded else (lambda v: True))
        if a is not None:
            P.assign(g.format(a=a.name, L="gg"), (t or g).format(a=a.name, L="torch"))


unary("exp", "{L}.exp({a})", bounded=True)
unary("log", "{L}.log({a} * {a} + 0.5)")
unary("sqrt", "{L}.sqrt({a} * {a} + 0.25)")
unary("abs", "{L}.abs({a})")
unary("tanh", "{L}.tanh({a})")
unary("sigmoid", "{a}.sigmoid()")
unary("relu", "{L}.relu({a})")
unary("sin", "{L}.sin({a})")
unary("cos", "{a}.cos()")
unary("neg", "-{a}")
unary("clone", "{a}.clone()")


@gen("leaky_relu")
def _leaky(d, P):
    a = pick(d, P)
    if a is not None:
        s = d.draw(st.sampled_from([0.01, 0.2, -0.5, 1.5]))
        P.assign(f"gg.leaky_relu({a.name}, {s})", f"F.leaky_relu({a.name}, {s})")


@gen("softplus")
def _softplus(d, P):
    a = pick(d, P)
    if a is not None:
        beta = d.draw(st.sampled_from([1, 0.5, 2.0, 10]))
        th = d.draw(st.sampled_from([20, 1.0, 0.5]))
        P.assign(f"gg.softplus({a.name}, beta={beta}, threshold={th})",
                 f"F.softplus({a.name}, beta={beta}, threshold={th})")


@gen("clamp")
def _clamp(d, P):
    a = pick(d, P)
    if a is None:
        return
    lo = d.draw(st.sampled_from([None, -0.5, 0.0, 0.3]))
    hi = d.draw(st.sampled_from([None, 0.5, 1.0, -1.0]))
    if lo is None and hi is None:
        lo = -0.2
    if d.draw(st.booleans()):
        P.assign(f"{{L}}.clamp({a.name}, min={lo}, max={hi})".replace("{L}", "gg"),
                 f"torch.clamp({a.name}, min={lo}, max={hi})")
    else:
        P.assign(f"{a.name}.clamp(min={lo}, max={hi})", f"{a.name}.clamp(min={lo}, max={hi})")


@gen("dropout")
def _dropout(d, P):
    a = pick(d, P)
    if a is None:
        return
    p, training = d.draw(st.sampled_from([(0.0, True), (0.5, False), (1.0, True), (0.0, False)]))
    # eval mode returns the input itself in torch: an alias, as far as in-place goes
    P.assign(f"gg.dropout({a.name}, {p}, training={training})",
             f"F.dropout({a.name}, {p}, training={training})", view_of=a, tainted=True)


@gen("cast")
def _cast(d, P):
    a = pick(d, P)
    if a is None:
        return
    # float32 <-> float64 and back: mixing the two in one op is a deliberate difference
    # (gpugrad raises TypeError, torch promotes), so the program keeps one dtype.
    other = "float64" if P.dt == "float32" else "float32"
    if d.draw(st.booleans()):
        P.assign(f"{a.name}.to(gg.{other}).to(gg.{P.dt})",
                 f"{a.name}.to(torch.{other}).to(torch.{P.dt})")
    else:
        m1, m2 = ("double", "float") if P.dt == "float32" else ("float", "double")
        P.assign(f"{a.name}.{m1}().{m2}()", f"{a.name}.{m1}().{m2}()")


@gen("to_cpu")
def _to_cpu(d, P):
    a = pick(d, P)
    if a is not None:  # the same tensor in torch
        P.assign(f"{a.name}.to('cpu')", f"{a.name}.to('cpu')", view_of=a, tainted=True)


def binary(name, op):
    @gen(name)
    def _g(d, P):
        a = pick(d, P)
        if a is None:
            return
        form = d.draw(st.integers(0, 3), label="form")
        c = d.draw(st.sampled_from([1.5, -0.5, 2.0, 0.0]))
        if name == "div":
            if form == 0:
                P.assign(f"{c} / ({a.name} * {a.name} + 0.5)", f"{c} / ({a.name} * {a.name} + 0.5)")
            elif form == 1:
                P.assign(f"{a.name} / {c or 3.0}", f"{a.name} / {c or 3.0}")
            else:
                b = partner(d, P, a)
                if b is not None:
                    e = f"{a.name} / ({b.name} * {b.name} + 0.5)"
                    P.assign(e, e)
            return
        if form == 0:
            P.assign(f"{c} {op} {a.name}", f"{c} {op} {a.name}")
        elif form == 1:
            P.assign(f"{a.name} {op} {c}", f"{a.name} {op} {c}")
        else:
            b = partner(d, P, a)
            if b is not None:
                P.assign(f"{a.name} {op} {b.name}", f"{a.name} {op} {b.name}")


binary("add", "+")
binary("sub", "-")
binary("mul", "*")
binary("div", "/")


@gen("pow")
def _pow(d, P):
    a = pick(d, P)
    if a is None:
        return
    form = d.draw(st.integers(0, 5), label="pow form")
    n = a.name
    if form == 0:
        e = f"{n} ** {d.draw(st.sampled_from([2, 3, 2.0, 1, 0]))}"
    elif form == 1:
        e = f"({n} * {n} + 0.5) ** {d.draw(st.sampled_from([1.5, -0.5, 0.5, -2.0]))}"
    elif form == 2 and a.bounded:
        e = f"2.0 ** {n}"
    else:
        b = partner(d, P, a)
        if b is None:
            return
        e = f"({n} * {n} + 0.5) ** {{L}}.tanh({b.name})"
    P.assign(e.replace("{L}", "gg"), e.replace("{L}", "torch"))


def _minmax(name):
    @gen(name)
    def _g(d, P):
        a = pick(d, P)
        if a is None:
            return
        b = a if d.draw(st.integers(0, 5)) == 0 else partner(d, P, a)  # ties with itself
        if b is not None:
            P.assign(f"gg.{name}({a.name}, {b.name})", f"torch.{name}({a.name}, {b.name})")


_minmax("maximum")
_minmax("minimum")


@gen("where")
def _where(d, P):
    a = pick(d, P)
    if a is None:
        return
    b, c = partner(d, P, a), pick(d, P, lambda v: broadcastable(v.shape, a.shape))
    if b is None or c is None:
        return
    P.assign(f"{{L}}.where({c.name} > 0, {a.name}, {b.name})".replace("{L}", "gg"),
             f"torch.where({c.name} > 0, {a.name}, {b.name})")


@gen("matmul")
def _matmul(d, P):
    a = pick(d, P)
    if a is None:
        return
    if d.draw(st.integers(0, 7)) == 0 or a.ndim == 0:
        b = pick(d, P)  # anything: mismatched shapes must raise in both
    else:
        n = a.shape[-1]
        shape = d.draw(st.sampled_from([(n,), (n, d.draw(st.integers(1, 3))),
                                        (d.draw(st.integers(1, 2)), n, 2)]))
        b = pick(d, P, lambda v: v.shape == shape) or new_tensor(d, P, shape)
    if b is None:
        return
    if d.draw(st.booleans()):
        P.assign(f"{a.name} @ {b.name}", f"{a.name} @ {b.name}")
    else:
        P.assign(f"gg.matmul({a.name}, {b.name})",
                 f"torch.matmul({a.name}, {b.name})")


@gen("linear")
def _linear(d, P):
    a = pick(d, P, lambda v: v.ndim >= 1)
    if a is None:
        return
    if d.draw(st.integers(0, 7)) == 0:
        w = pick(d, P, lambda v: v.ndim == 2)  # any matrix: a mismatch must raise in both
    else:
        m, n = d.draw(st.integers(1, 3)), a.shape[-1]
        w = pick(d, P, lambda v: v.shape == (m, n)) or new_tensor(d, P, (m, n))
    if w is None:
        return
    b = None
    if d.draw(st.booleans()):
        m = w.shape[0]
        b = pick(d, P, lambda v: v.shape == (m,)) or new_tensor(d, P, (m,))
    args = f"{a.name}, {w.name}" + ("" if b is None else f", {b.name}")
    # A 2-D weight only: torch also takes a 1-D one, which gg.linear refuses.
    P.assign(f"gg.linear({args})", f"torch.nn.functional.linear({args})")


def _dimargs(dim, keepdim, none="None"):
    return f"dim={none if dim is None else repr(dim)}, keepdim={keepdim}"


def reduction(name, tname=None, extra=""):
    @gen(name)
    def _g(d, P):
        a = pick(d, P)
        if a is None:
            return
        dim = draw_dim(d, a.ndim)
        keep = d.draw(st.booleans())
        args = _dimargs(dim, keep)
        targs = _dimargs(dim, keep, "()" if tname in ("amax", "amin") else "None")
        ex = extra
        if name in ("var", "std"):
            corr = d.draw(st.sampled_from([0, 1]))
            axes = range(a.ndim) if dim is None else (dim,) if isinstance(dim, int) else dim
            try:
                count = math.prod(a.shape[i] for i in axes) if a.ndim else 1
            except IndexError:  # a dim out of range: raises in both
                count = 2
            ex = f", correction={corr}"
        if d.draw(st.booleans()) and dim is not None:  # NumPy's spelling in gpugrad
            gargs = f"axis={dim!r}, keepdims={keep}"
        elif name in ("max", "min") and isinstance(dim, int):
            # one int dim: torch's (values, indices) in both, the gradient to the index
            part = d.draw(st.sampled_from(["values", "indices"]))
            v = P.assign(f"{a.name}.{name}({args}).{part}", f"{a.name}.{name}({args}).{part}")
            if part == "indices" and v is not None:
                # compared, then kept out of the operands: an int64 tensor, which torch's
                # float-only ops refuse (leaky_relu, ...) where gpugrad computes
                P.vars.remove(v)
            return
        else:
            gargs = args
        P.assign(f"{a.name}.{name}({gargs}{ex})", f"{a.name}.{tname or name}({targs}{ex})")


reduction("sum")
reduction("mean")
# max/min: values only over axis=, None or a tuple of dims (torch's amax/amin); (values,
# indices) along one int dim, as torch.max/min.
reduction("max", "amax")
reduction("min", "amin")
reduction("var")
reduction("std")


@gen("norm")
def _norm(d, P):
    a = pick(d, P)
    if a is None:
        return
    p = d.draw(st.sampled_from([2, 1, 3]))
    dim = draw_dim(d, a.ndim, allow_tuple=False)
    keep = d.draw(st.booleans())
    P.assign(f"gg.norm({a.name}, {p}, {_dimargs(dim, keep)})",
             f"torch.linalg.vector_norm({a.name}, {p}, {_dimargs(dim, keep)})")


@gen("logsumexp")
def _lse(d, P):
    a = pick(d, P, lambda v: v.ndim > 0)
    if a is None:
        return
    dim = draw_dim(d, a.ndim, allow_none=False)
    keep = d.draw(st.booleans())
    P.assign(f"gg.logsumexp({a.name}, {_dimargs(dim, keep)})",
             f"torch.logsumexp({a.name}, {_dimargs(dim, keep)})")


def _softmaxes(name):
    @gen(name)
    def _g(d, P):
        a = pick(d, P)
        if a is None:
            return
        dim = draw_dim(d, a.ndim, allow_none=False, allow_tuple=False)
        P.assign(f"gg.{name}({a.name}, dim={dim})", f"torch.{name}({a.name}, dim={dim})")


_softmaxes("softmax")
_softmaxes("log_softmax")


# ---- shapes and views --------------------------------------------------------------------
@gen("reshape")
def _reshape(d, P):
    a = pick(d, P)
    if a is None:
        return
    n = a.numel
    cands = [(n,), (-1,), (1, n), tuple(reversed(a.shape)), (n + 1,)]  # (n + 1,) must raise
    cands += [(k, n // k) for k in (2, 3) if n % k == 0]
    cands += [(-1, 2)] if n % 2 == 0 else []
    shape = d.draw(st.sampled_from(cands or [(n,)]))
    # Whether reshape/flatten copy or view is the library's choice (torch and NumPy
    # decide on strides differently): their results and sources are kept out of
    # in-place changes ("tainted").
    if d.draw(st.booleans()):
        e = f"{a.name}.reshape({shape[0]})" if len(shape) == 1 else (
            f"{a.name}.reshape{shape!r}" if shape and d.draw(st.booleans()) else
            f"{a.name}.reshape({shape!r})")
        P.assign(e, e, view_of=a, tainted=True)
    else:
        P.assign(f"gg.reshape({a.name}, {shape!r})", f"torch.reshape({a.name}, {shape!r})",
                 view_of=a, tainted=True)


@gen("flatten")
def _flatten(d, P):
    a = pick(d, P)
    if a is None:
        return
    nd = max(a.ndim, 1)
    s, e = sorted([d.draw(st.integers(-nd, nd - 1)), d.draw(st.integers(-nd, nd - 1))],
                  key=lambda x: x % nd)
    P.assign(f"{a.name}.flatten({s}, {e})", f"{a.name}.flatten({s}, {e})", view_of=a, tainted=True)


@gen("transpose")
def _transpose(d, P):
    a = pick(d, P)
    if a is None:
        return
    if d.draw(st.booleans()) or a.ndim < 2:
        rev = tuple(reversed(range(a.ndim)))
        P.assign(f"{a.name}.T", f"{a.name}.permute({list(rev)!r})", view_of=a)
    else:
        d0, d1 = draw_dim(d, a.ndim, False, False), draw_dim(d, a.ndim, False, False)
        P.assign(f"{a.name}.transpose({d0}, {d1})", f"{a.name}.transpose({d0}, {d1})", view_of=a)


@gen("permute")
def _permute(d, P):
    a = pick(d, P)
    if a is None:
        return
    perm = d.draw(st.permutations(range(a.ndim)))
    if perm and d.draw(st.integers(0, 10)) == 0:
        perm = perm[:-1]  # too few dims: raises in both
    if d.draw(st.booleans()) or not perm:
        args = repr(list(perm))
    else:
        args = ", ".join(map(str, perm))
    P.assign(f"{a.name}.permute({args})", f"{a.name}.permute({args})", view_of=a)


@gen("squeeze")
def _squeeze(d, P):
    # Only where there is an axis of size 1 to drop: a squeeze with nothing to drop
    # returns the input itself in gpugrad where torch gives a new view (a bug, see
    # test_squeeze_with_nothing_to_drop_is_a_new_tensor), which retain_grad and hooks see.
    a = pick(d, P, lambda v: 1 in v.shape)
    if a is None:
        return
    if d.draw(st.booleans()):
        P.assign(f"{a.name}.squeeze()", f"{a.name}.squeeze()", view_of=a)
    else:
        dim = d.draw(st.sampled_from([i for i, s in enumerate(a.shape) if s == 1]))
        dim -= a.ndim if d.draw(st.booleans()) else 0
        P.assign(f"{a.name}.squeeze({dim})", f"{a.name}.squeeze({dim})", view_of=a)


@gen("unsqueeze")
def _unsqueeze(d, P):
    a = pick(d, P)
    if a is None:
        return
    dim = d.draw(st.integers(-a.ndim - 1, a.ndim))
    P.assign(f"{a.name}.unsqueeze({dim})", f"{a.name}.unsqueeze({dim})", view_of=a)


@gen("detach")
def _detach(d, P):
    a = pick(d, P)
    if a is not None:
        P.assign(f"{a.name}.detach()", f"{a.name}.detach()", view_of=a)


@gen("broadcast_to")
def _broadcast_to(d, P):
    a = pick(d, P)
    if a is None:
        return
    shape = tuple(s if s != 1 or d.draw(st.booleans()) else d.draw(st.integers(2, 3))
                  for s in a.shape)
    shape = tuple(d.draw(st.lists(st.integers(1, 3), max_size=1))) + shape
    if d.draw(st.integers(0, 10)) == 0:
        shape = shape + (5,)  # does not fit: raises in both
    if shape == a.shape:  # gpugrad returns the input itself there (the squeeze bug)
        return
    # NumPy's broadcast view is read-only; torch's expand is writable where it does not
    # repeat: kept out of in-place changes.
    P.assign(f"gg.broadcast_to({a.name}, {shape!r})", f"torch.broadcast_to({a.name}, {shape!r})",
             view_of=a, tainted=True)


@gen("sum_to")
def _sum_to(d, P):
    a = pick(d, P, lambda v: v.ndim > 0)
    if a is None:
        return
    shape = draw_broadcast_shape(d, a.shape)
    if not broadcastable(shape, a.shape) or np.broadcast_shapes(shape, a.shape) != a.shape:
        return
    P.assign(f"gg.sum_to({a.name}, {shape!r})", f"{a.name}.sum_to_size({shape!r})",
             view_of=a, tainted=True)  # torch returns the input itself when nothing to sum


def draw_index(d, a):
    """A basic index: per axis a slice or an int, with None and ... mixed in."""
    items = []
    for s in a.shape:
        k = d.draw(st.integers(0, 5), label="index kind")
        if k == 0 and s > 0:
            items.append(str(d.draw(st.integers(-s, s - 1))))
        elif k == 1:
            items.append(f"{d.draw(st.integers(0, 2))}:")
        elif k == 2:
            items.append("::2")
        elif k == 3:
            items.append(f":{d.draw(st.integers(-1, 3))}")
        else:
            items.append(":")
    if items and d.draw(st.integers(0, 3)) == 0:
        items = items[:d.draw(st.integers(0, len(items) - 1))] + ["..."]
    if d.draw(st.integers(0, 4)) == 0:
        items.insert(d.draw(st.integers(0, len(items))), "None")
    if a.shape and d.draw(st.integers(0, 15)) == 0:
        items[0] = str(a.shape[0])  # out of range: IndexError in both
    return ", ".join(items) if items else "..."


@gen("getitem")
def _getitem(d, P):
    a = pick(d, P)
    if a is None:
        return
    k = d.draw(st.integers(0, 5), label="getitem kind")
    if k <= 3 or a.ndim == 0:
        idx = draw_index(d, a)
        P.assign(f"{a.name}[{idx}]", f"{a.name}[{idx}]", view_of=a)
    elif k == 4:  # integer array: repeated indices accumulate in the gradient
        n = a.shape[0]
        ix = d.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4)) if n else [0]
        tail = ", " + draw_index(d, Var("_", a.shape[1:], None)) if a.ndim > 1 and d.draw(
            st.booleans()) else ""
        P.assign(f"{a.name}[{ix!r}{tail}]", f"{a.name}[{ix!r}{tail}]")
    else:  # a boolean mask
        m = pick(d, P, lambda v: v.shape == a.shape)
        P.assign(f"{a.name}[{m.name} > 0.3]", f"{a.name}[{m.name} > 0.3]")


@gen("cat")
def _cat(d, P):
    a = pick(d, P, lambda v: v.ndim > 0)
    if a is None:
        return
    dim = draw_dim(d, a.ndim, False, False)
    if d.draw(st.integers(0, 6)) == 0:
        b = pick(d, P, lambda v: v.ndim > 0)  # anything: mismatched shapes raise in both
    else:
        shape = list(a.shape)
        if -a.ndim <= dim < a.ndim:
            shape[dim] = d.draw(st.integers(1, 3))
        b = pick(d, P, lambda v: v.shape == tuple(shape)) or new_tensor(d, P, tuple(shape))
    if b is None:
        return
    fn = d.draw(st.sampled_from(["cat", "concatenate"]))
    gdim = f"dim={dim}" if fn == "cat" or d.draw(st.booleans()) else f"axis={dim}"
    P.assign(f"gg.{fn}([{a.name}, {b.name}], {gdim})",
             f"torch.cat([{a.name}, {b.name}], dim={dim})")


@gen("stack")
def _stack(d, P):
    a = pick(d, P)
    if a is None:
        return
    b = partner(d, P, a, same=True)
    dim = d.draw(st.integers(-a.ndim - 1, a.ndim))
    P.assign(f"gg.stack([{a.name}, {b.name}, {a.name}], dim={dim})",
             f"torch.stack([{a.name}, {b.name}, {a.name}], dim={dim})")


# ---- losses ------------------------------------------------------------------------------
@gen("cross_entropy")
def _ce(d, P):
    a = pick(d, P, lambda v: v.ndim == 2 and v.shape[0] > 0 and v.shape[1] > 0)
    if a is None:
        a = new_tensor(d, P, (d.draw(st.integers(1, 4)), d.draw(st.integers(1, 4))))
        if a is None:
            return
    n, c = a.shape
    red = d.draw(st.sampled_from(["mean", "sum", "none"]))
    ls = d.draw(st.sampled_from([0.0, 0.0, 0.1]))
    opts = f"reduction={red!r}, label_smoothing={ls}"
    if d.draw(st.booleans()):
        w = new_tensor(d, P, (c,), requires_grad=False, low=0.1)
        if w is None:
            return
        opts = f"weight={w.name}, " + opts
    if d.draw(st.integers(0, 2)) == 0:  # class probabilities
        t = partner(d, P, a, same=True)
        tgt = f"{{L}}.softmax({t.name}, dim=1)"
    else:
        labels = d.draw(st.lists(st.integers(0, c - 1) | st.just(-100), min_size=n, max_size=n))
        if red == "mean" and all(x == -100 for x in labels):
            labels[-1] = 0  # all ignored: 0/0, a NaN gradient (see the var note above)
        if d.draw(st.integers(0, 12)) == 0:
            labels[0] = c  # out of range: raises in both
        lab = P.fresh("lab")
        P.run(f"{lab} = {{L}}.tensor(np.array({labels!r}, dtype=np.int64))")
        tgt = lab
    P.assign(f"gg.softmax_cross_entropy({a.name}, {tgt.replace('{L}', 'gg')}, {opts})",
             f"F.cross_entropy({a.name}, {tgt.replace('{L}', 'torch')}, {opts})")


@gen("mse")
def _mse(d, P):
    a = pick(d, P)
    if a is None:
        return
    # same shapes only: torch broadcasts a target of another shape (with a warning),
    # gpugrad refuses it on purpose ("reshape explicitly")
    b = partner(d, P, a, same=True, anything=False)
    red = d.draw(st.sampled_from(["mean", "sum", "none"]))
    P.assign(f"gg.mse_loss({a.name}, {b.name}, reduction={red!r})",
             f"F.mse_loss({a.name}, {b.name}, reduction={red!r})")


@gen("bce_logits")
def _bcel(d, P):
    a = pick(d, P)
    if a is None:
        return
    t = partner(d, P, a, same=True)
    red = d.draw(st.sampled_from(["mean", "sum", "none"]))
    extra = ""
    if a.ndim and d.draw(st.booleans()):
        pw = new_tensor(d, P, a.shape[-1:], requires_grad=False, low=0.2)
        extra = f", pos_weight={pw.name}"
    P.assign(f"gg.binary_cross_entropy_with_logits({a.name}, gg.sigmoid({t.name}), "
             f"reduction={red!r}{extra})",
             f"F.binary_cross_entropy_with_logits({a.name}, torch.sigmoid({t.name}), "
             f"reduction={red!r}{extra})")


@gen("bce")
def _bce(d, P):
    a = pick(d, P)
    if a is None:
        return
    t = partner(d, P, a, same=True)
    red = d.draw(st.sampled_from(["mean", "sum", "none"]))
    w = ""
    if d.draw(st.booleans()):
        wv = partner(d, P, a, same=True)
        w = f", weight={wv.name}.detach().abs()"
    P.assign(f"gg.binary_cross_entropy(gg.sigmoid({a.name}), gg.sigmoid({t.name}).detach(), "
             f"reduction={red!r}{w})",
             f"F.binary_cross_entropy(torch.sigmoid({a.name}), torch.sigmoid({t.name}).detach(), "
             f"reduction={red!r}{w})")


# ---- custom Functions --------------------------------------------------------------------
@gen("custom")
def _custom(d, P):
    a = pick(d, P)
    if a is None:
        return
    k = d.draw(st.integers(0, 2))
    if k == 0:
        P.assign(f"Cube.apply({a.name})", f"Cube.apply({a.name})")
    elif k == 1:
        P.assign(f"CubeA.apply({a.name})", f"CubeA.apply({a.name})")
    else:
        # a partner that broadcasts: the rule's gradient has the broadcast output's shape,
        # which the engine sums to each input's (test_custom_function_gradient_is_summed_to_shape)
        b = partner(d, P, a, anything=False)
        e = f"MulScale.apply({a.name}, {b.name}, 0.5)"
        P.assign(e, e)


# ---- autograd features -------------------------------------------------------------------
@gen("retain_grad")
def _retain(d, P):
    a = pick(d, P, lambda v: v.requires_grad and not v.leaf)
    if a is not None and P.run(f"{a.name}.retain_grad()"):
        P.retained.append(a.name)


@gen("hook")
def _hook(d, P):
    a = pick(d, P, lambda v: v.requires_grad)
    if a is None:
        return
    if d.draw(st.booleans()):  # a hook that changes the gradient
        f = d.draw(st.sampled_from(["g * 2.0", "g * 0.5 + 1.0", "-g"]))
        P.run(f"_ = {a.name}.register_hook(lambda g: {f})")
    else:  # one that only looks
        h = P.fresh("log")
        P.run(f"{h} = []")
        if P.run(f"_ = {a.name}.register_hook(lambda g: {h}.append(float(g.sum().item())))"):
            P.hooks.append(h)


def _grad_output(d, P, v):
    c = new_tensor(d, P, v.shape, requires_grad=False)
    return c


@gen("backward")
def _backward(d, P):
    v = pick(d, P)
    if v is None:
        return
    retain = d.draw(st.booleans())
    form = d.draw(st.integers(0, 3), label="backward form")
    if form == 0 or v.numel != 1:
        if form == 3:  # a non-scalar without a gradient: raises in both (when not 1 element)
            ok = P.run(f"{v.name}.backward(retain_graph={retain})")
        else:
            c = _grad_output(d, P, v)
            ok = P.run(f"{v.name}.backward({c.name}, retain_graph={retain})")
    elif form == 1:
        ok = P.run(f"{v.name}.backward(retain_graph={retain})")
    else:
        ok = P.run(f"({v.name} * {v.name}).sum().backward(retain_graph={retain})")
    if not ok:
        P.ended = True  # after a failed backward the gradients are unspecified
        return
    P.check_grads()


@gen("grad2")
def _grad2(d, P):
    """grad() with create_graph, then a second derivative of a weighted sum of the result."""
    v = pick(d, P)
    leaves = [x for x in P.live() if x.leaf]
    if v is None or not leaves:
        return
    ins = d.draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=3,
                          unique_by=lambda x: x.name))
    names = "[" + ", ".join(x.name for x in ins) + "]"
    c = _grad_output(d, P, v)
    unused = ", allow_unused=True" if d.draw(st.integers(0, 5)) else ""
    gs = P.fresh("gs")
    ok = P.run(f"{gs} = gg.grad({v.name}, {names}, grad_outputs={c.name}, "
               f"create_graph=True{unused})",
               f"{gs} = torch.autograd.grad({v.name}, {names}, grad_outputs={c.name}, "
               f"create_graph=True{unused})")
    if not ok:
        P.ended = True
        return
    G, T = P.G[gs], P.T[gs]
    parts = []
    for i, (g, t) in enumerate(zip(G, T)):
        if (g is None) != (t is None):
            P.fail(f"{gs}[{i}]: gpugrad {'None' if g is None else 'a tensor'}, torch "
                   f"{'None' if t is None else 'a tensor'}")
        if t is None:
            continue
        if not g.requires_grad and t.requires_grad:
            # Documented: a first gradient that does not depend on the inputs (relu or
            # abs alone: a constant mask) has no graph in gpugrad, whose second grad()
            # raises where torch returns zeros. Check torch's zeros and leave it out.
            zs = torch.autograd.grad(t.sum(), [P.T[x.name] for x in ins], allow_unused=True,
                                     retain_graph=True)
            if any(z is not None and bool((z != 0).any()) for z in zs):
                P.fail(f"{gs}[{i}] has no graph in gpugrad, but torch's second derivative "
                       f"of it is not zero: {zs}")
            P.check_values(g.numpy(), t.detach().numpy(), None, f"{gs}[{i}]")
            continue
        s = P.S[gs][i] if P.S is not None and gs in P.S else None
        P.check_tensor(g, t, s, f"{gs}[{i}]")
        if t.requires_grad:
            parts.append(i)
    if not parts:
        return
    w = [_grad_output(d, P, Var("_", P.T[gs][i].shape, None)) for i in parts]
    expr = " + ".join(f"({gs}[{i}] * {c.name}).sum()" for i, c in zip(parts, w))
    hs = P.fresh("hs")
    ok = P.run(f"{hs} = gg.grad({expr}, {names}, allow_unused=True)",
               f"{hs} = torch.autograd.grad({expr}, {names}, allow_unused=True)")
    if not ok:
        P.ended = True
        return
    for i, (g, t) in enumerate(zip(P.G[hs], P.T[hs])):
        if (g is None) != (t is None):
            # gpugrad may know a path is unused where torch computes zeros along it
            z = t if g is None else g
            if isinstance(z, torch.Tensor):
                z = z.detach().numpy()
            elif isinstance(z, gg.Tensor):
                z = z.numpy()
            if np.any(z != 0):
                P.fail(f"{hs}[{i}]: gpugrad {'None' if g is None else 'a tensor'}, torch "
                       f"{'None' if t is None else 'a tensor'} (and not zeros)")
            continue
        if t is not None:
            s = P.S[hs][i] if P.S is not None and hs in P.S else None
            P.check_tensor(g, t, s, f"{hs}[{i}]")
    P.check_grads()  # grad() leaves .grad alone


# ---- in-place ----------------------------------------------------------------------------
def _inplace_target(P, v):
    return not P.group_of(v)["tainted"]


@gen("inplace_no_grad")
def _inplace(d, P):
    v = pick(d, P, lambda v: _inplace_target(P, v))
    if v is None:
        return
    op = d.draw(st.sampled_from(["+=", "-=", "*=", "/=", "[]"]))
    if op == "[]":
        idx = draw_index(d, v) if v.ndim else "..."
        val = d.draw(st.sampled_from([0.0, 1.5, -2.0]))
        stmt = f"{v.name}[{idx}] = {val}"
    else:
        if d.draw(st.booleans()):
            b, other = None, str(d.draw(st.sampled_from([0.5, 2.0, -1.5])))
        else:
            # not an operand that shares v's memory: torch refuses `x += x.T` (overlap),
            # where NumPy (and so gpugrad) computes it from a copy
            b = pick(d, P, lambda u: broadcastable(u.shape, v.shape) and u.group != v.group)
            if b is None:
                return
            other = f"({b.name} * {b.name} + 0.5)" if op == "/=" else b.name
        stmt = f"{v.name} {op} {other}"
    P.run(f"with {{L}}.no_grad(): {stmt}")
    for u in P.live():  # a view and its base see the change; nothing else may
        P.check_var(u)


@gen("leaf_update")
def _leaf_update(d, P):
    """The optimizer step: x -= lr * x.grad under no_grad, or zero the gradient."""
    v = pick(d, P, lambda v: v.leaf and P.T[v.name].grad is not None)
    if v is None:
        return
    if d.draw(st.booleans()):
        P.run(f"with {{L}}.no_grad(): {v.name} -= 0.1 * {v.name}.grad")
    else:
        P.run(f"{v.name}.grad = None")
    for u in P.live():
        P.check_var(u)
    P.check_grads()


@gen("inplace_recorded")
def _inplace_recorded(d, P):
    """A recorded in-place change of a fresh clone: t[idx] = value, t += b, t *= b.
    (On a tensor that shares memory with a view, gpugrad asks for a clone() where torch
    computes: a documented difference, so only a clone without views is changed.)"""
    a = pick(d, P)
    if a is None:
        return
    c = P.assign(f"{a.name}.clone()", f"{a.name}.clone()")
    if c is None:
        return
    if d.draw(st.booleans()):
        idx = draw_index(d, c) if c.ndim else "..."
        # not c itself (torch refuses `c[...] = c`, overlapping memory; NumPy copies)
        b = pick(d, P, lambda u: u.ndim <= 1 and u.numel == 1 and u.group != c.group)
        val = b.name if b is not None and d.draw(st.booleans()) else "2.5"
        ok = P.run(f"{c.name}[{idx}] = {val}")
    else:
        op = d.draw(st.sampled_from(["+=", "-=", "*="]))
        # b may have more (size-1) axes than c: both refuse (test_recorded_inplace_checks_the_shape)
        b = partner(d, P, c)
        ok = P.run(f"{c.name} {op} {b.name}")
    if ok:
        P.check_var(c)


@gen("bad_leaf_inplace")
def _bad_leaf(d, P):
    """An in-place change of a leaf that requires grad, outside no_grad: raises in both."""
    v = pick(d, P, lambda v: v.leaf)
    if v is not None:
        P.run(f"{v.name} += 1.0")
        P.check_var(v)


@gen("new_leaf")
def _new_leaf(d, P):
    new_tensor(d, P, draw_shape(d))


# How often each generator is drawn.
WEIGHTS = {name: 3 for name in GENERATORS}
WEIGHTS.update({"backward": 4, "grad2": 4, "new_leaf": 1, "bad_leaf_inplace": 1, "to_cpu": 1,
                "cast": 1, "detach": 1, "leaf_update": 2, "inplace_no_grad": 3})
_CHOICES = [n for n, w in sorted(WEIGHTS.items()) for _ in range(w)]


@seed(SEED)
@settings(max_examples=N_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck), print_blob=True)
@given(data=st.data(), dt=st.sampled_from(["float64", "float32"]))
def test_programs_agree_with_torch(data, dt):
    d = data
    P = Program(dt)
    try:
        _program(d, P)
    finally:
        P.close()


def _program(d, P):
    for _ in range(d.draw(st.integers(1, 2), label="leaves")):
        new_tensor(d, P, draw_shape(d), requires_grad=True)
    for _ in range(d.draw(st.integers(2, MAX_STEPS), label="steps")):
        if P.ended:
            break
        GENERATORS[d.draw(st.sampled_from(_CHOICES), label="step")](d, P)
    if not P.ended:  # end with a backward of the last value, so every program has one
        v = P.live()[-1] if P.live() else None
        if v is not None and v.requires_grad and P.T[v.name].dtype.is_floating_point:
            c = _grad_output(d, P, v)
            if P.run(f"{v.name}.backward({c.name})"):
                P.check_grads()


# ---------------------------------------------------------------------------------------
# Single cases the fuzzer found and keeps out of its programs.
@pytest.mark.parametrize("fn", ["squeeze", "broadcast_to"])
def test_squeeze_with_nothing_to_drop_is_a_new_tensor(fn):
    """Not the input itself, which would let a hook or retain_grad on the result act on
    the input's gradient (and make the result a leaf), as torch's new view does not."""
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x.squeeze(0) if fn == "squeeze" else gg.broadcast_to(x, (2,))
    y.register_hook(lambda g: g * 0)  # y is never used: torch never calls this hook
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]  # the input itself gave [0.0, 0.0]
    assert y is not x and not y.is_leaf


def test_recorded_inplace_checks_the_shape():
    """A recorded in-place op (h += w while w or h requires grad) accepted an operand
    whose broadcast shape has more (size-1) axes than h, where torch (and gpugrad under
    no_grad) raise; h then held a node of the wrong shape and backward failed inside
    sum_to_array with an IndexError."""
    x = gg.tensor(np.ones(3), requires_grad=True)
    w = gg.tensor(np.arange(3.0).reshape(1, 1, 3), requires_grad=True)
    h = x.clone()
    # torch: RuntimeError, output with shape [3] doesn't match the broadcast shape [1, 1, 3]
    with pytest.raises(ValueError, match=r"add_ \(\+=\).*\(1, 1, 3\).*\(3,\)"):
        h += w
    assert h.shape == (3,)  # h and its graph unchanged
    h.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("op", ["relu", "maximum", "minimum"])
def test_nan_gradient_stays_in_its_elements(op):
    """The backward of relu, maximum and minimum multiplied the incoming gradient by a
    0/1 mask, so a NaN or inf gradient reached elements whose local derivative is 0
    (NaN * 0 is NaN); torch selects: 0 there. clamp and where already selected."""
    x = gg.tensor([1.0, -1.0], requires_grad=True)
    zero = gg.tensor([0.0, 0.0])
    y = {"relu": lambda: gg.relu(x), "maximum": lambda: gg.maximum(x, zero),
         "minimum": lambda: gg.minimum(-x, zero)}[op]()
    y.backward(gg.tensor([float("nan"), float("nan")]))
    assert np.isnan(x.grad.numpy()[0]) and x.grad.numpy()[1] == 0.0  # torch: [nan, 0.]


class _MulScale(gg.Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y, g * x  # shapes of the broadcast output, not of x and y


def test_custom_function_gradient_is_summed_to_shape():
    """gpugrad refused (RuntimeError) a custom Function's gradient whose shape is the
    broadcast output's, where torch's engine sums it down to the input's shape
    (validate_outputs: at::sum_to); a shape the input's does not broadcast to still
    raises."""
    x = gg.tensor(2.0, requires_grad=True)
    y = gg.tensor([1.0, 3.0], requires_grad=True)
    _MulScale.apply(x, y).sum().backward()
    assert x.grad.item() == 4.0 and y.grad.tolist() == [2.0, 2.0]  # torch's answer
    assert x.grad.shape == ()
    # recorded too (create_graph): the sum is an op, so a second derivative sees it
    gx, = gg.grad(_MulScale.apply(x, y).sum(), [x], create_graph=True)
    assert gx.item() == 4.0 and gx.shape == () and gx.requires_grad
    w = gg.tensor([[1.0], [2.0]], requires_grad=True)  # (2, 1) with (3,): both stretched
    _MulScale.apply(w, gg.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert w.grad.tolist() == [[6.0], [6.0]]

    class _Wrong(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return gg.ones(4)  # (4,): not a shape that x's (2,) broadcasts to

    with pytest.raises(RuntimeError, match=r"gradient of shape \(4,\) for an input of shape"):
        _Wrong.apply(gg.tensor([1.0, 2.0], requires_grad=True)).sum().backward()


def test_bce_with_logits_is_exact_beyond_20():
    """Built on softplus, it must not take softplus's linear tail past |x| = 20, which
    drops log1p(exp(-|x|)) (2e-9 absolute here); torch is exact to float64 rounding."""
    x = gg.tensor(np.array([20.5, -30.0]), requires_grad=True)
    t = gg.tensor(np.array([0.0, 1.0]))
    loss = gg.binary_cross_entropy_with_logits(x, t, reduction="sum")
    loss.backward()
    exact = 20.5 + np.log1p(np.exp(-20.5)) + 30.0 + np.log1p(np.exp(-30.0))
    assert abs(loss.item() - exact) < 1e-14 * exact  # the linear tail gave 50.5, 1.25e-9 off
    assert abs(x.grad.numpy()[0] - 1 / (1 + np.exp(-20.5))) < 1e-15  # it gave 1.0
