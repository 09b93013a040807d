"""Random numbers: Generators, seeding, state, the draws and their statistics, dropout.

Statistical checks use large draws from a fixed seed and bounds of several standard
errors, so they are deterministic here and would pass for almost every seed.
"""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends import get_backend
from tests.conftest import CUDA_SKIP

N = 200_000
SEED = 2024


def _gen(device, seed=SEED):
    return gg.Generator(device).manual_seed(seed)


def _within(value, expected, se, k=5):
    assert abs(value - expected) <= k * se, (value, expected, se)


# ---- the Generator ------------------------------------------------------------------
def test_generator_basics(device):
    g = gg.Generator(device)
    assert g.device == gg.device(device) and str(g.device) == str(gg.device(device))
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    assert gg.Generator(device).initial_seed() == 67280421310721  # a new one: PyTorch's seed
    s = g.seed()
    assert g.initial_seed() == s and 0 <= s < 2 ** 64
    assert "Generator(device=" in repr(g)


def test_seeds_wrap_as_in_pytorch():
    assert gg.Generator().manual_seed(-1).initial_seed() == 2 ** 64 - 1
    assert gg.Generator().manual_seed(-2 ** 63).initial_seed() == 2 ** 63
    assert gg.Generator().manual_seed(np.int64(7)).initial_seed() == 7
    a = gg.rand(5, generator=gg.Generator().manual_seed(-1))
    b = gg.rand(5, generator=gg.Generator().manual_seed(2 ** 64 - 1))
    assert a.tolist() == b.tolist()


@pytest.mark.parametrize("seed,err,match", [
    (2 ** 64, ValueError, r"manual_seed: seed 18446744073709551616 is out of range"),
    (-2 ** 63 - 1, ValueError, "out of range"),
    (1.5, TypeError, "manual_seed: expected an int seed, got float 1.5"),
    (True, TypeError, "manual_seed: expected an int seed, got the bool True"),
    ("3", TypeError, "expected an int seed, got str"),
])
def test_bad_seeds_raise(seed, err, match):
    with pytest.raises(err, match=match):
        gg.Generator().manual_seed(seed)
    with pytest.raises(err, match=match):
        gg.manual_seed(seed)


def test_the_cpu_stream_is_a_fixed_golden_list():
    """NumPy's PCG64 from the seed: the same numbers on every run and platform. A change
    of platform, NumPy version or draw method fails here."""
    def g():
        return _gen("cpu")
    assert gg.rand(4, generator=g(), dtype=gg.float64).tolist() == \
        [0.6758313379812818, 0.21432320123825765, 0.3094520308816917, 0.7994660967748332]
    assert gg.rand(4, generator=g()).tolist() == \
        [0.24152815341949463, 0.6758313179016113, 0.09234333038330078, 0.21432316303253174]
    assert gg.randn(3, generator=g(), dtype=gg.float64).tolist() == \
        [1.0288568739519013, 1.6419200406711503, 1.1467195295966137]
    assert gg.randn(3, generator=g()).tolist() == \
        [0.6110844016075134, 0.846587061882019, 0.21217942237854004]
    assert gg.randint(0, 100, (6,), generator=g()).tolist() == [24, 67, 9, 21, 31, 30]
    assert gg.randperm(8, generator=g()).tolist() == [3, 2, 7, 5, 4, 1, 6, 0]
    kept = gg.dropout(gg.ones(10), 0.5, generator=g()).numpy() != 0
    assert kept.tolist() == [False, True, False, False, False, False, True, True, True, True]


DRAWS = {
    "rand": lambda g, d: gg.rand(50, generator=g, device=d),
    "rand64": lambda g, d: gg.rand(3, 7, generator=g, dtype=gg.float64, device=d),
    "rand16": lambda g, d: gg.rand(50, generator=g, dtype=gg.float16, device=d),
    "randn": lambda g, d: gg.randn((4, 5), generator=g, device=d),
    "randn16": lambda g, d: gg.randn(9, generator=g, dtype=gg.float16, device=d),
    "randint": lambda g, d: gg.randint(-5, 5, (40,), generator=g, device=d),
    "randperm": lambda g, d: gg.randperm(30, generator=g, device=d),
    "normal": lambda g, d: gg.normal(1.0, 2.0, (20,), generator=g, device=d),
    "bernoulli": lambda g, d: gg.bernoulli(gg.full((40,), 0.3, device=d), generator=g),
    "dropout": lambda g, d: gg.dropout(gg.ones(40, device=d), 0.4, generator=g),
}


@pytest.mark.parametrize("name", DRAWS)
def test_a_seed_gives_the_same_numbers_twice(device, name):
    draw = DRAWS[name]
    a = draw(_gen(device), device).numpy()
    b = draw(_gen(device), device).numpy()
    c = draw(_gen(device, SEED + 1), device).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", DRAWS)
def test_draws_advance_the_stream(device, name):
    g = _gen(device)
    a, b = DRAWS[name](g, device).numpy(), DRAWS[name](g, device).numpy()
    assert not np.array_equal(a, b)


def test_two_generators_are_independent(device):
    g1, g2 = _gen(device, 1), _gen(device, 2)
    assert not np.array_equal(gg.rand(100, generator=g1, device=device).numpy(),
                              gg.rand(100, generator=g2, device=device).numpy())
    # drawing from one does not move the other
    ref = gg.rand(100, generator=_gen(device, 2), device=device).numpy()
    h1, h2 = _gen(device, 1), _gen(device, 2)
    for _ in range(3):
        gg.randn(1000, generator=h1, device=device)
    np.testing.assert_array_equal(gg.rand(100, generator=h2, device=device).numpy(), ref)


def test_the_global_seed_leaves_private_generators_alone(device):
    ref = gg.rand(10, generator=_gen(device, 9), device=device).numpy()
    g = _gen(device, 9)
    gg.manual_seed(123)
    gg.rand(1000, device=device)  # the default generator moves; g does not
    np.testing.assert_array_equal(gg.rand(10, generator=g, device=device).numpy(), ref)


def test_manual_seed_seeds_the_default_generators(device):
    cpu = gg.manual_seed(42)
    assert cpu is gg.default_generator("cpu") and cpu.initial_seed() == 42
    assert gg.default_generator(device).initial_seed() == 42
    assert gg.initial_seed() == 42
    a = gg.rand(5, device=device).numpy()
    gg.manual_seed(42)
    np.testing.assert_array_equal(gg.rand(5, device=device).numpy(), a)
    # the default generator is the one a draw without generator= uses
    np.testing.assert_array_equal(
        gg.rand(5, generator=gg.Generator(device).manual_seed(42), device=device).numpy(), a)


def test_default_generator_follows_the_default_device(device):
    old = gg.get_default_device()
    gg.set_default_device(device)
    try:
        assert gg.default_generator() is gg.default_generator(device)
        assert gg.default_generator().device == gg.device(device)
    finally:
        gg.set_default_device(old)
    assert gg.default_generator("cpu") is gg.default_generator(gg.device("cpu"))


def test_global_seed_reaches_generators_made_later(monkeypatch):
    import gpugrad.random as R
    monkeypatch.setattr(R, "_defaults", {})  # as in a fresh process
    gg.manual_seed(11)
    assert gg.default_generator("cpu").initial_seed() == 11


def test_gg_seed_reseeds_from_the_os():
    s = gg.seed()
    assert gg.initial_seed() == s and 0 <= s < 2 ** 64
    assert gg.seed() != s  # 2**-64 chance of a false failure


# ---- state --------------------------------------------------------------------------
@pytest.mark.parametrize("warmup", [0, 1, 3])  # odd float32 counts leave half a draw buffered
def test_state_save_and_restore(device, warmup):
    g = _gen(device)
    gg.rand(warmup, generator=g, device=device)
    state = g.get_state()
    assert state.dtype == np.uint8 and state.ndim == 1 and state.device == gg.device("cpu")
    a = [gg.rand(3, generator=g, device=device).numpy(),
         gg.randn(4, generator=g, dtype=gg.float64, device=device).numpy()]
    g.manual_seed(99)  # somewhere else entirely
    assert g.set_state(state) is g
    assert g.initial_seed() == SEED
    b = [gg.rand(3, generator=g, device=device).numpy(),
         gg.randn(4, generator=g, dtype=gg.float64, device=device).numpy()]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    # into another generator of the same device
    h = gg.Generator(device).set_state(state)
    np.testing.assert_array_equal(gg.rand(3, generator=h, device=device).numpy(), a[0])
    # the snapshot is a copy: drawing does not change it
    assert np.array_equal(state.numpy(), g.set_state(state).get_state().numpy())


def test_rng_state_of_the_default_generator():
    s = gg.get_rng_state()
    a = gg.rand(4).numpy()
    gg.set_rng_state(s)
    np.testing.assert_array_equal(gg.rand(4).numpy(), a)


def test_bad_states_raise():
    g = gg.Generator()
    with pytest.raises(TypeError, match="set_state: expected the 1-d uint8 tensor of get_state"):
        g.set_state(gg.zeros(53))
    with pytest.raises(TypeError, match="got a list"):
        g.set_state([0] * 53)
    bad = g.get_state().numpy()
    bad[:8] = np.frombuffer(b"XORWOW\0\0", np.uint8)
    with pytest.raises(ValueError, match="set_state: the state is of a XORWOW generator, this one"):
        g.set_state(gg.tensor(bad))
    with pytest.raises(ValueError, match="37 bytes after the header, got 36"):
        g.set_state(gg.tensor(g.get_state().numpy()[:-1]))


# ---- devices ------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.skipif(CUDA_SKIP is not None, reason=str(CUDA_SKIP))
def test_a_generator_of_another_device_raises():
    g = gg.Generator("cuda")
    with pytest.raises(RuntimeError, match="rand: the generator is on cuda:0 but the tensor is "
                                           "on cpu"):
        gg.rand(3, generator=g)
    with pytest.raises(RuntimeError, match="dropout: the generator is on cpu but the tensor is "
                                           "on cuda:0"):
        gg.dropout(gg.ones(3, device="cuda"), generator=gg.Generator("cpu"))
    with pytest.raises(RuntimeError, match="bernoulli: the generator is on cpu"):
        gg.bernoulli(gg.ones(3, device="cuda"), generator=gg.Generator())


@pytest.mark.gpu
@pytest.mark.skipif(CUDA_SKIP is not None, reason=str(CUDA_SKIP))
def test_cuda_draws_are_made_on_the_gpu():
    g = gg.Generator("cuda").manual_seed(0)
    for t in (gg.rand(3, generator=g, device="cuda"), gg.randperm(5, generator=g, device="cuda"),
              gg.randint(0, 3, (4,), generator=g, device="cuda")):
        assert type(t.data) is get_backend("cuda").array_type


def test_generator_must_be_a_generator():
    with pytest.raises(TypeError, match="rand: generator must be a gg.Generator, got Generator"):
        gg.rand(3, generator=np.random.default_rng(0))


def test_draws_are_the_devices_arrays(device):
    g = _gen(device)
    for name, draw in DRAWS.items():
        t = draw(g, device)
        assert type(t.data) is get_backend(device).array_type, name
        assert t.device == gg.device(device), name


# ---- rand / randn -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [gg.float32, gg.float64])
def test_rand_moments(device, dtype):
    u = gg.rand(N, generator=_gen(device), dtype=dtype, device=device).numpy().astype(np.float64)
    assert u.dtype == np.float64 and u.min() >= 0 and u.max() < 1
    _within(u.mean(), 0.5, np.sqrt(1 / 12 / N))
    _within(u.var(), 1 / 12, np.sqrt((1 / 80 - 1 / 144) / N))
    # both halves of [0, 1) and every tenth of it are hit about equally
    counts = np.bincount((u * 10).astype(int), minlength=10)
    p = 0.1
    assert np.all(np.abs(counts - N * p) <= 5 * np.sqrt(N * p * (1 - p)))


def test_rand_float16_stays_below_one(device):
    h = gg.rand(N, generator=_gen(device), dtype=gg.float16, device=device)
    v = h.numpy()
    assert h.dtype == gg.float16 and v.min() >= 0 and v.max() < 1
    assert np.all((v.astype(np.float64) * 2048) % 1 == 0)  # multiples of 2**-11
    _within(v.astype(np.float64).mean(), 0.5 - 2 ** -12, np.sqrt(1 / 12 / N))


@pytest.mark.parametrize("dtype", [gg.float16, gg.float32, gg.float64])
def test_randn_moments(device, dtype):
    z = gg.randn(N, generator=_gen(device), dtype=dtype, device=device)
    assert z.dtype == dtype
    v = z.numpy().astype(np.float64)
    _within(v.mean(), 0.0, 1 / np.sqrt(N))
    _within(v.var(), 1.0, np.sqrt(2 / N))
    _within((v > 0).mean(), 0.5, np.sqrt(0.25 / N))
    _within((np.abs(v) < 1).mean(), 0.6826894921370859, np.sqrt(0.2167 / N))


def test_rand_shapes_and_options(device):
    g = _gen(device)
    assert gg.rand(2, 3, generator=g, device=device).shape == (2, 3)
    assert gg.rand((2, 3), generator=g, device=device).shape == (2, 3)
    assert gg.rand([4], generator=g, device=device).shape == (4,)
    assert gg.rand((), generator=g, device=device).shape == ()
    assert gg.randn(0, 3, generator=g, device=device).shape == (0, 3)
    t = gg.randn(3, generator=g, device=device, requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.dtype == gg.float32
    assert gg.rand(3, device=device).dtype == gg.float32  # from the default generator


@pytest.mark.parametrize("fn", [gg.rand, gg.randn])
def test_rand_errors(fn):
    name = fn.__name__
    with pytest.raises(TypeError, match=f"{name}: dtype must be floating point, got int64"):
        fn(3, dtype=gg.int64)
    with pytest.raises(ValueError, match=f"{name}: negative dimension -2"):
        fn(3, -2)
    with pytest.raises(TypeError, match=f"{name}: missing size"):
        fn()
    with pytest.raises(TypeError, match=f"{name}: size must be ints, got float"):
        fn(2.5)


# ---- randint --------------------------------------------------------------------------
def test_randint_bounds_and_every_value(device):
    r = gg.randint(-3, 4, (N,), generator=_gen(device), device=device)
    assert r.dtype == gg.int64 and r.shape == (N,)
    v = r.numpy()
    assert v.min() == -3 and v.max() == 3
    counts = np.bincount(v + 3, minlength=7)
    assert counts.size == 7 and counts.min() > 0
    p = 1 / 7
    assert np.all(np.abs(counts - N * p) <= 5 * np.sqrt(N * p * (1 - p)))


def test_randint_call_forms(device):
    def g():
        return _gen(device)
    a = gg.randint(10, (5,), generator=g(), device=device)
    b = gg.randint(0, 10, (5,), generator=g(), device=device)
    c = gg.randint(10, size=(5,), generator=g(), device=device)
    d = gg.randint(high=10, size=[5], generator=g(), device=device)
    for t in (b, c, d):
        assert t.tolist() == a.tolist()
    assert gg.randint(5, 6, (3,), device=device).tolist() == [5, 5, 5]
    assert gg.randint(3, (), device=device).shape == ()
    assert gg.randint(3, (2, 0), device=device).shape == (2, 0)


@pytest.mark.parametrize("dtype", [gg.int32, np.uint8, np.int8, gg.float32, gg.float64, gg.bool_])
def test_randint_dtypes(device, dtype):
    high = 2 if dtype == gg.bool_ else 100
    t = gg.randint(0, high, (1000,), generator=_gen(device), dtype=dtype, device=device)
    assert t.dtype == np.dtype(dtype)
    v = t.numpy().astype(np.int64)
    assert v.min() == 0 and v.max() == high - 1


@pytest.mark.parametrize("low,high", [(0, 65506), (-65505, 0)])
def test_randint_float16_refuses_values_beyond_its_range(low, high):
    # PyTorch raises; a draw of 65520 or more in float16 would silently be inf
    with pytest.raises(ValueError, match=r"randint: .* is out of the range of float16 "
                                         r"\[-65504, 65504\]"):
        gg.randint(low, high, (3,), dtype=gg.float16)
    t = gg.randint(low + 1 if low else 0, high - 1 if high else 0, (2000,), dtype=gg.float16)
    assert np.isfinite(t.numpy()).all()


def test_randint_float_dtype_can_require_grad():
    t = gg.randint(0, 10, (3,), dtype=gg.float32, requires_grad=True)
    assert t.requires_grad


@pytest.mark.parametrize("args,kw,err,match", [
    ((5, 5, (3,)), {}, ValueError, "randint: low must be less than high, got low=5 >= high=5"),
    ((0, 2 ** 40, (3,)), {"dtype": gg.int32}, ValueError,
     r"randint: \[0, 1099511627776\) is out of the range of int32"),
    ((-1, 10, (3,)), {"dtype": np.uint8}, ValueError, "out of the range of uint8"),
    ((0, 3, (3,)), {"dtype": gg.bool_}, ValueError, "out of the range of bool"),
    ((10,), {}, TypeError, "randint: missing size"),
    ((3, 10, 4), {}, TypeError, "randint: size must be a tuple of ints, got int 4"),
    ((0.5, 3, (3,)), {}, TypeError, "randint: low must be an int, got float"),
    ((0, 3, (3,)), {"requires_grad": True}, RuntimeError, "only floating point tensors"),
    ((0, 3, (-1,)), {}, ValueError, "randint: negative dimension -1"),
])
def test_randint_errors(args, kw, err, match):
    with pytest.raises(err, match=match):
        gg.randint(*args, **kw)


# ---- randperm -------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000])
def test_randperm_is_a_permutation(device, n):
    p = gg.randperm(n, generator=_gen(device), device=device)
    assert p.dtype == gg.int64 and p.shape == (n,)
    assert sorted(p.tolist()) == list(range(n))


def test_randperm_is_uniform(device):
    """Each of the 6 orders of 3 items comes up about equally often, and each item
    lands in each place about equally often over longer permutations."""
    g = _gen(device)
    seen = {}
    trials = 6000
    for _ in range(trials):
        key = tuple(gg.randperm(3, generator=g, device=device).tolist())
        seen[key] = seen.get(key, 0) + 1
    assert len(seen) == 6
    p = 1 / 6
    assert all(abs(c - trials * p) <= 5 * np.sqrt(trials * p * (1 - p)) for c in seen.values())
    first = np.array([gg.randperm(10, generator=g, device=device).tolist()[0] for _ in range(3000)])
    counts = np.bincount(first, minlength=10)
    assert np.all(np.abs(counts - 300) <= 5 * np.sqrt(3000 * 0.1 * 0.9))


def test_randperm_options_and_errors():
    p = gg.randperm(5, dtype=gg.float32, requires_grad=True)
    assert p.dtype == gg.float32 and p.requires_grad and sorted(p.tolist()) == [0, 1, 2, 3, 4]
    assert gg.randperm(4, dtype=gg.int32).dtype == gg.int32
    with pytest.raises(ValueError, match="randperm: negative dimension -1"):
        gg.randperm(-1)
    with pytest.raises(TypeError, match="randperm: size must be ints, got float"):
        gg.randperm(3.0)
    with pytest.raises(ValueError, match="randperm: n=300 does not fit int8"):
        gg.randperm(300, dtype=np.int8)
    with pytest.raises(RuntimeError, match="randperm: only floating point tensors can require"):
        gg.randperm(3, requires_grad=True)


def test_randperm_float_dtype_holds_every_value_exactly():
    # Past 2**(mantissa bits + 1) + 1 neighbouring integers round together, and the
    # result would silently hold duplicates; PyTorch raises there too.
    p = gg.randperm(2049, dtype=gg.float16)
    assert sorted(p.numpy().astype(np.int64).tolist()) == list(range(2049))
    with pytest.raises(ValueError, match="randperm: n=2050 is more than float16 holds exactly "
                                         r"\(at most 2049"):
        gg.randperm(2050, dtype=gg.float16)
    with pytest.raises(ValueError, match="randperm: n=16777218 is more than float32"):
        gg.randperm(2 ** 24 + 2, dtype=gg.float32)


# ---- normal ---------------------------------------------------------------------------
def test_normal_with_numbers(device):
    t = gg.normal(3.0, 2.0, (N,), generator=_gen(device), device=device)
    assert t.dtype == gg.float32 and t.shape == (N,) and not t.requires_grad
    v = t.numpy().astype(np.float64)
    _within(v.mean(), 3.0, 2 / np.sqrt(N))
    _within(v.var(), 4.0, 4 * np.sqrt(2 / N))
    d = gg.normal(0, 1, size=(2, 3), dtype=gg.float64, device=device, requires_grad=True)
    assert d.dtype == gg.float64 and d.shape == (2, 3) and d.requires_grad
    assert gg.normal(5.0, 0.0, (4,), device=device).tolist() == [5.0] * 4


def test_normal_with_tensors(device):
    mean = gg.tensor([0.0, 10.0, -5.0], dtype=gg.float64, device=device)
    std = gg.tensor([[1.0], [0.1]], dtype=gg.float64, device=device)
    t = gg.normal(mean, std, generator=_gen(device))
    assert t.shape == (2, 3) and t.dtype == gg.float64 and t.device == gg.device(device)
    many = gg.normal(gg.full((N,), 2.0, device=device), 0.5, generator=_gen(device))
    v = many.numpy().astype(np.float64)
    assert many.dtype == gg.float32
    _within(v.mean(), 2.0, 0.5 / np.sqrt(N))
    _within(v.std(), 0.5, 0.5 / np.sqrt(2 * N))
    s = gg.normal(1.0, gg.full((N,), 3.0, dtype=gg.float64, device=device), generator=_gen(device))
    _within(s.numpy().mean(), 1.0, 3 / np.sqrt(N))
    _within(s.numpy().std(), 3.0, 3 / np.sqrt(2 * N))
    # elementwise: each element has its own mean and std
    m = gg.normal(gg.tensor([0.0, 100.0], device=device), gg.tensor([0.0, 1.0], device=device))
    assert m.tolist()[0] == 0.0 and 90 < m.tolist()[1] < 110


def test_normal_has_no_gradient(device):
    mean = gg.zeros(3, device=device, requires_grad=True)
    t = gg.normal(mean, 1.0)
    assert not t.requires_grad and t.grad_fn is None


def test_normal_float16(device):
    t = gg.normal(gg.zeros(1000, dtype=gg.float16, device=device), 1.0, generator=_gen(device))
    assert t.dtype == gg.float16
    h = gg.normal(0.0, 1.0, (10,), dtype=gg.float16, device=device)
    assert h.dtype == gg.float16


@pytest.mark.parametrize("args,kw,err,match", [
    ((0.0, -1.0, (3,)), {}, ValueError, "normal: std must be >= 0, got -1.0"),
    ((0.0, float("nan"), (3,)), {}, ValueError, "std must be >= 0, got nan"),
    ((0.0, 1.0), {}, TypeError, "normal: size is required when mean and std are numbers"),
    ((0.0, 1.0, (3,)), {"dtype": gg.int64}, TypeError, "normal: dtype must be floating point"),
    (("0", 1.0, (3,)), {}, TypeError, "normal: mean must be a number or a tensor, got str"),
])
def test_normal_errors_with_numbers(args, kw, err, match):
    with pytest.raises(err, match=match):
        gg.normal(*args, **kw)


def test_normal_errors_with_tensors():
    z = gg.zeros(3)
    with pytest.raises(ValueError, match="normal: std must be >= 0, got a negative or NaN element"):
        gg.normal(z, gg.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="std must be >= 0"):
        gg.normal(0.0, gg.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="std must be >= 0, got -1.0"):
        gg.normal(z, -1.0)
    with pytest.raises(TypeError, match="normal: mean is float32 and std is float64"):
        gg.normal(z, gg.ones(3, dtype=gg.float64))
    with pytest.raises(TypeError, match="normal: mean must be a floating point tensor, got int64"):
        gg.normal(gg.zeros(3, dtype=gg.int64), 1.0)
    with pytest.raises(TypeError, match="with a tensor mean or std the result takes their shape"):
        gg.normal(z, 1.0, (3,))
    with pytest.raises(TypeError, match="size, dtype, device and requires_grad are for numbers"):
        gg.normal(z, 1.0, dtype=gg.float64)
    with pytest.raises(ValueError, match=r"normal: mean of shape \(3,\) and std of shape \(4,\) "
                                         "do not broadcast"):
        gg.normal(z, gg.ones(4))


# ---- bernoulli --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [gg.float16, gg.float32, gg.float64])
def test_bernoulli_mean(device, dtype):
    p = gg.full((N,), 0.3, dtype=dtype, device=device)
    b = gg.bernoulli(p, generator=_gen(device))
    assert b.dtype == dtype and b.shape == (N,) and b.device == gg.device(device)
    v = b.numpy()
    assert set(np.unique(v).tolist()) <= {0.0, 1.0}
    _within(v.astype(np.float64).mean(), float(np.float16(0.3)) if dtype == gg.float16 else 0.3,
            np.sqrt(0.21 / N))


def test_bernoulli_elementwise_and_exact_ends(device):
    probs = gg.tensor([[0.0, 1.0, 0.0, 1.0]] * 1000, device=device)
    v = gg.bernoulli(probs, generator=_gen(device)).numpy()
    assert (v[:, 0] == 0).all() and (v[:, 1] == 1).all() and (v[:, 2] == 0).all()
    x = gg.zeros(N, device=device)
    v = gg.bernoulli(x, 0.75, generator=_gen(device)).numpy()  # p for every element
    _within(v.mean(), 0.75, np.sqrt(0.75 * 0.25 / N))
    assert gg.bernoulli(x, 1.0).numpy().min() == 1 and gg.bernoulli(x, 0.0).numpy().max() == 0
    assert gg.bernoulli(gg.zeros((0, 2), device=device)).shape == (0, 2)


def test_bernoulli_has_no_gradient():
    p = gg.full((3,), 0.5, requires_grad=True)
    b = gg.bernoulli(p)
    assert not b.requires_grad and b.grad_fn is None


def test_bernoulli_errors():
    with pytest.raises(ValueError, match=r"bernoulli: probabilities must be in \[0, 1\]; "
                                         r"input \(shape \(2,\)\)"):
        gg.bernoulli(gg.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"probabilities must be in \[0, 1\]"):
        gg.bernoulli(gg.tensor([float("nan")]))
    with pytest.raises(ValueError, match=r"bernoulli: p must be in \[0, 1\], got -0.1"):
        gg.bernoulli(gg.zeros(2), -0.1)
    with pytest.raises(TypeError, match="bernoulli: expected a floating point tensor, got int64"):
        gg.bernoulli(gg.ones(2, dtype=gg.int64))
    with pytest.raises(TypeError, match="bernoulli: expected a Tensor, got list"):
        gg.bernoulli([0.5])


# ---- *_like -------------------------------------------------------------------------------
def test_random_like(device):
    src = gg.ones(2, 3, dtype=gg.float64, device=device, requires_grad=True)
    for fn in (gg.rand_like, gg.randn_like):
        t = fn(src, generator=_gen(device))
        assert t.shape == (2, 3) and t.dtype == gg.float64 and t.device == gg.device(device)
        assert not t.requires_grad
        assert fn(src, dtype=gg.float32).dtype == gg.float32
        assert fn(src, requires_grad=True).requires_grad
    np.testing.assert_array_equal(gg.rand_like(src, generator=_gen(device)).numpy(),
                                  gg.rand(2, 3, generator=_gen(device), dtype=gg.float64,
                                          device=device).numpy())
    r = gg.randint_like(src, 5, generator=_gen(device))
    assert r.dtype == gg.float64 and r.shape == (2, 3) and set(r.numpy().ravel()) <= set(range(5))
    r = gg.randint_like(gg.ones(50, dtype=gg.int32, device=device), 2, 5)
    assert r.dtype == gg.int32 and r.numpy().min() >= 2 and r.numpy().max() <= 4
    with pytest.raises(TypeError, match="rand_like: dtype must be floating point|rand: dtype must"):
        gg.rand_like(gg.ones(2, dtype=gg.int64))
    with pytest.raises(TypeError, match="randn_like: expected a Tensor, got list"):
        gg.randn_like([1.0])


# ---- dropout ------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_mask_statistics_and_scaling(device, p):
    x = gg.randn(N, generator=_gen(device, 1), device=device)
    y = gg.dropout(x, p, generator=_gen(device))
    xv, yv = x.numpy(), y.numpy()
    kept = yv != 0
    _within(kept.mean(), 1 - p, np.sqrt(p * (1 - p) / N))
    np.testing.assert_allclose(yv[kept], xv[kept] / np.float32(1 - p), rtol=1e-6)
    assert y.dtype == gg.float32 and y.shape == x.shape
    # unbiased: E[y] = x (here on ones)
    ones = gg.dropout(gg.ones(N, device=device), p, generator=_gen(device, 3)).numpy()
    _within(ones.astype(np.float64).mean(), 1.0, np.sqrt(p / (1 - p) / N))


def test_dropout_gradient_is_the_same_mask(device):
    x = gg.randn(4, 50, generator=_gen(device, 1), dtype=gg.float64, device=device,
                 requires_grad=True)
    y = gg.dropout(x, 0.3, generator=_gen(device))
    u = gg.randn(4, 50, generator=_gen(device, 2), dtype=gg.float64, device=device)
    y.backward(u)
    mask = (y.numpy() != 0) / 0.7
    np.testing.assert_allclose(x.grad.numpy(), u.numpy() * mask, rtol=1e-15)


def test_dropout_p0_and_eval_return_the_input_itself(device):
    x = gg.randn(3, 4, device=device, requires_grad=True)
    g = _gen(device)
    before = g.get_state().numpy()
    assert gg.dropout(x, 0.0, generator=g) is x
    assert gg.dropout(x, 0.5, training=False, generator=g) is x
    assert gg.dropout(x, 1.0, training=False) is x
    assert np.array_equal(g.get_state().numpy(), before)  # nothing was drawn
    gg.dropout(x, 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 4), np.float32))


def test_dropout_p1_gives_exact_zeros(device):
    x = gg.randn(5, 6, device=device, dtype=gg.float64, requires_grad=True) * 1e300
    x.retain_grad()
    y = gg.dropout(x, 1.0)
    assert np.array_equal(y.numpy(), np.zeros((5, 6))) and not np.isnan(y.numpy()).any()
    y.sum().backward()
    assert np.array_equal(x.grad.numpy(), np.zeros((5, 6)))


@pytest.mark.parametrize("dtype", [gg.float16, gg.float32, gg.float64])
def test_dropout_keeps_the_dtype(device, dtype):
    x = gg.ones(1000, dtype=dtype, device=device, requires_grad=True)
    y = gg.dropout(x, 0.25, generator=_gen(device))
    assert y.dtype == dtype
    kept = y.numpy()[y.numpy() != 0]
    assert np.all(kept == np.asarray(1 / 0.75, dtype=dtype)) and kept.size > 600
    y.sum().backward()
    assert x.grad.dtype == dtype


def test_dropout_shapes(device):
    assert gg.dropout(gg.ones((), device=device), 0.5).shape == ()
    e = gg.zeros(0, 3, device=device)
    assert gg.dropout(e, 0.5) is e
    assert gg.dropout(gg.ones(2, 3, 4, device=device), 0.5).shape == (2, 3, 4)


def test_dropout_uses_the_default_generator(device):
    gg.manual_seed(5)
    a = gg.dropout(gg.ones(100, device=device), 0.5).numpy()
    gg.manual_seed(5)
    np.testing.assert_array_equal(gg.dropout(gg.ones(100, device=device), 0.5).numpy(), a)


@pytest.mark.parametrize("p,err,match", [
    (1.5, ValueError, "dropout: probability p has to be between 0 and 1, but got 1.5"),
    (-0.1, ValueError, "between 0 and 1, but got -0.1"),
    (float("nan"), ValueError, "between 0 and 1, but got nan"),
    ("0.5", TypeError, "dropout: p must be a number, got str"),
    (True, TypeError, "p must be a number, got bool"),
])
def test_dropout_bad_p(p, err, match):
    with pytest.raises(err, match=match):
        gg.dropout(gg.ones(3), p)
    with pytest.raises(err, match=match):  # also when not training, as in PyTorch
        gg.dropout(gg.ones(3), p, training=False)


def test_dropout_bad_input():
    with pytest.raises(TypeError, match="dropout: expected a floating point tensor, got int64"):
        gg.dropout(gg.ones(3, dtype=gg.int64), 0.5)
    with pytest.raises(TypeError, match="dropout: expected a Tensor, got list"):
        gg.dropout([1.0, 2.0], 0.5)


def test_dropout_frees_its_mask_after_backward():
    x = gg.ones(10, requires_grad=True)
    y = gg.dropout(x, 0.5)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()


def test_a_copied_generator_continues_the_same_stream_independently():
    import copy
    import pickle
    for clone in (copy.deepcopy, lambda g: pickle.loads(pickle.dumps(g))):
        g = _gen("cpu")
        gg.rand(3, generator=g)
        h = clone(g)
        assert h is not g and h.device == g.device and h.initial_seed() == g.initial_seed()
        a = gg.rand(4, generator=h).numpy()
        gg.rand(100, generator=h)  # the copy moves on alone
        np.testing.assert_array_equal(gg.rand(4, generator=g).numpy(), a)
