"""Gradient-check cases for test_gradcheck.py: {OpClassName: [C(fn, *shapes, ...), ...]}.

The core ops of this file: sin, cos, clamp, var, std, norm, logsumexp, softplus's
beta and threshold, and the PyTorch spellings (dim=, keepdim=, flatten, cat) of
ops whose own cases live in test_gradcheck.py.
"""
import math

import gpugrad as gg


def C(fn, *shapes, low=None, away=None, ints=None):
    """A case: fn applied to float64 tensors of these shapes (see test_gradcheck.C)."""
    return dict(fn=fn, shapes=shapes, low=low, away=away)


inf = math.inf

CASES: dict = {
    "Sin": [C(gg.sin, (2, 3)), C(lambda a: a.sin() * a, (4,))],
    "Cos": [C(gg.cos, (2, 3)), C(lambda a: a.cos(), ())],
    "Clamp": [
        C(lambda a: gg.clamp(a, -0.5, 0.5), (3, 4)),
        C(lambda a: gg.clip(a, min=0.1), (5,)),
        C(lambda a: a.clamp(max=-0.2), (2, 3)),
        # tensor bounds that broadcast against x and each other; some min > max
        C(lambda a, lo, hi: gg.clamp(a, lo, hi), (3, 4), (4,), (3, 1)),
        C(lambda a, lo: gg.clamp(a, min=lo), (2, 3), (3,)),
        C(lambda a, hi: gg.clamp(a, max=hi), (3,), (2, 3)),  # the output is larger than x
        C(lambda a, lo: gg.clamp(a, lo, 0.3), (2, 3), (2, 1)),
    ],
    "Var": [C(gg.var, (2, 3)), C(lambda a: a.var(dim=1, keepdim=True), (2, 3, 2)),
            C(lambda a: gg.var(a, axis=(0, 2), correction=0), (2, 3, 2)),
            C(lambda a: gg.var(a, 0, correction=0.5), (4,))],
    "Std": [C(lambda a: a.std(), (2, 3)), C(lambda a: gg.std(a, axis=0, correction=0), (3, 2)),
            C(lambda a: a.std(dim=(1, 2), keepdim=True), (2, 2, 3))],
    "Norm": [C(gg.norm, (2, 3)), C(lambda a: a.norm(dim=1, keepdim=True), (2, 3, 2)),
             C(lambda a: gg.norm(a, 1, axis=0), (3, 2), away=0.2),
             C(lambda a: gg.norm(a, 3), (4,)), C(lambda a: gg.norm(a, 1.5, axis=1), (2, 3), away=0.2),
             C(lambda a: gg.norm(a, 0.5), (5,), away=0.2),
             C(lambda a: gg.norm(a, inf, axis=-1), (3, 4)), C(lambda a: gg.norm(a, -inf), (5,)),
             C(lambda a: gg.norm(a, -1.5, axis=0), (3, 2), away=0.2),
             C(lambda a: gg.norm(a, "fro", axis=(0, 1)), (2, 3, 2))],
    "LogSumExp": [C(lambda a: gg.logsumexp(a, 1), (2, 3)),
                  C(lambda a: a.logsumexp(dim=(0, 2), keepdim=True), (2, 3, 2)),
                  C(lambda a: gg.logsumexp(a * 30), (4,))],
    "Softplus": [C(lambda a: gg.softplus(a, beta=2, threshold=1), (3, 4)),
                 C(lambda a: gg.softplus(a, beta=-1.5), (5,)),
                 C(lambda a: gg.softplus(a, threshold=inf), (5,))],
    # the PyTorch spellings reach the same ops
    "Reshape": [C(lambda a: a.flatten(1), (2, 3, 2)), C(lambda a: gg.flatten(a, 0, 1) * 2, (2, 2, 3))],
    "Concatenate": [C(lambda a, b: gg.cat([a, b], dim=1), (2, 3), (2, 1))],
    "Stack": [C(lambda a, b: gg.stack([a, b], dim=-1), (2,), (2,))],
    "Sum": [C(lambda a: a.sum(dim=1, keepdim=True), (2, 3))],
    "Max": [C(lambda a: a.max(dim=(0,)), (3, 2))],
}
