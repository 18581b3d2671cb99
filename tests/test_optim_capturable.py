"""capturable=True optimizers: step counts, lr and the found-inf flag live in device tensors that the
kernels read, so a step needs no host sync; the trajectory equals the ordinary mode's, and a step
with found_inf set changes nothing (params, state, step count)."""
from __future__ import annotations

import numpy as np
import pytest

import neurarust as nr
from neurarust.errors import ArgumentError
from neurarust.tensor import Tensor

RNG = np.random.default_rng(3)
INIT = [RNG.standard_normal(s).astype(np.float32) for s in ((4, 3), (3,), ())]
GRADS = [[RNG.standard_normal(a.shape).astype(np.float32) for a in INIT] for _ in range(12)]

CASES = [
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]


def _run(name, kwargs, steps, capturable, backend="reference", found_at=()):
    params = [nr.tensor(a.copy(), requires_grad=True) for a in INIT]
    opt = getattr(nr.optim, name)(params, capturable=capturable, **kwargs)
    with nr.backends.using(backend):
        for i in range(steps):
            for p, g in zip(params, GRADS[i]):
                p.grad = nr.tensor(g)
            opt.found_inf = nr.tensor(1.0 if i in found_at else 0.0)
            opt.step()
    return params, opt


def _assert_same(a, b, rtol=2e-5, atol=1e-6):
    for x, y in zip(a, b):
        np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_capturable_trajectory_equals_the_ordinary_one(name, kwargs):
    ordinary, _ = _run(name, kwargs, 12, capturable=False)
    captured, opt = _run(name, kwargs, 12, capturable=True)
    _assert_same(captured, ordinary)
    step = opt.state[captured[0]]["step"]
    assert isinstance(step, Tensor) and step.dtype is nr.float32 and step.ndim == 0 and step.item() == 12.0


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_capturable_kernel_equals_the_ordinary_reference(name, kwargs):
    ordinary, _ = _run(name, kwargs, 3, capturable=False)
    before = nr.backends.launch_counts["optim"]
    captured, _ = _run(name, kwargs, 3, capturable=True, backend="triton")
    assert nr.backends.launch_counts["optim"] - before == 3   # one update launch per step
    _assert_same(captured, ordinary, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("name,kwargs", [CASES[0], CASES[6], CASES[8]], ids=["Adam", "NAdam", "RAdam"])
def test_a_found_inf_step_changes_nothing(name, kwargs, backend):
    skipped, opt = _run(name, kwargs, 4, capturable=True, backend=backend, found_at=(1, 2))
    # the same as running the two clean steps' gradients (0 and 3) only
    params = [nr.tensor(a.copy(), requires_grad=True) for a in INIT]
    ref = getattr(nr.optim, name)(params, **kwargs)
    for i in (0, 3):
        for p, g in zip(params, GRADS[i]):
            p.grad = nr.tensor(g)
        ref.step()
    _assert_same(skipped, params, rtol=1e-4, atol=1e-5)
    assert opt.state[skipped[0]]["step"].item() == 2.0
    for key in ("exp_avg", "exp_avg_sq"):
        _assert_same([opt.state[p][key] for p in skipped], [ref.state[p][key] for p in params], rtol=1e-4, atol=1e-6)


def test_capturable_step_never_reads_the_device(monkeypatch):
    params = [nr.tensor(a.copy(), requires_grad=True) for a in INIT]
    opt = nr.optim.Adam(params, lr=nr.tensor(0.01), capturable=True)
    for p, g in zip(params, GRADS[0]):
        p.grad = nr.tensor(g)

    def sync(*args, **kwargs):
        raise AssertionError("a host sync inside a capturable step")

    for name in ("item", "tolist", "__float__", "__bool__", "__int__", "numpy"):
        monkeypatch.setattr(Tensor, name, sync)
    with nr.backends.using("triton"):
        opt.found_inf = nr.zeros(())
        opt.step()
        opt.found_inf = nr.ones(())
        opt.step()
    monkeypatch.undo()
    assert opt.state[params[0]]["step"].item() == 1.0


def test_tensor_lr_follows_a_scheduler_change():
    params = [nr.tensor(a.copy(), requires_grad=True) for a in INIT]
    lr = nr.tensor(0.01)
    opt = nr.optim.Adam(params, lr=lr, capturable=True)
    other = [nr.tensor(a.copy(), requires_grad=True) for a in INIT]
    ref = nr.optim.Adam(other, lr=0.01)
    for i in range(3):
        for p, q, g in zip(params, other, GRADS[i]):
            p.grad, q.grad = nr.tensor(g), nr.tensor(g)
        opt.step(), ref.step()
        lr.fill_(0.005)
        ref.param_groups[0]["lr"] = 0.005
    _assert_same(params, other)


def test_capturable_state_dict_keeps_device_counters(tmp_path):
    params, opt = _run("NAdam", {"lr": 0.01}, 3, capturable=True)
    path = tmp_path / "opt.safetensors"
    nr.save(opt.state_dict(), str(path))
    opt2 = nr.optim.NAdam(params, lr=0.01, capturable=True)
    opt2.load_state_dict(nr.load(str(path)))
    state = opt2.state[params[0]]
    assert isinstance(state["step"], Tensor) and state["step"].item() == 3.0
    assert isinstance(state["mu_product"], Tensor) and state["mu_product"].dtype is nr.float32
    plain = nr.optim.NAdam(params, lr=0.01)
    plain.load_state_dict(opt.state_dict())
    assert plain.state[params[0]]["step"] == 3.0


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Lion"])
def test_optimizers_without_a_capturable_mode_reject_it(name):
    with pytest.raises(TypeError):
        getattr(nr.optim, name)([nr.zeros(1, requires_grad=True)], capturable=True)


def test_unsupported_torch_options_raise():
    w = nr.zeros(1, requires_grad=True)
    with pytest.raises(ArgumentError, match="differentiable"):
        nr.optim.Adam([w], differentiable=True)
    with pytest.raises(ArgumentError, match="lr as a Tensor"):
        nr.optim.Adam([w], lr=nr.tensor(0.1), foreach=True)
