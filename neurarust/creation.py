"""Tensor creation: ``tensor``, ``as_tensor``, ``from_numpy``, ``empty``, ``zeros``, ``ones``, ``full``,
``*_like``, ``eye``, ``linspace``, ``logspace``, with PyTorch's signatures.

    >>> import neurarust as nr
    >>> nr.full((2, 2), 7, dtype=nr.int32).tolist()
    [[7, 7], [7, 7]]
    >>> nr.tensor([1.5, 2]).dtype
    neurarust.float32
"""
from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from . import dtype as _dt
from .device import CPU, as_device
from .dtype import DType
from .errors import ArgumentError, DTypeError, ShapeError
from .memory_formats import layout_order, preserve_format, strides_in_order
from .shape import as_shape
from .tensor import Tensor


def _infer_dtype(arr: np.ndarray, from_python: bool) -> DType:
    if from_python:
        kind = arr.dtype.kind
        if kind == "f":
            return _dt.get_default_dtype()
        if kind in "iu":
            return _dt.int64
        if kind == "b":
            return _dt.bool_
        raise DTypeError(f"cannot make a tensor from data of NumPy dtype {arr.dtype}")
    return _dt.as_dtype(arr.dtype)


# Only these take PyTorch's Python-data dtypes (float -> default dtype, int -> int64); anything else
# (NumPy arrays and scalars, torch tensors, objects with __array__ or __dlpack__) keeps its own dtype.
_PYTHON_DATA = (list, tuple, bool, int, float, complex)


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, arrays or tensors): it never
    shares memory with ``data``. Python floats take the default dtype and ints int64; arrays and
    tensors of other libraries keep their dtype.

    >>> import numpy as np, neurarust as nr
    >>> nr.tensor([[1, 2], [3, 4]]).shape
    neurarust.Size([2, 2])
    >>> a = np.zeros(2, dtype=np.int32)
    >>> t = nr.tensor(a); t[0] = 5
    >>> t.dtype, a.tolist()
    (neurarust.int32, [0, 0])
    """
    return _maybe_requires_grad(as_tensor(data, dtype, device, _copy=True), requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None, *, _copy: bool = False) -> Tensor:
    """Like :func:`tensor`, but shares memory with a NumPy array or tensor when dtype and device allow.

    >>> import numpy as np, neurarust as nr
    >>> a = np.zeros(3, dtype=np.float32)
    >>> nr.as_tensor(a).numpy() is not None and np.shares_memory(nr.as_tensor(a).numpy(), a)
    True
    """
    if isinstance(data, Tensor):
        return data.to(device=data.device if device is None else device,
                       dtype=data.dtype if dtype is None else dtype, copy=_copy)
    # np.float64 is a float subclass, yet a NumPy scalar keeps its dtype as arrays do.
    from_python = isinstance(data, _PYTHON_DATA) and not isinstance(data, np.generic)
    if not from_python and not isinstance(data, (np.ndarray, np.generic)) and hasattr(data, "__dlpack__"):
        # torch and friends: DLPack reads bfloat16 and CUDA memory, which np.asarray cannot.
        from .interop import from_dlpack

        return as_tensor(from_dlpack(data), dtype, device, _copy=_copy)
    if from_python and _contains_tensor(data):
        data = _tensors_to_lists(data)
    try:
        arr = np.asarray(data)
    except ValueError as e:  # NumPy's words for ragged nesting
        raise ShapeError(f"cannot make a tensor from ragged {type(data).__name__} data: {e}") from None
    if arr.dtype == object:
        raise DTypeError(f"cannot make a tensor from {type(data).__name__} data (ragged or non-numeric)")
    if dtype is not None:
        d = _dt.as_dtype(dtype)
    elif from_python and arr.size == 0:
        d = _dt.get_default_dtype()
    else:
        d = _infer_dtype(arr, from_python)
    if arr.dtype != d.np:
        arr = arr.astype(d.np)  # a new array already
    elif _copy and not from_python:  # np.asarray of Python data is always a new array
        arr = arr.copy()
    t = Tensor._from_array(arr, d)
    dev = as_device(device)
    return t.to(dev) if dev != CPU else t


def _contains_tensor(data) -> bool:
    if isinstance(data, Tensor):
        return True
    return isinstance(data, (list, tuple)) and any(_contains_tensor(x) for x in data)


def _tensors_to_lists(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_tensors_to_lists(x) for x in data]
    return data


def from_numpy(arr: np.ndarray) -> Tensor:
    """A CPU tensor sharing ``arr``'s memory (no copy; writes show on both sides).

    >>> import numpy as np, neurarust as nr
    >>> a = np.arange(4.0)
    >>> t = nr.from_numpy(a); t[0] = 9.0; a[0]
    np.float64(9.0)
    """
    if not isinstance(arr, np.ndarray):
        raise ArgumentError(f"from_numpy expects a numpy.ndarray, got {type(arr).__name__}")
    if any(s < 0 for s in arr.strides):
        raise ArgumentError("from_numpy: arrays with negative strides are not supported; copy the array first")
    d = _dt.as_dtype(arr.dtype)
    if any(s % d.itemsize for s in arr.strides):
        raise ArgumentError("from_numpy: strides that are not a multiple of the element size are not supported")
    return Tensor._from_array(arr, d)


def empty(*size, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of ``size`` (``empty(2, 3)`` or ``empty((2, 3))``).

    >>> import neurarust as nr
    >>> nr.empty(2, 3, dtype=nr.int8).shape
    neurarust.Size([2, 3])
    """
    shape = as_shape(size)
    if any(s < 0 for s in shape):
        raise ArgumentError(f"empty: negative dimension in size {shape}")
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    return _maybe_requires_grad(Tensor._empty(shape, d, as_device(device)), requires_grad)


def full(size, fill_value, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from the value as PyTorch does).

    >>> import neurarust as nr
    >>> nr.full((2,), 7).dtype, nr.full((2,), 0.5).tolist()
    (neurarust.int64, [0.5, 0.5])
    """
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.scalar_dtype(fill_value)
    return _maybe_requires_grad(empty(size, dtype=d, device=device).fill_(fill_value), requires_grad)


def zeros(*size, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (default dtype unless ``dtype`` is given).

    >>> import neurarust as nr
    >>> nr.zeros(2, 2).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    return full(as_shape(size), 0, dtype=d, device=device, requires_grad=requires_grad)


def ones(*size, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (default dtype unless ``dtype`` is given).

    >>> import neurarust as nr
    >>> nr.ones(3, dtype=nr.int32).tolist()
    [1, 1, 1]
    """
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    return full(as_shape(size), 1, dtype=d, device=device, requires_grad=requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The ``n x m`` identity matrix (``m`` defaults to ``n``), as ``torch.eye``.

    >>> import neurarust as nr
    >>> nr.eye(2, 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    m = n if m is None else m
    for what, v in (("n", n), ("m", m)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            raise ArgumentError(f"eye: {what} must be a non-negative integer, got {v!r}")
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    return _host_made(np.eye(int(n), int(m), dtype=d.np), d, device, requires_grad)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None) -> Tensor:
    """The ``(2, count)`` row and column indices of the lower triangle (on and below the ``offset``
    diagonal) of a ``row x col`` matrix, row by row, as ``torch.tril_indices`` (int64 by default).

    >>> import neurarust as nr
    >>> nr.tril_indices(3, 3).tolist()
    [[0, 1, 1, 2, 2, 2], [0, 0, 1, 0, 1, 2]]
    """
    return _triangle("tril_indices", np.tril_indices, row, col, offset, dtype, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device: Any = None) -> Tensor:
    """The ``(2, count)`` row and column indices of the upper triangle (on and above the ``offset``
    diagonal) of a ``row x col`` matrix, row by row, as ``torch.triu_indices`` (int64 by default).

    >>> import neurarust as nr
    >>> nr.triu_indices(2, 3, 1).tolist()
    [[0, 0, 1], [1, 2, 2]]
    """
    return _triangle("triu_indices", np.triu_indices, row, col, offset, dtype, device)


def _triangle(name: str, indices, row: int, col: int, offset: int, dtype, device) -> Tensor:
    for what, v in (("row", row), ("col", col)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            raise ArgumentError(f"{name}: {what} must be a non-negative integer, got {v!r}")
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.int64
    if d.is_floating_point or d is _dt.bool_:
        raise DTypeError(f"{name}: dtype must be an integer type, got {d}")
    r, c = indices(int(row), int(offset), int(col))
    return _host_made(np.stack([r, c]).reshape(2, -1), d, device, False)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` values evenly spaced from ``start`` to ``end`` inclusive, as ``torch.linspace``: the
    first half counted up from ``start``, the second down from ``end`` (so both ends are exact), in
    the result's precision.

    >>> import neurarust as nr
    >>> nr.linspace(0, 1, 5).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    values = _spaced("linspace", start, end, steps, d)
    return _host_made(values if d.is_floating_point else np.trunc(values), d, device, requires_grad)


def logspace(start: float, end: float, steps: int, base: float = 10.0, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)``, as ``torch.logspace``.

    >>> import neurarust as nr
    >>> nr.logspace(0, 2, 3).tolist()
    [1.0, 10.0, 100.0]
    """
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    exponents = _spaced("logspace", start, end, steps, d)
    with np.errstate(all="ignore"):   # an integer result past the dtype's range wraps, as PyTorch's
        values = np.power(exponents.dtype.type(base), exponents)
        return _host_made(values if d.is_floating_point else np.trunc(values), d, device, requires_grad)


# PyTorch's kernel computes ``start + step * i`` as one fused multiply-add, rounded once: emulated by
# computing it in a wider type (half types round each operation in their own type, as its does).
_WIDER = {np.float32: np.float64, np.float64: np.longdouble}


def _spaced(name: str, start, end, steps, d: DType) -> np.ndarray:
    """PyTorch's linspace values: the step in the arithmetic of ``d`` (float64 from the truncated
    ends for an integer ``d``), each value a fused multiply-add from the nearer end."""
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 0:
        raise ArgumentError(f"{name}: number of steps must be a non-negative integer, got {steps!r}")
    if d.is_floating_point:
        t = d.np.type
    else:
        t, start, end = np.float64, int(start), int(end)
    if steps == 1:
        return np.array([t(start)])
    w = _WIDER.get(t, t)
    step = (t(end) - t(start)) / t(steps - 1)
    i = np.arange(steps).astype(w)
    up = w(t(start)) + w(step) * i
    down = w(t(end)) - w(step) * (w(steps - 1) - i)
    return np.where(i < steps // 2, up, down).astype(t)


def _host_made(values: np.ndarray, d: DType, device: Any, requires_grad: bool) -> Tensor:
    """A tensor of values computed on the host (small, made once), copied to ``device``."""
    return _maybe_requires_grad(as_tensor(values.astype(d.np, copy=False), d, device, _copy=True), requires_grad)


def _maybe_requires_grad(t: Tensor, requires_grad: bool) -> Tensor:
    return t.requires_grad_() if requires_grad else t


def _like(t: Tensor, dtype, device):
    return t.shape, dtype if dtype is not None else t.dtype, device if device is not None else t.device


def _like_strides(input: Tensor, shape: tuple, memory_format) -> tuple | None:
    """The strides a ``*_like`` result of ``input`` gets in ``memory_format``; None for row-major."""
    order = layout_order(input._shape, input._strides, memory_format)
    return None if order == sorted(order) else strides_in_order(shape, order)


def empty_strided(size, stride, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of ``size`` whose elements lie ``stride`` elements apart per dim.

    >>> import neurarust as nr
    >>> nr.empty_strided((2, 3), (1, 2)).stride()
    (1, 2)
    """
    shape, strides = as_shape(size), tuple(int(s) for s in stride)
    if len(strides) != len(shape) or any(s < 0 for s in (*shape, *strides)):
        raise ArgumentError(f"empty_strided: size {list(shape)} and stride {list(strides)} must have the same "
                            f"length and no negative entries")
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    return _maybe_requires_grad(Tensor._empty_strided(shape, strides, d, as_device(device)), requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               memory_format: Any = preserve_format) -> Tensor:
    """An uninitialised tensor with ``input``'s shape, and its dtype and device unless given, laid
    out in ``memory_format`` (by default as ``input`` when it is dense, else row-major).

    >>> import neurarust as nr
    >>> nr.empty_like(nr.zeros(2, 3), dtype=nr.int64).dtype
    neurarust.int64
    >>> nr.empty_like(nr.zeros(2, 3).t()).stride()
    (1, 3)
    """
    shape, d, dev = _like(input, dtype, device)
    strides = _like_strides(input, shape, memory_format)
    if strides is None:
        return empty(shape, dtype=d, device=dev, requires_grad=requires_grad)
    return empty_strided(shape, strides, dtype=d, device=dev, requires_grad=requires_grad)


def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = preserve_format) -> Tensor:
    """Zeros with ``input``'s shape, dtype and device (unless given).

    >>> import neurarust as nr
    >>> nr.zeros_like(nr.tensor([1, 2])).tolist()
    [0, 0]
    """
    shape, d, dev = _like(input, dtype, device)
    strides = _like_strides(input, shape, memory_format)
    if strides is None:
        return zeros(shape, dtype=d, device=dev, requires_grad=requires_grad)
    return _maybe_requires_grad(empty_strided(shape, strides, dtype=d, device=dev).fill_(0), requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = preserve_format) -> Tensor:
    """Ones with ``input``'s shape, dtype and device (unless given).

    >>> import neurarust as nr
    >>> nr.ones_like(nr.tensor([1.5])).tolist()
    [1.0]
    """
    shape, d, dev = _like(input, dtype, device)
    strides = _like_strides(input, shape, memory_format)
    if strides is None:
        return ones(shape, dtype=d, device=dev, requires_grad=requires_grad)
    return _maybe_requires_grad(empty_strided(shape, strides, dtype=d, device=dev).fill_(1), requires_grad)


def full_like(input: Tensor, fill_value, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = preserve_format) -> Tensor:
    """``fill_value`` everywhere, with ``input``'s shape, dtype and device (unless given).

    >>> import neurarust as nr
    >>> nr.full_like(nr.zeros(2, dtype=nr.int8), 3).tolist()
    [3, 3]
    """
    shape, d, dev = _like(input, dtype, device)
    strides = _like_strides(input, shape, memory_format)
    if strides is None:
        return full(shape, fill_value, dtype=d, device=dev, requires_grad=requires_grad)
    return _maybe_requires_grad(empty_strided(shape, strides, dtype=d, device=dev).fill_(fill_value), requires_grad)


_DEVICE_SCALARS: OrderedDict = OrderedDict()
_DEVICE_SCALARS_MAX = 256
_DEVICE_SCALARS_LOCK = threading.Lock()


def scalar_tensor(value, dtype: DType, device=CPU, *, check_range: bool = False) -> Tensor:
    """A 0-d tensor holding ``value``: how Python scalars enter kernels as operands.

    ``check_range`` as in :func:`scalar_array`. CUDA scalars are cached (least recently used first
    out), so ``x * 2`` does not copy ``2`` to the GPU on every call.

    >>> import neurarust as nr
    >>> nr.creation.scalar_tensor(1000, nr.int8).item()    # ops wrap, as a C cast does
    -24
    >>> nr.creation.scalar_tensor(2.5, nr.float16).shape
    neurarust.Size([])
    """
    if device.type == "cpu":
        return Tensor._from_array(scalar_array(value, dtype, check_range), dtype)
    # float.hex() keeps -0.0 apart from 0.0 and gives NaN a key equal to itself.
    v = float(value).hex() if isinstance(value, (float, np.floating)) else value
    key = (v, type(value), dtype, device, check_range)
    with _DEVICE_SCALARS_LOCK:
        t = _DEVICE_SCALARS.get(key)
        if t is not None:
            _DEVICE_SCALARS.move_to_end(key)
            return t
    t = Tensor._from_array(scalar_array(value, dtype, check_range), dtype).to(device)  # no lock held over a copy
    with _DEVICE_SCALARS_LOCK:
        _DEVICE_SCALARS[key] = t
        if len(_DEVICE_SCALARS) > _DEVICE_SCALARS_MAX:
            _DEVICE_SCALARS.popitem(last=False)
    return t


_INT64_MIN, _UINT64_END = -(1 << 63), 1 << 64


def scalar_array(value, dtype: DType, check_range: bool = False) -> np.ndarray:
    """A 0-d NumPy array of ``dtype`` holding the scalar ``value``.

    With ``check_range`` (``fill_``, ``full``) a value ``dtype`` cannot hold raises ArgumentError,
    as PyTorch does; without it (operands of ops) integers wrap as a C cast would. Integers that do
    not fit 64 bits raise ArgumentError either way.

    >>> import neurarust as nr
    >>> scalar_array(300, nr.int8).item()
    44
    >>> scalar_array(300, nr.int8, check_range=True)
    Traceback (most recent call last):
        ...
    neurarust.errors.ArgumentError: value 300 cannot be converted to type int8 without overflow
    """
    if check_range:
        _check_fits(value, dtype)
    if isinstance(value, (int, np.integer)):
        if not _INT64_MIN <= value < _UINT64_END:
            raise ArgumentError(f"value {value} does not fit in 64 bits, so it cannot become a {dtype.name} scalar")
        if dtype.kind in "iu":
            return np.asarray(value).astype(dtype.np)  # wraps; np.asarray(300, dtype=int8) would raise
    return np.asarray(value, dtype=dtype.np)


@functools.lru_cache(maxsize=None)
def _limits(dtype: DType) -> tuple:
    """(lowest, highest) value ``fill_`` accepts for ``dtype``."""
    if dtype.kind in "iu":
        info = _dt.iinfo(dtype)
        # PyTorch lets an unsigned dtype take down to -max (uint8.fill_(-1) gives 255).
        return (-info.max if dtype.kind == "u" else info.min), info.max
    return -_dt.finfo(dtype).max, _dt.finfo(dtype).max


def _check_fits(value, dtype: DType) -> None:
    if dtype.kind == "b" or not isinstance(value, (int, float, np.integer, np.floating)):
        return
    lo, hi = _limits(dtype)
    if dtype.kind in "iu":
        fits = (math.isfinite(value) if isinstance(value, (float, np.floating)) else True) and lo <= value <= hi
    else:
        fits = not math.isfinite(value) or abs(value) <= hi
    if not fits:
        raise ArgumentError(f"value {value!r} cannot be converted to type {dtype.name} without overflow")
