"""Bad calls to the core: ops, Tensor methods, autograd, creation, randomness, devices."""
from gpugrad.errors import ShapeError  # noqa: F401

import gpugrad as gg  # noqa: F401
from tests.bad_input import Row

ROWS = [
    Row("add-broadcast", lambda s: s.x + gg.ones(7), (ValueError, RuntimeError),
        ("add", "(5, 4)", "(7,)")),
]
