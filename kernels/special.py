"""Special functions as elementwise ops: lgamma, digamma, polygamma, erfc, i0, sinc (and i1, internal:
i0's derivative). One registry entry each, run by the elementwise kernel with a scalar function from
``special_triton.py`` (helpers in ``math_triton.py``, float64 references in ``math_reference.py``).

Integers and bools give the default float dtype, as PyTorch's. The derivatives chain: lgamma' is
digamma, digamma' is polygamma(1, .), polygamma(n, .)' is polygamma(n + 1, .), so every order
differentiates again; i0' is i1 and i1' is i0 - i1 / x.

Measured float32 accuracy of the kernels (interpreter, against float64 truth over wide ranges;
tests/test_math_helpers.py asserts these bounds): lgamma 5 ulp for x > 0, and for x < 0 25 ulp plus
an absolute 6e-7 (the reflection formula; many ulp only near the negative roots); digamma 4 ulp for
x > 0, relative at its root too, and for x < 0 4 ulp plus an absolute 3e-7; polygamma(n >= 1) 2n + 5
ulp, except near the zeros of even orders at x < 0 (48 ulp); erfc 8 ulp while the result is a normal
float; i0 and i1 14 ulp; sinc 3 ulp, exactly 0 at the nonzero integers.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

import neurarust as nr

from neurarust import dtype as _dt
from neurarust.errors import ArgumentError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, derivative, get, signature_bind
from neurarust.tensor import Tensor

from . import math_reference as MR
from . import samples as S
from .elementwise import ALL, _doc, _unary_errors, elementwise, elementwise_op


def _fn(name: str) -> str:
    return f"special_triton.{name}"


def _with(*extra):
    """S.unary's samples plus ``extra`` (value lists) for floating dtypes, each held in float64."""
    def samples(d):
        yield from S.unary(d)
        if d.kind == "f":
            for name, values in extra:
                yield Sample((np.asarray(values, dtype=np.float64),), name=name)
    return samples


def _wide(low: float, high: float, n: int = 16, seed: int = 11):
    return np.round(np.random.default_rng(seed).uniform(low, high, n), 3)


# Extra values, chosen so the results stay within float16's range: the oracle is evaluated in float64,
# so a result that overflows float16 would read as a mismatch.
_LGAMMA_EXTRA = (("wide", _wide(-30.0, 60.0)), ("near_roots", [0.999, 1.001, 1.999, 2.002, -2.4571, -2.7476, 1e-3, -1e-3]))
_DIGAMMA_EXTRA = (("wide", _wide(-30.0, 60.0)), ("near_root", [1.4616, 1.4617, 1.45, 1.47, 0.999, 2.5, 1e-3, -1e-3]))
_ERFC_EXTRA = (("tail", [-6.0, -3.5, 0.25, 0.47, 0.5, 2.0, 3.9, 4.1, 6.0, 9.0]),)
_I_EXTRA = (("wide", [-11.5, -9.0, -5.25, 7.5, 10.5, 11.0, 0.125, -0.375]),)
_SINC_EXTRA = (("wide", [-100.5, -33.25, -7.0, 2.0, 3.5, 12.75, 1000.0, 1e-3]),)


def _entry(name, summary, example, *, reference, samples, sig=None, **kw):
    elementwise_op(name, reference=reference, fn=_fn(name), promote="float", dtypes=ALL, samples=samples,
                   errors=_unary_errors(name), doc=_doc(sig or f"{name}(input, *, out=None)", summary, *example), **kw)


def _ex(name: str, values: str, result: str) -> tuple[str, str]:
    return f"[round(v, 4) for v in nr.{name}(nr.tensor({values})).tolist()]", result


_entry("lgamma", "The natural logarithm of the absolute value of the gamma function; +inf at 0, the negative "
       "integers and ±inf. Integers give the default float dtype.", _ex("lgamma", "[0.5, 3.0, -0.5]", "[0.5724, 0.6931, 1.2655]"),
       reference=MR.lgamma, samples=_with(*_LGAMMA_EXTRA))
_entry("digamma", "The logarithmic derivative of the gamma function, ``Gamma'(x) / Gamma(x)``: -inf at +0, +inf at "
       "-0, NaN at the negative integers, as PyTorch. Integers give the default float dtype.",
       _ex("digamma", "[1.0, 0.5, -0.5]", "[-0.5772, -1.9635, 0.0365]"),
       reference=MR.digamma, samples=_with(*_DIGAMMA_EXTRA))
_entry("erfc", "The complementary error function ``1 - erf(input)``, computed directly so it keeps its relative "
       "accuracy in the tail. Integers give the default float dtype.",
       ("[f'{v:.4e}' for v in nr.erfc(nr.tensor([0.0, 5.0])).tolist()]", "['1.0000e+00', '1.5375e-12']"),
       reference=MR.erfc, samples=_with(*_ERFC_EXTRA))
_entry("i0", "The modified Bessel function of the first kind of order 0 (NaN at ±inf, as PyTorch's). Integers "
       "give the default float dtype.", _ex("i0", "[0.0, 1.0, -2.0]", "[1.0, 1.2661, 2.2796]"),
       reference=MR.i0, samples=_with(*_I_EXTRA))
_entry("sinc", "The normalized sinc function ``sin(pi x) / (pi x)``, 1 at 0; exactly 0 at the nonzero integers. "
       "Integers give the default float dtype.", _ex("sinc", "[0.0, 0.5, 1.0]", "[1.0, 0.6366, -0.0]"),
       reference=MR.sinc, samples=_with(*_SINC_EXTRA))


def _torch_i1(x):
    import torch  # only the test harness calls it

    return torch.special.i1(x)


# i1: i0's derivative (PyTorch's is torch.special.i1; NeuraRust has no special namespace), so internal.
elementwise_op("i1", reference=MR.i1, fn=_fn("i1"), promote="float", dtypes=ALL, samples=_with(*_I_EXTRA),
               errors=_unary_errors("i1"), method=False, inplace=False, public=False, torch=_torch_i1,
               doc=_doc("i1(input)", "The modified Bessel function of the first kind of order 1 (internal: the "
                        "derivative of ``i0``; PyTorch's ``torch.special.i1``).",
                        "[round(v, 4) for v in nr.kernels.special.i1(nr.tensor([0.0, 1.0])).tolist()]", "[0.0, 0.5652]"))
i1 = get("i1")


# -- polygamma(n, input) --------------------------------------------------------------------------

MAX_POLYGAMMA_ORDER = 1022  # the kernel raises 1 / (x + k) to the power n + 1 through 10 bits


def _ref_polygamma(a, n=0):
    return MR.polygamma(a, n)


def _polygamma_plan(compute, params):
    n = params["n"]
    if n == 0:
        return _fn("digamma"), ()
    factor = float(math.factorial(n)) if n <= 170 else math.inf
    if compute is not _dt.float64 and factor > float(np.finfo(np.float32).max):
        factor = math.inf
    return _fn("polygamma"), (float(n + 1), factor if n % 2 else -factor)


def _check_order(n) -> int:
    if isinstance(n, Tensor) or isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise SignatureError(f"polygamma(): argument 'n' must be an int, not {type(n).__name__}")
    if n < 0:
        raise ArgumentError(f"polygamma(n, x) does not support negative n, got n={n}")
    if n > MAX_POLYGAMMA_ORDER:
        raise ArgumentError(f"polygamma(n, x) supports n up to {MAX_POLYGAMMA_ORDER}, got n={n}")
    return int(n)


def _order_first(n, input):
    """``(n, input)`` from either order: ``polygamma(n, x)`` and the method call ``x.polygamma(n)``."""
    if isinstance(n, Tensor) and not isinstance(input, Tensor):
        n, input = input, n
    return n, input


def _polygamma_frontend(op: Op, n, input, *, out=None):
    """polygamma(n, input, *, out=None): the n-th derivative of digamma (n = 0 is digamma itself)."""
    n, input = _order_first(n, input)
    n = _check_order(n)
    if not isinstance(input, Tensor):
        raise SignatureError(f"polygamma(): argument 'input' must be a Tensor, not {type(input).__name__}")
    return elementwise(op, input, n=n, out=out)


def _polygamma_samples(d):
    if d.kind != "f":
        for n in (0, 1, 2):
            yield Sample((n, S.values(d, (6,), n, positive=True)), name=f"n{n}")
        return
    v = lambda shape, seed: S.values(d, shape, seed)  # noqa: E731
    # PyTorch's poles and infinities differ from the limits here (and from one another: trigamma gives
    # a huge finite value at the negative integers, n >= 2 NaN at +inf): only the zeros and NaN.
    halves = d in (_dt.float16, _dt.bfloat16)
    tiny = 0.25 if halves else 1e-3  # polygamma(3, 1e-3) is past float16's range
    specials = np.array([np.nan, -0.0, 0.0, 0.5, 1.5, -2.5, 1.0, 2.0, tiny, -tiny])
    for n in (0, 1, 2, 3):
        yield Sample((n, v((7,), n)), name=f"n{n}_vector")
        yield Sample((n, specials), name=f"n{n}_specials")
    yield Sample((1, S.TensorSpec(v((3, 4), 5), "transposed")), name="n1_transposed")
    yield Sample((2, np.array(v((1,), 6)[0])), name="n2_0d")
    yield Sample((1, v((0, 3), 7)), name="empty")
    yield Sample((2, np.array([-30.3, -11.5, -4.4998, -0.4953, 4.25, 20.5, 150.0])), name="n2_wide")
    if not halves:  # PyTorch computes these orders in the half type itself
        yield Sample((6, np.array([-3.7, -0.25, 0.125, 1.0, 7.5, 30.0])), name="n6")


_polygamma = elementwise_op(
    "polygamma", reference=_ref_polygamma, fn=_polygamma_plan, params={"n": 0}, promote="float", dtypes=ALL,
    samples=_polygamma_samples,
    errors=lambda: [ErrorInput(Sample((-1, np.ones(3))), ValueError, "negative n"),
                    ErrorInput(Sample((1.5, np.ones(3))), TypeError, "must be an int"),
                    ErrorInput(Sample((MAX_POLYGAMMA_ORDER + 1, np.ones(3))), ValueError, "up to")],
    doc=_doc("polygamma(n, input, *, out=None)",
             "The n-th derivative of the digamma function (n = 0 is digamma; ``x.polygamma(n)`` as the method). "
             f"n from 0 to {MAX_POLYGAMMA_ORDER}; poles at 0 and the negative integers give ±inf, +inf gives 0, "
             "-inf NaN. Integers give the default float dtype.",
             "[round(v, 4) for v in nr.polygamma(1, nr.tensor([1.0, 0.5])).tolist()]", "[1.6449, 4.9348]"))
_polygamma.frontend = _polygamma_frontend
_polygamma.triton = "neurarust.kernels.special_triton:launch"   # a smaller block (registers)
_polygamma.bind = lambda args, kwargs: signature_bind(_polygamma, _order_first(*args) if len(args) == 2 else args,
                                                      kwargs)


# ----------------------------------------------------------------------------------------------
# Derivatives (autograd); see the block at the end of elementwise.py for the convention.
# ----------------------------------------------------------------------------------------------

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _nonzero(input):
    """``input`` with its zeros replaced by 1 (a safe denominator where the zeros are masked anyway)."""
    return nr.where(input == 0, 1.0, input)


def _i1_backward(grad, input, result):
    # i1' = i0 - i1 / x, 1/2 at 0
    return nr.where(input == 0, grad * 0.5, grad * (input.i0() - result / _nonzero(input)))


def _sinc_backward(grad, input, result):
    # sinc' = (cos(pi x) - sinc(x)) / x, 0 at 0 (as PyTorch)
    slope = ((input * math.pi).cos() - result) / _nonzero(input)
    return nr.where(input == 0, 0.0, grad * slope)


for _name, _args, _backward in [
        ("lgamma", ("input",), lambda grad, input: grad * input.digamma()),
        ("digamma", ("input",), lambda grad, input: grad * _polygamma(1, input)),
        ("polygamma", ("input",), lambda grad, input, n: grad * _polygamma(n + 1, input)),
        ("erfc", ("input",), lambda grad, input: grad * -_TWO_OVER_SQRT_PI * (-(input * input)).exp()),
        ("i0", ("input",), lambda grad, input: grad * i1(input)),
        ("i1", ("input",), _i1_backward),
        ("sinc", ("input",), _sinc_backward)]:
    derivative(_name, _args, _backward)
