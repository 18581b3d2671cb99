"""Convolution, pooling and upsampling modules against torch.nn with copied weights, forward and
backward (the registry entries themselves are covered by test_ops.py and test_autograd_ops.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neurarust as nr
import neurarust.nn.functional as F
from neurarust import nn

RNG = np.random.default_rng(0)


def _np(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy(force=True)


def randn(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def check_layer(ours, theirs, x: np.ndarray, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    """Same output, input gradient and parameter gradients for the same weights."""
    ours.load_state_dict(theirs.state_dict())
    a, b = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(a), theirs(b)
    np.testing.assert_allclose(_np(out), _np(ref), rtol=rtol, atol=atol)
    w = RNG.standard_normal(tuple(ref.shape)).astype(np.float32)
    (out * nr.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=rtol, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(_np(p.grad), _np(theirs_params[name].grad), rtol=rtol, atol=atol, err_msg=name)


LAYERS = [
    ("conv1d", "Conv1d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 7)),
    ("conv1d_unbatched_same", "Conv1d", (2, 2, 4), dict(padding="same", dilation=2, bias=False), (2, 9)),
    ("conv1d_reflect", "Conv1d", (2, 3, 3), dict(padding=2, padding_mode="reflect"), (1, 2, 5)),
    ("conv2d_groups", "Conv2d", (4, 6, (3, 2)), dict(stride=(2, 1), padding=(1, 0), groups=2), (2, 4, 5, 4)),
    ("conv2d_circular_same", "Conv2d", (2, 2, 3), dict(padding="same", padding_mode="circular"), (1, 2, 4, 5)),
    ("conv2d_replicate_valid", "Conv2d", (1, 2, 2), dict(padding="valid", padding_mode="replicate"), (1, 1, 4, 3)),
    ("conv3d", "Conv3d", (2, 2, 2), dict(padding=1, stride=(1, 2, 2)), (1, 2, 3, 4, 3)),
    ("conv_transpose1d", "ConvTranspose1d", (2, 4, 3), dict(stride=2, padding=1, output_padding=1, groups=2),
     (2, 2, 5)),
    ("conv_transpose2d", "ConvTranspose2d", (3, 2, (2, 3)), dict(stride=(2, 1), padding=(0, 1), dilation=(1, 2)),
     (1, 3, 3, 4)),
]


@pytest.mark.parametrize("name,cls,args,kwargs,shape", LAYERS, ids=[layer[0] for layer in LAYERS])
def test_layer_matches_torch(name, cls, args, kwargs, shape):
    check_layer(getattr(nn, cls)(*args, **kwargs), getattr(torch.nn, cls)(*args, **kwargs), randn(*shape))


def test_conv2d_on_the_triton_backend():
    with nr.backends.using("triton"):
        before = nr.backends.launch_counts["convolution"]
        check_layer(nn.Conv2d(2, 3, 2, padding=1, groups=1), torch.nn.Conv2d(2, 3, 2, padding=1), randn(1, 2, 3, 4),
                    rtol=1e-4, atol=1e-4)
        check_layer(nn.ConvTranspose2d(2, 2, 2, stride=2), torch.nn.ConvTranspose2d(2, 2, 2, stride=2),
                    randn(1, 2, 2, 3), rtol=1e-4, atol=1e-4)
        assert nr.backends.launch_counts["convolution"] > before
        assert nr.backends.launch_counts["convolution_weight_grad"] > 0


def test_default_init_and_repr_match_torch():
    for cls, args, kwargs in [("Conv2d", (3, 8, 3), dict(padding=1, bias=True)),
                              ("ConvTranspose1d", (4, 6, 5), dict(stride=2, groups=2, output_padding=1))]:
        ours, theirs = getattr(nn, cls)(*args, **kwargs), getattr(torch.nn, cls)(*args, **kwargs)
        assert repr(ours) == repr(theirs)
        assert tuple(ours.weight.shape) == tuple(theirs.weight.shape)
        fan_in = theirs.weight.shape[1] * math.prod(theirs.kernel_size)
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(_np(ours.weight)).max() <= bound + 1e-6 and np.abs(_np(ours.bias)).max() <= bound + 1e-6
        assert np.abs(_np(ours.weight)).max() > bound / 2


def test_conv_transpose_output_size():
    ours, theirs = nn.ConvTranspose2d(1, 1, 3, stride=2), torch.nn.ConvTranspose2d(1, 1, 3, stride=2)
    ours.load_state_dict(theirs.state_dict())
    x = randn(1, 1, 3, 3)
    out, ref = ours(nr.tensor(x), output_size=(8, 8)), theirs(torch.tensor(x), output_size=(8, 8))
    np.testing.assert_allclose(_np(out), _np(ref), rtol=1e-5, atol=1e-6)


def test_functional_forms_and_errors():
    x, w = randn(1, 2, 5), randn(4, 1, 3)
    np.testing.assert_allclose(_np(F.conv1d(nr.tensor(x), nr.tensor(w), groups=2, padding="same")),
                               _np(torch.nn.functional.conv1d(torch.tensor(x), torch.tensor(w), groups=2,
                                                              padding="same")), rtol=1e-5, atol=1e-6)
    with pytest.raises(nr.ShapeError):
        F.conv2d(nr.ones(1, 3, 4, 4), nr.ones(2, 2, 3, 3))
    with pytest.raises(nr.ShapeError):
        F.conv2d(nr.ones(4, 4), nr.ones(2, 1, 3, 3))
    with pytest.raises(nr.ArgumentError):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(nr.ArgumentError):
        nn.Conv1d(2, 2, 3, stride=2, padding="same")
    with pytest.raises(nr.ArgumentError):
        nn.ConvTranspose1d(2, 2, 3, stride=2, output_padding=2)


# -- pooling ------------------------------------------------------------------------------------------
POOLS = [
    ("max_pool1d", "MaxPool1d", (3,), dict(stride=2, padding=1, return_indices=False), (2, 3, 7)),
    ("max_pool2d_dilation_ceil", "MaxPool2d", ((2, 3),), dict(stride=(2, 1), padding=(1, 1), dilation=(1, 2),
                                                                ceil_mode=True), (1, 2, 5, 6)),
    ("max_pool2d_unbatched", "MaxPool2d", (2,), {}, (2, 4, 4)),
    ("avg_pool1d_ceil", "AvgPool1d", (3,), dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False),
     (1, 2, 6)),
    ("avg_pool2d", "AvgPool2d", (3,), dict(stride=2, padding=1), (2, 2, 5, 6)),
    ("avg_pool2d_divisor", "AvgPool2d", ((2, 3),), dict(stride=1, divisor_override=4), (1, 1, 4, 5)),
    ("adaptive_avg_pool1d", "AdaptiveAvgPool1d", (3,), {}, (2, 2, 7)),
    ("adaptive_avg_pool2d", "AdaptiveAvgPool2d", ((3, None),), {}, (1, 2, 5, 4)),
    ("adaptive_max_pool2d", "AdaptiveMaxPool2d", ((2, 3),), {}, (2, 2, 5, 7)),
]


@pytest.mark.parametrize("name,cls,args,kwargs,shape", POOLS, ids=[p[0] for p in POOLS])
def test_pool_matches_torch(name, cls, args, kwargs, shape):
    ours, theirs = getattr(nn, cls)(*args, **kwargs), getattr(torch.nn, cls)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    check_layer(ours, theirs, randn(*shape))


def test_pool_indices_and_triton_backend():
    x = randn(1, 2, 5, 6)
    with nr.backends.using("triton"):
        before = nr.backends.launch_counts["max_pool2d"]
        out, idx = F.max_pool2d(nr.tensor(x), 2, return_indices=True)
        ref, ref_idx = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
        np.testing.assert_array_equal(_np(idx), ref_idx.numpy())
        np.testing.assert_allclose(_np(out), ref.numpy())
        assert nr.backends.launch_counts["max_pool2d"] > before
        check_layer(nn.AvgPool2d(2, 1, 1), torch.nn.AvgPool2d(2, 1, 1), randn(1, 2, 3, 4))
        check_layer(nn.AdaptiveMaxPool2d(2), torch.nn.AdaptiveMaxPool2d(2), randn(1, 2, 3, 5))
    with pytest.raises(nr.ShapeError):
        F.max_pool2d(nr.ones(4), 2)
    with pytest.raises(nr.ArgumentError):
        F.max_pool2d(nr.ones(1, 1, 4, 4), 2, padding=2)



MAX_POOL_GEOMETRIES = [  # (kernel, stride, padding, dilation, ceil_mode, input H x W)
    ((2, 2), (2, 2), (0, 0), (1, 1), False, (8, 8)), ((3, 3), (1, 1), (1, 1), (1, 1), False, (5, 6)),
    ((3, 2), (2, 1), (1, 1), (2, 1), True, (7, 5)), ((2, 3), (3, 2), (1, 0), (1, 2), True, (6, 9)),
    ((4, 1), (2, 3), (2, 0), (1, 1), True, (9, 4)),
]


@pytest.mark.parametrize("kernel,stride,padding,dilation,ceil_mode,size", MAX_POOL_GEOMETRIES)
def test_max_pool_indices_match_torch_with_ties_and_negative_infinity(kernel, stride, padding, dilation,
                                                                       ceil_mode, size):
    x = np.round(randn(2, 3, *size))          # ties: the first maximum's index wins
    x[RNG.random(x.shape) < 0.2] = -np.inf    # windows of -inf: the first real element's index
    out, idx = F.max_pool2d(nr.tensor(x), kernel, stride, padding, dilation, ceil_mode, return_indices=True)
    ref, ref_idx = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride, padding, dilation, ceil_mode,
                                                  return_indices=True)
    np.testing.assert_array_equal(_np(out), ref.numpy())
    np.testing.assert_array_equal(_np(idx), ref_idx.numpy())


# -- upsampling ---------------------------------------------------------------------------------------
UPSAMPLES = [
    ("nearest_scale", lambda m: m.Upsample(scale_factor=2), (1, 2, 3, 2)),
    ("nearest_size_1d", lambda m: m.Upsample(size=5), (2, 2, 3)),
    ("nearest_fractional", lambda m: m.Upsample(scale_factor=1.5), (1, 1, 3, 4)),
    ("linear", lambda m: m.Upsample(scale_factor=2.5, mode="linear"), (1, 2, 3)),
    ("bilinear", lambda m: m.Upsample(size=(5, 3), mode="bilinear"), (1, 2, 3, 4)),
    ("bilinear_align_corners", lambda m: m.Upsample(scale_factor=(1.7, 2.0), mode="bilinear", align_corners=True),
     (2, 1, 3, 3)),
    ("bilinear_down", lambda m: m.UpsamplingBilinear2d(size=(2, 2)), (1, 1, 4, 5)),
    ("pixel_shuffle", lambda m: m.PixelShuffle(2), (1, 8, 2, 3)),
    ("pixel_unshuffle", lambda m: m.PixelUnshuffle(2), (2, 4, 6)),
]


@pytest.mark.parametrize("name,make,shape", UPSAMPLES, ids=[u[0] for u in UPSAMPLES])
def test_upsampling_matches_torch(name, make, shape):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    check_layer(ours, theirs, randn(*shape), rtol=1e-5, atol=1e-6)


def test_upsampling_on_the_triton_backend_and_errors():
    with nr.backends.using("triton"):
        check_layer(nn.Upsample(scale_factor=2, mode="bilinear"), torch.nn.Upsample(scale_factor=2, mode="bilinear"),
                    randn(1, 1, 2, 3), rtol=1e-5, atol=1e-6)
    with pytest.raises(nr.ArgumentError):
        F.interpolate(nr.ones(1, 1, 2, 2), size=3, scale_factor=2)
    with pytest.raises(nr.ArgumentError):
        F.interpolate(nr.ones(1, 1, 2), size=3, mode="bilinear")
    with pytest.raises(nr.ShapeError):
        F.pixel_shuffle(nr.ones(1, 3, 2, 2), 2)
