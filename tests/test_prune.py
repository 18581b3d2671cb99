"""nn.utils.prune: masks equal torch.nn.utils.prune's on copied weights (distinct magnitudes; the
random methods by count), the orig/mask/hook layout, composition, remove, state dicts, sparsity."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.utils.prune as tprune

import neurarust as nr
from neurarust import nn
from neurarust.errors import ArgumentError, IndexOutOfRangeError, ShapeError, SignatureError
from neurarust.nn.utils import prune


def _pair(module: nn.Module, torch_module: torch.nn.Module):
    torch_module.load_state_dict({k: torch.tensor(v.numpy()) for k, v in module.state_dict().items()})
    return module, torch_module


def _linear_pair():
    nr.manual_seed(0)
    return _pair(nn.Linear(6, 5), torch.nn.Linear(6, 5))


def _conv_pair():
    nr.manual_seed(0)
    return _pair(nn.Conv2d(3, 4, 2), torch.nn.Conv2d(3, 4, 2))


def _same_mask(module, torch_module, name="weight"):
    np.testing.assert_array_equal(getattr(module, name + "_mask").numpy(),
                                  getattr(torch_module, name + "_mask").numpy())


@pytest.mark.parametrize("amount", [0.3, 7])
def test_l1_unstructured_mask_equals_torchs(amount):
    ours, theirs = _linear_pair()
    prune.l1_unstructured(ours, "weight", amount=amount)
    tprune.l1_unstructured(theirs, "weight", amount=amount)
    _same_mask(ours, theirs)


@pytest.mark.parametrize("n,dim", [(1, 0), (2, 0), (1, 1), (2, 1)])
def test_ln_structured_mask_on_filters_and_channels_equals_torchs(n, dim):
    ours, theirs = _conv_pair()
    prune.ln_structured(ours, "weight", amount=0.5, n=n, dim=dim)
    tprune.ln_structured(theirs, "weight", amount=0.5, n=n, dim=dim)
    _same_mask(ours, theirs)


def test_global_unstructured_ranks_all_tensors_together_like_torch():
    nr.manual_seed(0)
    ours, theirs = _pair(nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 3)),
                         torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Linear(6, 3)))
    prune.global_unstructured([(ours[0], "weight"), (ours[1], "weight")], prune.L1Unstructured, amount=0.6)
    tprune.global_unstructured([(theirs[0], "weight"), (theirs[1], "weight")], tprune.L1Unstructured, amount=0.6)
    _same_mask(ours[0], theirs[0])
    _same_mask(ours[1], theirs[1])


def test_repeated_pruning_composes_masks_like_torch():
    ours, theirs = _conv_pair()
    for lib, m in ((prune, ours), (tprune, theirs)):
        lib.l1_unstructured(m, "weight", amount=0.2)
        lib.ln_structured(m, "weight", amount=1, n=2, dim=0)
        lib.l1_unstructured(m, "weight", amount=5)
    _same_mask(ours, theirs)
    hooks = [h for h, _ in ours._forward_pre_hooks.values()]
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer) and len(hooks[0]) == 3


def test_random_unstructured_prunes_as_many_entries_as_torch():
    ours, theirs = _conv_pair()
    prune.random_unstructured(ours, "weight", amount=0.35)
    tprune.random_unstructured(theirs, "weight", amount=0.35)
    assert int((ours.weight_mask == 0).sum().item()) == int((theirs.weight_mask == 0).sum())


def test_random_structured_prunes_as_many_channels_as_torch():
    ours, theirs = _conv_pair()
    prune.random_structured(ours, "weight", amount=2, dim=1)
    tprune.random_structured(theirs, "weight", amount=2, dim=1)
    kept = ours.weight_mask.sum(dim=[0, 2, 3])
    assert int((kept == 0).sum().item()) == int((theirs.weight_mask.sum(dim=[0, 2, 3]) == 0).sum()) == 2


def test_pruning_moves_the_parameter_to_orig_and_the_mask_to_a_buffer():
    lin = nn.Linear(4, 3)
    weight = lin.weight
    prune.l1_unstructured(lin, "weight", amount=0.5)
    assert [n for n, _ in lin.named_parameters()] == ["bias", "weight_orig"]
    assert lin.weight_orig is weight and [n for n, _ in lin.named_buffers()] == ["weight_mask"]
    assert list(lin.state_dict()) == ["bias", "weight_orig", "weight_mask"]
    np.testing.assert_array_equal(lin.weight.detach().numpy(), (weight * lin.weight_mask).detach().numpy())


def test_forward_recomputes_the_masked_weight_and_pruned_entries_get_no_gradient():
    lin = prune.l1_unstructured(nn.Linear(4, 3), "weight", amount=6)
    with nr.no_grad():
        lin.weight_orig.add_(1.0)  # the hook, not the stale attribute, decides what forward uses
    lin(nr.ones(2, 4)).sum().backward()
    np.testing.assert_array_equal(lin.weight.detach().numpy(), (lin.weight_orig * lin.weight_mask).detach().numpy())
    assert bool((lin.weight_orig.grad[lin.weight_mask == 0] == 0).all())
    assert bool((lin.weight_orig.grad[lin.weight_mask == 1] == 2).all())


def test_ties_prune_the_lowest_indices_first():
    lin = nn.Linear(4, 1, bias=False)
    with nr.no_grad():
        lin.weight.copy_(nr.tensor([[1.0, -1.0, 1.0, 2.0]]))
    prune.l1_unstructured(lin, "weight", amount=2)
    assert lin.weight_mask.tolist() == [[0.0, 0.0, 1.0, 1.0]]


def test_importance_scores_replace_the_weights_in_the_ranking():
    lin = nn.Linear(3, 1, bias=False)
    prune.l1_unstructured(lin, "weight", amount=1, importance_scores=nr.tensor([[3.0, 1.0, 2.0]]))
    assert lin.weight_mask.tolist() == [[1.0, 0.0, 1.0]]


def test_custom_from_mask_prunes_where_the_mask_is_zero():
    lin = prune.custom_from_mask(nn.Linear(2, 2), "weight", mask=nr.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert (lin.weight == 0).tolist() == [[False, True], [True, False]]


def test_remove_makes_the_pruning_permanent_on_the_same_parameter_object():
    lin = prune.l1_unstructured(nn.Linear(4, 3), "weight", amount=0.5)
    orig, pruned = lin.weight_orig, lin.weight.detach().clone()
    prune.remove(lin, "weight")
    assert lin.weight is orig and isinstance(lin.weight, nn.Parameter)
    assert [n for n, _ in lin.named_parameters()] == ["bias", "weight"] and not list(lin.named_buffers())
    assert not lin._forward_pre_hooks and not prune.is_pruned(lin)
    np.testing.assert_array_equal(lin.weight.detach().numpy(), pruned.numpy())


def test_remove_of_an_unpruned_tensor_raises():
    with pytest.raises(ArgumentError, match="has to be pruned"):
        prune.remove(nn.Linear(2, 2), "weight")


def test_state_dict_of_a_pruned_model_round_trips_through_a_file(tmp_path):
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    prune.l1_unstructured(net[0], "weight", amount=0.5)
    nr.save(net.state_dict(), str(tmp_path / "pruned.safetensors"))
    clone = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    prune.identity(clone[0], "weight")
    clone.load_state_dict(nr.load(str(tmp_path / "pruned.safetensors")))
    x = nr.randn(3, 4)
    np.testing.assert_array_equal(clone(x).detach().numpy(), net(x).detach().numpy())
    assert clone[0].weight_mask.tolist() == net[0].weight_mask.tolist()


@pytest.mark.parametrize("call,error", [
    (lambda lin: prune.l1_unstructured(lin, "weight", amount=1.5), ArgumentError),
    (lambda lin: prune.l1_unstructured(lin, "weight", amount=-1), ArgumentError),
    (lambda lin: prune.l1_unstructured(lin, "weight", amount="half"), SignatureError),
    (lambda lin: prune.l1_unstructured(lin, "weight", amount=13), ArgumentError),
    (lambda lin: prune.ln_structured(lin, "bias", amount=1, n=2, dim=0), ShapeError),
    (lambda lin: prune.ln_structured(lin, "weight", amount=1, n=2, dim=2), IndexOutOfRangeError),
    (lambda lin: prune.l1_unstructured(lin, "weight", 1, importance_scores=nr.ones(3)), ShapeError),
])
def test_bad_arguments_raise_and_leave_the_module_unpruned(call, error):
    lin = nn.Linear(4, 3)
    with pytest.raises(error):
        call(lin)
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"] and not prune.is_pruned(lin)
    assert "weight" not in lin.__dict__ and not list(lin.named_buffers())


def test_sparsity_reports_each_pruned_tensor_and_the_global_fraction():
    net = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 5))
    prune.l1_unstructured(net[0], "weight", amount=0.6)
    prune.l1_unstructured(net[2], "weight", amount=0.2)
    report = prune.sparsity(net)
    assert dict(report) == {"0.weight": 0.6, "2.weight": 0.2}
    assert report.zeros == {"0.weight": 60, "2.weight": 10} and report.global_sparsity == 70 / 150
    assert "global" in str(report) and "46.67%" in str(report)
    prune.remove(net[0], "weight")
    everything = prune.sparsity(net, include_unpruned=True)
    assert everything["0.weight"] == 0.6 and everything["0.bias"] == 0.0 and "2.weight_orig" not in everything
