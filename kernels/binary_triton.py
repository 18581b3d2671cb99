"""Scalar functions of the binary/ternary elementwise family (``kernels/binary.py``).

Each takes the loaded operands ``(a, b, c)`` already in the compute dtype, as the elementwise kernel
passes them. Triton's integer ``%`` truncates toward zero and its float ``%`` is C's ``fmod``, so
Python-style remainders correct the sign afterwards. ``atan`` is built from arithmetic and ``sqrt``
only (libdevice does not run in the interpreter).
"""
from __future__ import annotations

from neurarust.launch import tl, triton

from . import math_triton as m


@triton.jit
def _signbit(x):
    # -0.0 counts as negative: 1 / -0.0 is -inf.
    return (x < 0) | ((x == 0) & (1.0 / x < 0))


@triton.jit
def fmod(a, b, c):
    return a % b


@triton.jit
def remainder(a, b, c):
    r = a % b
    return tl.where((r != 0) & ((r < 0) != (b < 0)), r + b, r)


@triton.jit
def copysign(a, b, c):
    m = tl.abs(a)
    return tl.where(_signbit(b), m * -1.0, m)  # * -1.0: unary minus would give +0.0 for 0.0


@triton.jit
def lerp(a, b, c):
    # PyTorch's two-sided formula: exact at both ends (weight 0 gives a, weight 1 gives b).
    d = b - a
    return tl.where(tl.abs(c) < 0.5, a + c * d, b - d * (1.0 - c))


@triton.jit
def addcmul(a, b, c):
    return a + b * c


@triton.jit
def addcdiv(a, b, c):
    return a + b / c


@triton.jit
def logical_and(a, b, c):
    return (a != 0) & (b != 0)


@triton.jit
def logical_or(a, b, c):
    return (a != 0) | (b != 0)


@triton.jit
def logical_xor(a, b, c):
    return (a != 0) != (b != 0)


@triton.jit
def bitwise_and(a, b, c):
    return a & b


@triton.jit
def bitwise_or(a, b, c):
    return a | b


@triton.jit
def bitwise_xor(a, b, c):
    return a ^ b


@triton.jit
def _shift_out_of_range(a, b):
    # LLVM leaves shifts by the bit width or more undefined; PyTorch defines them (see binary.py).
    return (b < 0) | (b >= a.dtype.primitive_bitwidth)


@triton.jit
def bitwise_left_shift(a, b, c):
    bad = _shift_out_of_range(a, b)
    return tl.where(bad, 0, a << tl.where(bad, 0, b))


@triton.jit
def bitwise_right_shift(a, b, c):
    bad = _shift_out_of_range(a, b)
    return tl.where(bad, tl.where(a < 0, -1, 0), a >> tl.where(bad, 0, b)).to(a.dtype)

@triton.jit
def atan2(a, b, c):
    """atan2(y=a, x=b) with C99's special cases (signed zeros, infinities); NaN in gives NaN."""
    ax = tl.abs(b)
    ay = tl.abs(a)
    mx = tl.maximum(ax, ay)
    mn = tl.minimum(ax, ay)
    both_inf = (ax == float("inf")) & (ay == float("inf"))
    t = tl.where(both_inf, 1.0, tl.where(mx == 0, 0.0, mn / tl.where(mx == 0, 1.0, mx)))
    r = m.atan_nonneg(t)
    r = tl.where(ay > ax, (1.5707963705062866 - r) + -4.371139006309477e-08, r)
    r = tl.where(_signbit(b), (3.1415927410125732 - r) + -8.742278012618954e-08, r)
    r = tl.where(_signbit(a), r * -1.0, r)
    return tl.where((a != a) | (b != b), a + b, r)


@triton.jit
def isclose(a, b, c):
    """``c`` is the allowed error ``atol + rtol * |b|``, computed beforehand (the kernel has three operands)."""
    d = tl.abs(a - b)
    return (a == b) | ((d <= c) & (d != float("inf")))


@triton.jit
def isclose_equal_nan(a, b, c):
    return isclose(a, b, c) | ((a != a) & (b != b))


# Functions that only make sense on integers (or bools): compiled with int32 operands.
_INT_ONLY = frozenset({"bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"})


def aot_specs():
    """One fp32 (int32 for the bitwise ones) compile job per scalar function of this family."""
    from .elementwise_triton import _aot_spec

    specs = []
    for name, obj in sorted(globals().items()):
        if name.startswith("_") or not isinstance(obj, triton.runtime.KernelInterface):
            continue
        dtype = "i32" if name in _INT_ONLY else "fp32"
        specs.append(_aot_spec(f"binary/{name}/{dtype}", dtype, obj, num_in=3))
    specs.append(_aot_spec("binary/remainder/i32", "i32", remainder, num_in=3))
    specs.append(_aot_spec("binary/fmod/i32", "i32", fmod, num_in=3))
    return specs
