"""Elementwise functions. Sigmoid is fused: its forward and backward are backend kernels.

The transcendental ones (exp, log, sqrt, tanh, sigmoid, sin, cos, softplus) of an
int or bool tensor give float32 without a gradient, as in PyTorch.
"""
from __future__ import annotations

import math

from ..autograd import Function, _wrap
from ..autograd.function import apply1, apply2
from ..errors import DtypeError
from ..tensor import Tensor
from . import _common as rule

__all__ = ["exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "leaky_relu", "softplus",
           "sin", "cos"]


def _floating(op, x):
    """x as a float tensor: an int or bool one becomes float32 (PyTorch's default dtype;
    it carries no gradient either way)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__module__}.{type(x).__name__}")
    kind = x._data.dtype.kind
    if kind == "f":
        return x
    if kind in "biu":
        return _wrap(x._data.astype("float32"), x._backend)
    raise DtypeError(f"{op}: expected a floating point, integer or bool tensor, got "
                     f"{x._data.dtype} (shape {tuple(x.shape)})")


def _number(op, name, value):
    """A number argument (int or float, not bool), else TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return value


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
        X = x._data
        if ctx.needs_input_grad[0]:
            # torch's sgn: 0 at 0 (the subgradient PyTorch uses) and at NaN (xp.sign: NaN),
            # so a NaN in x gets no gradient; a multiply, as torch's rule is
            ctx.save_for_backward(xp.subtract(X > 0, X < 0, dtype=X.dtype))
        return xp.abs(X)

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
        # A large y that nothing else holds, on its last use: the gradient takes its
        # memory (one array less at the peak, and none to allocate), where the backend can.
        if not isinstance(y, Tensor) and y.size >= _TAKE_MIN:
            into = getattr(ctx.backend, "sigmoid_backward_into", None)
            if into is not None and ctx._take_saved(y):
                return into(y, g)
        return _sigmoid_backward(ctx, y, g)


# Elements from which taking y pays: at 100 000 float32 elements the allocating kernel was
# quicker (taking: 1.13-1.27x its time, the freed block comes back hot), at 512 x 1024
# taking was (0.58-0.72x: a block that size is a fresh mapping, faulted in page by page).
_TAKE_MIN = 1 << 18


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
    """gy * y * (1 - y): the kernel on arrays, the recorded op on Tensors."""
    # On arrays the kernel itself; on Tensors the op, so that it is recorded.
    if isinstance(y, Tensor):
        return apply2(SigmoidBackward, y, gy)
    return ctx.backend.sigmoid_backward(y, gy)


class Relu(Function):
    @staticmethod
    def forward(ctx, x):
        X = x._data
        xp = ctx.backend.xp
        zero = X.dtype.type(0)
        y = xp.maximum(X, zero)  # X * (X > 0) is NaN at -inf
        if ctx.needs_input_grad[0]:
            # torch's threshold_backward: 0 where y <= 0, g elsewhere (at a NaN too)
            ctx.save_for_backward(rule.keep_mask(xp, y <= zero))
        return y

    @staticmethod
    def backward(ctx, g):
        # A select, not g * a 0/1 mask: a NaN or inf in g must not reach the elements
        # whose derivative is 0 (NaN * 0 is NaN; torch gives 0 there).
        (mask,) = ctx.saved_tensors
        return rule.keep(ctx, g, mask)


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
    """log(1 + exp(beta x)) / beta without overflow, and x itself where beta x > threshold
    (PyTorch's); the derivative is sigmoid(beta x), and 1 on the linear part."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        X = x._data
        ctx.beta, ctx.threshold = beta, threshold
        ctx.save_for_backward(x)
        bx = X * beta if beta != 1 else X
        y = ctx.backend.xp.logaddexp(X.dtype.type(0), bx)
        if beta != 1:
            y /= beta
        return ctx.backend.xp.where(bx > threshold, X, y)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        beta = ctx.beta
        bx = x * beta if beta != 1 else x
        linear = rule.arr(bx) > ctx.threshold
        if isinstance(x, Tensor):
            return g * rule.where(ctx, linear, 1.0, apply1(Sigmoid, bx)), None, None
        s = ctx.backend.sigmoid_stable(bx)
        return g * ctx.backend.xp.where(linear, s.dtype.type(1), s), None, None


class Sin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.xp.sin(x._data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (cos(x) if isinstance(x, Tensor) else ctx.backend.xp.cos(x))


class Cos(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.backend.xp.cos(x._data)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -(g * (sin(x) if isinstance(x, Tensor) else ctx.backend.xp.sin(x)))


def exp(x):
    """e ** x, elementwise."""
    return apply1(Exp, _floating("exp", x))


def log(x):
    """Natural logarithm, elementwise."""
    return apply1(Log, _floating("log", x))


def sqrt(x):
    """Square root, elementwise."""
    return apply1(Sqrt, _floating("sqrt", x))


def abs(x):
    """|x|, elementwise; the gradient at 0 is 0 (PyTorch's subgradient)."""
    return apply1(Abs, x)


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    return apply1(Tanh, _floating("tanh", x))


def sigmoid(x):
    """1 / (1 + exp(-x)), elementwise (a fused kernel on CUDA)."""
    if isinstance(x, Tensor) and x._data.dtype.kind == "f":  # _floating's common case
        return apply1(Sigmoid, x)
    return apply1(Sigmoid, _floating("sigmoid", x))


def relu(x):
    """max(x, 0), elementwise; the gradient at 0 is 0."""
    return apply1(Relu, x)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, negative_slope * x elsewhere."""
    if not isinstance(negative_slope, (int, float)) or isinstance(negative_slope, bool):
        raise TypeError(f"leaky_relu: negative_slope must be a number, got {negative_slope!r}")
    return apply2(LeakyRelu, x, negative_slope)


def softplus(x, beta=1, threshold=20):
    """log(1 + exp(beta x)) / beta, and x where beta x > threshold (torch's softplus)."""
    x = _floating("softplus", x)
    beta = _number("softplus", "beta", beta)
    threshold = _number("softplus", "threshold", threshold)
    if beta == 0 or math.isnan(beta):
        raise ValueError(f"softplus: beta must be a nonzero number, got {beta!r}")
    return Softplus.apply(x, beta, threshold)


def sin(x):
    """Sine, elementwise (radians)."""
    return apply1(Sin, _floating("sin", x))


def cos(x):
    """Cosine, elementwise (radians)."""
    return apply1(Cos, _floating("cos", x))
