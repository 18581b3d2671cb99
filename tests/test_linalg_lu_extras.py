"""linalg.lu, solve_ex, tensorinv, tensorsolve and the top-level lu_unpack, cholesky_solve,
cholesky_inverse, lu, lu_solve, triangular_solve, ger against PyTorch: values, float64 gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust.errors import LinAlgError, ShapeError

RNG = np.random.default_rng(7)


def pair(a, requires_grad=False):
    a = np.asarray(a, dtype=np.float64)
    return nr.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad)


def close(a, b, tol=1e-10):
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    np.testing.assert_allclose(np.asarray(a.detach().tolist(), dtype=np.float64), b, rtol=tol, atol=tol)


def spd(*batch, n=3):
    m = RNG.standard_normal((*batch, n, n))
    return m @ np.swapaxes(m, -1, -2) + n * np.eye(n)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (4, 3), (3, 5)])
def test_linalg_lu_and_lu_unpack_match_torch(shape):
    x, tx = pair(RNG.standard_normal(shape), requires_grad=True)
    ours, theirs = nr.linalg.lu(x), torch.linalg.lu(tx)
    for a, b in zip(ours, theirs):
        close(a, b)
    LU, pivots = torch.linalg.lu_factor(tx.detach())
    for a, b in zip(nr.lu_unpack(nr.tensor(LU.numpy()), nr.tensor(pivots.numpy())), theirs):
        close(a, b)
    if shape[-1] == shape[-2]:
        w = RNG.standard_normal(shape)
        (ours.L * nr.tensor(w) + ours.U * nr.tensor(w)).sum().backward()
        (theirs.L * torch.tensor(w) + theirs.U * torch.tensor(w)).sum().backward()
        close(x.grad, tx.grad, 1e-8)


def test_lu_unpack_leaves_out_what_is_not_asked():
    P, L, U = nr.lu_unpack(*nr.linalg.lu_factor(nr.eye(2)), unpack_data=False)
    assert L.numel() == 0 and U.numel() == 0 and P.shape == (2, 2)


def test_solve_ex_reports_singular_matrices_instead_of_raising():
    a = nr.tensor([[[2.0, 0.0], [0.0, 4.0]], [[1.0, 2.0], [2.0, 4.0]]])
    x, info = nr.linalg.solve_ex(a, nr.ones(2, 2))
    assert info.tolist() == [0, 2] and x[0].tolist() == [0.5, 0.25]
    with pytest.raises(LinAlgError):
        nr.linalg.solve_ex(a, nr.ones(2, 2), check_errors=True)


def test_tensorinv_and_tensorsolve_match_torch():
    a, ta = pair(RNG.standard_normal((6, 2, 3)))
    close(nr.linalg.tensorinv(a, ind=1), torch.linalg.tensorinv(ta, ind=1))
    b, tb = pair(RNG.standard_normal((2, 3)))
    A, tA = pair(RNG.standard_normal((2, 3, 6)))
    close(nr.linalg.tensorsolve(A, b), torch.linalg.tensorsolve(tA, tb))
    A2, tA2 = pair(RNG.standard_normal((6, 2, 3)))
    close(nr.linalg.tensorsolve(A2, b, dims=(0,)), torch.linalg.tensorsolve(tA2, tb, dims=(0,)))
    with pytest.raises(ShapeError):
        nr.linalg.tensorinv(nr.ones(2, 3), ind=1)


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_and_inverse_match_torch(upper):
    a = spd(2)
    L, tL = pair(np.linalg.cholesky(a).swapaxes(-1, -2) if upper else np.linalg.cholesky(a), requires_grad=True)
    b, tb = pair(RNG.standard_normal((2, 3, 2)), requires_grad=True)
    x, tx = nr.cholesky_solve(b, L, upper), torch.cholesky_solve(tb, tL, upper)
    close(x, tx)
    close(b.detach().cholesky_solve(L.detach(), upper), tx)
    w = RNG.standard_normal((2, 3, 2))
    (x * nr.tensor(w)).sum().backward()
    (tx * torch.tensor(w)).sum().backward()
    close(b.grad, tb.grad, 1e-8)
    # L's gradient where L is read; PyTorch's formula also fills the triangle it never reads
    triangle = np.triu if upper else np.tril
    close(nr.tensor(triangle(L.grad.numpy())), triangle(tL.grad.numpy()), 1e-8)
    close(nr.cholesky_inverse(L.detach(), upper), torch.cholesky_inverse(tL.detach(), upper))


def test_gradients_through_cholesky_then_cholesky_solve_match_torch():
    a, ta = pair(spd(n=3), requires_grad=True)
    b, tb = pair(RNG.standard_normal((3, 2)))
    nr.cholesky_solve(b, nr.linalg.cholesky(a)).sum().backward()
    torch.cholesky_solve(tb, torch.linalg.cholesky(ta)).sum().backward()
    close(a.grad, ta.grad, 1e-8)


@pytest.mark.parametrize("upper,transpose,unit", [(True, False, False), (False, True, False), (True, True, True)])
def test_triangular_solve_matches_torch(upper, transpose, unit):
    A, tA = pair(np.triu(RNG.standard_normal((3, 3))) + 3 * np.eye(3) if upper else
                 np.tril(RNG.standard_normal((3, 3))) + 3 * np.eye(3))
    b, tb = pair(RNG.standard_normal((3, 2)), requires_grad=True)
    ours = nr.triangular_solve(b, A, upper, transpose, unit)
    theirs = torch.triangular_solve(tb, tA, upper, transpose, unit)
    close(ours.solution, theirs.solution)
    close(ours.cloned_coefficient, theirs.cloned_coefficient)
    close(b.detach().triangular_solve(A, upper, transpose, unit)[0], theirs.solution)
    ours.solution.sum().backward()
    theirs.solution.sum().backward()
    close(b.grad, tb.grad)


def test_legacy_lu_and_lu_solve_match_torch():
    a, ta = pair(RNG.standard_normal((2, 3, 3)))
    b, tb = pair(RNG.standard_normal((2, 3, 1)))
    LU, pivots = nr.lu(a)
    with pytest.warns(UserWarning):
        tLU, tpivots = torch.lu(ta)   # deprecated in torch
    close(LU, tLU)
    assert pivots.tolist() == tpivots.tolist()
    close(nr.lu_solve(b, LU, pivots), torch.lu_solve(tb, tLU, tpivots))
    close(a.lu()[0], tLU)
    _, _, infos = nr.lu(nr.zeros(2, 2), get_infos=True)
    assert infos.item() == 1
    with pytest.raises(LinAlgError):
        nr.lu(nr.zeros(2, 2))


def test_ger_is_outer():
    a, ta = pair([1.0, 2.0])
    b, tb = pair([3.0, -1.0, 0.5])
    close(nr.ger(a, b), torch.ger(ta, tb))
    close(a.ger(b), torch.ger(ta, tb))
