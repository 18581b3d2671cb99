"""F.interpolate's modes beyond nearest/linear/bilinear, and 5-D inputs, against torch: values and
gradients."""
import numpy as np
import pytest

import neurarust as nr
import neurarust.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = [
    ((2, 3, 5, 6), dict(size=(7, 4), mode="bicubic")),
    ((2, 3, 5, 6), dict(scale_factor=1.7, mode="bicubic", align_corners=True)),
    ((2, 3, 5, 6), dict(scale_factor=(0.6, 2.3), mode="bicubic")),
    ((2, 3, 4, 5, 6), dict(size=(3, 7, 8), mode="trilinear")),
    ((2, 3, 4, 5, 6), dict(scale_factor=1.5, mode="trilinear", align_corners=True)),
    ((2, 3, 7), dict(size=11, mode="nearest-exact")),
    ((2, 3, 5, 6), dict(scale_factor=(1.3, 0.7), mode="nearest-exact")),
    ((2, 3, 4, 5, 6), dict(size=(5, 3, 9), mode="nearest")),
    ((2, 3, 7), dict(size=3, mode="area")),
    ((2, 3, 5, 6), dict(scale_factor=0.5, mode="area")),
    ((2, 3, 4, 5, 6), dict(size=(2, 3, 4), mode="area")),
]


@pytest.mark.parametrize("shape, kwargs", CASES)
def test_interpolate_mode_values_and_gradient_are_torchs(shape, kwargs):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    ours, theirs = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    got, want = F.interpolate(ours, **kwargs), TF.interpolate(theirs, **kwargs)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = rng.standard_normal(tuple(want.shape))
    (got * nr.tensor(weights)).sum().backward()
    (want * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_upsample_takes_the_new_modes():
    x = np.random.default_rng(1).standard_normal((1, 2, 3, 4)).astype(np.float32)
    got = nr.nn.Upsample(scale_factor=2, mode="bicubic")(nr.tensor(x))
    want = torch.nn.Upsample(scale_factor=2, mode="bicubic")(torch.tensor(x))
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)


@pytest.mark.parametrize("shape, kwargs", [((1, 1, 4), dict(size=3, mode="bicubic")),
                                           ((1, 1, 4, 4), dict(size=3, mode="trilinear")),
                                           ((1, 1, 4), dict(size=3, mode="area", align_corners=True))])
def test_modes_refuse_the_wrong_rank_and_options(shape, kwargs):
    with pytest.raises(nr.NeuraRustError):
        F.interpolate(nr.zeros(*shape), **kwargs)
