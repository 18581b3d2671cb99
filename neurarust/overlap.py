"""Memory-overlap checks for ops that write into an existing tensor (``out=`` and in-place forms).

PyTorch refuses a write whose destination shares memory with an input in any way other than being
the very same view (``x.add_(y)`` with ``y = x.t()`` would read elements it has already written, in
an order that differs between backends), and a destination that holds one element several times
(an ``expand``-ed tensor). So does NeuraRust::

    >>> import neurarust as nr
    >>> x = nr.zeros(3, 3)
    >>> try:
    ...     x.add_(x.t())
    ... except nr.ArgumentError as e:
    ...     print(str(e).split(":")[0])
    add_
"""
from __future__ import annotations

from typing import Iterable

from .errors import ArgumentError


def _address_range(t) -> tuple[int, int]:
    """[first byte, one past the last byte) that ``t`` can touch."""
    item = t._dtype.itemsize
    start = t._storage.data_ptr() + t._offset * item
    span = sum((s - 1) * st for s, st in zip(t._shape, t._strides))
    return start, start + (span + 1) * item


def _is_dense(t) -> bool:
    """Non-overlapping and dense: some permutation of the dims is contiguous (transposes count)."""
    expected = 1
    dims = [(s, st) for s, st in zip(t._shape, t._strides) if s > 1]
    for size, stride in sorted(dims, key=lambda d: d[1]):
        if stride != expected:
            return False
        expected *= size
    return True


def _same_view(a, b) -> bool:
    return (a._storage is b._storage and a._offset == b._offset and a._shape == b._shape
            and a._strides == b._strides and a._dtype is b._dtype)


def has_internal_overlap(t) -> bool:
    """True when some element of ``t`` is stored at the same address as another (a zero stride)."""
    return any(st == 0 and s > 1 for s, st in zip(t._shape, t._strides))


def check_out(op_name: str, out, inputs: Iterable, *, allow_same_view: bool = True) -> None:
    """Raise :class:`ArgumentError` if writing ``op_name``'s result into ``out`` could corrupt it.

    ``allow_same_view``: elementwise ops may write over an input that is exactly ``out`` (each element
    is read before it is written); ops that read an input many times (matmul) may not. A partial
    overlap is reported when both layouts are dense (as PyTorch does).
    """
    if out.numel() == 0:
        return
    if has_internal_overlap(out):
        raise ArgumentError(f"{op_name}: more than one element of the written-to tensor (shape {list(out.shape)}, "
                            f"strides {list(out.stride())}) refers to a single memory location; clone() it first")
    lo = hi = None
    for t in inputs:
        if t is out and allow_same_view:  # x.add_(y): the common in-place call
            continue
        if not hasattr(t, "_storage") or t.numel() == 0 or t._storage.device is not out._storage.device:
            continue
        if allow_same_view and _same_view(t, out):
            continue
        if lo is None:
            lo, hi = _address_range(out)
        t_lo, t_hi = _address_range(t)
        # Like PyTorch, only dense layouts are judged: interleaved strided views (x[::2], x[1::2])
        # share a range without sharing an element, and telling those apart is not worth the cost.
        if t_lo < hi and lo < t_hi and _is_dense(t) and _is_dense(out):
            raise ArgumentError(f"{op_name}: some elements of an input (shape {list(t.shape)}) and the written-to "
                                f"tensor (shape {list(out.shape)}) refer to a single memory location; "
                                f"clone() the input first")
