"""Containers: Sequential, ModuleList and ModuleDict."""
from __future__ import annotations

import operator
from collections import OrderedDict

from .module import Module, _addindent

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


def _position(op, idx, n):
    """idx as a position in [0, n); negative counts from the end, as in a list."""
    try:
        i = operator.index(idx)
    except TypeError:
        raise TypeError(f"{op}: indices must be integers or slices, got "
                        f"{type(idx).__name__}") from None
    if not -n <= i < n:
        raise IndexError(f"{op}: index {i} is out of range for {n} modules")
    return i % n


class _Indexed(Module):
    """What Sequential and ModuleList share: children named '0', '1', ... in order."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return list(self._modules.values())[_position(self._get_name(), idx, len(self))]

    def __setitem__(self, idx, module):
        i = _position(self._get_name(), idx, len(self))
        self.add_module(str(i), module)

    def __delitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_position(self._get_name(), idx, len(self))]
        self._renumber(mods)

    def _check_item(self, op, module):
        # Checked before the list changes: _renumber clears it first, so a bad module
        # found while re-adding would leave it cut short.
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{op}: expected a Module, got {type(module).__module__}."
                            f"{type(module).__name__}")

    def _renumber(self, mods):
        # Keys stay '0'..'n-1' in order, as in PyTorch.
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def append(self, module):
        """Add module at the end; return self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        """Append each module of an iterable (all or, if one is not a Module, none);
        return self."""
        modules = list(modules)
        for m in modules:
            self._check_item(f"{self._get_name()}.extend", m)
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        """Insert module before position index (negative counts from the end)."""
        self._check_item(f"{self._get_name()}.insert", module)
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._renumber(mods)

    def pop(self, idx=-1):
        """Remove and return the module at idx."""
        m = self[idx]
        del self[idx]
        return m

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]


class Sequential(_Indexed):
    """Modules called in order, each on the previous one's output.

    Sequential(m0, m1, ...) names them '0', '1', ...; Sequential(OrderedDict) keeps the
    dict's names.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential: argument {i} is a "
                                    f"{type(m).__module__}.{type(m).__name__}, not a Module")
                self.add_module(str(i), m)

    def __getitem__(self, idx):
        if isinstance(idx, slice):  # keeps the names, as PyTorch's
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)

    def __setitem__(self, idx, module):
        key = list(self._modules)[_position("Sequential", idx, len(self))]
        self.add_module(key, module)

    def _check_item(self, op, module):
        if not isinstance(module, Module):  # None too: Sequential calls each one
            raise TypeError(f"{op}: expected a Module, got "
                            f"{type(module).__module__}.{type(module).__name__}")

    def append(self, module):
        """Add module at the end (named by the current length); return self."""
        self._check_item("Sequential.append", module)
        return super().append(module)

    def insert(self, index, module):
        """Insert module before position index (-len <= index <= len, as PyTorch's: out
        of range raises rather than clamps); return self."""
        self._check_item("Sequential.insert", module)
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for {n} "
                             "modules")
        super().insert(index, module)
        return self

    def forward(self, input):
        """Call each module in order on the previous output."""
        for module in self:
            input = module(input)
        return input


class ModuleList(_Indexed):
    """A list of modules, registered as children '0', '1', ...; it has no forward."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def __repr__(self):
        # Runs of equal reprs print once, as '(0-2): 3 x Linear(...)', as in PyTorch.
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        runs = []  # [start, end, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [_addindent(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}", 2)
                 for a, b, r in runs]
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules registered as children under their keys (insertion order)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        """The keys, in order."""
        return self._modules.keys()

    def items(self):
        """(key, module) pairs, in order."""
        return self._modules.items()

    def values(self):
        """The modules, in order."""
        return self._modules.values()

    def pop(self, key):
        """Remove the module under key and return it."""
        m = self._modules[key]
        del self._modules[key]
        return m

    def clear(self):
        """Remove every module."""
        self._modules.clear()

    def update(self, modules):
        """Add (key, module) pairs from a mapping or an iterable of pairs: all of them
        or, if one is bad, none."""
        pairs = list(modules.items() if hasattr(modules, "items") else modules)
        for j, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"ModuleDict.update: element {j} should be a "
                                 f"(key, module) pair, got {pair!r:.60}")
            key, m = pair
            self._check_name("module", key, self._modules)
            if m is not None and not isinstance(m, Module):
                raise TypeError(f"ModuleDict.update: the value for {key!r} is a "
                                f"{type(m).__module__}.{type(m).__name__}, not a Module")
        for key, m in pairs:
            self[key] = m
