"""gpugrad.nn.init: bounds of the uniform fills, moments of the normal ones (within a few
standard errors of the target), generators, and argument checks."""
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn
from gpugrad.nn import init

N_SIGMA = 5  # a wrong std or mean is off by far more than this many standard errors


def _moments_ok(a, mean, std):
    """Sample mean and std of a within N_SIGMA standard errors of mean and std."""
    a = np.asarray(a, np.float64).ravel()
    n = a.size
    assert abs(a.mean() - mean) < N_SIGMA * std / math.sqrt(n), (a.mean(), mean)
    # the sample std's standard error is about std * sqrt(1 / (2n)) for a normal,
    # and std * sqrt(0.2 / n) (kurtosis 1.8) for a uniform: the larger bounds both
    assert abs(a.std() - std) < N_SIGMA * std * math.sqrt(0.5 / n), (a.std(), std)


def test_calculate_gain_values():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == 5.0 / 3
    assert init.calculate_gain("relu") == math.sqrt(2.0)
    assert init.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01 ** 2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2.0 / 1.04)
    assert init.calculate_gain("leaky_relu", 0) == math.sqrt(2.0)
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("dtype", [gg.float32, gg.float64])
def test_uniform_bounds_and_moments(device, dtype):
    gg.manual_seed(0)
    t = gg.empty(200, 300, dtype=dtype, device=device)
    assert init.uniform_(t, -2.0, 3.0) is t
    a = t.numpy()
    assert a.dtype == dtype and a.min() >= -2.0 and a.max() <= 3.0
    assert a.min() < -1.99 and a.max() > 2.99  # the whole interval is used
    _moments_ok(a, 0.5, 5 / math.sqrt(12))


@pytest.mark.parametrize("dtype", [gg.float32, gg.float64])
def test_normal_moments(device, dtype):
    gg.manual_seed(1)
    t = gg.empty(300, 300, dtype=dtype, device=device)
    init.normal_(t, mean=1.5, std=0.25)
    assert t.dtype == dtype
    _moments_ok(t.numpy(), 1.5, 0.25)


def test_constants(device):
    t = gg.empty(3, 4, device=device)
    assert init.zeros_(t) is t and not t.numpy().any()
    init.ones_(t)
    np.testing.assert_array_equal(t.numpy(), np.ones((3, 4)))
    init.constant_(t, 0.25)
    np.testing.assert_array_equal(t.numpy(), np.full((3, 4), 0.25))
    i = gg.zeros(3, dtype=gg.int64, device=device)
    init.constant_(i, 7)
    assert i.dtype == gg.int64 and i.tolist() == [7, 7, 7]
    s = gg.empty((), device=device)
    init.constant_(s, 2.0)
    assert s.item() == 2.0


@pytest.mark.parametrize("shape", [(400, 300), (50, 40, 3, 3)])
def test_xavier(device, shape):
    gg.manual_seed(2)
    receptive = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    std = 1.3 * math.sqrt(2.0 / (fan_in + fan_out))
    t = init.xavier_uniform_(gg.empty(*shape, device=device), gain=1.3)
    bound = math.sqrt(3.0) * std
    assert abs(t.numpy()).max() <= bound and abs(t.numpy()).max() > 0.99 * bound
    _moments_ok(t.numpy(), 0.0, std)
    t = init.xavier_normal_(gg.empty(*shape, device=device), gain=1.3)
    _moments_ok(t.numpy(), 0.0, std)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity, a", [("relu", 0), ("leaky_relu", 0.2),
                                             ("leaky_relu", math.sqrt(5)), ("tanh", 0),
                                             ("linear", 0)])
def test_kaiming(device, mode, nonlinearity, a):
    gg.manual_seed(3)
    shape = (300, 200, 2)
    fan = (200 if mode == "fan_in" else 300) * 2
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    t = init.kaiming_uniform_(gg.empty(*shape, device=device), a=a, mode=mode,
                              nonlinearity=nonlinearity)
    bound = math.sqrt(3.0) * std
    assert abs(t.numpy()).max() <= bound and abs(t.numpy()).max() > 0.99 * bound
    _moments_ok(t.numpy(), 0.0, std)
    t = init.kaiming_normal_(gg.empty(*shape, device=device), a=a, mode=mode,
                             nonlinearity=nonlinearity)
    _moments_ok(t.numpy(), 0.0, std)


def test_linear_default_init_bounds(device):
    gg.manual_seed(4)
    lin = nn.Linear(400, 300, device=device)
    bound = 1 / math.sqrt(400)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    assert abs(w).max() <= bound and abs(w).max() > 0.99 * bound
    assert abs(b).max() <= bound and abs(b).max() > 0.9 * bound
    _moments_ok(w, 0.0, bound / math.sqrt(3))
    assert lin.weight.is_leaf and lin.weight.grad_fn is None and lin.weight.requires_grad


def test_generator_makes_fills_reproducible(device):
    draws = []
    for _ in range(2):
        gen = gg.Generator(device).manual_seed(7)
        t = gg.empty(5, 4, device=device)
        draws.append(init.kaiming_normal_(t, generator=gen).numpy().copy())
        draws.append(init.uniform_(t, generator=gen).numpy().copy())
        draws.append(init.xavier_uniform_(t, generator=gen).numpy().copy())
        draws.append(init.normal_(t, generator=gen).numpy().copy())
    for a, b in zip(draws[:4], draws[4:]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(draws[0], draws[3])


def test_fills_a_parameter_in_place_without_recording():
    lin = nn.Linear(3, 3)
    w = lin.weight
    data = w.data
    init.normal_(w)
    init.xavier_uniform_(w)
    assert lin.weight is w and w.data is data
    assert w.is_leaf and w.requires_grad and w.grad_fn is None


def test_argument_checks():
    t = gg.empty(3, 4)
    with pytest.raises(ValueError, match="mode 'fan_avg' not supported"):
        init.kaiming_uniform_(t, mode="fan_avg")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(gg.empty(5))
    with pytest.raises(ValueError, match="std >= 0"):
        init.normal_(t, std=-1.0)
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(t, 1.0, 0.0)
    with pytest.raises(TypeError, match="floating point"):
        init.uniform_(gg.zeros(3, dtype=gg.int64))
    with pytest.raises(TypeError, match="expected a gpugrad Tensor"):
        init.normal_(np.zeros(3))
    with pytest.warns(UserWarning, match="zero-element"):
        assert init.kaiming_uniform_(gg.empty(0, 3)).shape == (0, 3)
