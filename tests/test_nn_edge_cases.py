"""Edge cases of layers and losses, as PyTorch defines them: gradients at a saturated prediction, at an
activation's bounds, of an all-ignored batch and of windows over padding only; arguments PyTorch
refuses raise a NeuraRustError naming the problem."""
import numpy as np
import pytest
import torch

import neurarust as nr
import neurarust.nn.functional as F
from neurarust.errors import ArgumentError, NeuraRustError, ShapeError


def grads(lib, fn, values, *extra):
    """``fn``'s loss and its gradient in the first argument, for NeuraRust or torch."""
    x = lib.tensor(np.asarray(values, np.float32), requires_grad=True)
    loss = fn(lib, x, *[lib.tensor(np.asarray(e)) for e in extra])
    loss.backward()
    return float(loss.detach()), np.asarray(x.grad.tolist())


def same_as_torch(fn, values, *extra):
    ours, theirs = grads(nr, fn, values, *extra), grads(torch, fn, values, *extra)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_binary_cross_entropy_of_a_saturated_prediction_has_pytorchs_finite_gradient(backend):
    bce = lambda lib, x, y: lib.nn.functional.binary_cross_entropy(x, y, reduction="sum")  # noqa: E731
    with nr.backends.using(backend):
        same_as_torch(bce, [0.0, 1.0, 0.5, 1.0, 1e-13], np.float32([0.0, 1.0, 1.0, 0.0, 1.0]))


def test_binary_cross_entropy_refuses_probabilities_outside_zero_one():
    with pytest.raises(ArgumentError, match="between 0 and 1"):
        F.binary_cross_entropy(nr.tensor([1.5]), nr.tensor([1.0]))
    assert F.binary_cross_entropy_with_logits(nr.tensor([1.5]), nr.tensor([1.0])).item() > 0   # logits: any value


@pytest.mark.parametrize("name, bounds", [("hardtanh", [-1.0, 1.0, 0.0, 2.0]), ("relu6", [0.0, 6.0, 3.0, 7.0])])
def test_a_clamping_activation_has_no_gradient_at_its_bounds(name, bounds):
    same_as_torch(lambda lib, x: getattr(lib.nn.functional, name)(x).sum(), bounds)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_cross_entropy_of_an_all_ignored_batch_has_a_zero_gradient(backend):
    ce = lambda lib, x, t: lib.nn.functional.cross_entropy(x, t, ignore_index=1)   # noqa: E731
    with nr.backends.using(backend):
        loss, grad = grads(nr, ce, [[1.0, 2.0], [3.0, 4.0]], np.int64([1, 1]))
    assert np.isnan(loss) and (grad == 0).all()    # the loss is 0 / 0, as PyTorch's


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_a_max_pool_window_over_padding_only_has_index_minus_one_and_sends_no_gradient(backend):
    x = nr.arange(8.0).reshape(1, 1, 8, 1).requires_grad_()
    with nr.backends.using(backend):
        out, idx = F.max_pool2d(x, (3, 2), stride=2, padding=1, dilation=2, ceil_mode=True, return_indices=True)
        out.backward(nr.ones(*out.shape))
    assert idx.flatten().tolist() == [-1, -1, -1, -1] and out.isinf().all().item()
    assert x.grad.abs().sum().item() == 0


@pytest.mark.parametrize("mode, padding, message", [("reflect", 3, "less than the corresponding input dimension"),
                                                    ("circular", 4, "wrapping around more than once")])
def test_a_convolution_padding_mode_refuses_what_pad_refuses(mode, padding, message):
    conv = nr.nn.Conv1d(2, 1, 1, padding=padding, padding_mode=mode)
    with pytest.raises(ShapeError, match=message):
        conv(nr.ones(1, 2, 3))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(2, 1, 1, 2), (-1, 2, 0, 1)], ids=["grow", "crop-and-grow"])
def test_pad_modes_are_differentiable_as_in_pytorch(mode, pad):
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 5))
    got = []
    for lib in (nr, torch):
        t = lib.tensor(x, requires_grad=True)
        (lib.nn.functional.pad(t, pad, mode=mode) ** 2).sum().backward()
        got.append(np.asarray(t.grad.tolist()))
    np.testing.assert_allclose(got[0], got[1], rtol=1e-12)


@pytest.mark.parametrize("pool", [lambda x: F.adaptive_avg_pool2d(x, 2), lambda x: F.adaptive_max_pool2d(x, 2)])
def test_adaptive_pooling_of_an_empty_plane_raises(pool):
    with pytest.raises(ShapeError, match="non-zero"):
        pool(nr.zeros(1, 1, 0, 4))


@pytest.mark.parametrize("kwargs", [{"size": (0, 2)}, {"scale_factor": -1.0}, {"scale_factor": 0.1}])
def test_interpolate_refuses_a_non_positive_output(kwargs):
    with pytest.raises(NeuraRustError, match="greater than 0|positive"):
        F.interpolate(nr.ones(1, 1, 4, 4), **kwargs)


def test_triplet_margin_loss_refuses_a_non_positive_margin():
    a = nr.randn(3, 4)
    with pytest.raises(ArgumentError, match="margin must be greater than 0"):
        F.triplet_margin_loss(a, a, a, margin=-1.0)


@pytest.mark.parametrize("indices", [[0, 1, 2], [0, 0, 1]], ids=["equal-rows", "repeated-index"])
def test_embedding_bag_max_sends_a_tie_s_gradient_to_its_first_row(indices):
    w = np.float32([[1, 2], [1, 2], [0, 5]])
    got = []
    for lib in (nr, torch):
        weight = lib.tensor(w, requires_grad=True)
        lib.nn.functional.embedding_bag(lib.tensor(indices), weight, lib.tensor([0]), mode="max").sum().backward()
        got.append(weight.grad.tolist())
    assert got[0] == got[1]


@pytest.mark.parametrize("masks, message", [({"attn_mask": nr.zeros(3, 3)}, "attn_mask"),
                                            ({"key_padding_mask": nr.zeros(2, 3, dtype=nr.bool_)}, "key_padding_mask")])
def test_multihead_attention_names_a_mask_of_the_wrong_shape(masks, message):
    mha = nr.nn.MultiheadAttention(4, 2)
    x = nr.randn(3, 1, 4)              # (L, N, E); the masks want (3, S=3) for attn, (1, 3) for padding
    with pytest.raises(ShapeError, match=message):
        mha(x, x, x, **{k: (v if k == "key_padding_mask" else nr.zeros(2, 3)) for k, v in masks.items()})
