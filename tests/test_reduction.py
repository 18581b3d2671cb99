"""Reduction behaviours the registry harness cannot express: int64 offsets past 2**31, every tune
config, Tensor methods, and mean of integers with ``dtype=``."""
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
