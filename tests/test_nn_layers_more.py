"""Padding, distance, composed-loss and extra normalization layers against torch: values and
gradients (float32 and float64), reductions, broadcasting, reprs and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neurarust as nr
import neurarust.nn.functional as F
from neurarust import nn
from neurarust.errors import ArgumentError, DTypeError, IndexOutOfRangeError, NeuraRustError, ShapeError

DTYPES = ("float32", "float64")
REDUCTIONS = ("none", "mean", "sum")
TOL = {"float32": dict(rtol=2e-5, atol=2e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def _rand(shape, dtype, seed, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def _both(arrays, grads):
    """NeuraRust and torch tensors of each array; those flagged in ``grads`` require a gradient."""
    ours = [nr.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    theirs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    return ours, theirs


def _compare(ours_fn, torch_fn, arrays, grads, dtype, seed=0):
    """Same output (shape and values) and, after backward of the same random gradient, the same
    gradients for every input flagged in ``grads``."""
    ours, theirs = _both(arrays, grads)
    out, ref = ours_fn(*ours), torch_fn(*theirs)
    assert tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(np.asarray(out.tolist()), ref.detach().numpy(), **TOL[dtype], equal_nan=True)
    if not any(grads):
        return
    g = _rand(tuple(ref.shape), dtype, seed + 99)
    out.backward(nr.tensor(g))
    ref.backward(torch.tensor(g))
    for a, b, wanted in zip(ours, theirs, grads):
        if wanted:
            np.testing.assert_allclose(np.asarray(a.grad.tolist()), b.grad.numpy(), **TOL[dtype])


def _same_error(ours_fn, torch_fn, ours_type, match):
    """Both raise: torch its error, NeuraRust a NeuraRustError of ``ours_type`` whose message
    matches ``match``."""
    with pytest.raises(Exception):
        torch_fn()
    with pytest.raises(ours_type, match=match) as info:
        ours_fn()
    assert isinstance(info.value, NeuraRustError)


# -- padding ------------------------------------------------------------------------------------------
PADS = [
    ("ZeroPad1d", (2,), (2, 3)), ("ZeroPad1d", ((1, -1),), (2, 2, 3)),
    ("ZeroPad2d", ((1, 0, 2, 1),), (2, 3, 3)), ("ZeroPad3d", (1,), (1, 2, 2, 2)),
    ("ConstantPad1d", (2, 3.5), (2, 3)), ("ConstantPad2d", ((0, 1, 1, 0), -1.0), (1, 2, 3, 3)),
    ("ConstantPad3d", ((1, 0, 0, 1, 1, 0), 2.0), (2, 2, 2, 3)),
    ("ReflectionPad1d", ((2, 1),), (2, 4)), ("ReflectionPad1d", (1,), (2, 2, 4)),
    ("ReflectionPad2d", ((1, 2, 0, 1),), (1, 2, 3, 4)), ("ReflectionPad2d", (1,), (2, 3, 3)),
    ("ReflectionPad3d", (1,), (1, 2, 3, 3, 3)),
    ("ReplicationPad1d", ((3, 1),), (2, 2, 3)), ("ReplicationPad2d", ((2, 0, 1, 3),), (2, 3, 3)),
    ("ReplicationPad3d", ((1, 2, 0, 1, 1, 0),), (2, 2, 2, 3)),
    ("CircularPad1d", ((2, 1),), (2, 3)), ("CircularPad2d", ((1, 2, 2, 0),), (1, 2, 3, 3)),
    ("CircularPad3d", (1,), (2, 2, 2, 3)), ("CircularPad2d", ((-1, 1, 0, 1),), (2, 3, 3)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, args, shape", PADS, ids=[f"{p[0]}-{i}" for i, p in enumerate(PADS)])
def test_padding_modules_match_torch(name, args, shape, dtype):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    assert ours.padding == theirs.padding
    _compare(ours, theirs, [_rand(shape, dtype, 1)], [True], dtype)


def test_padding_reprs_and_tuple_padding():
    assert repr(nn.ZeroPad2d([1, 2])) == repr(torch.nn.ZeroPad2d([1, 2])) == "ZeroPad2d((1, 2))"
    assert repr(nn.ConstantPad1d(2, 1)) == repr(torch.nn.ConstantPad1d(2, 1))
    assert repr(nn.ConstantPad1d(2, 1)) == "ConstantPad1d(padding=(2, 2), value=1)"
    assert repr(nn.ReplicationPad3d(2)) == repr(torch.nn.ReplicationPad3d(2))
    # A shorter tuple pads fewer dims, as PyTorch's.
    _compare(nn.ZeroPad2d((1, 2)), torch.nn.ZeroPad2d((1, 2)), [_rand((2, 4), "float32", 2)], [True], "float32")


@pytest.mark.parametrize("name, shape, match", [
    ("CircularPad1d", (4,), r"expected 2D or 3D input \(got 1D input\)"),
    ("CircularPad2d", (2, 4), r"expected 3D or 4D input \(got 2D input\)"),
    ("CircularPad3d", (1, 1, 2, 2, 2, 2), r"expected 4D or 5D input \(got 6D input\)"),
])
def test_circular_pad_checks_the_rank(name, shape, match):
    _same_error(lambda: getattr(nn, name)(1)(nr.ones(*shape)), lambda: getattr(torch.nn, name)(1)(torch.ones(shape)),
                ShapeError, match)


def test_padding_errors_come_from_pad():
    # torch raises NotImplementedError for these ranks; F.pad raises ShapeError (a ValueError).
    _same_error(lambda: nn.ReflectionPad2d(1)(nr.ones(3, 3)), lambda: torch.nn.ReflectionPad2d(1)(torch.ones(3, 3)),
                ShapeError, "needs a 3-D or 4-D input")
    _same_error(lambda: nn.ReflectionPad1d(3)(nr.ones(1, 3)), lambda: torch.nn.ReflectionPad1d(3)(torch.ones(1, 3)),
                ShapeError, "less than the corresponding input dimension")
    _same_error(lambda: nn.ReplicationPad3d(1)(nr.ones(2, 2, 2)),
                lambda: torch.nn.ReplicationPad3d(1)(torch.ones(2, 2, 2)), ShapeError, "needs a 4-D or 5-D input")


# -- distances ----------------------------------------------------------------------------------------
COSINE = [((4, 3), (4, 3), 1), ((4, 3), (1, 3), 1), ((2, 3, 4), (3, 1), -1), ((3,), (2, 3), 0),
          ((2, 1, 3), (4, 1), 1), ((3,), (3,), 0)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("s1, s2, dim", COSINE)
def test_cosine_similarity_matches_torch(s1, s2, dim, dtype):
    arrays = [_rand(s1, dtype, 3), _rand(s2, dtype, 4)]
    _compare(lambda a, b: F.cosine_similarity(a, b, dim), lambda a, b: torch.nn.functional.cosine_similarity(a, b, dim),
             arrays, [True, True], dtype)
    _compare(nn.CosineSimilarity(dim, 1e-6), torch.nn.CosineSimilarity(dim, 1e-6), arrays, [True, True], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cosine_similarity_eps_clamps_the_norms_only(dtype):
    # Rows with norms below eps: the value divides by eps, the gradient passes the clamp unchanged.
    x1 = np.array([[1e-5, -2e-5, 0.0], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0]], dtype)
    x2 = _rand((3, 3), dtype, 5)
    for eps in (1e-3, 1e-8):
        _compare(lambda a, b: F.cosine_similarity(a, b, eps=eps),
                 lambda a, b: torch.nn.functional.cosine_similarity(a, b, eps=eps), [x1, x2], [True, True], dtype)


PAIRWISE = [((4, 3), (4, 3)), ((4, 3), (3,)), ((3,), (2, 5, 3)), ((2, 1, 3), (4, 3))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("s1, s2", PAIRWISE)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf])
def test_pairwise_distance_matches_torch(s1, s2, p, dtype):
    arrays = [_rand(s1, dtype, 6), _rand(s2, dtype, 7)]
    for keepdim in (False, True):
        _compare(nn.PairwiseDistance(p, 1e-6, keepdim), torch.nn.PairwiseDistance(p, 1e-6, keepdim), arrays,
                 [True, True], dtype)


def test_pairwise_distance_eps_and_identical_inputs():
    a = _rand((3, 4), "float64", 8)
    _compare(lambda x, y: F.pairwise_distance(x, y, eps=1e-3), lambda x, y: torch.nn.functional.pairwise_distance(
        x, y, eps=1e-3), [a, a.copy()], [True, True], "float64")
    assert repr(nn.PairwiseDistance()) == "PairwiseDistance()" and repr(nn.CosineSimilarity()) == "CosineSimilarity()"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0, 1.0, 0.5, math.inf])
def test_pdist_matches_torch(p, dtype):
    x = _rand((5, 3), dtype, 9)
    # Rows 1 and 3 apart, and by different amounts per column: torch's pdist gradient of p < 1 at a zero
    # distance is NaN, and of p = inf goes whole to each tied column (norm's, ours, splits it).
    x[3] = x[1] + np.array([0.5, 0.3, 0.1], dtype)
    _compare(lambda a: F.pdist(a, p), lambda a: torch.nn.functional.pdist(a, p), [x], [True], dtype)


def test_pdist_small_inputs_and_errors():
    _compare(F.pdist, torch.nn.functional.pdist, [_rand((1, 3), "float32", 10)], [False], "float32")
    _compare(F.pdist, torch.nn.functional.pdist, [np.ones((3, 2), "float32")], [True], "float32")  # zero distances
    _same_error(lambda: F.pdist(nr.ones(2, 3, 4)), lambda: torch.nn.functional.pdist(torch.ones(2, 3, 4)),
                ShapeError, "pdist only supports 2D tensors, got: 3D")
    _same_error(lambda: F.pdist(nr.ones(3, 4), -1.0), lambda: torch.nn.functional.pdist(torch.ones(3, 4), -1.0),
                ArgumentError, "non-negative p")
    _same_error(lambda: F.pdist(nr.ones(3, 4, dtype=nr.int64)),
                lambda: torch.nn.functional.pdist(torch.ones(3, 4, dtype=torch.int64)), DTypeError, "floating-point")


def test_distance_shape_errors():
    _same_error(lambda: F.cosine_similarity(nr.ones(2, 3), nr.ones(4, 3)),
                lambda: torch.nn.functional.cosine_similarity(torch.ones(2, 3), torch.ones(4, 3)), ShapeError,
                "cannot be broadcast")
    _same_error(lambda: F.pairwise_distance(nr.ones(2, 3), nr.ones(4, 3)),
                lambda: torch.nn.functional.pairwise_distance(torch.ones(2, 3), torch.ones(4, 3)), ShapeError,
                "cannot be broadcast")
    _same_error(lambda: F.cosine_similarity(nr.ones(2, 3), nr.ones(2, 3), dim=2),
                lambda: torch.nn.functional.cosine_similarity(torch.ones(2, 3), torch.ones(2, 3), dim=2),
                IndexOutOfRangeError, "out of range")


# -- losses -------------------------------------------------------------------------------------------
def _loss_pair(name, **options):
    """F.<name> of both frameworks with ``options``."""
    return (lambda *a: getattr(F, name)(*a, **options)), (lambda *a: getattr(torch.nn.functional, name)(*a, **options))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input, full", [(True, False), (False, False), (True, True), (False, True)])
def test_poisson_nll_loss(log_input, full, reduction, dtype):
    rate = _rand((3, 4), dtype, 11, 0.1, 2.0)
    target = np.array([0.0, 1.0, 2.0, 5.0], dtype) * np.ones((3, 1), dtype)  # target <= 1 skips Stirling's term
    ours, theirs = _loss_pair("poisson_nll_loss", log_input=log_input, full=full, reduction=reduction)
    _compare(ours, theirs, [rate, target], [True, False], dtype)
    _compare(ours, theirs, [rate, target[0] + 1.5], [True, True], dtype)  # broadcast, gradient to the target
    _compare(nn.PoissonNLLLoss(log_input, full, eps=1e-4, reduction=reduction),
             torch.nn.PoissonNLLLoss(log_input, full, eps=1e-4, reduction=reduction), [rate, target], [True, False],
             dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(2, 3, 4), (2, 3), (2, 1, 4), (2, 3, 1)])
def test_gaussian_nll_loss(var_shape, reduction, dtype):
    mean, target = _rand((2, 3, 4), dtype, 12), _rand((2, 3, 4), dtype, 13)
    var = _rand(var_shape, dtype, 14, 0.0, 2.0)
    var.reshape(-1)[:2] = [0.0, 1e-7]  # below eps: clamped in value, not in gradient
    for full in (False, True):
        ours, theirs = _loss_pair("gaussian_nll_loss", full=full, eps=1e-6, reduction=reduction)
        _compare(ours, theirs, [mean, target, var], [True, True, True], dtype)
    _compare(nn.GaussianNLLLoss(full=True, eps=1e-3, reduction=reduction),
             torch.nn.GaussianNLLLoss(full=True, eps=1e-3, reduction=reduction), [mean, target, var],
             [True, False, True], dtype)


def test_gaussian_nll_loss_float_var_broadcast_target_and_errors():
    mean, target = _rand((4, 3), "float64", 15), _rand((3,), "float64", 16)
    ours, theirs = _loss_pair("gaussian_nll_loss")
    _compare(lambda m, t: ours(m, t, 0.5), lambda m, t: theirs(m, t, 0.5), [mean, target], [True, True], "float64")
    g, t = F.gaussian_nll_loss, torch.nn.functional.gaussian_nll_loss
    _same_error(lambda: g(nr.ones(2, 3), nr.ones(2, 3), -nr.ones(2, 3)),
                lambda: t(torch.ones(2, 3), torch.ones(2, 3), -torch.ones(2, 3)), ArgumentError, "negative entry")
    _same_error(lambda: g(nr.ones(2, 3), nr.ones(2, 3), -1.0), lambda: t(torch.ones(2, 3), torch.ones(2, 3), -1.0),
                ArgumentError, "negative entry")
    _same_error(lambda: g(nr.ones(2, 3), nr.ones(2, 3), nr.ones(3)),
                lambda: t(torch.ones(2, 3), torch.ones(2, 3), torch.ones(3)), ShapeError, "var is of incorrect size")
    _same_error(lambda: g(nr.ones(2, 3), nr.ones(2, 3), nr.ones(1, 1)),
                lambda: t(torch.ones(2, 3), torch.ones(2, 3), torch.ones(1, 1)), ShapeError, "incorrect size")
    _same_error(lambda: g(nr.ones(2), nr.ones(2), nr.ones(2), reduction="x"),
                lambda: t(torch.ones(2), torch.ones(2), torch.ones(2), reduction="x"), ArgumentError, "x is not valid")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss(reduction, dtype):
    x = _rand((4, 5), dtype, 17, -1.0, 3.0)
    x[0, :2] = [1.0, 0.5]  # margin - x = 0 at x = margin: torch's clamp passes the gradient there
    y = np.where(_rand((4, 5), dtype, 18) > 0, 1.0, -1.0).astype(dtype)
    y[1, 0] = 0.0  # neither +1 nor -1: both terms, as torch
    for margin in (1.0, 0.5):
        ours, theirs = _loss_pair("hinge_embedding_loss", margin=margin, reduction=reduction)
        _compare(ours, theirs, [x, y], [True, False], dtype)
        _compare(ours, theirs, [x, y[0]], [True, False], dtype)  # broadcast target
    _compare(nn.HingeEmbeddingLoss(0.5, reduction=reduction), torch.nn.HingeEmbeddingLoss(0.5, reduction=reduction),
             [x, y], [True, False], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss(reduction, dtype):
    x, y = _rand((3, 4), dtype, 19, -5.0, 5.0), np.where(_rand((3, 4), dtype, 20) > 0, 1.0, -1.0).astype(dtype)
    ours, theirs = _loss_pair("soft_margin_loss", reduction=reduction)
    _compare(ours, theirs, [x, y], [True, False], dtype)  # torch has no gradient for the target
    _compare(ours, theirs, [x, y[:1]], [True, False], dtype)
    _compare(nn.SoftMarginLoss(reduction=reduction), torch.nn.SoftMarginLoss(reduction=reduction), [x, y],
             [True, False], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_soft_margin_loss(reduction, dtype):
    x, y = _rand((4, 5), dtype, 21, -30.0, 30.0), (_rand((4, 5), dtype, 22) > 0).astype(dtype)
    x[0, 0] = 0.0
    w = _rand((5,), dtype, 23, 0.0, 2.0)
    ours, theirs = _loss_pair("multilabel_soft_margin_loss", reduction=reduction)
    _compare(ours, theirs, [x, y], [True, True], dtype)
    _compare(lambda a, b, c: F.multilabel_soft_margin_loss(a, b, c, reduction=reduction),
             lambda a, b, c: torch.nn.functional.multilabel_soft_margin_loss(a, b, c, reduction=reduction),
             [x, y, w], [True, False, True], dtype)
    _compare(ours, theirs, [x[0], y[0]], [True, False], dtype)  # one unbatched sample
    _compare(nn.MultiLabelSoftMarginLoss(nr.tensor(w), reduction=reduction),
             torch.nn.MultiLabelSoftMarginLoss(torch.tensor(w), reduction=reduction), [x, y], [True, False], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_loss(p, reduction, dtype):
    x = _rand((5, 4), dtype, 24)
    x[0] = [0.5, 0.0, 1.0, 0.25]  # with target 2: a term exactly at the margin (no gradient, as torch)
    y = np.array([2, 0, 3, 1, 1], np.int64)
    w = _rand((4,), dtype, 25, 0.1, 2.0)
    for margin in (1.0, 0.5):
        ours, theirs = _loss_pair("multi_margin_loss", p=p, margin=margin, reduction=reduction)
        _compare(ours, theirs, [x, y], [True, False], dtype)
        _compare(lambda a, b: F.multi_margin_loss(a, b, p, margin, nr.tensor(w), reduction=reduction),
                 lambda a, b: torch.nn.functional.multi_margin_loss(a, b, p, margin, torch.tensor(w),
                                                                    reduction=reduction), [x, y], [True, False], dtype)
    for xs, ys in [(x[1], y[1:2]), (x[1], np.array(3)), (x[:1], np.array(2)), (np.array(x[0, 0]), np.array(0))]:
        _compare(ours, theirs, [xs, ys], [True, False], dtype)  # unbatched and 0-d shapes
    _compare(nn.MultiMarginLoss(p, 0.5, nr.tensor(w), reduction=reduction),
             torch.nn.MultiMarginLoss(p, 0.5, torch.tensor(w), reduction=reduction), [x, y], [True, False], dtype)


def test_multi_margin_loss_errors():
    m, t = F.multi_margin_loss, torch.nn.functional.multi_margin_loss
    x, tx = nr.ones(2, 3), torch.ones(2, 3)
    _same_error(lambda: m(x, nr.tensor([0, 3])), lambda: t(tx, torch.tensor([0, 3])), IndexOutOfRangeError,
                "target out of range")
    _same_error(lambda: m(x, nr.tensor([0, -1])), lambda: t(tx, torch.tensor([0, -1])), IndexOutOfRangeError,
                "target out of range")
    _same_error(lambda: m(x, nr.tensor([0, 1, 1])), lambda: t(tx, torch.tensor([0, 1, 1])), ShapeError,
                r"Expected target size \[2\], but got \[3\]")
    _same_error(lambda: m(nr.ones(2, 0), nr.tensor([0, 1])), lambda: t(torch.ones(2, 0), torch.tensor([0, 1])),
                ShapeError, "non-empty vector or matrix")
    _same_error(lambda: m(nr.ones(2, 3, 2), nr.tensor([0, 1])), lambda: t(torch.ones(2, 3, 2), torch.tensor([0, 1])),
                ShapeError, "non-empty vector or matrix")
    _same_error(lambda: m(x, nr.tensor([0, 1]), weight=nr.ones(4)), lambda: t(tx, torch.tensor([0, 1]),
                weight=torch.ones(4)), ShapeError, r"inconsistent weight size, expected 3 but got \[4\]")
    _same_error(lambda: m(x, nr.tensor([0, 1]), weight=nr.ones(1, 3)), lambda: t(tx, torch.tensor([0, 1]),
                weight=torch.ones(1, 3)), ShapeError, "weight must be one-dimensional")
    _same_error(lambda: m(x, nr.tensor([0, 1]), p=3), lambda: t(tx, torch.tensor([0, 1]), p=3), ArgumentError,
                "only p == 1 and p == 2 supported")
    _same_error(lambda: m(x, nr.tensor([0.0, 1.0])), lambda: t(tx, torch.tensor([0.0, 1.0])), DTypeError, "int64")
    _same_error(lambda: nn.MultiMarginLoss(p=3), lambda: torch.nn.MultiMarginLoss(p=3), ArgumentError, "only p == 1")
    _same_error(lambda: nn.MultiMarginLoss(weight=nr.ones(2, 2)), lambda: torch.nn.MultiMarginLoss(
        weight=torch.ones(2, 2)), ShapeError, "expected weight to be None or 1D tensor, got 2D instead")


@pytest.mark.parametrize("name, args", [
    ("poisson_nll_loss", 2), ("hinge_embedding_loss", 2), ("soft_margin_loss", 2),
    ("multilabel_soft_margin_loss", 2), ("multi_margin_loss", 2)])
def test_bad_reduction(name, args):
    ours = [nr.ones(2, 3), nr.ones(2, 3) if name != "multi_margin_loss" else nr.tensor([0, 1])]
    theirs = [torch.ones(2, 3), torch.ones(2, 3) if name != "multi_margin_loss" else torch.tensor([0, 1])]
    _same_error(lambda: getattr(F, name)(*ours, reduction="bad"),
                lambda: getattr(torch.nn.functional, name)(*theirs, reduction="bad"), ArgumentError, "bad is not")


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")  # torch's
@pytest.mark.parametrize("size_average, reduce", [(False, None), (None, False), (True, True), (False, True)])
def test_legacy_size_average_and_reduce(size_average, reduce):
    x, y = _rand((3, 4), "float64", 26), np.where(_rand((3, 4), "float64", 27) > 0, 1.0, -1.0)
    cases = [("PoissonNLLLoss", "poisson_nll_loss", (), [x, np.abs(y)]),
             ("HingeEmbeddingLoss", "hinge_embedding_loss", (), [x, y]),
             ("SoftMarginLoss", "soft_margin_loss", (), [x, y]),
             ("MultiLabelSoftMarginLoss", "multilabel_soft_margin_loss", (None,), [x, (y > 0).astype("float64")]),
             ("MultiMarginLoss", "multi_margin_loss", (1, 1.0, None), [x, np.array([0, 3, 1])])]
    for name, function, args, arrays in cases:
        ours = getattr(nn, name)(*args, size_average=size_average, reduce=reduce)
        theirs = getattr(torch.nn, name)(*args, size_average=size_average, reduce=reduce)
        assert ours.reduction == theirs.reduction and repr(ours) == repr(theirs)
        _compare(ours, theirs, arrays, [True, False], "float64")
        _compare(lambda a, b: getattr(F, function)(a, b, size_average=size_average, reduce=reduce), theirs, arrays,
                 [True, False], "float64")


def test_loss_module_reprs_and_buffers():
    for name in ("PoissonNLLLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "SoftMarginLoss",
                 "MultiLabelSoftMarginLoss", "MultiMarginLoss"):
        assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)()) == f"{name}()"
    assert [n for n, _ in nn.MultiMarginLoss(weight=nr.ones(3)).named_buffers()] == ["weight"]
    with pytest.raises(TypeError):
        nn.GaussianNLLLoss(True)  # keyword-only, as torch's


# -- normalization ------------------------------------------------------------------------------------
NORMS = [("InstanceNorm1d", (2, 3, 5)), ("InstanceNorm1d", (3, 5)), ("InstanceNorm3d", (2, 3, 2, 3, 2)),
         ("InstanceNorm3d", (3, 2, 2, 3)), ("BatchNorm3d", (2, 3, 2, 2, 3))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, shape", NORMS)
@pytest.mark.parametrize("affine, track", [(False, False), (True, True)])
def test_norm_layers_match_torch(name, shape, affine, track, dtype):
    kwargs = dict(affine=affine, track_running_stats=track, momentum=0.3)
    ours = getattr(nn, name)(3, **kwargs).to(getattr(nr, dtype))
    theirs = getattr(torch.nn, name)(3, **kwargs).to(getattr(torch, dtype))
    assert repr(ours) == repr(theirs)
    if affine:
        for p_ours, p_theirs, seed in ((ours.weight, theirs.weight, 28), (ours.bias, theirs.bias, 29)):
            value = _rand((3,), dtype, seed)
            p_ours.data.copy_(nr.tensor(value))
            p_theirs.data.copy_(torch.tensor(value))
    x = _rand(shape, dtype, 30)
    _compare(ours, theirs, [x], [True], dtype)
    if track:
        for a, b in ((ours.running_mean, theirs.running_mean), (ours.running_var, theirs.running_var)):
            np.testing.assert_allclose(np.asarray(a.tolist()), b.numpy(), **TOL[dtype])
        ours.eval(), theirs.eval()
        _compare(ours, theirs, [x], [True], dtype)
    if affine:
        np.testing.assert_allclose(np.asarray(ours.weight.grad.tolist()), theirs.weight.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("name, shape, match", [
    ("InstanceNorm1d", (2, 3, 4, 4), "expected 2D or 3D input, got 4D"),
    ("InstanceNorm3d", (2, 3, 4), "expected 4D or 5D input, got 3D"),
    ("BatchNorm3d", (2, 3, 4, 4), "expected 5D input, got 4D")])
def test_norm_layers_check_the_rank(name, shape, match):
    _same_error(lambda: getattr(nn, name)(3)(nr.ones(*shape)), lambda: getattr(torch.nn, name)(3)(torch.ones(shape)),
                ShapeError, match)


def test_everything_is_exported():
    names = ["ZeroPad1d", "ConstantPad3d", "ReflectionPad3d", "ReplicationPad2d", "CircularPad1d", "CosineSimilarity",
             "PairwiseDistance", "PoissonNLLLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "SoftMarginLoss",
             "MultiLabelSoftMarginLoss", "MultiMarginLoss", "InstanceNorm1d", "InstanceNorm3d", "BatchNorm3d"]
    assert all(name in nn.__all__ and hasattr(nn, name) for name in names)


@pytest.mark.parametrize("kwargs", [{}, {"swap": True, "margin": 0.5}, {"reduction": "none"}])
@pytest.mark.parametrize("cosine", [False, True])
def test_triplet_margin_with_distance_loss_matches_torch(kwargs, cosine):
    rng = np.random.default_rng(11)
    values = [rng.standard_normal((4, 3)) for _ in range(3)]
    ours = [nr.tensor(v, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    ours_distance = (lambda x, y: 1 - F.cosine_similarity(x, y)) if cosine else None
    theirs_distance = (lambda x, y: 1 - torch.nn.functional.cosine_similarity(x, y)) if cosine else None
    got = F.triplet_margin_with_distance_loss(*ours, distance_function=ours_distance, **kwargs)
    want = torch.nn.functional.triplet_margin_with_distance_loss(*theirs, distance_function=theirs_distance, **kwargs)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-10)
    got.sum().backward()
    want.sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_triplet_margin_with_distance_loss_module_repr_and_errors():
    assert repr(nn.TripletMarginWithDistanceLoss(margin=2.0)) == repr(torch.nn.TripletMarginWithDistanceLoss(margin=2.0))
    with pytest.raises(ArgumentError):
        nn.TripletMarginWithDistanceLoss(margin=0.0)
    with pytest.raises(ShapeError):
        F.triplet_margin_with_distance_loss(nr.zeros(2, 3), nr.zeros(3), nr.zeros(2, 3))


@pytest.mark.parametrize("shape, target", [((1, 4), [[3, 0, -1, 1]]),
                                           ((3, 5), [[0, 1, 2, 3, 4], [-1, 0, 0, 0, 0], [4, 4, 1, -1, 2]]),
                                           ((4,), [1, -1, 0, 0])])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_margin_loss_matches_torch(shape, target, reduction):
    x = np.random.default_rng(12).standard_normal(shape)
    ours, theirs = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    got = F.multilabel_margin_loss(ours, nr.tensor(target), reduction=reduction)
    want = torch.nn.functional.multilabel_margin_loss(theirs, torch.tensor(target), reduction=reduction)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    got.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_multilabel_margin_loss_checks_its_target():
    assert repr(nn.MultiLabelMarginLoss()) == repr(torch.nn.MultiLabelMarginLoss())
    with pytest.raises(IndexOutOfRangeError):
        F.multilabel_margin_loss(nr.zeros(1, 3), nr.tensor([[3, -1, 0]]))
    with pytest.raises(DTypeError):
        F.multilabel_margin_loss(nr.zeros(1, 3), nr.zeros(1, 3))
    with pytest.raises(ShapeError):
        F.multilabel_margin_loss(nr.zeros(1, 3), nr.tensor([[0, -1]]))


@pytest.mark.parametrize("make", [lambda m: m.BatchNorm1d(4, bias=False), lambda m: m.GroupNorm(2, 4, bias=False),
                                  lambda m: m.InstanceNorm1d(4, affine=True, bias=False),
                                  lambda m: m.BatchNorm1d(4, affine=False, bias=False)])
def test_norm_layers_take_bias_false_as_torch(make):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs) and sorted(ours.state_dict()) == sorted(theirs.state_dict())
    x = np.random.default_rng(13).standard_normal((3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(ours(nr.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               atol=1e-5)
