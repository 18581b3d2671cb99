"""More of PyTorch's Tensor methods, installed on ``Tensor`` when this module loads (tensor.py
imports it last): the legacy constructor ``new``; ``apply_``/``map_``/``map2_``, which run a Python
callable on every element (CPU only, as torch); the in-place forms of compositions (``gcd_``,
``lcm_``, ``ldexp_``, ``float_power_``, ``heaviside_``, ``nextafter_``, ``mvlgamma_``, ``renorm_``,
``addr_``), made from one table; ``dim_order``, ``const_data_ptr`` and ``prelu``.

    >>> import neurarust as nr
    >>> x = nr.tensor([1.0, 2.0])
    >>> x.new(2, 3).shape, x.apply_(lambda v: v * 10).tolist()
    (neurarust.Size([2, 3]), [10.0, 20.0])
"""
from __future__ import annotations

import builtins
from typing import Any, Callable

import numpy as np

from . import dtype as _dt
from . import memory_formats as _mf
from .errors import AutogradError, DeviceError, DTypeError, ShapeError, SignatureError
from .shape import Size
from .tensor import Tensor, _check_inplace, _composition_inplace, _composition_method


def _new(self: Tensor, *args: Any, device: Any = None) -> Tensor:
    """PyTorch's legacy constructor, of this tensor's dtype and (unless ``device`` says) device:
    ``x.new()`` an empty 1-D tensor, ``x.new(2, 3)`` or ``x.new(nr.Size([2, 3]))`` uninitialised,
    ``x.new([1, 2])`` (any non-int data, tuples included) from data, ``x.new(t)`` ``t`` itself
    (which must have this dtype).

    >>> import neurarust as nr
    >>> x = nr.zeros(1, dtype=nr.float64)
    >>> x.new(2, 3).shape, x.new([1, 2]).tolist(), x.new([1]).dtype, x.new().shape
    (neurarust.Size([2, 3]), [1.0, 2.0], neurarust.float64, neurarust.Size([0]))
    """
    from .creation import empty, tensor

    dev = self.device if device is None else device
    if len(args) == 1 and isinstance(args[0], Tensor):
        other = args[0]
        if other.dtype is not self.dtype:
            raise DTypeError(f"new: expected a tensor of dtype {self.dtype} (got {other.dtype})")
        return other
    if not args or builtins.all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        return empty(*(args or (0,)), dtype=self.dtype, device=dev)
    if len(args) == 1 and isinstance(args[0], Size):
        return empty(tuple(args[0]), dtype=self.dtype, device=dev)
    if len(args) == 1:
        return tensor(args[0], dtype=self.dtype, device=dev)
    raise SignatureError(f"new: expected sizes (ints), a Size, data or a tensor, got {[type(a).__name__ for a in args]}")


def _elements(t: Tensor, shape: tuple) -> list:
    """``t``'s elements broadcast to ``shape``, flat, as Python scalars (floats as float64 values)."""
    a = t.detach().numpy()
    if t.dtype.is_floating_point:
        a = a.astype(np.float64)
    try:
        return np.broadcast_to(a, shape).ravel().tolist()
    except ValueError:
        raise ShapeError(f"the tensor of shape {list(t.shape)} does not broadcast to {list(shape)}") from None


def _elementwise(name: str, self: Tensor, others: tuple, fn: Callable) -> Tensor:
    """``self`` overwritten with ``fn`` of its elements and ``others``' (broadcast to it)."""
    if not callable(fn):
        raise SignatureError(f"{name}: expected a callable, got {type(fn).__name__}")
    for t in (self, *others):
        if not isinstance(t, Tensor):
            raise SignatureError(f"{name}: expected tensors, got {type(t).__name__}")
        if t.device.type != "cpu":
            raise DeviceError(f"{name}() is only implemented on CPU tensors (got a tensor on {t.device})")
        if t.dtype is not self.dtype:
            raise DTypeError(f"{name}: expected {self.dtype} for every tensor (got {t.dtype})")
    if self.requires_grad:
        raise AutogradError(f"Can't call {name}() on a tensor that requires grad; use tensor.detach().{name}()")
    _check_inplace(self, name)
    shape = tuple(self.shape)
    values = [fn(*v) for v in zip(*(_elements(t, shape) for t in (self, *others)))]
    from .creation import from_numpy

    result = np.array(values, dtype=object if values else np.float64).astype(self.dtype.np).reshape(shape)
    return self.copy_(from_numpy(result))


def _apply_(self: Tensor, callable: Callable) -> Tensor:
    """Replace each element ``v`` with ``callable(v)`` in place (CPU only: a Python call per element;
    results cast to this dtype, floats truncated toward zero for integer tensors).

    >>> import neurarust as nr
    >>> nr.tensor([1, 2, 3]).apply_(lambda v: v * 2.7).tolist()
    [2, 5, 8]
    """
    return _elementwise("apply_", self, (), callable)


def _map_(self: Tensor, tensor: Tensor, callable: Callable) -> Tensor:
    """Replace each element ``a`` with ``callable(a, b)``, ``b`` from ``tensor`` broadcast to this
    shape (same dtype; CPU only).

    >>> import neurarust as nr
    >>> nr.tensor([1.0, 2.0]).map_(nr.tensor([10.0]), lambda a, b: a + b).tolist()
    [11.0, 12.0]
    """
    return _elementwise("map_", self, (tensor,), callable)


def _map2_(self: Tensor, x: Tensor, y: Tensor, callable: Callable) -> Tensor:
    """Replace each element ``a`` with ``callable(a, b, c)``, ``b`` and ``c`` from ``x`` and ``y``
    broadcast to this shape (same dtype; CPU only).

    >>> import neurarust as nr
    >>> nr.tensor([1.0, 2.0]).map2_(nr.tensor([10.0, 20.0]), nr.tensor([2.0]), lambda a, b, c: a + b * c).tolist()
    [21.0, 42.0]
    """
    return _elementwise("map2_", self, (x, y), callable)


def _should_swap(shape: tuple, strides: tuple, a: int, b: int) -> int:
    """1 when dim ``a`` lies inside dim ``b`` in memory, -1 when outside, 0 when unknown (torch's rule:
    stride-0 dims say nothing; equal strides order by size)."""
    sa, sb = strides[a], strides[b]
    if sa == 0 or sb == 0:
        return 0
    if sa == sb:
        return 0 if _at_least(shape[b], shape[a]) else 1
    return -1 if _at_least(sb, sa) else 1


def _at_least(x: int, y: int) -> bool:
    return y == 0 or (x != 0 and (x >= y or x % y == 0))


def _dim_order(self: Tensor) -> tuple:
    """The dims from outermost to innermost in memory (``(0, 1, ..., n-1)`` when contiguous), as
    ``torch.Tensor.dim_order`` orders them.

    >>> import neurarust as nr
    >>> nr.zeros(2, 3, 4).dim_order(), nr.zeros(2, 3, 4).permute(2, 0, 1).dim_order()
    ((0, 1, 2), (1, 2, 0))
    """
    shape, strides, n = tuple(self.shape), tuple(self.stride()), self.ndim
    if n <= 1:
        return tuple(builtins.range(n))
    contiguous = self.is_contiguous()
    last = n == 4 and _mf.is_in_format(shape, strides, _mf.channels_last)
    if contiguous and not last:
        return tuple(builtins.range(n))
    if last and not contiguous:
        return (0, 2, 3, 1)
    perm = list(reversed(builtins.range(n)))  # innermost first; insertion sort by stride
    for i in builtins.range(1, n):
        j = i
        for k in reversed(builtins.range(i)):
            order = _should_swap(shape, strides, perm[k], perm[j])
            if order > 0:
                perm[k], perm[j] = perm[j], perm[k]
                j = k
            elif order < 0:
                break
    return tuple(reversed(perm))


def _const_data_ptr(self: Tensor) -> int:
    """``data_ptr()``: NeuraRust has no copy-on-write storage to keep read-only.

    >>> import neurarust as nr
    >>> x = nr.zeros(2); x.const_data_ptr() == x.data_ptr()
    True
    """
    return self.data_ptr()


# name_ -> (module of the composition, its example tensor, the example's arguments)
INPLACE = {"gcd": ("compositions", "[4, 6]", "nr.tensor([6, 4])"),
           "lcm": ("compositions", "[4, 6]", "nr.tensor([6, 4])"),
           "ldexp": ("compositions", "[1.0, 3.0]", "nr.tensor([2, 3])"),
           "float_power": ("compositions", "[2.0, 3.0], dtype=nr.float64", "2"),
           "heaviside": ("compositions", "[-1.0, 0.0, 2.0]", "nr.tensor(0.5)"),
           "nextafter": ("compositions", "[1.0, 2.0]", "nr.tensor([2.0, 1.0])"),
           "mvlgamma": ("compositions", "[2.5, 3.0]", "2"),
           "renorm": ("compositions", "[[3.0, 4.0], [0.3, 0.4]]", "2, 0, 1.0"),
           "addr": ("matrices", "[[1.0, 2.0], [3.0, 4.0]]", "nr.ones(2), nr.tensor([1.0, 2.0])")}


def _float64_only(method: Callable) -> Callable:
    """torch's ``float_power_`` writes a float64 result, so only into a float64 tensor."""
    def float_power_(self: Tensor, exponent: Any) -> Tensor:
        if self.dtype is not _dt.float64:
            raise DTypeError(f"float_power_: the base has dtype {self.dtype} but the result requires float64")
        return method(self, exponent)

    float_power_.__doc__ = method.__doc__
    return float_power_


for _name, (_module, _values, _example) in INPLACE.items():
    if _name + "_" not in vars(Tensor):
        _method = _composition_inplace(_module, _name, _name + "_", _values, _example)
        setattr(Tensor, _name + "_", _float64_only(_method) if _name == "float_power" else _method)

for _name, _fn in (("new", _new), ("apply_", _apply_), ("map_", _map_), ("map2_", _map2_),
                   ("dim_order", _dim_order), ("const_data_ptr", _const_data_ptr),
                   ("prelu", _composition_method("functional_aliases", "prelu"))):
    if _name not in vars(Tensor):
        _fn.__name__ = _fn.__qualname__ = _name
        setattr(Tensor, _name, _fn)


def _top_level(name: str) -> Callable[..., Tensor]:
    """``nr.<name>_(input, ...)``: the top-level form torch has of an in-place method above."""
    _, values, example = INPLACE[name]

    def function(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if not isinstance(input, Tensor):
            raise SignatureError(f"{name}_(): argument 'input' must be a Tensor, not {type(input).__name__}")
        return getattr(input, name + "_")(*args, **kwargs)

    function.__name__ = function.__qualname__ = name + "_"
    function.__doc__ = (f"``nr.{name}_(input, ...)`` is ``input.{name}_(...)``: ``input`` overwritten and returned.\n\n"
                        f"    >>> import neurarust as nr\n    >>> x = nr.tensor({values})\n"
                        f"    >>> nr.{name}_(x, {example}) is x\n    True\n")
    return function


# torch.gcd_, torch.lcm_, torch.ldexp_ (torch has no top-level form of the other in-place methods here)
gcd_, lcm_, ldexp_ = (_top_level(n) for n in ("gcd", "lcm", "ldexp"))
