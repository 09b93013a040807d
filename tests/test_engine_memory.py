"""Memory the engine holds: saved arrays go as soon as the node that needs them has run,
so a long chain's backward holds less and less; the blocked float32 column sum keeps
its temporaries small and adds exactly as the plain halving sum does."""
import tracemalloc

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.ops import _common

OPS, N = 80, 20_000  # 80 sigmoids, each saving 80 KB


def _chain_profile(retain_graph):
    x = gg.tensor(np.random.default_rng(0).standard_normal(N).astype(np.float32),
                  requires_grad=True)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        marks = []
        h = x
        for i in range(OPS):
            h = gg.sigmoid(h)
            if i % 20 == 19 and i < OPS - 1:
                # read when backward reaches this tensor: the nodes after it have run
                h.register_hook(lambda g, i=i: marks.append(
                    (OPS - 1 - i, tracemalloc.get_traced_memory()[0] - base)) and None)
        after_forward = tracemalloc.get_traced_memory()[0] - base
        h.sum().backward(retain_graph=retain_graph)
        del h
        after = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return after_forward, sorted(marks), after


def test_saved_arrays_go_as_their_nodes_run():
    before, marks, after = _chain_profile(retain_graph=False)
    saved = OPS * N * 4
    assert before >= saved  # every node's output is saved
    run = [n for n, _ in marks]
    assert run == [20, 40, 60]
    arr = N * 4
    held = [m for _, m in marks]
    # the first 20 nodes free their 20 saved arrays, less the gradients now in flight
    assert before - held[0] > 16 * arr, (before, held[0])
    for a, b in zip(held, held[1:]):  # and each next 20 theirs
        assert abs((a - b) - 20 * arr) < 2 * arr, (a, b)
    assert after < 3 * arr  # x.grad and small change


def test_retain_graph_keeps_them():
    before, marks, _ = _chain_profile(retain_graph=True)
    for _, held in marks:
        assert held >= before - N * 4


def _plain_halving(X, axes, keepdims):
    """The unblocked halving sum: what _halving_sum computes, with full-width temporaries."""
    kept = [a for a in range(X.ndim) if a not in axes]
    shape = [X.shape[a] for a in kept]
    Y = X.transpose(list(axes) + kept).reshape([-1] + shape)
    n = Y.shape[0]
    while n > 8:
        h = n // 2
        top = Y[:h] + Y[h:2 * h]
        if n % 2:
            top[0] += Y[n - 1]
        Y, n = top, h
    s = Y[:n].sum(axis=0)
    if keepdims:
        s = s.reshape([1 if a in axes else X.shape[a] for a in range(X.ndim)])
    return s


@pytest.mark.parametrize("shape,axes", [((512, 1024), (0,)), ((1025, 3), (0,)),
                                        ((300, 7, 5), (0, 2)), ((2, 700, 9), (0, 1)),
                                        ((4099,), (0,)), ((600, 200), (0, 1))])
@pytest.mark.parametrize("keepdims", [False, True])
def test_blocked_halving_sum_adds_as_the_plain_one(shape, axes, keepdims):
    X = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)
    got = _common._halving_sum(X, axes, keepdims)
    want = _plain_halving(X, axes, keepdims)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.array_equal(got, want)


def test_float32_sum_over_many_rows_of_nothing():
    x = gg.tensor(np.ones((300, 0, 2), np.float32), requires_grad=True)
    y = x.sum(axis=0)  # 300 rows of no columns: the halving sum has nothing to halve
    assert y.shape == (0, 2) and y.dtype == np.float32
    y.sum().backward()
    assert x.grad.shape == (300, 0, 2)


def test_blocked_halving_sum_temporaries_stay_small():
    X = np.random.default_rng(1).standard_normal((512, 1024)).astype(np.float32)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        _common._halving_sum(X, (0,), False)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 4  # the plain sum's first temporary alone is half of X


# ---- a rule taking over a saved array on its last use (Function._take_saved) -------------
BIG = 300_000  # above the sigmoid's threshold


def _sigmoid_grad(x_np, keep=None, retain_graph=False):
    """x.grad of sigmoid(x) . g, and the output's values after backward; keep picks what
    the caller holds on to while backward runs."""
    x = gg.tensor(x_np, requires_grad=True)
    y = gg.sigmoid(x)
    held = {"tensor": y, "view": y[1:], "data": y.data, None: None}[keep]
    want = y.numpy() if keep else None
    g = gg.tensor(np.linspace(-1, 1, x_np.size, dtype=x_np.dtype).reshape(x_np.shape))
    y.backward(g, retain_graph=retain_graph)
    if keep:
        after = held.numpy() if isinstance(held, gg.Tensor) else np.array(held)
        np.testing.assert_array_equal(after, want[1:] if keep == "view" else want)
    return x.grad.numpy()


def _reference(x_np):
    y = 1 / (1 + np.exp(-x_np.astype(np.float64)))
    g = np.linspace(-1, 1, x_np.size).reshape(x_np.shape)
    return (1 - y) * y * g


@pytest.mark.parametrize("shape", [(BIG,), (600, 500), (3, 200, 500)])
@pytest.mark.parametrize("keep", [None, "tensor", "view", "data"])
def test_sigmoid_gradient_is_the_same_whether_or_not_it_takes_the_output(shape, keep):
    x_np = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    got = _sigmoid_grad(x_np, keep)
    # the same products in the same order as the allocating kernel: equal to the bit
    cpu = gg.tensor(0.0)._backend
    y = cpu.sigmoid_forward(x_np)
    g = np.linspace(-1, 1, x_np.size, dtype=np.float32).reshape(shape)
    np.testing.assert_array_equal(got, cpu.sigmoid_backward(y, g))
    np.testing.assert_allclose(got, _reference(x_np), rtol=1e-5, atol=1e-7)


def test_taken_output_cannot_be_read_again():
    x = gg.tensor(np.ones(BIG, np.float32), requires_grad=True)
    y = gg.sigmoid(x)
    z = y.sum()
    del y  # nothing holds the output: its array is taken
    z.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        z.backward()


def test_retain_graph_keeps_the_output():
    x = gg.tensor(np.random.default_rng(4).standard_normal(BIG).astype(np.float32),
                  requires_grad=True)
    z = gg.sigmoid(x).sum()
    z.backward(retain_graph=True)
    first = x.grad.numpy()
    x.grad = None
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first)


def test_taking_the_output_saves_an_array_at_the_peak(monkeypatch):
    from gpugrad.ops import unary
    x = gg.tensor(np.random.default_rng(5).standard_normal(BIG).astype(np.float32),
                  requires_grad=True)
    g = gg.tensor(np.ones(BIG, np.float32))
    peaks = []
    for take_min in (BIG + 1, unary._TAKE_MIN):  # not taken, then taken
        monkeypatch.setattr(unary, "_TAKE_MIN", take_min)
        y = gg.sigmoid(x)
        y = y * 1.0  # the sigmoid's output is held by nothing but its node then
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            y.backward(g)
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
        finally:
            tracemalloc.stop()
        del y
        x.grad = None
    allocated, taken = peaks
    assert allocated - taken > 0.7 * BIG * 4, peaks  # less the blocks' temporary
