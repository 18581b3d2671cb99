"""The function forms of the view methods, as ``torch.reshape(x, shape)`` is of ``x.reshape(shape)``:
each returns the same view the method does (no copy where the method makes none).

    >>> import neurarust as nr
    >>> x = nr.arange(6).reshape(2, 3)
    >>> nr.transpose(x, 0, 1).tolist(), nr.flatten(x).tolist()
    ([[0, 3], [1, 4], [2, 5]], [0, 1, 2, 3, 4, 5])
"""
from __future__ import annotations

from typing import Sequence

from .errors import ArgumentError
from .shape import normalize_dim
from .tensor import Tensor


def reshape(input: Tensor, shape: Sequence[int]) -> Tensor:
    """``input.reshape(shape)``: a view where the strides allow, else a copy.

    >>> import neurarust as nr
    >>> nr.reshape(nr.arange(4), (2, -1)).tolist()
    [[0, 1], [2, 3]]
    """
    return input.reshape(shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """``input.flatten(start_dim, end_dim)``.

    >>> import neurarust as nr
    >>> nr.flatten(nr.zeros(2, 3, 4), 1).shape
    neurarust.Size([2, 12])
    """
    return input.flatten(start_dim, end_dim)


def squeeze(input: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """``input.squeeze(dim)``: size-1 dims removed (all, or those of ``dim``).

    >>> import neurarust as nr
    >>> nr.squeeze(nr.zeros(1, 2, 1)).shape, nr.squeeze(nr.zeros(1, 2, 1), 0).shape
    (neurarust.Size([2]), neurarust.Size([2, 1]))
    """
    return input.squeeze(dim)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """``input.unsqueeze(dim)``.

    >>> import neurarust as nr
    >>> nr.unsqueeze(nr.zeros(2), 1).shape
    neurarust.Size([2, 1])
    """
    return input.unsqueeze(dim)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """``input.transpose(dim0, dim1)`` (also ``swapaxes`` and ``swapdims``).

    >>> import neurarust as nr
    >>> nr.swapaxes(nr.zeros(2, 3), 0, 1).shape
    neurarust.Size([3, 2])
    """
    return input.transpose(dim0, dim1)


swapaxes = swapdims = transpose


def permute(input: Tensor, dims: Sequence[int]) -> Tensor:
    """``input.permute(dims)``.

    >>> import neurarust as nr
    >>> nr.permute(nr.zeros(2, 3, 4), (2, 0, 1)).shape
    neurarust.Size([4, 2, 3])
    """
    return input.permute(*dims)


def t(input: Tensor) -> Tensor:
    """``input.t()``: a matrix transposed (vectors and scalars as they are).

    >>> import neurarust as nr
    >>> nr.t(nr.zeros(2, 3)).shape
    neurarust.Size([3, 2])
    """
    return input.t()


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``input.narrow(dim, start, length)``.

    >>> import neurarust as nr
    >>> nr.narrow(nr.arange(5), 0, 1, 3).tolist()
    [1, 2, 3]
    """
    return input.narrow(dim, start, length)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim``, that dim removed (``input[..., index, ...]``).

    >>> import neurarust as nr
    >>> nr.select(nr.arange(6).reshape(2, 3), 1, -1).tolist()
    [2, 5]
    """
    d = normalize_dim(dim, input.ndim)
    return input[(slice(None),) * d + (index,)]


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """``input.diagonal(offset, dim1, dim2)``.

    >>> import neurarust as nr
    >>> nr.diagonal(nr.arange(9).reshape(3, 3), 1).tolist()
    [1, 5]
    """
    return input.diagonal(offset, dim1, dim2)


def broadcast_to(input: Tensor, size: Sequence[int]) -> Tensor:
    """``input.expand(size)``: ``input`` broadcast to ``size`` (a view, no copy).

    >>> import neurarust as nr
    >>> nr.broadcast_to(nr.tensor([1, 2]), (2, 2)).tolist()
    [[1, 2], [1, 2]]
    """
    return input.expand(*size)


def movedim(input: Tensor, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """``input`` with the dims ``source`` moved to positions ``destination``, the others keeping
    their order (also ``moveaxis``).

    >>> import neurarust as nr
    >>> nr.movedim(nr.zeros(2, 3, 4), 0, -1).shape
    neurarust.Size([3, 4, 2])
    """
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise ArgumentError(f"movedim: source {src} and destination {dst} must have the same number of dims")
    n = input.ndim
    src, dst = [normalize_dim(d, n) for d in src], [normalize_dim(d, n) for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ArgumentError(f"movedim: repeated dim in source {src} or destination {dst}")
    order: list[int | None] = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(n) if d not in src)
    return input.permute(*[next(rest) if o is None else o for o in order])


moveaxis = movedim


def numel(input: Tensor) -> int:
    """The number of elements of ``input``.

    >>> import neurarust as nr
    >>> nr.numel(nr.zeros(2, 3))
    6
    """
    return input.numel()


def as_strided(input: Tensor, size: Sequence[int], stride: Sequence[int], storage_offset: int | None = None) -> Tensor:
    """``input.as_strided(size, stride, storage_offset)``: a view of ``input``'s storage with the given
    geometry (see :meth:`neurarust.tensor.Tensor.as_strided`).

    >>> import neurarust as nr
    >>> nr.as_strided(nr.arange(6), (2, 2), (3, 1), 1).tolist()
    [[1, 2], [4, 5]]
    """
    return input.as_strided(size, stride, storage_offset)


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """``input.unflatten(dim, sizes)``: dim ``dim`` split into ``sizes`` (one may be -1).

    >>> import neurarust as nr
    >>> nr.unflatten(nr.zeros(2, 6), 1, (3, -1)).shape
    neurarust.Size([2, 3, 2])
    """
    return input.unflatten(dim, sizes)


def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``input.narrow(dim, start, length)`` as a new contiguous tensor (the one function here that
    copies: the result never shares ``input``'s memory).

    >>> import neurarust as nr
    >>> x = nr.arange(5)
    >>> y = nr.narrow_copy(x, 0, 1, 3); y[0] = 9
    >>> y.tolist(), x.tolist()
    ([9, 2, 3], [0, 1, 2, 3, 4])
    """
    from .memory_formats import contiguous_format

    return input.narrow(dim, start, length).clone(memory_format=contiguous_format)
