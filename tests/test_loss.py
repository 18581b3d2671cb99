"""Loss entries beyond what the registry harnesses check: the fused cross-entropy keeps only the
per-row log-sum-exp for its backward, its looped (long-row) kernel, and gradients of the forms the
harness's first two samples do not reach (label smoothing, spatial dims, probabilities, fp16).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import neurarust as nr
from neurarust.autograd import gradcheck, gradgradcheck
from neurarust.kernels import loss_triton
from neurarust.registry import call


def _logits(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).uniform(-3, 3, shape).astype(dtype)


def _pair(x: np.ndarray, requires_grad=True):
    """The same values as a NeuraRust and a torch leaf."""
    a = nr.from_numpy(x.copy()).requires_grad_(requires_grad)
    b = torch.from_numpy(x.copy()).requires_grad_(requires_grad)
    return a, b


CASES = [
    pytest.param((3, 5), [1, -100, 4], {"label_smoothing": 0.2, "weight": [1.0, 2.0, 0.5, 1.0, 3.0]},
                 id="smoothing_weight_ignore"),
    pytest.param((2, 4, 3), [[0, 3, 1], [2, 2, -100]], {"reduction": "sum"}, id="spatial_sum"),
    pytest.param((2, 3, 2, 2), [[[0, 1], [2, 1]], [[1, 0], [0, 2]]], {"reduction": "none", "label_smoothing": 0.1},
                 id="spatial2_none_smoothing"),
    pytest.param((5,), 3, {"weight": [0.5, 1.0, 2.0, 1.0, 1.0]}, id="unbatched_weight"),
]


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("shape,target,kwargs", CASES)
def test_cross_entropy_gradients_match_pytorch(shape, target, kwargs, backend):
    x, tx = _pair(_logits(shape))
    t = nr.tensor(target, dtype=nr.int64)
    tt = torch.tensor(target)
    w = kwargs.get("weight")
    kw = {**kwargs, **({"weight": nr.tensor(w)} if w else {})}
    tkw = {**kwargs, **({"weight": torch.tensor(w)} if w else {})}
    with nr.backends.using(backend):
        out = call("cross_entropy", x, t, **kw)
        g = np.random.default_rng(1).uniform(0.5, 1.5, tuple(out.shape)).astype(np.float32)
        (got,) = nr.autograd.grad(out, x, nr.from_numpy(g))
    want = F.cross_entropy(tx, tt, **tkw)
    (expected,) = torch.autograd.grad(want, tx, torch.from_numpy(g))
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_cross_entropy_with_probabilities_gradients_match_pytorch(backend):
    x, tx = _pair(_logits((3, 4)))
    p, tp = _pair(np.asarray(torch.softmax(torch.from_numpy(_logits((3, 4), 2)), 1)))
    w = [1.0, 0.5, 2.0, 1.0]
    with nr.backends.using(backend):
        out = call("cross_entropy", x, p, weight=nr.tensor(w), label_smoothing=0.1)
        gx, gp = nr.autograd.grad(out, [x, p])
    want = F.cross_entropy(tx, tp, weight=torch.tensor(w), label_smoothing=0.1)
    ex, ep = torch.autograd.grad(want, [tx, tp])
    np.testing.assert_allclose(gx.numpy(), ex.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gp.numpy(), ep.numpy(), rtol=1e-5, atol=1e-6)


def test_fused_backward_reuses_the_saved_logsumexp():
    """The graph keeps one log-sum-exp per row (no probabilities), and backward runs the one backward
    kernel without recomputing a softmax or log-sum-exp."""
    x = nr.from_numpy(_logits((4, 7))).requires_grad_()
    t = nr.tensor([1, 6, -100, 0])
    with nr.backends.using("triton"):
        loss = call("cross_entropy", x, t, label_smoothing=0.1)
        saved = loss.grad_fn.saved["saved"]
        assert tuple(saved.lse.shape) == (4,) and saved.lse.dtype is nr.float32
        before = dict(nr.backends.launch_counts)
        loss.backward()
    ran = {k for k, v in nr.backends.launch_counts.items() if v != before.get(k, 0)}
    assert "cross_entropy_backward" in ran
    assert not ran & {"softmax", "log_softmax", "logsumexp"}, ran
    tx = torch.from_numpy(_logits((4, 7))).requires_grad_()
    F.cross_entropy(tx, torch.tensor([1, 6, -100, 0]), label_smoothing=0.1).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_long_rows_loop_over_classes(dtype):
    """Rows longer than the class block (here 4) take several online log-sum-exp steps."""
    x = _logits((3, 10), 3, dtype)
    target = [9, 0, 4]
    weight = np.linspace(0.5, 2.0, 10).astype(dtype)
    nx, t, w = nr.from_numpy(x), nr.tensor(target), nr.from_numpy(weight)
    loss, lse, _, bad = loss_triton.launch_cross_entropy(nx, t, w, -100, 0.1, False, max_block_c=4)
    assert not any(bad.tolist())
    tx = torch.from_numpy(x.astype(np.float32)).requires_grad_()
    want = F.cross_entropy(tx, torch.tensor(target), torch.from_numpy(weight.astype(np.float32)),
                           reduction="none", label_smoothing=0.1)
    tol = 1e-5 if dtype == np.float32 else 2e-3  # the per-row losses come in the logits' dtype
    np.testing.assert_allclose(loss.numpy().astype(np.float32), want.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(lse.numpy(), torch.logsumexp(tx, 1).detach().numpy(), rtol=1e-6, atol=1e-6)
    g = nr.tensor([1.0, -0.5, 2.0])
    out = nr.from_numpy(np.zeros(x.shape, dtype))
    loss_triton.launch_cross_entropy_backward(out, g, nx, t, lse, w, -100, 0.1, max_block_c=4)
    (expected,) = torch.autograd.grad(want, tx, torch.tensor([1.0, -0.5, 2.0]))
    np.testing.assert_allclose(out.numpy().astype(np.float32), expected.numpy(), rtol=tol, atol=tol)


def test_cross_entropy_double_backward_with_smoothing_and_spatial_dims():
    x = nr.from_numpy(_logits((2, 3, 2), 4).astype(np.float64)).requires_grad_()
    t = nr.tensor([[0, 2], [-100, 1]])
    w = nr.tensor([0.5, 1.0, 2.0], dtype=nr.float64)
    fn = lambda v: call("cross_entropy", v, t, weight=w, label_smoothing=0.3)  # noqa: E731
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("name,kwargs", [("mse_loss", {"reduce": False}), ("l1_loss", {"size_average": False}),
                                         ("kl_div", {"reduction": "batchmean", "log_target": True})])
def test_legacy_flags_and_batchmean(name, kwargs):
    a, b = _logits((3, 2), 5), _logits((3, 2), 6)
    with nr.backends.using("triton"):
        got = call(name, nr.from_numpy(a), nr.from_numpy(b), **kwargs)
    want = getattr(F, name)(torch.from_numpy(a), torch.from_numpy(b), **kwargs)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)



def test_kernel_flags_targets_out_of_range_without_reading_them():
    x = nr.from_numpy(_logits((3, 4), 7))
    loss, _, _, bad = loss_triton.launch_cross_entropy(x, nr.tensor([1, 9, -100]), None, -100, 0.0, False)
    assert any(bad.tolist())
    assert loss.tolist()[1:] == [0.0, 0.0]
    mean = loss_triton.launch_cross_entropy(x, nr.tensor([1, 9, -100]), None, -100, 0.0, False, "mean")
    assert mean.denom.item() == 1.0  # only the in-range row counts


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_losses_of_intermediate_results_backward_twice(backend):
    """Inputs made by other ops: the formula losses' backward walks only its own graph, so the
    caller's graph survives for a second backward (retain_graph) and gradients match PyTorch."""
    xv, pv = _logits((2, 3), 8), np.asarray([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], np.float32)
    x, tx = _pair(xv)
    p, tp = _pair(pv)

    def total(F, y, probs, targets, zeros, ones):
        return (F.smooth_l1_loss(y, zeros) + F.cross_entropy(y, targets) + F.cross_entropy(y, probs * 1)
                + F.binary_cross_entropy_with_logits(y, ones))

    class NF:  # the registry entries under torch.nn.functional's names
        def __getattr__(self, name):
            return lambda *a, **k: call(name, *a, **k)

    with nr.backends.using(backend):
        loss = total(NF(), x * 2, p, nr.tensor([0, 2]), nr.zeros(2, 3), nr.ones(2, 3))
        loss.backward(retain_graph=True)
        loss.backward()
    total(F, tx * 2, tp, torch.tensor([0, 2]), torch.zeros(2, 3), torch.ones(2, 3)).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.grad.numpy(), 2 * tp.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_formula_loss_double_backward_through_an_intermediate():
    x = nr.from_numpy(_logits((2, 3), 9).astype(np.float64)).requires_grad_()
    t = nr.from_numpy(_logits((2, 3), 10).astype(np.float64))
    assert gradgradcheck(lambda v: call("huber_loss", v * v, t, delta=0.5), (x,))
