"""One `device` fixture runs every test on the CPU and, where CuPy and a GPU exist, on CUDA."""
import numpy as np
import pytest

import gpugrad as gg


def _cuda_reason():
    try:
        if gg.cuda.is_available():
            return None
    except Exception as e:  # a broken CuPy install is a reason to skip, not to crash collection
        return f"CUDA unavailable: {e}"
    return "CUDA unavailable: needs CuPy and a CUDA GPU"


CUDA_SKIP = _cuda_reason()
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    CUDA_SKIP is not None, reason=str(CUDA_SKIP))])]


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def rand(rng, shape, device="cpu", dtype=np.float64, requires_grad=True, low=None):
    a = rng.standard_normal(shape)
    if low is not None:  # keep log/sqrt/div inputs away from their singularities
        a = np.abs(a) + low
    return gg.tensor(a.astype(dtype), device=device, requires_grad=requires_grad)
