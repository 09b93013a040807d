"""Bad calls to the training stack: nn, optim, schedulers, data, checkpoints."""
import gpugrad as gg  # noqa: F401
from tests.bad_input import Row

ROWS = [
    Row("linear-in-features", lambda s: s.model(gg.ones(2, 5)), (ValueError, RuntimeError),
        ("(2, 5)", "4")),
]
