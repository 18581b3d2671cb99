"""Math functions the Triton interpreter lacks, built from operations that run in both modes.

libdevice functions (``tanh``, ``pow``, ``erf``, ``log1p`` ...) compile only for a GPU, so a kernel
using them cannot be checked here. These helpers use ``exp``, ``exp2``, ``log``, ``log2``,
``sqrt``, ``floor`` and arithmetic only. Stated bounds are measured against float64 references on a
dense grid by ``tests/test_math_helpers.py`` (fp32 evaluation; fp64 inputs get the same formulas and
so the same *relative* method error, about 1e-7 at worst).
"""
from __future__ import annotations

from neurarust.launch import tl, triton


@triton.jit
def expm1(x):
    """exp(x) - 1 without cancellation near 0. Max rel. error (fp32): 2e-7."""
    ax = tl.abs(x)
    # Taylor series to x^7 for |x| < 0.25: truncation below 0.25^8/8! = 4e-10 relative.
    poly = x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (1.0 / 720.0 + x * (1.0 / 5040.0)))))))
    return tl.where(ax < 0.25, poly, tl.exp(x) - 1.0)


@triton.jit
def log1p(x):
    """log(1 + x) accurate near 0. Max rel. error (fp32): 2e-7."""
    u = 1.0 + x
    # log(u) * x / (u - 1) cancels the rounding of 1 + x (Goldberg's trick).
    d = u - 1.0
    safe = tl.where(d == 0.0, 1.0, d)
    corrected = tl.log(u) * (x / safe)
    return tl.where(d == 0.0, x, tl.where(u == float("inf"), u, corrected))


@triton.jit
def tanh(x):
    """Hyperbolic tangent. Max rel. error (fp32): 4e-7; exact ±1 past |x| = 20; NaN stays NaN."""
    ax = tl.abs(x)
    x2 = x * x
    # Odd Taylor polynomial to x^11 for |x| < 0.3; beyond it 1 - 2 / (exp(2|x|) + 1) loses < 1 ulp to cancellation.
    small = x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 + x2 * (62.0 / 2835.0 + x2 * (-1382.0 / 155925.0))))))
    big = 1.0 - 2.0 / (tl.exp(2.0 * tl.minimum(ax, 20.0)) + 1.0)
    big = tl.where(x < 0, -big, big)
    # tl.minimum drops NaN, so NaN is passed through explicitly.
    return tl.where(x != x, x, tl.where(ax < 0.3, small, big))


@triton.jit
def _is_odd_integer(y):
    half = y * 0.5
    return (tl.floor(y) == y) & (tl.floor(half) != half)


@triton.jit
def pow(x, y):
    """x ** y for floats with C99 ``pow`` special cases (0, ±inf, NaN, negative bases with integer y).

    Computed as exp2(y * log2|x|): relative error grows with |y * log2 x| (about 1e-7 * (1 + |y log2 x|)
    in fp32).
    """
    ax = tl.abs(x)
    mag = tl.exp2(y * tl.log2(ax))
    y_is_int = tl.floor(y) == y
    neg_odd = (x < 0) & _is_odd_integer(y)
    r = tl.where(neg_odd, -mag, mag)
    r = tl.where((x < 0) & ~y_is_int & (ax != float("inf")), float("nan"), r)
    # x == ±0: sign kept for odd integer y.
    zero_r = tl.where(y < 0, float("inf"), 0.0)
    zero_r = tl.where(_is_odd_integer(y) & (x < 0), -zero_r, zero_r)
    zero_r = tl.where(_is_odd_integer(y) & (x == 0) & (1.0 / x < 0), -zero_r, zero_r)
    r = tl.where(x == 0, zero_r, r)
    # x == -inf
    ninf_r = tl.where(y < 0, 0.0, float("inf"))
    ninf_r = tl.where(_is_odd_integer(y), -ninf_r, ninf_r)
    r = tl.where(x == -float("inf"), ninf_r, r)
    r = tl.where(y != y, y, r)
    r = tl.where((x == -1) & (tl.abs(y) == float("inf")), 1.0, r)
    r = tl.where(y == 0, 1.0, r)
    r = tl.where(x == 1, 1.0, r)
    return r


@triton.jit
def ipow(x, y):
    """Integer x ** y by repeated squaring, wrapping on overflow like C; y < 0 gives 0 unless |x| == 1."""
    result = tl.full(x.shape, 1, x.dtype)
    base = x
    e = y
    for _ in tl.static_range(63):
        result = tl.where((e & 1) != 0, result * base, result)
        base = base * base
        e = e >> 1
    if x.dtype.is_int_signed():
        one_or_minus = tl.where((x == -1) & ((y & 1) != 0), -1, 1).to(x.dtype)
        result = tl.where(y < 0, tl.where((x == 1) | (x == -1), one_or_minus, 0).to(x.dtype), result)
    return result
