"""``nr.linalg``'s spectral decompositions (``eigh``, ``svd``) and what stands on them (``eigvalsh``,
``svdvals``, ``pinv``, ``matrix_rank``, ``lstsq``, ``cond``, ``matrix_norm`` with ``'nuc'``/2/-2,
``matrix_exp``, and the top-level ``svd``, ``pinverse``, ``matrix_exp``): values and gradients equal
``torch.linalg``'s (torch 2.13, float64 unless said).

Eigenvectors and singular vectors are defined up to sign, so they are checked through ``A V = V
diag(w)``, orthonormality and sign-invariant quantities. The entries themselves (both backends,
gradcheck, gradgradcheck) are covered by the op harness (tests/test_ops.py, tests/test_autograd_ops.py).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neurarust as nr

RNG = np.random.default_rng(11)
X = RNG.uniform(-1, 1, (2, 3, 3))
SYM = (X + X.swapaxes(-1, -2)) / 2                     # a batch of symmetric matrices
TALL = RNG.uniform(-1, 1, (2, 4, 3))
WIDE = RNG.uniform(-1, 1, (3, 5))
SQUARE = RNG.uniform(-1, 1, (3, 3)) + 2 * np.eye(3)
RANK_ONE = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 0.5])


def close(got, want, tol=1e-10):
    np.testing.assert_allclose(np.asarray(got.numpy() if isinstance(got, nr.Tensor) else got),
                               want.detach().numpy(), rtol=tol, atol=tol)


def grads_agree(nr_fn, torch_fn, *arrays, tol=1e-8):
    """The gradients of ``sum(w * f(inputs))`` (fixed random ``w``) agree, for every input."""
    xs = [nr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, t_out = nr_fn(*xs), torch_fn(*ts)
    w = np.random.default_rng(0).uniform(-1, 1, tuple(t_out.shape))
    got = nr.autograd.grad((out * nr.tensor(w)).sum(), xs)
    want = torch.autograd.grad((t_out * torch.tensor(w)).sum(), ts)
    for g, t in zip(got, want):
        close(g, t, tol)


def lib_of(x):
    return nr if isinstance(x, nr.Tensor) else torch


# -- eigh, eigvalsh -------------------------------------------------------------------------------------

def test_eigh_eigenvalues_match_torch_and_eigenvectors_diagonalize():
    w, V = nr.linalg.eigh(nr.tensor(SYM))
    close(w, torch.linalg.eigh(torch.tensor(SYM)).eigenvalues)
    np.testing.assert_allclose(SYM @ V.numpy(), V.numpy() * w.numpy()[..., None, :], atol=1e-12)
    np.testing.assert_allclose(V.numpy().swapaxes(-1, -2) @ V.numpy(), np.broadcast_to(np.eye(3), SYM.shape),
                               atol=1e-12)


def test_eigh_result_is_a_named_tuple_and_eigvalsh_is_its_first_field():
    result = nr.linalg.eigh(nr.tensor(SYM), UPLO="U")
    close(result.eigenvalues, torch.linalg.eigvalsh(torch.tensor(SYM), UPLO="U"))
    close(nr.linalg.eigvalsh(nr.tensor(SYM)), torch.linalg.eigvalsh(torch.tensor(SYM)))


def test_eigh_of_a_repeated_eigenvalue_still_gives_an_orthonormal_basis():
    A = np.diag([2.0, 2.0, 5.0])
    w, V = nr.linalg.eigh(nr.tensor(A))
    assert w.tolist() == [2.0, 2.0, 5.0]
    np.testing.assert_allclose(V.numpy().T @ V.numpy(), np.eye(3), atol=1e-15)


def test_eigh_gradient_of_sign_invariant_losses_matches_torch():
    def loss(A):
        w, V = lib_of(A).linalg.eigh(A)
        return V @ (V * w.unsqueeze(-2) ** 2).mT + V * V  # V diag(w^2) V^T and the squared entries

    grads_agree(loss, loss, SYM)


def test_eigvalsh_second_order_gradients_match_torch():
    def second(A):
        lib = lib_of(A)
        g, = lib.autograd.grad((lib.linalg.eigvalsh(A) ** 3).sum(), (A,), create_graph=True)
        return (g * g).sum()

    a, ta = nr.tensor(SYM[0], requires_grad=True), torch.tensor(SYM[0], requires_grad=True)
    close(nr.autograd.grad(second(a), (a,))[0], torch.autograd.grad(second(ta), (ta,))[0], 1e-9)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"UPLO": "X"}, nr.errors.ArgumentError, "UPLO"),
], ids=["uplo"])
def test_eigh_rejects_a_bad_uplo(kwargs, error, match):
    with pytest.raises(error, match=match):
        nr.linalg.eigh(nr.tensor(SYM), **kwargs)


def test_eigh_rejects_a_non_square_matrix_naming_its_shape():
    with pytest.raises(nr.errors.ShapeError, match="2 by 3"):
        nr.linalg.eigh(nr.ones(2, 3))


# -- svd, svdvals ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("array", [TALL, WIDE, SQUARE], ids=["tall_batched", "wide", "square"])
@pytest.mark.parametrize("full", [True, False])
def test_svd_has_torchs_shapes_and_values_and_reconstructs(array, full):
    U, S, Vh = nr.linalg.svd(nr.tensor(array), full_matrices=full)
    tU, tS, tVh = torch.linalg.svd(torch.tensor(array), full_matrices=full)
    assert (U.shape, Vh.shape) == (tuple(tU.shape), tuple(tVh.shape))
    close(S, tS)
    k = S.shape[-1]
    rebuilt = (U.numpy()[..., :, :k] * S.numpy()[..., None, :]) @ Vh.numpy()[..., :k, :]
    np.testing.assert_allclose(rebuilt, array, atol=1e-12)
    for Q in (U.numpy(), Vh.numpy().swapaxes(-1, -2)):
        np.testing.assert_allclose(Q.swapaxes(-1, -2) @ Q, np.broadcast_to(np.eye(Q.shape[-1]), Q.shape[:-2] + (Q.shape[-1],) * 2),
                                   atol=1e-12)


def test_svd_completes_u_for_a_rank_deficient_matrix():
    U, S, Vh = nr.linalg.svd(nr.tensor(RANK_ONE))
    close(S, torch.linalg.svdvals(torch.tensor(RANK_ONE)))
    np.testing.assert_allclose(U.numpy().T @ U.numpy(), np.eye(3), atol=1e-12)


@pytest.mark.parametrize("array", [TALL[0], WIDE, SQUARE], ids=["tall", "wide", "square"])
def test_svd_gradient_of_sign_invariant_losses_matches_torch(array):
    def loss(A):
        U, S, Vh = lib_of(A).linalg.svd(A, full_matrices=False)
        return (U * S.unsqueeze(-2) ** 2) @ Vh + (U * U).sum(-1, keepdim=True)

    grads_agree(loss, loss, array)


def test_svd_full_matrices_gradient_uses_the_first_k_vectors_as_torch():
    def loss(A):
        U, S, Vh = lib_of(A).linalg.svd(A, full_matrices=True)
        return U[:, :3] @ Vh * S.sum()

    grads_agree(loss, loss, TALL[0])


def test_svdvals_and_their_gradient_match_torch():
    grads_agree(nr.linalg.svdvals, torch.linalg.svdvals, TALL)


def test_triton_svd_keeps_small_singular_values_to_relative_accuracy():
    # Graded columns: the entries fix every singular value to high relative accuracy, which one-sided
    # Jacobi keeps (the eigenvalues of A^T A would lose the smallest below float64's eps * largest).
    B = np.array([[2.0, 0.3, -0.5], [0.4, 1.5, 0.2], [-0.1, 0.6, 1.8]])
    A = B * np.array([1.0, 1e-5, 1e-10])
    smallest = 1 / np.linalg.svd(np.linalg.inv(B) / np.array([1.0, 1e-5, 1e-10])[:, None], compute_uv=False)[0]
    with nr.backends.using("triton"):
        S = nr.linalg.svdvals(nr.tensor(A)).numpy()
    np.testing.assert_allclose(S[-1], smallest, rtol=1e-9)


# -- pinv, matrix_rank, lstsq, cond -----------------------------------------------------------------------

@pytest.mark.parametrize("array,kwargs", [(TALL, {}), (RANK_ONE, {}), (RANK_ONE, {"atol": 0.5}),
                                          (SYM, {"hermitian": True}), (SYM[0], {"rtol": 0.9})],
                         ids=["tall", "rank_one", "atol", "hermitian", "rtol"])
def test_pinv_matches_torch(array, kwargs):
    close(nr.linalg.pinv(nr.tensor(array), **kwargs), torch.linalg.pinv(torch.tensor(array), **kwargs))


def test_pinv_gradient_matches_torch():
    grads_agree(nr.linalg.pinv, torch.linalg.pinv, TALL[0])


@pytest.mark.parametrize("array,kwargs", [(RANK_ONE, {}), (TALL, {}), (SYM, {"hermitian": True}),
                                          (SQUARE, {"atol": 2.0}), (SQUARE, {"rtol": 0.5})],
                         ids=["rank_one", "batched", "hermitian", "atol", "rtol"])
def test_matrix_rank_matches_torch(array, kwargs):
    got = nr.linalg.matrix_rank(nr.tensor(array), **kwargs)
    want = torch.linalg.matrix_rank(torch.tensor(array), **kwargs)
    assert got.dtype is nr.int64 and got.tolist() == want.tolist()


@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("array", [TALL, WIDE], ids=["tall", "wide"])
def test_lstsq_fills_torchs_fields_for_each_driver(array, driver):
    rhs = RNG.uniform(-1, 1, array.shape[:-1] + (2,))
    got = nr.linalg.lstsq(nr.tensor(array), nr.tensor(rhs), driver=driver)
    want = torch.linalg.lstsq(torch.tensor(array), torch.tensor(rhs), driver=driver)
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape) and str(w.dtype).endswith(g.dtype.name)
        close(g, w, 1e-9)


def test_lstsq_of_a_rank_deficient_matrix_reports_rank_and_no_residuals():
    A = np.vstack([RANK_ONE, RANK_ONE[:1]])
    got = nr.linalg.lstsq(nr.tensor(A), nr.tensor(np.ones(4)), driver="gelsd")
    want = torch.linalg.lstsq(torch.tensor(A), torch.tensor(np.ones(4)), driver="gelsd")
    assert got.rank.item() == want.rank.item() == 1 and got.residuals.shape == (0,)
    close(got.solution, want.solution)


def test_lstsq_solution_gradients_match_torch():
    grads_agree(lambda a, b: nr.linalg.lstsq(a, b).solution, lambda a, b: torch.linalg.lstsq(a, b).solution,
                TALL[0], RNG.uniform(-1, 1, (4, 2)))


def test_lstsq_rejects_an_unknown_driver():
    with pytest.raises(nr.errors.ArgumentError, match="should be one of"):
        nr.linalg.lstsq(nr.eye(2), nr.eye(2), driver="gelsx")


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", math.inf, -math.inf, 1, -1])
def test_cond_matches_torch(p):
    close(nr.linalg.cond(nr.tensor(SQUARE), p), torch.linalg.cond(torch.tensor(SQUARE), p))


def test_cond_of_a_singular_matrix_is_inf_and_of_a_wide_one_uses_singular_values():
    assert nr.linalg.cond(nr.tensor(RANK_ONE), 1).item() == math.inf
    close(nr.linalg.cond(nr.tensor(WIDE)), torch.linalg.cond(torch.tensor(WIDE)))
    with pytest.raises(nr.errors.ShapeError, match="square"):
        nr.linalg.cond(nr.tensor(WIDE), 1)


# -- matrix_norm with singular values -----------------------------------------------------------------------

@pytest.mark.parametrize("ord", ["nuc", 2, -2])
@pytest.mark.parametrize("dim,keepdim", [((-2, -1), False), ((2, 0), True)])
def test_matrix_norm_of_singular_values_matches_torch(ord, dim, keepdim):
    got = nr.linalg.matrix_norm(nr.tensor(TALL), ord, dim, keepdim)
    close(got, torch.linalg.matrix_norm(torch.tensor(TALL), ord, dim, keepdim))


def test_nuclear_norm_gradient_matches_torch():
    grads_agree(lambda a: nr.linalg.norm(a, "nuc"), lambda a: torch.linalg.norm(a, "nuc"), SQUARE)


# -- matrix_exp ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [0.1, 30.0], ids=["small", "squared"])
def test_matrix_exp_matches_torch(scale):
    A = X * scale
    close(nr.linalg.matrix_exp(nr.tensor(A)), torch.linalg.matrix_exp(torch.tensor(A)), 1e-11 * np.exp(scale * 3))


def test_matrix_exp_in_float32_matches_torch():
    A = X.astype(np.float32)
    np.testing.assert_allclose(nr.matrix_exp(nr.tensor(A)).numpy(), torch.matrix_exp(torch.tensor(A)).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_matrix_exp_gradient_matches_torch():
    grads_agree(nr.linalg.matrix_exp, torch.linalg.matrix_exp, X * 3, tol=1e-9)


# -- torch's top-level and Tensor spellings -------------------------------------------------------------------

@pytest.mark.parametrize("some", [True, False])
def test_top_level_svd_returns_v_not_vh(some):
    U, S, V = nr.svd(nr.tensor(TALL), some=some)
    tU, tS, tV = torch.svd(torch.tensor(TALL), some=some)
    assert (U.shape, V.shape) == (tuple(tU.shape), tuple(tV.shape))
    close(S, tS)
    np.testing.assert_allclose((U.numpy()[..., :, :3] * S.numpy()[..., None, :]) @ V.numpy().swapaxes(-1, -2), TALL,
                               atol=1e-12)


def test_top_level_svd_without_uv_gives_zero_factors_as_torch():
    U, S, V = nr.tensor(WIDE).svd(compute_uv=False)
    tU, tS, tV = torch.svd(torch.tensor(WIDE), compute_uv=False)
    for g, w in zip((U, S, V), (tU, tS, tV)):
        close(g, w)


def test_pinverse_and_matrix_exp_are_top_level_functions_and_methods():
    A, tA = nr.tensor(RANK_ONE), torch.tensor(RANK_ONE)
    close(nr.pinverse(A), torch.pinverse(tA))
    close(A.pinverse(rcond=0.5), tA.pinverse(rcond=0.5))
    close(A.matrix_exp(), tA.matrix_exp(), 1e-9)
