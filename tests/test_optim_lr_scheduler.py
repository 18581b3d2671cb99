"""Every scheduler's lr sequence (and momentum, where it cycles it) equals torch's over 100 steps."""
from __future__ import annotations

import math

import pytest
import torch

import neurarust as nr


def _pair(opt_name="SGD", **kw):
    a = getattr(nr.optim, opt_name)([{"params": [nr.zeros(1, requires_grad=True)]},
                                     {"params": [nr.zeros(1, requires_grad=True)], "lr": 0.3}], lr=1.0, **kw)
    b = getattr(torch.optim, opt_name)([{"params": [torch.zeros(1, requires_grad=True)]},
                                        {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.3}], lr=1.0, **kw)
    return a, b


STEPS = 100  # the horizon: long enough for restarts, cycles and milestones to recur


def _lambda(e):
    return 0.9 ** e


def _mult(e):
    return 0.95


CASES = {
    "LambdaLR": lambda L, o: L.LambdaLR(o, _lambda),
    "MultiplicativeLR": lambda L, o: L.MultiplicativeLR(o, _mult),
    "StepLR": lambda L, o: L.StepLR(o, step_size=4, gamma=0.5),
    "MultiStepLR": lambda L, o: L.MultiStepLR(o, milestones=[3, 7, 7, 20], gamma=0.5),
    "ConstantLR": lambda L, o: L.ConstantLR(o, factor=0.25, total_iters=6),
    "LinearLR": lambda L, o: L.LinearLR(o, start_factor=0.1, end_factor=0.8, total_iters=10),
    "ExponentialLR": lambda L, o: L.ExponentialLR(o, gamma=0.9),
    "PolynomialLR": lambda L, o: L.PolynomialLR(o, total_iters=12, power=2.0),
    "CosineAnnealingLR": lambda L, o: L.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    "CosineAnnealingWarmRestarts": lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2, eta_min=0.05),
    "CyclicLR-triangular2": lambda L, o: L.CyclicLR(o, base_lr=0.1, max_lr=[1.0, 0.5], step_size_up=3,
                                                    step_size_down=5, mode="triangular2"),
    "CyclicLR-exp_range": lambda L, o: L.CyclicLR(o, base_lr=0.1, max_lr=1.0, step_size_up=4, mode="exp_range",
                                                  gamma=0.95),
    "OneCycleLR": lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=101),
    "OneCycleLR-three-linear": lambda L, o: L.OneCycleLR(o, max_lr=1.0, epochs=4, steps_per_epoch=26,
                                                         three_phase=True, anneal_strategy="linear"),
    "SequentialLR": lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.2, total_iters=5), L.ExponentialLR(o, 0.9),
                                                    L.CosineAnnealingLR(o, T_max=6)], milestones=[5, 15]),
    "ChainedScheduler": lambda L, o: L.ChainedScheduler([L.ConstantLR(o, 0.5, total_iters=4),
                                                         L.ExponentialLR(o, 0.9), L.StepLR(o, 3, 0.5)]),
}


def _momenta(opt):
    return [g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups]


@pytest.mark.parametrize("name", list(CASES))
def test_lr_sequence_matches_torch(name):
    a, b = _pair("SGD", momentum=0.9)
    mine = CASES[name](nr.optim.lr_scheduler, a)
    ref = CASES[name](torch.optim.lr_scheduler, b)
    assert mine.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-12)
    for step in range(STEPS):
        a.step()
        b.step()
        mine.step()
        ref.step()
        assert mine.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-12, abs=1e-15), f"step {step}"
        assert [g["lr"] for g in a.param_groups] == pytest.approx([g["lr"] for g in b.param_groups], rel=1e-12)
        assert _momenta(a) == pytest.approx(_momenta(b), rel=1e-12)


def test_cyclic_momentum_on_adam_betas():
    a, b = _pair("Adam")
    mine = nr.optim.lr_scheduler.OneCycleLR(a, max_lr=1.0, total_steps=20)
    ref = torch.optim.lr_scheduler.OneCycleLR(b, max_lr=1.0, total_steps=20)
    for _ in range(19):
        a.step()
        b.step()
        mine.step()
        ref.step()
        assert [g["betas"][0] for g in a.param_groups] == pytest.approx([g["betas"][0] for g in b.param_groups])


@pytest.mark.parametrize("kwargs", [dict(), dict(mode="max", threshold_mode="abs", patience=2, cooldown=2,
                                                  min_lr=[0.05, 0.2], factor=0.5)])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    a, b = _pair()
    mine = nr.optim.lr_scheduler.ReduceLROnPlateau(a, **kwargs)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(b, **kwargs)
    for step in range(STEPS):
        metric = 1.0 + 0.1 * math.sin(step) if step % 3 else 1.0 - step * 1e-6
        mine.step(metric)
        ref.step(metric)
        assert mine.get_last_lr() == pytest.approx(ref.get_last_lr(), rel=1e-12), f"step {step}"


def test_state_dict_resumes_and_epoch_argument():
    a, _ = _pair()
    s = nr.optim.lr_scheduler.StepLR(a, step_size=3, gamma=0.5)
    for _ in range(4):
        s.step()
    sd = s.state_dict()
    assert sd["last_epoch"] == 4 and "optimizer" not in sd
    c, _ = _pair()
    t = nr.optim.lr_scheduler.StepLR(c, step_size=3, gamma=0.5)
    t.load_state_dict(sd)
    c.load_state_dict(a.state_dict())  # the recursive forms continue from the groups' lr, as in PyTorch
    for _ in range(5):
        s.step()
        t.step()
        assert s.get_last_lr() == t.get_last_lr()
    s.step(9)
    assert s.get_last_lr() == pytest.approx([0.125, 0.0375])


def test_scheduler_errors():
    a, _ = _pair()
    with pytest.raises(TypeError):
        nr.optim.lr_scheduler.StepLR(object(), 2)
    with pytest.raises(KeyError):
        nr.optim.lr_scheduler.StepLR(a, 2, last_epoch=3)
    with pytest.raises(ValueError):
        nr.optim.lr_scheduler.OneCycleLR(a, max_lr=1.0)
    with pytest.raises(ValueError):
        nr.optim.lr_scheduler.ReduceLROnPlateau(a, factor=2.0)


@pytest.mark.parametrize("last_epoch", [5, 11])
@pytest.mark.parametrize("T_mult", [1, 2])
def test_warm_restarts_resumed_past_a_restart_match_torch(last_epoch, T_mult):
    def lrs(lib, param):
        opt = lib.optim.SGD([param], lr=0.1)
        opt.param_groups[0]["initial_lr"] = 0.1
        s = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, 3, T_mult, 0.01, last_epoch=last_epoch)
        out = [opt.param_groups[0]["lr"]]
        for _ in range(6):
            opt.step()
            s.step()
            out.append(opt.param_groups[0]["lr"])
        return out

    ours = lrs(nr, nr.nn.Parameter(nr.zeros(1)))
    theirs = lrs(torch, torch.nn.Parameter(torch.zeros(1)))
    assert ours == pytest.approx(theirs, rel=1e-12)
