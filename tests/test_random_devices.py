"""Random and creation ops put every tensor they draw into on the requested device, checked without a
GPU: a fake ``cuda:0`` (host memory labelled CUDA, Triton interpreted) on which a CPU tensor reaching a
kernel raises DeviceError, as compiled Triton on a real GPU does. This is how ``tests/gpu`` calls the
ops (``nr_call(..., device="cuda")``), so its CPU-tensor failures show up here first."""
from __future__ import annotations

import contextlib

import pytest
import torch

import harness as H
import neurarust as nr
from neurarust import checking, launch
from neurarust.device import CPU, as_device
from neurarust.registry import all_ops
from neurarust.storage import Storage

FAKE = "cuda:0"


@pytest.fixture
def fake_cuda(monkeypatch):
    """``cuda:0`` tensors backed by host memory; launchers refuse CPU tensors as on a real GPU."""
    allocate, copy_to = Storage.allocate.__func__, Storage.copy_to

    def fake_allocate(cls, nbytes, dev=CPU):
        dev = as_device(dev)
        if dev.type == "cuda":
            return cls(torch.empty(nbytes, dtype=torch.uint8), dev)
        return allocate(cls, nbytes, dev)

    def fake_copy_to(self, dev, non_blocking=False):
        dev = as_device(dev)
        if dev.type == "cpu" and self.device.type == "cpu":
            return copy_to(self, dev, non_blocking)
        raw = torch.from_numpy(self._bytes).clone() if self.device.type == "cpu" else self._bytes.clone()
        return Storage(raw if dev.type == "cuda" else raw.numpy(), dev)

    monkeypatch.setattr(Storage, "allocate", classmethod(fake_allocate))
    monkeypatch.setattr(Storage, "copy_to", fake_copy_to)
    monkeypatch.setattr(launch, "on_device", lambda t: contextlib.nullcontext())
    monkeypatch.setattr(launch, "CPU_POINTERS", False)


def _device_ops():
    ops = [op for op in all_ops() if op.kind in ("random", "creation") and checking.takes_device(op)]
    return [pytest.param(op, id=op.name) for op in ops]


def _dtype(op):
    return nr.float32 if nr.float32 in op.dtypes else op.dtypes[0]


@pytest.mark.parametrize("op", _device_ops())
def test_gpu_harness_makes_every_sample_of_a_device_op_on_that_device(fake_cuda, op):
    dtype = _dtype(op)
    for sample in op.samples(dtype):
        got = H.nr_call(op, sample, dtype, "triton", device=FAKE)
        for out in H.flatten_outputs(got):
            assert out.device == nr.device(FAKE), f"{op.name}[{sample.name}] made its result on {out.device}"
        H.assert_close(got, H.reference_in_float64(op, sample, dtype), op, dtype, sample, "fake cuda vs reference")


def test_normal_from_floats_launches_only_on_the_requested_device(fake_cuda, monkeypatch):
    seen = []
    pointer = launch.pointer
    monkeypatch.setattr(launch, "pointer", lambda t: seen.append(t.device) or pointer(t))
    out = nr.normal(1.0, 2.0, (3, 4), device=FAKE)
    assert out.device == nr.device(FAKE) and seen and set(seen) == {nr.device(FAKE)}


def test_normal_with_tensor_mean_refuses_a_device_it_would_ignore():
    with pytest.raises(nr.DeviceError, match=r"cpu.*cuda:0"):
        nr.normal(nr.zeros(3), 1.0, device=FAKE)
