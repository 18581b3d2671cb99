"""Math functions the Triton interpreter lacks, built from operations that run in both modes.

libdevice functions (``tanh``, ``pow``, ``erf``, ``log1p`` ...) compile only for a GPU, so a kernel
using them cannot be checked here. These helpers use ``exp``, ``exp2``, ``log``, ``log2``,
``sqrt``, ``floor`` and arithmetic only. Stated bounds are measured against float64 references on a
dense grid by ``tests/test_math_helpers.py`` (fp32 evaluation; fp64 inputs get the same formulas and
so the same *relative* method error, about 1e-7 at worst).
"""
from __future__ import annotations

from neurarust.launch import tl, triton

_PI_2 = tl.constexpr(1.5707963267948966)
_PI_4 = tl.constexpr(0.7853981633974483)
_TAN_3PI_8 = tl.constexpr(2.414213562373095)
_TAN_PI_8 = tl.constexpr(0.41421356237309503)


@triton.jit
def expm1(x):
    """exp(x) - 1 without cancellation near 0. Max rel. error (fp32): 3e-7."""
    u = tl.exp(x)
    um1 = u - 1.0
    # Kahan's trick: (u - 1) * x / log(u) cancels the rounding error of u itself.
    usable = (u != 1.0) & (um1 != -1.0) & (u != float("inf"))
    corrected = um1 * (x / tl.log(tl.where(usable, u, 2.0)))
    r = tl.where(usable, corrected, um1)
    return tl.where(u == 1.0, x, r)


@triton.jit
def log1p(x):
    """log(1 + x) accurate near 0. Max rel. error (fp32): 3e-7."""
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

    Computed as exp2(y * log2|x|): relative error grows with |y * log2 x| (at most 2e-7 * (1 + |y log2 x|)
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
    # Negation as * -1: Triton 3.6 lowers unary minus to 0 - v, which loses the sign of zero.
    zero_r = tl.where(_is_odd_integer(y) & (1.0 / x < 0), zero_r * -1.0, zero_r)  # 1 / -0.0 = -inf
    r = tl.where(x == 0, zero_r, r)
    # x == -inf
    ninf_r = tl.where(y < 0, 0.0, float("inf"))
    ninf_r = tl.where(_is_odd_integer(y), ninf_r * -1.0, ninf_r)
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


@triton.jit
def erf(x):
    """Error function. ``tl.math.erf`` runs in the interpreter and compiles for the GPU."""
    return tl.math.erf(x)


@triton.jit
def erfinv(y):
    """Inverse error function: Winitzki's form refined by two Newton steps. Max abs. error (fp32) 4e-6
    on |y| <= 0.999; ±inf at ±1, NaN outside [-1, 1]."""
    ay = tl.abs(y)
    log_term = tl.log(1.0 - ay * ay)
    first = 4.3307467508 + log_term * 0.5  # 2 / (pi * 0.147)
    x = tl.sqrt(tl.sqrt(first * first - log_term * 6.8027210884) - first)  # 1 / 0.147
    for _ in tl.static_range(2):
        x = x - (tl.math.erf(x) - ay) / (1.1283791671 * tl.exp(-x * x))
    x = tl.where(ay == 1.0, float("inf"), x)
    x = tl.where(ay > 1.0, float("nan"), x)
    return tl.where(y < 0, -x, x)


@triton.jit
def atan_nonneg(x):
    """atan(x) for x >= 0 (or NaN), the one arctangent behind atan, asin, acos and atan2: Cephes' reduction to |t| <= tan(pi/8), one half-angle step to
    |t| <= 0.2, then the Taylor series to t^25 (error < 1e-17 relative: fp64-accurate too)."""
    big = x > _TAN_3PI_8
    mid = (x > _TAN_PI_8) & ~big
    # Full-width constants: tl.where on two Python floats would make an fp32 tensor (fp64 would lose digits).
    base = tl.where(big, tl.full(x.shape, _PI_2, x.dtype), tl.where(mid, tl.full(x.shape, _PI_4, x.dtype), 0.0))
    t = tl.where(big, -1.0 / x, tl.where(mid, (x - 1.0) / (x + 1.0), x))
    t = t / (1.0 + tl.sqrt(1.0 + t * t))  # atan(t) = 2 atan(t / (1 + sqrt(1 + t^2)))
    t2 = t * t
    # Horner in t^2 over the coefficients (-1)^k / (2k + 1), k = 0..12.
    p = 1.0 / 25.0
    p = -1.0 / 23.0 + t2 * p
    p = 1.0 / 21.0 + t2 * p
    p = -1.0 / 19.0 + t2 * p
    p = 1.0 / 17.0 + t2 * p
    p = -1.0 / 15.0 + t2 * p
    p = 1.0 / 13.0 + t2 * p
    p = -1.0 / 11.0 + t2 * p
    p = 1.0 / 9.0 + t2 * p
    p = -1.0 / 7.0 + t2 * p
    p = 1.0 / 5.0 + t2 * p
    p = -1.0 / 3.0 + t2 * p
    p = 1.0 + t2 * p
    return base + 2.0 * t * p
