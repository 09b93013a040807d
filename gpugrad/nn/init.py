"""Weight initialisation, as torch.nn.init: each function fills a tensor in place (under
no_grad, so parameters can be filled) and returns it; the random ones take generator=."""
from __future__ import annotations

import math
import numbers
import warnings

from .. import random as _random
from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "ones_", "zeros_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d")


def calculate_gain(nonlinearity, param=None):
    """The gain PyTorch recommends for a nonlinearity (param: leaky_relu's slope)."""
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _check(op, tensor, floating=True):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a gpugrad Tensor, got "
                        f"{type(tensor).__module__}.{type(tensor).__name__}")
    if floating and tensor.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor, got {tensor.dtype} "
                        f"(shape {tuple(tensor.shape)})")


def _number(op, name, v):
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v):
        raise ValueError(f"{op}: {name} must be a finite number, got {v!r}")
    return float(v)


def _fill(tensor, value):
    with no_grad():
        tensor[...] = value
    return tensor


def _draw(fn, tensor, generator):
    return fn(tuple(tensor.shape), generator=generator, dtype=tensor.dtype, device=tensor.device)


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with draws from U(a, b)."""
    _check("uniform_", tensor)
    a, b = _number("uniform_", "a", a), _number("uniform_", "b", b)
    if a > b:
        raise ValueError(f"uniform_: expected a <= b, got a={a} and b={b}")
    return _fill(tensor, _draw(_random.rand, tensor, generator) * (b - a) + a)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with draws from N(mean, std**2)."""
    _check("normal_", tensor)
    mean, std = _number("normal_", "mean", mean), _number("normal_", "std", std)
    if std < 0:
        raise ValueError(f"normal_: expected std >= 0, got {std}")
    return _fill(tensor, _draw(_random.randn, tensor, generator) * std + mean)


def constant_(tensor, val):
    """Fill with val."""
    _check("constant_", tensor, floating=False)
    if not isinstance(val, numbers.Number):
        raise TypeError(f"constant_: val must be a number, got {val!r}")
    return _fill(tensor, val)


def ones_(tensor):
    """Fill with ones."""
    return constant_(tensor, 1)


def zeros_(tensor):
    """Fill with zeros."""
    return constant_(tensor, 0)


def _fans(op, tensor):
    """(fan_in, fan_out): dims 1 and 0 times the receptive field (dims 2 onwards)."""
    if tensor.ndim < 2:
        raise ValueError(f"{op}: fan in and fan out can not be computed for a tensor with "
                         f"fewer than 2 dimensions, got shape {tuple(tensor.shape)}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_fan_in_and_fan_out(tensor):
    """PyTorch's name for the fans of a weight (Linear's reset_parameters uses it)."""
    return _fans("calculate_fan_in_and_fan_out", tensor)


def _gain(op, gain):
    # A negative gain was refused by uniform_/normal_ under their own names.
    gain = _number(op, "gain", gain)
    if gain < 0:
        raise ValueError(f"{op}: gain must be >= 0, got {gain}")
    return gain


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    _check("xavier_uniform_", tensor)
    gain = _gain("xavier_uniform_", gain)
    fan_in, fan_out = _fans("xavier_uniform_", tensor)
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check("xavier_normal_", tensor)
    gain = _gain("xavier_normal_", gain)
    fan_in, fan_out = _fans("xavier_normal_", tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(op, tensor, a, mode, nonlinearity):
    """gain / sqrt(fan), or None for a tensor with no elements (nothing to fill)."""
    _check(op, tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode {mode!r} not supported, please use one of fan_in, "
                         "fan_out")
    if 0 in tuple(tensor.shape):
        warnings.warn(f"{op}: initializing a zero-element tensor is a no-op", stacklevel=3)
        return None
    fan_in, fan_out = _fans(op, tensor)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)."""
    std = _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: N(0, std**2) with std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a)."""
    std = _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)
