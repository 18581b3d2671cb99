"""Convolution, pooling and resampling behaviours found to differ from PyTorch in review: each test
states one rule, checked against torch (the oracle) on the reference backend."""
from __future__ import annotations

import numpy as np
import pytest

import neurarust as nr
import neurarust.nn.functional as F
from neurarust import nn
from neurarust.errors import ArgumentError, ShapeError, SignatureError

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(0)


def randn(*shape) -> np.ndarray:
    return RNG.standard_normal(shape)


def _np(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.tolist())


# -- transposed convolutions: output_padding ------------------------------------------------------

@pytest.mark.parametrize("output_padding, stride, dilation", [(2, 2, 1), (1, 1, 1), (-1, 2, 1), ((0, 3), (1, 2), (1, 3))])
def test_conv_transpose_rejects_output_padding_not_below_stride_or_dilation(output_padding, stride, dilation):
    s = 1 if isinstance(stride, int) else 2
    x, w = randn(1, 2, *[4] * s), randn(2, 3, *[2] * s)
    ours, theirs = getattr(F, f"conv_transpose{s}d"), getattr(TF, f"conv_transpose{s}d")
    with pytest.raises(RuntimeError):
        theirs(torch.tensor(x), torch.tensor(w), stride=stride, output_padding=output_padding, dilation=dilation)
    with pytest.raises(ArgumentError, match="output padding"):
        ours(nr.tensor(x), nr.tensor(w), stride=stride, output_padding=output_padding, dilation=dilation)


def test_conv_transpose_output_padding_below_dilation_matches_torch():
    x, w = randn(1, 2, 4), randn(2, 3, 3)
    out = F.conv_transpose1d(nr.tensor(x), nr.tensor(w), stride=1, output_padding=1, dilation=2)
    ref = TF.conv_transpose1d(torch.tensor(x), torch.tensor(w), stride=1, output_padding=1, dilation=2)
    np.testing.assert_allclose(_np(out), _np(ref), rtol=1e-12, atol=1e-12)


# -- convolutions: empty inputs -------------------------------------------------------------------

@pytest.mark.parametrize("transposed", [False, True])
def test_conv_rejects_an_empty_spatial_dim(transposed):
    x = np.ones((1, 2, 0))
    w = np.ones((2, 3, 2)) if transposed else np.ones((3, 2, 2))
    ours, theirs = (F.conv_transpose1d, TF.conv_transpose1d) if transposed else (F.conv1d, TF.conv1d)
    with pytest.raises(RuntimeError):
        theirs(torch.tensor(x), torch.tensor(w))
    with pytest.raises(ShapeError, match=r"\(1, 2, 0\)"):
        ours(nr.tensor(x), nr.tensor(w))


def test_conv_accepts_an_empty_batch_as_torch():
    x, w = np.ones((0, 2, 5)), np.ones((3, 2, 2))
    assert tuple(F.conv1d(nr.tensor(x), nr.tensor(w)).shape) == tuple(TF.conv1d(torch.tensor(x), torch.tensor(w)).shape)


# -- ConvTranspose forward(output_size=) ----------------------------------------------------------

@pytest.mark.parametrize("x_shape, output_size", [((1, 2, 4, 4), [9]), ((1, 2, 4, 4), [1, 1, 1, 9, 9]),
                                                  ((2, 4, 4), [1, 1, 9, 9])])
def test_conv_transpose_output_size_needs_spatial_or_full_length(x_shape, output_size):
    with pytest.raises(ValueError):
        torch.nn.ConvTranspose2d(2, 3, 3, stride=2)(torch.ones(x_shape), output_size=output_size)
    with pytest.raises(ArgumentError, match="output_size"):
        nn.ConvTranspose2d(2, 3, 3, stride=2)(nr.ones(*x_shape), output_size=output_size)


def test_conv_transpose_unbatched_output_size_with_channels_matches_torch():
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2).double()
    ours = nn.ConvTranspose2d(2, 3, 3, stride=2, dtype=nr.float64)
    ours.load_state_dict({k: nr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = randn(2, 4, 4)
    out = ours(nr.tensor(x), output_size=[3, 10, 9])
    ref = theirs(torch.tensor(x), output_size=[3, 10, 9])
    np.testing.assert_allclose(_np(out), _np(ref), rtol=1e-12, atol=1e-12)


# -- pooling ----------------------------------------------------------------------------------------

def test_max_pool_padding_limit_is_half_the_kernel_whatever_the_dilation():
    x = randn(1, 1, 6, 6)
    with pytest.raises(RuntimeError, match="half of kernel size"):
        TF.max_pool2d(torch.tensor(x), 2, padding=2, dilation=3)
    with pytest.raises(ArgumentError, match="half of kernel size"):
        F.max_pool2d(nr.tensor(x), 2, padding=2, dilation=3)
    with pytest.raises(ArgumentError, match="half of kernel size"):
        F.max_pool1d(nr.tensor(x[0]), 3, padding=2, dilation=2)


def test_max_pool_dilated_padding_within_limit_matches_torch():
    x = randn(1, 2, 7, 7)
    a, b = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (out, idx), (ref, ref_idx) = (F.max_pool2d(a, 3, 2, 1, 2, return_indices=True),
                                  TF.max_pool2d(b, 3, 2, 1, 2, return_indices=True))
    np.testing.assert_allclose(_np(out), _np(ref), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(_np(idx), _np(ref_idx))
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn, shape", [("adaptive_avg_pool2d", (1, 2, 3, 3)), ("adaptive_max_pool2d", (1, 2, 3, 3)),
                                       ("adaptive_avg_pool1d", (1, 2, 3))])
def test_adaptive_pool_rejects_a_missing_output_size(fn, shape):
    with pytest.raises(TypeError):
        getattr(TF, fn)(torch.ones(shape), None)
    with pytest.raises(SignatureError, match="output_size"):
        getattr(F, fn)(nr.ones(*shape), None)


# -- interpolate --------------------------------------------------------------------------------------

def test_interpolate_rejects_recompute_scale_factor_with_an_explicit_size():
    with pytest.raises(ValueError, match="recompute_scale_factor"):
        TF.interpolate(torch.ones(1, 1, 3), size=4, recompute_scale_factor=True)
    with pytest.raises(ArgumentError, match="recompute_scale_factor"):
        F.interpolate(nr.ones(1, 1, 3), size=4, recompute_scale_factor=True)
