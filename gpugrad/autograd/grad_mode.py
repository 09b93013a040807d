"""Grad mode: whether ops record the graph (no_grad, enable_grad, set_grad_enabled).

One thread-local flag read by Function.apply; the engine also keeps here whether the
backward pass now running hands array rules raw arrays.
"""
from __future__ import annotations

import functools
import inspect
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]


class _Mode(threading.local):
    enabled = True
    arrays = False  # a backward pass that records nothing is running array rules
    # a backward pass frees each node's saved values once its rule has run (no
    # retain_graph): a rule may then take over a saved array (Function._take_saved)
    consume = False
    anomaly = False  # anomaly mode (anomaly.py): record forward stacks, check for NaN/inf
    check_nan = True


_mode = _Mode()


def is_grad_enabled() -> bool:
    """Whether ops record the graph now (in this thread)."""
    return _mode.enabled


class set_grad_enabled:
    """Sets grad mode: for a `with` body, for a decorated function's calls, or, called
    as a plain function (`gg.set_grad_enabled(False)`), from here on, as in PyTorch."""

    _before = None  # the mode a plain call replaced, until a `with` or decorator takes it

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = []
        # The plain call takes effect now; a `with` or a decorator puts it back.
        self._before = _mode.enabled
        _mode.enabled = self.mode

    def __enter__(self):
        before, self._before = self._before, None
        self.prev.append(_mode.enabled if before is None else before)
        _mode.enabled = self.mode

    def __exit__(self, *exc):
        _mode.enabled = self.prev.pop()

    def __call__(self, fn):
        if self._before is not None:
            _mode.enabled, self._before = self._before, None
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: decorates a function, got "
                            f"{type(fn).__name__}")
        mode = self.mode
        if inspect.isgeneratorfunction(fn):
            # The body runs at each next(), after the call has returned: the mode is
            # set around every resumption of it instead (PyTorch does the same).
            @functools.wraps(fn)
            def gen_wrapper(*args, **kwargs):
                gen = fn(*args, **kwargs)
                resume, value = gen.send, None
                while True:
                    try:
                        with set_grad_enabled(mode):
                            item = resume(value)
                    except StopIteration as stop:
                        return stop.value
                    try:
                        value, resume = (yield item), gen.send
                    except GeneratorExit:
                        with set_grad_enabled(mode):
                            gen.close()
                        raise
                    except BaseException as e:  # thrown into the wrapper: into the body
                        value, resume = e, gen.throw
            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(set_grad_enabled):
    """`with gg.no_grad():` or `@gg.no_grad()` / `@gg.no_grad`: record nothing."""

    _mode_value = False

    # An optimizer step enters one of these per parameter: built in __new__ alone
    # (object's __init__, a C call, runs after it), entered without the plain call's
    # bookkeeping, which no_grad() never does.
    def __new__(cls, fn=None):
        self = object.__new__(cls)
        self.mode = cls._mode_value
        if fn is not None:  # used as a bare decorator
            return self(fn)
        return self

    __init__ = object.__init__
    # The modes to restore, a stack as nested pairs (one instance may be entered again
    # inside its own `with`): no list to build per instance.
    prev = None

    def __enter__(self):
        self.prev = _mode.enabled, self.prev
        _mode.enabled = self.mode

    def __exit__(self, exc_type, exc, tb):
        _mode.enabled, self.prev = self.prev


class enable_grad(no_grad):
    """Turn recording back on inside a no_grad region."""

    _mode_value = True
