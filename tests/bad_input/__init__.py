"""The bad-input table's harness: a row is one bad call, the error it must raise, and the
words its message must hold. Every row runs against a live training state (a model with
gradients, an Adam state and a recorded graph); the state must come out of the error exactly
as it went in, and the next correct step must equal the one taken without the bad call."""
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import gpugrad as gg


@dataclass
class Row:
    """One bad call.

    id: a short unique name (the test id).
    call: ``call(s)`` makes the bad call; ``s`` is a fresh State whose attributes it may use.
    exc: every class the exception must be an instance of (e.g. (ValueError, RuntimeError)
        for a shape mismatch, so that both NumPy-minded and PyTorch-minded code catch it).
    words: substrings the message must contain, case-insensitively: the op's name and the
        offending shape, dtype, device or value, as written in the message.
    warns: for the few habits that warn instead of raising: the warning class; exc is then ().
    """
    id: str
    call: Callable[["State"], Any]
    exc: tuple = ()
    words: tuple = ()
    warns: Any = None
    marks: tuple = field(default_factory=tuple)


class State:
    """A small model one Adam step in, with gradients present and a loss recorded (not yet
    backpropagated). Built the same way every time, so two States can be compared bitwise."""

    def __init__(self):
        gg.manual_seed(0)
        self.model = gg.nn.Sequential(gg.nn.Linear(4, 8), gg.nn.ReLU(), gg.nn.Linear(8, 3))
        self.opt = gg.optim.Adam(self.model.parameters(), lr=1e-2)
        rng = np.random.default_rng(0)
        self.x = gg.tensor(rng.standard_normal((5, 4)).astype(np.float32))
        self.y = gg.tensor(rng.integers(0, 3, 5))
        self.loss = None
        self.step()  # records the first loss
        self.step()  # one Adam step: the optimizer has state
        self.loss.backward(retain_graph=True)  # leave gradients in place
        # A recorded graph besides: h is a non-leaf the bad calls may touch.
        self.w = gg.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
        self.h = (self.x @ self.w).tanh()

    def step(self):
        """The next correct step: backpropagate the recorded loss, update, record a new loss."""
        if self.loss is not None:
            self.opt.zero_grad()
            self.loss.backward()
            self.opt.step()
        self.loss = gg.nn.functional.cross_entropy(self.model(self.x), self.y)

    def snapshot(self):
        """Every array the state holds, as NumPy copies, keyed by where it lives."""
        snap = {}
        for name, p in self.model.named_parameters():
            snap["param " + name] = p.numpy().copy()
            snap["grad " + name] = None if p.grad is None else p.grad.numpy().copy()
        sd = self.opt.state_dict()
        for i, st in sd["state"].items():
            for k, v in st.items():
                snap[f"opt {i} {k}"] = v.numpy().copy() if isinstance(v, gg.Tensor) else v
        snap["opt groups"] = repr(sd["param_groups"])
        snap["loss"] = self.loss.numpy().copy()
        snap["x"], snap["w"], snap["h"] = self.x.numpy().copy(), self.w.numpy().copy(), \
            self.h.numpy().copy()
        snap["w.grad"] = None if self.w.grad is None else self.w.grad.numpy().copy()
        snap["training"] = [m.training for m in self.model.modules()]
        return snap


def assert_same(a, b, when):
    assert a.keys() == b.keys(), f"{when}: state keys differ: {a.keys() ^ b.keys()}"
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and \
                x.dtype == y.dtype and x.shape == y.shape and \
                np.array_equal(x, y, equal_nan=True), f"{when}: {k} changed"
        else:
            assert x == y, f"{when}: {k} changed: {x!r} -> {y!r}"
