"""neurarust.amp.GradScaler against torch.amp.GradScaler("cpu"): the same model, data and injected
inf/NaN gradients give the same scale sequence, the same skipped steps and the same parameters; the
per-optimizer state machine, state dicts, the fp16 guard, capturable optimizers (no host sync), and a
small fp16 training run through the Triton interpreter."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust.amp import GradScaler
from neurarust.errors import GradScalerError
from neurarust.tensor import Tensor

RNG = np.random.default_rng(1)
X = RNG.standard_normal((8, 4)).astype(np.float32)
Y = RNG.standard_normal((8, 2)).astype(np.float32)
INIT = [RNG.standard_normal(s).astype(np.float32) * 0.5 for s in ((3, 4), (3,), (2, 3))]
BAD = {2: np.inf, 7: np.nan, 8: -np.inf, 15: np.inf, 22: np.nan}   # step -> value put into one gradient
STEPS = 30


def _loss(lib, w1, b1, w2, x, y):
    return ((lib.tanh(x @ w1.T + b1) @ w2.T - y) ** 2).mean()


def _train(lib, opt_name, opt_kwargs, scaler_kwargs, steps=STEPS, capturable=None, backend="reference"):
    """Params after each step, scales after each update, and the steps whose update was skipped."""
    if lib is torch:
        params = [torch.tensor(a.copy(), requires_grad=True) for a in INIT]
        opt = getattr(torch.optim, opt_name)(params, **opt_kwargs)
        scaler = torch.amp.GradScaler("cpu", **scaler_kwargs)
        x, y = torch.tensor(X), torch.tensor(Y)
    else:
        params = [nr.tensor(a.copy(), requires_grad=True) for a in INIT]
        extra = {} if capturable is None else {"capturable": capturable}
        opt = getattr(nr.optim, opt_name)(params, **opt_kwargs, **extra)
        scaler = GradScaler("cpu", **scaler_kwargs)
        x, y = nr.tensor(X), nr.tensor(Y)
    scales, skipped = [], []
    with nr.backends.using(backend):
        for step in range(steps):
            opt.zero_grad()
            scaler.scale(_loss(lib, *params, x, y)).backward()
            if step in BAD:
                with (torch.no_grad() if lib is torch else nr.no_grad()):
                    params[step % 3].grad.view(-1)[0] = float(BAD[step])
            before = [p.detach().numpy().copy() for p in params]
            scaler.step(opt)
            scaler.update()
            scales.append(scaler.get_scale())
            if all(np.array_equal(b, p.detach().numpy()) for b, p in zip(before, params)):
                skipped.append(step)
    return [p.detach().numpy() for p in params], scales, skipped, scaler


@pytest.mark.parametrize("opt_name,opt_kwargs", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.01))])
def test_scale_sequence_skips_and_params_match_torch(opt_name, opt_kwargs):
    settings = dict(init_scale=2.0 ** 10, growth_interval=3)
    ours = _train(nr, opt_name, opt_kwargs, settings)
    theirs = _train(torch, opt_name, opt_kwargs, settings)
    assert ours[1] == theirs[1]
    assert ours[2] == theirs[2] == sorted(BAD)
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert ours[3].state_dict() == theirs[3].state_dict()


def test_scale_grows_only_while_it_stays_finite():
    scaler = GradScaler("cpu", init_scale=3e38, growth_interval=1)
    w = nr.ones(2, requires_grad=True)
    opt = nr.optim.SGD([w], lr=0.0)
    scaler.scale(w.sum() * 0).backward()
    scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == pytest.approx(3e38, rel=1e-6) and scaler._get_growth_tracker() == 0


def test_update_with_new_scale():
    scaler = GradScaler("cpu")
    w = nr.ones(1, requires_grad=True)
    scaler.scale(w.sum()).backward()
    scaler.update(128.0)
    assert scaler.get_scale() == 128.0
    scaler.update(nr.tensor([4.0]))
    assert scaler.get_scale() == 4.0
    with pytest.raises(GradScalerError, match="new_scale should be a float"):
        scaler.update(nr.tensor([1.0, 2.0]))


def _scaled_backward(scaler):
    w = nr.ones(2, requires_grad=True)
    opt = nr.optim.SGD([w], lr=0.1)
    scaler.scale((w * w).sum()).backward()
    return w, opt


def test_unscale_twice_raises():
    scaler = GradScaler("cpu")
    _, opt = _scaled_backward(scaler)
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match=r"unscale_\(\) has already been called on this optimizer since the last "
                                           r"update\(\)\.") as info:
        scaler.unscale_(opt)
    assert isinstance(info.value, nr.NeuraRustError)


def test_unscale_after_step_raises():
    scaler = GradScaler("cpu")
    _, opt = _scaled_backward(scaler)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match=r"unscale_\(\) is being called after step\(\)\."):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match=r"step\(\) has already been called since the last update\(\)\."):
        scaler.step(opt)
    scaler.update()
    scaler.unscale_(opt)   # a new iteration starts fresh


def test_unscale_then_step_unscales_once():
    scaler = GradScaler("cpu", init_scale=8.0)
    w, opt = _scaled_backward(scaler)
    scaler.unscale_(opt)
    assert w.grad.tolist() == [2.0, 2.0]
    scaler.step(opt)
    assert [round(v, 6) for v in w.tolist()] == [0.8, 0.8]


def test_calls_out_of_order_raise():
    scaler = GradScaler("cpu")
    opt = nr.optim.SGD([nr.ones(1, requires_grad=True)])
    with pytest.raises(RuntimeError, match="_scale is None"):
        scaler.step(opt)
    scaler.scale(nr.ones(1))
    with pytest.raises(RuntimeError, match="No inf checks were recorded prior to update"):
        scaler.update()
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: 0.0)


def test_unscaling_fp16_gradients_raises():
    w = nr.ones(2, dtype=nr.float16, requires_grad=True)
    opt = nr.optim.SGD([w])
    scaler = GradScaler("cpu")
    scaler.scale(w.sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients."):
        scaler.unscale_(opt)


def test_scale_keeps_nested_structure_and_rejects_others():
    scaler = GradScaler("cpu", init_scale=2.0)
    out = scaler.scale([nr.tensor(1.0), (nr.tensor(2.0), [nr.tensor(3.0)])])
    assert isinstance(out, list) and isinstance(out[1], tuple) and isinstance(out[1][1], list)
    assert [out[0].item(), out[1][0].item(), out[1][1][0].item()] == [2.0, 4.0, 6.0]
    assert scaler.scale(nr.ones(2, dtype=nr.float16)).dtype is nr.float16
    with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable of Tensors"):
        scaler.scale([1.0])


def test_state_dict_has_torchs_keys_and_round_trips():
    ours = _train(nr, "SGD", dict(lr=0.05), dict(init_scale=2.0 ** 10, growth_interval=3), steps=5)[3]
    theirs = torch.amp.GradScaler("cpu")
    assert set(ours.state_dict()) == set(theirs.state_dict())
    fresh = GradScaler("cpu")
    fresh.load_state_dict(ours.state_dict())
    assert fresh.state_dict() == ours.state_dict()
    assert pickle.loads(pickle.dumps(ours)).state_dict() == ours.state_dict()
    with pytest.raises(RuntimeError, match="The source state dict is empty"):
        fresh.load_state_dict({})


def test_disabled_scaler_passes_through():
    scaler = GradScaler("cpu", enabled=False)
    w, opt = _scaled_backward(scaler)
    assert w.grad.tolist() == [2.0, 2.0]
    scaler.step(opt)
    scaler.update()
    assert not scaler.is_enabled() and scaler.get_scale() == 1.0 and scaler.state_dict() == {}


def test_cuda_scaler_without_cuda_disables_itself():
    if nr.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        scaler = GradScaler()
    assert not scaler.is_enabled()


def test_capturable_optimizer_follows_the_same_trajectory():
    settings = dict(init_scale=2.0 ** 10, growth_interval=3)
    plain = _train(nr, "Adam", dict(lr=0.01), settings, steps=12)
    captured = _train(nr, "Adam", dict(lr=0.01), settings, steps=12, capturable=True)
    assert captured[1] == plain[1] and captured[2] == plain[2] == [2, 7, 8]
    for a, b in zip(captured[0], plain[0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_capturable_step_skips_on_the_device_without_a_host_read(monkeypatch):
    w = nr.tensor(INIT[0].copy(), requires_grad=True)
    opt = nr.optim.Adam([w], lr=0.01, capturable=True)
    scaler = GradScaler("cpu", init_scale=16.0)
    x = nr.tensor(X[:, :4])

    def sync(*args, **kwargs):
        raise AssertionError("a host read inside GradScaler.step/update with a capturable optimizer")

    with nr.backends.using("triton"):
        for step in range(3):
            opt.zero_grad()
            scaler.scale((x @ w.T).sum()).backward()
            if step == 1:
                with nr.no_grad():
                    w.grad.view(-1)[0] = float("inf")
            before = w.detach().numpy().copy()
            with monkeypatch.context() as m:
                for name in ("item", "tolist", "__float__", "__bool__", "numpy"):
                    m.setattr(Tensor, name, sync)
                scaler.step(opt)
                scaler.update()
            assert np.array_equal(before, w.detach().numpy()) == (step == 1)
    assert opt.state[w]["step"].item() == 2.0
    assert scaler.get_scale() == 8.0


def test_fp16_training_through_the_interpreter_converges():
    """fp32 master weights, fp16 activations (the master-weight pattern), loss in fp32."""
    rng = np.random.default_rng(0)
    x = nr.tensor(rng.standard_normal((16, 4)).astype(np.float32))
    y = nr.tensor(rng.standard_normal((16, 1)).astype(np.float32) * 0.5)
    w1 = nr.tensor(rng.standard_normal((8, 4)).astype(np.float32) * 0.5, requires_grad=True)
    w2 = nr.tensor(rng.standard_normal((1, 8)).astype(np.float32) * 0.5, requires_grad=True)
    opt = nr.optim.Adam([w1, w2], lr=0.1)
    scaler = GradScaler("cpu", growth_interval=5)
    losses = []
    with nr.backends.using("triton"):
        for _ in range(12):
            opt.zero_grad()
            h = nr.tanh(x.half() @ w1.half().T)
            loss = ((h @ w2.half().T).float() - y).pow(2).mean()
            scaler.scale(loss).backward()
            assert w1.grad.dtype is nr.float32
            scaler.step(opt)
            scaler.update()
            losses.append(loss.item())
    assert all(np.isfinite(losses)) and np.isfinite(w1.detach().numpy()).all()
    assert losses[-1] < 0.6 * losses[0]
