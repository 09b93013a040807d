"""The CuPy backend: the CPU backend's interface and numbers, on one GPU.

Arrays are cupy.ndarray on this backend's device. The fused ops are CUDA
kernels from the repository's kernels/ directory, compiled by NVRTC through
cupy.RawModule once per (device, source file, dtype) and kept; every scalar
(sizes, ignore_index, smoothing, threads per row) is a kernel argument.

Nothing here waits for the GPU except to_numpy and synchronize, which is also
where a bad softmax_cross_entropy label, found by the kernel, or a
binary_cross_entropy value outside [0, 1], found by a device-side check, is reported.
"""
from __future__ import annotations

import contextlib
import functools
import re
from pathlib import Path

import numpy as np

from . import Device, get_backend
from .cpu import bce_grads, bce_loss
from ..cuda import CUDAUnavailableError, unavailable_reason
from ..errors import DtypeError

try:
    import cupy
    from cupy_backends.cuda.libs import cublas as _cublas
except Exception as e:  # missing or broken CuPy: say which and how to fix it
    raise CUDAUnavailableError(unavailable_reason() or f"CuPy failed to import: {e}") from e

# ---- kernel sources -------------------------------------------------------------
_KERNELS = {
    "sigmoid.cu": ("sigmoid_forward", "sigmoid_backward"),
    "softmax_cross_entropy.cu": ("sce_forward", "sce_finish", "sce_backward",
                                 "sce_soft_forward", "sce_soft_backward"),
}
_CTYPE = {np.dtype(np.float16): "gg::half", np.dtype(np.float32): "float",
          np.dtype(np.float64): "double"}
_ACC = {np.dtype(np.float16): np.dtype(np.float32), np.dtype(np.float32): np.dtype(np.float32),
        np.dtype(np.float64): np.dtype(np.float64)}
_OPTIONS = ("--std=c++17",)
_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)".*$', re.M)
_PRAGMA_ONCE = re.compile(r"^[ \t]*#[ \t]*pragma[ \t]+once.*$", re.M)


def kernel_dir() -> Path:
    """kernels/ inside the installed package (wheel), else at the repository root
    (source tree, editable install)."""
    pkg = Path(__file__).resolve().parent.parent  # the gpugrad package
    for d in (pkg / "kernels", pkg.parent / "kernels"):
        if all((d / f).is_file() for f in _KERNELS):
            return d
    raise RuntimeError(f"gpugrad CUDA kernels not found in {pkg / 'kernels'} or "
                       f"{pkg.parent / 'kernels'}; reinstall gpugrad (the wheel ships them "
                       "as gpugrad/kernels/)")


@functools.lru_cache(maxsize=None)
def kernel_source(name: str) -> str:
    """The .cu file with its local #includes inlined: CuPy keys its on-disk
    cache on the source text, so a changed header must change that text."""
    root = kernel_dir()
    seen: set[str] = set()

    def expand(path: Path) -> str:
        text = _PRAGMA_ONCE.sub("", path.read_text())
        return _INCLUDE.sub(lambda m: include(m.group(1)), text)

    def include(header: str) -> str:
        if header in seen:
            return ""
        seen.add(header)
        return f"// ---- {header}\n" + expand(root / header)

    return expand(root / name)


# ---- matrix products ---------------------------------------------------------------
# cupy.matmul spends 25-35 us of host time per call before cuBLAS runs (measured on
# an H100 host, bench/launch_costs.py), several times the GEMM itself at MLP sizes.
# 2-D float32/float64 products of C- or F-contiguous operands (every matmul an MLP's
# forward and backward make) call cuBLAS directly instead; anything else is cupy's.
_GEMM = {np.dtype(np.float32): _cublas.sgemm, np.dtype(np.float64): _cublas.dgemm}
# alpha = 1, beta = 0 as host scalars (CuPy leaves its handles in host pointer mode),
# kept alive here with their addresses.
_ONE_ZERO = {dt: (np.ones(1, dt), np.zeros(1, dt)) for dt in _GEMM}
_SCALARS = {dt: (one.ctypes.data, zero.ctypes.data) for dt, (one, zero) in _ONE_ZERO.items()}


def _gemm_operand(a):
    """(transpose flag, leading dimension) that make cuBLAS's column-major view of
    a's memory read as a.T, or None when a is neither C- nor F-contiguous."""
    r, c = a.shape
    if a._c_contiguous:
        return _cublas.CUBLAS_OP_N, max(c, 1)
    if a._f_contiguous:
        return _cublas.CUBLAS_OP_T, max(r, 1)
    return None


# ---- launch shapes ---------------------------------------------------------------
_STREAM_THREADS = 256
_FINISH_THREADS = 512
_MANY_ROWS = 16384  # with S > 1, enough rows to fill a GPU at one thread per row
_REDUCTION = {"none": 0, "sum": 1, "mean": 2}


def _row_layout(C: int, S: int, R: int) -> tuple[int, int]:
    """(threads per row G, threads per block) for rows of C classes at stride S."""
    if S > 1 and (R >= _MANY_ROWS or C <= 32):
        return 1, _STREAM_THREADS  # neighbouring threads, neighbouring s: coalesced
    if C <= 1024:
        G = 1
        while G < 32 and 8 * G < C:  # about 8 classes per lane, within one warp
            G *= 2
        return G, _STREAM_THREADS
    block = 256 if C <= 8192 else 512  # one block per row
    return block, block


def _contiguous(a):
    # cupy.ascontiguousarray turns 0-d into 1-d; a 0-d array is contiguous anyway.
    # _c_contiguous (a read-only attribute of cupy.ndarray in CuPy 13 and 14, the
    # versions the extras pin) skips building a flags object per call.
    return a if a._c_contiguous else cupy.ascontiguousarray(a)


class CUDABackend:
    name = "cuda"
    xp = cupy
    array_type = cupy.ndarray

    def __init__(self, index: int):
        kernel_dir()  # a broken install fails when the device is asked for, not mid-training
        self.device = Device("cuda", index)
        self._dev = cupy.cuda.Device(index)
        # Entering the device costs a driver query per call; with one GPU it is
        # always the current one, so the fused ops skip it (host cost per op).
        self._ctx = (self._dev if cupy.cuda.runtime.getDeviceCount() > 1
                     else contextlib.nullcontext())
        self._kernels: dict[tuple[str, np.dtype], dict[str, object]] = {}
        self.compile_count = 0  # modules built by this backend: tests check the cache
        with self._dev:
            props = cupy.cuda.runtime.getDeviceProperties(index)
            # A grid-stride kernel needs no more blocks than stay resident at once.
            self._stream_blocks = (props["multiProcessorCount"]
                                   * (props["maxThreadsPerMultiProcessor"] // _STREAM_THREADS))
            # {flag, label, C, ignore_index}: written by the first kernel thread
            # that meets a label out of range, read at the next host sync.
            self._bad_label = cupy.zeros(4, dtype=cupy.int64)
            # Set on the device when a value that must lie in [0, 1] does not (BCE's
            # input or target); read, with the label flag, at the next host sync.
            self._bad_range = cupy.zeros((), dtype=cupy.bool_)
        self._labels_unchecked = False
        self._ranges_unchecked: dict[str, set[str]] = {}  # op -> the arguments checked

    def __repr__(self):
        return f"CUDABackend({self.device})"

    def __reduce__(self):  # the registered object, as CPUBackend's
        return get_backend, (str(self.device),)

    # ---- kernels ----------------------------------------------------------
    def kernels(self, file: str, dtype) -> dict:
        """The compiled kernels of one source file for one dtype, built on first use."""
        found = self._kernels.get((file, dtype))  # ops pass array.dtype: one lookup
        if found is None:
            dtype = np.dtype(dtype)
            found = self._kernels.get((file, dtype)) or self._build(file, dtype)
        return found

    def _build(self, file, dtype):
        ctype = _CTYPE.get(dtype)
        if ctype is None:
            raise DtypeError(f"{file[:-3]}: the CUDA kernels take float16, float32 or "
                             f"float64, got {dtype}")
        names = [f"{k}<{ctype}>" for k in _KERNELS[file]]
        module = cupy.RawModule(code=kernel_source(file), options=_OPTIONS,
                                name_expressions=names)
        with self._dev:
            found = {k: module.get_function(n) for k, n in zip(_KERNELS[file], names)}
        self._kernels[(file, dtype)] = found
        self.compile_count += 1
        return found

    def _stream(self, kernel, n: int, arrays) -> None:
        """Launch an elementwise kernel(arrays..., n, vec) over n elements."""
        if n == 0:
            return
        vec = True
        for a in arrays:  # a plain loop: a generator costs a microsecond here
            if a.data.ptr & 15:
                vec = False
                break
        work = -(-n // (16 // arrays[0].itemsize)) if vec else n
        blocks = min(-(-work // _STREAM_THREADS), self._stream_blocks)
        kernel((blocks,), (_STREAM_THREADS,), (*arrays, np.int64(n), np.int32(vec)))

    # ---- arrays -----------------------------------------------------------
    def is_array(self, obj) -> bool:
        return isinstance(obj, cupy.ndarray)

    def asarray(self, data, dtype=None):
        with self._ctx:
            return cupy.asarray(data, dtype=dtype)

    def from_numpy(self, a: np.ndarray):
        with self._ctx:
            return cupy.asarray(a)

    def to_numpy(self, a) -> np.ndarray:
        with self._ctx:
            out = cupy.asnumpy(a)  # waits for the stream: the flag below is final
            self._check_deferred()
        return out

    def from_dlpack(self, obj):
        with self._ctx:
            return cupy.from_dlpack(obj)

    def scatter_add(self, target, index, values):
        # cupy.add.at is numpy.add.at (what the CPU backend uses); it replaces
        # cupyx.scatter_add, deprecated since CuPy 12.
        with self._ctx:
            cupy.add.at(target, index, values)

    def matmul(self, a, b):
        gemm = _GEMM.get(a.dtype)
        if gemm is None or a.ndim != 2 or b.ndim != 2 or b.dtype != a.dtype:
            return a @ b
        (m, k), (k2, n) = a.shape, b.shape
        if k != k2 or m == 0 or n == 0 or k == 0:
            return a @ b  # cupy raises the shape error, or makes the zeros
        opa, opb = _gemm_operand(b), _gemm_operand(a)
        if opa is None or opb is None:
            return a @ b
        # Row-major out (m, n) is column-major out.T (n, m) = b.T @ a.T.
        alpha, beta = _SCALARS[a.dtype]
        with self._ctx:
            out = cupy.empty((m, n), a.dtype)
            handle = cupy.cuda.device.get_cublas_handle()
            _cublas.setStream(handle, cupy.cuda.get_current_stream().ptr)
            gemm(handle, opa[0], opb[0], n, m, k, alpha, b.data.ptr, opa[1],
                 a.data.ptr, opb[1], beta, out.data.ptr, n)
        return out

    def sigmoid_stable(self, x):
        """As CPUBackend's: exp(x)/(1+exp(x)) below 0 keeps subnormal results."""
        with self._ctx:
            e = cupy.exp(-cupy.abs(x))
            return cupy.where(x >= 0, 1 / (1 + e), e / (1 + e))

    def synchronize(self):
        with self._ctx:
            self._dev.synchronize()
            self._check_deferred()

    def _check_deferred(self):
        """Raise what the device found since the last sync: a bad label, a value outside [0, 1]."""
        if self._ranges_unchecked:
            pending, self._ranges_unchecked = self._ranges_unchecked, {}
            if bool(self._bad_range):
                self._bad_range.fill(False)
                where = "; ".join(f"{op}: all elements of {' and '.join(sorted(what))} "
                                  "should be between 0 and 1"
                                  for op, what in sorted(pending.items()))
                raise ValueError(
                    f"{where}, but one is not (or is NaN); found on {self.device} and reported "
                    "at this synchronization (the loss computed from it is meaningless)")
        if not self._labels_unchecked:
            return
        self._labels_unchecked = False
        flag, label, C, ignore_index = (int(v) for v in self._bad_label.get())
        if flag:
            self._bad_label.fill(0)
            raise ValueError(
                f"softmax_cross_entropy: label {label} is outside [0, {C}) and is not "
                f"ignore_index ({ignore_index}); found on {self.device} by the forward kernel "
                "and reported at this synchronization (the loss of that row is NaN)")

    def check_unit_interval(self, op, what, a):
        """As CPUBackend's, without waiting for the GPU: a device-side flag, raised as
        ValueError at the next synchronization (to_numpy, item, synchronize)."""
        if a.size == 0:
            return
        with self._ctx:
            ok = ((a >= 0) & (a <= 1)).all()  # NaN compares False: flagged
            cupy.logical_or(self._bad_range, ~ok, out=self._bad_range)
        self._ranges_unchecked.setdefault(op, set()).add(what)

    def binary_cross_entropy_forward(self, x, t, weight):
        """The elementwise loss, with CPUBackend's formula (bce_loss)."""
        self.check_unit_interval("binary_cross_entropy", "input", x)
        self.check_unit_interval("binary_cross_entropy", "target", t)
        with self._ctx:
            return bce_loss(cupy, x, t, weight)

    def binary_cross_entropy_backward(self, x, t, weight, g, need_x, need_t):
        """(d/dx, d/dt) with CPUBackend's formulas (bce_grads)."""
        with self._ctx:
            return bce_grads(cupy, x, t, weight, g, need_x, need_t)

    # ---- fused sigmoid ----------------------------------------------------
    def sigmoid_forward(self, x):
        k = self.kernels("sigmoid.cu", x.dtype)["sigmoid_forward"]
        with self._ctx:
            x = _contiguous(x)
            y = cupy.empty(x.shape, x.dtype)
            self._stream(k, x.size, (x, y))
        return y

    def sigmoid_backward(self, y, gy):
        with self._ctx:
            if y.shape != gy.shape:
                y, gy = cupy.broadcast_arrays(y, gy)
            if y.dtype != gy.dtype:
                dt = cupy.result_type(y, gy)
                y, gy = y.astype(dt, copy=False), gy.astype(dt, copy=False)
            k = self.kernels("sigmoid.cu", y.dtype)["sigmoid_backward"]
            y, gy = _contiguous(y), _contiguous(gy)
            gx = cupy.empty(y.shape, y.dtype)
            self._stream(k, y.size, (y, gy, gx))
        return gx

    # ---- fused softmax cross-entropy ---------------------------------------
    # Same contract and formulas as CPUBackend (see cpu.py): x (N, C, S),
    # t (N, S) integer labels, weight (C,) or None.
    @staticmethod
    def _labels(t):
        if t.dtype == cupy.int64:
            return _contiguous(t), 1
        if t.dtype == cupy.int32:
            return _contiguous(t), 0
        return _contiguous(t.astype(cupy.int64)), 1  # other widths: one small copy

    def _class_weights(self, weight, dtype, label_smoothing):
        """weight as a contiguous array of dtype, and its sum when smoothing needs it."""
        if weight is None:
            return None, None
        weight = _contiguous(weight.astype(dtype, copy=False))
        wsum = weight.sum(dtype=_ACC[dtype]) if label_smoothing else None
        return weight, wsum

    @staticmethod
    def _backward_rows(stat, g, dtype, N, S, red):
        """stat and g as the backward kernels read them: stat contiguous in the
        accumulation dtype; g of dtype, (N, S) contiguous for 'none' (red 0), else 0-d."""
        stat = _contiguous(stat.astype(_ACC[dtype], copy=False))
        g = g.astype(dtype, copy=False)
        g = _contiguous(cupy.broadcast_to(g, (N, S))) if red == 0 else g.reshape(())
        return stat, g

    def softmax_cross_entropy_forward(self, x, t, weight, ignore_index,
                                      label_smoothing, reduction):
        """Returns (loss, stat, den): stat (2, N, S), each row's max and log-sum of
        exps in the accumulation dtype, is all the backward needs (see cpu.py)."""
        dt = x.dtype
        ks = self.kernels("softmax_cross_entropy.cu", dt)
        N, C, S = x.shape
        R = N * S
        red = _REDUCTION[reduction]
        if C == 0 and R:
            raise ValueError(f"softmax_cross_entropy: logits of shape {tuple(x.shape)} "
                             "have no classes")
        G, block = _row_layout(C, S, R)
        nblocks = -(-R // (block // G))
        with self._ctx:
            x = _contiguous(x)
            t, t64 = self._labels(t)
            weight, wsum = self._class_weights(weight, dt, label_smoothing)
            stat = cupy.empty((2, N, S), _ACC[dt])
            loss = cupy.empty((N, S), dt) if red == 0 else None
            out = loss if red == 0 else cupy.empty((), dt)
            den = cupy.empty((), _ACC[dt])  # float32 for float16: a weight sum can pass 65504
            partial = cupy.empty(2 * max(nblocks, 1), _ACC[dt])
            if R:
                ks["sce_forward"]((nblocks,), (block,), (
                    x, t, np.int32(t64), weight, wsum, np.int64(R), np.int32(C), np.int64(S),
                    np.int64(ignore_index), np.float64(label_smoothing), np.int32(G),
                    stat, loss, partial, self._bad_label))
                self._labels_unchecked = True
            ks["sce_finish"]((1,), (_FINISH_THREADS,), (
                partial, np.int64(nblocks), np.int32(red), np.float64(-1),
                None if red == 0 else out, den))
        return out, stat, den

    def softmax_cross_entropy_backward(self, x, t, stat, g, den, weight,
                                       ignore_index, label_smoothing, reduction):
        """d loss / d x in one pass over x: (softmax - smoothed one-hot) * scale.

        g is the incoming gradient: 0-d for 'mean'/'sum', (N, S) for 'none'.
        """
        dt = x.dtype
        ks = self.kernels("softmax_cross_entropy.cu", dt)
        N, C, S = x.shape
        R = N * S
        red = _REDUCTION[reduction]
        with self._ctx:
            gx = cupy.empty((N, C, S), dt)
            if R == 0 or C == 0:
                return gx
            x = _contiguous(x)
            t, t64 = self._labels(t)
            weight, wsum = self._class_weights(weight, dt, label_smoothing)
            stat, g = self._backward_rows(stat, g, dt, N, S, red)
            den = den.astype(_ACC[dt], copy=False).reshape(()) if red == 2 else None
            G, block = _row_layout(C, S, R)
            ks["sce_backward"]((-(-R // (block // G)),), (block,), (
                x, t, np.int32(t64), weight, wsum, stat, g, np.int32(red == 0), den,
                np.int32(red), np.int64(R), np.int32(C), np.int64(S), np.int64(ignore_index),
                np.float64(label_smoothing), np.int32(G), gx))
        return gx

    # ---- fused softmax cross-entropy, class-probability targets -----------
    # Same contract and formulas as CPUBackend's (see cpu.py): x and t (N, C, S).
    def softmax_cross_entropy_probs_forward(self, x, t, weight, label_smoothing, reduction):
        """Returns (loss, stat): stat (3, N, S), each row's max, log-sum of exps and
        target mass in the accumulation dtype."""
        dt = x.dtype
        ks = self.kernels("softmax_cross_entropy.cu", dt)
        N, C, S = x.shape
        R = N * S
        red = _REDUCTION[reduction]
        work = R if C else 0  # no classes: every row's loss is an empty sum, 0
        G, block = _row_layout(C, S, R)
        nblocks = -(-work // (block // G))
        with self._ctx:
            stat = (cupy.empty if work else cupy.zeros)((3, N, S), _ACC[dt])
            loss = (cupy.empty if work else cupy.zeros)((N, S), dt) if red == 0 else None
            out = loss if red == 0 else cupy.empty((), dt)
            partial = cupy.empty(2 * max(nblocks, 1), _ACC[dt])
            if work:
                x, t = _contiguous(x), _contiguous(t)
                weight, _ = self._class_weights(weight, dt, False)  # these kernels take no sum
                ks["sce_soft_forward"]((nblocks,), (block,), (
                    x, t, weight, np.int64(R), np.int32(C), np.int64(S),
                    np.float64(label_smoothing), np.int32(G), stat, loss, partial))
            if red:
                # the mean divides by the rows; by 0 (NaN, as in PyTorch) when x is empty
                ks["sce_finish"]((1,), (_FINISH_THREADS,), (
                    partial, np.int64(nblocks), np.int32(red), np.float64(work),
                    out, cupy.empty((), _ACC[dt])))
        return out, stat

    def softmax_cross_entropy_probs_backward(self, x, t, stat, g, weight, label_smoothing,
                                             reduction, need_x=True, need_t=False):
        """(d loss/d x or None, d loss/d t or None) in one pass (see cpu.py)."""
        dt = x.dtype
        ks = self.kernels("softmax_cross_entropy.cu", dt)
        N, C, S = x.shape
        R = N * S
        red = _REDUCTION[reduction]
        with self._ctx:
            gx = cupy.empty((N, C, S), dt) if need_x else None
            gt = cupy.empty((N, C, S), dt) if need_t else None
            if R == 0 or C == 0 or not (need_x or need_t):
                return gx, gt
            x, t = _contiguous(x), _contiguous(t)
            weight, _ = self._class_weights(weight, dt, False)  # these kernels take no sum
            stat, g = self._backward_rows(stat, g, dt, N, S, red)
            G, block = _row_layout(C, S, R)
            ks["sce_soft_backward"]((-(-R // (block // G)),), (block,), (
                x, t, weight, stat, g, np.int32(red == 0), np.int32(red), np.float64(R),
                np.int64(R), np.int32(C), np.int64(S), np.float64(label_smoothing),
                np.int32(G), gx, gt))
        return gx, gt



def make(index):
    index = 0 if index is None else index
    reason = unavailable_reason(index)
    if reason:
        raise CUDAUnavailableError(reason)
    return CUDABackend(index)
