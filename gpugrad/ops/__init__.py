"""Differentiable ops, by family. Each op's forward and derivative rule sit side by side.

Each family module lists its public functions in `__all__`; this package re-exports
them all, so a new op needs only its own module's `__all__`.
"""
from . import arith, loss, noise, reduce, shape, unary
from . import linear as _linear  # the module; `linear` below is its function
from .arith import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .noise import *  # noqa: F401,F403
from .reduce import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .shape import cast, getitem, index_put, to_device  # noqa: F401  (used by Tensor)
from .unary import *  # noqa: F401,F403

__all__ = arith.__all__ + _linear.__all__ + unary.__all__ + reduce.__all__ + shape.__all__ + \
    loss.__all__ + noise.__all__
