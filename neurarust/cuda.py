"""CUDA device queries, streams and memory statistics (``torch.cuda``'s names).

torch is imported on first use, and only to reach the CUDA driver: NeuraRust's ops never compute
through it. Without torch or without a GPU, ``is_available()`` is simply False::

    >>> import neurarust as nr
    >>> isinstance(nr.cuda.is_available(), bool)
    True
"""
from __future__ import annotations

from typing import Any

from .errors import DeviceError


def _torch():
    try:
        import torch
    except ImportError:  # the light install: no torch, so no CUDA
        return None
    return torch


def is_available() -> bool:
    """True when torch is installed and sees at least one CUDA device.

    >>> import neurarust as nr
    >>> nr.cuda.is_available() == (nr.cuda.device_count() > 0)
    True
    """
    torch = _torch()
    return bool(torch is not None and torch.cuda.is_available())


def _require() -> Any:
    if not is_available():
        raise DeviceError("CUDA is not available: no GPU was found (or torch is missing, or is a CPU build)")
    return _torch()


def device_count() -> int:
    """Number of visible CUDA devices (0 without CUDA).

    >>> import neurarust as nr
    >>> nr.cuda.device_count() >= 0
    True
    """
    return _torch().cuda.device_count() if is_available() else 0


def current_device() -> int:
    """Index of the current CUDA device (DeviceError without CUDA).

    >>> import neurarust as nr
    >>> try:
    ...     index = nr.cuda.current_device()
    ... except nr.DeviceError:
    ...     index = None                 # no GPU here
    >>> index is None or index >= 0
    True
    """
    return _require().cuda.current_device()


def set_device(index: int) -> None:
    """Make ``index`` the current CUDA device."""
    _require().cuda.set_device(index)


def synchronize(device: Any = None) -> None:
    """Wait for all work queued on ``device`` to finish."""
    _require().cuda.synchronize(None if device is None else str(device))


def get_device_name(device: Any = None) -> str:
    """The GPU's marketing name, e.g. ``NVIDIA H100 80GB HBM3``."""
    return _require().cuda.get_device_name(None if device is None else str(device))


def memory_allocated(device: Any = None) -> int:
    """Bytes held by live tensors on ``device`` (torch's caching allocator backs our storages); 0
    without CUDA, as in torch.

    >>> import neurarust as nr
    >>> nr.cuda.memory_allocated() >= 0
    True
    """
    if not is_available():
        return 0
    return _torch().cuda.memory_allocated(None if device is None else str(device))


def max_memory_allocated(device: Any = None) -> int:
    """Peak of :func:`memory_allocated` since the start or the last reset (0 without CUDA)."""
    if not is_available():
        return 0
    return _torch().cuda.max_memory_allocated(None if device is None else str(device))


def reset_peak_memory_stats(device: Any = None) -> None:
    """Restart the peak counter of :func:`max_memory_allocated`."""
    _require().cuda.reset_peak_memory_stats(None if device is None else str(device))


def empty_cache() -> None:
    """Return cached, unused blocks to the driver."""
    _require().cuda.empty_cache()


def Stream(device: Any = None, priority: int = 0):
    """A CUDA stream (torch's, which Triton launches on): ``with nr.cuda.stream(s): ...``."""
    return _require().cuda.Stream(device=None if device is None else str(device), priority=priority)


def Event(enable_timing: bool = False, blocking: bool = False):
    """A CUDA event for timing and cross-stream ordering."""
    return _require().cuda.Event(enable_timing=enable_timing, blocking=blocking)


def current_stream(device: Any = None):
    """The stream kernels are launched on."""
    return _require().cuda.current_stream(None if device is None else str(device))


def stream(s):
    """Context manager that makes ``s`` the current stream."""
    return _require().cuda.stream(s)
