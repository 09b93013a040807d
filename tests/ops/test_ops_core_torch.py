"""sin, cos, clamp, argmax/argmin, var, std, norm, logsumexp, flatten, softplus, cat and
where against PyTorch: values and gradients, float64 and float32, edge values included."""
import math
import warnings

import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")
F = torch.nn.functional
inf, nan = math.inf, math.nan
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=1e-6)}
DTYPES = [np.float64, np.float32]


def run(device, gg_fn, torch_fn, arrays, dtype=np.float64, seed_grad=True, **tol):
    """Values and gradients of gg_fn and torch_fn on the same inputs; gradients of the
    output against a random seed (all ones where seed_grad is False)."""
    arrays = [np.asarray(a, dtype=dtype) for a in arrays]
    xs = [gg.tensor(a, device=device, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degrees-of-freedom warnings: tested elsewhere
        out, ref = gg_fn(*xs), torch_fn(*ts)
    tol = tol or TOL[dtype]
    assert out.dtype == dtype and out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **tol)
    u = np.random.default_rng(7).standard_normal(ref.shape).astype(dtype) if seed_grad \
        else np.ones(ref.shape, dtype)
    out.backward(gg.tensor(u, device=device))
    ref.backward(torch.tensor(u))
    for x, t in zip(xs, ts):
        want = np.zeros(t.shape, dtype) if t.grad is None else t.grad.numpy()
        got = np.zeros(x.shape, dtype) if x.grad is None else x.grad.numpy()
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, **tol)
    return xs, ts


def randn(rng, *shapes, low=None, away=None):
    out = []
    for s in shapes:
        a = rng.standard_normal(s)
        if low is not None:
            a = np.abs(a) + low
        if away is not None:
            a = np.sign(a + 1e-12) * (np.abs(a) + away)
        out.append(a)
    return out


SMOOTH = [
    ("sin", gg.sin, torch.sin, {}), ("cos", gg.cos, torch.cos, {}),
    ("x.sin", lambda x: x.sin(), lambda x: x.sin(), {}),
    ("clamp", lambda x: gg.clamp(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7), {}),
    ("clip min", lambda x: gg.clip(x, min=0.2), lambda x: torch.clip(x, min=0.2), {}),
    ("x.clamp max", lambda x: x.clamp(max=0.1), lambda x: x.clamp(max=0.1), {}),
    ("var", gg.var, torch.var, {}),
    ("var dim keepdim", lambda x: x.var(dim=1, keepdim=True), lambda x: x.var(dim=1, keepdim=True), {}),
    ("var correction 0", lambda x: gg.var(x, (0, 2), correction=0),
     lambda x: torch.var(x, (0, 2), correction=0), {}),
    ("var correction 2.5", lambda x: gg.var(x, 1, correction=2.5),
     lambda x: torch.var(x, 1, correction=2.5), {}),
    ("var unbiased False", lambda x: x.var(0, unbiased=False), lambda x: x.var(0, unbiased=False), {}),
    ("std", gg.std, torch.std, {}),
    ("std dim", lambda x: x.std(dim=0), lambda x: x.std(dim=0), {}),
    ("std positional unbiased", lambda x: x.std(2, False, True), lambda x: x.std(2, False, True), {}),
    ("norm", gg.norm, torch.linalg.vector_norm, {}),
    ("norm dim keepdim", lambda x: x.norm(dim=1, keepdim=True), lambda x: x.norm(dim=1, keepdim=True), {}),
    ("norm 1", lambda x: gg.norm(x, 1, axis=(0, 1)), lambda x: torch.linalg.vector_norm(x, 1, (0, 1)), dict(away=0.1)),
    ("norm 3", lambda x: gg.norm(x, 3, axis=2), lambda x: torch.linalg.vector_norm(x, 3, 2), {}),
    ("norm 1.5", lambda x: gg.norm(x, 1.5), lambda x: torch.linalg.vector_norm(x, 1.5), dict(away=0.1)),
    ("norm 0.5", lambda x: gg.norm(x, 0.5, axis=0), lambda x: torch.linalg.vector_norm(x, 0.5, 0), dict(away=0.1)),
    ("norm -2", lambda x: gg.norm(x, -2, axis=0), lambda x: torch.linalg.vector_norm(x, -2, 0), dict(away=0.1)),
    ("norm inf", lambda x: gg.norm(x, inf, axis=1), lambda x: torch.linalg.vector_norm(x, inf, 1), {}),
    ("norm -inf", lambda x: gg.norm(x, -inf), lambda x: torch.linalg.vector_norm(x, -inf), {}),
    ("norm 0", lambda x: gg.norm(x, 0, axis=1), lambda x: torch.linalg.vector_norm(x, 0, 1), {}),
    ("norm fro", lambda x: x.norm("fro", dim=(0, 1)), lambda x: torch.norm(x, "fro", dim=(0, 1)), {}),
    ("logsumexp", lambda x: gg.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1), {}),
    ("logsumexp dims", lambda x: x.logsumexp(dim=(0, 2), keepdim=True),
     lambda x: x.logsumexp(dim=(0, 2), keepdim=True), {}),
    ("logsumexp big", lambda x: gg.logsumexp(x * 400, -1), lambda x: torch.logsumexp(x * 400, -1), {}),
    ("softplus", gg.softplus, F.softplus, {}),
    ("softplus beta", lambda x: gg.softplus(x * 10, beta=2, threshold=5),
     lambda x: F.softplus(x * 10, beta=2, threshold=5), {}),
    ("softplus beta<0", lambda x: gg.softplus(x * 10, beta=-0.5, threshold=3),
     lambda x: F.softplus(x * 10, beta=-0.5, threshold=3), {}),
    ("flatten", lambda x: x.flatten(1), lambda x: x.flatten(1), {}),
    ("flatten mid", lambda x: gg.flatten(x, 0, 1), lambda x: torch.flatten(x, 0, 1), {}),
    ("flatten end", lambda x: x.flatten(-2, -1), lambda x: x.flatten(-2, -1), {}),
    ("sum dim", lambda x: x.sum(dim=(0, 2), keepdim=True), lambda x: x.sum(dim=(0, 2), keepdim=True), {}),
    ("mean dim", lambda x: x.mean(dim=-1), lambda x: x.mean(dim=-1), {}),
    ("max dims", lambda x: x.max(dim=(1,)), lambda x: x.amax(dim=1), {}),
    ("min dims keepdim", lambda x: x.min(dim=(0,), keepdim=True), lambda x: x.amin(dim=0, keepdim=True), {}),
    ("max dim values", lambda x: x.max(dim=1).values, lambda x: x.max(dim=1).values, {}),
    ("min dim keepdim values", lambda x: x.min(0, True)[0], lambda x: x.min(0, True)[0], {}),
    ("index tuple", lambda x: x[(1, 0), :, 0], lambda x: x[(1, 0), :, 0], {}),
    ("index nested tuple", lambda x: x[0, ((0, 1), (2, 2))], lambda x: x[0, ((0, 1), (2, 2))], {}),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name,g,t,kw", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_against_torch(device, rng, name, g, t, kw, dtype):
    run(device, g, t, randn(rng, (2, 3, 4), **kw), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("sx,slo,shi", [((3, 4), (4,), (3, 1)), ((3,), (2, 3), None),
                                         ((2, 3), None, (2, 1)), ((), (3,), (2, 1))])
def test_clamp_tensor_bounds_broadcast_like_torch(device, rng, dtype, sx, slo, shi):
    shapes = [s for s in (sx, slo, shi) if s is not None]

    out = np.broadcast_shapes(*shapes)

    def call(lib):
        def f(x, *b):
            b = list(b)
            lo = b.pop(0) if slo is not None else None
            hi = b.pop(0) if shi is not None else None
            if lib is torch:  # torch's clamp backward fails for an x smaller than the output
                x = x.expand(out)
            return lib.clamp(x, lo, hi)
        return f
    run(device, call(gg), call(torch), randn(rng, *shapes), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_clamp_at_exactly_the_bounds(device, dtype):
    x = [-1.0, 0.0, 0.25, 1.0, 2.0, 1.0, 0.0]
    run(device, lambda a: gg.clamp(a, 0.0, 1.0), lambda a: torch.clamp(a, 0.0, 1.0), [x], dtype)
    run(device, lambda a: a.clamp(min=0.0), lambda a: a.clamp(min=0.0), [x], dtype)
    run(device, lambda a: a.clamp(max=1.0), lambda a: a.clamp(max=1.0), [x], dtype)
    lo, hi = [0.0] * 7, [1.0] * 7
    run(device, gg.clamp, torch.clamp, [x, lo, hi], dtype)  # tensor bounds, ties included
    run(device, gg.clamp, torch.clamp, [x, hi, lo], dtype)  # min > max: every output is max
    run(device, gg.clamp, torch.clamp, [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]], dtype)
    run(device, lambda a: gg.clamp(a, 1.0, 0.0), lambda a: torch.clamp(a, 1.0, 0.0), [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_clamp_nan_input_and_bound(device, dtype):
    run(device, lambda a: a.clamp(-1.0, 1.0), lambda a: a.clamp(-1.0, 1.0), [[nan, 0.5, 3.0]], dtype)
    run(device, lambda a: a.clamp(min=nan), lambda a: a.clamp(min=nan), [[0.5, 3.0]], dtype)
    run(device, gg.clamp, torch.clamp, [[nan, 0.5], [0.0, nan], [1.0, 1.0]], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("p", [2, 1, 3, 1.5, 0.5, -1, inf, -inf, 0, "fro"])
def test_norm_at_zero_and_with_zeros(device, dtype, p):
    """PyTorch's gradient where the norm or an element is 0: 0, never nan."""
    tn = (lambda a: torch.norm(a, "fro")) if p == "fro" else (lambda a: torch.linalg.vector_norm(a, p))
    run(device, lambda a: gg.norm(a, p), tn, [[0.0, 0.0, 0.0]], dtype)
    run(device, lambda a: gg.norm(a, p), tn, [[0.0, 1.0, -2.0]], dtype)
    tr = (lambda a: torch.norm(a, "fro", dim=1)) if p == "fro" else \
        (lambda a: torch.linalg.vector_norm(a, p, 1))
    run(device, lambda a: gg.norm(a, p, axis=1), tr, [[[0.0, 0.0], [3.0, -4.0], [0.0, 2.0]]], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_norm_inf_ties_and_nan(device, dtype):
    run(device, lambda a: gg.norm(a, inf), lambda a: torch.linalg.vector_norm(a, inf),
        [[1.0, -2.0, 2.0, 0.5]], dtype)
    run(device, lambda a: gg.norm(a, -inf), lambda a: torch.linalg.vector_norm(a, -inf),
        [[1.0, -0.5, 0.5, 3.0]], dtype)
    run(device, lambda a: gg.norm(a, inf), lambda a: torch.linalg.vector_norm(a, inf),
        [[1.0, nan, 2.0]], dtype)
    run(device, lambda a: gg.norm(a), lambda a: torch.linalg.vector_norm(a), [[1.0, nan]], dtype)
    # torch's sgn(nan) is 0: the 1-norm's gradient there is 0, not nan
    run(device, lambda a: gg.norm(a, 1), lambda a: torch.linalg.vector_norm(a, 1), [[-1.0, nan]], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_norm_empty(device, dtype):
    run(device, lambda a: gg.norm(a), lambda a: torch.linalg.vector_norm(a), [np.zeros((0,))], dtype)
    run(device, lambda a: gg.norm(a, 1, axis=0), lambda a: torch.linalg.vector_norm(a, 1, 0),
        [np.zeros((0, 3))], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_std_and_var_of_one_element(device, dtype):
    """correction 1 over one element: nan (with a warning), value and gradient, as torch."""
    for fn in ("var", "std"):
        run(device, getattr(gg, fn), getattr(torch, fn), [[1.5]], dtype)
        run(device, lambda a: getattr(a, fn)(dim=1), lambda a: getattr(a, fn)(dim=1),
            [[[1.0], [2.0]]], dtype)
        run(device, getattr(gg, fn), getattr(torch, fn), [1.5], dtype)  # 0-d
        # correction past the count: inf where the values differ (gradient: PyTorch's rule)
        run(device, lambda a: getattr(gg, fn)(a, correction=3),
            lambda a: getattr(torch, fn)(a, correction=3), [[1.0, 2.0]], dtype)
    with pytest.warns(RuntimeWarning, match="std: degrees of freedom is <= 0"):
        gg.std(gg.tensor([1.0], device=device))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_std_of_constant_rows_has_zero_gradient(device, dtype):
    run(device, lambda a: a.std(dim=1), lambda a: a.std(dim=1), [[[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]]], dtype)
    run(device, gg.std, torch.std, [[3.0, 3.0]], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_var_std_empty(device, dtype):
    run(device, gg.var, torch.var, [np.zeros((0,))], dtype)
    run(device, lambda a: a.std(dim=1), lambda a: a.std(dim=1), [np.zeros((2, 0))], dtype)
    run(device, lambda a: a.var(dim=1), lambda a: a.var(dim=1), [np.zeros((0, 3))], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_logsumexp_infinite_and_empty_rows(device, dtype):
    x = [[-inf, -inf, -inf], [inf, 1.0, 0.0], [inf, -inf, 2.0], [-inf, 1.0, 2.0], [nan, 1.0, 0.0]]
    run(device, lambda a: gg.logsumexp(a, 1), lambda a: torch.logsumexp(a, 1), [x], dtype)
    run(device, lambda a: gg.logsumexp(a, 0, keepdims=True), lambda a: torch.logsumexp(a, 0, keepdim=True),
        [[[-inf, 0.5], [-inf, 1.0]]], dtype)
    run(device, lambda a: gg.logsumexp(a, 1), lambda a: torch.logsumexp(a, 1), [np.zeros((2, 0))], dtype)
    run(device, lambda a: gg.logsumexp(a, 0), lambda a: torch.logsumexp(a, 0), [np.zeros((0, 3))], dtype)
    run(device, lambda a: gg.logsumexp(a, 0), lambda a: torch.logsumexp(a, 0), [[1e30, 1e30]], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("beta,threshold", [(1, 20), (2, 5), (0.5, 3), (-1, 4), (3, 0)])
def test_softplus_around_the_threshold(device, dtype, beta, threshold):
    t = threshold / beta
    x = [t - 1e-3, t, t + 1e-3, t * 2, -t, 0.0, -30.0, 30.0, 100.0, -100.0]
    run(device, lambda a: gg.softplus(a, beta, threshold),
        lambda a: F.softplus(a, beta=beta, threshold=threshold), [x], dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_cat_and_stack_with_dim(device, rng, dtype):
    a, b = randn(rng, (2, 3), (2, 1))
    run(device, lambda x, y: gg.cat([x, y], dim=1), lambda x, y: torch.cat([x, y], dim=1), [a, b], dtype)
    run(device, lambda x, y: gg.cat((x, y), -1), lambda x, y: torch.cat((x, y), -1), [a, b], dtype)
    run(device, lambda x, y: gg.stack([x, y], dim=2), lambda x, y: torch.stack([x, y], dim=2),
        [a, a], dtype)


@pytest.mark.parametrize("values", [[1.0, 3.0, 3.0, -2.0], [[1.0, 5.0], [5.0, 1.0]], [[nan, 1.0], [2.0, nan]],
                                    [[-inf, -inf], [2.0, 2.0]], 4.0])
def test_argmax_argmin_like_torch(device, values):
    x, t = gg.tensor(values, device=device), torch.tensor(values)
    for name in ("argmax", "argmin"):
        for kw in [{}, {"keepdim": True}] + [{"dim": d, "keepdim": k} for d in range(-t.ndim, t.ndim or 1)
                                              for k in (False, True)]:
            got = getattr(x, name)(**kw)
            want = getattr(t, name)(**kw)
            assert got.dtype == gg.int64 and got.shape == tuple(want.shape), (name, kw)
            assert got.tolist() == want.tolist(), (name, kw)


@pytest.mark.parametrize("fn", ["exp", "log", "sqrt", "tanh", "sigmoid", "sin", "cos"])
def test_int_and_bool_tensors_give_float32(device, fn):
    for values in ([1, 2, 3], [True, False, True]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NumPy's warning for log(0) = -inf
            got = getattr(gg, fn)(gg.tensor(values, device=device))
        want = getattr(torch, fn)(torch.tensor(values))
        assert got.dtype == gg.float32 and want.dtype == torch.float32
        assert not got.requires_grad
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_softplus_of_int_tensor_gives_float32(device):
    got = gg.softplus(gg.tensor([1, 30], device=device))
    want = F.softplus(torch.tensor([1.0, 30.0]))  # torch has no integer softplus kernel
    assert got.dtype == gg.float32
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


@pytest.mark.parametrize("a,b", [(1.0, 0.0), (1, 0), (True, False), (1, 2.5), (True, 0), (0.5, False)])
def test_where_with_two_scalars_takes_torch_dtype(device, a, b):
    m = [True, False, True]
    got = gg.where(gg.tensor(m, device=device), a, b)
    want = torch.where(torch.tensor(m), a, b)
    assert str(got.dtype) == str(want.dtype).replace("torch.", "")
    assert got.tolist() == want.tolist() and got.device == gg.device(device)


def test_clamp_of_int_tensor_dtype_like_torch(device):
    x = gg.tensor([1, 2, 3], device=device)
    t = torch.tensor([1, 2, 3])
    for kw in [dict(min=2), dict(min=1.5), dict(max=2.5), dict(min=0, max=2)]:
        got, want = x.clamp(**kw), t.clamp(**kw)
        assert str(got.dtype) == str(want.dtype).replace("torch.", ""), kw
        assert got.tolist() == want.tolist(), kw


# ---- review round: fixes found against torch 2.13 --------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("fn", ["var", "std"])
@pytest.mark.parametrize("correction", [2, 2.5, 3, 4])
def test_var_std_gradient_with_a_dim_and_no_degrees_of_freedom(device, dtype, fn, correction):
    """With a dim, torch's rule is 2 (x - mean) / (n - correction) G: finite where
    n < correction, inf with the sign of (x - mean) G where n == correction (it was inf
    everywhere, or nan for std); without a dim, G * inf (nan at the mean)."""
    for x in ([[1.0, 3.0]], [[1.0, 2.0, 6.0]], [[2.0, 2.0]]):
        for kw in (dict(dim=1), dict(dim=(0, 1)), dict(dim=-1, keepdim=True), {}):
            run(device, lambda a: getattr(a, fn)(correction=correction, **kw),
                lambda a: getattr(a, fn)(correction=correction, **kw), [x], dtype)


@pytest.mark.parametrize("fn", ["var", "std"])
def test_var_std_take_a_positional_bool_as_unbiased(device, rng, fn):
    """torch's x.std(False): unbiased=False over every axis, not the axis 0 that
    operator.index(False) names."""
    a = rng.standard_normal((3, 4))
    x, t = gg.tensor(a, device=device), torch.tensor(a)
    for flag in (False, True):
        got, want = getattr(x, fn)(flag), getattr(t, fn)(flag)
        assert got.shape == tuple(want.shape) == ()
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
        got = getattr(gg, fn)(x, flag)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    np.testing.assert_allclose(getattr(x, fn)(0, False, True).numpy(),
                               getattr(t, fn)(0, False, True).numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match=f"{fn}: got unbiased=False positionally"):
        getattr(x, fn)(False, correction=0)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "std", "norm"])
def test_dim_empty_tuple_reduces_every_axis_as_torch(device, rng, name):
    """torch.sum(x, dim=()) is the sum of all (NumPy's axis=() reduces none: kept)."""
    a = rng.standard_normal((2, 3))
    x, t = gg.tensor(a, device=device), torch.tensor(a)
    tname = {"max": "amax", "min": "amin"}.get(name, name)
    for keep in (False, True):
        got = getattr(x, name)(dim=(), keepdim=keep)
        want = getattr(t, tname)(dim=(), keepdim=keep)
        assert got.shape == tuple(want.shape), keep
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-12)
        assert getattr(gg, name)(x, dim=[], keepdim=keep).shape == tuple(want.shape)
    if name in ("sum", "max", "min", "norm"):
        assert getattr(gg, name)(x, axis=()).shape == (2, 3)  # NumPy's meaning
    got = x.norm("fro", dim=())
    np.testing.assert_allclose(got.numpy(), torch.norm(t, "fro", dim=()).numpy(), rtol=1e-12)


def test_norm_p_none_is_the_2_norm(device, rng):
    a = rng.standard_normal((2, 3))
    x, t = gg.tensor(a, device=device), torch.tensor(a)
    np.testing.assert_allclose(gg.norm(x, None).numpy(), torch.norm(t, p=None).numpy())
    np.testing.assert_allclose(x.norm(None, 1).numpy(), t.norm(None, 1).numpy())


def test_clamp_int32_with_int64_tensor_bound_takes_int64(device):
    """The common int type, as torch: an int64 bound is not cut to int32 (2**40 was 0)."""
    x = gg.tensor(np.arange(3, dtype=np.int32), device=device)
    b = gg.tensor([2 ** 40, 1, 1], device=device)
    got = gg.clamp(x, b)
    want = torch.clamp(torch.arange(3, dtype=torch.int32), torch.tensor([2 ** 40, 1, 1]))
    assert str(got.dtype) == str(want.dtype).replace("torch.", "") == "int64"
    assert got.tolist() == want.tolist()


def test_cat_skips_1d_empty_tensors_as_torch(device, rng):
    a = rng.standard_normal((2, 3))
    e = np.zeros((0,))
    run(device, lambda x, y: gg.cat([x, y], 1), lambda x, y: torch.cat([x, y], 1), [a, e])
    run(device, lambda x, y: gg.cat([y, x]), lambda x, y: torch.cat([y, x]), [a, e])


def test_empty_list_index_picks_nothing_as_torch(device):
    a = np.arange(12.0).reshape(3, 4)
    x, t = gg.tensor(a, device=device), torch.tensor(a)
    assert x[[]].shape == tuple(t[[]].shape) == (0, 4)
    assert x[:, []].shape == tuple(t[:, []].shape) == (3, 0)
