"""Float64-accurate special functions for the NumPy references (NumPy has no erf or erfinv).

All are vectorised and accurate to a few ulp in float64 (checked against Python's ``math.erf`` and
``math.erfc`` and by round trip in ``tests/test_math_helpers.py``); erf and erfc cost a few
polynomial evaluations per element::

    >>> import math, numpy as np
    >>> abs(float(erf(np.array(0.5))) - math.erf(0.5)) < 1e-15
    True
"""
from __future__ import annotations

import math

import numpy as np

_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)

# W. J. Cody's rational Chebyshev approximations (Math. Comp. 23, 1969; the CALERF routine of
# netlib's specfun), three ranges of |x|, each good to a few float64 ulp.
_SMALL_LIMIT, _MID_LIMIT = 0.46875, 4.0
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
      1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
      8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
      2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
      3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
      6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
      2.33520497626869185e-3)
_INV_SQRT_PI = 5.6418958354775628695e-1


def _rational(num, den, coeffs_num, coeffs_den, z, n):
    """The shared Horner loop of Cody's three ranges: ``num``/``den`` start as his seeds."""
    for i in range(n):
        num = (num + coeffs_num[i]) * z
        den = (den + coeffs_den[i]) * z
    return num, den


# Elements per pass: a pass's temporaries stay in cache (a whole 1M-element array per operation
# ran each operation from memory), and each range is selected with ``np.where`` rather than boolean
# indexing, whose gathers and scatters cost ten times a polynomial step.
CHUNK = 8192
# Below this many elements the vectorised forms cost their ~70 NumPy calls (about 100 us) whatever
# the size: libm's erf and erfc (Python's ``math``), element by element, are then far cheaper.
SCALAR_LIMIT = 128


def _erf_small(x: np.ndarray) -> np.ndarray:
    """erf(x) for |x| <= 0.46875."""
    z = x * x
    num, den = _rational(_A[4] * z, z, _A, _B, z, 3)
    return x * (num + _A[3]) / (den + _B[3])


def _times_exp_minus_square(y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``exp(-y*y) * r``, with y*y split so its rounding error does not reach the exponent."""
    head = np.trunc(y * 16.0) / 16.0
    return np.exp(-head * head) * np.exp(-(y - head) * (y + head)) * r


def _erfc_mid(y: np.ndarray) -> np.ndarray:
    """erfc(y) for 0.46875 < y <= 4."""
    num, den = _rational(_C[8] * y, y, _C, _D, y, 7)
    return _times_exp_minus_square(y, (num + _C[7]) / (den + _D[7]))


def _erfc_large(y: np.ndarray) -> np.ndarray:
    """erfc(y) for y > 4 (an asymptotic rational form in 1/y^2)."""
    z = 1.0 / (y * y)
    num, den = _rational(_P[5] * z, z, _P, _Q, z, 4)
    r = z * (num + _P[4]) / (den + _Q[4])
    return _times_exp_minus_square(y, (_INV_SQRT_PI - r) / y)


def _erf_erfc_chunk(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(erf(y), erfc(y)) for y >= 0 (or NaN), one chunk: each of Cody's ranges present is evaluated
    on the whole chunk (out-of-range lanes are discarded), near 0 erf directly (1 - erfc would
    cancel), elsewhere erfc (1 - erf would cancel in the tail)."""
    small = y <= _SMALL_LIMIT
    erf_small = _erf_small(np.where(small, y, 0.0))
    if small.all():
        return erf_small, 1.0 - erf_small
    tail = np.where(small, 1.0, np.minimum(y, 28.0))   # erfc(28) underflows to 0; huge lanes stay finite
    c = _erfc_mid(np.minimum(tail, _MID_LIMIT))
    if (y > _MID_LIMIT).any():
        c = np.where(tail > _MID_LIMIT, _erfc_large(np.maximum(tail, _MID_LIMIT)), c)
    c = np.where(small, 1.0 - erf_small, c)
    c = np.where(np.isnan(y), np.nan, c)
    return np.where(small, erf_small, 1.0 - c), c


def _erf_erfc_of_abs(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(erf(y), erfc(y)) of a 1-D float64 ``y >= 0`` (or NaN), chunk by chunk."""
    if y.size <= SCALAR_LIMIT:
        values = y.tolist()
        return np.array([math.erf(v) for v in values]), np.array([math.erfc(v) for v in values])
    erf_out, erfc_out = np.empty_like(y), np.empty_like(y)
    with np.errstate(all="ignore"):
        for start in range(0, y.size, CHUNK):
            part = slice(start, start + CHUNK)
            erf_out[part], erfc_out[part] = _erf_erfc_chunk(y[part])
    return erf_out, erfc_out


def erfc(x) -> np.ndarray:
    """Complementary error function, accurate in the far tail (no 1 - erf cancellation)."""
    x = np.asarray(x, dtype=np.float64)
    pos = _erf_erfc_of_abs(np.abs(x).reshape(-1))[1].reshape(x.shape)
    return np.where(x < 0, 2.0 - pos, pos)  # NaN stays NaN


def erf(x) -> np.ndarray:
    """Error function erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt; NaN stays NaN, erf(±inf) = ±1."""
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(-1)
    return np.copysign(_erf_erfc_of_abs(np.abs(flat))[0], flat).reshape(x.shape)


def erfinv(y) -> np.ndarray:
    """Inverse error function on [-1, 1]: ±inf at ±1, NaN outside.

    Winitzki's closed form gives three correct digits; Newton steps on erf (or on erfc near ±1, where
    1 - |y| carries the information) finish the job.
    """
    accurate = np.asarray(y).dtype == np.float64
    y = np.asarray(y, dtype=np.float64)
    shape, y = y.shape, y.reshape(-1)
    ay = np.abs(y)
    with np.errstate(all="ignore"):
        a = 0.147
        log_term = np.log1p(-ay * ay)
        first = 2.0 / (np.pi * a) + log_term / 2.0
        x = np.sqrt(np.sqrt(first * first - log_term / a) - first)
        tail = ay > 0.5
        one_minus = 1.0 - ay  # exact for ay >= 0.5 (Sterbenz)
        for _ in range(4 if accurate else 2):  # quadratic convergence from ~3 digits
            slope = _TWO_OVER_SQRT_PI * np.exp(-x * x)
            e, c = _erf_erfc_of_abs(x)
            # erf(x) - |y|, written through erfc near ±1 so the small difference is not lost.
            residual = np.where(tail, one_minus - c, e - ay)
            x = x - residual / slope
    x = np.where(ay == 1.0, np.inf, x)
    x = np.where((ay > 1.0) | np.isnan(y), np.nan, x)
    return np.copysign(x, y).reshape(shape)


# -- gamma-family, Bessel and sinc references ---------------------------------------------------------
# Classic float64 methods, chosen to differ from the Triton helpers' (kernels/math_triton.py) so the two
# check each other: recurrences up to 10 and asymptotic series, the reflection formulas below 0.

_LOG_PI = float(np.log(np.pi))
_HALF_LOG_2PI = 0.9189385332046728
# B_2k / (2k (2k - 1)) (Stirling) and B_2k / (2k) (digamma), k = 1..7; B_2j / (2j)!, j = 1..12 (zeta).
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)
_PSI_ASYMPTOTIC = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)
_BERNOULLI_OVER_FACTORIAL = (1 / 12, -1 / 720, 1 / 30240, -1 / 1209600, 1 / 47900160, -691 / 1307674368000,
                             1 / 74724249600, -3617 / 10670622842880000, 43867 / 5109094217170944000,
                             -174611 / 802857662698291200000, 77683 / 14101100039391805440000,
                             -236364091 / 1693824136731743669452800000)


def _float64(x) -> np.ndarray:
    return np.array(x, dtype=np.float64, ndmin=1)


def sinpi(x) -> np.ndarray:
    """sin(pi x) exactly reduced (x - round(x) is exact), so it is 0 at the integers and accurate
    relative to the result everywhere; NaN at ±inf."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        n = np.round(x)
        r = np.sin(np.pi * (x - n))
        return np.where(np.fmod(n, 2.0) != 0, -r, r)


def _shift_to(y: np.ndarray, limit: float):
    """(y + k, k) with the smallest whole k that takes each y >= 0 to at least ``limit`` (k <= limit)."""
    k = np.where(y < limit, np.ceil(limit - y), 0.0)
    k = np.where(np.isfinite(k), k, 0.0)
    return y + k, k


def lgamma(x) -> np.ndarray:
    """log|Gamma(x)|: Stirling's series from 10 on (smaller arguments shifted up, dividing by the
    product of the shifts), the reflection formula below 0; +inf at 0, the negative integers and ±inf."""
    shape = np.shape(x)
    x = _float64(x)
    with np.errstate(all="ignore"):
        neg = x < 0
        y = np.where(neg, 1.0 - x, np.abs(x))
        z, k = _shift_to(y, 10.0)
        shifted = np.ones_like(y)
        for i in range(10):
            shifted *= np.where(i < k, y + i, 1.0)
        r = 1.0 / z
        series = np.zeros_like(z)
        for c in reversed(_STIRLING):
            series = series * r * r + c
        positive = (z - 0.5) * np.log(z) - z + _HALF_LOG_2PI + series * r - np.log(shifted)
        positive = np.where(np.isinf(y), np.inf, positive)
        reflected = _LOG_PI - np.log(np.abs(sinpi(x))) - positive
        out = np.where(neg, reflected, positive)
        out[np.isneginf(x)] = np.inf
    return out.reshape(shape)


def digamma(x) -> np.ndarray:
    """Gamma'(x) / Gamma(x): the asymptotic series from 10 on (smaller arguments through
    digamma(y) = digamma(y + 1) - 1/y), the reflection formula below 0; -inf at +0, +inf at -0, NaN at
    the negative integers and -inf."""
    shape = np.shape(x)
    x = _float64(x)
    with np.errstate(all="ignore"):
        neg = x < 0
        y = np.where(neg, 1.0 - x, x)
        z, k = _shift_to(np.where(y == 0, 1.0, y), 10.0)
        shifts = np.zeros_like(y)
        for i in range(10):
            shifts += np.where(i < k, 1.0 / (y + i), 0.0)
        r2 = 1.0 / (z * z)
        series = np.zeros_like(z)
        for c in reversed(_PSI_ASYMPTOTIC):
            series = series * r2 + c
        positive = np.log(z) - 0.5 / z - series * r2 - shifts
        positive = np.where(y == 0, -1.0 / y, positive)       # -inf at +0, +inf at -0
        t = x - np.round(x)
        reflected = positive - np.pi * np.cos(np.pi * t) / np.sin(np.pi * t)
        out = np.where(neg, reflected, positive)
        out[neg & (np.floor(x) == x)] = np.nan
    return out.reshape(shape)


def hurwitz_zeta(s: int, a) -> np.ndarray:
    """zeta(s, a) = sum_k (a + k)^-s for an integer s >= 2 and a >= 0 (inf at 0, 0 at inf): nine terms
    and the Euler-Maclaurin tail with twelve Bernoulli corrections (Cephes' method)."""
    a = _float64(a)
    with np.errstate(all="ignore"):
        w = np.where(np.isinf(a), 1.0, a) + 9.0
        tail = w ** (1.0 - s) / (s - 1) + 0.5 * w ** -float(s)
        c = s * w ** (-s - 1.0)
        for j, b in enumerate(_BERNOULLI_OVER_FACTORIAL):
            tail += b * c
            c = c * (s + 2 * j + 1) * (s + 2 * j + 2) / (w * w)
        total = tail
        for k in range(8, -1, -1):
            total = total + (a + k) ** -float(s)
    return np.where(np.isinf(a), 0.0, total)


def polygamma(x, n: int = 0) -> np.ndarray:
    """The n-th derivative of digamma: (-1)^(n+1) n! sum_k (x + k)^-(n+1) for n >= 1 (negative x through
    Hurwitz zetas of positive arguments); digamma for n = 0. ±inf at the poles, 0 at +inf, NaN at -inf."""
    if n == 0:
        return digamma(x)
    shape = np.shape(x)
    x = _float64(x)
    s = n + 1
    with np.errstate(all="ignore"):
        neg = x < 0
        fl = np.floor(x)
        q = np.where(neg, x - fl, np.abs(x))
        p = np.where(neg, (fl + 1.0) - x, 1.0)
        sign = -1.0 if s % 2 else 1.0
        total = hurwitz_zeta(s, q) + np.where(neg, sign * (hurwitz_zeta(s, p) - hurwitz_zeta(s, np.where(neg, 1.0 - x, 1.0))), 0.0)
        factor = math.factorial(n) if n <= 170 else math.inf
        out = (factor if n % 2 else -factor) * total
        out[np.isneginf(x)] = np.nan
    return out.reshape(shape)


def _bessel_i(x: np.ndarray, nu: int) -> np.ndarray:
    """I_nu(|x|), nu = 0 or 1: the power series to k = 36 up to 20, then the asymptotic series to k = 24
    with e^x taken in halves (finite wherever I_nu is)."""
    ax = np.abs(x)
    with np.errstate(all="ignore"):
        q = ax * ax / 4.0
        series = np.ones_like(ax)
        for k in range(36, 0, -1):
            series = 1.0 + q / (k * (k + nu)) * series
        if nu:
            series *= ax / 2.0
        xa = np.where(ax > 20.0, ax, 20.0)
        asym = np.ones_like(ax)
        for k in range(24, 0, -1):
            asym = 1.0 + (4.0 * nu * nu - (2 * k - 1) ** 2) / (-8.0 * k * xa) * asym
        half = np.exp(xa / 2.0)
        asym = half * (half * asym / np.sqrt(2.0 * np.pi * xa))
    return np.where(ax > 20.0, asym, series)


def i0(x) -> np.ndarray:
    """The modified Bessel function I0 (NaN at ±inf, as PyTorch's and NumPy's ``i0``)."""
    shape = np.shape(x)
    x = _float64(x)
    out = _bessel_i(x, 0)
    out[np.isinf(x)] = np.nan
    return out.reshape(shape)


def i1(x) -> np.ndarray:
    """The modified Bessel function I1, odd (NaN at ±inf, as PyTorch's ``special.i1``)."""
    shape = np.shape(x)
    x = _float64(x)
    out = np.where(x < 0, -1.0, 1.0) * _bessel_i(x, 1)
    out[np.isinf(x)] = np.nan
    return out.reshape(shape)


def sinc(x) -> np.ndarray:
    """sin(pi x) / (pi x), 1 at 0, even; exactly 0 at the nonzero integers, with the sign (-1)^x."""
    ax = np.abs(np.asarray(x, dtype=np.float64))
    with np.errstate(all="ignore"):
        return np.where(ax == 0, 1.0, sinpi(ax) / (np.pi * ax))
