"""Differentiable ops, by family. Each op's forward and derivative rule sit side by side."""
from .arith import (add, div, matmul, maximum, minimum, mul, neg, pow, sub,  # noqa: F401
                    where)
from .loss import (binary_cross_entropy_with_logits, log_softmax, mse_loss,  # noqa: F401
                   softmax, softmax_cross_entropy)
from .reduce import max, mean, min, sum  # noqa: F401
from .shape import (broadcast_to, cast, clone, concatenate, getitem, index_put,  # noqa: F401
                    permute, reshape, squeeze, stack, sum_to, to_device, transpose,
                    unsqueeze)
from .unary import (abs, exp, leaky_relu, log, relu, sigmoid, softplus, sqrt,  # noqa: F401
                    tanh)

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "matmul", "maximum", "minimum", "where",
           "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "leaky_relu", "softplus",
           "sum", "mean", "max", "min",
           "reshape", "transpose", "permute", "squeeze", "unsqueeze", "broadcast_to", "sum_to", "concatenate", "stack",
           "clone", "softmax", "log_softmax", "softmax_cross_entropy", "mse_loss",
           "binary_cross_entropy_with_logits"]
