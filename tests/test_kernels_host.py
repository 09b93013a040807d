"""The CUDA kernels, checked as far as a machine without a GPU can.

1. nvcc compiles every kernels/*.cu to PTX for sm_80 and sm_90, once per dtype.
2. The kernels' arithmetic (kernels/gpugrad_math.cuh, __host__ __device__) is
   compiled into a host program that replays what the kernels do per row:
   G lanes each fold their strided classes U at a time, then merge in the
   same butterfly order as the warp shuffles. Its numbers are compared with
   the NumPy backend, the oracle of the CUDA backend.

Skipped without nvcc. Everything is compiled once per session.
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from gpugrad.backends.cpu import CPUBackend
from tests._nvcc import KERNELS, compile_ptx, host_program as _host_program, requires_nvcc

pytestmark = requires_nvcc

CTYPES = {"float16": "gg::half", "float32": "float", "float64": "double"}
ARCHS = ("sm_80", "sm_90")
ENTRIES = {"sigmoid.cu": ("sigmoid_forward", "sigmoid_backward"),
           "softmax_cross_entropy.cu": ("sce_forward", "sce_finish", "sce_backward",
                                        "sce_soft_forward", "sce_soft_backward")}
cpu = CPUBackend()

# ---- 1. PTX -----------------------------------------------------------------------


def test_every_kernel_file_is_covered():
    # optim*.cu are preambles of cupy.ElementwiseKernel (no __global__ of their own),
    # compiled and checked by tests/optim/test_optim_kernels_host.py.
    raw_modules = [p.name for p in KERNELS.glob("*.cu") if not p.name.startswith("optim")]
    assert sorted(raw_modules) == sorted(ENTRIES)


@pytest.fixture(scope="module")
def ptx(tmp_path_factory):
    """{(file, dtype, arch): (returncode, stderr, ptx text)} for every combination."""
    out = tmp_path_factory.mktemp("ptx")
    jobs = [(f, dt, arch) for f in ENTRIES for dt in CTYPES for arch in ARCHS]

    def compile_one(job):
        f, dt, arch = job
        dst = out / f"{f}.{dt}.{arch}.ptx"
        p = compile_ptx(KERNELS / f, dst, arch, CTYPES[dt])
        return job, (p.returncode, p.stderr, dst.read_text() if dst.exists() else "")

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(pool.map(compile_one, jobs))


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", list(CTYPES))
@pytest.mark.parametrize("file", list(ENTRIES))
def test_kernel_compiles_to_ptx(ptx, file, dtype, arch):
    rc, err, text = ptx[(file, dtype, arch)]
    assert rc == 0, f"nvcc failed for {file} {dtype} {arch}:\n{err}"
    assert f".target {arch}" in text
    entries = [ln for ln in text.splitlines() if ln.startswith(".visible .entry")]
    for name in ENTRIES[file]:
        assert any(name in ln for ln in entries), f"{name} missing from the PTX of {file}"
    assert ".local" not in text, "a kernel uses local memory (a spilled array)"


# ---- 2. host-compiled arithmetic ----------------------------------------------------
# Reads whitespace-separated numbers on stdin, writes one number per line.
#   sigmoid N x...            -> y...
#   sigmoid_grad N y... gy... -> gx...
#   ce N C S G U ignore eps has_w reduction x... t... [w...] g...
#       -> stat (2*N*S: each row's max m, then each row's l), loss (N*S), out, den,
#          gx (N*C*S)
# g is N*S values for 'none' (reduction 0), else one value.
#   ceprob N C S G U eps has_w reduction x... t... [w...] g...   (t: N*C*S probabilities)
#       -> stat (3*N*S: m, l, mass), loss (N*S), out, gx (N*C*S), gt (N*C*S)
HOST_RUN = r"""
using namespace gg;

// The warp-shuffle butterfly: after it every lane of a group of `width`
// holds the merge of the group, combined in the same order as __shfl_xor.
template <class A>
static void butterfly(std::vector<std::pair<A, A>>& v, int width) {
    for (int o = width / 2; o > 0; o /= 2) {
        std::vector<std::pair<A, A>> next = v;
        for (size_t l = 0; l < v.size(); ++l) {
            A m = v[l].first, s = v[l].second;
            lse_merge(m, s, v[l ^ o].first, v[l ^ o].second);
            next[l] = {m, s};
        }
        v = next;
    }
}

template <class A>
static void butterfly_sum(std::vector<A>& v, int width) {
    for (int o = width / 2; o > 0; o /= 2) {
        std::vector<A> next = v;
        for (size_t l = 0; l < v.size(); ++l) next[l] = v[l] + v[l ^ o];
        v = next;
    }
}

// A row's G lanes folded like the kernel: within a warp by shuffles, then
// (G > 32) the per-warp results by one more warp-wide butterfly.
template <class A>
static std::pair<A, A> group_lse(std::vector<std::pair<A, A>> v) {
    const int G = (int)v.size();
    butterfly(v, G < 32 ? G : 32);
    if (G <= 32) return v[0];
    std::vector<std::pair<A, A>> w(32);
    for (auto& p : w) lse_init(p.first, p.second);
    for (int k = 0; k < G / 32; ++k) w[k] = v[32 * k];
    butterfly(w, 32);
    return w[0];
}

template <class A>
static A group_sum(std::vector<A> v) {
    const int G = (int)v.size();
    butterfly_sum(v, G < 32 ? G : 32);
    if (G <= 32) return v[0];
    std::vector<A> w(32, A(0));
    for (int k = 0; k < G / 32; ++k) w[k] = v[32 * k];
    butterfly_sum(w, 32);
    return w[0];
}

// A row's first pass as the kernels' lane_lse: lane l folds classes l, l + G, ...
// U at a time (padding -inf) into its (m, s), handing each group of U to
// visit(lane, c0, v); the lanes are then merged as group_lse does.
template <class A, int U, class Visit>
static std::pair<A, A> row_lse(const std::vector<A>& x, long base, long C, long S, int G,
                               Visit visit) {
    std::vector<std::pair<A, A>> lanes(G);
    for (int lane = 0; lane < G; ++lane) {
        A mm, s;
        lse_init(mm, s);
        for (long c0 = lane; c0 < C; c0 += (long)G * U) {
            A v[U];
            for (int k = 0; k < U; ++k) {
                const long c = c0 + (long)k * G;
                v[k] = c < C ? x[base + c * S] : -lim<A>::inf();
            }
            lse_push(mm, s, v);
            visit(lane, c0, v);
        }
        lanes[lane] = {mm, s};
    }
    return group_lse(lanes);
}

template <class A, int U>
static int ce() {
    const long N = (long)rd(), C = (long)rd(), S = (long)rd();
    const int G = (int)rd();
    (void)rd();  // U, fixed by the template
    const long long ignore = (long long)rd();
    const double eps = rd();
    const bool has_w = rd() != 0;
    const int reduction = (int)rd();
    const long R = N * S;
    std::vector<A> x(N * C * S), w(C, A(1));
    std::vector<long long> t(R);
    for (auto& v : x) v = (A)rd();
    for (auto& v : t) v = (long long)rd();
    if (has_w) for (auto& v : w) v = (A)rd();
    std::vector<A> g(reduction == GG_NONE ? R : 1);
    for (auto& v : g) v = (A)rd();
    const bool smoothing = eps != 0.0;
    A W = A(0);
    for (long c = 0; c < C; ++c) W += w[c];
    if (!has_w) W = A(C);

    std::vector<A> m(R), l(R), loss(R, A(0));
    A total = A(0), den = A(0);
    for (long r = 0; r < R; ++r) {
        const long n = r / S, base = n * C * S + (r - n * S);
        std::vector<A> swr(G, A(0));
        const A x_ref = smoothing ? finite_or_zero(x[base]) : A(0);
        const std::pair<A, A> ms = row_lse<A, U>(x, base, C, S, G,
                                                 [&](int lane, long c0, const A (&v)[U]) {
            for (int k = 0; k < U; ++k) {
                const long c = c0 + (long)k * G;
                if (smoothing && c < C) swr[lane] += (has_w ? w[c] : A(1)) * (v[k] - x_ref);
            }
        });
        const A sw = smoothing ? group_sum(swr) : A(0);
        m[r] = ms.first;
        l[r] = log_(ms.second);
        if (t[r] == ignore) continue;
        const A w_t = has_w ? w[t[r]] : A(1);
        loss[r] = ce_row_loss(m[r], l[r], x[base + t[r] * S], w_t, A(1.0 - eps), A(eps / C),
                              smoothing, W, sw, x_ref);
        total += loss[r];
        den += w_t;
    }
    std::vector<A> gx(N * C * S, A(0));
    for (long r = 0; r < R; ++r) {
        if (t[r] == ignore) continue;
        const long n = r / S, base = n * C * S + (r - n * S);
        const A scale = ce_row_scale(g[reduction == GG_NONE ? r : 0], den, reduction);
        const ce_coef<A> k = ce_row_coef(scale, has_w ? w[t[r]] : A(1), A(1.0 - eps),
                                         A(eps / C), W);
        for (long c = 0; c < C; ++c) {
            const A sw = smoothing ? k.smooth * (has_w ? w[c] : A(1)) : A(0);
            gx[base + c * S] = ce_grad(x[base + c * S], m[r], l[r], k, c == t[r], sw);
        }
    }
    for (A v : m) wr(v);
    for (A v : l) wr(v);
    for (A v : loss) wr(v);
    wr(reduction == GG_NONE ? A(0) : ce_reduce(total, den, reduction));
    wr(den);
    for (A v : gx) wr(v);
    return 0;
}

// sce_soft_forward / sce_soft_backward, row by row: the first pass folds the
// lanes' (m, s) as above; the second accumulates each lane's mass and dot
// against the row's m, summed by the same butterfly as group_sum.
template <class A, int U>
static int ceprob() {
    const long N = (long)rd(), C = (long)rd(), S = (long)rd();
    const int G = (int)rd();
    (void)rd();  // U, fixed by the template
    const double eps = rd();
    const bool has_w = rd() != 0;
    const int reduction = (int)rd();
    const long R = N * S;
    std::vector<A> x(N * C * S), t(N * C * S), w(C, A(1));
    for (auto& v : x) v = (A)rd();
    for (auto& v : t) v = (A)rd();
    if (has_w) for (auto& v : w) v = (A)rd();
    std::vector<A> g(reduction == GG_NONE ? R : 1);
    for (auto& v : g) v = (A)rd();
    const bool smoothing = eps != 0.0;
    const A ome = A(1.0 - eps), eoc = A(eps / C);
    std::vector<A> m(R), l(R), mass(R), loss(R);
    A total = A(0);
    for (long r = 0; r < R; ++r) {
        const long n = r / S, base = n * C * S + (r - n * S);
        const std::pair<A, A> ms = row_lse<A, U>(x, base, C, S, G,
                                                 [](int, long, const A (&)[U]) {});
        m[r] = ms.first;
        l[r] = log_(ms.second);
        std::vector<A> lm(G, A(0)), ld(G, A(0));
        for (int lane = 0; lane < G; ++lane)
            for (long c = lane; c < C; c += G) {
                const A wt = ce_soft_target(t[base + c * S], w[c], ome, eoc, smoothing);
                lm[lane] += wt;
                ld[lane] += wt * (x[base + c * S] - m[r]);
            }
        mass[r] = group_sum(lm);
        loss[r] = ce_soft_loss(mass[r], l[r], group_sum(ld));
        total += loss[r];
    }
    std::vector<A> gx(N * C * S), gt(N * C * S);
    for (long r = 0; r < R; ++r) {
        const long n = r / S, base = n * C * S + (r - n * S);
        const A scale = ce_row_scale(g[reduction == GG_NONE ? r : 0], A(R), reduction);
        const A s_mass = scale * mass[r], s_t = scale * ome;
        for (long c = 0; c < C; ++c) {
            const long i = base + c * S;
            const A nl = ce_neg_log_softmax(x[i], m[r], l[r]);
            gx[i] = ce_soft_grad_x(nl, s_mass, ce_soft_target(t[i], w[c], ome, eoc, smoothing),
                                   scale);
            gt[i] = ce_soft_grad_t(nl, s_t * w[c]);
        }
    }
    for (A v : m) wr(v);
    for (A v : l) wr(v);
    for (A v : mass) wr(v);
    for (A v : loss) wr(v);
    wr(reduction == GG_NONE ? A(0) : ce_reduce(total, A(R), reduction));
    for (A v : gx) wr(v);
    for (A v : gt) wr(v);
    return 0;
}

template <class A>
static int run(const char* op) {
    if (!std::strcmp(op, "sigmoid")) {
        const long n = (long)rd();
        std::vector<A> x(n);
        for (auto& v : x) v = (A)rd();
        for (A v : x) wr(sigmoid(v));
        return 0;
    }
    if (!std::strcmp(op, "sigmoid_grad")) {
        const long n = (long)rd();
        std::vector<A> y(n), gy(n);
        for (auto& v : y) v = (A)rd();
        for (auto& v : gy) v = (A)rd();
        for (long i = 0; i < n; ++i) wr(sigmoid_grad(y[i], gy[i]));
        return 0;
    }
    // the kernels unroll by 16 bytes of storage: 4 floats, 2 doubles
    if (!std::strcmp(op, "ce")) return sizeof(A) == 4 ? ce<A, 4>() : ce<A, 2>();
    if (!std::strcmp(op, "ceprob")) return sizeof(A) == 4 ? ceprob<A, 4>() : ceprob<A, 2>();
    return 2;
}
"""


@pytest.fixture(scope="module")
def host_program(tmp_path_factory):
    prog = _host_program(tmp_path_factory.mktemp("host"), "gpugrad_math.cuh", HOST_RUN)

    def run(op, dtype, *values):
        return prog(op, dtype, np.concatenate(
            [np.ravel(np.asarray(v, dtype=np.float64)) for v in values]))
    return run


TOL = {"float32": dict(rtol=2e-6, atol=0.0), "float64": dict(rtol=1e-14, atol=0.0)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_matches_cpu(host_program, dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([[-1e4, -100.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 100.0, 1e4],
                        rng.standard_normal(1000) * 8]).astype(dtype)
    y = host_program("sigmoid", dtype, [x.size], x)
    ref = cpu.sigmoid_forward(x)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, ref, **TOL[dtype])
    assert y[0] == 0 and y[4] == 0.5 and y[8] == 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_grad_matches_cpu(host_program, dtype):
    rng = np.random.default_rng(1)
    y = cpu.sigmoid_forward(rng.standard_normal(1000).astype(dtype) * 6)
    gy = rng.standard_normal(1000).astype(dtype)
    gx = host_program("sigmoid_grad", dtype, [y.size], y, gy)
    np.testing.assert_allclose(gx, cpu.sigmoid_backward(y, gy), **TOL[dtype])


def _ce_case(rng, N, C, S, dtype, weighted, ignore, scale=1.0):
    x = (rng.standard_normal((N, C, S)) * scale).astype(dtype)
    t = rng.integers(0, C, (N, S))
    if ignore:
        t.flat[:: 3] = -100
    w = rng.uniform(0.2, 2.0, C).astype(dtype) if weighted else None
    return x, t, w


def _run_ce(host_program, dtype, x, t, w, eps, reduction, g, G):
    N, C, S = x.shape
    U = 16 // np.dtype(dtype).itemsize
    red = {"none": 0, "sum": 1, "mean": 2}[reduction]
    parts = [[N, C, S, G, U, -100, eps, w is not None, red], x, t]
    if w is not None:
        parts.append(w)
    parts.append(g)
    out = host_program("ce", dtype, *parts)
    R = N * S
    stat, loss, rest = out[:2 * R].reshape(2, N, S), out[2 * R:3 * R].reshape(N, S), out[3 * R:]
    return stat, loss, rest[0], rest[1], rest[2:].reshape(N, C, S)


def _ce_tol(dtype, x):
    """Tolerances for the row statistics and losses, whose rounding scales with the logits; the
    gradient (probabilities times per-row factors) is compared at the unit scale."""
    rtol = {"float32": 3e-6, "float64": 1e-13}[dtype]
    return dict(rtol=rtol, atol=rtol * max(1.0, np.abs(x).max())), dict(rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("ignore", [False, True], ids=["all-kept", "some-ignored"])
@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("shape,G", [((5, 2, 1), 1), ((4, 3, 1), 1), ((6, 37, 1), 8),
                                     ((3, 1000, 1), 32), ((2, 5000, 1), 256),
                                     ((3, 7, 5), 1), ((2, 64, 3), 32)],
                         ids=lambda v: str(v))
def test_softmax_cross_entropy_matches_cpu(host_program, dtype, weighted, ignore, eps, shape, G):
    rng = np.random.default_rng(hash((shape, G, weighted, ignore, eps)) % 2**32)
    x, t, w = _ce_case(rng, *shape, dtype, weighted, ignore)
    tol, gtol = _ce_tol(dtype, x)
    for reduction in ("none", "sum", "mean"):
        N, _, S = x.shape
        g = (rng.standard_normal((N, S)) if reduction == "none" else np.array(0.7)).astype(dtype)
        stat, loss, out, den, gx = _run_ce(host_program, dtype, x, t, w, eps, reduction, g, G)
        ref_loss, ref_stat, ref_den = cpu.softmax_cross_entropy_forward(
            x, t, w, -100, eps, reduction)
        ref_gx = cpu.softmax_cross_entropy_backward(
            x, t, ref_stat, g, ref_den, w, -100, eps, reduction)
        np.testing.assert_allclose(stat, ref_stat, **tol)
        np.testing.assert_allclose(den, ref_den, **tol)
        if reduction == "none":
            np.testing.assert_allclose(loss, ref_loss, **tol)
        else:
            np.testing.assert_allclose(out, ref_loss, **tol)
        np.testing.assert_allclose(gx, ref_gx, **gtol)


@pytest.mark.parametrize("G", [1, 32, 256])
def test_softmax_cross_entropy_large_logits_finite(host_program, G):
    """Logits of magnitude 1e4 in float32: no overflow to inf or NaN anywhere."""
    rng = np.random.default_rng(7)
    x, t, w = _ce_case(rng, 4, 300, 1, "float32", True, False, scale=1e4)
    stat, loss, out, den, gx = _run_ce(host_program, "float32", x, t, w, 0.1, "mean",
                                       np.array(1.0, np.float32), G)
    assert np.isfinite(stat).all() and np.isfinite(loss).all() and np.isfinite(out)
    assert np.isfinite(gx).all()
    ref_loss, ref_stat, _ = cpu.softmax_cross_entropy_forward(x, t, w, -100, 0.1, "mean")
    np.testing.assert_allclose(stat, ref_stat, rtol=1e-6)
    np.testing.assert_allclose(out, ref_loss, rtol=1e-4)


@pytest.mark.parametrize("G", [1, 32, 256])
@pytest.mark.parametrize("eps,weighted", [(0.0, False), (0.1, True)])
def test_softmax_cross_entropy_large_offset_keeps_precision(host_program, G, eps, weighted):
    """float32 logits near 1e6 with a spread of a few units: the row statistics keep
    the max apart from the log-sum, so the loss and gradient keep float32 precision
    (a saved m + l rounds l to the unit: the gradient was off by 2e-2)."""
    rng = np.random.default_rng(11)
    x, t, w = _ce_case(rng, 4, 300, 1, "float32", weighted, False, scale=2.0)
    x += np.float32(1e6)
    _, loss, out, _, gx = _run_ce(host_program, "float32", x, t, w, eps, "mean",
                                  np.array(1.0, np.float32), G)
    x64, w64 = x.astype(np.float64), None if w is None else w.astype(np.float64)
    ref_out, ref_stat, ref_den = cpu.softmax_cross_entropy_forward(x64, t, w64, -100, eps, "mean")
    ref_gx = cpu.softmax_cross_entropy_backward(x64, t, ref_stat, np.array(1.0), ref_den, w64,
                                                -100, eps, "mean")
    np.testing.assert_allclose(out, ref_out, rtol=1e-5)
    np.testing.assert_allclose(gx, ref_gx, rtol=0, atol=1e-6 * np.abs(ref_gx).max())


def test_softmax_cross_entropy_all_ignored(host_program):
    """den = 0: the mean is NaN (as in PyTorch) and the gradient is exactly 0."""
    x = np.random.default_rng(3).standard_normal((3, 4, 1)).astype(np.float32)
    t = np.full((3, 1), -100)
    stat, loss, out, den, gx = _run_ce(host_program, "float32", x, t, None, 0.0, "mean",
                                       np.array(1.0, np.float32), 4)
    assert den == 0 and np.isnan(out) and (gx == 0).all() and (loss == 0).all()


# ---- class-probability targets ----------------------------------------------------------
def _run_ceprob(host_program, dtype, x, t, w, eps, reduction, g, G):
    N, C, S = x.shape
    U = 16 // np.dtype(dtype).itemsize
    red = {"none": 0, "sum": 1, "mean": 2}[reduction]
    parts = [[N, C, S, G, U, eps, w is not None, red], x, t]
    if w is not None:
        parts.append(w)
    parts.append(g)
    out = host_program("ceprob", dtype, *parts)
    R, n = N * S, N * C * S
    stat, loss = out[:3 * R].reshape(3, N, S), out[3 * R:4 * R].reshape(N, S)
    total, rest = out[4 * R], out[4 * R + 1:]
    return stat, loss, total, rest[:n].reshape(N, C, S), rest[n:].reshape(N, C, S)


def _probs_case(rng, N, C, S, dtype, weighted, scale=1.0):
    x = (rng.standard_normal((N, C, S)) * scale).astype(dtype)
    t = rng.dirichlet(np.ones(C), (N, S)).transpose(0, 2, 1).astype(dtype)
    w = rng.uniform(0.2, 2.0, C).astype(dtype) if weighted else None
    return x, t, w


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("shape,G", [((5, 2, 1), 1), ((6, 37, 1), 8), ((3, 1000, 1), 32),
                                     ((2, 5000, 1), 256), ((3, 7, 5), 1), ((2, 64, 3), 32)],
                         ids=lambda v: str(v))
def test_softmax_cross_entropy_probs_matches_cpu(host_program, dtype, weighted, eps, shape, G):
    rng = np.random.default_rng(hash(("probs", shape, G, weighted, eps)) % 2**32)
    x, t, w = _probs_case(rng, *shape, dtype, weighted)
    tol, gtol = _ce_tol(dtype, x)
    N, C, S = x.shape
    for reduction in ("none", "sum", "mean"):
        g = (rng.standard_normal((N, S)) if reduction == "none" else np.array(0.7)).astype(dtype)
        stat, loss, out, gx, gt = _run_ceprob(host_program, dtype, x, t, w, eps, reduction, g, G)
        ref_loss, ref_stat = cpu.softmax_cross_entropy_probs_forward(x, t, w, eps, reduction)
        ref_gx, ref_gt = cpu.softmax_cross_entropy_probs_backward(
            x, t, ref_stat, g, w, eps, reduction, True, True)
        np.testing.assert_allclose(stat, ref_stat, **tol)
        np.testing.assert_allclose(loss if reduction == "none" else out, ref_loss, **tol)
        np.testing.assert_allclose(gx, ref_gx, **gtol)
        # d/dt is -log_softmax times per-row factors: it grows with the logits' spread
        np.testing.assert_allclose(gt, ref_gt, **tol)


@pytest.mark.parametrize("G", [1, 32, 256])
def test_softmax_cross_entropy_probs_far_reference_keeps_precision(host_program, G):
    """A row whose first logit is far below its max, with the target's mass at the max:
    dot is taken against the row's max (a second pass), not against the first logit,
    so the loss keeps float32 precision (against x_ref = -1e4 it is off by about 1e-3)."""
    rng = np.random.default_rng(5)
    x, t, _ = _probs_case(rng, 4, 300, 1, "float32", False)
    x[:, 0] = -1e4
    t[:, 0] = 0
    t /= t.sum(axis=1, keepdims=True)
    _, loss, _, gx, _ = _run_ceprob(host_program, "float32", x, t, None, 0.0, "none",
                                    np.ones((4, 1), np.float32), G)
    ref_loss, ref_stat = cpu.softmax_cross_entropy_probs_forward(
        x.astype(np.float64), t.astype(np.float64), None, 0.0, "none")
    np.testing.assert_allclose(loss, ref_loss, rtol=2e-6)


def test_softmax_cross_entropy_probs_nonfinite_rows_match_cpu(host_program):
    """-inf logits: a zero target there gives NaN (0 * -inf, as PyTorch), a positive one
    inf; a row of only -inf is NaN. The host kernel arithmetic agrees with the oracle."""
    inf = np.inf
    x = np.array([[-inf, 0.0, 1.0], [-inf, 0.0, 1.0], [-inf, -inf, -inf]])[..., None]
    t = np.array([[0.0, 0.5, 0.5], [0.5, 0.25, 0.25], [0.2, 0.3, 0.5]])[..., None]
    _, loss, _, _, _ = _run_ceprob(host_program, "float64", x, t, None, 0.0, "none",
                                   np.ones((3, 1)), 1)
    ref_loss, _ = cpu.softmax_cross_entropy_probs_forward(x, t, None, 0.0, "none")
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(ref_loss))
    np.testing.assert_array_equal(loss[1], ref_loss[1])
    assert np.isnan(ref_loss[0, 0]) and ref_loss[1, 0] == inf and np.isnan(ref_loss[2, 0])
