"""Reduction, scan and softmax behaviours the registry harness cannot express: int64 offsets past
2**31, every tune config and combine, Tensor methods, mean of integers with ``dtype=``, the call
forms of max/min and var/std, and scans and softmax rows spread over many chunks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust.kernels import reduction as R
from neurarust.kernels import reduction_triton as RT
from neurarust.launch import tl


def _kernel(x: nr.Tensor, dims, kind: str, out_dtype, **kw) -> np.ndarray:
    kept = [s for i, s in enumerate(x.shape) if i not in dims]
    out = nr.empty(kept, dtype=out_dtype)
    RT.launch(out, x, dims, kind, **kw)
    return out.numpy()


def test_offsets_past_int32_use_int64_math():
    big = nr.empty(2**32 + 64, dtype=nr.uint8)  # virtual memory: only the touched pages are real
    raw = big.numpy()
    raw[16:24] = np.arange(1, 9, dtype=np.uint8)
    raw[2**32 + 16:2**32 + 24] = np.arange(100, 108, dtype=np.uint8)
    view = big._view((2, 8), (2**32, 1), 16)  # row 1 sits past offset 2**32
    expected = [int(np.arange(1, 9).sum()), int(np.arange(100, 108).sum())]
    with nr.backends.using("triton"):
        assert view.sum(1).tolist() == expected
    # Forced int32 index math wraps the row stride to 0: row 1 reads row 0. Proves the test reaches
    # the int64 path rather than passing by luck.
    wrapped = _kernel(view, (1,), "sum", nr.int64, index_dtype=tl.int32)
    assert wrapped.tolist() != expected


@pytest.mark.parametrize("config", R.CONFIGS, ids=lambda c: f"{c['BLOCK_M']}x{c['BLOCK_N']}")
def test_every_tune_config_gives_the_same_result(config):
    rng = np.random.default_rng(0)
    a = rng.integers(-50, 50, size=(5, 300)).astype(np.float32)
    a[1, [40, 290]] = 60.0            # a tie across chunks: the first index wins
    a[2, [250, 7]] = np.nan           # NaN beats every number; the first NaN wins
    a[3, :] = -np.inf                 # every lane ties at -inf
    x = nr.from_numpy(a)
    for dims, axis in (((1,), 1), ((0,), 0)):  # reduced dim contiguous, then kept dim contiguous
        np.testing.assert_array_equal(_kernel(x, dims, "sum", nr.float32, config=config), a.sum(axis))
        np.testing.assert_array_equal(_kernel(x, dims, "max", nr.float32, config=config), a.max(axis))
        np.testing.assert_array_equal(_kernel(x, dims, "argmax", nr.int64, config=config), a.argmax(axis))
        np.testing.assert_array_equal(_kernel(x, dims, "argmin", nr.int64, config=config), a.argmin(axis))


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_tensor_methods_match_pytorch(backend):
    a = np.random.default_rng(1).uniform(-3, 3, size=(2, 3, 4)).astype(np.float32)
    x, t = nr.from_numpy(a), torch.from_numpy(a)
    with nr.backends.using(backend):
        pairs = [
            (x.sum(1), t.sum(1)),
            (x.mean(dim=(0, 2), keepdim=True), t.mean(dim=(0, 2), keepdim=True)),
            (x.argmax(), t.argmax()),
            (x.amin(-1), t.amin(-1)),
            (x.argmin(dim=0, keepdim=True), t.argmin(dim=0, keepdim=True)),
        ]
    for got, want in pairs:
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_mean_of_integers_with_a_float_dtype(backend):
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    with nr.backends.using(backend):
        got = nr.mean(nr.from_numpy(a), 1, dtype=nr.float32)
    want = torch.mean(torch.from_numpy(a), 1, dtype=torch.float32)
    assert got.dtype is nr.float32
    np.testing.assert_allclose(got.numpy(), want.numpy())


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("values", [[-0.0, -0.0], [-1.0, -0.0], [-0.0, 0.0, -0.0]], ids=str)
def test_amax_amin_keep_the_sign_of_zero(backend, name, values):
    a = np.array(values, dtype=np.float32)
    want = getattr(torch, name)(torch.from_numpy(a), 0).numpy()
    with nr.backends.using(backend):
        got = getattr(nr, name)(nr.from_numpy(a), 0).numpy()
    assert got == want and np.signbit(got) == np.signbit(want), (got, want)


def test_cpu_tensors_outside_the_interpreter_raise_device_error(monkeypatch):
    from neurarust import launch as L

    monkeypatch.setattr(L, "CPU_POINTERS", False)  # what a GPU machine without TRITON_INTERPRET sees
    with nr.backends.using("triton"), pytest.raises(nr.DeviceError, match="TRITON_INTERPRET=1"):
        nr.sum(nr.ones(3))


class _FakeCudaTensor:
    def __init__(self, index):
        self._storage = type("S", (), {"device": nr.device("cuda", index)})()


def test_on_device_switches_only_to_another_cuda_device(monkeypatch):
    from neurarust import launch as L

    entered = []
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device", lambda index: entered.append(index) or L._SAME_DEVICE)
    with L.on_device(nr.ones(2)), L.on_device(_FakeCudaTensor(0)):
        pass
    assert entered == []  # CPU and current-device tensors: no switch
    with L.on_device(_FakeCudaTensor(1)):
        pass
    assert entered == [1]


# -- prod, var, logsumexp, all/any, norms: the other combines of the one kernel ------------------

@pytest.mark.parametrize("config", R.CONFIGS[::2], ids=lambda c: f"{c['BLOCK_M']}x{c['BLOCK_N']}")
def test_every_combine_crosses_chunks_and_tiles_alike(config):
    rng = np.random.default_rng(2)
    a = rng.uniform(0.5, 1.5, size=(5, 300))
    a[1, 7] = 0.0                     # a zero: prod 0, all False
    a[2, 250] = np.nan                # NaN: propagates through every fold
    a[3, :] = -np.inf                 # logsumexp of -inf is -inf
    x = nr.from_numpy(a)
    for dims, axis in (((1,), 1), ((0,), 0)):
        def run(kind, out_dtype=nr.float64, **kw):
            return _kernel(x, dims, kind, out_dtype, config=config, **kw)
        with np.errstate(all="ignore"):
            np.testing.assert_allclose(run("prod"), a.prod(axis), rtol=1e-12)
            np.testing.assert_allclose(run("var", param=1.0), a.var(axis, ddof=1), rtol=1e-12)
            np.testing.assert_allclose(run("logsumexp"), R._ref_logsumexp(a, dims), rtol=1e-12)
            np.testing.assert_allclose(run("normp", param=3.0), (np.abs(a) ** 3).sum(axis) ** (1 / 3), rtol=1e-6)
        np.testing.assert_array_equal(run("all", nr.bool_), a.all(axis))
        np.testing.assert_array_equal(run("any", nr.bool_), (a != 0).any(axis))


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_max_min_forms_match_pytorch(backend):
    a = np.array([[1.0, 7.0, 7.0], [3.0, np.nan, 2.0]], dtype=np.float32)
    b = np.array([2.0, 2.0, 9.0], dtype=np.float32)
    x, t = nr.from_numpy(a), torch.from_numpy(a)
    with nr.backends.using(backend):
        full, by_dim, other = nr.max(x), x.min(1, keepdim=True), nr.max(x, nr.from_numpy(b))
        values, indices = nr.max(x, dim=1)
    want = torch.max(t, dim=1)
    assert type(by_dim).__name__ == "min" and by_dim.values.shape == (2, 1)
    np.testing.assert_array_equal(values.numpy(), want.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), want.indices.numpy())  # first of the tied 7s; the NaN
    np.testing.assert_array_equal(by_dim.indices.numpy(), torch.min(t, 1, keepdim=True).indices.numpy())
    assert np.isnan(full.item()) and full.shape == ()
    np.testing.assert_array_equal(other.numpy(), torch.max(t, torch.from_numpy(b)).numpy())


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_var_std_call_forms_match_pytorch(backend):
    a = np.random.default_rng(3).uniform(-2, 2, size=(3, 5)).astype(np.float64)
    x, t = nr.from_numpy(a), torch.from_numpy(a)
    with nr.backends.using(backend):
        got = [x.var(1, False), nr.std(x, False), nr.var(x, dim=0, correction=2, keepdim=True),
               *nr.std_mean(x, (0, 1))]
    want = [t.var(1, False), torch.std(t, False), torch.var(t, dim=0, correction=2, keepdim=True),
            *torch.std_mean(t, (0, 1))]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-12)


# -- scans and softmax: rows longer than one chunk ----------------------------------------------

def test_scans_carry_across_many_chunks():
    from neurarust.kernels import scan_triton as ST

    a = np.random.default_rng(4).uniform(0.9, 1.1, size=(3, 100))
    a[1, 50] = np.nan
    ints = np.random.default_rng(5).integers(-9, 10, size=(3, 100))
    for kind, arr, want in (("cumsum", a, np.cumsum(a, 1)), ("cumprod", a, np.cumprod(a, 1)),
                            ("cumsum", ints, np.cumsum(ints, 1)), ("cumprod", ints, np.cumprod(ints, 1))):
        out = nr.empty(arr.shape, dtype=nr.float64 if arr.dtype.kind == "f" else nr.int64)
        ST.launch(out, nr.from_numpy(arr), 1, kind, max_block_n=16)  # 7 chunks per row
        np.testing.assert_allclose(out.numpy(), want, rtol=1e-13)
        out_t = nr.empty(arr.T.shape, dtype=out.dtype)  # along a strided dim
        ST.launch(out_t, nr.from_numpy(np.ascontiguousarray(arr)).T, 0, kind, max_block_n=16)
        np.testing.assert_allclose(out_t.numpy(), want.T, rtol=1e-13)


@pytest.mark.parametrize("log", [False, True])
def test_softmax_looped_rows_match_the_fused_kernel(log):
    from neurarust.kernels import softmax_triton as SMT

    inf = np.inf
    a = np.random.default_rng(6).uniform(-30, 30, size=(6, 40))
    a[1, :] = -inf                    # all -inf: NaN
    a[2, 3], a[3, 30] = inf, np.nan   # +inf or NaN anywhere: NaN
    a[4, :39] = -inf                  # one finite element in the last chunk
    x = nr.from_numpy(a)
    fused, looped = nr.empty(a.shape, dtype=nr.float64), nr.empty(a.shape, dtype=nr.float64)
    SMT.launch(fused, x, 1, log)
    SMT.launch(looped, x, 1, log, max_one_block=8, loop_block=8)  # 5 chunks per row, two passes
    want = torch.log_softmax(torch.from_numpy(a), 1) if log else torch.softmax(torch.from_numpy(a), 1)
    np.testing.assert_allclose(fused.numpy(), want.numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(looped.numpy(), want.numpy(), rtol=1e-12, atol=1e-300)
