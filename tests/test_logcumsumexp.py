"""logcumsumexp against PyTorch, for what the registry harness cannot express: infinities beside
each other (-inf with -inf stays -inf, +inf with -inf is +inf), magnitudes whose exp() over- or
underflows, chunk crossings of the scan, gradients (first and second order, in float64) through
-inf, +inf and large values, the Tensor method, and errors as NeuraRustError subclasses."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr

BACKENDS = ["reference", "triton"]
INF, NAN = float("inf"), float("nan")
# Rows where exp() overflows or underflows in every dtype, and rows of infinities.
SPECIAL_ROWS = [
    [-INF, -INF, 1.0, -INF, 2.0, -INF],
    [-INF, -INF, -INF, -INF, -INF, -INF],
    [1.0, INF, 2.0, -INF, INF, 0.0],
    [-100.0, 100.0, -INF, 100.0, -100.0, 0.0],
    [-1000.0, -1000.0, -999.0, -2000.0, 500.0, 500.0],
    [NAN, 1.0, -INF, INF, 0.0, 1.0],
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [88.0, 89.0, 90.0, 700.0, 710.0, 711.0],
]
TOLERANCES = {nr.float64: (1e-12, 1e-12), nr.float32: (2e-6, 2e-5), nr.float16: (2e-3, 2e-3),
              nr.bfloat16: (1.6e-2, 1.6e-2)}


def _nr(values: np.ndarray, dtype) -> nr.Tensor:
    return nr.from_numpy(np.asarray(values, np.float64)).to(dtype)


def _np(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().double().numpy()
    return t.to(nr.float64).detach().numpy()


def _close(got, want, dtype) -> None:
    rtol, atol = TOLERANCES[dtype]
    g, w = _np(got), _np(want)
    assert g.shape == w.shape
    np.testing.assert_array_equal(np.isnan(g), np.isnan(w))
    np.testing.assert_array_equal(np.isposinf(g), np.isposinf(w))
    np.testing.assert_array_equal(np.isneginf(g), np.isneginf(w))
    finite = np.isfinite(w)
    np.testing.assert_allclose(g[finite], w[finite], rtol=rtol, atol=atol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [nr.float64, nr.float32, nr.float16, nr.bfloat16], ids=lambda d: d.name)
def test_values_match_pytorch_with_infinities_and_large_magnitudes(backend, dtype):
    rows = np.array(SPECIAL_ROWS)
    if dtype in (nr.float16, nr.bfloat16):
        rows = np.clip(rows, -60000.0, 60000.0)  # float16's range; the infinities stay
    x = _nr(rows, dtype)
    tx = torch.from_numpy(rows).to(dtype.to_torch())
    with nr.backends.using(backend):
        got = nr.logcumsumexp(x, 1)
        got_t = x.t().logcumsumexp(0)  # along a strided dim
    assert got.dtype is dtype and got_t.dtype is dtype
    want = torch.logcumsumexp(tx, 1)
    _close(got, want, dtype)
    _close(got_t, want.t(), dtype)


@pytest.mark.parametrize("backend", BACKENDS)
def test_infinities_follow_pytorch_exactly(backend):
    rows = [[-INF, -INF], [-INF, INF], [INF, -INF], [INF, INF], [NAN, -INF], [-INF, NAN], [INF, NAN], [2.0, -INF]]
    with nr.backends.using(backend):
        got = nr.logcumsumexp(nr.tensor(rows), 1)
    want = torch.logcumsumexp(torch.tensor(rows), 1)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1), ((2, 3, 4), -3),
                                       ((2, 3, 4), 2), ((1, 1, 7), 2)])
def test_dims_and_shapes(backend, shape, dim):
    a = np.random.default_rng(len(shape) * 10 + dim).uniform(-30, 30, shape)
    with nr.backends.using(backend):
        got = nr.from_numpy(a).logcumsumexp(dim)
    _close(got, torch.logcumsumexp(torch.from_numpy(a), dim), nr.float64)


@pytest.mark.parametrize("backend", BACKENDS)
def test_0d_and_empty_inputs_follow_pytorch(backend):
    with nr.backends.using(backend):
        for dim in (0, -1):
            got = nr.logcumsumexp(nr.tensor(2.5), dim)
            assert got.shape == () and got.item() == 2.5
        for shape, dim in (((0, 4), 1), ((3, 0), 1), ((0,), 0), ((2, 0, 3), 0)):
            got = nr.logcumsumexp(nr.zeros(*shape), dim)
            want = torch.logcumsumexp(torch.zeros(*shape), dim)
            assert tuple(got.shape) == tuple(want.shape) and got.dtype is nr.float32


def test_kernel_carries_across_chunks():
    from neurarust.kernels import scan_triton as ST

    a = np.random.default_rng(3).uniform(-50, 50, (3, 70))
    a[0, :20] = -np.inf        # -inf through a whole chunk, then finite values
    a[1, 33] = np.inf          # +inf in the middle of a chunk
    a[2, 10:40] = -np.inf
    want = torch.logcumsumexp(torch.from_numpy(a), 1).numpy()
    out = nr.empty(3, 70, dtype=nr.float64)
    ST.launch(out, nr.from_numpy(a), 1, "logcumsumexp", max_block_n=16)  # 5 chunks per row
    _close(out, torch.from_numpy(want), nr.float64)
    out_t = nr.empty(70, 3, dtype=nr.float64)
    ST.launch(out_t, nr.from_numpy(np.ascontiguousarray(a)).T, 0, "logcumsumexp", max_block_n=8)
    _close(out_t, torch.from_numpy(want.T.copy()), nr.float64)


def test_long_rows_in_half_precision_accumulate_in_float32():
    a = np.zeros((1, 3000))  # log(k): a float16 running sum of exp() would stall long before 3000
    with nr.backends.using("triton"):
        got = nr.from_numpy(a).to(nr.float16).logcumsumexp(1)
    np.testing.assert_allclose(got.to(nr.float32).numpy()[0], np.log(np.arange(1, 3001)), rtol=1e-3)


# -- gradients ------------------------------------------------------------------------------------

GRAD_ROWS = [
    [0.3, -1.2, 2.5, 0.7, -0.4],
    [-100.0, 100.0, 99.5, -100.0, 101.0],          # exp(-r) alone over- or underflows
    [-1000.0, -999.0, -1001.0, 800.0, 790.0],
    [-INF, -INF, 1.0, -INF, 3.0],                  # -inf at the front: NaN where the result is -inf
    [1.0, -INF, 2.0, -INF, -INF],                  # -inf after finite values: zero gradient
    [1.0, INF, 2.0, 0.5, -INF],                    # +inf: NaN at it, zeros elsewhere (PyTorch's)
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_pytorch_float64(backend):
    data = np.array(GRAD_ROWS)
    weights = np.random.default_rng(0).uniform(-2, 2, data.shape)
    weights[0, 1] = 0.0  # a zero output weight: the log-space sums skip it
    for dim, (d, w) in ((1, (data, weights)), (0, (data.T.copy(), weights.T.copy()))):
        with nr.backends.using(backend):
            x = nr.from_numpy(d).requires_grad_()
            (g,) = nr.autograd.grad(nr.logcumsumexp(x, dim), x, nr.from_numpy(w))
        tx = torch.from_numpy(d).requires_grad_()
        (tg,) = torch.autograd.grad(torch.logcumsumexp(tx, dim), tx, torch.from_numpy(w))
        np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-10, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_second_derivatives_match_pytorch_float64(backend):
    data = np.array(GRAD_ROWS[:3])
    weights = np.random.default_rng(1).uniform(-2, 2, data.shape)
    with nr.backends.using(backend):
        x = nr.from_numpy(data).requires_grad_()
        y = nr.logcumsumexp(x, 1)
        (g,) = nr.autograd.grad((y * nr.from_numpy(weights)).sum(), x, create_graph=True)
        (gg,) = nr.autograd.grad((g * g).sum(), x)
    tx = torch.from_numpy(data).requires_grad_()
    ty = torch.logcumsumexp(tx, 1)
    (tg,) = torch.autograd.grad((ty * torch.from_numpy(weights)).sum(), tx, create_graph=True)
    (tgg,) = torch.autograd.grad((tg * tg).sum(), tx)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-9, atol=1e-12)


def test_gradcheck_and_gradgradcheck_at_large_magnitudes():
    x = nr.from_numpy(np.array([[-100.0, 100.0, 99.5, -100.0, 101.0], [5.0, -5.0, 4.0, 4.5, -0.5]]))
    x.requires_grad_()
    with nr.backends.using("reference"):
        assert nr.autograd.gradcheck(lambda t: nr.logcumsumexp(t, 1), (x,), atol=1e-6, rtol=1e-4)
        assert nr.autograd.gradgradcheck(lambda t: nr.logcumsumexp(t, 1), (x,), atol=1e-5, rtol=1e-3)


def test_gradient_of_0d_and_float32():
    x = nr.tensor(1.5, requires_grad=True)
    nr.logcumsumexp(x, 0).backward()
    assert x.grad.item() == 1.0
    a = np.random.default_rng(2).uniform(-3, 3, (2, 6)).astype(np.float32)
    x = nr.from_numpy(a).requires_grad_()
    nr.logcumsumexp(x, 1).sum().backward()
    tx = torch.from_numpy(a).requires_grad_()
    torch.logcumsumexp(tx, 1).sum().backward()
    assert x.grad.dtype is nr.float32
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


# -- API and errors --------------------------------------------------------------------------------

def test_function_method_and_keyword():
    x = nr.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert hasattr(nr.Tensor, "logcumsumexp") and not hasattr(nr.Tensor, "logcumsumexp_")
    assert hasattr(torch.Tensor, "logcumsumexp") and not hasattr(torch.Tensor, "logcumsumexp_")
    np.testing.assert_array_equal(nr.logcumsumexp(x, dim=0).numpy(), x.logcumsumexp(dim=0).numpy())
    want = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).logcumsumexp(1)
    np.testing.assert_allclose(x.logcumsumexp(1).numpy(), want.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("call,error,match", [
    (lambda: nr.logcumsumexp(nr.tensor([1, 2, 3]), 0), nr.errors.DTypeError, "int64"),
    (lambda: nr.logcumsumexp(nr.tensor([1, 2], dtype=nr.int8), 0), nr.errors.DTypeError, "int8"),
    (lambda: nr.tensor([True, False]).logcumsumexp(0), nr.errors.DTypeError, "bool"),
    (lambda: nr.logcumsumexp(nr.ones(2, 3), 2), IndexError, "out of range"),
    (lambda: nr.logcumsumexp(nr.ones(2, 3), -3), IndexError, "out of range"),
    (lambda: nr.logcumsumexp(nr.tensor(1.0), 1), IndexError, "out of range"),
    (lambda: nr.logcumsumexp([1.0, 2.0], 0), TypeError, "must be a Tensor"),
])
def test_errors_are_neurarust_errors(backend, call, error, match):
    with nr.backends.using(backend), pytest.raises(error, match=match) as info:
        call()
    assert isinstance(info.value, nr.NeuraRustError)
