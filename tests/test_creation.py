"""Tensors from scratch: zeros/ones/full/empty, *_like, arange, linspace, eye; their
dtypes, devices, requires_grad and errors (PyTorch parity: test_creation_torch.py)."""
from fractions import Fraction

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.backends import get_backend

FILLS = [(gg.zeros, 0), (gg.ones, 1)]


def _on_device(t, device):
    """The tensor's array is the device backend's own array type (made there, not copied)."""
    backend = get_backend(device)
    return type(t.data) is backend.array_type and t.device == backend.device


@pytest.mark.parametrize("fn,value", FILLS)
def test_fills_take_ints_or_one_tuple_or_list(device, fn, value):
    for args, shape in [((2, 3), (2, 3)), (((2, 3),), (2, 3)), (([2, 3],), (2, 3)),
                        ((4,), (4,)), (((),), ()), ((2, 0, 3), (2, 0, 3)),
                        ((np.int64(2), 3), (2, 3))]:
        t = fn(*args, device=device)
        assert t.shape == shape and t.dtype == gg.float32 and _on_device(t, device)
        assert not t.requires_grad and t.is_leaf
        np.testing.assert_array_equal(t.numpy(), np.full(shape, value, np.float32))


@pytest.mark.parametrize("dtype", [gg.float16, gg.float32, gg.float64, gg.int32, gg.int64,
                                   gg.bool_, "float64", np.uint8])
def test_fills_keep_the_dtype_asked_for(device, dtype):
    for fn in (gg.zeros, gg.ones, gg.empty):
        t = fn(2, 2, dtype=dtype, device=device)
        assert t.dtype == np.dtype(dtype) and t.shape == (2, 2) and _on_device(t, device)
    assert gg.ones(3, dtype=dtype, device=device).numpy().tolist() == \
        np.ones(3, np.dtype(dtype)).tolist()


def test_default_device_is_used(device):
    old = gg.get_default_device()
    gg.set_default_device(device)
    try:
        for t in (gg.zeros(2), gg.full((2,), 3.0), gg.arange(3), gg.linspace(0, 1, 3), gg.eye(2)):
            assert _on_device(t, device)
    finally:
        gg.set_default_device(old)


def test_requires_grad(device):
    t = gg.zeros(2, 3, device=device, requires_grad=True)
    assert t.requires_grad and t.is_leaf
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.full((2, 3), 2, np.float32))
    for make in (lambda **k: gg.ones(2, **k), lambda **k: gg.full((2,), 1.5, **k),
                 lambda **k: gg.arange(3.0, **k), lambda **k: gg.linspace(0, 1, 4, **k),
                 lambda **k: gg.eye(2, **k), lambda **k: gg.empty(2, **k),
                 lambda **k: gg.zeros_like(t, **k)):
        assert make(device=device, requires_grad=True).requires_grad


@pytest.mark.parametrize("make", [
    lambda: gg.zeros(2, dtype=gg.int64, requires_grad=True),
    lambda: gg.ones(2, dtype=gg.bool_, requires_grad=True),
    lambda: gg.full((2,), 3, requires_grad=True),  # an int fill makes int64
    lambda: gg.arange(5, requires_grad=True),
    lambda: gg.eye(2, dtype=gg.int32, requires_grad=True),
    lambda: gg.linspace(0, 4, 5, dtype=gg.int64, requires_grad=True),
    lambda: gg.zeros_like(gg.ones(2), dtype=gg.int64, requires_grad=True),
])
def test_requires_grad_needs_a_floating_dtype(make):
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients"):
        make()


def test_requires_grad_must_be_a_bool():
    with pytest.raises(TypeError, match="zeros: requires_grad must be a bool"):
        gg.zeros(2, requires_grad="yes")


@pytest.mark.parametrize("args,err,match", [
    ((-1,), ValueError, r"zeros: negative dimension -1 in size \(-1,\)"),
    (((2, -3),), ValueError, r"negative dimension -3 in size \(2, -3\)"),
    ((2.0,), TypeError, "zeros: size must be ints, got float 2.0"),
    (((2, 3.5),), TypeError, "size must be ints, got float 3.5"),
    ((True,), TypeError, "zeros: size must be ints, got the bool True"),
    (("3",), TypeError, "size must be ints"),
    ((), TypeError, "zeros: missing size"),
])
def test_bad_sizes_raise(args, err, match):
    with pytest.raises(err, match=match):
        gg.zeros(*args)


@pytest.mark.parametrize("dtype,match", [("floot32", "is not a dtype"),
                                         (object, "cannot make a tensor of dtype object"),
                                         ("U3", "cannot make a tensor of dtype <U3")])
def test_bad_dtypes_raise(dtype, match):
    for fn in (lambda: gg.zeros(2, dtype=dtype), lambda: gg.arange(3, dtype=dtype),
               lambda: gg.full((2,), 1, dtype=dtype), lambda: gg.eye(2, dtype=dtype)):
        with pytest.raises(TypeError, match=match):
            fn()


# ---- full ---------------------------------------------------------------------------
@pytest.mark.parametrize("fill,dtype", [(True, gg.bool_), (3, gg.int64), (np.int32(3), gg.int64),
                                        (2.5, gg.float32), (np.float64(2.5), gg.float32),
                                        (1 + 2j, np.dtype("complex64"))])
def test_full_takes_its_dtype_from_the_fill(device, fill, dtype):
    t = gg.full((2, 3), fill, device=device)
    assert t.dtype == dtype and t.shape == (2, 3) and _on_device(t, device)
    assert (t.numpy() == fill).all()


def test_full_size_forms_and_dtype(device):
    assert gg.full(3, 1.0, device=device).shape == (3,)
    assert gg.full([2, 2], 1.0, device=device).shape == (2, 2)
    assert gg.full((), 7, device=device).shape == ()
    t = gg.full((2,), 3, dtype=gg.float64, device=device)
    assert t.dtype == gg.float64 and t.tolist() == [3.0, 3.0]
    assert gg.full((2,), 2.7, dtype=gg.int64, device=device).tolist() == [2, 2]  # truncates
    assert gg.full((2,), -2.7, dtype=gg.int32, device=device).tolist() == [-2, -2]
    assert gg.full((2,), 2, dtype=gg.bool_, device=device).tolist() == [True, True]
    assert np.isinf(gg.full((1,), float("inf"), dtype=gg.float16, device=device).numpy()).all()
    assert np.isinf(gg.full((1,), -float("inf"), dtype=gg.float32, device=device).numpy()).all()
    assert np.isnan(gg.full((1,), float("nan"), dtype=gg.float16, device=device).numpy()).all()
    assert gg.full((1,), 1e-50, device=device).tolist() == [0.0]  # underflow is no overflow
    x = gg.full((2,), 0.1, dtype=gg.float64, device=device)
    assert x.numpy()[0] == 0.1  # the Python float itself, not a float32 rounding


def test_full_with_a_one_element_tensor_fill():
    assert gg.full((2,), gg.tensor(3.0, dtype=gg.float64)).dtype == gg.float32  # a Scalar
    assert gg.full((2,), gg.tensor(3)).tolist() == [3, 3]
    with pytest.raises(ValueError, match="full: fill_value must be a number or a one-element"):
        gg.full((2,), gg.tensor([1.0, 2.0]))


@pytest.mark.parametrize("fill,dtype,err,match", [
    (300, np.uint8, OverflowError, r"full: fill_value 300 is out of the range of uint8"),
    (-1, np.uint8, OverflowError, "out of the range of uint8"),
    (2 ** 63, gg.int64, OverflowError, "out of the range of int64"),
    (1e6, gg.float16, OverflowError, "full: fill_value 1000000.0 overflows float16"),
    (70000, gg.float16, OverflowError, "full: fill_value 70000 overflows float16"),
    (2 ** 200, gg.float32, OverflowError, "full: fill_value 16069380442589902755419620923411626025"
                                          "22 overflows float32"),
    (2 ** 2000, gg.float64, OverflowError, "overflows float64"),
    (complex(1e300, 1), np.dtype("complex64"), OverflowError, "overflows complex64"),
    (float("nan"), gg.int64, ValueError, "full: fill_value nan cannot be converted to int64"),
    (1j, gg.float32, TypeError, "complex fill_value 1j needs a complex dtype"),
    ("1", None, TypeError, "full: fill_value must be a number or a bool, got str"),
    (None, None, TypeError, "fill_value must be a number"),
])
def test_full_rejects_fills_that_do_not_fit(fill, dtype, err, match):
    with pytest.raises(err, match=match):
        gg.full((2,), fill, dtype=dtype)


# ---- *_like ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [gg.float16, gg.float64, gg.int32, gg.bool_])
def test_like_keeps_shape_dtype_and_device(device, dtype):
    src = gg.ones(2, 3, dtype=dtype, device=device)
    for fn, value in [(gg.zeros_like, 0), (gg.ones_like, 1), (gg.empty_like, None),
                      (lambda t, **k: gg.full_like(t, 1, **k), 1)]:
        t = fn(src)
        assert t.shape == (2, 3) and t.dtype == dtype and _on_device(t, device)
        if value is not None:
            assert (t.numpy() == value).all()
        u = fn(src, dtype=gg.float32)
        assert u.dtype == gg.float32 and _on_device(u, device)


def test_like_does_not_inherit_requires_grad_or_share_memory(device):
    src = gg.ones(3, dtype=gg.float64, device=device, requires_grad=True)
    z = gg.zeros_like(src)
    assert not z.requires_grad and z.is_leaf and z.dtype == gg.float64
    z.data[0] = 5
    assert src.tolist() == [1.0, 1.0, 1.0]
    assert gg.ones_like(src, requires_grad=True).requires_grad


def test_like_to_another_device_is_asked_for_explicitly(device):
    src = gg.ones(2, device=device)
    assert _on_device(gg.zeros_like(src, device="cpu"), "cpu")


def test_full_like_takes_the_tensors_dtype():
    ints = gg.ones(2, dtype=gg.int64)
    assert gg.full_like(ints, 2.7).tolist() == [2, 2]  # truncated into int64, as in PyTorch
    assert gg.full_like(gg.ones(2, dtype=gg.float64), 0.1).numpy()[0] == 0.1
    with pytest.raises(OverflowError, match=r"full_like: fill_value 1e\+20 is out of the range"):
        gg.full_like(ints, 1e20)


@pytest.mark.parametrize("fn", [gg.zeros_like, gg.ones_like, gg.empty_like,
                                lambda t: gg.full_like(t, 1.0)])
def test_like_needs_a_tensor(fn):
    with pytest.raises(TypeError, match="_like: expected a Tensor, got list"):
        fn([1.0, 2.0])


# ---- arange -------------------------------------------------------------------------
@pytest.mark.parametrize("args,expected,dtype", [
    ((5,), [0, 1, 2, 3, 4], gg.int64),
    ((2, 7, 2), [2, 4, 6], gg.int64),
    ((5, 0, -2), [5, 3, 1], gg.int64),
    ((3, 3), [], gg.int64),
    ((0, 1, 0.25), [0.0, 0.25, 0.5, 0.75], gg.float32),
    ((1.0, 2.5, 0.5), [1.0, 1.5, 2.0], gg.float32),
    ((3.0,), [0.0, 1.0, 2.0], gg.float32),
    ((-1, 1, 0.5), [-1.0, -0.5, 0.0, 0.5], gg.float32),
    ((np.int64(3),), [0, 1, 2], gg.int64),
])
def test_arange_values_and_dtype(device, args, expected, dtype):
    t = gg.arange(*args, device=device)
    assert t.dtype == dtype and _on_device(t, device)
    assert t.tolist() == expected


def test_arange_with_a_dtype(device):
    assert gg.arange(5, dtype=gg.float64, device=device).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert gg.arange(0.5, 5, dtype=gg.int64, device=device).tolist() == [0, 1, 2, 3, 4]
    u = gg.arange(5, 0, -1, dtype=np.uint8, device=device)
    assert u.dtype == np.uint8 and u.tolist() == [5, 4, 3, 2, 1]
    h = gg.arange(0, 1, 0.1, dtype=gg.float16, device=device)
    assert h.dtype == gg.float16 and len(h) == 10


def test_arange_length_is_ceil_of_the_span():
    # (end - start) / step not an integer: the last value stays below end
    assert gg.arange(0, 10, 3).tolist() == [0, 3, 6, 9]
    assert gg.arange(0, 1, 0.3, dtype=gg.float64).numpy().tolist() == \
        [0.0, 0.3, 0.6, 0.8999999999999999]
    assert gg.arange(-7, 7, 5).tolist() == [-7, -2, 3]
    assert gg.arange(7, -7, -5).tolist() == [7, 2, -3]
    # float32 values are float64's rounded once (start + i * step in double)
    t = gg.arange(0, 1, 0.1)
    np.testing.assert_array_equal(t.numpy(), (np.arange(10) * 0.1).astype(np.float32))


@pytest.mark.parametrize("args,kw,err,match", [
    ((0, 5, 0), {}, ValueError, "arange: step must be nonzero"),
    ((0, 5, 0.5), {"dtype": gg.int64}, ValueError, "step must be nonzero"),  # 0.5 -> 0
    ((5, 0), {}, ValueError, "arange: end 0 is on the wrong side of start 5 for step 1"),
    ((0, 5, -1), {}, ValueError, "wrong side"),
    ((float("inf"),), {}, ValueError, "arange: end must be finite, got inf"),
    ((float("nan"),), {}, ValueError, "end must be finite"),
    ((True,), {}, TypeError, "arange: end must be a real number, got bool"),
    (("3",), {}, TypeError, "arange: end must be a real number, got str"),
    ((3,), {"dtype": gg.bool_}, TypeError, "arange: dtype bool is not supported"),
    ((0, 300), {"dtype": np.uint8}, OverflowError, "arange: values from 0 to 300 do not fit uint8"),
])
def test_arange_errors(args, kw, err, match):
    with pytest.raises(err, match=match):
        gg.arange(*args, **kw)


def test_arange_takes_one_element_tensors():
    assert gg.arange(gg.tensor(3)).tolist() == [0, 1, 2]


# ---- linspace -----------------------------------------------------------------------
def test_linspace(device):
    t = gg.linspace(0, 1, 5, device=device)
    assert t.dtype == gg.float32 and _on_device(t, device)
    assert t.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    d = gg.linspace(-1, 2, 7, dtype=gg.float64, device=device).numpy()
    assert d[0] == -1 and d[-1] == 2  # both ends exact
    np.testing.assert_allclose(d, np.linspace(-1, 2, 7), rtol=0, atol=1e-15)
    assert gg.linspace(0, 10, 1, device=device).tolist() == [0.0]
    assert gg.linspace(0, 10, 0, device=device).shape == (0,)
    assert gg.linspace(0, 10, 5, dtype=gg.int64, device=device).tolist() == [0, 2, 5, 7, 10]
    assert gg.linspace(-1, 1, 5, dtype=gg.int64, device=device).tolist() == [-1, 0, 0, 0, 1]
    assert gg.linspace(3, 3, 4, device=device).tolist() == [3.0] * 4
    assert gg.linspace(1, 0, 3, device=device).tolist() == [1.0, 0.5, 0.0]


def test_linspace_is_symmetric_and_ends_exactly():
    d = gg.linspace(0.1, 0.7, 10, dtype=gg.float64).numpy()
    assert d[0] == 0.1 and d[-1] == 0.7
    exact = [Fraction(0.1) + i * (Fraction(0.7) - Fraction(0.1)) / 9 for i in range(10)]
    assert all(abs(Fraction(v) - e) <= Fraction(np.spacing(0.7)) for v, e in zip(d, exact))


@pytest.mark.parametrize("args,err,match", [
    ((0, 1, -1), ValueError, "linspace: number of steps must be non-negative, got -1"),
    ((0, 1, 2.0), TypeError, "linspace: steps must be an int, got float"),
    ((0, float("inf"), 3), ValueError, "linspace: end must be finite"),
    ((0, 1, True), TypeError, "steps must be an int, got bool"),
])
def test_linspace_errors(args, err, match):
    with pytest.raises(err, match=match):
        gg.linspace(*args)


# ---- eye ------------------------------------------------------------------------------
def test_eye(device):
    t = gg.eye(3, device=device)
    assert t.dtype == gg.float32 and _on_device(t, device)
    np.testing.assert_array_equal(t.numpy(), np.eye(3, dtype=np.float32))
    np.testing.assert_array_equal(gg.eye(2, 4, device=device).numpy(), np.eye(2, 4))
    np.testing.assert_array_equal(gg.eye(4, 2, dtype=gg.int64, device=device).numpy(),
                                  np.eye(4, 2, dtype=np.int64))
    assert gg.eye(0, device=device).shape == (0, 0) and gg.eye(2, 0, device=device).shape == (2, 0)
    assert gg.eye(2, dtype=gg.bool_, device=device).tolist() == [[True, False], [False, True]]


def test_eye_errors():
    with pytest.raises(ValueError, match="eye: negative dimension -1"):
        gg.eye(-1)
    with pytest.raises(ValueError, match="eye: negative dimension -2"):
        gg.eye(2, -2)
    with pytest.raises(TypeError, match="eye: size must be ints, got float"):
        gg.eye(2.0)


def test_created_tensors_are_independent_leaves(device):
    a, b = gg.zeros(3, device=device), gg.zeros(3, device=device)
    a += 1
    assert b.tolist() == [0.0, 0.0, 0.0] and a._vc is not b._vc
