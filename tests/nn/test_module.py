"""Module mechanics: registration, traversal, modes, state dicts, devices and dtypes,
containers, hooks and copies (no torch needed here)."""
import copy
import pickle

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn


class Block(nn.Module):
    def __init__(self, device="cpu"):
        super().__init__()
        self.fc = nn.Linear(3, 2, device=device)
        self.scale = nn.Parameter(gg.ones(2, device=device))
        self.register_buffer("steps", gg.zeros((), dtype=gg.int64, device=device))
        self.register_buffer("cache", gg.zeros(2, device=device), persistent=False)
        self.plain = 5

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self, device="cpu"):
        super().__init__()
        self.block = Block(device)
        self.layers = nn.Sequential(nn.Linear(2, 4, device=device), nn.ReLU(),
                                    nn.Linear(4, 1, device=device))

    def forward(self, x):
        return self.layers(self.block(x))


def test_attribute_assignment_registers(device):
    net = Net(device)
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.scale", "block.fc.weight", "block.fc.bias", "layers.0.weight",
                     "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert [n for n, _ in net.named_buffers()] == ["block.steps", "block.cache"]
    assert [n for n, _ in net.named_children()] == ["block", "layers"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "layers",
                                                   "layers.0", "layers.1", "layers.2"]
    assert len(list(net.parameters())) == 7
    assert len(list(net.parameters(recurse=False))) == 0
    assert [n for n, _ in net.block.named_parameters(recurse=False)] == ["scale"]
    assert net.block.plain == 5 and "plain" not in net.block._parameters
    assert isinstance(net.block.scale, gg.Tensor) and net.block.scale.requires_grad
    assert all(p.device == gg.device(device) for p in net.parameters())


def test_reassign_and_delete():
    m = Block()
    with pytest.raises(TypeError, match="cannot assign .* as parameter 'scale'"):
        m.scale = gg.ones(2)  # a plain Tensor is no Parameter
    m.scale = None
    assert "scale" in m._parameters and m.scale is None
    assert [n for n, _ in m.named_parameters()] == ["fc.weight", "fc.bias"]
    m.steps = gg.ones((), dtype=gg.int64)  # a buffer stays a buffer
    assert m.steps.item() == 1 and "steps" in m._buffers
    with pytest.raises(TypeError, match="as buffer 'steps'"):
        m.steps = 3
    with pytest.raises(TypeError, match="as child module 'fc'"):
        m.fc = 3
    m.plain = nn.Tanh()  # an attribute becomes a child
    assert m._modules["plain"] is m.plain and "plain" not in m.__dict__
    del m.fc
    assert "fc" not in m._modules
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'fc'"):
        m.fc


def test_registration_errors():
    m = nn.Module()
    with pytest.raises(KeyError, match="cannot contain"):
        m.register_parameter("a.b", nn.Parameter(gg.ones(1)))
    with pytest.raises(KeyError, match="cannot be an empty string"):
        m.register_buffer("", gg.ones(1))
    with pytest.raises(TypeError, match="parameter name should be a string"):
        m.register_parameter(3, None)
    with pytest.raises(TypeError, match="gpugrad.nn.Parameter or None required"):
        m.register_parameter("w", gg.ones(1))
    with pytest.raises(TypeError, match="gpugrad.Tensor or None required"):
        m.register_buffer("b", np.ones(1))
    m.x = 1
    with pytest.raises(KeyError, match="attribute 'x' already exists"):
        m.register_buffer("x", gg.ones(1))
    w = gg.ones(2, requires_grad=True)
    assert nn.Parameter(w * 2).is_leaf  # as torch: a Parameter starts a new leaf
    p = nn.Parameter(gg.ones(2), requires_grad=False)
    p *= w  # recorded: now p has a history
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("w", p)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(gg.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_parameter_basics():
    t = gg.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert isinstance(p, gg.Tensor) and p.requires_grad and p.is_leaf
    assert np.shares_memory(p.data, t.data)  # as torch.nn.Parameter: no copy
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    assert type(p * 2) is gg.Tensor  # results of ops are plain tensors
    with pytest.raises(TypeError, match="Parameter: expected a gpugrad Tensor"):
        nn.Parameter(np.ones(2))
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(gg.tensor([1, 2]))


def test_shared_parameters_are_counted_once():
    a = nn.Linear(2, 2)
    net = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(net.parameters())) == 2
    assert [n for n, _ in net.named_modules()] == ["", "0", "1"]
    # state_dict, as PyTorch's, names a shared module under each of its slots
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(list(net.named_parameters(remove_duplicate=False))) == 4


def test_train_eval_and_requires_grad():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    assert net.training and net[1].training
    assert net.eval() is net
    assert not net.training and not net[1].training
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="bool"):
        net.train("no")
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


def test_zero_grad(device):
    lin = nn.Linear(3, 2, device=device)
    lin(gg.ones(4, 3, device=device)).sum().backward()
    g = lin.weight.grad
    lin.zero_grad(set_to_none=False)
    assert lin.weight.grad is g and not g.numpy().any()
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None


def test_apply_order_and_return():
    seen = []
    net = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.Tanh()))
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "Tanh", "Sequential", "Sequential"]

    def fill(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)
    net.apply(fill)
    assert net[0].weight.item() == 0.5


def test_state_dict_is_detached_and_shares_memory():
    m = Block()
    sd = m.state_dict()
    assert list(sd) == ["scale", "steps", "fc.weight", "fc.bias"]  # not the cache
    assert all(not v.requires_grad and v.is_leaf and type(v) is gg.Tensor for v in sd.values())
    assert np.shares_memory(sd["fc.weight"].data, m.fc.weight.data)
    kv = m.state_dict(keep_vars=True)
    assert kv["fc.weight"] is m.fc.weight
    assert list(m.state_dict(prefix="model.")) == ["model." + k for k in sd]


def _numpy_state(m):
    return {k: v.numpy().copy() for k, v in m.state_dict().items()}


def test_load_state_dict_roundtrip(device):
    a, b = Net(device), Net(device)
    with gg.no_grad():
        a.block.steps += 3
    res = b.load_state_dict(a.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    for (k, va), vb in zip(_numpy_state(a).items(), _numpy_state(b).values()):
        np.testing.assert_array_equal(va, vb, err_msg=k)
    # the parameters are the same objects, written in place
    assert b.block.fc.weight is b._modules["block"]._modules["fc"]._parameters["weight"]
    x = gg.randn(5, 3, device=device)
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


def test_load_state_dict_errors_name_every_key_and_change_nothing():
    m = Net()
    before = _numpy_state(m)
    sd = Net().state_dict()
    del sd["block.scale"], sd["layers.2.bias"]
    sd["extra"] = gg.ones(1)
    sd["layers.0.weight"] = gg.ones(5, 2)  # 4 x 2 in the model
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:")
    assert 'Missing key(s) in state_dict: "block.scale", "layers.2.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra".' in msg
    assert ("size mismatch for layers.0.weight: copying a param with shape (5, 2) from "
            "checkpoint, the shape in current model is (4, 2).") in msg
    after = _numpy_state(m)
    for k in before:  # the good keys were not copied either
        np.testing.assert_array_equal(before[k], after[k], err_msg=k)
    # without strict, the shape is still an error and nothing changes
    with pytest.raises(RuntimeError, match="size mismatch for layers.0.weight"):
        m.load_state_dict(sd, strict=False)
    for k, v in _numpy_state(m).items():
        np.testing.assert_array_equal(before[k], v, err_msg=k)
    sd["layers.0.weight"] = gg.ones(4, 2)
    res = m.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["block.scale", "layers.2.bias"]
    assert res.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(m.layers[0].weight.numpy(), np.ones((4, 2)))
    np.testing.assert_array_equal(m.block.scale.numpy(), before["block.scale"])
    sd["layers.0.weight"] = np.ones((4, 2))
    with pytest.raises(RuntimeError, match='"layers.0.weight", expected a gpugrad Tensor'):
        m.load_state_dict(sd, strict=False)
    with pytest.raises(TypeError, match="expected a dict"):
        m.load_state_dict([1, 2])


def test_load_state_dict_casts_to_the_model_dtype():
    m = nn.Linear(2, 2)
    sd = {"weight": gg.tensor(np.full((2, 2), 0.1)), "bias": gg.tensor(np.zeros(2))}
    m.load_state_dict(sd)  # float64 values into float32 parameters, as torch's copy_
    assert m.weight.dtype == gg.float32
    np.testing.assert_array_equal(m.weight.numpy(), np.full((2, 2), 0.1, np.float32))


def test_load_state_dict_does_not_record():
    m = nn.Linear(2, 2)
    m.load_state_dict(nn.Linear(2, 2).state_dict())
    assert m.weight.is_leaf and m.weight.requires_grad and m.weight.grad_fn is None


def test_to_dtype_keeps_parameter_objects(device):
    net = Net(device)
    params = list(net.parameters())
    net(gg.randn(2, 3, device=device)).sum().backward()
    w32 = net.block.fc.weight.numpy()
    assert net.to(gg.float64) is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == gg.float64 and isinstance(p, nn.Parameter) for p in params)
    assert all(p.grad.dtype == gg.float64 for p in params)
    assert net.block.steps.dtype == gg.int64  # integer buffers keep their dtype
    assert net.block.cache.dtype == gg.float64
    np.testing.assert_array_equal(net.block.fc.weight.numpy(), w32.astype(np.float64))
    out = net(gg.randn(2, 3, device=device, dtype=gg.float64))
    assert out.dtype == gg.float64
    net.float()
    assert all(p.dtype == gg.float32 for p in params)
    net.double()
    assert net.block.scale.dtype == gg.float64
    net.half()
    assert net.block.scale.dtype == gg.float16
    with pytest.raises(TypeError, match="only floating point"):
        net.to(gg.int64)


def test_to_device_same_device_is_a_noop(device):
    net = Net(device)
    w = net.block.fc.weight
    data = w.data
    assert net.to(device) is net and net.block.fc.weight is w and w.data is data
    t = gg.zeros(1, dtype=gg.float64, device=device)
    net.to(t)  # a tensor gives both its device and dtype
    assert w.dtype == gg.float64 and w.device == gg.device(device)


@pytest.mark.gpu
@pytest.mark.skipif(not gg.cuda.is_available(), reason="CUDA unavailable: needs CuPy and a GPU")
def test_to_cuda_and_back_keeps_parameter_objects():
    net = Net()
    x = gg.randn(4, 3)
    expected = net(x).numpy()
    params = list(net.parameters())
    net.cuda()
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(str(p.device) == "cuda:0" for p in params)
    assert str(net.block.steps.device) == "cuda:0"
    np.testing.assert_allclose(net(x.to("cuda")).numpy(), expected, rtol=1e-6)
    net.cpu()
    assert all(str(p.device) == "cpu" for p in params)


def test_repr_of_a_custom_module():
    assert repr(Net()) == (
        "Net(\n"
        "  (block): Block(\n"
        "    (fc): Linear(in_features=3, out_features=2, bias=True)\n"
        "  )\n"
        "  (layers): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=4, bias=True)\n"
        "    (1): ReLU()\n"
        "    (2): Linear(in_features=4, out_features=1, bias=True)\n"
        "  )\n"
        ")")

    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Tanh()

        def extra_repr(self):
            return "size=3"

    assert repr(WithExtra()) == "WithExtra(\n  size=3\n  (inner): Tanh()\n)"


def test_forward_missing_and_call():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required '
                                                  '"forward"'):
        nn.Module()(1)
    with pytest.raises(NotImplementedError):
        nn.ModuleList([nn.Tanh()])(gg.ones(1))


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = lin(gg.ones(3, 2))
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(lin.bias.numpy() + 1, (3, 2)))
    assert calls == [(3, 2)]
    h1.remove()
    h2.remove()
    h2.remove()
    np.testing.assert_allclose(lin(gg.ones(1, 2)).numpy(),
                               lin.weight.numpy().sum(1)[None] + lin.bias.numpy())


def test_deepcopy_and_pickle_keep_parameters():
    net = Net()
    net(gg.randn(2, 3)).sum().backward()
    for other in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        for (k, p), q in zip(net.named_parameters(), other.parameters()):
            assert isinstance(q, nn.Parameter) and q is not p and q.requires_grad, k
            np.testing.assert_array_equal(p.numpy(), q.numpy())
            assert not np.shares_memory(p.data, q.data)
        np.testing.assert_array_equal(net.block.steps.numpy(), other.block.steps.numpy())
    twin = copy.deepcopy(net)
    np.testing.assert_array_equal(twin.block.fc.weight.grad.numpy(),
                                  net.block.fc.weight.grad.numpy())
    shared = nn.Linear(2, 2)
    tied = copy.deepcopy(nn.Sequential(shared, shared))
    assert tied[0] is tied[1] and len(list(tied.parameters())) == 2


def test_get_submodule():
    net = Net()
    assert net.get_submodule("layers.2") is net.layers[2]
    assert net.get_submodule("") is net
    with pytest.raises(AttributeError, match="no submodule 'nope'"):
        net.get_submodule("block.nope")


# ---- containers ---------------------------------------------------------------------
def test_sequential_indexing_and_edits():
    a, b, c = nn.Tanh(), nn.ReLU(), nn.Sigmoid()
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and list(s) == [a, b, c] and s[-1] is c and s[0] is a
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        s[3]
    d = nn.Identity()
    s[1] = d
    assert s[1] is d
    del s[0]
    assert list(s._modules) == ["0", "1"] and list(s) == [d, c]  # renumbered, as torch
    s.append(nn.Tanh())
    assert len(s) == 3 and isinstance(s[2], nn.Tanh)
    with pytest.raises(TypeError, match="expected a Module"):
        s.append(3)
    with pytest.raises(TypeError, match="argument 1"):
        nn.Sequential(nn.Tanh(), lambda x: x)
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    assert named.fc is named[0]


def test_sequential_forward(device):
    s = nn.Sequential(nn.Linear(3, 4, device=device), nn.Tanh(), nn.Linear(4, 2, device=device))
    x = gg.randn(5, 3, device=device)
    np.testing.assert_allclose(s(x).numpy(), s[2](s[1](s[0](x))).numpy())
    assert nn.Sequential()(x) is x


def test_module_list():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml += [nn.Sigmoid()]
    assert [type(m).__name__ for m in ml] == ["Linear"] * 3 + ["ReLU", "Tanh", "Sigmoid"]
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    ml.insert(0, nn.Identity())
    assert isinstance(ml[0], nn.Identity) and list(ml._modules)[:2] == ["0", "1"]
    del ml[0]
    assert isinstance(ml[0], nn.Linear)
    assert isinstance(ml.pop(), nn.Sigmoid) and len(ml) == 5
    with pytest.raises(TypeError, match="not a Module"):
        ml.append(3)


def test_module_dict():
    md = nn.ModuleDict({"a": nn.Linear(2, 3), "b": nn.ReLU()})
    md["c"] = nn.Tanh()
    assert list(md) == ["a", "b", "c"] and len(md) == 3 and "a" in md
    assert list(md.keys()) == ["a", "b", "c"] and md["b"] is list(md.values())[1]
    assert list(md.state_dict()) == ["a.weight", "a.bias"]
    assert isinstance(md.pop("b"), nn.ReLU) and "b" not in md
    md.update([("d", nn.Sigmoid())])
    assert list(md) == ["a", "c", "d"]
    with pytest.raises(ValueError, match="pair"):
        md.update([nn.Sigmoid()])
    md.clear()
    assert len(md) == 0


# ---- layers' own checks ----------------------------------------------------------------
def test_layer_defaults_and_arguments(device):
    lin = nn.Linear(4, 3, device=device)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,)
    assert lin.weight.dtype == gg.float32 and lin.weight.device == gg.device(device)
    assert nn.Linear(4, 3, bias=False).bias is None
    assert nn.Linear(2, 2, dtype=gg.float64).weight.dtype == gg.float64
    with pytest.raises(TypeError, match="floating point"):
        nn.Linear(2, 2, dtype=gg.int64)
    with pytest.raises(ValueError, match="in_features must be an int >= 0"):
        nn.Linear(-1, 2)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="linear: input of shape"):
        lin(gg.ones(2, 5, device=device))
    with pytest.warns(UserWarning, match="zero-element tensor is a no-op"):
        empty = nn.Linear(0, 3)  # PyTorch allows it: zero fan-in, bias bound 0
    assert not empty.bias.numpy().any()
    np.testing.assert_array_equal(empty(gg.ones(2, 0)).numpy(), np.zeros((2, 3)))


def test_dropout_train_and_eval(device):
    gg.manual_seed(0)
    d = nn.Dropout(0.5)
    x = gg.ones(2000, device=device)
    y = d(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0}
    assert 0.4 < (y == 0).mean() < 0.6
    d.eval()
    assert d(x) is x or np.array_equal(d(x).numpy(), x.numpy())
    assert np.array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())


def test_inplace_relu_writes_into_its_input(device):
    x = gg.tensor([-1.0, 2.0], device=device, requires_grad=True)
    h = x * 1
    out = nn.ReLU(inplace=True)(h)
    assert out is h
    np.testing.assert_array_equal(h.numpy(), [0.0, 2.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0])


def test_softmax_module_needs_dim():
    with pytest.raises(TypeError, match="pass dim"):
        nn.Softmax()(gg.ones(2, 3))
    with pytest.raises(TypeError, match="pass dim"):
        nn.functional.log_softmax(gg.ones(2, 3))


def test_embedding_checks(device):
    e = nn.Embedding(5, 2, device=device)
    with pytest.raises(IndexError, match=r"span \[-1, 3\] but weight has 5 rows"):
        e(gg.tensor([0, -1, 3], device=device))  # NumPy would wrap -1 to the last row
    with pytest.raises(IndexError, match="out of range"):
        e(gg.tensor([[5]], device=device))
    with pytest.raises(TypeError, match="integer tensor"):
        e(gg.tensor([0.0], device=device))
    with pytest.raises(ValueError, match="padding_idx 5 must be within"):
        nn.Embedding(5, 2, padding_idx=5)
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4
    assert e(gg.tensor(np.zeros((0, 3), np.int64), device=device)).shape == (0, 3, 2)
    assert e(gg.tensor(2, device=device)).shape == (2,)


def test_embedding_from_pretrained():
    w = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad and np.shares_memory(e.weight.data, w.data)
    np.testing.assert_array_equal(e(gg.tensor([1])).numpy(), [[3.0, 4.0]])
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad


def test_parameter_shares_the_version_counter_of_its_data():
    # as torch: an in-place change through the wrapped tensor is seen by backward
    w = gg.ones(3)
    p = nn.Parameter(w)
    y = (p * p).sum()
    w += 1
    with pytest.raises(RuntimeError, match="in-place|inplace|modified"):
        y.backward()
    np.testing.assert_array_equal(p.numpy(), [2.0, 2.0, 2.0])
