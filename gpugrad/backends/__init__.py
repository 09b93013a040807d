"""Devices and the backend registry.

A backend is the one place that knows an array library: it hands ops their
array module (`xp`) and the fused kernels, and moves arrays to and from the
host. The engine and the ops only ever talk to a backend object, so adding a
device means registering one factory here, nothing else.
"""
from __future__ import annotations

import importlib

from ..errors import DeviceError

__all__ = ["Device", "device", "get_backend", "register_backend",
           "get_default_device", "set_default_device"]


class Device:
    """A place where arrays live: `cpu`, or `cuda:N`."""

    __slots__ = ("type", "index")

    def __init__(self, type: str, index: int | None = None):
        # One device, one spelling, one backend object: the host has no index, every
        # other device has one ('cuda' is cuda:0), also for a Device built by hand.
        if type == "cpu":
            if index not in (None, 0):
                raise DeviceError(f"device: the CPU has no index, got {index!r}")
            index = None
        elif index is None:
            index = 0
        self.type = type
        self.index = index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device('{self}')"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = _parse(other)
            except ValueError:  # not a device we know: not this one
                return False
        return (isinstance(other, Device) and self.type == other.type
                and self.index == other.index)

    def __hash__(self):  # as its canonical string's, since it equals that string
        return hash(str(self))


# type name -> (module, attribute) of a factory `make(index) -> backend`.
# Modules are imported on first use: `import gpugrad` must work on a machine
# where the CUDA module's own imports (CuPy) would fail.
_FACTORIES: dict[str, tuple[str, str]] = {
    "cpu": ("gpugrad.backends.cpu", "make"),
    "cuda": ("gpugrad.backends.cuda", "make"),
}
_backends: dict[Device, object] = {}


def register_backend(type: str, module: str, attr: str = "make"):
    """Register a device type whose backend factory is `module.attr(index)`."""
    _FACTORIES[type] = (module, attr)


def _parse(spec) -> Device:
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0' or a Device, got {spec!r}")
    name, _, idx = spec.partition(":")
    if name not in _FACTORIES:
        raise DeviceError(f"device: unknown device type {name!r} in {spec!r}; "
                          f"known: {sorted(_FACTORIES)}")
    if name == "cpu":
        if idx not in ("", "0"):
            raise DeviceError(f"device: the CPU has no index, got {spec!r}")
        return Device("cpu")
    if idx and not (idx.isascii() and idx.isdigit()):
        raise DeviceError(f"device: bad device index in {spec!r}")
    return Device(name, int(idx) if idx else 0)


def device(spec) -> Device:
    """`gg.device('cpu')`, `gg.device('cuda')`, `gg.device('cuda:1')`."""
    return _parse(spec)


def get_backend(spec=None):
    """The backend object for a device (the default device when None)."""
    dev = _default if spec is None else _parse(spec)
    backend = _backends.get(dev)
    if backend is None:
        module, attr = _FACTORIES[dev.type]
        backend = getattr(importlib.import_module(module), attr)(dev.index)
        if not hasattr(backend, "float_state"):
            # Optional: (var, states), a context variable set to states[var.get()] while an
            # op's forward or a backward run is under way (cpu.py's keeps NumPy's warnings
            # at the user's line); a library that warns about nothing needs none.
            backend.float_state = None
        _backends[dev] = backend
    return backend


_default = Device("cpu")


def get_default_device() -> Device:
    """The device that tensors are made on when none is given (CPU unless set)."""
    return _default


def set_default_device(spec) -> None:
    """Where `gg.tensor` puts new tensors when no device is given."""
    global _default
    dev = _parse(spec)
    get_backend(dev)  # fail now, with the backend's own message, not at first use
    _default = dev
