"""Every registered op: float64 gradient check and second derivatives, on every device.

CASES maps each op (by class name) to cases that exercise it; a test walks the
registry and fails when an op has none.
"""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.autograd import OPS
from gpugrad.backends import get_backend
from gpugrad.ops.shape import cast, to_device


def C(fn, *shapes, low=None, away=None, ints=None):
    """A case: fn applied to float64 tensors of these shapes.

    low: inputs |x| + low (log, sqrt, division); away: |x| >= away with a random
    sign (kinks of abs/relu); ints: extra constant integer inputs.
    """
    return dict(fn=fn, shapes=shapes, low=low, away=away)


BROADCAST = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 3)), ((3,), ()), ((), (2, 3))]
MASK = np.array([[True, False, True], [False, True, True]])
IDX = np.array([0, 2, 0, 1])

CASES = {
    "Add": [C(lambda a, b: a + b, *s) for s in BROADCAST] + [C(lambda a: 2.0 + a, (3,))],
    "Sub": [C(lambda a, b: a - b, *s) for s in BROADCAST] + [C(lambda a: 2.0 - a, (3,))],
    "Mul": [C(lambda a, b: a * b, *s) for s in BROADCAST] + [C(lambda a: a * 3.0, (3,))],
    "Div": [C(lambda a, b: a / b, *s, low=0.5) for s in BROADCAST] + [C(lambda a: 2.0 / a, (3,), low=0.5)],
    "Neg": [C(lambda a: -a, (2, 3))],
    "Pow": [C(lambda a: a ** 3, (2, 3)), C(lambda a: a ** 0.5, (3,), low=0.5),
            C(lambda a, b: a ** b, (3, 2), (2,), low=0.5), C(lambda b: 2.0 ** b, (4,))],
    "MatMul": [C(lambda a, b: a @ b, (3, 4), (4, 2)), C(lambda a, b: a @ b, (4,), (4, 2)),
               C(lambda a, b: a @ b, (3, 4), (4,)), C(lambda a, b: a @ b, (4,), (4,)),
               C(lambda a, b: a @ b, (2, 3, 4), (4, 5)), C(lambda a, b: a @ b, (2, 3, 4), (1, 4, 2)),
               C(lambda a, b: a @ b, (4,), (2, 4, 3))],
    "Maximum": [C(gg.maximum, (3, 4), (4,)), C(lambda a: gg.maximum(a, 0.1), (5,), away=0.3)],
    "Minimum": [C(gg.minimum, (3, 4), (4,)), C(lambda a: gg.minimum(0.1, a), (5,), away=0.3)],
    "Where": [C(lambda a, b: gg.where(gg.tensor(MASK, device=a.device), a, b), (2, 3), (3,)),
              C(lambda a: gg.where(gg.tensor(MASK, device=a.device), a, 0.0), (2, 3))],
    "Exp": [C(gg.exp, (2, 3))],
    "Log": [C(gg.log, (2, 3), low=0.5)],
    "Sqrt": [C(gg.sqrt, (2, 3), low=0.5)],
    "Abs": [C(gg.abs, (2, 3), away=0.2)],
    "Tanh": [C(gg.tanh, (2, 3))],
    "Sigmoid": [C(gg.sigmoid, (2, 3)), C(lambda a: gg.sigmoid(a * 8), (7,))],
    "SigmoidBackward": [C(lambda a: gg.grad(gg.sigmoid(a).sum(), a, create_graph=True)[0], (2, 3))],
    "Relu": [C(gg.relu, (2, 3), away=0.2)],
    "LeakyRelu": [C(lambda a: gg.leaky_relu(a, 0.2), (2, 3), away=0.2)],
    "Softplus": [C(gg.softplus, (2, 3)), C(lambda a: gg.softplus(a * 20), (4,))],
    "Sum": [C(lambda a: a.sum(), (2, 3)), C(lambda a: a.sum(axis=1), (2, 3, 2)),
            C(lambda a: a.sum(axis=(0, 2), keepdims=True), (2, 3, 2)), C(lambda a: a.sum(-1), (3,))],
    "Mean": [C(lambda a: a.mean(), (2, 3)), C(lambda a: a.mean(axis=(1,), keepdims=True), (2, 3, 2))],
    "Max": [C(lambda a: a.max(), (2, 3)), C(lambda a: a.max(axis=1), (2, 3, 2)),
            C(lambda a: a.max(axis=0, keepdims=True), (3, 2))],
    "Min": [C(lambda a: a.min(), (2, 3)), C(lambda a: a.min(axis=(0, 1)), (2, 3, 2))],
    "Reshape": [C(lambda a: a.reshape(3, 2) * a.reshape(3, 2), (2, 3)), C(lambda a: a.reshape(-1), (2, 2, 2))],
    "Permute": [C(lambda a: a.T, (2, 3)), C(lambda a: a.permute(2, 0, 1), (2, 3, 4)),
                C(lambda a: a.transpose(0, 2), (2, 3, 4))],
    "BroadcastTo": [C(lambda a: gg.broadcast_to(a, (4, 2, 3)), (2, 1))],
    "SumTo": [C(lambda a: gg.sum_to(a, (3,)), (2, 4, 3)), C(lambda a: gg.sum_to(a, (2, 1)), (2, 5))],
    "GetItem": [C(lambda a: a[1], (3, 2)), C(lambda a: a[:, 1:], (3, 3)), C(lambda a: a[..., None, 0], (2, 3)),
                C(lambda a: a[gg.tensor(IDX, device=a.device)], (3, 2)),  # repeated rows accumulate
                C(lambda a: a[gg.tensor(MASK, device=a.device)], (2, 3)),
                C(lambda a: a[[0, 0, 1], [1, 1, 0]], (2, 2))],
    "IndexAdd": [C(lambda a: gg.grad((a[gg.tensor(IDX, device=a.device)] ** 2).sum(), a,
                                     create_graph=True)[0], (3, 2))],
    "IndexPut": [C(lambda a, v: _setitem(a, (slice(None), 1), v), (3, 2), (3,)),
                 C(lambda a, v: _setitem(a, 0, v), (3, 2), ()),
                 C(lambda a, v: _setitem(a, 0, v), (3, 2), (1, 1, 2)),  # leading 1s dropped
                 C(lambda a, v: _setitem(a, 1, v), (3,), (1,)),  # ... also into one element
                 C(lambda a, v: _setitem(a, slice(None), v), (2, 3, 2), (3, 2))],  # lower rank
    "Concatenate": [C(lambda a, b: gg.concatenate([a, b], axis=1), (2, 3), (2, 1)),
                    C(lambda a, b: gg.concatenate([a, b, a]), (2, 3), (1, 3))],
    "Stack": [C(lambda a, b: gg.stack([a, b], axis=1), (2, 3), (2, 3)),
              C(lambda a, b: gg.stack([a, b, a], axis=-1), (2,), (2,))],
    "Clone": [C(lambda a: a.clone() * a, (2, 3))],
    "Cast": [C(lambda a: cast(a, np.float64), (3,))],
    "ToDevice": [C(lambda a: to_device(a, get_backend(a.device)) * a, (3,))],
    "Softmax": [C(lambda a: gg.softmax(a), (2, 4)), C(lambda a: gg.softmax(a, axis=0), (3, 2, 2))],
    "LogSoftmax": [C(lambda a: gg.log_softmax(a), (2, 4)), C(lambda a: gg.log_softmax(a, axis=1), (2, 3, 2))],
    "SoftmaxCrossEntropy": [
        C(lambda a: gg.softmax_cross_entropy(a, _labels(a, [0, 2, 1, -100])), (4, 3)),
        C(lambda a: gg.softmax_cross_entropy(a, _labels(a, [0, 2, 1, 1]), reduction="none",
                                             label_smoothing=0.2), (4, 3)),
        C(lambda a: gg.softmax_cross_entropy(a, _labels(a, [[0, 2], [-100, 1]]), reduction="sum",
                                             weight=_w(a, [0.5, 2.0, 1.5])), (2, 3, 2)),
        C(lambda a: gg.softmax_cross_entropy(a, _labels(a, [0, 2, 1]), weight=_w(a, [0.5, 2.0, 1.5]),
                                             label_smoothing=0.1), (3, 3))],
    "SoftmaxCrossEntropyBackward": [
        C(lambda a, g: gg.grad(gg.softmax_cross_entropy(a, _labels(a, [0, 2, 1]), reduction="none",
                                                        weight=_w(a, [0.5, 2.0, 1.5]), label_smoothing=0.1),
                               a, g, create_graph=True)[0], (3, 3), (3,))],
}


# Newer op families keep their cases in their own files (one owner each).
from .cases_core import CASES as _CORE  # noqa: E402
from .cases_linear import CASES as _LINEAR  # noqa: E402
from .cases_loss import CASES as _LOSS  # noqa: E402
from .cases_noise import CASES as _NOISE  # noqa: E402

for _more in (_CORE, _LINEAR, _LOSS, _NOISE):
    for _name, _cases in _more.items():
        CASES.setdefault(_name, []).extend(_cases)


def _labels(a, values):
    return gg.tensor(values, device=a.device)


def _w(a, values):
    return gg.tensor(values, dtype=a.dtype, device=a.device)


def _setitem(a, index, v):
    h = a * 1.0  # a non-leaf copy: setitem on it is recorded
    h[index] = v
    return h


CASE_LIST = [pytest.param(name, i, id=f"{name}-{i}") for name, cases in CASES.items()
             for i in range(len(cases))]


def test_every_registered_op_has_a_gradient_check():
    missing = sorted(set(OPS) - set(CASES))
    assert not missing, f"ops without a gradient check: {missing}"
    unknown = sorted(set(CASES) - set(OPS))
    assert not unknown, f"cases for ops that are not registered: {unknown}"


def _inputs(case, device, seed):
    rng = np.random.default_rng(seed)
    out = []
    for shape in case["shapes"]:
        a = rng.standard_normal(shape)
        if case["low"] is not None:
            a = np.abs(a) + case["low"]
        if case["away"] is not None:
            a = np.sign(a + 1e-12) * (np.abs(a) + case["away"])
        out.append(gg.tensor(a, device=device, requires_grad=True))
    return out


@pytest.mark.parametrize("name,i", CASE_LIST)
def test_gradcheck(device, name, i):
    case = CASES[name][i]
    xs = _inputs(case, device, seed=i)
    out = case["fn"](*xs)
    node_types = _ops_in_graph(out)
    assert name in node_types, f"case does not exercise {name}: graph has {sorted(node_types)}"
    assert gg.gradcheck(case["fn"], xs)


@pytest.mark.parametrize("name,i", CASE_LIST)
def test_gradgradcheck(device, name, i):
    case = CASES[name][i]
    assert gg.gradgradcheck(case["fn"], _inputs(case, device, seed=100 + i), atol=1e-4)


@pytest.mark.parametrize("name,i", CASE_LIST)
def test_rule_on_arrays_matches_rule_on_tensors(device, name, i):
    """Each rule runs on raw arrays when the backward pass is not recorded and on
    Tensors when it is (create_graph): both must give the same gradient, of the
    same dtype, with nothing promoted."""
    case = CASES[name][i]
    xs = _inputs(case, device, seed=200 + i)
    outs = case["fn"](*xs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    rng = np.random.default_rng(i)
    seeds = [gg.tensor(rng.standard_normal(o.shape), device=device) for o in outs]
    on_arrays = gg.grad(outs, xs, seeds, retain_graph=True, allow_unused=True)
    on_tensors = gg.grad(outs, xs, seeds, create_graph=True, allow_unused=True)
    for a, t in zip(on_arrays, on_tensors):
        assert (a is None) == (t is None)
        if a is not None:
            assert a.dtype == t.dtype == np.float64 and a.device == t.device
            np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,i", CASE_LIST)
def test_float32_gradients_stay_float32(device, name, i):
    """Every rule, on arrays and on Tensors, keeps a float32 input's gradient float32."""
    case = CASES[name][i]
    xs = [x.detach().to(gg.float32).requires_grad_() for x in _inputs(case, device, seed=300 + i)]
    outs = case["fn"](*xs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    seeds = [gg.tensor(np.ones(o.shape), dtype=o.dtype, device=device) for o in outs]
    for create_graph in (False, True):
        grads = gg.grad(outs, xs, seeds, retain_graph=True, create_graph=create_graph,
                        allow_unused=True)
        for x, g in zip(xs, grads):
            assert g is None or g.dtype == x.dtype == gg.float32, (create_graph, g.dtype)


def _ops_in_graph(out):
    seen, stack, names = set(), [out.grad_fn], set()
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        names.add(type(n).__name__)
        stack.extend(e[0] for e in n._next if e and e[1] >= 0)
    return names


def test_gradcheck_reports_the_worst_element():
    class Wrong(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x._data * 2

        @staticmethod
        def backward(ctx, g):
            return g * gg.tensor([2.0, 2.0, 5.0], dtype=gg.float64)

    x = gg.tensor([1.0, 2.0, 3.0], dtype=gg.float64, requires_grad=True)
    with pytest.raises(gg.GradcheckError, match=r"input 0, element \(2,\): analytic"):
        gg.gradcheck(Wrong.apply, [x])


def test_gradcheck_fails_an_output_that_lost_its_graph():
    """An output computed outside the graph has analytic gradient 0; its numeric one is
    not, so the check fails (it compared nothing and passed)."""
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    with pytest.raises(gg.GradcheckError, match="analytic 0 vs numeric"):
        gg.gradcheck(lambda a: gg.tensor(a.numpy() ** 3), [x])
    with pytest.raises(gg.GradcheckError, match="input 0, element"):
        gg.gradcheck(lambda a: (a * 2, gg.tensor(a.numpy() ** 3)), [x])


def test_gradcheck_restores_its_input_when_fn_raises():
    x = gg.tensor([1.0, 2.0], dtype=gg.float64, requires_grad=True)
    calls = []

    def f(a):
        calls.append(1)
        if len(calls) == 3:  # the first perturbed evaluation
            raise KeyError("boom")
        return a ** 3
    with pytest.raises(KeyError):
        gg.gradcheck(f, [x])
    assert x.tolist() == [1.0, 2.0]


def test_gradcheck_needs_float64():
    x = gg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="float32; central differences need float64"):
        gg.gradcheck(gg.exp, [x])
