"""Memory formats: the order in which a tensor's dims lie in memory, as ``torch.memory_format``.

``contiguous_format`` is row-major; ``channels_last`` puts the channels (dim 1) of a 4-D
``(N, C, H, W)`` tensor innermost, ``(N, H, W, C)`` in memory, and ``channels_last_3d`` does the
same for 5-D tensors. ``preserve_format`` (the default of ``clone`` and the ``*_like`` factories)
keeps a dense tensor's layout (a transposed tensor's copy is transposed too) and falls back to
row-major for tensors with gaps or overlaps. A layout never changes values: every op reads any
strides, so formats are about interoperability (code that passes ``memory_format=``) and about the
layout a copy gets.

    >>> import neurarust as nr
    >>> x = nr.zeros(2, 3, 4, 5).contiguous(memory_format=nr.channels_last)
    >>> x.stride(), x.is_contiguous(memory_format=nr.channels_last), x.is_contiguous()
    ((60, 1, 15, 3), True, False)
    >>> x.clone().stride()                      # preserve_format keeps the layout
    (60, 1, 15, 3)
"""
from __future__ import annotations

from typing import Sequence

from . import shape as _sh
from .errors import ArgumentError, SignatureError


class memory_format:
    """One of NeuraRust's memory formats (``nr.contiguous_format``, ``nr.channels_last``, ...)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"neurarust.{self.name}"

    def __reduce__(self):
        return self.name   # pickles as the module-level constant of that name


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")

_BY_NAME = {f.name: f for f in (contiguous_format, preserve_format, channels_last, channels_last_3d)}
_RANK = {channels_last: 4, channels_last_3d: 5}


def as_memory_format(value) -> memory_format:
    """A NeuraRust memory format from one of ours or a ``torch.memory_format`` (same names).

    >>> import torch
    >>> as_memory_format(torch.channels_last)
    neurarust.channels_last
    """
    if isinstance(value, memory_format):
        return value
    name = str(value).rsplit(".", 1)[-1]
    if type(value).__name__ == "memory_format" and name in _BY_NAME:
        return _BY_NAME[name]
    raise SignatureError(f"memory_format must be one of {sorted(_BY_NAME)}, got {value!r}")


def rank_of(fmt) -> int | None:
    """The rank a channels-last format lays out (4 or 5); None for the formats of any rank.

    >>> rank_of(channels_last), rank_of(contiguous_format)
    (4, None)
    """
    return _RANK.get(as_memory_format(fmt))


def dim_order(shape: Sequence[int], fmt: memory_format) -> list[int]:
    """The dims of a tensor of ``shape`` in ``fmt`` (not ``preserve_format``), outermost first.

    >>> dim_order((2, 3, 4, 5), channels_last)
    [0, 2, 3, 1]
    """
    rank = len(shape)
    fmt = as_memory_format(fmt)
    if fmt is preserve_format:
        raise ArgumentError("preserve_format names no layout of its own: it keeps a tensor's")
    if fmt is contiguous_format:
        return list(range(rank))
    if rank != _RANK[fmt]:
        raise ArgumentError(f"{fmt.name} needs a tensor of rank {_RANK[fmt]}, got shape {list(shape)}")
    return [0, *range(2, rank), 1]


def strides_for(shape: Sequence[int], fmt: memory_format) -> tuple[int, ...]:
    """The dense strides of ``shape`` laid out in ``fmt``.

    >>> strides_for((2, 3, 4, 5), channels_last), strides_for((2, 3), contiguous_format)
    ((60, 1, 15, 3), (3, 1))
    """
    return strides_in_order(shape, dim_order(shape, fmt))


def strides_in_order(shape: Sequence[int], order: Sequence[int]) -> tuple[int, ...]:
    """The dense strides of ``shape`` with its dims in memory in ``order`` (outermost first).

    >>> strides_in_order((2, 3), [1, 0])
    (1, 2)
    """
    strides = [0] * len(shape)
    step = 1
    for d in reversed(order):
        strides[d] = step
        step *= max(shape[d], 1)
    return tuple(strides)


def is_in_format(shape: Sequence[int], strides: Sequence[int], fmt: memory_format) -> bool:
    """Whether ``strides`` lay ``shape`` out densely in ``fmt`` (size-1 dims' strides are free).

    >>> is_in_format((2, 3, 4, 5), (60, 1, 15, 3), channels_last)
    True
    """
    order = dim_order(shape, fmt)
    return _sh.is_contiguous([shape[d] for d in order], [strides[d] for d in order])


def layout_order(shape: Sequence[int], strides: Sequence[int], fmt: memory_format) -> list[int]:
    """The dim order a copy in ``fmt`` gets: ``fmt``'s own, or for ``preserve_format`` the tensor's
    when it is dense (else row-major), as PyTorch's ``clone``.

    >>> layout_order((2, 3), (1, 2), preserve_format), layout_order((2, 3), (0, 1), preserve_format)
    ([1, 0], [0, 1])
    """
    fmt = as_memory_format(fmt)
    if fmt is not preserve_format:
        return dim_order(shape, fmt)
    order = None if _sh.is_contiguous(shape, strides) else _sh.dense_order(shape, strides)
    return list(range(len(shape))) if order is None else order
