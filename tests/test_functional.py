"""gg.autograd.functional: vjp, jvp, jacobian, hessian, hvp, vhp.

Exact values where the derivative is known in closed form, PyTorch's
torch.autograd.functional on the same functions (values, nesting, which results
carry a graph, second derivatives through create_graph=True results, and which
calls raise in strict mode), and the argument errors.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpugrad as gg
from gpugrad.autograd import functional as F


def T(a, device="cpu", requires_grad=False, dtype=np.float64):
    return gg.tensor(np.asarray(a, dtype=dtype), device=device, requires_grad=requires_grad)


def close(t, expected, rtol=1e-12, atol=1e-12):
    assert isinstance(t, gg.Tensor), type(t)
    np.testing.assert_allclose(t.numpy(), np.asarray(expected), rtol=rtol, atol=atol)
    assert tuple(t.shape) == np.shape(expected)


# ---- closed forms ---------------------------------------------------------------
def test_jacobian_elementwise_is_diagonal(device, rng):
    a = rng.standard_normal(4)
    J = F.jacobian(lambda x: gg.exp(x) * x, T(a, device))
    close(J, np.diag(np.exp(a) * (1 + a)))


def test_jacobian_of_matmul_is_the_matrix_and_the_vector(device, rng):
    W, x = rng.standard_normal((2, 3)), rng.standard_normal(3)
    JW, Jx = F.jacobian(lambda W, x: W @ x, (T(W, device), T(x, device)))
    close(Jx, W)
    expected = np.zeros((2, 2, 3))  # d(Wx)_i / dW_jk = [i == j] x_k
    expected[0, 0], expected[1, 1] = x, x
    close(JW, expected)


def test_jacobian_shapes_nest_like_the_arguments(device, rng):
    x, y = T(rng.standard_normal((2, 3)), device), T(rng.standard_normal(4), device)
    assert F.jacobian(lambda x: x * 2, x).shape == (2, 3, 2, 3)
    J = F.jacobian(lambda x: (x * 2, x.sum()), x)
    assert isinstance(J, tuple) and [j.shape for j in J] == [(2, 3, 2, 3), (2, 3)]
    J = F.jacobian(lambda x, y: x.sum() * y, (x, y))
    assert isinstance(J, tuple) and [j.shape for j in J] == [(4, 2, 3), (4, 4)]
    J = F.jacobian(lambda x, y: (x * 2, y.sum()), (x, y))
    assert [[j.shape for j in row] for row in J] == [[(2, 3, 2, 3), (2, 3, 4)],
                                                      [(2, 3), (4,)]]
    close(J[0][1], np.zeros((2, 3, 4)))  # independent: zeros, as strict=False promises
    (J,) = F.jacobian(lambda x: (x.sum(),), (x,))[0]  # tuples of one stay tuples
    close(J, np.ones((2, 3)))


def test_zero_dim_and_empty(device):
    close(F.jacobian(lambda x: x * x, T(3.0, device)), 6.0)
    close(F.hessian(lambda x: x ** 3, T(2.0, device)), 12.0)
    # PyTorch's stack refuses an empty list here; an empty Jacobian is the right answer.
    close(F.jacobian(lambda x: x[:0], T([1.0, 2.0, 3.0], device)), np.zeros((0, 3)))
    close(F.jacobian(lambda x: x * 2, T(np.zeros(0), device)), np.zeros((0, 0)))
    out, g = F.vjp(lambda x: x.sum(), T(np.zeros((0, 2)), device))
    close(out, 0.0)
    close(g, np.zeros((0, 2)))


def test_vjp_jvp_are_the_jacobian_products(device, rng):
    W, a = rng.standard_normal((3, 4)), rng.standard_normal(4)
    u, w = rng.standard_normal(3), rng.standard_normal(4)

    def f(x):
        return gg.tanh(T(W, device) @ x) * x[:3]
    J = F.jacobian(f, T(a, device)).numpy()
    out, vj = F.vjp(f, T(a, device), T(u, device))
    close(out, np.tanh(W @ a) * a[:3])
    close(vj, u @ J)
    out2, jv = F.jvp(f, T(a, device), T(w, device))
    close(out2, out.numpy())
    close(jv, J @ w)


def test_hessian_products(device, rng):
    A = rng.standard_normal((3, 3))
    a, w = rng.standard_normal(3), rng.standard_normal(3)

    def f(x):  # x^T A x + sum(x^4): Hessian A + A^T + diag(12 x^2)
        return (x * (T(A, device) @ x)).sum() + (x ** 4).sum()
    H = A + A.T + np.diag(12 * a ** 2)
    close(F.hessian(f, T(a, device)), H)
    val, hv = F.hvp(f, T(a, device), T(w, device))
    close(val, a @ A @ a + (a ** 4).sum())
    close(hv, H @ w)
    close(F.vhp(f, T(a, device), T(w, device))[1], w @ H)


def test_hessian_of_two_inputs_has_the_cross_blocks(device, rng):
    x, y = rng.standard_normal(2), rng.standard_normal(3)
    H = F.hessian(lambda x, y: x.sum() * (y ** 2).sum(), (T(x, device), T(y, device)))
    close(H[0][0], np.zeros((2, 2)))
    close(H[0][1], np.tile(2 * y, (2, 1)))
    close(H[1][0], np.tile(2 * y[:, None], (1, 2)))
    close(H[1][1], 2 * x.sum() * np.eye(3))


def test_v_may_be_left_out_for_one_element(device):
    out, g = F.vjp(lambda x: (x ** 2).sum().reshape(1, 1), T([1.0, 2.0], device))
    close(out, [[5.0]])
    close(g, [2.0, 4.0])
    out, jv = F.jvp(lambda x: x * T([1.0, 2.0], device), T(3.0, device))
    close(jv, [1.0, 2.0])
    close(F.hvp(lambda x: x ** 3, T([2.0], device))[1], [12.0])
    close(F.vhp(lambda x: x ** 3, T([2.0], device))[1], [12.0])


def test_float32_stays_float32(device, rng):
    a = rng.standard_normal(3).astype(np.float32)
    x = T(a, device, dtype=np.float32)
    assert F.jacobian(gg.sigmoid, x).dtype == gg.float32
    assert F.hessian(lambda x: (x ** 3).sum(), x).dtype == gg.float32
    for fn in (F.vjp, F.jvp, F.hvp, F.vhp):
        out, r = fn(lambda x: (x ** 3).sum(), x, None if fn is F.vjp else x)
        assert out.dtype == r.dtype == gg.float32, fn.__name__
    close(F.jacobian(gg.sigmoid, x), np.diag(1 / (1 + np.exp(-a)) * (1 - 1 / (1 + np.exp(-a)))),
          rtol=1e-6, atol=1e-7)


def test_results_have_no_history_and_leave_grad_alone(device, rng):
    x = T(rng.standard_normal(3), device, requires_grad=True)
    v = T(rng.standard_normal(3), device)
    results = [F.vjp(gg.exp, x, v), F.jvp(gg.exp, x, v), F.jacobian(gg.exp, x),
               F.hessian(lambda x: (x ** 3).sum(), x), F.hvp(lambda x: (x ** 3).sum(), x, v),
               F.vhp(lambda x: (x ** 3).sum(), x, v)]
    for r in results:
        for t in (r if isinstance(r, tuple) else (r,)):
            assert not t.requires_grad and t.grad_fn is None
    assert x.grad is None


def test_the_callers_tensors_are_left_as_they_were(device, rng):
    # The functions differentiate fresh copies: the arguments keep their flags, data
    # and .grad, whether or not they require grad, with and without create_graph.
    a = rng.standard_normal(3)
    for rg in (False, True):
        for cg in (False, True):
            x, v = T(a, device, requires_grad=rg), T(np.ones(3), device)
            F.vjp(lambda t: t * t, x, v, create_graph=cg)
            F.jvp(lambda t: t * t, x, v, create_graph=cg)
            F.hessian(lambda t: (t ** 3).sum(), x, create_graph=cg)
            F.hvp(lambda t: (t ** 3).sum(), x, v, create_graph=cg)
            assert x.requires_grad is rg and x.is_leaf and x.grad is None
            assert v.requires_grad is False and v.grad is None
            np.testing.assert_array_equal(x.numpy(), a)


def test_a_function_that_changes_its_input_in_place_raises(device, rng):
    # As in PyTorch: the input is a leaf that requires grad (or a view of one), so the
    # in-place change is refused and the caller's data is left alone.
    a = rng.standard_normal(3)

    def doubles(t):
        t *= 2
        return t * t

    for rg in (False, True):
        for cg in (False, True):
            x = T(a, device, requires_grad=rg)
            with pytest.raises(RuntimeError, match="in-place"):
                F.vjp(doubles, x, T(np.ones(3), device), create_graph=cg)
            with pytest.raises(RuntimeError, match="in-place"):
                F.jacobian(doubles, x, create_graph=cg)
            np.testing.assert_array_equal(x.numpy(), a)


def test_runs_under_no_grad(device):
    with gg.no_grad():
        out, g = F.vjp(lambda x: (x ** 2).sum(), T([1.0, 2.0], device))
        J = F.jacobian(lambda x: x ** 2, T([1.0, 2.0], device))
        assert not gg.is_grad_enabled()  # the caller's mode is back
    close(g, [2.0, 4.0])
    close(J, np.diag([2.0, 4.0]))


def test_a_captured_input_is_a_constant(device):
    # func closes over x itself: only the argument is differentiated, as in PyTorch.
    for rg, cg in ((False, False), (True, False), (False, True), (True, True)):
        x = T([1.0, 2.0], device, requires_grad=rg)
        close(F.vjp(lambda a: a * x, x, T([1.0, 1.0], device), create_graph=cg)[1], [1.0, 2.0])
        close(F.jacobian(lambda a: a * x, x, create_graph=cg), np.diag([1.0, 2.0]))


def test_create_graph_results_can_be_differentiated(device):
    x = T([1.0, 2.0], device, requires_grad=True)
    out, g = F.vjp(lambda a: (a ** 3).sum(), x, create_graph=True)
    assert out.requires_grad and g.requires_grad
    (gg_,) = gg.grad(g.sum(), x)
    close(gg_, [6.0, 12.0])  # d/dx sum(3 x^2)
    H = F.hessian(lambda a: (a ** 4).sum(), x, create_graph=True)
    (d,) = gg.grad(H.sum(), x)
    close(d, [24.0, 48.0])  # d/dx sum(12 x^2 on the diagonal)
    # create_graph=True also keeps v's history: vjp is linear in v
    v = T([3.0, 5.0], device, requires_grad=True)
    _, g = F.vjp(lambda a: a ** 2, x, v, create_graph=True)
    close(gg.grad(g.sum(), v)[0], [2.0, 4.0])


def test_relu_has_a_zero_hessian(device, rng):
    # Its first gradient is a constant mask with no graph in gpugrad: the Hessian is
    # zeros all the same (strict=True raises here where PyTorch lets the zeros through).
    x = T(rng.standard_normal(4), device)
    close(F.hessian(lambda a: gg.relu(a).sum() + gg.abs(a).sum(), x), np.zeros((4, 4)))
    close(F.hvp(lambda a: gg.relu(a).sum(), x, x)[1], np.zeros(4))
    close(F.jvp(gg.relu, x, x)[1], np.where(x.numpy() > 0, x.numpy(), 0.0))


def test_identity_function(device, rng):
    a, w = rng.standard_normal(3), rng.standard_normal(3)
    close(F.jacobian(lambda x: x, T(a, device)), np.eye(3))
    close(F.jvp(lambda x: x, T(a, device), T(w, device))[1], w)
    close(F.vjp(lambda x: x, T(a, device), T(w, device))[1], w)
    # rows must not share one seed buffer: an identity's gradient is the seed itself
    close(F.jacobian(lambda x: (x, x), T(a, device))[1], np.eye(3))


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 3), max_size=3).map(tuple), seed=st.integers(0, 2**16))
def test_jacobian_matches_vjp_and_jvp_on_any_shape(shape, seed):
    rng = np.random.default_rng(seed)
    a, c = rng.standard_normal(shape), rng.standard_normal(shape)
    n = int(np.prod(shape))

    def f(x):
        return (gg.tanh(x) * T(c), x.sum() * x)
    Js = F.jacobian(f, T(a))
    J0 = np.diag((c * (1 - np.tanh(a) ** 2)).ravel()).reshape(shape + shape)
    close(Js[0], J0)
    close(Js[1], (a.sum() * np.eye(n) + a.ravel()[:, None]).reshape(shape + shape))
    u = (T(rng.standard_normal(shape)), T(rng.standard_normal(shape)))
    _, vj = F.vjp(f, T(a), u)
    M = [J.numpy().reshape(n, n) for J in Js]
    close(vj, (u[0].numpy().ravel() @ M[0] + u[1].numpy().ravel() @ M[1]).reshape(shape))
    w = T(rng.standard_normal(shape))
    _, jv = F.jvp(f, T(a), w)
    for r, Mi in zip(jv, M):
        close(r, (Mi @ w.numpy().ravel()).reshape(shape))


# ---- strict mode --------------------------------------------------------------------
def test_strict_output_independent_of_an_input(device):
    x, y = T([1.0, 2.0], device), T([3.0, 4.0], device)
    v = T([1.0, 1.0], device)
    f = lambda a, b: a * 2  # noqa: E731

    _, (g0, g1) = F.vjp(f, (x, y), v)
    close(g1, [0.0, 0.0])
    with pytest.raises(RuntimeError, match="vjp: the output is independent of input 1"):
        F.vjp(f, (x, y), v, strict=True)
    with pytest.raises(RuntimeError, match="jvp: the output is independent of input 1"):
        F.jvp(f, (x, y), (v, v), strict=True)
    with pytest.raises(RuntimeError, match="jacobian: output 0 is independent of input 1"):
        F.jacobian(f, (x, y), strict=True)
    with pytest.raises(RuntimeError, match="vhp: the gradient with respect to input 1"):
        F.vhp(lambda a, b: (a ** 3).sum(), (x, y), (v, v), strict=True)


def test_strict_output_without_graph(device):
    x = T([1.0, 2.0], device)
    const = lambda a: a.detach() * 2  # noqa: E731
    for fn, args in ((F.vjp, (T([1.0, 1.0], device),)), (F.jvp, (x,)), (F.jacobian, ())):
        with pytest.raises(RuntimeError, match=f"{fn.__name__}: output 0 of the function "
                                               "does not require grad"):
            fn(const, x, *args, strict=True)
    close(F.vjp(const, x, T([1.0, 1.0], device))[1], [0.0, 0.0])
    close(F.jacobian(const, x), np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="hessian: output 0 of the function"):
        F.hessian(lambda a: a.detach().sum(), x, strict=True)


def test_strict_linear_function_has_a_constant_jacobian(device):
    x, v = T([1.0, 2.0], device), T([1.0, 1.0], device)
    lin = lambda a: (a * 3).sum()  # noqa: E731
    close(F.hessian(lin, x), np.zeros((2, 2)))
    close(F.hvp(lin, x, v)[1], [0.0, 0.0])
    with pytest.raises(RuntimeError, match="hessian: the gradient with respect to input 0 "
                                           "does not depend on the inputs"):
        F.hessian(lin, x, strict=True)
    for fn in (F.hvp, F.vhp):
        with pytest.raises(RuntimeError, match=f"{fn.__name__}: the gradient with respect"):
            fn(lin, x, v, strict=True)
    # With create_graph, strict also refuses a result that cannot be differentiated again.
    with pytest.raises(RuntimeError, match="vjp: the Jacobian with respect to input 0 does "
                                           "not depend on the inputs"):
        F.vjp(lambda a: a * 3, x, v, create_graph=True, strict=True)
    with pytest.raises(RuntimeError, match="jacobian: the Jacobian of output 0 with respect"):
        F.jacobian(lambda a: a * 3, x, create_graph=True, strict=True)
    F.vjp(lambda a: a * 3, x, v, strict=True)  # without create_graph: fine


# ---- argument errors ----------------------------------------------------------------
def test_argument_errors(device):
    x, v = T([1.0, 2.0], device), T([1.0, 1.0], device)
    with pytest.raises(TypeError, match="vjp: inputs must be a Tensor or a tuple of Tensors, "
                                        "got a list"):
        F.vjp(lambda a: a, [x], v)
    with pytest.raises(TypeError, match="jacobian: inputs .* element 1 is a float"):
        F.jacobian(lambda a, b: a, (x, 2.0))
    with pytest.raises(TypeError, match="the function's output must be a Tensor or a tuple "
                                        "of Tensors, got a list"):
        F.jacobian(lambda a: [a], x)
    with pytest.raises(RuntimeError, match=r"vjp: v has shape \(3,\) but output 0 has shape "
                                           r"\(2,\)"):
        F.vjp(lambda a: a, x, T([1.0, 2.0, 3.0], device))
    with pytest.raises(RuntimeError, match="jvp: v must hold one Tensor per input: got 1 for 2"):
        F.jvp(lambda a, b: a, (x, x), (v,))
    with pytest.raises(RuntimeError, match="vjp: v must be a single Tensor"):
        F.vjp(lambda a: a, x, (v, v))
    with pytest.raises(TypeError, match="vjp: v has dtype float32 but output 0 has dtype "
                                        "float64"):
        F.vjp(lambda a: a, x, T([1.0, 1.0], device, dtype=np.float32))
    with pytest.raises(RuntimeError, match=r"vjp: v can be None only .* shapes \[\(2,\)\]"):
        F.vjp(lambda a: a, x)
    for fn in (F.jvp, F.hvp, F.vhp):
        with pytest.raises(RuntimeError, match=f"{fn.__name__}: v can be None only"):
            fn(lambda a: a.sum(), x)
    for fn in (F.hvp, F.vhp):
        with pytest.raises(RuntimeError, match=rf"{fn.__name__}: the function must return a "
                                               r"single Tensor with one element, got a "
                                               r"Tensor of shape \(2,\)"):
            fn(lambda a: a * 2, x, v)
    with pytest.raises(RuntimeError, match="hessian: the function must return a single "
                                           "Tensor with one element, got a tuple of 1"):
        F.hessian(lambda a: (a.sum(),), x)
    with pytest.raises(RuntimeError, match="requires_grad: only floating point"):
        F.jacobian(lambda a: a, gg.tensor([1, 2], device=device))
    # A bool output has no forward derivative (PyTorch raises too); vjp and jacobian
    # treat it as a constant.
    with pytest.raises(RuntimeError, match="jvp: output 1 has dtype bool; only float"):
        F.jvp(lambda a: (a * 2, a > 1.5), x, v)
    close(F.jacobian(lambda a: (a * 2, a > 1.5), x)[1], np.zeros((2, 2)))


def test_vectorize_and_strategy(device):
    x = T([1.0, 2.0], device)
    f = lambda a: a * a  # noqa: E731
    close(F.jacobian(f, x, vectorize=False, strategy="reverse-mode"), np.diag([2.0, 4.0]))
    close(F.hessian(lambda a: (a ** 3).sum(), x, vectorize=False,
                    outer_jacobian_strategy="reverse-mode"), np.diag([6.0, 12.0]))
    with pytest.raises(NotImplementedError, match="strategy='forward-mode' is not implemented"):
        F.jacobian(f, x, strategy="forward-mode")
    with pytest.raises(NotImplementedError,
                       match="outer_jacobian_strategy='forward-mode' is not implemented"):
        F.hessian(lambda a: a.sum(), x, outer_jacobian_strategy="forward-mode")
    with pytest.raises(NotImplementedError, match="jacobian: vectorize=True is not implemented"):
        F.jacobian(f, x, vectorize=True)
    with pytest.raises(ValueError, match="jacobian: strategy must be 'reverse-mode' or "
                                         "'forward-mode', got 'fast'"):
        F.jacobian(f, x, strategy="fast")


def test_public_names():
    assert gg.autograd.functional is F
    assert F.__all__ == ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]
    assert "double-backward" in F.jvp.__doc__


# ---- PyTorch parity ---------------------------------------------------------------------
# Each function is written once for a module `m` (gpugrad or torch) with the names both share.
VECTOR_FNS = {
    "elementwise": (lambda m, x: m.tanh(x) * x + m.exp(x) * 0.5, [(3,)]),
    "matmul": (lambda m, W, x: W @ x, [(2, 3), (3,)]),
    "matrix_product": (lambda m, A: A @ A.T, [(2, 3)]),
    "reductions": (lambda m, X: (X.sum(0) * X.mean(1).sum(), X.max() * m.sigmoid(X)), [(2, 3)]),
    "two_in_two_out": (lambda m, x, y: (x * y, (x @ y) * x.sum()), [(3,), (3,)]),
    "zero_dim": (lambda m, s, x: s * s * x, [(), (2,)]),
}
SCALAR_FNS = {
    "cubic": (lambda m, x: (x ** 3).sum(), [(3,)]),
    "quadratic_form": (lambda m, W, x: ((W @ x) ** 2).sum() + (x * W.sum(0)).sum(),
                       [(2, 3), (3,)]),
    "log_sum_exp": (lambda m, X: m.log(m.exp(X).sum()), [(2, 2)]),
    "zero_dim": (lambda m, s: s ** 4 + m.sigmoid(s), [()]),
}


def _both(torch, shapes, seed, device, requires_grad):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    g = tuple(T(a, device, requires_grad=requires_grad) for a in arrays)
    t = tuple(torch.tensor(a, requires_grad=requires_grad) for a in arrays)
    return g, t


def _flat(r):
    return [x for y in r for x in _flat(y)] if isinstance(r, tuple) else [r]


def _same_nesting(g, t):
    if isinstance(t, tuple):
        assert isinstance(g, tuple) and len(g) == len(t)
        for a, b in zip(g, t):
            _same_nesting(a, b)
    else:
        assert isinstance(g, gg.Tensor) and tuple(g.shape) == tuple(t.shape)


def _compare(name, args, targs, kw, gfn, tfn, torch):
    TF = torch.autograd.functional
    one = len(args) == 1
    rg = getattr(F, name)(gfn, args[0] if one else args, **kw(args, one, gg))
    rt = getattr(TF, name)(tfn, targs[0] if one else targs, **kw(targs, one, torch))
    _same_nesting(rg, rt)
    for a, b in zip(_flat(rg), _flat(rt)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert a.requires_grad == b.requires_grad, name
        assert a.dtype == gg.float64
    return rg, rt


def _second_derivatives(rg, rt, args, targs, torch, seed):
    """Differentiate a random weighting of every result that carries a graph, with
    respect to the original inputs: create_graph=True results are differentiable."""
    rng = np.random.default_rng(seed + 1)
    pairs = [(a, b) for a, b in zip(_flat(rg), _flat(rt)) if b.requires_grad]
    assert pairs, "nothing to differentiate"
    ws = [rng.standard_normal(tuple(b.shape)) for _, b in pairs]
    sg = sum((a * T(w, a.device)).sum() for (a, _), w in zip(pairs, ws))
    st_ = sum((b * torch.tensor(w)).sum() for (_, b), w in zip(pairs, ws))
    dg = gg.grad(sg, list(args), allow_unused=True)
    dt = torch.autograd.grad(st_, list(targs), allow_unused=True)
    for a, b in zip(dg, dt):
        if b is None:
            assert a is None or not a.numpy().any()
        else:
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-11)


def _vector_like(ts, one, m, seed=7):
    rng = np.random.default_rng(seed)
    vs = tuple(m.tensor(rng.standard_normal(tuple(t.shape))) for t in ts)
    return vs[0] if one else vs


def _like_outputs(outs, m):
    """vjp's v: shaped like func's outputs, nested as they are."""
    single = not isinstance(outs, tuple)
    return _vector_like((outs,) if single else outs, single, m)


def _matches_torch(f, shapes, name, create_graph, device, seed):
    """F.<name> of f against torch.autograd.functional's, for inputs that do and do not
    require grad; with create_graph, the results' own derivatives too."""
    torch = pytest.importorskip("torch")
    for requires_grad in (False, True):
        args, targs = _both(torch, shapes, seed, device, requires_grad)

        def kw(ts, one, m):
            if name in ("jacobian", "hessian"):
                return {"create_graph": create_graph}
            v = _like_outputs(f(m, *ts), m) if name == "vjp" else _vector_like(ts, one, m)
            return {"v": v, "create_graph": create_graph}
        rg, rt = _compare(name, args, targs, kw, lambda *a: f(gg, *a),
                          lambda *a: f(torch, *a), torch)
        if create_graph and requires_grad:
            _second_derivatives(rg, rt, args, targs, torch, seed)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", ["vjp", "jvp", "jacobian"])
@pytest.mark.parametrize("fn", list(VECTOR_FNS))
def test_matches_torch_vector_functions(fn, name, create_graph, device):
    _matches_torch(*VECTOR_FNS[fn], name, create_graph, device, seed=3)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", ["hessian", "hvp", "vhp"])
@pytest.mark.parametrize("fn", list(SCALAR_FNS))
def test_matches_torch_scalar_functions(fn, name, create_graph, device):
    _matches_torch(*SCALAR_FNS[fn], name, create_graph, device, seed=5)


# Calls that PyTorch's strict mode refuses or lets through: gpugrad must agree.
STRICT_CASES = [
    ("vjp", lambda m, a, b: a * 2, {}),
    ("vjp", lambda m, a, b: a * b, {}),
    ("vjp", lambda m, a, b: a * b, {"create_graph": True}),
    ("vjp", lambda m, a, b: a * 2, {"create_graph": True}),
    ("vjp", lambda m, a, b: a.detach() * b.detach(), {}),
    ("jvp", lambda m, a, b: a * 2, {}),
    ("jvp", lambda m, a, b: m.exp(a) * b, {}),
    ("jvp", lambda m, a, b: m.exp(a) * b, {"create_graph": True}),
    ("jacobian", lambda m, a, b: a * b.sum(), {}),
    ("jacobian", lambda m, a, b: (a * b, a), {}),
    ("jacobian", lambda m, a, b: a * b, {"create_graph": True}),
    ("jacobian", lambda m, a, b: a + b, {"create_graph": True}),
    ("hessian", lambda m, a, b: (a * b).sum(), {}),
    ("hessian", lambda m, a, b: (a ** 2 * b).sum(), {}),
    ("hessian", lambda m, a, b: (a ** 2).sum() + b.sum(), {}),
    ("hessian", lambda m, a, b: (a ** 2 * b ** 2).sum(), {"create_graph": True}),
    ("hvp", lambda m, a, b: (a ** 2 * b).sum(), {}),
    ("hvp", lambda m, a, b: (a ** 3 * b ** 3).sum(), {"create_graph": True}),
    ("vhp", lambda m, a, b: (a ** 2).sum(), {}),
    ("vhp", lambda m, a, b: (a ** 3 * b ** 3).sum(), {}),
]


@pytest.mark.parametrize("case", range(len(STRICT_CASES)))
def test_strict_agrees_with_torch(case, device):
    torch = pytest.importorskip("torch")
    name, f, kw = STRICT_CASES[case]
    args, targs = _both(torch, [(2,), (2,)], 11, device, False)

    def call(mod, m, ts):
        extra = dict(kw, strict=True)
        if name in ("jvp", "hvp", "vhp"):
            extra["v"] = _vector_like(ts, False, m)
        elif name == "vjp":
            extra["v"] = _like_outputs(f(m, *ts), m)
        try:
            return getattr(mod, name)(lambda *a: f(m, *a), ts, **extra)
        except RuntimeError as e:
            return e
    rg = call(F, gg, args)
    rt = call(torch.autograd.functional, torch, targs)
    assert isinstance(rg, RuntimeError) == isinstance(rt, RuntimeError), (rg, rt)
    if not isinstance(rt, RuntimeError):
        for a, b in zip(_flat(rg), _flat(rt)):
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["vjp", "jvp", "hvp", "vhp"])
def test_create_graph_keeps_v_differentiable_like_torch(name, device):
    torch = pytest.importorskip("torch")
    a = np.array([1.0, -2.0, 0.5])

    def f(m):
        if name in ("vjp", "jvp"):
            return lambda z: m.tanh(z) * z.sum()
        return lambda z: (m.tanh(z) * z.sum()).sum()
    v, tv = T(a * 0.5, device, requires_grad=True), torch.tensor(a * 0.5, requires_grad=True)
    _, r = getattr(F, name)(f(gg), T(a, device), v, create_graph=True)
    _, tr = getattr(torch.autograd.functional, name)(f(torch), torch.tensor(a), tv,
                                                     create_graph=True)
    np.testing.assert_allclose(r.numpy(), tr.detach().numpy(), rtol=1e-12)
    (g,), (tg,) = gg.grad((r * r).sum(), v), torch.autograd.grad((tr * tr).sum(), tv)
    np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12)
