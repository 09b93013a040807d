"""Anomaly mode: gg.detect_anomaly / gg.set_detect_anomaly (PyTorch's names)."""
import threading
import warnings

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.autograd import function


@pytest.fixture(autouse=True)
def _quiet_and_off():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's invalid-value warnings
        yield
    assert not gg.is_anomaly_enabled()
    assert function._lean[0]


def _leaf(values):
    return gg.tensor(np.asarray(values, dtype=np.float32), requires_grad=True)


def test_off_by_default_and_nothing_raised():
    assert not gg.is_anomaly_enabled()
    x = _leaf([-1.0, 0.0, 4.0])
    y = gg.log(x) * 2.0  # NaN in forward
    z = gg.sqrt(x * x)   # inf in backward at 0
    (y.sum() + z.sum()).backward()
    assert np.isnan(y.numpy()[0])
    assert y._node._fwd_stack is None


def test_nan_in_forward():
    x = _leaf([-1.0, 2.0])
    with gg.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            gg.log(x)  # FORWARD-LINE
    msg = str(info.value)
    assert "LogBackward" in msg and "forward" in msg and "nan" in msg
    assert "(2,)" in msg
    assert "FORWARD-LINE" in msg and "test_anomaly.py" in msg
    assert "gpugrad/autograd" not in msg and "gpugrad/ops" not in msg


def test_inf_in_forward_two_inputs():
    x = _leaf([1.0, 2.0, 3.0])
    y = _leaf([[0.0, 1.0, 1.0]] * 2)
    with gg.detect_anomaly():
        with pytest.raises(RuntimeError, match="DivBackward") as info:
            x / y
    msg = str(info.value)
    assert "inf" in msg and "(2, 3)" in msg and "(3,)" in msg


def test_nan_only_in_backward():
    x = _leaf([0.0, 4.0])
    with gg.detect_anomaly():
        y = gg.sqrt(x)  # SQRT-LINE
        loss = (y * 3.0).sum()
        assert np.isfinite(loss.numpy())
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    msg = str(info.value)
    assert "SqrtBackward" in msg and "backward" in msg and "inf" in msg
    assert "(2,)" in msg
    assert "SQRT-LINE" in msg
    assert x.grad is None


def test_backward_nan_in_grad():
    x = _leaf([0.0, 1.0])
    with gg.detect_anomaly():
        y = x * gg.sqrt(x)  # 0 * inf in the backward of Mul / Sqrt
        with pytest.raises(RuntimeError, match="Backward"):
            gg.grad(y.sum(), x)


def test_backward_with_create_graph():
    x = _leaf([0.0, 4.0])
    with gg.detect_anomaly():
        y = gg.sqrt(x).sum()
        with pytest.raises(RuntimeError, match="SqrtBackward"):
            gg.grad(y, x, create_graph=True)


def test_finite_run_matches_off():
    x0 = np.linspace(-2, 2, 7).astype(np.float32)
    out = []
    for on in (False, True):
        x = _leaf(x0)
        with gg.set_detect_anomaly(on):
            y = gg.sigmoid(gg.tanh(x) * x + 1.0).sum()
            y.backward()
        out.append((y.numpy(), x.grad.numpy()))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])


def test_nodes_keep_stack_only_when_on():
    x = _leaf([1.0, 2.0])
    with gg.detect_anomaly():
        y = gg.exp(x)  # STACK-LINE
    assert "STACK-LINE" in y._node._fwd_stack
    assert "gpugrad" + "/autograd" not in y._node._fwd_stack
    z = gg.exp(x)
    assert z._node._fwd_stack is None


def test_node_recorded_off_checked_on():
    x = _leaf([0.0, 1.0])
    y = gg.sqrt(x).sum()  # recorded while off: no stack
    with gg.detect_anomaly():
        with pytest.raises(RuntimeError, match="no forward stack"):
            y.backward()


def test_decorator_forms():
    @gg.detect_anomaly()
    def f(x):
        assert gg.is_anomaly_enabled()
        return gg.log(x)

    @gg.detect_anomaly
    def g(x):
        assert gg.is_anomaly_enabled()
        return gg.log(x)

    @gg.detect_anomaly(check_nan=False)
    def h(x):
        assert gg.is_anomaly_enabled() and not gg.is_anomaly_check_nan_enabled()
        return gg.log(x)

    @gg.set_detect_anomaly(True)
    def k(x):
        return gg.log(x)

    assert not gg.is_anomaly_enabled()  # decorating turns nothing on
    x = _leaf([-1.0])
    for fn in (f, g, k):
        with pytest.raises(RuntimeError, match="LogBackward"):
            fn(x)
        assert not gg.is_anomaly_enabled()
    assert np.isnan(h(x).numpy()[0])
    assert not gg.is_anomaly_enabled()
    assert gg.is_anomaly_check_nan_enabled()


def test_plain_call_and_nesting_restore():
    gg.set_detect_anomaly(True)
    try:
        assert gg.is_anomaly_enabled()
        assert not function._lean[0]
        with gg.set_detect_anomaly(False):
            assert not gg.is_anomaly_enabled()
            with gg.detect_anomaly(check_nan=False):
                assert gg.is_anomaly_enabled() and not gg.is_anomaly_check_nan_enabled()
            assert not gg.is_anomaly_enabled() and gg.is_anomaly_check_nan_enabled()
            gg.log(_leaf([-1.0]))  # off: no error
        assert gg.is_anomaly_enabled()
        with pytest.raises(RuntimeError):
            with gg.detect_anomaly():
                gg.log(_leaf([-1.0]))
        assert gg.is_anomaly_enabled()  # restored after the exception
    finally:
        gg.set_detect_anomaly(False)
    assert not gg.is_anomaly_enabled()


def test_check_nan_false_records_stack_raises_nothing():
    x = _leaf([0.0, -1.0])
    with gg.detect_anomaly(check_nan=False):
        y = gg.sqrt(x)  # NOCHECK-LINE
        y.sum().backward()
    assert "NOCHECK-LINE" in y._node._fwd_stack
    assert not np.isfinite(x.grad.numpy()).all()


def test_no_grad_forward_checked():
    x = _leaf([-1.0])
    with gg.detect_anomaly(), gg.no_grad():
        with pytest.raises(RuntimeError, match="LogBackward"):
            gg.log(x)


def test_custom_function():
    class Bad(gg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    x = _leaf([1.0, 2.0])
    with gg.detect_anomaly():
        y = Bad.apply(x)  # CUSTOM-LINE
        with pytest.raises(RuntimeError, match="BadBackward") as info:
            y.sum().backward()
    assert "CUSTOM-LINE" in str(info.value)


def test_thread_local():
    seen = {}
    go, done = threading.Event(), threading.Event()

    def other():
        go.wait()
        seen["enabled"] = gg.is_anomaly_enabled()
        x = _leaf([-1.0])
        try:
            y = gg.log(x)
            seen["nan"] = bool(np.isnan(y.numpy()[0]))
            seen["stack"] = y._node._fwd_stack
        except RuntimeError as e:
            seen["error"] = e
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with gg.detect_anomaly():
        go.set()
        done.wait(10)
    t.join()
    assert seen == {"enabled": False, "nan": True, "stack": None}

    def on_in_thread():
        with gg.detect_anomaly():
            seen["inner"] = gg.is_anomaly_enabled()
    t = threading.Thread(target=on_in_thread)
    t.start()
    t.join()
    assert seen["inner"] and not gg.is_anomaly_enabled()
