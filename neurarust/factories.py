"""Tensor factories PyTorch has beyond :mod:`neurarust.creation`: ``asarray`` (a tensor from any
tensor, array, buffer or sequence, sharing memory when it can) and ``scalar_tensor`` (a 0-d tensor).

    >>> import numpy as np, neurarust as nr
    >>> a = np.arange(3.0)
    >>> t = nr.asarray(a); a[0] = 7.0; t.tolist()
    [7.0, 1.0, 2.0]
"""
from __future__ import annotations

from typing import Any

from . import dtype as _dt
from .creation import as_tensor, full, tensor
from .device import as_device
from .errors import ArgumentError
from .tensor import Tensor


def asarray(obj: Any, *, dtype: Any = None, device: Any = None, copy: bool | None = None,
            requires_grad: bool | None = None) -> Tensor:
    """``obj`` (a tensor, a NumPy array or scalar, a DLPack producer such as a torch tensor, a number or
    a nested sequence) as a tensor, as ``torch.asarray``: memory is shared with a tensor or array when
    ``dtype`` and ``device`` allow (``copy=None``), always copied with ``copy=True``, and with
    ``copy=False`` shared or ArgumentError. Python data takes PyTorch's dtypes (floats the default
    dtype, ints int64); ``requires_grad=None`` keeps a tensor's flag (False for anything else).

    >>> import neurarust as nr
    >>> x = nr.ones(2)
    >>> nr.asarray(x) is x, nr.asarray(x, copy=True) is x, nr.asarray([1, 2]).dtype
    (True, False, neurarust.int64)
    >>> nr.asarray(x, dtype=nr.float64, copy=False)
    Traceback (most recent call last):
        ...
    neurarust.errors.ArgumentError: asarray: can't alias a neurarust.float32 tensor on cpu as ... without a copy
    """
    if isinstance(obj, Tensor):
        src = obj
    elif copy is False and not hasattr(obj, "__array__") and not hasattr(obj, "__dlpack__") \
            and not hasattr(obj, "__array_interface__") and not isinstance(obj, memoryview):
        raise ArgumentError(f"asarray: can't alias {type(obj).__name__} data into a tensor (copy=False)")
    else:
        src = as_tensor(obj) if copy is not True else tensor(obj)
    want_dtype = src.dtype if dtype is None else _dt.as_dtype(dtype)
    want_device = src.device if device is None else as_device(device)
    if copy is False and (want_dtype is not src.dtype or want_device != src.device):
        raise ArgumentError(f"asarray: can't alias a {src.dtype} tensor on {src.device} as {want_dtype} on "
                            f"{want_device} without a copy")
    out = src.to(want_device, want_dtype, copy=bool(copy) and src is obj)
    if requires_grad is None:
        return out
    if not requires_grad:
        return out.detach() if out.requires_grad else out
    return out.requires_grad_() if out.is_leaf else out


def scalar_tensor(s: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A 0-d tensor holding ``s``, of the default float dtype unless ``dtype`` is given (whatever the
    type of ``s``, as ``torch.scalar_tensor``).

    >>> import neurarust as nr
    >>> nr.scalar_tensor(3), nr.scalar_tensor(3, dtype=nr.int64).dtype
    (tensor(3.), neurarust.int64)
    """
    return full((), s, dtype=_dt.get_default_dtype() if dtype is None else dtype, device=device,
                requires_grad=requires_grad)
