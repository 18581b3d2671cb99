"""What ``nr.linalg`` builds on its spectral decompositions (the entries ``linalg.eigh`` and
``linalg.svd`` of ``kernels/linalg_spectral.py``): ``eigvalsh``, ``svdvals``, ``pinv``,
``matrix_rank``, ``lstsq``, ``cond``, ``matrix_exp``, and torch's top-level ``pinverse``,
``matrix_exp`` and (old-style) ``svd``. Compositions of registry ops, so they run on both backends,
batch over the leading dims and differentiate through those entries' derivatives.

    >>> import neurarust as nr
    >>> A = nr.tensor([[2.0, 0.0], [0.0, 0.5]])
    >>> nr.linalg.pinv(A).tolist(), nr.linalg.matrix_rank(A).item(), nr.linalg.cond(A).item()
    ([[0.5, 0.0], [0.0, 2.0]], 2, 4.0)

Differences from PyTorch: ``lstsq`` solves with the SVD whatever the ``driver`` (the driver only
decides which fields are filled, by PyTorch's CPU rules), so a rank-deficient system gets the
minimum-norm solution from every driver; ``matrix_exp`` uses a degree-13 Pade approximant for
float32 too (PyTorch a Taylor polynomial there) and its gradient is that of the computation
(autograd through the matmuls and the LU solve), where PyTorch evaluates ``exp`` of a block matrix.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from . import dtype as _dt
from .creation import eye, full, zeros, zeros_like
from .errors import ArgumentError, DTypeError, ShapeError, SignatureError
from .kernels.linalg_lu import check_matrix
from .registry import call
from .tensor import Tensor


class LstsqResult(NamedTuple):
    """``(solution, residuals, rank, singular_values)`` of :func:`lstsq`."""

    solution: Tensor
    residuals: Tensor
    rank: Tensor
    singular_values: Tensor


class SvdResult(NamedTuple):
    """``(U, S, V)`` of the top-level :func:`svd` (``V``, not ``Vh``)."""

    U: Tensor
    S: Tensor
    V: Tensor


# -- values only ------------------------------------------------------------------------------------

def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues (ascending) of a (batch of) symmetric matrices, as ``torch.linalg.eigvalsh``:
    ``linalg.eigh``'s first result (its gradient is ``V diag(g) V^T``).

    >>> import neurarust as nr
    >>> nr.linalg.eigvalsh(nr.tensor([[2.0, 1.0], [1.0, 2.0]])).tolist()
    [1.0, 3.0]
    """
    return call("linalg.eigh", A, UPLO)[0]


def svdvals(A: Tensor) -> Tensor:
    """The singular values (descending) of a (batch of) matrices, as ``torch.linalg.svdvals``:
    ``linalg.svd``'s ``S`` (its gradient is ``U diag(g) Vh``).

    >>> import neurarust as nr
    >>> nr.linalg.svdvals(nr.tensor([[0.0, 2.0], [-3.0, 0.0]])).tolist()
    [3.0, 2.0]
    """
    return call("linalg.svd", A, full_matrices=False)[1]


# -- tolerances: PyTorch's max(atol, rtol * largest singular value) ---------------------------------

def _as_tensor(x, like: Tensor) -> Tensor:
    if isinstance(x, Tensor):
        return x.to(like.dtype)
    return full((), float(x), dtype=like.dtype, device=like.device)


def _tolerance(s_max: Tensor, atol, rtol, m: int, n: int) -> Tensor:
    """Per matrix: ``max(atol, rtol * s_max)``; ``rtol`` defaults to ``eps * max(m, n)``, or to 0
    where ``atol`` is given and positive."""
    default = _dt.finfo(s_max.dtype).eps * max(m, n)
    if rtol is None:
        rtol = default if atol is None else call("where", _as_tensor(atol, s_max) > 0, 0.0, default)
    return call("maximum", _as_tensor(0.0 if atol is None else atol, s_max), _as_tensor(rtol, s_max) * s_max)


def _spectrum(name: str, A: Tensor, hermitian: bool) -> Tensor:
    """Singular values (``|eigenvalues|`` of a symmetric ``A`` with ``hermitian``), unsorted."""
    check_matrix(name, A, square=hermitian)
    if hermitian:
        return call("abs", eigvalsh(A))
    return svdvals(A)


def _kept(s: Tensor, atol, rtol, m: int, n: int) -> Tensor:
    s_max = call("amax", s, -1) if s.shape[-1] else zeros_like(call("sum", s, -1))
    return s > _tolerance(s_max, atol, rtol, m, n).unsqueeze(-1)


def _reciprocal_where(keep: Tensor, s: Tensor) -> Tensor:
    """``1 / s`` where kept, else 0; the dropped entries never divide (no NaN in the gradient)."""
    return call("where", keep, 1.0 / call("where", keep, s, 1.0), 0.0)


# -- pinv, matrix_rank --------------------------------------------------------------------------------

def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudoinverse of a (batch of) matrices, as ``torch.linalg.pinv``: from the SVD
    (from ``eigh`` with ``hermitian=True``, for symmetric ``A``), the singular values at or below
    ``max(atol, rtol * largest)`` treated as 0. ``rtol`` defaults to ``eps * max(m, n)`` (0 when a
    positive ``atol`` is given); both may be floats or tensors broadcasting over the batch.

    >>> import neurarust as nr
    >>> [round(x, 4) for x in nr.linalg.pinv(nr.tensor([[1.0, 2.0], [2.0, 4.0]])).reshape(-1).tolist()]
    [0.04, 0.08, 0.08, 0.16]
    """
    check_matrix("linalg.pinv", A, square=hermitian)
    m, n = A.shape[-2:]
    if 0 in (m, n):
        return zeros((*A.shape[:-2], n, m), dtype=A.dtype, device=A.device)
    if hermitian:
        w, V = call("linalg.eigh", A)
        inv = _reciprocal_where(_kept(call("abs", w), atol, rtol, m, n), w)
        return call("matmul", V * inv.unsqueeze(-2), V.mT)
    U, s, Vh = call("linalg.svd", A, full_matrices=False)
    inv = _reciprocal_where(_kept(s, atol, rtol, m, n), s)
    return call("matmul", Vh.mT * inv.unsqueeze(-2), U.mT)


def matrix_rank(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The numerical rank of a (batch of) matrices, as ``torch.linalg.matrix_rank``: how many singular
    values exceed ``max(atol, rtol * largest)`` (tolerances as :func:`pinv`'s). int64.

    >>> import neurarust as nr
    >>> nr.linalg.matrix_rank(nr.tensor([[1.0, 2.0], [2.0, 4.0]])).item()
    1
    """
    s = _spectrum("linalg.matrix_rank", A, hermitian)
    return call("sum", _kept(s, atol, rtol, *A.shape[-2:]).to(_dt.int64), -1)


# -- lstsq --------------------------------------------------------------------------------------------

LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def _check_lstsq(A, B, driver) -> None:
    name = "torch.linalg.lstsq"
    for what, t in (("A", A), ("B", B)):
        if not isinstance(t, Tensor):
            raise SignatureError(f"linalg.lstsq(): argument {what!r} must be a Tensor, not {type(t).__name__}")
    if A.ndim < 2:
        raise ShapeError(f"{name}: input must have at least 2 dimensions, got shape {list(A.shape)}")
    check_matrix("linalg.lstsq", A, square=False)
    if B.dtype is not A.dtype:
        raise DTypeError(f"{name}: Expected input and other to have the same dtype, but got input's dtype "
                         f"{A.dtype.name} and other's dtype {B.dtype.name}")
    if B.ndim < A.ndim - 1 or (B.shape[-2] if B.ndim == A.ndim else B.shape[-1]) != A.shape[-2]:
        raise ShapeError(f"{name}: input.size(-2) should match other.size(-2): input {list(A.shape)}, "
                         f"other {list(B.shape)}")
    if driver not in LSTSQ_DRIVERS:
        raise ArgumentError(f"{name}: parameter `driver` should be one of (gels, gelsy, gelsd, gelss), got {driver!r}")


def _empty(like: Tensor, dtype=None) -> Tensor:
    return zeros(0, dtype=dtype or like.dtype, device=like.device)


def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *, driver: str | None = None) -> LstsqResult:
    """The least-squares solution ``X`` minimizing ``||A X - B||`` (the minimum-norm one where ``A`` is
    rank deficient), as ``torch.linalg.lstsq``: ``B`` ``(*, m, k)``, or ``(*, m)`` for vectors; batch
    dims broadcast. ``rcond`` (default ``eps * max(m, n)``) drops the singular values below ``rcond``
    times the largest. The fields follow PyTorch's CPU drivers: ``rank`` for all but ``'gels'``,
    ``singular_values`` for ``'gelsd'``/``'gelss'``, ``residuals`` (squared, per column) when
    ``m > n`` with ``'gels'``, or with ``'gelsd'``/``'gelss'`` when every matrix has full rank;
    empty tensors otherwise. The default driver is ``'gelsy'``. Solved with the SVD for every driver.

    >>> import neurarust as nr
    >>> A = nr.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> r = nr.linalg.lstsq(A, nr.tensor([[1.0], [2.0], [4.0]]), driver="gelsd")
    >>> [round(x, 4) for x in r.solution.reshape(-1).tolist()], r.rank.item(), round(r.residuals.item(), 4)
    ([1.3333, 2.3333], 2, 0.3333)
    """
    driver = "gelsy" if driver is None else driver
    _check_lstsq(A, B, driver)
    vector = B.ndim == A.ndim - 1
    B2 = B.unsqueeze(-1) if vector else B
    m, n = A.shape[-2:]
    U, s, Vh = call("linalg.svd", A, full_matrices=False)
    cutoff = 0.0 if driver == "gels" else (_dt.finfo(A.dtype).eps * max(m, n) if rcond is None else rcond)
    keep = s > s[..., :1] * cutoff if s.shape[-1] else s > 0
    X = call("matmul", Vh.mT, _reciprocal_where(keep, s).unsqueeze(-1) * call("matmul", U.mT, B2))
    rank = call("sum", keep.to(_dt.int64), -1)
    full_rank = driver == "gels" or (driver in ("gelsd", "gelss") and bool(call("amin", rank).item() == n))
    if m > n and full_rank:
        residuals = call("sum", (call("matmul", A, X) - B2) ** 2, -2)
    else:
        residuals = _empty(A)
    return LstsqResult(X.squeeze(-1) if vector else X, residuals,
                       _empty(A, _dt.int64) if driver == "gels" else rank,
                       s if driver in ("gelsd", "gelss") else _empty(A))


# -- cond -----------------------------------------------------------------------------------------------

_COND_BY_INVERSE = ("fro", "nuc", math.inf, -math.inf, 1, -1)


def cond(A: Tensor, p=None) -> Tensor:
    """The condition number of a (batch of) matrices in the ``p``-norm, as ``torch.linalg.cond``:
    ``p`` None or 2, the ratio of the largest to the smallest singular value (-2: its reciprocal), for
    any ``(m, n)``; ``'fro'``, ``'nuc'``, ``inf``, ``-inf``, 1, -1: ``norm(A) * norm(inv(A))`` of a
    square ``A``, inf where ``A`` is singular.

    >>> import neurarust as nr
    >>> A = nr.tensor([[1.0, 0.0], [0.0, 0.25]])
    >>> nr.linalg.cond(A).item(), nr.linalg.cond(A, 1).item(), nr.linalg.cond(A, -2).item()
    (4.0, 4.0, 0.25)
    """
    from .matrices import matrix_norm
    from .solvers import inv_ex

    if p in (None, 2, -2):
        s = _spectrum("linalg.cond", A, False)
        first, last = s[..., 0], s[..., -1]
        return first / last if p != -2 else last / first
    check_matrix(f"linalg.cond(ord={p})", A)
    if p not in _COND_BY_INVERSE:
        raise ArgumentError(f"linalg.cond got an invalid norm type: {p}")
    inverse, info = inv_ex(A)
    product = matrix_norm(A, p) * matrix_norm(inverse, p)
    return call("where", info != 0, math.inf, product)


# -- matrix_exp: scaling and squaring of a Pade approximant -----------------------------------------

# Higham (2005): the degree-13 Pade approximant is accurate to float64's precision for ||A||_1 <= theta.
PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0, 129060195264000.0,
          10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
THETA13 = 5.371920351148152


def _squarings(A: Tensor) -> int:
    """How many times ``A`` is halved to reach THETA13 in the 1-norm (the batch's largest; a host sync)."""
    norm = float(call("amax", call("sum", call("abs", A), -2)).item())
    if not math.isfinite(norm) or norm <= THETA13:
        return 0
    return int(math.ceil(math.log2(norm / THETA13)))


def _pade13(A: Tensor) -> Tensor:
    from .solvers import lu_solve

    b = PADE13
    identity = eye(A.shape[-1], dtype=A.dtype, device=A.device)
    A2 = call("matmul", A, A)
    A4 = call("matmul", A2, A2)
    A6 = call("matmul", A4, A2)
    U = call("matmul", A, call("matmul", A6, b[13] * A6 + b[11] * A4 + b[9] * A2)
             + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * identity)
    V = (call("matmul", A6, b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 + b[0] * identity)
    LU, pivots, _ = call("linalg.lu_factor_ex", V - U)  # V - U is well conditioned for ||A||_1 <= theta
    return lu_solve(LU, pivots, V + U)


def matrix_exp(A: Tensor) -> Tensor:
    """The matrix exponential ``sum A^k / k!`` of a (batch of) square matrices, as
    ``torch.linalg.matrix_exp`` (also ``nr.matrix_exp``, ``Tensor.matrix_exp``): scaling and squaring
    of the degree-13 Pade approximant (Higham 2005), the scale chosen from the batch's largest 1-norm
    (one host sync). Its gradient is autograd's through those matmuls and the LU solve.

    >>> import neurarust as nr
    >>> [round(x, 4) for x in nr.linalg.matrix_exp(nr.tensor([[0.0, 1.0], [0.0, 0.0]])).reshape(-1).tolist()]
    [1.0, 1.0, 0.0, 1.0]
    """
    check_matrix("linalg.matrix_exp", A)
    if A.numel() == 0:
        return call("clone", A)
    s = _squarings(A)
    R = _pade13(A * (0.5 ** s) if s else A)
    for _ in range(s):
        R = call("matmul", R, R)
    return R


# -- torch's top-level spellings ----------------------------------------------------------------------

def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """``torch.pinverse``: :func:`pinv` with ``rtol=rcond`` (also ``Tensor.pinverse``).

    >>> import neurarust as nr
    >>> nr.pinverse(nr.tensor([[2.0, 0.0]])).tolist(), nr.tensor([[4.0]]).pinverse().tolist()
    ([[0.5], [0.0]], [[0.25]])
    """
    return pinv(input, atol=0.0, rtol=rcond)


def svd(input: Tensor, some: bool = True, compute_uv: bool = True) -> SvdResult:
    """``torch.svd`` (deprecated in PyTorch for ``linalg.svd``): ``(U, S, V)`` with ``A = U diag(S)
    V^T`` -- ``V``, not ``Vh`` -- reduced unless ``some=False``. With ``compute_uv=False``, ``U`` and
    ``V`` are zero-filled ``(m, m)`` and ``(n, n)`` matrices, as in PyTorch. Also ``Tensor.svd``.

    >>> import neurarust as nr
    >>> U, S, V = nr.svd(nr.tensor([[0.0, 2.0], [1.0, 0.0], [0.0, 0.0]]))
    >>> U.shape, S.tolist(), V.tolist()
    (neurarust.Size([3, 2]), [2.0, 1.0], [[0.0, 1.0], [1.0, 0.0]])
    """
    check_matrix("svd", input, "input", square=False)
    if not compute_uv:
        *batch, m, n = input.shape
        def square(k):
            return zeros((*batch, k, k), dtype=input.dtype, device=input.device)
        return SvdResult(square(m), svdvals(input), square(n))
    U, S, Vh = call("linalg.svd", input, full_matrices=not some)
    return SvdResult(U, S, Vh.mT)
