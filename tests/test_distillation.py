"""nn.functional.distillation_loss and nn.DistillationLoss against Hinton's formula written with
torch.nn.functional (values and the student's gradient)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import neurarust as nr
import neurarust.nn.functional as F
from neurarust import nn
from neurarust.errors import ArgumentError, ShapeError


def _inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((6, 5)), rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)


def _torch_loss(student, teacher, target, T, alpha):
    soft = TF.kl_div(TF.log_softmax(student / T, 1), TF.softmax(teacher / T, 1), reduction="batchmean")
    return alpha * T * T * soft + (1 - alpha) * TF.cross_entropy(student, target)


@pytest.mark.parametrize("T,alpha", [(1.0, 0.5), (4.0, 0.9)])
def test_value_and_student_gradient_equal_hintons_formula(T, alpha):
    s, t, y = _inputs()
    student = nr.tensor(s, requires_grad=True)
    ours = F.distillation_loss(student, nr.tensor(t), nr.tensor(y), T=T, alpha=alpha)
    ours.backward()
    ts = torch.tensor(s, requires_grad=True)
    theirs = _torch_loss(ts, torch.tensor(t), torch.tensor(y), T, alpha)
    theirs.backward()
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-10)
    np.testing.assert_allclose(student.grad.numpy(), ts.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_reductions_sum_and_none_are_the_per_sample_losses():
    s, t, y = (nr.tensor(a) for a in _inputs())
    per_sample = F.distillation_loss(s, t, y, reduction="none")
    assert per_sample.shape == (6,)
    assert F.distillation_loss(s, t, y, reduction="sum").item() == pytest.approx(per_sample.sum().item())
    assert F.distillation_loss(s, t, y).item() == pytest.approx(per_sample.mean().item())


def test_alpha_one_needs_no_labels_and_is_zero_for_identical_logits():
    s = nr.tensor(_inputs()[0])
    assert F.distillation_loss(s, s, None, T=3.0, alpha=1.0).item() == pytest.approx(0.0, abs=1e-12)


def test_module_equals_the_function():
    s, t, y = (nr.tensor(a) for a in _inputs())
    loss = nn.DistillationLoss(T=3.0, alpha=0.7)
    assert loss(s, t, y).item() == F.distillation_loss(s, t, y, T=3.0, alpha=0.7).item()


@pytest.mark.parametrize("kwargs,error", [
    ({"T": 0.0}, ArgumentError), ({"alpha": 1.5}, ArgumentError), ({"reduction": "batchmean"}, ArgumentError),
    ({"teacher": nr.zeros(6, 4)}, ShapeError), ({"target": None}, ArgumentError),
])
def test_bad_arguments_raise(kwargs, error):
    s, t, y = (nr.tensor(a) for a in _inputs())
    args = {"teacher": t, "target": y}
    args.update({k: kwargs.pop(k) for k in ("teacher", "target") if k in kwargs})
    with pytest.raises(error):
        F.distillation_loss(s, args["teacher"], args["target"], **kwargs)
