"""Lazy modules: shapes read from the first input, PyTorch's reprs and initialisation, the class they
become, and checkpoints loaded before the first call."""
import numpy as np
import pytest

import neurarust as nr
from neurarust import nn

torch = pytest.importorskip("torch")

MAKERS = [lambda m: m.LazyLinear(4), lambda m: m.LazyConv1d(4, 3), lambda m: m.LazyConv2d(4, 3, groups=2),
          lambda m: m.LazyConv3d(2, 1), lambda m: m.LazyConvTranspose1d(2, 2, stride=2),
          lambda m: m.LazyConvTranspose2d(2, 2, stride=2), lambda m: m.LazyConvTranspose3d(1, 2),
          lambda m: m.LazyBatchNorm1d(), lambda m: m.LazyBatchNorm2d(momentum=None), lambda m: m.LazyBatchNorm3d(),
          lambda m: m.LazyInstanceNorm1d(), lambda m: m.LazyInstanceNorm2d(affine=False),
          lambda m: m.LazyInstanceNorm3d()]
INPUTS = [(2, 6), (2, 6, 8), (2, 6, 5, 5), (1, 6, 2, 2, 2), (1, 6, 4), (1, 6, 2, 2), (1, 6, 2, 2, 2), (8, 6),
          (2, 6, 3, 3), (2, 6, 1, 2, 2), (2, 6, 4), (2, 6, 3, 3), (1, 6, 2, 2, 2)]


@pytest.mark.parametrize("index", range(len(MAKERS)))
def test_a_lazy_module_takes_its_shapes_from_the_first_input_as_torch(index):
    ours, theirs = MAKERS[index](nn), MAKERS[index](torch.nn)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(index).standard_normal(INPUTS[index]).astype(np.float32)
    y, ty = ours(nr.tensor(x)), theirs(torch.tensor(x))
    assert tuple(y.shape) == tuple(ty.shape)
    assert type(ours).__name__ == type(theirs).__name__ and repr(ours) == repr(theirs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert tuple(ours.state_dict()[key].shape) == tuple(value.shape)


def test_the_first_forward_initialises_as_the_eager_layer_does():
    layer = nn.LazyLinear(200)
    layer(nr.zeros(1, 50))
    weights = np.abs(layer.weight.detach().numpy())
    assert weights.max() <= 1 / np.sqrt(50) and weights.max() > 0.9 / np.sqrt(50)
    layer(nr.ones(3, 50)).sum().backward()
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.grad.shape == (200, 50)


def test_a_checkpoint_loads_into_an_uninitialised_lazy_model():
    theirs = torch.nn.Sequential(torch.nn.LazyLinear(4), torch.nn.ReLU(), torch.nn.LazyLinear(2))
    theirs(torch.zeros(1, 3))
    ours = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    ours.load_state_dict({k: nr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(nr.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               atol=1e-6)
    assert type(ours[0]) is nn.Linear


def test_uninitialized_parameters_materialize_in_place():
    p = nn.UninitializedParameter()
    p.materialize((2, 3))
    assert type(p) is nn.Parameter and p.shape == (2, 3) and p.requires_grad
    with pytest.raises(nr.NeuraRustError):
        nn.LazyConv2d(4, 3, groups=2)(nr.zeros(1, 3, 4, 4))


def test_an_unbatched_input_gives_instance_norm_its_channels():
    # PyTorch reads dim 1 here and then fails; the channels of an unbatched (C, H, W) input are dim 0.
    norm = nn.LazyInstanceNorm2d()
    norm(nr.randn(6, 3, 3))
    assert norm.num_features == 6 and tuple(norm.weight.shape) == (6,)
