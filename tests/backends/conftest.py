"""The backends' kernels run with every floating-point warning an error: a kernel that
overflows, divides by zero or makes NaN on the way (and hides it) fails its test."""
import warnings

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def strict_floats():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            yield
