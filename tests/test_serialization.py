"""gg.save / gg.load: safetensors checkpoints, atomic writes, bad files, PyTorch interop."""
import io
import json
import math
import os
import pickle
import zlib

import numpy as np
import pytest
import safetensors
import safetensors.numpy

import gpugrad as gg
from tests.conftest import CUDA_SKIP


def _same(a, b):
    assert isinstance(b, gg.Tensor)
    assert (a.dtype, tuple(a.shape), str(a.device)) == (b.dtype, tuple(b.shape), str(b.device))
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def _listing(d):
    return sorted(os.listdir(d))


# ---- round trips ----------------------------------------------------------------------
DTYPES = [np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_, np.uint8, np.int8]


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_dtypes_and_shapes(device, tmp_path, dtype):
    rng = np.random.default_rng(0)
    shapes = {"scalar": (), "vec": (5,), "mat": (3, 4), "empty": (0, 3), "cube": (2, 1, 3)}
    sd = {k: gg.tensor((rng.standard_normal(s) * 10).astype(dtype), device=device)
          for k, s in shapes.items()}
    gg.save(sd, tmp_path / "ck.safetensors")
    out = gg.load(tmp_path / "ck.safetensors")
    assert list(out) == list(sd)
    for k in sd:
        _same(sd[k], out[k])


def test_round_trip_float_bits_exact(device, tmp_path):
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, 1e308, 1 / 3], np.float64)
    sd = {"x": gg.tensor(special, device=device),
          "h": gg.tensor(np.array([6e-8, 65504, -0.0, np.nan], np.float16), device=device)}
    gg.save(sd, tmp_path / "f.st")
    out = gg.load(tmp_path / "f.st")
    for k in sd:
        assert out[k].numpy().tobytes() == sd[k].numpy().tobytes()


def test_non_contiguous_and_views_save_their_values(device, tmp_path):
    base = gg.tensor(np.arange(24.0).reshape(4, 6), device=device)
    sd = {"t": base.T, "s": gg.tensor(np.arange(10.0), device=device)[::3]}
    gg.save(sd, tmp_path / "v.st")
    out = gg.load(tmp_path / "v.st")
    _same(sd["t"], out["t"])
    _same(sd["s"], out["s"])


def test_big_endian_and_complex_arrays_keep_their_values(tmp_path):
    be = np.array([1.5, -2.0, 3e30], dtype=">f4")
    obj = {"t": gg.tensor(be), "a": np.arange(4, dtype=">i8").reshape(2, 2),
           "s": np.array(7, ">i4")[()], "c": gg.tensor(np.array([1 + 2j, -3j], np.complex64))}
    gg.save(obj, tmp_path / "e.st")
    out = gg.load(tmp_path / "e.st")
    assert out["t"].dtype == np.float32 and out["t"].tolist() == be.tolist()
    assert out["a"].dtype == np.int64 and out["a"].tolist() == [[0, 1], [2, 3]]
    assert out["s"] == 7 and out["s"].dtype == np.int32
    assert out["c"].dtype == np.complex64 and out["c"].tolist() == [1 + 2j, -3j]


def test_loaded_tensors_are_independent_writable_leaves(tmp_path):
    sd = {"w": gg.tensor([1.0, 2.0])}
    gg.save(sd, tmp_path / "w.st")
    out = gg.load(tmp_path / "w.st")
    out["w"] += 1  # not read-only, not tied to the file's buffer
    np.testing.assert_array_equal(out["w"].numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(sd["w"].numpy(), [1.0, 2.0])
    assert out["w"].is_leaf and not out["w"].requires_grad


def test_requires_grad_is_kept(device, tmp_path):
    w = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
    gg.save({"w": w, "c": gg.tensor([3.0], device=device)}, tmp_path / "g.st")
    out = gg.load(tmp_path / "g.st")
    assert out["w"].requires_grad and out["w"].is_leaf and out["w"].grad is None
    assert not out["c"].requires_grad


def _optimizer_like(device):
    t = lambda a: gg.tensor(np.asarray(a, np.float32), device=device)  # noqa: E731
    return {
        "state": {0: {"step": 3, "exp_avg": t([0.1, 0.2]), "exp_avg_sq": t([0.01, 0.04]),
                      "max": t(0.5)},
                  2: {"step": gg.tensor(7.0, device=device), "momentum_buffer": None}},
        "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                          "amsgrad": False, "maximize": False, "foreach": None,
                          "name": "body", "params": [0, 1, 2]}],
    }


def test_optimizer_state_dict_structure(device, tmp_path):
    sd = _optimizer_like(device)
    gg.save(sd, tmp_path / "opt.st")
    out = gg.load(tmp_path / "opt.st")
    assert list(out["state"]) == [0, 2]  # int keys stay ints, in order
    assert all(type(k) is int for k in out["state"])
    g, g0 = out["param_groups"][0], sd["param_groups"][0]
    assert g == g0 and list(g) == list(g0)
    assert type(g["betas"]) is tuple and type(g["params"]) is list
    assert type(g["weight_decay"]) is int and type(g["lr"]) is float
    assert g["amsgrad"] is False and g["foreach"] is None
    assert out["state"][0]["step"] == 3 and type(out["state"][0]["step"]) is int
    for k in ("exp_avg", "exp_avg_sq", "max"):
        _same(sd["state"][0][k], out["state"][0][k])
    _same(sd["state"][2]["step"], out["state"][2]["step"])
    assert out["state"][2]["momentum_buffer"] is None


def test_python_and_numpy_values(tmp_path):
    obj = {"floats": [math.nan, math.inf, -math.inf, -0.0, 0.1, 1e300],
           "big": 2 ** 80, "neg": -(2 ** 70), "s": "é ✓ \"quoted\"", "empty": {},
           "nested": [[], ()], "np32": np.float32(0.1), "np64": np.float64(0.2),
           "np16": np.float16(3.5), "npi": np.int16(-7), "npb": np.bool_(True),
           "arr": np.arange(6, dtype=np.int32).reshape(2, 3), "bytes": b"\x00\xffab",
           (1, "a"): "tuple key", 2.5: "float key", None: "none key", True: "bool key"}
    gg.save(obj, tmp_path / "p.st")
    out = gg.load(tmp_path / "p.st")
    f = out["floats"]
    assert math.isnan(f[0]) and f[1:3] == [math.inf, -math.inf]
    assert math.copysign(1, f[3]) == -1 and f[4:] == [0.1, 1e300]
    assert out["big"] == 2 ** 80 and out["neg"] == -(2 ** 70) and out["s"] == obj["s"]
    assert out["empty"] == {} and out["nested"] == [[], ()] and type(out["nested"][1]) is tuple
    for k in ("np32", "np64", "np16", "npi", "npb"):
        assert type(out[k]) is type(obj[k]) and out[k] == obj[k]
    assert out["arr"].dtype == np.int32 and isinstance(out["arr"], np.ndarray)
    np.testing.assert_array_equal(out["arr"], obj["arr"])
    assert out["bytes"] == obj["bytes"]
    assert out[(1, "a")] == "tuple key" and out[2.5] == "float key"
    assert out[None] == "none key" and out[True] == "bool key"


def test_a_lone_tensor_and_a_list_of_tensors(device, tmp_path):
    t = gg.tensor([[1, 2]], device=device)
    gg.save(t, tmp_path / "t.st")
    _same(t, gg.load(tmp_path / "t.st"))
    gg.save([t, t * 2], tmp_path / "l.st")
    out = gg.load(tmp_path / "l.st")
    assert type(out) is list and len(out) == 2
    _same(t * 2, out[1])


@pytest.mark.parametrize("obj", [{}, None, 3, -2.5, [], (), "x", {"a": []}, [{}], True])
def test_objects_without_tensors(tmp_path, obj):
    gg.save(obj, tmp_path / "o.st")
    out = gg.load(tmp_path / "o.st")
    assert out == obj and type(out) is type(obj)


def test_state_dict_with_keep_vars(tmp_path):
    model = gg.nn.Linear(3, 2)
    gg.save(model.state_dict(keep_vars=True), tmp_path / "k.st")
    out = gg.load(tmp_path / "k.st")
    assert out["weight"].requires_grad and out["weight"].is_leaf
    fresh = gg.nn.Linear(3, 2)
    fresh.load_state_dict(out)
    np.testing.assert_array_equal(fresh.weight.numpy(), model.weight.numpy())


def test_the_same_tensor_twice_is_saved_once_and_loads_as_one(device, tmp_path):
    w = gg.tensor([1.0, 2.0, 3.0], device=device)
    gg.save({"a": w, "b": w, "c": w.detach()}, tmp_path / "s.st")
    with safetensors.safe_open(str(tmp_path / "s.st"), "np") as f:
        assert list(f.keys()) == ["a"]  # one copy on disk
    out = gg.load(tmp_path / "s.st")
    assert out["a"] is out["b"] and out["c"] is out["a"]
    out["a"] += 1  # and they stay tied
    np.testing.assert_array_equal(out["b"].numpy(), [2.0, 3.0, 4.0])


def test_tied_parameter_and_its_detached_alias_keep_their_flags(tmp_path):
    p = gg.tensor([1.0, 2.0], requires_grad=True)
    gg.save({"p": p, "d": p.detach()}, tmp_path / "t.st")
    out = gg.load(tmp_path / "t.st")
    assert out["p"].requires_grad and not out["d"].requires_grad
    out["d"] += 1
    np.testing.assert_array_equal(out["p"].numpy(), [2.0, 3.0])


def test_partly_shared_memory_is_refused_and_nothing_written(device, tmp_path):
    base = gg.tensor(np.arange(6.0), device=device)
    path = tmp_path / "x.st"
    with pytest.raises(ValueError, match=r"share memory.*clone"):
        gg.save({"base": base, "view": base[1:3]}, path)
    assert _listing(tmp_path) == []
    # interleaved columns of one array share no element: both are saved
    m = gg.tensor(np.arange(6.0).reshape(3, 2), device=device)
    gg.save({"c0": m[:, 0], "c1": m[:, 1]}, path)
    out = gg.load(path)
    _same(m[:, 1], out["c1"])


def test_names_are_the_state_dict_keys_and_nested_paths(tmp_path):
    gg.save({"0.weight": gg.tensor([1.0]), "0.bias": gg.tensor([2.0])}, tmp_path / "m.st")
    flat = safetensors.numpy.load_file(str(tmp_path / "m.st"))
    assert sorted(flat) == ["0.bias", "0.weight"]
    gg.save({"state": {0: {"exp_avg": gg.tensor([1.0])}}, "step": 1}, tmp_path / "o.st")
    assert list(safetensors.numpy.load_file(str(tmp_path / "o.st"))) == ["state.0.exp_avg"]


def test_names_that_collide_stay_apart(tmp_path):
    obj = {"a.b": gg.tensor([1.0]), "a": {"b": gg.tensor([2.0])}, "__metadata__": gg.tensor([3.0])}
    gg.save(obj, tmp_path / "c.st")
    out = gg.load(tmp_path / "c.st")
    assert out["a.b"].item() == 1.0 and out["a"]["b"].item() == 2.0
    assert out["__metadata__"].item() == 3.0
    flat = {"__metadata__": gg.tensor([3.0]), "w": gg.tensor([4.0])}
    gg.save(flat, tmp_path / "f.st")
    assert gg.load(tmp_path / "f.st")["__metadata__"].item() == 3.0


def test_file_objects(device):
    buf = io.BytesIO()
    sd = {"w": gg.tensor([1.5, 2.5], device=device)}
    gg.save(sd, buf)
    buf.seek(0)
    _same(sd["w"], gg.load(buf)["w"])


# ---- devices -------------------------------------------------------------------------
def test_device_argument_and_map_location(device, tmp_path):
    gg.save({"w": gg.tensor([1.0, 2.0], device=device)}, tmp_path / "d.st")
    assert str(gg.load(tmp_path / "d.st")["w"].device) == str(gg.device(device))
    assert str(gg.load(tmp_path / "d.st", device="cpu")["w"].device) == "cpu"
    assert str(gg.load(tmp_path / "d.st", map_location="cpu")["w"].device) == "cpu"
    out = gg.load(tmp_path / "d.st", device=device)
    assert str(out["w"].device) == str(gg.device(device))
    with pytest.raises(TypeError, match="map_location"):
        gg.load(tmp_path / "d.st", device="cpu", map_location="cpu")


def _cuda_checkpoint(path):
    """A checkpoint as gg.save writes it on a CUDA machine (this one may have no GPU)."""
    gg.save({"w": gg.tensor([1.0, 2.0])}, path)
    with safetensors.safe_open(str(path), "np") as f:
        structure = f.metadata()["structure"]
    _rewrite_metadata(path, structure=structure.replace('"d":"cpu"', '"d":"cuda:0"'))


@pytest.mark.skipif(CUDA_SKIP is None, reason="needs a machine without CUDA")
def test_cuda_checkpoint_without_cuda_says_use_device_cpu(tmp_path):
    path = tmp_path / "cuda.st"
    _cuda_checkpoint(path)
    with pytest.raises(RuntimeError, match=r"cuda:0.*device='cpu'") as e:
        gg.load(path)
    assert str(path) in str(e.value)
    out = gg.load(path, device="cpu")
    np.testing.assert_array_equal(out["w"].numpy(), [1.0, 2.0])


@pytest.mark.gpu
@pytest.mark.skipif(CUDA_SKIP is not None, reason=str(CUDA_SKIP))
def test_cuda_checkpoint_loads_on_cuda(tmp_path):
    path = tmp_path / "cuda.st"
    _cuda_checkpoint(path)
    assert str(gg.load(path)["w"].device) == "cuda:0"


def test_unknown_device_argument_fails_before_reading(tmp_path):
    with pytest.raises(ValueError, match="unknown device"):
        gg.load(tmp_path / "missing.st", device="tpu")


# ---- bad files ---------------------------------------------------------------------------
_SIDE_EFFECTS = []


def _pickle_side_effect():
    _SIDE_EFFECTS.append("unpickled!")
    return {}


class _Evil:
    def __reduce__(self):
        return _pickle_side_effect, ()


def _good_blob():
    buf = io.BytesIO()
    gg.save({"w": gg.tensor(np.arange(16, dtype=np.float32)), "step": 3}, buf)
    return buf.getvalue()


def _bad_files(tmp_path):
    good = _good_blob()
    n = int.from_bytes(good[:8], "little")
    flipped = bytearray(good)
    flipped[-5] ^= 0x10  # one bit of the tensor data
    np.savez(tmp_path / "a.npz", w=np.ones(3))
    np.save(tmp_path / "a.npy", np.ones(3))
    files = {
        "empty": (b"", "empty"),
        "short": (b"\x01\x02", "too short"),
        "random": (np.random.default_rng(0).bytes(4096), "not a safetensors"),
        "npz": ((tmp_path / "a.npz").read_bytes(), "zip archive"),
        "npy": ((tmp_path / "a.npy").read_bytes(), "NumPy .npy"),
        "pickle": (pickle.dumps(_Evil()), "pickle"),
        "pickle0": (pickle.dumps({"w": 1}, protocol=2), "pickle"),
        "cut header": (good[:8 + n // 2], "truncated"),
        "cut data": (good[:-7], "truncated"),
        "bit flip": (bytes(flipped), "checksum"),
        "bad json": (good[:8] + b"{" * n + good[8 + n:], "not JSON"),
    }
    return files


@pytest.mark.parametrize("kind", ["empty", "short", "random", "npz", "npy", "pickle", "pickle0",
                                  "cut header", "cut data", "bit flip", "bad json"])
def test_bad_files_raise_naming_the_path(tmp_path, kind):
    blob, words = _bad_files(tmp_path)[kind]
    path = tmp_path / "bad.st"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=words) as e:
        gg.load(path)
    assert str(path) in str(e.value)
    assert _SIDE_EFFECTS == []  # nothing was ever unpickled


def _rewrite_metadata(path, **changes):
    with safetensors.safe_open(str(path), "np") as f:
        meta = f.metadata()
        arrays = {k: f.get_tensor(k) for k in f.keys()}
    meta.update(changes)
    if "structure" in changes and "structure_crc32" not in changes:
        # as a writer that edits the structure on purpose would: with a matching checksum
        meta["structure_crc32"] = str(zlib.crc32(meta["structure"].encode()))
    path.write_bytes(safetensors.numpy.save(arrays, metadata=meta))


@pytest.mark.parametrize("change, words", [
    ({"structure": "{oops"}, "damaged"),
    ({"structure": json.dumps({"D": [["w", {"T": "nope", "d": "cpu"}]]})}, "'nope'"),
    ({"structure": json.dumps({"Q": 1})}, "damaged"),
    ({"gpugrad": "99"}, "version '99'"),
    ({"structure": json.dumps({"T": "w", "d": "tpu:0"})}, "damaged.*tpu"),
])
def test_damaged_metadata(tmp_path, change, words):
    path = tmp_path / "m.st"
    gg.save({"w": gg.tensor([1.0])}, path)
    _rewrite_metadata(path, **change)
    with pytest.raises(ValueError, match=words):
        gg.load(path)


def test_missing_file_or_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        gg.load(tmp_path / "nope.st")
    with pytest.raises(FileNotFoundError, match="directory .*nodir.* does not exist"):
        gg.save({"w": gg.tensor([1.0])}, tmp_path / "nodir" / "ck.st")


def test_foreign_safetensors_loads_as_flat_dict(device, tmp_path):
    arrays = {"b": np.ones((2, 2), np.float16), "a": np.arange(3), "z": np.array(True)}
    safetensors.numpy.save_file(arrays, str(tmp_path / "other.st"))
    out = gg.load(tmp_path / "other.st")
    assert sorted(out) == ["a", "b", "z"]
    for k, a in arrays.items():
        assert out[k].device == "cpu" and out[k].dtype == a.dtype
        np.testing.assert_array_equal(out[k].numpy(), a)
    assert out["z"].shape == ()
    assert str(gg.load(tmp_path / "other.st", device=device)["a"].device) == str(gg.device(device))


# ---- what cannot be saved ---------------------------------------------------------------
@pytest.mark.parametrize("obj, words", [
    ({"a": {"b": object()}}, r"object at a\.b"),
    ({"a": [1, {2, 3}]}, r"set at a\.1"),
    ({"k": {gg.tensor([1.0]): 1}}, r"key"),
    ({"k": {(1, frozenset([2])): 1}}, r"key"),
    ({"s": np.array(["x"])}, r"dtype <U1 at s"),
    ({"c": lambda: 0}, r"function at c"),
])
def test_unsaveable_values_name_where_they_are(tmp_path, obj, words):
    path = tmp_path / "u.st"
    with pytest.raises(TypeError, match=words):
        gg.save(obj, path)
    assert _listing(tmp_path) == []


# ---- atomic writes --------------------------------------------------------------------------
def _old_file(tmp_path):
    path = tmp_path / "ck.st"
    gg.save({"w": gg.tensor([1.0, 2.0])}, path)
    return path, path.read_bytes()


def _big():
    return {"w": gg.tensor(np.arange(1 << 16, dtype=np.float64))}


def test_unsaveable_value_leaves_the_old_file(tmp_path):
    path, old = _old_file(tmp_path)
    with pytest.raises(TypeError):
        gg.save({"w": gg.tensor([3.0]), "bad": object()}, path)
    assert path.read_bytes() == old and _listing(tmp_path) == ["ck.st"]


class _FullDisk:
    """A file object that writes some bytes and then fails as a full disk does."""

    def __init__(self, fh):
        self.fh = fh

    def write(self, b):
        self.fh.write(bytes(b)[:len(b) // 2])
        self.fh.flush()
        raise OSError(28, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


def test_write_failing_halfway_leaves_the_old_file(tmp_path, monkeypatch):
    path, old = _old_file(tmp_path)
    real = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: _FullDisk(real(*a, **k)))
    with pytest.raises(OSError, match="No space"):
        gg.save(_big(), path)
    assert path.read_bytes() == old and _listing(tmp_path) == ["ck.st"]


def test_fsync_failing_leaves_the_old_file(tmp_path, monkeypatch):
    path, old = _old_file(tmp_path)

    def fail(fd):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="Input/output"):
        gg.save(_big(), path)
    assert path.read_bytes() == old and _listing(tmp_path) == ["ck.st"]


def test_interrupt_during_write_leaves_the_old_file(tmp_path, monkeypatch):
    path, old = _old_file(tmp_path)

    def interrupt(*a):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        gg.save(_big(), path)
    assert path.read_bytes() == old and _listing(tmp_path) == ["ck.st"]


def test_write_is_synced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace",
                        lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    gg.save(_big(), tmp_path / "s.st")
    assert events[:2] == ["fsync", "replace"]
    assert _listing(tmp_path) == ["s.st"]


def test_target_is_a_directory_leaves_no_temporary(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError):
        gg.save(_big(), tmp_path / "d")
    assert _listing(tmp_path) == ["d"] and _listing(tmp_path / "d") == []


def test_new_file_mode_follows_umask_and_old_mode_is_kept(tmp_path):
    old = os.umask(0o022)
    try:
        gg.save(_big(), tmp_path / "n.st")
        assert os.stat(tmp_path / "n.st").st_mode & 0o777 == 0o644
        os.chmod(tmp_path / "n.st", 0o600)
        gg.save(_big(), tmp_path / "n.st")
        assert os.stat(tmp_path / "n.st").st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_overwrite_replaces_the_contents(tmp_path):
    path, _ = _old_file(tmp_path)
    gg.save({"v": gg.tensor([5], dtype=gg.int64)}, path)
    out = gg.load(path)
    assert list(out) == ["v"] and out["v"].tolist() == [5]


# ---- with the real nn / optim ---------------------------------------------------------------
def _mlp(seed):
    gg.manual_seed(seed)
    return gg.nn.Sequential(gg.nn.Linear(4, 8), gg.nn.ReLU(), gg.nn.Linear(8, 3))


def test_model_state_dict_round_trip(device, tmp_path):
    model = _mlp(0).to(device)
    gg.save(model.state_dict(), tmp_path / "m.st")
    other = _mlp(1).to(device)
    other.load_state_dict(gg.load(tmp_path / "m.st"))
    x = gg.tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32),
                  device=device)
    np.testing.assert_array_equal(model(x).numpy(), other(x).numpy())


def test_adam_resumes_exactly_from_a_checkpoint(device, tmp_path):
    rng = np.random.default_rng(0)
    X = gg.tensor(rng.standard_normal((16, 4)).astype(np.float32), device=device)
    Y = gg.tensor(rng.standard_normal((16, 3)).astype(np.float32), device=device)

    def step(model, opt):
        opt.zero_grad()
        loss = ((model(X) - Y) ** 2).mean()
        loss.backward()
        opt.step()

    model = _mlp(0).to(device)
    opt = gg.optim.Adam(model.parameters(), lr=1e-2, betas=(0.8, 0.9))
    for _ in range(3):
        step(model, opt)
    gg.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3},
            tmp_path / "ck.st")
    for _ in range(2):
        step(model, opt)

    ck = gg.load(tmp_path / "ck.st")
    assert ck["epoch"] == 3
    model2 = _mlp(5).to(device)
    model2.load_state_dict(ck["model"])
    opt2 = gg.optim.Adam(model2.parameters(), lr=0.5)
    opt2.load_state_dict(ck["optim"])
    assert opt2.param_groups[0]["lr"] == 1e-2 and tuple(opt2.param_groups[0]["betas"]) == (0.8, 0.9)
    for _ in range(2):
        step(model2, opt2)
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# ---- PyTorch interop ---------------------------------------------------------------------
def test_checkpoint_opens_in_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    model = _mlp(0)
    gg.save(model.state_dict(), tmp_path / "m.safetensors")
    sd = st_torch.load_file(str(tmp_path / "m.safetensors"))
    assert sorted(sd) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    tmodel.load_state_dict(sd)  # strict: same keys, shapes and dtypes
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        want = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(gg.tensor(x)).numpy(), want, rtol=1e-6, atol=1e-6)


def test_hand_built_state_dict_opens_in_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    rng = np.random.default_rng(2)
    sd = {"0.weight": rng.standard_normal((8, 4)), "0.bias": rng.standard_normal(8),
          "2.weight": rng.standard_normal((3, 8)), "2.bias": rng.standard_normal(3)}
    gg.save({k: gg.tensor(v.astype(np.float32)) for k, v in sd.items()}, tmp_path / "h.st")
    loaded = st_torch.load_file(str(tmp_path / "h.st"))
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    tmodel.load_state_dict(loaded)
    for k, v in sd.items():
        assert loaded[k].dtype == torch.float32
        np.testing.assert_array_equal(loaded[k].numpy(), v.astype(np.float32))


def test_pytorch_safetensors_file_loads_in_gpugrad(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    extra = {"half": torch.ones(2, dtype=torch.float16), "flag": torch.tensor(True),
             "idx": torch.arange(3)}
    st_torch.save_file({**tmodel.state_dict(), **extra}, str(tmp_path / "t.st"))
    out = gg.load(tmp_path / "t.st")
    for k, v in {**tmodel.state_dict(), **extra}.items():
        assert out[k].dtype == v.numpy().dtype
        np.testing.assert_array_equal(out[k].numpy(), v.numpy())
    assert out["flag"].shape == ()


def _assert_same_tree(a, b):
    assert type(a) is type(b) or (isinstance(a, dict) and isinstance(b, dict)), (a, b)
    if isinstance(a, gg.Tensor):
        _same(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same_tree(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same_tree(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("name, kw", [("SGD", dict(momentum=0.9, nesterov=True)),
                                      ("Adam", dict(amsgrad=True)), ("AdamW", {}),
                                      ("RMSprop", dict(momentum=0.5, centered=True)),
                                      ("Adagrad", {})])
def test_every_optimizer_state_dict_round_trips(device, tmp_path, name, kw):
    model = gg.nn.Linear(3, 2).to(device)
    opt = getattr(gg.optim, name)([{"params": [model.weight]}, {"params": [model.bias], "lr": 0.5}],
                                  lr=0.1, **kw)
    for _ in range(2):
        opt.zero_grad()
        model(gg.ones(4, 3, device=device)).sum().backward()
        opt.step()
    sd = opt.state_dict()
    gg.save(sd, tmp_path / "o.st")
    loaded = gg.load(tmp_path / "o.st")
    _assert_same_tree(sd, loaded)
    fresh = getattr(gg.optim, name)([{"params": [model.weight]}, {"params": [model.bias]}],
                                    lr=9.0)
    fresh.load_state_dict(loaded)
    _assert_same_tree(sd, fresh.state_dict())


def test_scheduler_state_dicts_round_trip(tmp_path):
    model = gg.nn.Linear(2, 1)
    L = gg.optim.lr_scheduler
    for make in (lambda o: L.StepLR(o, step_size=2, gamma=0.5),
                 lambda o: L.OneCycleLR(o, max_lr=1.0, total_steps=10)):
        opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = make(opt)
        for _ in range(3):
            opt.step()
            sched.step()
        gg.save(sched.state_dict(), tmp_path / "s.st")
        _assert_same_tree(sched.state_dict(), gg.load(tmp_path / "s.st"))


def test_generator_state_in_a_checkpoint_resumes_the_shuffle(tmp_path):
    from gpugrad.utils.data import DataLoader, TensorDataset
    ds = TensorDataset(gg.arange(12))
    g = gg.Generator().manual_seed(7)
    loader = DataLoader(ds, batch_size=5, shuffle=True, generator=g)
    list(loader)  # epoch 0
    gg.save({"rng": g.get_state(), "epoch": 1}, tmp_path / "ck.st")
    want = [b.tolist() for (b,) in loader]  # epoch 1, uninterrupted
    ck = gg.load(tmp_path / "ck.st")
    g2 = gg.Generator().set_state(ck["rng"])
    got = [b.tolist() for (b,) in DataLoader(ds, batch_size=5, shuffle=True, generator=g2)]
    assert got == want


def test_torch_save_file_is_refused_without_unpickling(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "t.pt")
    with pytest.raises(ValueError, match=r"t\.pt.*zip archive.*torch\.save"):
        gg.load(tmp_path / "t.pt")
    torch.save({"w": torch.ones(2)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match=r"old\.pt.*pickle"):
        gg.load(tmp_path / "old.pt")


# ---- review round: damage that used to load silently, paths, odd dtypes ----------------
def _small_checkpoint():
    buf = io.BytesIO()
    gg.save({"w": gg.tensor([1.0, 2.0]), "groups": [{"lr": 0.5, "step": 1, "k": [1, None]}],
             "m": gg.tensor([True])}, buf)
    return buf.getvalue()


def test_every_one_bit_flip_and_every_truncation_is_refused():
    # The structure carries values (lr, step, keys): a flip there once loaded a different
    # checkpoint (1 -> 0, 'w' -> 'v', a tensor -> a tuple) or, in "format", a flat dict.
    blob = _small_checkpoint()
    for i in range(len(blob)):
        damaged = bytearray(blob)
        damaged[i] ^= 0x01
        with pytest.raises(ValueError):
            gg.load(io.BytesIO(bytes(damaged)))
        with pytest.raises(ValueError):
            gg.load(io.BytesIO(blob[:i]))
    assert gg.load(io.BytesIO(blob))["groups"] == [{"lr": 0.5, "step": 1, "k": [1, None]}]


def test_edited_structure_without_its_checksum_is_refused(tmp_path):
    path = tmp_path / "m.st"
    gg.save({"w": gg.tensor([1.0]), "step": 1}, path)
    with safetensors.safe_open(str(path), "np") as f:
        structure = f.metadata()["structure"]
    _rewrite_metadata(path, structure=structure.replace('"step",1', '"step",0'),
                      structure_crc32=str(zlib.crc32(structure.encode())))
    with pytest.raises(ValueError, match="structure does not match its checksum"):
        gg.load(path)


@pytest.mark.parametrize("change", [
    {"format": "gpugrae"}, {"format": "pt"},
])
def test_gpugrad_file_with_a_damaged_format_is_not_read_as_foreign(tmp_path, change):
    path = tmp_path / "m.st"
    gg.save({"w": gg.tensor([1.0]), "step": 1}, path)
    _rewrite_metadata(path, **change)
    with pytest.raises(ValueError, match="damaged gpugrad metadata"):
        gg.load(path)


@pytest.mark.parametrize("structure", [
    '{"T":[1],"d":"cpu"}', '{"D":[1]}', '{"D":[[{"L":[]},1]]}', '{"L":5}', '{"N":"O","v":1}',
    '{"N":"<i1","v":1000}', '{"N":"<i4"}', '{"N":"zz","v":1}',
    pytest.param('{"L":' * 5000 + "1" + "}" * 5000, id="nested-5000-deep"),
])
def test_structure_of_the_wrong_shape_raises_valueerror(tmp_path, structure):
    path = tmp_path / "m.st"
    gg.save({"w": gg.tensor([1.0])}, path)
    _rewrite_metadata(path, structure=structure)
    with pytest.raises(ValueError, match="damaged gpugrad metadata"):
        gg.load(path)


def test_crc32_that_is_not_a_dict_raises_valueerror(tmp_path):
    path = tmp_path / "m.st"
    gg.save({"w": gg.tensor([1.0])}, path)
    _rewrite_metadata(path, crc32="[1]")
    with pytest.raises(ValueError, match="damaged gpugrad metadata"):
        gg.load(path)


def test_save_through_a_symlink_writes_its_target(tmp_path):
    # as open(path, "wb") and torch.save do; renaming over the link left the target stale
    gg.save({"w": gg.tensor([1.0])}, tmp_path / "ckpt_1.st")
    os.symlink("ckpt_1.st", tmp_path / "latest.st")
    gg.save({"w": gg.tensor([2.0])}, tmp_path / "latest.st")
    assert os.path.islink(tmp_path / "latest.st")
    assert gg.load(tmp_path / "ckpt_1.st")["w"].tolist() == [2.0]
    assert _listing(tmp_path) == ["ckpt_1.st", "latest.st"]


def test_save_over_a_read_only_file_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "ro.st"
    gg.save({"w": gg.tensor([1.0])}, path)
    os.chmod(path, 0o444)
    if os.geteuid() == 0:  # root may write anything: pretend to be a user that may not
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m, **kw: False if m == os.W_OK and
                            os.fspath(p) == str(path) else real(p, m, **kw))
    with pytest.raises(PermissionError, match=r"save: .*ro\.st.*read-only"):
        gg.save({"w": gg.tensor([2.0])}, path)
    assert gg.load(path)["w"].tolist() == [1.0] and _listing(tmp_path) == ["ro.st"]


def test_save_to_a_bytes_path(tmp_path):
    path = os.fsencode(tmp_path / "b.st")
    gg.save({"w": gg.tensor([1.0])}, path)
    assert gg.load(path)["w"].tolist() == [1.0]


def test_bfloat16_file_from_pytorch_names_the_dtype(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file
    save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, str(tmp_path / "bf.st"))
    with pytest.raises(ValueError, match=r"bf\.st.*dtype BF16"):
        gg.load(tmp_path / "bf.st")


def test_longdouble_scalar_is_refused_by_name(tmp_path):
    if np.dtype(np.longdouble).itemsize <= 8:
        pytest.skip("longdouble is float64 here")
    with pytest.raises(TypeError, match=r"save: .*(longdouble|float128)"):
        gg.save({"x": np.longdouble(1.5)}, tmp_path / "x.st")
    assert _listing(tmp_path) == []


def test_reserved_key_renamed_never_takes_another_keys_name(tmp_path):
    # '__metadata__' cannot be a safetensors name; its stand-in must not be a name that
    # another key of the state dict owns, or PyTorch reads the wrong tensor under that key.
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file
    sd = {"__metadata__": gg.tensor([1.0]), "__metadata___": gg.tensor([2.0]),
          "__metadata____": gg.tensor([3.0])}
    gg.save(sd, tmp_path / "r.st")
    theirs = load_file(str(tmp_path / "r.st"))
    assert theirs["__metadata___"].tolist() == [2.0]
    assert theirs["__metadata____"].tolist() == [3.0]
    ours = gg.load(tmp_path / "r.st")
    assert {k: v.tolist() for k, v in ours.items()} == {k: v.tolist() for k, v in sd.items()}
