"""gg.save / gg.load: checkpoints in the safetensors format, never pickle.

The tensors of `obj` are the file's tensors; everything around them (dicts with
str or int keys, lists, tuples, numbers, strings, bools, None) is JSON in the
file's `__metadata__`, where each tensor appears as a reference to its name. A
flat dict of tensors (a model's state dict) uses its own keys as the names, so
`safetensors.torch.load_file` opens a gpugrad checkpoint of a model as PyTorch's
state dict. A safetensors file written by another tool has no gpugrad metadata:
it loads as a flat dict of tensors.

Writes are atomic: the bytes go to a temporary file in the target's directory,
which is flushed, fsynced and renamed over the target, so a failure at any point
leaves the old file as it was.
"""
from __future__ import annotations

import io
import json
import math
import os
import struct
import tempfile
import zlib

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as _st_load, save as _st_save

from .backends import device as _parse_device, get_backend
from .tensor import Tensor, from_numpy

__all__ = ["save", "load"]

_FORMAT = "gpugrad"
_VERSION = "1"
_RESERVED = "__metadata__"  # the safetensors header's own key: no tensor may take it


# ---- saving -----------------------------------------------------------------------
class _Encoder:
    """Turns obj into a JSON-able structure that names its tensors, and collects the
    tensors' host arrays under those names."""

    def __init__(self, flat):
        self.flat = flat          # a flat dict of tensors: its keys (a set), the names
        self.arrays = {}          # name -> contiguous host array
        self.by_array = {}        # id(backend array) -> (name, array): one tensor, saved once
        self.groups = {}          # id(root of the memory) -> [(name, path, array)]

    def encode(self, v, path):
        if isinstance(v, np.generic):  # before float: np.float64 is a float too
            # longdouble: .item() gives a longdouble again, which JSON cannot hold exactly
            if v.dtype.kind not in "biuf" or v.dtype.itemsize > 8:
                raise TypeError(f"save: cannot save the NumPy scalar {v!r} of dtype {v.dtype} "
                                f"at {_at(path)}")
            return {"N": v.dtype.str, "v": self.encode(v.item(), path)}
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else {"F": repr(v)}
        if isinstance(v, Tensor):
            return self.tensor(v, path)
        if isinstance(v, np.ndarray):
            return {"A": self.array(v, path)}
        if isinstance(v, bytes):
            return {"B": self.array(np.frombuffer(v, np.uint8), path)}
        if isinstance(v, dict):
            items = []
            for k, x in v.items():
                if not _plain_key(k):
                    raise TypeError(f"save: dict keys must be str, int, float, bool, None or "
                                    f"tuples of them; got the key {k!r} at {_at(path)}")
                items.append([self.encode(k, f"{path}[key {k!r}]"), self.encode(x, _join(path, k))])
            return {"D": items}
        if isinstance(v, (list, tuple)):
            tag = "L" if isinstance(v, list) else "U"
            return {tag: [self.encode(x, _join(path, i)) for i, x in enumerate(v)]}
        raise TypeError(f"save: cannot save a {type(v).__module__}.{type(v).__name__} at "
                        f"{_at(path)}; checkpoints hold Tensors, NumPy arrays and scalars, and "
                        "dicts, lists and tuples of them, numbers, str, bytes, bool and None")

    def tensor(self, t, path):
        data = t.data
        seen = self.by_array.get(id(data))
        if seen is not None:  # the same tensor (or a detach() of it) again: one copy, one name
            name = seen[0]
        else:
            name = self.name(path)
            self.by_array[id(data)] = (name, data)
            root = data
            while getattr(root, "base", None) is not None:
                root = root.base
            self.groups.setdefault((str(t.device), id(root)), []).append((name, path, data))
            self.arrays[name] = _contiguous(t.numpy())
        return {"T": name, "d": str(t.device), **({"g": True} if t.requires_grad else {})}

    def array(self, a, path):
        if a.dtype.kind not in "biufc":
            raise TypeError(f"save: cannot save a NumPy array of dtype {a.dtype} at {_at(path)}")
        name = self.name(path)
        self.arrays[name] = _contiguous(a)
        return name

    def name(self, path):
        base = path if self.flat else path or "tensor"
        if base == _RESERVED:
            base = base + "_"
            while self.flat and base in self.flat:  # another key's own name: leave it that
                base = base + "_"
        name, k = base, 1
        while name in self.arrays:  # a dict key holding '.' may spell another's path
            name, k = f"{base}#{k}", k + 1
        return name

    def check_overlaps(self):
        """Two different tensors over parts of the same memory (a tensor and its view)
        would load as two independent copies: refuse rather than lose that silently."""
        for (dev, _), items in self.groups.items():
            xp = get_backend(dev).xp
            for i, (_, p, a) in enumerate(items):
                for _, q, b in items[i + 1:]:
                    if xp.may_share_memory(a, b) and xp.shares_memory(a, b):
                        raise ValueError(
                            f"save: the tensors at {p} and {q} share memory (one is a view of "
                            f"the other) but are not the same tensor; a checkpoint stores "
                            f"separate tensors, so save a .clone() of one of them")


def _contiguous(a):
    """a as safetensors stores it: C order, little-endian (checksums are of these bytes)."""
    a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    # not np.ascontiguousarray: it turns a 0-d array into a 1-d one
    return a if a.flags.c_contiguous else a.copy(order="C")


def _plain_key(k):
    if isinstance(k, tuple):
        return all(_plain_key(x) for x in k)
    return k is None or type(k) in (str, int, float, bool)


def _at(path):
    return path or "the top level"


def _join(path, key):
    return f"{path}.{key}" if path else str(key)


def save(obj, f) -> None:
    """Write obj (tensors and the dicts/lists/tuples/numbers/str around them) to f as
    safetensors, atomically; f is a path or a binary file object."""
    flat = isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())
    enc = _Encoder(set(obj) if flat else None)
    structure = enc.encode(obj, "")
    enc.check_overlaps()
    text = json.dumps(structure, separators=(",", ":"), allow_nan=False)
    # The structure holds values too (lr, step counts, dict keys): a checksum of its own,
    # so a flipped byte there is caught like one in a tensor's data.
    meta = {"format": _FORMAT, "gpugrad": _VERSION, "structure": text,
            "structure_crc32": str(zlib.crc32(text.encode())),
            "crc32": json.dumps({k: zlib.crc32(a.data) for k, a in enc.arrays.items()},
                                separators=(",", ":"))}
    try:
        blob = _st_save(enc.arrays, metadata=meta)
    except SafetensorError as e:
        raise ValueError(f"save: safetensors could not serialize the tensors: {e}") from e
    if hasattr(f, "write"):
        if isinstance(f, io.TextIOBase):
            raise TypeError(f"save: {getattr(f, 'name', 'the file object')!r} is open in text "
                            "mode; a checkpoint is bytes: open it with 'wb'")
        f.write(blob)
        return
    _atomic_write(os.fsdecode(_path("save", f)), blob)


def _path(op, f):
    try:
        return os.fspath(f)
    except TypeError:
        raise TypeError(f"{op}: expected a path (str, bytes, os.PathLike) or a binary file "
                        f"object, got {type(f).__module__}.{type(f).__name__}") from None


def _atomic_write(path, blob):
    # Through a symlink to its target, as open(path, "wb") writes: renaming over the link
    # itself would leave the file it points at (the checkpoint others read) stale.
    path = os.path.realpath(path)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        # open() would refuse a read-only file; a rename over it would not
        raise PermissionError(f"save: cannot write {path!r}: the file is read-only")
    directory = os.path.dirname(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.",
                                   suffix=".tmp")
    except FileNotFoundError:
        raise FileNotFoundError(f"save: cannot write {path!r}: the directory {directory!r} "
                                "does not exist") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # the rename itself survives a crash only once the directory is synced
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:  # not possible everywhere (Windows): the data is already safe
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _mode(path):
    """The permissions the file would get from open(): the old file's, else 0o666 less umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# ---- loading ------------------------------------------------------------------------
def _foreign(head):
    """A hint at what a file that is not safetensors probably is."""
    if head.startswith(b"PK\x03\x04"):
        return " (it looks like a zip archive: a NumPy .npz or a torch.save file)"
    if head.startswith(b"\x93NUMPY"):
        return " (it looks like a NumPy .npy file)"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return " (it looks like a pickle, which gpugrad never loads)"
    return ""


def _header(blob, where):
    if not blob:
        raise ValueError(f"load: {where} is empty, not a safetensors checkpoint")
    if len(blob) < 8:
        raise ValueError(f"load: {where} is not a safetensors checkpoint: {len(blob)} bytes "
                         f"is too short for a header{_foreign(blob)}")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError(f"load: {where} is not a safetensors checkpoint, or is truncated: "
                         f"its header claims {n} bytes but the file has {len(blob)}"
                         f"{_foreign(blob)}")
    try:
        return json.loads(blob[8:8 + n])
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"load: {where} is not a safetensors checkpoint (its header is not "
                         f"JSON: {e}){_foreign(blob)}") from None


def load(f, device=None, *, map_location=None):
    """Read a checkpoint written by gg.save (or any safetensors file, as a flat dict of
    tensors); tensors go to `device`, by default the device each was saved from."""
    if map_location is not None:
        if device is not None:
            raise TypeError("load: pass device= or its PyTorch spelling map_location=, not both")
        device = map_location
    target = None if device is None else _parse_device(device)
    if target is not None:
        get_backend(target)  # fail now, with the backend's own reason
    if hasattr(f, "read"):
        where, blob = getattr(f, "name", "the file object"), f.read()
        if isinstance(blob, str):
            raise TypeError(f"load: {where!r} is open in text mode; a checkpoint is bytes: "
                            "open it with 'rb'")
    else:
        where = _path("load", f)
        with open(where, "rb") as fh:
            blob = fh.read()
    where = repr(where) if isinstance(where, str) else str(where)
    header = _header(blob, where)
    try:
        arrays = _st_load(blob)
    except SafetensorError as e:
        raise ValueError(f"load: {where} is not a valid safetensors checkpoint, or is "
                         f"truncated or corrupted: {e}") from None
    except KeyError as e:  # safetensors.numpy has no NumPy dtype for it (BF16, F8_*)
        raise ValueError(f"load: {where} holds a tensor of dtype {e.args[0]}, which NumPy "
                         "(and so gpugrad) cannot represent") from None
    meta = header.get(_RESERVED) or {}
    # A foreign file has none of gpugrad's own keys; one with them but a damaged "format"
    # must not be read as a flat dict of tensors, losing the rest of the checkpoint.
    if meta.get("format") != _FORMAT and not meta.keys() & {"gpugrad", "structure_crc32"}:
        # Another tool's safetensors file: its tensors as a flat dict, in file order.
        order = sorted((k for k in header if k != _RESERVED),
                       key=lambda k: header[k]["data_offsets"][0])
        dev = target or _parse_device("cpu")
        return {k: _to_tensor(arrays[k], dev, False, where) for k in order}
    if meta.get("gpugrad") != _VERSION:
        raise ValueError(f"load: {where} was written by a gpugrad checkpoint format version "
                         f"{meta.get('gpugrad')!r}; this gpugrad reads version {_VERSION}")
    if meta.get("format") != _FORMAT:  # gpugrad's keys without its format: a damaged name
        raise ValueError(f"load: {where} has damaged gpugrad metadata (format "
                         f"{meta.get('format')!r})")
    try:
        text = meta["structure"]
        if meta["structure_crc32"] != str(zlib.crc32(text.encode())):
            raise ValueError("the structure does not match its checksum")
        structure = json.loads(text)
        crcs = json.loads(meta["crc32"])
        if not isinstance(crcs, dict):
            raise ValueError(f"crc32 is a {type(crcs).__name__}, not a dict")
    except (KeyError, ValueError, RecursionError) as e:
        raise ValueError(f"load: {where} has damaged gpugrad metadata ({e})") from None
    for k, a in arrays.items():
        if crcs.get(k) != zlib.crc32(_contiguous(a).data):
            raise ValueError(f"load: {where} is corrupted: the data of tensor {k!r} does not "
                             "match its checksum")
    try:
        return _Decoder(arrays, target, where).decode(structure)
    except (TypeError, KeyError, AttributeError, IndexError, OverflowError,
            RecursionError) as e:  # a structure of the wrong shape (edited by hand)
        raise ValueError(f"load: {where} has damaged gpugrad metadata ({type(e).__name__}: "
                         f"{e})") from None


def _to_tensor(a, dev, requires_grad, where):
    t = from_numpy(a)
    if dev != t.device:
        try:
            get_backend(dev)
        except Exception as e:
            raise RuntimeError(f"load: {where} holds tensors saved on {dev}, which is not "
                               f"usable here ({e}); pass device='cpu' to load them on the "
                               "CPU") from None
        t = t.to(dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


class _Decoder:
    """Rebuilds the saved object; each tensor name becomes one Tensor, however often used."""

    def __init__(self, arrays, target, where):
        self.arrays, self.target, self.where = arrays, target, where
        self.tensors = {}

    def array(self, name):
        try:
            return self.arrays[name]
        except (KeyError, TypeError):
            raise ValueError(f"load: {self.where} is corrupted: its metadata names a tensor "
                             f"{name!r} that the file does not hold") from None

    def tensor(self, name, saved_on, requires_grad):
        t = self.tensors.get(name)
        if t is None:
            try:
                dev = self.target or _parse_device(saved_on)
            except (TypeError, ValueError) as e:
                raise ValueError(f"load: {self.where} has damaged gpugrad metadata ({e})") from None
            t = self.tensors[name] = _to_tensor(self.array(name), dev, requires_grad, self.where)
        elif t.requires_grad != requires_grad:  # saved as p and p.detach(): one memory, two flags
            t = t.detach().requires_grad_(requires_grad)
        return t

    def decode(self, s):
        if s is None or isinstance(s, (bool, int, float, str)):
            return s
        if isinstance(s, dict) and len(s) >= 1:
            if "T" in s:
                return self.tensor(s["T"], s.get("d"), bool(s.get("g")))
            if "D" in s:
                return {self.decode(k): self.decode(v) for k, v in s["D"]}
            if "L" in s:
                return [self.decode(v) for v in s["L"]]
            if "U" in s:
                return tuple(self.decode(v) for v in s["U"])
            if "F" in s:
                return float(s["F"])
            if "A" in s:
                return self.array(s["A"])
            if "B" in s:
                return self.array(s["B"]).tobytes()
            if "N" in s:
                dtype = np.dtype(s["N"])
                if dtype.kind not in "biuf":
                    raise TypeError(f"a NumPy scalar of dtype {dtype}")
                return dtype.type(self.decode(s["v"]))
        raise ValueError(f"load: {self.where} has damaged gpugrad metadata (unknown entry "
                         f"{str(s)[:80]})")

