"""linear: x @ W.T + b as one node (PyTorch's addmm), nn.Linear's affine map.

The same arithmetic as `x @ W.T + b` composed from MatMul, Permute and Add, in one
node instead of three: forward is one product and the bias added into it in place;
backward is gx = g @ W, gW = g^T x (C-contiguous, in W's own layout, as an
optimizer's in-place update wants it) and gb = g summed over the leading axes.
"""
from __future__ import annotations

from ..autograd import Function
from ..autograd.function import apply2, apply3
from ..errors import DtypeError, ShapeError
from ..tensor import Tensor
from . import _common as rule
from ._common import shape_of

__all__ = ["linear"]


class Linear(Function):
    """x @ W.T (+ b) with W of shape (out_features, in_features), b of (out_features,)."""

    @staticmethod
    def forward(ctx, x, w, b=None):
        """The product, with b added into it; saves W for x's gradient, x for W's."""
        nig = ctx.needs_input_grad
        ctx.save_for_backward(w if nig[0] else None, x if nig[1] else None)
        X, W = x._data, w._data
        if X.ndim == 2:
            out = ctx.backend.matmul(X, W.T)
        else:  # (*, in) as rows of a matrix, and back
            out = ctx.backend.matmul(X.reshape(-1, X.shape[-1]), W.T)
            out = out.reshape(X.shape[:-1] + (W.shape[0],))
        if b is not None:
            out += b._data  # a fresh array: the sum Add would make, without a copy
        return out

    @staticmethod
    def backward(ctx, g):
        """gx = g @ W, gW = g^T x, gb = g summed over every axis but the last."""
        nig = ctx.needs_input_grad
        w, x = ctx.saved_tensors
        if g.ndim != 2:
            g = g.reshape(-1, g.shape[-1])
        gx = gw = gb = None
        if nig[0]:
            gx = rule.mm(ctx, g, w)
            sx = ctx.input_shape(0)
            if len(sx) != 2:
                gx = gx.reshape(sx)
        if nig[1]:
            gw = rule.mm(ctx, g.T, x if x.ndim == 2 else x.reshape(-1, x.shape[-1]))
        if len(nig) == 2:  # no bias
            return gx, gw
        if nig[2]:
            gb = rule.sum(g, 0)
        return gx, gw, gb


def linear(input, weight, bias=None):
    """input @ weight.T + bias in one node: weight (out_features, in_features), bias
    (out_features,) or None, input (*, in_features), all of one dtype and device."""
    if not (isinstance(input, Tensor) and isinstance(weight, Tensor)) or \
            (bias is not None and not isinstance(bias, Tensor)):
        raise TypeError(f"linear: expected Tensors, got {type(input).__name__}, "
                        f"{type(weight).__name__} and {type(bias).__name__}")
    X, W = input._data, weight._data
    if X.ndim == 0 or W.ndim != 2 or X.shape[-1] != W.shape[1]:
        raise ShapeError(f"linear: input of shape {shape_of(input)} does not fit weight of "
                         f"shape {shape_of(weight)} (expected input (*, in_features) and "
                         "weight (out_features, in_features))")
    dt = X.dtype
    if (W.dtype is not dt and W.dtype != dt) or dt.kind != "f" or \
            (bias is not None and bias._data.dtype is not dt and bias._data.dtype != dt):
        raise DtypeError(f"linear: expected floating point input, weight and bias of one "
                         f"dtype, got {X.dtype}, {W.dtype}"
                         f"{'' if bias is None else ' and ' + str(bias.dtype)}")
    if bias is None:
        return apply2(Linear, input, weight)
    if bias._data.shape != (W.shape[0],):
        raise ShapeError(f"linear: bias of shape {shape_of(bias)} does not fit weight of "
                         f"shape {shape_of(weight)} (expected ({W.shape[0]},))")
    return apply3(Linear, input, weight, bias)
