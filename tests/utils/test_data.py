"""gg.utils.data: datasets, the DataLoader's batches, shuffling and random_split."""
import collections
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gpugrad as gg
from gpugrad.utils.data import (DataLoader, Dataset, Subset, TensorDataset, default_collate,
                                random_split)


def _xy(n, device="cpu"):
    x = gg.tensor(np.arange(n * 3, dtype=np.float32).reshape(n, 3), device=device)
    y = gg.tensor(np.arange(n) % 4, device=device)
    return x, y


class _Squares(Dataset):
    """A generic dataset: samples are built one at a time."""

    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return gg.tensor([float(i), float(i * i)]), i

    def __len__(self):
        return self.n


# ---- datasets --------------------------------------------------------------------------
def test_tensor_dataset_rows(device):
    x, y = _xy(5, device)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    xi, yi = ds[2]
    np.testing.assert_array_equal(xi.numpy(), [6, 7, 8])
    assert yi.item() == 2 and yi.shape == () and isinstance(ds[2], tuple)
    np.testing.assert_array_equal(ds[[0, 4]][1].numpy(), [0, 0])


def test_tensor_dataset_size_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"\(5, 3\), \(4,\)"):
        TensorDataset(gg.zeros(5, 3), gg.zeros(4))
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(gg.tensor(1.0))
    with pytest.raises(TypeError, match="argument 1 is a numpy.ndarray"):
        TensorDataset(gg.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_dataset_base_class_asks_for_its_methods():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())


def test_subset():
    s = Subset(_Squares(10), [7, 2, 9])
    assert len(s) == 3 and s[0][1] == 7 and s[2][1] == 9
    ts = Subset(TensorDataset(*_xy(6)), [5, 1])
    np.testing.assert_array_equal(ts[[1, 0]][1].numpy(), [1, 1])


# ---- batches --------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 5, 8])
@pytest.mark.parametrize("batch_size", [1, 3, 8, 20])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batches_match_pytorch(n, batch_size, drop_last):
    torch = pytest.importorskip("torch")
    x, y = _xy(n)
    ours = DataLoader(TensorDataset(x, y), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x.numpy()), torch.from_numpy(y.numpy())),
        batch_size=batch_size, drop_last=drop_last)
    got, want = list(ours), list(theirs)
    assert len(ours) == len(theirs) == len(got) == len(want)
    for (gx, gy), (wx, wy) in zip(got, want):
        assert gx.dtype == np.float32 and gy.dtype == np.int64
        np.testing.assert_array_equal(gx.numpy(), wx.numpy())
        np.testing.assert_array_equal(gy.numpy(), wy.numpy())


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.bool_, np.int32, np.uint8])
def test_batches_keep_dtype_and_trailing_shape(device, dtype):
    a = gg.tensor(np.arange(7 * 2 * 2).reshape(7, 2, 2).astype(dtype), device=device)
    (b,) = next(iter(DataLoader(TensorDataset(a), batch_size=3)))
    assert b.dtype == np.dtype(dtype) and b.shape == (3, 2, 2)
    assert str(b.device) == str(gg.device(device))
    np.testing.assert_array_equal(b.numpy(), a.numpy()[:3])


def test_batches_come_out_on_the_device_asked_for(device):
    x, y = _xy(7)  # the dataset lives on the CPU
    for bx, by in DataLoader(TensorDataset(x, y), batch_size=3, device=device):
        assert str(bx.device) == str(gg.device(device)) == str(by.device)
    for bx, by in DataLoader(_Squares(5), batch_size=2, device=device):
        assert str(bx.device) == str(gg.device(device)) == str(by.device)


def _counting(monkeypatch, name):
    calls = []
    real = getattr(gg.Tensor, name)

    def counted(self, *a, **k):
        calls.append(name)
        return real(self, *a, **k)
    monkeypatch.setattr(gg.Tensor, name, counted)
    return calls


def test_one_gather_per_tensor_and_one_move_per_batch(device, monkeypatch):
    x, y = _xy(10)
    ds = TensorDataset(x, y)
    gathers = _counting(monkeypatch, "__getitem__")
    moves = _counting(monkeypatch, "to")
    batches = list(DataLoader(ds, batch_size=4, shuffle=True, device=device))
    assert len(batches) == 3
    assert len(gathers) == 3 * 2  # not one per sample
    assert len(moves) == (0 if device == "cpu" else 3 * 2)


def test_subsets_of_a_tensor_dataset_are_gathered_in_one_op(monkeypatch):
    ds = TensorDataset(*_xy(20))
    train, _ = random_split(ds, [15, 5], generator=gg.Generator().manual_seed(1))
    inner = Subset(train, list(range(14, -1, -1)))
    want = [default_collate([inner[i] for i in range(j, min(j + 4, 15))])
            for j in range(0, 15, 4)]
    gathers = _counting(monkeypatch, "__getitem__")
    got = list(DataLoader(inner, batch_size=4))
    assert len(gathers) == 4 * 2
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g[0].numpy(), w[0].numpy())
        np.testing.assert_array_equal(g[1].numpy(), w[1].numpy())


def test_subset_indices_out_of_range_raise():
    ds = Subset(TensorDataset(*_xy(4)), [0, 4])
    with pytest.raises(IndexError, match="index 4 is out of range for a dataset of 4"):
        list(DataLoader(ds, batch_size=2))
    ds = Subset(TensorDataset(*_xy(4)), [-5])
    with pytest.raises(IndexError, match="-5"):
        list(DataLoader(ds, batch_size=2))


def test_subset_indices_as_a_tensor(device):
    ds = Subset(TensorDataset(*_xy(5)), gg.tensor([4, 0], device=device))
    (bx, by), = list(DataLoader(ds, batch_size=2))
    np.testing.assert_array_equal(by.numpy(), [0, 0])
    np.testing.assert_array_equal(bx.numpy()[:, 0], [12, 0])


def test_negative_subset_indices_count_from_the_end():
    ds = Subset(TensorDataset(*_xy(4)), [-1, 0, -4])
    (bx, by), = list(DataLoader(ds, batch_size=3))
    np.testing.assert_array_equal(by.numpy(), [3, 0, 0])


def test_batches_are_copies_not_views_of_the_dataset():
    x, y = _xy(6)
    for bx, _ in DataLoader(TensorDataset(x, y), batch_size=4):
        bx *= 0
    np.testing.assert_array_equal(x.numpy(), np.arange(18, dtype=np.float32).reshape(6, 3))


def test_gradient_flows_back_to_a_dataset_tensor_that_requires_it():
    w = gg.tensor(np.ones((4, 2)), requires_grad=True)
    (b,) = next(iter(DataLoader(TensorDataset(w), batch_size=2)))
    (b * 3).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[3, 3], [3, 3], [0, 0], [0, 0]])


def test_generic_dataset_is_collated(device):
    dl = DataLoader(_Squares(5), batch_size=2, drop_last=True)
    batches = list(dl)
    assert len(dl) == len(batches) == 2
    xb, ib = batches[1]
    np.testing.assert_array_equal(xb.numpy(), [[2, 4], [3, 9]])
    assert xb.dtype == np.float32 and ib.dtype == np.int64 and ib.tolist() == [2, 3]


def test_default_collate_matches_pytorch():
    torch = pytest.importorskip("torch")
    tdc = torch.utils.data.default_collate

    def samples(to_tensor):
        return [(to_tensor(np.array([i, -i], np.float32)), i, i + 0.5, i % 2 == 0,
                 np.float32(i), np.array([[i]], np.int16), {"a": i, "b": [i, 1.0]})
                for i in range(3)]
    ours = default_collate(samples(gg.tensor))
    theirs = tdc(samples(torch.from_numpy))
    assert isinstance(ours, list) and len(ours) == len(theirs)

    def check(o, t):
        if isinstance(t, torch.Tensor):
            assert isinstance(o, gg.Tensor)
            assert o.dtype == t.numpy().dtype and tuple(o.shape) == tuple(t.shape)
            np.testing.assert_array_equal(o.numpy(), t.numpy())
        elif isinstance(t, dict):
            assert list(o) == list(t)
            for k in t:
                check(o[k], t[k])
        else:
            assert isinstance(o, list) and len(o) == len(t)
            for a, b in zip(o, t):
                check(a, b)
    for o, t in zip(ours, theirs):
        check(o, t)


def test_default_collate_strings_namedtuples_and_errors():
    assert default_collate(["a", "b"]) == ["a", "b"]
    P = collections.namedtuple("P", "x y")
    out = default_collate([P(1, 2.0), P(3, 4.0)])
    assert type(out) is P and out.x.tolist() == [1, 3] and out.y.dtype == np.float64
    with pytest.raises(ValueError, match="different lengths"):
        default_collate([(1, 2), (3,)])
    with pytest.raises(TypeError, match="got builtins.object"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="stack: all tensors must share one dtype"):
        default_collate([gg.tensor([1.0]), gg.tensor([1])])


def test_collate_fn_and_batch_size_none():
    seen = []
    dl = DataLoader(_Squares(5), batch_size=2, collate_fn=lambda b: seen.append(len(b)) or len(b))
    assert list(dl) == [2, 2, 1] and seen == [2, 2, 1]
    dl = DataLoader(_Squares(3), batch_size=None)
    items = list(dl)
    assert len(dl) == 3 and [i for _, i in items] == [0, 1, 2]
    assert list(DataLoader(range(3), batch_size=None)) == [0, 1, 2]  # as PyTorch
    x = list(DataLoader([np.ones(2, np.float32)], batch_size=None))[0]
    assert isinstance(x, gg.Tensor) and x.shape == (2,)


def test_plain_sequences_are_datasets():
    assert [b.tolist() for b in DataLoader(range(5), batch_size=2)] == [[0, 1], [2, 3], [4]]
    data = [np.float64(i) for i in range(3)]
    (b,) = list(DataLoader(data, batch_size=3))
    assert b.dtype == np.float64 and b.tolist() == [0.0, 1.0, 2.0]


# ---- shuffling ----------------------------------------------------------------------------
def _order(loader):
    return [v for (b,) in loader for v in b.tolist()]


def test_shuffle_golden_order_for_a_seed():
    ds = TensorDataset(gg.arange(10))
    dl = DataLoader(ds, batch_size=4, shuffle=True, generator=gg.Generator().manual_seed(0))
    # pinned: a change here changes every seeded training run
    assert [(b,)[0][0].tolist() for b in dl] == [[4, 6, 2, 7], [3, 5, 9, 0], [8, 1]]
    assert _order(dl) == [2, 9, 3, 6, 0, 4, 8, 7, 5, 1]  # the next epoch: a new order


def test_shuffle_is_reproducible_and_a_permutation_each_epoch():
    ds = TensorDataset(gg.arange(50))
    a = DataLoader(ds, batch_size=7, shuffle=True, generator=gg.Generator().manual_seed(3))
    b = DataLoader(ds, batch_size=7, shuffle=True, generator=gg.Generator().manual_seed(3))
    epochs_a = [_order(a) for _ in range(3)]
    assert epochs_a == [_order(b) for _ in range(3)]
    for e in epochs_a:
        assert sorted(e) == list(range(50))
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]
    assert epochs_a[0] != list(range(50))


def test_shuffle_without_generator_follows_manual_seed():
    ds = TensorDataset(gg.arange(30))
    gg.manual_seed(42)
    first = _order(DataLoader(ds, batch_size=4, shuffle=True))
    gg.manual_seed(42)
    assert _order(DataLoader(ds, batch_size=4, shuffle=True)) == first
    gg.manual_seed(43)
    assert _order(DataLoader(ds, batch_size=4, shuffle=True)) != first


def test_shuffle_with_drop_last_and_generic_dataset():
    dl = DataLoader(_Squares(10), batch_size=3, shuffle=True, drop_last=True,
                    generator=gg.Generator().manual_seed(0))
    idx = [i for _, b in dl for i in b.tolist()]
    assert len(dl) == 3 and len(idx) == 9 and len(set(idx)) == 9
    fast = DataLoader(TensorDataset(gg.arange(10)), batch_size=3, shuffle=True, drop_last=True,
                      generator=gg.Generator().manual_seed(0))
    assert _order(fast) == idx  # both paths draw the same order


def test_generator_on_the_device(device):
    ds = TensorDataset(gg.arange(20))
    orders = [_order(DataLoader(ds, batch_size=6, shuffle=True,
                                generator=gg.Generator(device).manual_seed(5)))
              for _ in range(2)]
    assert orders[0] == orders[1] and sorted(orders[0]) == list(range(20))


def test_unshuffled_epochs_repeat():
    dl = DataLoader(TensorDataset(gg.arange(7)), batch_size=3)
    assert _order(dl) == _order(dl) == list(range(7))


# ---- bad arguments ------------------------------------------------------------------------
@pytest.mark.parametrize("kw, err, words", [
    (dict(batch_size=0), ValueError, "batch_size=0"),
    (dict(batch_size=-2), ValueError, "batch_size=-2"),
    (dict(batch_size=1.5), ValueError, "batch_size=1.5"),
    (dict(batch_size=True), ValueError, "batch_size=True"),
    (dict(batch_size="4"), ValueError, "batch_size='4'"),
    (dict(shuffle=1), TypeError, "shuffle=1"),
    (dict(drop_last="yes"), TypeError, "drop_last='yes'"),
    (dict(batch_size=None, drop_last=True), ValueError, "batch_size=None"),
    (dict(generator=np.random.default_rng(0)), TypeError, "gg.Generator"),
    (dict(collate_fn=3), TypeError, "collate_fn"),
    (dict(device="tpu"), ValueError, "tpu"),
])
def test_bad_loader_arguments(kw, err, words):
    with pytest.raises(err, match=words):
        DataLoader(TensorDataset(gg.arange(4)), **kw)


def test_loader_needs_a_dataset():
    with pytest.raises(TypeError, match="indexing and len"):
        DataLoader(5)


def test_torch_generator_is_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="torch._C.Generator|torch.Generator"):
        DataLoader(TensorDataset(gg.arange(4)), shuffle=True, generator=torch.Generator())


# ---- random_split -------------------------------------------------------------------------
def test_random_split_ints_cover_the_dataset_once():
    ds = TensorDataset(gg.arange(10))
    parts = random_split(ds, [3, 0, 7], generator=gg.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 0, 7]
    assert all(isinstance(p, Subset) and p.dataset is ds for p in parts)
    idx = [i for p in parts for i in p.indices]
    assert sorted(idx) == list(range(10))
    assert parts[0].indices == [4, 6, 2]  # the golden permutation's head


@pytest.mark.parametrize("n, fractions", [(10, [0.3, 0.3, 0.4]), (11, [0.5, 0.5]),
                                          (10, [0.25] * 4), (7, [0.1, 0.9]), (3, [1.0]),
                                          (100, [0.7, 0.2, 0.1]), (5, [1 / 3, 1 / 3, 1 / 3])])
def test_random_split_fractions_as_pytorch(n, fractions):
    torch = pytest.importorskip("torch")
    want = [len(s) for s in torch.utils.data.random_split(range(n), fractions)]
    got = random_split(range(n), fractions)
    assert [len(s) for s in got] == want
    assert sorted(i for s in got for i in s.indices) == list(range(n))


def test_random_split_reproducible():
    a = random_split(range(20), [0.5, 0.5], generator=gg.Generator().manual_seed(9))
    b = random_split(range(20), [0.5, 0.5], generator=gg.Generator().manual_seed(9))
    assert [s.indices for s in a] == [s.indices for s in b]
    gg.manual_seed(1)
    c = random_split(range(20), [10, 10])
    gg.manual_seed(1)
    assert [s.indices for s in random_split(range(20), [10, 10])] == [s.indices for s in c]


def test_random_split_empty_fraction_warns():
    with pytest.warns(UserWarning, match="split 1 is empty"):
        parts = random_split(range(2), [0.9, 0.1])
    assert [len(p) for p in parts] == [2, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        random_split(range(10), [0.5, 0.5])


@pytest.mark.parametrize("lengths, err, words", [
    ([3, 3], ValueError, r"sum to 6.*10 samples"),
    ([11, -1], ValueError, "negative"),
    ([0.5, 0.6], ValueError, "sum to 1"),
    ([1.5, -0.5], ValueError, "not between 0 and 1"),
    ([True, 9], TypeError, "True"),
    (["5", 5], TypeError, "'5'"),
    ([], ValueError, "at least one"),
])
def test_random_split_bad_lengths(lengths, err, words):
    with pytest.raises(err, match=words):
        random_split(range(10), lengths)


def test_split_then_load_end_to_end(device):
    x, y = _xy(23)
    train, val = random_split(TensorDataset(x, y), [0.8, 0.2],
                              generator=gg.Generator().manual_seed(0))
    assert (len(train), len(val)) == (19, 4)
    dl = DataLoader(train, batch_size=5, shuffle=True, generator=gg.Generator().manual_seed(1),
                    device=device)
    rows = []
    for bx, by in dl:
        assert str(bx.device) == str(gg.device(device))
        np.testing.assert_array_equal(by.numpy(), (bx.numpy()[:, 0] // 3).astype(np.int64) % 4)
        rows += (bx.numpy()[:, 0] // 3).astype(int).tolist()
    assert sorted(rows) == sorted(train.indices)
    assert len(dl) == math.ceil(19 / 5)


def test_rows_go_to_the_device_once_per_epoch(monkeypatch):
    import gpugrad.utils.data as data
    made = []
    real = data.tensor
    monkeypatch.setattr(data, "tensor",
                        lambda *a, **k: made.append(k.get("device")) or real(*a, **k))
    dl = DataLoader(TensorDataset(*_xy(10)), batch_size=3, shuffle=True)
    assert len(list(dl)) == 4 and len(made) == 1
    list(dl)
    assert len(made) == 2


class _Rows(Dataset):
    """The rows of a TensorDataset read one by one: the generic path, as a reference."""

    def __init__(self, ds):
        self.ds = ds

    def __getitem__(self, i):
        return self.ds[i]

    def __len__(self):
        return len(self.ds)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 30), batch_size=st.integers(1, 12), drop_last=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 2 ** 32), data=st.data())
def test_fast_path_matches_sample_by_sample(n, batch_size, drop_last, shuffle, seed, data):
    x = gg.tensor(np.arange(n * 2, dtype=np.float64).reshape(n, 2))
    y = gg.tensor(np.arange(n) * 3)
    ds = TensorDataset(x, y)
    if data.draw(st.booleans()) and n:
        idx = data.draw(st.lists(st.integers(-n, n - 1), max_size=25))
        ds = Subset(ds, idx)
    kw = dict(batch_size=batch_size, drop_last=drop_last, shuffle=shuffle)
    fast = list(DataLoader(ds, generator=gg.Generator().manual_seed(seed), **kw))
    slow = list(DataLoader(_Rows(ds), generator=gg.Generator().manual_seed(seed), **kw))
    assert len(fast) == len(slow) == len(DataLoader(ds, **kw))
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert fx.dtype == sx.dtype and fy.dtype == sy.dtype
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())


def test_default_collate_infers_the_dtype_from_the_whole_batch_as_pytorch():
    # An int first must not truncate a later float, nor a bool first turn 2 into True.
    torch = pytest.importorskip("torch")
    tdc = torch.utils.data.default_collate
    for batch in ([1, 2.5], [True, 2], [1, True], [True, 2.5], [1.5, 2], [1.5, True]):
        ours, theirs = default_collate(batch), tdc(batch)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), batch
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_default_collate_strings_inside_tuples_stay_tuples_as_pytorch():
    torch = pytest.importorskip("torch")
    batch = [(1, "a"), (2, "b")]
    ours, theirs = default_collate(batch), torch.utils.data.default_collate(batch)
    assert ours[1] == theirs[1] == ("a", "b")
    assert default_collate([{"s": "a"}, {"s": "b"}]) == {"s": ["a", "b"]}


def test_subclasses_overriding_getitem_are_not_bypassed(device):
    # The gather fast path must not skip a transform a subclass puts in __getitem__.
    class Scaled(TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 10, y

    class Shifted(Subset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x + 100, y

    x, y = _xy(4, device)
    for shuffle in (False, True):
        xb = [b[0].numpy() for b in DataLoader(Scaled(x, y), batch_size=3, shuffle=shuffle)]
        got = np.sort(np.concatenate(xb), axis=0)
        np.testing.assert_array_equal(got, x.numpy() * 10)
    sub = Subset(Shifted(TensorDataset(x, y), [3, 1, 2]), [2, 0])
    (xb, yb), = DataLoader(sub, batch_size=2)
    np.testing.assert_array_equal(xb.numpy(), x.numpy()[[2, 3]] + 100)
    assert yb.tolist() == y.numpy()[[2, 3]].tolist()
    # the plain classes still take the fast path and give the same batches
    (xb, yb), = DataLoader(Subset(Subset(TensorDataset(x, y), [3, 1, 2]), [2, 0]), batch_size=2)
    np.testing.assert_array_equal(xb.numpy(), x.numpy()[[2, 3]])
