"""F.affine_grid and F.grid_sample against torch: grids, sampled values, and gradients of the input
and (bilinear) of the grid, for every padding mode and both align_corners."""
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


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_values_and_gradients_are_torchs(mode, padding_mode, align_corners):
    rng = np.random.default_rng(1)
    x, grid = rng.standard_normal((2, 3, 5, 6)), rng.uniform(-1.6, 1.6, (2, 4, 7, 2))
    a, g = nr.tensor(x, requires_grad=True), nr.tensor(grid, requires_grad=True)
    ta, tg = torch.tensor(x, requires_grad=True), torch.tensor(grid, requires_grad=True)
    y = F.grid_sample(a, g, mode, padding_mode, align_corners)
    ty = TF.grid_sample(ta, tg, mode, padding_mode, align_corners)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    weights = rng.standard_normal(tuple(ty.shape))
    (y * nr.tensor(weights)).sum().backward()
    (ty * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-14)
    if mode == "bilinear":
        np.testing.assert_allclose(g.grad.numpy(), tg.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_an_identity_affine_grid_samples_the_image_back():
    image = nr.randn(1, 2, 4, 5)
    grid = F.affine_grid(nr.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]), [1, 2, 4, 5], align_corners=False)
    np.testing.assert_allclose(F.grid_sample(image, grid, align_corners=False).numpy(), image.numpy(), atol=1e-6)


@pytest.mark.parametrize("call", [
    lambda: F.grid_sample(nr.zeros(1, 1, 2, 2), nr.zeros(1, 2, 2, 2), mode="bicubic"),
    lambda: F.grid_sample(nr.zeros(1, 1, 2, 2), nr.zeros(1, 2, 2, 2), padding_mode="wrap"),
    lambda: F.grid_sample(nr.zeros(1, 1, 2, 2), nr.zeros(2, 2, 2, 2)),
    lambda: F.affine_grid(nr.zeros(1, 2, 3), [1, 1, 2]),
    lambda: F.affine_grid(nr.zeros(1, 3, 4), [1, 1, 2, 2]),
    lambda: F.affine_grid(nr.zeros(1, 2, 3, dtype=nr.int64), [1, 1, 2, 2]),
])
def test_bad_arguments_raise_clear_errors(call):
    with pytest.raises(nr.NeuraRustError):
        call()
