"""Regression tests from a differential review of indexing, sorting and reductions against PyTorch.

Each test pins one behaviour where NeuraRust used to differ from torch (values, gradients, dtypes or
errors); the reference backend runs them, one tiny case also runs on the Triton interpreter.
"""
import math

import numpy as np
import pytest

import neurarust as nr
from neurarust.errors import DTypeError

torch = pytest.importorskip("torch")

NAN = float("nan")
TOL = dict(rtol=1e-5, atol=1e-6, equal_nan=True)


def _pair(values, dtype=torch.float32):
    """The same leaf (requiring grad) in torch and in NeuraRust."""
    t = torch.tensor(values, dtype=dtype, requires_grad=True)
    return t, nr.tensor(t.detach().numpy().copy(), requires_grad=True)


def _grads_match(t, n):
    np.testing.assert_allclose(n.grad.numpy(), t.grad.numpy(), **TOL)


def test_mode_of_a_row_holding_nan_returns_an_element_of_the_row():
    x = nr.tensor([[NAN, 1.0, -math.inf, NAN, math.inf, 0.0], [1.0, 2.0, 2.0, 1.0, 1.0, 0.0]])
    values, indices = nr.mode(x, 1)
    picked = x.numpy()[np.arange(2), indices.numpy()]
    np.testing.assert_array_equal(values.numpy(), picked)  # NaN where it picked a NaN
    assert values[1].item() == 1.0 and indices[1].item() == 4


def test_max_of_all_elements_shares_the_gradient_among_the_nans():
    for name in ("max", "min"):
        t, n = _pair([[1.0, NAN, 3.0], [NAN, 2.0, 2.0]])
        getattr(torch, name)(t).backward()
        getattr(nr, name)(n).backward()
        _grads_match(t, n)


@pytest.mark.parametrize("name", ["maximum", "minimum", "max", "min"])
def test_elementwise_max_min_send_the_gradient_to_both_sides_of_a_nan(name):
    (ta, na), (tb, nb) = _pair([1.0, NAN, 3.0, NAN, 2.0]), _pair([NAN, 3.0, 3.0, NAN, 1.0])
    g = [0.5, 1.5, 2.0, -1.0, 3.0]
    getattr(torch, name)(ta, tb).backward(torch.tensor(g))
    getattr(nr, name)(na, nb).backward(nr.tensor(g))
    _grads_match(ta, na)
    _grads_match(tb, nb)


def test_std_of_a_constant_slice_passes_a_zero_gradient():
    t, n = _pair([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    torch.std(t, 1).sum().backward()
    nr.std(n, 1).sum().backward()
    _grads_match(t, n)
    t, n = _pair([3.0])
    torch.std_mean(t, correction=0)[0].backward()
    nr.std_mean(n, correction=0)[0].backward()
    _grads_match(t, n)


def test_var_gradient_when_correction_exceeds_the_count_is_torchs():
    t, n = _pair([2.5, 1.0])
    torch.var(t, 0, correction=3).backward()
    nr.var(n, 0, correction=3).backward()
    _grads_match(t, n)  # 2 / (N - correction): finite and negative, not inf


def test_cumprod_backward_of_an_empty_tensor_is_empty():
    n = nr.zeros(0, 3, requires_grad=True)
    nr.cumprod(n, 0).sum().backward()
    assert n.grad.shape == (0, 3)


def test_nansum_keeps_integer_results_and_takes_dtype():
    x = torch.tensor([[1, 2], [3, 4]])
    assert nr.nansum(nr.tensor(x.numpy()), 1).dtype == nr.int64
    assert nr.nansum(nr.tensor(x.numpy()), 1).tolist() == torch.nansum(x, 1).tolist()
    f = nr.tensor([1.0, NAN, 2.0])
    r = nr.nansum(f, dtype=nr.float64)
    assert r.dtype == nr.float64 and r.item() == torch.nansum(torch.tensor([1.0, NAN, 2.0]), dtype=torch.float64).item()


def test_nanmean_rejects_integer_input_as_torch_does():
    with pytest.raises(RuntimeError):
        torch.nanmean(torch.tensor([1, 2]))
    with pytest.raises(DTypeError, match="int64"):
        nr.nanmean(nr.tensor([1, 2]))


def _inplace_after_index(x, index):
    y = x * 1.0
    y[index] += 1.0                  # reads y[index], then writes into y: the read's graph must survive
    y[y > 2] = y[y > 2] * 2
    return y


def test_indexing_gradient_survives_an_inplace_write_to_the_indexed_tensor():
    t, n = _pair([[1.0, 2.0, 3.0], [0.5, 1.5, 2.5]])
    _inplace_after_index(t, torch.tensor([0, 0, 1])).sum().backward()
    _inplace_after_index(n, nr.tensor([0, 0, 1])).sum().backward()
    _grads_match(t, n)


def test_index_select_gradient_survives_an_inplace_write_to_its_input():
    t, n = _pair([[1.0, 2.0], [3.0, 4.0]])
    outs = []
    for x, lib in ((t, torch), (n, nr)):
        y = x * 2.0
        picked = y.index_select(0, lib.tensor([1, 1]))
        y.add_(1.0)
        outs.append((picked * 3.0).sum())
    outs[0].backward()
    outs[1].backward()
    _grads_match(t, n)


def test_nan_and_inplace_gradients_on_triton_kernels():
    t, n = _pair([[1.0, NAN], [2.0, 2.0]])
    with nr.backends.using("triton"):
        (nr.maximum(n, n.flip(1)).sum() + nr.std(n[1:], 1).sum()
         + _inplace_after_index(n, nr.tensor([0])).sum()).backward()
    (torch.maximum(t, t.flip(1)).sum() + torch.std(t[1:], 1).sum()
     + _inplace_after_index(t, torch.tensor([0])).sum()).backward()
    _grads_match(t, n)
