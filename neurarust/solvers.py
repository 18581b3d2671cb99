"""``nr.linalg``'s solvers, inverses and determinants, as ``torch.linalg``'s: compositions of the
factorization entries ``linalg.lu_factor_ex``, ``linalg.cholesky_ex`` and
``linalg.solve_triangular`` (``kernels/linalg_lu.py``), so they run on both backends, batch over
the leading dims and differentiate (to any order) through those entries' derivatives. The
top-level spellings (``nr.inverse``, ``nr.det``, ``nr.logdet``, ``nr.slogdet``, ``nr.cholesky``)
live in ``neurarust/matrices.py``.

    >>> import neurarust as nr
    >>> A = nr.tensor([[3.0, 1.0], [1.0, 2.0]])
    >>> nr.linalg.solve(A, nr.tensor([9.0, 8.0])).tolist(), round(nr.linalg.det(A).item(), 4)
    ([2.0, 3.0], 5.0)

Where a matrix cannot be factored, ``lu_factor``, ``solve`` and ``inv`` raise
:class:`~neurarust.errors.LinAlgError` (singular), ``cholesky`` too (not positive definite), after
one host sync each, the check PyTorch makes; ``det``/``slogdet`` of a singular matrix are 0 /
``(0, -inf)``. Differences from PyTorch: the gradient of ``det``/``slogdet``/``logdet`` at an
exactly singular matrix is not finite (PyTorch's is the cofactor matrix), and ``cholesky`` factors
the symmetric part ``(A + A^T) / 2`` where PyTorch reads one triangle (the same on symmetric input).
"""
from __future__ import annotations

from typing import NamedTuple

from . import dtype as _dt
from .errors import ArgumentError, SignatureError
from .kernels.linalg_lu import (CHOLESKY_PROBLEM, LU_PROBLEM, check_matrix, check_rhs, permutation_matrix,
                                raise_for_info)
from .registry import call
from .tensor import Tensor

SINGULAR_SOLVE = "The solver failed because the input matrix is singular."
SINGULAR_INV = ("The diagonal element {info} is zero, the inversion could not be completed because the input "
                "matrix is singular.")


class LUFactorResult(NamedTuple):
    """``(LU, pivots)`` of :func:`lu_factor`."""

    LU: Tensor
    pivots: Tensor


class InvExResult(NamedTuple):
    """``(inverse, info)`` of :func:`inv_ex`."""

    inverse: Tensor
    info: Tensor


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)`` of :func:`slogdet`."""

    sign: Tensor
    logabsdet: Tensor


# -- LU: factor, solve -------------------------------------------------------------------------------

def lu_factor(A: Tensor, *, pivot: bool = True) -> LUFactorResult:
    """The LU decomposition with partial pivoting, packed, as ``torch.linalg.lu_factor``: ``LU``
    holds ``U`` and ``L`` below the diagonal (unit diagonal left out), ``pivots`` the 1-based int32
    row swaps (``A = P L U``). A singular matrix raises :class:`~neurarust.errors.LinAlgError`; use
    ``nr.linalg.lu_factor_ex`` to factor one.

    >>> import neurarust as nr
    >>> LU, pivots = nr.linalg.lu_factor(nr.tensor([[1.0, 2.0], [4.0, 2.0]]))
    >>> LU.tolist(), pivots.tolist()
    ([[4.0, 2.0], [0.25, 1.5]], [2, 2])
    """
    LU, pivots, info = call("linalg.lu_factor_ex", A, pivot=pivot)
    raise_for_info(info, "linalg.lu_factor", LU_PROBLEM)
    return LUFactorResult(LU, pivots)


def _lu_solve_left(LU: Tensor, pivots: Tensor, B: Tensor, adjoint: bool) -> Tensor:
    """``A X = B`` (``A^T X = B`` with ``adjoint``), ``A = P L U``: two triangular solves that read
    their triangle of ``LU`` directly, and the row permutation as a 0/1 matmul."""
    P = permutation_matrix(pivots, LU.shape[-1], LU)
    if not adjoint:
        Y = call("linalg.solve_triangular", LU, call("matmul", P.mT, B), upper=False, unitriangular=True)
        return call("linalg.solve_triangular", LU, Y, upper=True)
    Y = call("linalg.solve_triangular", LU.mT, B, upper=False)
    Y = call("linalg.solve_triangular", LU.mT, Y, upper=True, unitriangular=True)
    return call("matmul", P, Y)


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False) -> Tensor:
    """The solution of ``A X = B`` from ``A``'s :func:`lu_factor`, as ``torch.linalg.lu_solve``;
    ``left=False`` solves ``X A = B``, ``adjoint=True`` uses ``A^T``. ``B`` has at least 2 dims and
    the batch dims broadcast. Differentiable in ``LU`` and ``B``.

    >>> import neurarust as nr
    >>> A = nr.tensor([[1.0, 2.0], [4.0, 2.0]])
    >>> LU, pivots = nr.linalg.lu_factor(A)
    >>> nr.linalg.lu_solve(LU, pivots, nr.tensor([[5.0], [8.0]])).tolist()
    [[1.0], [2.0]]
    """
    check_matrix("linalg.lu_solve", LU, "LU")
    if not isinstance(pivots, Tensor) or pivots.dtype is not _dt.int32 or tuple(pivots.shape) != tuple(LU.shape[:-1]):
        raise ArgumentError(f"linalg.lu_solve: expected int32 pivots of shape {list(LU.shape[:-1])}, got "
                            f"{getattr(pivots, 'dtype', type(pivots).__name__)} of shape "
                            f"{list(getattr(pivots, 'shape', []))}")
    check_rhs("linalg.lu_solve", LU, B, left)
    if left:
        return _lu_solve_left(LU, pivots, B, adjoint)
    return _lu_solve_left(LU, pivots, B.mT, not adjoint).mT  # X A = B  <=>  A^T X^T = B^T


def _factor_checked(A: Tensor, name: str, problem: str):
    LU, pivots, info = call("linalg.lu_factor_ex", A)
    raise_for_info(info, name, problem)
    return LU, pivots


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``) for square ``A``, as
    ``torch.linalg.solve``: ``B`` is a batch of vectors when it is 1-D or has ``A``'s shape less its
    last dim, else a batch of matrices; batch dims broadcast. A singular ``A`` raises
    :class:`~neurarust.errors.LinAlgError`. LU with partial pivoting, then two triangular solves.

    >>> import neurarust as nr
    >>> nr.linalg.solve(nr.tensor([[2.0, 0.0], [0.0, 4.0]]), nr.tensor([[2.0, 4.0], [4.0, 8.0]])).tolist()
    [[1.0, 2.0], [1.0, 2.0]]
    """
    check_matrix("linalg.solve", A)
    if not isinstance(B, Tensor):
        raise SignatureError(f"linalg.solve(): argument 'B' must be a Tensor, not {type(B).__name__}")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    B2 = B.unsqueeze(-1) if vector else B
    check_rhs("linalg.solve", A, B2, left)
    LU, pivots = _factor_checked(A, "linalg.solve", SINGULAR_SOLVE)
    X = lu_solve(LU, pivots, B2, left=left)
    return X.squeeze(-1) if vector else X


def _identity_like(A: Tensor) -> Tensor:
    from .creation import eye

    return eye(A.shape[-1], dtype=A.dtype, device=A.device)


def inv(A: Tensor) -> Tensor:
    """The inverse of a (batch of) square matrices, as ``torch.linalg.inv``: a singular one raises
    :class:`~neurarust.errors.LinAlgError` (see :func:`inv_ex`). ``linalg.solve`` is the cheaper
    and more accurate way to apply an inverse.

    >>> import neurarust as nr
    >>> nr.linalg.inv(nr.tensor([[2.0, 0.0], [0.0, 4.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    check_matrix("linalg.inv", A)
    LU, pivots = _factor_checked(A, "linalg.inv", SINGULAR_INV)
    return lu_solve(LU, pivots, _identity_like(A))


def inv_ex(A: Tensor, *, check_errors: bool = False) -> InvExResult:
    """:func:`inv` with no error for a singular matrix, as ``torch.linalg.inv_ex``: ``(inverse,
    info)``, ``info`` per matrix the 1-based index of the zero pivot that made it singular, else 0
    (where it is nonzero the inverse holds inf/NaN). ``check_errors=True`` raises as :func:`inv`.

    >>> import neurarust as nr
    >>> inverse, info = nr.linalg.inv_ex(nr.tensor([[1.0, 2.0], [2.0, 4.0]]))
    >>> info.item()
    2
    """
    check_matrix("linalg.inv_ex", A)
    LU, pivots, info = call("linalg.lu_factor_ex", A)
    if check_errors:
        raise_for_info(info, "linalg.inv_ex", SINGULAR_INV)
    return InvExResult(lu_solve(LU, pivots, _identity_like(A)), info)


# -- determinants -------------------------------------------------------------------------------------

def _permutation_sign(pivots: Tensor, dtype) -> Tensor:
    """+1 or -1 per matrix: the parity of the row swaps that moved a row."""
    steps = call("arange", 1, pivots.shape[-1] + 1, dtype=_dt.int32, device=pivots.device)
    swaps = call("sum", (pivots != steps).to(_dt.int64), -1)
    return 1 - 2 * (swaps % 2).to(dtype)


def _lu_parts(A: Tensor, name: str) -> tuple[Tensor, Tensor]:
    """``(sign of P, diagonal of U)`` of ``A``'s LU: no check, as a singular matrix has a determinant."""
    check_matrix(name, A)
    LU, pivots, _ = call("linalg.lu_factor_ex", A)
    return _permutation_sign(pivots, A.dtype), LU.diagonal(0, -2, -1)


def det(A: Tensor) -> Tensor:
    """The determinant of a (batch of) square matrices, as ``torch.linalg.det`` (and ``nr.det``,
    ``Tensor.det``): the sign of LU's row permutation times the product of U's diagonal; 0 for a
    singular matrix.

    >>> import neurarust as nr
    >>> round(nr.linalg.det(nr.tensor([[1.0, 2.0], [3.0, 4.0]])).item(), 4)
    -2.0
    """
    sign, diag = _lu_parts(A, "linalg.det")
    return sign * call("prod", diag, -1)


def slogdet(A: Tensor) -> SlogdetResult:
    """``(sign, logabsdet)`` of the determinant, as ``torch.linalg.slogdet`` (and ``nr.slogdet``):
    ``det = sign * exp(logabsdet)`` without overflow; ``(0, -inf)`` for a singular matrix.

    >>> import neurarust as nr
    >>> sign, logabsdet = nr.linalg.slogdet(nr.tensor([[0.0, 2.0], [3.0, 0.0]]))
    >>> sign.item(), round(logabsdet.exp().item(), 4)
    (-1.0, 6.0)
    """
    sign, diag = _lu_parts(A, "linalg.slogdet")
    sign = sign * call("prod", call("sign", diag), -1)
    return SlogdetResult(sign, call("sum", call("log", call("abs", diag)), -1))


# -- Cholesky -----------------------------------------------------------------------------------------

def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor of a (batch of) symmetric positive-definite matrices, as
    ``torch.linalg.cholesky``: lower ``L`` with ``A = L L^T`` (``upper=True``: ``U = L^T``). A matrix
    that is not positive definite raises :class:`~neurarust.errors.LinAlgError` (see
    ``nr.linalg.cholesky_ex``). The symmetric part of ``A`` is factored (see the module notes).

    >>> import neurarust as nr
    >>> nr.linalg.cholesky(nr.tensor([[4.0, 2.0], [2.0, 5.0]])).tolist()
    [[2.0, 0.0], [1.0, 2.0]]
    """
    L, info = call("linalg.cholesky_ex", A, upper=upper)
    raise_for_info(info, "linalg.cholesky", CHOLESKY_PROBLEM)
    return L
