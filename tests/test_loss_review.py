"""Loss functions against PyTorch: the differences a review found (triplet distances at zero and
beyond 2-D, cross_entropy's dtypes, the gradient of the mse/l1/huber weight)."""
import numpy as np
import pytest

import neurarust as nr
import neurarust.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(array: np.ndarray):
    """The same values as a NeuraRust and a torch leaf that require grad."""
    return nr.tensor(array.copy(), requires_grad=True), torch.tensor(array.copy(), requires_grad=True)


def _assert_close(ours, theirs, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("p", [2, 3])
def test_triplet_margin_loss_at_zero_distance_has_a_zero_gradient_like_pytorch(p):
    same = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    ours, theirs = zip(*(_pair(v) for v in (same, same, same + 1.0)))
    loss = F.triplet_margin_loss(*ours, p=p, eps=0.0)
    want = TF.triplet_margin_loss(*theirs, p=p, eps=0.0)
    loss.backward()
    want.backward()
    _assert_close(loss, want)
    for a, b in zip(ours, theirs):
        _assert_close(a.grad, b.grad)


def test_triplet_margin_loss_takes_3d_inputs_that_broadcast_like_pytorch():
    rng = np.random.default_rng(0)
    anchor, positive, negative = rng.standard_normal((2, 3, 4)), rng.standard_normal((1, 3, 4)), rng.standard_normal((2, 3, 4))
    ours, theirs = zip(*(_pair(v) for v in (anchor, positive, negative)))
    loss = F.triplet_margin_loss(*ours, margin=2.0, swap=True, reduction="none")
    want = TF.triplet_margin_loss(*theirs, margin=2.0, swap=True, reduction="none")
    assert tuple(loss.shape) == tuple(want.shape) == (2, 3)
    _assert_close(loss, want)
    loss.sum().backward()
    want.sum().backward()
    for a, b in zip(ours, theirs):
        _assert_close(a.grad, b.grad)


def test_triplet_margin_loss_rejects_inputs_of_different_ranks():
    with pytest.raises(nr.errors.ShapeError, match=r"\(2, 3\), \(2, 3\), \(3,\)"):
        F.triplet_margin_loss(nr.ones(2, 3), nr.ones(2, 3), nr.ones(3))


@pytest.mark.parametrize("weight_dtype", [None, np.float64])
def test_cross_entropy_with_probabilities_promotes_mixed_dtypes_like_pytorch(weight_dtype):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((3, 4)).astype(np.float32)
    probs = rng.uniform(0, 1, (3, 4)).astype(np.float64 if weight_dtype is None else np.float32)
    weight = None if weight_dtype is None else rng.uniform(0.5, 2.0, 4).astype(weight_dtype)
    loss = F.cross_entropy(nr.tensor(logits), nr.tensor(probs), None if weight is None else nr.tensor(weight))
    want = TF.cross_entropy(torch.tensor(logits), torch.tensor(probs), None if weight is None else torch.tensor(weight))
    assert want.dtype == torch.float64
    assert loss.dtype == nr.float64
    _assert_close(loss, want, rtol=1e-6)


@pytest.mark.parametrize("loss_name", ["cross_entropy", "nll_loss"])
def test_class_index_losses_reject_a_weight_of_another_dtype_like_pytorch(loss_name):
    logits, target = nr.zeros(2, 3), nr.tensor([0, 2])
    with pytest.raises(RuntimeError):   # PyTorch: "expected scalar type Float but found Double"
        getattr(TF, loss_name)(torch.zeros(2, 3), torch.tensor([0, 2]), torch.ones(3, dtype=torch.float64))
    with pytest.raises(nr.errors.DTypeError, match="float64.*float32"):
        getattr(F, loss_name)(logits, target, nr.ones(3, dtype=nr.float64))


@pytest.mark.parametrize("loss_name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_weighted_regression_losses_differentiate_the_weight_like_pytorch(loss_name, reduction):
    rng = np.random.default_rng(2)
    ours, theirs = zip(*(_pair(v) for v in (rng.standard_normal((3, 4)), rng.standard_normal((3, 4)),
                                            rng.uniform(0.5, 2.0, (3, 4)))))
    loss = getattr(F, loss_name)(ours[0], ours[1], reduction=reduction, weight=ours[2])
    want = getattr(TF, loss_name)(theirs[0], theirs[1], reduction=reduction, weight=theirs[2])
    _assert_close(loss, want)
    upstream = rng.standard_normal(tuple(want.shape))
    loss.backward(nr.tensor(upstream))
    want.backward(torch.tensor(upstream))
    for a, b in zip(ours, theirs):
        _assert_close(a.grad, b.grad)


def test_loss_modules_take_pytorchs_argument_names():
    import inspect

    for name in ("MSELoss", "CrossEntropyLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "GaussianNLLLoss",
                 "PoissonNLLLoss", "CTCLoss"):
        ours, theirs = getattr(nr.nn, name).forward, getattr(torch.nn, name).forward
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters), name
    assert nr.nn.MSELoss()(input=nr.ones(2), target=nr.zeros(2)).item() == 1.0


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_with_probabilities_differentiates_the_class_weight_like_pytorch(reduction, smoothing):
    rng = np.random.default_rng(1)
    x, w = _pair(rng.standard_normal((4, 3, 2)))[0], _pair(rng.random(3) + 0.5)
    target = rng.random((4, 3, 2))
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    loss = F.cross_entropy(x, nr.tensor(target), weight=w[0], reduction=reduction, label_smoothing=smoothing)
    want = TF.cross_entropy(tx, torch.tensor(target), weight=w[1], reduction=reduction, label_smoothing=smoothing)
    loss.sum().backward()
    want.sum().backward()
    _assert_close(w[0].grad, w[1].grad, rtol=1e-10, atol=1e-12)
    _assert_close(x.grad, tx.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_with_class_indices_differentiates_a_trained_weight(reduction, smoothing):
    # PyTorch refuses this derivative; ours is checked against central differences of the loss.
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((4, 3, 2)), rng.random(3) + 0.5
    target = nr.tensor([[0, 1], [2, 0], [1, -100], [0, 0]])
    weight = nr.tensor(w, requires_grad=True)
    F.cross_entropy(nr.tensor(x), target, weight=weight, reduction=reduction, label_smoothing=smoothing).sum().backward()

    def loss_at(v):
        return F.cross_entropy(nr.tensor(x), target, weight=nr.tensor(v), reduction=reduction,
                               label_smoothing=smoothing).sum().item()

    step = 1e-6
    numeric = [(loss_at(w + e) - loss_at(w - e)) / (2 * step) for e in np.eye(3) * step]
    np.testing.assert_allclose(weight.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)
