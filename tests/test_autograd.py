"""The engine: worked examples, ordering, accumulation, freeing, grad(), hooks, custom ops."""
import gc
import weakref

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import backends
from gpugrad.autograd import _wrap
from gpugrad.backends import Device
from gpugrad.backends.cpu import CPUBackend
from tests.conftest import rand


def scalar(v, device, **kw):
    return gg.tensor(v, dtype=gg.float64, device=device, requires_grad=True, **kw)


# ---- the worked examples, with exact values ------------------------------------------
def test_sum_times_z(device):
    x, y, z = scalar(1.0, device), scalar(3.0, device), scalar(-3.0, device)
    g = (x + y) * z
    g.backward()
    assert g.item() == -12
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-3, -3, 4)


def test_shopping(device):
    pencil, n_pencil = scalar(100.0, device), scalar(2.0, device)
    eraser, n_eraser = scalar(30.0, device), scalar(3.0, device)
    tax = scalar(1.1, device)
    total = (pencil * n_pencil + eraser * n_eraser) * tax
    total.backward()
    assert total.item() == pytest.approx(319, rel=1e-15)
    got = [t.grad.item() for t in (pencil, n_pencil, eraser, n_eraser, tax)]
    assert got == pytest.approx([2.2, 110, 3.3, 33, 290], rel=1e-15)


def test_shared_subexpression(device):
    x = scalar(3.0, device)
    a = x * x
    b = a * a + a
    b.backward()
    assert b.item() == 90
    assert x.grad.item() == (2 * 9 + 1) * 2 * 3  # (2a + 1) * 2x


def test_value_used_twice_accumulates(device):
    x = scalar(5.0, device)
    (x * x).backward()
    assert x.grad.item() == 10


def test_diamond_graph(device):
    x = scalar(2.0, device)
    a = x.exp()
    b = a * 3
    c = a * a
    (b + c).backward()
    e = np.exp(2.0)
    assert x.grad.item() == pytest.approx(3 * e + 2 * e * e)


# ---- engine behaviour -----------------------------------------------------------------
def test_long_chain_is_iterative(device):
    x = scalar(1.0, device)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_leaf_grad_accumulates_across_backward_calls(device):
    x = scalar(2.0, device)
    (x * 3).backward()
    (x * 4).backward()
    assert x.grad.item() == 7


def test_grad_of_shared_array_is_not_aliased(device):
    x, y = scalar(1.0, device), scalar(2.0, device)
    (x + y).backward()  # Add hands the same gradient array to both sides
    assert x.grad.data is not y.grad.data
    x.grad += 1  # must not touch y.grad
    assert y.grad.item() == 1


class _ViewsOfOne(gg.Function):
    """Hands its two inputs views of one fresh array: two views, or the same view
    twice. The engine may let at most one leaf keep that memory."""

    @staticmethod
    def forward(ctx, a, b, same):
        ctx.same = same
        return a + b

    @staticmethod
    def backward(ctx, g):
        both = ctx.backend.xp.stack([g._data, g._data])
        first = _wrap(both[0], ctx.backend)
        return first, (first if ctx.same else _wrap(both[1], ctx.backend)), None


@pytest.mark.parametrize("same", [False, True], ids=["two views", "one view twice"])
def test_views_of_one_array_are_not_aliased(device, same):
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    y = gg.tensor([3.0, 4.0], dtype=gg.float64, device=device, requires_grad=True)
    _ViewsOfOne.apply(x, y, same).sum().backward()
    x.grad += 1
    assert x.grad.numpy().tolist() == [2, 2] and y.grad.numpy().tolist() == [1, 1]


def test_retained_grad_is_not_aliased_by_a_leaf_grad(device):
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    y = x + 0.0  # Add hands y's gradient (a fresh array from Mul) on to x unchanged
    y.retain_grad()
    (y * 3.0).sum().backward()
    x.grad += 1
    assert y.grad.numpy().tolist() == [3, 3] and x.grad.numpy().tolist() == [4, 4]


def test_view_of_a_live_array_is_copied(device):
    kept = {}

    class Leak(gg.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1

        @staticmethod
        def backward(ctx, g):
            kept["arr"] = ctx.backend.xp.ones((1, 2), g.dtype)  # someone else holds the base
            return _wrap(kept["arr"].reshape(2), ctx.backend)

    x = gg.tensor([1.0, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    Leak.apply(x).sum().backward()
    x.grad += 1
    assert float(kept["arr"].sum()) == 2.0  # untouched by the in-place update


def test_private_view_becomes_grad_without_a_copy(device, rng):
    # softmax_cross_entropy's gradient is a reshape of the backend's fresh array (the
    # CUDA kernel's (N, C, 1)); nothing else references it, so .grad takes it as it is:
    # one logits-sized buffer per backward, not two. A copy would own its memory.
    x = rand(rng, (6, 5), device)
    gg.softmax_cross_entropy(x, gg.tensor([0, 1, 2, 3, 4, 0], device=device)).backward()
    assert x.grad.data.base is not None and x.grad.data.base.size == 30


def test_only_inputs_that_require_grad_get_one(device, rng, monkeypatch):
    x = rand(rng, (4, 3), device, requires_grad=False)
    W = rand(rng, (3, 2), device)
    calls = []
    real = gg.ops.arith.MatMul.backward

    def spy(ctx, g):
        calls.append(ctx.needs_input_grad)
        return real(ctx, g)
    monkeypatch.setattr(gg.ops.arith.MatMul, "backward", staticmethod(spy))
    (x @ W).sum().backward()
    assert calls == [(False, True)]
    assert x.grad is None and W.grad is not None
    # and the constant x's gradient product was never formed: matmul ran once (W's)
    count = []
    backend = x._backend
    orig = backend.matmul
    monkeypatch.setattr(backend, "matmul", lambda a, b: count.append(1) or orig(a, b))
    (x @ W).sum().backward()
    assert len(count) == 2  # the forward, then W's gradient x.T @ g only
    count.clear()  # the same when the rule runs on Tensors (its backward recorded)
    (gw,) = gg.grad((x @ W).sum(), W, create_graph=True)
    assert len(count) == 2


def test_second_backward_without_retain_graph_raises(device):
    x = scalar(2.0, device)
    y = x * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward(device):
    x = scalar(2.0, device)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 8


def test_saved_arrays_are_released_after_backward(device, rng):
    x = rand(rng, (3,), device)
    y = x.exp()
    node = y.grad_fn
    assert node._saved
    y.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        node.saved_tensors


def test_nonscalar_backward_needs_gradient(device, rng):
    y = rand(rng, (3,), device) * 2
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*\(3,\)"):
        y.backward()


def test_backward_with_explicit_gradient(device, rng):
    x = rand(rng, (3,), device)
    (x * 2).backward(gg.tensor([1.0, 2.0, 3.0], dtype=gg.float64, device=device))
    assert np.allclose(x.grad.numpy(), [2, 4, 6])


def test_backward_on_tensor_without_graph_raises(device):
    x = gg.tensor(1.0, device=device)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).backward()


def test_gradient_shape_and_dtype_checked(device):
    x = scalar(1.0, device)
    y = x * gg.tensor([1.0, 2.0], dtype=gg.float64, device=device)
    with pytest.raises(RuntimeError, match="does not match"):
        y.backward(gg.tensor([1.0, 2.0, 3.0], dtype=gg.float64, device=device))
    with pytest.raises(TypeError, match="dtype"):
        y.backward(gg.tensor([1.0, 2.0], dtype=gg.float32, device=device))


def test_no_grad_records_nothing(device):
    x = scalar(1.0, device)
    with gg.no_grad():
        y = x * 2
        with gg.enable_grad():
            z = x * 2
    assert y.grad_fn is None and not y.requires_grad
    assert z.grad_fn is not None
    assert gg.is_grad_enabled()


def test_no_grad_as_decorator(device):
    x = scalar(1.0, device)

    @gg.no_grad()
    def f(t):
        return t * 2

    @gg.no_grad
    def h(t):
        return t * 2
    assert not f(x).requires_grad and not h(x).requires_grad


def test_no_grad_on_a_generator_holds_inside_its_body(device):
    """The body of a generator runs at next(), after the decorated call returned:
    the mode is set around each resumption (it recorded a graph before)."""
    x = scalar(1.0, device)

    @gg.no_grad
    def gen():
        got = yield (x * 2).requires_grad
        try:
            yield got, gg.is_grad_enabled()
        except ValueError:
            yield "thrown", gg.is_grad_enabled()
        return "done"

    g = gen()
    assert next(g) is False and gg.is_grad_enabled()
    assert g.send(5) == (5, False) and gg.is_grad_enabled()
    assert g.throw(ValueError()) == ("thrown", False) and gg.is_grad_enabled()
    with pytest.raises(StopIteration, match="done"):
        next(g)


def test_set_grad_enabled_forms():
    assert gg.is_grad_enabled()
    gg.set_grad_enabled(False)  # a plain call sets the mode, as torch.set_grad_enabled
    try:
        assert not gg.is_grad_enabled()
    finally:
        gg.set_grad_enabled(True)
    assert gg.is_grad_enabled()
    with gg.set_grad_enabled(False):
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()

    @gg.set_grad_enabled(False)
    def f():
        return gg.is_grad_enabled()
    assert gg.is_grad_enabled() and f() is False and gg.is_grad_enabled()
    with pytest.raises(TypeError, match="no_grad: decorates a function, got bool"):
        gg.no_grad(True)


def test_gradients_must_match_the_outputs(device):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="2 outputs and 1 gradients"):
        gg.grad([(x * x).sum(), (x * 10).sum()], [x], [gg.tensor(1.0, device=device)])
    with pytest.raises(RuntimeError, match="1 outputs and 2 gradients"):
        gg.grad((x * x).sum(), [x], [None, None])
    (x * x).sum().backward(2.0)  # one number for a scalar output
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    x.grad = None
    (x * 3).backward([1.0, 2.0])  # Tensor.backward takes one gradient, as data
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 6.0])
    for scalar in (np.float32(2.0), np.float64(2.0), np.int64(2)):  # scalars convert
        (g,) = gg.grad((x * x).sum(), x, scalar)
        np.testing.assert_array_equal(g.numpy(), [4.0, 8.0])
    xp = x._backend.xp
    with pytest.raises(TypeError, match="gradient dtype float64 does not match"):
        (x * 3).backward(xp.array([1.0, 2.0]))  # no silent float64 -> float32
    if device != "cpu":
        with pytest.raises(RuntimeError, match="numpy.ndarray but the output is on cuda"):
            (x * 3).backward(np.ones(2, np.float32))  # no silent host -> device copy


def test_float16_sums_along_an_axis_add_in_float32(device):
    """NumPy adds float16 along a strided axis in float16: 2048 + 1 == 2048."""
    ones = gg.tensor(np.ones((5000, 2), np.float16), device=device)
    s = ones.sum(axis=0)
    assert s.dtype == gg.float16 and s.tolist() == [5000.0, 5000.0]
    b = gg.tensor(np.zeros(2, np.float16), device=device, requires_grad=True)
    (ones + b).sum().backward()  # the bias gradient sums over the batch
    assert b.grad.dtype == gg.float16 and b.grad.tolist() == [5000.0, 5000.0]


def test_grad_accumulates_in_place_like_pytorch(device):
    """A second backward adds into the existing .grad (a reference taken before sees
    the sum, as with PyTorch's AccumulateGrad); a .grad that cannot take writes, or a
    create_graph pass, gets a new tensor."""
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    version = first._vc[0]
    (x * 3).sum().backward()
    assert x.grad is first and first.tolist() == [5.0, 7.0] and first._vc[0] == version + 1
    (x * x).sum().backward(create_graph=True)  # recorded: out of place
    assert x.grad is not first and x.grad.tolist() == [7.0, 11.0]
    if device == "cpu":
        x.grad = gg.from_numpy(np.broadcast_to(np.float32(1.0), (2,)))  # read-only
        (x * 3).sum().backward()
        assert x.grad.tolist() == [4.0, 4.0] and x.grad.data.flags.writeable


def test_graph_is_freed_without_gc(device, rng):
    """No global tape, no cycle: dropping the output frees every node at once."""
    gc.disable()
    try:
        x = rand(rng, (8,), device)
        y = x.sigmoid()
        z = (y * y).sum()
        ref = weakref.ref(z.grad_fn)
        ref_y = weakref.ref(y.grad_fn)
        z.backward()
        del y, z
        assert ref() is None and ref_y() is None
    finally:
        gc.enable()


def test_memory_flat_over_training_steps(device, rng):
    import tracemalloc
    W = rand(rng, (16, 8), device)
    X = rand(rng, (32, 16), device, requires_grad=False)
    labels = gg.tensor(rng.integers(0, 8, 32), device=device)

    def step():
        loss = gg.softmax_cross_entropy(gg.sigmoid(X @ W), labels)
        loss.backward()
        with gg.no_grad():
            W.data = W.data - 0.1 * W.grad.data
        W.grad = None

    # Trace from the start so that CPython's free lists, which keep memory
    # counted after warm-up, are full before the baseline is taken.
    tracemalloc.start()
    for _ in range(1_000):
        step()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(10_000 if device == "cpu" else 1_000):
        step()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 16 * 1024, f"memory grew by {grown} bytes over the steps"


# ---- create_graph and grad() ------------------------------------------------------
def test_second_derivative(device):
    x = scalar(2.0, device)
    y = x ** 3
    (gx,) = gg.grad(y, x, create_graph=True)
    (gxx,) = gg.grad(gx, x)
    assert gx.item() == 12 and gxx.item() == 12


def test_create_graph_backward_then_backward(device):
    x = scalar(0.3, device)
    y = gg.sigmoid(x)
    y.backward(create_graph=True)
    g1 = x.grad
    x.grad = None
    g1.backward()
    s = 1 / (1 + np.exp(-0.3))
    assert x.grad.item() == pytest.approx(s * (1 - s) * (1 - 2 * s), rel=1e-12)


def test_grad_returns_tuple_and_leaves_dot_grad_alone(device, rng):
    x, y = rand(rng, (3,), device), rand(rng, (3,), device)
    gx, gy = gg.grad((x * y).sum(), [x, y])
    assert np.allclose(gx.numpy(), y.numpy()) and np.allclose(gy.numpy(), x.numpy())
    assert x.grad is None and y.grad is None


def test_grad_of_intermediate(device, rng):
    x = rand(rng, (3,), device)
    h = x * 2
    out = (h * h).sum()
    (gh,) = gg.grad(out, h)
    assert np.allclose(gh.numpy(), 2 * h.numpy())


def test_grad_allow_unused(device, rng):
    x, unused = rand(rng, (3,), device), rand(rng, (3,), device)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        gg.grad((x * 2).sum(), [x, unused])
    gx, gu = gg.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and np.allclose(gx.numpy(), 2)


def test_grad_input_must_require_grad(device):
    x = gg.tensor(1.0, device=device)
    y = scalar(1.0, device)
    with pytest.raises(RuntimeError, match="input 0 .* does not require grad"):
        gg.grad(y * 2, [x])


def test_hessian_vector_product(device, rng):
    x = rand(rng, (4,), device)
    v = rand(rng, (4,), device, requires_grad=False)
    f = (x ** 3).sum()
    (g,) = gg.grad(f, x, create_graph=True)
    (hv,) = gg.grad((g * v).sum(), x)
    assert np.allclose(hv.numpy(), 6 * x.numpy() * v.numpy())


# ---- hooks and retain_grad -------------------------------------------------------------
def test_hooks_see_and_replace_gradients(device):
    x = scalar(1.0, device)
    seen = []
    x.register_hook(lambda g: seen.append(g.item()))
    y = x * 3
    y.register_hook(lambda g: g * 10)
    (y * 2).backward()
    assert seen == [60.0] and x.grad.item() == 60


def test_hook_handle_remove(device):
    x = scalar(1.0, device)
    h = x.register_hook(lambda g: g * 0)
    h.remove()
    (x * 3).backward()
    assert x.grad.item() == 3


def test_retain_grad(device):
    x = scalar(2.0, device)
    h = x * 3
    h.retain_grad()
    (h * h).backward()
    assert h.grad.item() == 12 and x.grad.item() == 36


def test_grad_fills_retained_grads_on_its_path_like_pytorch(device):
    x = scalar(2.0, device)
    h = x * 3
    h.retain_grad()
    k = x * 5  # retained but off every path from the output to x
    k.retain_grad()
    (g,) = gg.grad(h * h + 0 * k.detach(), x)
    assert g.item() == 36 and h.grad.item() == 12 and k.grad is None and x.grad is None


def test_a_user_rule_returning_an_array_it_keeps_never_becomes_a_grad(device):
    """The .grad took the rule's own array and later backwards added into it: the
    user's w changed, and the third .grad read [12, 16] for [9, 12]."""
    class Scale(gg.Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.w = w
            return x._data * w

        @staticmethod
        def backward(ctx, g):
            return ctx.w, None

    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    w = x._backend.asarray(np.array([3.0, 4.0], np.float32))
    y = Scale.apply(x, w).sum()
    for _ in range(3):
        y.backward(retain_graph=True)
    assert x.grad.tolist() == [9.0, 12.0] and w.tolist() == [3.0, 4.0]

    class PassOn(gg.Function):  # the kept array reaches the leaf through Add's g
        @staticmethod
        def forward(ctx, x):
            ctx.w = x._backend.xp.ones(x.shape, x.dtype)
            return x._data * 1

        @staticmethod
        def backward(ctx, g):
            return ctx.w

    x.grad = None
    z = PassOn.apply(x + 0.0)
    z.backward(gg.tensor([1.0, 1.0], device=device), retain_graph=True)
    z.backward(gg.tensor([1.0, 1.0], device=device))
    assert x.grad.tolist() == [2.0, 2.0]


def test_a_user_forward_returning_its_input_shares_its_version(device):
    """The output is the input's memory: an in-place change through it must be seen
    (it went unseen and the gradient used the changed values)."""
    class Id(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    a = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    x = a * 1
    y = Id.apply(x)
    with pytest.raises(RuntimeError, match="shares memory with a view"):
        y += 1
    e = x * x
    with gg.no_grad():
        y += 1  # under no_grad it is allowed, and x's saved value is now stale
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        e.sum().backward()


def _doubling(name, rule):
    """A user op named name: forward 2 x on arrays, backward rule(ctx, g)."""
    return type(name, (gg.Function,), {"forward": staticmethod(lambda ctx, x: x._data * 2),
                                       "backward": staticmethod(rule)})


def test_a_user_rule_gradient_takes_its_inputs_dtype(device):
    To64 = _doubling("To64", lambda ctx, g: (g * 2).to(gg.float64))
    Text = _doubling("Text", lambda ctx, g: "bad")
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    (To64.apply(x * 3)).sum().backward()  # cast back, as PyTorch does, also upstream
    assert x.grad.dtype == gg.float32 and x.grad.tolist() == [6.0, 6.0]
    with pytest.raises(TypeError, match="Text: backward returned a gradient of dtype <U3"):
        Text.apply(gg.tensor(1.0, device=device, requires_grad=True)).backward()


@pytest.mark.parametrize("where", ["leaf", "non-leaf"])
def test_a_hook_removing_itself_does_not_skip_the_next(device, where):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    t = x if where == "leaf" else x * 1.0
    handles = []

    def once(g):
        handles[0].remove()
        return g * 10

    handles.append(t.register_hook(once))
    t.register_hook(lambda g: g + 1)
    (t * 3).sum().backward(retain_graph=True)
    assert x.grad.tolist() == [31.0, 31.0]  # PyTorch's: both hooks ran
    x.grad = None
    (t * 3).sum().backward()  # once is gone, the other stays
    assert x.grad.tolist() == [4.0, 4.0]


def test_saved_tensors_is_empty_when_nothing_was_saved(device):
    def rule(ctx, g):
        assert ctx.saved_tensors == ()
        return g * 2

    Twice = _doubling("Twice", rule)
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    Twice.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_retained_grad_keeps_its_history_with_create_graph(device):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    h = x * x
    h.retain_grad()
    (h * h).sum().backward(create_graph=True)
    assert h.grad.requires_grad and h.grad.grad_fn is not None  # 2h, as in PyTorch
    (g,) = gg.grad(h.grad.sum(), x)  # d/dx of sum(2 x^2)
    assert g.tolist() == [4.0, 8.0]


@pytest.mark.parametrize("unused", [lambda a: a * 3, lambda a: a[1:], lambda a: a.unsqueeze(0)],
                         ids=["mul", "slice", "unsqueeze"])
def test_grad_with_an_input_computed_from_but_not_used_by_the_outputs(device, unused):
    """An input derived from the graph that the outputs do not use held back its
    producer's count of pending consumers, so that node never ran: its path to x was
    dropped without a word ([1, 1] for [3, 3], or None)."""
    for out, want in ((lambda a, x: a.sum() + x.sum(), [3.0, 3.0]),
                      (lambda a, x: a.sum(), [2.0, 2.0])):
        x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
        a = x * 2
        gx, gb = gg.grad(out(a, x), [x, unused(a)], allow_unused=True)
        assert gx.tolist() == want and gb is None


def test_non_leaf_grad_is_none_without_retain(device):
    x = scalar(2.0, device)
    h = x * 3
    (h * h).backward()
    with pytest.warns(UserWarning, match="non-leaf"):  # as PyTorch warns
        assert h.grad is None


# ---- custom functions -------------------------------------------------------------------
class Cube(gg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x  # Tensor arithmetic inside forward is fine: it is not recorded

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x  # Tensor ops: differentiable again


def test_custom_function(device):
    x = scalar(2.0, device)
    y = Cube.apply(x)
    assert y.item() == 8 and type(y.grad_fn) is Cube
    (gx,) = gg.grad(y, x, create_graph=True)
    (gxx,) = gg.grad(gx, x)
    assert gx.item() == 12 and gxx.item() == 12


def test_custom_function_gradcheck(device, rng):
    assert gg.gradcheck(Cube.apply, [rand(rng, (3,), device)])


def test_custom_function_wrong_gradient_count(device):
    class Bad(gg.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x._data + y._data

        @staticmethod
        def backward(ctx, g):
            return g

    x, y = scalar(1.0, device), scalar(2.0, device)
    with pytest.raises(RuntimeError, match="Bad: backward returned 1 gradients, expected 2"):
        Bad.apply(x, y).backward()


def test_custom_function_wrong_gradient_shape(device):
    # (2, 1): not a shape that the input's (2,) broadcasts to (torch raises too)
    Bad = _doubling("Bad", lambda ctx, g: g.reshape(-1, 1))
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Bad: .*shape \(2, 1\) for an input of shape \(2,\)"):
        Bad.apply(x).sum().backward()
    # (1, 2) is one (a broadcast output's): summed to (2,), as torch's engine does
    Lead = _doubling("Lead", lambda ctx, g: g.reshape(1, -1) * 2)
    Lead.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_multi_output_function(device):
    class Split(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            return ga * 2 + gb * 3

    x = scalar(1.0, device)
    a, b = Split.apply(x)
    a.backward()  # b's gradient is missing: it counts as zero
    assert x.grad.item() == 2
    x.grad = None
    a, b = Split.apply(x)
    (a + b).backward()
    assert x.grad.item() == 5


# ---- found in review of the array-rule engine --------------------------------------------
def test_0d_gradients_are_arrays_everywhere(device):
    """NumPy adds two 0-d arrays into a scalar; no .grad, grad() result, retained grad
    or hook argument may hold one (in-place updates on .grad must work)."""
    x = scalar(2.0, device)
    seen = []
    h = x * 1.0
    h.retain_grad()
    h.register_hook(lambda g: seen.append(g))
    (h * h + h * 3.0).backward()  # h feeds two consumers: its gradient is a sum
    array_type = x._backend.array_type
    for t in (x.grad, h.grad, seen[0]):
        assert type(t.data) is array_type and t.shape == ()
    assert x.grad.item() == 7
    with gg.no_grad():
        x.grad *= 0.5
    assert x.grad.item() == 3.5
    (gx,) = gg.grad(x * x + x, x)
    assert type(gx.data) is array_type


def test_user_subclass_of_an_op_with_its_own_tensor_rule(device, rng):
    """Overriding backward of one of gpugrad's ops gives a Tensor rule, as documented,
    not the array path the parent's rule takes."""
    class ClippedTanh(gg.ops.unary.Tanh):
        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * gg.maximum(1 - y * y, 0.25)

    x = rand(rng, (5,), device)
    ClippedTanh.apply(x).sum().backward()
    y = np.tanh(x.numpy())
    np.testing.assert_allclose(x.grad.numpy(), np.maximum(1 - y * y, 0.25), rtol=1e-12)


@pytest.mark.parametrize("where", ["leaf", "non-leaf"])
def test_hook_result_of_the_wrong_shape_raises(device, where):
    x = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    t = x if where == "leaf" else x * 2.0
    t.register_hook(lambda g: gg.tensor(np.ones((2, 2)), device=device))
    with pytest.raises(RuntimeError, match=r"hook: must return None or a float32 Tensor of shape \(3,\)"):
        (t * 1.0).sum().backward()


def test_second_derivative_through_0d_outputs(device):
    """NumPy returns a 0-d op's output as a scalar; saving it must still save the
    output (its dependence on x), not a constant."""
    for f, d2 in [(gg.exp, np.exp), (gg.tanh, lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
                  (gg.sqrt, lambda v: -0.25 * v ** -1.5)]:
        x = scalar(0.7, device)
        (g,) = gg.grad(f(x), x, create_graph=True)
        (g2,) = gg.grad(g, x)
        np.testing.assert_allclose(g2.item(), d2(0.7), rtol=1e-12)


def test_a_stride_0_gradient_is_never_a_leaf_grad(device):
    """A rule may hand back a broadcast view (writable, stride 0, in CuPy); a .grad
    that is one loses in-place writes. It is copied."""
    class Spread(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x._data.copy()

        @staticmethod
        def backward(ctx, g):
            row = g.sum(axis=0, keepdims=True)._data.copy()
            xp = g._backend.xp
            if xp is np:  # NumPy's broadcast is read-only; make CuPy's writable kind
                view = np.lib.stride_tricks.as_strided(row, g.shape, (0, row.strides[1]))
            else:
                view = xp.broadcast_to(row, g.shape)
            del row
            return _wrap(view, g._backend)

    x = gg.tensor(np.ones((2, 3)), device=device, requires_grad=True)
    Spread.apply(x).sum().backward()
    g = x.grad.data
    assert all(s != 0 for s in g.strides)
    g[0, 0] = 5.0
    assert x.grad.numpy()[1, 0] == 2.0


def test_grad_results_never_share_memory_between_elements(device):
    """grad() hands its results to the caller, who may write into them: a broadcast
    view (the gradient of a sum, say) would take one write into many elements on
    CUDA, and refuse it on the CPU. They come back as arrays of their own."""
    x = gg.tensor(np.ones((2, 3)), device=device, requires_grad=True)
    for create_graph in (False, True):
        (g,) = gg.grad(x.sum(), x, create_graph=create_graph)
        assert all(s != 0 for s in g.data.strides)
        g.data[0, 0] = 5.0
        np.testing.assert_array_equal(g.numpy(), [[5, 1, 1], [1, 1, 1]])
    (g,) = gg.grad(x.sum(), x, create_graph=True)
    (gg_,) = gg.grad((g * x).sum(), x)  # the copy is recorded: still differentiable
    np.testing.assert_array_equal(gg_.numpy(), np.ones((2, 3)))


class _OtherCPU(CPUBackend):
    """A second host device, to test device bookkeeping without a GPU."""

    def __init__(self, index):
        self.device = Device("othercpu", index)

    def from_numpy(self, a):
        return np.array(a, copy=True)

    def to_numpy(self, a):
        return np.array(a, copy=True)


def _make_other(index):
    return _OtherCPU(index)


@pytest.fixture
def other_device(monkeypatch):
    monkeypatch.setitem(backends._FACTORIES, "othercpu", (__name__, "_make_other"))
    monkeypatch.setattr(backends, "_backends", dict(backends._backends))
    return "othercpu:0"


def test_tensors_in_a_list_index_must_share_the_device(other_device):
    """A list of Tensors as an index went through asarray, which converted them from
    any device (a host-to-device copy on CUDA)."""
    o = gg.tensor(np.arange(6.0).reshape(2, 3), device=other_device)
    with pytest.raises(RuntimeError, match="index is on cpu but the tensor is on othercpu:0"):
        o[[gg.tensor(1), gg.tensor(0)]]
    with pytest.raises(RuntimeError, match="index is on cpu"):
        with gg.no_grad():
            o[[gg.tensor(1)]] = 5.0
    i = gg.tensor(1, device=other_device)
    assert o[[i, i]].shape == (2, 3) and o[[[i]]].shape == (1, 1, 3)


def test_gradient_of_an_output_on_another_device_keeps_that_device(other_device):
    """A user op whose output lives elsewhere: its hook, retained grad and rule see
    the gradient on the output's device; the rule's result lands on the input's."""
    class Move(gg.Function):
        @staticmethod
        def forward(ctx, x, dev):
            return gg.tensor(x.numpy(), device=dev)

        @staticmethod
        def backward(ctx, g):
            seen.append(("rule", str(g.device)))
            return g.to("cpu"), None

    seen = []
    x = gg.tensor(np.ones(3), requires_grad=True)
    y = Move.apply(x, other_device)
    y.register_hook(lambda g: seen.append(("hook", str(g.device))))
    y.retain_grad()
    (y * 2.0).sum().backward()
    assert seen == [("hook", other_device), ("rule", other_device)]
    assert str(y.grad.device) == other_device and str(x.grad.device) == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), 2.0)
    # and the built-in transfer, through second derivatives
    x = gg.tensor(np.array([0.5, 1.5]), requires_grad=True)
    z = gg.ops.shape.to_device(x, backends.get_backend(other_device))
    (g,) = gg.grad((z * z * z).sum(), x, create_graph=True)
    assert str(g.device) == "cpu"
    (g2,) = gg.grad(g.sum(), x)
    np.testing.assert_allclose(g2.numpy(), 6 * x.numpy())


def test_retained_grads_and_hook_arguments_are_not_leaf_grads(device):
    """Retained grads are copies (as in PyTorch); what a hook was handed may be kept by
    the user, so no .grad shares its memory."""
    x = scalar(2.0, device)
    a = x * 1.0
    b = a + 0.0  # b's gradient passes to a unchanged, then on to x
    a.retain_grad()
    b.retain_grad()
    seed = gg.tensor(1.0, dtype=gg.float64, device=device)
    kept = []
    x.register_hook(lambda g: kept.append(g))
    b.backward(seed)
    arrays = [seed.data, a.grad.data, b.grad.data, x.grad.data, kept[0].data]
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            assert arrays[i] is not arrays[j], (i, j)
    with gg.no_grad():
        x.grad *= 3.0
    assert (a.grad.item(), b.grad.item(), kept[0].item(), seed.item()) == (1.0, 1.0, 1.0, 1.0)


def test_inplace_with_its_own_data_as_operand(device):
    x = gg.tensor([1.0, 2.0, 3.0], dtype=gg.float64, device=device, requires_grad=True)
    h = x * 1.0
    h *= h.data  # h = x * x0, with x0 the values before the change
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])


# ---- found in a second review ------------------------------------------------------------
def test_inplace_with_a_view_of_its_own_memory(device):
    x = gg.tensor([1.0, 2.0, 3.0], dtype=gg.float64, device=device, requires_grad=True)
    h = (x * 1.0).reshape(1, 3).max(axis=0)  # a view of max's own temporary
    assert h.data.base is not None
    h *= h.data[::-1]  # the old values, reversed: a constant
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 2.0, 1.0])


def test_hook_that_changes_the_dtype_raises(device):
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    x.register_hook(lambda g: g.to(gg.float32))
    with pytest.raises(RuntimeError, match="hook: must return None or a float64 Tensor"):
        (x * 2.0).sum().backward()


class ExpOut(gg.Function):
    """Returns a Tensor it built and saves that same Tensor: it is the output."""

    @staticmethod
    def forward(ctx, x):
        y = gg.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def test_saved_tensor_that_forward_returned_is_the_output(device):
    x = gg.tensor([0.7, -0.3], dtype=gg.float64, device=device, requires_grad=True)
    (g,) = gg.grad(ExpOut.apply(x).sum(), x, create_graph=True)
    (g2,) = gg.grad(g.sum(), x)  # d/dx exp(x) through the saved output
    np.testing.assert_allclose(g2.numpy(), np.exp([0.7, -0.3]), rtol=1e-12)
    y = ExpOut.apply(x)
    with gg.no_grad():
        y += 100.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_create_graph_grads_do_not_alias_the_seed_or_each_other(device):
    x = scalar(2.0, device)
    a = x + 0.0
    a.retain_grad()
    seed = gg.tensor(1.0, dtype=gg.float64, device=device)
    a.backward(seed, create_graph=True)
    assert x.grad.data is not seed.data and a.grad.data is not seed.data
    assert not np.shares_memory(x.grad.numpy(), a.grad.numpy()) or device != "cpu"
    with gg.no_grad():
        x.grad *= 3.0
    assert (a.grad.item(), seed.item(), x.grad.item()) == (1.0, 1.0, 3.0)


def test_a_rule_returning_a_gradient_on_the_wrong_device_raises(other_device):
    # its gradient should stay on the input's device
    Forgets = _doubling("Forgets", lambda ctx, g: g.to(other_device) * 2.0)
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Forgets: backward returned a gradient on othercpu:0 "
                                           "for an input on cpu"):
        Forgets.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match="Forgets: backward returned a gradient on othercpu:0"):
        gg.grad(Forgets.apply(x).sum(), x, create_graph=True)


def test_float16_mean_gradient_over_more_elements_than_float16_holds(device):
    n = 70_000
    x = gg.tensor(np.zeros(n, np.float16), device=device, requires_grad=True)
    x.mean().backward()
    g = x.grad.numpy()
    assert g.dtype == np.float16 and g[0] > 0
    # 1/n is a float16 subnormal: its spacing there, 2**-24, is 0.4% of it
    np.testing.assert_allclose(g.astype(np.float64), 1 / n, rtol=5e-3)


def test_two_threads_backward_into_one_leaf(device):
    import threading
    x = scalar(1.0, device)

    def work():
        for _ in range(3000):
            (x * 2.0).backward()
    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert x.grad.item() == 12000.0


def test_a_rule_returning_another_librarys_array_raises(device):
    class Foreign:  # stands for an array of another library (a host array on CUDA, say)
        ndim, shape = 1, (2,)

    class Leaks(gg.Function):
        array_backward = True

        @staticmethod
        def forward(ctx, x):
            return x._data * 2.0

        @staticmethod
        def backward(ctx, g):
            return Foreign()

    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="Leaks: backward returned a .*Foreign for an input on"):
        Leaks.apply(x).sum().backward()


# ---- walking the graph: grad_fn, name(), next_functions (PyTorch's names) -------------------
def test_grad_fn_prints_and_names_like_pytorch(device):
    x = scalar(2.0, device)
    y = gg.tensor([1.0, 2.0], dtype=gg.float64, device=device)
    z = (x * y).sum()
    assert repr(z.grad_fn) == "<SumBackward>" and z.grad_fn.name() == "SumBackward"
    (mul, idx), = z.grad_fn.next_functions
    assert idx == 0 and repr(mul) == "<MulBackward>" and mul.name() == "MulBackward"
    (acc, i0), (none, i1) = mul.next_functions
    assert (i0, none, i1) == (0, None, 0)  # y needs no gradient
    assert repr(acc) == "<AccumulateGrad>" and acc.name() == "AccumulateGrad"
    assert acc.variable is x and acc.next_functions == ()
    assert x.grad_fn is None and y.grad_fn is None


def test_custom_function_node_names():
    class Scale(gg.Function):
        @staticmethod
        def forward(ctx, x, k, y):
            return x * k * y

        @staticmethod
        def backward(ctx, g):
            return g, None, g

    x, y = scalar(2.0, "cpu"), gg.tensor(3.0, dtype=gg.float64)
    s = Scale.apply(x, 4.0, y)
    assert repr(s.grad_fn) == "<ScaleBackward>" and s.grad_fn.name() == "ScaleBackward"
    # One entry per Tensor argument, as PyTorch's custom Functions: the 4.0 has none.
    nf = s.grad_fn.next_functions
    assert len(nf) == 2 and nf[0][0].variable is x and nf[1] == (None, 0)
    assert repr(Cube.apply(x).grad_fn) == "<CubeBackward>"


def test_next_functions_gives_output_indices_and_shared_nodes(device):
    class Halves(gg.Function):  # two outputs
        @staticmethod
        def forward(ctx, x):
            return x[:1] * 1.0, x[1:] * 2.0

        @staticmethod
        def backward(ctx, ga, gb):
            return gg.concatenate([ga, gb * 2.0])

    x = gg.tensor([1.0, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    a, b = Halves.apply(x)
    c = a + b
    (na, ia), (nb, ib) = c.grad_fn.next_functions
    assert na is nb is a.grad_fn and (ia, ib) == (0, 1)
    # A leaf met from two consumers is one AccumulateGrad, as in PyTorch.
    p, q = x * 2.0, x * 3.0
    assert p.grad_fn.next_functions[0][0] is q.grad_fn.next_functions[0][0]
    # A non-leaf input that requires grad is its node, also after backward freed the graph.
    h = gg.exp(x)
    out = (h * h).sum()
    out.backward()
    assert [n for n, _ in out.grad_fn.next_functions[0][0].next_functions] == [h.grad_fn] * 2


def _walk(fn, key):
    """(name, children) of the graph below a node, None entries dropped."""
    return (key(fn), [_walk(n, key) for n, _ in fn.next_functions if n is not None])


def test_graph_walk_matches_pytorch(rng):
    torch = pytest.importorskip("torch")
    import re
    a, b = rng.standard_normal(3), rng.standard_normal(3)

    def f(m, x, y):
        h = m.tanh(x * y) - m.exp(-x) / (y ** 2 + 1.0)
        return (m.sigmoid(h) + x).sum()
    g = f(gg, gg.tensor(a, requires_grad=True), gg.tensor(b))
    t = f(torch, torch.tensor(a, requires_grad=True), torch.tensor(b))
    # PyTorch numbers its node classes (MulBackward0): the names are the same without it.
    mine = _walk(g.grad_fn, lambda n: n.name())
    theirs = _walk(t.grad_fn, lambda n: re.sub(r"\d+$", "", n.name()).split("::")[-1])
    assert mine == theirs


def test_walking_next_functions_reaches_every_leaf(device, rng):
    W1, W2 = rand(rng, (3, 4), device), rand(rng, (4, 2), device)
    x = rand(rng, (5, 3), device, requires_grad=False)
    loss = gg.softmax_cross_entropy(gg.tanh(x @ W1) @ W2, gg.tensor([0, 1, 1, 0, 1],
                                                                     device=device))
    # seen keeps the nodes alive: an AccumulateGrad node is made on access, and a dead
    # one's id may be reused by the next, which would then be skipped.
    leaves, seen, stack = [], {}, [loss.grad_fn]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen[id(n)] = n
        if n.name() == "AccumulateGrad":
            leaves.append(n.variable)
        stack.extend(m for m, _ in n.next_functions if m is not None)
    assert sorted(map(id, leaves)) == sorted([id(W1), id(W2)])


def test_accumulate_grad_nodes_do_not_keep_leaves_alive():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    acc = y.grad_fn.next_functions[0][0]
    assert acc is y.grad_fn.next_functions[0][0]  # one node per leaf while it is held
    ref = weakref.ref(x)
    del x, y, acc
    gc.collect()
    assert ref() is None
