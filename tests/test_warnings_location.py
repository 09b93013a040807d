"""NumPy's floating-point warnings from gpugrad's ops point at the user's line and name
the op; the user's warnings filters and NumPy error settings keep working."""
import inspect
import warnings

import numpy as np
import pytest

import gpugrad as gg


def _line():
    """The line number of the caller's next line."""
    return inspect.currentframe().f_back.f_lineno + 1


def test_forward_warning_points_at_the_callers_line_and_names_the_op():
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        line = _line()
        gg.log(gg.tensor([-1.0]))
    assert len(got) == 1
    w = got[0]
    assert w.category is RuntimeWarning
    assert str(w.message) == "log: invalid value encountered in log"
    assert w.filename == __file__ and w.lineno == line


def test_backward_warning_points_at_the_backward_call():
    x = gg.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # log(0) in the forward
        y = gg.log(x).sum()
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        line = _line()
        y.backward()
    assert [str(w.message) for w in got] == ["LogBackward: divide by zero encountered in divide"]
    assert got[0].filename == __file__ and got[0].lineno == line
    assert x.grad.tolist() == [np.inf, 1.0]


def test_unrecorded_operator_and_inplace_update_point_at_the_callers_line():
    t = gg.tensor([3e38])
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        line = _line()
        t * 10.0
        t += gg.tensor([3e38])
    assert [str(w.message) for w in got] == ["mul: overflow encountered in multiply",
                                             "iadd: overflow encountered in add"]
    assert [(w.filename, w.lineno) for w in got] == [(__file__, line), (__file__, line + 1)]


def test_error_filter_raises_at_the_op_and_leaves_numpy_settings_alone():
    before = np.geterr(), np.geterrcall()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="log: divide by zero encountered in log"):
            gg.log(gg.tensor([0.0]))
        x = gg.tensor([1.0], requires_grad=True)
        y = (x * gg.tensor([3e38])).sum()
        with pytest.raises(RuntimeWarning, match="MulBackward: overflow encountered in multiply"):
            y.backward(gg.tensor(10.0))
    assert (np.geterr(), np.geterrcall()) == before
    # and NumPy's own warnings in the user's code are NumPy's, unchanged
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        np.log(np.array([-1.0]))
    assert [str(w.message) for w in got] == ["invalid value encountered in log"]


def test_ignore_filter_silences():
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gg.sqrt(gg.tensor([-1.0]))
            gg.tensor([1.0]) / gg.tensor([0.0])
    assert got == []


def test_numpy_error_settings_of_the_caller_still_rule():
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        with np.errstate(invalid="ignore"):
            gg.log(gg.tensor([-1.0]))  # silenced by the caller
        with np.errstate(divide="raise"):
            with pytest.raises(FloatingPointError, match="divide by zero encountered in log"):
                gg.log(gg.tensor([0.0]))
    assert got == []


def test_errstate_inside_a_kernel_still_silences():
    # the sigmoid's exp overflows for x below -88 (float32): 1/inf is the right 0
    x = gg.tensor([-1000.0, 0.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = gg.sigmoid(x)
        y.sum().backward()
    assert y.tolist() == [0.0, 0.5]


def test_gpugrads_own_warnings_point_at_the_callers_line():
    x = gg.tensor([1.0])
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        x.std()  # the method calls the function, which warns: no degrees of freedom
        gg.std(x)
    assert [w.filename for w in got] == [__file__, __file__]
    assert all("std: degrees of freedom" in str(w.message) for w in got)
