"""Bad calls to the training stack: nn, optim, schedulers, data, checkpoints, the demo.

Rows that make something besides the shared State (a second optimizer, a scheduler, a
file) check inside the row that the error left that thing as it was (`_keeps`), then
re-raise for the table to check the error itself. Files live in a temporary directory
that the row removes.
"""
import os
import pickle
import shutil
import tempfile

import numpy as np

import gpugrad as gg
from gpugrad.errors import AxisError, DeviceError, DtypeError, ShapeError
from tests.bad_input import Row

nn, F, optim = gg.nn, gg.nn.functional, gg.optim
S = gg.optim.lr_scheduler
D = gg.utils.data
SHAPE = (ValueError, RuntimeError, ShapeError)
DTYPE = (TypeError, RuntimeError, DtypeError)
DEVICE = (ValueError, RuntimeError, DeviceError)
AXIS = (ValueError, IndexError, AxisError)


# ---- helpers ---------------------------------------------------------------------------
def _in_tmp(fn):
    """fn(directory) inside a fresh temporary directory, removed afterwards."""
    def call(s):
        d = tempfile.mkdtemp(prefix="gg-bad-input-")
        try:
            return fn(s, d)
        finally:
            shutil.rmtree(d)
    return call


def _keeps(snapshot, call):
    """call(); when it raises, snapshot() must read as before it, then the error goes on."""
    before = snapshot()
    try:
        return call()
    except BaseException:
        after = snapshot()
        assert after == before, f"the failed call changed {before!r} into {after!r}"
        raise


def _groups(opt):
    return repr([{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups])


def _sched_state(sched):
    return (sched.last_epoch, sched._step_count, sched.get_last_lr(), _groups(sched.optimizer))


def _zeros_like_state(s):
    """The model's state dict with every value zero: a load that copied any of it before
    failing would show in the parameters."""
    return {k: gg.zeros(v.shape) for k, v in s.model.state_dict().items()}


def _sd_with(s, key, value=None, drop=False):
    sd = _zeros_like_state(s)
    if drop:
        del sd[key]
    else:
        sd[key] = value
    return sd


_DROP = object()


def _opt_sd(s, group=None, state=None):
    """A state dict for s.opt: its groups with another lr (and `group`'s options), and a
    full Adam state for every parameter, with `state`'s entries replaced (or removed, for
    _DROP). A load that took any of it before failing would show in the groups or the
    state."""
    sd = s.opt.state_dict()
    groups = [{**g, "lr": 0.5, **(group or {})} for g in sd["param_groups"]]
    st = {i: {"step": gg.tensor(3.0), "exp_avg": gg.ones(p.shape),
              "exp_avg_sq": gg.ones(p.shape)} for i, p in enumerate(s.model.parameters())}
    for (i, k), v in (state or {}).items():
        if v is _DROP:
            del st[i][k]
        else:
            st[i][k] = v
    return {"state": st, "param_groups": groups}


def _second_opt(s):
    """A second Adam over s.model's parameters: a scheduler may write its groups."""
    return optim.Adam(s.model.parameters(), lr=1e-2)


def _onecycle_past_end(s):
    sched = S.OneCycleLR(_second_opt(s), max_lr=0.1, total_steps=2)
    sched.step()
    sched.step()  # the last step there is
    return _keeps(lambda: _sched_state(sched), sched.step)


def _load_other_schedule(s):
    sched = S.CosineAnnealingLR(_second_opt(s), T_max=10)
    sched.step()
    other = S.StepLR(_second_opt(s), step_size=3).state_dict()
    return _keeps(lambda: (_sched_state(sched), sorted(vars(sched))),
                  lambda: sched.load_state_dict(other))


def _save_then(s, d, damage):
    path = os.path.join(d, "model.safetensors")
    gg.save(s.model.state_dict(), path)
    with open(path, "rb") as f:
        blob = bytearray(f.read())
    with open(path, "wb") as f:
        f.write(damage(blob))
    return gg.load(path)


def _flip_last_byte(blob):
    blob[-1] ^= 0xFF  # inside the last tensor's data
    return bytes(blob)


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def _load_text_mode(s, d):
    path = os.path.join(d, "model.safetensors")
    gg.save(s.model.state_dict(), path)
    with open(path, errors="replace") as f:
        return gg.load(f)


def _save_text_mode(s, d):
    with open(os.path.join(d, "model.safetensors"), "w") as f:
        return gg.save(s.model.state_dict(), f)


def _npy(d):
    path = os.path.join(d, "a.npy")
    np.save(path, np.ones(3, np.float32))
    return path


def _failed_save_keeps_old(s, d):
    path = os.path.join(d, "ckpt.safetensors")
    gg.save({"w": s.w}, path)
    with open(path, "rb") as f:
        old = f.read()

    def same_file():
        with open(path, "rb") as f:
            return f.read() == old
    return _keeps(same_file, lambda: gg.save({"w": s.w, "model": s.model}, path))


def _save_refused_no_file(s, d, obj):
    path = os.path.join(d, "x.safetensors")
    return _keeps(lambda: sorted(os.listdir(d)), lambda: gg.save(obj(s), path))


def _other_architecture(s, d):
    other = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    path = os.path.join(d, "other.safetensors")
    gg.save(other.state_dict(), path)
    return s.model.load_state_dict(gg.load(path))


def _demo_evaluate(s, d, ckpt):
    from gpugrad.__main__ import evaluate
    path = os.path.join(d, "demo.safetensors")
    if ckpt is None:
        np.save(path + ".npy", np.ones(3))
        os.replace(path + ".npy", path)
    else:
        gg.save(ckpt(s), path)
    return evaluate(path, "cpu")


def _demo_device(name):
    from gpugrad.__main__ import _device
    return _device(name)


def _demo_error():
    from gpugrad.__main__ import DemoError
    return DemoError


class _Ragged(D.Dataset):
    """Samples of two lengths: a batch of them cannot be stacked."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return gg.ones(2 + i % 2)


def _module_list_insert(s):
    layers = nn.ModuleList([s.model[0], nn.Tanh(), s.model[2]])
    return _keeps(lambda: [type(m).__name__ for m in layers], lambda: layers.insert(1, 3))


def _module_dict_update(s):
    layers = nn.ModuleDict({"first": s.model[0]})
    return _keeps(lambda: list(layers.keys()),
                  lambda: layers.update({"b": nn.Tanh(), "c.d": nn.ReLU()}))


def _step_after_double(s):
    """An Adam that has state, then its model converted to float64: the next step."""
    model = nn.Linear(4, 3)
    opt = optim.Adam(model.parameters(), lr=0.1)
    model(s.x).sum().backward()
    opt.step()
    model.double()
    model(s.x.to(gg.float64)).sum().backward()

    def params():
        return [p.numpy().tolist() for p in model.parameters()] + [_groups(opt)]
    return _keeps(params, opt.step)


def _raise(exc):
    raise exc


# ---- the rows --------------------------------------------------------------------------
ROWS = [
    # -- modules: forward ------------------------------------------------------------
    Row("linear-in-features", lambda s: s.model(gg.ones(2, 5)), SHAPE,
        ("linear", "(2, 5)", "(8, 4)")),
    Row("model-float64-input", lambda s: s.model(s.x.to(gg.float64)), DTYPE,
        ("linear", "float64", "float32")),
    Row("model-0d-input", lambda s: s.model(gg.tensor(1.0)), SHAPE, ("linear", "()", "(8, 4)")),
    Row("nn-softmax-dim-out-of-range", lambda s: nn.Softmax(dim=2)(s.h), AXIS,
        ("softmax", "axis 2", "2 dimensions")),
    Row("nn-flatten-dim-out-of-range", lambda s: nn.Flatten(start_dim=3)(s.h), AXIS,
        ("flatten", "3", "2 dimensions")),
    Row("model-numpy-input", lambda s: s.model(s.x.numpy()), (TypeError,),
        ("linear", "numpy.ndarray")),
    Row("layer-norm-shape", lambda s: nn.LayerNorm(5)(s.h), SHAPE,
        ("layer_norm", "[5]", "(5, 3)")),
    Row("layer-norm-float64-input", lambda s: nn.LayerNorm(3)(s.h.to(gg.float64)), DTYPE,
        ("layer_norm", "float64", "float32")),
    Row("linear-bias-shape", lambda s: F.linear(s.x, s.model[0].weight, gg.zeros(2)), SHAPE,
        ("linear", "bias", "(2,)", "(5, 8)")),
    Row("linear-bias-dtype", lambda s: F.linear(s.x, s.model[0].weight,
                                                gg.zeros(8, dtype=gg.float64)), DTYPE,
        ("linear", "bias", "float64", "float32")),
    Row("embedding-index-high", lambda s: nn.Embedding(5, 3)(gg.tensor([1, 5])),
        (IndexError,), ("embedding", "[1, 5]", "5 rows")),
    Row("embedding-index-negative", lambda s: nn.Embedding(5, 3)(gg.tensor([-1, 2])),
        (IndexError,), ("embedding", "[-1, 2]", "5 rows")),
    Row("embedding-float-indices", lambda s: nn.Embedding(5, 3)(s.x), DTYPE,
        ("embedding", "integer", "float32")),
    Row("dropout-functional-p", lambda s: F.dropout(s.h, 2.0), (ValueError,),
        ("dropout", "2.0")),

    # -- modules: construction -------------------------------------------------------
    Row("linear-negative-size", lambda s: nn.Linear(-1, 3), SHAPE,
        ("Linear", "in_features", "-1")),
    Row("linear-float-size", lambda s: nn.Linear(4, 2.5), (TypeError,),
        ("Linear", "out_features", "2.5")),
    Row("linear-zero-size", lambda s: nn.Linear(0, 3), warns=UserWarning,
        words=("kaiming_uniform_", "zero-element")),
    Row("linear-int-dtype", lambda s: nn.Linear(4, 3, dtype=gg.int64), DTYPE,
        ("Linear", "floating point", "int64")),
    Row("embedding-negative-count", lambda s: nn.Embedding(-3, 2), SHAPE,
        ("Embedding", "num_embeddings", "-3")),
    Row("embedding-padding-idx", lambda s: nn.Embedding(5, 3, padding_idx=7), (ValueError,),
        ("Embedding", "padding_idx", "7")),
    Row("layer-norm-str-shape", lambda s: nn.LayerNorm("4"), (TypeError,),
        ("LayerNorm", "normalized_shape", "'4'")),
    Row("layer-norm-float-shape", lambda s: nn.LayerNorm([2.7]), (TypeError,),
        ("LayerNorm", "normalized_shape", "[2.7]")),
    Row("dropout-p-above-one", lambda s: nn.Dropout(1.5), (ValueError,),
        ("Dropout", "between 0 and 1", "1.5")),
    Row("dropout-p-negative", lambda s: nn.Dropout(-0.1), (ValueError,),
        ("Dropout", "between 0 and 1", "-0.1")),
    Row("loss-module-reduction", lambda s: nn.CrossEntropyLoss(reduction="bogus"),
        (ValueError,), ("CrossEntropyLoss", "reduction", "'bogus'")),

    # -- modules: containers and registration ----------------------------------------
    Row("sequential-index", lambda s: s.model[3], (IndexError,),
        ("Sequential", "index 3", "3 modules")),
    Row("sequential-negative-index", lambda s: s.model[-4], (IndexError,),
        ("Sequential", "index -4", "3 modules")),
    Row("sequential-str-index", lambda s: s.model["0"], (TypeError,), ("Sequential", "str")),
    Row("sequential-setitem", lambda s: s.model.__setitem__(5, nn.Tanh()), (IndexError,),
        ("Sequential", "index 5")),
    Row("sequential-insert", lambda s: s.model.insert(7, nn.Tanh()), (IndexError,),
        ("Sequential.insert", "index 7", "3 modules")),
    Row("sequential-extend-non-module", lambda s: s.model.extend([nn.Tanh(), 3]), (TypeError,),
        ("Sequential.extend", "builtins.int")),
    Row("module-list-insert-non-module", _module_list_insert, (TypeError,),
        ("ModuleList.insert", "builtins.int")),
    Row("module-dict-update-bad-key", _module_dict_update, (KeyError,),
        ("module name", '"c.d"')),
    Row("register-parameter-dot",
        lambda s: s.model.register_parameter("a.b", nn.Parameter(gg.ones(2))), (KeyError,),
        ("parameter name", '"a.b"')),
    Row("register-parameter-empty", lambda s: s.model.register_parameter("", None),
        (KeyError,), ("parameter name", "empty string")),
    Row("register-parameter-int-name", lambda s: s.model.register_parameter(3, None),
        (TypeError,), ("parameter name", "builtins.int")),
    Row("register-parameter-existing", lambda s: s.model[0].register_parameter("training", None),
        (KeyError,), ("attribute 'training' already exists",)),
    Row("register-parameter-tensor", lambda s: s.model.register_parameter("q", gg.ones(3)),
        (TypeError,), ("parameter 'q'", "gpugrad.tensor.Tensor", "Parameter or None")),
    Row("assign-tensor-over-weight", lambda s: setattr(s.model[0], "weight", gg.zeros(8, 4)),
        (TypeError,), ("parameter 'weight'", "gpugrad.tensor.Tensor")),
    Row("register-buffer-list", lambda s: s.model.register_buffer("b", [1, 2]), (TypeError,),
        ("buffer 'b'", "builtins.list")),
    Row("model-to-int-dtype", lambda s: s.model.to(gg.int64), DTYPE,
        ("Module.to", "floating point", "int64")),
    Row("model-to-unknown-device", lambda s: s.model.to("tpu"), DEVICE,
        ("device", "'tpu'")),
    Row("model-train-mode", lambda s: s.model.train("yes"), (ValueError,),
        ("train", "'yes'")),

    # -- modules: load_state_dict (the model exactly unchanged after) ----------------
    Row("model-load-size-mismatch", lambda s: s.model.load_state_dict(
        _sd_with(s, "2.bias", gg.zeros(4))), SHAPE,
        ("Error(s) in loading state_dict for Sequential", "size mismatch for 2.bias", "(4,)",
         "(3,)")),
    Row("model-load-missing-key", lambda s: s.model.load_state_dict(
        _sd_with(s, "2.bias", drop=True)), (RuntimeError,),
        ("Error(s) in loading state_dict", "Missing key(s)", '"2.bias"')),
    Row("model-load-unexpected-key", lambda s: s.model.load_state_dict(
        _sd_with(s, "3.weight", gg.zeros(3, 3))), (RuntimeError,),
        ("Error(s) in loading state_dict", "Unexpected key(s)", '"3.weight"')),
    Row("model-load-numpy-values", lambda s: s.model.load_state_dict(
        {k: v.numpy() for k, v in _zeros_like_state(s).items()}), (RuntimeError,),
        ('"0.weight"', "expected a gpugrad Tensor", "numpy.ndarray")),
    Row("model-load-not-a-dict", lambda s: s.model.load_state_dict([1, 2]), (TypeError,),
        ("load_state_dict", "builtins.list")),
    Row("model-load-other-architecture", _in_tmp(_other_architecture), SHAPE,
        ("size mismatch for 0.weight", "(6, 4)", "(8, 4)", "size mismatch for 2.weight")),

    # -- losses ----------------------------------------------------------------------
    Row("cross-entropy-target-batch", lambda s: F.cross_entropy(s.model(s.x), s.y[:4]),
        SHAPE, ("softmax_cross_entropy", "(4,)", "(5, 3)")),
    Row("cross-entropy-float-target-shape", lambda s: F.cross_entropy(s.model(s.x), gg.zeros(5)),
        SHAPE, ("softmax_cross_entropy", "target of shape (5,)", "(5, 3)")),
    # PyTorch raises IndexError for a class index out of range; the backends' check
    # raises a ValueError that is not one (yet).
    Row("cross-entropy-class-high",
        lambda s: F.cross_entropy(s.model(s.x), gg.tensor([0, 1, 2, 3, 0])), (ValueError,),
        ("softmax_cross_entropy", "label 3", "[0, 3)")),
    Row("cross-entropy-class-negative",
        lambda s: F.cross_entropy(s.model(s.x), gg.tensor([0, -2, 2, 1, 0])), (ValueError,),
        ("softmax_cross_entropy", "label -2", "[0, 3)")),
    Row("bce-with-logits-target-dtype", lambda s: F.binary_cross_entropy_with_logits(
        s.h, gg.zeros(5, 3, dtype=gg.float64)), DTYPE,
        ("binary_cross_entropy_with_logits", "float64", "float32")),
    Row("cross-entropy-reduction", lambda s: F.cross_entropy(s.model(s.x), s.y,
                                                             reduction="bogus"),
        (ValueError,), ("reduction", "'bogus'")),
    Row("cross-entropy-weight-shape", lambda s: F.cross_entropy(s.model(s.x), s.y,
                                                                weight=gg.ones(4)),
        SHAPE, ("softmax_cross_entropy", "(3,)", "(4,)")),
    Row("cross-entropy-label-smoothing", lambda s: F.cross_entropy(s.model(s.x), s.y,
                                                                   label_smoothing=2.0),
        (ValueError,), ("label_smoothing", "2.0")),
    Row("cross-entropy-int-logits", lambda s: F.cross_entropy(s.y.reshape(5, 1), s.y),
        DTYPE, ("softmax_cross_entropy", "floating point", "int64")),
    Row("mse-weight-shape", lambda s: F.mse_loss(s.h, gg.zeros(5, 3), weight=gg.ones(3)),
        SHAPE, ("mse_loss", "(3,)", "(5, 3)")),
    Row("mse-reduction", lambda s: F.mse_loss(s.h, gg.zeros(5, 3), reduction="bogus"),
        (ValueError,), ("mse_loss", "reduction", "'bogus'")),
    Row("mse-target-shape", lambda s: F.mse_loss(s.h, gg.zeros(5, 4)), SHAPE,
        ("mse_loss", "(5, 3)", "(5, 4)")),
    Row("mse-target-dtype", lambda s: nn.MSELoss()(s.h, gg.zeros(5, 3, dtype=gg.float64)),
        DTYPE, ("mse_loss", "float64", "float32")),
    Row("mse-weight-dtype", lambda s: F.mse_loss(s.h, gg.zeros(5, 3),
                                                 weight=gg.ones(5, 3, dtype=gg.float64)),
        DTYPE, ("mse_loss", "float64", "float32")),
    Row("bce-with-logits-shape",
        lambda s: F.binary_cross_entropy_with_logits(s.h, gg.zeros(5, 1)), SHAPE,
        ("binary_cross_entropy_with_logits", "(5, 3)", "(5, 1)")),
    Row("loss-legacy-size-average", lambda s: nn.MSELoss(size_average=True), (ValueError,),
        ("MSELoss", "size_average", "reduction=")),

    # -- initialisation of s.model's own weights (refused before anything is drawn) --
    Row("init-normal-std-negative", lambda s: nn.init.normal_(s.model[0].weight, 0.0, -1.0),
        (ValueError,), ("normal_", "std", "-1.0")),
    Row("init-uniform-bounds", lambda s: nn.init.uniform_(s.model[0].weight, 2, 1),
        (ValueError,), ("uniform_", "a=2.0", "b=1.0")),
    Row("init-xavier-one-dim", lambda s: nn.init.xavier_uniform_(s.model[0].bias),
        (ValueError,), ("xavier_uniform_", "fewer than 2 dimensions", "(8,)")),
    Row("init-xavier-gain-negative",
        lambda s: nn.init.xavier_normal_(s.model[0].weight, gain=-1), (ValueError,),
        ("xavier_normal_", "gain", "-1")),
    Row("init-kaiming-mode", lambda s: nn.init.kaiming_uniform_(s.model[2].weight,
                                                                mode="fan_avg"),
        (ValueError,), ("kaiming_uniform_", "'fan_avg'", "fan_in")),
    Row("init-constant-str", lambda s: nn.init.constant_(s.model[2].bias, "0.5"),
        (TypeError,), ("constant_", "'0.5'")),
    Row("init-int-tensor", lambda s: nn.init.normal_(s.y), (TypeError,),
        ("normal_", "floating point", "int64")),

    # -- gradient clipping (gradients exactly as before) -----------------------------
    Row("clip-norm-type", lambda s: nn.utils.clip_grad_norm_(s.model.parameters(), 1.0,
                                                              norm_type="fro"),
        (ValueError,), ("norm_type", "'fro'")),
    Row("clip-max-norm-negative",
        lambda s: nn.utils.clip_grad_norm_(s.model.parameters(), -1.0), (ValueError,),
        ("clip_grad_norm_", "max_norm", "-1.0")),
    Row("clip-max-norm-str", lambda s: nn.utils.clip_grad_norm_(s.model.parameters(), "1"),
        (TypeError,), ("clip_grad_norm_", "max_norm", "'1'")),
    Row("clip-value-negative",
        lambda s: nn.utils.clip_grad_value_(s.model.parameters(), -0.5), (ValueError,),
        ("clip_grad_value_", "clip_value", "-0.5")),
    Row("clip-not-tensors", lambda s: nn.utils.clip_grad_norm_([s.w, 3.0], 1.0),
        (TypeError,), ("clip_grad_norm_", "element 1", "builtins.float")),

    # -- optimizers: construction ----------------------------------------------------
    Row("adam-lr-negative", lambda s: optim.Adam(s.model.parameters(), lr=-0.1),
        (ValueError,), ("Adam", "lr", "-0.1")),
    Row("adam-lr-str", lambda s: optim.Adam(s.model.parameters(), lr="0.1"), (TypeError,),
        ("Adam", "lr", "'0.1'")),
    Row("adam-beta1-one", lambda s: optim.Adam(s.model.parameters(), betas=(1.0, 0.999)),
        (ValueError,), ("Adam", "beta", "index 0", "1.0")),
    Row("adam-beta2-negative", lambda s: optim.Adam(s.model.parameters(), betas=(0.9, -0.1)),
        (ValueError,), ("Adam", "beta", "index 1", "-0.1")),
    Row("adam-betas-triple", lambda s: optim.Adam(s.model.parameters(), betas=(0.9,) * 3),
        (ValueError,), ("Adam", "betas", "(0.9, 0.9, 0.9)")),
    Row("adam-eps-negative", lambda s: optim.Adam(s.model.parameters(), eps=-1e-8),
        (ValueError,), ("Adam", "eps", "-1e-08")),
    Row("adamw-weight-decay-negative",
        lambda s: optim.AdamW(s.model.parameters(), weight_decay=-0.01), (ValueError,),
        ("AdamW", "weight_decay", "-0.01")),
    Row("sgd-momentum-negative", lambda s: optim.SGD(s.model.parameters(), lr=0.1,
                                                     momentum=-0.5),
        (ValueError,), ("SGD", "momentum", "-0.5")),
    Row("sgd-nesterov-without-momentum",
        lambda s: optim.SGD(s.model.parameters(), lr=0.1, nesterov=True), (ValueError,),
        ("SGD", "Nesterov", "momentum=0")),
    Row("rmsprop-alpha-above-one", lambda s: optim.RMSprop(s.model.parameters(), alpha=2.0),
        (ValueError,), ("RMSprop", "alpha", "2.0")),
    Row("adagrad-lr-decay-negative",
        lambda s: optim.Adagrad(s.model.parameters(), lr_decay=-1), (ValueError,),
        ("Adagrad", "lr_decay", "-1")),
    Row("optimizer-empty", lambda s: optim.Adam([]), (ValueError,),
        ("Adam", "empty parameter list")),
    Row("optimizer-non-leaf", lambda s: optim.Adam([s.w, s.h]), (ValueError,),
        ("Adam", "non-leaf", "params[1]", "(5, 3)")),
    Row("optimizer-int-tensor", lambda s: optim.SGD([s.y], lr=0.1), (TypeError,),
        ("SGD", "floating point", "int64")),
    Row("optimizer-one-tensor", lambda s: optim.Adam(s.w), (TypeError,),
        ("Adam", "iterable of Tensors", "Tensor")),
    Row("optimizer-set-of-params", lambda s: optim.Adam(set(s.model.parameters())),
        (TypeError,), ("Adam", "ordering of a set")),
    Row("optimizer-duplicate-across-groups", lambda s: optim.SGD(
        [{"params": [s.w]}, {"params": [s.w], "lr": 0.5}], lr=0.1), (ValueError,),
        ("SGD", "more than one parameter group")),
    Row("add-param-group-duplicate",
        lambda s: s.opt.add_param_group({"params": [s.model[0].weight]}), (ValueError,),
        ("Adam", "more than one parameter group")),
    Row("add-param-group-bad-lr", lambda s: s.opt.add_param_group({"params": [s.w], "lr": -1}),
        (ValueError,), ("Adam", "lr", "-1")),
    Row("add-param-group-no-params", lambda s: s.opt.add_param_group({"lr": 0.1}),
        (ValueError,), ("add_param_group", "'params'")),

    # -- optimizers: load_state_dict (s.opt exactly unchanged, next step identical) ---
    Row("optimizer-load-group-count", lambda s: s.opt.load_state_dict(
        {"state": {}, "param_groups": _opt_sd(s)["param_groups"] * 2}), (ValueError,),
        ("Adam.load_state_dict", "2 parameter groups", "has 1")),
    Row("optimizer-load-param-count", lambda s: s.opt.load_state_dict(
        _opt_sd(s, group={"params": [0, 1]})), (ValueError,),
        ("Adam.load_state_dict", "2 parameters", "4 in the optimizer")),
    Row("optimizer-load-state-shape", lambda s: s.opt.load_state_dict(
        _opt_sd(s, state={(3, "exp_avg_sq"): gg.zeros(3, 3)})), SHAPE,
        ("Adam.load_state_dict", "exp_avg_sq", "(3, 3)", "(3,)")),
    Row("optimizer-load-bad-lr", lambda s: s.opt.load_state_dict(
        _opt_sd(s, group={"lr": -1.0})), (ValueError,), ("Adam", "lr", "-1.0")),
    Row("optimizer-load-bad-step", lambda s: s.opt.load_state_dict(
        _opt_sd(s, state={(3, "step"): -3.0})), (ValueError,),
        ("Adam.load_state_dict", "step", "-3.0")),
    Row("optimizer-load-numpy-state", lambda s: s.opt.load_state_dict(
        _opt_sd(s, state={(2, "exp_avg"): np.zeros((3, 8), np.float32)})), (TypeError,),
        ("Adam.load_state_dict", "exp_avg", "numpy.ndarray", "(3, 8)")),
    Row("optimizer-load-partial-state", lambda s: s.opt.load_state_dict(
        _opt_sd(s, state={(2, "exp_avg"): _DROP})), (ValueError,),
        ("Adam.load_state_dict", "parameter 2", "lacks 'exp_avg'")),
    Row("optimizer-load-other-optimizer", lambda s: s.opt.load_state_dict(
        optim.SGD(s.model.parameters(), lr=0.1, momentum=0.9).state_dict()), (ValueError,),
        ("Adam.load_state_dict", "lacks", "'betas'")),
    Row("optimizer-load-missing-groups", lambda s: s.opt.load_state_dict({"state": {}}),
        (ValueError,), ("Adam.load_state_dict", "'param_groups'", "['state']")),
    Row("optimizer-step-after-model-double", _step_after_double, DTYPE,
        ("Adam.step", "float32", "float64", "load_state_dict")),
    Row("optimizer-step-closure-raises",
        lambda s: s.opt.step(lambda: _raise(ZeroDivisionError("closure: division by zero"))),
        (ZeroDivisionError,), ("closure: division by zero",)),

    # -- schedulers (s.opt's groups untouched by a failed constructor) ---------------
    Row("cosine-t-max-zero", lambda s: S.CosineAnnealingLR(s.opt, T_max=0), (ValueError,),
        ("CosineAnnealingLR", "T_max", "0")),
    Row("cosine-t-max-float", lambda s: S.CosineAnnealingLR(s.opt, T_max=2.5), (ValueError,),
        ("CosineAnnealingLR", "T_max", "2.5")),
    Row("cosine-eta-min-str", lambda s: S.CosineAnnealingLR(s.opt, T_max=5, eta_min="0"),
        (TypeError,), ("CosineAnnealingLR", "eta_min", "'0'")),
    Row("step-lr-step-size-zero", lambda s: S.StepLR(s.opt, step_size=0), (ValueError,),
        ("StepLR", "step_size", "0")),
    Row("multistep-milestone-float", lambda s: S.MultiStepLR(s.opt, milestones=[1, 2.5]),
        (ValueError,), ("MultiStepLR", "milestones", "2.5")),
    Row("exponential-gamma-str", lambda s: S.ExponentialLR(s.opt, gamma="0.9"), (TypeError,),
        ("ExponentialLR", "gamma", "'0.9'")),
    Row("linear-lr-start-factor", lambda s: S.LinearLR(s.opt, start_factor=0), (ValueError,),
        ("LinearLR", "start_factor", "0")),
    Row("linear-lr-total-iters-zero", lambda s: S.LinearLR(s.opt, total_iters=0),
        (ValueError,), ("LinearLR", "total_iters", "0")),
    Row("scheduler-last-epoch-negative", lambda s: S.StepLR(s.opt, 2, last_epoch=-5),
        (ValueError,), ("StepLR", "last_epoch", "-5")),
    Row("scheduler-last-epoch-float", lambda s: S.StepLR(s.opt, 2, last_epoch=1.5),
        (ValueError,), ("StepLR", "last_epoch", "1.5")),
    Row("scheduler-resume-without-initial-lr", lambda s: S.StepLR(s.opt, 2, last_epoch=3),
        (KeyError,), ("StepLR", "initial_lr", "param_groups[0]", "last_epoch=3")),
    Row("scheduler-not-an-optimizer", lambda s: S.StepLR(s.model, 2), (TypeError,),
        ("StepLR", "Sequential is not an Optimizer")),
    Row("onecycle-past-total-steps", _onecycle_past_end, (ValueError,),
        ("OneCycleLR", "step 3 times", "total steps is 2")),
    Row("scheduler-load-other-kind", _load_other_schedule, (ValueError,),
        ("CosineAnnealingLR.load_state_dict", "lacks", "'T_max'")),
    Row("onecycle-momentum-per-group", lambda s: S.OneCycleLR(
        s.opt, max_lr=0.1, total_steps=10, max_momentum=[0.9, 0.95]), (ValueError,),
        ("OneCycleLR", "max_momentum", "2 values, 1 groups")),
    Row("onecycle-pct-start", lambda s: S.OneCycleLR(s.opt, max_lr=0.1, total_steps=10,
                                                     pct_start=2.0),
        (ValueError,), ("OneCycleLR", "pct_start", "2.0")),
    Row("onecycle-no-total", lambda s: S.OneCycleLR(s.opt, max_lr=0.1), (ValueError,),
        ("OneCycleLR", "total_steps", "epochs AND steps_per_epoch")),

    # -- data ------------------------------------------------------------------------
    Row("dataloader-batch-size-zero",
        lambda s: D.DataLoader(D.TensorDataset(s.x, s.y), batch_size=0), (ValueError,),
        ("DataLoader", "batch_size", "batch_size=0")),
    Row("dataloader-batch-size-negative",
        lambda s: D.DataLoader(D.TensorDataset(s.x, s.y), batch_size=-2), (ValueError,),
        ("DataLoader", "batch_size", "batch_size=-2")),
    Row("dataloader-shuffle-str",
        lambda s: D.DataLoader(D.TensorDataset(s.x, s.y), shuffle="yes"), (TypeError,),
        ("DataLoader", "shuffle", "'yes'")),
    Row("tensor-dataset-first-dims", lambda s: D.TensorDataset(s.x, s.y[:4]), SHAPE,
        ("TensorDataset", "first dimension", "(5, 4)", "(4,)")),
    Row("random-split-sum", lambda s: D.random_split(D.TensorDataset(s.x, s.y), [2, 2]),
        (ValueError,), ("random_split", "[2, 2]", "sum to 4", "5 samples")),
    Row("random-split-fractions",
        lambda s: D.random_split(D.TensorDataset(s.x, s.y), [0.5, 0.6]), (ValueError,),
        ("random_split", "sum to 1", "[0.5, 0.6]")),
    Row("random-split-negative", lambda s: D.random_split(D.TensorDataset(s.x, s.y), [6, -1]),
        (ValueError,), ("random_split", "negative", "-1")),
    Row("subset-index-in-loader", lambda s: list(D.DataLoader(
        D.Subset(D.TensorDataset(s.x, s.y), [0, 9]), batch_size=2)), (IndexError,),
        ("DataLoader", "Subset index 9", "5 samples")),
    Row("subset-float-indices-in-loader", lambda s: list(D.DataLoader(
        D.Subset(D.TensorDataset(s.x, s.y), [0.5, 2.7]), batch_size=2)), (IndexError,),
        ("DataLoader", "Subset indices must be integers", "float64", "0.5")),
    Row("subset-bool-indices-in-loader", lambda s: list(D.DataLoader(
        D.Subset(D.TensorDataset(s.x, s.y), [True, False, True]), batch_size=2)),
        (IndexError,), ("DataLoader", "Subset indices must be integers", "bool")),
    Row("subset-index", lambda s: D.Subset(D.TensorDataset(s.x, s.y), [0, 9])[1],
        (IndexError,), ("index 9", "size 5")),
    Row("collate-shapes", lambda s: D.default_collate([s.x[0], s.h[0]]), SHAPE,
        ("default_collate", "(4,)", "entry 0", "(3,)", "entry 1")),
    Row("collate-numpy-shapes",
        lambda s: D.default_collate([np.ones(2), np.ones(2), np.ones(3)]), SHAPE,
        ("default_collate", "(2,)", "(3,)", "entry 2")),
    Row("collate-dtypes", lambda s: D.default_collate([s.x[0], s.x[1].to(gg.float64)]),
        DTYPE, ("default_collate", "float32", "float64", "entry 1")),
    Row("collate-empty", lambda s: D.default_collate([]), (IndexError,),
        ("default_collate", "empty")),
    Row("collate-dict-keys", lambda s: D.default_collate([{"a": s.x[0]}, {"b": s.x[1]}]),
        (KeyError,), ("default_collate", "sample 1", "['b']", "['a']")),
    Row("dataloader-ragged-samples", lambda s: list(D.DataLoader(_Ragged(), batch_size=2)),
        SHAPE, ("default_collate", "(2,)", "(3,)")),

    # -- checkpoints -----------------------------------------------------------------
    Row("load-missing-file",
        _in_tmp(lambda s, d: gg.load(os.path.join(d, "nope.safetensors"))),
        (FileNotFoundError,), ("nope.safetensors",)),
    Row("load-truncated",
        _in_tmp(lambda s, d: _save_then(s, d, lambda b: bytes(b[:len(b) // 2]))),
        (ValueError,), ("load", "model.safetensors", "truncated")),
    Row("load-corrupted-data", _in_tmp(lambda s, d: _save_then(s, d, _flip_last_byte)),
        (ValueError,), ("load", "model.safetensors", "corrupted",
                        "does not match its checksum")),
    Row("load-empty-file", _in_tmp(lambda s, d: gg.load(_write(os.path.join(d, "e"), b""))),
        (ValueError,), ("load", "is empty")),
    Row("load-npy-file", _in_tmp(lambda s, d: gg.load(_npy(d))), (ValueError,),
        ("load", "a.npy", "not a safetensors checkpoint", "NumPy .npy")),
    Row("load-pickle-file", _in_tmp(lambda s, d: gg.load(_write(
        os.path.join(d, "p.pkl"), pickle.dumps({"w": [1.0]}, protocol=4)))), (ValueError,),
        ("load", "p.pkl", "pickle")),
    Row("load-text-mode-file", _in_tmp(_load_text_mode), (TypeError,),
        ("load", "model.safetensors", "text mode", "'rb'")),
    Row("load-not-a-path", lambda s: gg.load(None), (TypeError,),
        ("load", "path", "NoneType")),
    Row("save-text-mode-file", _in_tmp(_save_text_mode), (TypeError,),
        ("save", "model.safetensors", "text mode", "'wb'")),
    Row("save-not-a-path", lambda s: gg.save(s.model.state_dict(), 3), (TypeError,),
        ("save", "path", "builtins.int")),
    Row("load-unknown-device", _in_tmp(lambda s, d: gg.load(_npy(d), device="tpu")),
        DEVICE, ("device", "'tpu'")),
    Row("load-device-and-map-location", _in_tmp(
        lambda s, d: gg.load(_npy(d), device="cpu", map_location="cpu")), (TypeError,),
        ("load", "map_location")),
    Row("save-module", _in_tmp(lambda s, d: _save_refused_no_file(s, d, lambda s: s.model)),
        (TypeError,), ("save", "gpugrad.nn.containers.Sequential", "the top level")),
    Row("save-function-in-dict", _in_tmp(lambda s, d: _save_refused_no_file(
        s, d, lambda s: {"model": s.model.state_dict(), "fn": print})), (TypeError,),
        ("save", "builtin_function_or_method", "fn")),
    Row("save-object-key", _in_tmp(lambda s, d: _save_refused_no_file(
        s, d, lambda s: {s.w: 1})), (TypeError,), ("save", "dict keys")),
    Row("save-view-and-base", _in_tmp(lambda s, d: _save_refused_no_file(
        s, d, lambda s: {"w": s.w, "row": s.w[0]})), (ValueError,),
        ("save", "share memory", "w", "row")),
    Row("save-missing-directory", _in_tmp(lambda s, d: gg.save(
        s.model.state_dict(), os.path.join(d, "no", "x.safetensors"))), (FileNotFoundError,),
        ("save", "does not exist")),
    Row("save-failure-keeps-old-file", _in_tmp(_failed_save_keeps_old), (TypeError,),
        ("save", "Sequential", "model")),

    # -- graph drawing -----------------------------------------------------------------
    Row("viz-not-a-tensor", lambda s: gg.viz.to_dot([s.h, 3]), (TypeError,),
        ("to_dot", "int", "position 1")),
    Row("viz-names-not-tensor", lambda s: gg.viz.to_dot(s.h, names={"w": s.w.numpy()}),
        (TypeError,), ("to_dot", "names['w']", "ndarray")),
    Row("viz-max-elements-negative", lambda s: gg.viz.to_dot(s.h, max_elements=-1),
        (ValueError,), ("to_dot", "max_elements", "-1")),
    Row("viz-render-suffix", _in_tmp(lambda s, d: _keeps(
        lambda: os.listdir(d), lambda: gg.viz.render(s.h, os.path.join(d, "graph.txt")))),
        (ValueError,), ("render", "'.txt'", "graph.txt")),

    # -- the demo, called as functions -----------------------------------------------
    Row("demo-unknown-device", lambda s: _demo_device("tpu"), (_demo_error(),),
        ("unknown device type", "'tpu'")),
    Row("demo-load-not-a-checkpoint", _in_tmp(lambda s, d: _demo_evaluate(s, d, None)),
        (_demo_error(),), ("--load", "cannot read the checkpoint", "NumPy .npy")),
    Row("demo-load-other-model", _in_tmp(lambda s, d: _demo_evaluate(
        s, d, lambda s: {"model": s.model.state_dict(), "hidden": 16, "seed": 0})),
        (_demo_error(),), ("--load", "does not fit the demo's model", "size mismatch",
                            "(8, 4)", "(16, 64)")),
    Row("demo-load-bad-hidden", _in_tmp(lambda s, d: _demo_evaluate(
        s, d, lambda s: {"model": {}, "hidden": 2.5, "seed": 0})),
        (_demo_error(),), ("--load", "'hidden'", "2.5")),
]
