"""Layers: Linear, Identity, Flatten, Dropout, LayerNorm, Embedding and the activations."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import creation as _creation
from .. import ops as _ops
from ..autograd import no_grad as _no_grad
from ..errors import DtypeError, ShapeError
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["Identity", "Linear", "Flatten", "Dropout", "LayerNorm", "Embedding", "ReLU",
           "LeakyReLU", "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax"]


def _float_dtype(op, dtype):
    """A module's parameter dtype: float32 by default, as PyTorch's; floats only."""
    if dtype is None:
        return np.dtype("float32")
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise DtypeError(f"{op}: parameters must be floating point, got dtype {dt}")
    return dt


def _count(op, name, n):
    # A float or a str is the wrong type (TypeError, as PyTorch's); a negative count is a
    # negative dimension (PyTorch's RuntimeError), so a ShapeError.
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"{op}: {name} must be an int >= 0, got {n!r}")
    if n < 0:
        raise ShapeError(f"{op}: {name} must be an int >= 0, got {n!r}")
    return int(n)


def _empty_parameter(shape, device, dtype):
    return Parameter(_creation.empty(shape, dtype=dtype, device=device))


class Identity(Module):
    """Returns its input (any arguments to the constructor are ignored, as in PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        """The input itself."""
        return input


class Linear(Module):
    """y = x W^T + b with W (out_features, in_features), b (out_features,).

    Initialised as PyTorch's: W and b from U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = _count("Linear", "in_features", in_features)
        self.out_features = _count("Linear", "out_features", out_features)
        dtype = _float_dtype("Linear", dtype)
        self.weight = _empty_parameter((self.out_features, self.in_features), device, dtype)
        if bias:
            self.bias = _empty_parameter((self.out_features,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Draw W with kaiming_uniform_(a=sqrt(5)) and b from U(-bound, bound),
        bound = 1/sqrt(fan_in): PyTorch's defaults."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        """input @ weight.T + bias."""
        p = self._parameters  # one dict read, not two misses through __getattr__
        try:
            w, b = p["weight"], p["bias"]
        except KeyError:  # deleted, or replaced by a plain attribute (reparametrised)
            w, b = self.weight, self.bias
        return F.linear(input, w, b)

    def extra_repr(self):
        """The arguments, as torch's repr shows them."""
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Flatten(Module):
    """Flattens dims start_dim..end_dim into one (by default all but the batch dim)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        """gg.flatten(input, start_dim, end_dim)."""
        return _ops.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self):
        """The arguments, as torch's repr shows them."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class _InPlace(Module):
    """An elementwise module with PyTorch's `inplace` flag: write the result into the
    input and return it (recorded as `x[...] = y`)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, input):
        """The function, written back into input when inplace."""
        y = self._fn(input)
        return F._in_place(input, y) if self.inplace and y is not input else y

    def extra_repr(self):
        """The arguments, as torch's repr shows them."""
        return "inplace=True" if self.inplace else ""


class Dropout(_InPlace):
    """Zeroes each element with probability p while training and scales the rest by
    1/(1-p); the identity in eval mode."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__(inplace)
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p!r}")
        self.p = p

    def _fn(self, input):
        return _ops.dropout(input, self.p, self.training)

    def extra_repr(self):
        """The arguments, as torch's repr shows them."""
        return f"p={self.p}, inplace={self.inplace}"


class ReLU(_InPlace):
    """max(x, 0)."""

    def _fn(self, input):
        return _ops.relu(input)


class LeakyReLU(_InPlace):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__(inplace)
        self.negative_slope = negative_slope

    def _fn(self, input):
        return _ops.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        """The arguments, as torch's repr shows them."""
        return f"negative_slope={self.negative_slope}" + \
            (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, input):
        """gg.sigmoid(input)."""
        return _ops.sigmoid(input)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, input):
        """gg.tanh(input)."""
        return _ops.tanh(input)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        """gg.softplus(input, beta, threshold)."""
        return _ops.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        """The arguments, as torch's repr shows them."""
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """softmax along dim (which must be given before the module is called)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        """F.softmax(input, self.dim)."""
        return F.softmax(input, self.dim)

    def extra_repr(self):
        """The arguments, as torch's repr shows them."""
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log_softmax along dim (which must be given before the module is called)."""

    def forward(self, input):
        """F.log_softmax(input, self.dim)."""
        return F.log_softmax(input, self.dim)


class LayerNorm(Module):
    """Normalises over the last dims (normalized_shape) to mean 0 and variance 1, then
    scales by weight (ones) and shifts by bias (zeros) when elementwise_affine."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = F._normalized_shape("LayerNorm", normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = _float_dtype("LayerNorm", dtype)
        if elementwise_affine:
            self.weight = Parameter(_creation.ones(self.normalized_shape, dtype=dtype,
                                                   device=device))
        else:
            self.register_parameter("weight", None)
        if elementwise_affine and bias:
            self.bias = Parameter(_creation.zeros(self.normalized_shape, dtype=dtype,
                                                  device=device))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self):
        """weight to ones, bias to zeros."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        """F.layer_norm(input, normalized_shape, weight, bias, eps)."""
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        """The arguments, as torch's repr shows them."""
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine="
                f"{self.elementwise_affine}, bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table: row i of weight (num_embeddings, embedding_dim) for index i.

    weight starts as N(0, 1) draws, as PyTorch's; the padding_idx row starts at zero
    and gets no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__()
        # torch's parameters in torch's places, so that positional arguments land where
        # they do there; the three features behind them are refused, not ignored.
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError(f"Embedding: max_norm={max_norm!r}, scale_grad_by_freq="
                                      f"{scale_grad_by_freq!r}, sparse={sparse!r}: only the "
                                      "defaults (None, False, False) are supported")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        self.num_embeddings = _count("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = _count("Embedding", "embedding_dim", embedding_dim)
        if padding_idx is not None:
            padding_idx = F._padding_idx("Embedding", padding_idx, self.num_embeddings)
        self.padding_idx = padding_idx
        if _weight is None:
            dtype = _float_dtype("Embedding", dtype)
            self.weight = _empty_parameter((self.num_embeddings, self.embedding_dim), device,
                                           dtype)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ShapeError(f"Embedding: _weight of shape {tuple(_weight.shape)} does not "
                                 f"match ({self.num_embeddings}, {self.embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self):
        """weight from N(0, 1), then the padding row to zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with _no_grad():
                self.weight[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is the 2-D tensor embeddings (shared, not copied);
        freeze=True keeps it out of training (requires_grad=False)."""
        if embeddings.ndim != 2:
            raise ShapeError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings,
                   _freeze=freeze)

    def forward(self, input):
        """F.embedding(input, weight, padding_idx)."""
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        """The arguments, as torch's repr shows them."""
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.norm_type != 2:  # as torch's, which prints it only when not 2
            s += f", norm_type={self.norm_type}"
        return s

