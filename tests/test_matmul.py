"""matmul / mm / bmm beyond the registry harness: shape rules, out=, the launcher's batch and index
paths, config fitting, the autotuned launch path, and the ahead-of-time compile for sm_80/sm_90."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import neurarust as nr
from neurarust.kernels import matmul as MM

RNG = np.random.default_rng(0)


def _rand(shape, dtype=np.float32):
    return RNG.uniform(-2, 2, size=shape).astype(dtype)


def _triton_matmul(a: np.ndarray, b: np.ndarray, **kw) -> nr.Tensor:
    with nr.backends.using("triton"):
        return nr.matmul(nr.from_numpy(a), nr.from_numpy(b), **kw)


def _assert_matches_numpy(got: nr.Tensor, a: np.ndarray, b: np.ndarray, tol=1e-5) -> None:
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=tol, atol=tol)


# -- shape rules -------------------------------------------------------------------------------

_size = st.integers(1, 3)
_batch = st.lists(st.integers(1, 3), max_size=3).map(tuple)


@given(st.booleans(), st.booleans(), _batch, _batch, _size, _size, _size, _size)
def test_plan_matches_numpy_shape_rules(a_1d, b_1d, a_batch, b_batch, m, k, k2, n):
    a = (k,) if a_1d else a_batch + (m, k)
    b = (k2,) if b_1d else b_batch + (k2, n)
    try:
        want = np.matmul(np.zeros(a), np.zeros(b)).shape
    except ValueError:
        with pytest.raises(nr.ShapeError, match="x".join(map(str, a))):
            MM.plan("matmul", a, b)
        return
    assert MM.plan("matmul", a, b)[-1] == want


def test_mm_message_names_both_shapes():
    with pytest.raises(nr.ShapeError, match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"):
        nr.mm(nr.ones(2, 3), nr.ones(4, 5))


@pytest.mark.parametrize("fn,a,b", [(nr.mm, (2, 3, 4), (4, 5)), (nr.bmm, (3, 4), (4, 5)),
                                    (nr.bmm, (2, 3, 4), (3, 4, 5))])
def test_mm_and_bmm_reject_other_ranks_and_batches(fn, a, b):
    with pytest.raises(nr.ShapeError):
        fn(nr.ones(*a), nr.ones(*b))


def test_integer_and_mixed_dtypes_raise_dtype_error():
    with pytest.raises(nr.DTypeError, match="floating dtypes only"):
        nr.matmul(nr.ones(2, 2, dtype=nr.int32), nr.ones(2, 2, dtype=nr.int32))
    with pytest.raises(nr.DTypeError, match="float32 and float16"):
        nr.matmul(nr.ones(2, 2), nr.ones(2, 2, dtype=nr.float16))


def test_operator_and_methods():
    a, b = nr.from_numpy(_rand((3, 4))), nr.from_numpy(_rand((4, 2)))
    for got in (a @ b, a.matmul(b), a.mm(b), a.unsqueeze(0).bmm(b.unsqueeze(0))[0]):
        _assert_matches_numpy(got, a.numpy(), b.numpy())


# -- the Triton path ---------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_out_may_be_non_contiguous(backend):
    a, b = _rand((4, 5)), _rand((5, 3))
    out = nr.zeros(3, 4).T
    with nr.backends.using(backend):
        got = nr.matmul(nr.from_numpy(a), nr.from_numpy(b), out=out)
    assert got is out
    _assert_matches_numpy(out, a, b)


def test_out_checks_shape_and_dtype():
    a, b = nr.ones(2, 3), nr.ones(3, 4)
    with pytest.raises(nr.ShapeError, match="out has shape 4x2"):
        nr.matmul(a, b, out=nr.zeros(4, 2))
    with pytest.raises(nr.DTypeError, match="float64"):
        nr.matmul(a, b, out=nr.zeros(2, 4, dtype=nr.float64))


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_out_overlapping_an_input_is_refused(backend):
    """Every input element is read many times (and autotuning reruns the kernel into out)."""
    a = nr.from_numpy(_rand((3, 3)))
    buf = nr.zeros(2, 3, 3)
    b = buf[0]
    b.copy_(a)
    with nr.backends.using(backend):
        for x, y, out in ((a, a, a), (a, b, buf[0]), (buf[0], a, buf[0].T)):
            with pytest.raises(nr.ArgumentError, match="mm"):
                nr.mm(x, y, out=out)
        got = nr.mm(a, b, out=buf[1])  # the same storage, elements apart: fine
    _assert_matches_numpy(got, a.numpy(), b.numpy())


def test_autotune_key_names_the_tensors_gpu(monkeypatch):
    from neurarust import autotune

    monkeypatch.setattr(autotune, "_cuda_name", lambda index: f"GPU{index}")
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.current_device", lambda: 0)
    assert autotune._device_name(1) == "GPU1" and autotune._device_name() == "GPU0"


def test_uncollapsible_batches_loop_on_the_host():
    # Batch (3, 2) where A repeats along dim 1 and B along dim 0: no single batch stride exists.
    a, b = _rand((3, 1, 5, 7)), _rand((2, 7, 4))
    before = nr.backends.launch_counts["matmul"]
    _assert_matches_numpy(_triton_matmul(a, b), a, b)
    assert nr.backends.launch_counts["matmul"] == before + 1


def test_long_batches_are_cut_into_grid_sized_chunks(monkeypatch):
    from neurarust.kernels import matmul_triton as MT

    monkeypatch.setattr(MT, "MAX_GRID_Y", 2)
    a, b = _rand((5, 3, 4)), _rand((5, 4, 2))
    _assert_matches_numpy(_triton_matmul(a, b), a, b)


def test_int64_offsets(monkeypatch):
    from neurarust.kernels import matmul_triton as MT

    monkeypatch.setattr(MT, "_index_dtype", lambda views: MT.tl.int64)
    a, b = _rand((2, 20, 17)), _rand((17, 18))
    _assert_matches_numpy(_triton_matmul(a, b), a, b)


def test_index_dtype_switches_to_int64_past_2_31():
    from neurarust.kernels import matmul_triton as MT
    from neurarust.tensor import Tensor

    small = nr.zeros(1, 2, 2)
    huge = Tensor(small._storage, (1, 2, 2), (0, 2**31, 1), 0, small.dtype)  # never dereferenced
    assert MT._index_dtype([small]) == MT.tl.int32
    assert MT._index_dtype([small, huge]) == MT.tl.int64


@pytest.mark.parametrize("dtype", [np.float16, nr.bfloat16.np])
def test_halves_accumulate_in_fp32(dtype):
    # 64 products of 1.0 + a small term: an fp16 accumulator would lose the small terms.
    a = np.full((2, 64), 1.0 + 2**-7, dtype=dtype)
    b = np.ones((64, 2), dtype=dtype)
    got = _triton_matmul(a, b).numpy().astype(np.float32)
    np.testing.assert_array_equal(got, np.full((2, 2), 64.5, np.float32))  # exact in both dtypes


def test_precision_follows_allow_tf32(monkeypatch):
    from neurarust.kernels import matmul_triton as MT

    assert MT._precision("float32", False, upcast=False) == "ieee"
    assert MT._precision("float32", True, upcast=False) == "tf32"
    assert MT._precision("float16", True, upcast=False) == "ieee"
    assert MM.allow_tf32 is False
    seen = {}
    monkeypatch.setattr(MM, "allow_tf32", True)
    monkeypatch.setattr(MT, "launch", lambda c, a, b, tune, allow_tf32: seen.setdefault("tf32", allow_tf32))
    monkeypatch.setattr(nr.registry.get("matmul"), "_launcher", None)
    with nr.backends.using("triton"):
        nr.matmul(nr.ones(2, 2), nr.ones(2, 2))
    assert seen == {"tf32": True}


@given(st.integers(1, 40), st.integers(0, 40), st.integers(1, 40), st.booleans(), st.booleans())
def test_random_sizes_and_layouts(m, k, n, a_t, b_t):
    a, b = _rand((m, k)), _rand((k, n))
    ta = nr.from_numpy(np.ascontiguousarray(a.T)).T if a_t else nr.from_numpy(a)
    tb = nr.from_numpy(np.ascontiguousarray(b.T)).T if b_t else nr.from_numpy(b)
    with nr.backends.using("triton"):
        got = nr.mm(ta, tb)
    _assert_matches_numpy(got, a, b)


# -- configs and the tuned launch path -----------------------------------------------------------

def test_configs_fit_every_dtype():
    from neurarust.kernels import matmul_triton as MT

    for itemsize, acc in ((2, 4), (4, 4), (8, 8)):
        for cfg in MM.TUNE.configs + [MM.TUNE.default]:
            fit = MT.fit_config(cfg, itemsize)
            shared = fit["num_stages"] * (fit["BLOCK_M"] + fit["BLOCK_N"]) * fit["BLOCK_K"] * itemsize
            assert shared <= MT.SHARED_BUDGET and fit["BLOCK_K"] >= 16
            assert fit["BLOCK_M"] * fit["BLOCK_N"] * acc // 4 <= MT.ACC_REGISTERS[itemsize] * 32 * fit["num_warps"]
    assert MT.fit_config(MM.TUNE.default, 2) == MM.TUNE.default


def test_gpu_launch_path_tunes_once_then_reuses(monkeypatch, tmp_path):
    """The non-interpreter path: autotune times the (fitted) configs once per key, then reuses."""
    from neurarust import autotune
    from neurarust import launch as L

    monkeypatch.setenv("NEURARUST_TUNE_CACHE", str(tmp_path / "tune.json"))
    monkeypatch.setattr(L, "INTERPRET", False)
    monkeypatch.setattr(autotune, "can_time", lambda: True)
    timed = []

    def fake_bench(fn):
        fn()
        timed.append(1)
        return float(len(timed))  # the first config tried wins

    monkeypatch.setattr(autotune, "_do_bench", fake_bench)
    autotune.clear()
    try:
        a, b = _rand((9, 20)), _rand((20, 7))
        _assert_matches_numpy(_triton_matmul(a, b), a, b)
        n_timed = len(timed)
        assert n_timed >= 2
        a, b = _rand((12, 30)), _rand((30, 5))
        _assert_matches_numpy(_triton_matmul(a, b), a, b)
        assert len(timed) == n_timed  # same bucket (16, 8, 32): reused, not timed again
        assert len(autotune._read_file(autotune.cache_path())) == 1
    finally:
        autotune.clear()


# -- ahead-of-time compile for real GPUs -------------------------------------------------------

@pytest.mark.compile
def test_aot_specs_compile_for_sm80_and_sm90_and_use_wgmma():
    from neurarust.kernels import aot

    results = aot.compile_all([80, 90], jobs=2, filter="matmul_triton:")
    assert results and all(r.ok for r in results), [(r.name, r.arch, r.failures) for r in results if not r.ok]
    wgmma = {r.name for r in results if r.arch == 90 and r.wgmma}
    assert {"matmul_float16_128x128x64_w4_s3_default", "matmul_bfloat16_128x128x64_w4_s3_default"} <= wgmma
