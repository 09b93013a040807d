"""gpugrad.nn.functional: the functional ops under PyTorch's torch.nn.functional names
and signatures.

Each is a thin wrapper over gpugrad's own op (F.relu calls gg.relu, F.cross_entropy calls
gg.softmax_cross_entropy) with torch's parameter names and positions, so that a call
written for torch, positional arguments included, means the same here; linear,
layer_norm, embedding, softmax, log_softmax and dropout are composed from those ops.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import ops as _ops
from ..errors import DtypeError, ShapeError
from ..tensor import Tensor

__all__ = ["relu", "sigmoid", "tanh", "leaky_relu", "softplus", "softmax", "log_softmax",
           "dropout", "linear", "layer_norm", "embedding", "one_hot", "cross_entropy",
           "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"]


def _no_legacy(op, size_average, reduce):
    # PyTorch's deprecated pair sits before `reduction` in its signatures; refused rather
    # than translated into a guess (as the loss modules do).
    if size_average is not None or reduce is not None:
        raise ValueError(f"{op}: size_average and reduce are deprecated and not supported; "
                         "use reduction='mean' | 'sum' | 'none'")


def relu(input, inplace=False):
    """torch.nn.functional.relu: max(input, 0), written into input when inplace."""
    y = _ops.relu(input)
    return _in_place(input, y) if inplace else y


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """torch.nn.functional.leaky_relu, written into input when inplace."""
    y = _ops.leaky_relu(input, negative_slope)
    return _in_place(input, y) if inplace else y


def sigmoid(input):
    """torch.nn.functional.sigmoid: gg.sigmoid."""
    return _ops.sigmoid(input)


def tanh(input):
    """torch.nn.functional.tanh: gg.tanh."""
    return _ops.tanh(input)


def softplus(input, beta=1, threshold=20):
    """torch.nn.functional.softplus: gg.softplus."""
    return _ops.softplus(input, beta, threshold)


def one_hot(input, num_classes=-1):
    """torch.nn.functional.one_hot: gg.one_hot (torch's keyword is `input`, whatever its
    docstring says)."""
    return _ops.one_hot(input, num_classes)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """torch.nn.functional.cross_entropy: gg.softmax_cross_entropy with torch's argument
    order (size_average and reduce must stay None)."""
    _no_legacy("cross_entropy", size_average, reduce)
    return _ops.softmax_cross_entropy(input, target, weight=weight, ignore_index=ignore_index,
                                      reduction=reduction, label_smoothing=label_smoothing)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """torch.nn.functional.mse_loss; weight (input's shape) scales each squared error and
    the weighted mean divides by weight's sum, as in torch."""
    _no_legacy("mse_loss", size_average, reduce)
    if weight is None:
        return _ops.mse_loss(input, target, reduction=reduction)
    _tensor("mse_loss", weight, "weight")
    if tuple(weight.shape) != tuple(input.shape):
        raise ShapeError(f"mse_loss: weight of shape {tuple(weight.shape)} must have the "
                         f"input's shape {tuple(input.shape)}")
    if weight.dtype != input.dtype:
        raise DtypeError(f"mse_loss: weight dtype {weight.dtype} differs from input dtype "
                         f"{input.dtype}; cast one with .to(dtype)")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"mse_loss: reduction must be 'mean', 'sum' or 'none', got "
                         f"{reduction!r}")
    weighted = _ops.mse_loss(input, target, reduction="none") * weight
    if reduction == "none":
        return weighted
    return weighted.sum() if reduction == "sum" else weighted.sum() / weight.sum()


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """torch.nn.functional.binary_cross_entropy: gg.binary_cross_entropy."""
    _no_legacy("binary_cross_entropy", size_average, reduce)
    return _ops.binary_cross_entropy(input, target, weight=weight, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """torch.nn.functional.binary_cross_entropy_with_logits:
    gg.binary_cross_entropy_with_logits."""
    _no_legacy("binary_cross_entropy_with_logits", size_average, reduce)
    return _ops.binary_cross_entropy_with_logits(input, target, weight=weight,
                                                 reduction=reduction, pos_weight=pos_weight)


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


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """torch.nn.functional.softmax: softmax along dim (required), after casting to dtype
    (_stacklevel holds torch's third place, so that a positional dtype lands right)."""
    _tensor("softmax", input)
    if dtype is not None:
        input = input.to(dtype)
    return _ops.softmax(input, _softmax_dim("softmax", dim))


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """torch.nn.functional.log_softmax: log-softmax along dim (required), after casting to
    dtype (_stacklevel: as in softmax)."""
    _tensor("log_softmax", input)
    if dtype is not None:
        input = input.to(dtype)
    return _ops.log_softmax(input, _softmax_dim("log_softmax", dim))


def dropout(input, p=0.5, training=True, inplace=False, *, generator=None):
    """torch.nn.functional.dropout: gg.dropout, with PyTorch's argument order."""
    y = _ops.dropout(input, p, training, generator=generator)
    return _in_place(input, y) if inplace and y is not input else y


def linear(input, weight, bias=None):
    """input @ weight.T + bias, weight of shape (out_features, in_features).

    Floating point tensors of one dtype, with bias None or of shape (out_features,),
    record one node (gg.linear, PyTorch's addmm), which checks the shapes; other
    operands (an integer input, a bias that broadcasts otherwise) the same sum
    composed from @, .T and +."""
    if isinstance(input, Tensor) and isinstance(weight, Tensor):
        dt = input.dtype
        if weight.dtype == dt and dt.kind == "f":
            if bias is None:
                return _ops.linear(input, weight)
            if isinstance(bias, Tensor) and bias.dtype == dt and \
                    bias.shape == weight.shape[:1]:
                return _ops.linear(input, weight, bias)
    _tensor("linear", input)
    _tensor("linear", weight, "weight")
    if input.dtype.kind == "f" and weight.dtype.kind == "f" and input.dtype != weight.dtype:
        # Named here, as linear: matmul's own message would name an op the caller never wrote.
        raise DtypeError(f"linear: input dtype {input.dtype} differs from weight dtype "
                         f"{weight.dtype} (input of shape {tuple(input.shape)}); gpugrad never "
                         "promotes floats silently: cast one with .to(dtype)")
    if input.ndim == 0 or weight.ndim != 2 or input.shape[-1] != weight.shape[1]:
        raise ShapeError(f"linear: input of shape {tuple(input.shape)} does not fit weight of "
                         f"shape {tuple(weight.shape)} (expected input (*, in_features) and "
                         "weight (out_features, in_features))")
    if bias is not None:
        _tensor("linear", bias, "bias")
        if bias.dtype != weight.dtype and bias.dtype.kind == "f":
            raise DtypeError(f"linear: bias dtype {bias.dtype} differs from weight dtype "
                             f"{weight.dtype}; cast one with .to(dtype)")
        out_shape = tuple(input.shape[:-1]) + (weight.shape[0],)
        try:
            fits = np.broadcast_shapes(tuple(bias.shape), out_shape) == out_shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"linear: bias of shape {tuple(bias.shape)} does not broadcast "
                             f"to the output's shape {out_shape} (expected bias "
                             "(out_features,))") from None
    out = input @ weight.T
    if bias is not None:
        out = out + bias  # broadcast, as PyTorch's addmm
    return out


def _normalized_shape(op, shape):
    # Each size an int as it is: int() read "4" as 4 and cut 2.7 to 2, silently.
    sizes = (shape,) if isinstance(shape, numbers.Integral) else shape
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__") or \
            not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                    for s in sizes):
        raise TypeError(f"{op}: normalized_shape must be an int or a sequence of ints, got "
                        f"{shape!r}")
    return tuple(int(s) for s in sizes)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) over the last len(normalized_shape) dims (biased var),
    then * weight + bias; composed of differentiable ops."""
    _tensor("layer_norm", input)
    shape = _normalized_shape("layer_norm", normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ShapeError(f"layer_norm: given normalized_shape={list(shape)}, expected input "
                         f"with shape [*, {', '.join(map(str, shape))}], but got input of "
                         f"shape {tuple(input.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            _tensor("layer_norm", p, name)
            if tuple(p.shape) != shape:
                raise ShapeError(f"layer_norm: {name} of shape {tuple(p.shape)} differs from "
                                 f"normalized_shape {shape}")
            if p.dtype != input.dtype:  # named here: mul's message names an op not called
                raise DtypeError(f"layer_norm: input dtype {input.dtype} differs from {name} "
                                 f"dtype {p.dtype} (input of shape {tuple(input.shape)}); "
                                 "cast one with .to(dtype)")
    axes = tuple(range(input.ndim - k, input.ndim))
    centred = input - input.mean(axes, keepdims=True)
    var = (centred * centred).mean(axes, keepdims=True)
    out = centred / _ops.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of weight picked by the integer tensor input: shape input.shape + (dim,).
    Entries equal to padding_idx pass no gradient to their row (its value is still read).
    torch's max_norm, scale_grad_by_freq and sparse are not supported (refused if set)."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError(f"embedding: max_norm={max_norm!r}, scale_grad_by_freq="
                                  f"{scale_grad_by_freq!r}, sparse={sparse!r}: only the "
                                  "defaults (None, False, False) are supported")
    _tensor("embedding", input)
    _tensor("embedding", weight, "weight")
    if input.dtype.kind not in "iu":
        raise DtypeError(f"embedding: indices must be an integer tensor, got {input.dtype}")
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
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
