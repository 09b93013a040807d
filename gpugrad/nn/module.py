"""Module: the base class of layers. Parameters, buffers and submodules register themselves
by attribute assignment, and the tree is walked for parameters, state dicts and devices."""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from ..autograd import handle_out_of_memory, no_grad
from ..backends import Device
from ..errors import DtypeError, ShapeError
from ..tensor import Tensor
from .parameter import Parameter

__all__ = ["Module"]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What load_state_dict(strict=False) found missing and unexpected, as in PyTorch."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class _HookHandle:
    """Returned by register_forward_(pre_)hook; `.remove()` takes the hook off."""

    def __init__(self, hooks, key):
        self._hooks, self._key = hooks, key

    def remove(self):
        """Take the hook off (again is a no-op)."""
        self._hooks.pop(self._key, None)


def _addindent(text, n):
    """Indent every line but the first by n spaces: a child's repr inside its parent's."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _type_name(value):
    return f"{type(value).__module__}.{type(value).__qualname__}"


class Module:
    """Base class of every layer: subclass it, assign Parameters and Modules as attributes
    in __init__ (after super().__init__()), and define forward()."""

    _hook_counter = 0

    def __init__(self):
        # Written straight into __dict__: our __setattr__ needs them to exist already.
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()

    # ---- forward ---------------------------------------------------------------
    def forward(self, *args, **kwargs):
        """The computation of this module; subclasses define it."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    def __call__(self, *args, **kwargs):
        """Run the forward pre-hooks, forward() and the forward hooks."""
        pre = self._forward_pre_hooks
        if pre:  # most modules have none: then forward() alone
            for hook in list(pre.values()):
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        try:
            out = self.forward(*args, **kwargs)
        except MemoryError as e:  # note the op, free the failed forward's activations
            handle_out_of_memory(e)
            raise
        post = self._forward_hooks  # read after forward, which may register one
        if post:
            for hook in list(post.values()):
                r = hook(self, args, out)
                if r is not None:
                    out = r
        return out

    def _add_hook(self, store, hook):
        if not callable(hook):
            raise TypeError(f"register hook: expected a function, got {_type_name(hook)}")
        Module._hook_counter += 1
        store[Module._hook_counter] = hook
        return _HookHandle(store, Module._hook_counter)

    def register_forward_pre_hook(self, hook):
        """hook(module, args) runs before forward; a returned value replaces the args."""
        return self._add_hook(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """hook(module, args, output) runs after forward; a returned value replaces output."""
        return self._add_hook(self._forward_hooks, hook)

    # ---- registration ------------------------------------------------------------
    def _check_name(self, what, name, store):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string, got {_type_name(name)}")
        if "." in name:
            raise KeyError(f'{what} name cannot contain ".", got "{name}"')
        if name == "":
            raise KeyError(f"{what} name cannot be an empty string")
        if hasattr(self, name) and name not in store:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name, param):
        """Register param (a Parameter, or None for an absent one) under name."""
        self._check_name("parameter", name, self.__dict__.get("_parameters", {}))
        if param is not None:
            if not isinstance(param, Parameter):
                raise TypeError(f"cannot assign '{_type_name(param)}' object to parameter "
                                f"'{name}' (gpugrad.nn.Parameter or None required)")
            if param.grad_fn is not None:
                raise ValueError(f"cannot assign non-leaf Tensor to parameter '{name}': a "
                                 "parameter must be a leaf; compute its value under "
                                 "gg.no_grad() or detach() it first")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register a Tensor that is state but not a parameter (in state_dict() unless
        persistent=False); None registers an absent one."""
        self._check_name("buffer", name, self.__dict__.get("_buffers", {}))
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_type_name(tensor)}' object to buffer '{name}' "
                            "(gpugrad.Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        """Register module (or None) as a child under name."""
        self._check_name("module", name, self.__dict__.get("_modules", {}))
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_type_name(module)} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    def _forget(self, name, *stores):
        for store in stores:
            if name in store:
                del store[name]
        self.__dict__.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __setattr__(self, name, value):
        d = self.__dict__
        params, buffers, modules = d.get("_parameters"), d.get("_buffers"), d.get("_modules")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, buffers, modules)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_type_name(value)}' as parameter '{name}' "
                                "(gpugrad.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, params, buffers)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_type_name(value)}' as child module "
                                f"'{name}' (gpugrad.nn.Module or None expected)")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_type_name(value)}' as buffer '{name}' "
                                "(gpugrad.Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when ordinary lookup fails: parameters, buffers and children.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if name in d.get(store, ()):
                del d[store][name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) |
                      set(self._modules))

    def __setstate__(self, state):
        self.__dict__.update(state)

    # ---- walking the tree ------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) for this module and every descendant, each module once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                                remove_duplicate)

    def modules(self):
        """This module and every descendant, each once."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """(name, child) for the direct children, each once."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        """The direct children, each once."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, prefix, recurse, remove_duplicate):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mod_prefix, module in mods:
            for name, value in getattr(module, store).items():
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs; a shared Parameter is given once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """The Parameters of this module (and its descendants when recurse), each once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, buffer) pairs, persistent or not."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        """The buffers of this module (and its descendants when recurse)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target):
        """The descendant named by a dotted path ('' is this module)."""
        module = self
        if target == "":
            return module
        for part in target.split("."):
            child = module._modules.get(part)
            if not isinstance(child, Module):
                raise AttributeError(f"{module._get_name()} has no submodule '{part}' "
                                     f"(looking up '{target}')")
            module = child
        return module

    def apply(self, fn):
        """Call fn on every child (recursively), then on this module; return self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients -----------------------------------------------------
    def train(self, mode=True):
        """Set training mode on this module and its descendants; return self."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode is expected to be a bool, got {mode!r}")
        self.training = mode
        # Through each child's own train(), as PyTorch: a child that overrides train()
        # (to stay frozen in eval mode, say) is obeyed, not bypassed.
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """train(False)."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set requires_grad of every parameter; return self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset every parameter's .grad: to None, or to zeros in place."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                with no_grad():
                    p.grad[...] = 0

    # ---- devices and dtypes ------------------------------------------------------
    def _apply(self, fn):
        """Convert every parameter (in place: the same objects, as PyTorch's .data
        assignment keeps them) and replace every buffer with fn's result."""
        for module in self.modules():
            with no_grad():
                for p in module._parameters.values():
                    if p is None:
                        continue
                    new = fn(p)
                    if new is p:
                        continue
                    if p.grad is not None:
                        p.grad.data = fn(p.grad)
                    p.data = new
                for name, b in module._buffers.items():
                    if b is not None:
                        module._buffers[name] = fn(b)
        return self

    def to(self, *args, device=None, dtype=None):
        """Move and/or cast the parameters and buffers in place: `.to('cuda')`,
        `.to(gg.float64)`, `.to(device, dtype)`, `.to(tensor)`; returns self.
        A dtype applies to floating point tensors only (integer buffers keep theirs)."""
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, (str, Device)):
                device = a
            else:
                dtype = a
        if dtype is not None:
            try:
                dtype = np.dtype(dtype)
            except TypeError:
                raise TypeError(f"Module.to: expected a device or a dtype, got {dtype!r}") \
                    from None
            if dtype.kind != "f":
                raise DtypeError(f"Module.to: only floating point dtypes are accepted, got "
                                f"{dtype}")

        def convert(t):
            return t.to(device=device, dtype=dtype if t.dtype.kind == "f" else None)

        return self._apply(convert)

    def cpu(self):
        """to('cpu')."""
        return self.to("cpu")

    def cuda(self, device=None):
        """to('cuda') (or 'cuda:N')."""
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def float(self):
        """Cast floating point parameters and buffers to float32."""
        return self.to(np.dtype("float32"))

    def double(self):
        """Cast floating point parameters and buffers to float64."""
        return self.to(np.dtype("float64"))

    def half(self):
        """Cast floating point parameters and buffers to float16."""
        return self.to(np.dtype("float16"))

    # ---- state dicts ---------------------------------------------------------------
    def _state_items(self, prefix=""):
        """(key, tensor) for every parameter and persistent buffer, by PyTorch's walk:
        through every child slot, so a shared module appears under each of its names."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                yield prefix + name, b
        for name, module in self._modules.items():
            if module is not None:
                yield from module._state_items(prefix + name + ".")

    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """OrderedDict of dotted names ('layers.0.weight') to parameters and persistent
        buffers, detached (they share memory with the module) unless keep_vars."""
        out = OrderedDict() if destination is None else destination
        for key, t in self._state_items(prefix):
            out[key] = t if keep_vars else t.detach()
        return out

    def _unexpected_keys(self, keys, prefix=""):
        """The keys no module claims, in PyTorch's order (module by module, as its load
        walks the tree): at the module its prefix reaches, a dotted rest must start with a
        child slot's name, an undotted one must name a parameter or persistent buffer."""
        local = {n for n, p in self._parameters.items() if p is not None}
        local |= {n for n, b in self._buffers.items()
                  if b is not None and n not in self._non_persistent_buffers}
        out = []
        for k in keys:
            if k.startswith(prefix):
                rest = k[len(prefix):].split(".", 1)
                if (rest[0] not in self._modules) if len(rest) > 1 else (rest[0] not in local):
                    out.append(k)
        for name, module in self._modules.items():
            if module is not None:
                out += module._unexpected_keys(keys, prefix + name + ".")
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from state_dict into the parameters and buffers (cast to each one's
        dtype and device, as PyTorch's copy_). Every key is checked before anything is
        copied: a wrong shape, or with strict a missing or unexpected key, raises naming
        all of them and changes nothing. Returns (missing_keys, unexpected_keys)."""
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"load_state_dict: expected a dict of Tensors, got "
                            f"{_type_name(state_dict)}")
        own = list(self._state_items())
        missing = [k for k, _ in own if k not in state_dict]
        unexpected = self._unexpected_keys(list(state_dict.keys()))
        errors, mismatched = [], False
        for key, t in own:
            if key not in state_dict:
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                errors.append(f'While copying the parameter named "{key}", expected a '
                              f"gpugrad Tensor from the checkpoint but received "
                              f"{_type_name(value)}")
            elif tuple(value.shape) != tuple(t.shape):
                mismatched = True
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{tuple(value.shape)} from checkpoint, the shape in current "
                              f"model is {tuple(t.shape)}.")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            # PyTorch's RuntimeError; a ShapeError (also a ValueError) when a size is wrong.
            raise (ShapeError if mismatched else RuntimeError)(
                f"Error(s) in loading state_dict for {self._get_name()}:\n\t" +
                "\n\t".join(errors))
        # Every value converted before the first is written: a conversion that fails
        # (a device that is not usable) leaves the module as it was.
        with no_grad():
            values = [(t, state_dict[key].detach().to(device=t.device, dtype=t.dtype))
                      for key, t in own if key in state_dict]
            for t, v in values:
                t[...] = v
        return _IncompatibleKeys(missing, unexpected)

    # ---- printing ------------------------------------------------------------------
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """The text inside this module's parentheses in its repr (subclasses set it)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2)
                       for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"
