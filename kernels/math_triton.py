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


# -- gamma-family and Bessel helpers (lgamma, digamma, polygamma, erfc, i0, i1, sinc) ----------------
# Series coefficients are exact expressions (zeta values, Bernoulli numbers, factorials) evaluated to
# double precision; each helper states where its terms come from. Bounds are measured in fp32 by
# tests/test_math_helpers.py; fp64 inputs run the same formulas, whose truncation error is below 1e-16.

_LOG_PI = tl.constexpr(1.1447298858494002)
_HALF_LOG_2PI = tl.constexpr(0.9189385332046728)
_PI = tl.constexpr(3.141592653589793)
_INV_SQRT_PI = tl.constexpr(0.5641895835477563)
_INV_SQRT_2PI = tl.constexpr(0.3989422804014327)
# The positive root of digamma, x0 = A + B + C with A and B exact in fp32 (so x - A - B is exact near x0).
_PSI_ROOT_A = tl.constexpr(1.4616321325302124)
_PSI_ROOT_B = tl.constexpr(1.243815006546356e-08)
_PSI_ROOT_C = tl.constexpr(-1.2654465062537432e-16)


@triton.jit
def sinpi_reduced(t):
    """sin(pi * t) for |t| <= 0.5: the Taylor series to t^25 (truncation below 1e-19; fp32 rel. error
    4 ulp), accurate relative to the result near 0 where sin(pi * x) computed in the dtype is not."""
    u = t * t
    p = 1.7302192458361107e-13
    p = -1.0518471716932065e-11 + u * p
    p = 5.392664662608129e-10 + u * p
    p = -2.2948428997269873e-08 + u * p
    p = 7.952054001475513e-07 + u * p
    p = -2.1915353447830217e-05 + u * p
    p = 0.00046630280576761255 + u * p
    p = -0.0073704309457143504 + u * p
    p = 0.08214588661112823 + u * p
    p = -0.5992645293207921 + u * p
    p = 2.5501640398773455 + u * p
    p = -5.16771278004997 + u * p
    p = 3.141592653589793 + u * p
    return t * p


@triton.jit
def nearest_integer(x):
    """round(x) (ties toward -inf) such that ``x - round(x)`` is exact and within [-0.5, 0.5]: from the
    exact fraction x - floor(x) for |x| >= 0.5 (x + 0.5 could round), 0 below."""
    fl = tl.floor(x)
    n = tl.where(x - fl > 0.5, fl + 1.0, fl)
    return tl.where(tl.abs(x) < 0.5, 0.0, n)


@triton.jit
def _lgamma2(z):
    """lgamma(2 + z) for |z| <= 0.5: its Taylor series (1 - gamma) z + sum_k (-1)^k (zeta(k) - 1) / k z^k
    to z^26 (truncation below 2e-17), relative near z = 0 (the root at 2)."""
    p = 5.731367241678862e-10
    p = -1.1921401405860912e-09 + z * p
    p = 2.4836745438024785e-09 + z * p
    p = -5.183475041970047e-09 + z * p
    p = 1.0838659214896955e-08 + z * p
    p = -2.2711094608943164e-08 + z * p
    p = 4.7698101693639804e-08 + z * p
    p = -1.0043224823968099e-07 + z * p
    p = 2.1207184805554665e-07 + z * p
    p = -4.492469198764566e-07 + z * p
    p = 9.55141213040742e-07 + z * p
    p = -2.039215753801366e-06 + z * p
    p = 4.374866789907488e-06 + z * p
    p = -9.439488275268397e-06 + z * p
    p = 2.050721277567069e-05 + z * p
    p = -4.492623673813314e-05 + z * p
    p = 9.945751278180853e-05 + z * p
    p = -0.00022315475845357939 + z * p
    p = 0.0005096695247430425 + z * p
    p = -0.001192753911703261 + z * p
    p = 0.0028905103307415234 + z * p
    p = -0.007385551028673986 + z * p
    p = 0.020580808427784546 + z * p
    p = -0.0673523010531981 + z * p
    p = 0.3224670334241132 + z * p
    p = 0.42278433509846713 + z * p
    return z * p


@triton.jit
def _lgamma15(z):
    """lgamma(1.5 + z) for |z| <= 0.25, about the minimum: its Taylor series, coefficients
    psi^(k-1)(1.5) / k!, to z^22 (truncation below 1e-18)."""
    p = 6.07540647448469e-06
    p = -9.547151192148187e-06 + z * p
    p = 1.5036983408359218e-05 + z * p
    p = -2.3743185469209343e-05 + z * p
    p = 3.759490926961219e-05 + z * p
    p = -5.97136233623377e-05 + z * p
    p = 9.517939662502588e-05 + z * p
    p = -0.00015231593814270082 + z * p
    p = 0.0002448711904829441 + z * p
    p = -0.00039577153964650777 + z * p
    p = 0.0006437029830381486 + z * p
    p = -0.001054915693867632 + z * p
    p = 0.00174503557579013 + z * p
    p = -0.002920970458667952 + z * p
    p = 0.004965728809475818 + z * p
    p = -0.008622603929171286 + z * p
    p = 0.0154354841700493 + z * p
    p = -0.028952081888893543 + z * p
    p = 0.05871212641676822 + z * p
    p = -0.13813277403905333 + z * p
    p = 0.46740110027233966 + z * p
    p = 0.03648997397857652 + z * p
    p = -0.12078223763524522 + z * p
    return p


@triton.jit
def _lgamma_positive(y):
    """lgamma(y) for y >= 0 (+0 and -0 give inf; NaN and inf pass through)."""
    # y >= 10: Stirling's series to 1/y^13 (truncation < 3e-17 at y = 10).
    big = y >= 10.0
    ys = tl.where(big, y, 10.0)
    r = 1.0 / ys
    r2 = r * r
    s = 0.00641025641025641
    s = -0.0019175269175269176 + r2 * s
    s = 0.0008417508417508417 + r2 * s
    s = -0.0005952380952380953 + r2 * s
    s = 0.0007936507936507937 + r2 * s
    s = -0.002777777777777778 + r2 * s
    s = 0.08333333333333333 + r2 * s
    stirling = (ys - 0.5) * (tl.log(ys) - 1.0) + (_HALF_LOG_2PI - 0.5) + r * s
    # 2.5 <= y < 10: down to [1.5, 2.5) with lgamma(y) = lgamma(y - 1) + log(y - 1): positive terms only.
    yy = tl.where(big, 2.0, y)
    prod = tl.zeros_like(y) + 1.0
    for _ in tl.static_range(8):
        step = yy >= 2.5
        prod = tl.where(step, prod * (yy - 1.0), prod)
        yy = tl.where(step, yy - 1.0, yy)
    # [1.75, 2.5): the series about 2; [1.25, 1.75): the series about 1.5; [0.5, 1.25): lgamma(y + 1) -
    # log1p(y - 1), the series about 2 minus log1p near the root at 1; (0, 0.5): lgamma(y + 2) - log(y) -
    # log1p(y). Each keeps the cancellation between its terms under a factor of 3.5.
    low = yy < 0.5
    near1 = (yy >= 0.5) & (yy < 1.25)
    middle = (yy >= 1.25) & (yy < 1.75)
    z = tl.where(low, yy, tl.where(near1, yy - 1.0, yy - 2.0))
    core = _lgamma2(z)
    core = tl.where(near1, core - log1p(z), core)
    core = tl.where(low, core - tl.log(yy) - log1p(yy), core)
    core = tl.where(middle, _lgamma15(tl.where(middle, yy - 1.5, 0.0)), core)
    core = core + tl.log(prod)
    return tl.where(big, stirling, core)


@triton.jit
def lgamma(x):
    """log|Gamma(x)|: Stirling's series past 10, a recurrence down to the series of lgamma(2 + z) below,
    the reflection formula for x < 0; inf at 0 and the negative integers and at ±inf, as PyTorch.

    Max error (fp32, x in [-30, 60] and [1e-30, 1e30]): 5 ulp for x > 0 (relative at the roots 1 and 2);
    for x < 0 the reflection leaves 25 ulp plus an absolute 6e-7, which is many ulp near the negative
    roots, where |lgamma| is small."""
    neg = x < 0
    y = tl.where(neg, 1.0 - x, x)
    positive = _lgamma_positive(y)
    t = x - nearest_integer(x)
    # lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x); sin(pi x) = ±sin(pi t). 0 at the integers: inf.
    reflected = _LOG_PI - tl.log(tl.abs(sinpi_reduced(t))) - positive
    r = tl.where(neg, reflected, positive)
    return tl.where(x == -float("inf"), float("inf"), r)


@triton.jit
def _digamma_root_series(d):
    """digamma(x0 + d) for |d| <= 0.5 about the positive root x0: sum_k psi^(k)(x0) / k! d^k to d^36
    (truncation < 2e-17), relative near the root."""
    p = -7.96142543124197e-07
    p = 1.1636675363548843e-06 + d * p
    p = -1.7008538854332607e-06 + d * p
    p = 2.486022733129538e-06 + d * p
    p = -3.6336507898010456e-06 + d * p
    p = 5.3110609208898636e-06 + d * p
    p = -7.762817668462094e-06 + d * p
    p = 1.134638458466385e-05 + d * p
    p = -1.6584242271854135e-05 + d * p
    p = 2.424006611860132e-05 + d * p
    p = -3.5430070947659604e-05 + d * p
    p = 5.178575795222081e-05 + d * p
    p = -7.569179582195066e-05 + d * p
    p = 0.0001106337276874741 + d * p
    p = -0.00016170622091974803 + d * p
    p = 0.00023635601564027053 + d * p
    p = -0.0003454680251063077 + d * p
    p = 0.000504953265834602 + d * p
    p = -0.0007380709389960052 + d * p
    p = 0.0010788252019162967 + d * p
    p = -0.0015769367714301972 + d * p
    p = 0.002305126326734928 + d * p
    p = -0.003369801655439328 + d * p
    p = 0.004926781395729853 + d * p
    p = -0.007204534386356869 + d * p
    p = 0.010538791616612175 + d * p
    p = -0.01542476590494896 + d * p
    p = 0.022597648232218104 + d * p
    p = -0.03316112647484736 + d * p
    p = 0.04880428816414311 + d * p
    p = -0.07219956125645471 + d * p
    p = 0.10782405069126237 + d * p
    p = -0.16394270544240652 + d * p
    p = 0.258499760955651 + d * p
    p = -0.4427631689835921 + d * p
    p = 0.9676722454476212 + d * p
    return d * p


@triton.jit
def _digamma_positive(y):
    """digamma(y) for y >= 0 (+0 gives -inf, -0 gives +inf through -1/y; NaN and inf pass through)."""
    # y >= 10: the asymptotic series log y - 1/(2y) - sum B_2k / (2k y^2k) to 1/y^14 (truncation < 5e-17).
    big = y >= 10.0
    ys = tl.where(big, y, 10.0)
    r2 = 1.0 / (ys * ys)
    s = 0.08333333333333333
    s = -0.021092796092796094 + r2 * s
    s = 0.007575757575757576 + r2 * s
    s = -0.004166666666666667 + r2 * s
    s = 0.003968253968253968 + r2 * s
    s = -0.008333333333333333 + r2 * s
    s = 0.08333333333333333 + r2 * s
    asymptotic = tl.log(ys) - 0.5 / ys - r2 * s
    # Below x0 - 0.5: digamma(y) = digamma(y + 1) - 1/y; from x0 + 0.5 to 10: digamma(y) =
    # digamma(y - 1) + 1/(y - 1), down to the root series.
    lo = _PSI_ROOT_A - 0.5
    hi = _PSI_ROOT_A + 0.5
    small = y < lo
    acc = tl.where(small, -1.0 / y, 0.0)
    yy = tl.where(big, _PSI_ROOT_A, tl.where(small, y + 1.0, y))
    for _ in tl.static_range(9):
        step = yy >= hi
        acc = tl.where(step, acc + 1.0 / (yy - 1.0), acc)
        yy = tl.where(step, yy - 1.0, yy)
    d = ((yy - _PSI_ROOT_A) - _PSI_ROOT_B) - _PSI_ROOT_C
    return tl.where(big, asymptotic, _digamma_root_series(d) + acc)


@triton.jit
def digamma(x):
    """The digamma function Gamma'(x) / Gamma(x): the series about its positive root, recurrences to it,
    the asymptotic series past 10, the reflection formula for x < 0. NaN at the negative integers and
    -inf, -inf at +0 and +inf at -0, as PyTorch.

    Max error (fp32, x in [-30, 60] and [1e-30, 1e30]): 4 ulp for x > 0 (relative at the root too);
    for x < 0, 4 ulp plus an absolute 3e-7 from the reflection (many ulp near the negative roots only)."""
    neg = x < 0
    positive = _digamma_positive(tl.where(neg, 1.0 - x, x))
    t = x - nearest_integer(x)
    # digamma(x) = digamma(1 - x) - pi cot(pi x); cos(pi t) = sin(pi (1/2 - |t|)), exact argument.
    cot = sinpi_reduced(0.5 - tl.abs(t)) / sinpi_reduced(t)
    r = tl.where(neg, positive - _PI * cot, positive)
    return tl.where(neg & (tl.floor(x) == x), float("nan"), r)


@triton.jit
def _pow_uint(r, e):
    """r ** e for an int32 ``e`` in [0, 1023] by repeated squaring (about log2(e) roundings)."""
    result = tl.zeros_like(r) + 1.0
    base = r
    for _ in tl.static_range(10):
        result = tl.where((e & 1) != 0, result * base, result)
        base = base * base
        e = e >> 1
    return result


@triton.jit
def _zeta_tail(s, sf, w):
    """sum_{k >= 0} (w + k)^-s for w >= 9 by Euler-Maclaurin: w^(1-s) / (s - 1) + w^-s / 2 plus twelve
    Bernoulli corrections B_2j / (2j)! s (s + 1) ... (s + 2j - 2) w^(-s - 2j + 1) (as Cephes' zeta and
    PyTorch's), the rising product kept in ``c`` so that nothing overflows before the powers of w shrink it."""
    wi = 1.0 / w
    ws = _pow_uint(wi, s)
    wi2 = wi * wi
    c = sf * ws * wi
    tail = c * 0.08333333333333333
    c = c * (sf + 1.0) * (sf + 2.0) * wi2
    tail += c * -0.001388888888888889
    c = c * (sf + 3.0) * (sf + 4.0) * wi2
    tail += c * 3.306878306878307e-05
    c = c * (sf + 5.0) * (sf + 6.0) * wi2
    tail += c * -8.267195767195768e-07
    c = c * (sf + 7.0) * (sf + 8.0) * wi2
    tail += c * 2.08767569878681e-08
    c = c * (sf + 9.0) * (sf + 10.0) * wi2
    tail += c * -5.284190138687493e-10
    c = c * (sf + 11.0) * (sf + 12.0) * wi2
    tail += c * 1.3382536530684679e-11
    c = c * (sf + 13.0) * (sf + 14.0) * wi2
    tail += c * -3.3896802963225827e-13
    c = c * (sf + 15.0) * (sf + 16.0) * wi2
    tail += c * 8.586062056277845e-15
    c = c * (sf + 17.0) * (sf + 18.0) * wi2
    tail += c * -2.174868698558062e-16
    c = c * (sf + 19.0) * (sf + 20.0) * wi2
    tail += c * 5.5090028283602295e-18
    c = c * (sf + 21.0) * (sf + 22.0) * wi2
    tail += c * -1.3954464685812522e-19
    return tail + ws * 0.5 + ws * w / (sf - 1.0)


@triton.jit
def hurwitz_zeta(s, a):
    """zeta(s, a) = sum_k (a + k)^-s for an integer s >= 2 (int32, up to 1023) and a > 0 (0 gives inf,
    inf gives 0): nine terms, then the Euler-Maclaurin tail from a + 9; summed smallest first.
    Max rel. error (fp32): about 2s + 3 ulp (the powers of 1 / (a + k))."""
    sf = s.to(a.dtype)
    total = _zeta_tail(s, sf, tl.where(a == float("inf"), 1.0, a) + 9.0)
    for i in tl.static_range(9):
        total += _pow_uint(1.0 / (a + (8 - i)), s)
    return tl.where(a == float("inf"), 0.0, total)


@triton.jit
def _zeta_difference(s, q, p, g):
    """zeta(s, q) - zeta(s, p) for q + p = 1, q in [1/4, 3/4], g = q - p given exactly (q itself may
    be rounded), without the cancellation near q = 1/2: each pair (q + k)^-s - (p + k)^-s as
    -(q + k)^-s expm1(s log1p(g / (p + k))); the two Euler-Maclaurin tails are small, so their
    difference costs an absolute error only."""
    sf = s.to(q.dtype)
    total = _zeta_tail(s, sf, q + 9.0) - _zeta_tail(s, sf, p + 9.0)
    for i in tl.static_range(9):
        u = q + (8 - i)
        v = p + (8 - i)
        total += _pow_uint(1.0 / u, s) * expm1(sf * log1p(g / v)) * -1.0
    return total


@triton.jit
def polygamma(s, x):
    """sum_k (x + k)^-s for integer s >= 2 and any x (the polygamma function of order s - 1 without its
    (-1)^s (s - 1)! factor). Negative x: the sum splits at 0 into Hurwitz zetas of positive arguments,
    zeta(s, q) + (-1)^s (zeta(s, 1 - q) - zeta(s, 1 - x)) with q = x - floor(x), so the work is bounded
    however negative x is; for odd s the first difference is taken term by term (``_zeta_difference``).
    inf at the poles (x = 0, -1, ...), 0 at +inf, NaN at -inf."""
    neg = x < 0
    fl = tl.floor(x)
    q = tl.where(neg, x - fl, tl.abs(x))             # |x|: -0 is the pole at 0, as +0 is
    p = tl.where(neg, (fl + 1.0) - x, 1.0)           # 1 - q, exact even where q rounds (x near -0)
    odd = (s & 1) != 0
    balanced = neg & odd & (q >= 0.25) & (q <= 0.75)
    g = 2.0 * x - (2.0 * fl + 1.0)                   # q - p = 2q - 1, exact where q = x + 1 is not
    diff = _zeta_difference(s, tl.where(balanced, q, 0.5), tl.where(balanced, p, 0.5), tl.where(balanced, g, 0.0))
    zq = hurwitz_zeta(s, q)
    zp = hurwitz_zeta(s, p)
    zx = hurwitz_zeta(s, tl.where(neg, 1.0 - x, 1.0))
    # odd s: zeta(s, q) - zeta(s, p) + zeta(s, 1 - x); even s: zeta(s, q) + zeta(s, p) - zeta(s, 1 - x)
    first = tl.where(odd, tl.where(balanced, diff, zq - zp), zq + zp)
    r = tl.where(neg, first + tl.where(odd, zx, zx * -1.0), zq)
    return tl.where(x == -float("inf"), float("nan"), r)


@triton.jit
def erfc(x):
    """Complementary error function, accurate in the far tail: W. J. Cody's rational approximations
    (as ``math_reference.erfc``) with exp(-x^2) split so the rounding of x^2 does not reach the exponent.
    Max rel. error (fp32): 4 ulp while erfc(x) is a normal float (x < 9.1); subnormal results beyond."""
    y = tl.abs(x)
    # |x| <= 0.46875: 1 - erf(x), erf from Cody's first range.
    z = x * x
    num = 0.185777706184603153 * z
    den = z
    num = (num + 3.16112374387056560) * z
    den = (den + 23.6012909523441209) * z
    num = (num + 113.864154151050156) * z
    den = (den + 244.024637934444173) * z
    num = (num + 377.485237685302021) * z
    den = (den + 1282.61652607737228) * z
    small = 1.0 - x * (num + 3209.37758913846947) / (den + 2844.23683343917062)
    # 0.46875 < |x| <= 4
    num = 2.15311535474403846e-8 * y
    den = y
    num = (num + 0.564188496988670089) * y
    den = (den + 15.7449261107098347) * y
    num = (num + 8.88314979438837594) * y
    den = (den + 117.693950891312499) * y
    num = (num + 66.1191906371416295) * y
    den = (den + 537.181101862009858) * y
    num = (num + 298.635138197400131) * y
    den = (den + 1621.38957456669019) * y
    num = (num + 881.952221241769090) * y
    den = (den + 3290.79923573345963) * y
    num = (num + 1712.04761263407058) * y
    den = (den + 4362.61909014324716) * y
    num = (num + 2051.07837782607147) * y
    den = (den + 3439.36767414372164) * y
    mid = (num + 1230.33935479799725) / (den + 1230.33935480374942)
    # |x| > 4: an asymptotic rational form in 1 / x^2.
    yl = tl.where(y > 4.0, y, 4.0)
    w = 1.0 / (yl * yl)
    num = 0.0163153871373020978 * w
    den = w
    num = (num + 0.305326634961232344) * w
    den = (den + 2.56852019228982242) * w
    num = (num + 0.360344899949804439) * w
    den = (den + 1.87295284992346725) * w
    num = (num + 0.125781726111229246) * w
    den = (den + 0.527905102951428412) * w
    num = (num + 0.0160837851487422766) * w
    den = (den + 0.0605183413124413191) * w
    large = (_INV_SQRT_PI - w * (num + 6.58749161529837803e-4) / (den + 2.33520497626869185e-3)) / yl
    ratio = tl.where(y > 4.0, large, mid)
    yf = tl.where(y == float("inf"), 0.0, y)
    head = tl.floor(yf * 16.0) * 0.0625
    tail = tl.exp(head * head * -1.0) * tl.exp((yf - head) * (yf + head) * -1.0) * ratio
    tail = tl.where(y == float("inf"), 0.0, tail)
    tail = tl.where(x < 0, 2.0 - tail, tail)
    return tl.where(y <= 0.46875, small, tail)


@triton.jit
def _bessel_i(x, NU: tl.constexpr):
    """I_nu(|x|) for nu = 0 or 1 (the caller gives i1 its sign): the power series
    (|x|/2)^nu sum_k (x^2/4)^k / (k! (k + nu)!) to k = 36 for |x| <= 20 (positive terms: no cancellation),
    and past 20 the asymptotic series e^x / sqrt(2 pi x) sum_k (-1)^k a_k(nu) / x^k to k = 24 (truncation
    < 1e-17 in both); e^x is taken as two halves, so the result overflows where I_nu does, not e^x."""
    ax = tl.abs(x)
    q = ax * ax * 0.25
    # Horner from the innermost term: 1 + q/(1 (1 + nu)) (1 + q/(2 (2 + nu)) (1 + ...)).
    series = tl.zeros_like(ax) + 1.0
    for i in tl.static_range(36):
        series = 1.0 + q * (1.0 / ((36 - i) * (36 - i + NU))) * series
    if NU == 1:
        series = series * ax * 0.5
    big = ax > 20.0
    xa = tl.where(big, ax, 20.0)
    inv = 1.0 / xa
    asymptotic = tl.zeros_like(ax) + 1.0
    for i in tl.static_range(24):
        asymptotic = 1.0 + inv * ((4.0 * NU * NU - (2 * (24 - i) - 1) * (2 * (24 - i) - 1)) / (-8.0 * (24 - i))) * asymptotic
    half = tl.exp(xa * 0.5)
    asymptotic = half * (half * asymptotic * _INV_SQRT_2PI / tl.sqrt(xa))
    return tl.where(big, asymptotic, series)


@triton.jit
def i0(x):
    """The modified Bessel function of the first kind, order 0 (even). Max rel. error (fp32): 14 ulp
    (at 5 < |x| < 20, where the rounding of x^2 / 4 alone costs x / 4 ulp); NaN at ±inf, as PyTorch's and
    NumPy's."""
    r = _bessel_i(x, 0)
    return tl.where(tl.abs(x) == float("inf"), float("nan"), r)


@triton.jit
def i1(x):
    """The modified Bessel function of the first kind, order 1 (odd; +0 at ±0). Max rel. error (fp32):
    14 ulp, as i0; NaN at ±inf, as PyTorch's special.i1."""
    r = _bessel_i(x, 1)
    r = tl.where(x < 0, r * -1.0, r)
    return tl.where(tl.abs(x) == float("inf"), float("nan"), r)


@triton.jit
def sinc(x):
    """sin(pi x) / (pi x), 1 at 0: the sine through the exact reduction |x| - round(|x|), so the result is
    accurate for every x, and at the nonzero integers exactly 0 with the sign (-1)^x (as PyTorch's
    float results lean). Max rel. error (fp32): 3 ulp."""
    ax = tl.abs(x)
    n = nearest_integer(ax)
    s = sinpi_reduced(ax - n)
    odd = (n - 2.0 * tl.floor(n * 0.5)) != 0.0
    s = tl.where(odd, s * -1.0, s)
    r = s / (ax * _PI)
    return tl.where(x == 0, 1.0, r)
