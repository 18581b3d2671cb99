"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``, ``ParameterDict``.

    >>> import neurarust as nr
    >>> blocks = nr.nn.ModuleList([nr.nn.Linear(2, 2) for _ in range(3)])
    >>> len(blocks), len(list(blocks.parameters()))
    (3, 6)
"""
from __future__ import annotations

import operator
from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping

from neurarust.errors import ArgumentError, IndexOutOfRangeError, SignatureError
from neurarust.tensor import Tensor

from .module import Module, _add_indent
from .parameter import Parameter


def _index(idx: int, n: int, what: str) -> int:
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexOutOfRangeError(f"index {idx} is out of range for a {what} of length {n}")
    return idx % n



def _renumber(modules: dict, values: list) -> None:
    """Refill ``modules`` with ``values`` under the keys "0".."n-1" (after a deletion)."""
    modules.clear()
    for i, m in enumerate(values):
        modules[str(i)] = m

class Sequential(Module):
    """Modules applied one after another; built from positional modules or an OrderedDict.

    >>> import neurarust as nr
    >>> net = nr.nn.Sequential(nr.nn.Linear(4, 3), nr.nn.ReLU(), nr.nn.Linear(3, 1))
    >>> net(nr.ones(2, 4)).shape, type(net[1]).__name__, len(net[:2])
    (neurarust.Size([2, 1]), 'ReLU', 2)
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(idx, len(self), "Sequential")]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, idx) -> None:
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(self), "Sequential")]]):
            del self._modules[key]
        if all(k.isdigit() for k in keys):  # keep 0..n-1 numbering, as PyTorch
            _renumber(self._modules, list(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "Sequential":
        """Add each of ``modules`` at the end."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        """Insert ``module`` before position ``index``."""
        values = list(self._modules.values())
        n = len(values)
        index = index + n if index < 0 else index
        if not 0 <= index <= n:
            raise IndexOutOfRangeError(f"index {index} is out of range for a Sequential of length {n}")
        values.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(values):
            self.add_module(str(i), m)
        return self

    def pop(self, key: int | slice) -> Module:
        """Remove and return the module at ``key`` (the rest are renumbered).

        >>> import neurarust as nr
        >>> seq = nr.nn.Sequential(nr.nn.ReLU(), nr.nn.Tanh())
        >>> seq.pop(0), len(seq)
        (ReLU(), 1)
        """
        v = self[key]
        del self[key]
        return v

    def __add__(self, other: "Sequential") -> "Sequential":
        return Sequential(*self, *_sequential_operand(other))

    def __iadd__(self, other: "Sequential") -> "Sequential":
        return self.extend(_sequential_operand(other))

    def __mul__(self, times: int) -> "Sequential":
        if not isinstance(times, int) or isinstance(times, bool):
            raise SignatureError(f"unsupported operand type(s) for *: Sequential and {type(times).__name__}")
        if times <= 0:
            raise ArgumentError(f"Non-positive multiplication factor {times} for Sequential")
        return Sequential(*(list(self) * times))

    __rmul__ = __mul__

    def forward(self, input: Any) -> Any:
        for module in self:
            input = module(input)
        return input


def _sequential_operand(other: Any) -> "Sequential":
    if not isinstance(other, Sequential):
        raise ArgumentError("add operator supports only objects of Sequential class, "
                            f"but {type(other).__name__} is given.")
    return other


class ModuleList(Module):
    """A list of modules, registered so their parameters are found.

    >>> import neurarust as nr
    >>> layers = nr.nn.ModuleList([nr.nn.ReLU()])
    >>> _ = layers.append(nr.nn.Tanh())
    >>> [type(m).__name__ for m in layers]
    ['ReLU', 'Tanh']
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx) -> None:
        values = list(self._modules.values())
        if isinstance(idx, slice):
            del values[idx]
        else:
            del values[_index(idx, len(self), "ModuleList")]
        _renumber(self._modules, values)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> "ModuleList":
        return ModuleList(list(self) + list(other))

    def append(self, module: Module) -> "ModuleList":
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        """Add each of ``modules`` at the end."""
        if isinstance(modules, (Module, Tensor)) or not hasattr(modules, "__iter__"):
            raise SignatureError(f"ModuleList.extend should be called with an iterable, got {type(modules).__name__}")
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        values = list(self._modules.values())
        values.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(values):
            self.add_module(str(i), m)

    def pop(self, key: int | slice) -> Module:
        """Remove and return the module at ``key`` (the rest are renumbered).

        >>> import neurarust as nr
        >>> layers = nr.nn.ModuleList([nr.nn.ReLU(), nr.nn.Tanh()])
        >>> layers.pop(-1), len(layers)
        (Tanh(), 1)
        """
        v = self[key]
        del self[key]
        return v

    def __repr__(self) -> str:
        """PyTorch's compressed form: a run of equal reprs prints once as ``(i-j): n x repr``."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        runs: list[list] = []  # [first index, last index, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [_add_indent(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}", 2) for a, b, r in runs]
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules by name, registered so their parameters are found.

    >>> import neurarust as nr
    >>> heads = nr.nn.ModuleDict({"a": nr.nn.Linear(2, 1)})
    >>> list(heads.keys()), "a" in heads
    (['a'], True)
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()

    def pop(self, key: str) -> Module:
        """Remove and return the module under ``key``."""
        return self._modules.pop(key)

    def keys(self):
        """The names."""
        return self._modules.keys()

    def items(self):
        """(name, module) pairs."""
        return self._modules.items()

    def values(self):
        """The modules."""
        return self._modules.values()

    def update(self, modules: Mapping[str, Module] | Iterable) -> None:
        """Add (or replace) modules from a mapping or (name, module) pairs."""
        for key, module in _pairs(modules, "ModuleDict"):
            self[key] = module


class ParameterList(Module):
    """A list of parameters (tensors given to it become Parameters).

    >>> import neurarust as nr
    >>> ps = nr.nn.ParameterList([nr.zeros(2), nr.ones(3)])
    >>> [p.shape[0] for p in ps], [n for n, _ in ps.named_parameters()]
    ([2, 3], ['0', '1'])
    """

    def __init__(self, values: Iterable[Tensor] | None = None) -> None:
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList(list(self)[idx])
        return getattr(self, str(_index(idx, self._size, "ParameterList")))

    def __setitem__(self, idx: int, param: Any) -> None:
        idx = _index(idx, self._size, "ParameterList")
        setattr(self, str(idx), _as_parameter(param))

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(self._size))

    def __iadd__(self, params: Iterable[Any]) -> "ParameterList":
        return self.extend(params)

    def append(self, value: Any) -> "ParameterList":
        """Add ``value`` (a tensor becomes a Parameter) at the end."""
        self._size += 1
        setattr(self, str(self._size - 1), _as_parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> "ParameterList":
        """Add each of ``values`` at the end."""
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        return "\n".join(f"  ({i}): {_describe(p)}" for i, p in enumerate(self))


class ParameterDict(Module):
    """A dict of parameters by name (tensors given to it become Parameters).

    >>> import neurarust as nr
    >>> pd = nr.nn.ParameterDict({"scale": nr.ones(1)})
    >>> list(pd.keys()), pd["scale"].requires_grad
    (['scale'], True)
    """

    def __init__(self, parameters: Mapping[str, Any] | Iterable | None = None) -> None:
        super().__init__()
        self._keys: dict[str, None] = {}
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise SignatureError(f"Index given to ParameterDict cannot be used as a key as it is not a string "
                                 f"(type is '{type(key).__name__}')")
        self._keys[key] = None
        setattr(self, key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._keys[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def keys(self):
        """The names."""
        return self._keys.keys()

    def items(self):
        """(name, parameter) pairs."""
        return [(k, self[k]) for k in self._keys]

    def values(self):
        """The parameters."""
        return [self[k] for k in self._keys]

    def pop(self, key: str) -> Any:
        """Remove and return the parameter under ``key``."""
        v = self[key]
        del self[key]
        return v

    def update(self, parameters: Mapping[str, Any] | Iterable) -> None:
        """Add (or replace) entries from a mapping or (name, value) pairs."""
        for key, value in _pairs(parameters, "ParameterDict"):
            self[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        """The entry under ``key``, or ``default``.

        >>> import neurarust as nr
        >>> pd = nr.nn.ParameterDict({"w": nr.ones(1)})
        >>> pd.get("w").tolist(), pd.get("b")
        ([1.0], None)
        """
        return self[key] if key in self else default

    def setdefault(self, key: str, default: Any = None) -> Any:
        """The entry under ``key``, set to ``default`` first if absent.

        >>> import neurarust as nr
        >>> pd = nr.nn.ParameterDict()
        >>> pd.setdefault("b", nr.zeros(2)).shape, list(pd)
        (neurarust.Size([2]), ['b'])
        """
        if key not in self:
            self[key] = default
        return self[key]

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last inserted (key, parameter) pair.

        >>> import neurarust as nr
        >>> pd = nr.nn.ParameterDict({"a": nr.zeros(1), "b": nr.ones(1)})
        >>> pd.popitem()[0], list(pd)
        ('b', ['a'])
        """
        key = next(reversed(self._keys))
        return key, self.pop(key)

    def clear(self) -> None:
        """Remove every entry.

        >>> import neurarust as nr
        >>> pd = nr.nn.ParameterDict({"a": nr.zeros(1)}); pd.clear(); len(pd)
        0
        """
        for key in list(self._keys):
            del self[key]

    def copy(self) -> "ParameterDict":
        """A new ParameterDict holding the same parameters (not copies of them).

        >>> import neurarust as nr
        >>> pd = nr.nn.ParameterDict({"a": nr.zeros(1)})
        >>> pd.copy()["a"] is pd["a"]
        True
        """
        return ParameterDict(OrderedDict(self.items()))

    def extra_repr(self) -> str:
        return "\n".join(f"  ({k}): {_describe(p)}" for k, p in self.items())


def _pairs(entries: Any, owner: str) -> list:
    """(key, value) pairs of a mapping or an iterable of pairs, with PyTorch's errors for anything else."""
    if hasattr(entries, "items"):
        return list(entries.items())
    if not hasattr(entries, "__iter__") or isinstance(entries, (str, Tensor)):
        raise SignatureError(f"{owner}.update should be called with an iterable of key/value pairs, "
                             f"but got {type(entries).__name__}")
    pairs = [tuple(e) if hasattr(e, "__iter__") else e for e in entries]
    for i, pair in enumerate(pairs):
        if not isinstance(pair, tuple) or len(pair) != 2:
            length = len(pair) if isinstance(pair, tuple) else type(pair).__name__
            raise ArgumentError(f"{owner} update sequence element #{i} has length {length}; 2 is required")
    return pairs


def _as_parameter(value: Any) -> Any:
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _describe(p: Any) -> str:
    if not isinstance(p, Tensor):
        return f"Object of type: {type(p).__name__}"
    kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
    size = "x".join(str(s) for s in p.shape)
    return f"{kind} containing: [neurarust.{p.dtype.name} of size {size}]"


class Container(Module):
    """Deprecated (PyTorch's too): a ``Module`` holding the modules given as keyword arguments; warns
    on construction. Subclass ``Module`` instead.

    >>> import warnings, neurarust as nr
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     nr.nn.Container(fc=nr.nn.Linear(2, 1))
    Container(
      (fc): Linear(in_features=2, out_features=1, bias=True)
    )
    """

    def __init__(self, **kwargs: Any) -> None:
        import warnings

        warnings.warn("`nn.Container` is deprecated. All of its functionality is now implemented in `nn.Module`. "
                      "Subclass that instead.", FutureWarning, stacklevel=2)
        super().__init__()
        for key, value in kwargs.items():
            self.add_module(key, value)
