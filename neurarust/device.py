"""Devices: where a tensor's memory lives.

    >>> import neurarust as nr
    >>> nr.device("cuda:1")
    device(type='cuda', index=1)
    >>> nr.device("cpu") == nr.device("cpu")
    True
"""
from __future__ import annotations

from typing import Any

from .errors import DeviceError

_KNOWN_TYPES = ("cpu", "cuda")


class device:
    """A device type (``"cpu"`` or ``"cuda"``) and an optional index, spelled as in PyTorch."""

    __slots__ = ("type", "index")

    def __init__(self, spec: Any, index: int | None = None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index if index is None else index
        elif isinstance(spec, int) and not isinstance(spec, bool):
            spec, index = "cuda", spec
        elif not isinstance(spec, str):
            spec = str(spec)  # a torch.device
        kind, _, idx = spec.partition(":")
        if kind not in _KNOWN_TYPES:
            raise DeviceError(f"unknown device type {kind!r} in {spec!r}; expected one of {_KNOWN_TYPES}")
        if idx:
            if index is not None or not idx.isdigit():
                raise DeviceError(f"invalid device string {spec!r}")
            index = int(idx)
        if kind == "cpu" and index not in (None, 0):
            raise DeviceError(f"the CPU has no device index {index}")
        if index is not None and index < 0:
            raise DeviceError(f"device index must be non-negative, got {index}")
        self.type = kind
        self.index = index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")
_device = device  # the class, for functions whose parameter is named ``device`` as in PyTorch


# What ``device=None`` means to the factories (nr.zeros, nr.tensor, nr.rand, ...): None is the CPU.
_default: device | None = None


def set_default_device(device: Any) -> None:
    """Make ``device`` where factory functions (``nr.zeros``, ``nr.tensor``, ``nr.arange``, ``nr.rand``,
    ...) put tensors when no ``device=`` is given, as ``torch.set_default_device``; ``None`` goes back to
    the CPU. Unlike PyTorch's, the setting is process-wide (not per thread), and ``nr.as_tensor`` of a
    tensor keeps that tensor's device.

    >>> import neurarust as nr
    >>> nr.set_default_device("cpu"); nr.zeros(2).device
    device(type='cpu')
    >>> nr.set_default_device(None)
    """
    global _default
    # Checked now, resolved at each use ("cuda" means the current CUDA device then).
    _default = None if device is None else _device(device)


def get_default_device() -> device:
    """The device factory functions use when none is given (see :func:`set_default_device`).

    >>> import neurarust as nr
    >>> nr.get_default_device()
    device(type='cpu')
    """
    return as_device(None)


def as_device(spec: Any) -> device:
    """Normalise a device spec (a string, a CUDA index, ``nr.device`` or ``torch.device``); ``cuda``
    without an index becomes the current CUDA device, and ``None`` the default device
    (:func:`set_default_device`; the CPU unless set).

    >>> as_device(None), as_device("cpu"), as_device(3)
    (device(type='cpu'), device(type='cpu'), device(type='cuda', index=3))
    """
    if spec is None:
        if _default is None:
            return CPU
        spec = _default
    d = spec if isinstance(spec, device) else device(spec)
    if d.type == "cpu":
        return CPU if d.index is None else device("cpu")
    if d.index is None:
        from . import cuda

        return device("cuda", cuda.current_device())
    return d
