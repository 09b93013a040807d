"""Every public name has a docstring: gpugrad's functions and classes (reached from
`gpugrad` and its public submodules), their public methods, and Tensor's methods and
properties. The walk covers whatever is public when it runs, so new code is held to it."""
import inspect
import types

import gpugrad as gg


def _documented(obj):
    doc = obj.__doc__ if not isinstance(obj, type) else obj.__dict__.get("__doc__")
    return bool(doc and doc.strip())


def _ours(obj):
    return (getattr(obj, "__module__", None) or "").split(".")[0] == "gpugrad"


# Implementation modules: what of theirs is public reaches users through gpugrad's flat
# namespace (gg.clamp, gg.Function), where it is checked; the rest (an op's Function
# class, an engine helper) is no API of its own.
IMPLEMENTATION = ("gpugrad.ops", "gpugrad.backends", "gpugrad.autograd.engine",
                  "gpugrad.autograd.function", "gpugrad.autograd.grad_mode")


def _public_modules():
    """gpugrad and the public modules reachable from it by public attribute names."""
    seen, stack = {}, [gg]
    while stack:
        m = stack.pop()
        if m.__name__ in seen:
            continue
        seen[m.__name__] = m
        for name in dir(m):
            v = getattr(m, name, None)
            if not name.startswith("_") and isinstance(v, types.ModuleType) and \
                    v.__name__.startswith("gpugrad") and \
                    not any(p.startswith("_") for p in v.__name__.split(".")) and \
                    not v.__name__.startswith(IMPLEMENTATION):
                stack.append(v)
    return seen


def _public_objects():
    """(qualified name, object) for every public function or class defined in gpugrad."""
    out = {}
    for mname, m in _public_modules().items():
        for name in dir(m):
            v = getattr(m, name, None)
            if name.startswith("_") or not (inspect.isfunction(v) or inspect.isclass(v)):
                continue
            if _ours(v):
                out.setdefault(id(v), (f"{mname}.{name}", v))
    return sorted(out.values(), key=lambda nv: nv[0])


def _missing_in_class(qual, cls):
    """Public methods and properties that cls itself defines without a docstring."""
    missing = []
    for name, v in vars(cls).items():
        if name.startswith("_"):
            continue
        f = v.__func__ if isinstance(v, (staticmethod, classmethod)) else v
        if isinstance(f, property):
            f = f.fget
        if not (inspect.isfunction(f) or inspect.isbuiltin(f)):
            continue
        # a method that overrides a documented one of a base class keeps its contract
        if not _documented(f) and not any(_documented(getattr(b, name, None) or object)
                                          for b in cls.__mro__[1:] if hasattr(b, name)
                                          and b is not object):
            missing.append(f"{qual}.{name}")
    return missing


def test_public_functions_and_classes_have_docstrings():
    missing = [q for q, v in _public_objects() if not _documented(v)]
    assert not missing, f"{len(missing)} public names without a docstring:\n" + "\n".join(missing)


def test_public_methods_of_public_classes_have_docstrings():
    missing = []
    for q, v in _public_objects():
        if inspect.isclass(v):
            missing += _missing_in_class(q, v)
    assert not missing, f"{len(missing)} public methods without a docstring:\n" + "\n".join(missing)


def test_tensor_methods_and_properties_have_docstrings():
    missing = _missing_in_class("Tensor", gg.Tensor)
    assert not missing, "Tensor members without a docstring: " + ", ".join(missing)


def test_the_walk_sees_the_core():
    """The walk itself: it must reach the core's names, or the tests above prove nothing."""
    names = {q for q, _ in _public_objects()}
    for want in ("gpugrad.tensor", "gpugrad.clamp", "gpugrad.Tensor", "gpugrad.Function"):
        assert want in names, want
    assert "Tensor.clamp" not in _missing_in_class("Tensor", gg.Tensor)

    class Undocumented:
        def method(self):
            pass
    assert _missing_in_class("U", Undocumented) == ["U.method"]
