"""More of ``torch.linalg`` on the LU factorization: ``linalg.lu`` (``P, L, U``), ``linalg.solve_ex``,
``linalg.tensorinv`` and ``linalg.tensorsolve``; compositions of the entries in
``kernels/linalg_lu.py`` and :mod:`neurarust.solvers`, so they run on both backends and differentiate.

    >>> import neurarust as nr
    >>> P, L, U = nr.linalg.lu(nr.tensor([[1.0, 2.0], [4.0, 2.0]]))
    >>> (P @ L @ U).tolist()
    [[1.0, 2.0], [4.0, 2.0]]
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

from .errors import ShapeError
from .kernels.linalg_lu import check_matrix, raise_for_info
from .linalg_top_level import PLUResult, lu_unpack
from .registry import call
from .solvers import SINGULAR_SOLVE, lu_solve, solve
from .tensor import Tensor


class SolveExResult(NamedTuple):
    """``(result, info)`` of :func:`solve_ex`."""

    result: Tensor
    info: Tensor


# -- LU ------------------------------------------------------------------------------------------------

def lu(A: Tensor, *, pivot: bool = True) -> PLUResult:
    """The LU decomposition with partial pivoting as ``(P, L, U)``, ``A = P L U``, as
    ``torch.linalg.lu`` (any ``m x n``; a singular matrix is fine here).

    >>> import neurarust as nr
    >>> P, L, U = nr.linalg.lu(nr.tensor([[0.0, 1.0], [1.0, 1.0]]))
    >>> P.tolist(), U.tolist()
    ([[0.0, 1.0], [1.0, 0.0]], [[1.0, 1.0], [0.0, 1.0]])
    """
    check_matrix("linalg.lu", A, square=False)
    LU, pivots, _ = call("linalg.lu_factor_ex", A, pivot=pivot)
    return lu_unpack(LU, pivots)


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False) -> SolveExResult:
    """:func:`~neurarust.solvers.solve` with no error for a singular matrix, as
    ``torch.linalg.solve_ex``: ``(result, info)``, ``info`` per matrix 0 or the 1-based index of
    the zero pivot (where it is not 0 the result holds inf/NaN).

    >>> import neurarust as nr
    >>> x, info = nr.linalg.solve_ex(nr.tensor([[2.0, 0.0], [0.0, 4.0]]), nr.tensor([2.0, 2.0]))
    >>> x.tolist(), info.item()
    ([1.0, 0.5], 0)
    """
    check_matrix("linalg.solve_ex", A)
    LU, pivots, info = call("linalg.lu_factor_ex", A)
    if check_errors:
        raise_for_info(info, "linalg.solve_ex", SINGULAR_SOLVE)
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    rhs = B.unsqueeze(-1) if vector else B
    X = lu_solve(LU, pivots, rhs, left=left)
    return SolveExResult(X.squeeze(-1) if vector else X, info)


# -- tensor equations -----------------------------------------------------------------------------------

def tensorinv(A: Tensor, ind: int = 2) -> Tensor:
    """The inverse of ``A`` seen as a map from its last ``A.ndim - ind`` dims to its first ``ind``,
    as ``torch.linalg.tensorinv``: ``tensordot(tensorinv(A), A, ind)`` is the identity.

    >>> import neurarust as nr
    >>> A = nr.eye(4).reshape(4, 2, 2) * 2
    >>> tuple(nr.linalg.tensorinv(A, ind=1).shape)
    (2, 2, 4)
    """
    if ind <= 0:
        raise ShapeError(f"linalg.tensorinv: Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = math.prod(A.shape[:ind]), math.prod(A.shape[ind:])
    if rows != cols:
        raise ShapeError(f"linalg.tensorinv: Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                         f"prod(self.shape[:ind]), but got {cols} != {rows} (shape {list(A.shape)}, ind={ind})")
    from .solvers import inv

    return inv(A.reshape(rows, cols)).reshape(*A.shape[ind:], *A.shape[:ind])


def tensorsolve(A: Tensor, B: Tensor, dims: Sequence[int] | None = None) -> Tensor:
    """``X`` with ``tensordot(A, X, X.ndim) = B``, as ``torch.linalg.tensorsolve`` (``dims``: dims of
    ``A`` moved to the end first).

    >>> import neurarust as nr
    >>> A = nr.eye(6).reshape(2, 3, 6)
    >>> nr.linalg.tensorsolve(A, nr.ones(2, 3)).shape
    neurarust.Size([6])
    """
    if dims is not None:
        order = [d % A.ndim for d in dims]
        A = A.permute(*[d for d in range(A.ndim) if d not in order], *order)
    rest = A.shape[B.ndim:]
    if tuple(A.shape[:B.ndim]) != tuple(B.shape):
        raise ShapeError(f"linalg.tensorsolve: the leading dims of A {list(A.shape)} must be B's {list(B.shape)}")
    rows = math.prod(B.shape)
    if rows != math.prod(rest):
        raise ShapeError(f"linalg.tensorsolve: Expected self to satisfy the requirement prod(result.shape) == "
                         f"prod(other.shape), but got {math.prod(rest)} != {rows}")
    return solve(A.reshape(rows, rows), B.reshape(rows)).reshape(*rest)
