"""Tensor creation: ``tensor``, ``as_tensor``, ``from_numpy``, ``empty``, ``zeros``, ``ones``, ``full``,
``*_like``, with PyTorch's signatures.

    >>> import neurarust as nr
    >>> nr.full((2, 2), 7, dtype=nr.int32).tolist()
    [[7, 7], [7, 7]]
    >>> nr.tensor([1.5, 2]).dtype
    neurarust.float32
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from . import dtype as _dt
from .device import CPU, as_device
from .dtype import DType
from .errors import ArgumentError, DTypeError, ShapeError
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


def tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, arrays or tensors).

    >>> import neurarust as nr
    >>> nr.tensor([[1, 2], [3, 4]]).shape
    neurarust.Size([2, 2])
    """
    if isinstance(data, Tensor):
        return data.to(device=device or data.device, dtype=dtype or data.dtype, copy=True)
    return as_tensor(np.array(data, copy=True) if isinstance(data, np.ndarray) else data, dtype, device, _copy=True)


def as_tensor(data: Any, dtype: Any = None, device: Any = None, *, _copy: bool = False) -> Tensor:
    """Like :func:`tensor`, but shares memory with a NumPy array or tensor when dtype and device allow.

    >>> import numpy as np, neurarust as nr
    >>> a = np.zeros(3, dtype=np.float32)
    >>> nr.as_tensor(a).numpy() is not None and np.shares_memory(nr.as_tensor(a).numpy(), a)
    True
    """
    if isinstance(data, Tensor):
        return data.to(device=device or data.device, dtype=dtype or data.dtype)
    from_python = not isinstance(data, (np.ndarray, np.generic))
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
        arr = arr.astype(d.np)
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


def empty(*size, dtype: Any = None, device: Any = None) -> Tensor:
    """An uninitialised tensor of ``size`` (``empty(2, 3)`` or ``empty((2, 3))``).

    >>> import neurarust as nr
    >>> nr.empty(2, 3, dtype=nr.int8).shape
    neurarust.Size([2, 3])
    """
    shape = as_shape(size)
    if any(s < 0 for s in shape):
        raise ArgumentError(f"empty: negative dimension in size {shape}")
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    return Tensor._empty(shape, d, as_device(device))


def full(size, fill_value, *, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from the value as PyTorch does).

    >>> import neurarust as nr
    >>> nr.full((2,), 7).dtype, nr.full((2,), 0.5).tolist()
    (neurarust.int64, [0.5, 0.5])
    """
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.scalar_dtype(fill_value)
    return empty(size, dtype=d, device=device).fill_(fill_value)


def zeros(*size, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor of zeros (default dtype unless ``dtype`` is given).

    >>> import neurarust as nr
    >>> nr.zeros(2, 2).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    return full(as_shape(size), 0, dtype=d, device=device)


def ones(*size, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor of ones (default dtype unless ``dtype`` is given).

    >>> import neurarust as nr
    >>> nr.ones(3, dtype=nr.int32).tolist()
    [1, 1, 1]
    """
    d = _dt.as_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    return full(as_shape(size), 1, dtype=d, device=device)


def _like(t: Tensor, dtype, device):
    return t.shape, dtype if dtype is not None else t.dtype, device if device is not None else t.device


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None) -> Tensor:
    """An uninitialised tensor with ``input``'s shape, and its dtype and device unless given.

    >>> import neurarust as nr
    >>> nr.empty_like(nr.zeros(2, 3), dtype=nr.int64).dtype
    neurarust.int64
    """
    shape, d, dev = _like(input, dtype, device)
    return empty(shape, dtype=d, device=dev)


def zeros_like(input: Tensor, *, dtype: Any = None, device: Any = None) -> Tensor:
    """Zeros with ``input``'s shape, dtype and device (unless given).

    >>> import neurarust as nr
    >>> nr.zeros_like(nr.tensor([1, 2])).tolist()
    [0, 0]
    """
    shape, d, dev = _like(input, dtype, device)
    return zeros(shape, dtype=d, device=dev)


def ones_like(input: Tensor, *, dtype: Any = None, device: Any = None) -> Tensor:
    """Ones with ``input``'s shape, dtype and device (unless given).

    >>> import neurarust as nr
    >>> nr.ones_like(nr.tensor([1.5])).tolist()
    [1.0]
    """
    shape, d, dev = _like(input, dtype, device)
    return ones(shape, dtype=d, device=dev)


def full_like(input: Tensor, fill_value, *, dtype: Any = None, device: Any = None) -> Tensor:
    """``fill_value`` everywhere, with ``input``'s shape, dtype and device (unless given).

    >>> import neurarust as nr
    >>> nr.full_like(nr.zeros(2, dtype=nr.int8), 3).tolist()
    [3, 3]
    """
    shape, d, dev = _like(input, dtype, device)
    return full(shape, fill_value, dtype=d, device=dev)


_DEVICE_SCALARS: OrderedDict = OrderedDict()
_DEVICE_SCALARS_MAX = 256


def scalar_tensor(value, dtype: DType, device=CPU) -> Tensor:
    """A 0-d tensor holding ``value``: how Python scalars enter kernels as operands.

    CUDA scalars are cached (least recently used first out), so ``x * 2`` does not copy ``2`` to the
    GPU on every call.
    """
    if device.type == "cpu":
        return Tensor._from_array(_scalar_array(value, dtype), dtype)
    key = (value, type(value), dtype, device)
    t = _DEVICE_SCALARS.get(key)
    if t is None:
        t = Tensor._from_array(_scalar_array(value, dtype), dtype).to(device)
        _DEVICE_SCALARS[key] = t
        if len(_DEVICE_SCALARS) > _DEVICE_SCALARS_MAX:
            _DEVICE_SCALARS.popitem(last=False)
    else:
        _DEVICE_SCALARS.move_to_end(key)
    return t


def _scalar_array(value, dtype: DType) -> np.ndarray:
    # Integers out of the dtype's range wrap as a C cast would (PyTorch's behaviour).
    if isinstance(value, int) and dtype.kind in "iu":
        return np.asarray(value).astype(dtype.np)
    return np.asarray(value, dtype=dtype.np)
