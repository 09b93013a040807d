"""The NumPy backend.

Its fused ops are the reference the CUDA kernels are tested against, so they
favour exactness and stability first, then as few passes over memory as NumPy
allows (in-place ufuncs with `out=` instead of temporaries).
"""
from __future__ import annotations

import os
import sys
import warnings

import numpy as np

from ..errors import _PKG  # the package's folder: frames inside it are gpugrad's
from . import Device, get_backend

try:  # NumPy's error state is this context variable: setting it is quicker than errstate
    from numpy._core._ufunc_config import _extobj_contextvar as _EXTOBJ
    from numpy._core.umath import _make_extobj
except ImportError:  # another NumPy: np.errstate does the same, more slowly
    _EXTOBJ = None


class CPUBackend:
    name = "cpu"
    xp = np
    array_type = np.ndarray
    # (var, states): while an op's forward or a backward run is under way, var is set to
    # states[var.get()] (backends/__init__.py). Here NumPy's error state, so that its
    # floating-point warnings point at the user's line (see _Relocated below).
    float_state = None  # set below

    def __init__(self):
        self.device = Device("cpu")

    def __reduce__(self):
        # One backend object per device: ops compare backends by identity, so a copy
        # (deepcopy, pickle) must come back as the registered one.
        return get_backend, (str(self.device),)

    # ---- arrays -------------------------------------------------------
    def is_array(self, obj) -> bool:
        return isinstance(obj, np.ndarray)

    def asarray(self, data, dtype=None):
        return np.asarray(data, dtype=dtype)

    def from_numpy(self, a: np.ndarray):
        return a

    def to_numpy(self, a) -> np.ndarray:
        return a

    def from_dlpack(self, obj):
        return np.from_dlpack(obj)

    def scatter_add(self, target, index, values):
        np.add.at(target, index, values)

    def synchronize(self):
        pass

    def matmul(self, a, b):
        if a.dtype.char == "e" and b.dtype.char == "e":
            # NumPy's float16 product adds without BLAS and loses digits over a long
            # inner axis: in float32 through BLAS, rounded once (and much faster).
            return (a.astype(_F32) @ b.astype(_F32)).astype(a.dtype)
        return a @ b

    def sigmoid_stable(self, x):
        """sigmoid that keeps subnormal results (x in (-104, -88.7) for float32), where
        1/(1+exp(-x)) overflows to 0: exp(x)/(1+exp(x)) below 0. Slower than
        sigmoid_forward; for rules that need the small values (softplus's)."""
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))

    # ---- fused sigmoid ------------------------------------------------
    def sigmoid_forward(self, x):
        # 1/(1+exp(-x)) keeps full relative precision for x << 0, where the
        # tanh form cancels. exp overflows to inf for x < -88 (float32),
        # and 1/inf is the correct 0: the overflow warning is noise.
        # Four passes in one buffer, as NumPy's temporary elision would make,
        # without its per-temporary checks.
        if x.dtype.char == "e":
            # float16 in float32, rounded once, as the CUDA kernel does: exp(-x) in
            # float16 overflows already below -11.1, where sigmoid is still 1e-5.
            return self.sigmoid_forward(x.astype(_F32)).astype(x.dtype)
        y = -x
        if type(y) is not np.ndarray:  # a 0-d x gives a scalar; out= needs an array
            y = np.asarray(y)
        if _EXTOBJ is None:
            _exp_overflow_ok(y, out=y)
        else:  # np.errstate(over="ignore") around the exp, for a fifth of its cost
            token = _EXTOBJ.set(_QUIET_OVERFLOW[_EXTOBJ.get()])
            try:
                np.exp(y, out=y)
            finally:
                _EXTOBJ.reset(token)
        y += _ONE  # a float32 one: NumPy converts a Python 1 on every call
        np.reciprocal(y, out=y)
        return y

    def sigmoid_backward(self, y, gy):
        if y.dtype.char == "e":  # in float32, rounded once, as the CUDA kernel
            return self.sigmoid_backward(y.astype(_F32), gy.astype(_F32)).astype(y.dtype)
        gx = _ONE - y
        gx *= y
        gx *= gy
        return gx

    def sigmoid_backward_into(self, y, gy):
        """sigmoid_backward in y's memory (y is not needed after): the same products in
        the same order, a block of rows at a time, so the temporary stays small."""
        if y.dtype.char == "e" or y.ndim == 0 or not y.flags.writeable:
            return self.sigmoid_backward(y, gy)
        step = max(1, _BLOCK // max(y.size // y.shape[0], 1))
        t = np.empty_like(y[:step])  # the one temporary
        for r in range(0, y.shape[0], step):
            yr = y[r:r + step]
            tr = t[:len(yr)]
            np.subtract(_ONE, yr, out=tr)
            yr *= tr  # (1 - y) y: the same product as sigmoid_backward's
            yr *= gy[r:r + step]
        return y

    # ---- fused softmax cross-entropy ----------------------------------
    # Shapes: x (N, C, S) with the class axis in the middle (S = 1 for 2-D
    # logits), t (N, S) integer labels, weight (C,) or None. Per row r with
    # label t (not ignored), eps = label_smoothing, w_t = weight[t] (1 if no
    # weight), W = sum(weight) (C if none):
    #   loss_r = (1-eps) w_t (lse_r - x_t) + eps/C * (W lse_r - sum_c w_c x_c)
    # and the mean divides by den = sum of w_t over non-ignored rows, which is
    # PyTorch's definition for every option combination. lse_r = m_r + l_r (the
    # row's max, and the log of its sum of exp(x - m)) is never formed: x - lse
    # would lose l's digits when |x| is large (1e4 in float16, 1e6 in float32), so
    # every difference is taken from m first: lse_r - x_t = l_r - (x_t - m_r).
    @staticmethod
    def _targets(x, ca, t, weight, ignore_index, shape=None):
        """(valid, tt, w_t): the mask of kept rows, labels safe to index with,
        and each row's class weight (x: the logits laid out with classes on axis ca).

        When every label is a class and none is ignored (the usual case),
        valid is None and w_t is None without a weight: no masks to apply.
        Labels are checked only when the logits' shape is given for the message
        (the forward; the backward trusts it).
        """
        C = x.shape[ca]
        if t.size:
            # One reduction for 0 <= t < C: negative labels wrap to huge unsigned ones.
            u = t.view(_unsigned(t.dtype)) if t.dtype.kind == "i" else t
            if _MAX(u, axis=None) < C and not 0 <= ignore_index < C:
                return None, t, None if weight is None else weight[t]
        valid = t != ignore_index
        if shape is not None:
            bad = valid & ((t < 0) | (t >= C))
            if bad.any():
                raise ValueError(
                    f"softmax_cross_entropy: label {int(t[bad].flat[0])} is outside [0, {C}) "
                    f"for logits of shape {shape} and is not ignore_index "
                    f"({ignore_index})")
        if valid.all():  # an ignore_index among the classes, used by no row
            return None, t, None if weight is None else weight[t]
        tt = np.where(valid, t, 0)
        w_t = valid.astype(x.dtype) if weight is None else weight[tt] * valid
        return valid, tt, w_t

    @staticmethod
    def _compute_dtype(x):
        # float16 accumulates in float32: a float16 sum over a long row
        # overflows or loses every small term.
        return _F32 if x.dtype.char == "e" else x.dtype

    @staticmethod
    def _layout(x, t, cdt, classes_first):
        """(x, t, ca): the logits in the compute dtype with the classes along axis ca,
        and the labels as one value per position with a length-1 class axis (so that
        every per-position value broadcasts over the classes).

        Rows first: views, (N, C) when there is one position per row (S = 1, the
        usual case: NumPy reduces and gathers faster over (N, C) than over (N, C, 1)),
        else (N, C, S). Classes first: a (C, N*S) copy, for reductions over few
        classes: NumPy reduces across rows at vector speed, where each short row of
        (N, C) costs it about 0.1 µs (the max over 64 x 10: 6 µs, against 0.5 for the
        copy and 1.2 for the max across rows).
        """
        N, C, S = x.shape
        if classes_first:  # one call converts and lays out
            xc = np.ascontiguousarray(x.transpose(1, 0, 2), dtype=cdt)
            return xc.reshape(C, N * S), t.reshape(1, N * S), 0
        x = x.astype(cdt, copy=False)
        if S == 1:
            return x.reshape(N, C), t.reshape(N, 1), 1
        return x, t.reshape(N, 1, S), 1

    def softmax_cross_entropy_forward(self, x, t, weight, ignore_index,
                                      label_smoothing, reduction):
        """Returns (loss, stat, den): stat (2, N, S), each row's m and l in the compute
        dtype, is all the backward needs."""
        out_dtype = x.dtype
        cdt = self._compute_dtype(x)
        if weight is not None:
            weight = weight.astype(cdt, copy=False)
        N, C, S = x.shape
        shape = (N, C) if S == 1 else (N, C, S)
        # Few classes: summed in order along the class axis (at most _FEW_CLASSES - 1
        # roundings), where the rows-first sum is NumPy's pairwise one.
        x, t, ca = self._layout(x, t, cdt, C <= _FEW_CLASSES)
        valid, tt, w_t = self._targets(x, ca, t, weight, ignore_index, shape)
        stat = np.empty((2,) + t.shape, cdt)
        m, logsum = stat[0], stat[1]  # views: filled in place, returned without a copy
        np.maximum.reduce(x, axis=ca, out=m, keepdims=True)
        e = x - m
        if label_smoothing:  # sum_c w_c (x_c - m), before e becomes exp(e)
            if weight is not None:
                e_w = e * weight.reshape((C,) + (1,) * (x.ndim - ca - 1))
            we = np.add.reduce(e if weight is None else e_w, axis=ca, keepdims=True)
        xt = e[_label_index(N, S, ca, tt)]  # x_t - m, the subtraction e already made
        np.exp(e, out=e)
        np.log(np.add.reduce(e, axis=ca, keepdims=True), out=logsum)
        del e
        loss = logsum - xt
        if weight is not None:  # w_t: each row's class weight
            loss *= w_t if not label_smoothing else w_t * (1 - label_smoothing)
        elif label_smoothing:
            loss *= 1 - label_smoothing
        if label_smoothing:
            smooth = (C if weight is None else weight.sum()) * logsum - we
            smooth *= label_smoothing / C
            loss += smooth
        if valid is not None:
            # Ignored rows add exactly 0, as in PyTorch and the CUDA kernel, also where
            # their logits are not finite (a product with a 0/1 mask gives NaN there).
            np.copyto(loss, 0, where=~valid)
        # den keeps the compute dtype: in float16 a weight sum over more than
        # 65504 rows is inf, and the mean's gradient would silently be zero.
        den = np.asarray(N * S if w_t is None else w_t.sum(), dtype=cdt)
        if reduction == "none":
            out = loss.reshape(N, S)
        elif reduction == "sum":
            out = _SUM(loss, axis=None)
        else:
            # 0/0 (every target ignored) is NaN, as in PyTorch.
            out = _SUM(loss, axis=None) / den if den else np.asarray(np.nan)
        return np.asarray(out, dtype=out_dtype), stat.reshape(2, N, S), den

    def softmax_cross_entropy_backward(self, x, t, stat, g, den, weight,
                                       ignore_index, label_smoothing, reduction):
        """d loss / d x in one pass over x: (softmax - smoothed one-hot) * scale.

        g is the incoming gradient: 0-d for 'mean'/'sum', (N, S) for 'none'.
        """
        out_dtype = x.dtype
        cdt = self._compute_dtype(x)
        shape = x.shape
        N, C, S = shape
        # Rows first: no reduction here, and the gradient comes out in the logits' layout.
        x, t, ca = self._layout(x, t, cdt, False)
        # (2, N, 1[, S]): each row's m and l, ready to broadcast over its classes
        stat = stat.astype(cdt, copy=False).reshape((2,) + t.shape)
        g = g.astype(cdt, copy=False)
        if g.ndim:
            g = g.reshape(t.shape)
        if weight is not None:
            weight = weight.astype(cdt, copy=False)
        eps = label_smoothing
        if weight is None and N * S <= _EXACT_COUNT.get(cdt.char, 0) and float(den) == N * S:
            # The forward counted every row as kept (and checked the labels, which the
            # saved-tensor version check guards since): no labels to scan again.
            valid, tt, w_t = None, t, None
        else:
            valid, tt, w_t = self._targets(x, ca, t, weight, ignore_index)
        if reduction == "mean":
            # den is 0 only when every row is ignored: their gradient is 0 below.
            g = g / den.astype(cdt, copy=False) if den else np.zeros_like(g)
        # scale_r: 0-d for 'mean'/'sum' when no row is ignored, else one per row;
        # ignored rows get exactly zero, also when g/den is inf (all ignored).
        scale = g if valid is None else np.where(valid, g, 0).astype(cdt, copy=False)
        if w_t is not None:
            hot = scale * w_t * (1 - eps)
        else:
            hot = scale * (1 - eps) if eps else scale  # x * 1 is x: no pass
        a = hot + scale * (eps / C * (C if weight is None else weight.sum())) if eps else hot
        gx = np.subtract(x, stat[0], order="C")  # C order for the flat index below
        gx -= stat[1]
        np.exp(gx, out=gx)
        gx *= a
        # Through the flat index: NumPy's read-modify-write by one index array costs
        # about 2 µs less than by two (64 rows).
        gx.reshape(-1)[_label_flat(N, C, S, tt)] -= hot
        if eps:
            smooth = scale * (eps / C)
            gx -= smooth if weight is None else smooth * weight.reshape((C,) + (1,) * (x.ndim - 2))
        return gx.reshape(shape).astype(out_dtype, copy=False)

    # ---- fused softmax cross-entropy, class-probability targets ---------
    # x and t (N, C, S), weight (C,) or None. Per row r, with t' = (1-eps) t + eps/C
    # (PyTorch's order of operations), wt_c = w_c t'_c, A = sum_c wt_c, m the row's
    # max and l the log of its sum of exp(x - m):
    #   loss_r = -sum_c wt_c log_softmax_c = A l - sum_c wt_c (x_c - m)
    # 'mean' divides the sum by the rows N*S (PyTorch: numel / C), NaN when x is empty.
    # The backward needs (m, l, A) per row: stat (3, N, S).
    @staticmethod
    def _smoothed(t, weight, eps, C):
        """wt = w * ((1-eps) t + eps/C), broadcast over (N, C, S)."""
        wt = t * (1 - eps) + eps / C if eps else t
        return wt if weight is None else wt * weight[:, None]

    # Non-finite logits give NaN or inf losses, as in PyTorch: the answer, not a warning.
    @np.errstate(invalid="ignore", divide="ignore")
    def softmax_cross_entropy_probs_forward(self, x, t, weight, label_smoothing, reduction):
        """Returns (loss, stat): stat (3, N, S) holds each row's m, l and A."""
        out_dtype = x.dtype
        cdt = self._compute_dtype(x)
        x, t = x.astype(cdt, copy=False), t.astype(cdt, copy=False)
        N, C, S = x.shape
        stat = np.zeros((3, N, S), cdt)
        if x.size:
            m, logsum, mass = stat
            np.maximum.reduce(x, axis=1, out=m)
            e = x - m[:, None]
            wt = self._smoothed(t, None if weight is None else weight.astype(cdt, copy=False),
                                label_smoothing, C)
            np.sum(wt, axis=1, out=mass)
            dot = (wt * e).sum(axis=1)
            np.exp(e, out=e)
            np.log(e.sum(axis=1), out=logsum)
            del e, wt
            loss = mass * logsum
            loss -= dot
        else:  # no classes (or no rows): each row's sum is empty, its loss 0
            loss = np.zeros((N, S), cdt)
        if reduction == "none":
            out = loss
        elif reduction == "sum":
            out = loss.sum()
        else:
            out = loss.sum() / (N * S) if x.size else np.asarray(np.nan)
        return np.asarray(out, dtype=out_dtype), stat

    @np.errstate(invalid="ignore", divide="ignore")
    def softmax_cross_entropy_probs_backward(self, x, t, stat, g, weight, label_smoothing,
                                             reduction, need_x=True, need_t=False):
        """(d loss/d x or None, d loss/d t or None) in one pass over x (and t for d x):
        d x_c = s (A softmax_c - wt_c), d t_c = s (1-eps) w_c (l - (x_c - m)), with s the
        row's factor: g per row ('none'), g ('sum') or g / (N*S) ('mean')."""
        out_dtype = x.dtype
        if x.size == 0:
            return (np.zeros(x.shape, out_dtype) if need_x else None,
                    np.zeros(x.shape, out_dtype) if need_t else None)
        cdt = self._compute_dtype(x)
        N, C, S = x.shape
        x = x.astype(cdt, copy=False)
        stat = stat.astype(cdt, copy=False)[:, :, None]  # (3, N, 1, S): over the classes
        g = g.astype(cdt, copy=False)
        s = g.reshape(N, 1, S) if g.ndim else g
        if reduction == "mean":
            s = s / cdt.type(max(N * S, 1))
        if weight is not None:
            weight = weight.astype(cdt, copy=False)
        eps = label_smoothing
        gx = gt = None
        neg_logp = x - stat[0]  # l - (x - m): the row's -log_softmax
        np.subtract(stat[1], neg_logp, out=neg_logp)
        if need_t:
            f = s * (1 - eps)
            gt = neg_logp * (f if weight is None else f * weight[:, None])
        if need_x:
            wt = self._smoothed(t.astype(cdt, copy=False), weight, eps, C)
            gx = np.negative(neg_logp, out=neg_logp)
            np.exp(gx, out=gx)
            gx *= s * stat[2]
            gx -= wt * s
        return (None if gx is None else gx.astype(out_dtype, copy=False),
                None if gt is None else gt.astype(out_dtype, copy=False))

    # ---- binary cross-entropy on probabilities ---------------------------
    def check_unit_interval(self, op, what, a):
        """Raise ValueError naming op when an element of a is outside [0, 1] (or NaN)."""
        if a.size and not (a.min() >= 0 and a.max() <= 1):
            bad = a[~((a >= 0) & (a <= 1))].flat[0]
            raise ValueError(f"{op}: all elements of {what} should be between 0 and 1, got "
                             f"{bad} in {what} of shape {a.shape}")

    def binary_cross_entropy_forward(self, x, t, weight):
        """The elementwise loss -w (t log x + (1-t) log(1-x)), each log clamped at -100."""
        self.check_unit_interval("binary_cross_entropy", "input", x)
        self.check_unit_interval("binary_cross_entropy", "target", t)
        with np.errstate(divide="ignore"):  # log(0) = -inf is clamped: not an error here
            return bce_loss(np, x, t, weight)

    def binary_cross_entropy_backward(self, x, t, weight, g, need_x, need_t):
        """(d/dx, d/dt) of the elementwise loss times g, PyTorch's formulas (or None)."""
        with np.errstate(divide="ignore"):
            return bce_grads(np, x, t, weight, g, need_x, need_t)


# float32(1e-12), PyTorch's clamp of x (1 - x) in the BCE gradient for every dtype
_BCE_EPS = 9.999999960041972e-13


def bce_loss(xp, x, t, weight):
    """(t - 1) max(log1p(-x), -100) - t max(log x, -100), times weight: PyTorch's form.
    Shared by the backends (xp: numpy or cupy)."""
    loss = xp.maximum(xp.log1p(-x), -100)
    loss *= t - 1
    loss -= t * xp.maximum(xp.log(x), -100)
    if weight is not None:
        loss *= weight
    return loss


def bce_grads(xp, x, t, weight, g, need_x, need_t):
    """PyTorch's BCE gradients: g w (x - t) / max((1 - x) x, 1e-12) for x, and the
    unclamped g w (log(1 - x) - log(x)) for t. g is 0-d or of x's shape."""
    if weight is not None:
        g = g * weight
    gx = gt = None
    if need_x:
        gx = g * (x - t) / xp.maximum((1 - x) * x, _BCE_EPS)
        gx = xp.broadcast_to(gx, x.shape).copy() if gx.shape != x.shape else gx
    if need_t:
        gt = g * (xp.log(1 - x) - xp.log(x))
        gt = xp.broadcast_to(gt, t.shape).copy() if gt.shape != t.shape else gt
    return gx, gt


_F32 = np.dtype(np.float32)
# 1 as a NumPy float32: a Python 1 costs NumPy a conversion per call (0.2 µs at any size);
# against a float64 array it is the same 1, and the result float64 (NEP 50).
_ONE = np.float32(1)
# ndarray.max() and .sum() without their Python wrappers (about 0.3 µs a call)
_MAX, _SUM = np.maximum.reduce, np.add.reduce
_BLOCK = 1 << 16  # elements of a temporary that sigmoid_backward_into works through
# Counts up to which a float of each compute dtype holds every integer (others: none
# assumed, and the backward scans the labels again).
_EXACT_COUNT = {"f": 2 ** 24, "d": 2 ** 53}


# Classes up to which the forward reduces over a classes-first copy (see _layout):
# measured faster up to about 64 classes at 64 to 1 024 rows, slower beyond.
_FEW_CLASSES = 32
# The unsigned type of each signed label dtype (byte order kept), for the
# one-reduction label check: filled as labels of each dtype come.
_UNSIGNED: dict = {}


def _unsigned(dtype):
    u = _UNSIGNED.get(dtype)
    if u is None:
        u = _UNSIGNED[dtype] = np.dtype(dtype.str.replace("i", "u"))
    return u


def _label_flat(N, C, S, tt):
    """The flat position of each position's label logit in a C-contiguous (N, C, S),
    from labels tt of shape (N, 1) (S = 1) or (N, 1, S)."""
    if S == 1:  # in the index type: uint64 + int64 labels would make float64
        return tt.astype(np.intp, copy=False) + np.arange(0, N * C, C)[:, None]
    # tt * S in the index type: small label types (uint8) would wrap
    return tt.astype(np.intp) * S + (np.arange(0, N * C * S, C * S)[:, None, None] +
                                     np.arange(S))


def _label_index(N, S, ca, tt):
    """The fancy index of each position's label logit in _layout's x (classes on axis
    ca), from its labels tt."""
    if ca == 0:
        return tt, np.arange(N * S)
    if S == 1:
        return np.arange(N)[:, None], tt
    return np.arange(N)[:, None, None], tt, np.arange(S)


# np.errstate as a decorator costs a third less per call than a `with` block
# (no instance to build and enter), and it is as thread-safe.
_exp_overflow_ok = np.errstate(over="ignore")(np.exp)


# ---- floating-point warnings at the user's line ---------------------------------------
# NumPy warns from the line that called the ufunc, a line of gpugrad. While gpugrad runs
# (float_state), each kind of error that the caller's NumPy setting would warn about is
# switched to NumPy's 'log' mode instead, whose writer warns again, naming the op, from the
# first frame outside gpugrad and NumPy. The rest of the caller's setting (ignore, raise,
# a callback of their own) stays as it is, and an errstate inside a kernel still rules there.
_NUMPY = os.path.dirname(os.path.abspath(np.__file__)) + os.sep


class _Relocated:
    """The writer of NumPy's 'log' mode, given 'Warning: <what> encountered in <ufunc>'."""

    def write(self, msg):
        text = msg.strip()
        if text.startswith("Warning: "):
            text = text[9:]
        frame, level, name, outer = sys._getframe(1), 2, None, None
        while frame is not None and frame.f_code.co_filename.startswith((_PKG, _NUMPY)):
            code = frame.f_code
            if code.co_filename.startswith(_PKG):
                outer = code.co_name
                if name is None and code.co_name in ("forward", "backward"):
                    ctx = frame.f_locals.get("ctx")
                    if ctx is not None:  # a node: the op's name, or its node's in backward
                        op = type(ctx).__name__
                        name = op + "Backward" if code.co_name == "backward" else "".join(
                            "_" + c.lower() if c.isupper() else c for c in op).lstrip("_")
            frame, level = frame.f_back, level + 1
        if name is None and outer is not None:  # no node: the function the user called
            name = outer.strip("_")
        warnings.warn(f"{name}: {text}" if name else text, RuntimeWarning, stacklevel=level)


_WRITER = _Relocated()


def _relocating_modes():
    """np.errstate's arguments that turn the current setting's 'warn' into our 'log'
    (none when nothing warns, or when the caller has a callback of their own)."""
    modes = np.geterr()
    call = np.geterrcall()
    if "warn" not in modes.values() or (call is not None and call is not _WRITER):
        return {}
    return dict({k: "log" if v == "warn" else v for k, v in modes.items()}, call=_WRITER)


class _States(dict):
    """The caller's error state -> the one to run under, made on first use (when NumPy's
    current state is the caller's) and kept; the states made map to themselves. Small:
    every np.errstate block makes a new state."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, cur):
        if len(self) > 64:
            self.clear()
        state = self[cur] = self.make(cur)
        self[state] = state
        return state


def _relocating(cur):
    modes = _relocating_modes()
    return _make_extobj(**modes) if modes else cur


class _Errstate:
    """float_state without NumPy's context variable: np.errstate, entered and left."""

    @staticmethod
    def get():
        return None

    @staticmethod
    def set(modes):
        state = np.errstate(**modes)
        state.__enter__()
        return state

    @staticmethod
    def reset(state):
        state.__exit__()


class _CurrentModes:
    def __getitem__(self, _):
        return _relocating_modes()


if _EXTOBJ is not None:
    CPUBackend.float_state = (_EXTOBJ, _States(_relocating))
    _QUIET_OVERFLOW = _States(lambda cur: _make_extobj(over="ignore"))
else:
    CPUBackend.float_state = (_Errstate, _CurrentModes())


def make(index):
    return CPUBackend()
