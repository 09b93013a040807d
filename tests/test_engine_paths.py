"""Function.apply's lean branch (gpugrad's own one- and two-argument ops) and its
generic path record the same graph: for every op in gpugrad.autograd.OPS, through the
cases of tests/ops/test_gradcheck.py, the same node types, edges, needs_input_grad,
saved values, version checks, node attributes and outputs."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.autograd import OPS, function
from gpugrad.autograd.function import _FREED, Function

from .ops.test_gradcheck import CASE_LIST, CASES, _inputs


class _Canon:
    """A comparable description of everything a graph holds: nodes, leaves and
    version counters are named by the order in which the walk meets them."""

    def __init__(self, inputs):
        self.ids = {}
        self.inputs = {id(x): i for i, x in enumerate(inputs)}
        self.nodes = []

    def name(self, kind, obj):
        key = (kind, id(obj))
        if key not in self.ids:
            self.ids[key] = len(self.ids)
            if kind == "node":
                self.nodes.append(obj)
        return f"{kind}{self.ids[key]}"

    def value(self, v):
        if v is None or isinstance(v, (bool, int, float, str, complex)):
            return v
        if isinstance(v, gg.Tensor):
            return ("Tensor", self.array(v._data), v._rg, v._idx,
                    self.name("node", v._node) if v._node is not None else None,
                    self.vc(v._vc), self.inputs.get(id(v)))
        if hasattr(v, "__array__") and hasattr(v, "dtype") and hasattr(v, "shape"):
            return self.array(v)
        if isinstance(v, (list, tuple)):
            return (type(v).__name__, tuple(self.value(x) for x in v))
        if isinstance(v, dict):
            return ("dict", tuple(sorted((repr(k), self.value(x)) for k, x in v.items())))
        if isinstance(v, Function):
            return self.name("node", v)
        return ("repr", type(v).__name__, repr(v))

    def array(self, a):
        a = np.asarray(gg.tensor(a).numpy() if not isinstance(a, np.ndarray) else a)
        return ("array", str(a.dtype), a.shape, a.tobytes())

    def vc(self, vc):
        return (self.name("vc", vc), tuple(vc))

    def edge(self, e):
        if not e:
            return e
        target, idx, shape = e
        if idx < 0:
            return ("leaf", self.inputs.get(id(target), self.array(target._data)), shape)
        return (self.name("node", target), idx, shape)

    def node(self, n):
        out = {"type": type(n).__name__, "needs_input_grad": n.needs_input_grad,
               "next": tuple(self.edge(e) for e in n._next)}
        saved = n._saved
        if saved is not None and saved is not _FREED:
            values, checks, objs, outputs = saved
            out["saved"] = (self.value(tuple(values)),
                            tuple((i, self.vc(vc), version) for i, vc, version in checks),
                            self.value(tuple(objs)), self.value(outputs))
        else:
            out["saved"] = saved is _FREED
        for k, v in sorted(vars(n).items()):
            if k not in ("_next", "_saved", "needs_input_grad"):
                out[k] = self.value(v) if k != "backend" else str(v.device)
        return out

    def graph(self, outs):
        outs = outs if isinstance(outs, tuple) else (outs,)
        desc = [self.value(o) for o in outs]
        i = 0
        while i < len(self.nodes):  # the walk adds the nodes it meets
            desc.append(self.node(self.nodes[i]))
            i += 1
        return desc


def _record(case, device, seed, lean, requires_grad=True):
    function._lean[0] = lean
    try:
        xs = _inputs(case, device, seed)
        if not requires_grad:
            xs = [x.detach() for x in xs]
        outs = case["fn"](*xs)
        return _Canon(xs).graph(outs)
    finally:
        function._lean[0] = True


@pytest.mark.parametrize("name,i", CASE_LIST)
def test_lean_and_generic_paths_record_the_same_graph(device, name, i):
    case = CASES[name][i]
    lean = _record(case, device, 400 + i, True)
    generic = _record(case, device, 400 + i, False)
    assert lean == generic


@pytest.mark.parametrize("name,i", CASE_LIST)
def test_lean_and_generic_paths_agree_without_recording(device, name, i):
    case = CASES[name][i]
    try:
        lean = _record(case, device, 500 + i, True, requires_grad=False)
    except Exception as e:  # e.g. grad() of an output that needs none: both must raise
        with pytest.raises(type(e)):
            _record(case, device, 500 + i, False, requires_grad=False)
        return
    assert lean == _record(case, device, 500 + i, False, requires_grad=False)


def test_every_op_is_walked():
    assert set(OPS) <= set(CASES)


@pytest.mark.parametrize("op", ["Sigmoid", "Mul", "Add", "MatMul", "Exp"])
def test_own_single_output_ops_take_the_lean_branch(op, monkeypatch):
    """The lean branch is what runs for them: the generic saved-value search is not."""
    assert OPS[op]._lean

    def generic(*a, **k):
        raise AssertionError("generic _resolve_saved ran")
    monkeypatch.setattr(Function, "_resolve_saved", generic)
    x = gg.tensor(np.ones((2, 2)), requires_grad=True)
    y = {"Sigmoid": gg.sigmoid, "Exp": gg.exp, "Mul": lambda t: t * t,
         "Add": lambda t: t + 1.0, "MatMul": lambda t: t @ t}[op](x)
    assert type(y.grad_fn).__name__ == op
    y.sum().backward()
    assert x.grad is not None


def test_views_multi_output_ops_and_user_functions_stay_generic():
    class Double(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    assert not Double._lean
    lean = {name for name, cls in OPS.items() if cls._lean}
    assert "Reshape" not in lean and "Permute" not in lean and "GetItem" not in lean
    assert {"Sigmoid", "Mul", "Add", "MatMul"} <= lean


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
@pytest.mark.parametrize("c", [2, 2.5])
@pytest.mark.parametrize("shape", [(3,), ()])
def test_unrecorded_scalar_arithmetic_is_the_op(device, dtype, c, shape):
    """t * c, c * t, t + c, c + t with nothing to record go straight to the ufunc: the
    same dtype, values and (no) node as the op itself."""
    t = gg.tensor((np.arange(int(np.prod(shape))) + 1).reshape(shape), dtype=dtype,
                  device=device)
    pairs = [(t * c, gg.mul(t, c)), (c * t, gg.mul(c, t)), (t + c, gg.add(t, c)),
             (c + t, gg.add(c, t))]
    if dtype.startswith("float"):
        x = t.detach().requires_grad_()
        with gg.no_grad():
            pairs += [(x * c, gg.mul(x, c)), (c + x, gg.add(c, x))]
    for fast, op in pairs:
        assert type(fast._data) is type(op._data)
        assert fast.dtype == op.dtype and fast.shape == op.shape
        assert fast.grad_fn is None and not fast.requires_grad
        np.testing.assert_array_equal(fast.numpy(), op.numpy())


def test_unrecorded_inplace_arithmetic_bumps_the_version(device):
    p = gg.tensor(np.ones(4, dtype=np.float32), device=device, requires_grad=True)
    g = gg.tensor(np.full(4, 2.0, dtype=np.float32), device=device)
    y = p * p  # saves p: an in-place change must fail this graph's backward
    v = p._vc[0]
    with gg.no_grad():
        p -= 0.5 * g
        p *= 2
    assert p._vc[0] == v + 2
    np.testing.assert_array_equal(p.numpy(), np.zeros(4, dtype=np.float32))
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()
    with gg.no_grad(), pytest.raises(Exception):  # a float64 operand: the ufunc's error
        p += gg.tensor(np.ones(4), device=device)
