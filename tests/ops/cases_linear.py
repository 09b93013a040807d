"""Gradient-check cases for test_gradcheck.py: {OpClassName: [C(fn, *shapes, ...), ...]}.

linear (x @ W.T + b in one node): with and without a bias, an input of one row, of
one dimension, of three, and through gg.nn.functional.linear.
"""
import gpugrad as gg


def C(fn, *shapes, low=None, away=None, ints=None):
    """A case: fn applied to float64 tensors of these shapes (as test_gradcheck.C)."""
    return dict(fn=fn, shapes=shapes, low=low, away=away)


CASES = {
    "Linear": [
        C(gg.linear, (4, 3), (5, 3), (5,)),
        C(gg.linear, (4, 3), (2, 3)),  # no bias
        C(gg.linear, (3,), (2, 3), (2,)),  # one input vector
        C(gg.linear, (2, 4, 3), (5, 3), (5,)),  # leading axes
        C(gg.linear, (1, 3), (1, 3), (1,)),
        C(lambda x, w: gg.linear(x, w) * x.sum(), (2, 3), (3, 3)),  # x used twice
        C(lambda x, w, b: gg.nn.functional.linear(gg.sigmoid(x), w, b), (3, 2), (4, 2), (4,)),
    ],
}
