"""The fused cross-entropy's launch budget on the Triton backend: the forward reduces inside its row
kernel (one launch) or with one finishing kernel when the rows take several programs (two), the
backward reads a broadcast row gradient through its stride (one launch), and the backward can rebuild
the log-sum-exp itself (what a captured graph uses); the 'mean' backward divides by its denominator
itself, found in the one program or by one kernel before it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import neurarust as nr
from neurarust import backends
from neurarust.kernels import loss_triton
from neurarust.registry import call

WEIGHT = [0.5, 1.0, 2.0, 1.5, 0.8]


def _logits(shape, seed=0):
    return np.random.default_rng(seed).uniform(-3, 3, shape).astype(np.float32)


def _launches(fn):
    backends.launch_counts.clear()
    result = fn()
    return result, dict(backends.launch_counts)


def _forward(x, target, reduction):
    kw = {"weight": WEIGHT, "label_smoothing": 0.1, "reduction": reduction, "ignore_index": 4}
    with backends.using("triton"):
        got, launches = _launches(lambda: call("cross_entropy", nr.from_numpy(x), nr.tensor(target),
                                               **{**kw, "weight": nr.tensor(WEIGHT)}))
    want = F.cross_entropy(torch.from_numpy(x), torch.tensor(target), **{**kw, "weight": torch.tensor(WEIGHT)})
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    return launches


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_forward_in_one_program_is_one_launch(reduction):
    launches = _forward(_logits((3, 5, 2)), [[0, 4], [2, 3], [1, 1]], reduction)
    assert launches == {"cross_entropy": 1}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_forward_over_several_programs_adds_one_finishing_launch_when_reduced(reduction, monkeypatch):
    monkeypatch.setattr(loss_triton, "TILE", 16)  # 2 rows of 8 class lanes per program: 6 programs
    launches = _forward(_logits((3, 5, 4), 1), [[0, 4, 2, 3], [1, 1, 0, 2], [3, 4, 4, 0]], reduction)
    finish = {} if reduction == "none" else {"cross_entropy_finish": 1}
    assert launches == {"cross_entropy": 1, **finish}


def test_backward_reads_a_broadcast_row_gradient_without_a_copy():
    x, t = nr.from_numpy(_logits((2, 5, 3), 2)), nr.tensor([[0, 4, 2], [1, 3, 3]])
    lse = call("logsumexp", x, 1)
    outs = [nr.zeros(2, 5, 3), nr.zeros(2, 5, 3)]
    _, launches = _launches(lambda: loss_triton.launch_cross_entropy_backward(
        outs[0], nr.tensor(0.25).expand(2, 3), x, t, lse, None, -100, 0.1))
    assert launches == {"cross_entropy_backward": 1}
    loss_triton.launch_cross_entropy_backward(outs[1], nr.full((2, 3), 0.25), x, t, lse, None, -100, 0.1)
    np.testing.assert_array_equal(outs[0].numpy(), outs[1].numpy())


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_recomputed_lse_matches_the_saved_lse(backend):
    x, t = nr.from_numpy(_logits((4, 5), 3)), nr.tensor([0, 4, -100, 2])
    g, w = nr.tensor([1.0, -0.5, 2.0, 0.3]), nr.tensor(WEIGHT)
    with backends.using(backend):
        saved = call("cross_entropy_backward", g, x, t, call("logsumexp", x, 1), w, -100, 0.2)
        got, launches = _launches(lambda: call("cross_entropy_backward", g, x, t, None, w, -100, 0.2,
                                               recompute_lse=True))
    np.testing.assert_allclose(got.numpy(), saved.numpy(), rtol=1e-6, atol=1e-7)
    assert launches == ({"cross_entropy_backward": 1} if backend == "triton" else {})


def test_a_captured_backward_rebuilds_the_lse_inside_its_kernel(monkeypatch):
    from neurarust import registry

    monkeypatch.setattr(registry, "capturing", lambda: True)   # the forward then hands no lse over
    xv, target = _logits((3, 5), 4), [0, 4, 2]
    x = nr.from_numpy(xv).requires_grad_()
    with backends.using("triton"):
        loss = call("cross_entropy", x, nr.tensor(target), label_smoothing=0.1)
        _, launches = _launches(loss.backward)
    assert launches["cross_entropy_backward"] == 1 and not any("logsumexp" in k for k in launches), launches
    tx = torch.from_numpy(xv).requires_grad_()
    F.cross_entropy(tx, torch.tensor(target), label_smoothing=0.1).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def _mean_backward(xv, target):
    x = nr.from_numpy(xv).requires_grad_()
    kw = {"weight": WEIGHT, "ignore_index": 4}
    with backends.using("triton"):
        loss = call("cross_entropy", x, nr.tensor(target), **{**kw, "weight": nr.tensor(WEIGHT)})
        _, launches = _launches(loss.backward)
    tx = torch.from_numpy(xv).requires_grad_()
    F.cross_entropy(tx, torch.tensor(target), **{**kw, "weight": torch.tensor(WEIGHT)}).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    return {k: v for k, v in launches.items() if k.startswith("cross_entropy")}   # not the seed, not .grad


def test_the_mean_backward_divides_inside_its_one_launch():
    assert _mean_backward(_logits((3, 5), 5), [0, 4, 2]) == {"cross_entropy_backward": 1}


def test_the_mean_backward_over_several_programs_sums_its_denominator_first(monkeypatch):
    monkeypatch.setattr(loss_triton, "TILE", 16)  # 2 rows of 8 class lanes per program: 4 programs
    launches = _mean_backward(_logits((8, 5), 6), [0, 4, 2, 3, 1, 1, 4, 0])
    assert launches == {"cross_entropy_denominator": 1, "cross_entropy_backward": 1}
