"""Elementwise functions. Sigmoid is fused: its forward and backward are backend kernels."""
from __future__ import annotations

from ..autograd import Function
from ..tensor import Tensor

__all__ = ["exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "leaky_relu", "softplus"]


def _floating(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor, got {x._data.dtype} "
                        f"(shape {tuple(x.shape)})")


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.xp.exp(x._data)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.xp.log(x._data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.xp.sqrt(x._data)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (2 * y)


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        xp = ctx.backend.xp
        ctx.save_for_backward(xp.sign(x._data))  # sign(0) = 0: the subgradient PyTorch uses
        return xp.abs(x._data)

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return g * s


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.xp.tanh(x._data)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        y = ctx.backend.sigmoid_forward(x._data)
        ctx.save_for_backward(y)  # the output alone: backward is y (1 - y) gy
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return _sigmoid_backward(ctx, y, g)


class SigmoidBackward(Function):
    """gx = gy * y * (1 - y) as one fused kernel, and itself differentiable."""

    @staticmethod
    def forward(ctx, y, gy):
        ny, ng = ctx.needs_input_grad
        ctx.save_for_backward(y if (ny or ng) else None, gy if ny else None)
        return ctx.backend.sigmoid_backward(y._data, gy._data)

    @staticmethod
    def backward(ctx, v):
        ny, ng = ctx.needs_input_grad
        y, gy = ctx.saved_tensors
        gy_ = _sigmoid_backward(ctx, y, v) if ng else None
        y_ = v * gy * (1 - 2 * y) if ny else None
        return y_, gy_


def _sigmoid_backward(ctx, y, gy):
    # On arrays the kernel itself; on Tensors the op, so that it is recorded.
    if isinstance(y, Tensor):
        return SigmoidBackward.apply(y, gy)
    return ctx.backend.sigmoid_backward(y, gy)


class Relu(Function):
    @staticmethod
    def forward(ctx, x):
        X = x._data
        y = ctx.backend.xp.maximum(X, X.dtype.type(0))  # X * (X > 0) is NaN at -inf
        ctx.save_for_backward((y > 0).astype(X.dtype))
        return y

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask


class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, x, negative_slope):
        X = x._data
        slope = ctx.backend.xp.where(X > 0, X.dtype.type(1), X.dtype.type(negative_slope))
        ctx.save_for_backward(slope)
        return X * slope

    @staticmethod
    def backward(ctx, g):
        (slope,) = ctx.saved_tensors
        return g * slope, None


class Softplus(Function):
    """log(1 + exp(x)) without overflow; its derivative is sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.xp.logaddexp(x._data.dtype.type(0), x._data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (Sigmoid.apply(x) if isinstance(x, Tensor) else ctx.backend.sigmoid_stable(x))


def exp(x):
    _floating("exp", x)
    return Exp.apply(x)


def log(x):
    _floating("log", x)
    return Log.apply(x)


def sqrt(x):
    _floating("sqrt", x)
    return Sqrt.apply(x)


def abs(x):
    return Abs.apply(x)


def tanh(x):
    _floating("tanh", x)
    return Tanh.apply(x)


def sigmoid(x):
    _floating("sigmoid", x)
    return Sigmoid.apply(x)


def relu(x):
    return Relu.apply(x)


def leaky_relu(x, negative_slope=0.01):
    if not isinstance(negative_slope, (int, float)) or isinstance(negative_slope, bool):
        raise TypeError(f"leaky_relu: negative_slope must be a number, got {negative_slope!r}")
    return LeakyRelu.apply(x, negative_slope)


def softplus(x):
    _floating("softplus", x)
    return Softplus.apply(x)
