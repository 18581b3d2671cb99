"""neurarust.data.transforms: geometry against PyTorch/NumPy, layouts (tensor C x H x W, array H x W x C),
and randomness drawn from NeuraRust generators."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import neurarust as nr
from neurarust.data import transforms as T
from neurarust.errors import ArgumentError, ShapeError

RNG = np.random.default_rng(0)
IMG = RNG.random((3, 5, 7)).astype(np.float32)   # C x H x W


def _g(seed=0):
    return nr.Generator().manual_seed(seed)


def test_to_tensor_scales_uint8_and_moves_channels():
    img = RNG.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    t = T.ToTensor()(img)
    assert t.shape == (3, 4, 5) and t.dtype == nr.float32
    np.testing.assert_allclose(t.numpy(), img.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    assert T.ToTensor()(np.ones((2, 2), np.float64)).shape == (1, 2, 2)


def test_normalize_matches_formula_and_keeps_type():
    out = T.Normalize([0.5, 0.4, 0.3], [0.2, 0.3, 0.4])(nr.from_numpy(IMG.copy()))
    ref = (IMG - np.array([0.5, 0.4, 0.3], np.float32)[:, None, None]) / np.array([0.2, 0.3, 0.4], np.float32)[:, None, None]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    with pytest.raises(ArgumentError):
        T.Normalize([0.0], [0.0])


@pytest.mark.parametrize("size", [(3, 4), (8, 11), (1, 1)])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_resize_matches_torch_interpolate(size, mode):
    ours = T.Resize(size, interpolation=mode)(nr.from_numpy(IMG)).numpy()
    kw = {} if mode == "nearest" else {"align_corners": False}
    theirs = F.interpolate(torch.from_numpy(IMG)[None], size=size, mode=mode, **kw)[0].numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_resize_int_keeps_aspect_and_array_layout():
    assert T.Resize(10)(nr.from_numpy(IMG)).shape == (3, 10, 14)
    hwc = np.zeros((6, 4, 3), np.uint8)
    assert T.Resize(2)(hwc).shape == (3, 2, 3) and T.Resize(2)(hwc).dtype == np.uint8


def test_crops():
    a = np.arange(20).reshape(4, 5)
    assert T.CenterCrop((2, 3))(a).tolist() == a[1:3, 1:4].tolist()
    assert T.CenterCrop(6)(a).shape == (6, 6)
    crop = T.RandomCrop(3, generator=_g())(a)
    assert crop.shape == (3, 3) and any((a[i:i + 3, j:j + 3] == crop).all() for i in range(2) for j in range(3))
    padded = T.RandomCrop(4, padding=2, generator=_g())(np.ones((4, 4)))
    assert padded.shape == (4, 4)
    assert T.RandomCrop(6, pad_if_needed=True, generator=_g())(a).shape == (6, 6)
    with pytest.raises(ShapeError):
        T.RandomCrop(6)(a)


def test_flips_and_probability():
    t = nr.from_numpy(IMG)
    assert np.array_equal(T.RandomHorizontalFlip(1.0)(t).numpy(), IMG[..., ::-1])
    assert np.array_equal(T.RandomVerticalFlip(1.0)(t).numpy(), IMG[..., ::-1, :])
    assert T.RandomHorizontalFlip(0.0)(t) is t
    g = _g(1)
    flips = sum(T.RandomHorizontalFlip(0.5, generator=g)(t) is not t for _ in range(200))
    assert 60 < flips < 140


def test_rotation_quarter_turns_match_rot90():
    a = np.arange(16.0).reshape(4, 4)
    for mode in ("nearest", "bilinear"):
        np.testing.assert_allclose(T.RandomRotation((90, 90), interpolation=mode)(a), np.rot90(a), atol=1e-9)
        np.testing.assert_allclose(T.RandomRotation((-90, -90), interpolation=mode)(a), np.rot90(a, -1), atol=1e-9)
    out = T.RandomRotation(30, fill=-1.0, generator=_g())(a)
    assert out.shape == a.shape


def test_random_resized_crop_shapes_and_repeatability():
    img = RNG.random((9, 12, 3))
    t1 = T.RandomResizedCrop((5, 6), generator=_g(3))
    t2 = T.RandomResizedCrop((5, 6), generator=_g(3))
    a, b = t1(img), t2(img)
    assert a.shape == (5, 6, 3) and np.array_equal(a, b)
    top, left, h, w = T.RandomResizedCrop(4, scale=(0.5, 0.5), generator=_g()).get_params(10, 10)
    assert 0 <= top <= 10 - h and 0 <= left <= 10 - w and abs(h * w - 50) <= 8


def test_color_jitter_ranges_identity_and_gray():
    x = nr.from_numpy(IMG)
    assert np.array_equal(T.ColorJitter()(x).numpy(), IMG)
    out = T.ColorJitter(0.4, 0.4, 0.4, 0.2, generator=_g())(x).numpy()
    assert out.shape == IMG.shape and out.min() >= 0 and out.max() <= 1 and not np.allclose(out, IMG)
    u8 = (IMG.transpose(1, 2, 0) * 255).astype(np.uint8)
    assert T.ColorJitter(0.3, hue=0.1, generator=_g())(u8).dtype == np.uint8
    hsv_identity = T.ColorJitter(hue=(0.0, 0.0))
    assert hsv_identity.hue is None
    with pytest.raises(ArgumentError):
        T.ColorJitter(hue=0.7)


def test_hsv_round_trip():
    from neurarust.data.transforms import _hsv_to_rgb, _rgb_to_hsv

    np.testing.assert_allclose(_hsv_to_rgb(_rgb_to_hsv(IMG.astype(np.float64))), IMG, atol=1e-6)


def test_compose_lambda_and_seeded_pipelines_repeat():
    pipe = lambda g: T.Compose([T.ToTensor(), T.RandomCrop(3, padding=1, generator=g),  # noqa: E731
                                T.RandomHorizontalFlip(generator=g), T.Lambda(lambda t: t * 2)])
    img = RNG.integers(0, 256, (5, 5, 3), dtype=np.uint8)
    assert pipe(_g(5))(img).tolist() == pipe(_g(5))(img).tolist()
    assert "RandomCrop" in repr(pipe(_g()).transforms[1])
