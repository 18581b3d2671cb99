"""Top-level functions PyTorch has that are compositions of registry ops: each runs those ops (a
Triton kernel each on the GPU, their NumPy references on the CPU) and differentiates through them.

    >>> import neurarust as nr
    >>> nr.nansum(nr.tensor([1.0, float("nan"), 2.0])).item()
    3.0
"""
from __future__ import annotations

from typing import Sequence

from .errors import ArgumentError, ShapeError
from .registry import call
from .tensor import Tensor


def clip(input: Tensor, min=None, max=None) -> Tensor:
    """An alias of ``clamp``.

    >>> import neurarust as nr
    >>> nr.clip(nr.tensor([-2.0, 0.5, 3.0]), -1, 1).tolist()
    [-1.0, 0.5, 1.0]
    """
    return call("clamp", input, min, max)


def nansum(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The sum with NaNs counted as zero.

    >>> import neurarust as nr
    >>> nr.nansum(nr.tensor([[1.0, float("nan")], [2.0, 3.0]]), 1).tolist()
    [1.0, 5.0]
    """
    return call("sum", call("where", call("isnan", input), 0.0, input), dim, keepdim)


def nanmean(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The mean of the elements that are not NaN (NaN where all are).

    >>> import neurarust as nr
    >>> nr.nanmean(nr.tensor([1.0, float("nan"), 3.0])).item()
    2.0
    """
    present = call("logical_not", call("isnan", input))
    return nansum(input, dim, keepdim) / call("sum", present.to(input.dtype), dim, keepdim)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The number of non-zero elements (over ``dim``, an int or a tuple), as int64.

    >>> import neurarust as nr
    >>> nr.count_nonzero(nr.tensor([[0, 1], [2, 0]]), 0).tolist()
    [1, 1]
    """
    from . import dtype as _dt

    return call("sum", call("ne", input, 0).to(_dt.int64), dim)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """The values of ``input`` at ``indices`` along ``dim``, the two broadcast against each other but
    along ``dim`` (with ``dim=None`` both are flattened first), as ``torch.take_along_dim``.

    >>> import neurarust as nr
    >>> x = nr.tensor([[10, 30, 20], [60, 40, 50]])
    >>> nr.take_along_dim(x, x.argmax(1, keepdim=True), 1).tolist()
    [[30], [60]]
    """
    if dim is None:
        return call("gather", input.reshape(-1), 0, indices.reshape(-1))
    if input.ndim != indices.ndim:
        raise ShapeError(f"take_along_dim(): input {tuple(input.shape)} and indices {tuple(indices.shape)} "
                         "must have the same number of dims")
    from .shape import broadcast_shapes, normalize_dim

    d = normalize_dim(dim, input.ndim)
    rest = broadcast_shapes(*(tuple(t.shape[:d]) + (1,) + tuple(t.shape[d + 1:]) for t in (input, indices)))
    sized = lambda t: tuple(rest[:d]) + (t.shape[d],) + tuple(rest[d + 1:])  # noqa: E731
    return call("gather", input.expand(*sized(input)), d, indices.expand(*sized(indices)))


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (a 0-d one becomes shape ``(1,)``); one tensor, or a tuple.

    >>> import neurarust as nr
    >>> nr.atleast_1d(nr.tensor(3.0)).shape
    neurarust.Size([1])
    """
    return _each(tensors, lambda t: t.reshape(1) if t.ndim == 0 else t)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims: 0-d ``(1, 1)``, 1-d ``(1, n)``.

    >>> import neurarust as nr
    >>> nr.atleast_2d(nr.zeros(3)).shape
    neurarust.Size([1, 3])
    """
    return _each(tensors, lambda t: t.reshape(1, 1) if t.ndim == 0 else t.unsqueeze(0) if t.ndim == 1 else t)


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: 0-d ``(1, 1, 1)``, 1-d ``(1, n, 1)``, 2-d ``(m, n, 1)``.

    >>> import neurarust as nr
    >>> nr.atleast_3d(nr.zeros(2, 3)).shape
    neurarust.Size([2, 3, 1])
    """
    def lift(t: Tensor) -> Tensor:
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, -1, 1)
        return t.unsqueeze(-1) if t.ndim == 2 else t
    return _each(tensors, lift)


def _each(tensors: tuple, fn):
    items = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = tuple(fn(t) for t in items)
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else out


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Tensors joined column-wise: along dim 1, or dim 0 for 1-d tensors.

    >>> import neurarust as nr
    >>> nr.hstack([nr.tensor([1, 2]), nr.tensor([3])]).tolist()
    [1, 2, 3]
    """
    ts = atleast_1d(tuple(tensors))
    return call("cat", list(ts), 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Tensors joined row-wise (1-d tensors become rows).

    >>> import neurarust as nr
    >>> nr.vstack([nr.tensor([1, 2]), nr.tensor([3, 4])]).tolist()
    [[1, 2], [3, 4]]
    """
    return call("cat", list(atleast_2d(tuple(tensors))), 0)


row_stack = vstack


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Tensors joined depth-wise (along dim 2, after ``atleast_3d``).

    >>> import neurarust as nr
    >>> nr.dstack([nr.zeros(2, 3), nr.ones(2, 3)]).shape
    neurarust.Size([2, 3, 2])
    """
    return call("cat", list(atleast_3d(tuple(tensors))), 2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """Tensors as the columns of a matrix (1-d tensors become columns).

    >>> import neurarust as nr
    >>> nr.column_stack([nr.tensor([1, 2]), nr.tensor([3, 4])]).tolist()
    [[1, 3], [2, 4]]
    """
    cols = [t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors]
    return call("cat", cols, 1)


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (after joining ``prepend`` and ``append``).

    >>> import neurarust as nr
    >>> nr.diff(nr.tensor([1, 4, 9, 16])).tolist()
    [3, 5, 7]
    """
    if n < 0:
        raise ArgumentError(f"diff expects n to be non-negative, got {n}")
    parts = [t for t in (prepend, input, append) if t is not None]
    x = call("cat", parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        size = x.shape[dim]
        if size == 0:
            break
        later, earlier = x.narrow(dim, 1, size - 1), x.narrow(dim, 0, size - 1)
        x = call("logical_xor", later, earlier) if x.dtype.name == "bool" else later - earlier
    return x
