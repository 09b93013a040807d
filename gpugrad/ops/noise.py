"""Stochastic ops (dropout), drawing from gpugrad.random's generators."""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..creation import _on
from ..errors import DtypeError
from ..random import _source
from ..tensor import Tensor

__all__ = ["dropout"]


class Dropout(Function):
    """y = x * mask, mask = keep / (1 - p): the scaled mask is all backward needs."""

    @staticmethod
    def forward(ctx, x, p, rng):
        X = x._data
        # float32 uniforms for every dtype: 2**-24 resolution is plenty for a keep
        # probability and costs half a float64 draw; drawn on x's device.
        with _on(ctx.backend):
            keep = rng.random(X.shape, dtype=np.float32) >= p
            mask = keep.astype(X.dtype)
            # p = 1 keeps nothing: scale 0, not 1/0 (0 * inf would be NaN)
            mask *= 0.0 if p == 1 else 1.0 / (1.0 - p)
            ctx.save_for_backward(mask)
            return X * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None, None


def dropout(x, p=0.5, training=True, generator=None):
    """Zero each element with probability p and scale the rest by 1/(1-p), as
    torch.nn.functional.dropout; returns x itself when not training or p = 0."""
    if not isinstance(x, Tensor):
        raise TypeError(f"dropout: expected a Tensor, got {type(x).__name__}")
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"dropout: p must be a number, got {type(p).__name__} {p!r:.60}")
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p has to be between 0 and 1, but got {p}")
    if not training or p == 0.0 or x._data.size == 0:
        return x  # as PyTorch: the input itself, and no draw from the generator
    if x._data.dtype.kind != "f":
        raise DtypeError(f"dropout: expected a floating point tensor, got {x.dtype} "
                         f"(shape {tuple(x.shape)})")
    _, rng = _source("dropout", generator, x.device)
    return Dropout.apply(x, p, rng)
