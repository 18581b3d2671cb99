"""Zero-copy exchange with NumPy, PyTorch and any DLPack library: memory is shared both ways (a write
on one side is read on the other). tests/test_tensor_conversions.py covers strides, dtypes and CUDA."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr


class Producer:
    """A DLPack producer that is neither NumPy nor PyTorch (as CuPy or JAX arrays are to NeuraRust):
    it only speaks the protocol, exporting memory it owns."""

    def __init__(self, array: np.ndarray):
        self._array = array

    def __dlpack__(self, **kwargs):
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


def test_numpy_to_neurarust_to_numpy_shares_memory_both_ways():
    a = np.zeros((2, 3), dtype=np.float32)
    t = nr.from_numpy(a)
    t[1, 2] = 4.0
    assert a[1, 2] == 4.0
    a[0, 0] = -1.0
    assert t[0, 0].item() == -1.0
    assert np.shares_memory(t.numpy(), a)


def test_torch_to_neurarust_and_back_shares_memory_both_ways():
    src = torch.zeros(3, 4)
    t = nr.from_dlpack(src[:, 1:])
    t[0, 0] = 2.0
    assert src[0, 1].item() == 2.0
    back = torch.from_dlpack(t)
    back[2, 2] = 7.0
    assert src[2, 3].item() == 7.0 and t[2, 2].item() == 7.0


def test_a_generic_dlpack_producer_is_wrapped_without_copy():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = nr.from_dlpack(Producer(a[:, 1:]))
    assert t.data_ptr() == a[:, 1:].__array_interface__["data"][0] and t.stride() == (4, 1)
    t[2, 0] = 100.0
    assert a[2, 1] == 100.0
    a[0, 3] = -5.0
    assert t[0, 2].item() == -5.0


def test_numpy_consumer_writes_show_in_the_tensor():
    x = nr.zeros(2, 3)
    view = np.from_dlpack(x.t(), copy=False)
    view[2, 1] = 3.0
    assert x[1, 2].item() == 3.0
    copied = np.from_dlpack(x, copy=True)
    copied[0, 0] = 9.0
    assert x[0, 0].item() == 0.0


def test_versioned_and_legacy_capsules_are_both_exported():
    x = nr.arange(4.0)
    for kwargs in ({}, {"max_version": (1, 0)}):
        assert type(x.__dlpack__(**kwargs)).__name__ == "PyCapsule"
    assert x.__dlpack_device__() == (1, 0)


def test_a_tensor_that_requires_grad_is_not_exported():
    x = nr.ones(2, requires_grad=True)
    with pytest.raises(nr.errors.AutogradError, match="detach"):
        torch.from_dlpack(x)
    assert torch.from_dlpack(x.detach()).tolist() == [1.0, 1.0]
