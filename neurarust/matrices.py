"""PyTorch's matrix-building and matrix-reducing functions -- diagonals, traces, Kronecker and block
products, inner products, cartesian products -- as compositions of registry ops: each runs those ops
(a Triton kernel each on the GPU, their NumPy references on the CPU) and differentiates through them.

    >>> import neurarust as nr
    >>> nr.kron(nr.eye(2), nr.tensor([[1.0, 2.0]])).tolist()
    [[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 1.0, 2.0]]
"""
from __future__ import annotations

import math

from . import dtype as _dt
from .errors import ArgumentError, ShapeError
from .registry import call
from .shape import normalize_dim
from .tensor import Tensor
from .views import movedim


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices whose ``offset`` diagonal (in the plane of the result's ``dim1`` and ``dim2``) holds the
    last dim of ``input``; zeros elsewhere.

    >>> import neurarust as nr
    >>> nr.diag_embed(nr.tensor([1, 2])).tolist()
    [[1, 0], [0, 2]]
    """
    from .creation import eye, zeros

    if input.ndim == 0:
        raise ShapeError("diag_embed: expected an input of at least 1 dim, got a 0-d tensor")
    d1, d2 = normalize_dim(dim1, input.ndim + 1), normalize_dim(dim2, input.ndim + 1)
    if d1 == d2:
        raise ArgumentError(f"diag_embed: dim1 and dim2 cannot be the same dim, got {dim1} and {dim2}")
    n, k = input.shape[-1], abs(offset)
    on_diagonal = eye(n, dtype=_dt.bool_, device=input.device)
    square = call("where", on_diagonal, input.unsqueeze(-1), zeros((), dtype=input.dtype, device=input.device))
    # The n x n block sits k columns right (offset > 0) or k rows down (offset < 0) in (n + k) x (n + k).
    widths = [k, 0, 0, k] if offset >= 0 else [0, k, k, 0]
    full = call("pad", square, widths) if k else square
    return movedim(full, (-2, -1), (d1, d2))


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D tensor's values on the ``diagonal`` of a square matrix, or a 2-D tensor's ``diagonal``
    (a copy), as ``torch.diag``.

    >>> import neurarust as nr
    >>> nr.diag(nr.tensor([[1, 2], [3, 4]])).tolist(), nr.diag(nr.tensor([5, 6]), 1).shape
    ([1, 4], neurarust.Size([3, 3]))
    """
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return call("clone", input.diagonal(diagonal))
    raise ShapeError(f"diag: expected a 1-D or 2-D input, got shape {list(input.shape)}")


def trace(input: Tensor) -> Tensor:
    """The sum of a matrix's main diagonal (integers sum as int64).

    >>> import neurarust as nr
    >>> nr.trace(nr.tensor([[1, 2], [3, 4]])).item()
    5
    """
    if input.ndim != 2:
        raise ShapeError(f"trace: expected a matrix, got shape {list(input.shape)}")
    return call("sum", input.diagonal())


def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product: block ``i`` of the result is ``input[i] * other``, over every dim (the
    lower-rank operand gains leading unit dims).

    >>> import neurarust as nr
    >>> nr.kron(nr.tensor([1, 10]), nr.tensor([1, 2, 3])).tolist()
    [1, 2, 3, 10, 20, 30]
    """
    n = max(input.ndim, other.ndim)
    a_shape = (1,) * (n - input.ndim) + tuple(input.shape)
    b_shape = (1,) * (n - other.ndim) + tuple(other.shape)
    a = input.reshape(*(v for s in a_shape for v in (s, 1)))          # (a0, 1, a1, 1, ...)
    b = other.reshape(*(v for s in b_shape for v in (1, s)))          # (1, b0, 1, b1, ...)
    return (a * b).reshape(*(x * y for x, y in zip(a_shape, b_shape)))


def block_diag(*tensors: Tensor) -> Tensor:
    """The tensors (each 0-, 1- or 2-D, a 1-D one a row) as the diagonal blocks of one matrix, zeros
    elsewhere, in their promoted dtype.

    >>> import neurarust as nr
    >>> nr.block_diag(nr.tensor([[1, 2]]), nr.tensor(3)).tolist()
    [[1, 2, 0], [0, 0, 3]]
    """
    from .creation import zeros

    blocks = []
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise ShapeError(f"block_diag: input {i} has {t.ndim} dims, expected at most 2")
        blocks.append(t.reshape(1, -1) if t.ndim < 2 else t)
    if not blocks:
        return zeros(1, 0)
    d = _dt.result_type(*blocks)
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        right = width - left - b.shape[1]
        rows.append(call("pad", b.to(d), [left, right, 0, 0]))
        left += b.shape[1]
    return call("cat", rows, 0)


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sums of products over the last dims of both: shape ``input.shape[:-1] + other.shape[:-1]``
    (a 0-d operand multiplies).

    >>> import neurarust as nr
    >>> nr.inner(nr.tensor([1.0, 2.0]), nr.tensor([[3.0, 4.0], [5.0, 6.0]])).tolist()
    [11.0, 17.0]
    """
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise ShapeError(f"inner: the last dims must match, got shapes {list(input.shape)} and {list(other.shape)}")
    return call("tensordot", input, other, ([input.ndim - 1], [other.ndim - 1]))


def vdot(input: Tensor, other: Tensor) -> Tensor:
    """The dot product of two 1-D tensors (real tensors: ``dot``).

    >>> import neurarust as nr
    >>> nr.vdot(nr.tensor([1.0, 2.0]), nr.tensor([3.0, 4.0])).item()
    11.0
    """
    if input.ndim != 1 or other.ndim != 1:
        raise ShapeError(f"vdot: expected 1-D tensors, got shapes {list(input.shape)} and {list(other.shape)}")
    return call("dot", input, other)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every combination of one element from each 1-D tensor, one per row (first tensor slowest);
    a single tensor is returned as it is.

    >>> import neurarust as nr
    >>> nr.cartesian_prod(nr.tensor([1, 2]), nr.tensor([3, 4])).tolist()
    [[1, 3], [1, 4], [2, 3], [2, 4]]
    """
    for i, t in enumerate(tensors):
        if t.ndim != 1:
            raise ShapeError(f"cartesian_prod: expected 1-D tensors, got shape {list(t.shape)} at {i}")
    if len(tensors) == 1:
        return tensors[0]
    grids = call("meshgrid", *tensors, indexing="ij")
    return call("stack", [g.reshape(math.prod(g.shape)) for g in grids], 1)
