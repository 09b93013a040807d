"""Anomaly mode: find the op that made a NaN or an inf, and the user's line that ran it.

While it is on (in this thread), every node recorded keeps the Python stack of the
forward call that created it, and, with check_nan, an op whose forward output or
whose backward gradient holds NaN or inf raises RuntimeError at that op, naming it,
its shapes, and that stack. Off by default; when off it costs nothing on the lean
path of apply (turned off globally while any thread has the mode on: the generic
path records the same graph) and one flag test per op elsewhere.
"""
from __future__ import annotations

import functools
import inspect
import os
import threading
import traceback

from . import function as _function
from .grad_mode import _mode

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled"]

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_lock = threading.Lock()
_threads_on = [0]  # threads with the mode on; while any is, apply skips its lean branch


def is_anomaly_enabled() -> bool:
    """Whether anomaly mode is on (in this thread)."""
    return _mode.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly mode checks for NaN and inf (in this thread)."""
    return _mode.check_nan


def _set(mode, check_nan):
    was = _mode.anomaly
    _mode.anomaly = mode
    _mode.check_nan = check_nan
    if mode != was:
        with _lock:
            _threads_on[0] += 1 if mode else -1
            _function._lean[0] = _threads_on[0] == 0


class set_detect_anomaly:
    """Anomaly mode on or off: called as a plain function (`gg.set_detect_anomaly(True)`)
    from here on; as a `with` body or a decorator, there only, as in PyTorch."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.mode = bool(mode)
        self.check_nan = bool(check_nan)
        self.prev = []
        self._before = (_mode.anomaly, _mode.check_nan)
        _set(self.mode, self.check_nan)

    def __enter__(self):
        before, self._before = self._before, None
        self.prev.append((_mode.anomaly, _mode.check_nan) if before is None else before)
        _set(self.mode, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set(*self.prev.pop())

    def __call__(self, fn):
        if self._before is not None:  # a decorator: the plain call's effect goes
            _set(*self._before)
            self._before = None
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: decorates a function, got "
                            f"{type(fn).__name__}")
        mode, check_nan = self.mode, self.check_nan
        if inspect.isgeneratorfunction(fn):
            raise TypeError(f"{type(self).__name__}: cannot decorate a generator function")

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_detect_anomaly(mode, check_nan):
                return fn(*args, **kwargs)
        return wrapper


class detect_anomaly(set_detect_anomaly):
    """`with gg.detect_anomaly():` or `@gg.detect_anomaly()` (`@gg.detect_anomaly` too):
    anomaly mode on for that body. Debugging only: it makes every op slower."""

    def __new__(cls, fn=None, check_nan=True):
        self = object.__new__(cls)
        if callable(fn):  # used as a bare decorator
            self.__init__(check_nan=check_nan)
            return self(fn)
        return self

    def __init__(self, fn=None, check_nan=True):
        if fn is not None and not callable(fn):  # detect_anomaly(False): check_nan
            check_nan = fn
        self.mode = True
        self.check_nan = bool(check_nan)
        self.prev = []
        self._before = None  # takes effect at __enter__ or at each decorated call


def _user_stack():
    """The stack of the current call, without gpugrad's own frames, formatted."""
    frames = [f for f in traceback.extract_stack()[:-1] if not f.filename.startswith(_PKG)]
    return "".join(traceback.format_list(frames))


def _shape(x):
    s = getattr(x, "shape", None)
    return None if s is None else tuple(s)


def _finite(arr, backend):
    if getattr(arr, "dtype", None) is None:
        arr = backend.asarray(arr)
    if arr.dtype.kind not in "fc":
        return True
    return bool(backend.xp.isfinite(arr).all())


def _what(arr, backend):
    return "nan" if bool(backend.xp.isnan(arr).any()) else "inf"


def _stack_text(stack):
    if not stack:
        return ("\n(no forward stack: the node was recorded while anomaly mode was off)")
    return "\nTraceback of the forward call that created the node:\n" + stack.rstrip("\n")


def _check_forward(cls, args, outs, stack):
    T = _function.Tensor
    for i, t in enumerate(outs):
        if not isinstance(t, T):
            continue
        arr = t._data
        if not _finite(arr, t._backend):
            ins = [_shape(a) for a in args if isinstance(a, T)]
            raise RuntimeError(
                f"anomaly mode: Function '{cls.__name__}Backward' returned "
                f"{_what(arr, t._backend)} values in output {i} of its forward (output shape "
                f"{tuple(arr.shape)}, input shapes {ins}){_stack_text(stack)}")


def _check_backward(node, gin, grads):
    """Called by the engine on a node's gradients, once its rule has run."""
    T = _function.Tensor
    backend = node.backend
    for i, (e, g) in enumerate(zip(node._next, gin)):
        if g is None or not e:
            continue
        arr = g._data if isinstance(g, T) else g
        if not _finite(arr, backend):
            arr = backend.asarray(arr)
            outg = [_shape(x._data if isinstance(x, T) else x) for x in
                    (grads if isinstance(grads, list) else [grads])]
            raise RuntimeError(
                f"anomaly mode: Function '{node.name()}' returned {_what(arr, backend)} "
                f"values in its backward, in the gradient for input {i} (shape "
                f"{tuple(arr.shape)}, input shape {tuple(e[2])}, output gradient shapes "
                f"{outg}){_stack_text(node._fwd_stack)}")
