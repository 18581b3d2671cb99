"""Triton's launch context: importing Triton the right way, and handing it tensors.

Importing this module imports torch and Triton. Without a CUDA device it switches on Triton's
interpreter first (``TRITON_INTERPRET=1`` must be set before any kernel is defined), so kernels run
on CPU tensors. torch gives Triton its device and stream and the tensor objects it takes as
pointers; it computes nothing here.
"""
from __future__ import annotations

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

from .backends import launch_counts  # noqa: E402

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
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
    its storage offset on (the interpreter needs a real torch tensor; on CUDA it gives alignment)."""
    flat = t._storage.torch(t._dtype)
    return flat[t._offset:] if t._offset else flat


def max_offset(shape, *stride_sets) -> int:
    """The largest element offset any operand reaches: above INT32_MAX the kernel needs int64 math."""
    return max((sum((s - 1) * st for s, st in zip(shape, strides)) for strides in stride_sets), default=0)


def index_dtype(shape, *stride_sets):
    """``tl.int64`` when some offset (or the element count) passes int32, else ``tl.int32``."""
    n = 1
    for s in shape:
        n *= s
    big = n > INT32_MAX or max_offset(shape, *stride_sets) > INT32_MAX
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
