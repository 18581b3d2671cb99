"""searchsorted, bucketize, cummax and cummin against PyTorch, for what the registry harness cannot
express: mixed dtypes and Python scalars, side/right rules, NaN inside a sorted row, named-tuple
results, chunk crossings of the pair scan, gradients through ties and second derivatives, and
errors as NeuraRustError subclasses."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr

BACKENDS = ["reference", "triton"]
NAN = float("nan")


def _same(got, want) -> None:
    """Equal values (NaN where PyTorch has NaN), shape and dtype."""
    assert str(want.dtype).removeprefix("torch.") == got.dtype.name
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_searchsorted_sides_ties_and_both_ends(backend):
    seq = [1.0, 2.0, 2.0, 2.0, 3.0]
    probes = [[0.0, 1.0, 2.0], [2.5, 3.0, 9.0]]
    s, v = nr.tensor(seq), nr.tensor(probes)
    ts, tv = torch.tensor(seq), torch.tensor(probes)
    with nr.backends.using(backend):
        _same(nr.searchsorted(s, v), torch.searchsorted(ts, tv))
        _same(nr.searchsorted(s, v, right=True), torch.searchsorted(ts, tv, right=True))
        _same(nr.searchsorted(s, v, side="right", out_int32=True), torch.searchsorted(ts, tv, side="right",
                                                                                   out_int32=True))
        _same(nr.searchsorted(s, v, side="left", right=False), torch.searchsorted(ts, tv, side="left", right=False))


@pytest.mark.parametrize("backend", BACKENDS)
def test_searchsorted_rows_scalars_and_sorter(backend):
    rows = [[1, 3, 5, 7], [2, 2, 4, 4]]
    probes = [[3, 0], [4, 9]]
    unsorted = [3.0, 1.0, 2.0, 1.0]
    with nr.backends.using(backend):
        _same(nr.searchsorted(nr.tensor(rows), nr.tensor(probes), right=True),
              torch.searchsorted(torch.tensor(rows), torch.tensor(probes), right=True))
        _same(nr.searchsorted(nr.tensor(rows[0]), 5), torch.searchsorted(torch.tensor(rows[0]), 5))
        _same(nr.searchsorted(nr.tensor(rows[0]), nr.tensor(5)), torch.searchsorted(torch.tensor(rows[0]),
                                                                                   torch.tensor(5)))
        _same(nr.bucketize(7, nr.tensor(rows[0]), right=True), torch.bucketize(7, torch.tensor(rows[0]), right=True))
        sorter = nr.argsort(nr.tensor(unsorted), stable=True)
        got = nr.searchsorted(nr.tensor(unsorted), nr.tensor([1.0, 2.5]), sorter=sorter, side="right")
    want = torch.searchsorted(torch.tensor(unsorted), torch.tensor([1.0, 2.5]),
                              sorter=torch.argsort(torch.tensor(unsorted), stable=True), side="right")
    _same(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_searchsorted_promotes_as_pytorch(backend):
    i32 = [1, 2, 3]
    cases = [
        (nr.tensor(i32, dtype=nr.int32), 2.5, torch.tensor(i32, dtype=torch.int32), 2.5),  # float scalar: float32
        (nr.tensor(i32, dtype=nr.int32), 2**32 + 2, torch.tensor(i32, dtype=torch.int32), 2**32 + 2),  # wraps
        (nr.tensor(i32, dtype=nr.int8), nr.tensor([200]), torch.tensor(i32, dtype=torch.int8), torch.tensor([200])),
        (nr.tensor([0.1]), nr.tensor([0.1], dtype=nr.float64), torch.tensor([0.1]),
         torch.tensor([0.1], dtype=torch.float64)),
        (nr.tensor([1.0, 2.0], dtype=nr.bfloat16), nr.tensor([1.5], dtype=nr.float16),
         torch.tensor([1.0, 2.0], dtype=torch.bfloat16), torch.tensor([1.5], dtype=torch.float16)),
    ]
    with nr.backends.using(backend):
        for s, v, ts, tv in cases:
            _same(nr.searchsorted(s, v, right=True), torch.searchsorted(ts, tv, right=True))


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_in_the_row_follows_pytorchs_bisection(backend):
    # NaN makes the row unsorted: the answer is where PyTorch's bisection ends, not np.searchsorted's.
    for seq in ([1.0, 6.0, NAN, NAN, NAN], [1.0, NAN], [NAN, 1.0, 2.0]):
        for right in (False, True):
            with nr.backends.using(backend):
                got = nr.searchsorted(nr.tensor(seq), nr.tensor([5.0, NAN, -1.0]), right=right)
            _same(got, torch.searchsorted(torch.tensor(seq), torch.tensor([5.0, NAN, -1.0]), right=right))


@pytest.mark.parametrize("call, match", [
    (lambda: nr.searchsorted(nr.tensor([1.0]), nr.tensor([1.0]), right=True, side="left"), "opposites"),
    (lambda: nr.searchsorted(nr.ones(2, 3), nr.tensor(1.0)), "scalar only when"),
    (lambda: nr.searchsorted(nr.ones(2, 3), nr.ones(3, 3)), "first N-1 dimensions"),
    (lambda: nr.searchsorted(nr.tensor([1.0, 2.0]), nr.tensor([1.0]), sorter=nr.tensor([0, 2])), "out of range"),
    (lambda: nr.bucketize(nr.tensor([1.0]), nr.ones(2, 2)), "must be 1 dimension"),
    (lambda: nr.cummax(nr.ones(2, 3), 2), "out of range"),
])
def test_errors_are_neurarust_errors(call, match):
    with pytest.raises(nr.NeuraRustError, match=match):
        call()


def test_methods_exist_where_pytorch_has_them():
    for name in ("searchsorted", "bucketize", "cummax", "cummin"):
        assert hasattr(nr.Tensor, name) == hasattr(torch.Tensor, name), name


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cumextreme_nan_ties_signed_zeros_and_bool(backend, name):
    rows = [[1.0, 3.0, 3.0, 2.0, 3.0, NAN, 5.0, NAN, 1.0], [-0.0, 0.0, -0.0, 0.0, -0.0, 2.0, 2.0, 1.0, 1.0]]
    for x in (torch.tensor(rows), torch.tensor([[True, False, True, True]]), torch.tensor([[2, 2, 1, 2, 9]]),
              torch.tensor(3.5)):
        with nr.backends.using(backend):
            got = getattr(nr.from_numpy(x.numpy()), name)(-1)
        want = getattr(torch, name)(x, -1)
        assert type(got).__name__ == name and got._fields == ("values", "indices")
        _same(got.indices, want.indices)
        _same(got.values, want.values)
        assert np.array_equal(np.signbit(got.values.numpy()), np.signbit(want.values.numpy()))  # -0.0 kept


def test_cumextreme_kernel_carries_across_chunks():
    from neurarust.kernels import cumextrema_triton as K

    x = np.random.default_rng(0).integers(0, 4, (3, 50)).astype(np.float32)
    x[1, 17] = np.nan
    for is_max, fn in ((True, torch.cummax), (False, torch.cummin)):
        values, indices = nr.empty(3, 50), nr.empty(3, 50, dtype=nr.int64)
        K.launch(values, indices, nr.from_numpy(x).t().contiguous().t(), 1, is_max, max_block_n=8)
        want = fn(torch.from_numpy(x), 1)
        np.testing.assert_array_equal(indices.numpy(), want.indices.numpy())
        np.testing.assert_array_equal(values.numpy(), want.values.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_cumextreme_gradients_through_ties_and_second_order(backend):
    data = [[1.0, 3.0, 3.0, 2.0], [4.0, 0.0, 4.0, 4.0]]
    weights = [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]
    with nr.backends.using(backend):
        x = nr.tensor(data, requires_grad=True)
        values = x.cummax(1).values
        (g,) = nr.autograd.grad((values * values * nr.tensor(weights)).sum(), x, create_graph=True)
        (gg,) = nr.autograd.grad(g.sum(), x)
    tx = torch.tensor(data, requires_grad=True)
    tv = tx.cummax(1).values
    (tg,) = torch.autograd.grad((tv * tv * torch.tensor(weights)).sum(), tx, create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), tx)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy())
    np.testing.assert_allclose(gg.numpy(), tgg.numpy())
