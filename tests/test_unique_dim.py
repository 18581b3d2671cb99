"""unique(dim=) and unique_consecutive(dim=) against PyTorch: the distinct (or run-collapsed) slices
along a dim, with inverse indices and counts per slice, for integer, bool and float inputs of 1 to 3
dims, negative dims, layouts, empty dims, and the errors PyTorch raises (as NeuraRustError subclasses)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr

BACKENDS = ["reference", "triton"]
NAN = float("nan")
FLAGS = [(False, False), (True, False), (False, True), (True, True)]
FEW_FLAGS = [(False, False), (True, True)]  # the slow cases (the interpreter): the results bare and all of them


def _as_torch(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def _same(got, want) -> None:
    """Equal results (values compared with ==, NaN where PyTorch has NaN), shapes and dtypes."""
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape), (tuple(g.shape), tuple(w.shape))
        assert g.dtype.name == str(w.dtype).removeprefix("torch."), (g.dtype, w.dtype)
        gv = g.to(nr.float32).numpy() if g.dtype is nr.bfloat16 else g.numpy()
        wv = w.float().numpy() if w.dtype == torch.bfloat16 else w.numpy()
        np.testing.assert_array_equal(gv, wv)


def _few_levels(shape, seed, levels=2) -> np.ndarray:
    """Small integers: slices repeat often."""
    return np.random.default_rng(seed).integers(0, levels, shape)


CASES = [  # (shape, dim, levels)
    ((9,), 0, 4), ((9,), -1, 3),
    ((8, 3), 0, 2), ((8, 3), -2, 2), ((3, 8), 1, 2), ((3, 8), -1, 2), ((5, 1), 0, 3), ((1, 5), 0, 3),
    ((6, 4, 2), 0, 2), ((4, 6, 2), 1, 2), ((2, 3, 7), 2, 2), ((2, 3, 7), -1, 2), ((4, 6, 2), -2, 2),
    ((12, 70), 0, 2),   # wide slices: seven rounds of pairing columns, odd counts padded
    ((200, 3), 0, 3),   # many slices, most of them repeated
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape,dim,levels", CASES, ids=[f"{s}-dim{d}" for s, d, _ in CASES])
def test_integer_slices_match_pytorch(backend, shape, dim, levels):
    a = _few_levels(shape, sum(shape) + dim, levels)
    x, tx = nr.from_numpy(a), _as_torch(a)
    with nr.backends.using(backend):
        for inv, cnt in FLAGS if a.size < 100 else FEW_FLAGS:
            _same(nr.unique(x, return_inverse=inv, return_counts=cnt, dim=dim),
                  torch.unique(tx, return_inverse=inv, return_counts=cnt, dim=dim))
            _same(nr.unique_consecutive(x, return_inverse=inv, return_counts=cnt, dim=dim),
                  torch.unique_consecutive(tx, return_inverse=inv, return_counts=cnt, dim=dim))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [nr.float32, nr.float64, nr.float16, nr.bfloat16, nr.int8, nr.uint8, nr.int32,
                                   nr.bool_], ids=lambda d: d.name)
def test_dtypes_match_pytorch(backend, dtype):
    a = _few_levels((7, 4, 3), 5, 2 if dtype is nr.bool_ else 3)
    if dtype.is_floating_point:
        a = a * 1.5 - 1.0  # negative values and non-integers
    x = nr.from_numpy(a).to(dtype)
    tx = _as_torch(a).to(dtype.to_torch())
    with nr.backends.using(backend):
        for dim in (0, 1, -1):
            _same(nr.unique(x, return_inverse=True, return_counts=True, dim=dim),
                  torch.unique(tx, return_inverse=True, return_counts=True, dim=dim))
            _same(nr.unique_consecutive(x, return_inverse=True, return_counts=True, dim=dim),
                  torch.unique_consecutive(tx, return_inverse=True, return_counts=True, dim=dim))


@pytest.mark.parametrize("backend", BACKENDS)
def test_layouts_and_sorted_flag(backend):
    a = _few_levels((5, 8), 11)
    x = nr.from_numpy(np.ascontiguousarray(a.T)).T           # transposed view
    s = nr.from_numpy(_few_levels((10, 8), 12))[::2]          # strided view
    with nr.backends.using(backend):
        for t in (x, s):
            tt = _as_torch(t.numpy())
            for dim in (0, 1):
                for sorted_ in (True, False):  # PyTorch sorts slices either way
                    _same(nr.unique(t, sorted=sorted_, return_inverse=True, return_counts=True, dim=dim),
                          torch.unique(tt, sorted=sorted_, return_inverse=True, return_counts=True, dim=dim))
        _same(x.unique(dim=1, return_counts=True), _as_torch(a).unique(dim=1, return_counts=True))


@pytest.mark.parametrize("backend", BACKENDS)
def test_lexicographic_order_of_float_slices(backend):
    rows = [[0.5, -2.0, 3.0], [0.5, -3.0, 9.0], [-1.0, 7.0, 7.0], [0.5, -2.0, 3.0], [0.5, -2.0, 2.5],
            [-1.0, 7.0, 7.0], [1e30, -1e30, 0.0], [-0.0, 1.0, 1.0], [0.0, 1.0, 1.0]]
    with nr.backends.using(backend):
        for inv, cnt in FLAGS:
            _same(nr.unique(nr.tensor(rows), return_inverse=inv, return_counts=cnt, dim=0),
                  torch.unique(torch.tensor(rows), return_inverse=inv, return_counts=cnt, dim=0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_slices_are_each_their_own(backend):
    rows = [[NAN, 1.0], [NAN, 1.0], [0.0, 1.0], [-0.0, 1.0], [2.0, NAN]]
    with nr.backends.using(backend):
        # Runs: NaN != NaN ends a run, -0.0 == 0.0 continues one, as PyTorch's.
        _same(nr.unique_consecutive(nr.tensor(rows), return_inverse=True, return_counts=True, dim=0),
              torch.unique_consecutive(torch.tensor(rows), return_inverse=True, return_counts=True, dim=0))
        # Sorted: PyTorch's order of NaN slices is unspecified; each is a group of one here.
        values, inverse, counts = nr.unique(nr.tensor(rows), return_inverse=True, return_counts=True, dim=0)
    assert counts.tolist() == [2, 1, 1, 1] and values.numpy()[0].tolist() == [0.0, 1.0]
    assert sorted(inverse.tolist()) == [0, 0, 1, 2, 3] and inverse.tolist()[2:4] == [0, 0]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape,dim", [((0, 3), 0), ((3, 0), 1), ((0,), 0), ((2, 0, 3), 1), ((2, 0, 3), -2)])
def test_empty_selected_dim_matches_pytorch(backend, shape, dim):
    x, tx = nr.zeros(*shape), torch.zeros(*shape)
    with nr.backends.using(backend):
        for fn, tfn in ((nr.unique, torch.unique), (nr.unique_consecutive, torch.unique_consecutive)):
            _same(fn(x, return_inverse=True, return_counts=True, dim=dim),
                  tfn(tx, return_inverse=True, return_counts=True, dim=dim))


def test_one_slice_and_all_equal_slices():
    for a in (np.array([[3, 4, 5]]), np.ones((4, 2), np.int64)):
        for fn, tfn in ((nr.unique, torch.unique), (nr.unique_consecutive, torch.unique_consecutive)):
            _same(fn(nr.from_numpy(a), return_inverse=True, return_counts=True, dim=0),
                  tfn(_as_torch(a), return_inverse=True, return_counts=True, dim=0))


def test_dim_none_is_unchanged():
    a = _few_levels((4, 5), 3, 4)
    _same(nr.unique(nr.from_numpy(a), return_inverse=True, return_counts=True),
          torch.unique(_as_torch(a), return_inverse=True, return_counts=True))
    _same(nr.unique_consecutive(nr.from_numpy(a), return_inverse=True),
          torch.unique_consecutive(_as_torch(a), return_inverse=True))


def test_results_need_no_grad_for_unique_and_follow_the_input_for_unique_consecutive():
    x = nr.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 3.0]], requires_grad=True)
    values, inverse, counts = nr.unique(x, return_inverse=True, return_counts=True, dim=0)
    assert not values.requires_grad and not inverse.requires_grad and not counts.requires_grad
    values, inverse = nr.unique_consecutive(x, return_inverse=True, dim=0)
    assert values.requires_grad and not inverse.requires_grad
    (g,) = nr.autograd.grad(values.sum(), x)  # each run's first slice
    assert g.tolist() == [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["unique", "unique_consecutive"])
@pytest.mark.parametrize("make,dim,error,match", [
    (lambda: nr.ones(3), 1, IndexError, "out of range"),
    (lambda: nr.ones(2, 3), -3, IndexError, "out of range"),
    (lambda: nr.tensor(1.0), 0, IndexError, "0-d"),
    (lambda: nr.tensor(1.0), -1, IndexError, "0-d"),
    (lambda: nr.zeros(0, 3), 1, ValueError, "0 sized dimensions, and they aren't selected"),
    (lambda: nr.zeros(3, 0), 0, ValueError, "0 sized dimensions, and they aren't selected"),
    (lambda: nr.zeros(0, 0), 0, ValueError, "more than one"),
    (lambda: nr.zeros(0, 2, 0), 0, ValueError, "more than one"),
])
def test_errors_where_pytorch_raises(backend, name, make, dim, error, match):
    x = make()
    with pytest.raises((IndexError, RuntimeError)):
        getattr(torch, name)(torch.from_numpy(x.numpy()), dim=dim)
    with nr.backends.using(backend), pytest.raises(error, match=match) as info:
        getattr(nr, name)(x, dim=dim)
    assert isinstance(info.value, nr.NeuraRustError)
