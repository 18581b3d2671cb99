"""Zero-copy exchange with other array libraries through DLPack.

:func:`from_dlpack` wraps the memory of any DLPack producer (NumPy, PyTorch, CuPy, JAX, another
NeuraRust tensor) in a Tensor; ``Tensor.__dlpack__`` goes the other way. Writes on either side are
seen by the other::

    >>> import numpy as np, neurarust as nr
    >>> a = np.arange(6.0).reshape(2, 3)
    >>> t = nr.from_dlpack(a[:, 1:])        # a strided view: still no copy
    >>> t[0, 0] = 10.0
    >>> a[0, 1]
    np.float64(10.0)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import dtype as _dt
from .device import device
from .errors import ArgumentError, DeviceError, DTypeError
from .storage import Storage
from .tensor import Tensor

# DLPack device types (dlpack.h).
_DL_CPU, _DL_CUDA, _DL_CUDA_HOST, _DL_CUDA_MANAGED = 1, 2, 3, 13


def from_dlpack(obj: Any) -> Tensor:
    """A tensor sharing ``obj``'s memory (any object with ``__dlpack__``), without a copy.

    CPU producers are read through NumPy (torch only for dtypes NumPy's DLPack lacks, such as
    bfloat16); CUDA producers through torch, whose caching allocator then keeps the memory alive.

    >>> import torch, neurarust as nr
    >>> src = torch.arange(6, dtype=torch.float32).view(2, 3).t()
    >>> t = nr.from_dlpack(src)
    >>> t.stride(), t.data_ptr() == src.data_ptr()
    ((1, 3), True)
    """
    if isinstance(obj, Tensor):
        return obj
    if not hasattr(obj, "__dlpack__") or not hasattr(obj, "__dlpack_device__"):
        raise ArgumentError(f"from_dlpack expects an object with __dlpack__ and __dlpack_device__, "
                            f"got {type(obj).__name__}")
    kind, index = obj.__dlpack_device__()
    if int(kind) in (_DL_CPU, _DL_CUDA_HOST):
        return _from_cpu(obj)
    if int(kind) in (_DL_CUDA, _DL_CUDA_MANAGED):
        torch = _torch()
        src = obj if isinstance(obj, torch.Tensor) else torch.from_dlpack(obj)
        return _from_torch(src.detach(), device("cuda", int(index)))
    raise DeviceError(f"from_dlpack: DLPack device type {int(kind)} (index {index}) is neither the CPU nor CUDA")


def _from_cpu(obj: Any) -> Tensor:
    try:
        arr = np.from_dlpack(obj)
    except (BufferError, TypeError, RuntimeError, ValueError) as numpy_error:
        torch = _torch(numpy_error)
        src = obj if isinstance(obj, torch.Tensor) else torch.from_dlpack(obj)
        return _from_torch(src.detach(), device("cpu"))
    if any(s < 0 for s in arr.strides):
        raise ArgumentError(f"from_dlpack: negative strides {arr.strides} cannot be shared; copy the array first")
    d = _dt.as_dtype(arr.dtype)
    if any(s % d.itemsize for s in arr.strides):
        raise ArgumentError(f"from_dlpack: strides {arr.strides} (bytes) are not multiples of the {d} element size")
    return Tensor._from_array(arr, d)


def _from_torch(src, dev: device) -> Tensor:
    """Wrap a torch tensor's whole storage; its shape, strides and offset become the view."""
    torch = _torch()
    d = _dt.as_dtype(src.dtype)
    if any(s < 0 for s in src.stride()):
        raise ArgumentError(f"from_dlpack: negative strides {src.stride()} cannot be shared")
    raw = torch.empty(0, dtype=torch.uint8, device=src.device).set_(src.untyped_storage())
    # The storage starts where torch's allocation does, so the element offset carries over unchanged.
    storage = Storage(raw.numpy() if dev.type == "cpu" else raw, dev)
    return Tensor(storage, tuple(src.shape), tuple(src.stride()), src.storage_offset(), d)


def _torch(cause: Exception | None = None):
    try:
        import torch
    except ImportError:
        raise DTypeError(f"from_dlpack: this producer needs torch to be read ({cause})") from cause
    return torch
