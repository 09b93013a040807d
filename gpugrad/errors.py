"""Exception classes that both a NumPy-minded and a PyTorch-minded `except` clause catch.

gpugrad has always raised ValueError for a bad shape or axis and TypeError for a bad dtype.
PyTorch raises RuntimeError for the same mistakes (IndexError for an axis out of range), so
code ported from PyTorch catches nothing. Each class below inherits from both, as NumPy's
AxisError is both ValueError and IndexError; existing `except ValueError` code keeps working.
"""
import os
import sys
import warnings

import numpy as np

__all__ = ["ShapeError", "AxisError", "DtypeError", "DeviceError", "warn"]


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not match, broadcast, align (matmul) or reshape; torch raises RuntimeError."""


class AxisError(np.exceptions.AxisError):
    """An axis (dim) out of range or repeated; torch raises IndexError, NumPy AxisError.

    Built from the message alone: ``AxisError("sum: axis 5 is out of range ...")``.
    """

    def __init__(self, message):
        super().__init__(message)


class DtypeError(TypeError, RuntimeError):
    """Dtypes that gpugrad will not mix or an op does not take; torch raises RuntimeError."""


class DeviceError(ValueError, RuntimeError):
    """Tensors on different devices in one op; torch raises RuntimeError."""


_PKG = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message, category=UserWarning):
    """warnings.warn from the first frame outside gpugrad: the user's line, however deep
    inside gpugrad (a method calling a function calling a helper) the warning is made."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PKG):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
