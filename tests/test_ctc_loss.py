"""CTC loss beyond what the registry harnesses check: every reduction and target layout against
PyTorch on both backends, the gradient convention (the true derivative with respect to
``log_probs``; PyTorch's through ``log_softmax``), the fused backward kernel, and the module.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import neurarust as nr
from neurarust import nn
from neurarust.autograd import gradcheck, gradgradcheck
from neurarust.errors import ArgumentError, DTypeError, IndexOutOfRangeError, ShapeError
from neurarust.kernels import ctc_triton
from neurarust.registry import call

BACKENDS = ["reference", "triton"]
# (T, N, C), padded targets, input lengths, target lengths: repeats, an empty target, a short input.
PADDED = ((7, 3, 5), [[1, 1, 2, 4], [3, 0, 0, 0], [2, 4, 2, 0]], [7, 5, 6], [4, 1, 3])
IMPOSSIBLE = ((4, 2, 4), [[1, 1, 1], [2, 3, 0]], [4, 3], [3, 2])   # element 0 needs 5 frames


def _logits(shape, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, shape).astype(np.float32)


def _log_probs(shape, seed=0):
    return torch.from_numpy(_logits(shape, seed)).log_softmax(-1).numpy()


def _concatenated(targets, lengths):
    return [v for row, n in zip(targets, lengths) for v in row[:n]]


def _case(case, seed=0):
    shape, targets, ins, outs = case
    return _log_probs(shape, seed), targets, ins, outs


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
def test_loss_matches_pytorch(backend, reduction, layout):
    lp, targets, ins, outs = _case(PADDED)
    if layout == "concatenated":
        targets = _concatenated(targets, outs)
    with nr.backends.using(backend):
        got = call("ctc_loss", nr.from_numpy(lp), nr.tensor(targets), nr.tensor(ins), tuple(outs),
                   reduction=reduction)
    want = F.ctc_loss(torch.from_numpy(lp), torch.tensor(targets), torch.tensor(ins), torch.tensor(outs),
                      reduction=reduction)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_int32_targets_and_lengths_are_accepted(backend):
    lp, targets, ins, outs = _case(PADDED, 10)
    with nr.backends.using(backend):
        got = call("ctc_loss", nr.from_numpy(lp), nr.tensor(targets, dtype=nr.int32), nr.tensor(ins, dtype=nr.int32),
                   nr.tensor(outs, dtype=nr.int32), reduction="sum")
    want = F.ctc_loss(torch.from_numpy(lp), torch.tensor(targets), torch.tensor(ins), torch.tensor(outs),
                      reduction="sum")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unbatched_input_gives_a_scalar_per_sequence(backend):
    lp = _log_probs((6, 4), 1)
    with nr.backends.using(backend):
        got = call("ctc_loss", nr.from_numpy(lp), nr.tensor([1, 3, 3]), [6], [3], reduction="none")
    want = F.ctc_loss(torch.from_numpy(lp), torch.tensor([1, 3, 3]), [6], [3], reduction="none")
    assert got.shape == () and want.shape == ()
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_impossible_alignment_is_infinite_or_zero(backend, zero_infinity):
    lp, targets, ins, outs = _case(IMPOSSIBLE, 2)
    with nr.backends.using(backend):
        got = call("ctc_loss", nr.from_numpy(lp), nr.tensor(targets), ins, outs, reduction="none",
                   zero_infinity=zero_infinity)
    want = F.ctc_loss(torch.from_numpy(lp), torch.tensor(targets), ins, outs, reduction="none",
                      zero_infinity=zero_infinity)
    assert (got.tolist()[0] == 0.0) if zero_infinity else got.tolist()[0] == float("inf")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case,zero_infinity", [(PADDED, False), (IMPOSSIBLE, True)], ids=["padded", "zero_inf"])
def test_logits_gradient_through_log_softmax_equals_pytorchs(backend, case, zero_infinity):
    """The normal use: the logits' gradient is PyTorch's exactly (the two conventions agree here)."""
    shape, targets, ins, outs = case
    x = _logits(shape, 3)
    ours = nr.from_numpy(x.copy()).requires_grad_()
    theirs = torch.from_numpy(x.copy()).requires_grad_()
    with nr.backends.using(backend):
        call("ctc_loss", call("log_softmax", ours, -1), nr.tensor(targets), ins, outs,
             zero_infinity=zero_infinity).backward()
    F.ctc_loss(theirs.log_softmax(-1), torch.tensor(targets), ins, outs, zero_infinity=zero_infinity).backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_log_probs_gradient_is_pytorchs_without_its_softmax_term(backend):
    """PyTorch returns ``exp(log_probs) - posterior``; NeuraRust the true derivative ``-posterior``."""
    lp, targets, ins, outs = _case(PADDED, 4)
    ours = nr.from_numpy(lp.copy()).requires_grad_()
    theirs = torch.from_numpy(lp.copy()).requires_grad_()
    with nr.backends.using(backend):
        call("ctc_loss", ours, nr.tensor(targets), ins, outs, reduction="sum").backward()
    F.ctc_loss(theirs, torch.tensor(targets), ins, outs, reduction="sum").backward()
    frames = (np.arange(lp.shape[0])[:, None] < np.array(ins)[None, :])[:, :, None]
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy() - frames * np.exp(lp), rtol=1e-4, atol=1e-6)


def test_gradients_pass_gradcheck_and_gradgradcheck_in_float64():
    lp, targets, ins, outs = _case(((4, 2, 3), [[1, 2], [2, 2]], [4, 4], [2, 2]), 5)
    x = nr.from_numpy(lp.astype(np.float64)).requires_grad_()
    fn = lambda v: call("ctc_loss", v, nr.tensor(targets), ins, outs)  # noqa: E731
    with nr.backends.using("reference"):
        assert gradcheck(fn, (x,))
        assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("backend", BACKENDS)
def test_backward_runs_the_fused_kernel_and_the_recorded_form_agrees(backend):
    """``backward()`` is one ``ctc_loss_backward`` launch; ``create_graph=True`` differentiates the
    recursion written with framework ops instead, and both give the same gradient."""
    lp, targets, ins, outs = _case(PADDED, 6)
    x = nr.from_numpy(lp).requires_grad_()
    with nr.backends.using(backend):
        loss = call("ctc_loss", x, nr.tensor(targets), ins, outs)
        before = dict(nr.backends.launch_counts)
        (fused,) = nr.autograd.grad(loss, x, retain_graph=True)
        ran = {k for k, v in nr.backends.launch_counts.items() if v != before.get(k, 0)}
        (recorded,) = nr.autograd.grad(loss, x, create_graph=True)
    if backend == "triton":  # beside it, only the elementwise scaling of the upstream gradient
        assert "ctc_loss_backward" in ran and all(k.startswith("elementwise:") for k in ran - {"ctc_loss_backward"})
    assert recorded.requires_grad
    np.testing.assert_allclose(recorded.detach().numpy(), fused.numpy(), rtol=1e-4, atol=1e-6)


def test_backward_kernel_loops_over_class_chunks(monkeypatch):
    monkeypatch.setattr(ctc_triton, "MAX_BLOCK_C", 2)  # 5 classes: three chunks per frame
    lp, targets, ins, outs = _case(PADDED, 7)
    grads = []
    for backend in BACKENDS:
        x = nr.from_numpy(lp.copy()).requires_grad_()
        with nr.backends.using(backend):
            call("ctc_loss", x, nr.tensor(targets), ins, outs, reduction="none").sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-6)


def test_frames_past_the_input_length_get_no_gradient():
    lp, targets, ins, outs = _case(PADDED, 8)
    x = nr.from_numpy(lp).requires_grad_()
    with nr.backends.using("triton"):
        call("ctc_loss", x, nr.tensor(targets), ins, outs).backward()
    assert not x.grad.numpy()[5:, 1].any() and not x.grad.numpy()[6:, 2].any()


@pytest.mark.parametrize("args,error,match", [
    (((3, 2, 4, 1), [[1], [1]], [3, 3], [1, 1]), ShapeError, r"\(T, N, C\) or \(T, C\), got \(3, 2, 4, 1\)"),
    (((3, 2, 4), [[1], [1]], [4, 3], [1, 1]), ArgumentError, r"at most T=3 \(log_probs of shape \(3, 2, 4\)\)"),
    (((3, 2, 4), [[1], [1]], [3, 3], [2, 1]), ShapeError, r"exceed the padded targets' length 1"),
    (((3, 2, 4), [[1], [9]], [3, 3], [1, 1]), IndexOutOfRangeError, "target 9 is out of bounds for 4 classes"),
    (((3, 2, 4), [[1], [1], [1]], [3, 3], [1, 1]), ShapeError, r"\(2, S\).*got \(3, 1\)"),
    (((3, 2, 4), [[1], [1]], [3], [1, 1]), ShapeError, r"one length per batch element \(2\), got 1"),
])
def test_bad_calls_name_the_shapes_at_fault(args, error, match):
    shape, targets, ins, outs = args
    with pytest.raises(error, match=match):
        call("ctc_loss", nr.zeros(*shape), nr.tensor(targets), ins, outs)


def test_blank_and_dtypes_are_checked():
    lp = nr.zeros(3, 2, 4)
    with pytest.raises(IndexOutOfRangeError, match=r"blank=4 must be a class index in \[0, 4\)"):
        call("ctc_loss", lp, nr.tensor([[1], [1]]), [3, 3], [1, 1], blank=4)
    with pytest.raises(DTypeError, match="targets must be integers"):
        call("ctc_loss", lp, nr.tensor([[1.0], [1.0]]), [3, 3], [1, 1])
    with pytest.raises(DTypeError, match="float32 or float64"):
        call("ctc_loss", lp.half(), nr.tensor([[1], [1]]), [3, 3], [1, 1])


def test_module_matches_pytorch_and_reads_like_it():
    lp, targets, ins, outs = _case(PADDED, 9)
    ours, theirs = nn.CTCLoss(blank=0, zero_infinity=True), torch.nn.CTCLoss(blank=0, zero_infinity=True)
    got = ours(nr.from_numpy(lp), nr.tensor(targets), nr.tensor(ins), nr.tensor(outs))
    want = theirs(torch.from_numpy(lp), torch.tensor(targets), torch.tensor(ins), torch.tensor(outs))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5)
    assert repr(ours) == repr(theirs)
    assert nn.functional.ctc_loss.name == "ctc_loss"
