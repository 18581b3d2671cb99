"""Devices and the CUDA module, on a machine that may have no GPU."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust import printing
from neurarust.device import CPU
from neurarust.storage import Storage

NO_CUDA = not torch.cuda.is_available()


@pytest.mark.parametrize("spec", ["cpu", "cuda", "cuda:0", "cuda:1", "cpu:0"])
def test_device_parses_and_prints_like_torch(spec):
    d, td = nr.device(spec), torch.device(spec)
    assert (d.type, d.index) == (td.type, td.index)
    assert repr(d) == repr(td) and str(d) == str(td)
    assert pickle.loads(pickle.dumps(d)) == d


def test_device_constructors_and_equality():
    assert nr.device("cuda", 1) == nr.device("cuda:1") == nr.device(nr.device("cuda:1"))
    assert nr.device(torch.device("cuda:2")) == nr.device("cuda:2")
    assert nr.device(0) == nr.device("cuda:0")
    assert nr.device("cuda") != nr.device("cuda:0") and nr.device("cpu") != nr.device("cuda:0")
    assert nr.device("cpu") == "cpu" and len({nr.device("cuda:1"), nr.device("cuda", 1)}) == 1
    assert nr.zeros(1).device == CPU and nr.zeros(1).is_cuda is False


@pytest.mark.parametrize("spec,match", [("gpu", "unknown device type"), ("cuda:x", "invalid"),
                                        ("cuda:-1", "invalid"), ("cpu:1", "no device index")])
def test_bad_devices_raise_device_error(spec, match):
    with pytest.raises(nr.DeviceError, match=match):
        nr.device(spec)


@pytest.mark.skipif(not NO_CUDA, reason="checks the behaviour without a GPU")
def test_cuda_module_without_gpu():
    assert nr.cuda.is_available() is False and nr.cuda.device_count() == 0
    assert nr.cuda.memory_allocated() == 0 and nr.cuda.max_memory_allocated() == 0
    for call in (nr.cuda.synchronize, nr.cuda.Stream, nr.cuda.Event, nr.cuda.current_device,
                 nr.cuda.current_stream, nr.cuda.empty_cache, lambda: nr.cuda.set_device(0)):
        with pytest.raises(nr.DeviceError, match="CUDA is not available"):
            call()


def _fake_cuda_tensor(shape=(3,), dtype=nr.float32) -> nr.Tensor:
    """A tensor that claims to live on cuda:0 (its bytes are on the host): enough for device checks."""
    n = int(np.prod(shape))
    storage = Storage(np.zeros(n * dtype.itemsize, np.uint8), nr.device("cuda", 0))
    return nr.Tensor(storage, shape, nr.shape.contiguous_strides(shape), 0, dtype)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_ops_on_two_devices_raise_device_error_naming_both(backend):
    cpu, gpu = nr.ones(3), _fake_cuda_tensor()
    with nr.backends.using(backend):
        for call in (lambda: cpu + gpu, lambda: nr.mul(gpu, cpu), lambda: nr.where(nr.ones(3, dtype=nr.bool), cpu, gpu)):
            with pytest.raises(nr.DeviceError, match=r"cpu.*cuda:0|cuda:0.*cpu"):
                call()
        with pytest.raises(nr.DeviceError, match="cuda:0"):
            nr.add(cpu, cpu, out=gpu)


def test_fake_cuda_tensor_metadata_and_repr(monkeypatch):
    gpu = _fake_cuda_tensor((2,), nr.float16)
    assert gpu.is_cuda and gpu.device == nr.device("cuda:0") and gpu.__dlpack_device__() == (2, 0)
    if NO_CUDA:
        with pytest.raises(nr.DeviceError, match="cuda:0"):
            gpu.numpy()

    def host_values(t):
        host = nr.Tensor(Storage(t.untyped_storage()._bytes, CPU), t.shape, t.stride(), t.storage_offset(), t.dtype)
        return host.numpy().astype(np.float64)

    monkeypatch.setattr(printing, "_host_values", host_values)
    assert repr(gpu) == "tensor([0., 0.], device='cuda:0', dtype=neurarust.float16)"


@pytest.mark.gpu
@pytest.mark.skipif(NO_CUDA, reason="needs CUDA")
def test_cuda_memory_statistics_follow_allocations():
    before = nr.cuda.memory_allocated()
    x = nr.zeros(1 << 20, device="cuda")
    assert nr.cuda.memory_allocated() >= before + 4 * (1 << 20)
    assert nr.cuda.max_memory_allocated() >= nr.cuda.memory_allocated()
    nr.cuda.synchronize()
    del x


def test_device_scalar_cache_keys_floats_by_bits(monkeypatch):
    from neurarust import creation

    monkeypatch.setattr(nr.Tensor, "to", lambda self, dev: self)  # no GPU: the copy is the identity
    monkeypatch.setattr(creation, "_DEVICE_SCALARS", creation.OrderedDict())
    gpu = nr.device("cuda", 0)
    zero, neg_zero = creation.scalar_tensor(0.0, nr.float32, gpu), creation.scalar_tensor(-0.0, nr.float32, gpu)
    assert zero is not neg_zero and str(neg_zero.item()) == "-0.0"
    assert creation.scalar_tensor(float("nan"), nr.float32, gpu) is creation.scalar_tensor(float("nan"), nr.float32, gpu)
    assert creation.scalar_tensor(0.0, nr.float32, gpu) is zero
    assert creation.scalar_tensor(0, nr.float32, gpu) is not zero  # int 0 and float 0.0 stay apart
    assert len(creation._DEVICE_SCALARS) == 4


def test_device_scalar_cache_is_thread_safe(monkeypatch):
    import threading

    from neurarust import creation

    monkeypatch.setattr(nr.Tensor, "to", lambda self, dev: self)
    monkeypatch.setattr(creation, "_DEVICE_SCALARS", creation.OrderedDict())
    monkeypatch.setattr(creation, "_DEVICE_SCALARS_MAX", 8)
    gpu, errors = nr.device("cuda", 0), []

    def work(seed):
        try:
            for i in range(300):
                creation.scalar_tensor(float((i * seed) % 13), nr.float32, gpu)
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(creation._DEVICE_SCALARS) <= 8
