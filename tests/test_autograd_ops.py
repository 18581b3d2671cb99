"""Gradients of every registry entry, driven by the entries' own sample inputs.

For each op that declares a derivative: gradcheck (central differences, float64, reference backend),
gradgradcheck (the backward formula differentiated again), and the gradients PyTorch computes for the
same inputs and output weights, on the reference backend and on the Triton kernels (interpreter).
Ops whose results never require grad are checked to say so. A new entry is covered with no new code.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust import dtype as _dt
from neurarust.registry import all_ops, signature_bind
from neurarust.autograd import gradcheck, gradgradcheck

import harness as H

OPS = all_ops()
DIFFERENTIABLE = [op for op in OPS if op.differentiable and any(d.is_floating_point for d in op.dtypes)]
MAX_CHECKED_ELEMENTS = 48  # finite differences cost two forward calls per input element
SAMPLES_PER_OP = 2


def _float64(op) -> _dt.DType:
    return _dt.float64 if _dt.float64 in op.dtypes else next(d for d in op.dtypes if d.is_floating_point)


def _jitter(arr: np.ndarray, seed: int) -> np.ndarray:
    """Move values off kinks and ties (relu at 0, round at .5, max of equal values) by a small random
    amount much larger than gradcheck's step."""
    if arr.dtype.kind != "f":
        return arr
    rng = np.random.default_rng(seed)
    return np.asarray(arr + rng.uniform(1e-3, 1e-2, arr.shape) * rng.choice([-1.0, 1.0], arr.shape))


def _jittered(arg, seed):
    if isinstance(arg, H.TensorSpec):
        return H.TensorSpec(_jitter(np.asarray(arg.values, dtype=np.float64) if arg.values.dtype.kind == "f"
                                    else arg.values, seed), arg.layout)
    if isinstance(arg, np.ndarray):
        return _jitter(arg.astype(np.float64) if arg.dtype.kind == "f" else arg, seed)
    return arg


def _finite(sample) -> bool:
    for a in list(sample.args) + list(sample.kwargs.values()):
        if H.is_tensor_arg(a):
            values = H._spec_parts(a)[0]
            if values.dtype.kind == "f" and not np.isfinite(values).all():
                return False
    return True


def _bound_names(op, args, kwargs) -> dict:
    bind = op.bind or (lambda a, k: signature_bind(op, a, k))
    return bind(tuple(args), dict(kwargs))


def _grad_inputs(op, args, kwargs) -> list:
    """The float tensors of a call that gradients flow to (by the op's ``differentiable`` names)."""
    bound = _bound_names(op, args, kwargs)
    found = []
    for name in op.differentiable[1:] if op.attrs.get("writes_first") else op.differentiable:
        value = bound.get(name)
        for t in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(t, nr.Tensor) and t.dtype.is_floating_point and all(t is not f for f in found):
                found.append(t)
    return found


def _gradcheck_samples(op):
    d = _float64(op)
    picked = []
    for i, sample in enumerate(op.samples(d)):
        if not _finite(sample) or H.sample_numel(sample) == 0:
            continue
        args = [_jittered(a, i) for a in sample.args]
        kwargs = {k: _jittered(v, i + 100) for k, v in sample.kwargs.items()}
        jittered = type(sample)(tuple(args), kwargs, sample.name)
        if H.sample_numel(jittered) > MAX_CHECKED_ELEMENTS:
            continue
        picked.append(jittered)
        if len(picked) == SAMPLES_PER_OP:
            break
    return picked


def _call_maker(op, sample, d):
    """(function of the differentiable tensors, those tensors) for one sample."""
    args = [H._convert(a, d, H.nr_tensor) for a in sample.args]
    kwargs = {k: H._convert(v, d, H.nr_tensor) for k, v in sample.kwargs.items()}
    inputs = _grad_inputs(op, args, kwargs)
    for t in inputs:
        t.requires_grad_()

    def call(*values):
        swap = {id(t): v for t, v in zip(inputs, values)}
        a = [swap.get(id(x), x) if isinstance(x, nr.Tensor) else _swap_list(x, swap) for x in args]
        k = {n: swap.get(id(x), x) if isinstance(x, nr.Tensor) else _swap_list(x, swap) for n, x in kwargs.items()}
        out = op(*a, **k)
        return tuple(o for o in H.flatten_outputs(out) if isinstance(o, nr.Tensor) and o.dtype.is_floating_point)

    return call, inputs


def _swap_list(x, swap):
    if isinstance(x, (list, tuple)) and any(isinstance(v, nr.Tensor) for v in x):
        return type(x)(swap.get(id(v), v) for v in x)
    return x


GRADCHECK_CASES = [pytest.param(op, s, id=f"{op.name}-{s.name}") for op in DIFFERENTIABLE for s in _gradcheck_samples(op)]


def test_every_op_declares_its_derivative():
    missing = [op.name for op in OPS if op.differentiable is None]
    assert not missing, f"ops without a declared derivative (differentiable=None): {missing}"


def _finite_difference_check(op, sample, check, **tolerances):
    call, inputs = _call_maker(op, sample, _float64(op))
    if not inputs:
        pytest.skip("no floating tensor argument to differentiate in this sample")
    with nr.backends.using("reference"):
        if any(o.dtype is not nr.float64 for o in call(*inputs)):
            pytest.skip("a result narrower than float64: finite differences are too coarse (checked vs PyTorch)")
        assert check(call, inputs, **tolerances)


@pytest.mark.parametrize("op,sample", GRADCHECK_CASES)
def test_gradcheck(op, sample):
    _finite_difference_check(op, sample, gradcheck, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("op,sample", GRADCHECK_CASES)
def test_gradgradcheck(op, sample):
    _finite_difference_check(op, sample, gradgradcheck, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("op", DIFFERENTIABLE, ids=lambda op: op.name)
def test_gradients_match_pytorch(op, backend):
    samples = _gradcheck_samples(op)
    if not samples:
        pytest.skip("no finite sample small enough")
    sample = samples[0]
    d = _dt.float32
    if d not in op.dtypes:
        pytest.skip("no float32")
    call, inputs = _call_maker(op, sample, d)
    if not inputs:
        pytest.skip("no floating tensor argument to differentiate in this sample")
    with nr.backends.using(backend):
        outs = call(*inputs)
        weights = [nr.tensor(np.random.default_rng(i).uniform(-1, 1, tuple(o.shape)), dtype=o.dtype) for i, o in enumerate(outs)]
        got = nr.autograd.grad(outs, inputs, weights, allow_unused=True)
    t_args = [H._convert(a, d, H.torch_tensor) for a in sample.args]
    t_kwargs = {k: H._convert(v, d, H.torch_tensor) for k, v in sample.kwargs.items()}
    t_inputs = _torch_counterparts(op, sample, d, t_args, t_kwargs)
    for t in t_inputs:
        t.requires_grad_()
    fn = op.torch_name if callable(op.torch_name) else getattr(torch, op.torch_name)
    t_outs = [o for o in H.flatten_outputs(fn(*t_args, **t_kwargs)) if isinstance(o, torch.Tensor) and o.is_floating_point()]
    t_weights = [torch.from_numpy(w.numpy().copy()) for w in weights]
    want = torch.autograd.grad(t_outs, t_inputs, t_weights, allow_unused=True)
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None:
            assert g is None or not np.any(g.numpy()), f"{op.name}: input {i} has a gradient PyTorch does not"
            continue
        if g is None:  # no gradient flows: PyTorch's must then be all zeros
            assert not np.any(w.numpy()), f"{op.name}: no gradient for input {i}"
            continue
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=2e-4, atol=2e-5, err_msg=f"{op.name} input {i}")


def _torch_counterparts(op, sample, d, t_args, t_kwargs):
    """The torch tensors at the positions of the NeuraRust differentiable inputs."""
    args = [H._convert(a, d, H.nr_tensor) for a in sample.args]
    kwargs = {k: H._convert(v, d, H.nr_tensor) for k, v in sample.kwargs.items()}
    twin = {}
    for nr_x, t_x in list(zip(args, t_args)) + [(kwargs[k], t_kwargs[k]) for k in kwargs]:
        if isinstance(nr_x, nr.Tensor):
            twin[id(nr_x)] = t_x
        elif isinstance(nr_x, (list, tuple)):
            twin.update((id(n), t) for n, t in zip(nr_x, t_x) if isinstance(n, nr.Tensor))
    return [twin[id(t)] for t in _grad_inputs(op, args, kwargs)]


NONDIFF = [op for op in OPS if op.differentiable == () and any(d.is_floating_point for d in op.dtypes)]


@pytest.mark.parametrize("op", NONDIFF, ids=lambda op: op.name)
def test_nondifferentiable_results_do_not_require_grad(op):
    d = _float64(op)
    for sample in list(op.samples(d))[:1]:
        args = [H._convert(a, d, H.nr_tensor) for a in sample.args]
        kwargs = {k: H._convert(v, d, H.nr_tensor) for k, v in sample.kwargs.items()}
        for x in args + list(kwargs.values()):
            if isinstance(x, nr.Tensor) and x.dtype.is_floating_point:
                x.requires_grad_()
        # An input written in place and handed back (GradScaler's found_inf) keeps its own flag.
        given = {id(x) for x in H.flatten_outputs((*args, *kwargs.values()))}
        for out in H.flatten_outputs(op(*args, **kwargs)):
            if id(out) not in given:
                assert not getattr(out, "requires_grad", False), f"{op.name}: a result requires grad"
