"""Review of the performance commits after f5e1b6b (none may change behaviour):

1. softmax_cross_entropy's fast path for the usual call (ops/loss.py);
2. the CPU kernel's classes-first layout, label check and reductions (backends/cpu.py);
3. apply3, linear with a bias through the lean branch, and _apply's _lean_output;
4. the out-of-memory note naming each op once (autograd/oom.py);
5. backward()'s short seed, and .grad written leaf by leaf after that leaf's hooks (a
   version that wrote every .grad after all hooks was reverted: torch's order is pinned);
6. fsum's shortcut for float32 sums over few rows (ops/_common.py).

Behaviour is pinned against PyTorch where it has the op (values, first and second order
gradients, error classes), otherwise against exact or float64 NumPy expectations and
gpugrad's own error messages; never against an older gpugrad. CPU only. Five bugs the
review found are regression tests here: hooks seeing earlier leaves' .grad, a raising
hook's earlier .grad, memmapped float32 sums, uint64 labels, and ignored rows with
non-finite logits (NaN loss where torch has 0).
"""
import contextlib
import itertools
import math
import re
import sys
import threading

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.autograd import function as _function
from gpugrad.errors import DtypeError, ShapeError
from gpugrad.ops._common import fsum

FLOATS = [np.float16, np.float32, np.float64]
LABELS = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]

# (rtol, atol) of a result against a float64 reference rounded to its dtype: float16 is
# computed in float32 and rounded to 11 bits, float32 carries a few ulps of accumulation.
# atol is scaled by the reference's largest finite magnitude (see _close).
TOL = {np.dtype(np.float16): (4e-3, 2e-3), np.dtype(np.float32): (2e-5, 2e-6),
       np.dtype(np.float64): (1e-10, 1e-12)}


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _arr(t):
    return None if t is None else t.detach().numpy().copy()


def _close(got, ref, dt, msg=""):
    """gpugrad's result (dtype dt expected) against a float64 reference; NaN and inf
    must sit where the reference has them."""
    assert got is not None and ref is not None, msg
    got, ref = np.asarray(got), np.asarray(ref, np.float64)
    assert got.dtype == np.dtype(dt) and got.shape == ref.shape, (msg, got.dtype, got.shape,
                                                                  ref.shape)
    rtol, atol = TOL[np.dtype(dt)]
    finite = np.abs(ref[np.isfinite(ref)])
    atol *= max(1.0, float(finite.max()) if finite.size else 1.0)
    with np.errstate(over="ignore"):
        ref = ref.astype(dt)  # where float16 overflows, gpugrad must overflow too
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, err_msg=str(msg))


def _bitwise(a, b):
    """Nested lists of arrays: the same dtypes, shapes and bits (NaN == NaN)."""
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_bitwise, a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    return a == b


def _py(kw):
    """torch's argument parser wants Python numbers and str: NumPy scalars and str
    subclasses are gpugrad's business only."""
    return {k: v.item() if isinstance(v, np.generic) else
            str(v) if isinstance(v, str) else v for k, v in kw.items()}


# ---- 1, 2: softmax_cross_entropy -------------------------------------------------------
def _gg_ce(X, T, kw, create, W=None):
    """gpugrad's loss, and d sum(loss)/dx, or with create d/dx of sum(grad^2) too."""
    x = gg.from_numpy(X)  # not gg.tensor: that would make strided logits contiguous
    x.requires_grad = True
    weight = None if W is None else gg.tensor(W)
    loss = gg.softmax_cross_entropy(x, gg.tensor(T), weight=weight, **kw)
    assert loss.requires_grad and loss.dtype == X.dtype
    total = loss if loss.ndim == 0 else loss.sum()
    if create:
        (gx,) = gg.autograd.grad(total, x, create_graph=True)
        (gx * gx).sum().backward()
        return [_arr(loss), _arr(gx), _arr(x.grad)]
    total.backward()
    return [_arr(loss), _arr(x.grad)]


def _torch_ce(torch, X, T, kw, create, W=None):
    """The same in torch, in float64 from X's values, with int64 labels."""
    x = torch.tensor(X.astype(np.float64), requires_grad=True)
    weight = None if W is None else torch.tensor(W.astype(np.float64))
    loss = torch.nn.functional.cross_entropy(x, torch.tensor(T.astype(np.int64)),
                                             weight=weight, **_py(kw))
    total = loss if loss.ndim == 0 else loss.sum()
    if create:
        (gx,) = torch.autograd.grad(total, x, create_graph=True)
        (gx * gx).sum().backward()
        return [_arr(loss), _arr(gx), _arr(x.grad)]
    total.backward()
    return [_arr(loss), _arr(x.grad)]


def _logits(rng, shape, dt, layout):
    if layout == "fortran":  # classes-first is then a view of the caller's memory
        return np.asfortranarray(rng.standard_normal(shape).astype(dt))
    if layout == "strided":
        return rng.standard_normal((shape[0], 2 * shape[1]) + shape[2:]).astype(dt)[:, ::2]
    return rng.standard_normal(shape).astype(dt)


CE_SHAPES = [(0, 3), (1, 1), (5, 1), (1, 7), (4, 3), (6, 40), (3, 4, 2), (0, 4, 3)]
# The first is the fast path's exact call; the NumPy scalars and str_ take the checked path.
CE_OPTIONS = [{}, {"reduction": "sum"}, {"reduction": "none"}, {"ignore_index": 0},
              {"label_smoothing": 0.1}, {"ignore_index": np.int64(-100)},
              {"label_smoothing": np.float32(0.0)}, {"reduction": np.str_("mean")},
              {"label_smoothing": 0}]


def _ce_cases(dt, layout):
    """(X, int64 T, kw, create, where) over CE_SHAPES and CE_OPTIONS, with and without
    a row labelled -100; second order for every other option."""
    rng = np.random.default_rng(7)
    for shape, ignored in itertools.product(CE_SHAPES, [False, True]):
        X = _logits(rng, shape, dt, layout)
        T = rng.integers(0, shape[1], shape[:1] + shape[2:])
        if ignored and not T.size:
            continue
        if ignored:
            T.flat[0] = -100
        for i, kw in enumerate(CE_OPTIONS):
            if ignored and _py(kw).get("ignore_index", -100) != -100:
                continue  # -100 is then a bad label: test_cross_entropy_label_out_of_range
            yield X, T, kw, i % 2 == 0, (shape, ignored, kw)


LAYOUTS = ["c", "fortran", "strided"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dt", FLOATS, ids=lambda d: np.dtype(d).name)
def test_cross_entropy_matches_torch(torch, dt, layout):
    """Losses and first and second order gradients as torch's, for few and many
    classes, empty batches, C = 1, 3-D logits, ignored rows and options given as
    NumPy scalars."""
    for X, T, kw, create, where in _ce_cases(dt, layout):
        for g, r in zip(_gg_ce(X, T, kw, create), _torch_ce(torch, X, T, kw, create),
                        strict=True):
            _close(g, r, dt, (where, create))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dt", FLOATS, ids=lambda d: np.dtype(d).name)
def test_cross_entropy_label_dtypes_agree(dt, layout):
    """Labels only select logits: every integer width gives int64's bits (torch takes
    int64 labels only, so this is what pins the others)."""
    for X, T, kw, create, where in _ce_cases(dt, layout):
        want = _gg_ce(X, T, kw, create)
        for ldt in (d for d in LABELS if d is not np.int64):
            if T.size and T.min() < 0 and np.dtype(ldt).kind == "u":
                continue  # -100 has no unsigned spelling
            assert _bitwise(_gg_ce(X, T.astype(ldt), kw, create), want), (ldt, where, create)


@pytest.mark.parametrize("ldt", LABELS, ids=lambda d: np.dtype(d).name)
def test_cross_entropy_label_out_of_range(ldt):
    """One reduction checks 0 <= t < C (negative labels wrap to huge unsigned ones): a
    label of C, a negative one or -100 under another ignore_index is refused."""
    rng = np.random.default_rng(3)
    for shape in CE_SHAPES:
        C = shape[1]
        T = rng.integers(0, C, shape[:1] + shape[2:])
        if not T.size:
            continue
        X = rng.standard_normal(shape).astype(np.float32)
        cases = [(C, {}), (C, {"reduction": "none"}), (C, {"label_smoothing": 0.2})]
        if np.dtype(ldt).kind == "i":
            cases += [(-1, {}), (-1, {"ignore_index": 0}), (-100, {"ignore_index": 0})]
        for bad, kw in cases:
            T.flat[-1] = bad
            msg = f"label {bad} is outside [0, {C}) for logits of shape {shape}"
            with pytest.raises(ValueError, match=re.escape(msg)):
                gg.softmax_cross_entropy(gg.tensor(X, requires_grad=True),
                                         gg.tensor(T.astype(ldt)), **kw)


@pytest.mark.parametrize("C", [1, 3, 32, 33, 100])
def test_cross_entropy_extreme_logits_match_torch(torch, C):
    """inf, -inf, NaN and huge logits: x_t - m comes from e = x - m; NaN where torch has
    NaN (inf - inf), inf where it has inf, with and without smoothing and ignored rows."""
    rng = np.random.default_rng(C)
    for dt, special in itertools.product(FLOATS, (np.inf, -np.inf, np.nan, 1e4, 6e4, 1e30,
                                                  -1e30)):
        X = rng.standard_normal((6, C)).astype(dt)
        with np.errstate(over="ignore"):
            X[1, 0] = special
            X[3, :] = special
        for T in (rng.integers(0, C, 6), np.zeros(6, np.int64)):
            for kw in ({}, {"reduction": "none"}, {"label_smoothing": 0.2}, {"ignore_index": 0}):
                with np.errstate(all="ignore"):
                    got, ref = _gg_ce(X, T, kw, False), _torch_ce(torch, X, T, kw, False)
                for g, r in zip(got, ref):
                    _close(g, r, dt, (special, T, kw))


@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_cross_entropy_ignored_row_with_non_finite_logits_matches_torch(torch, special):
    """An ignored row's loss was multiplied by 0, so NaN or inf logits there (NaN * 0)
    made its 'none' loss and the 'mean'/'sum' NaN; torch and the CUDA kernel leave it 0."""
    X = np.array([[0.0, 1.0, 2.0], [special] * 3, [1.0, special, 0.0]])
    T = np.array([1, 0, 0])
    for kw in ({"ignore_index": 0}, {"ignore_index": 0, "reduction": "none"},
               {"ignore_index": 0, "reduction": "sum", "label_smoothing": 0.1}):
        with np.errstate(all="ignore"):
            got, ref = _gg_ce(X, T, kw, False), _torch_ce(torch, X, T, kw, False)
        for g, r in zip(got, ref):
            _close(g, r, np.float64, kw)


@pytest.mark.parametrize("dt", FLOATS, ids=lambda d: np.dtype(d).name)
def test_cross_entropy_with_weight_matches_torch(torch, dt):
    rng = np.random.default_rng(3)
    for C, kw in itertools.product([1, 4, 40], ({}, {"label_smoothing": 0.3},
                                                {"reduction": "sum"}, {"reduction": "none"},
                                                {"ignore_index": 0})):
        X = rng.standard_normal((5, C)).astype(dt)
        T = rng.integers(0, C, 5)
        W = (rng.random(C) + 0.5).astype(dt)
        for create in (False, True):
            got = _gg_ce(X, T, kw, create, W)
            ref = _torch_ce(torch, X, T, kw, create, W)
            for g, r in zip(got, ref):
                _close(g, r, dt, (C, kw, create))


def test_cross_entropy_backward_with_uint64_labels():
    """uint64 labels on 2-D logits: the backward's flat index came out float64 (IndexError)."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4, 3))
    T = np.array([0, 1, 2, 0], np.uint64)
    x = gg.tensor(X, requires_grad=True)
    gg.softmax_cross_entropy(x, gg.tensor(T)).backward()
    want = np.exp(X) / np.exp(X).sum(1, keepdims=True)
    want[np.arange(4), T.astype(np.intp)] -= 1
    np.testing.assert_allclose(x.grad.numpy(), want / 4, rtol=1e-12, atol=1e-15)
    # the masked (ignore_index) and per-row ('none') backward paths index the same way
    for kw in ({"ignore_index": 1}, {"reduction": "none"}, {"label_smoothing": 0.1}):
        assert _bitwise(_gg_ce(X, T, kw, True), _gg_ce(X, T.astype(np.int64), kw, True)), kw


def test_cross_entropy_empty_batch_and_one_class_match_torch(torch):
    F = torch.nn.functional
    for shape in [(0, 3), (1, 1), (4, 1)]:
        X = np.ones(shape, np.float32)
        T = np.zeros(shape[:1], np.int64)
        x, xt = gg.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
        loss, ref = gg.nn.functional.cross_entropy(x, gg.tensor(T)), F.cross_entropy(
            xt, torch.tensor(T))
        np.testing.assert_array_equal(loss.numpy(), ref.detach().numpy())  # NaN, 0, 0
        loss.backward()
        ref.backward()
        np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.2}, {"reduction": "sum"}])
def test_cross_entropy_double_backward_matches_torch(torch, kw):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((6, 4))
    T = rng.integers(0, 4, 6)
    x = gg.tensor(X, requires_grad=True)
    (gx,) = gg.autograd.grad(gg.nn.functional.cross_entropy(x, gg.tensor(T), **kw), x,
                             create_graph=True)
    (gx * gx).sum().backward()
    xt = torch.tensor(X, requires_grad=True)
    (gxt,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xt, torch.tensor(T), **kw),
                                 xt, create_graph=True)
    (gxt * gxt).sum().backward()
    np.testing.assert_allclose(gx.numpy(), gxt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_cross_entropy_option_spellings_agree():
    """The fast path (exact Python defaults) and the checked path (keywords, positions,
    NumPy scalars, a str subclass, an int 0 smoothing) give the same bits and node."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((9, 6)).astype(np.float32)
    T = gg.tensor(rng.integers(0, 6, 9).astype(np.int32))

    class Str(str):
        pass

    results = []
    for args, kw in [((), {}), ((None, -100, "mean", 0.0), {}),
                     ((), {"ignore_index": np.int64(-100), "label_smoothing": np.float32(0)}),
                     ((), {"reduction": np.str_("mean")}), ((), {"reduction": Str("mean")}),
                     ((), {"label_smoothing": 0, "weight": None}),
                     ((), {"ignore_index": np.int8(-100), "label_smoothing": -0.0})]:
        x = gg.tensor(X, requires_grad=True)
        loss = gg.softmax_cross_entropy(x, T, *args, **kw)
        loss.backward()
        results.append([_arr(loss), _arr(x.grad), loss.grad_fn.name()])
    assert results[0][2] == "SoftmaxCrossEntropyBackward"
    for r in results[1:]:
        assert _bitwise(results[0], r)


def _ce_inputs(logits=(3, 4), target=None, **kw):
    x = gg.ones(*logits) if isinstance(logits, tuple) else logits
    t = gg.tensor(np.zeros(3, np.int64)) if target is None else target
    return x, t, kw


# Each: gpugrad's error class (torch's RuntimeError catches the Shape and Dtype errors)
# and the part of its message that says what was wrong.
CE_BAD = {
    "bool labels": (lambda: _ce_inputs(target=gg.tensor(np.array([True, False, True]))),
                    DtypeError, "target must be integer class indices or float class "
                                "probabilities, got bool"),
    "float labels (N,)": (lambda: _ce_inputs(target=gg.ones(3)), ShapeError,
                          "class-probability target of shape (3,) does not match logits of "
                          "shape (3, 4)"),
    "label too big": (lambda: _ce_inputs(target=gg.tensor(np.array([0, 1, 4]))), ValueError,
                      "label 4 is outside [0, 4) for logits of shape (3, 4) and is not "
                      "ignore_index (-100)"),
    "uint64 label too big": (lambda: _ce_inputs(target=gg.tensor(np.array([0, 2**63, 1],
                                                                          np.uint64))),
                             ValueError, f"label {2**63} is outside [0, 4)"),
    "negative label": (lambda: _ce_inputs(target=gg.tensor(np.array([0, -1, 1], np.int8))),
                       ValueError, "label -1 is outside [0, 4)"),
    "labels (N, 1)": (lambda: _ce_inputs(target=gg.tensor(np.zeros((3, 1), np.int64))),
                      ShapeError, "labels of shape (3, 1) do not match logits of shape (3, 4) "
                                  "(expected labels of shape (3,))"),
    "labels (N+1,)": (lambda: _ce_inputs(target=gg.tensor(np.zeros(4, np.int64))), ShapeError,
                      "labels of shape (4,) do not match logits of shape (3, 4)"),
    "0-d logits": (lambda: _ce_inputs(gg.tensor(np.float32(1)), gg.tensor(np.int64(0))),
                   ShapeError, "got a 0-d tensor"),
    "int logits": (lambda: _ce_inputs(gg.tensor(np.ones((3, 4), np.int64))), DtypeError,
                   "logits must be floating point, got int64"),
    "bad reduction": (lambda: _ce_inputs(reduction="avg"), ValueError,
                      "reduction must be one of ('none', 'mean', 'sum'), got 'avg'"),
    "bad numpy reduction": (lambda: _ce_inputs(reduction=np.str_("avg")), ValueError,
                            "reduction must be one of ('none', 'mean', 'sum')"),
    "smoothing 1.5": (lambda: _ce_inputs(label_smoothing=1.5), ValueError,
                      "label_smoothing must be a number in [0, 1], got 1.5"),
    "float ignore_index": (lambda: _ce_inputs(ignore_index=-100.0), TypeError,
                           "ignore_index must be an int, got -100.0"),
    "target not a Tensor": (lambda: _ce_inputs(target=[0, 1, 5]), ValueError,
                            "label 5 is outside [0, 4)"),
    "logits not a Tensor": (lambda: _ce_inputs(np.ones((3, 4), np.float32)), TypeError,
                            "logits must be a Tensor, got ndarray"),
}


@pytest.mark.parametrize("case", list(CE_BAD))
def test_cross_entropy_errors(case):
    make, cls, fragment = CE_BAD[case]
    logits, target, kw = make()
    with pytest.raises(cls) as info:
        gg.softmax_cross_entropy(logits, target, **kw)
    assert str(info.value).startswith("softmax_cross_entropy: ")
    assert fragment in str(info.value)


def test_cross_entropy_leaves_the_callers_logits_alone():
    """N = 1 or F-ordered logits: the classes-first layout is then the caller's own
    memory (ascontiguousarray copies nothing); forward and backward must not write it."""
    rng = np.random.default_rng(2)
    for X in (rng.standard_normal((1, 7)).astype(np.float32),
              np.asfortranarray(rng.standard_normal((5, 3))),
              np.ascontiguousarray(rng.standard_normal((4, 6)).T)):
        keep = X.copy()
        T = np.zeros(X.shape[0], np.int64)
        got = _gg_ce(X, T, {}, False)
        np.testing.assert_array_equal(X, keep)
        assert _bitwise(got, _gg_ce(keep, T, {}, False))


def test_cross_entropy_fast_path_under_no_grad_and_anomaly():
    X = np.array([[0.0, np.nan, 1.0], [1.0, 2.0, 3.0]], np.float32)
    T = gg.tensor(np.array([0, 2]))
    x = gg.tensor(X, requires_grad=True)
    with gg.no_grad():
        loss = gg.softmax_cross_entropy(x, T)
    assert not loss.requires_grad and loss.grad_fn is None
    assert np.isnan(loss.item())
    # a NaN loss in anomaly mode names the op, whichever branch made it
    with gg.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="SoftmaxCrossEntropy"):
        gg.softmax_cross_entropy(x, T)
    assert _function._lean[0]  # leaving anomaly mode turned the lean branch back on
    loss = gg.softmax_cross_entropy(gg.tensor(X[1:], requires_grad=True), T[1:])
    np.testing.assert_allclose(loss.item(), np.log(np.exp([1.0, 2.0, 3.0]).sum()) - 3.0,
                               rtol=1e-6)


# ---- 3: apply3, linear with a bias -----------------------------------------------------
def _linear_run(lib, X, W, B, rg, mode, create):
    """linear's output, flags and gradients: (y*y).sum() then (y*3).sum() accumulated,
    or with create the gradients of (y*y).sum() and of the sum of their squares."""
    x, w, b = (lib.tensor(a, requires_grad=r) for a, r in zip((X, W, B), rg))
    ctx = (lib.no_grad() if mode == "no_grad" else
           gg.autograd.detect_anomaly() if mode == "anomaly" and lib is gg else
           contextlib.nullcontext())
    with ctx:
        y = lib.nn.functional.linear(x, w, b)
    res = {"y": _arr(y), "flags": (y.requires_grad, y.is_leaf, y.grad_fn is None)}
    if lib is gg and y.grad_fn is not None:
        res["node"] = (y.grad_fn.name(), [(None if n is None else type(n).__name__, i)
                                          for n, i in y.grad_fn.next_functions])
    if not y.requires_grad:
        return res
    ins = [t for t in (x, w, b) if t.requires_grad]
    if create:
        gs = lib.autograd.grad((y * y).sum(), ins, create_graph=True)
        res["g1"] = [_arr(g) for g in gs]
        res["g1 requires_grad"] = [g.requires_grad for g in gs]
        second = [g for g in gs if g.requires_grad]
        if second:
            sum((g * g).sum() for g in second).backward()
        res["g2"] = [_arr(t.grad) for t in (x, w, b)]
    else:
        (y * y).sum().backward(retain_graph=True)
        (y * 3).sum().backward()
        res["g"] = [_arr(t.grad) for t in (x, w, b)]
    return res


@pytest.mark.parametrize("rg", list(itertools.product([False, True], repeat=3)),
                         ids=lambda r: "".join("xwb"[i] if v else "-" for i, v in enumerate(r)))
def test_linear_with_bias_matches_torch(torch, rg):
    """Outputs, flags, gradients and double backward as torch's, with every
    requires_grad combination, under no_grad and anomaly mode, 0/1/2-D batches, an
    empty one and more rows than fsum's shortcut takes (300); the node is LinearBackward
    with an AccumulateGrad edge exactly for each input that requires grad."""
    rng = np.random.default_rng(4)
    want_node = ("LinearBackward", [("AccumulateGrad" if r else None, 0) for r in rg])
    for mode, dt, xs in itertools.product(["plain", "no_grad", "anomaly"], FLOATS,
                                          [(4, 3), (0, 3), (2, 5, 3), (3,), (1, 3), (300, 3)]):
        X, W, B = (rng.standard_normal(s).astype(dt) for s in (xs, (2, 3), (2,)))
        for create in (False, True):
            where = (mode, np.dtype(dt).name, xs, create)
            with np.errstate(over="ignore"):  # float16's second order over 300 rows
                got = _linear_run(gg, X, W, B, rg, mode, create)
            ref = _linear_run(torch, *(a.astype(np.float64) for a in (X, W, B)), rg, mode,
                              create)
            assert got.pop("node", want_node) == want_node, where
            assert got.keys() == ref.keys(), where
            for key in got:
                if key in ("flags", "g1 requires_grad"):
                    assert got[key] == ref[key], (key, where)
                    continue
                g, r = (v if isinstance(v, list) else [v] for v in (got[key], ref[key]))
                for gi, ri in zip(g, r, strict=True):
                    assert (gi is None) == (ri is None), (key, where)
                    if gi is not None:
                        _close(gi, ri, dt, (key, where))


@pytest.mark.parametrize("xs", [(5, 3), (2, 4, 3), (3,)])
def test_linear_with_bias_third_order_matches_torch(torch, xs):
    """(y^3).sum(): gradients that depend on y, and their own gradients, in float64."""
    rng = np.random.default_rng(8)
    X, W, B = rng.standard_normal(xs), rng.standard_normal((4, 3)), rng.standard_normal(4)
    x, w, b = (gg.tensor(a, requires_grad=True) for a in (X, W, B))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (X, W, B))
    y, yt = gg.nn.functional.linear(x, w, b), torch.nn.functional.linear(xt, wt, bt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12)
    gs = gg.autograd.grad((y ** 3).sum(), [x, w, b], create_graph=True)
    gts = torch.autograd.grad((yt ** 3).sum(), [xt, wt, bt], create_graph=True)
    for g, gt in zip(gs, gts):
        np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), rtol=1e-10)
    sum((g * g).sum() for g in gs).backward()
    sum((g * g).sum() for g in gts).backward()
    for t, tt in zip((x, w, b), (xt, wt, bt)):
        np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("change", ["x in place", "w.data replaced", "b in place"])
def test_linear_saved_tensor_checks_match_torch(torch, change):
    """Linear saves w and x (not b): changing either after the forward makes backward
    raise RuntimeError, as in torch; changing b does not."""
    outcomes = []
    for lib in (gg, torch):
        x, w, b = (lib.ones(*s, requires_grad=True) for s in ((2, 3), (4, 3), (4,)))
        y = lib.nn.functional.linear(x, w, b)
        with lib.no_grad():
            if change == "x in place":
                x.mul_(2)
            elif change == "b in place":
                b.mul_(2)
            else:
                w.data = lib.zeros(4, 3)
        try:
            y.sum().backward()
            outcomes.append("ok")
        except RuntimeError:
            outcomes.append("RuntimeError")
    if change == "w.data replaced":  # torch does not track .data; gpugrad refuses it
        assert outcomes[0] == "RuntimeError"
    else:
        assert outcomes[0] == outcomes[1]


THREE_ARG_PROGS = {
    "where": lambda lib, A, a, b, c: lib.where(lib.tensor(A > 0), a, b),
    "clamp": lambda lib, A, a, b, c: lib.clamp(a, b, c),  # min > max in some places
    "linear": lambda lib, A, a, b, c: lib.nn.functional.linear(a, b[:2], c[0, :2]),
    "cross_entropy": lambda lib, A, a, b, c: lib.nn.functional.cross_entropy(
        a, lib.tensor(np.array([0, 1, 2])), label_smoothing=0.1) * c[0, 0],
}


def _three_arg_runs(lib, prog):
    """For every requires_grad combination and create_graph: output and first and
    second order gradients of the program on fixed float64 inputs."""
    rng = np.random.default_rng(9)
    A, B, C = (rng.standard_normal((3, 4)) for _ in range(3))
    out = []
    for rg, create in itertools.product(itertools.product([False, True], repeat=3),
                                        [False, True]):
        a, b, c = (lib.tensor(v, requires_grad=r) for v, r in zip((A, B, C), rg))
        y = THREE_ARG_PROGS[prog](lib, A, a, b, c)
        r = [_arr(y), y.requires_grad]
        if y.requires_grad:
            ins = [t for t in (a, b, c) if t.requires_grad]
            gs = lib.autograd.grad((y * y).sum(), ins, create_graph=create, allow_unused=True)
            r.append([_arr(g) for g in gs])
            second = [g for g in gs if g is not None and g.requires_grad]
            if second:
                sum((g * g).sum() for g in second).backward()
                r.append([_arr(t.grad) for t in (a, b, c)])
        out.append(r)
    return out


def _assert_nested_close(got, ref, where=()):
    if isinstance(ref, list):
        assert isinstance(got, list) and len(got) == len(ref), where
        for i, (g, r) in enumerate(zip(got, ref)):
            _assert_nested_close(g, r, where + (i,))
    elif isinstance(ref, np.ndarray):
        _close(got, ref, np.float64, where)
    else:
        assert got == ref, where


@pytest.mark.parametrize("lean", [True, False])
@pytest.mark.parametrize("prog", list(THREE_ARG_PROGS))
def test_three_argument_ops_match_torch(torch, monkeypatch, prog, lean):
    """Three-Tensor lean ops go through apply3; with the lean branch off the generic
    path outputs through _lean_output: either way torch's values and gradients."""
    if not lean:
        monkeypatch.setattr(_function, "_lean", [False])
    _assert_nested_close(_three_arg_runs(gg, prog), _three_arg_runs(torch, prog))


@pytest.mark.parametrize("prog", list(THREE_ARG_PROGS))
def test_three_argument_ops_lean_and_generic_paths_agree(monkeypatch, prog):
    lean = _three_arg_runs(gg, prog)
    monkeypatch.setattr(_function, "_lean", [False])
    assert _bitwise(_three_arg_runs(gg, prog), lean)


def test_apply3_is_taken_and_records_the_generic_graph(monkeypatch):
    """linear with a bias goes through apply3, and with the lean branch off records the
    same saved values, edges and needs_input_grad."""
    calls = []
    real = _function.apply3

    def spy(cls, *args):
        calls.append(cls.__name__)
        return real(cls, *args)
    monkeypatch.setattr(sys.modules["gpugrad.ops.linear"], "apply3", spy)
    x, w, b = gg.randn(2, 3, requires_grad=True), gg.randn(4, 3), gg.randn(4, requires_grad=True)
    y_lean = gg.nn.functional.linear(x, w, b)
    assert calls == ["Linear"]
    monkeypatch.setattr(_function, "_lean", [False])
    y_generic = gg.nn.functional.linear(x, w, b)
    n1, n2 = y_lean.grad_fn, y_generic.grad_fn
    assert n1.needs_input_grad == n2.needs_input_grad == (True, False, True)

    def edges(node):
        return [e if not e else (e[0] is x or e[0] is b, e[1], e[2]) for e in node._next]
    assert edges(n1) == edges(n2)
    s1, s2 = n1._saved, n2._saved
    assert [v is None for v in s1[0]] == [v is None for v in s2[0]] == [False, True]
    assert [(i, ver) for i, _, ver in s1[1]] == [(i, ver) for i, _, ver in s2[1]]


# ---- 4: out-of-memory notes --------------------------------------------------------------
def _fail_matmul(monkeypatch):
    """Every matmul on the CPU backend raises MemoryError from now to the test's end.

    Through the instance's __dict__, which setitem restores exactly: a patch of the
    class is shadowed once some test's monkeypatch.setattr on the instance has left
    the original bound method behind there (tests/test_autograd.py does)."""
    def boom(*args, **kwargs):
        raise MemoryError("no memory")
    monkeypatch.setitem(vars(gg.ones(1)._backend), "matmul", boom)


def _oom_notes(monkeypatch, which):
    def fail_matmul():
        _fail_matmul(monkeypatch)

    class Inner(gg.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = gg.nn.Linear(3, 2)

        def forward(self, x):
            return self.lin(x) * 2

    class Outer(gg.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Inner()

        def forward(self, x):
            return self.inner(x).sum()

    class UserFn(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return gg.nn.functional.linear(x, gg.ones(2, 3), gg.ones(2))

        @staticmethod
        def backward(ctx, g):
            return g

    class Wrap(gg.nn.Module):
        def forward(self, x):
            return UserFn.apply(x)

    class Penalty(gg.nn.Module):
        def __init__(self):
            super().__init__()
            self.outer = Outer()

        def forward(self, x):
            loss = self.outer(x)
            fail_matmul()
            return gg.autograd.grad(loss, x, create_graph=True)[0].sum()

    x = gg.ones(4, 3, requires_grad=True)
    with pytest.raises(MemoryError) as info:
        if which == "nested modules":
            fail_matmul()
            Outer()(x)
        elif which == "user Function in a module":
            fail_matmul()
            Wrap()(x)
        elif which == "backward":
            loss = Outer()(x)
            fail_matmul()
            loss.backward()
        else:
            Penalty()(x)
    return info.value.__notes__


LIN = "Linear with arguments float32 (4, 3) on cpu, float32 (2, 3) on cpu, float32 (2,) on cpu"
OOM_NOTES = {
    "nested modules": f"gpugrad: out of memory in {LIN}",
    "user Function in a module": f"gpugrad: out of memory in UserFn with arguments float32 "
                                 f"(4, 3) on cpu > {LIN}",
    "backward": "gpugrad: out of memory in the backward of Linear (LinearBackward, inputs of "
                "shape (4, 3), (2, 3), (2,))",
    "grad() inside a module": "gpugrad: out of memory in the backward of Linear "
                              "(LinearBackward, inputs of shape (4, 3), (2, 3), (2,)) > MatMul "
                              "with arguments float32 (4, 2) on cpu, float32 (2, 3) on cpu",
}


@pytest.mark.parametrize("which", list(OOM_NOTES))
def test_oom_note_names_each_op_once(monkeypatch, which):
    assert _oom_notes(monkeypatch, which) == [OOM_NOTES[which]]


def test_oom_note_is_rewritten_not_repeated_by_a_users_handler(monkeypatch):
    """A training loop's own handle_out_of_memory after Module.__call__'s: one note."""
    _fail_matmul(monkeypatch)
    model = gg.nn.Sequential(gg.nn.Linear(3, 2))
    with pytest.raises(MemoryError) as info:
        try:
            model(gg.ones(4, 3))
        except MemoryError as e:
            gg.autograd.handle_out_of_memory(e)
            raise
    assert info.value.__notes__ == [f"gpugrad: out of memory in {LIN}"]


# ---- 5: the engine ---------------------------------------------------------------------
HOOK_PROGS = {
    "two sums": lambda a, b: (a * 2).sum() + (b * 3).sum(),
    "two sums, swapped": lambda a, b: (b * 3).sum() + (a * 2).sum(),
    "product": lambda a, b: (a * b).sum(),
    "deep a": lambda a, b: (a * 2).exp().sin().sum() + (b * 3).sum(),
}


def _hook_views(lib, prog):
    """Whether each leaf's hook saw the other leaf's .grad already written."""
    a, b = lib.ones(3, requires_grad=True), lib.ones(3, requires_grad=True)
    seen = {}
    a.register_hook(lambda g: seen.__setitem__("a", b.grad is not None))
    b.register_hook(lambda g: seen.__setitem__("b", a.grad is not None))
    prog(a, b).backward()
    return seen


@pytest.mark.parametrize("prog", list(HOOK_PROGS))
def test_leaf_hooks_see_grads_written_before_them(prog):
    """Every leaf's hooks ran before any .grad was written, so none saw an earlier leaf's."""
    assert sorted(_hook_views(gg, HOOK_PROGS[prog]).values()) == [False, True]


@pytest.mark.parametrize("prog", list(HOOK_PROGS))
def test_leaf_hook_views_match_torch(torch, prog):
    """torch writes each leaf's .grad (AccumulateGrad) right after its hooks; the same
    leaf comes first in gpugrad."""
    assert _hook_views(gg, HOOK_PROGS[prog]) == _hook_views(torch, HOOK_PROGS[prog])


def _raising_hook_run(lib):
    a, b = lib.ones(3, requires_grad=True), lib.ones(3, requires_grad=True)

    def boom(g):
        raise KeyError("hook failed")
    a.register_hook(boom)
    with pytest.raises(KeyError, match="hook failed"):
        ((a * 2).sum() + (b * 3).sum()).backward()
    return [None if t.grad is None else t.grad.tolist() for t in (a, b)]


def test_raising_leaf_hook_keeps_grads_written_before_it():
    """A leaf hook that raised left every leaf's .grad unwritten, also those reached before it."""
    assert _raising_hook_run(gg) == [None, [3.0, 3.0, 3.0]]


def test_raising_leaf_hook_matches_torch(torch):
    assert _raising_hook_run(gg) == _raising_hook_run(torch)


def _hooks_and_accumulation(lib, create):
    a, b, c = (lib.tensor(np.arange(3.0) + i, requires_grad=True) for i in range(3))
    a.grad = lib.tensor(np.ones(3))
    held = a.grad
    b.register_hook(lambda g: g * 10)
    seen = []
    c.register_hook(lambda g: seen.append(g.tolist()))
    (a + b + c * c).sum().backward(create_graph=create)
    (a + b).sum().backward(create_graph=create)
    return {"grads": [t.grad.tolist() for t in (a, b, c)], "held": held.tolist(),
            "held is .grad": held is a.grad, "c's hook saw": seen,
            "requires_grad": [t.grad.requires_grad for t in (a, b, c)]}


@pytest.mark.parametrize("create", [False, True])
def test_hooks_and_accumulation(create):
    """A hook that replaces the gradient, a .grad held before backward (accumulated in
    place, as torch's AccumulateGrad, except under create_graph), and c.grad = 2c which
    under create_graph is itself differentiable."""
    got = _hooks_and_accumulation(gg, create)
    assert got == {"grads": [[3.0] * 3, [20.0] * 3, [4.0, 6.0, 8.0]],
                   "held": [1.0] * 3 if create else [3.0] * 3, "held is .grad": not create,
                   "c's hook saw": [[4.0, 6.0, 8.0]], "requires_grad": [False, False, create]}


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("create", [False, True])
def test_hooks_and_accumulation_match_torch(torch, create):
    assert _hooks_and_accumulation(gg, create) == _hooks_and_accumulation(torch, create)


SHARED_GRAD_PROGS = {
    "fresh array": lambda s: (s * gg.tensor([1.0, 2.0, 3.0])).sum(),
    "whole view of one": lambda s: (s.reshape(3, 1) * gg.tensor([[1.0], [2.0], [3.0]])).sum(),
}


@pytest.mark.parametrize("prog", list(SHARED_GRAD_PROGS))
@pytest.mark.parametrize("create", [False, True])
def test_leaves_sharing_an_add_gradient_get_their_own_grad(create, prog):
    """Add's backward hands one array (Mul's product, or a reshape of it) to both
    inputs: each .grad must own its memory, or accumulating into one would change the
    other."""
    a, b = gg.ones(3, requires_grad=True), gg.ones(3, requires_grad=True)
    SHARED_GRAD_PROGS[prog](a + b).backward(create_graph=create)
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    (a * 2).sum().backward()
    assert a.grad.tolist() == [3.0, 4.0, 5.0] and b.grad.tolist() == [1.0, 2.0, 3.0]


def test_grad_accumulates_in_place():
    """As torch's AccumulateGrad: the second backward adds into the first's array."""
    w = gg.ones(3, requires_grad=True)
    (w * 2).sum().backward()
    held = w.grad._data
    (w * 3).sum().backward()
    assert w.grad._data is held and held.tolist() == [5.0] * 3


def test_in_place_accumulation_matches_torch(torch):
    outs = []
    for lib in (gg, torch):
        w = lib.ones(3, requires_grad=True)
        (w * 2).sum().backward()
        held = w.grad
        (w * 3).sum().backward()
        outs.append((held is w.grad, held.tolist(), w.grad.tolist()))
    assert outs[0] == outs[1] == (True, [5.0] * 3, [5.0] * 3)


def _seed_run(lib, shape, dt, broadcast):
    """One-element outputs seeded by backward(), then the calls that must refuse:
    .grad after each step, or the class of the error ('RuntimeError' for any subclass)."""
    x = lib.tensor(np.full(shape, 1.5, dt), requires_grad=True)
    steps = []

    def step(call):
        try:
            call()
            steps.append(x.grad.tolist())
        except RuntimeError:
            steps.append("RuntimeError")
    y = x * x
    step(y.backward)
    step(y.backward)  # the graph was freed
    y = x * 3
    step(lambda: y.backward(retain_graph=True))
    step(y.backward)
    with lib.no_grad():
        z = x * 2
    step(z.backward)
    step(lambda: lib.autograd.backward(z))
    step(lambda: lib.autograd.backward([x * 2, x * 3]))
    step(lambda: lib.autograd.backward(x * 2, lib.ones(2)))
    step(lambda: broadcast(x * 2).backward())  # two elements: no implicit seed
    return steps, str(x.grad.dtype)


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_backward_short_seed(shape):
    """loss.backward() of a one-element output of any shape seeds ones of its dtype."""
    for dt in FLOATS:
        steps, gdt = _seed_run(gg, shape, dt, lambda t: gg.broadcast_to(t.reshape(-1), (2,)))
        v = [np.full(shape, g).tolist() for g in (3.0, 6.0, 9.0, 14.0)]
        assert steps == [v[0], "RuntimeError", v[1], v[2], "RuntimeError", "RuntimeError",
                         v[3], "RuntimeError", "RuntimeError"], dt
        assert gdt == np.dtype(dt).name


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_backward_short_seed_matches_torch(torch, shape):
    for dt in FLOATS:
        got, _ = _seed_run(gg, shape, dt, lambda t: gg.broadcast_to(t.reshape(-1), (2,)))
        ref, _ = _seed_run(torch, shape, dt, lambda t: t.reshape(-1).expand(2))
        assert got == ref, dt


def test_backward_of_a_leaf_and_of_a_no_grad_output_match_torch(torch):
    outs = []
    for lib in (gg, torch):
        x = lib.ones(1, requires_grad=True)
        x.backward()
        r = [x.grad.tolist()]
        with lib.no_grad():
            z = x * 2
        try:
            z.backward()
        except RuntimeError:
            r.append("RuntimeError")
        try:
            (x.expand(2) if lib is torch else gg.broadcast_to(x, (2,))).backward()
        except RuntimeError:
            r.append("RuntimeError")
        outs.append(r)
    assert outs[0] == outs[1] == [[1.0], "RuntimeError", "RuntimeError"]


def test_concurrent_backward_into_shared_leaves_sums_every_pass():
    """.grad is written under a lock: threads running backward into the same leaves lose
    no pass's gradient (neither the first .grad nor an in-place sum; arrays large enough
    that NumPy lets go of the GIL, a tiny switch interval, rounds repeated)."""
    threads, steps = 4, 10
    w = gg.zeros(512, 512, requires_grad=True)
    b = gg.zeros(3, requires_grad=True)
    errors = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(8):
            w.grad = b.grad = None
            start = threading.Barrier(threads, timeout=30)

            def work():
                try:
                    start.wait()
                    for _ in range(steps):
                        ((w * 1.0).sum() + (b * 2.0).sum()).backward()
                except BaseException as e:  # noqa: BLE001 - reported below
                    errors.append(e)
            pool = [threading.Thread(target=work) for _ in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join(60)
                assert not t.is_alive()
            assert not errors, errors
            assert np.all(w.grad.numpy() == threads * steps)
            assert np.all(b.grad.numpy() == 2 * threads * steps)
    finally:
        sys.setswitchinterval(interval)


def test_grad_accumulated_in_place_bumps_its_version_as_torch(torch):
    """A graph that saved .grad sees the in-place accumulation of a later backward."""
    outcomes = []
    for lib in (gg, torch):
        w, x = lib.ones(3, requires_grad=True), lib.ones(3, requires_grad=True)
        (w * 2).sum().backward()
        z = (w.grad * x * x).sum()
        (w * 3).sum().backward()
        with pytest.raises(RuntimeError, match="modified by an in"):
            z.backward()
        outcomes.append(w.grad.tolist())
    assert outcomes[0] == outcomes[1] == [5.0, 5.0, 5.0]


def test_replaced_data_of_another_shape_raises_shape_error():
    """The in-place sum into a .grad of the old shape fails with a ShapeError that says
    what to do; c, reached before a, keeps its .grad (as after a raising hook)."""
    a, c = gg.tensor(np.ones(3), requires_grad=True), gg.tensor(np.ones(2), requires_grad=True)
    a.grad = gg.tensor(np.ones(3))
    a.data = gg.tensor(np.ones(4))
    with pytest.raises(ShapeError, match=r"the \.grad of a leaf of shape \(4,\) has shape "
                                         r"\(3,\) .*set \.grad = None first"):
        ((a * 2).sum() + (c * 5).sum()).backward()
    assert c.grad.tolist() == [5.0, 5.0]
    assert a.grad.tolist() == [1.0] * 3


# ---- 6: fsum ----------------------------------------------------------------------------
def _exact_sum(X, axis, keepdims=False):
    """Correctly rounded float64 sums (math.fsum) of X's values along axis."""
    X = np.asarray(X, np.float64)
    if axis is None:
        out = np.asarray(math.fsum(X.ravel()))
        return out.reshape((1,) * X.ndim) if keepdims else out
    out = np.apply_along_axis(math.fsum, axis, X) if X.shape[axis] else \
        np.zeros(X.shape[:axis] + X.shape[axis + 1:])
    return np.expand_dims(out, axis) if keepdims else out


def _assert_sum_close(got, X, axis, keepdims, dt, what=()):
    """Within a few roundings of the sum of magnitudes: what a pairwise or halving sum
    guarantees (and a short naive one), far below any lost or doubled term."""
    got = np.asarray(got)
    ref = _exact_sum(X, axis, keepdims)
    bound = _exact_sum(np.abs(X.astype(np.float64)), axis, keepdims)
    assert got.dtype == np.dtype(dt) and got.shape == ref.shape, (what, got.dtype, got.shape)
    eps = np.finfo(np.float32 if dt == np.float16 else dt).eps
    tol = 8 * eps * bound + (2.0 ** -10 * np.abs(ref) if dt == np.float16 else 0)
    err = np.abs(got.astype(np.float64) - ref)
    assert np.all(err <= tol), (what, err.max(), tol.min())


@pytest.mark.parametrize("rows", [1, 17, 256, 257, 1000])
def test_float32_sum_over_the_first_axis(rows):
    rng = np.random.default_rng(rows)
    for shape, keep in itertools.product([(rows, 5), (rows, 3, 4)], [False, True]):
        X = rng.standard_normal(shape).astype(np.float32)
        for layout, Xv in (("C", X), ("F", np.asfortranarray(X)), ("reversed", X[:, ::-1])):
            where = (shape, keep, layout)
            _assert_sum_close(gg.tensor(Xv).sum(0, keepdims=keep).numpy(), Xv, 0, keep,
                              np.float32, where)
            _assert_sum_close(gg.tensor(Xv).mean(axis=0).numpy() * np.float32(rows), Xv, 0,
                              False, np.float32, where)


def test_fsum_itself():
    """fsum directly: axis 0 (the shortcut), (0,) and None, keepdims, up to and past 256
    rows, 2-D and 3-D, C and F order, float16/32/64: the input's dtype, the right shape,
    and the sum to within a few roundings."""
    rng = np.random.default_rng(6)
    for dt, rows, tail in itertools.product(FLOATS, [0, 1, 255, 256, 257, 600], [(4,), (3, 5)]):
        X = rng.standard_normal((rows,) + tail).astype(dt)
        for A, axis, keep in itertools.product((X, np.asfortranarray(X)), (0, (0,), None),
                                               (False, True)):
            ax = 0 if axis == (0,) else axis
            _assert_sum_close(fsum(A, axis, keep), A, ax, keep, dt, (dt, rows, tail, axis, keep))


@pytest.mark.parametrize("rows", [8, 256, 4096])
def test_bias_gradient_is_exact_and_matches_torch(torch, rows):
    rng = np.random.default_rng(0)
    X, W, B = (rng.standard_normal(s).astype(np.float32) for s in ((rows, 6), (5, 6), (5,)))
    b = gg.tensor(B, requires_grad=True)
    gg.nn.functional.linear(gg.tensor(X), gg.tensor(W), b).sum().backward()
    assert b.grad.dtype == np.float32
    np.testing.assert_array_equal(b.grad.numpy(), np.full(5, rows, np.float32))  # sums of ones
    bt = torch.tensor(B, requires_grad=True)
    torch.nn.functional.linear(torch.tensor(X), torch.tensor(W), bt).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), bt.grad.numpy())


def _tenths(tmp_path):
    """100 000 rows of float32 0.1: summed naively down the rows they come to 9998.557."""
    path = tmp_path / "a.npy"
    np.save(path, np.full((100_000, 3), 0.1, np.float32))
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_float32_sum_of_a_memmapped_array_stays_accurate(tmp_path, op):
    """A tensor over an np.memmap (a subclass gg.tensor keeps) skipped the halving sum."""
    mm = _tenths(tmp_path)
    t = gg.tensor(mm)
    assert isinstance(t._data, np.memmap)  # else this would test a plain array
    want = 10000.0 if op == "sum" else 0.1
    np.testing.assert_allclose(getattr(t, op)(0).numpy(), np.full(3, want), rtol=1e-6)


@pytest.mark.parametrize("axis", [0, (0,), None], ids=str)
def test_float32_sum_of_many_rows_stays_accurate(tmp_path, axis):
    A = np.array(_tenths(tmp_path))
    want = 10000.0 * (3 if axis is None else 1)
    np.testing.assert_allclose(gg.tensor(A).sum(axis).numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(fsum(A, axis, False), want, rtol=1e-6)


def test_dtype_and_shape_errors_for_linear():
    with pytest.raises(DtypeError):
        gg.nn.functional.linear(gg.ones(2, 3), gg.ones(4, 3), gg.tensor(np.ones(4)))
    with pytest.raises(ShapeError):
        gg.nn.functional.linear(gg.ones(2, 3), gg.ones(4, 3), gg.ones(5))
