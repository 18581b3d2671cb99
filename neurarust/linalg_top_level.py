"""PyTorch's linear-algebra functions outside ``torch.linalg``: ``lu_unpack``, ``cholesky_solve``,
``cholesky_inverse``, and the older spellings ``lu``, ``lu_solve``, ``triangular_solve`` and ``ger``
(``torch.linalg`` has their current forms). Compositions of the entries in ``kernels/linalg_lu.py``
and :mod:`neurarust.solvers`, so they run on both backends and differentiate.

    >>> import neurarust as nr
    >>> LU, pivots = nr.lu(nr.tensor([[1.0, 2.0], [4.0, 2.0]]))
    >>> P, L, U = nr.lu_unpack(LU, pivots)
    >>> (P @ L @ U).tolist()
    [[1.0, 2.0], [4.0, 2.0]]
"""
from __future__ import annotations

from typing import NamedTuple

from .kernels.linalg_lu import LU_PROBLEM, check_matrix, permutation_matrix, raise_for_info
from .registry import call
from .solvers import lu_solve as _lu_solve
from .tensor import Tensor


class PLUResult(NamedTuple):
    """``(P, L, U)`` of :func:`lu_unpack` and ``nr.linalg.lu``."""

    P: Tensor
    L: Tensor
    U: Tensor


class TriangularSolveResult(NamedTuple):
    """``(solution, cloned_coefficient)`` of :func:`triangular_solve`."""

    solution: Tensor
    cloned_coefficient: Tensor


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,
              unpack_pivots: bool = True) -> PLUResult:
    """``(P, L, U)`` from a packed LU and its pivots, as ``torch.lu_unpack``: ``L`` unit lower
    (``m x k``), ``U`` upper (``k x n``), ``P`` the permutation matrix with ``A = P L U``; a part not
    asked for is an empty tensor.

    >>> import neurarust as nr
    >>> P, L, U = nr.lu_unpack(*nr.linalg.lu_factor(nr.tensor([[1.0, 2.0], [4.0, 2.0]])))
    >>> L.tolist(), U.tolist()
    ([[1.0, 0.0], [0.25, 1.0]], [[4.0, 2.0], [0.0, 1.5]])
    """
    m, n = LU_data.shape[-2], LU_data.shape[-1]
    k = min(m, n)
    empty = LU_data.new_empty(0)
    L = U = P = empty
    if unpack_data:
        from .creation import eye

        L = call("tril", LU_data[..., :, :k], -1) + eye(m, k, dtype=LU_data.dtype, device=LU_data.device)
        U = call("triu", LU_data[..., :k, :])
    if unpack_pivots:
        P = permutation_matrix(LU_pivots, m, LU_data)
    return PLUResult(P, L, U)


# -- Cholesky --------------------------------------------------------------------------------------------

def _cholesky_left(L: Tensor, upper: bool) -> Tensor:
    return L.mT if upper else L


def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False) -> Tensor:
    """``X`` with ``A X = B`` for ``A = L L^T`` given its Cholesky factor ``L`` (``upper``: ``A = U^T U``
    given ``U``), as ``torch.cholesky_solve`` (two triangular solves). The gradient with respect to
    ``L`` is zero in the triangle never read (PyTorch's formula fills it; through ``linalg.cholesky``
    both give the same gradient).

    >>> import neurarust as nr
    >>> L = nr.linalg.cholesky(nr.tensor([[4.0, 2.0], [2.0, 5.0]]))
    >>> nr.cholesky_solve(nr.tensor([[8.0], [12.0]]), L).tolist()
    [[1.0], [2.0]]
    """
    check_matrix("cholesky_solve", L, "input2")
    check_matrix("cholesky_solve", B, "input", square=False)
    lower = _cholesky_left(L, upper)
    Y = call("linalg.solve_triangular", lower, B, upper=False)
    return call("linalg.solve_triangular", lower.mT, Y, upper=True)


def cholesky_inverse(L: Tensor, upper: bool = False) -> Tensor:
    """The inverse of ``A = L L^T`` (``upper``: ``A = U^T U``) from its Cholesky factor, as
    ``torch.cholesky_inverse``.

    >>> import neurarust as nr
    >>> L = nr.linalg.cholesky(nr.tensor([[4.0, 0.0], [0.0, 16.0]]))
    >>> nr.cholesky_inverse(L).tolist()
    [[0.25, 0.0], [0.0, 0.0625]]
    """
    check_matrix("cholesky_inverse", L)
    from .creation import eye

    return cholesky_solve(eye(L.shape[-1], dtype=L.dtype, device=L.device).expand(L.shape), L, upper)


# -- PyTorch's older spellings -------------------------------------------------------------------------------

def lu(A: Tensor, pivot: bool = True, get_infos: bool = False) -> tuple:
    """``torch.lu``: ``(A_LU, pivots)``, or ``(A_LU, pivots, infos)`` with ``get_infos`` (then a
    singular matrix does not raise); ``torch.linalg.lu_factor`` is the current name.

    >>> import neurarust as nr
    >>> LU, pivots = nr.lu(nr.tensor([[1.0, 2.0], [4.0, 2.0]]))
    >>> pivots.tolist()
    [2, 2]
    """
    LU, pivots, info = call("linalg.lu_factor_ex", A, pivot=pivot)
    if get_infos:
        return LU, pivots, info
    raise_for_info(info, "lu", LU_PROBLEM)
    return LU, pivots


def lu_solve(b: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:
    """``torch.lu_solve(b, LU_data, LU_pivots)``: ``x`` with ``A x = b`` from ``A``'s packed LU
    (``torch.linalg.lu_solve(LU, pivots, B)`` is the current spelling).

    >>> import neurarust as nr
    >>> A_LU = nr.lu(nr.tensor([[2.0, 0.0], [0.0, 4.0]]))
    >>> nr.lu_solve(nr.tensor([[2.0], [2.0]]), *A_LU).tolist()
    [[1.0], [0.5]]
    """
    return _lu_solve(LU_data, LU_pivots, b)


def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False) -> TriangularSolveResult:
    """``torch.triangular_solve``: ``(X, A.clone())`` with ``op(A) X = b``, ``op(A)`` being ``A`` or
    (``transpose``) ``A^T`` (``torch.linalg.solve_triangular`` is the current spelling, with ``A``
    first).

    >>> import neurarust as nr
    >>> X, _ = nr.triangular_solve(nr.tensor([[2.0], [4.0]]), nr.tensor([[1.0, 1.0], [0.0, 2.0]]))
    >>> X.tolist()
    [[0.0], [2.0]]
    """
    check_matrix("triangular_solve", A)
    coefficient = A.mT if transpose else A
    X = call("linalg.solve_triangular", coefficient, b, upper=upper != transpose, unitriangular=unitriangular)
    return TriangularSolveResult(X, A.clone())


def ger(input: Tensor, vec2: Tensor) -> Tensor:
    """``torch.ger``: the outer product of two vectors (``nr.outer``'s older name).

    >>> import neurarust as nr
    >>> nr.ger(nr.tensor([1.0, 2.0]), nr.tensor([3.0, 4.0])).tolist()
    [[3.0, 4.0], [6.0, 8.0]]
    """
    return call("outer", input, vec2)
