"""``--device auto|cpu|cuda[:N]``: which device a run uses, decided without importing torch when
there is no GPU (the CPU path of ``neurarust train`` stays light).

``auto`` asks the CUDA driver itself (``libcuda`` through ctypes) how many devices it sees; only
when it sees one does torch get imported, to reach them.

    >>> resolve_device("cpu")
    'cpu'
"""
from __future__ import annotations

import ctypes
import re

from .config import OptionError

_SPEC = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


def driver_device_count() -> int:
    """CUDA devices the driver sees (``CUDA_VISIBLE_DEVICES`` applies); 0 without a driver.

    >>> driver_device_count() >= 0
    True
    """
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll", "libcuda.dylib"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        count = ctypes.c_int(0)
        if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return count.value
    return 0


def _cuda_count() -> int:
    if driver_device_count() == 0:
        return 0
    import neurarust as nr

    return nr.cuda.device_count()


def resolve_device(spec: str) -> str:
    """``"cpu"`` or ``"cuda:N"`` for a ``--device`` value; :class:`OptionError` when it is malformed or
    names a CUDA device this machine does not have.

    >>> resolve_device("auto") in ("cpu", "cuda:0")
    True
    >>> resolve_device("tpu")
    Traceback (most recent call last):
    neurarust.cli.config.OptionError: --device: expected auto, cpu, cuda or cuda:N, got 'tpu'
    """
    match = _SPEC.match(spec.strip().lower())
    if match is None or (match.group(1) != "cuda" and match.group(2) is not None):
        raise OptionError(f"--device: expected auto, cpu, cuda or cuda:N, got {spec!r}")
    kind, index = match.group(1), int(match.group(2) or 0)
    if kind == "cpu":
        return "cpu"
    count = _cuda_count()
    if kind == "auto":
        return "cuda:0" if count else "cpu"
    if count == 0:
        raise OptionError(f"--device {spec}: no CUDA device is available on this machine (use --device cpu or auto)")
    if index >= count:
        raise OptionError(f"--device {spec}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    return f"cuda:{index}"
