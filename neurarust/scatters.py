"""PyTorch's functions that return a copy of a tensor with part of it replaced: the view scatters
``select_scatter``, ``slice_scatter``, ``diagonal_scatter``, ``as_strided_scatter`` (a copy of
``input`` with ``src`` written into the view the name says; the copy keeps a dense ``input``'s
layout, as PyTorch's, which is what ``as_strided_scatter``'s strides count in), ``index_reduce`` (``scatter_reduce``
along one dim, from a 1-D index) and ``put`` (writes at flat indices). Each is a composition of
registry ops and views, so it differentiates with respect to ``input`` and ``src``/``source``; the
Tensor methods of the same names (and ``put_``, ``index_reduce_``) are on
:class:`~neurarust.tensor.Tensor`.

    >>> import neurarust as nr
    >>> nr.select_scatter(nr.zeros(2, 2), nr.ones(2), 0, 0).tolist()
    [[1.0, 1.0], [0.0, 0.0]]
"""
from __future__ import annotations

from typing import Sequence

from . import dtype as _dt
from .errors import ArgumentError, DTypeError, ShapeError
from .memory_formats import contiguous_format, layout_order, preserve_format
from .registry import call
from .shape import normalize_dim
from .tensor import Tensor


def _dense_copy(input: Tensor) -> Tensor:
    """``input.clone()`` (a dense input's layout kept), made as a permuted view of a row-major copy:
    autograd records in-place writes into views of a row-major base only."""
    order = layout_order(input._shape, input._strides, preserve_format)
    if order == sorted(order):
        return input.clone()
    inverse = sorted(range(len(order)), key=order.__getitem__)
    return input.permute(order).clone(memory_format=contiguous_format).permute(inverse)


def _scatter_into_view(input: Tensor, src: Tensor, name: str, view) -> Tensor:
    """A copy of ``input`` (its layout preserved when dense) with ``src`` copied into ``view(copy)``."""
    if not isinstance(src, Tensor):
        raise ArgumentError(f"{name}: src must be a Tensor, got {type(src).__name__}")
    out = _dense_copy(input)
    target = view(out)
    if tuple(src.shape) != tuple(target.shape):
        raise ShapeError(f"{name}: expected src to have a size equal to the slice of self. src size = "
                         f"{list(src.shape)}, slice size = {list(target.shape)}")
    target.copy_(src)
    return out


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """A copy of ``input`` with ``src`` written at ``index`` along ``dim`` (``src`` has ``input``'s shape
    without ``dim``).

    >>> import neurarust as nr
    >>> nr.select_scatter(nr.zeros(2, 3), nr.tensor([1.0, 2.0]), 1, -1).tolist()
    [[0.0, 0.0, 1.0], [0.0, 0.0, 2.0]]
    """
    d = normalize_dim(dim, input.ndim, scalar_ok=False)
    return _scatter_into_view(input, src, "select_scatter", lambda t: t[(slice(None),) * d + (index,)])


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start: int | None = None, end: int | None = None,
                  step: int = 1) -> Tensor:
    """A copy of ``input`` with ``src`` written into the slice ``start:end:step`` of ``dim``.

    >>> import neurarust as nr
    >>> nr.slice_scatter(nr.zeros(5), nr.ones(2), 0, 1, None, 2).tolist()
    [0.0, 1.0, 0.0, 1.0, 0.0]
    """
    if step <= 0:
        raise ArgumentError(f"slice_scatter: slice step must be positive, got {step}")
    d = normalize_dim(dim, input.ndim, scalar_ok=False)
    return _scatter_into_view(input, src, "slice_scatter",
                              lambda t: t[(slice(None),) * d + (slice(start, end, step),)])


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A copy of ``input`` with ``src`` written into its diagonal (as ``input.diagonal(offset, dim1, dim2)``
    picks it: the diagonal is the last dim of ``src``).

    >>> import neurarust as nr
    >>> nr.diagonal_scatter(nr.zeros(2, 3), nr.tensor([1.0, 2.0]), 1).tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]
    """
    return _scatter_into_view(input, src, "diagonal_scatter", lambda t: t.diagonal(offset, dim1, dim2))


def as_strided_scatter(input: Tensor, src: Tensor, size: Sequence[int], stride: Sequence[int],
                       storage_offset: int | None = None) -> Tensor:
    """A copy of ``input`` with ``src`` written into its ``as_strided(size, stride, storage_offset)``
    view (positions counted in the copy's memory, which starts at offset 0 and keeps a dense
    ``input``'s layout, as PyTorch's).

    >>> import neurarust as nr
    >>> nr.as_strided_scatter(nr.zeros(2, 2), nr.tensor([1.0, 2.0]), (2,), (3,)).tolist()
    [[1.0, 0.0], [0.0, 2.0]]
    """
    return _scatter_into_view(input, src, "as_strided_scatter", lambda t: t.as_strided(size, stride, storage_offset))


_INDEX_REDUCTIONS = ("prod", "mean", "amax", "amin")


def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                 include_self: bool = True) -> Tensor:
    """``input`` with slice ``i`` of ``source`` along ``dim`` reduced into slice ``index[i]``, with
    ``reduce`` one of ``"prod"``, ``"mean"``, ``"amax"``, ``"amin"`` (``include_self=False``: the slices
    that receive something start from the sources alone). ``scatter_reduce`` with ``index`` broadcast
    along ``dim``.

    >>> import neurarust as nr
    >>> x = nr.ones(3, 2)
    >>> nr.index_reduce(x, 0, nr.tensor([0, 2, 0]), nr.tensor([[2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]), "prod").tolist()
    [[12.0, 21.0], [1.0, 1.0], [4.0, 5.0]]
    """
    if reduce not in _INDEX_REDUCTIONS:
        raise ArgumentError(f"index_reduce: reduce must be one of {_INDEX_REDUCTIONS}, got {reduce!r}")
    if not isinstance(index, Tensor) or index.dtype not in (_dt.int64, _dt.int32) or index.ndim > 1:
        raise DTypeError(f"index_reduce: index must be a 1-D int64 or int32 tensor, got "
                         f"{getattr(index, 'dtype', type(index).__name__)} of shape "
                         f"{list(getattr(index, 'shape', ()))}")
    if source.dtype is not input.dtype:
        raise DTypeError(f"index_reduce: self ({input.dtype}) and source ({source.dtype}) must have the same dtype")
    nd = max(input.ndim, 1)
    d = normalize_dim(dim, nd)
    in_shape = tuple(input.shape) or (1,)
    src_shape = tuple(source.shape) or (1,)
    if len(src_shape) != nd or any(a != b for i, (a, b) in enumerate(zip(in_shape, src_shape)) if i != d) \
            or src_shape[d] != index.numel():
        raise ShapeError(f"index_reduce: source {list(source.shape)} must have the shape of self "
                         f"{list(input.shape)} but along dim {dim}, where it must have index's {index.numel()} items")
    idx = index.reshape([-1 if i == d else 1 for i in range(nd)]).expand(*src_shape)
    out = call("scatter_reduce", input.reshape(in_shape), d, idx, source.reshape(src_shape), reduce,
               include_self=include_self)
    return out.reshape(input.shape)


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``source`` written at the flat (row-major) positions ``index`` (negative
    ones count from the end), or added there with ``accumulate=True``.

    >>> import neurarust as nr
    >>> nr.put(nr.zeros(2, 2), nr.tensor([-1, 0]), nr.tensor([5.0, 6.0])).tolist()
    [[6.0, 0.0], [0.0, 5.0]]
    """
    if not isinstance(index, Tensor) or index.dtype is not _dt.int64:
        raise DTypeError(f"put_(): Expected a long tensor for index, but got "
                         f"{getattr(index, 'dtype', type(index).__name__)}")
    if source.dtype is not input.dtype:
        raise DTypeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                         f"{input.dtype} and source.dtype = {source.dtype}")
    if index.numel() != source.numel():
        raise ShapeError(f"put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    out = call("index_put", input.reshape(-1), (index.reshape(-1),), source.reshape(-1), bool(accumulate))
    return out.reshape(input.shape)
