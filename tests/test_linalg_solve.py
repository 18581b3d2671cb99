"""``nr.linalg``'s solvers, inverses, determinants, Cholesky and matrix norms, and their top-level and
Tensor spellings: values and gradients equal ``torch.linalg``'s (torch 2.13, float64 unless said).

The factorization entries themselves (``linalg.lu_factor_ex``, ``linalg.cholesky_ex``,
``linalg.solve_triangular``) are also covered by the op harness (tests/test_ops.py and
tests/test_autograd_ops.py: Triton path, gradcheck, gradgradcheck)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neurarust as nr

RNG = np.random.default_rng(7)
A = RNG.uniform(-1, 1, (2, 3, 3)) + 3 * np.eye(3)          # a batch of well-conditioned matrices
B = RNG.uniform(-1, 1, (2, 3, 2))
X_SPD = RNG.uniform(-1, 1, (3, 3))
SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


def close(got, want, tol=1e-10):
    np.testing.assert_allclose(np.asarray(got.numpy() if isinstance(got, nr.Tensor) else got),
                               want.detach().numpy(), rtol=tol, atol=tol)


def grads_agree(nr_fn, torch_fn, *arrays, tol=1e-9):
    """The gradients of ``sum(w * f(inputs))`` (fixed random ``w``) agree, for every input."""
    xs = [nr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, t_out = nr_fn(*xs), torch_fn(*ts)
    w = np.random.default_rng(0).uniform(-1, 1, tuple(t_out.shape))
    got = nr.autograd.grad((out * nr.tensor(w)).sum(), xs)
    want = torch.autograd.grad((t_out * torch.tensor(w)).sum(), ts)
    for g, t in zip(got, want):
        close(g, t, tol)


# -- LU ------------------------------------------------------------------------------------------------

def test_lu_factor_returns_torchs_packed_lu_and_int32_pivots():
    LU, pivots = nr.linalg.lu_factor(nr.tensor(A))
    tLU, tpivots = torch.linalg.lu_factor(torch.tensor(A))
    close(LU, tLU)
    assert pivots.dtype is nr.int32 and pivots.tolist() == tpivots.tolist()


def test_lu_factor_raises_linalg_error_for_a_singular_matrix():
    with pytest.raises(nr.linalg.LinAlgError, match=r"U\[2,2\] is zero"):
        nr.linalg.lu_factor(nr.tensor(SINGULAR))


def test_lu_factor_ex_reports_the_zero_pivot_in_info():
    LU, pivots, info = nr.linalg.lu_factor_ex(nr.tensor(SINGULAR))
    tLU, tpivots, tinfo = torch.linalg.lu_factor_ex(torch.tensor(SINGULAR))
    close(LU, tLU)
    assert info.dtype is nr.int32 and info.item() == tinfo.item() == 2


def test_lu_factor_without_pivoting_reconstructs_the_matrix():
    LU, pivots, _ = nr.linalg.lu_factor_ex(nr.tensor(A[0]), pivot=False)
    L, U = np.tril(LU.numpy(), -1) + np.eye(3), np.triu(LU.numpy())
    np.testing.assert_allclose(L @ U, A[0], atol=1e-12)
    assert pivots.tolist() == [1, 2, 3]


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [False, True])
def test_lu_solve_matches_torch_for_each_side_and_adjoint(left, adjoint):
    LU, pivots = nr.linalg.lu_factor(nr.tensor(A))
    rhs = B if left else B.swapaxes(-1, -2)
    got = nr.linalg.lu_solve(LU, pivots, nr.tensor(rhs), left=left, adjoint=adjoint)
    tLU, tpivots = torch.linalg.lu_factor(torch.tensor(A))
    close(got, torch.linalg.lu_solve(tLU, tpivots, torch.tensor(rhs), left=left, adjoint=adjoint))


def test_lu_solve_gradients_in_lu_and_b_match_torch():
    _, pivots = nr.linalg.lu_factor(nr.tensor(A))
    _, tpivots = torch.linalg.lu_factor(torch.tensor(A))
    LU = torch.linalg.lu_factor(torch.tensor(A))[0].numpy()
    grads_agree(lambda lu, b: nr.linalg.lu_solve(lu, pivots, b, adjoint=True),
                lambda lu, b: torch.linalg.lu_solve(lu, tpivots, b, adjoint=True), LU, B)


# -- solve, inv ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("rhs,left", [(B, True), (B[..., 0], True), (B[0, :, 0], True), (B.swapaxes(-1, -2), False)],
                         ids=["matrices", "batch_of_vectors", "one_vector_broadcast", "right"])
def test_solve_matches_torch(rhs, left):
    got = nr.linalg.solve(nr.tensor(A), nr.tensor(rhs), left=left)
    close(got, torch.linalg.solve(torch.tensor(A), torch.tensor(rhs), left=left))


def test_solve_gradients_match_torch():
    grads_agree(nr.linalg.solve, torch.linalg.solve, A, B)


def test_solve_second_order_gradients_match_torch():
    def second(lib, solve, a, b):
        g, = lib.autograd.grad(solve(a, b).sum(), (a,), create_graph=True)
        return (g * g).sum()

    a, b = nr.tensor(A[0], requires_grad=True), nr.tensor(B[0])
    ta, tb = torch.tensor(A[0], requires_grad=True), torch.tensor(B[0])
    got, = nr.autograd.grad(second(nr, nr.linalg.solve, a, b), (a,))
    want, = torch.autograd.grad(second(torch, torch.linalg.solve, ta, tb), (ta,))
    close(got, want, 1e-9)


def test_solve_raises_linalg_error_for_a_singular_matrix():
    with pytest.raises(nr.linalg.LinAlgError, match="singular") as info:
        nr.linalg.solve(nr.tensor(SINGULAR), nr.ones(2, dtype=nr.float64))
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, nr.NeuraRustError)


def test_solve_rejects_mismatched_shapes_and_dtypes():
    with pytest.raises(nr.ShapeError, match="Incompatible shapes"):
        nr.linalg.solve(nr.tensor(A), nr.ones(2, 2, dtype=nr.float64))
    with pytest.raises(nr.DTypeError, match="same dtype"):
        nr.linalg.solve(nr.tensor(A), nr.ones(2, 3, 2))


def test_inv_matches_torch_in_values_and_gradients():
    close(nr.linalg.inv(nr.tensor(A)), torch.linalg.inv(torch.tensor(A)))
    grads_agree(nr.linalg.inv, torch.linalg.inv, A)


def test_inv_of_a_singular_matrix_raises_and_inv_ex_reports_it():
    with pytest.raises(nr.linalg.LinAlgError, match="diagonal element 2 is zero"):
        nr.linalg.inv(nr.tensor(SINGULAR))
    _, info = nr.linalg.inv_ex(nr.tensor(np.stack([SINGULAR, np.eye(2)])))
    assert info.tolist() == torch.linalg.inv_ex(torch.tensor(np.stack([SINGULAR, np.eye(2)]))).info.tolist()


def test_float32_inputs_give_float32_results():
    a = nr.tensor(A, dtype=nr.float32)
    assert nr.linalg.inv(a).dtype is nr.float32 and nr.linalg.det(a).dtype is nr.float32
    close(nr.linalg.inv(a), torch.linalg.inv(torch.tensor(A, dtype=torch.float32)), 1e-5)


def test_integer_matrices_are_refused():
    with pytest.raises(nr.DTypeError, match="floating point"):
        nr.linalg.inv(nr.tensor([[1, 2], [3, 4]]))


# -- determinants --------------------------------------------------------------------------------------

def test_det_matches_torch_in_values_and_gradients():
    close(nr.linalg.det(nr.tensor(A)), torch.linalg.det(torch.tensor(A)))
    grads_agree(nr.linalg.det, torch.linalg.det, A)


def test_det_of_a_singular_matrix_is_zero():
    assert nr.linalg.det(nr.tensor(SINGULAR)).item() == 0.0


def test_slogdet_matches_torch_in_values_and_gradients():
    flipped = A[:, ::-1].copy()  # negative determinants
    sign, logabsdet = nr.linalg.slogdet(nr.tensor(flipped))
    tsign, tlogabsdet = torch.linalg.slogdet(torch.tensor(flipped))
    close(sign, tsign)
    close(logabsdet, tlogabsdet)
    grads_agree(lambda a: nr.linalg.slogdet(a).logabsdet, lambda a: torch.linalg.slogdet(a).logabsdet, flipped)


def test_logdet_is_nan_for_a_negative_determinant_and_minus_inf_for_a_singular_one():
    assert math.isnan(nr.logdet(nr.tensor(A[:, ::-1].copy()))[0].item())
    assert nr.logdet(nr.tensor(SINGULAR)).item() == -math.inf
    close(nr.logdet(nr.tensor(A)), torch.logdet(torch.tensor(A)))


# -- Cholesky, triangular solves -----------------------------------------------------------------------

@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_matches_torch(upper):
    spd = X_SPD @ X_SPD.T + 2 * np.eye(3)
    close(nr.linalg.cholesky(nr.tensor(spd), upper=upper), torch.linalg.cholesky(torch.tensor(spd), upper=upper))


def test_cholesky_gradient_through_a_symmetric_parametrization_matches_torch():
    grads_agree(lambda x: nr.linalg.cholesky(x @ x.mT + nr.eye(3, dtype=nr.float64) * 2),
                lambda x: torch.linalg.cholesky(x @ x.mT + torch.eye(3, dtype=torch.float64) * 2), X_SPD)


def test_cholesky_gradient_of_a_symmetric_leaf_is_torchs_symmetric_gradient():
    spd = X_SPD @ X_SPD.T + 2 * np.eye(3)
    grads_agree(nr.linalg.cholesky, torch.linalg.cholesky, spd)


def test_cholesky_of_a_non_positive_definite_matrix_raises_and_cholesky_ex_reports_it():
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(nr.linalg.LinAlgError, match="leading minor of order 2"):
        nr.linalg.cholesky(nr.tensor(bad))
    assert nr.linalg.cholesky_ex(nr.tensor(bad)).info.item() == torch.linalg.cholesky_ex(torch.tensor(bad)).info.item()


def test_solve_triangular_gradients_match_torch_on_the_right_with_broadcasting():
    grads_agree(lambda a, b: nr.linalg.solve_triangular(a, b, upper=False, left=False),
                lambda a, b: torch.linalg.solve_triangular(a, b, upper=False, left=False), A, B[0].T)


# -- norms, products, views ----------------------------------------------------------------------------

@pytest.mark.parametrize("ord", ["fro", 1, -1, math.inf, -math.inf])
def test_matrix_norm_matches_torch_in_values_and_gradients(ord):
    close(nr.linalg.matrix_norm(nr.tensor(A), ord, dim=(0, 2), keepdim=True),
          torch.linalg.matrix_norm(torch.tensor(A), ord, dim=(0, 2), keepdim=True))
    grads_agree(lambda a: nr.linalg.matrix_norm(a, ord), lambda a: torch.linalg.matrix_norm(a, ord), A)


@pytest.mark.parametrize("args,kwargs", [((), {}), ((1,), {}), ((math.inf,), {"dim": (1, 2)}), ((3,), {"dim": 1}),
                                         ((None,), {"dim": (0, 2), "keepdim": True})],
                         ids=["all_elements", "matrix_1", "matrix_inf_dims", "vector_dim", "fro_dims_keepdim"])
def test_norm_picks_the_vector_or_matrix_norm_as_torch(args, kwargs):
    x = A[0] if args and args[0] == 1 and not kwargs else A
    close(nr.linalg.norm(nr.tensor(x), *args, **kwargs), torch.linalg.norm(torch.tensor(x), *args, **kwargs))


def test_vecdot_matches_torch():
    close(nr.linalg.vecdot(nr.tensor(A), nr.tensor(B[0, :, 0])), torch.linalg.vecdot(torch.tensor(A), torch.tensor(B[0, :, 0])))


def test_multi_dot_with_edge_vectors_matches_torch_in_values_and_gradients():
    mats = [B[0, :, 0], A[0], B[1], B[0].T, A[1]]
    close(nr.linalg.multi_dot([nr.tensor(m) for m in mats]), torch.linalg.multi_dot([torch.tensor(m) for m in mats]))
    grads_agree(lambda *ms: nr.linalg.multi_dot(ms), lambda *ms: torch.linalg.multi_dot(ms), *mats)


def test_diagonal_and_matmul_are_torchs_aliases():
    close(nr.linalg.diagonal(nr.tensor(A), offset=1), torch.linalg.diagonal(torch.tensor(A), offset=1))
    close(nr.linalg.matmul(nr.tensor(A), nr.tensor(B)), torch.linalg.matmul(torch.tensor(A), torch.tensor(B)))


def test_matrix_power_of_a_negative_exponent_is_the_inverse_power():
    close(nr.linalg.matrix_power(nr.tensor(A), -2), torch.linalg.matrix_power(torch.tensor(A), -2))
    grads_agree(lambda a: nr.linalg.matrix_power(a, -3), lambda a: torch.linalg.matrix_power(a, -3), A)


# -- top-level and Tensor spellings, Triton path -------------------------------------------------------

@pytest.mark.parametrize("name", ["inverse", "det", "logdet"])
def test_top_level_functions_and_tensor_methods_match_torch(name):
    want = getattr(torch, name)(torch.tensor(A))
    close(getattr(nr, name)(nr.tensor(A)), want)
    close(getattr(nr.tensor(A), name)(), want)


def test_top_level_slogdet_and_cholesky_match_torch():
    spd = X_SPD @ X_SPD.T + 2 * np.eye(3)
    close(nr.slogdet(nr.tensor(A)).logabsdet, torch.slogdet(torch.tensor(A)).logabsdet)
    close(nr.tensor(A).slogdet()[0], torch.tensor(A).slogdet()[0])
    close(nr.cholesky(nr.tensor(spd), True), torch.linalg.cholesky(torch.tensor(spd), upper=True))
    close(nr.tensor(spd).cholesky(), torch.linalg.cholesky(torch.tensor(spd)))


def test_solve_on_the_triton_backend_matches_torch():
    a, b = A[0, :2, :2], B[0, :2]
    with nr.backends.using("triton"):
        close(nr.linalg.solve(nr.tensor(a), nr.tensor(b)), torch.linalg.solve(torch.tensor(a), torch.tensor(b)))
