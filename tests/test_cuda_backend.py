"""The CUDA backend against the NumPy backend, its oracle: same interface, same numbers.

Needs CuPy and a GPU; the whole module is skipped, with the reason, without them.
Uses the backends directly, so it does not depend on the Tensor layer.
"""
import itertools

import numpy as np
import pytest

from gpugrad import cuda as gg_cuda
from gpugrad.backends import Device, get_backend

if not gg_cuda.is_available():
    pytest.skip(f"CUDA backend tests: {gg_cuda.unavailable_reason()}", allow_module_level=True)

import cupy  # noqa: E402

from gpugrad.backends.cuda import CUDABackend  # noqa: E402

pytestmark = pytest.mark.gpu
cpu = get_backend("cpu")
DTYPES = [np.float16, np.float32, np.float64]


@pytest.fixture(scope="module")
def be():
    return get_backend("cuda")


def dev(a):
    return cupy.asarray(a)


def host(a):
    return cupy.asnumpy(a)


def close(got, want, dtype, scale=1.0):
    """Compare in float64 with a tolerance for the dtype; scale is the magnitude
    that absolute rounding errors grow with (e.g. the logits' largest value)."""
    rtol = {np.float16: 2e-3, np.float32: 1e-5, np.float64: 1e-11}[np.dtype(dtype).type]
    np.testing.assert_allclose(np.asarray(host(got), np.float64), np.asarray(want, np.float64),
                               rtol=rtol, atol=rtol * max(1.0, scale))


# ---- interface ------------------------------------------------------------------------
def test_interface(be):
    assert be.name == "cuda" and be.xp is cupy and be.device == Device("cuda", 0)
    a = be.asarray([1.0, 2.0], dtype=np.float32)
    assert be.is_array(a) and not be.is_array(np.zeros(2)) and a.dtype == np.float32
    h = be.to_numpy(be.from_numpy(np.arange(6.0).reshape(2, 3)))
    assert type(h) is np.ndarray and (h == np.arange(6.0).reshape(2, 3)).all()
    be.synchronize()
    gg_cuda.synchronize()
    assert gg_cuda.device_count() >= 1


def test_scatter_add_accumulates_repeated_indices(be):
    idx = np.array([0, 1, 1, 3, 3, 3])
    vals = np.arange(6.0)
    want = np.zeros(5)
    np.add.at(want, idx, vals)
    got = cupy.zeros(5)
    be.scatter_add(got, dev(idx), dev(vals))
    assert (host(got) == want).all()


def test_unavailable_index_raises_runtime_error():
    with pytest.raises(RuntimeError, match="visible"):
        get_backend(f"cuda:{gg_cuda.device_count()}")


# ---- sigmoid ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 31, 1000, 2**20 + 3])
def test_sigmoid_matches_cpu(be, dtype, n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 6).astype(dtype)
    gy = rng.standard_normal(n).astype(dtype)
    y = be.sigmoid_forward(dev(x))
    assert y.dtype == dtype and y.shape == x.shape
    close(y, cpu.sigmoid_forward(x), dtype)
    gx = be.sigmoid_backward(y, dev(gy))
    close(gx, cpu.sigmoid_backward(host(y), gy), dtype)


# ---- matmul: cuBLAS called directly for 2-D operands -------------------------------------
LAYOUTS = {"C": lambda a: a, "F (a transpose)": lambda a: cupy.asfortranarray(a),
           "strided (cupy's path)": lambda a: cupy.repeat(a, 2, axis=1)[:, ::2]}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("la", list(LAYOUTS))
@pytest.mark.parametrize("lb", list(LAYOUTS))
@pytest.mark.parametrize("mkn", [(7, 5, 3), (1, 9, 1), (64, 1, 33), (130, 257, 65)])
def test_matmul_matches_numpy_for_every_layout(be, dtype, la, lb, mkn):
    rng = np.random.default_rng(sum(mkn))
    m, k, n = mkn
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    A, B = LAYOUTS[la](dev(a.astype(dtype))), LAYOUTS[lb](dev(b.astype(dtype)))
    assert A.shape == (m, k) and B.shape == (k, n)
    got = be.matmul(A, B)
    assert got.dtype == dtype and got.shape == (m, n) and got.flags.c_contiguous
    want = a.astype(dtype).astype(np.float64) @ b.astype(dtype).astype(np.float64)
    close(got, want, dtype, scale=np.sqrt(k) * (8 if dtype == np.float16 else 1))


def test_matmul_edge_shapes_fall_back_to_cupy(be):
    z = be.matmul(cupy.ones((3, 0), np.float32), cupy.ones((0, 4), np.float32))
    assert z.shape == (3, 4) and float(abs(z).max()) == 0
    v = be.matmul(cupy.ones((2, 3)), cupy.arange(3.0))  # 1-D right operand
    assert host(v).tolist() == [3.0, 3.0]
    with pytest.raises(ValueError):
        be.matmul(cupy.ones((2, 3), np.float32), cupy.ones((4, 2), np.float32))


def test_matmul_runs_on_the_current_stream(be):
    # a2 is still being written on s when the product is queued: run anywhere but
    # on s, the GEMM would read it unfinished.
    a = dev(np.random.default_rng(1).standard_normal((2048, 2048)).astype(np.float32) / 45)
    s = cupy.cuda.Stream(non_blocking=True)
    with s:
        a2 = a @ a
        out = be.matmul(a2, a)
        ref = a2 @ a
    s.synchronize()
    close(out, host(ref), np.float32, scale=4)


VIEWS = {"strided": lambda a: a[:, ::2], "transposed": lambda a: a.T,
         "misaligned": lambda a: a.reshape(-1)[1:], "0-d": lambda a: a[3, 5]}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("view", list(VIEWS))
def test_sigmoid_views(be, dtype, view):
    """Non-contiguous, not 16-byte aligned, and 0-d inputs, on the same view of both."""
    rng = np.random.default_rng(0)
    base, gbase = (rng.standard_normal((64, 33)).astype(dtype) for _ in range(2))
    x, gy = VIEWS[view](base), VIEWS[view](gbase)
    y = be.sigmoid_forward(VIEWS[view](dev(base)))
    assert y.shape == np.shape(x)
    close(y, cpu.sigmoid_forward(np.asarray(x)), dtype)
    gx = be.sigmoid_backward(y, VIEWS[view](dev(gbase)))
    close(gx, cpu.sigmoid_backward(host(y), np.asarray(gy)), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_extremes(be, dtype):
    x = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], dtype=dtype)
    y = host(be.sigmoid_forward(dev(x)))
    assert np.isfinite(y).all() and y[0] == 0 and y[3] == 0.5 and y[-1] == 1
    close(y, cpu.sigmoid_forward(x), dtype)


# ---- softmax cross-entropy --------------------------------------------------------------
def _case(rng, N, C, S, dtype, weighted, ignore, scale=1.0, label_dtype=np.int64):
    x = (rng.standard_normal((N, C, S)) * scale).astype(dtype)
    t = rng.integers(0, C, (N, S))
    if ignore:
        t.flat[::4] = -100
    w = rng.uniform(0.2, 2.0, C).astype(dtype) if weighted else None
    return x, t.astype(label_dtype), w


def _check(be, x, t, w, eps, reduction, dtype, g=None, ignore_index=-100):
    """Forward and backward on both backends; every output compared."""
    N, C, S = x.shape
    if g is None:
        g = (np.linspace(-1, 1, N * S).reshape(N, S) if reduction == "none"
             else np.array(0.75)).astype(dtype)
    dw = None if w is None else dev(w)
    loss, stat, den = be.softmax_cross_entropy_forward(dev(x), dev(t), dw, ignore_index, eps,
                                                      reduction)
    r_loss, r_stat, r_den = cpu.softmax_cross_entropy_forward(x, t, w, ignore_index, eps,
                                                             reduction)
    for got, want in ((loss, r_loss), (stat, r_stat), (den, r_den)):
        assert got.shape == want.shape and got.dtype == want.dtype
    scale = float(np.abs(x.astype(np.float64)).max())
    close(stat, r_stat, dtype, scale)
    close(loss, r_loss, dtype, scale)
    close(den, r_den, dtype, float(np.abs(r_den)))
    gx = be.softmax_cross_entropy_backward(dev(x), dev(t), stat, dev(g), den, dw, ignore_index,
                                           eps, reduction)
    r_gx = cpu.softmax_cross_entropy_backward(x, t, r_stat, g, r_den, w, ignore_index, eps,
                                              reduction)
    assert gx.shape == x.shape and gx.dtype == x.dtype
    close(gx, r_gx, dtype)
    be.synchronize()  # no label was out of range: must not raise
    return host(loss), host(gx)


COMBOS = list(itertools.product([False, True], [False, True], [0.0, 0.1], ["none", "sum", "mean"]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("C", [2, 3, 1000, 50000])
def test_sce_matches_cpu_all_options(be, dtype, C):
    rng = np.random.default_rng(C)
    N = 4 if C == 50000 else 37
    for weighted, ignore, eps, reduction in COMBOS:
        x, t, w = _case(rng, N, C, 1, dtype, weighted, ignore)
        _check(be, x, t, w, eps, reduction, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 7, 5), (2, 1000, 3), (64, 21, 300), (1, 3000, 2)],
                         ids=str)
def test_sce_class_axis_in_the_middle(be, dtype, shape):
    """(N, C, S) with S > 1: thread-per-row (many rows) and group-per-row (few rows)."""
    rng = np.random.default_rng(sum(shape))
    # no 'sum' here: 19200 float16 row losses overflow float16 on both backends
    for weighted, ignore, eps, reduction in [(False, False, 0.0, "mean"), (True, True, 0.1, "none"),
                                             (True, False, 0.1, "mean")]:
        x, t, w = _case(rng, *shape, dtype, weighted, ignore)
        _check(be, x, t, w, eps, reduction, dtype)


@pytest.mark.parametrize("label_dtype", [np.int32, np.int64, np.uint8])
def test_sce_label_dtypes(be, label_dtype):
    rng = np.random.default_rng(1)
    x, t, w = _case(rng, 50, 10, 1, np.float32, True, False, label_dtype=label_dtype)
    _check(be, x, t, w, 0.1, "mean", np.float32)


def test_sce_non_contiguous_inputs(be):
    rng = np.random.default_rng(2)
    xb = rng.standard_normal((16, 40, 6)).astype(np.float32)
    tb = rng.integers(0, 20, (16, 12))
    wb = rng.uniform(0.5, 2, 40).astype(np.float32)
    x, t, w = xb[:, ::2, ::2], tb[:, ::4], wb[::2]
    dx, dt, dw = dev(xb)[:, ::2, ::2], dev(tb)[:, ::4], dev(wb)[::2]
    assert not dx.flags.c_contiguous
    loss, stat, den = be.softmax_cross_entropy_forward(dx, dt, dw, -100, 0.1, "mean")
    r_loss, r_stat, r_den = cpu.softmax_cross_entropy_forward(x, t, w, -100, 0.1, "mean")
    close(loss, r_loss, np.float32, 10)
    g = dev(np.float32(1.0))
    gx = be.softmax_cross_entropy_backward(dx, dt, stat, g, den, dw, -100, 0.1, "mean")
    close(gx, cpu.softmax_cross_entropy_backward(x, t, r_stat, np.float32(1.0), r_den, w, -100,
                                                 0.1, "mean"), np.float32)


def test_sce_ignore_index_inside_class_range(be):
    rng = np.random.default_rng(3)
    x, t, w = _case(rng, 30, 6, 1, np.float64, True, False)
    _check(be, x, t, w, 0.1, "mean", np.float64, ignore_index=2)


def test_sce_all_ignored_mean_is_nan_and_gradient_zero(be):
    x = np.random.default_rng(4).standard_normal((5, 4, 1)).astype(np.float32)
    t = np.full((5, 1), -100)
    loss, gx = _check(be, x, t, None, 0.0, "mean", np.float32)
    assert np.isnan(loss) and (gx == 0).all()


@pytest.mark.parametrize("C", [3, 1000, 50000])
def test_sce_large_logits_float32_finite(be, C):
    rng = np.random.default_rng(5)
    x, t, w = _case(rng, 8, C, 1, np.float32, True, True, scale=1e4)
    for eps, reduction in [(0.0, "mean"), (0.1, "none")]:
        loss, gx = _check(be, x, t, w, eps, reduction, np.float32)
        assert np.isfinite(loss).all() and np.isfinite(gx).all()


def test_sce_float16_long_rows_do_not_overflow(be):
    """131072 classes: a float16 sum of exps would pass 65504; accumulation is float32."""
    rng = np.random.default_rng(6)
    x, t, _ = _case(rng, 4, 131072, 1, np.float16, False, False)
    x[:, :, :] = np.float16(3.0)  # every exp(x - max) = 1: the sum is C itself
    loss, gx = _check(be, x, t, None, 0.1, "mean", np.float16)
    assert np.isfinite(loss) and np.isfinite(gx).all()
    np.testing.assert_allclose(float(loss), np.log(131072), rtol=2e-3)


# ---- class-probability targets ---------------------------------------------------------------
def _probs_case(rng, N, C, S, dtype, weighted, scale=1.0):
    x = (rng.standard_normal((N, C, S)) * scale).astype(dtype)
    t = rng.dirichlet(np.ones(C), (N, S)).transpose(0, 2, 1).astype(dtype)
    w = rng.uniform(0.2, 2.0, C).astype(dtype) if weighted else None
    return x, t, w


def _check_probs(be, x, t, w, eps, reduction, dtype, need=(True, True), dx=None, dt=None,
                 dw=None):
    """Forward and backward of both backends on the same (host) inputs; dx, dt, dw may be
    device views to use instead of fresh contiguous copies."""
    dx = dev(x) if dx is None else dx
    dt = dev(t) if dt is None else dt
    dw = (None if w is None else dev(w)) if dw is None else dw
    loss, stat = be.softmax_cross_entropy_probs_forward(dx, dt, dw, eps, reduction)
    r_loss, r_stat = cpu.softmax_cross_entropy_probs_forward(x, t, w, eps, reduction)
    N, C, S = x.shape
    assert loss.dtype == x.dtype and loss.shape == r_loss.shape
    assert stat.shape == (3, N, S) and stat.dtype == r_stat.dtype
    scale = float(np.abs(x.astype(np.float64)).max()) if x.size else 1.0
    close(stat, r_stat, dtype, scale)
    close(loss, r_loss, dtype, scale)
    rng = np.random.default_rng(0)
    g = (rng.standard_normal((N, S)) if reduction == "none" else np.array(0.7)).astype(dtype)
    gx, gt = be.softmax_cross_entropy_probs_backward(dx, dt, stat, dev(g), dw, eps, reduction,
                                                     *need)
    r_gx, r_gt = cpu.softmax_cross_entropy_probs_backward(x, t, r_stat, g, w, eps, reduction,
                                                          *need)
    for got, want in ((gx, r_gx), (gt, r_gt)):
        assert (got is None) == (want is None)
        if got is not None:
            assert got.shape == x.shape and got.dtype == x.dtype
    if gx is not None:
        close(gx, r_gx, dtype)
    if gt is not None:
        close(gt, r_gt, dtype, scale)  # -log_softmax grows with the logits' spread
    be.synchronize()
    return host(loss), None if gx is None else host(gx), None if gt is None else host(gt)


PROB_COMBOS = list(itertools.product([False, True], [0.0, 0.1], ["none", "sum", "mean"],
                                     [(True, True), (True, False), (False, True)]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("C", [2, 3, 1000, 50000])
def test_sce_probs_matches_cpu_all_options(be, dtype, C):
    rng = np.random.default_rng(C + 1)
    N = 4 if C == 50000 else 37
    for weighted, eps, reduction, need in PROB_COMBOS:
        x, t, w = _probs_case(rng, N, C, 1, dtype, weighted)
        _check_probs(be, x, t, w, eps, reduction, dtype, need)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 7, 5), (2, 1000, 3), (64, 21, 300), (1, 3000, 2)],
                         ids=str)
def test_sce_probs_class_axis_in_the_middle(be, dtype, shape):
    rng = np.random.default_rng(sum(shape) + 1)
    for weighted, eps, reduction in [(False, 0.0, "mean"), (True, 0.1, "none"),
                                     (True, 0.1, "mean")]:
        x, t, w = _probs_case(rng, *shape, dtype, weighted)
        _check_probs(be, x, t, w, eps, reduction, dtype)


def test_sce_probs_non_contiguous_inputs(be):
    rng = np.random.default_rng(12)
    xb = rng.standard_normal((16, 40, 6)).astype(np.float32)
    tb = rng.uniform(0, 1, (16, 40, 6)).astype(np.float32)
    wb = rng.uniform(0.5, 2, 40).astype(np.float32)
    x, t, w = xb[:, ::2, ::2], tb[:, ::2, ::2], wb[::2]
    dx, dt, dw = dev(xb)[:, ::2, ::2], dev(tb)[:, ::2, ::2], dev(wb)[::2]
    assert not dx.flags.c_contiguous and not dt.flags.c_contiguous
    _check_probs(be, x, t, w, 0.1, "mean", np.float32, dx=dx, dt=dt, dw=dw)


@pytest.mark.parametrize("shape", [(0, 4, 1), (3, 0, 1), (0, 0, 2)], ids=str)
def test_sce_probs_empty(be, shape):
    x = np.zeros(shape, np.float32)
    for reduction in ["none", "sum", "mean"]:
        loss, gx, gt = _check_probs(be, x, x, None, 0.1, reduction, np.float32)
        if reduction == "mean":
            assert np.isnan(loss)  # PyTorch: the mean of an empty input is NaN
        else:
            assert (loss == 0).all()


def test_sce_probs_far_first_logit_keeps_precision(be):
    """The dot with x - m is taken after m is known (a second pass over the row): a first
    logit at -1e4 with no target mass costs no float32 precision."""
    rng = np.random.default_rng(13)
    for C in (300, 5000):
        x, t, _ = _probs_case(rng, 4, C, 1, np.float32, False)
        x[:, 0] = -1e4
        t[:, 0] = 0
        loss, _, _ = _check_probs(be, x, t, None, 0.0, "none", np.float32)
        ref, _ = cpu.softmax_cross_entropy_probs_forward(x.astype(np.float64),
                                                         t.astype(np.float64), None, 0.0, "none")
        # 5e-6: float32 rounding over the row; a dot taken against the first logit (-1e4)
        # would be off by about 1e-3 (a float32 simulation of that scheme)
        np.testing.assert_allclose(loss, ref, rtol=5e-6)


def test_sce_probs_non_finite_rows_match_cpu(be):
    inf = np.inf
    x = np.array([[-inf, 0.0, 1.0], [-inf, 0.0, 1.0], [-inf, -inf, -inf]])[..., None]
    t = np.array([[0.0, 0.5, 0.5], [0.5, 0.25, 0.25], [0.2, 0.3, 0.5]])[..., None]
    loss, _ = be.softmax_cross_entropy_probs_forward(dev(x), dev(t), None, 0.0, "none")
    ref, _ = cpu.softmax_cross_entropy_probs_forward(x, t, None, 0.0, "none")
    np.testing.assert_array_equal(host(loss), ref)  # NaN, inf, NaN


def test_sce_probs_share_the_compiled_module(be):
    b = CUDABackend(0)
    x = dev(np.random.default_rng(0).standard_normal((8, 10, 1)).astype(np.float32))
    t = dev(np.full((8, 10, 1), 0.1, np.float32))
    b.softmax_cross_entropy_forward(x, dev(np.zeros((8, 1), np.int64)), None, -100, 0.0, "mean")
    _, stat = b.softmax_cross_entropy_probs_forward(x, t, None, 0.1, "mean")
    b.softmax_cross_entropy_probs_backward(x, t, stat, dev(np.float32(1)), None, 0.1, "mean",
                                           True, True)
    assert b.compile_count == 1


# ---- binary cross-entropy --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_matches_cpu(be, dtype):
    rng = np.random.default_rng(14)
    x = rng.uniform(0, 1, (50, 7)).astype(dtype)
    t = rng.uniform(0, 1, (50, 7)).astype(dtype)
    x[0, :4] = [0, 1, 0, 1]
    t[0, :4] = [0, 0, 1, 1]
    w = rng.uniform(0.5, 2, (7,)).astype(dtype)
    for weight in (None, w):
        dw = None if weight is None else dev(weight)
        loss = be.binary_cross_entropy_forward(dev(x), dev(t), dw)
        want = cpu.binary_cross_entropy_forward(x, t, weight)
        np.testing.assert_array_equal(np.isfinite(host(loss)), np.isfinite(want))
        close(loss, want, dtype, 100)
        g = rng.standard_normal((50, 7)).astype(dtype)
        gx, gt = be.binary_cross_entropy_backward(dev(x), dev(t), dw, dev(g), True, True)
        r_gx, r_gt = cpu.binary_cross_entropy_backward(x, t, weight, g, True, True)
        for got, ref in ((gx, r_gx), (gt, r_gt)):
            assert got.dtype == x.dtype and got.shape == x.shape
            np.testing.assert_allclose(host(got).astype(np.float64), ref.astype(np.float64),
                                       rtol={np.float16: 2e-3, np.float32: 1e-5,
                                             np.float64: 1e-11}[dtype])
    be.synchronize()


def test_bce_out_of_range_is_reported_at_the_next_sync(be):
    be.synchronize()
    x = dev(np.array([0.5, 1.5], np.float32))
    t = dev(np.array([1.0, 0.0], np.float32))
    loss = be.binary_cross_entropy_forward(x, t, None)  # no sync, no raise
    with pytest.raises(ValueError, match=r"binary_cross_entropy: all elements of input and "
                                         r"target should be between 0 and 1, but one is not "
                                         r"\(or is NaN\); found on cuda:0"):
        be.to_numpy(loss)
    be.synchronize()  # reported once
    be.binary_cross_entropy_forward(t, dev(np.array([np.nan, 0.5], np.float32)), None)
    with pytest.raises(ValueError, match="between 0 and 1"):
        be.synchronize()
    be.binary_cross_entropy_forward(x[:1], t[:1], None)  # in range: nothing to report
    be.synchronize()


# ---- bad labels: reported at the next sync, never silently ---------------------------------
def test_bad_label_raises_at_synchronize(be):
    be.synchronize()
    x = dev(np.zeros((4, 5, 1), np.float32))
    t = dev(np.array([[1], [7], [2], [-100]]))
    loss, stat, den = be.softmax_cross_entropy_forward(x, t, None, -100, 0.0, "none")  # no raise
    with pytest.raises(ValueError, match=r"label 7 is outside \[0, 5\)"):
        be.synchronize()
    be.synchronize()  # reported once
    assert np.isnan(host(loss)[1, 0]) and np.isfinite(host(loss)[[0, 2, 3], 0]).all()


def test_bad_label_raises_at_to_numpy_and_mean_is_nan(be):
    be.synchronize()
    x = dev(np.zeros((3, 5, 1), np.float32))
    t = dev(np.array([[0], [-1], [4]], np.int32))
    loss, _, _ = be.softmax_cross_entropy_forward(x, t, None, -100, 0.0, "mean")
    with pytest.raises(ValueError, match="label -1 is outside"):
        be.to_numpy(loss)
    assert np.isnan(be.to_numpy(loss))


def test_gg_cuda_synchronize_reports_bad_labels(be):
    x = dev(np.zeros((2, 3, 1), np.float64))
    be.softmax_cross_entropy_forward(x, dev(np.array([[3], [0]])), None, -100, 0.0, "sum")
    with pytest.raises(ValueError, match="label 3"):
        gg_cuda.synchronize()


# ---- compile cache -------------------------------------------------------------------------
def test_kernels_compile_once_per_file_and_dtype():
    b = CUDABackend(0)
    x = dev(np.random.default_rng(0).standard_normal((8, 10, 1)).astype(np.float32))
    t = dev(np.zeros((8, 1), np.int64))
    assert b.compile_count == 0
    _, stat, den = b.softmax_cross_entropy_forward(x, t, None, -100, 0.0, "mean")
    first = b.kernels("softmax_cross_entropy.cu", np.float32)
    assert b.compile_count == 1
    b.softmax_cross_entropy_forward(x, t, None, -100, 0.1, "sum")
    b.softmax_cross_entropy_backward(x, t, stat, dev(np.float32(1)), den, None, -100, 0.0, "mean")
    assert b.compile_count == 1 and b.kernels("softmax_cross_entropy.cu", np.float32) is first
    b.sigmoid_forward(x)
    b.sigmoid_forward(x.astype(np.float64))
    assert b.compile_count == 3


# ---- DLPack ----------------------------------------------------------------------------------
def test_dlpack_round_trip_with_cupy_is_zero_copy(be):
    a = cupy.arange(12, dtype=cupy.float32).reshape(3, 4)
    b = be.from_dlpack(a)
    assert b.data.ptr == a.data.ptr and b.shape == a.shape
    c = cupy.from_dlpack(b)
    assert c.data.ptr == a.data.ptr


def test_dlpack_round_trip_with_torch_is_zero_copy(be):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch has no CUDA here")
    t = torch.arange(12, dtype=torch.float32, device="cuda:0").reshape(3, 4)
    a = be.from_dlpack(t)
    assert a.data.ptr == t.data_ptr() and a.shape == (3, 4)
    back = torch.from_dlpack(a)
    assert back.data_ptr() == t.data_ptr()
    a[0, 0] = 42.0
    torch.cuda.synchronize()
    assert float(t[0, 0]) == 42.0
