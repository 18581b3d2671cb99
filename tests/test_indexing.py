"""Advanced indexing (``x[key]``, ``x[key] = v``), repeated indices, accumulation, empty inputs and
deterministic mode of the indexing ops, against PyTorch. The registry harness (test_ops.py) covers
each op's samples on every dtype; this file covers what its samples cannot express."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust.kernels.indexing import getitem_advanced, is_advanced_key, where_single

BACKENDS = ["reference", "triton"]


def _x():
    return np.arange(24, dtype=np.float32).reshape(2, 3, 4)


def _mask(shape, seed=0):
    return np.random.default_rng(seed).random(shape) < 0.5


def _convert(key, make):
    """The key with its arrays made tensors by ``make`` (lists stay lists)."""
    if isinstance(key, tuple):
        return tuple(_convert(k, make) for k in key)
    return make(key) if isinstance(key, np.ndarray) else key


KEYS = [
    pytest.param([0, 1], id="list"),
    pytest.param(np.array([[1], [0]]), id="2d_index"),
    pytest.param((slice(None), [2, 0, 2]), id="repeated_dim1"),
    pytest.param((Ellipsis, [1, -1]), id="ellipsis_negative"),
    pytest.param(([0, 1], slice(None), [1, 2]), id="separated_by_slice"),
    pytest.param((slice(None), [0, 2], [1, 3]), id="adjacent_middle"),
    pytest.param(([[0], [1]], slice(1, 3), [[1, 2, 3]]), id="separated_broadcast"),
    pytest.param((None, [1, 0]), id="none_first"),
    pytest.param((0, slice(None), [1, 2]), id="int_is_basic"),
    pytest.param((1, [2, 0], slice(1, 4, 2)), id="int_index_step_slice"),
    pytest.param(([1, 0], Ellipsis, None), id="ellipsis_then_none"),
    pytest.param(np.array([1, 0], np.int32), id="int32"),
    pytest.param(_mask((2, 3, 4)), id="full_mask"),
    pytest.param(_mask((2, 3), 1), id="mask_leading_dims"),
    pytest.param((slice(None), np.array([True, False, True]), [0, 3]), id="mask_and_index"),
    pytest.param(([],), id="empty_list"),
    pytest.param(np.zeros((2, 3, 4), bool), id="empty_mask"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("key", KEYS)
def test_getitem_matches_pytorch(key, backend):
    x = _x()
    want = torch.from_numpy(x)[_convert(key, torch.from_numpy)]
    t = nr.from_numpy(x.copy())
    before = nr.backends.launch_counts["indexing:gather"]
    with nr.backends.using(backend):
        got = t[_convert(key, nr.from_numpy)]
    assert tuple(got.shape) == tuple(want.shape)
    launched = nr.backends.launch_counts["indexing:gather"] > before
    assert launched == (backend == "triton" and want.numel() > 0)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_getitem_of_a_transposed_view(backend):
    x = _x()
    want = torch.from_numpy(x).transpose(0, 2)[[3, 0], 1:, [1, 0]]
    with nr.backends.using(backend):
        got = nr.from_numpy(x).transpose(0, 2)[[3, 0], 1:, [1, 0]]
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("key", KEYS[:12] + KEYS[13:15])
def test_setitem_matches_pytorch(key, backend):
    x = _x()
    ref = torch.from_numpy(x.copy())
    tkey = _convert(key, torch.from_numpy)
    value = torch.arange(ref[tkey].numel(), dtype=torch.float32).reshape(ref[tkey].shape) + 100
    ref[tkey] = value
    t = nr.from_numpy(x.copy())
    with nr.backends.using(backend):
        t[_convert(key, nr.from_numpy)] = nr.from_numpy(value.numpy())
    np.testing.assert_array_equal(t.numpy(), ref.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_setitem_scalar_and_broadcast_value(backend):
    x, m = _x(), _mask((2, 3, 4), 2)
    ref = torch.from_numpy(x.copy())
    ref[torch.from_numpy(m)] = -1.0
    ref[:, [0, 2]] = torch.tensor([7.0, 8.0, 9.0, 10.0])
    t = nr.from_numpy(x.copy())
    with nr.backends.using(backend):
        t[nr.from_numpy(m)] = -1.0
        t[:, [0, 2]] = nr.tensor([7.0, 8.0, 9.0, 10.0])
    np.testing.assert_array_equal(t.numpy(), ref.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_repeated_index_assignment_last_write_wins(backend):
    """Documented: on the CPU and in deterministic mode the last write in index order wins, as in
    PyTorch on the CPU (the fast GPU path keeps any one of the values)."""
    nr.use_deterministic_algorithms(backend == "triton")
    try:
        t = nr.zeros(4, 2)
        with nr.backends.using(backend):
            t[[0, 3, 0, 0]] = nr.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    finally:
        nr.use_deterministic_algorithms(False)
    assert t.tolist() == [[4.0, 4.0], [0.0, 0.0], [0.0, 0.0], [2.0, 2.0]]


@pytest.mark.parametrize("deterministic", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_index_put_accumulate_matches_pytorch(backend, deterministic):
    x = _x()
    rows, cols = np.array([0, 1, 0, 0]), np.array([2, 2, 2, 0])
    values = np.arange(4 * 4, dtype=np.float32).reshape(4, 4)
    want = torch.from_numpy(x.copy()).index_put_((torch.from_numpy(rows), torch.from_numpy(cols)),
                                                 torch.from_numpy(values), accumulate=True)
    nr.use_deterministic_algorithms(deterministic)
    try:
        with nr.backends.using(backend):
            got = nr.from_numpy(x.copy()).index_put_((nr.from_numpy(rows), nr.from_numpy(cols)),
                                                     nr.from_numpy(values), accumulate=True)
    finally:
        nr.use_deterministic_algorithms(False)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_nonzero_and_masked_select_on_empty_tensors(backend):
    with nr.backends.using(backend):
        z = nr.zeros(0, 3)
        assert tuple(nr.nonzero(z).shape) == (0, 2)
        assert [tuple(c.shape) for c in nr.nonzero(z, as_tuple=True)] == [(0,), (0,)]
        assert tuple(nr.masked_select(z, nr.ones(3, dtype=nr.bool_)).shape) == (0,)
        assert tuple(nr.nonzero(nr.zeros(2, 2)).shape) == (0, 2)
        assert tuple(nr.masked_select(nr.ones(2, 2), nr.zeros(2, 2, dtype=nr.bool_)).shape) == (0,)
        assert tuple(nr.nonzero(nr.tensor(3.0)).shape) == (1, 0)
        assert [c.tolist() for c in where_single(nr.tensor(0.0))] == [[]]


def _accumulating_calls():
    """(name, call) of every op with an atomic fast path, on inputs whose float sums depend on order."""
    rng = np.random.default_rng(0)
    src = nr.from_numpy(rng.standard_normal(48).astype(np.float32) * 1e3)
    bins = nr.from_numpy(rng.integers(0, 3, 48))
    return [
        ("scatter_add", lambda: nr.zeros(3).scatter_add(0, bins, src)),
        ("index_add", lambda: nr.zeros(3, 2).index_add(0, bins, src.view(48, 1).expand(48, 2).contiguous())),
        ("index_put", lambda: nr.zeros(3).index_put((bins,), src, accumulate=True)),
    ]


@pytest.mark.parametrize("i", range(3), ids=["scatter_add", "index_add", "index_put"])
def test_deterministic_mode_is_bit_identical_and_close_to_the_fast_path(i):
    name, run = _accumulating_calls()[i]
    with nr.backends.using("triton"):
        fast = run().numpy()
        nr.use_deterministic_algorithms(True)
        try:
            before = nr.backends.launch_counts["indexing:lines"]
            first, second = run().numpy(), run().numpy()
            assert nr.backends.launch_counts["indexing:lines"] > before, f"{name}: the ordered path did not run"
        finally:
            nr.use_deterministic_algorithms(False)
    assert first.tobytes() == second.tobytes(), name
    np.testing.assert_allclose(first, fast, rtol=1e-5, atol=1e-2)
    with nr.backends.using("reference"):
        np.testing.assert_allclose(first, run().numpy(), rtol=1e-5, atol=1e-2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_index_errors(backend):
    x = nr.zeros(2, 3)
    with nr.backends.using(backend):
        with pytest.raises(nr.IndexOutOfRangeError, match=r"index 3 is out of bounds for dimension 1 with size 3"):
            x[:, [0, 3]]
        with pytest.raises(nr.IndexOutOfRangeError, match=r"\[-2, 2\)"):
            x[[-3]] = 1.0
        with pytest.raises(nr.DTypeError, match="indices"):
            x[nr.tensor([0.0])]
        with pytest.raises(nr.IndexOutOfRangeError, match="mask"):
            x[nr.ones(3, dtype=nr.bool_)]
        with pytest.raises(nr.IndexOutOfRangeError, match="broadcast"):
            x[[0, 1], [0, 1, 2]]


def test_is_advanced_key():
    assert not is_advanced_key((0, slice(None), None, Ellipsis, nr.tensor(1)))
    assert is_advanced_key([0]) and is_advanced_key((slice(None), nr.tensor([True])))
    assert getitem_advanced(nr.arange(4), [3, 1]).tolist() == [3, 1]


INPLACE = [
    ("scatter_", lambda m, x, i, s: x.scatter_(1, i, s)),
    ("scatter_value", lambda m, x, i, s: x.scatter_(1, i, 5.0, reduce="multiply")),
    ("scatter_add_", lambda m, x, i, s: x.scatter_add_(1, i, s)),
    ("scatter_reduce_", lambda m, x, i, s: x.scatter_reduce_(1, i, s, "amin", include_self=False)),
    ("index_add_", lambda m, x, i, s: x.index_add_(1, i[0], s, alpha=3)),
    ("index_copy_", lambda m, x, i, s: x.index_copy_(1, i[0, :2], s[:, :2])),
    ("index_fill_", lambda m, x, i, s: x.index_fill_(1, i[0], -2.0)),
    ("index_put_", lambda m, x, i, s: x.index_put_((i[1],), s[0, :4], accumulate=True)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,fn", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_methods_match_pytorch(name, fn, backend):
    x = np.arange(12, dtype=np.float32).reshape(3, 4) - 5
    index = np.array([[3, 0, 3, 1], [2, 2, 0, 1], [1, 0, 0, 0]])
    src = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    want = torch.from_numpy(x.copy())
    fn(torch, want, torch.from_numpy(index), torch.from_numpy(src))
    got = nr.from_numpy(x.copy())
    with nr.backends.using(backend):
        fn(nr, got, nr.from_numpy(index), nr.from_numpy(src))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gather_and_scatter_on_five_unmergeable_dims(backend):
    """More non-mergeable dims than the kernel walks: the launcher loops on the host."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 2, 2, 2, 3)).astype(np.float32)
    index = rng.integers(0, 3, (2, 2, 2, 2, 2))
    want = torch.from_numpy(a).permute(3, 1, 0, 2, 4).gather(-1, torch.from_numpy(index))
    with nr.backends.using(backend):
        got = nr.from_numpy(a).permute(3, 1, 0, 2, 4).gather(-1, nr.from_numpy(index))
        back = nr.zeros(2, 2, 2, 2, 3).scatter_add(-1, nr.from_numpy(index), got)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    want_back = torch.zeros(2, 2, 2, 2, 3).scatter_add(-1, torch.from_numpy(index), want)
    np.testing.assert_allclose(back.numpy(), want_back.numpy())


def test_deterministic_scatter_keeps_the_last_write():
    index = nr.tensor([[0, 0, 1, 0]])
    with nr.backends.using("triton"):
        nr.use_deterministic_algorithms(True)
        try:
            got = nr.zeros(1, 2).scatter(1, index, nr.tensor([[1.0, 2.0, 3.0, 4.0]]))
        finally:
            nr.use_deterministic_algorithms(False)
    assert got.tolist() == [[4.0, 3.0]]


def test_advanced_indexing_records_gradients():
    x = nr.arange(6.0).view(2, 3).requires_grad_()
    x[:, [2, 0, 2]].sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 2.0], [1.0, 0.0, 2.0]]
    x.grad = None
    y = x * 1
    y[[0]] = 5.0  # the overwritten row gets no gradient
    (y * y).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 0.0], [6.0, 8.0, 10.0]]
