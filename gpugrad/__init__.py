"""gpugrad: reverse-mode autodiff on NumPy (CPU) and CuPy (CUDA)."""
from . import cuda, errors  # noqa: F401
from .autograd import (Function, detect_anomaly, enable_grad, grad,  # noqa: F401
                       is_anomaly_check_nan_enabled, is_anomaly_enabled, is_grad_enabled,
                       no_grad, set_detect_anomaly, set_grad_enabled)
from .backends import Device, device, get_default_device, set_default_device  # noqa: F401
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401
from .ops import *  # noqa: F401,F403
from .tensor import (Tensor, bool_, float16, float32, float64, from_dlpack,  # noqa: F401
                     from_numpy, int32, int64, tensor)
from .creation import *  # noqa: F401,F403,E402
from .random import *  # noqa: F401,F403,E402
from .serialization import *  # noqa: F401,F403,E402
# The training stack sits on the core's public API above.
from . import nn, optim, utils, viz  # noqa: F401,E402

__version__ = "0.1.0"
