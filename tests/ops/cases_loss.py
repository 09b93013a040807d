"""Gradient-check cases for test_gradcheck.py: {OpClassName: [C(fn, *shapes, ...), ...]}."""
import gpugrad as gg


def C(fn, *shapes, low=None, away=None, ints=None):
    """A case: fn applied to float64 tensors of these shapes (see test_gradcheck.C)."""
    return dict(fn=fn, shapes=shapes, low=low, away=away)


def _w(a, values):
    return gg.tensor(values, dtype=a.dtype, device=a.device)


def _probs(b):
    """Class probabilities along axis 1, differentiable in b."""
    return gg.softmax(b, axis=1)


def _sce(a, t, **kw):
    return gg.softmax_cross_entropy(a, t, **kw)


def _hvp(fn):
    """x, t, v -> loss + <d loss/d x, v>, the gradient taken with create_graph (so the
    check differentiates it: second derivatives, and third in gradgradcheck)."""
    def f(a, b, v):
        loss = fn(a, b)
        (gx,) = gg.grad(loss, a, create_graph=True)
        return loss + (gx * v).sum()
    return f


W3 = [0.5, 2.0, 1.5]

CASES = {
    "SoftmaxCrossEntropyProbs": [
        # targets as probabilities and as arbitrary reals (PyTorch does not normalize them)
        C(lambda a, b: _sce(a, _probs(b)), (4, 3), (4, 3)),
        C(lambda a, b: _sce(a, b, reduction="none"), (4, 3), (4, 3)),
        C(lambda a, b: _sce(a, _probs(b), reduction="sum", weight=_w(a, W3)), (2, 3, 2), (2, 3, 2)),
        C(lambda a, b: _sce(a, b, weight=_w(a, W3), label_smoothing=0.2), (3, 3, 1, 2), (3, 3, 1, 2)),
        C(lambda a, b: _sce(a, b, reduction="none", weight=_w(a, W3), label_smoothing=0.1),
          (2, 3, 2), (2, 3, 2)),
        C(lambda a: _sce(a, gg.tensor([0.2, 0.3, 0.5], dtype=a.dtype, device=a.device)), (3,)),
        C(lambda b: _sce(gg.tensor([[1.0, -2.0, 0.5]], dtype=b.dtype, device=b.device), b,
                         label_smoothing=0.3), (1, 3)),
        C(_hvp(lambda a, b: _sce(a, _probs(b), weight=_w(a, W3), label_smoothing=0.1)),
          (4, 3), (4, 3), (4, 3)),
    ],
    "BinaryCrossEntropy": [
        C(lambda a, b: gg.binary_cross_entropy(gg.sigmoid(a), gg.sigmoid(b)), (3, 4), (3, 4)),
        C(lambda a, b: gg.binary_cross_entropy(gg.sigmoid(a), gg.sigmoid(b), reduction="none",
                                               weight=_w(a, [0.5, 2.0, 1.0, 3.0])), (3, 4), (3, 4)),
        C(lambda a, b: gg.binary_cross_entropy(gg.sigmoid(a), gg.sigmoid(b), reduction="sum",
                                               weight=_w(a, [[0.5], [2.0]])), (2, 3), (2, 3)),
        C(lambda a: gg.binary_cross_entropy(gg.sigmoid(a), gg.tensor(0.25, dtype=a.dtype,
                                                                     device=a.device)), ()),
    ],
    "Softmax": [C(lambda a: gg.softmax(a, dim=0), ()), C(lambda a: gg.softmax(a, dim=-2), (2, 3))],
    "LogSoftmax": [C(lambda a: gg.log_softmax(a, dim=-1), ()),
                   C(lambda a: gg.log_softmax(a, dim=1), (3, 2, 2))],
}
