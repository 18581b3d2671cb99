"""nn.utils.clip_grad_norm_ / clip_grad_value_ against torch.nn.utils (reference and Triton backends)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neurarust as nr

RNG = np.random.default_rng(1)
GRADS = [RNG.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,), (), (0,))]


def _params(lib, grads):
    out = []
    for g in grads:
        p = (nr.zeros if lib is nr else torch.zeros)(g.shape, requires_grad=True)
        p.grad = nr.tensor(g.copy()) if lib is nr else torch.tensor(g.copy())
        out.append(p)
    return out


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("norm_type,max_norm", [(2.0, 1.0), (math.inf, 0.5), (1.0, 2.0), (3.0, 100.0)])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, backend):
    grads = GRADS if math.isfinite(norm_type) else GRADS[:3]  # torch's inf-norm rejects empty gradients
    ours, theirs = _params(nr, grads), _params(torch, grads)
    with nr.backends.using(backend):
        total = nr.nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type, foreach=True)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total.shape == () and total.dtype is nr.float32
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-5)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_mixed_dtypes_single_tensor_and_no_grads():
    a = nr.zeros(2, requires_grad=True)
    b = nr.zeros(2, dtype=nr.float64, requires_grad=True)
    a.grad, b.grad = nr.tensor([3.0, 0.0]), nr.tensor([0.0, 4.0], dtype=nr.float64)
    assert nr.nn.utils.clip_grad_norm_([a, b], 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad.numpy(), [0.6, 0.0], rtol=1e-5)
    assert b.grad.dtype is nr.float64
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 0.8], rtol=1e-5)
    c = nr.zeros(1, requires_grad=True)
    c.grad = nr.tensor([0.5])
    assert nr.nn.utils.clip_grad_norm_(c, 1.0).item() == 0.5 and c.grad.tolist() == [0.5]
    assert nr.nn.utils.clip_grad_norm_([nr.zeros(1, requires_grad=True)], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    p = nr.zeros(2, requires_grad=True)
    p.grad = nr.tensor([1.0, float("inf")])
    with pytest.raises(RuntimeError, match="non-finite"):
        nr.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isinf(nr.nn.utils.clip_grad_norm_([p], 1.0).item())


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_clip_grad_value_matches_torch(backend):
    ours, theirs = _params(nr, GRADS), _params(torch, GRADS)
    with nr.backends.using(backend):
        nr.nn.utils.clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


@pytest.mark.parametrize("norm_type", [1.0, 2.0, math.inf])
def test_get_total_norm_and_clip_grads_with_norm_match_torch(norm_type):
    rng = np.random.default_rng(7)
    values = [rng.standard_normal(s) for s in ((3, 4), (5,), (2, 2))]
    ours = [nr.tensor(v, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    for o, t, v in zip(ours, theirs, values):
        o.grad, t.grad = nr.tensor(v * 3), torch.tensor(v * 3)
    total = nr.nn.utils.get_total_norm([p.grad for p in ours], norm_type)
    want = torch.nn.utils.get_total_norm([p.grad for p in theirs], norm_type)
    assert total.item() == pytest.approx(want.item(), rel=1e-12)
    nr.nn.utils.clip_grads_with_norm_(ours, 1.5, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 1.5, want)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12)
