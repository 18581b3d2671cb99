"""nn.utils.parametrize and nn.utils.parametrizations (weight_norm, spectral_norm) against torch:
state-dict keys and values, outputs and gradients, the property setter, removal, caching."""
import numpy as np
import pytest

import neurarust as nr
from neurarust import nn
from neurarust.nn.utils import parametrizations, parametrize

torch = pytest.importorskip("torch")


def _twin(ours, theirs):
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})
    return ours, theirs


class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(-1, -2)


def test_a_parametrized_weight_is_recomputed_from_its_original_and_trains_it():
    lin = parametrize.register_parametrization(nn.Linear(3, 3), "weight", Symmetric())
    assert type(lin).__name__ == "ParametrizedLinear" and parametrize.is_parametrized(lin, "weight")
    assert sorted(lin.state_dict()) == ["bias", "parametrizations.weight.original"]
    w = lin.weight
    assert (w == w.t()).all().item()
    lin(nr.ones(1, 3)).sum().backward()
    assert lin.parametrizations.weight.original.grad is not None


def test_removing_keeps_the_parametrized_value_and_restores_the_class():
    lin = parametrize.register_parametrization(nn.Linear(3, 3), "weight", Symmetric())
    value = lin.weight.detach().numpy().copy()
    parametrize.remove_parametrizations(lin, "weight")
    assert type(lin) is nn.Linear and isinstance(lin.weight, nn.Parameter)
    assert np.array_equal(lin.weight.detach().numpy(), value) and sorted(lin.state_dict()) == ["bias", "weight"]


def test_a_parametrization_that_changes_the_shape_needs_unsafe():
    class Half(nn.Module):
        def forward(self, x):
            return x[:1]

    with pytest.raises(nr.NeuraRustError):
        parametrize.register_parametrization(nn.Linear(2, 2), "weight", Half())
    assert parametrize.register_parametrization(nn.Linear(2, 2), "weight", Half(), unsafe=True).weight.shape == (1, 2)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_is_torchs(dim):
    nr.manual_seed(0)
    ours, theirs = _twin(nn.Conv1d(3, 4, 2), torch.nn.Conv1d(3, 4, 2))
    parametrizations.weight_norm(ours, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(theirs, dim=dim)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    for key, value in ours.state_dict().items():
        np.testing.assert_allclose(value.detach().numpy(), theirs.state_dict()[key].detach().numpy(), rtol=1e-5)
    x = np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32)
    y, ty = ours(nr.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    for i in (0, 1):
        got = getattr(ours.parametrizations.weight, f"original{i}").grad.numpy()
        want = getattr(theirs.parametrizations.weight, f"original{i}").grad.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_weight_norm_state_saved_by_torch_loads_and_assigning_the_weight_sets_the_originals():
    theirs = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(3, 2))
    ours = parametrizations.weight_norm(nn.Linear(3, 2))
    ours.load_state_dict({k: nr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-6)
    ours.weight = nr.ones(2, 3)
    np.testing.assert_allclose(ours.weight.detach().numpy(), 1.0, rtol=1e-6)


def test_spectral_norm_has_torchs_keys_and_a_unit_spectral_norm():
    nr.manual_seed(1)
    ours = parametrizations.spectral_norm(nn.Linear(5, 4))
    theirs = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(5, 4))
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    sigma = np.linalg.svd(ours.weight.detach().numpy(), compute_uv=False)[0]
    assert sigma == pytest.approx(1.0, rel=1e-3)
    ours.eval()
    assert np.array_equal(ours.weight.detach().numpy(), ours.weight.detach().numpy())  # no iteration in eval
    ours(nr.randn(2, 5)).sum().backward()
    assert ours.parametrizations.weight.original.grad.shape == (4, 5)
    assert parametrizations.spectral_norm(nn.ConvTranspose2d(3, 4, 2)).parametrizations.weight[0].dim == 1


def test_cached_computes_each_parametrized_tensor_once():
    lin = parametrize.register_parametrization(nn.Linear(3, 3), "weight", Symmetric())
    with parametrize.cached():
        assert lin.weight is lin.weight
    assert lin.weight is not lin.weight
