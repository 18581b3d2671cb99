"""PyTorch's remaining tensor constructors: the deprecated ``range`` (end included), ``frombuffer``
(a tensor over a Python buffer's memory) and ``empty_permuted`` (an uninitialised tensor whose memory
is laid out in a given dim order).

    >>> import warnings, neurarust as nr
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     nr.range(1, 3).tolist()
    [1.0, 2.0, 3.0]
"""
from __future__ import annotations

import builtins
import math
import warnings
from typing import Any, Sequence

import numpy as np

from . import dtype as _dt
from .creation import empty, from_numpy, tensor
from .errors import ArgumentError
from .tensor import Tensor


def range(start: float = 0, end: float | None = None, step: float = 1, *, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """``start, start + step, ...`` up to ``end`` INCLUDED (``arange`` stops before it), of the default
    float dtype unless ``dtype`` says otherwise; deprecated in PyTorch, so it warns as torch does.
    Values are ``start + i * step`` computed in float64, then cast.

    >>> import warnings, neurarust as nr
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     nr.range(0, 1, 0.25).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    if end is None:
        raise ArgumentError('range() missing 1 required positional arguments: "end"')
    warnings.warn("nr.range is deprecated (as torch.range) because its end is included, unlike Python's "
                  "range: use nr.arange, which stops before end", UserWarning, stacklevel=2)
    if step == 0:
        raise ArgumentError("range: step must be nonzero")
    if (end - start) * step < 0:
        raise ArgumentError(f"range: upper bound and lower bound inconsistent with step sign "
                            f"(start={start}, end={end}, step={step})")
    n = math.trunc((end - start) / step + 1)
    values = start + np.arange(n, dtype=np.float64) * step
    return tensor(values, dtype=_dt.get_default_dtype() if dtype is None else dtype, device=device,
                  requires_grad=requires_grad)


def frombuffer(buffer: Any, *, dtype: Any, count: int = -1, offset: int = 0, requires_grad: bool = False) -> Tensor:
    """A 1-D tensor over the memory of ``buffer`` (anything with the buffer protocol: ``bytearray``,
    ``array.array``, ``memoryview``), no copy: writes through either show in the other. ``offset``
    skips bytes; ``count`` elements (-1: all that remain).

    >>> import neurarust as nr
    >>> raw = bytearray(b"\\x01\\x00\\x02\\x00\\x03\\x00")
    >>> t = nr.frombuffer(raw, dtype=nr.int16, offset=2); t.tolist()
    [2, 3]
    >>> raw[2] = 9; t.tolist()
    [9, 3]
    """
    d = _dt.as_dtype(dtype)
    size = memoryview(buffer).nbytes
    if offset < 0 or offset > size or (offset == size and size > 0):
        raise ArgumentError(f"frombuffer: offset ({offset} bytes) must be non-negative and below the buffer "
                            f"length ({size} bytes)")
    if count == -1:
        if (size - offset) % d.itemsize:
            raise ArgumentError(f"frombuffer: buffer length ({size} bytes) after offset ({offset} bytes) must be "
                                f"a multiple of element size ({d.itemsize})")
    elif count <= 0 or count * d.itemsize > size - offset:
        raise ArgumentError(f"frombuffer: requested buffer length ({count} * {d.itemsize} bytes) after offset "
                            f"({offset} bytes) must be positive and not greater than the buffer ({size} bytes)")
    array = np.frombuffer(buffer, dtype=d.np, count=count, offset=offset)
    if not array.flags.writeable:
        warnings.warn("frombuffer: the given buffer is not writable; writing to the tensor is undefined behaviour",
                      UserWarning, stacklevel=2)
    out = from_numpy(array)
    return out.requires_grad_() if requires_grad else out


def empty_permuted(size: Sequence[int], physical_layout: Sequence[int], *, dtype: Any = None, device: Any = None,
                   requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of shape ``size`` whose dims lie in memory in the order
    ``physical_layout`` (outermost first): ``empty_permuted((N, C, H, W), (0, 2, 3, 1))`` is channels-last.

    >>> import neurarust as nr
    >>> nr.empty_permuted((2, 3, 5, 7), (0, 2, 3, 1)).stride()
    (105, 1, 21, 3)
    """
    size, layout = tuple(size), tuple(physical_layout)
    if sorted(layout) != list(builtins.range(len(size))):
        raise ArgumentError(f"empty_permuted: physical_layout {list(layout)} must be a permutation of the "
                            f"{len(size)} dims of size {list(size)}")
    physical = empty(*(size[d] for d in layout), dtype=dtype, device=device)
    out = physical.permute(*np.argsort(layout).tolist())
    return out.requires_grad_() if requires_grad else out
