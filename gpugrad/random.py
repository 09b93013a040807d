"""Random numbers: Generators (one stream each, on one device) and the draws built on them.

A Generator wraps its device's own generator, made by `backend.xp.random.default_rng`:
on the CPU NumPy's PCG64 seeded with the seed, so a seed gives the same numbers on
every run and platform; on CUDA CuPy's cuRAND generator, drawing on the GPU (its
numbers differ from the CPU's for the same seed, as in PyTorch). Every device has a
default generator, seeded from the OS until `gg.manual_seed(seed)` seeds them all.
"""
from __future__ import annotations

import numbers
import operator
import os

import numpy as np

from .autograd import _wrap
from .backends import Device, device as _parse_device, get_backend, get_default_device
from .creation import _check_grad, _dtype, _like, _new, _on, _size
from .errors import DeviceError, DtypeError, ShapeError
from .tensor import Tensor

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "default_generator",
           "get_rng_state", "set_rng_state", "rand", "randn", "randint", "randperm",
           "normal", "bernoulli", "rand_like", "randn_like", "randint_like"]

_NEW_GENERATOR_SEED = 67280421310721  # what a new torch.Generator() starts from
_FLOAT = np.dtype("float32")
_INT = np.dtype("int64")
_U64 = 1 << 64


def _seed_value(seed, op="manual_seed"):
    """A seed as an int in [0, 2**64): negative seeds wrap around, as in PyTorch."""
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"{op}: expected an int seed, got the bool {seed!r}")
    try:
        s = operator.index(seed)
    except TypeError:
        raise TypeError(f"{op}: expected an int seed, got {type(seed).__name__} "
                        f"{seed!r:.60}") from None
    if not -(1 << 63) <= s < _U64:
        raise ValueError(f"{op}: seed {s} is out of range [-2**63, 2**64)")
    return s % _U64


def _fresh_seed():
    return int.from_bytes(os.urandom(8), "little")


class Generator:
    """A stream of random numbers on one device (`Generator('cuda')`); pass it as
    `generator=` to a draw. A new one starts from a fixed seed, as PyTorch's does."""

    def __init__(self, device="cpu"):
        self._backend = get_backend(_parse_device(device))  # fails now if the device is absent
        self.manual_seed(_NEW_GENERATOR_SEED)

    @property
    def device(self) -> Device:
        """The device this generator draws on."""
        return self._backend.device

    def __repr__(self):
        return f"Generator(device='{self.device}', initial_seed={self._seed})"

    def manual_seed(self, seed) -> "Generator":
        """Restart the stream from seed (an int in [-2**63, 2**64)); returns self."""
        seed = _seed_value(seed)
        with _on(self._backend):
            self._rng = self._backend.xp.random.default_rng(seed)
        self._seed = seed
        return self

    def seed(self) -> int:
        """Restart the stream from a fresh seed from the OS; returns that seed."""
        s = _fresh_seed()
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed the stream was last started from."""
        return self._seed

    # The state is a CPU uint8 tensor, as PyTorch's: 8 bytes naming the bit generator,
    # the seed (8 bytes, little-endian), then the bit generator's own state.
    def get_state(self) -> Tensor:
        """A snapshot of the stream as a CPU uint8 tensor, for set_state."""
        name, payload = _bits_get(self._rng, self._backend)
        head = name.encode().ljust(8, b"\0")[:8] + self._seed.to_bytes(8, "little")
        data = np.frombuffer(head + payload, dtype=np.uint8).copy()
        return _wrap(data, get_backend("cpu"))

    def set_state(self, new_state) -> "Generator":
        """Continue the stream from a get_state() snapshot of a generator of this kind."""
        if not isinstance(new_state, Tensor) or new_state.dtype != np.uint8 or \
                new_state.ndim != 1:
            what = (f"{new_state.dtype} tensor of shape {tuple(new_state.shape)}"
                    if isinstance(new_state, Tensor) else type(new_state).__name__)
            raise TypeError(f"Generator.set_state: expected the 1-d uint8 tensor of "
                            f"get_state(), got a {what}")
        raw = new_state.numpy().tobytes()
        name = type(self._rng.bit_generator).__name__
        have = raw[:8].rstrip(b"\0").decode(errors="replace")
        if len(raw) < 16 or have != name:
            raise ValueError(f"Generator.set_state: the state is of a {have or '?'} generator, "
                             f"this one ({self.device}) is {name}")
        with _on(self._backend):
            _bits_set(self._rng, self._backend, raw[16:], self.device)  # checks, then writes
        self._seed = int.from_bytes(raw[8:16], "little")
        return self


def _bits_get(rng, backend):
    """(name, bytes) of a bit generator's state."""
    bg = rng.bit_generator
    st = bg.state
    if isinstance(st, dict):
        # NumPy: a dict of Python ints (PCG64: 128-bit state and increment, and one
        # buffered 32-bit half of a draw)
        s = st["state"]
        return type(bg).__name__, (s["state"].to_bytes(16, "little") +
                                   s["inc"].to_bytes(16, "little") +
                                   bytes([st["has_uint32"]]) +
                                   st["uinteger"].to_bytes(4, "little"))
    # CuPy: one cuRAND state per GPU thread, in device memory (BitGenerator._state);
    # CuPy has no public state API, so the bytes are copied out explicitly.
    return type(bg).__name__, backend.to_numpy(bg._state).tobytes()


def _bits_set(rng, backend, payload, device):
    bg = rng.bit_generator
    st = bg.state
    if isinstance(st, dict):
        if len(payload) != 37:
            raise ValueError(f"Generator.set_state: a {st['bit_generator']} state has 37 "
                             f"bytes after the header, got {len(payload)}")
        bg.state = {"bit_generator": st["bit_generator"],
                    "state": {"state": int.from_bytes(payload[:16], "little"),
                              "inc": int.from_bytes(payload[16:32], "little")},
                    "has_uint32": payload[32], "uinteger": int.from_bytes(payload[33:], "little")}
        return
    if len(payload) != bg._state.nbytes:
        raise ValueError(f"Generator.set_state: this {type(bg).__name__} generator on {device} "
                         f"has {bg._state.nbytes} bytes of state, got {len(payload)} (a state "
                         "from another GPU model?)")
    bg._state[...] = backend.from_numpy(np.frombuffer(payload, dtype=bg._state.dtype))


# ---- default generators -------------------------------------------------------------
_defaults: dict[Device, Generator] = {}
_global_seed: int | None = None  # the seed of every default generator, once set


def default_generator(device=None) -> Generator:
    """The default generator of a device (the default device when None)."""
    dev = get_default_device() if device is None else _parse_device(device)
    g = _defaults.get(dev)
    if g is None:
        # seeded once (a CUDA generator's seeding sets up a state per GPU thread)
        g = Generator.__new__(Generator)
        g._backend = get_backend(dev)
        g.manual_seed(_fresh_seed() if _global_seed is None else _global_seed)
        _defaults[dev] = g
    return g


_default = default_generator


def manual_seed(seed) -> Generator:
    """Seed the default generator of every device (also those not used yet); returns
    the CPU's, as torch.manual_seed does."""
    global _global_seed
    _global_seed = _seed_value(seed)
    for g in _defaults.values():
        g.manual_seed(_global_seed)
    return default_generator("cpu")


def seed() -> int:
    """Seed every device's default generator from the OS; returns the seed."""
    global _global_seed
    s = default_generator("cpu").seed()
    _global_seed = s
    for g in _defaults.values():
        g.manual_seed(s)
    return s


def initial_seed() -> int:
    """The seed of the CPU's default generator."""
    return default_generator("cpu").initial_seed()


def get_rng_state() -> Tensor:
    """The CPU default generator's state (a uint8 tensor)."""
    return default_generator("cpu").get_state()


def set_rng_state(new_state) -> None:
    """Restore the CPU default generator's state from get_rng_state()."""
    default_generator("cpu").set_state(new_state)


# ---- draws --------------------------------------------------------------------------
def _source(op, generator, device):
    """(backend, numpy/cupy Generator) for a draw on device (the default one when None)."""
    backend = get_backend(device)
    if generator is None:
        return backend, default_generator(backend.device)._rng
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be a gg.Generator, got {type(generator).__name__}")
    if generator._backend is not backend:
        raise DeviceError(f"{op}: the generator is on {generator.device} but the tensor is "
                          f"on {backend.device}; use a Generator('{backend.device}') or "
                          f"device='{generator.device}'")
    return backend, generator._rng


def _floating(op, dtype):
    if dtype.kind != "f":
        raise DtypeError(f"{op}: dtype must be floating point, got {dtype}")
    return dtype


def _uniform(rng, shape, dtype):
    """Uniform [0, 1) in dtype, drawn in dtype: float16 as k / 2**11 so it never
    rounds up to 1 (a float32 draw rounded to float16 could)."""
    if dtype.char == "e":
        k = rng.integers(0, 2048, size=shape, dtype=np.int64)
        return k.astype(dtype) * dtype.type(2.0 ** -11)
    return rng.random(shape, dtype=dtype)


def _std_normal(rng, shape, dtype):
    """Standard normal draws; float16 is drawn in float32 (the generators have no
    float16 normal) and left there for the caller to scale and round once."""
    return rng.standard_normal(shape, dtype=np.float32 if dtype.char == "e" else dtype)


def _std_normal_in(rng, shape, dtype):
    """_std_normal rounded to dtype (float16 once, from its float32 draws)."""
    return _std_normal(rng, shape, dtype).astype(dtype, copy=False)


def _float_draws(op, draw, size, generator, dtype, device, requires_grad):
    """rand / randn: a tensor of size (float32 by default) of draw(rng, shape, dtype)."""
    shape = _size(op, size)
    dtype = _floating(op, _dtype(op, dtype, _FLOAT))
    _check_grad(op, requires_grad, dtype)
    backend, rng = _source(op, generator, device)
    with _on(backend):
        arr = draw(rng, shape, dtype)
    return _new(arr, backend, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform draws from [0, 1): `rand(2, 3)` or `rand((2, 3))`; float32 by default."""
    return _float_draws("rand", _uniform, size, generator, dtype, device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal draws: `randn(2, 3)` or `randn((2, 3))`; float32 by default."""
    return _float_draws("randn", _std_normal_in, size, generator, dtype, device, requires_grad)


def _int_arg(op, name, v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) and \
            not (isinstance(v, Tensor) and v.dtype.kind in "iu"):
        raise TypeError(f"{op}: {name} must be an int, got {type(v).__name__} {v!r:.60}")
    return operator.index(v)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Integers drawn uniformly from [low, high): `randint(high, size)` or
    `randint(low, high, size)`, size a tuple; int64 by default."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high  # randint(high, size)
    if high is None:
        low, high = 0, low  # randint(high, size=...)
    if size is None:
        raise TypeError("randint: missing size (a tuple, e.g. randint(10, (3,)))")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint: size must be a tuple of ints, got {type(size).__name__} "
                        f"{size!r} (randint(low, high, size) or randint(high, size))")
    low, high = _int_arg("randint", "low", low), _int_arg("randint", "high", high)
    shape = _size("randint", (size,))
    dtype = _dtype("randint", dtype, _INT)
    _check_grad("randint", requires_grad, dtype)
    if low >= high:
        raise ValueError(f"randint: low must be less than high, got low={low} >= high={high}")
    # every dtype is drawn as int64, then cast (CuPy's integers adds low in the dtype
    # asked for, which a uint32 draw cannot always be cast to)
    big = np.iinfo(_INT)
    # a float dtype bounds the values too: float16 beyond 65504 would silently be inf
    small = (np.iinfo(dtype) if dtype.kind in "iu" else
             np.finfo(dtype) if dtype.kind == "f" else big)
    lo, hi = (0, 1) if dtype.kind == "b" else (max(int(small.min), big.min),
                                                min(int(small.max), big.max))
    if low < lo or high - 1 > hi:
        raise ValueError(f"randint: [{low}, {high}) is out of the range of {dtype} "
                         f"[{lo}, {hi}]")
    backend, rng = _source("randint", generator, device)
    with _on(backend):
        arr = rng.integers(low, high, size=shape, dtype=np.int64).astype(dtype, copy=False)
    return _new(arr, backend, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0 .. n-1; int64 by default."""
    n = _size("randperm", (n,))[0]
    dtype = _dtype("randperm", dtype, _INT)
    if dtype.kind == "b":
        raise DtypeError("randperm: dtype bool is not supported")
    if dtype.kind in "iu" and n and n - 1 > np.iinfo(dtype).max:
        raise ValueError(f"randperm: n={n} does not fit {dtype}")
    if dtype.kind == "f" and n - 1 > 2 ** (np.finfo(dtype).nmant + 1):
        # beyond, neighbouring integers round to one value: duplicates, not a permutation
        raise ValueError(f"randperm: n={n} is more than {dtype} holds exactly (at most "
                         f"{2 ** (np.finfo(dtype).nmant + 1) + 1}, as in PyTorch)")
    _check_grad("randperm", requires_grad, dtype)
    backend, rng = _source("randperm", generator, device)
    with _on(backend):
        if hasattr(rng, "permutation"):
            perm = rng.permutation(n)
        else:
            # CuPy's Generator has no permutation: the order that sorts n uniform draws
            # is a uniformly random permutation (ties, at 2**-53 per pair, still give one)
            perm = backend.xp.argsort(rng.random(n, dtype=np.float64))
        arr = perm.astype(dtype, copy=False)
    return _new(arr, backend, requires_grad)


def _nonneg_std(std):
    """Whether every std is >= 0 (NaN is not); reads one bool back from the device."""
    return bool((std >= 0).all())


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Normal draws: elementwise from tensor mean and/or std (their broadcast shape,
    dtype and device), or with numbers mean and std of the given size (float32 by
    default). No gradient flows to mean or std."""
    tm, ts = isinstance(mean, Tensor), isinstance(std, Tensor)
    if tm or ts:
        if size is not None or dtype is not None or device is not None or requires_grad:
            raise TypeError("normal: with a tensor mean or std the result takes their "
                            "shape, dtype and device; size, dtype, device and "
                            "requires_grad are for numbers mean and std")
        ref = mean if tm else std
        for name, t in (("mean", mean), ("std", std)):
            if isinstance(t, Tensor):
                if t.dtype.kind != "f":
                    raise DtypeError(f"normal: {name} must be a floating point tensor, got "
                                     f"{t.dtype}")
                if t.dtype != ref.dtype:
                    raise DtypeError(f"normal: mean is {mean.dtype} and std is {std.dtype}; "
                                     "gpugrad never promotes floats silently: cast one")
                if t.device != ref.device:
                    raise DeviceError(f"normal: mean is on {mean.device} and std on "
                                      f"{std.device}; move one with .to()")
            elif not isinstance(t, numbers.Real) or isinstance(t, (bool, np.bool_)):
                raise TypeError(f"normal: {name} must be a number or a tensor, got "
                                f"{type(t).__name__}")
        M = mean._data if tm else float(mean)
        S = std._data if ts else float(std)
        if not (_nonneg_std(S) if ts else S >= 0):  # PyTorch checks too (a sync on CUDA)
            got = "a negative or NaN element" if ts else S
            raise ValueError(f"normal: std must be >= 0, got {got}")
        try:
            shape = np.broadcast_shapes(M.shape if tm else (), S.shape if ts else ())
        except ValueError:
            raise ShapeError(f"normal: mean of shape {tuple(mean.shape)} and std of shape "
                             f"{tuple(std.shape)} do not broadcast") from None
        dtype = ref.dtype
        backend, rng = _source("normal", generator, ref.device)
    else:
        for name, v in (("mean", mean), ("std", std)):
            if not isinstance(v, numbers.Real) or isinstance(v, (bool, np.bool_)):
                raise TypeError(f"normal: {name} must be a number or a tensor, got "
                                f"{type(v).__name__}")
        M, S = float(mean), float(std)
        if not S >= 0:
            raise ValueError(f"normal: std must be >= 0, got {S}")
        if size is None:
            raise TypeError("normal: size is required when mean and std are numbers")
        shape = _size("normal", (size,))
        dtype = _floating("normal", _dtype("normal", dtype, _FLOAT))
        _check_grad("normal", requires_grad, dtype)
        backend, rng = _source("normal", generator, device)
    with _on(backend):
        z = _std_normal(rng, shape, dtype)
        arr = (z * S + M).astype(dtype, copy=False)
    return _new(arr, backend, requires_grad)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """1 with probability input (elementwise), or p for every element, else 0; input's
    shape, dtype and device. No gradient."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli: expected a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise DtypeError(f"bernoulli: expected a floating point tensor, got {input.dtype}")
    if p is None:
        P = input._data
        if P.size and not bool(((P >= 0) & (P <= 1)).all()):  # PyTorch checks too
            raise ValueError("bernoulli: probabilities must be in [0, 1]; input (shape "
                             f"{tuple(input.shape)}) has a value outside or NaN")
    else:
        if not isinstance(p, numbers.Real) or isinstance(p, (bool, np.bool_)):
            raise TypeError(f"bernoulli: p must be a number, got {type(p).__name__}")
        P = float(p)
        if not 0 <= P <= 1:
            raise ValueError(f"bernoulli: p must be in [0, 1], got {p}")
    backend, rng = _source("bernoulli", generator, input.device)
    dtype = input.dtype
    with _on(backend):
        u = rng.random(input.shape, dtype=np.float32 if dtype.char == "e" else dtype)
        arr = (u < P).astype(dtype)  # u < 1 always and u < 0 never: p = 1, 0 are exact
    return _new(arr, backend, False)


def rand_like(input, *, generator=None, dtype=None, device=None,
              requires_grad=False) -> Tensor:
    """rand of input's shape, with its dtype and device unless given."""
    t = _like("rand_like", input)
    return rand(t.shape, generator=generator, dtype=t.dtype if dtype is None else dtype,
                device=t.device if device is None else device, requires_grad=requires_grad)


def randn_like(input, *, generator=None, dtype=None, device=None,
               requires_grad=False) -> Tensor:
    """randn of input's shape, with its dtype and device unless given."""
    t = _like("randn_like", input)
    return randn(t.shape, generator=generator, dtype=t.dtype if dtype is None else dtype,
                 device=t.device if device is None else device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, device=None,
                 requires_grad=False) -> Tensor:
    """randint of input's shape (`randint_like(x, high)` or `(x, low, high)`), with its
    dtype and device unless given."""
    t = _like("randint_like", input)
    return randint(low, high, tuple(t.shape), generator=generator,
                   dtype=t.dtype if dtype is None else dtype,
                   device=t.device if device is None else device, requires_grad=requires_grad)
