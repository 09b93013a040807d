"""Property-based tests: random broadcastable shapes and random small expression graphs."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import gpugrad as gg

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: (np.ones_like(a + b), np.ones_like(a + b))),
    "sub": (lambda a, b: a - b, lambda a, b: (np.ones_like(a - b), -np.ones_like(a - b))),
    "mul": (lambda a, b: a * b, lambda a, b: (b + 0 * a, a + 0 * b)),
    "div": (lambda a, b: a / b, lambda a, b: (1 / b + 0 * a, -a / b ** 2)),
    "maximum": (gg.maximum, lambda a, b: ((a > b) + 0.0 * b, (b > a) + 0.0 * a)),
}


def _sum_to(g, shape):
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    return g.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1), keepdims=True).reshape(shape)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2**16))
def test_broadcasting_binary_ops(shapes, op, seed):
    """Value = NumPy's; gradient = NumPy's elementwise derivative summed back to each shape."""
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(sa) + 3  # positive, and no ties for maximum
    b = rng.standard_normal(sb) - 3
    fn, deriv = BINARY[op]
    x, y = gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)
    out = fn(x, y)
    assert out.shape == out_shape
    np.testing.assert_allclose(out.numpy(), fn(a, b) if op != "maximum" else np.maximum(a, b))
    out.sum().backward()
    da, db = deriv(np.broadcast_to(a, out_shape), np.broadcast_to(b, out_shape))
    np.testing.assert_allclose(x.grad.numpy(), _sum_to(np.broadcast_to(da, out_shape), sa), rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), _sum_to(np.broadcast_to(db, out_shape), sb), rtol=1e-12)
    assert x.grad.shape == sa and y.grad.shape == sb


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_broadcasting_gradcheck(shapes, seed):
    rng = np.random.default_rng(seed)
    xs = [gg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes.input_shapes]
    assert gg.gradcheck(lambda a, b, c: gg.where(a > 0, a * b, b - c) * c, xs)


# ---- random graphs ----------------------------------------------------------------------
UNARY_G = [gg.sigmoid, gg.tanh, lambda t: t * t, lambda t: gg.exp(t * 0.3),
           lambda t: t.sum(axis=1, keepdims=True), lambda t: gg.softmax(t, axis=-1),
           lambda t: gg.log_softmax(t, axis=0)]
BINARY_G = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b,
            lambda a, b: a / (b * b + 1), gg.maximum]


@st.composite
def graphs(draw):
    """A random DAG over 3 leaves: each step applies an op to earlier nodes (reuse allowed)."""
    steps = []
    n = 3
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            steps.append(("u", draw(st.integers(0, len(UNARY_G) - 1)), draw(st.integers(0, n - 1))))
        else:
            steps.append(("b", draw(st.integers(0, len(BINARY_G) - 1)),
                          draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))))
        n += 1
    outs = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3))
    return steps, outs


def evaluate(steps, outs, leaves):
    nodes = list(leaves)
    for s in steps:
        nodes.append(UNARY_G[s[1]](nodes[s[2]]) if s[0] == "u" else BINARY_G[s[1]](nodes[s[2]], nodes[s[3]]))
    total = None
    for i in outs:
        term = nodes[i].sum()
        total = term if total is None else total + term
    return total


@SETTINGS
@given(graph=graphs(), seed=st.integers(0, 2**16))
def test_random_graphs_gradcheck(graph, seed):
    steps, outs = graph
    rng = np.random.default_rng(seed)
    leaves = [gg.tensor(rng.standard_normal((2, 3)), requires_grad=True) for _ in range(3)]
    assert gg.gradcheck(lambda *ls: evaluate(steps, outs, ls), leaves)


@SETTINGS
@given(graph=graphs(), seed=st.integers(0, 2**16))
def test_random_graphs_second_order(graph, seed):
    steps, outs = graph
    rng = np.random.default_rng(seed)
    leaves = [gg.tensor(rng.standard_normal((2, 3)), requires_grad=True) for _ in range(3)]
    assert gg.gradgradcheck(lambda *ls: evaluate(steps, outs, ls), leaves, atol=1e-4)


@SETTINGS
@given(graph=graphs(), seed=st.integers(0, 2**16))
def test_random_graphs_vs_torch(graph, seed):
    torch = pytest.importorskip("torch")
    steps, outs = graph
    rng = np.random.default_rng(seed)
    data = [rng.standard_normal((2, 3)) for _ in range(3)]
    leaves = [gg.tensor(d, requires_grad=True) for d in data]
    evaluate(steps, outs, leaves).backward()

    tt = {gg.sigmoid: torch.sigmoid, gg.tanh: torch.tanh, gg.maximum: torch.maximum}
    tu = [tt.get(f, f) for f in UNARY_G]
    tu[4] = lambda t: t.sum(dim=1, keepdim=True)
    tu[5] = lambda t: torch.softmax(t, -1)
    tu[6] = lambda t: torch.log_softmax(t, 0)
    tu[3] = lambda t: torch.exp(t * 0.3)
    tb = [tt.get(f, f) for f in BINARY_G]
    tl = [torch.tensor(d, requires_grad=True) for d in data]
    nodes = list(tl)
    for s in steps:
        nodes.append(tu[s[1]](nodes[s[2]]) if s[0] == "u" else tb[s[1]](nodes[s[2]], nodes[s[3]]))
    sum(nodes[i].sum() for i in outs).backward()
    for x, t in zip(leaves, tl):
        ref = np.zeros((2, 3)) if t.grad is None else t.grad.numpy()
        got = np.zeros((2, 3)) if x.grad is None else x.grad.numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
