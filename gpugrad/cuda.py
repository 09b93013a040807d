"""`gg.cuda`: is a GPU usable, how many, and waiting for one.

Importable on any machine: CuPy is imported only inside the functions, and
every question about a missing CuPy, driver or GPU is answered, not raised.
"""
from __future__ import annotations

from .errors import DeviceError

__all__ = ["is_available", "device_count", "synchronize", "CUDAUnavailableError"]

_INSTALL = ("`pip install gpugrad[cuda]` (cupy-cuda12x: any driver from CUDA 12 on) or "
            "`pip install gpugrad[cuda13]` (cupy-cuda13x: needs a CUDA 13 driver); "
            "`nvidia-smi` shows the driver's CUDA version.")


class CUDAUnavailableError(DeviceError, ImportError):
    """No usable CUDA device. A DeviceError (so a RuntimeError) for callers asking for
    a device, and an ImportError for code importing the CUDA backend module."""


def _broken(e):
    return (f"CUDA device requested, but CuPy failed to import ({type(e).__name__}: {e}). "
            f"Reinstall exactly one CuPy wheel: {_INSTALL}")


def unavailable_reason(index: int | None = None) -> str | None:
    """Why CUDA device `index` (any device if None) cannot be used, with the fix; None if it can."""
    try:
        import cupy
    except ModuleNotFoundError as e:
        if e.name == "cupy":
            return f"CUDA device requested, but CuPy is not installed. Install it: {_INSTALL}"
        return _broken(e)
    except Exception as e:  # installed but broken: wrong wheel for the toolkit, missing libraries
        return _broken(e)
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        status = getattr(e, "status", None)
        if status == 100:  # cudaErrorNoDevice
            n = 0
        elif status == 35:  # cudaErrorInsufficientDriver: no driver at all, or too old
            return (f"CUDA device requested, but no NVIDIA driver was found, or it is older "
                    f"than this CuPy's CUDA runtime ({e}). Install or upgrade the driver "
                    f"(`nvidia-smi` should list the GPU), or use the CuPy wheel that matches "
                    f"the driver: {_INSTALL}")
        else:
            return (f"CUDA device requested, but the CUDA driver could not be used "
                    f"({type(e).__name__}: {e}). Check that the NVIDIA driver is installed and "
                    f"loaded (`nvidia-smi` should list the GPU).")
    if n == 0:
        return ("CUDA device requested, but no CUDA GPU is visible (check `nvidia-smi` and "
                "CUDA_VISIBLE_DEVICES), or use device 'cpu'.")
    if index is not None and not 0 <= index < n:
        have = "cuda:0" if n == 1 else f"cuda:0 .. cuda:{n - 1}"
        return (f"CUDA device cuda:{index} requested, but {n} GPU{'' if n == 1 else 's'} "
                f"{'is' if n == 1 else 'are'} visible: use {have} (CUDA_VISIBLE_DEVICES "
                "selects which GPUs are visible).")
    return None


def is_available() -> bool:
    """True when CuPy imports, a driver answers and at least one GPU is visible."""
    try:
        return unavailable_reason() is None
    except Exception:  # never let a probe break a CPU-only program
        return False


def device_count() -> int:
    """How many CUDA GPUs are visible; 0 without CuPy, driver or GPU."""
    if not is_available():
        return 0
    import cupy
    return cupy.cuda.runtime.getDeviceCount()


def synchronize(device=None) -> None:
    """Wait for all work queued on a CUDA device (cuda:0 / the given one).

    Also where a deferred error surfaces: a softmax_cross_entropy label out of
    range, found on the GPU without stalling the forward, raises ValueError here.
    """
    from .backends import device as parse, get_backend
    dev = parse(f"cuda:{device}" if isinstance(device, int) else device or "cuda")
    if dev.type != "cuda":
        raise DeviceError(f"synchronize: expected a CUDA device, got '{dev}'")
    get_backend(dev).synchronize()
