"""F.affine_grid and F.grid_sample against torch: grids, sampled values, and gradients of the input
and of the grid, for every mode (bilinear, nearest, bicubic; trilinear and nearest on 5-D inputs),
every padding mode and both align_corners, with grid points outside [-1, 1]."""
import warnings

import numpy as np
import pytest

import neurarust as nr
import neurarust.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [[2, 3, 4, 5], [2, 1, 1, 3], [2, 1, 3, 4, 5]])
def test_affine_grid_is_torchs(size, align_corners):
    theta = np.random.default_rng(0).standard_normal((2, len(size) - 2, len(size) - 1))
    ours = F.affine_grid(nr.tensor(theta), size, align_corners=align_corners)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = TF.affine_grid(torch.tensor(theta), size, align_corners=align_corners)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-14)


CASES = [(4, "bilinear"), (4, "nearest"), (4, "bicubic"), (5, "bilinear"), (5, "nearest")]


def _inputs(ndim, seed=1):
    rng = np.random.default_rng(seed)
    shape, grid_shape = ((2, 3, 5, 6), (2, 4, 7, 2)) if ndim == 4 else ((2, 2, 4, 5, 3), (2, 3, 2, 4, 3))
    return rng, rng.standard_normal(shape), rng.uniform(-1.6, 1.6, grid_shape)


def _sample_both(ndim, mode, padding_mode, align_corners):
    rng, x, grid = _inputs(ndim)
    a, g = nr.tensor(x, requires_grad=True), nr.tensor(grid, requires_grad=True)
    ta, tg = torch.tensor(x, requires_grad=True), torch.tensor(grid, requires_grad=True)
    y = F.grid_sample(a, g, mode, padding_mode, align_corners)
    ty = TF.grid_sample(ta, tg, mode, padding_mode, align_corners)
    weights = rng.standard_normal(tuple(ty.shape))
    (y * nr.tensor(weights)).sum().backward()
    (ty * torch.tensor(weights)).sum().backward()
    return (y.detach(), a.grad, g.grad), (ty.detach(), ta.grad, tg.grad)


@pytest.mark.parametrize("ndim,mode", CASES)
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_values_and_gradients_are_torchs(ndim, mode, padding_mode, align_corners):
    (y, dx, dgrid), (ty, tdx, tdgrid) = _sample_both(ndim, mode, padding_mode, align_corners)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx.numpy(), tdx.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dgrid.numpy(), tdgrid.numpy(), rtol=1e-10, atol=1e-12)   # nearest: zeros


@pytest.mark.parametrize("ndim", [4, 5])
def test_the_grids_reach_inside_and_outside_the_input(ndim):
    _, _, grid = _inputs(ndim)
    outside = (np.abs(grid) > 1).any(-1)
    assert 0.2 < outside.mean() < 0.9


def test_bicubic_grid_gradient_matches_finite_differences():
    x = nr.tensor(np.random.default_rng(2).standard_normal((1, 2, 4, 5)))
    grid = nr.tensor(np.random.default_rng(3).uniform(-1.3, 1.3, (1, 3, 3, 2)), requires_grad=True)
    assert nr.autograd.gradcheck(lambda g: F.grid_sample(x, g, "bicubic", "reflection", False), (grid,))


def test_nearest_grid_alone_requiring_grad_gets_a_zero_gradient_as_torch():
    grid = nr.zeros(1, 2, 2, 2, requires_grad=True)
    F.grid_sample(nr.ones(1, 1, 3, 3), grid, "nearest").sum().backward()
    assert grid.grad.tolist() == torch.zeros(1, 2, 2, 2).tolist()


def test_float32_trilinear_is_torchs():
    rng = np.random.default_rng(4)
    x, grid = rng.standard_normal((1, 2, 3, 4, 5)).astype("float32"), rng.uniform(-1.2, 1.2, (1, 2, 3, 4, 3))
    ours = F.grid_sample(nr.tensor(x), nr.tensor(grid.astype("float32")), align_corners=False)
    theirs = TF.grid_sample(torch.tensor(x), torch.tensor(grid.astype("float32")), align_corners=False)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)


def test_an_identity_affine_grid_samples_the_image_back():
    image = nr.randn(1, 2, 4, 5)
    grid = F.affine_grid(nr.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]), [1, 2, 4, 5], align_corners=False)
    np.testing.assert_allclose(F.grid_sample(image, grid, align_corners=False).numpy(), image.numpy(), atol=1e-6)


@pytest.mark.parametrize("call", [
    lambda: F.grid_sample(nr.zeros(1, 1, 2, 2), nr.zeros(1, 2, 2, 2), mode="bicubical"),
    lambda: F.grid_sample(nr.zeros(1, 1, 2, 2), nr.zeros(1, 2, 2, 2), padding_mode="wrap"),
    lambda: F.grid_sample(nr.zeros(1, 1, 2, 2), nr.zeros(2, 2, 2, 2)),
    lambda: F.grid_sample(nr.zeros(1, 1, 2), nr.zeros(1, 2, 2)),
    lambda: F.grid_sample(nr.zeros(1, 1, 2, 2, 2), nr.zeros(1, 2, 2, 2)),
    lambda: F.grid_sample(nr.zeros(1, 1, 2, 2, 2), nr.zeros(1, 2, 2, 2, 2)),
    lambda: F.grid_sample(nr.zeros(1, 1, 0, 2), nr.zeros(1, 2, 2, 2)),
    lambda: F.grid_sample(nr.zeros(1, 1, 2, 2), nr.zeros(1, 2, 2, 2, dtype=nr.float64)),
    lambda: F.affine_grid(nr.zeros(1, 2, 3), [1, 1, 2]),
    lambda: F.affine_grid(nr.zeros(1, 3, 4), [1, 1, 2, 2]),
    lambda: F.affine_grid(nr.zeros(1, 2, 3, dtype=nr.int64), [1, 1, 2, 2]),
])
def test_bad_arguments_raise_clear_errors(call):
    with pytest.raises(nr.NeuraRustError):
        call()


def test_wrong_grid_shape_names_both_shapes():
    with pytest.raises(nr.errors.ShapeError, match=r"\[1, 1, 2, 2, 2\].*\[1, 2, 2, 2, 2\]"):
        F.grid_sample(nr.zeros(1, 1, 2, 2, 2), nr.zeros(1, 2, 2, 2, 2))


def test_bicubic_on_a_5d_input_is_refused_as_torch():
    with pytest.raises(nr.NeuraRustError, match="bicubic.*4-D"):
        F.grid_sample(nr.zeros(1, 1, 2, 2, 2), nr.zeros(1, 1, 1, 1, 3), mode="bicubic")
    with pytest.raises(RuntimeError, match="bicubic"):
        TF.grid_sample(torch.zeros(1, 1, 2, 2, 2), torch.zeros(1, 1, 1, 1, 3), mode="bicubic", align_corners=False)
