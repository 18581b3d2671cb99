"""The factorizations ``nr.linalg``'s solvers stand on: ``linalg.lu_factor_ex`` (LU with partial
pivoting), ``linalg.cholesky_ex`` and ``linalg.solve_triangular``, one registry entry each.

None has a kernel of its own. On the Triton backend each is a Python loop over the columns (or rows)
of small matrices, every step a few registered ops (``matmul``, ``where``, ``gather``, ``argmax``),
batched over the leading dims; on the reference backend each runs NumPy (``np.linalg.cholesky``, and
the textbook loops for LU and substitution, which NumPy lacks). Their derivatives are PyTorch's
formulas written with registered ops (triangular solves and matmuls), so they chain to any order.
``linalg.solve``, ``inv``, ``det``, ``slogdet`` and ``cholesky`` are compositions of these
(``neurarust/solvers.py``).

    >>> import neurarust as nr
    >>> LU, pivots, info = nr.linalg.lu_factor_ex(nr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> LU.tolist(), pivots.tolist(), info.item()
    ([[3.0, 4.0], [0.3333333432674408, 0.6666666269302368]], [2, 2], 0)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.creation import full, zeros, zeros_like
from neurarust.errors import DerivativeNotImplementedError, DTypeError, LinAlgError, ShapeError, SignatureError
from neurarust.registry import Op, Sample, autocast_class, call
from neurarust.shape import broadcast_shapes
from neurarust.tensor import Tensor

from . import samples as S
from .linalg import _eye, _numpy_result, _op, _torch
from .linalg import _err as _error_input

FLOATS = (_dt.float32, _dt.float64)


# ----------------------------------------------------------------------------------------------
# Checks shared by the entries and the compositions of neurarust/solvers.py
# ----------------------------------------------------------------------------------------------

def check_matrix(name: str, A, what: str = "A", square: bool = True) -> None:
    """``A`` is a float32/float64 tensor of (square, by default) matrices, or a clear error."""
    if not isinstance(A, Tensor):
        raise SignatureError(f"{name}(): argument '{what}' must be a Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise ShapeError(f"{name}: The input tensor {what} must have at least 2 dimensions, got shape {list(A.shape)}")
    if square and A.shape[-1] != A.shape[-2]:
        raise ShapeError(f"{name}: {what} must be batches of square matrices, but they are "
                         f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if A.dtype not in FLOATS:
        raise DTypeError(f"{name}: Expected a floating point tensor as input (float32 or float64). Got {A.dtype.name}")


def raise_for_info(info: Tensor, name: str, problem: str) -> None:
    """Raise :class:`LinAlgError` where ``info`` (LAPACK's, per matrix) is not 0. The one host sync,
    as in PyTorch, which checks the same flag."""
    if info.numel() == 0 or not bool(call("amax", info.reshape(-1)).item()):
        return
    flat = info.reshape(-1).tolist()
    at = next(i for i, v in enumerate(flat) if v)
    batch = f" (Batch element {at})" if info.ndim else ""
    raise LinAlgError(f"{name}{batch}: {problem.format(info=flat[at])}")


def _first_set(flags: list, like: Tensor) -> Tensor:
    """Per matrix, 1 + the index of the first true flag in ``flags`` (one bool tensor per step), or 0."""
    if not flags:
        return zeros(tuple(like.shape[:-2]), dtype=_dt.int32, device=like.device)
    stacked = call("stack", flags, -1)
    first = call("argmax", stacked.to(_dt.int32), -1) + 1
    return call("where", call("amax", stacked, -1), first, 0).to(_dt.int32)


def permutation(pivots: Tensor, m: int) -> Tensor:
    """The row order LAPACK's ``pivots`` (1-based sequential swaps) stand for: ``perm`` with
    ``LU = A[perm]`` (``A = P L U``). Built with one gather and two wheres per swap: no host sync."""
    idx = call("arange", m, device=pivots.device)
    perm = idx.expand(*pivots.shape[:-1], m)
    for j in range(pivots.shape[-1]):
        p = (pivots[..., j:j + 1] - 1).to(_dt.int64)
        at_p = call("gather", perm, -1, p)
        perm = call("where", idx == j, at_p, call("where", idx == p, perm[..., j:j + 1], perm))
    return perm


def permutation_matrix(pivots: Tensor, m: int, like: Tensor) -> Tensor:
    """``P`` of ``A = P L U`` as a 0/1 matrix in ``like``'s dtype (so ``P @ X`` is differentiable in X)."""
    perm = permutation(pivots, m)
    rows = call("arange", m, device=like.device).unsqueeze(-1)
    return (perm.unsqueeze(-2) == rows).to(like.dtype)


def unpack_lu(LU: Tensor) -> tuple[Tensor, Tensor]:
    """``(L, U)`` of a square packed LU: unit lower triangle and upper triangle."""
    n = LU.shape[-1]
    return call("tril", LU, -1) + _eye(n, n, LU), call("triu", LU)


# ----------------------------------------------------------------------------------------------
# linalg.solve_triangular: substitution, one row of X per step
# ----------------------------------------------------------------------------------------------

def _substitute(T: Tensor, B: Tensor, upper: bool, unit: bool) -> Tensor:
    """``X`` with ``T X = B`` for triangular ``T`` (zeros in its other triangle). The rows of X not
    found yet are zero, so one matmul per step sums the known ones; T's diagonal is never in it."""
    n = T.shape[-1]
    rows = call("arange", n, device=B.device).unsqueeze(-1)
    X = zeros_like(B)
    for i in (reversed(range(n)) if upper else range(n)):
        x = B[..., i:i + 1, :] - call("matmul", T[..., i:i + 1, :], X)
        if not unit:
            x = x / T[..., i:i + 1, i:i + 1]
        X = call("where", rows == i, x, X)  # where, not a 0/1 product: an inf row stays in its row
    return X


def _broadcast_batch(A: Tensor, B: Tensor) -> tuple[Tensor, Tensor]:
    batch = broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2]))
    return A.expand(*batch, *A.shape[-2:]), B.expand(*batch, *B.shape[-2:])


def check_rhs(name: str, A: Tensor, B, left: bool) -> None:
    """``B`` is a right-hand side for the square ``A`` (``A X = B``, or ``X A = B`` with ``left=False``):
    matrices of A's dtype with matching rows (columns), or a clear error."""
    check_matrix(name, B, "B", square=False)
    if B.dtype is not A.dtype:
        raise DTypeError(f"{name}: Expected A and B to have the same dtype, but found A of type {A.dtype.name} "
                         f"and B of type {B.dtype.name} instead")
    n = A.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        side = "rows" if left else "columns"
        raise ShapeError(f"{name}: Incompatible shapes of A and B for the equation {'AX = B' if left else 'XA = B'} "
                         f"({n}x{n} and {B.shape[-2]}x{B.shape[-1]}): B must have {n} {side}")


def _check_triangular(A, B, left: bool) -> None:
    name = "linalg.solve_triangular"
    check_matrix(name, A)
    check_rhs(name, A, B, left)
    try:
        broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2]))
    except Exception as e:  # noqa: BLE001 - reworded with both shapes
        raise ShapeError(f"{name}: the batch dims of A {list(A.shape)} and B {list(B.shape)} do not broadcast") from e


def solve_triangular(op: Op, A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``) for triangular ``A``
    (``upper`` or lower; its other triangle is never read, nor its diagonal with ``unitriangular``,
    which takes it as ones), as ``torch.linalg.solve_triangular``. ``B`` has at least 2 dims; the
    batch dims broadcast. A zero on the diagonal gives inf/NaN, as in PyTorch (no check).

    >>> import neurarust as nr
    >>> A = nr.tensor([[2.0, 1.0], [0.0, 4.0]])
    >>> nr.linalg.solve_triangular(A, nr.tensor([[4.0], [8.0]]), upper=True).tolist()
    [[1.0], [2.0]]
    """
    _check_triangular(A, B, left)
    if backends.for_device(A._storage.device) == "reference":
        x = backends.run_reference(op.reference, A._np(), B._np(), upper, left, unitriangular)
        return _numpy_result(x, A.dtype)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return solve_triangular(op, A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT.contiguous()
    A, B = _broadcast_batch(A, B)
    T = call("triu", A) if upper else call("tril", A)
    return _substitute(T, B, upper, unitriangular)


def _ref_solve_triangular(a, b, upper, left=True, unitriangular=False):
    if not left:
        return _ref_solve_triangular(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2), not upper, True,
                                     unitriangular).swapaxes(-1, -2)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    t = np.broadcast_to(np.triu(a) if upper else np.tril(a), batch + a.shape[-2:])
    x = np.zeros(batch + b.shape[-2:], np.result_type(a, b))
    b = np.broadcast_to(b, x.shape)
    n = a.shape[-1]
    for i in (reversed(range(n)) if upper else range(n)):
        row = b[..., i, :] - np.einsum("...j,...jk->...k", t[..., i, :], x)
        x[..., i, :] = row if unitriangular else row / t[..., i, i, None]
    return x


def _solve_triangular_backward(grad, A, upper, left, unitriangular, result):
    """PyTorch's: ``gB = A^{-T} g`` (``g A^{-T}`` on the right), ``gA = -gB X^T`` (``-X^T gB``) kept
    to A's triangle (strictly, with ``unitriangular``)."""
    if grad is None:
        return None, None
    gB = call("linalg.solve_triangular", A.mT, grad, upper=not upper, left=left, unitriangular=unitriangular)
    gA = -(call("matmul", gB, result.mT) if left else call("matmul", result.mT, gB))
    shift = 1 if unitriangular else 0
    gA = call("triu", gA, shift) if upper else call("tril", gA, -shift)
    return gA, gB


# ----------------------------------------------------------------------------------------------
# linalg.lu_factor_ex: Gaussian elimination with partial pivoting, LAPACK's getrf conventions
# ----------------------------------------------------------------------------------------------

class LUFactorExResult(NamedTuple):
    """``(LU, pivots, info)`` of :func:`lu_factor_ex`."""

    LU: Tensor
    pivots: Tensor
    info: Tensor


def _swap_in_pivot(U: Tensor, j: int, rows: Tensor) -> tuple[Tensor, Tensor]:
    """Rows ``j`` and ``p`` of ``U`` swapped, ``p >= j`` the first row of the largest ``|U[:, j]|``
    (LAPACK's idamax); returns ``(U, p)`` with ``p`` of shape ``(*B, 1)``."""
    score = call("where", rows >= j, call("abs", U[..., :, j]), -1.0)
    p = call("argmax", score, -1, True)
    n = U.shape[-1]
    row_p = call("gather", U, -2, p.unsqueeze(-1).expand(*p.shape, n))
    is_p = (rows == p).unsqueeze(-1)
    U = call("where", (rows == j).unsqueeze(-1), row_p, call("where", is_p, U[..., j:j + 1, :], U))
    return U, p


def lu_by_columns(A: Tensor, pivot: bool) -> LUFactorExResult:
    """Packed LU of a batch of (m, n) matrices with registered ops (the Triton path)."""
    *batch, m, n = A.shape
    rows, cols = call("arange", m, device=A.device), call("arange", n, device=A.device)
    U, pivots, zero = A, [], []
    for j in range(min(m, n)):
        if pivot:
            U, p = _swap_in_pivot(U, j, rows)
        else:
            p = full((*batch, 1), j, dtype=_dt.int64, device=A.device)
        d = U[..., j:j + 1, j]
        below = U[..., :, j]
        # A zero pivot leaves the column unscaled, as getrf does (it is all zeros when pivoting).
        ell = call("where", rows > j, call("where", d != 0, below / d, below), 0.0)
        update = call("where", cols > j, U[..., j:j + 1, :], 0.0)
        U = U - ell.unsqueeze(-1) * update
        U = call("where", call("logical_and", (rows > j).unsqueeze(-1), cols == j), ell.unsqueeze(-1), U)
        pivots.append(p.to(_dt.int32) + 1)
        zero.append((d == 0).squeeze(-1))
    piv = call("cat", pivots, -1) if pivots else zeros((*batch, 0), dtype=_dt.int32, device=A.device)
    return LUFactorExResult(U if pivots else call("clone", A), piv, _first_set(zero, A))


def _ref_lu_factor_ex(a, pivot=True, check_errors=False):
    *batch, m, n = a.shape
    lu = np.array(a.reshape(-1, m, n), copy=True)
    count, k = lu.shape[0], min(m, n)
    pivots, info, every = np.zeros((count, k), np.int32), np.zeros(count, np.int32), np.arange(count)
    for j in range(k):
        p = j + np.argmax(np.abs(lu[:, j:, j]), axis=1) if pivot else np.full(count, j)
        row_j = lu[every, j].copy()
        lu[every, j] = lu[every, p]
        lu[every, p] = row_j
        pivots[:, j] = p + 1
        d = lu[:, j, j]
        info[(d == 0) & (info == 0)] = j + 1
        col = lu[:, j + 1:, j]
        lu[:, j + 1:, j] = np.where((d != 0)[:, None], col / np.where(d != 0, d, 1)[:, None], col)
        lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j, None] * lu[:, j, None, j + 1:]
    return lu.reshape(a.shape), pivots.reshape(*batch, k), info.reshape(batch)


LU_PROBLEM = ("U[{info},{info}] is zero and using it on lu_solve would result in a division by zero. If you still "
              "want to perform the factorization, consider calling linalg.lu_factor_ex(A) without check_errors")


def lu_factor_ex(op: Op, A: Tensor, *, pivot: bool = True, check_errors: bool = False) -> LUFactorExResult:
    """The LU decomposition with partial pivoting of a (batch of) matrices, as
    ``torch.linalg.lu_factor_ex``: ``A = P L U`` packed into one matrix ``LU`` (L's unit diagonal
    left out), ``pivots`` LAPACK's 1-based int32 row swaps (row ``i`` was swapped with row
    ``pivots[i]``), ``info`` per matrix the 1-based index of the first zero of U's diagonal, else 0.
    With ``check_errors`` a nonzero ``info`` raises :class:`~neurarust.errors.LinAlgError` (a host
    sync). ``pivot=False`` factors without row swaps. Differentiable for square matrices.

    >>> import neurarust as nr
    >>> LU, pivots, info = nr.linalg.lu_factor_ex(nr.tensor([[1.0, 2.0], [2.0, 4.0]]))
    >>> LU.tolist(), pivots.tolist(), info.item()
    ([[2.0, 4.0], [0.5, 0.0]], [2, 2], 2)
    """
    check_matrix("linalg.lu_factor_ex", A, square=False)
    if backends.for_device(A._storage.device) == "reference":
        lu, piv, info = backends.run_reference(op.reference, A._np(), pivot)
        result = LUFactorExResult(_numpy_result(lu, A.dtype), _numpy_result(piv, _dt.int32),
                                  _numpy_result(info, _dt.int32))
    else:
        result = lu_by_columns(A, pivot)
    if check_errors:
        raise_for_info(result.info, "linalg.lu_factor_ex", LU_PROBLEM)
    return result


def _lu_factor_backward(grad, A, result):
    """PyTorch's for square A: ``gA = P L^{-T} (tril(L^T gL, -1) + triu(gU U^T)) U^{-T}``."""
    gLU = grad[0]
    m, n = A.shape[-2:]
    if gLU is None:
        return (None,)
    if m != n:
        raise DerivativeNotImplementedError(f"linalg.lu_factor_ex: the derivative is implemented for square "
                                            f"matrices only in NeuraRust, got {m} by {n}")
    LU, pivots = result[0], result[1]
    L, U = unpack_lu(LU)
    phi = (call("tril", call("matmul", L.mT, call("tril", gLU, -1)), -1)
           + call("triu", call("matmul", call("triu", gLU), U.mT)))
    X = call("linalg.solve_triangular", U.mT, phi, upper=False, left=False)
    X = call("linalg.solve_triangular", L.mT, X, upper=True, unitriangular=True)
    return (call("matmul", permutation_matrix(pivots, m, X), X),)


# ----------------------------------------------------------------------------------------------
# linalg.cholesky_ex: column by column, of the symmetric part of A
# ----------------------------------------------------------------------------------------------

class CholeskyExResult(NamedTuple):
    """``(L, info)`` of :func:`cholesky_ex`."""

    L: Tensor
    info: Tensor


def cholesky_by_columns(S: Tensor) -> CholeskyExResult:
    """Lower Cholesky factor of symmetric ``S`` with registered ops (the Triton path): column ``j`` is
    ``S[:, j]`` less the products of the columns already found (zeros beyond them), over its root."""
    n = S.shape[-1]
    rows = call("arange", n, device=S.device)
    L, failed = zeros_like(S), []
    for j in range(n):
        s = S[..., :, j] - call("matmul", L, L[..., j, :].unsqueeze(-1)).squeeze(-1)
        d = s[..., j:j + 1]
        root = call("sqrt", d)
        col = call("where", rows > j, s / root, call("where", rows == j, root, 0.0))
        L = call("where", rows == j, col.unsqueeze(-1), L)
        failed.append(call("logical_not", d > 0).squeeze(-1))  # NaN fails too
    return CholeskyExResult(L, _first_set(failed, S))


def _symmetric_part(A):
    return (A + A.mT) * 0.5


def _failing_minor(s: np.ndarray) -> int:
    for k in range(1, s.shape[-1] + 1):
        try:
            np.linalg.cholesky(s[:k, :k])
        except np.linalg.LinAlgError:
            return k
    return 0


def _ref_cholesky_ex(a, upper=False, check_errors=False):
    s = _symmetric_part(a)
    n = a.shape[-1]
    flat = s.reshape(-1, n, n)
    L, info = np.full_like(flat, np.nan), np.zeros(flat.shape[0], np.int32)
    for b in range(flat.shape[0]):
        info[b] = _failing_minor(flat[b])
        if not info[b]:
            L[b] = np.linalg.cholesky(flat[b])
    L = L.reshape(a.shape)
    return (np.swapaxes(L, -1, -2) if upper else L), info.reshape(a.shape[:-2])


CHOLESKY_PROBLEM = ("The factorization could not be completed because the input is not positive-definite "
                    "(the leading minor of order {info} is not positive-definite).")


def cholesky_ex(op: Op, A: Tensor, *, upper: bool = False, check_errors: bool = False) -> CholeskyExResult:
    """The Cholesky factor of a (batch of) symmetric positive-definite matrices, as
    ``torch.linalg.cholesky_ex``: lower ``L`` with ``A = L L^T`` (``upper=True``: ``U = L^T``, so
    ``A = U^T U``) and ``info``, per matrix the order of the first leading minor that is not positive
    definite, else 0. With ``check_errors`` a nonzero ``info`` raises
    :class:`~neurarust.errors.LinAlgError`. Where ``info`` is nonzero, ``L`` is unspecified (NaN
    here, partial in PyTorch). NeuraRust factors the symmetric part ``(A + A^T) / 2``, which is ``A``
    for the symmetric input the function is meant for (PyTorch reads one triangle); so the gradient
    is PyTorch's symmetric one and it is the true derivative.

    >>> import neurarust as nr
    >>> L, info = nr.linalg.cholesky_ex(nr.tensor([[4.0, 2.0], [2.0, 5.0]]))
    >>> L.tolist(), info.item()
    ([[2.0, 0.0], [1.0, 2.0]], 0)
    """
    check_matrix("linalg.cholesky_ex", A)
    if backends.for_device(A._storage.device) == "reference":
        L, info = backends.run_reference(op.reference, A._np(), upper)
        result = CholeskyExResult(_numpy_result(L, A.dtype), _numpy_result(info, _dt.int32))
    else:
        L, info = cholesky_by_columns(_symmetric_part(A))
        result = CholeskyExResult(L.mT.contiguous() if upper else L, info)
    if check_errors:
        raise_for_info(result.info, "linalg.cholesky_ex", CHOLESKY_PROBLEM)
    return result


def _cholesky_backward(grad, upper, result):
    """PyTorch's (Murray 2016): ``gA = L^{-T} Phi L^{-1}``, ``Phi`` the symmetric matrix whose lower
    triangle is ``tril(L^T gL)`` with its diagonal halved, all halved."""
    gL, L = grad[0], result[0]
    if gL is None:
        return (None,)
    if upper:
        L, gL = L.mT, gL.mT
    phi = call("tril", call("matmul", L.mT, gL))
    phi = (phi + call("tril", phi, -1).mT) * 0.5
    gA = call("linalg.solve_triangular", L.mT, phi, upper=True)
    return (call("linalg.solve_triangular", L, gA, upper=False, left=False),)


# ----------------------------------------------------------------------------------------------
# Samples, errors, registration
# ----------------------------------------------------------------------------------------------

def _well(d, shape, seed):
    """Identity-dominated values: well conditioned, and no near-tie in any pivot choice."""
    return (np.eye(shape[-1]) * 4 + S.values(d, shape, seed, low=-1.0, high=1.0)).astype(d.np).astype(np.float64)


def _spd(d, shape, seed):
    m = S.values(d, shape, seed, low=-1.0, high=1.0)
    return (m @ np.swapaxes(m, -1, -2) + np.eye(shape[-1]) * 2).astype(d.np).astype(np.float64)


def _lu_samples(d):
    yield Sample((S.values(d, (3, 3), 0),), name="square")
    yield Sample((S.values(d, (2, 3, 3), 1),), name="batched")
    yield Sample((S.TensorSpec(S.values(d, (3, 2), 2), "transposed"),), name="tall_transposed")
    yield Sample((np.array([[1.0, 2.0], [2.0, 4.0]]),), name="singular")


def _triangular_samples(d):
    yield Sample((_well(d, (3, 3), 0), S.values(d, (3, 2), 1)), {"upper": True}, name="upper")
    yield Sample((_well(d, (2, 3, 3), 2), S.values(d, (2, 3), 3)), {"upper": False, "left": False},
                 name="lower_right_broadcast")
    yield Sample((S.TensorSpec(_well(d, (3, 3), 4), "transposed"), S.values(d, (2, 3, 1), 5)),
                 {"upper": False, "unitriangular": True}, name="unit_transposed_batched_b")


def _cholesky_samples(d):
    yield Sample((_spd(d, (3, 3), 0),), name="lower")
    yield Sample((_spd(d, (2, 3, 3), 1),), {"upper": True}, name="batched_upper")


def _lu_errors():
    yield _error_input((np.ones(3),), ShapeError, "at least 2 dimensions")
    yield _error_input((np.ones((2, 2), np.int64),), DTypeError, "floating point")
    yield _error_input((np.array([[1.0, 2.0], [2.0, 4.0]]),), LinAlgError, r"U\[2,2\] is zero", check_errors=True)


def _triangular_errors():
    yield _error_input((np.eye(3), np.ones(3)), ShapeError, "B must have at least 2 dimensions", upper=True)
    yield _error_input((np.eye(3), np.ones((2, 2))), ShapeError, "B must have 3 rows", upper=True)
    yield _error_input((np.ones((2, 3)), np.ones((2, 2))), ShapeError, "square matrices", upper=True)


def _cholesky_errors():
    yield _error_input((np.ones((2, 3)),), ShapeError, "square matrices")
    yield _error_input((np.array([[1.0, 2.0], [2.0, 1.0]]),), LinAlgError, "minor of order 2", check_errors=True)


def _torch_cholesky_ex(A, upper=False, check_errors=False):
    """PyTorch reads one triangle; NeuraRust factors the symmetric part (identical on the samples):
    the oracle symmetrizes as PyTorch's own gradient checks of cholesky do."""
    import torch

    return torch.linalg.cholesky_ex((A + A.mT) / 2, upper=upper, check_errors=check_errors)


TOLERANCES = {_dt.float32: (1e-4, 1e-5), _dt.float64: (1e-10, 1e-12)}

_op("linalg.lu_factor_ex", lu_factor_ex, _ref_lu_factor_ex, FLOATS, _lu_samples, _lu_errors, method=False,
    tolerances=TOLERANCES, torch_name=_torch("linalg.lu_factor_ex"), backward=_lu_factor_backward,
    differentiable=("A",))
_op("linalg.solve_triangular", solve_triangular, _ref_solve_triangular, FLOATS, _triangular_samples,
    _triangular_errors, method=False, tolerances=TOLERANCES, torch_name=_torch("linalg.solve_triangular"),
    backward=_solve_triangular_backward, differentiable=("A", "B"))
_op("linalg.cholesky_ex", cholesky_ex, _ref_cholesky_ex, FLOATS, _cholesky_samples, _cholesky_errors, method=False,
    tolerances=TOLERANCES, torch_name=_torch_cholesky_ex, backward=_cholesky_backward, differentiable=("A",))

# PyTorch runs its linalg functions in float32 inside a CPU autocast region.
autocast_class(("linalg.lu_factor_ex", "linalg.solve_triangular", "linalg.cholesky_ex"), cpu="fp32")
