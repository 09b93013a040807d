"""Gradient-check cases for test_gradcheck.py: {OpClassName: [C(fn, *shapes, ...), ...]}.

Dropout is random: each case seeds its own generator inside the function, so every
evaluation of the gradient check (analytic and each perturbed one) sees the same mask.
"""
import gpugrad as gg


def C(fn, *shapes, low=None, away=None, ints=None):
    """A case: fn applied to float64 tensors of these shapes (as test_gradcheck.C)."""
    return dict(fn=fn, shapes=shapes, low=low, away=away)


def _seeded(a, seed=0):
    return gg.Generator(a.device).manual_seed(seed)


CASES = {
    "Dropout": [
        C(lambda a: gg.dropout(a, 0.3, generator=_seeded(a)), (3, 4)),
        C(lambda a: gg.dropout(a, 0.5, generator=_seeded(a, 7)), (2, 3, 5)),
        C(lambda a: gg.dropout(a, 0.9, generator=_seeded(a, 1)) * a, (17,)),  # a used twice
        C(lambda a: gg.dropout(a, 1.0, generator=_seeded(a)), (2, 3)),  # all dropped
        C(lambda a: gg.dropout(a * a, 0.2, generator=_seeded(a, 3)), ()),  # 0-d
    ],
}
