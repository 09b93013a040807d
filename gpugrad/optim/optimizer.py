"""Optimizer: parameter groups, per-parameter state, state_dict in PyTorch's layout.

A subclass names its defaults, checks its hyperparameters (`_check`), and
updates one parameter (`_update`) from that parameter's gradient array. The
update runs on the backend's arrays under no recording: on CUDA as one fused
kernel per parameter (gpugrad/optim/_kernels.py), elsewhere as in-place ufuncs
of the backend's array module (gpugrad/optim/_arrays.py), over cache-sized
slices on the host, reusing the optimizer's scratch buffers: after the first
step, a step allocates nothing.
"""
from __future__ import annotations

import math
import numbers
import warnings
from collections import defaultdict
from itertools import chain

from .. import backends
from ..autograd import enable_grad, no_grad
from ..errors import DeviceError, DtypeError, ShapeError
from ..tensor import Tensor, float32, from_dlpack, tensor
from . import _kernels

__all__ = ["Optimizer"]

# Bytes of one array per slice on the host path: a slice of the parameter, its
# gradient, its state and the scratch buffers (up to 7 arrays) stay within a core's
# L2 cache. Measured on a Xeon with 2 MiB L2 per core (10M-parameter Adam step):
# 64 KiB 42 ms, 128 KiB 34 ms, 256 KiB 33 ms, 512 KiB 45 ms, whole arrays 84 ms.
_CHUNK_BYTES = 128 * 1024


def _real(name, value, opt):
    """value as a Python float, or a TypeError naming the hyperparameter."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{opt}: {name} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    return float(value)


def _nonneg(opt, group, *names):
    for name in names:
        v = _real(name, group[name], opt)
        if not v >= 0.0:  # NaN fails too
            raise ValueError(f"{opt}: invalid {name} value: {group[name]!r} (expected >= 0)")


class Optimizer:
    """Base class of the optimizers: `params` is an iterable of Tensors or of dicts
    (parameter groups, each with its own options overriding `defaults`)."""

    # The state entries every update reads (those made later, when an option is switched
    # on, excepted): a loaded state without one failed at the next step, midway.
    _state_keys: tuple = ()

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._scratch: dict = {}
        name = type(self).__name__
        if isinstance(params, Tensor) or isinstance(params, dict):
            raise TypeError(f"{name}: params should be an iterable of Tensors or dicts, "
                            f"got a {type(params).__name__}")
        if isinstance(params, (set, frozenset)):
            # As add_param_group refuses: a set's order changes between runs, and with it
            # the parameter numbering of state_dict().
            raise TypeError(f"{name}: optimizer parameters need to be organized in ordered "
                            "collections, but the ordering of a set changes between runs; "
                            "use a list")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])

    # ---- groups ----------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (the rest from defaults)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict, got "
                            f"{type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError(f"{name}.add_param_group: the group has no 'params'")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: optimizer parameters need to be organized in ordered "
                            "collections, but the ordering of a set changes between runs; "
                            "use a list")
        params = list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but params[{i}] is a "
                                f"{type(p).__module__}.{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (params[{i}], "
                                 f"shape {tuple(p.shape)}, made by {p.grad_fn!r})")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: can only optimize floating point Tensors, "
                                f"params[{i}] is {p.dtype}")
        if len({id(p) for p in params}) != len(params):
            warnings.warn(f"{name}: a parameter group contains the same parameter more than "
                          "once; it is updated once per step", UserWarning, stacklevel=2)
            params = list({id(p): p for p in params}.values())
        group["params"] = params
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self._check(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)
        self._init_group(group)

    def _check(self, group: dict) -> None:
        """Raise for a bad hyperparameter in group (subclasses)."""

    def _init_group(self, group: dict) -> None:
        """Create state that exists before the first step (Adagrad's)."""

    # ---- the step ----------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (set_to_none) or zero it in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:  # a create_graph gradient: keep its values only
                        g = p.grad = g.detach()
                    g.data.fill(0)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure()'s loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group) -> None:
        """The update of every parameter of group that has a gradient."""
        with no_grad():
            for p in group["params"]:
                if p.grad is not None:  # as in PyTorch: no gradient, no update, no state
                    self._step_one(group, p)

    def _step_one(self, group, p) -> None:
        """The update of parameter p (which has a gradient), under no_grad."""
        state = self.state.get(p)
        if state is None:  # kept only if the update makes some (not SGD's)
            state = {}
        for key, s in state.items():  # stale state: before _update advances 'step'
            if key != "step" and isinstance(s, Tensor) and (
                    s.data.dtype != p.data.dtype or type(s.data) is not type(p.data)):
                raise self._stale_state(p, s.data)
        self._update(group, p, p.grad.data, state)
        if state:
            self.state[p] = state
        # The arrays changed in place; re-assigning .data bumps the version
        # counter, as PyTorch's in-place update does, so a backward through a
        # graph that saved the old parameter raises instead of going wrong.
        p.data = p.data

    def _update(self, group, p, g, state) -> None:
        """Update parameter p (a Tensor) from its gradient array g (subclasses)."""
        raise NotImplementedError

    def _run(self, name, array_step, p, g, scalars, flags, state_arrays) -> None:
        """The update of one parameter: the fused kernel where the array module compiles
        one (CuPy), else `array_step` in the backend's array module."""
        a = p.data
        xp = _array_module(p, a)
        # Every hyperparameter rounded to the parameter's dtype first, as the kernel's
        # arguments are and as PyTorch rounds its scalars: a NumPy float64 lr or beta
        # would otherwise make NumPy compute a float32 update in float64, and lerp's
        # branch would be chosen on a weight the kernel never sees.
        scalars = tuple(a.dtype.type(s) for s in scalars)
        contiguous = True
        for s in state_arrays:
            if s is None:
                continue
            contiguous = contiguous and s.flags.c_contiguous
        if _fused(xp):
            if a.dtype in _kernels.KERNEL_DTYPES and contiguous:
                _kernels.launch(xp, name, a, g, scalars, flags, state_arrays)
                return
        elif a.size > _CHUNK_BYTES // a.itemsize and contiguous and \
                a.flags.c_contiguous and g.flags.c_contiguous:
            # On a host the dozen in-place passes of an update run over cache-sized
            # slices, one after another, instead of over whole parameters: each
            # slice's passes then hit the cache, not memory (bench/optim_step.py: 2.5x
            # faster). Elementwise arithmetic does not care where it is cut, so the
            # numbers are the same to the bit, and scratch is one slice, not a parameter.
            n = _CHUNK_BYTES // a.itemsize
            flat = [None if s is None else s.reshape(-1) for s in (a, g, *state_arrays)]
            slices = {}  # scratch buffer k of one slice, looked up once per parameter

            def buf(k):
                s = slices.get(k)
                if s is None:
                    s = slices[k] = self._buffer(xp, flat[0][:n], k)
                return s[:size]  # the slice's own length (the last one may be shorter)

            for lo in range(0, a.size, n):
                part = [None if s is None else s[lo:lo + n] for s in flat]
                size = part[0].size
                array_step(xp, part[0], part[1], scalars, flags, tuple(part[2:]), buf)
            return
        array_step(xp, a, g, scalars, flags, state_arrays, lambda k: self._buffer(xp, a, k))

    def _stale_state(self, p, s):
        """The error for state made before its parameter was converted (model.double() or
        .cuda() after the optimizer made state): NumPy would mix the dtypes silently.
        Checked as each parameter's update starts, so a model converted as a whole
        fails at its first parameter, before anything is updated."""
        cls = DtypeError if type(s) is type(p.data) else DeviceError
        return cls(f"{type(self).__name__}.step: the state of a parameter of shape "
                   f"{tuple(p.shape)} is a {s.dtype} {type(s).__module__} array, the "
                   f"parameter {p.dtype} on {p.device}: the parameter was converted (.to(), "
                   ".double(), .cuda()) after the optimizer made its state; convert the "
                   "model before building the optimizer, or load_state_dict() the "
                   "optimizer's state again (it casts the state to each parameter)")

    def _buffer(self, xp, like, k: int):
        """Scratch buffer k (0 or 1) shaped like `like`: kept between steps and shared by
        the parameters of one device and dtype, so steps allocate nothing."""
        key = (str(getattr(like, "device", "cpu")), like.dtype, k)
        buf = self._scratch.get(key)
        n = like.size
        if buf is None or buf.size < n:
            buf = self._scratch[key] = xp.empty(n, like.dtype)
        return buf[:n].reshape(like.shape)

    # ---- state ---------------------------------------------------------------------
    def _zeros(self, p, fill=0.0):
        """A state tensor of p's shape, dtype and device, C-contiguous."""
        xp = backends.get_backend(p.device).xp
        return _wrap_array(xp.full(p.shape, fill, dtype=p.dtype))

    @staticmethod
    def _new_step():
        return tensor(0.0, dtype=float32, device="cpu")

    @staticmethod
    def _advance(step_t) -> float:
        """Add one to a step counter (a CPU float32 0-d Tensor, as PyTorch keeps it)."""
        a = step_t.data
        a += 1
        return float(a)

    def state_dict(self) -> dict:
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}, as
        PyTorch: parameters become their running index over the groups; the state
        tensors are the optimizer's own (not copies)."""
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            for p in g["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in g["params"]]
            groups.append(packed)
        state = {index[id(p)]: v for p, v in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state_dict() of an optimizer over the same groups: hyperparameters
        are taken from it, state tensors are copied to each parameter's device and
        dtype (the step counters stay CPU float32)."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and "
                             f"'param_groups', got {_describe(state_dict)}")
        saved = state_dict["param_groups"]
        if not isinstance(saved, (list, tuple)) or not all(
                isinstance(s, dict) and "params" in s for s in saved):
            raise ValueError(f"{name}.load_state_dict: 'param_groups' must be a list of dicts "
                             f"that each have 'params', got {saved!r:.100}")
        if len(saved) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has {len(saved)} "
                             f"parameter groups, the optimizer has {len(self.param_groups)}")
        for i, (s, g) in enumerate(zip(saved, self.param_groups)):
            if len(s["params"]) != len(g["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has "
                                 f"{len(s['params'])} parameters in the state dict and "
                                 f"{len(g['params'])} in the optimizer")
        for i, s in enumerate(saved):
            # A group of another optimizer (SGD's into Adam) lacks options this one reads:
            # refused here, not a KeyError at the next step.
            lacking = [k for k in self.defaults if k not in s]
            if lacking:
                raise ValueError(f"{name}.load_state_dict: parameter group {i} of the state "
                                 f"dict lacks {', '.join(map(repr, lacking))} (is it the state "
                                 f"of another optimizer than {name}?)")
        if not isinstance(state_dict["state"], dict):
            raise ValueError(f"{name}.load_state_dict: 'state' must be a dict, got "
                             f"{_describe(state_dict['state'])}")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved),
                          chain.from_iterable(g["params"] for g in self.param_groups)))
        new_state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            p = id_map.get(int(k))
            if p is None:
                raise KeyError(f"{name}.load_state_dict: state for parameter {k!r}, which no "
                               "parameter group lists")
            if not isinstance(v, dict):
                raise ValueError(f"{name}.load_state_dict: the state of parameter {k!r} must "
                                 f"be a dict, got {_describe(v)}")
            lacking = [key for key in self._state_keys if v and key not in v]
            if lacking:
                raise ValueError(f"{name}.load_state_dict: the state of parameter {k!r} lacks "
                                 f"{', '.join(map(repr, lacking))} (it has "
                                 f"{', '.join(map(repr, v))})")
            new_state[p] = {key: _to_param(name, key, val, p) for key, val in v.items()}
        groups = []
        for s, g in zip(saved, self.param_groups):
            new = {k: v for k, v in s.items() if k != "params"}
            new["params"] = g["params"]
            self._check(new)
            groups.append(new)
        self.param_groups = groups
        self.state = new_state


# Array type -> the array module of the backends whose arrays are of that type (NumPy
# for the host, CuPy for every CUDA device), and whether it compiles fused kernels:
# looked up once per type, not per parameter and step (get_backend parses the device).
_modules: dict = {}


def _array_module(p, a):
    """The array module of p's backend; a is p.data."""
    xp = _modules.get(type(a))
    if xp is None:
        xp = _modules[type(a)] = backends.get_backend(p.device).xp
    return xp


_fused_cache: dict = {}


def _fused(xp) -> bool:
    """_kernels.has_kernels(xp), remembered per module."""
    f = _fused_cache.get(xp)
    if f is None:
        f = _fused_cache[xp] = _kernels.has_kernels(xp)
    return f


def _describe(obj):
    return f"keys {sorted(map(str, obj))}" if isinstance(obj, dict) else type(obj).__name__


def _wrap_array(a) -> Tensor:
    """A Tensor on an array without a copy (DLPack, the public zero-copy way in)."""
    return from_dlpack(a)


def _to_param(opt, key, value, p):
    """A loaded state value in p's terms: 'step' as a CPU float32 counter, other
    float tensors copied to p's device and dtype, everything else as is."""
    if key == "step":
        v = value.item() if isinstance(value, Tensor) else value
        v = _real("step", v, opt + ".load_state_dict")
        if not (v >= 0 and math.isfinite(v)):
            raise ValueError(f"{opt}.load_state_dict: bad step count {v!r}")
        t = Optimizer._new_step()
        t.data[...] = v
        return t
    if isinstance(value, Tensor):
        if value.dtype.kind == "f":
            if tuple(value.shape) != tuple(p.shape):
                raise ShapeError(f"{opt}.load_state_dict: state {key!r} has shape "
                                 f"{tuple(value.shape)}, its parameter {tuple(p.shape)}")
            value = value.to(device=p.device, dtype=p.dtype)
        xp = backends.get_backend(value.device).xp
        return _wrap_array(xp.array(value.data, order="C", copy=True))
    if hasattr(value, "shape"):
        # A NumPy array or another library's tensor: kept as is, the next step read its
        # .data (a memoryview, a torch tensor) and failed far from here.
        raise TypeError(f"{opt}.load_state_dict: state {key!r} is a "
                        f"{type(value).__module__}.{type(value).__name__} of shape "
                        f"{tuple(value.shape)}; expected a gpugrad Tensor")
    return value
