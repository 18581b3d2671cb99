"""Optimizers and schedulers where a review found NeuraRust apart from PyTorch: ReduceLROnPlateau and
param groups added later, torch.optim state dicts, and SGD's empty state."""
from __future__ import annotations

import pytest
import torch

import neurarust as nr
from neurarust.errors import NeuraRustError


def _plateau_after_new_group(min_lr):
    opt = nr.optim.SGD([nr.zeros(1, requires_grad=True)], lr=1.0)
    sched = nr.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=min_lr)
    sched.step(1.0)
    opt.add_param_group({"params": [nr.zeros(1, requires_grad=True)], "lr": 0.5})
    return opt, sched


def test_plateau_reduces_a_group_added_after_construction():
    opt, sched = _plateau_after_new_group(min_lr=0.0)
    sched.step(2.0)  # no improvement past patience 0: every group is reduced
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.05])
    assert sched.min_lrs == [0.0, 0.0]


def test_plateau_new_group_takes_the_scalar_min_lr_as_floor():
    opt, sched = _plateau_after_new_group(min_lr=0.2)
    sched.step(2.0)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.2, 0.2])


def test_plateau_per_group_min_lrs_of_the_wrong_length_raise():
    opt, sched = _plateau_after_new_group(min_lr=[0.0])
    with pytest.raises(NeuraRustError, match="2 param groups but min_lrs has 1"):
        sched.step(2.0)


def test_plateau_matches_torch_after_a_new_group():
    t_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, patience=0, min_lr=0.01)
    opt, sched = _plateau_after_new_group(min_lr=0.01)
    t_sched.step(1.0)
    t_opt.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": 0.5})
    for metric in (2.0, 3.0, 4.0):
        t_sched.step(metric)
        sched.step(metric)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in t_opt.param_groups])


def _adam_pair():
    t = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    t_opt = torch.optim.Adam([t], lr=0.1)
    t.grad = torch.tensor([0.5, -1.0, 2.0])
    t_opt.step()
    n = nr.tensor(t.detach().numpy().copy(), requires_grad=True)
    return t, t_opt, n, nr.optim.Adam([n], lr=0.1)


def test_optimizer_loads_a_torch_state_dict_as_neurarust_values():
    t, t_opt, n, opt = _adam_pair()
    opt.load_state_dict(t_opt.state_dict())
    state = opt.state[n]
    assert isinstance(state["step"], float) and state["step"] == 1.0
    assert isinstance(state["exp_avg"], nr.Tensor) and isinstance(state["exp_avg_sq"], nr.Tensor)
    assert state["exp_avg"].tolist() == pytest.approx(t_opt.state[t]["exp_avg"].tolist())


def test_optimizer_from_a_torch_state_dict_steps_like_torch():
    t, t_opt, n, opt = _adam_pair()
    opt.load_state_dict(t_opt.state_dict())
    t.grad = torch.tensor([1.0, 1.0, -1.0])
    n.grad = nr.tensor([1.0, 1.0, -1.0])
    t_opt.step()
    opt.step()
    assert n.tolist() == pytest.approx(t.tolist(), rel=1e-6, abs=1e-7)


def test_loaded_torch_state_is_a_copy():
    _, t_opt, n, opt = _adam_pair()
    sd = t_opt.state_dict()
    opt.load_state_dict(sd)
    sd["state"][0]["exp_avg"].zero_()
    assert opt.state[n]["exp_avg"].abs().sum().item() > 0


def _sgd_after_step(**options):
    params = [nr.zeros(2, requires_grad=True) for _ in range(2)]
    opt = nr.optim.SGD(params, lr=0.1, **options)
    for p in params:
        p.grad = nr.ones(2)
    opt.step()
    return opt


def test_sgd_without_momentum_keeps_no_state():
    opt = _sgd_after_step()
    assert len(opt.state) == 0
    assert opt.state_dict()["state"] == {}


def test_sgd_without_momentum_state_dict_matches_torch():
    params = [torch.zeros(2, requires_grad=True) for _ in range(2)]
    t_opt = torch.optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = torch.ones(2)
    t_opt.step()
    assert _sgd_after_step().state_dict()["state"] == t_opt.state_dict()["state"]


def test_sgd_with_momentum_still_keeps_its_buffer():
    opt = _sgd_after_step(momentum=0.9)
    assert sorted(opt.state_dict()["state"]) == [0, 1]
    assert opt.state_dict()["state"][0]["momentum_buffer"].tolist() == [1.0, 1.0]
