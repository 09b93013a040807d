"""Parameter: a Tensor that a Module registers as one of its weights."""
from __future__ import annotations

from ..tensor import Tensor, tensor


class Parameter(Tensor):
    """A leaf Tensor (requires_grad=True by default) that a Module collects by attribute.

    It shares memory with the tensor it wraps, as torch.nn.Parameter does.
    """

    __slots__ = ()  # Tensor's layout exactly, so that a detached tensor can become one

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = tensor([])
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a gpugrad Tensor, got "
                            f"{type(data).__module__}.{type(data).__name__}; wrap arrays "
                            "with gg.tensor(...) first")
        # data's memory and version counter, without its history (PyTorch's Parameter):
        # an in-place change through data is then seen by a backward that saved p.
        p = data.detach()
        p.__class__ = cls
        p.requires_grad = requires_grad
        return p

    def __init__(self, data=None, requires_grad=True):
        """Parameter(data, requires_grad=True): __new__ has done the work."""

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        """A Parameter with its own copy of the data (and of .grad)."""
        if id(self) in memo:
            return memo[id(self)]
        t = Tensor.__deepcopy__(self, memo)
        p = Parameter(t, self.requires_grad)
        p.grad = t.grad
        memo[id(self)] = p
        return p

    def __reduce__(self):
        # Pickled through Tensor's own reduction (data on the host, device), rewrapped.
        rebuild, args = Tensor.__reduce__(self)
        return _rebuild_parameter, (rebuild, args, self.requires_grad)


def _rebuild_parameter(rebuild, args, requires_grad):
    return Parameter(rebuild(*args), requires_grad)
