"""The activations a ported model reaches for (Hardswish ... Softmax2d): modules and ``nn.functional``
forms against torch's values, gradients (kinks included), second derivatives, signatures, reprs and
errors. The registry entries behind the elementwise ones are also covered by tests/test_ops.py."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

import neurarust as nr
import neurarust.nn as nn
import neurarust.nn.functional as F

# Each kink of every activation below (-3/3, 0, +-0.5 = the default lambd, 1 = the threshold used) and values
# around them; no NaN/inf, whose gradients PyTorch's own kernels do not agree on.
POINTS = [-4.0, -3.0, -2.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 3.5, 25.0, -25.0]

# (name, NeuraRust module, torch module)
MODULES = [
    ("hardswish", lambda: nn.Hardswish(), lambda: torch.nn.Hardswish()),
    ("hardsigmoid", lambda: nn.Hardsigmoid(), lambda: torch.nn.Hardsigmoid()),
    ("selu", lambda: nn.SELU(), lambda: torch.nn.SELU()),
    ("celu", lambda: nn.CELU(), lambda: torch.nn.CELU()),
    ("celu_alpha", lambda: nn.CELU(0.5), lambda: torch.nn.CELU(0.5)),
    ("logsigmoid", lambda: nn.LogSigmoid(), lambda: torch.nn.LogSigmoid()),
    ("softsign", lambda: nn.Softsign(), lambda: torch.nn.Softsign()),
    ("hardshrink", lambda: nn.Hardshrink(), lambda: torch.nn.Hardshrink()),
    ("hardshrink_lambd", lambda: nn.Hardshrink(1.0), lambda: torch.nn.Hardshrink(1.0)),
    ("softshrink", lambda: nn.Softshrink(), lambda: torch.nn.Softshrink()),
    ("softshrink_lambd", lambda: nn.Softshrink(1.0), lambda: torch.nn.Softshrink(1.0)),
    ("tanhshrink", lambda: nn.Tanhshrink(), lambda: torch.nn.Tanhshrink()),
    ("threshold", lambda: nn.Threshold(1.0, -2.0), lambda: torch.nn.Threshold(1.0, -2.0)),
    ("glu", lambda: nn.GLU(), lambda: torch.nn.GLU()),
    ("glu_dim0", lambda: nn.GLU(0), lambda: torch.nn.GLU(0)),
    ("softmin", lambda: nn.Softmin(dim=1), lambda: torch.nn.Softmin(dim=1)),
    ("softmax2d", lambda: nn.Softmax2d(), lambda: torch.nn.Softmax2d()),
]
# (NeuraRust function, torch function, extra arguments)
FUNCTIONS = [
    (F.hardswish, torch.nn.functional.hardswish, {}),
    (F.hardsigmoid, torch.nn.functional.hardsigmoid, {}),
    (F.selu, torch.nn.functional.selu, {}),
    (F.celu, torch.nn.functional.celu, {"alpha": 2.0}),
    (F.logsigmoid, torch.nn.functional.logsigmoid, {}),
    (F.softsign, torch.nn.functional.softsign, {}),
    (F.hardshrink, torch.nn.functional.hardshrink, {"lambd": 0.25}),
    (F.softshrink, torch.nn.functional.softshrink, {"lambd": 0.25}),
    (F.tanhshrink, torch.nn.functional.tanhshrink, {}),
    (F.threshold, torch.nn.functional.threshold, {"threshold": -1.0, "value": 5.0}),
    (F.glu, torch.nn.functional.glu, {"dim": 0}),
    (F.softmin, torch.nn.functional.softmin, {"dim": 0}),
]


def _input(name: str, dtype) -> np.ndarray:
    """The kink points, shaped as each activation wants them (dims of even size for GLU, 4-D for Softmax2d)."""
    values = np.array(POINTS[:12] * 2, dtype=dtype)  # 24 values
    if name == "softmax2d":
        return values.reshape(2, 3, 2, 2)
    return values.reshape(4, 6)


def _values_and_grads(nr_fn, torch_fn, x: np.ndarray):
    w = np.random.default_rng(0)
    a = nr.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    got, want = nr_fn(a), torch_fn(t)
    weight = w.uniform(-1, 1, tuple(want.shape)).astype(x.dtype)
    (g,) = nr.autograd.grad(got, [a], nr.tensor(weight))
    (tg,) = torch.autograd.grad(want, [t], torch.tensor(weight))
    return got.detach().numpy(), want.detach().numpy(), g.numpy(), tg.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name,make,make_torch", MODULES, ids=[m[0] for m in MODULES])
def test_module_values_and_gradients_are_torchs(name, make, make_torch, dtype):
    got, want, g, tg = _values_and_grads(make(), make_torch(), _input(name, dtype))
    assert got.dtype == want.dtype
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    np.testing.assert_allclose(got, want, **tol)
    np.testing.assert_allclose(g, tg, **_grad_tolerance(name, tol))


def _grad_tolerance(name: str, tol: dict) -> dict:
    # torch's hardsigmoid backward multiplies by a float32 1/6 in float64 too (3e-8 off); ours is exact
    return {**tol, "rtol": max(tol["rtol"], 1e-7)} if name == "hardsigmoid" else tol


@pytest.mark.parametrize("fn,torch_fn,kwargs", FUNCTIONS, ids=[f[0].__name__ for f in FUNCTIONS])
def test_functional_values_and_gradients_are_torchs(fn, torch_fn, kwargs):
    x = _input(fn.__name__, np.float64)
    got, want, g, tg = _values_and_grads(lambda a: fn(a, **kwargs), lambda t: torch_fn(t, **kwargs), x)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, tg, **_grad_tolerance(fn.__name__, {"rtol": 1e-12, "atol": 1e-12}))


@pytest.mark.parametrize("fn,torch_fn,kwargs", FUNCTIONS[:10], ids=[f[0].__name__ for f in FUNCTIONS[:10]])
def test_second_derivatives_are_torchs(fn, torch_fn, kwargs):
    x = np.array([-2.5, -1.0, -0.3, 0.2, 0.7, 2.0, 3.5], dtype=np.float64)  # off the kinks
    a, t = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (g,) = nr.autograd.grad(fn(a, **kwargs).sum(), [a], create_graph=True)
    (tg,) = torch.autograd.grad(torch_fn(t, **kwargs).sum(), [t], create_graph=True)
    # piecewise-constant first derivatives (the shrinks, threshold, hardsigmoid) do not depend on the input
    gg = nr.autograd.grad(g.sum(), [a], allow_unused=True)[0] if g.requires_grad else None
    # torch has no double backward for hardsigmoid: its second derivative is 0 off the kinks
    twice = tg.requires_grad and fn is not F.hardsigmoid
    tgg = torch.autograd.grad(tg.sum(), [t], allow_unused=True)[0] if twice else None
    want = np.zeros_like(x) if tgg is None else tgg.numpy()
    np.testing.assert_allclose(np.zeros_like(x) if gg is None else gg.numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn,torch_fn,kwargs", FUNCTIONS[:10], ids=[f[0].__name__ for f in FUNCTIONS[:10]])
def test_nan_and_infinities_are_torchs(fn, torch_fn, kwargs):
    x = np.array([np.nan, np.inf, -np.inf, 1.0], dtype=np.float32)
    np.testing.assert_allclose(fn(nr.tensor(x), **kwargs).numpy(), torch_fn(torch.tensor(x), **kwargs).numpy(),
                               rtol=1e-6)  # NaN where torch has NaN, the same infinities


@pytest.mark.parametrize("fn,torch_fn,kwargs", FUNCTIONS, ids=[f[0].__name__ for f in FUNCTIONS])
def test_float16_values_are_torchs(fn, torch_fn, kwargs):
    x = _input(fn.__name__, np.float16)
    got = fn(nr.tensor(x), **kwargs)
    want = torch_fn(torch.tensor(x), **kwargs)
    assert got.dtype == nr.float16
    np.testing.assert_allclose(got.numpy().astype(np.float32), want.numpy().astype(np.float32), rtol=2e-3, atol=2e-3)


def test_softmax2d_takes_3d_input_and_softmin_takes_a_dtype():
    x = np.random.default_rng(1).standard_normal((3, 2, 4))
    np.testing.assert_allclose(nn.Softmax2d()(nr.tensor(x)).numpy(), torch.nn.Softmax2d()(torch.tensor(x)).numpy(),
                               rtol=1e-12)
    got = F.softmin(nr.tensor(x, dtype=nr.float32), dim=-1, dtype=nr.float64)
    assert got.dtype == nr.float64
    np.testing.assert_allclose(got.numpy(), torch.nn.functional.softmin(torch.tensor(x).float(), -1, dtype=torch.float64))


def test_softmin_without_dim_warns_as_torch():
    x = np.arange(6.0).reshape(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        got = F.softmin(nr.tensor(x))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        want = torch.nn.functional.softmin(torch.tensor(x))  # dim 1 for 2-D input
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_reprs_are_torchs():
    pairs = [(nn.Hardswish(True), torch.nn.Hardswish(True)), (nn.Hardsigmoid(True), torch.nn.Hardsigmoid(True)),
             (nn.SELU(), torch.nn.SELU()), (nn.SELU(True), torch.nn.SELU(True)), (nn.CELU(), torch.nn.CELU()),
             (nn.CELU(2.0, True), torch.nn.CELU(2.0, True)), (nn.LogSigmoid(), torch.nn.LogSigmoid()),
             (nn.Softsign(), torch.nn.Softsign()), (nn.Hardshrink(), torch.nn.Hardshrink()),
             (nn.Softshrink(1), torch.nn.Softshrink(1)), (nn.Tanhshrink(), torch.nn.Tanhshrink()),
             (nn.Threshold(0.1, 20), torch.nn.Threshold(0.1, 20)),
             (nn.Threshold(0.1, 2.5, True), torch.nn.Threshold(0.1, 2.5, True)), (nn.GLU(), torch.nn.GLU()),
             (nn.GLU(1), torch.nn.GLU(1)), (nn.Softmin(), torch.nn.Softmin()), (nn.Softmin(1), torch.nn.Softmin(1)),
             (nn.Softmax2d(), torch.nn.Softmax2d())]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def _parameters(fn) -> list:
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values() if p.name != "self"]


def test_signatures_are_torchs():
    for fn, torch_fn, _ in FUNCTIONS:
        try:
            want = _parameters(torch_fn)
        except ValueError:  # a builtin without a signature (logsigmoid, hardshrink, softshrink): its docstring's
            want = {"logsigmoid": [("input", inspect.Parameter.empty)],
                    "hardshrink": [("input", inspect.Parameter.empty), ("lambd", 0.5)],
                    "softshrink": [("input", inspect.Parameter.empty), ("lambd", 0.5)]}[fn.__name__]
        assert _parameters(fn) == want, fn.__name__
    for cls in ("Hardswish", "Hardsigmoid", "SELU", "CELU", "Hardshrink", "Softshrink", "Threshold", "GLU", "Softmin"):
        assert _parameters(getattr(nn, cls).__init__) == _parameters(getattr(torch.nn, cls).__init__), cls


def test_inplace_is_accepted_and_gives_a_new_tensor():
    # as the existing activations: inplace=True is accepted for compatibility, the input is left alone
    x = nr.tensor([-4.0, 0.5, 4.0])
    pairs = [(nn.Hardswish(True), torch.nn.Hardswish()), (nn.Hardsigmoid(True), torch.nn.Hardsigmoid()),
             (nn.SELU(True), torch.nn.SELU()), (nn.CELU(inplace=True), torch.nn.CELU()),
             (nn.Threshold(0.0, 1.0, inplace=True), torch.nn.Threshold(0.0, 1.0)),
             (lambda t: F.threshold(t, 0.0, 1.0, True), lambda t: torch.nn.functional.threshold(t, 0.0, 1.0))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(x).numpy(), theirs(torch.tensor([-4.0, 0.5, 4.0])).numpy(), rtol=1e-6)
    assert x.tolist() == [-4.0, 0.5, 4.0]


def test_errors_are_torchs():
    with pytest.raises(ValueError, match="Halving dimension must be even, but dimension 1 is size 3"):
        F.glu(nr.ones(2, 3))
    with pytest.raises(ValueError, match="does not support scalars"):
        nn.GLU()(nr.tensor(1.0))
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        nn.Softmax2d()(nr.ones(2, 2))
    with pytest.raises(ValueError, match="lambd"):
        F.softshrink(nr.ones(2), -1.0)
    with pytest.raises(ValueError, match="alpha"):
        nn.CELU(0.0)(nr.ones(2))
    with pytest.raises(TypeError):
        F.threshold(nr.ones(2))
    with pytest.raises(TypeError):
        F.hardswish(nr.ones(2, dtype=nr.int64))  # torch: not implemented for 'Long'
    assert F.hardshrink(nr.tensor([-1.0, 2.0]), -1.0).tolist() == [-1.0, 2.0]  # a negative lambd is allowed, as in torch
