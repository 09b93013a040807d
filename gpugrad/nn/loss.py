"""Loss modules: CrossEntropyLoss, MSELoss, BCEWithLogitsLoss and BCELoss, over the
functional losses. Class weights are buffers (in state_dict), as in PyTorch."""
from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = ["CrossEntropyLoss", "MSELoss", "BCELoss", "BCEWithLogitsLoss"]


class _Loss(Module):
    def __init__(self, size_average, reduce, reduction):
        super().__init__()
        if size_average is not None or reduce is not None:
            # PyTorch's deprecated pair: refused rather than translated into a guess.
            raise ValueError(f"{type(self).__name__}: size_average and reduce are deprecated "
                             "and not supported; use reduction='mean' | 'sum' | 'none'")
        if reduction not in ("mean", "sum", "none"):
            # Refused here, not at the first call in the middle of the training loop.
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or "
                             f"'none', got {reduction!r}")
        self.reduction = reduction


class CrossEntropyLoss(_Loss):
    """F.cross_entropy (gg.softmax_cross_entropy) with its options: weight (C,),
    ignore_index, reduction, label_smoothing."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        """The loss of logits input (N, C, ...) against target."""
        return F.cross_entropy(input, target, weight=self.weight,
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class MSELoss(_Loss):
    """Mean (or sum, or none) of squared differences."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)

    def forward(self, input, target):
        """F.mse_loss(input, target, reduction)."""
        return F.mse_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities input against target, optional weight."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)

    def forward(self, input, target):
        """F.binary_cross_entropy(input, target, weight, reduction)."""
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(input) against target, computed stably from the
    logits; weight rescales each element, pos_weight the positive term."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        """F.binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)."""
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
