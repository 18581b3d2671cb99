"""Scalar functions of the special-function ops (``kernels/special.py``), run by the one elementwise
kernel: thin wrappers over the helpers in ``math_triton`` (lgamma, digamma, the Hurwitz-zeta sum behind
polygamma, erfc, i0, i1, sinc), which use only operations that run in the interpreter and compile for
the GPU. Each takes the loaded operand ``a`` and the runtime scalars ``b``, ``c`` in the compute dtype.
"""
from __future__ import annotations

from neurarust.launch import tl, triton

from . import elementwise_triton as E
from . import math_triton as m


@triton.jit
def lgamma(a, b, c):
    return m.lgamma(a)


@triton.jit
def digamma(a, b, c):
    return m.digamma(a)


@triton.jit
def polygamma(a, b, c):
    """b = n + 1 (the power s, exact in the compute dtype), c = (-1)^(n+1) n!."""
    return c * m.polygamma(b.to(tl.int32), a)


@triton.jit
def erfc(a, b, c):
    return m.erfc(a)


@triton.jit
def i0(a, b, c):
    return m.i0(a)


@triton.jit
def i1(a, b, c):
    return m.i1(a)


@triton.jit
def sinc(a, b, c):
    return m.sinc(a)


# polygamma sums four Hurwitz zetas per element: at the elementwise kernel's 8 elements per thread
# it spills registers on sm_80 and sm_90, at 2 it fits. Its entry launches through here.
SMALL_BLOCK = 256
_SMALL_BLOCK_FUNCTIONS = frozenset({"polygamma"})


def launch(out, inputs, fn_name: str, compute_dtype) -> None:
    """The elementwise launcher, with ``SMALL_BLOCK`` for the functions that need it."""
    small = fn_name.rpartition(".")[2] in _SMALL_BLOCK_FUNCTIONS
    E.launch(out, inputs, fn_name, compute_dtype, block=SMALL_BLOCK if small else None)


def aot_specs():
    """Every scalar function of this module on the contiguous fp32 path, at the block it launches with."""
    specs = []
    for name, fn in globals().items():
        if isinstance(fn, triton.runtime.KernelInterface) and fn.fn.__module__ == __name__ and not name.startswith("_"):
            spec = E._aot_spec(f"fn/special_triton.{name}/fp32", "fp32", fn, num_in=3)
            if name in _SMALL_BLOCK_FUNCTIONS:
                spec.constants["BLOCK"] = SMALL_BLOCK
            specs.append(spec)
    return specs
