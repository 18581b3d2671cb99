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
from .errors import ArgumentError, DTypeError, ShapeError, SignatureError
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


# -- products and powers: cross, addr, vander, chain_matmul, matrix_power -----------------------------

def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of the 3-vectors along ``dim`` (``nr.linalg.cross``): both inputs have the same
    number of dims, length 3 along ``dim``, and broadcast elsewhere.

    >>> import neurarust as nr
    >>> nr.linalg.cross(nr.tensor([1.0, 0.0, 0.0]), nr.tensor([0.0, 1.0, 0.0])).tolist()
    [0.0, 0.0, 1.0]
    """
    from .shape import broadcast_shapes

    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise ArgumentError(f"linalg.cross: expected two Tensors, got {type(input).__name__} and {type(other).__name__}")
    if input.ndim != other.ndim:
        raise ShapeError(f"linalg.cross: inputs must have the same number of dimensions, got shapes "
                         f"{list(input.shape)} and {list(other.shape)}")
    d = normalize_dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise ShapeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[d]} and {other.shape[d]}")
    dtype = _dt.result_type(input, other)
    shape = broadcast_shapes(tuple(input.shape), tuple(other.shape))
    a, b = input.to(dtype).expand(*shape), other.to(dtype).expand(*shape)
    a0, a1, a2 = (a.narrow(d, i, 1) for i in range(3))
    b0, b1, b2 = (b.narrow(d, i, 1) for i in range(3))
    return call("cat", [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The cross product along ``dim``; without it, along the first dim of ``input`` of size 3 (PyTorch's
    deprecated default; ``nr.linalg.cross`` takes the last dim).

    >>> import neurarust as nr
    >>> nr.cross(nr.tensor([[1, 0, 0], [0, 1, 0]]), nr.tensor([[0, 1, 0], [0, 0, 1]]), dim=1).tolist()
    [[0, 0, 1], [1, 0, 0]]
    """
    if dim is None:
        dim = next((i for i, s in enumerate(getattr(input, "shape", ())) if s == 3), None)
        if dim is None:
            raise ShapeError(f"no dimension of size 3 in input of shape {list(getattr(input, 'shape', ()))}")
    return linalg_cross(input, other, dim=dim)


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)`` (``input`` broadcast to the outer product's shape and
    ignored, NaN included, when ``beta`` is 0; bools combine with ``and``/``or``).

    >>> import neurarust as nr
    >>> nr.addr(nr.ones(2, 2), nr.tensor([1.0, 2.0]), nr.tensor([3.0, 4.0]), alpha=2).tolist()
    [[7.0, 9.0], [13.0, 17.0]]
    """
    from .shape import broadcast_shapes

    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if not isinstance(v, Tensor) or v.ndim != 1:
            raise ShapeError(f"addr: Expected 1-D argument {name}, but got {getattr(v, 'ndim', type(v).__name__)}-D")
    dtype = _dt.result_type(input, vec1, vec2)
    shape = (vec1.shape[0], vec2.shape[0])
    if broadcast_shapes(tuple(input.shape), shape) != shape:
        raise ShapeError(f"addr: the input of shape {list(input.shape)} does not broadcast to the outer product's {list(shape)}")
    if dtype.kind in "iu" and any(isinstance(s, float) for s in (alpha, beta)):
        raise DTypeError(f"For integral input tensors, arguments alpha and beta must not be floating point numbers, "
                         f"got alpha={alpha!r}, beta={beta!r}")
    product = call("outer", vec1.to(dtype), vec2.to(dtype))
    if dtype is _dt.bool_:
        product = product if alpha else call("logical_and", product, False)
        return call("logical_or", product, input.expand(*shape)) if beta else product
    product = product if alpha == 1 else product * alpha
    if beta == 0:
        return product
    return call("add", input.to(dtype).expand(*shape) * beta if beta != 1 else input.to(dtype).expand(*shape), product)


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """A square matrix with the flattened ``input`` on its ``offset`` diagonal, zeros elsewhere.

    >>> import neurarust as nr
    >>> nr.diagflat(nr.tensor([[1, 2], [3, 4]])).tolist()
    [[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 4]]
    """
    return diag_embed(input.reshape(-1), offset)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix of a 1-D tensor: columns ``x ** (N - 1)`` down to ``x ** 0`` (increasing
    powers with ``increasing``); integers and bools give int64, as PyTorch's.

    >>> import neurarust as nr
    >>> nr.vander(nr.tensor([1, 2, 3]), 3).tolist()
    [[1, 1, 1], [4, 2, 1], [9, 3, 1]]
    """
    from .creation import ones

    if not isinstance(x, Tensor) or x.ndim != 1:
        raise ShapeError(f"x must be a one-dimensional tensor, got shape {list(getattr(x, 'shape', ()))}")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise ArgumentError(f"N must be non-negative, got {n}")
    dtype = _dt.promote_types(x.dtype, _dt.int64)
    first = ones((x.shape[0], min(n, 1)), dtype=dtype, device=x.device)
    if n <= 1:
        return first
    powers = call("cumprod", call("cat", [first, x.to(dtype).unsqueeze(1).expand(x.shape[0], n - 1)], 1), 1)
    return powers if increasing else call("flip", powers, [1])


def chain_matmul(*matrices: Tensor) -> Tensor:
    """The product of two or more matrices, left to right (PyTorch's deprecated spelling of
    ``linalg.multi_dot``); one matrix is returned as a copy.

    >>> import neurarust as nr
    >>> nr.chain_matmul(nr.eye(2), nr.tensor([[1.0, 2.0], [3.0, 4.0]]), nr.tensor([[1.0], [1.0]])).tolist()
    [[3.0], [7.0]]
    """
    if not matrices:
        raise ArgumentError("chain_matmul(): Expected one or more matrices")
    for i, m in enumerate(matrices):
        if not isinstance(m, Tensor) or m.ndim != 2:
            raise ShapeError(f"chain_matmul(): tensor {i} must be 2D, got shape {list(getattr(m, 'shape', ()))}")
    out = call("clone", matrices[0]) if len(matrices) == 1 else matrices[0]
    for m in matrices[1:]:
        out = _matmul(out, m)
    return out


def _matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b``: the matmul kernel for floats; integers (which it does not take) as sums of products."""
    if a.dtype.is_floating_point and b.dtype.is_floating_point:
        return call("matmul", a, b)
    return call("sum", a.unsqueeze(-1) * b.unsqueeze(-3), -2)


def matrix_power(input: Tensor, n: int) -> Tensor:
    """The ``n``-th power of a square matrix (or a batch of them), by repeated squaring; ``n = 0`` is
    the identity, a negative ``n`` the power of the inverse (float matrices only; a singular one raises
    :class:`~neurarust.errors.LinAlgError`).

    >>> import neurarust as nr
    >>> nr.matrix_power(nr.tensor([[1, 1], [0, 1]]), 3).tolist(), nr.matrix_power(nr.tensor([[2.0]]), -2).tolist()
    ([[1, 3], [0, 1]], [[0.25]])
    """
    from .creation import eye

    if not isinstance(input, Tensor) or input.ndim < 2 or input.shape[-1] != input.shape[-2]:
        raise ShapeError(f"linalg.matrix_power: A must be batches of square matrices, but they are "
                         f"{' by '.join(map(str, getattr(input, 'shape', ())[-2:]))} matrices")
    if isinstance(n, bool) or not isinstance(n, int):
        raise ArgumentError(f"linalg.matrix_power: n must be an int, got {type(n).__name__}")
    if n < 0:
        from .solvers import inv

        input, n = inv(input), -n
    if n == 0:
        return call("clone", eye(input.shape[-1], dtype=input.dtype, device=input.device).expand(*input.shape))
    result, square = None, input
    while True:
        if n & 1:
            result = square if result is None else _matmul(result, square)
        n >>= 1
        if not n:
            break
        square = _matmul(square, square)
    return call("clone", result) if result is input else result


# -- nr.linalg's products, views and norms: vecdot, multi_dot, diagonal, matmul, matrix_norm, norm -------

def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot products of the vectors along ``dim`` (``nr.linalg.vecdot``): ``(x * y).sum(dim)``,
    the other dims broadcast; both of one floating dtype.

    >>> import neurarust as nr
    >>> nr.linalg.vecdot(nr.tensor([[1.0, 2.0], [3.0, 4.0]]), nr.tensor([1.0, 1.0])).tolist()
    [3.0, 7.0]
    """
    for t in (x, y):
        if not isinstance(t, Tensor):
            raise SignatureError(f"linalg.vecdot(): expected Tensors, got {type(t).__name__}")
    if x.dtype is not y.dtype:
        raise DTypeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                         f"{x.dtype.name} and y of type {y.dtype.name} instead")
    if not x.dtype.is_floating_point:
        raise DTypeError(f"linalg.vecdot: Expected a floating point tensor as input. Got {x.dtype.name}")
    return call("sum", x * y, dim)


def _chain_order(dims: list) -> list:
    """``split[i][j]``: where the cheapest product of matrices ``i..j`` splits (the classic dynamic
    program over ``dims``, matrix ``i`` being ``dims[i] x dims[i + 1]``), as PyTorch orders multi_dot."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j], split[i][j] = min((cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1], k)
                                          for k in range(i, j))
    return split


def multi_dot(tensors) -> Tensor:
    """The product of two or more matrices in the cheapest order (``nr.linalg.multi_dot``); the first
    may be a 1-D row vector and the last a 1-D column vector, their dims dropped from the result.

    >>> import neurarust as nr
    >>> nr.linalg.multi_dot([nr.tensor([1.0, 2.0]), nr.eye(2), nr.tensor([3.0, 4.0])]).item()
    11.0
    """
    tensors = list(tensors)
    if len(tensors) < 2:
        raise ArgumentError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        edge = i in (0, len(tensors) - 1)
        if not isinstance(t, Tensor) or t.ndim not in ((1, 2) if edge else (2,)):
            raise ShapeError(f"multi_dot(): tensor {i} must be {'1D or 2D' if edge else '2D'} but got shape "
                             f"{list(getattr(t, 'shape', []))}")
        if t.dtype is not tensors[0].dtype:
            raise DTypeError(f"multi_dot(): all tensors must have the same dtype but tensor 0 is "
                             f"{tensors[0].dtype.name} and tensor {i} {t.dtype.name}")
    row, col = tensors[0].ndim == 1, tensors[-1].ndim == 1
    mats = [tensors[0].unsqueeze(0) if row else tensors[0], *tensors[1:-1],
            tensors[-1].unsqueeze(1) if col else tensors[-1]]
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise ShapeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(tensors[i].shape)} and "
                             f"{list(tensors[i + 1].shape)} cannot be multiplied")
    split = _chain_order([m.shape[0] for m in mats] + [mats[-1].shape[1]])

    def product(i: int, j: int) -> Tensor:
        return mats[i] if i == j else _matmul(product(i, split[i][j]), product(split[i][j] + 1, j))

    out = product(0, len(mats) - 1)
    if row:
        out = out.squeeze(0)
    return out.squeeze(-1) if col else out


def linalg_diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """``nr.linalg.diagonal``: ``A.diagonal(offset, dim1, dim2)`` (a view), its dims defaulting to the
    last two.

    >>> import neurarust as nr
    >>> nr.linalg.diagonal(nr.tensor([[[1, 2], [3, 4]]])).tolist()
    [[1, 4]]
    """
    return A.diagonal(offset, dim1, dim2)


def linalg_matmul(input: Tensor, other: Tensor) -> Tensor:
    """``nr.linalg.matmul``: an alias of ``nr.matmul``.

    >>> import neurarust as nr
    >>> nr.linalg.matmul(nr.tensor([[1.0, 2.0]]), nr.tensor([[3.0], [4.0]])).tolist()
    [[11.0]]
    """
    return call("matmul", input, other)


_MATRIX_ORDS = ("fro", 1, -1, math.inf, -math.inf)


def _matrix_dims(A, dim) -> tuple[int, int]:
    if not isinstance(A, Tensor) or A.ndim < 2:
        raise ShapeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions, got shape "
                         f"{list(getattr(A, 'shape', []))}")
    if len(dim) != 2:
        raise ArgumentError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {tuple(dim)}")
    d0, d1 = normalize_dim(dim[0], A.ndim), normalize_dim(dim[1], A.ndim)
    if d0 == d1:
        raise ArgumentError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d0, d1


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """The matrix norm over the two dims ``dim`` (``nr.linalg.matrix_norm``): ``"fro"`` (Frobenius),
    ``"nuc"`` (nuclear: the sum of the singular values), ``2``/``-2`` (largest/smallest singular
    value), ``1``/``-1`` (largest/smallest absolute column sum), ``inf``/``-inf`` (row sum). The
    singular values come from ``nr.linalg.svdvals``.

    >>> import neurarust as nr
    >>> A = nr.tensor([[1.0, -2.0], [3.0, 4.0]])
    >>> nr.linalg.matrix_norm(A, 1).item(), nr.linalg.matrix_norm(A, float("inf")).item()
    (6.0, 7.0)
    >>> nr.linalg.matrix_norm(nr.tensor([[3.0, 0.0], [0.0, -4.0]]), "nuc").item()
    7.0
    """
    d0, d1 = _matrix_dims(A, dim)
    if ord not in _MATRIX_ORDS and ord not in _SINGULAR_ORDS:
        raise ArgumentError(f"linalg.matrix_norm: Order {ord} not supported.")
    if dtype is not None:
        A = A.to(dtype)
    if not A.dtype.is_floating_point:
        raise DTypeError(f"linalg.matrix_norm: Expected a floating point tensor as input. Got {A.dtype.name}")
    if ord in _SINGULAR_ORDS:
        return _singular_norm(A, ord, d0, d1, keepdim)
    if ord == "fro":
        return call("linalg.vector_norm", A, 2, (d0, d1), keepdim)
    summed, kept = (d0, d1) if ord in (1, -1) else (d1, d0)  # column sums for 1, row sums for inf
    sums = call("sum", call("abs", A), summed, True)
    out = call("amax" if ord > 0 else "amin", sums, kept, True)
    return out.squeeze(max(d0, d1)).squeeze(min(d0, d1)) if not keepdim else out


_SINGULAR_ORDS = ("nuc", 2, -2)


def _singular_norm(A: Tensor, ord, d0: int, d1: int, keepdim: bool) -> Tensor:
    """``'nuc'``, 2 or -2: a reduction of the singular values of the matrices in dims ``(d0, d1)``."""
    from .spectral import svdvals

    s = svdvals(movedim(A, (d0, d1), (-2, -1)))
    out = call("sum" if ord == "nuc" else "amax" if ord == 2 else "amin", s, -1)
    return out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1)) if keepdim else out


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """A vector or matrix norm, as ``torch.linalg.norm``: over an int ``dim`` (or one of length 1)
    :func:`linalg.vector_norm`, over a 2-tuple :func:`matrix_norm`; with no ``dim``, the 2-norm of
    every element when ``ord`` is None, else (``A`` 1-D or 2-D) the vector or matrix ``ord``-norm.

    >>> import neurarust as nr
    >>> A = nr.tensor([[3.0, 0.0], [0.0, 4.0]])
    >>> nr.linalg.norm(A).item(), nr.linalg.norm(A, 1).item(), nr.linalg.norm(A, dim=1).tolist()
    (5.0, 4.0, [3.0, 4.0])
    """
    if not isinstance(A, Tensor):
        raise SignatureError(f"linalg.norm(): argument 'A' must be a Tensor, not {type(A).__name__}")
    if isinstance(dim, int):
        dim = (dim,)
    if dim is None and ord is not None:
        if A.ndim not in (1, 2):
            raise ShapeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                             f"Got {A.ndim}D.")
        dim = tuple(range(A.ndim))
    if dim is not None and len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if isinstance(ord, str):
        raise ArgumentError(f"linalg.norm: the matrix norm ord={ord!r} needs a 2-D input or a 2-tuple dim")
    return call("linalg.vector_norm", A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


# -- torch's top-level spellings of nr.linalg's solvers (neurarust/solvers.py) --------------------------

def inverse(input: Tensor) -> Tensor:
    """``torch.inverse``: ``nr.linalg.inv`` (also ``Tensor.inverse``).

    >>> import neurarust as nr
    >>> nr.inverse(nr.tensor([[4.0]])).tolist(), nr.tensor([[2.0]]).inverse().tolist()
    ([[0.25]], [[0.5]])
    """
    from .solvers import inv

    return inv(input)


def det(input: Tensor) -> Tensor:
    """``torch.det``: ``nr.linalg.det`` (also ``Tensor.det``).

    >>> import neurarust as nr
    >>> round(nr.det(nr.tensor([[1.0, 2.0], [3.0, 4.0]])).item(), 4), nr.eye(3).det().item()
    (-2.0, 1.0)
    """
    from .solvers import det as linalg_det

    return linalg_det(input)


def slogdet(input: Tensor):
    """``torch.slogdet``: ``nr.linalg.slogdet``, ``(sign, logabsdet)`` (also ``Tensor.slogdet``).

    >>> import neurarust as nr
    >>> nr.slogdet(-nr.eye(3)).sign.item()
    -1.0
    """
    from .solvers import slogdet as linalg_slogdet

    return linalg_slogdet(input)


def logdet(input: Tensor) -> Tensor:
    """``torch.logdet``: the log of the determinant, NaN where it is negative, -inf where it is 0
    (also ``Tensor.logdet``).

    >>> import neurarust as nr
    >>> round(nr.logdet(nr.tensor([[2.0, 0.0], [0.0, 3.0]])).item(), 4), nr.logdet(-nr.eye(3)).item()
    (1.7918, nan)
    """
    sign, logabsdet = slogdet(input)
    return call("where", sign < 0, math.nan, logabsdet)


def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """``torch.cholesky`` (deprecated in PyTorch for ``nr.linalg.cholesky``, which this calls; also
    ``Tensor.cholesky``): the lower factor, or the upper one with ``upper=True``.

    >>> import neurarust as nr
    >>> nr.cholesky(nr.tensor([[4.0, 2.0], [2.0, 5.0]]), True).tolist()
    [[2.0, 1.0], [0.0, 2.0]]
    """
    from .solvers import cholesky as linalg_cholesky

    return linalg_cholesky(input, upper=upper)
