"""kernels/optim.cu, checked without a GPU: its __host__ __device__ update functions
are compiled as host code (nvcc) and compared with the NumPy path of
gpugrad.optim (gpugrad/optim/_arrays.py, their oracle) for every flag
combination; and the file compiles to PTX inside an elementwise kernel shaped like
the one CuPy generates. Skipped without nvcc."""
import itertools
import re

import numpy as np
import pytest

from gpugrad.optim import _arrays, _kernels
from tests._nvcc import KERNELS, compile_ptx, host_program as _host_program, requires_nvcc

pytestmark = requires_nvcc

# op: (number of scalars, state buffers (names), flag bits that gate optional buffers)
OPS = {"sgd": (4, ("buf",)), "adam": (8, ("m", "v", "vmax")),
       "rmsprop": (6, ("sq", "gavg", "buf")), "adagrad": (3, ("acc",))}

# Reads: n flags scalars... p[n] g[n] then each state buffer [n]; writes p and the buffers.
HOST_RUN = r"""
template <class T>
static int run(const char* op) {
    const long n = (long)rd();
    const int flags = (int)rd();
    const int ns = !std::strcmp(op, "sgd") ? 4 : !std::strcmp(op, "adam") ? 8
                 : !std::strcmp(op, "rmsprop") ? 6 : 3;
    const int nb = (!std::strcmp(op, "adam") || !std::strcmp(op, "rmsprop")) ? 3 : 1;
    T s[8];
    for (int k = 0; k < ns; ++k) s[k] = (T)rd();
    std::vector<T> p(n), g(n);
    std::vector<std::vector<T>> b(nb, std::vector<T>(n));
    for (auto& v : p) v = (T)rd();
    for (auto& v : g) v = (T)rd();
    for (auto& buf : b) for (auto& v : buf) v = (T)rd();
    for (long i = 0; i < n; ++i) {
        if (!std::strcmp(op, "sgd"))
            gg_optim::sgd_step(p[i], (flags & GG_OPT_MOMENTUM) ? &b[0][i] : (T*)0, g[i],
                               s[0], s[1], s[2], s[3], flags);
        else if (!std::strcmp(op, "adam"))
            gg_optim::adam_step(p[i], b[0][i], b[1][i], (flags & GG_OPT_AMSGRAD) ? &b[2][i] : (T*)0,
                                g[i], s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], flags);
        else if (!std::strcmp(op, "rmsprop"))
            gg_optim::rmsprop_step(p[i], b[0][i], (flags & GG_OPT_CENTERED) ? &b[1][i] : (T*)0,
                                   (flags & GG_OPT_MOMENTUM) ? &b[2][i] : (T*)0, g[i],
                                   s[0], s[1], s[2], s[3], s[4], s[5], flags);
        else
            gg_optim::adagrad_step(p[i], b[0][i], g[i], s[0], s[1], s[2], flags);
    }
    for (T v : p) wr(v);
    for (auto& buf : b) for (T v : buf) wr(v);
    return 0;
}
"""


@pytest.fixture(scope="module")
def host_program(tmp_path_factory):
    # No contraction into fused multiply-adds (which some host targets would do): the
    # same operations as NumPy's, rounded the same, so the comparison can be exact.
    prog = _host_program(tmp_path_factory.mktemp("optim_host"), "optim.cu", HOST_RUN,
                         ("-Xcompiler", "-ffp-contract=off"))

    def run(op, dtype, flags, scalars, p, g, bufs):
        out = prog(op, dtype, np.concatenate(
            [[p.size, flags], scalars, p.ravel(), g.ravel()] + [b.ravel() for b in bufs]))
        return out.reshape(1 + len(bufs), p.size).astype(dtype)
    return run


def test_flag_values_match_the_kernel_source():
    text = (KERNELS / "optim.cu").read_text()
    found = dict(re.findall(r"GG_OPT_(\w+) = (\d+)", text))
    assert {k: int(v) for k, v in found.items()} == {
        k: getattr(_kernels, k) for k in found}
    assert len(found) == 7


def _case(op, flags, dtype, rng, n=257):
    """Random parameter, gradient, state and scalars for one flag combination."""
    p = rng.standard_normal(n).astype(dtype)
    g = (rng.standard_normal(n) * 0.5).astype(dtype)
    g[:3] = [0.0, 1e-30, -2.0]
    pos = lambda: np.abs(rng.standard_normal(n)).astype(dtype) + dtype(0.01)  # noqa: E731
    if op == "sgd":
        scalars = [-0.05, 0.9, 0.7, 0.1 if flags & 128 else 0.0]
        bufs = [rng.standard_normal(n).astype(dtype)]
    elif op == "adam":
        # w1 = 1 - beta1 on both sides of 0.5 (lerp's two forms), by the 256 bit
        w1 = 0.7 if flags & 256 else 0.1
        scalars = [0.999 if flags & _kernels.DECOUPLED else 1.0,
                   0.0 if flags & _kernels.DECOUPLED or not flags & 128 else 0.1,
                   w1, 0.99, 0.01, 0.3, 1e-8, -0.02]
        v = pos()
        bufs = [rng.standard_normal(n).astype(dtype), v, v + pos() * (rng.random(n) < 0.5)]
    elif op == "rmsprop":
        c = 0.6 if flags & 256 else 0.1
        scalars = [1 - c, c, 1e-6, 0.1 if flags & 128 else 0.0, 0.8, -0.01]
        gavg = (rng.standard_normal(n) * 0.1).astype(dtype)
        bufs = [gavg * gavg + pos(), gavg, rng.standard_normal(n).astype(dtype)]
    else:
        scalars = [0.1 if flags & 128 else 0.0, 1e-10, -0.05]
        bufs = [pos()]
    return p, g, [dtype(s) for s in scalars], bufs


def _flag_sets(op):
    bits = {"sgd": [_kernels.MAXIMIZE, _kernels.MOMENTUM, _kernels.FIRST, _kernels.NESTEROV, 128],
            "adam": [_kernels.MAXIMIZE, _kernels.AMSGRAD, _kernels.DECOUPLED, 128, 256],
            "rmsprop": [_kernels.MAXIMIZE, _kernels.CENTERED, _kernels.MOMENTUM, 128, 256],
            "adagrad": [_kernels.MAXIMIZE, 128]}[op]
    return [sum(c) for r in range(len(bits) + 1) for c in itertools.combinations(bits, r)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", list(OPS))
def test_update_matches_numpy_path(host_program, op, dtype):
    rng = np.random.default_rng(len(op))
    dt = np.dtype(dtype).type
    for flags in _flag_sets(op):
        p, g, scalars, bufs = _case(op, flags, dt, rng)
        kflags = flags & 127  # 128 / 256 only chose test values
        got = host_program(op, dtype, kflags, scalars, p, g, bufs)
        ref_p, ref_bufs = p.copy(), [b.copy() for b in bufs]
        present = _present(op, kflags, ref_bufs)
        scratch = {}
        getattr(_arrays, op)(np, ref_p, g, [float(s) for s in scalars], kflags, present,
                             lambda k: scratch.setdefault(k, np.empty_like(p)))
        # Same operations in the same order, each rounded once to the dtype: bit for bit.
        np.testing.assert_array_equal(got[0], ref_p, err_msg=f"{op} flags={flags} p")
        for k, (a, b) in enumerate(zip(got[1:], ref_bufs)):
            np.testing.assert_array_equal(a, b, err_msg=f"{op} flags={flags} buffer {k}")
        assert not np.array_equal(got[0], p), f"{op} flags={flags}: nothing moved"


def _present(op, flags, bufs):
    """The state tuple the optimizer passes: None where the flag says absent."""
    if op == "sgd":
        return (bufs[0] if flags & _kernels.MOMENTUM else None,)
    if op == "adam":
        return (bufs[0], bufs[1], bufs[2] if flags & _kernels.AMSGRAD else None)
    if op == "rmsprop":
        return (bufs[0], bufs[1] if flags & _kernels.CENTERED else None,
                bufs[2] if flags & _kernels.MOMENTUM else None)
    return (bufs[0],)


# The kernel cupy.ElementwiseKernel generates from gpugrad/optim/_kernels.py's specs,
# imitated: the dtype's typedef, the preamble, then a loop that binds each array
# argument by reference (the gradient as const), raw arguments indexable by i, and
# the spec's own operation string. Only the gradient is an array among the inputs.
def _cupy_like_source(name):
    in_params, out_params, operation = _kernels._SPECS[name]
    params, binds = [], []
    decls = [(d.split(), True) for d in in_params.split(",")] + \
            [(d.split(), False) for d in out_params.split(",")]
    for k, (words, is_in) in enumerate(decls):
        raw = words[0] == "raw"
        typ, nm = words[-2], words[-1]
        ctype = {"T": "T", "int32": "int"}[typ]
        if raw:
            params.append(f"Raw<{ctype}> {nm}")
        elif is_in and k > 0:
            params.append(f"{ctype} {nm}")  # a scalar
        else:
            params.append(f"{'const ' if is_in else ''}{ctype}* _raw_{nm}")
            binds.append(f"{'const ' if is_in else ''}{ctype}& {nm} = _raw_{nm}[i];")
    return f"""typedef GG_DTYPE T;
#include "optim.cu"
template <class U> struct Raw {{
    U* p;
    __device__ U& operator[](long long i) const {{ return p[i]; }}
}};
extern "C" __global__ void gg_{name}_step({", ".join(params)}, long long n) {{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {{
        {" ".join(binds)}
        {operation};
    }}
}}
"""


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("ctype", ["float", "double"])
@pytest.mark.parametrize("name", list(OPS))
def test_kernel_compiles_to_ptx(tmp_path, name, ctype, arch):
    src = tmp_path / f"{name}.cu"
    src.write_text(_cupy_like_source(name))
    out = tmp_path / f"{name}.ptx"
    p = compile_ptx(src, out, arch, ctype)
    assert p.returncode == 0, f"{src.read_text()}\n{p.stderr}"
    text = out.read_text()
    assert f".target {arch}" in text and f".entry gg_{name}_step" in text
    assert ".local" not in text, "the update spills to local memory"
