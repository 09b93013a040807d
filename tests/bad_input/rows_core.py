"""Bad calls to the core: ops, Tensor methods, autograd, creation, randomness, devices.

exc lists the gpugrad class and the classes a NumPy-minded and a PyTorch-minded caller
catch: a shape mismatch is a ValueError and a RuntimeError (torch), an axis out of range
a ValueError and an IndexError (NumPy's AxisError, torch's IndexError), a dtype refused a
TypeError and a RuntimeError, a device a ValueError and a RuntimeError."""
import copy
import pickle

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.errors import AxisError, DeviceError, DtypeError, ShapeError
from tests.bad_input import Row

SHAPE = (ShapeError, ValueError, RuntimeError)
AXIS = (AxisError, ValueError, IndexError, np.exceptions.AxisError)
DTYPE = (DtypeError, TypeError, RuntimeError)
DEVICE = (DeviceError, ValueError, RuntimeError)

NO_GPU = pytest.mark.skipif(gg.cuda.is_available(), reason="a GPU is present: 'cuda' works")


# ---- calls that need statements ----------------------------------------------------
def _iadd(t, v):
    t += v


def _data_step_no_grad(s):
    # the PyTorch habit, before any backward: w.grad is None
    s.w.data -= 0.1 * s.w.grad


def _data_step(s, g):
    s.w.data -= g


def _saved_changed(s):
    a = s.x * 1.0
    y = (a @ s.w).exp()  # saves a for w's gradient
    a += 1.0
    gg.grad(y.sum(), [s.w])


def _grad_twice(s):
    loss = (s.x @ s.w).tanh().sum()
    gg.grad(loss, [s.w])
    gg.grad(loss, [s.w])


def _hook(s, fn):
    y = s.x @ s.w
    y.register_hook(fn)
    gg.grad(y.sum(), [s.w])


def _nograd_view(s):
    with gg.no_grad():
        v = s.w[0]
    v += 1.0


def _set_requires_grad(t, v):
    t.requires_grad = v


def _set_data(t, v):
    t.data = v


class _TwoGrads(gg.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2

    @staticmethod
    def backward(ctx, g):
        return g, g


class _WrongGradShape(gg.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2

    @staticmethod
    def backward(ctx, g):
        return gg.ones(7)


class _ForwardList(gg.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        return [a * 2]

    @staticmethod
    def backward(ctx, g):
        return g


class _NoStatic(gg.autograd.Function):
    def forward(self, ctx, a):  # the mistake: a plain method takes ctx as self
        return a * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def _double_leaf():
    return gg.ones(2, dtype=gg.float64, requires_grad=True)


ROWS = [
    # ---- broadcasting: the op and both shapes, not NumPy's message ----------------------
    Row("add-broadcast", lambda s: s.x + gg.ones(7), SHAPE, ("add", "(5, 4)", "(7,)")),
    Row("sub-broadcast", lambda s: s.x - gg.ones(3), SHAPE, ("sub", "(5, 4)", "(3,)")),
    Row("mul-broadcast", lambda s: s.h * s.x, SHAPE, ("mul", "(5, 3)", "(5, 4)")),
    Row("div-broadcast", lambda s: s.x / gg.ones(2, 1, 3), SHAPE, ("div", "(5, 4)", "(2, 1, 3)")),
    Row("pow-broadcast", lambda s: s.x ** gg.ones(3), SHAPE, ("pow", "(5, 4)", "(3,)")),
    Row("maximum-broadcast", lambda s: gg.maximum(s.h, s.x), SHAPE,
        ("maximum", "(5, 3)", "(5, 4)")),
    Row("minimum-broadcast", lambda s: gg.minimum(s.x, s.h), SHAPE,
        ("minimum", "(5, 4)", "(5, 3)")),
    Row("where-broadcast", lambda s: gg.where(s.x > 0, s.x, s.h), SHAPE,
        ("where", "(5, 4)", "(5, 3)")),
    Row("clamp-broadcast", lambda s: s.x.clamp(min=gg.zeros(3)), SHAPE, ("clamp", "(3,)")),
    Row("compare-broadcast", lambda s: s.x < gg.zeros(3), SHAPE, ("lt", "(5, 4)", "(3,)")),
    Row("ndarray-plus-tensor-broadcast", lambda s: np.ones(3, np.float32) + s.x, SHAPE,
        ("add", "(3,)", "(5, 4)")),
    # ---- dtypes and operands ----------------------------------------------------------
    Row("add-float64", lambda s: s.x + s.x.double(), DTYPE, ("add", "float32", "float64")),
    Row("neg-bool", lambda s: -(s.x > 0), DTYPE, ("neg", "bool", "(5, 4)")),
    Row("pow-int-negative", lambda s: gg.arange(3) ** -1, (ValueError,),
        ("pow", "negative", "int64", "-1")),
    Row("mul-complex", lambda s: s.h * 1j, DTYPE, ("mul", "complex")),
    Row("add-list-of-tensors", lambda s: s.x + [s.x], (TypeError,), ("add", "list of Tensors")),
    Row("add-string", lambda s: s.x + "a", (TypeError,), ("add", "'a'", "str")),
    Row("where-float-condition", lambda s: gg.where(s.x, s.x, 0.0), DTYPE,
        ("where", "float32", "(5, 4)")),
    Row("clamp-float64-bound", lambda s: s.x.clamp(min=gg.zeros(1, dtype=gg.float64)), DTYPE,
        ("clamp", "float64")),
    # ---- matmul and linear -------------------------------------------------------------
    Row("matmul-inner", lambda s: s.x @ s.h, SHAPE, ("matmul", "(5, 4)", "(5, 3)")),
    Row("matmul-0d", lambda s: s.x @ gg.tensor(2.0), SHAPE, ("matmul", "(5, 4)", "()")),
    Row("matmul-batch", lambda s: gg.ones(2, 5, 4) @ gg.ones(3, 4, 3), SHAPE,
        ("matmul", "(2,)", "(3,)")),
    Row("matmul-float64", lambda s: s.x @ s.w.double(), DTYPE, ("matmul", "float64")),
    Row("linear-shape", lambda s: gg.linear(s.x, gg.ones(3, 5)), SHAPE,
        ("linear", "(5, 4)", "(3, 5)")),
    Row("linear-dtype", lambda s: gg.linear(s.x, s.w.T.double()), DTYPE, ("linear", "float64")),
    # ---- in-place changes: refused before anything is written ---------------------------
    Row("iadd-leaf-requires-grad", lambda s: _iadd(s.w, 1.0), (RuntimeError,),
        ("add_", "leaf", "(4, 3)")),
    Row("setitem-leaf-requires-grad", lambda s: s.w.__setitem__(0, 1.0), (RuntimeError,),
        ("__setitem__", "leaf", "(4, 3)")),
    Row("iadd-broadcast", lambda s: _iadd(s.x, gg.ones(3)), SHAPE, ("add_", "(3,)", "(5, 4)")),
    Row("iadd-grows", lambda s: _iadd(s.x, gg.ones(2, 5, 4)), SHAPE,
        ("add_", "(2, 5, 4)", "(5, 4)")),
    Row("imul-float64", lambda s: s.x.__imul__(s.x.double()), DTYPE, ("mul_", "float64")),
    Row("iadd-recorded-grows", lambda s: _iadd(s.h, gg.ones(2, 5, 3)), SHAPE,
        ("add_", "(2, 5, 3)", "(5, 3)")),
    Row("setitem-shape", lambda s: s.x.__setitem__(0, gg.ones(3)), SHAPE,
        ("setitem", "(3,)", "(5, 4)")),
    Row("setitem-float64", lambda s: s.x.__setitem__(0, gg.ones(4, dtype=gg.float64)), DTYPE,
        ("setitem", "float64", "float32")),
    Row("setitem-out-of-bounds", lambda s: s.x.__setitem__(7, 0.0), (IndexError,),
        ("setitem", "7", "(5, 4)")),
    Row("iadd-int-float", lambda s: _iadd(gg.arange(3), 1.5), DTYPE, ("add_", "int64", "1.5")),
    Row("imul-bool-float-tensor", lambda s: (s.x > 0).__imul__(s.x), DTYPE,
        ("mul_", "bool", "(5, 4)")),
    Row("iadd-shared-with-view", lambda s: (s.h[0], _iadd(s.h, 1.0)), (RuntimeError,),
        ("add_", "view", "(5, 3)")),
    Row("iadd-nograd-view", _nograd_view, (RuntimeError,), ("add_", "no_grad", "(3,)")),
    # ---- the version counter, backward twice ------------------------------------------
    Row("saved-tensor-changed", _saved_changed, (RuntimeError,),
        ("MatMul", "in-place", "version 1", "(5, 4)")),
    Row("backward-twice", _grad_twice, (RuntimeError,), ("Tanh", "second time", "retain_graph")),
    # ---- backward and grad -------------------------------------------------------------
    Row("backward-non-scalar", lambda s: s.h.backward(), SHAPE,
        ("backward", "scalar", "(5, 3)")),
    Row("backward-gradient-shape", lambda s: s.h.backward(gg.ones(3)), SHAPE,
        ("backward", "(3,)", "(5, 3)")),
    Row("backward-gradient-dtype", lambda s: s.h.backward(gg.ones(5, 3, dtype=gg.float64)),
        DTYPE, ("backward", "float64", "float32")),
    Row("backward-no-graph", lambda s: s.x.sum().backward(), (RuntimeError,),
        ("backward", "does not require grad")),
    Row("backward-two-gradients", lambda s: gg.autograd.backward([s.h], [gg.ones(5, 3)] * 2),
        (RuntimeError,), ("backward", "1 outputs", "2 gradients")),
    Row("grad-unrelated-input", lambda s: gg.grad(s.h.sum(), [gg.ones(2, requires_grad=True)]),
        (RuntimeError,), ("grad", "input 0", "(2,)", "allow_unused")),
    Row("grad-input-without-grad", lambda s: gg.grad(s.h.sum(), [s.x]), (RuntimeError,),
        ("grad", "(5, 4)", "does not require grad")),
    Row("grad-outputs-shape", lambda s: gg.grad(s.h, [s.w], grad_outputs=gg.ones(3)), SHAPE,
        ("grad", "(3,)", "(5, 3)")),
    Row("grad-outputs-array-float64", lambda s: gg.grad(s.h, [s.w], np.ones((5, 3))), DTYPE,
        ("grad", "float64", "float32")),
    Row("vjp-shape", lambda s: gg.autograd.functional.vjp(lambda a: a * 2, s.w, gg.ones(3)),
        SHAPE, ("vjp", "(3,)", "(4, 3)")),
    # ---- hooks -------------------------------------------------------------------------
    Row("hook-returns-shape", lambda s: _hook(s, lambda g: g.sum()), SHAPE,
        ("hook", "(5, 3)", "shape ()")),
    Row("hook-returns-float64", lambda s: _hook(s, lambda g: g.double()), DTYPE,
        ("hook", "float32", "float64")),
    Row("hook-returns-number", lambda s: _hook(s, lambda g: 1.0), (RuntimeError,),
        ("hook", "float")),
    Row("hook-not-callable", lambda s: s.w.register_hook(3), (TypeError,),
        ("register_hook", "int")),
    Row("hook-without-grad", lambda s: s.x.register_hook(print), (RuntimeError,),
        ("register_hook", "does not require grad")),
    Row("retain-grad-without-grad", lambda s: s.x.retain_grad(), (RuntimeError,),
        ("retain_grad", "does not require grad")),
    # ---- custom Functions --------------------------------------------------------------
    Row("function-two-gradients", lambda s: gg.grad(_TwoGrads.apply(s.h).sum(), [s.w]),
        (RuntimeError,), ("_TwoGrads", "2 gradients", "expected 1")),
    Row("function-gradient-shape", lambda s: gg.grad(_WrongGradShape.apply(s.h).sum(), [s.w]),
        SHAPE, ("_WrongGradShape", "(7,)", "(5, 3)")),
    Row("function-forward-list", lambda s: _ForwardList.apply(s.h), (TypeError,),
        ("_ForwardList", "list")),
    Row("function-no-tensor", lambda s: _TwoGrads.apply(1.0), (TypeError,),
        ("_TwoGrads", "no Tensor")),
    Row("function-not-staticmethod", lambda s: _NoStatic.apply(s.h), (TypeError,),
        ("_NoStatic", "forward", "@staticmethod")),
    # ---- Tensor attributes and conversions ----------------------------------------------
    Row("requires-grad-int", lambda s: gg.arange(3).requires_grad_(), DTYPE,
        ("requires_grad", "int64")),
    Row("requires-grad-non-leaf-off", lambda s: s.h.requires_grad_(False), (RuntimeError,),
        ("requires_grad", "leaf")),
    Row("requires-grad-truthy", lambda s: _set_requires_grad(s.w, "yes"), (TypeError,),
        ("requires_grad", "'yes'")),
    Row("grad-assign-shape", lambda s: setattr(s.w, "grad", gg.ones(3)), SHAPE,
        ("grad", "(3,)", "(4, 3)")),
    Row("grad-assign-dtype", lambda s: setattr(s.w, "grad", gg.ones(4, 3, dtype=gg.float64)),
        DTYPE, ("grad", "float64", "float32")),
    Row("grad-assign-array", lambda s: setattr(s.w, "grad", np.ones((4, 3), np.float32)),
        (TypeError,), ("grad", "numpy.ndarray")),
    Row("data-assign-list", lambda s: _set_data(s.x, [1.0]), (TypeError,),
        ("Tensor.data", "list")),
    Row("data-assign-int-to-grad-leaf", lambda s: _set_data(s.w, np.zeros((4, 3), np.int64)),
        DTYPE, ("Tensor.data", "int64")),
    Row("item-many", lambda s: s.x.item(), SHAPE, ("item", "(5, 4)")),
    Row("float-many", lambda s: float(s.h), SHAPE, ("item", "(5, 3)")),
    Row("bool-many", lambda s: bool(s.h), (RuntimeError,), ("bool", "15 elements", "ambiguous")),
    Row("index-float-tensor", lambda s: list(range(3))[gg.tensor(1.0)], (TypeError,),
        ("__index__", "float32")),
    Row("len-0d", lambda s: len(gg.tensor(1.0)), (TypeError,), ("len", "0-d")),
    Row("deepcopy-non-leaf", lambda s: copy.deepcopy(s.h), (RuntimeError,),
        ("deepcopy", "leaf")),
    Row("pickle-non-leaf", lambda s: pickle.dumps(s.h), (RuntimeError,), ("pickle", "leaf")),
    # ---- indexing ----------------------------------------------------------------------
    Row("getitem-out-of-bounds", lambda s: s.x[5], (IndexError,), ("getitem", "5", "(5, 4)")),
    Row("getitem-too-many", lambda s: s.h[0, 0, 0], (IndexError,),
        ("getitem", "3 were indexed", "(5, 3)")),
    Row("getitem-float", lambda s: s.x[1.5], (IndexError,), ("getitem", "float")),
    Row("getitem-float-tensor", lambda s: s.x[gg.ones(2)], (IndexError,),
        ("getitem", "float32")),
    Row("getitem-mask-shape", lambda s: s.x[gg.ones(3) > 0], (IndexError,),
        ("getitem", "(5, 4)", "3")),
    # ---- shapes and axes ---------------------------------------------------------------
    Row("reshape-size", lambda s: s.x.reshape(3, 7), SHAPE, ("reshape", "(5, 4)", "(3, 7)")),
    Row("view-two-inferred", lambda s: s.h.view(-1, -1), SHAPE, ("reshape", "(-1, -1)")),
    Row("permute-repeated", lambda s: s.x.permute(0, 0), SHAPE, ("permute", "(0, 0)")),
    Row("permute-count", lambda s: s.h.permute(1, 0, 2), SHAPE,
        ("permute", "(1, 0, 2)", "(5, 3)")),
    Row("transpose-axis", lambda s: s.x.transpose(0, 2), AXIS, ("transpose", "axis 2")),
    Row("squeeze-axis", lambda s: s.x.squeeze(2), AXIS, ("squeeze", "axis 2")),
    Row("unsqueeze-axis", lambda s: s.x.unsqueeze(3), AXIS, ("unsqueeze", "axis 3")),
    Row("flatten-order", lambda s: s.x.flatten(1, 0), SHAPE,
        ("flatten", "start_dim 1", "end_dim 0", "(5, 4)")),
    Row("flatten-axis", lambda s: s.h.flatten(0, 5), AXIS, ("flatten", "axis 5")),
    Row("broadcast-to", lambda s: gg.broadcast_to(s.x, (5, 3)), SHAPE,
        ("broadcast_to", "(5, 4)", "(5, 3)")),
    Row("transpose-bool", lambda s: s.h.transpose(True, 0), (TypeError,), ("transpose", "True")),
    Row("reshape-bool", lambda s: s.x.reshape(True, 20), (TypeError,), ("reshape", "True")),
    Row("cat-shapes", lambda s: gg.cat([s.x, s.h]), SHAPE, ("concatenate", "(5, 4)", "(5, 3)")),
    Row("cat-dim", lambda s: gg.cat([s.x, s.x], dim=2), AXIS, ("concatenate", "axis 2")),
    Row("cat-float64", lambda s: gg.cat([s.x, s.x.double()]), DTYPE,
        ("concatenate", "float64")),
    Row("cat-empty", lambda s: gg.cat([]), (ValueError,), ("concatenate", "non-empty")),
    Row("cat-one-tensor", lambda s: gg.cat(s.x), (TypeError,), ("concatenate", "Tensor")),
    Row("stack-shapes", lambda s: gg.stack([s.x, s.h]), SHAPE, ("stack", "(5, 4)", "(5, 3)")),
    Row("stack-dim", lambda s: gg.stack([s.h, s.h], dim=3), AXIS, ("stack", "axis 3")),
    Row("cast-object", lambda s: s.x.to(dtype=object), DTYPE, ("cast", "object")),
    # ---- reductions and softmax --------------------------------------------------------
    Row("sum-axis", lambda s: s.x.sum(2), AXIS, ("sum", "axis 2", "2 dimensions")),
    Row("mean-dim", lambda s: s.h.mean(dim=-3), AXIS, ("mean", "axis -3")),
    Row("sum-repeated", lambda s: s.x.sum((1, -1)), SHAPE, ("sum", "repeated", "(1, -1)")),
    Row("max-dim", lambda s: s.h.max(2), AXIS, ("max", "axis 2")),
    Row("max-empty-dim", lambda s: gg.ones(0, 3).max(0), AXIS, ("max", "empty", "(0, 3)")),
    Row("argmax-empty", lambda s: gg.ones(0).argmax(), AXIS, ("argmax", "(0,)")),
    Row("max-of-two-tensors", lambda s: s.h.max(s.x), (TypeError,), ("max", "gg.maximum")),
    Row("max-dim-and-axis", lambda s: s.h.max(1, axis=0), (TypeError,),
        ("max", "dim=1", "axis=0")),
    Row("softmax-dim", lambda s: s.h.softmax(dim=2), AXIS, ("softmax", "axis 2")),
    Row("log-softmax-int", lambda s: gg.arange(3).log_softmax(0), DTYPE,
        ("log_softmax", "int64")),
    Row("mean-int", lambda s: gg.arange(4).mean(), DTYPE, ("mean", "int64")),
    Row("var-int", lambda s: gg.arange(4).var(), DTYPE, ("var", "int64")),
    Row("norm-p-nan", lambda s: s.x.norm(float("nan")), (ValueError,), ("norm", "nan")),
    Row("norm-fro-three-dims", lambda s: gg.ones(2, 2, 2).norm("fro", dim=(0, 1, 2)), SHAPE,
        ("norm", "'fro'", "3")),
    Row("sum-axis-bool", lambda s: s.x.sum(True), (TypeError,), ("sum", "True")),
    # ---- PyTorch's and NumPy's keywords: named, never ignored ---------------------------
    Row("keepdims-and-keepdim", lambda s: s.x.sum(1, keepdims=True, keepdim=True), (TypeError,),
        ("sum", "keepdims", "keepdim")),
    Row("axis-and-dim", lambda s: s.x.sum(0, dim=1), (TypeError,), ("sum", "axis=0", "dim=1")),
    Row("sum-out", lambda s: s.x.sum(out=s.x), (TypeError,), ("sum", "'out'")),
    Row("sum-dtype", lambda s: s.x.sum(dtype=gg.float64), (TypeError,), ("sum", "'dtype'")),
    Row("relu-inplace", lambda s: gg.relu(s.h, inplace=True), (TypeError,), ("relu", "'inplace'")),
    Row("softmax-dtype", lambda s: s.h.softmax(1, dtype=gg.float64), (TypeError,),
        ("softmax", "'dtype'")),
    Row("to-non-blocking", lambda s: s.x.to("cpu", non_blocking=True), (TypeError,),
        ("to", "'non_blocking'")),
    # ---- losses ------------------------------------------------------------------------
    Row("cross-entropy-labels-shape",
        lambda s: gg.softmax_cross_entropy(s.h, gg.zeros(3, dtype=gg.int64)), SHAPE,
        ("softmax_cross_entropy", "(3,)", "(5, 3)")),
    Row("cross-entropy-label-range",
        lambda s: gg.softmax_cross_entropy(s.h, gg.full((5,), 7, dtype=gg.int64)), (ValueError,),
        ("softmax_cross_entropy", "label 7", "(5, 3)")),
    Row("cross-entropy-probs-float64",
        lambda s: gg.softmax_cross_entropy(s.h, gg.zeros(5, 3, dtype=gg.float64)), DTYPE,
        ("softmax_cross_entropy", "float64", "float32")),
    Row("mse-shape", lambda s: gg.mse_loss(s.h, gg.zeros(5)), SHAPE,
        ("mse_loss", "(5, 3)", "(5,)")),
    Row("mse-float64", lambda s: gg.mse_loss(s.h, s.h.detach().double()), DTYPE,
        ("mse_loss", "float64", "float32")),
    Row("mse-loss-bad-reduction", lambda s: gg.mse_loss(s.h, s.h.detach(), reduction="avg"),
        (ValueError,), ("mse_loss", "'avg'")),
    Row("bce-outside-unit-interval", lambda s: gg.binary_cross_entropy(s.h - 2, gg.zeros(5, 3)),
        (ValueError,), ("binary_cross_entropy", "between 0 and 1", "(5, 3)")),
    Row("one-hot-negative", lambda s: gg.one_hot(gg.tensor([-1, 0])), (ValueError,),
        ("one_hot", "-1")),
    Row("dropout-p", lambda s: gg.dropout(s.h, 1.5), (ValueError,), ("dropout", "1.5")),
    # ---- creation ----------------------------------------------------------------------
    Row("ones-negative", lambda s: gg.ones(2, -3), SHAPE, ("ones", "negative", "-3")),
    Row("zeros-no-size", lambda s: gg.zeros(), (TypeError,), ("zeros", "missing size")),
    Row("empty-float-size", lambda s: gg.empty(2.5), (TypeError,), ("empty", "2.5")),
    Row("full-string-dtype", lambda s: gg.full((2,), 1.0, dtype="U3"), DTYPE, ("full", "<U3")),
    Row("zeros-object-dtype", lambda s: gg.zeros(2, dtype=object), DTYPE, ("zeros", "object")),
    Row("ones-no-dtype", lambda s: gg.ones(2, dtype="floaty"), (TypeError,), ("ones", "floaty")),
    Row("tensor-ragged", lambda s: gg.tensor([[1.0, 2.0], [3.0]]), (ValueError,),
        ("tensor", "inhomogeneous")),
    Row("from-dlpack-int", lambda s: gg.from_dlpack(3), (TypeError,), ("from_dlpack", "int")),
    Row("tensor-strings", lambda s: gg.tensor(["a"]), (TypeError,), ("tensor", "<U1")),
    Row("zeros-int-requires-grad", lambda s: gg.zeros(2, dtype=gg.int64, requires_grad=True),
        DTYPE, ("zeros", "int64")),
    Row("full-overflow", lambda s: gg.full((2,), 300, dtype="int8"), (OverflowError,),
        ("full", "300", "int8")),
    Row("arange-step-zero", lambda s: gg.arange(0, 5, 0), (ValueError,),
        ("arange", "step must be nonzero")),
    Row("arange-wrong-side", lambda s: gg.arange(5, 0, 1), (ValueError,),
        ("arange", "end 0", "start 5")),
    Row("arange-nan", lambda s: gg.arange(0, float("nan")), (ValueError,), ("arange", "nan")),
    Row("linspace-negative-steps", lambda s: gg.linspace(0, 1, -1), (ValueError,),
        ("linspace", "-1")),
    # ---- randomness --------------------------------------------------------------------
    Row("seed-float", lambda s: gg.manual_seed(1.5), (TypeError,), ("manual_seed", "1.5")),
    Row("seed-string", lambda s: gg.manual_seed("7"), (TypeError,), ("manual_seed", "str")),
    Row("seed-too-large", lambda s: gg.manual_seed(2 ** 64), (ValueError,),
        ("manual_seed", str(2 ** 64))),
    Row("randint-empty-range", lambda s: gg.randint(5, 5, (2,)), (ValueError,),
        ("randint", "low=5", "high=5")),
    Row("randint-no-size", lambda s: gg.randint(5), (TypeError,), ("randint", "missing size")),
    Row("randperm-negative", lambda s: gg.randperm(-1), SHAPE, ("randperm", "-1")),
    Row("randn-negative", lambda s: gg.randn(-2), SHAPE, ("randn", "-2")),
    Row("rand-int-dtype", lambda s: gg.rand(2, dtype=gg.int64), DTYPE, ("rand", "int64")),
    Row("rand-generator", lambda s: gg.rand(2, generator="x"), (TypeError,),
        ("rand", "generator", "str")),
    Row("bernoulli-p", lambda s: gg.bernoulli(s.x, p=1.5), (ValueError,), ("bernoulli", "1.5")),
    Row("bernoulli-input-range", lambda s: gg.bernoulli(s.h), (ValueError,),
        ("bernoulli", "[0, 1]", "(5, 3)")),
    Row("bernoulli-int", lambda s: gg.bernoulli(gg.ones(2, dtype=gg.int64)), DTYPE,
        ("bernoulli", "int64")),
    Row("normal-negative-std", lambda s: gg.normal(0.0, -1.0, (2,)), (ValueError,),
        ("normal", "-1.0")),
    # ---- devices -----------------------------------------------------------------------
    Row("device-unknown", lambda s: gg.ones(2, device="tpu"), DEVICE, ("device", "'tpu'")),
    Row("device-bad-index", lambda s: gg.ones(2, device="cuda:x"), DEVICE,
        ("device", "'cuda:x'")),
    Row("device-cpu-index", lambda s: gg.ones(2, device="cpu:1"), DEVICE, ("device", "'cpu:1'")),
    Row("device-not-a-string", lambda s: gg.ones(2, device=3), (TypeError,), ("device", "3")),
    Row("to-unknown-device", lambda s: s.x.to("tpu"), DEVICE, ("device", "'tpu'")),
    Row("cuda-without-gpu", lambda s: gg.ones(2, device="cuda"),
        (gg.cuda.CUDAUnavailableError,) + DEVICE, ("CUDA",), marks=(NO_GPU,)),
    Row("to-cuda-without-gpu", lambda s: s.h.cuda(), (gg.cuda.CUDAUnavailableError,) + DEVICE,
        ("CUDA",), marks=(NO_GPU,)),
    # ---- gradcheck ---------------------------------------------------------------------
    Row("gradcheck-float32", lambda s: gg.gradcheck(lambda a: a * 2, (s.w,)), DTYPE,
        ("gradcheck", "float32", "float64")),
    Row("gradcheck-no-grad-input", lambda s: gg.gradcheck(lambda a: a, (s.x.double(),)),
        (ValueError,), ("gradcheck", "no input requires grad")),
    Row("gradcheck-not-callable", lambda s: gg.gradcheck(3, (_double_leaf(),)), (TypeError,),
        ("gradcheck", "int")),
    Row("gradcheck-negative-eps", lambda s: gg.gradcheck(lambda a: a, (_double_leaf(),), eps=-1),
        (ValueError,), ("gradcheck", "eps", "-1")),
    Row("gradcheck-no-float-output", lambda s: gg.gradcheck(lambda a: a > 0, (_double_leaf(),)),
        (ValueError,), ("gradcheck", "no floating point")),
    # ---- PyTorch habits ----------------------------------------------------------------
    Row("data-step-grad-none", _data_step_no_grad, (TypeError,), ("NoneType",)),
    Row("data-step-shape", lambda s: _data_step(s, gg.ones(3, 4)), SHAPE,
        ("sub_", "(3, 4)", "(4, 3)")),
    Row("data-step-float64", lambda s: _data_step(s, gg.ones(4, 3, dtype=gg.float64)), DTYPE,
        ("sub_", "float64", "float32")),
    Row("np-exp", lambda s: np.exp(s.h), (TypeError,), ("np.exp", "gg.exp(t)", "t.exp()")),
    Row("np-sum", lambda s: np.sum(s.h), (TypeError,), ("np.sum", "gg.sum(t)", "t.sum()")),
    Row("np-add-reduce", lambda s: np.add.reduce(s.h), (TypeError,),
        ("np.add.reduce", "gg.sum(t)")),
    Row("np-concatenate", lambda s: np.concatenate([s.x, s.x]), (TypeError,),
        ("np.concatenate", "gg.concatenate(tensors)")),
    Row("np-where", lambda s: np.where(s.x > 0, s.x, 0.0), (TypeError,),
        ("np.where", "gg.where")),
    Row("np-isfinite", lambda s: np.isfinite(s.h), (TypeError,),
        ("np.isfinite", "t.numpy()")),
    Row("non-leaf-grad", lambda s: s.h.grad, warns=UserWarning,
        words=("non-leaf", "(5, 3)", "retain_grad")),
]
