"""nn.utils.fusion (BatchNorm folded into the layer before it) and nn.utils.stateless.functional_call
against torch."""
import numpy as np
import pytest

import neurarust as nr
from neurarust import nn
from neurarust.nn.utils.stateless import functional_call

torch = pytest.importorskip("torch")


def _eval_pair(ours, theirs):
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})
    return ours.eval(), theirs.eval()


def _trained_bn(n: int):
    bn = nn.BatchNorm2d(n)
    bn.running_mean.copy_(nr.randn(n))
    bn.running_var.copy_(nr.rand(n) + 0.5)
    bn.weight.data, bn.bias.data = nr.randn(n), nr.randn(n)
    return _eval_pair(bn, torch.nn.BatchNorm2d(n))


@pytest.mark.parametrize("make, transpose", [(lambda m: m.Conv2d(3, 4, 3), False),
                                             (lambda m: m.Conv2d(3, 4, 3, bias=False), False),
                                             (lambda m: m.ConvTranspose2d(3, 4, 2), True)])
def test_fuse_conv_bn_eval_is_torchs_and_matches_the_pair(make, transpose):
    nr.manual_seed(0)
    conv, tconv = _eval_pair(make(nn), make(torch.nn))
    bn, tbn = _trained_bn(4)
    fused = nn.utils.fuse_conv_bn_eval(conv, bn, transpose)
    want = torch.nn.utils.fusion.fuse_conv_bn_eval(tconv, tbn, transpose)
    np.testing.assert_allclose(fused.weight.detach().numpy(), want.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused.bias.detach().numpy(), want.bias.detach().numpy(), rtol=1e-5, atol=1e-6)
    x = nr.randn(2, 3, 5, 5)
    np.testing.assert_allclose(fused(x).detach().numpy(), bn(conv(x)).detach().numpy(), atol=1e-4)
    assert conv.weight is not fused.weight and isinstance(fused.weight, nn.Parameter)


def test_fuse_linear_bn_eval_is_torchs_and_refuses_training_mode():
    nr.manual_seed(1)
    lin, tlin = _eval_pair(nn.Linear(3, 4), torch.nn.Linear(3, 4))
    bn = nn.BatchNorm1d(4)
    bn.running_mean.copy_(nr.randn(4))
    bn.running_var.copy_(nr.rand(4) + 0.5)
    bn, tbn = _eval_pair(bn, torch.nn.BatchNorm1d(4))
    fused, want = nn.utils.fuse_linear_bn_eval(lin, bn), torch.nn.utils.fusion.fuse_linear_bn_eval(tlin, tbn)
    np.testing.assert_allclose(fused.weight.detach().numpy(), want.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused.bias.detach().numpy(), want.bias.detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(nr.NeuraRustError):
        nn.utils.fuse_linear_bn_eval(lin.train(), bn)


def test_functional_call_differentiates_the_given_tensors_and_restores_the_module():
    lin = nn.Linear(2, 1)
    weight, bias = lin.weight, lin.bias
    w = nr.ones(1, 2, requires_grad=True)
    out = functional_call(lin, {"weight": w}, (nr.tensor([[1.0, 2.0]]),))
    out.backward()
    assert w.grad.tolist() == [[1.0, 2.0]] and lin.weight.grad is None
    assert lin.weight is weight and lin.bias is bias


def test_functional_call_swaps_tied_weights_together_unless_told_not_to():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 2, bias=False), nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    tied = Tied()
    assert functional_call(tied, {"a.weight": nr.ones(2, 2)}, nr.ones(1, 2)).tolist() == [[4.0, 4.0]]
    untied = functional_call(tied, {"a.weight": nr.ones(2, 2), "b.weight": nr.zeros(2, 2)}, nr.ones(1, 2),
                             tie_weights=False)
    assert untied.tolist() == [[0.0, 0.0]] and tied.a.weight is tied.b.weight
    with pytest.raises(nr.NeuraRustError):
        functional_call(tied, {"a.weight": nr.ones(2, 2), "b.weight": nr.zeros(2, 2)}, nr.ones(1, 2))
    with pytest.raises(nr.NeuraRustError):
        functional_call(tied, {"c.weight": nr.ones(2, 2)}, nr.ones(1, 2))


def test_functional_call_restores_the_module_when_forward_raises():
    lin = nn.Linear(2, 1)
    weight = lin.weight
    with pytest.raises(nr.NeuraRustError):
        functional_call(lin, {"weight": nr.ones(1, 2)}, nr.ones(1, 5))
    assert lin.weight is weight
