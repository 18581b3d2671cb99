"""Triton's launch context: importing Triton the right way, and handing it tensors.

Importing this module imports torch and Triton. Without a CUDA device it switches on Triton's
interpreter first (``TRITON_INTERPRET=1`` must be set before any kernel is defined), so kernels run
on CPU tensors. torch gives Triton its device and stream and the tensor objects it takes as
pointers; it computes nothing here.
"""
from __future__ import annotations

import contextlib
import os


def _configure_environment() -> None:
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    if "TRITON_INTERPRET" not in os.environ:
        import torch

        if not torch.cuda.is_available():
            os.environ["TRITON_INTERPRET"] = "1"


try:
    _configure_environment()
    import triton
    import triton.language as tl
except ImportError as e:  # the light install: say what to install, not just what is missing
    raise ImportError(f"the Triton backend needs torch and triton ({e}); install them with "
                      f"pip install 'neurarust[gpu]'") from e

import torch  # noqa: E402

from . import shape as _sh  # noqa: E402
from .backends import launch_counts  # noqa: E402
from .errors import DeviceError  # noqa: E402

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
# Whether Triton takes CPU tensors: only its interpreter does. Fixed when the kernels are defined, so
# a test that patches INTERPRET to walk the GPU code paths on CPU tensors leaves it alone.
CPU_POINTERS = INTERPRET
TRITON_VERSION = triton.__version__

INT32_MAX = 2**31 - 1

# NeuraRust dtype name -> Triton dtype, for constexpr compute types.
TL_DTYPES = {
    "float32": tl.float32, "float64": tl.float64, "float16": tl.float16, "bfloat16": tl.bfloat16,
    "int8": tl.int8, "uint8": tl.uint8, "int16": tl.int16, "int32": tl.int32, "int64": tl.int64,
    "bool": tl.int1,
}


def pointer(t):
    """The object Triton takes as ``t``'s data pointer: a torch tensor aliasing ``t``'s memory from
    its storage offset on (the interpreter needs a real torch tensor; on CUDA it gives alignment).

    A CPU tensor outside the interpreter raises :class:`~neurarust.errors.DeviceError`: compiled
    Triton would take its address for a GPU one."""
    if not CPU_POINTERS and t._storage.device.type == "cpu":
        raise DeviceError(f"a Triton kernel got a CPU tensor (shape {list(t._shape)}, {t._dtype.name}), but CPU "
                          f"tensors run Triton kernels only under the interpreter: set TRITON_INTERPRET=1 "
                          f"before starting Python, or use the reference backend")
    flat = t._storage.torch(t._dtype)
    return flat[t._offset:] if t._offset else flat


_SAME_DEVICE = contextlib.nullcontext()


def on_device(t):
    """A context in which Triton launches on ``t``'s CUDA device and that device's current stream.

    Triton launches on torch's *current* device, so a kernel on ``cuda:1`` tensors while device 0 is
    current would read the wrong memory. Every launcher wraps its launches in ``with
    on_device(out):``; it is a shared no-op for CPU tensors and tensors on the current device::

        >>> import neurarust as nr
        >>> with on_device(nr.zeros(2)):
        ...     pass
    """
    dev = t._storage.device
    if dev.type != "cuda" or dev.index == torch.cuda.current_device():
        return _SAME_DEVICE
    return torch.cuda.device(dev.index)


def max_offset(shape, *stride_sets) -> int:
    """The largest element offset any operand reaches: above INT32_MAX the kernel needs int64 math."""
    return max((sum((s - 1) * st for s, st in zip(shape, strides)) for strides in stride_sets), default=0)


def index_dtype(shape, *stride_sets):
    """``tl.int64`` when some offset (or the element count) passes int32, else ``tl.int32``."""
    big = _sh.numel(shape) > INT32_MAX or max_offset(shape, *stride_sets) > INT32_MAX
    return tl.int64 if big else tl.int32


def count(name: str) -> None:
    launch_counts[name] += 1


class AotSpec:
    """One ahead-of-time compile job: a kernel, its full signature and constexpr values.

    Every ``kernels/*_triton.py`` module exposes ``aot_specs() -> list[AotSpec]``, covering each
    kernel x dtype class at its default config (and, for matmul, every shipped config of one dtype).
    ``signature`` names every argument, constexprs included (as ``"constexpr"``); ``constants``
    gives the constexpr values; ``aligned`` lists argument indices the JIT would mark 16-divisible.
    """

    def __init__(self, name: str, kernel, signature: dict, constants: dict, *, aligned: tuple = (),
                 num_warps: int = 4, num_stages: int = 3):
        self.name = name
        self.kernel = kernel
        self.signature = signature
        self.constants = constants
        self.aligned = aligned
        self.num_warps = num_warps
        self.num_stages = num_stages

    def __repr__(self) -> str:
        return f"AotSpec({self.name})"
