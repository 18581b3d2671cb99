"""``neurarust.nn.utils.parametrize``: a module's parameter computed by a small module from stored
"original" tensors, as PyTorch's ``torch.nn.utils.parametrize``. ``register_parametrization(m,
"weight", P())`` moves ``m.weight`` to ``m.parametrizations.weight.original`` and makes ``m.weight``
a property that returns ``P()(original)`` on every access (differentiably, so the optimizer trains
the original); several parametrizations of one tensor chain in registration order.

    >>> import neurarust as nr
    >>> from neurarust import nn
    >>> class Symmetric(nn.Module):
    ...     def forward(self, x):
    ...         return x.triu() + x.triu(1).transpose(-1, -2)
    >>> lin = nn.Linear(3, 3)
    >>> _ = register_parametrization(lin, "weight", Symmetric())
    >>> bool((lin.weight == lin.weight.t()).all()), sorted(lin.state_dict())
    (True, ['bias', 'parametrizations.weight.original'])
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from neurarust.autograd.grad_mode import no_grad
from neurarust.errors import ArgumentError
from neurarust.tensor import Tensor

from .container import ModuleDict, ModuleList
from .module import Module
from .parameter import Parameter

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "ParametrizationList", "type_before_parametrizations", "transfer_parametrizations_and_params"]


class _Cache(threading.local):
    def __init__(self) -> None:
        self.depth = 0
        self.values: dict = {}


_cache = _Cache()


@contextlib.contextmanager
def cached() -> Iterator[None]:
    """Within the block, each parametrized tensor is computed once (at its first access) and reused.

    >>> import neurarust as nr
    >>> with cached():
    ...     pass
    """
    _cache.depth += 1
    try:
        yield
    finally:
        _cache.depth -= 1
        if not _cache.depth:
            _cache.values.clear()


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order to ``original`` (or, when the first has a
    ``right_inverse`` returning several tensors, to ``original0``, ``original1``, ...)."""

    def __init__(self, modules: list, original: Tensor, unsafe: bool = False) -> None:
        super().__init__(modules)
        self.unsafe = unsafe
        with no_grad():
            stored = self._inverse_of(original)
        self.is_tensor = isinstance(stored, Tensor)
        self.ntensors = 1 if self.is_tensor else len(stored)
        for name, value in self._named(stored):
            self._store(name, value, original)

    def _named(self, stored) -> list:
        return [("original", stored)] if isinstance(stored, Tensor) else [(f"original{i}", t)
                                                                          for i, t in enumerate(stored)]

    def _store(self, name: str, value: Tensor, like: Tensor) -> None:
        if isinstance(like, Parameter):
            self.register_parameter(name, Parameter(value.detach(), like.requires_grad))
        else:
            self.register_buffer(name, value.detach())

    def _inverse_of(self, value: Tensor):
        """The originals that give ``value``: each parametrization's ``right_inverse``, last first
        (the identity for those without one)."""
        for module in reversed(list(self)):
            inverse = getattr(module, "right_inverse", None)
            if inverse is not None:
                value = inverse(value)
        return value

    def right_inverse(self, value: Tensor) -> None:
        """Set the originals so that the parametrized tensor becomes ``value`` (``m.weight = value``)."""
        with no_grad():
            stored = self._inverse_of(value)
            for name, t in self._named(stored):
                original = getattr(self, name)
                if tuple(t.shape) != tuple(original.shape) and not self.unsafe:
                    raise ArgumentError(f"parametrization: right_inverse gave {name} of shape {list(t.shape)}, "
                                        f"expected {list(original.shape)}")
                original.copy_(t)

    def forward(self) -> Tensor:
        originals = [getattr(self, name) for name in (["original"] if self.is_tensor else
                                                      [f"original{i}" for i in range(self.ntensors)])]
        modules = list(self)
        x = modules[0](*originals)
        for module in modules[1:]:
            x = module(x)
        return x


def _property(tensor_name: str) -> property:
    def get(self) -> Tensor:
        key = (id(self), tensor_name)
        if _cache.depth and key in _cache.values:
            return _cache.values[key]
        value = self.parametrizations[tensor_name]()
        if _cache.depth:
            _cache.values[key] = value
        return value

    def set(self, value: Tensor) -> None:
        self.parametrizations[tensor_name].right_inverse(value)

    return property(get, set)


def _parametrized_class(module: Module) -> type:
    """A subclass of the module's class that holds its parametrized properties (one per module)."""
    cls = type(module)
    if getattr(cls, "_parametrized_base", None) is not None:
        return cls
    sub = type(f"Parametrized{cls.__name__}", (cls,), {"_parametrized_base": cls})
    module.__class__ = sub
    return sub


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *,
                             unsafe: bool = False) -> Module:
    """Make ``module.<tensor_name>`` the output of ``parametrization`` applied to the stored original
    (chained after earlier ones of that tensor); returns ``module``.

    >>> import neurarust as nr
    >>> class Double(nr.nn.Module):
    ...     def forward(self, x):
    ...         return 2 * x
    >>> lin = register_parametrization(nr.nn.Linear(1, 1, bias=False), "weight", Double())
    >>> lin.weight.item() == 2 * lin.parametrizations.weight.original.item()
    True
    """
    if not isinstance(parametrization, Module):
        raise ArgumentError(f"register_parametrization: the parametrization must be an nn.Module, "
                            f"got {type(parametrization).__name__}")
    if is_parametrized(module, tensor_name):
        entry = module.parametrizations[tensor_name]
        if not unsafe:
            with no_grad():
                current = entry()
                out = parametrization(current)
            if tuple(out.shape) != tuple(current.shape) or out.dtype != current.dtype:
                raise ArgumentError(f"register_parametrization: {type(parametrization).__name__} changes the "
                                    f"shape or dtype of {tensor_name!r}; pass unsafe=True if that is intended")
        entry.append(parametrization)
        return module
    original = getattr(module, tensor_name, None)
    if not isinstance(original, Tensor) or (tensor_name not in module._parameters
                                            and tensor_name not in module._buffers):
        raise ArgumentError(f"register_parametrization: module has no parameter or buffer {tensor_name!r}")
    entry = ParametrizationList([parametrization], original, unsafe)
    if not unsafe:
        with no_grad():
            out = entry()
        if not isinstance(out, Tensor) or tuple(out.shape) != tuple(original.shape) or out.dtype != original.dtype:
            raise ArgumentError(f"register_parametrization: {type(parametrization).__name__} must keep the shape "
                                f"and dtype of {tensor_name!r}; pass unsafe=True if it does not")
    delattr(module, tensor_name)
    if not is_parametrized(module):
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = entry
    setattr(_parametrized_class(module), tensor_name, _property(tensor_name))
    return module


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` (or its ``tensor_name``) has a parametrization.

    >>> import neurarust as nr
    >>> is_parametrized(nr.nn.Linear(1, 1))
    False
    """
    entries = module._modules.get("parametrizations")
    if not isinstance(entries, ModuleDict):
        return False
    return len(entries) > 0 if tensor_name is None else tensor_name in entries


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Undo the parametrizations of ``tensor_name``: it becomes a plain parameter (or buffer) again,
    holding the parametrized value (``leave_parametrized``) or the original.

    >>> import neurarust as nr
    >>> class Double(nr.nn.Module):
    ...     def forward(self, x):
    ...         return 2 * x
    >>> lin = register_parametrization(nr.nn.Linear(1, 1, bias=False), "weight", Double())
    >>> type(remove_parametrizations(lin, "weight").weight).__name__, is_parametrized(lin)
    ('Parameter', False)
    """
    if not is_parametrized(module, tensor_name):
        raise ArgumentError(f"remove_parametrizations: module has no parametrization on {tensor_name!r}")
    entry = module.parametrizations[tensor_name]
    if not leave_parametrized and not entry.is_tensor:
        raise ArgumentError("remove_parametrizations: leave_parametrized=False needs a single original tensor")
    with no_grad():
        value = entry() if leave_parametrized else entry.original
    first = entry.original if entry.is_tensor else entry.original0
    cls = type(module)
    delattr(cls, tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(first, Parameter):
        module.register_parameter(tensor_name, Parameter(value.detach(), first.requires_grad))
    else:
        module.register_buffer(tensor_name, value.detach())
    if not is_parametrized(module):
        del module.parametrizations
        module.__class__ = cls._parametrized_base
    return module


def type_before_parametrizations(module: Module) -> type:
    """The module's class before any parametrization was registered.

    >>> import neurarust as nr
    >>> type_before_parametrizations(nr.nn.Linear(1, 1)).__name__
    'Linear'
    """
    return getattr(type(module), "_parametrized_base", None) or type(module)


def transfer_parametrizations_and_params(from_module: Module, to_module: Module,
                                         tensor_name: str | None = None) -> Module:
    """Register ``from_module``'s parametrizations (all, or those of ``tensor_name``) on ``to_module``,
    with the same originals' values.

    >>> import neurarust as nr
    >>> transfer_parametrizations_and_params(nr.nn.Linear(1, 1), nr.nn.Linear(1, 1)).weight.shape
    neurarust.Size([1, 1])
    """
    if not is_parametrized(from_module):
        return to_module
    names = [tensor_name] if tensor_name is not None else list(from_module.parametrizations.keys())
    for name in names:
        source = from_module.parametrizations[name]
        for parametrization in source:
            register_parametrization(to_module, name, parametrization, unsafe=source.unsafe)
        target = to_module.parametrizations[name]
        with no_grad():
            for original in (["original"] if source.is_tensor else [f"original{i}" for i in range(source.ntensors)]):
                getattr(target, original).copy_(getattr(source, original))
    return to_module
