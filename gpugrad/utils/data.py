"""Datasets and a DataLoader that cuts them into batches of Tensors.

A DataLoader over a TensorDataset (or Subsets of one, as random_split makes) never
touches single samples: each batch is one gather per tensor with an index array of
that batch's rows, and one explicit move to the loader's device. Any other dataset
is read sample by sample and collated by `default_collate` (stacking, as PyTorch's).
Shuffling draws a permutation from a gg.Generator (or the CPU's default generator,
which gg.manual_seed seeds), so a seed fixes the order of every epoch.
"""
from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from .. import random as _random
from ..backends import device as _parse_device
from ..errors import DtypeError, ShapeError
from ..ops import stack
from ..tensor import Tensor, tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "random_split",
           "default_collate"]


class Dataset:
    """A map-style dataset: subclasses give __getitem__(index) and __len__()."""

    def __getitem__(self, index):
        """The sample at index."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self):
        """The number of samples."""
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


class TensorDataset(Dataset):
    """Samples are the rows of tensors that share their first dimension."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} is a {type(t).__module__}."
                                f"{type(t).__name__}, expected a gpugrad Tensor")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is a 0-d tensor; samples are "
                                 "rows along the first dimension")
        if len({t.shape[0] for t in tensors}) > 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ShapeError(f"TensorDataset: all tensors must have the same size in the first "
                             f"dimension, got shapes {shapes}")
        self.tensors = tensors

    def __getitem__(self, index):
        """A tuple of each tensor's row(s) at index."""
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        """The number of rows."""
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of dataset at the given indices, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        """dataset[indices[idx]]; a list idx asks the dataset for all of them at once."""
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        """The number of indices."""
        return len(self.indices)


# ---- collation ----------------------------------------------------------------------
def default_collate(batch):
    """Samples to a batch, as PyTorch's: Tensors and NumPy arrays are stacked, ints
    become int64, floats float64 and bools bool tensors; dicts, tuples and lists are
    collated field by field (tuples and lists into lists)."""
    if len(batch) == 0:
        raise IndexError("default_collate: the batch is empty (no samples to collate)")
    elem = batch[0]
    if isinstance(elem, Tensor):
        _same_layout(batch)
        return stack(list(batch))
    if isinstance(elem, np.ndarray):
        _same_layout(batch)
        return tensor(np.stack(batch))
    if isinstance(elem, np.generic):
        return tensor(np.array(batch))
    if isinstance(elem, numbers.Integral):
        # The dtype comes from the whole batch, not the first sample (as torch.tensor
        # infers it): a float after an int must not be truncated, nor 2 after True
        # turned into True. Mixed ints and floats give float32, as in PyTorch.
        if all(isinstance(x, bool) for x in batch):
            return tensor(list(batch), dtype=np.bool_)
        if all(isinstance(x, numbers.Integral) for x in batch):
            return tensor([int(x) for x in batch], dtype=np.int64)
        return tensor([float(x) for x in batch], dtype=np.float32)
    if isinstance(elem, numbers.Real):
        return tensor([float(x) for x in batch], dtype=np.float64)
    if isinstance(elem, (str, bytes)):
        return batch  # as PyTorch: the batch as given (a tuple inside a tuple sample)
    if isinstance(elem, Mapping):
        for i, d in enumerate(batch):
            if not isinstance(d, Mapping) or d.keys() != elem.keys():
                keys = sorted(map(str, d.keys())) if isinstance(d, Mapping) else type(d).__name__
                raise KeyError(f"default_collate: sample {i} has keys {keys}, sample 0 "
                               f"{sorted(map(str, elem.keys()))}; every sample must have the "
                               "same keys")
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple keeps its type
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        if len({len(s) for s in batch}) > 1:
            raise ValueError(f"default_collate: the samples have different lengths "
                             f"{sorted({len(s) for s in batch})}; every sample must have "
                             "the same number of fields")
        return [default_collate(s) for s in zip(*batch)]
    raise TypeError(f"default_collate: samples must be Tensors, NumPy arrays, numbers, str, "
                    f"dicts, tuples or lists; got {type(elem).__module__}.{type(elem).__name__}")


def _same_layout(batch):
    """Samples that stack: one type, shape and dtype, or an error naming the first that
    differs (np.stack's message names neither the shapes nor the sample)."""
    first = batch[0]
    for i, x in enumerate(batch):
        if type(x) is not type(first) and not (isinstance(x, Tensor) and
                                               isinstance(first, Tensor)):
            raise TypeError(f"default_collate: sample {i} is a {type(x).__module__}."
                            f"{type(x).__name__}, sample 0 a {type(first).__module__}."
                            f"{type(first).__name__}")
        if tuple(x.shape) != tuple(first.shape):
            raise ShapeError(f"default_collate: stack expects each sample to have the same "
                             f"shape, but got {tuple(first.shape)} at entry 0 and "
                             f"{tuple(x.shape)} at entry {i}")
        if x.dtype != first.dtype:
            raise DtypeError(f"default_collate: stack: all tensors must share one dtype, got "
                             f"{first.dtype} at entry 0 and {x.dtype} at entry {i} (gpugrad "
                             "does not promote)")


def _convert(sample):
    """One sample, unbatched (batch_size=None): arrays and numbers become Tensors."""
    if isinstance(sample, (Tensor, str, bytes)):
        return sample
    if isinstance(sample, (np.ndarray, np.generic)):
        return tensor(sample)
    if isinstance(sample, Mapping):
        return {k: _convert(v) for k, v in sample.items()}
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(_convert(v) for v in sample))
    if isinstance(sample, (list, tuple)):
        return [_convert(v) for v in sample]
    return sample


def _move(obj, device):
    """Every Tensor in obj on device: one explicit transfer each (none if already there)."""
    if isinstance(obj, Tensor):
        return obj if obj.device == device else obj.to(device)
    if isinstance(obj, Mapping):
        return {k: _move(v, device) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_move(v, device) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_move(v, device) for v in obj)
    return obj


# ---- the loader ---------------------------------------------------------------------
def _tensor_rows(dataset):
    """(TensorDataset, its row for each position of dataset) when dataset is a
    TensorDataset seen through Subsets, else None. The map is a host array."""
    # Only the classes' own __getitem__ may be bypassed: a subclass that overrides it
    # (a transform, an augmentation) must be read sample by sample, or its work is lost.
    maps = []
    while isinstance(dataset, Subset):
        if type(dataset).__getitem__ is not Subset.__getitem__:
            return None
        maps.append(dataset.indices)
        dataset = dataset.dataset
    if not (isinstance(dataset, TensorDataset)
            and type(dataset).__getitem__ is TensorDataset.__getitem__):
        return None
    n = len(dataset)
    rows = None
    for m in reversed(maps):  # innermost Subset first
        m = np.asarray(m.numpy() if isinstance(m, Tensor) else m)
        if m.ndim != 1:  # a sample of several rows: read sample by sample
            return None
        if m.size and m.dtype.kind not in "iu":
            # Cast to int64, 0.5 became 0 and a bool mask indices 0 and 1, silently;
            # reading sample by sample (dataset[0.5]) raises.
            raise IndexError(f"DataLoader: Subset indices must be integers, got {m.dtype} "
                             f"indices {m[:4].tolist()}")
        m = m.astype(np.int64, copy=False)
        if m.size and (m.min() < -n or m.max() >= n):
            bad = m[(m < -n) | (m >= n)][0]
            raise IndexError(f"DataLoader: Subset index {bad} is out of range for a dataset "
                             f"of {n} samples")
        rows = m if rows is None else rows[m]
        n = len(m)
    return dataset, rows


def _check_generator(op, generator):
    if generator is not None and not isinstance(generator, _random.Generator):
        raise TypeError(f"{op}: generator must be a gg.Generator or None, got "
                        f"{type(generator).__module__}.{type(generator).__name__}")


def _permutation(n, generator):
    """A permutation of range(n) as a host array, from generator (default: the CPU's)."""
    dev = "cpu" if generator is None else generator.device
    return _random.randperm(n, generator=generator, device=dev).numpy()


class DataLoader:
    """Batches of a dataset as Tensors, optionally shuffled, on a chosen device.

    `len()` is the number of batches. With `shuffle=True` every epoch (every
    `iter()`) draws a new order from `generator`, so the same seed gives the same
    epochs. `device` moves each batch there explicitly (by default batches stay
    where the dataset's tensors are). `batch_size=None` yields single samples.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False,
                 generator=None, device=None, collate_fn=None):
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
                batch_size, numbers.Integral) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size should be a positive integer or None, "
                             f"got batch_size={batch_size!r}")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"DataLoader: {name} should be a bool, got {name}={flag!r}")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None yields single samples; it cannot "
                             "be combined with drop_last=True")
        if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(f"DataLoader: the dataset must support indexing and len(); got a "
                            f"{type(dataset).__module__}.{type(dataset).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {collate_fn!r}")
        _check_generator("DataLoader", generator)
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.generator = generator
        self.device = None if device is None else _parse_device(device)
        self.collate_fn = collate_fn

    def __len__(self):
        """The number of batches per epoch."""
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        """One epoch: the batches, in a fresh order when shuffling."""
        n = len(self.dataset)
        order = _permutation(n, self.generator) if self.shuffle else np.arange(n)
        if self.batch_size is None:
            for i in order.tolist():
                sample = self.dataset[i]
                sample = self.collate_fn(sample) if self.collate_fn else _convert(sample)
                yield self._place(sample)
            return
        count = len(self)
        fast = None if self.collate_fn else _tensor_rows(self.dataset)
        if fast is not None:
            base, rows = fast
            for batch in _tensor_batches(base, order if rows is None else rows[order],
                                         self.batch_size, count):
                yield self._place(batch)
            return
        collate = self.collate_fn or default_collate
        for b in range(count):
            pos = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield self._place(collate([self.dataset[i] for i in pos.tolist()]))

    def _place(self, batch):
        return batch if self.device is None else _move(batch, self.device)


def _tensor_batches(dataset, rows, batch_size, count):
    """The batches of a TensorDataset whose epoch reads the host array rows in order.
    The rows go to each device that holds one of the tensors once per epoch; a batch is
    then one gather per tensor, indexed by a slice of them."""
    index = {}
    for t in dataset.tensors:
        if t.device not in index:
            index[t.device] = tensor(rows, dtype=np.int64, device=t.device).data
    for b in range(count):
        part = slice(b * batch_size, (b + 1) * batch_size)
        yield [t[index[t.device][part]] for t in dataset.tensors]


# ---- splitting ----------------------------------------------------------------------
def random_split(dataset, lengths, generator=None):
    """Non-overlapping random Subsets of the given lengths (ints summing to len(dataset),
    or fractions summing to 1: the remainder goes one each to the first splits)."""
    _check_generator("random_split", generator)
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: expected at least one length")
    for i, x in enumerate(lengths):
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise TypeError(f"random_split: lengths must be ints or fractions, got {x!r} at "
                            f"index {i}")
    if any(not isinstance(x, numbers.Integral) for x in lengths):
        total = sum(lengths)
        if not (math.isclose(total, 1) and total <= 1):
            raise ValueError(f"random_split: fractions must sum to 1, got {lengths} "
                             f"(sum {total})")
        for i, f in enumerate(lengths):
            if not 0 <= f <= 1:
                raise ValueError(f"random_split: fraction at index {i} is {f}, not between 0 "
                                 "and 1")
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, s in enumerate(sizes):
            if s == 0:
                warnings.warn(f"random_split: split {i} is empty ({lengths[i]} of "
                              f"{n} samples)", stacklevel=2)
        lengths = sizes
    else:
        lengths = [int(x) for x in lengths]
        for i, x in enumerate(lengths):
            if x < 0:
                raise ValueError(f"random_split: length at index {i} is negative ({x})")
        if sum(lengths) != n:
            raise ValueError(f"random_split: the lengths {lengths} sum to {sum(lengths)}, but "
                             f"the dataset has {n} samples")
    perm = _permutation(n, generator).tolist()
    out, offset = [], 0
    for size in lengths:
        out.append(Subset(dataset, perm[offset:offset + size]))
        offset += size
    return out
