"""gpugrad.nn.functional: the functional ops under PyTorch's torch.nn.functional names.

Most names are gpugrad's own ops (F.relu is gg.relu, F.cross_entropy is
gg.softmax_cross_entropy); linear, layer_norm, embedding, softmax, log_softmax and
dropout are written here, composed from those ops, with PyTorch's signatures.
"""
from __future__ import annotations

import numbers

from .. import ops as _ops
from ..ops import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                   leaky_relu, mse_loss, one_hot, relu, sigmoid, softplus, tanh)
from ..ops import softmax_cross_entropy as cross_entropy  # noqa: F401
from ..tensor import Tensor

__all__ = ["relu", "sigmoid", "tanh", "leaky_relu", "softplus", "softmax", "log_softmax",
           "dropout", "linear", "layer_norm", "embedding", "one_hot", "cross_entropy",
           "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"]


def _tensor(op, x, what="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {what} must be a gpugrad Tensor, got "
                        f"{type(x).__module__}.{type(x).__name__}")


def _in_place(x, y):
    """PyTorch's inplace=True: write y into x and hand x back (recorded like x[...] = y)."""
    x[...] = y
    return x


def _softmax_dim(op, dim):
    if dim is None:
        # PyTorch's implicit choice (dim 0 for 0/1/3-d inputs, else 1) is deprecated there
        # and is a silent guess: gpugrad asks.
        raise TypeError(f"{op}: pass dim explicitly (the axis to normalise over)")
    return dim


def softmax(input, dim=None, dtype=None):
    """torch.nn.functional.softmax: softmax along dim (required), after casting to dtype."""
    _tensor("softmax", input)
    if dtype is not None:
        input = input.to(dtype)
    return _ops.softmax(input, _softmax_dim("softmax", dim))


def log_softmax(input, dim=None, dtype=None):
    """torch.nn.functional.log_softmax: log-softmax along dim (required)."""
    _tensor("log_softmax", input)
    if dtype is not None:
        input = input.to(dtype)
    return _ops.log_softmax(input, _softmax_dim("log_softmax", dim))


def dropout(input, p=0.5, training=True, inplace=False, *, generator=None):
    """torch.nn.functional.dropout: gg.dropout, with PyTorch's argument order."""
    y = _ops.dropout(input, p, training, generator=generator)
    return _in_place(input, y) if inplace and y is not input else y


def linear(input, weight, bias=None):
    """input @ weight.T + bias, weight of shape (out_features, in_features)."""
    _tensor("linear", input)
    _tensor("linear", weight, "weight")
    if input.ndim == 0 or weight.ndim != 2 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {tuple(input.shape)} does not fit weight of "
                         f"shape {tuple(weight.shape)} (expected input (*, in_features) and "
                         "weight (out_features, in_features))")
    out = input @ weight.T
    if bias is not None:
        _tensor("linear", bias, "bias")
        out = out + bias  # broadcast, as PyTorch's addmm
    return out


def _normalized_shape(op, shape):
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        return (int(shape),)
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{op}: normalized_shape must be an int or a sequence of ints, got "
                        f"{shape!r}") from None


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) over the last len(normalized_shape) dims (biased var),
    then * weight + bias; composed of differentiable ops."""
    _tensor("layer_norm", input)
    shape = _normalized_shape("layer_norm", normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ValueError(f"layer_norm: given normalized_shape={list(shape)}, expected input "
                         f"with shape [*, {', '.join(map(str, shape))}], but got input of "
                         f"shape {tuple(input.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            _tensor("layer_norm", p, name)
            if tuple(p.shape) != shape:
                raise ValueError(f"layer_norm: {name} of shape {tuple(p.shape)} differs from "
                                 f"normalized_shape {shape}")
    axes = tuple(range(input.ndim - k, input.ndim))
    centred = input - input.mean(axes, keepdims=True)
    var = (centred * centred).mean(axes, keepdims=True)
    out = centred / _ops.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def embedding(input, weight, padding_idx=None):
    """Rows of weight picked by the integer tensor input: shape input.shape + (dim,).
    Entries equal to padding_idx pass no gradient to their row (its value is still read)."""
    _tensor("embedding", input)
    _tensor("embedding", weight, "weight")
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be an integer tensor, got {input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    n = weight.shape[0]
    idx = input.data
    if idx.size and bool(((idx < 0) | (idx >= n)).any()):  # NumPy would wrap a negative one
        lo, hi = int(idx.min()), int(idx.max())
        raise IndexError(f"embedding: index out of range: indices span [{lo}, {hi}] but "
                         f"weight has {n} rows")
    out = weight[input]
    if padding_idx is not None:
        padding_idx = _padding_idx("embedding", padding_idx, n)
        keep = (input != padding_idx).unsqueeze(-1)
        out = _ops.where(keep, out, out.detach())
    return out


def _padding_idx(op, padding_idx, n):
    if not isinstance(padding_idx, numbers.Integral) or isinstance(padding_idx, bool):
        raise TypeError(f"{op}: padding_idx must be an int, got {padding_idx!r}")
    if not -n <= padding_idx < n:
        raise ValueError(f"{op}: padding_idx {padding_idx} must be within num_embeddings "
                         f"({n})")
    return int(padding_idx) % n
