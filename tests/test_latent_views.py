"""Views of a tensor that required no grad when they were taken follow their base, as PyTorch's do:
an in-place op that later gives the base a history gives every such view one (an AsStrided of the
base's new node), so their gradients reach what was written into the base."""
import numpy as np
import pytest

import neurarust as nr

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("lib", [nr, torch], ids=["neurarust", "torch"])
def test_a_view_taken_before_an_inplace_op_on_its_base_carries_the_gradient(lib):
    base = lib.zeros(3)
    view = base[:2]
    x = lib.ones(3, requires_grad=True)
    base.add_(x * 2)
    assert view.requires_grad and view.grad_fn is not None
    view.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 0.0]


@pytest.mark.parametrize("lib", [nr, torch], ids=["neurarust", "torch"])
def test_a_sibling_view_sees_a_write_through_another_view(lib):
    base = lib.zeros(2, 3)
    row, column = base[0], base[:, 1]
    y = lib.ones(3, requires_grad=True)
    row.mul_(0).add_(y)
    assert base.requires_grad and column.requires_grad
    (base.sum() + column.sum()).backward()
    assert y.grad.tolist() == [1.0, 2.0, 1.0]


@pytest.mark.parametrize("lib", [nr, torch], ids=["neurarust", "torch"])
def test_a_transposed_view_of_a_view_follows_the_base(lib):
    base = lib.zeros(2, 3)
    view = base.view(6).view(2, 3).t()
    x = lib.ones(3, requires_grad=True)
    base.add_(x)
    (view * lib.arange(6.0).reshape(3, 2)).sum().backward()
    assert x.grad.tolist() == [1.0, 5.0, 9.0]


@pytest.mark.parametrize("lib", [nr, torch], ids=["neurarust", "torch"])
def test_an_inplace_op_without_gradients_leaves_the_views_untracked(lib):
    base = lib.zeros(3)
    view = base[:2]
    base.fill_(1.0)
    assert not view.requires_grad and view.is_leaf


@pytest.mark.parametrize("lib", [nr, torch], ids=["neurarust", "torch"])
def test_a_view_made_a_leaf_becomes_the_bases_view_once_the_base_has_a_history(lib):
    base = lib.zeros(3)
    view = base[:2].requires_grad_()
    assert view.is_leaf and view.requires_grad
    (view * 2).sum().backward()
    assert view.grad.tolist() == [2.0, 2.0]
    base.add_(lib.ones(3, requires_grad=True))
    assert view.requires_grad and not view.is_leaf


@pytest.mark.parametrize("lib", [nr, torch], ids=["neurarust", "torch"])
def test_a_view_taken_under_no_grad_is_not_tracked(lib):
    with lib.no_grad():
        base = lib.zeros(3)
        view = base[:2]
    assert not view.requires_grad


def test_a_base_that_requires_grad_later_receives_its_views_gradient():
    # PyTorch reports such a view as requiring grad yet drops its gradient; ours reaches the base.
    base = nr.zeros(3)
    view = base[:2]
    base.requires_grad_()
    (view * 3).sum().backward()
    assert base.grad.tolist() == [3.0, 3.0, 0.0]


def test_views_of_plain_tensors_stay_plain_for_the_optimizer_path():
    p = nr.nn.Parameter(nr.ones(4))
    with nr.no_grad():
        part = p[:2]
        part.mul_(2)
    assert not part.requires_grad
    assert np.array_equal(p.detach().numpy(), [2.0, 2.0, 1.0, 1.0])


@pytest.mark.parametrize("lib", [nr, torch], ids=["neurarust", "torch"])
def test_an_inplace_op_on_a_view_made_a_leaf_that_requires_grad_is_refused(lib):
    view = lib.arange(6.0).reshape(2, 3).requires_grad_()
    with pytest.raises(RuntimeError, match="leaf"):
        view.mul_(2)
