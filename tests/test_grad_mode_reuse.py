"""no_grad and enable_grad objects kept and entered more than once: each exit puts back
the mode of its own enter (the instance keeps a stack of them)."""
import pytest

import gpugrad as gg


def test_one_no_grad_entered_inside_itself_restores_each_level():
    ng, eg = gg.no_grad(), gg.enable_grad()
    with ng:
        with eg:
            with ng:
                assert not gg.is_grad_enabled()
            assert gg.is_grad_enabled()  # the inner exit restores enable_grad's mode
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()
    with ng:  # and it can be used again afterwards
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()


def test_no_grad_restores_the_mode_when_its_body_raises():
    ng = gg.no_grad()
    with pytest.raises(KeyError):
        with ng:
            with ng:
                raise KeyError("body")
    assert gg.is_grad_enabled()


def test_no_grad_restores_a_mode_set_by_a_plain_call():
    gg.set_grad_enabled(False)
    try:
        with gg.enable_grad():
            assert gg.is_grad_enabled()
        assert not gg.is_grad_enabled()
        with gg.no_grad():
            assert not gg.is_grad_enabled()
        assert not gg.is_grad_enabled()
    finally:
        gg.set_grad_enabled(True)
    assert gg.is_grad_enabled()


def test_no_grad_of_none_is_a_context_manager():
    x = gg.tensor([1.0], requires_grad=True)
    with gg.no_grad(None):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
