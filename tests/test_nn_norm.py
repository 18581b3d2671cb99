"""Normalization layers against torch.nn with copied weights: outputs, input and parameter gradients,
running statistics after a few training steps, eval mode, state_dict keys; NumPy reference backend
and the Triton kernels (interpreter)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr
import neurarust.nn.functional as F

TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float16": dict(rtol=1e-2, atol=1e-2)}


def _pair(nr_cls, torch_cls, *args, dtype="float32", **kwargs):
    t_mod = torch_cls(*args, **kwargs).to(getattr(torch, dtype))
    with torch.no_grad():  # non-trivial affine parameters
        for i, p in enumerate(t_mod.parameters()):
            p.copy_(torch.from_numpy(np.random.default_rng(i).uniform(0.5, 1.5, tuple(p.shape))))
    n_mod = nr_cls(*args, **kwargs, dtype=getattr(nr, dtype))
    n_mod.load_state_dict({k: nr.tensor(v.numpy()) for k, v in t_mod.state_dict().items()})
    return n_mod, t_mod


def _check(a, b, dtype="float32", what=""):
    np.testing.assert_allclose(a.detach().numpy().astype(np.float64),
                               b.detach().double().numpy(), **TOL[dtype], err_msg=what)


def _steps(n_mod, t_mod, shape, backend, steps=2, dtype="float32", eval_step=True):
    """Training steps (forward, backward of a weighted sum) then one eval step, compared each time."""
    names = [n for n, _ in t_mod.named_parameters()]
    for step in range(steps + (1 if eval_step else 0)):
        if step == steps:
            n_mod.eval()
            t_mod.eval()
        rng = np.random.default_rng(step)
        x_np = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
        w_np = rng.uniform(-1, 1, shape).astype(dtype)
        x = nr.tensor(x_np, requires_grad=True)
        tx = torch.from_numpy(x_np).requires_grad_()
        with nr.backends.using(backend):
            out = n_mod(x)
            (out * nr.tensor(w_np)).sum().backward()
        t_out = t_mod(tx)
        (t_out * torch.from_numpy(w_np)).sum().backward()
        _check(out, t_out, dtype, f"output, step {step}")
        _check(x.grad, tx.grad, dtype, f"input grad, step {step}")
        for name in names:
            _check(getattr(n_mod, name).grad, getattr(t_mod, name).grad, dtype, f"{name}.grad, step {step}")
    for key, value in t_mod.state_dict().items():
        if "running" in key or "num_batches" in key:
            got = n_mod.state_dict()[key]
            assert tuple(got.shape) == tuple(value.shape), key
            _check(got.double() if key == "num_batches_tracked" else got, value, dtype, key)
    assert sorted(n_mod.state_dict()) == sorted(t_mod.state_dict())


BACKENDS = ["reference", "triton"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ["affine", "two_dims_no_bias", "no_affine"])
def test_layer_norm(case, backend):
    kwargs = {"affine": ((5,), {}), "two_dims_no_bias": ((4, 5), {"bias": False}),
              "no_affine": ((5,), {"elementwise_affine": False, "eps": 1e-3})}[case]
    n_mod, t_mod = _pair(nr.nn.LayerNorm, torch.nn.LayerNorm, kwargs[0], **kwargs[1])
    _steps(n_mod, t_mod, (3, 4, 5), backend, steps=1, eval_step=False)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("eps", [None, 1e-6])
def test_rms_norm(eps, backend):
    n_mod, t_mod = _pair(nr.nn.RMSNorm, torch.nn.RMSNorm, [6], eps=eps)
    _steps(n_mod, t_mod, (4, 6), backend, steps=1, eval_step=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_group_norm(backend):
    n_mod, t_mod = _pair(nr.nn.GroupNorm, torch.nn.GroupNorm, 2, 4)
    _steps(n_mod, t_mod, (2, 4, 3, 2), backend, steps=1, eval_step=False)


@pytest.mark.parametrize("shape,backend", [((5, 3), "reference"), ((4, 3, 2), "reference"), ((4, 3, 2), "triton")])
def test_batch_norm1d_running_stats(shape, backend):
    n_mod, t_mod = _pair(nr.nn.BatchNorm1d, torch.nn.BatchNorm1d, 3)
    _steps(n_mod, t_mod, shape, backend, steps=3)


@pytest.mark.parametrize("kwargs,backend", [({}, "reference"), ({}, "triton"), ({"momentum": None}, "reference"),
                                            ({"track_running_stats": False}, "reference"),
                                            ({"affine": False}, "reference")],
                         ids=["default", "default-triton", "cumulative", "untracked", "no_affine"])
def test_batch_norm2d(kwargs, backend):
    n_mod, t_mod = _pair(nr.nn.BatchNorm2d, torch.nn.BatchNorm2d, 3, **kwargs)
    _steps(n_mod, t_mod, (2, 3, 2, 2), backend, steps=2)


TRACKED = {"affine": True, "track_running_stats": True}


@pytest.mark.parametrize("kwargs,backend", [({}, "reference"), (TRACKED, "reference"), (TRACKED, "triton")],
                         ids=["default", "tracked", "tracked-triton"])
def test_instance_norm2d(kwargs, backend):
    n_mod, t_mod = _pair(nr.nn.InstanceNorm2d, torch.nn.InstanceNorm2d, 3, **kwargs)
    _steps(n_mod, t_mod, (2, 3, 2, 3), backend, steps=2)


def test_instance_norm2d_unbatched():
    n_mod, t_mod = _pair(nr.nn.InstanceNorm2d, torch.nn.InstanceNorm2d, 2, affine=True)
    _steps(n_mod, t_mod, (2, 3, 3), "reference", steps=1, eval_step=False)


@pytest.mark.parametrize("module", ["layer", "batch"])
def test_float16_on_triton(module):
    if module == "layer":
        n_mod, t_mod = _pair(nr.nn.LayerNorm, torch.nn.LayerNorm, 8, dtype="float16")
        _steps(n_mod, t_mod, (3, 8), "triton", steps=1, dtype="float16", eval_step=False)
    else:
        n_mod, t_mod = _pair(nr.nn.BatchNorm1d, torch.nn.BatchNorm1d, 4, dtype="float16")
        _steps(n_mod, t_mod, (6, 4), "triton", steps=1, dtype="float16")


def test_state_dict_keys_match_pytorch():
    for n_mod, t_mod in (_pair(nr.nn.BatchNorm2d, torch.nn.BatchNorm2d, 2),
                         _pair(nr.nn.InstanceNorm2d, torch.nn.InstanceNorm2d, 2, track_running_stats=True),
                         _pair(nr.nn.LayerNorm, torch.nn.LayerNorm, 3),
                         _pair(nr.nn.GroupNorm, torch.nn.GroupNorm, 1, 2),
                         _pair(nr.nn.RMSNorm, torch.nn.RMSNorm, 3)):
        assert list(n_mod.state_dict()) == list(t_mod.state_dict())
    bn = nr.nn.BatchNorm1d(2)
    assert bn.num_batches_tracked.dtype is nr.int64 and bn.num_batches_tracked.ndim == 0


def test_functional_forms_match_pytorch():
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((2, 4, 3)).astype(np.float32)
    x, tx = nr.tensor(x_np), torch.from_numpy(x_np)
    _check(F.layer_norm(x, [3]), torch.nn.functional.layer_norm(tx, [3]))
    _check(F.rms_norm(x, [4, 3], eps=1e-5), torch.nn.functional.rms_norm(tx, [4, 3], eps=1e-5))
    _check(F.group_norm(x, 2), torch.nn.functional.group_norm(tx, 2))
    _check(F.instance_norm(x), torch.nn.functional.instance_norm(tx))
    rm, rv, trm, trv = nr.zeros(4), nr.ones(4), torch.zeros(4), torch.ones(4)
    _check(F.batch_norm(x, rm, rv, training=True, momentum=0.3),
           torch.nn.functional.batch_norm(tx, trm, trv, training=True, momentum=0.3))
    _check(rm, trm)
    _check(rv, trv)
    _check(F.batch_norm(x, rm, rv), torch.nn.functional.batch_norm(tx, trm, trv))


def test_errors():
    with pytest.raises(ValueError):
        nr.nn.GroupNorm(3, 4)
    with pytest.raises(ValueError):
        nr.nn.BatchNorm2d(3)(nr.ones(2, 3))
    with pytest.raises(ValueError):  # one value per channel in training
        nr.nn.BatchNorm1d(3)(nr.ones(1, 3))
    with pytest.raises(ValueError):
        F.layer_norm(nr.ones(2, 3), [4])


@pytest.mark.parametrize("module", ["layer", "rms", "group", "batch"])
def test_small_blocks_loop_rows_and_share_partials(module, monkeypatch):
    """Blocks shrunk so rows and sets loop over several chunks and each backward program owns several
    row blocks (the paths long rows take on a GPU)."""
    from neurarust.kernels import norm_triton

    monkeypatch.setattr(norm_triton, "MAX_BLOCK", 4)
    monkeypatch.setattr(norm_triton, "TILE", 8)
    make = {"layer": lambda: _pair(nr.nn.LayerNorm, torch.nn.LayerNorm, 10),
            "rms": lambda: _pair(nr.nn.RMSNorm, torch.nn.RMSNorm, 10, eps=1e-5),
            "group": lambda: _pair(nr.nn.GroupNorm, torch.nn.GroupNorm, 2, 6),
            "batch": lambda: _pair(nr.nn.BatchNorm1d, torch.nn.BatchNorm1d, 6)}[module]
    shape = (12, 10) if module in ("layer", "rms") else (5, 6, 5)
    n_mod, t_mod = make()
    _steps(n_mod, t_mod, shape, "triton", steps=1, eval_step=False)


@pytest.mark.parametrize("make", [
    lambda nn: nn.LayerNorm(4), lambda nn: nn.LayerNorm(4, bias=False), lambda nn: nn.GroupNorm(2, 4),
    lambda nn: nn.BatchNorm2d(3), lambda nn: nn.InstanceNorm2d(3), lambda nn: nn.RMSNorm(4),
], ids=["layer", "layer_nobias", "group", "batch2d", "instance2d", "rms"])
def test_repr_matches_pytorch(make):
    import torch

    assert repr(make(nr.nn)) == repr(make(torch.nn))
