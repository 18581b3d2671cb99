"""The spectral decompositions of ``nr.linalg``: ``linalg.eigh`` (eigenvalues and eigenvectors of a
symmetric matrix) and ``linalg.svd`` (the singular value decomposition), one registry entry each.

Neither has a kernel of its own. On the Triton backend each is Jacobi's method written with
registered ops, batched over the leading dims: ``eigh`` the two-sided (cyclic) one, ``svd`` the
one-sided one of Hestenes, which rotates the columns of ``A`` itself and so keeps small singular
values to high relative accuracy (the eigenvalues of ``A^T A`` would not). Every sweep visits each
pair of indices once, in the parallel (round-robin) order: a round's rotations touch disjoint pairs,
so they make one orthogonal matrix ``J`` and each round is a few matmuls. Sweeps run until the
off-diagonal part is negligible, checked once per sweep (one host sync per sweep, at most
:data:`MAX_SWEEPS`). On the reference backend they call ``np.linalg.eigh`` and ``np.linalg.svd``.

Eigenvectors and singular vectors are only defined up to sign: both backends (and the tests'
PyTorch oracle) flip each so that its entry of largest magnitude is positive, so the two backends
agree. ``eigh`` decomposes the symmetric part ``(A + A^T) / 2`` (as ``linalg.cholesky_ex`` does):
``A`` itself for the symmetric input it is meant for, where PyTorch reads one triangle (``UPLO``).
The derivatives are PyTorch's formulas written with registered ops, so they chain to any order.

    >>> import neurarust as nr
    >>> w, V = nr.linalg.eigh(nr.tensor([[2.0, 1.0], [1.0, 2.0]]))
    >>> [round(x, 4) for x in w.tolist()]
    [1.0, 3.0]
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.creation import tensor as _constant
from neurarust.errors import ArgumentError, DTypeError, ShapeError
from neurarust.registry import Op, Sample, autocast_class, call
from neurarust.tensor import Tensor

from . import samples as S
from .linalg import _eye, _numpy_result, _op, householder_qr
from .linalg import _err as _error_input
from .linalg_lu import FLOATS, check_matrix

MAX_SWEEPS = 30   # a safety net: 3x3 to 10x10 matrices converge in float64 in 4 to 8 sweeps
_SLACK = 8        # convergence tolerances are _SLACK * size * eps: rounding leaves that much behind


class EighResult(NamedTuple):
    """``(eigenvalues, eigenvectors)`` of :func:`eigh`."""

    eigenvalues: Tensor
    eigenvectors: Tensor


class SVDResult(NamedTuple):
    """``(U, S, Vh)`` of :func:`svd`."""

    U: Tensor
    S: Tensor
    Vh: Tensor


# ----------------------------------------------------------------------------------------------
# Jacobi rounds: constant matrices that gather a round's pivots and scatter its rotations
# ----------------------------------------------------------------------------------------------

def round_robin(n: int) -> list[list[tuple[int, int]]]:
    """Every pair ``(p, q)``, ``p < q < n``, once, in rounds of disjoint pairs (a round-robin
    tournament; an odd ``n`` gets a dummy index that sits out).

    >>> round_robin(3)
    [[(1, 2)], [(0, 2)], [(0, 1)]]
    """
    m = n + n % 2
    players, rounds = list(range(m)), []
    for _ in range(m - 1):
        pairs = [tuple(sorted((players[i], players[m - 1 - i]))) for i in range(m // 2)]
        rounds.append(sorted(p for p in pairs if p[1] < n))
        players = [players[0], players[-1], *players[1:-1]]
    return rounds


@functools.lru_cache(maxsize=64)
def _round_arrays(n: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per round ``(select, place, fixed)``: ``G_flat @ select`` gives ``(g_qq - g_pp, 2 g_pq)`` per
    pair; ``[cos, sin] @ place + fixed`` is the round's rotation ``J`` flattened (``J[p, p] = J[q, q]
    = c``, ``J[p, q] = s = -J[q, p]``, ones on the diagonal of indices that sit out)."""
    out = []
    for pairs in round_robin(n):
        k = len(pairs)
        select, place, fixed = np.zeros((n * n, 2 * k)), np.zeros((2 * k, n * n)), np.eye(n).reshape(-1)
        for i, (p, q) in enumerate(pairs):
            select[q * n + q, i], select[p * n + p, i], select[p * n + q, k + i] = 1.0, -1.0, 2.0
            place[i, p * n + p] = place[i, q * n + q] = 1.0
            place[k + i, p * n + q], place[k + i, q * n + p] = 1.0, -1.0
            fixed[p * n + p] = fixed[q * n + q] = 0.0
        out.append((select, place, fixed))
    return out


def _rounds(n: int, like: Tensor) -> list[tuple[Tensor, Tensor, Tensor]]:
    return [tuple(_constant(a, dtype=like.dtype, device=like.device) for a in arrays) for arrays in _round_arrays(n)]


def _rotation(G: Tensor, constants: tuple) -> Tensor:
    """The round's ``J``: each rotation zeroes ``(J^T G J)[p, q]``, angle ``atan(2 g_pq / (g_qq -
    g_pp)) / 2``, at most pi/4 (the small one, on which Jacobi's convergence rests)."""
    select, place, fixed = constants
    n = G.shape[-1]
    k = select.shape[-1] // 2
    pivots = call("matmul", G.reshape(-1, n * n), select)
    gap, twice = pivots[:, :k], pivots[:, k:]
    # A zero gap: 2 g_pq / tiny is +-inf (angle pi/4), or 0 when g_pq is 0 too (no rotation).
    gap = call("where", gap == 0, _dt.finfo(G.dtype).tiny, gap)
    half = call("atan", twice / gap) * 0.5
    # sin itself, not cos(half - pi/2): a tiny angle must keep its relative accuracy.
    cs = call("cat", [call("cos", half), call("sin", half)], -1)
    return (call("matmul", cs, place) + fixed).reshape(-1, n, n)


def _off_diagonal(n: int, like: Tensor) -> Tensor:
    return call("logical_not", _eye(n, n, like).to(_dt.bool_))


# ----------------------------------------------------------------------------------------------
# Signs: each vector's entry of largest magnitude made positive, the same on every backend
# ----------------------------------------------------------------------------------------------

def column_signs(X: Tensor) -> Tensor:
    """+1 or -1 per column of ``X`` (shape ``(*, 1, k)``): the sign of its largest-magnitude entry
    (the first of equal ones)."""
    at = call("argmax", call("abs", X), -2, True)
    top = call("gather", X, -2, at)
    return 1.0 - 2.0 * (top < 0).to(X.dtype)


def _np_column_signs(x: np.ndarray) -> np.ndarray:
    if x.shape[-2] == 0:  # no entries: nothing to flip
        return np.ones((*x.shape[:-2], 1, x.shape[-1]), x.dtype)
    at = np.argmax(np.abs(x), axis=-2)[..., None, :]
    return np.where(np.take_along_axis(x, at, -2) < 0, -1.0, 1.0).astype(x.dtype)


def _take_columns(X: Tensor, order: Tensor) -> Tensor:
    """The columns of ``X`` in ``order`` (``(B, k)`` indices)."""
    return call("gather", X, -1, order.unsqueeze(-2).expand(*X.shape[:-1], order.shape[-1]))


# ----------------------------------------------------------------------------------------------
# linalg.eigh: two-sided Jacobi
# ----------------------------------------------------------------------------------------------

def _eigh_converged(A: Tensor, tol: float) -> bool:
    """Whether every matrix's off-diagonal part is below ``tol`` of its Frobenius norm (a host sync)."""
    squares = A * A
    off = call("sum", call("where", _off_diagonal(A.shape[-1], A), squares, 0.0), (-2, -1))
    excess = off - call("sum", squares, (-2, -1)) * (tol * tol)
    return not bool(call("amax", excess).item() > 0)


def jacobi_eigh(A: Tensor) -> tuple[Tensor, Tensor]:
    """``(w, V)`` of a batch ``(B, n, n)`` of symmetric matrices with registered ops (the Triton path):
    ``A = V diag(w) V^T``, ``w`` ascending, each column of ``V`` signed as :func:`column_signs` says."""
    n = A.shape[-1]
    V = _eye(n, n, A).expand(*A.shape).contiguous()
    rounds = _rounds(n, A)
    tol = _SLACK * n * _dt.finfo(A.dtype).eps
    for _ in range(MAX_SWEEPS):
        if _eigh_converged(A, tol):
            break
        for constants in rounds:
            J = _rotation(A, constants)
            A = call("matmul", J.mT, call("matmul", A, J))
            V = call("matmul", V, J)
    w, order = call("sort", A.diagonal(0, -2, -1).contiguous(), -1)
    V = _take_columns(V, order)
    return w, V * column_signs(V)


def _symmetric_part(A: Tensor) -> Tensor:
    return (A + A.mT) * 0.5


def _ref_eigh(a: np.ndarray, UPLO: str = "L") -> tuple[np.ndarray, np.ndarray]:
    w, v = np.linalg.eigh((a + np.swapaxes(a, -1, -2)) * 0.5)
    return w, v * _np_column_signs(v)


def _check_uplo(UPLO) -> None:
    if UPLO not in ("L", "U"):
        raise ArgumentError(f"linalg.eigh: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def eigh(op: Op, A: Tensor, UPLO: str = "L") -> EighResult:
    """The eigenvalues (ascending) and orthonormal eigenvectors (the columns of ``eigenvectors``) of a
    (batch of) real symmetric matrices, as ``torch.linalg.eigh``: ``A = V diag(w) V^T``. float32 and
    float64. Each eigenvector is signed so that its largest-magnitude entry is positive (any sign is
    an eigenvector; PyTorch's is LAPACK's). The symmetric part ``(A + A^T) / 2`` is decomposed, so
    ``UPLO`` (``'L'`` or ``'U'``, checked) changes nothing: PyTorch reads only that triangle, which is
    the same for a symmetric ``A``. Differentiable with PyTorch's formula; the gradient is not finite
    where two eigenvalues are equal and the loss depends on their eigenvectors (as in PyTorch).

    >>> import neurarust as nr
    >>> w, V = nr.linalg.eigh(nr.tensor([[2.0, 0.0], [0.0, 1.0]]))
    >>> w.tolist(), V.tolist()
    ([1.0, 2.0], [[0.0, 1.0], [1.0, 0.0]])
    """
    check_matrix("linalg.eigh", A)
    _check_uplo(UPLO)
    if backends.for_device(A._storage.device) == "reference":
        w, v = backends.run_reference(op.reference, A._np(), UPLO)
        return EighResult(_numpy_result(w, A.dtype), _numpy_result(v, A.dtype))
    *batch, n, _ = A.shape
    if n == 0 or 0 in batch:
        return EighResult(Tensor._empty((*batch, n), A.dtype, A.device), Tensor._empty(tuple(A.shape), A.dtype, A.device))
    w, V = jacobi_eigh(_symmetric_part(A).reshape(-1, n, n))
    return EighResult(w.reshape(*batch, n), V.reshape(*batch, n, n))


def _eigh_backward(grad, result):
    """PyTorch's: ``gA = V (skew(V^T gV) / E + diag(gw)) V^T``, ``E[i, j] = w[j] - w[i]``, with
    ``skew(X) = (X - X^T) / 2``. Symmetric, so it is also the derivative through ``(A + A^T) / 2``."""
    gw, gV = grad
    w, V = result
    if gV is None:
        return (call("matmul", V * gw.unsqueeze(-2), V.mT),) if gw is not None else (None,)
    n = w.shape[-1]
    VtgV = call("matmul", V.mT, gV)
    E = w.unsqueeze(-2) - w.unsqueeze(-1)
    eye = _eye(n, n, w)
    inner = (VtgV - VtgV.mT) * 0.5 / call("where", eye.to(_dt.bool_), 1.0, E)
    if gw is not None:
        inner = inner + eye * gw.unsqueeze(-1)
    return (call("matmul", V, call("matmul", inner, V.mT)),)


# ----------------------------------------------------------------------------------------------
# linalg.svd: one-sided Jacobi on the columns of A (or of A^T when A is wide)
# ----------------------------------------------------------------------------------------------

def _svd_converged(G: Tensor, tol: float) -> bool:
    """Whether every pair of columns is orthogonal: ``|g_pq| <= tol sqrt(g_pp g_qq)`` (a host sync)."""
    d = G.diagonal(0, -2, -1)
    excess = G * G - (d.unsqueeze(-1) * d.unsqueeze(-2)) * (tol * tol)
    return not bool(call("amax", call("where", _off_diagonal(G.shape[-1], G), excess, 0.0)).item() > 0)


def _complete(U: Tensor, s: Tensor, columns: int) -> Tensor:
    """``U`` (orthonormal columns where ``s > 0``, zero columns elsewhere, those last) completed to
    ``columns`` orthonormal columns: the Householder Q of ``U`` spans the same leading columns. The
    columns added beyond ``U``'s are signed here; the leading ones are left to the caller."""
    Q = householder_qr(U, "complete").Q
    k = U.shape[-1]
    lead = call("where", s.unsqueeze(-2) > 0, U, Q[..., :, :k])
    if columns == k:
        return lead
    rest = Q[..., :, k:columns]
    return call("cat", [lead, rest * column_signs(rest)], -1)


def jacobi_svd(A: Tensor, full_matrices: bool) -> tuple[Tensor, Tensor, Tensor]:
    """``(U, S, V)`` of a batch ``(B, m, n)``, ``m >= n``, with registered ops (the Triton path):
    ``A = U diag(S) V^T``, ``S`` descending. The columns of ``U`` past the ``n``-th are signed; the
    pairs of singular vectors are not yet (:func:`_signed`)."""
    m, n = A.shape[-2:]
    V = _eye(n, n, A).expand(A.shape[0], n, n).contiguous()
    rounds = _rounds(n, A)
    tol = _SLACK * m * _dt.finfo(A.dtype).eps
    for _ in range(MAX_SWEEPS):
        G = call("matmul", A.mT, A)
        if _svd_converged(G, tol):
            break
        for i, constants in enumerate(rounds):
            J = _rotation(G if i == 0 else call("matmul", A.mT, A), constants)
            A = call("matmul", A, J)
            V = call("matmul", V, J)
    s, order = call("sort", call("linalg.vector_norm", A, 2, -2), -1, True)
    U = _take_columns(A, order) / call("where", s == 0, 1.0, s).unsqueeze(-2)
    V = _take_columns(V, order)
    # A zero singular value leaves a zero column of U to fill (one more host sync).
    if (full_matrices and m > n) or not bool(call("amin", s).item() > 0):
        U = _complete(U, s, m if full_matrices else n)
    return U, s, V


def _ref_svd(a: np.ndarray, full_matrices: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    signs = _np_column_signs(u[..., :, :k])
    u[..., :, :k] *= signs
    vh[..., :k, :] *= np.swapaxes(signs, -1, -2)
    if u.shape[-1] > k:
        u[..., :, k:] *= _np_column_signs(u[..., :, k:])
    if vh.shape[-2] > k:
        vh[..., k:, :] *= np.swapaxes(_np_column_signs(np.swapaxes(vh[..., k:, :], -1, -2)), -1, -2)
    return u, s, vh


def _svd_of_tall(A: Tensor, full_matrices: bool) -> SVDResult:
    *batch, m, n = A.shape
    U, s, V = jacobi_svd(A.reshape(-1, m, n), full_matrices)
    return SVDResult(U.reshape(*batch, *U.shape[-2:]), s.reshape(*batch, n), V.mT.reshape(*batch, *V.shape[-2:][::-1]))


def _empty_svd(A: Tensor, full_matrices: bool) -> SVDResult:
    """Shapes with a zero: empty factors, except the identity PyTorch gives for a full square factor."""
    *batch, m, n = A.shape
    k = min(m, n)
    u_cols, v_rows = (m, n) if full_matrices else (k, k)

    def factor(rows, cols):
        if rows == cols and rows and 0 not in batch:
            return call("clone", _eye(rows, rows, A).expand(*batch, rows, rows))
        return Tensor._empty((*batch, rows, cols), A.dtype, A.device)
    return SVDResult(factor(m, u_cols), Tensor._empty((*batch, k), A.dtype, A.device), factor(v_rows, n))


def svd(op: Op, A: Tensor, full_matrices: bool = True) -> SVDResult:
    """The singular value decomposition ``A = U diag(S) Vh`` of a (batch of) ``(m, n)`` matrices, as
    ``torch.linalg.svd``: ``S`` descending, ``U`` ``(m, m)`` and ``Vh`` ``(n, n)`` with orthonormal
    columns/rows (``full_matrices=False``: ``(m, k)`` and ``(k, n)``, ``k = min(m, n)``). float32 and
    float64. Each pair of singular vectors is signed so that the largest-magnitude entry of ``U``'s
    column is positive. Differentiable with PyTorch's formula, which uses the first ``k`` columns of
    ``U`` and rows of ``Vh`` only (so with ``full_matrices=True`` and ``m != n`` the others get no
    gradient, as in PyTorch); not finite where two singular values are equal (or one is 0 and the
    loss depends on the singular vectors).

    >>> import neurarust as nr
    >>> U, S, Vh = nr.linalg.svd(nr.tensor([[3.0, 0.0], [0.0, -4.0]]))
    >>> S.tolist(), (U @ nr.diag(S) @ Vh).tolist()
    ([4.0, 3.0], [[3.0, 0.0], [0.0, -4.0]])
    """
    check_matrix("linalg.svd", A, square=False)
    if backends.for_device(A._storage.device) == "reference":
        u, s, vh = backends.run_reference(op.reference, A._np(), full_matrices)
        return SVDResult(_numpy_result(u, A.dtype), _numpy_result(s, A.dtype), _numpy_result(vh, A.dtype))
    if 0 in A.shape:
        return _empty_svd(A, full_matrices)
    m, n = A.shape[-2:]
    if m >= n:
        return _signed(*_svd_of_tall(A, full_matrices))
    U, s, Vh = _svd_of_tall(A.mT, full_matrices)  # A^T = U S Vh  <=>  A = Vh^T S U^T
    return _signed(Vh.mT, s, U.mT)


def _signed(U: Tensor, s: Tensor, Vh: Tensor) -> SVDResult:
    """Each pair of singular vectors flipped so that the largest-magnitude entry of ``U``'s column is
    positive (the columns and rows past the ``k``-th were signed on their own)."""
    k = s.shape[-1]
    signs = column_signs(U[..., :, :k])
    U = U * signs if U.shape[-1] == k else call("cat", [U[..., :, :k] * signs, U[..., :, k:]], -1)
    Vh = Vh * signs.mT if Vh.shape[-2] == k else call("cat", [Vh[..., :k, :] * signs.mT, Vh[..., k:, :]], -2)
    return SVDResult(U, s, Vh)


def _svd_backward(grad, full_matrices, result):
    """PyTorch's ``svd_backward``, on the first ``k = min(m, n)`` columns of ``U`` and rows of ``Vh``."""
    gU, gS, gVh = grad
    U, s, Vh = result
    k = s.shape[-1]
    m, n = U.shape[-2], Vh.shape[-1]
    if full_matrices:
        U, Vh = U[..., :, :k], Vh[..., :k, :]
        gU = gU[..., :, :k] if gU is not None else None
        gVh = gVh[..., :k, :] if gVh is not None else None
    if gU is None and gVh is None:
        if gS is None:
            return (None,)
        return (call("matmul", U * gS.unsqueeze(-2), Vh),)
    return (_svd_vectors_grad(gU, gS, gVh, U, s, Vh, m, n),)


def _svd_vectors_grad(gU, gS, gVh, U, s, Vh, m, n):
    k = s.shape[-1]
    eye = _eye(k, k, s)
    s2 = s * s
    E = call("where", eye.to(_dt.bool_), 1.0, s2.unsqueeze(-2) - s2.unsqueeze(-1))
    gA = None
    if gU is not None:
        UtgU = call("matmul", U.mT, gU)
        gA = (UtgU - UtgU.mT) * s.unsqueeze(-2)
    if gVh is not None:
        VtgV = call("matmul", Vh, gVh.mT)
        term = s.unsqueeze(-1) * (VtgV - VtgV.mT)
        gA = term if gA is None else gA + term
    gA = gA / E
    if gS is not None:
        gA = gA + eye * gS.unsqueeze(-1)
    if m > n and gU is not None:
        gUSinv = gU / s.unsqueeze(-2)
        gA = call("matmul", U, gA) + gUSinv - call("matmul", U, call("matmul", U.mT, gUSinv))
        return call("matmul", gA, Vh)
    if m < n and gVh is not None:
        SinvgVh = gVh / s.unsqueeze(-1)
        gA = call("matmul", gA, Vh) + SinvgVh - call("matmul", call("matmul", SinvgVh, Vh.mT), Vh)
        return call("matmul", U, gA)
    return call("matmul", U, call("matmul", gA, Vh))


# ----------------------------------------------------------------------------------------------
# Samples, errors, registration
# ----------------------------------------------------------------------------------------------

def _symmetric(d, shape, seed):
    m = S.values(d, shape, seed, low=-2.0, high=2.0)
    return ((m + np.swapaxes(m, -1, -2)) * 0.5).astype(d.np).astype(np.float64)


def _eigh_samples(d):
    yield Sample((_symmetric(d, (3, 3), 0),), name="symmetric")
    yield Sample((S.TensorSpec(_symmetric(d, (2, 3, 3), 1), "transposed"),), {"UPLO": "U"}, name="batched_upper")


def _svd_samples(d):
    # The first two differentiate with every output (PyTorch's formula reads U[:, :k] and Vh[:k]).
    yield Sample((S.values(d, (3, 3), 0, low=-2.0, high=2.0),), name="square")
    yield Sample((S.values(d, (2, 3, 2), 1, low=-2.0, high=2.0),), {"full_matrices": False}, name="batched_tall")
    yield Sample((S.TensorSpec(S.values(d, (3, 2), 2, low=-2.0, high=2.0), "transposed"),), name="wide_full")


def _eigh_errors():
    yield _error_input((np.ones((2, 3)),), ShapeError, "square matrices")
    yield _error_input((np.ones((2, 2), np.int64),), DTypeError, "floating point")
    yield _error_input((np.eye(2),), ArgumentError, "UPLO argument to be 'L' or 'U'", UPLO="X")


def _svd_errors():
    yield _error_input((np.ones(3),), ShapeError, "at least 2 dimensions")
    yield _error_input((np.ones((2, 2), np.int64),), DTypeError, "floating point")


def _torch_signed(V, like=None):
    """PyTorch's vectors signed as NeuraRust signs them (the sign is a constant: no gradient)."""
    import torch

    ref = (V if like is None else like).detach()
    top = torch.gather(ref, -2, ref.abs().argmax(-2, keepdim=True))
    return torch.where(top < 0, -1.0, 1.0).to(V.dtype)


def _torch_eigh(A, UPLO="L"):
    """The oracle: PyTorch's eigh of the symmetric part (what NeuraRust decomposes), signed alike."""
    import torch

    w, V = torch.linalg.eigh((A + A.mT) / 2, UPLO=UPLO)
    return w, V * _torch_signed(V)


def _torch_svd(A, full_matrices=True):
    import torch

    U, s, Vh = torch.linalg.svd(A, full_matrices=full_matrices)
    k = s.shape[-1]
    signs = _torch_signed(U[..., :, :k])
    rest_u = _torch_signed(U[..., :, k:]) if U.shape[-1] > k else signs[..., :, :0]
    rest_v = _torch_signed(Vh[..., k:, :].mT).mT if Vh.shape[-2] > k else signs.mT[..., :0, :]
    return U * torch.cat([signs, rest_u], -1), s, Vh * torch.cat([signs.mT, rest_v], -2)


TOLERANCES = {_dt.float32: (2e-4, 2e-5), _dt.float64: (1e-9, 1e-11)}

_op("linalg.eigh", eigh, _ref_eigh, FLOATS, _eigh_samples, _eigh_errors, method=False, tolerances=TOLERANCES,
    torch_name=_torch_eigh, backward=_eigh_backward, differentiable=("A",))
_op("linalg.svd", svd, _ref_svd, FLOATS, _svd_samples, _svd_errors, method=False, tolerances=TOLERANCES,
    torch_name=_torch_svd, backward=_svd_backward, differentiable=("A",))

# PyTorch runs its linalg functions in float32 inside a CPU autocast region.
autocast_class(("linalg.eigh", "linalg.svd"), cpu="fp32")
