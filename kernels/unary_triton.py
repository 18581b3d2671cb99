"""Scalar functions of the unary ops (``kernels/unary.py``), run by the one elementwise kernel.

Each takes the loaded operand ``a`` (and, where the entry passes them, runtime scalars ``b``, ``c``)
already in the compute dtype. Only operations that run in the interpreter and compile for the GPU
are used: no libdevice (see ``math_triton``).
"""
from __future__ import annotations

from neurarust.launch import tl, triton

from . import elementwise_triton as E
from . import math_triton as m

_LOG10_2 = tl.constexpr(0.30102999566398120)
_SQRT1_2 = tl.constexpr(0.7071067811865476)
_SQRT_2_PI = tl.constexpr(0.7978845608028654)


# -- one-liners ------------------------------------------------------------------------------

@triton.jit
def sign(a, b, c):
    # NaN gives 0 and -0.0 gives +0.0, as PyTorch's sign does.
    return (a > 0).to(a.dtype) - (a < 0).to(a.dtype)


@triton.jit
def exp2(a, b, c):
    return tl.exp2(a)


@triton.jit
def log2(a, b, c):
    return tl.log2(a)


@triton.jit
def log10(a, b, c):
    return tl.log2(a) * _LOG10_2


@triton.jit
def sin(a, b, c):
    return tl.sin(a)


@triton.jit
def cos(a, b, c):
    return tl.cos(a)


@triton.jit
def tan(a, b, c):
    return tl.sin(a) / tl.cos(a)


@triton.jit
def floor(a, b, c):
    return tl.floor(a)


@triton.jit
def ceil(a, b, c):
    return tl.ceil(a)


@triton.jit
def trunc(a, b, c):
    return tl.where(a < 0, tl.ceil(a), tl.floor(a))


@triton.jit
def round(a, b, c):
    """Half to even; a zero result keeps the sign of the input (round(-0.4) is -0.0)."""
    f = tl.floor(a)
    d = a - f
    half = f * 0.5
    even = tl.floor(half) == half
    r = tl.where(d > 0.5, f + 1.0, tl.where(d < 0.5, f, tl.where(even, f, f + 1.0)))
    return tl.where(r == 0, a * 0.0, r)


@triton.jit
def reciprocal(a, b, c):
    return 1.0 / a


@triton.jit
def square(a, b, c):
    return a * a


@triton.jit
def logical_not(a, b, c):
    return a == 0


@triton.jit
def bitwise_not(a, b, c):
    # x ^ all-ones rather than ~x: triton 3.6's interpreter builds ~x from a -1 that uint8 cannot hold.
    return a ^ (tl.zeros_like(a) - 1)


@triton.jit
def isnan(a, b, c):
    return a != a


@triton.jit
def isinf(a, b, c):
    # inf - inf is NaN; finite values (and every integer) give 0. No float constant: works for ints.
    return (a == a) & ((a - a) != (a - a))


@triton.jit
def isfinite(a, b, c):
    return (a - a) == (a - a)


@triton.jit
def nan_to_num(a, b, c):
    """NaN -> b, +inf -> c, -inf -> -c (the front end passes the symmetric case only)."""
    r = tl.where(a == float("inf"), c, a)
    r = tl.where(a == -float("inf"), c * -1.0, r)
    return tl.where(a != a, b, r)


# -- through math_triton helpers ---------------------------------------------------------------

@triton.jit
def expm1(a, b, c):
    return m.expm1(a)


@triton.jit
def log1p(a, b, c):
    return m.log1p(a)


@triton.jit
def erf(a, b, c):
    return m.erf(a)


@triton.jit
def erfinv(a, b, c):
    r = m.erfinv(a)
    return tl.where(a == 0, a, r)  # keeps the sign of zero


@triton.jit
def sinh(a, b, c):
    # Through expm1: for small |a| the two terms have opposite signs, so nothing cancels.
    return (m.expm1(a) - m.expm1(a * -1.0)) * 0.5


@triton.jit
def cosh(a, b, c):
    ax = tl.abs(a)
    return (tl.exp(ax) + tl.exp(ax * -1.0)) * 0.5


@triton.jit
def gelu(a, b, c):
    return 0.5 * a * (1.0 + m.erf(a * _SQRT1_2))


@triton.jit
def gelu_tanh(a, b, c):
    inner = _SQRT_2_PI * (a + 0.044715 * a * a * a)
    return 0.5 * a * (1.0 + m.tanh(inner))


@triton.jit
def silu(a, b, c):
    return a * tl.sigmoid(a)


@triton.jit
def softplus(a, b, c):
    """b = beta, c = threshold: linear past the threshold, as PyTorch does."""
    z = a * b
    soft = m.log1p(tl.exp(tl.where(z > c, c, z))) / b  # tl.minimum would drop NaN
    return tl.where(z > c, a, soft)


# -- more activations (hardswish ... threshold): comparisons through tl.where, which keeps NaN --------

@triton.jit
def hardswish(a, b, c):
    r = a + 3.0
    r = tl.where(r < 0.0, 0.0, tl.where(r > 6.0, 6.0, r))  # relu6(a + 3); tl.minimum would drop NaN
    return a * r / 6.0


@triton.jit
def hardsigmoid(a, b, c):
    r = a + 3.0
    return tl.where(r < 0.0, 0.0, tl.where(r > 6.0, 6.0, r)) / 6.0


@triton.jit
def selu(a, b, c):
    """b = scale, c = alpha * scale (runtime values: exact in float64)."""
    negative = m.expm1(tl.where(a > 0, 0.0, a)) * c  # the discarded branch must not overflow
    return tl.where(a > 0, a * b, negative)


@triton.jit
def celu(a, b, c):
    """b = alpha."""
    negative = m.expm1(tl.where(a > 0, 0.0, a) / b) * b
    return tl.where(a > 0, a, negative)


@triton.jit
def logsigmoid(a, b, c):
    # min(a, 0) - log1p(exp(-|a|)): exp never overflows, and NaN passes through log1p
    return tl.where(a < 0, a, 0.0) - m.log1p(tl.exp(tl.abs(a) * -1.0))


@triton.jit
def softsign(a, b, c):
    return a / (1.0 + tl.abs(a))


@triton.jit
def hardshrink(a, b, c):
    """b = lambd: 0 on [-lambd, lambd] (NaN is outside, so it stays NaN)."""
    return tl.where((a >= b * -1.0) & (a <= b), 0.0, a)


@triton.jit
def softshrink(a, b, c):
    """b = lambd."""
    return tl.where(tl.abs(a) <= b, 0.0, a - tl.where(a < 0, b * -1.0, b))


@triton.jit
def threshold(a, b, c):
    """b = threshold, c = value."""
    return tl.where(a <= b, c, a)


# -- inverse trigonometric functions -----------------------------------------------------------

@triton.jit
def atan(a, b, c):
    r = m.atan_nonneg(tl.abs(a))
    r = tl.where(a < 0, r * -1.0, r)
    return tl.where(a == 0, a, r)


@triton.jit
def asin(a, b, c):
    # asin(x) = atan(x / sqrt((1 - x)(1 + x))); 1 - x is exact near |x| = 1, where it matters.
    ax = tl.abs(a)
    r = m.atan_nonneg(ax / tl.sqrt((1.0 - ax) * (1.0 + ax)))
    r = tl.where(ax > 1.0, float("nan"), r)
    r = tl.where(a < 0, r * -1.0, r)
    return tl.where(a == 0, a, r)


@triton.jit
def acos(a, b, c):
    # acos(x) = 2 atan(sqrt((1 - x) / (1 + x))): no cancellation near x = 1 (unlike pi/2 - asin x).
    r = 2.0 * m.atan_nonneg(tl.sqrt((1.0 - a) / (1.0 + a)))
    return tl.where(tl.abs(a) > 1.0, float("nan"), r)


# ----------------------------------------------------------------------------------------------

_INT_ONLY = frozenset({"bitwise_not"})


def aot_specs():
    """Every scalar function of this module on the contiguous fp32 path (int32 for integer-only ones)."""
    specs = []
    for name, fn in globals().items():
        if isinstance(fn, triton.runtime.KernelInterface) and fn.fn.__module__ == __name__ and not name.startswith("_"):
            dtype = "i32" if name in _INT_ONLY else "fp32"
            specs.append(E._aot_spec(f"fn/unary_triton.{name}/{dtype}", dtype, fn, num_in=3))
    return specs
