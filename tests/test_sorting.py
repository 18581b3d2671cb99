"""Sorting-family behaviours the registry harness cannot express: stability on many equal keys across
kernel blocks, NaN placement, named-tuple results, float weights of bincount, deterministic bincount,
and empty inputs of unique/bincount/histc on both backends."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr

BACKENDS = ["reference", "triton"]
NAN = float("nan")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("descending", [False, True])
def test_argsort_is_stable_on_many_equal_keys(backend, descending):
    # 3 keys over 150 elements: every tie spans several 64-element blocks of the rank kernel.
    keys = np.random.default_rng(0).integers(0, 3, size=(2, 150)).astype(np.float32)
    want = torch.from_numpy(keys).argsort(dim=1, descending=descending, stable=True).numpy()
    with nr.backends.using(backend):
        got = nr.argsort(nr.from_numpy(keys), dim=1, descending=descending, stable=True)
        unstable = nr.from_numpy(keys).sort(1, descending).indices  # always stable here, too
    np.testing.assert_array_equal(got.numpy(), want)
    np.testing.assert_array_equal(unstable.numpy(), want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_sorts_last_ascending_and_first_descending(backend):
    x = nr.tensor([2.0, NAN, -1.0, NAN, 0.0])
    with nr.backends.using(backend):
        up, down = x.sort(), x.sort(descending=True)
        top = x.topk(2)
    assert up.indices.tolist() == [2, 4, 0, 1, 3]
    assert down.indices.tolist() == [1, 3, 0, 4, 2]
    assert np.isnan(up.values.numpy()[3:]).all() and np.isnan(down.values.numpy()[:2]).all()
    assert np.isnan(top.values.numpy()[0]) and top.indices.tolist()[0] in (1, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_results_are_named_tuples(backend):
    x = nr.tensor([[3, 1, 2], [1, 1, 0]])
    with nr.backends.using(backend):
        results = {"sort": x.sort(), "topk": x.topk(1), "kthvalue": x.kthvalue(1), "median": x.median(1),
                   "mode": x.mode(1)}
    for name, r in results.items():
        values, indices = r
        assert type(r).__name__ == name and r.values is values and r[1] is indices
        assert indices.dtype == nr.int64 and values.dtype == nr.int64
    assert results["mode"].values.tolist() == [1, 1] and results["mode"].indices.tolist() == [1, 1]
    assert results["median"].values.tolist() == [2, 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_topk_unsorted_holds_the_same_elements(backend):
    a = np.random.default_rng(1).permutation(20).astype(np.float32)
    with nr.backends.using(backend):
        r = nr.topk(nr.from_numpy(a), 4, sorted=False)
    assert sorted(r.values.tolist()) == [16.0, 17.0, 18.0, 19.0]
    np.testing.assert_array_equal(a[r.indices.numpy()], r.values.numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_inputs(backend):
    empty_f, empty_i = nr.zeros(0), nr.zeros(0, dtype=nr.int64)
    with nr.backends.using(backend):
        values, inverse, counts = nr.unique(nr.zeros(2, 0), return_inverse=True, return_counts=True)
        assert values.shape == (0,) and inverse.shape == (2, 0) and counts.dtype == nr.int64
        assert nr.bincount(empty_i).tolist() == []
        assert nr.bincount(empty_i, minlength=3).tolist() == [0, 0, 0]
        assert nr.bincount(empty_i, weights=empty_f).dtype == nr.int64  # as PyTorch
        assert nr.histc(empty_f, bins=3).tolist() == [0.0, 0.0, 0.0]
        assert np.isnan(nr.median(empty_f).item())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("wdtype", [nr.float32, nr.float16, nr.float64])
def test_bincount_float_weights_match_pytorch(backend, wdtype):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 6, 40)
    w = rng.uniform(-1, 1, 40).astype(wdtype.np)
    want = torch.bincount(torch.from_numpy(x), torch.from_numpy(w), minlength=8)
    with nr.backends.using(backend):
        got = nr.bincount(nr.from_numpy(x), nr.from_numpy(w), minlength=8)
    assert got.dtype.name == str(want.dtype).removeprefix("torch.")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)


def test_deterministic_bincount_is_bit_identical_across_runs():
    rng = np.random.default_rng(3)
    x = nr.from_numpy(rng.integers(0, 20, 600))
    w = nr.from_numpy(rng.uniform(-1, 1, 600).astype(np.float32))
    before = nr.backends.launch_counts["sorting:bincount_ordered"]
    nr.use_deterministic_algorithms(True)
    try:
        with nr.backends.using("triton"):
            runs = [nr.bincount(x, w).numpy().copy() for _ in range(2)]
    finally:
        nr.use_deterministic_algorithms(False)
    assert nr.backends.launch_counts["sorting:bincount_ordered"] == before + 2
    assert runs[0].tobytes() == runs[1].tobytes()
    want = torch.bincount(torch.from_numpy(x.numpy()), torch.from_numpy(w.numpy())).numpy()
    np.testing.assert_allclose(runs[0], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("descending", [False, True])
def test_rows_longer_than_a_run_take_the_merge_path(monkeypatch, descending):
    from neurarust.kernels import sorting as K

    monkeypatch.setitem(K.RANK_CONFIG, "RUN", 16)  # 70-element rows: runs of 16, three merge passes
    rng = np.random.default_rng(4)
    a = rng.integers(0, 4, size=(2, 70)).astype(np.float32)
    a[0, ::9], a[1, 5] = np.nan, -0.0
    t, x = torch.from_numpy(a), nr.from_numpy(a)
    before = nr.backends.launch_counts["sorting:merge"]
    with nr.backends.using("triton"):
        r = x.sort(1, descending=descending, stable=True)
        top = x.topk(3, largest=not descending)
        med = x.median(1)
        values, inverse, counts = nr.unique(x, return_inverse=True, return_counts=True)
    assert nr.backends.launch_counts["sorting:merge"] > before
    want = t.sort(dim=1, descending=descending, stable=True)
    np.testing.assert_array_equal(r.indices.numpy(), want.indices.numpy())
    np.testing.assert_array_equal(r.values.numpy(), want.values.numpy())
    smallest_first = t.sort(dim=1, descending=not descending, stable=True).indices.numpy()
    np.testing.assert_array_equal(top.indices.numpy(), smallest_first[:, :3])
    with nr.backends.using("reference"):
        ref_med = x.median(1)
        ref_unique = nr.unique(x, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(med.indices.numpy(), ref_med.indices.numpy())
    for got, ref in zip((values, inverse, counts), ref_unique):
        np.testing.assert_array_equal(got.numpy(), ref.numpy())
