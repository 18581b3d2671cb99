"""Alpha dropout, RReLU and init.sparse_ as in torch: the affine constants, moments, slopes and
gradients (their random draws come from NeuraRust's Philox generator, so compared as statistics)."""
import numpy as np
import pytest

import neurarust as nr
import neurarust.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_alpha_dropout_uses_torchs_two_values_and_keeps_the_moments(p):
    nr.manual_seed(0)
    ours = F.alpha_dropout(nr.ones(20000), p, training=True).numpy()
    theirs = TF.alpha_dropout(torch.ones(20000), p, training=True).numpy()
    np.testing.assert_allclose(np.unique(ours), np.unique(theirs), rtol=1e-6)
    normal = F.alpha_dropout(nr.randn(200000), p, training=True).numpy()
    assert abs(normal.mean()) < 0.02 and abs(normal.var() - 1) < 0.02


def test_feature_alpha_dropout_drops_whole_channels_and_is_identity_in_eval():
    nr.manual_seed(1)
    y = F.feature_alpha_dropout(nr.ones(50, 4, 3), 0.5, training=True).numpy()
    assert (y.std(axis=2) < 1e-7).all() and len(np.unique(np.round(y, 5))) == 2
    assert nr.nn.AlphaDropout(0.5).eval()(nr.ones(3)).tolist() == [1.0, 1.0, 1.0]
    assert repr(nr.nn.FeatureAlphaDropout(0.2)) == repr(torch.nn.FeatureAlphaDropout(0.2))


def test_rrelu_draws_slopes_in_training_and_uses_their_mean_in_eval():
    nr.manual_seed(2)
    x = nr.tensor([-3.0, -1.0, 0.0, 2.0], requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    y.sum().backward()
    slopes = (y[:2] / x[:2]).detach().numpy()
    assert ((slopes >= 0.1) & (slopes <= 0.3)).all() and y[3].item() == 2.0
    assert np.allclose(x.grad.numpy()[:2], slopes) and x.grad[3].item() == 1.0
    assert F.rrelu(nr.tensor([-3.0, 2.0])).tolist() == TF.rrelu(torch.tensor([-3.0, 2.0])).tolist()
    assert repr(nr.nn.RReLU(0.2, 0.4, True)) == repr(torch.nn.RReLU(0.2, 0.4, True))


def test_sparse_init_zeroes_the_same_count_in_every_column():
    w = nr.nn.init.sparse_(nr.empty(10, 5), 0.3, std=2.0)
    assert (w == 0).sum(0).tolist() == [3] * 5
    with pytest.raises(ValueError):
        nr.nn.init.sparse_(nr.empty(3), 0.5)
