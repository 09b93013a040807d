"""Behaviour of the core ops: sin, cos, clamp, argmax/argmin, var, std, norm, logsumexp,
flatten, softplus, cat, where with scalars, tuple indices; the dim=/keepdim= spellings;
errors and edge values. (Values against PyTorch: test_ops_core_torch.py.)"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import gpugrad as gg

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
inf, nan = math.inf, math.nan


def _np_lse(a, axis, keepdims):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else out.reshape(np.sum(a, axis=axis).shape)


def _np_norm(p):
    def f(a, axis, keepdims):
        if p == inf:
            return np.max(np.abs(a), axis=axis, keepdims=keepdims)
        if p == 0:
            return np.sum(a != 0, axis=axis, keepdims=keepdims).astype(a.dtype)
        return np.sum(np.abs(a) ** p, axis=axis, keepdims=keepdims) ** (1 / p)
    return f


# name -> (gg function, NumPy reference taking (array, axis, keepdims))
REDUCTIONS = {
    "sum": (gg.sum, lambda a, axis, k: np.sum(a, axis=axis, keepdims=k)),
    "mean": (gg.mean, lambda a, axis, k: np.mean(a, axis=axis, keepdims=k)),
    "max": (gg.max, lambda a, axis, k: np.max(a, axis=axis, keepdims=k)),
    "min": (gg.min, lambda a, axis, k: np.min(a, axis=axis, keepdims=k)),
    "var": (gg.var, lambda a, axis, k: np.var(a, axis=axis, keepdims=k, ddof=1)),
    "std": (gg.std, lambda a, axis, k: np.std(a, axis=axis, keepdims=k, ddof=1)),
    "var0": (lambda x, *a, **k: gg.var(x, *a, correction=0, **k),
             lambda a, axis, k: np.var(a, axis=axis, keepdims=k)),
    "norm": (gg.norm, _np_norm(2)),
    "norm1": (lambda x, *a, **k: gg.norm(x, 1, *a, **k), _np_norm(1)),
    "norm3": (lambda x, *a, **k: gg.norm(x, 3, *a, **k), _np_norm(3)),
    "norminf": (lambda x, *a, **k: gg.norm(x, inf, *a, **k), _np_norm(inf)),
    "norm0": (lambda x, *a, **k: gg.norm(x, 0, *a, **k), _np_norm(0)),
    "logsumexp": (gg.logsumexp, _np_lse),
}


@st.composite
def shape_and_axes(draw):
    shape = draw(array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    n = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int" and n:
        a = draw(st.integers(-n, n - 1))
        return shape, a
    axes = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n)) if n else []
    return shape, tuple(a - n * draw(st.booleans()) for a in axes)  # some negative


@SETTINGS
@given(sa=shape_and_axes(), name=st.sampled_from(sorted(REDUCTIONS)), keep=st.booleans(),
       seed=st.integers(0, 2**16))
def test_reductions_match_numpy_and_dim_spelling_matches_axis(sa, name, keep, seed):
    shape, axis = sa
    fn, ref = REDUCTIONS[name]
    a = np.random.default_rng(seed).standard_normal(shape) + 0.1
    x = gg.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # var of one element: nan, with a warning
        want = ref(a, axis, keep)
        # dim=() is PyTorch's spelling of every axis (torch.sum(x, dim=())); axis=() NumPy's
        # of none
        want_dim = ref(a, None, keep) if axis == () else want
        by_axis = fn(x, axis=axis, keepdims=keep)
        by_dim = fn(x, dim=axis, keepdim=keep)
        # var/std take correction second (torch's unbiased), norm takes p first
        positional = fn(x, axis, keep) if not name.startswith(("norm", "var", "std")) else by_axis
    if name in ("max", "min") and isinstance(axis, int):  # one dim: torch's (values, indices)
        arg = getattr(np, "arg" + name)(a, axis=axis, keepdims=keep)
        for pair in (by_dim, positional):
            np.testing.assert_array_equal(pair.indices.numpy(), arg)
        by_dim, positional = by_dim.values, positional.values
    # max and min take their positional argument as torch's dim (so () is every axis)
    pos_want = want_dim if name in ("max", "min") else want
    for got, ref_ in ((by_axis, want), (by_dim, want_dim), (positional, pos_want)):
        assert got.shape == np.shape(ref_) and got.dtype == np.float64
        np.testing.assert_allclose(got.numpy(), ref_, rtol=1e-10, atol=1e-12)
    want = want_dim
    if name != "norm0" and not np.isnan(want).any():
        by_dim.sum().backward()  # a gradient of the input's shape and dtype
        assert x.grad.shape == shape and x.grad.dtype == np.float64


@SETTINGS
@given(sa=shape_and_axes(), name=st.sampled_from(["sum", "mean", "max", "min", "var", "std",
                                                  "norm", "logsumexp", "argmax", "argmin"]),
       keep=st.booleans(), seed=st.integers(0, 2**16))
def test_tensor_methods_take_both_spellings(sa, name, keep, seed):
    shape, axis = sa
    if name.startswith("arg"):
        if axis is not None and not isinstance(axis, int):
            axis = None
        if not shape and axis is not None:
            axis = 0
    if axis == ():  # dim=() is every axis (PyTorch), axis=() none (NumPy)
        axis = None
    x = gg.tensor(np.random.default_rng(seed).standard_normal(shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = getattr(x, name)(axis=axis, keepdims=keep)
        b = getattr(x, name)(dim=axis, keepdim=keep)
        c = getattr(gg, name)(x, dim=axis, keepdim=keep)
    if name in ("max", "min") and isinstance(axis, int):  # one dim: torch's (values, indices)
        assert b.indices.shape == a.shape and b.indices.dtype == np.int64
        b, c = b.values, c.values
    for other in (b, c):
        assert other.shape == a.shape and other.dtype == a.dtype
        np.testing.assert_array_equal(other.numpy(), a.numpy())


@SETTINGS
@given(shape=array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4), data=st.data())
def test_argmax_argmin_match_numpy(shape, data):
    a = np.random.default_rng(data.draw(st.integers(0, 2**16))).integers(0, 3, shape).astype(float)
    n = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-n, n - 1)))
    keep = data.draw(st.booleans())
    x = gg.tensor(a)
    for name in ("argmax", "argmin"):
        got = getattr(gg, name)(x, axis, keep)
        want = getattr(np, name)(a, axis=axis, keepdims=keep)
        if axis is None and keep:
            want = np.reshape(want, (1,) * n)
        assert got.dtype == gg.int64 and got.shape == np.shape(want)
        np.testing.assert_array_equal(got.numpy(), want)
        assert not got.requires_grad


@SETTINGS
@given(shape=array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=3), data=st.data())
def test_flatten_matches_numpy_reshape(shape, data):
    n = len(shape)
    lo, hi = (-1, 0) if n == 0 else (-n, n - 1)
    start = data.draw(st.integers(lo, hi))
    end = data.draw(st.integers(lo, hi))
    x = gg.tensor(np.arange(math.prod(shape), dtype=np.float64).reshape(shape), requires_grad=True)
    s, e = (start % n, end % n) if n else (0, 0)
    if s > e:
        with pytest.raises(ValueError, match="flatten: start_dim .* comes after end_dim"):
            x.flatten(start, end)
        return
    y = x.flatten(start, end)
    want = shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:] if n else (1,)
    assert y.shape == want and y.tolist() == x.numpy().reshape(want).tolist()
    y.sum().backward()
    assert x.grad.shape == shape


# ---- the spellings -------------------------------------------------------------------
@pytest.mark.parametrize("call,names", [
    (lambda x: x.sum(axis=0, dim=0), "axis=0 and dim=0"),
    (lambda x: gg.mean(x, 1, dim=0), "axis=1 and dim=0"),
    (lambda x: x.max(keepdims=True, keepdim=True), "keepdims=True and keepdim=True"),
    (lambda x: gg.argmax(x, 0, dim=1), "axis=0 and dim=1"),
    (lambda x: x.var(axis=1, dim=1), "axis=1 and dim=1"),
    (lambda x: gg.std(x, keepdims=1, keepdim=False), "keepdims=1 and keepdim=False"),
    (lambda x: x.norm(2, 0, dim=0), "axis=0 and dim=0"),
    (lambda x: gg.logsumexp(x, 0, dim=0), "axis=0 and dim=0"),
    (lambda x: gg.cat([x, x], 1, dim=1), "axis=1 and dim=1"),
    (lambda x: gg.stack([x, x], axis=1, dim=0), "axis=1 and dim=0"),
    (lambda x: x.unsqueeze(0, dim=0), "axis=0 and dim=0"),
    (lambda x: x.var(correction=0, unbiased=True), "correction=0 and unbiased=True"),
])
def test_both_spellings_at_once_raise_naming_them(device, call, names):
    x = gg.tensor(np.ones((2, 3)), device=device)
    with pytest.raises(TypeError, match=names):
        call(x)


def test_pytorch_code_ports_without_edits(device):
    x = gg.tensor(np.arange(24.0).reshape(2, 3, 4), device=device, requires_grad=True)
    assert x.sum(dim=1, keepdim=True).shape == (2, 1, 4)
    assert x.flatten(1).shape == (2, 12)
    assert gg.cat([x, x], dim=1).shape == (2, 6, 4)
    assert x.std(dim=0).shape == (3, 4)
    assert x.mean(dim=(0, 2)).shape == (3,)
    assert x.argmax(dim=-1).shape == (2, 3) and x.argmax().item() == 23
    assert x.unsqueeze(dim=0).shape == (1, 2, 3, 4) and x[:1].squeeze(dim=0).shape == (3, 4)
    assert x.norm(dim=2, keepdim=True).shape == (2, 3, 1)
    assert x.logsumexp(dim=1).shape == (2, 4)
    assert x.softmax(dim=1).shape == x.shape and x.log_softmax(1).shape == x.shape
    # max with one dim is torch's (values, indices); with axis=, NumPy's values
    values, indices = x.max(dim=1)
    assert values.tolist() == x.numpy().max(axis=1).tolist() == x.max(axis=1).tolist()
    assert indices.tolist() == x.numpy().argmax(axis=1).tolist() and indices.dtype == gg.int64
    assert x.min(1).indices.tolist() == x.numpy().argmin(axis=1).tolist()
    assert gg.cat is gg.concatenate and gg.clip is gg.clamp


# ---- edge values and dtypes -------------------------------------------------------------
def test_zero_dim_inputs(device):
    x = gg.tensor(2.5, dtype=gg.float64, device=device, requires_grad=True)
    assert gg.argmax(x).item() == 0 and gg.argmin(x, dim=0).item() == 0 and gg.argmax(x, -1).shape == ()
    assert x.flatten().shape == (1,) and gg.flatten(x, 0, -1).shape == (1,)
    assert x.norm().item() == 2.5 and gg.norm(x, 1, axis=0).item() == 2.5
    assert gg.logsumexp(x, 0).item() == 2.5
    with pytest.warns(RuntimeWarning, match="var: degrees of freedom"):
        assert math.isnan(x.var().item())
    assert x.var(correction=0).item() == 0.0
    with pytest.raises(ValueError, match="argmax: axis 1 is out of range"):
        gg.argmax(x, 1)


def test_float32_stays_float32(device):
    x = gg.tensor(np.linspace(-2, 2, 12).reshape(3, 4), dtype=gg.float32, device=device)
    outs = [gg.sin(x), gg.cos(x), gg.clamp(x, -1, 1.5), gg.clamp(x, x[0], x[1]), x.var(0),
            x.std(), x.norm(), x.norm(1, 0), x.norm(inf), x.norm(0.5), x.logsumexp(1),
            gg.softplus(x, 2, 1), x.flatten(), gg.cat([x, x], dim=1)]
    for o in outs:
        assert o.dtype == gg.float32


def test_float16_norm_and_var_do_not_overflow_their_squares(device):
    x = gg.tensor([300.0, 400.0], dtype=gg.float16, device=device)
    assert x.norm().item() == 500.0 and x.norm().dtype == gg.float16
    assert x.var(correction=0).item() == 2500.0
    assert x.std(correction=0).item() == 50.0


def test_mixing_float32_and_float64_in_clamp_raises(device):
    x = gg.tensor([1.0, 2.0], dtype=gg.float32, device=device)
    b = gg.tensor([1.5, 1.5], dtype=gg.float64, device=device)
    with pytest.raises(TypeError, match="clamp: dtype mismatch: x, min and max are float32, "
                                        "float64, None"):
        gg.clamp(x, b)


def test_clamp_int_tensor_takes_float_bound_dtype(device):
    x = gg.tensor([1, 2, 3], device=device)
    assert x.clamp(1.5).dtype == gg.float32 and x.clamp(1.5).tolist() == [1.5, 2, 3]
    b = gg.tensor([2.5], dtype=gg.float64, device=device, requires_grad=True)
    y = gg.clamp(x, b)
    assert y.dtype == gg.float64 and y.tolist() == [2.5, 2.5, 3.0]
    y.sum().backward()
    assert b.grad.tolist() == [2.0]
    assert x.clamp(0, 2).dtype == gg.int64


def test_clamp_bounds_from_numpy_scalars_and_arrays(device):
    x = gg.tensor([-1.0, 0.5, 2.0], dtype=gg.float32, device=device)
    assert gg.clamp(x, np.float64(0.0), np.float32(1)).dtype == gg.float32  # scalars stay weak
    if device == "cpu":
        assert gg.clamp(x, np.array([0.0, 0.0, 0.0], np.float32)).tolist() == [0.0, 0.5, 2.0]


def test_clamp_tensor_bound_gradients_sum_over_broadcast(device):
    x = gg.tensor([[-1.0, 0.5, 2.0], [-3.0, 0.2, 5.0]], dtype=gg.float64, device=device,
                  requires_grad=True)
    lo = gg.tensor([0.0], dtype=gg.float64, device=device, requires_grad=True)
    hi = gg.tensor([[1.0], [4.0]], dtype=gg.float64, device=device, requires_grad=True)
    gg.clamp(x, lo, hi).sum().backward()
    assert lo.grad.tolist() == [2.0] and hi.grad.tolist() == [[1.0], [1.0]]
    assert x.grad.tolist() == [[0, 1, 0], [0, 1, 0]]


def test_softplus_linear_above_threshold_exactly(device):
    x = gg.tensor([20.0, 20.5, 25.0], dtype=gg.float64, device=device, requires_grad=True)
    y = gg.softplus(x)
    assert y.tolist()[1:] == [20.5, 25.0] and y.tolist()[0] == math.log1p(math.exp(20.0))
    y.sum().backward()
    assert x.grad.tolist()[1:] == [1.0, 1.0] and x.grad.tolist()[0] < 1.0
    z = gg.softplus(x, threshold=inf)  # no linear part: log(1 + e^x) everywhere
    assert z.tolist()[2] == 25.0 + math.log1p(math.exp(-25.0))


def test_where_with_two_scalars(device):
    m = gg.tensor([True, False], device=device)
    y = gg.where(m, 1.0, 0.0)
    assert y.dtype == gg.float32 and y.tolist() == [1.0, 0.0] and y.device == m.device
    assert gg.where(m, 3, -1).dtype == gg.int64 and gg.where(m, True, False).dtype == gg.bool_
    assert gg.where(m, 1, 0.5).dtype == gg.float32
    assert not y.requires_grad


def test_tuples_inside_an_index_act_as_lists(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = gg.tensor(a, device=device, requires_grad=True)
    assert x[(1, 0), :, 0].tolist() == x[[1, 0], :, 0].tolist() == a[[1, 0], :, 0].tolist()
    assert x[:, (2, 0, 2)].shape == (2, 3, 4)
    assert x[(1, 0)].tolist() == a[1, 0].tolist()  # the outer tuple is the index itself
    x[:, (2, 0, 2)].sum().backward()
    assert x.grad.numpy()[0, :, 0].tolist() == [1.0, 0.0, 2.0]


@pytest.mark.parametrize("call,error,message", [
    (lambda x: gg.clamp(x), TypeError, "clamp: at least one of min and max"),
    (lambda x: gg.clamp(x, "a"), TypeError, "clamp: operand 'a'"),
    (lambda x: gg.clamp([1.0], 0.0), TypeError, "clamp: expected a Tensor, got builtins.list"),
    (lambda x: gg.norm(x, "nuc"), ValueError, "norm: p='nuc' is not supported"),
    (lambda x: gg.norm(x, nan), ValueError, "norm: p must not be nan"),
    (lambda x: gg.norm(x, [2]), TypeError, r"norm: p must be a number or 'fro', got \[2\]"),
    (lambda x: gg.norm(x, "fro", (0, 1, 2)), ValueError, "norm: p='fro' is the norm of a matrix"),
    (lambda x: gg.norm(x, inf, 0), ValueError, r"norm: the inf norm over an empty axis"),
    (lambda x: gg.norm(x, -1), ValueError, r"norm: the -1 norm over an empty axis"),
    (lambda x: gg.norm(x > 0), TypeError, "norm: expected a floating point tensor, got bool"),
    (lambda x: gg.var(x.to(gg.int64)), TypeError, "var: expected a floating point tensor, got int64"),
    (lambda x: gg.std(x, correction="1"), TypeError, "std: correction must be a finite number"),
    (lambda x: gg.argmax(x), ValueError, r"argmax: an empty tensor \(shape \(0, 2, 3\)\)"),
    (lambda x: gg.argmin(x, 0), ValueError, r"argmin: axis 0 of shape \(0, 2, 3\) is empty"),
    (lambda x: gg.argmax(x, (0, 1)), TypeError, "argmax: axis must be an int"),
    (lambda x: gg.argmax(x, 3), ValueError, "argmax: axis 3 is out of range"),
    (lambda x: gg.max(x, 0), ValueError, "max: reduction over an empty axis"),
    (lambda x: x.flatten(2, 1), ValueError, "flatten: start_dim 2 comes after end_dim 1"),
    (lambda x: x.flatten(0, 3), ValueError, "flatten: axis 3 is out of range"),
    (lambda x: gg.softplus(x, beta=0), ValueError, "softplus: beta must be a nonzero number"),
    (lambda x: gg.softplus(x, threshold="20"), TypeError, "softplus: threshold must be a number"),
    (lambda x: gg.sin("x"), TypeError, "sin: expected a Tensor, got builtins.str"),
    (lambda x: gg.logsumexp(x, 5), ValueError, "logsumexp: axis 5 is out of range"),
    (lambda x: gg.where([True], 1.0, 0.0), TypeError, "where: expected a Tensor among cond, a and b"),
    (lambda x: gg.where(x, 1.0, 0.0), TypeError, "where: the condition must be a bool tensor"),
    (lambda x: x.unsqueeze(), TypeError, "unsqueeze: missing the position"),
    (lambda x: x.sum(keepdim="yes"), TypeError, "sum: keepdims must be a bool"),
])
def test_bad_arguments_raise_naming_the_op(device, call, error, message):
    x = gg.tensor(np.zeros((0, 2, 3)), device=device)
    with pytest.raises(error, match=message):
        call(x)


def test_norm_p0_counts_and_has_no_gradient(device):
    x = gg.tensor([0.0, 1.5, -2.0, 0.0], dtype=gg.float64, device=device, requires_grad=True)
    y = gg.norm(x, 0)
    assert y.item() == 2.0
    (g,) = gg.grad(y, x, allow_unused=True)
    assert g is None  # as torch.autograd.grad: the rule gives none


def test_var_warns_where_degrees_of_freedom_run_out(device):
    x = gg.tensor([[1.0, 2.0]], device=device)
    with pytest.warns(RuntimeWarning, match=r"var: degrees of freedom is <= 0 \(1 elements, "
                                            "correction 1\\)"):
        y = x.var(dim=0)
    assert np.isnan(y.numpy()).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.var(dim=1)  # 2 elements: no warning
    with pytest.warns(RuntimeWarning, match=r"std: degrees of freedom is <= 0 \(0 elements"):
        y = gg.std(gg.tensor(np.zeros((2, 0)), device=device), dim=1)  # as torch: nan, warned
    assert y.shape == (2,) and np.isnan(y.numpy()).all()


def test_second_derivatives_of_std_at_zero_are_finite(device):
    x = gg.tensor([2.0, 2.0, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    (g,) = gg.grad(x.std(), x, create_graph=True)
    assert g.tolist() == [0.0, 0.0, 0.0]
    (h,) = gg.grad(g.sum(), x)
    assert np.isfinite(h.numpy()).all()
    (g,) = gg.grad(gg.norm(x * 0), x, create_graph=True)
    assert g.tolist() == [0.0, 0.0, 0.0]
    (h,) = gg.grad((g * g).sum() + g.sum(), x, allow_unused=True)
    assert h is None or np.isfinite(h.numpy()).all()


def test_logsumexp_is_stable(device):
    x = gg.tensor([[1000.0, 1000.0], [-1000.0, -1000.0]], dtype=gg.float32, device=device)
    np.testing.assert_allclose(x.logsumexp(1).numpy(), [1000 + math.log(2), -1000 + math.log(2)],
                               rtol=1e-6)
    assert gg.logsumexp(gg.tensor([[-inf, -inf]], device=device), 1).tolist() == [-inf]
    assert gg.logsumexp(gg.tensor([1, 2], device=device), 0).dtype == gg.float32  # ints: float32


# ---- review round ---------------------------------------------------------------------
@pytest.mark.parametrize("call,what", [
    (lambda x: x.sum(True), "sum: axis must be None, an int or a tuple of ints, got True"),
    (lambda x: gg.mean(x, dim=False), "mean: axis must be None, an int or a tuple"),
    (lambda x: x.max((0, True)), r"max: axis must be None, an int or a tuple of ints, "
                                 r"got \(0, True\)"),
    (lambda x: x.norm(2, True), "norm: axis must be None, an int or a tuple"),
    (lambda x: x.logsumexp(np.bool_(True)), "logsumexp: axis must be None, an int or a tuple"),
    (lambda x: x.argmax(True), "argmax: axis must be an int, got True"),
    (lambda x: x.flatten(True), "flatten: axis must be an int, got True"),
    (lambda x: gg.cat([x, x], dim=True), "concatenate: axis must be an int, got True"),
    (lambda x: x.var(dim=True), "var: axis must be None, an int or a tuple"),
])
def test_a_bool_is_no_axis(device, call, what):
    """operator.index(True) is 1: x.sum(True) summed axis 1 silently; NumPy and torch refuse."""
    x = gg.tensor(np.ones((2, 3)), device=device)
    with pytest.raises(TypeError, match=what):
        call(x)


@pytest.mark.parametrize("values", [[1, 2, 4], [True, False, True]])
def test_mean_of_int_and_bool_tensors_raises(device, values):
    """It was float64 (NumPy's mean), a silent promotion; torch refuses too."""
    x = gg.tensor(values, device=device)
    with pytest.raises(TypeError, match=r"mean: expected a floating point tensor, got "
                                        r"(int64|bool) \(shape \(3,\)\); cast first"):
        x.mean()
    assert x.float().mean().dtype == gg.float32


def test_where_refuses_an_int_scalar_out_of_the_tensor_range(device):
    """np.where wrapped it: where(c, int32 t, 2**40) gave 0 where c is False."""
    c = gg.tensor([True, False], device=device)
    x = gg.tensor(np.array([1, 2], np.int32), device=device)
    with pytest.raises(OverflowError, match=r"where: b=1099511627776 is out of the range of "
                                            r"int32"):
        gg.where(c, x, 2 ** 40)
    with pytest.raises(OverflowError, match="where: a=-1 is out of the range of uint8"):
        gg.where(c, -1, x.to(gg.int64).to(np.uint8))
    assert gg.where(c, x.to(gg.int64), 2 ** 40).tolist() == [1, 2 ** 40]
    with pytest.raises(OverflowError, match="clamp: max=1099511627776 is out of the range"):
        gg.clamp(x, max=2 ** 40)


def test_cat_of_mismatched_shapes_names_the_op_and_shapes(device):
    x = gg.tensor(np.ones((2, 3)), device=device)
    with pytest.raises(ValueError, match=r"concatenate: shapes \(2, 3\) and \(2, 4\) differ "
                                         "outside axis 0"):
        gg.cat([x, gg.tensor(np.ones((2, 4)), device=device)])
    with pytest.raises(ValueError, match=r"concatenate: shapes \(2, 3\) and \(3,\) differ"):
        gg.cat([x, gg.tensor(np.ones(3), device=device)], dim=1)


# ---- relu, maximum, minimum, abs: NaN and inf in gradients and inputs (torch's values) ----
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_select_rules_keep_nan_in_its_elements(device, dtype):
    """relu, maximum and minimum select (0 where the local derivative is 0, so a NaN or
    inf gradient stays in its own elements); at a NaN input relu passes the gradient,
    maximum/minimum give it to both sides, abs gives 0: torch's values (2.13)."""
    def run(f, xs, g, *more):
        x = gg.tensor(np.array(xs, dtype), device=device, requires_grad=True)
        others = [gg.tensor(np.array(v, dtype), device=device, requires_grad=True) for v in more]
        f(x, *others).backward(gg.tensor(np.array(g, dtype), device=device))
        assert x.grad.dtype == x.dtype
        return [x.grad.numpy().tolist()] + [o.grad.numpy().tolist() for o in others]

    def same(a, b):
        np.testing.assert_array_equal(np.array(a, dtype), np.array(b, dtype))

    x4 = [1.0, -1.0, 0.0, nan]
    same(run(gg.relu, x4, [nan] * 4), [[nan, 0, 0, nan]])
    same(run(gg.relu, x4, [inf, -inf, inf, 1.0]), [[inf, 0, 0, 1]])
    same(run(gg.relu, x4, [1.0] * 4), [[1, 0, 0, 1]])
    same(run(gg.abs, x4, [1.0] * 4), [[1, -1, 0, 0]])
    same(run(lambda x: gg.leaky_relu(x, 0.0), x4, [nan] * 4), [[nan] * 4])  # a multiply
    a, b = [1.0, nan, 2.0, 3.0, nan], [2.0, 1.0, 2.0, nan, nan]
    same(run(gg.maximum, a, [1.0] * 5, b), [[0, 1, .5, 1, 1], [1, 1, .5, 1, 1]])
    same(run(gg.maximum, a, [nan] * 5, b), [[0, nan, nan, nan, nan], [nan] * 5])
    same(run(gg.minimum, a, [1.0] * 5, b), [[1, 1, .5, 1, 1], [0, 1, .5, 1, 1]])
    same(run(gg.minimum, a, [nan] * 5, b), [[nan] * 5, [0, nan, nan, nan, nan]])
    # 0-d, and with a number
    same(run(lambda x: gg.relu(x) + gg.maximum(x, -2.0) + gg.minimum(x, 0.5), -1.0, nan),
         [nan])
    same(run(lambda x: gg.relu(x) + gg.maximum(x, 5.0), -1.0, nan), [0.0])


def test_select_rules_second_derivatives(device):
    """With create_graph the selects are recorded (where), so second derivatives hold;
    values from torch 2.13."""
    x = gg.tensor([1.0, -2.0, 3.0, 0.5], dtype=gg.float64, device=device, requires_grad=True)
    w = gg.tensor([0.5, 1.0, -1.0, 2.0], dtype=gg.float64, device=device, requires_grad=True)
    f = (gg.relu(x) ** 2 * w).sum() + (gg.maximum(x, w) ** 3).sum() + \
        (gg.minimum(x, w) ** 2 * x).sum()
    gx, gw = gg.grad(f, [x, w], create_graph=True)
    hx, hw = gg.grad((gx * gx).sum() + gw.sum(), [x, w])
    np.testing.assert_allclose(hx.numpy(), [62.5, -288.0, 708.0, 39.5])
    np.testing.assert_allclose(hw.numpy(), [27.5, 6.0, 182.0, 17.5])
