"""Scalar functions of the elementwise ops, one ``@triton.jit`` function each.

Each takes the (up to three) loaded operands already in the compute dtype and returns the result;
the elementwise kernel passes one of them as its ``FN`` constexpr. The registry entry of an op names
its function here (``attrs["fn"]``).
"""
from __future__ import annotations

from neurarust.launch import tl, triton

from . import math_triton as m


@triton.jit
def identity(a, b, c):
    return a


@triton.jit
def add(a, b, c):
    return a + b


@triton.jit
def add_alpha(a, b, c):
    return a + b * c


@triton.jit
def sub(a, b, c):
    return a - b


@triton.jit
def sub_alpha(a, b, c):
    return a - b * c


@triton.jit
def mul(a, b, c):
    return a * b


@triton.jit
def div(a, b, c):
    return a / b


@triton.jit
def div_trunc_int(a, b, c):
    return a // b  # Triton's integer // truncates toward zero, as C does


@triton.jit
def div_floor_int(a, b, c):
    q = a // b
    r = a - q * b
    return tl.where((r != 0) & ((r < 0) != (b < 0)), q - 1, q)


@triton.jit
def div_trunc_float(a, b, c):
    q = a / b
    return tl.where(q < 0, tl.ceil(q), tl.floor(q))


@triton.jit
def div_floor_float(a, b, c):
    # PyTorch's floor division: through fmod, so a == q * b + r stays consistent.
    r = a % b  # fmod semantics on floats
    q = (a - r) / b
    q = tl.where((r != 0) & ((b < 0) != (r < 0)), q - 1.0, q)
    fq = tl.floor(q)
    fq = tl.where(q - fq > 0.5, fq + 1.0, fq)
    fq = tl.where(q == 0, (a / b) * 0.0, fq)  # a zero quotient keeps the sign of a / b
    return tl.where(b == 0, a / b, fq)


@triton.jit
def neg(a, b, c):
    # Multiplying by -1 flips the sign of zero too; Triton 3.6 lowers unary minus to 0 - a (+0.0 for 0.0).
    if a.dtype.is_int_unsigned():
        return 0 - a  # wraps, as unsigned negation does
    return a * -1


@triton.jit
def abs(a, b, c):
    return tl.abs(a)


@triton.jit
def exp(a, b, c):
    return tl.exp(a)


@triton.jit
def log(a, b, c):
    return tl.log(a)


@triton.jit
def sqrt(a, b, c):
    return tl.sqrt(a)


@triton.jit
def rsqrt(a, b, c):
    return tl.rsqrt(a)


@triton.jit
def sigmoid(a, b, c):
    return tl.sigmoid(a)


@triton.jit
def tanh(a, b, c):
    return m.tanh(a)


@triton.jit
def relu(a, b, c):
    # NaN stays NaN (a > 0 is False for NaN, so compare the other way).
    return tl.where(a < 0, 0, a)


@triton.jit
def pow(a, b, c):
    return m.pow(a, b)


@triton.jit
def ipow(a, b, c):
    return m.ipow(a, b)


@triton.jit
def maximum(a, b, c):
    return tl.where((a != a) | (a > b), a, b)


@triton.jit
def minimum(a, b, c):
    return tl.where((a != a) | (a < b), a, b)


@triton.jit
def where(a, b, c):
    return tl.where(a != 0, b, c)


@triton.jit
def clamp(a, b, c):
    # A NaN input or NaN bound gives NaN, as in PyTorch.
    lo = tl.where((a < b) | (b != b), b, a)
    hi = tl.where((lo > c) | (c != c), c, lo)
    return tl.where(a != a, a, hi)


@triton.jit
def eq(a, b, c):
    return a == b


@triton.jit
def ne(a, b, c):
    return a != b


@triton.jit
def lt(a, b, c):
    return a < b


@triton.jit
def le(a, b, c):
    return a <= b


@triton.jit
def gt(a, b, c):
    return a > b


@triton.jit
def ge(a, b, c):
    return a >= b
