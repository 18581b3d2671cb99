"""Storage: a block of raw bytes on one device.

On the CPU the bytes are a NumPy ``uint8`` array; on CUDA they come from torch's caching allocator
(a ``uint8`` torch tensor that nothing but this class touches). Tensors are strided views over a
Storage, so several tensors can share one::

    >>> from neurarust.storage import Storage
    >>> s = Storage.allocate(16, "cpu")
    >>> s.nbytes, s.device
    (16, device(type='cpu'))
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .device import CPU, as_device, device
from .dtype import DType
from .errors import DeviceError, OutOfMemoryError


class Storage:
    """Raw memory: an address, a size in bytes and a device."""

    __slots__ = ("device", "nbytes", "version", "data_writes", "_bytes", "_typed", "_ptr", "__weakref__")

    def __init__(self, raw: Any, dev: device):
        self.device = dev
        self._bytes = raw  # np.ndarray[uint8] on CPU, torch.Tensor[uint8] on CUDA
        self.nbytes = int(raw.shape[0])
        # Bumped by every in-place write through any view of these bytes (caches of derived data
        # compare it); ``data_writes`` counts those made through a ``.data`` alias, which autograd
        # does not see (``Tensor._version``).
        self.version = 0
        self.data_writes = 0
        self._typed: dict = {}
        self._ptr: int | None = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def allocate(cls, nbytes: int, dev: Any = CPU) -> "Storage":
        """Uninitialised memory of ``nbytes`` bytes on ``dev`` (DeviceError when ``dev`` is unusable).

        >>> s = Storage.allocate(8, "cpu")
        >>> s.nbytes, s.version
        (8, 0)
        """
        dev = as_device(dev)
        if dev.type == "cpu":
            try:
                return cls(np.empty(nbytes, dtype=np.uint8), CPU)
            except MemoryError:
                raise OutOfMemoryError(f"could not allocate {nbytes} bytes on the CPU") from None
        torch = _cuda_torch(dev)
        try:
            raw = torch.empty(nbytes, dtype=torch.uint8, device=str(dev))
        except torch.cuda.OutOfMemoryError as e:
            raise OutOfMemoryError(f"could not allocate {nbytes} bytes on {dev}: {e}") from None
        return cls(raw, dev)

    @classmethod
    def _adopt(cls, raw: np.ndarray) -> "Storage":
        """Own a 1-D uint8 CPU array (hot path of the reference backend: no checks)."""
        s = object.__new__(cls)
        s.device = CPU
        s._bytes = raw
        s.nbytes = raw.shape[0]
        s.version = 0
        s.data_writes = 0
        s._typed = {}
        s._ptr = None
        return s

    @classmethod
    def from_numpy_buffer(cls, flat: np.ndarray) -> "Storage":
        """Wrap a 1-D contiguous array's memory without copying (the array stays alive with us)."""
        return cls(flat.view(np.uint8).reshape(-1), CPU)

    # -- access -------------------------------------------------------------------------------
    def data_ptr(self) -> int:
        """The address of the first byte (it never changes, so it is looked up once)."""
        if self._ptr is None:
            self._ptr = self._bytes.ctypes.data if self.device.type == "cpu" else self._bytes.data_ptr()
        return self._ptr

    def numpy(self, dtype: DType) -> np.ndarray:
        """The bytes as a flat NumPy array of ``dtype`` (CPU only, no copy)."""
        arr = self._typed.get(dtype)
        if arr is None:
            usable = self.nbytes - self.nbytes % dtype.itemsize
            arr = self._bytes[:usable].view(dtype.np)
            self._typed[dtype] = arr
        return arr

    def torch(self, dtype: DType):
        """The bytes as a flat torch tensor of ``dtype``, aliasing this memory (for Triton launches)."""
        key = ("torch", dtype)
        t = self._typed.get(key)
        if t is None:
            import torch

            raw = torch.from_numpy(self._bytes) if self.device.type == "cpu" else self._bytes
            usable = self.nbytes - self.nbytes % dtype.itemsize
            if usable == 0:  # torch cannot view an empty byte tensor (stride 0) as another dtype
                t = torch.empty(0, dtype=dtype.to_torch(), device=raw.device)
            else:
                t = raw[:usable].view(dtype.to_torch())
            self._typed[key] = t
        return t

    # -- copies -------------------------------------------------------------------------------
    def copy_to(self, dev: Any, non_blocking: bool = False) -> "Storage":
        """A copy of all bytes on ``dev`` (a new Storage, even on the same device).

        >>> s = Storage.allocate(4, "cpu")
        >>> c = s.copy_to("cpu")
        >>> c.nbytes, c.data_ptr() != s.data_ptr()
        (4, True)
        """
        dev = as_device(dev)
        if dev.type == "cpu" and self.device.type == "cpu":
            return Storage(self._bytes.copy(), CPU)
        if dev.type == "cpu":
            return Storage(self._bytes.to("cpu").numpy(), CPU)
        torch = _cuda_torch(dev)
        src = torch.from_numpy(self._bytes) if self.device.type == "cpu" else self._bytes
        if non_blocking and self.device.type == "cpu":
            src = src.pin_memory()
        return Storage(src.to(str(dev), non_blocking=non_blocking, copy=True), dev)

    def __repr__(self) -> str:
        return f"Storage(nbytes={self.nbytes}, device='{self.device}')"


def _cuda_torch(dev: device):
    from . import cuda

    if not cuda.is_available():
        raise DeviceError(f"cannot use {dev}: CUDA is not available on this machine")
    if dev.index is not None and dev.index >= cuda.device_count():
        raise DeviceError(f"cannot use {dev}: only {cuda.device_count()} CUDA device(s)")
    import torch

    return torch
