"""``nr.special``: PyTorch's special-function namespace, as ``torch.special``.

Functions NeuraRust already has under its own name (``gammaln`` is ``nr.lgamma``, ``psi`` is
``nr.digamma``, ``expit`` is ``nr.sigmoid``, ``multigammaln`` is ``nr.mvlgamma``, ``erf``, ``i0``,
``logsumexp``, ...) are looked up on first use; the others are compositions of registry ops defined
here, so they run on both backends. ``erfcx``, ``log_ndtr``, ``ndtri``, ``i0e`` and ``i1e`` compute in
float64 whatever the input dtype (then round to it): their formulas subtract or rescale quantities
that float32 would lose. Their gradients are PyTorch's formulas::

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.special.ndtr(nr.tensor([0.0, 1.0])).tolist()]
    [0.5, 0.8413]
    >>> nr.special.gammaln is nr.lgamma, "log_ndtr" in dir(nr.special)
    (True, True)

Not provided (yet): ``zeta``, ``gammainc``/``gammaincc``, the orthogonal polynomials, the Bessel
functions ``bessel_j0``/``j1``/``y0``/``y1``, ``modified_bessel_*``, ``scaled_modified_bessel_*``,
``spherical_bessel_j0`` and ``airy_ai``.
"""
from __future__ import annotations

import math
from typing import Any

from .errors import SignatureError
from .registry import call
from .tensor import Tensor

# torch.special names served by an existing top-level function: name -> ``nr`` attribute.
ALIASES = {"gammaln": "lgamma", "psi": "digamma", "expit": "sigmoid", "multigammaln": "mvlgamma",
           **{n: n for n in ("digamma", "polygamma", "erf", "erfc", "erfinv", "i0", "sinc", "expm1", "exp2",
                             "log1p", "logit", "xlogy", "logsumexp", "softmax", "log_softmax", "round")}}

_SQRT1_2 = math.sqrt(0.5)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_ERFCX_SERIES_FROM = 10.0  # at and past this, 14 terms of erfcx's asymptotic series reach float64's precision
_BESSEL_SERIES_FROM = 700.0  # i0 and i1 overflow float64 a little past 713


def __getattr__(name: str) -> Any:
    if name in ALIASES:
        import neurarust

        return getattr(neurarust, ALIASES[name])
    raise AttributeError(f"module 'neurarust.special' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(ALIASES) | {n for n in globals() if not n.startswith("_") and n in __all__})


def _floating(name: str, input: Any) -> Tensor:
    """``input`` as a float tensor (integers and bools take the default float dtype, as in PyTorch)."""
    if not isinstance(input, Tensor):
        raise SignatureError(f"special.{name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if input.dtype.is_floating_point:
        return input
    from .dtype import get_default_dtype

    return input.to(get_default_dtype())


def _wide(x: Tensor) -> Tensor:
    from .dtype import float64

    return x if x.dtype is float64 else x.to(float64)


def _where(cond, a, b) -> Tensor:
    return call("where", cond, a, b)


# -- entr, xlog1py, ndtr ------------------------------------------------------------------------

def _entr_forward(x: Tensor) -> Tensor:
    value = _where(x > 0, -x * call("log", _where(x > 0, x, 1.0)), _where(x == 0, 0.0, -math.inf))
    return _where(call("isnan", x), x, value)


def entr(input: Tensor) -> Tensor:
    """The entropy term ``-x * log(x)``: 0 at 0, ``-inf`` for negative ``x``, as ``torch.special.entr``
    (its gradient ``-(1 + log(x))`` is ``inf`` at 0 and NaN below, as PyTorch's).

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.special.entr(nr.tensor([0.0, 0.5, 1.0, -1.0])).tolist()]
    [0.0, 0.3466, -0.0, -inf]
    """
    return _Entr.apply(_floating("entr", input))


def xlog1py(input: Any, other: Any) -> Tensor:
    """``input * log1p(other)``, 0 where ``input`` is 0 (unless ``other`` is NaN); either may be a number.

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.special.xlog1py(nr.tensor([0.0, 2.0]), nr.tensor([-1.0, 1.0])).tolist()]
    [0.0, 1.3863]
    """
    from .compositions import _as_float_pair

    x, y = _as_float_pair("special.xlog1py", input, other)
    log1p = call("log1p", y)
    zero = call("logical_and", x == 0, call("logical_not", call("isnan", y)))
    # Where input is 0 the result is 0 even beside an infinite log1p, and the gradient for input is
    # still log1p(other) where that is finite (PyTorch's derivative), hence a factor and not a where.
    finite = _where(call("isfinite", log1p), log1p, 0.0)
    return x * _where(zero, finite, log1p)


def ndtr(input: Tensor) -> Tensor:
    """The standard normal cumulative distribution function ``0.5 * erfc(-x / sqrt(2))``.

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.special.ndtr(nr.tensor([-1.0, 0.0, 2.0])).tolist()]
    [0.1587, 0.5, 0.9772]
    """
    return 0.5 * call("erfc", _floating("ndtr", input) * -_SQRT1_2)


# -- erfcx, log_ndtr, ndtri (float64 inside) ------------------------------------------------------

def _erfcx64(w: Tensor) -> Tensor:
    big = w >= _ERFCX_SERIES_FROM
    small = call("clamp", _where(big, 0.0, w), -30.0)  # exp(x * x) is inf below -26.7 anyway
    # x * x = hi + lo with hi exact (Veltkamp's split), so exp(x * x) does not inherit x * x's rounding.
    c = small * 134217729.0
    head = c - (c - small)
    hi, lo = head * head, (small - head) * (small + head)
    direct = call("exp", hi) * call("exp", lo) * call("erfc", small)
    z = _where(big, w, _ERFCX_SERIES_FROM)
    y = 0.5 / (z * z)
    series = 1.0
    for k in range(14, 0, -1):  # sum_k (-1)^k (2k - 1)!! / (2 x^2)^k, by Horner
        series = 1.0 - (2 * k - 1) * y * series
    return _where(big, series / (z * math.sqrt(math.pi)), direct)


def _log_ndtr64(w: Tensor) -> Tensor:
    # Below -1, log(erfcx) keeps the precision log(erfc) loses in the far tail; above, log1p does.
    low = w < -1.0
    t_low = _where(low, w, -1.0) * _SQRT1_2
    t_high = _where(low, 0.0, w) * _SQRT1_2
    tail = call("log", _erfcx64(-t_low) * 0.5) - t_low * t_low
    return _where(low, tail, call("log1p", call("erfc", t_high) * -0.5))


def _ndtri64(p: Tensor) -> Tensor:
    center = call("abs", p - 0.5) <= 0.25
    # Center: 2p - 1 is exact here; erfinv refined by Newton steps on erf.
    y = _where(center, 2.0 * p - 1.0, 0.0)
    x = call("erfinv", y)
    for _ in range(2):
        x = x - (call("erf", x) - y) / (_TWO_OVER_SQRT_PI * call("exp", -(x * x)))
    central = x * math.sqrt(2.0)
    # Tails: q = min(p, 1 - p) is exact; Abramowitz & Stegun 26.2.23 (error < 5e-4), then Newton on log(ndtr).
    q = call("minimum", p, 1.0 - p)
    log_q = call("log", _where(call("logical_or", center, call("logical_not", q > 0)), 0.1, q))
    t = call("sqrt", -2.0 * log_q)
    x = (2.515517 + t * (0.802853 + t * 0.010328)) / (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))) - t
    for _ in range(4):
        log_cdf = _log_ndtr64(x)
        x = x - (log_cdf - log_q) * call("exp", log_cdf + x * x * 0.5 + math.log(_SQRT_2PI))
    result = _where(center, central, _where(p > 0.5, -x, x))
    result = _where(p == 0, -math.inf, _where(p == 1, math.inf, result))
    return _where(call("logical_or", call("logical_or", p < 0, p > 1), call("isnan", p)), math.nan, result)


def erfcx(input: Tensor) -> Tensor:
    """The scaled complementary error function ``exp(x**2) * erfc(x)``, accurate for large ``x`` where
    the product would be ``inf * 0`` (an asymptotic series from 10 on).

    >>> import neurarust as nr
    >>> [round(v, 6) for v in nr.special.erfcx(nr.tensor([0.0, 1.0, 100.0])).tolist()]
    [1.0, 0.427584, 0.005642]
    """
    return _Erfcx.apply(_floating("erfcx", input))


def log_ndtr(input: Tensor) -> Tensor:
    """``log(ndtr(x))``, accurate in both tails (through ``erfcx`` below -1, ``log1p`` above), as
    ``torch.special.log_ndtr``.

    >>> import neurarust as nr
    >>> [round(v, 2) for v in nr.special.log_ndtr(nr.tensor([-40.0, 0.0, 10.0])).tolist()]
    [-804.61, -0.69, -0.0]
    """
    return _LogNdtr.apply(_floating("log_ndtr", input))


def ndtri(input: Tensor) -> Tensor:
    """The inverse of ``ndtr`` (the standard normal quantile): ``-inf`` at 0, ``inf`` at 1, NaN outside
    ``[0, 1]``; accurate for ``p`` down to the smallest floats.

    >>> import neurarust as nr
    >>> [round(v, 3) for v in nr.special.ndtri(nr.tensor([0.5, 0.975, 1e-30], dtype=nr.float64)).tolist()]
    [0.0, 1.96, -11.464]
    """
    return _Ndtri.apply(_floating("ndtri", input))


# -- modified Bessel functions --------------------------------------------------------------------

def _bessel_series(z: Tensor, order: int) -> Tensor:
    """``I_order(z) * exp(-z)`` for large positive ``z``: 10 terms of the asymptotic expansion."""
    s = 1.0
    for k in range(10, 0, -1):
        s = 1.0 + ((2 * k - 1) ** 2 - 4 * order * order) / (8.0 * k) / z * s
    return s / call("sqrt", (2.0 * math.pi) * z)


def _scaled_bessel(x: Tensor, order: int) -> Tensor:
    w = _wide(x)
    mag = call("abs", w)
    big = mag > _BESSEL_SERIES_FROM
    small = _where(big, 0.0, w)
    direct = call("exp", -call("abs", small)) * (call("i0", small) if order == 0 else call("i1", small))
    series = _bessel_series(_where(big, mag, _BESSEL_SERIES_FROM), order)
    if order == 1:
        series = series * call("sign", w)
    return _where(big, series, direct).to(x.dtype)


def i0e(input: Tensor) -> Tensor:
    """The exponentially scaled modified Bessel function of order 0, ``exp(-|x|) * i0(x)`` (finite for
    every ``x``).

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.special.i0e(nr.tensor([0.0, 1.0, 1000.0])).tolist()]
    [1.0, 0.4658, 0.0126]
    """
    return _scaled_bessel(_floating("i0e", input), 0)


def i1(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind of order 1.

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.special.i1(nr.tensor([0.0, 1.0, -2.0])).tolist()]
    [0.0, 0.5652, -1.5906]
    """
    x = _floating("i1", input)
    return call("i1", _wide(x)).to(x.dtype)  # float64 inside: float32 overflows to inf, as PyTorch's


def i1e(input: Tensor) -> Tensor:
    """The exponentially scaled modified Bessel function of order 1, ``exp(-|x|) * i1(x)``.

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.special.i1e(nr.tensor([0.0, 1.0, -1000.0])).tolist()]
    [0.0, 0.2079, -0.0126]
    """
    return _scaled_bessel(_floating("i1e", input), 1)


# -- autograd Functions: a forward in float64, PyTorch's derivative ------------------------------

def _function(name: str, forward64, derivative):
    """A Function computing ``forward64`` in float64 (rounded to the input's dtype) whose gradient is
    ``grad * derivative(x, result)``."""
    from .autograd.function import Function

    def forward(ctx, x):
        result = forward64(_wide(x)).to(x.dtype)
        ctx.save_for_backward(x, result)
        return result

    def backward(ctx, grad):
        x, result = ctx.saved_tensors
        return grad * derivative(x, result)

    return type(name, (Function,), {"forward": staticmethod(forward), "backward": staticmethod(backward)})


class _Lazy:
    """A Function class made on first use (autograd loads only when a special function runs)."""

    def __init__(self, *spec):
        self._spec, self._cls = spec, None

    def apply(self, x: Tensor) -> Tensor:
        if self._cls is None:
            self._cls = _function(*self._spec)
        return self._cls.apply(x)


_Entr = _Lazy("Entr", _entr_forward, lambda x, r: -(1.0 + call("log", x)))
_Erfcx = _Lazy("Erfcx", _erfcx64, lambda x, r: 2.0 * x * r - _TWO_OVER_SQRT_PI)
_LogNdtr = _Lazy("LogNdtr", _log_ndtr64, lambda x, r: call("exp", -(r + x * x * 0.5)) / _SQRT_2PI)
_Ndtri = _Lazy("Ndtri", _ndtri64, lambda x, r: _SQRT_2PI * call("exp", r * r * 0.5))

__all__ = ["entr", "xlog1py", "ndtr", "erfcx", "log_ndtr", "ndtri", "i0e", "i1", "i1e"]
