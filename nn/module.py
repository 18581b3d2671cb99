"""``Module``: the base class of every layer, with PyTorch's registration, traversal, state-dict and
hook API, so a PyTorch model ports by changing the import::

    >>> import neurarust as nr
    >>> class Net(nr.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nr.nn.Linear(3, 2)
    ...     def forward(self, x):
    ...         return self.fc(x).relu()
    >>> net = Net()
    >>> [name for name, _ in net.named_parameters()]
    ['fc.weight', 'fc.bias']
    >>> net(nr.ones(4, 3)).shape
    neurarust.Size([4, 2])
"""
from __future__ import annotations

import itertools
import warnings
import weakref
from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterator

from neurarust import dtype as _dt
from neurarust.device import as_device
from neurarust.errors import ArgumentError, DTypeError, NeuraRustError, SignatureError
from neurarust.memory_formats import rank_of
from neurarust.tensor import Tensor

from .parameter import Parameter, _set_data


class StateDictError(NeuraRustError, RuntimeError):
    """``load_state_dict`` found missing or unexpected keys, or shapes that do not match."""


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods: ``remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, *hook_dicts: dict):
        self.id = next(RemovableHandle._ids)
        self._dicts = [weakref.ref(d) for d in hook_dicts]

    def remove(self) -> None:
        for ref in self._dicts:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class _HookDict(dict):
    """A dict that a weakref can point at (plain dicts cannot)."""

    __slots__ = ("__weakref__",)


def _add_indent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _register_hook(hooks: dict, value: Any, prepend: bool) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = value
    if prepend:
        items = list(hooks.items())
        hooks.clear()
        hooks.update([items[-1]] + items[:-1])
    return handle


class Module:
    """Base class of all layers: subclass it, assign parameters and submodules in ``__init__`` and
    write ``forward``; call the module (not ``forward``) so that hooks run.

    >>> import neurarust as nr
    >>> m = nr.nn.Sequential(nr.nn.Linear(2, 2), nr.nn.ReLU())
    >>> m
    Sequential(
      (0): Linear(in_features=2, out_features=2, bias=True)
      (1): ReLU()
    )
    """

    training: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            raise SignatureError(f"{type(self).__name__}.__init__() got unexpected arguments")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = _HookDict()
        d["_forward_hooks"] = _HookDict()
        d["_backward_hooks"] = _HookDict()
        d["_backward_pre_hooks"] = _HookDict()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses override it (call the module, not this, so hooks run)."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    # -- registration -------------------------------------------------------------------------
    def _check_name(self, name: str, kind: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise SignatureError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f'{kind} name can\'t be empty or contain ".", got: {name!r}')

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (running statistics); ``persistent=False``
        leaves it out of ``state_dict``.

        >>> import neurarust as nr
        >>> m = nr.nn.Module(); m.register_buffer("count", nr.zeros(1), persistent=False)
        >>> list(m.state_dict()), [n for n, _ in m.named_buffers()]
        ([], ['count'])
        """
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise SignatureError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder) under ``name``."""
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise SignatureError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                                 "(nr.nn.Parameter or None required)")
        if param is not None and not param.is_leaf:
            raise ArgumentError(f"cannot assign non-leaf Tensor to parameter '{name}'")
        self._parameters[name] = param

    def add_module(self, name: str, module: "Module | None") -> None:
        """Add a child module under ``name`` (``self.name = module`` does the same)."""
        if not isinstance(module, Module) and module is not None:
            raise SignatureError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        """The submodule at dotted path ``target`` ("" is self).

        >>> import neurarust as nr
        >>> net = nr.nn.Sequential(nr.nn.Sequential(nr.nn.Identity()))
        >>> type(net.get_submodule("0.0")).__name__
        'Identity'
        """
        mod = self
        if target == "":
            return mod
        for item in target.split("."):
            if item not in mod._modules:
                if hasattr(mod, item):
                    raise AttributeError(f"`{item}` is not an nn.Module")
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = mod._modules[item]
        return mod

    def set_submodule(self, target: str, module: "Module", strict: bool = False) -> None:
        """Put ``module`` at dotted path ``target`` (its parent must exist; with ``strict`` the name
        must already be there). A non-module attribute of that name is not replaced.

        >>> import neurarust as nr
        >>> net = nr.nn.Sequential(nr.nn.Sequential(nr.nn.ReLU()))
        >>> net.set_submodule("0.0", nr.nn.Tanh())
        >>> type(net[0][0]).__name__
        'Tanh'
        """
        if target == "":
            raise ArgumentError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ArgumentError(f"`module` is not an nn.Module, found {type(module)}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target``."""
        return self._get_at(target, "_parameters", "an nn.Parameter")

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target``."""
        return self._get_at(target, "_buffers", "a buffer")

    def _get_at(self, target: str, table: str, what: str):
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        entries = getattr(mod, table)
        if name not in entries:  # PyTorch's two messages: no such attribute, or not of this kind
            if hasattr(mod, name):
                raise AttributeError(f"`{name}` is not {what}")
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        return entries[name]

    # -- attribute protocol -------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        d = self.__dict__  # read directly: unpickling calls this before __init__ has run
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")  # a replaced parameter keeps its place (state_dict order)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise SignatureError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                     "(nr.nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            d["_modules"][name] = value
        elif "_modules" in d and name in d["_modules"]:
            if value is not None:
                raise SignatureError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                     "(nr.nn.Module or None expected)")
            d["_modules"][name] = None
        elif "_buffers" in d and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise SignatureError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                     "(Tensor or None expected)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Drop ``name`` from every store but ``keep`` (PyTorch's ``remove_from``)."""
        self.__dict__.pop(name, None)
        for store in ("_parameters", "_buffers", "_modules"):
            if store != keep:
                self.__dict__[store].pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __delattr__(self, name: str) -> None:
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(store, ()):
                del self.__dict__[store][name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = set(super().__dir__())
        for store in ("_parameters", "_buffers", "_modules"):
            keys.update(self.__dict__[store])
        return sorted(keys)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    # -- traversal ----------------------------------------------------------------------------
    def _named_members(self, get_members, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (module_prefix + ("." if module_prefix else "") + k, v)

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a parameter shared by two modules is given once."""
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter (of submodules too, unless ``recurse=False``).

        >>> import neurarust as nr
        >>> sum(p.numel() for p in nr.nn.Linear(3, 2).parameters())
        8
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs, persistent or not."""
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer (of submodules too, unless ``recurse=False``)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """(name, module) for each direct child."""
        memo = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def children(self) -> Iterator["Module"]:
        """Each direct child module."""
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """(dotted name, module) for self ("") and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        """Self and every descendant module."""
        for _, module in self.named_modules():
            yield module

    # -- modes and bulk changes ---------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active, batch statistics) on self and descendants."""
        if not isinstance(mode, bool):
            raise ArgumentError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode: ``train(False)``.

        >>> import neurarust as nr
        >>> nr.nn.Dropout().eval().training
        False
        """
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Switch gradient recording on or off for every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (``set_to_none=True``) or zero every parameter's ``.grad``."""
        from neurarust.autograd.grad_mode import no_grad

        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                with no_grad():
                    p.grad.zero_()

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every descendant then on self (initialisation schemes).

        >>> import neurarust as nr
        >>> net = nr.nn.Sequential(nr.nn.Linear(2, 2))
        >>> _ = net.apply(lambda m: nr.nn.init.zeros_(m.bias) if isinstance(m, nr.nn.Linear) else None)
        >>> net[0].bias.tolist()
        [0.0, 0.0]
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> "Module":
        from neurarust.autograd.grad_mode import no_grad

        for module in self.children() if recurse else ():
            module._apply(fn)
        with no_grad():
            for p in self._parameters.values():
                if p is None:
                    continue
                new = fn(p)
                if new is not p:
                    grad = p.grad
                    p.grad = None
                    _set_data(p, new)
                    if grad is not None:
                        p.grad = fn(grad)
            for key, b in self._buffers.items():
                if b is not None:
                    self._buffers[key] = fn(b)
        return self

    def to(self, *args: Any, **kwargs: Any) -> "Module":
        """Move parameters and buffers to a device and/or cast the floating ones to a dtype, in place
        (the Parameter objects stay the same, so an optimizer made before still holds them).

        ``memory_format=nr.channels_last`` lays out the 4-D parameters and buffers (conv weights) as
        ``(N, H, W, C)`` in memory (``channels_last_3d``: the 5-D ones), as PyTorch does.

        >>> import neurarust as nr
        >>> nr.nn.Linear(2, 2).to(nr.float64).weight.dtype
        neurarust.float64
        >>> nr.nn.Conv2d(2, 4, 3).to(memory_format=nr.channels_last).weight.stride()
        (18, 1, 6, 2)
        """
        fmt = kwargs.pop("memory_format", None)
        dev, dt = _parse_to(args, kwargs)
        if dt is not None and not dt.is_floating_point:
            raise DTypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dt}")
        rank = None if fmt is None else rank_of(fmt)

        def convert(t: Tensor) -> Tensor:
            out = t.to(dev if dev is not None else t.device, dt if dt is not None and t.is_floating_point() else t.dtype)
            # As PyTorch: a channels-last format lays out the 4-D (5-D) weights and leaves the rest.
            return out.contiguous(memory_format=fmt) if rank is not None and out.ndim == rank else out

        return self._apply(convert)

    def cpu(self) -> "Module":
        """Move everything to the CPU."""
        return self.to("cpu")

    def cuda(self, device: Any = None) -> "Module":
        """Move everything to a CUDA device (DeviceError without one)."""
        return self.to("cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))

    def _cast_floats(self, d: _dt.DType) -> "Module":
        return self._apply(lambda t: t.to(d) if t.is_floating_point() else t)

    def half(self) -> "Module":
        """Cast floating parameters and buffers to float16."""
        return self._cast_floats(_dt.float16)

    def bfloat16(self) -> "Module":
        """Cast floating parameters and buffers to bfloat16."""
        return self._cast_floats(_dt.bfloat16)

    def float(self) -> "Module":
        """Cast floating parameters and buffers to float32."""
        return self._cast_floats(_dt.float32)

    def double(self) -> "Module":
        """Cast floating parameters and buffers to float64."""
        return self._cast_floats(_dt.float64)

    def to_empty(self, *, device: Any, recurse: bool = True) -> "Module":
        """Move the parameters and buffers to ``device`` as uninitialised memory of the same shapes and
        dtypes (no copy: for modules whose values are set afterwards, by loading a checkpoint or an
        initialiser).

        >>> import neurarust as nr
        >>> lin = nr.nn.Linear(2, 3).to_empty(device="cpu")
        >>> tuple(lin.weight.shape), lin.weight.requires_grad
        ((3, 2), True)
        """
        from neurarust.creation import empty_like

        return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)

    def type(self, dst_type: Any) -> "Module":
        """Cast every parameter and buffer to ``dst_type``."""
        d = _dt.as_dtype(dst_type)
        return self._apply(lambda t: t.to(d))

    # -- state dict ---------------------------------------------------------------------------
    def state_dict(self, *args: Any, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Parameters and persistent buffers by dotted name (PyTorch's key names), detached unless
        ``keep_vars``.

        >>> import neurarust as nr
        >>> list(nr.nn.Linear(2, 3).state_dict())
        ['weight', 'bias']
        """
        if args:  # PyTorch's deprecated positional form: (destination, prefix, keep_vars)
            destination, prefix, keep_vars = (list(args) + [destination, prefix, keep_vars][len(args):])[:3]
        if destination is None:
            destination = OrderedDict()
        for hook in list(self._hooks("_state_dict_pre_hooks").values()):
            hook(self, prefix, keep_vars)
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        if self._has_extra_state():
            destination[prefix + _EXTRA_STATE_KEY] = self.get_extra_state()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in list(self._hooks("_state_dict_post_hooks").values()):
            if hook(self, destination, prefix, {}) is not None:
                raise StateDictError("state_dict post-hook must return None")
        return destination

    # -- state-dict hooks and extra state (PyTorch's) ------------------------------------------
    def _hooks(self, name: str) -> dict:
        """The hook dict ``name``, made on first use (modules pickled before it existed lack it)."""
        hooks = self.__dict__.get(name)
        if hooks is None:
            hooks = self.__dict__[name] = _HookDict()
        return hooks

    def register_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, prefix, keep_vars)`` runs before ``state_dict`` collects this module's entries."""
        return _register_hook(self._hooks("_state_dict_pre_hooks"), hook, False)

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata)`` runs after this module's entries (and its
        children's) are in ``state_dict``; it may change ``state_dict`` in place, and returns None.

        >>> import neurarust as nr
        >>> lin = nr.nn.Linear(2, 2)
        >>> def drop_bias(module, sd, prefix, local_metadata):
        ...     del sd[prefix + "bias"]
        >>> h = lin.register_state_dict_post_hook(drop_bias)
        >>> list(lin.state_dict())
        ['weight']
        """
        return _register_hook(self._hooks("_state_dict_post_hooks"), hook, False)

    def register_load_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs)`` runs before this module's entries are looked up in ``state_dict`` (which it may
        change in place: renaming old keys, say); strings it appends to ``error_msgs`` fail the load.

        >>> import neurarust as nr
        >>> def rename(module, sd, prefix, *rest):
        ...     if prefix + "w" in sd:
        ...         sd[prefix + "weight"] = sd.pop(prefix + "w")
        >>> lin = nr.nn.Linear(1, 1, bias=False)
        >>> h = lin.register_load_state_dict_pre_hook(rename)
        >>> lin.load_state_dict({"w": nr.ones(1, 1)})
        <All keys matched successfully>
        """
        return _register_hook(self._hooks("_load_state_dict_pre_hooks"), hook, False)

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, incompatible_keys)`` runs after ``load_state_dict`` copied the values; it may
        remove entries from ``incompatible_keys.missing_keys``/``unexpected_keys`` before ``strict``
        judges them. (Without such hooks a strict load that will fail copies nothing; with them, as in
        PyTorch, the present keys are copied before the strict check.)"""
        return _register_hook(self._hooks("_load_state_dict_post_hooks"), hook, False)

    def get_extra_state(self) -> Any:
        """What ``state_dict`` stores under ``"_extra_state"`` for this module; override it together
        with :meth:`set_extra_state` (the default stores nothing).

        >>> import neurarust as nr
        >>> class Counter(nr.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.steps = 0
        ...     def get_extra_state(self):
        ...         return {"steps": self.steps}
        ...     def set_extra_state(self, state):
        ...         self.steps = state["steps"]
        >>> a, b = Counter(), Counter()
        >>> a.steps = 7
        >>> _ = b.load_state_dict(a.state_dict()); b.steps
        7
        """
        raise StateDictError("Reached a code path in Module.get_extra_state() that should never be called: "
                           "override get_extra_state() and set_extra_state() together")

    def set_extra_state(self, state: Any) -> None:
        """Restore what :meth:`get_extra_state` returned (see there)."""
        raise StateDictError("Reached a code path in Module.set_extra_state() that should never be called: "
                           "override get_extra_state() and set_extra_state() together")

    def _has_extra_state(self) -> bool:
        return type(self).get_extra_state is not Module.get_extra_state

    def _local_state(self) -> dict:
        state = {k: v for k, v in self._parameters.items() if v is not None}
        state.update((k, v) for k, v in self._buffers.items()
                     if v is not None and k not in self._non_persistent_buffers_set)
        return state

    def load_state_dict(self, state_dict: dict, strict: bool = True, assign: bool = False) -> _IncompatibleKeys:
        """Copy ``state_dict``'s tensors into the parameters and persistent buffers. Everything is
        checked before anything is copied: with ``strict``, missing or unexpected keys raise; shape
        mismatches or non-tensor values always raise, naming each key. Values may also be PyTorch
        tensors or other DLPack arrays (``model.load_state_dict(torch_model.state_dict())``). Returns
        the (missing_keys, unexpected_keys) named tuple.

        >>> import neurarust as nr
        >>> a, b = nr.nn.Linear(2, 2), nr.nn.Linear(2, 2)
        >>> b.load_state_dict(a.state_dict())
        <All keys matched successfully>
        >>> bool((a.weight == b.weight).all())
        True
        """
        if not hasattr(state_dict, "keys"):
            raise SignatureError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}")
        metadata = getattr(state_dict, "_metadata", None)  # a torch state dict's per-module versions
        state_dict = {k: _as_tensor(v) for k, v in state_dict.items()}
        targets: dict[str, tuple[Module, str, Tensor]] = {}
        extra: dict[str, Module] = {}                       # "_extra_state" keys -> their module
        hook_missing: list = []
        hook_unexpected: list = []
        errors: list = []
        modules = list(self.named_modules(remove_duplicate=False))
        for prefix, module in modules:
            dotted = prefix + ("." if prefix else "")
            local = (metadata or {}).get(prefix, {})
            module._upgrade_state_dict(state_dict, dotted, local.get("version"))
            for hook in list(module._hooks("_load_state_dict_pre_hooks").values()):
                hook(module, state_dict, dotted, local, strict, hook_missing, hook_unexpected, errors)
            for name, t in module._local_state().items():
                targets[dotted + name] = (module, name, t)
                _squeeze_legacy_scalar(state_dict, dotted + name, t)
            if module._has_extra_state():
                extra[dotted + _EXTRA_STATE_KEY] = module
        for key, (_, _, t) in targets.items():   # a lazy module's parameters take the checkpoint's shapes
            materialize = getattr(t, "materialize", None)
            if materialize is not None and isinstance(state_dict.get(key), Tensor):
                materialize(tuple(state_dict[key].shape))
        missing = [k for k in [*targets, *extra] if k not in state_dict] + hook_missing
        unexpected = [k for k in state_dict if k not in targets and k not in extra] + hook_unexpected
        post_hooks = [(m, h) for _, m in modules for h in list(m._hooks("_load_state_dict_post_hooks").values())]
        if strict and not post_hooks:
            errors[:0] = _strict_errors(missing, unexpected)
        for key, (_, _, t) in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                errors.append(f'While copying the parameter named "{key}", expected a Tensor in the state_dict, '
                              f"got {type(value).__module__}.{type(value).__qualname__}.")
            elif tuple(value.shape) != tuple(t.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape {list(value.shape)} from "
                              f"checkpoint, the shape in current model is {list(t.shape)}.")
        if errors:
            raise StateDictError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(errors))
        self._copy_state(state_dict, targets, assign)
        for key, module in extra.items():
            if key in state_dict:
                module.set_extra_state(state_dict[key])
        result = _IncompatibleKeys(missing, unexpected)
        for module, hook in post_hooks:
            hook(module, result)
        if strict and post_hooks and (missing or unexpected):
            raise StateDictError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t"
                                 + "\n\t".join(_strict_errors(missing, unexpected)))
        return result

    def _upgrade_state_dict(self, state_dict: dict, prefix: str, version: int | None) -> None:
        """Fill in, in ``state_dict``, keys of this module that checkpoints from older versions lack
        (PyTorch's ``_load_from_state_dict`` role); ``version`` is the checkpoint's, None if unknown."""

    @staticmethod
    def _copy_state(state_dict: dict, targets: dict, assign: bool) -> None:
        from neurarust.autograd.grad_mode import no_grad

        with no_grad():
            for key, (module, name, t) in targets.items():
                if key not in state_dict:
                    continue
                value = state_dict[key]
                if assign:
                    if isinstance(t, Parameter):
                        module._parameters[name] = value if isinstance(value, Parameter) else \
                            Parameter(value, t.requires_grad)
                    else:
                        module._buffers[name] = value
                else:
                    t.copy_(value)

    # -- calling and hooks --------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` (or ``hook(module, args, kwargs)`` with ``with_kwargs``) runs before
        ``forward``; a non-None result replaces the arguments."""
        return _register_hook(self._forward_pre_hooks, (hook, with_kwargs), prepend)

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) runs after
        ``forward``; a non-None result replaces the output. With ``always_call`` it also runs (with
        output None) when ``forward`` or an earlier hook raises, before the error propagates.

        >>> import neurarust as nr
        >>> m = nr.nn.Identity()
        >>> h = m.register_forward_hook(lambda mod, args, out: out * 2)
        >>> m(nr.ones(2)).tolist()
        [2.0, 2.0]
        >>> h.remove(); m(nr.ones(2)).tolist()
        [1.0, 1.0]
        """
        return _register_hook(self._forward_hooks, (hook, with_kwargs, always_call), prepend)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs when the gradients with respect to the
        module's tensor inputs are computed; a non-None result replaces ``grad_input``."""
        return _register_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output)`` runs when the gradients of the module's outputs are known;
        a non-None result replaces ``grad_output``."""
        return _register_hook(self._backward_pre_hooks, hook, prepend)

    def _call_impl(self, *args: Any, **kwargs: Any) -> Any:
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks or self._backward_pre_hooks):
            return self.forward(*args, **kwargs)
        called: set = set()  # ids of the always_call forward hooks already run
        try:
            for hook, with_kwargs in list(self._forward_pre_hooks.values()):
                if with_kwargs:
                    result = hook(self, args, kwargs)
                    if result is not None:
                        if not (isinstance(result, tuple) and len(result) == 2):
                            raise SignatureError("forward pre-hook must return None or a tuple of "
                                                 "(new_args, new_kwargs)")
                        args, kwargs = result
                else:
                    result = hook(self, args)
                    if result is not None:
                        args = result if isinstance(result, tuple) else (result,)
            state = None
            if self._backward_hooks or self._backward_pre_hooks:
                from .hooks import BackwardHookState

                state = BackwardHookState(self)
                args = state.wrap_inputs(args)
            output = self.forward(*args, **kwargs)
            for hook_id, (hook, with_kwargs, always_call) in list(self._forward_hooks.items()):
                if always_call:
                    called.add(hook_id)
                result = hook(self, args, kwargs, output) if with_kwargs else hook(self, args, output)
                if result is not None:
                    output = result
        except Exception:
            self._run_always_call_hooks(args, kwargs, called)
            raise
        if state is not None:
            output = state.wrap_outputs(output)
        return output

    def _run_always_call_hooks(self, args: tuple, kwargs: dict, called: set) -> None:
        """The ``always_call`` forward hooks not yet run, with output None, after an error; an error of
        theirs is only warned about, so the original one propagates (as PyTorch)."""
        for hook_id, (hook, with_kwargs, always_call) in list(self._forward_hooks.items()):
            if not always_call or hook_id in called:
                continue
            try:
                hook(self, args, kwargs, None) if with_kwargs else hook(self, args, None)
            except Exception as e:  # noqa: BLE001 - the error from forward is the one to report
                warnings.warn("forward hook with ``always_call=True`` raised an exception that was silenced as "
                              f"another error was raised in forward: {e}", stacklevel=3)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        compiled = self.__dict__.get("_compiled_call_impl")
        return (self._call_impl if compiled is None else compiled)(*args, **kwargs)

    def compile(self, *args: Any, **kwargs: Any) -> None:
        """Compile this module's calls in place with :func:`neurarust.compile` (its arguments): the
        module stays the same object (its ``state_dict`` keys unchanged), unlike ``nr.compile(module)``,
        which returns a wrapper.

        >>> import neurarust as nr
        >>> lin = nr.nn.Linear(2, 1)
        >>> lin.compile()
        >>> x = nr.ones(3, 2)
        >>> [tuple(lin(x).shape) for _ in range(3)]    # eager, capture, replay
        [(3, 1), (3, 1), (3, 1)]
        """
        from neurarust.graph.compiler import compile as compile_fn

        self.__dict__["_compiled_call_impl"] = compile_fn(self._call_impl, *args, **kwargs)

    # -- printing -----------------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _add_indent(repr(module), 2) for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


_EXTRA_STATE_KEY = "_extra_state"


def _strict_errors(missing: list, unexpected: list) -> list:
    """PyTorch's messages for a strict load, missing keys first."""
    errors = []
    if missing:
        errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
    if unexpected:
        errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
    return errors


def _squeeze_legacy_scalar(state_dict: dict, key: str, target: Tensor) -> None:
    """A shape-[1] value loads into a 0-d parameter or buffer: PyTorch's rule for checkpoints from
    before 0-d tensors existed (0.3)."""
    value = state_dict.get(key)
    if isinstance(value, Tensor) and target.ndim == 0 and tuple(value.shape) == (1,):
        state_dict[key] = value.reshape(())


def _as_tensor(value: Any) -> Any:
    """A state-dict value as a NeuraRust tensor: other DLPack arrays (a PyTorch state dict's tensors,
    NumPy arrays) are wrapped without a copy; anything else is left for the checks to report."""
    if isinstance(value, Tensor) or not hasattr(value, "__dlpack__"):
        return value
    from neurarust.interop import from_dlpack

    return from_dlpack(value.detach() if hasattr(value, "detach") else value)


def _parse_to(args: tuple, kwargs: dict):
    """(device or None, dtype or None) from ``to``'s arguments: a device, a dtype, both, or a tensor."""
    dev = kwargs.pop("device", None)
    dt = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise SignatureError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dt = a.device, a.dtype
        elif isinstance(a, _dt.DType) or (not isinstance(a, (str, int)) and _is_dtype(a)):
            dt = a
        else:
            dev = a
    return (as_device(dev) if dev is not None else None), (_dt.as_dtype(dt) if dt is not None else None)


def _is_dtype(obj: Any) -> bool:
    try:
        _dt.as_dtype(obj)
    except Exception:  # noqa: BLE001 - anything that is not a dtype is a device (checked by as_device)
        return False
    return True
