"""AdaptiveMaxPool1d, MaxUnpool1d/2d, ChannelShuffle, LocalResponseNorm and gumbel_softmax against
torch: values, gradients, reprs, errors."""
import numpy as np
import pytest

import neurarust as nr
import neurarust.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(values):
    return nr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


def _backward_both(ours, theirs, rng):
    weights = rng.standard_normal(tuple(theirs.shape))
    (ours * nr.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()


@pytest.mark.parametrize("output_size", [1, 3, 4, 7])
def test_adaptive_max_pool1d_values_indices_and_gradient(output_size):
    rng = np.random.default_rng(0)
    a, ta = _pair(rng.standard_normal((2, 3, 7)))
    (v, i), (tv, ti) = F.adaptive_max_pool1d(a, output_size, True), TF.adaptive_max_pool1d(ta, output_size, True)
    np.testing.assert_allclose(v.detach().numpy(), tv.detach().numpy())
    assert i.tolist() == ti.tolist()
    _backward_both(v, tv, rng)
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())


@pytest.mark.parametrize("shape, kwargs", [((2, 3, 6, 4), {}), ((2, 3, 6, 5), {"output_size": (6, 5)}),
                                           ((3, 6, 6), {"output_size": (1, 3, 7, 7)})])
def test_max_unpool2d_inverts_max_pool2d_as_torch(shape, kwargs):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    (v, i), (tv, ti) = F.max_pool2d(nr.tensor(x), 2, return_indices=True), TF.max_pool2d(torch.tensor(x), 2,
                                                                                        return_indices=True)
    b, tb = _pair(v.numpy())
    u, tu = F.max_unpool2d(b, i, 2, **kwargs), TF.max_unpool2d(tb, ti, 2, **kwargs)
    assert tuple(u.shape) == tuple(tu.shape)
    np.testing.assert_allclose(u.detach().numpy(), tu.detach().numpy())
    _backward_both(u, tu, rng)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy())


def test_max_unpool1d_with_stride_and_padding_and_the_modules():
    x = np.random.default_rng(2).standard_normal((3, 8))
    (v, i), (tv, ti) = (F.max_pool1d(nr.tensor(x), 2, 2, 1, return_indices=True),
                        TF.max_pool1d(torch.tensor(x), 2, 2, 1, return_indices=True))
    assert F.max_unpool1d(v, i, 2, 2, 1).tolist() == TF.max_unpool1d(tv, ti, 2, 2, 1).tolist()
    for ours, theirs in ((nr.nn.MaxUnpool1d(3, 2, 1), torch.nn.MaxUnpool1d(3, 2, 1)),
                         (nr.nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)),
                         (nr.nn.AdaptiveMaxPool1d(3, True), torch.nn.AdaptiveMaxPool1d(3, True)),
                         (nr.nn.ChannelShuffle(2), torch.nn.ChannelShuffle(2)),
                         (nr.nn.LocalResponseNorm(3), torch.nn.LocalResponseNorm(3))):
        assert repr(ours) == repr(theirs)


def test_max_unpool_refuses_indices_outside_the_output():
    v, i = F.max_pool2d(nr.arange(30.0).reshape(1, 1, 6, 5), 2, return_indices=True)
    with pytest.raises(IndexError):
        F.max_unpool2d(v, i, 2)            # the default output (6, 4) cannot hold the (6, 5) positions


def test_channel_shuffle_is_torchs():
    x = np.arange(2 * 6 * 3 * 2.0).reshape(2, 6, 3, 2)
    assert nr.nn.ChannelShuffle(3)(nr.tensor(x)).tolist() == torch.nn.ChannelShuffle(3)(torch.tensor(x)).tolist()
    with pytest.raises(ValueError):
        F.channel_shuffle(nr.zeros(1, 4, 2), 3)


@pytest.mark.parametrize("shape, size", [((2, 5, 4), 3), ((2, 6, 3, 2), 4), ((1, 3, 2, 2, 2), 2)])
def test_local_response_norm_values_and_gradient(shape, size):
    rng = np.random.default_rng(3)
    a, ta = _pair(rng.standard_normal(shape))
    y, ty = F.local_response_norm(a, size, 0.1, 0.6, 1.5), TF.local_response_norm(ta, size, 0.1, 0.6, 1.5)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    _backward_both(y, ty, rng)
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-10)


def test_gumbel_softmax_samples_the_softmax_distribution():
    nr.manual_seed(0)
    probs = np.array([0.2, 0.3, 0.5])
    logits = nr.tensor(np.log(np.tile(probs, (20000, 1))))
    hard = F.gumbel_softmax(logits, hard=True)
    assert set(hard.flatten().tolist()) == {0.0, 1.0} and hard.sum(-1).tolist() == [1.0] * 20000
    np.testing.assert_allclose(hard.mean(0).numpy(), probs, atol=0.015)
    soft = F.gumbel_softmax(logits[:5], tau=0.5)
    np.testing.assert_allclose(soft.sum(-1).numpy(), 1.0, rtol=1e-12)


def test_hard_gumbel_softmax_passes_the_soft_gradient_through():
    nr.manual_seed(1)
    logits = nr.tensor(np.random.default_rng(4).standard_normal((6, 4)), requires_grad=True)
    (F.gumbel_softmax(logits, hard=True) * nr.arange(4.0)).sum().backward()
    assert logits.grad.abs().sum().item() > 0
