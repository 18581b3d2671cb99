"""Unary elementwise ops (sin, floor, isnan, gelu, ...): one registry entry each.

Their scalar Triton functions live in ``unary_triton.py``; the shared elementwise front end and
kernel do the rest. Dtype rules follow PyTorch: transcendental functions give the default float
dtype on integers (``promote="float"``), rounding keeps integers unchanged, tests return bool.
"""
from __future__ import annotations

import math

import numpy as np

import neurarust as nr

from neurarust import dtype as _dt
from neurarust.errors import ArgumentError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, autocast_class, derivative, get
from neurarust.tensor import Tensor

from . import math_reference as MR
from . import samples as S
from .elementwise import ALL, NUMERIC, _bind, _doc, _ref_where, _unary_errors, elementwise, elementwise_op

FLOATS = _dt.FLOAT_DTYPES
INTS_AND_BOOL = _dt.INT_DTYPES + (_dt.bool_,)


def _fn(name: str) -> str:
    return f"unary_triton.{name}"


def _float_or(name: str, other: str = "identity"):
    """Plan: the float function for floating inputs, ``other`` (default: the identity) for the rest."""
    return lambda compute, params: (_fn(name) if compute.is_floating_point else other, ())


def _keep_ints(ufunc):
    """A rounding reference that leaves integers as they are (NumPy's floor would make them float)."""
    return lambda a: a if a.dtype.kind in "iub" else ufunc(a)


def _scaled_samples(scale: float):
    """S.unary with floats scaled into a narrower range (asin's domain, say); specials stay as they are."""
    def samples(d):
        for s in S.unary(d):
            if d.kind != "f" or s.name == "specials":
                yield s
                continue
            (arg,) = s.args
            if isinstance(arg, S.TensorSpec):
                arg = S.TensorSpec(arg.values * scale, arg.layout)
            else:
                arg = np.asarray(np.asarray(arg) * scale)  # stays an array when 0-d
            yield Sample((arg,), s.kwargs, s.name)
    return samples


def _ex(name: str, values: str, result: str, rounded: bool = True) -> tuple[str, str]:
    call = f"nr.{name}(nr.tensor({values})).tolist()"
    return (f"[round(v, 4) for v in {call}]" if rounded else call), result


def _entry(name, summary, example, *, sig=None, **kw):
    elementwise_op(name, errors=kw.pop("errors", _unary_errors(name)),
                   doc=_doc(sig or f"{name}(input, *, out=None)", summary, *example), **kw)


# -- floating functions: integers and bools give the default float dtype ----------------------------

for _name, _ref, _samples, _summary, _example in [
        ("exp2", np.exp2, S.unary, "``2 ** input``.", _ex("exp2", "[0.0, 3.0]", "[1.0, 8.0]")),
        ("expm1", np.expm1, S.unary, "``exp(input) - 1``, accurate near 0.", _ex("expm1", "[0.0, 1.0]", "[0.0, 1.7183]")),
        ("log2", np.log2, lambda d: S.unary(d, positive=True), "The base-2 logarithm.", _ex("log2", "[1.0, 8.0]", "[0.0, 3.0]")),
        ("log10", np.log10, lambda d: S.unary(d, positive=True), "The base-10 logarithm.", _ex("log10", "[1.0, 100.0]", "[0.0, 2.0]")),
        ("log1p", np.log1p, S.unary, "``log(1 + input)``, accurate near 0.", _ex("log1p", "[0.0, 1.0]", "[0.0, 0.6931]")),
        ("sin", np.sin, S.unary, "The sine (radians).", _ex("sin", "[0.0, 1.0]", "[0.0, 0.8415]")),
        ("cos", np.cos, S.unary, "The cosine (radians).", _ex("cos", "[0.0, 1.0]", "[1.0, 0.5403]")),
        ("tan", np.tan, S.unary, "The tangent (radians).", _ex("tan", "[0.0, 1.0]", "[0.0, 1.5574]")),
        ("asin", np.arcsin, _scaled_samples(0.32), "The arcsine; NaN outside [-1, 1].", _ex("asin", "[0.0, 1.0]", "[0.0, 1.5708]")),
        ("acos", np.arccos, _scaled_samples(0.32), "The arccosine; NaN outside [-1, 1].", _ex("acos", "[1.0, 0.0]", "[0.0, 1.5708]")),
        ("atan", np.arctan, S.unary, "The arctangent.", _ex("atan", "[0.0, 1.0]", "[0.0, 0.7854]")),
        ("sinh", np.sinh, S.unary, "The hyperbolic sine.", _ex("sinh", "[0.0, 1.0]", "[0.0, 1.1752]")),
        ("cosh", np.cosh, S.unary, "The hyperbolic cosine.", _ex("cosh", "[0.0, 1.0]", "[1.0, 1.5431]")),
        ("erf", MR.erf, S.unary, "The error function.", _ex("erf", "[0.0, 1.0]", "[0.0, 0.8427]")),
        ("erfinv", MR.erfinv, _scaled_samples(0.32), "The inverse error function: ±inf at ±1, NaN outside [-1, 1].",
         _ex("erfinv", "[0.0, 0.5]", "[0.0, 0.4769]")),
        ("reciprocal", lambda a: 1 / a, S.unary, "``1 / input``.", _ex("reciprocal", "[2.0, 4.0]", "[0.5, 0.25]"))]:
    _entry(_name, f"{_summary} Integers give the default float dtype.", _example, reference=_ref,
           fn=_fn(_name), promote="float", dtypes=ALL, samples=_samples)


# -- rounding and arithmetic that keep the dtype ------------------------------------------------

def _ref_sign(a):
    if a.dtype == bool:
        return a.copy()
    return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)  # NaN -> 0 and -0.0 -> +0.0, as PyTorch


_entry("sign", "-1, 0 or 1 by the sign of each element (NaN gives 0).", _ex("sign", "[-2.0, 0.0, 3.0]", "[-1.0, 0.0, 1.0]", False),
       reference=_ref_sign, fn=_fn("sign"), dtypes=ALL, samples=S.unary)

for _name, _ufunc, _summary, _example in [
        ("floor", np.floor, "The largest integer not above each element.", "[-2.0, 1.0]"),
        ("ceil", np.ceil, "The smallest integer not below each element.", "[-1.0, 2.0]"),
        ("trunc", np.trunc, "Each element rounded toward zero.", "[-1.0, 1.0]")]:
    _entry(_name, f"{_summary} Integers are returned unchanged.", _ex(_name, "[-1.5, 1.5]", _example, False),
           reference=_keep_ints(_ufunc), fn=_float_or(_name), dtypes=NUMERIC, samples=S.unary)


def _ref_round(a, decimals=0):
    return a if a.dtype.kind in "iub" else np.round(a)  # NumPy rounds half to even, as PyTorch does


def _round_check(operands, params, compute):
    if params["decimals"] != 0:
        raise ArgumentError(f"round: only decimals=0 is supported, got decimals={params['decimals']!r}")


_entry("round", "Each element rounded to the nearest integer, halves to even. Integers are returned unchanged.",
       _ex("round", "[0.5, 1.5, 2.5]", "[0.0, 2.0, 2.0]", False), sig="round(input, *, decimals=0, out=None)",
       reference=_ref_round, fn=_float_or("round"), params={"decimals": 0}, check=_round_check,
       dtypes=NUMERIC, samples=S.unary,
       errors=lambda: [ErrorInput(Sample((np.ones(3),), {"decimals": 2}), ValueError, "decimals")])
_entry("square", "``input * input`` (integers wrap on overflow).", _ex("square", "[-3, 2]", "[9, 4]", False),
       reference=np.square, fn=_fn("square"), dtypes=NUMERIC, samples=S.unary)


# -- logical and bitwise ----------------------------------------------------------------------

_entry("logical_not", "``input == 0`` as a bool tensor.", _ex("logical_not", "[0.0, 2.0]", "[True, False]", False),
       reference=np.logical_not, fn=_fn("logical_not"), promote="compare", dtypes=ALL, samples=S.unary)
_entry("bitwise_not", "``~input`` for integers; logical not for bools.", _ex("bitwise_not", "[0, 5]", "[-1, -6]", False),
       reference=np.invert, fn=lambda c, p: (_fn("logical_not" if c is _dt.bool_ else "bitwise_not"), ()),
       dtypes=INTS_AND_BOOL, samples=S.unary,
       errors=lambda: [ErrorInput(Sample((np.ones(3),)), TypeError, "bitwise_not")])


def _float_test(ufunc):
    return lambda a: ufunc(a) if a.dtype.kind == "f" else np.full(a.shape, ufunc is np.isfinite)


for _name, _ufunc, _summary, _example in [
        ("isnan", np.isnan, "Whether each element is NaN.", "[True, False, False]"),
        ("isinf", np.isinf, "Whether each element is +inf or -inf.", "[False, True, False]"),
        ("isfinite", np.isfinite, "Whether each element is neither NaN nor infinite.", "[False, False, True]")]:
    _entry(_name, f"{_summary} As a bool tensor.", _ex(_name, "[float('nan'), float('inf'), 1.0]", _example, False),
           reference=_float_test(_ufunc), fn=_fn(_name), promote="compare", dtypes=ALL, samples=S.unary)


# -- nan_to_num ---------------------------------------------------------------------------------

def _ref_nan_to_num(a, nan=0.0, posinf=None, neginf=None):
    if a.dtype.kind != "f":
        return a
    return np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)


def _nan_to_num_plan(compute, params):
    if not compute.is_floating_point:
        return "identity", ()
    return _fn("nan_to_num"), (params["nan"], params["posinf"])


def _nan_to_num_frontend(op: Op, *args, out=None, **kwargs):
    """Resolves missing bounds to the input dtype's finite extremes. The kernel maps -inf to -posinf;
    other ``neginf`` values are written by a ``where`` afterwards."""
    (input,), params = _bind(op, args, kwargs)
    nan, posinf, neginf = params["nan"], params["posinf"], params["neginf"]
    if not isinstance(input, Tensor):
        raise ArgumentError(f"nan_to_num: input must be a Tensor, got {type(input).__name__}")
    if not input.dtype.is_floating_point:
        return elementwise(op, input, out=out)
    info = _dt.finfo(input.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    if neginf == -posinf:
        return elementwise(op, input, nan=nan, posinf=posinf, neginf=neginf, out=out)
    at_neginf = elementwise(get("eq"), input, float("-inf"))  # before out (maybe input) is written
    result = elementwise(op, input, nan=nan, posinf=posinf, neginf=-posinf, out=out)
    return elementwise(get("where"), at_neginf, neginf, result, out=result)


def _nan_to_num_samples(d):
    for s in S.unary(d):
        if s.name != "specials":
            yield s  # the default bounds are dtype-specific, so the float64 oracle sees them only on finite values
    yield Sample((S.specials(d),), {"posinf": 7.0, "neginf": -7.0}, "specials_symmetric")
    yield Sample((S.specials(d),), {"nan": 2.0, "posinf": 100.0, "neginf": -50.0}, "specials_asymmetric")


_nan_to_num = elementwise_op(
    "nan_to_num", reference=_ref_nan_to_num, fn=_nan_to_num_plan, params={"nan": 0.0, "posinf": None, "neginf": None},
    dtypes=ALL, samples=_nan_to_num_samples, errors=_unary_errors("nan_to_num"),
    doc=_doc("nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None)",
             "NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (missing bounds: the dtype's "
             "largest and smallest finite values). Integers are returned unchanged.",
             "nr.nan_to_num(nr.tensor([float('nan'), float('-inf'), 1.0]), neginf=-9.0).tolist()", "[0.0, -9.0, 1.0]"))
_nan_to_num.frontend = _nan_to_num_frontend


# -- activations (floating inputs only, as in torch.nn.functional) --------------------------------

def _ref_gelu(a, approximate="none"):
    if approximate == "tanh":
        return 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3)))
    return (0.5 * a * (1 + MR.erf(a / np.sqrt(2)))).astype(a.dtype)


def _gelu_check(operands, params, compute):
    if params["approximate"] not in ("none", "tanh"):
        raise ArgumentError(f"gelu: approximate must be 'none' or 'tanh', got {params['approximate']!r}")


def _gelu_samples(d):
    for approximate in ("none", "tanh"):
        for s in S.unary(d):
            if s.name == "specials" and d.kind == "f":  # PyTorch's CPU gelu gives NaN at +inf
                s = Sample((S.SPECIALS[np.isfinite(S.SPECIALS) | np.isnan(S.SPECIALS)],), name="specials")
            yield Sample(s.args, {"approximate": approximate}, f"{s.name}_{approximate}")


def _torch_nn(name):
    def call(*args, **kwargs):
        import torch.nn.functional as F  # only the test harness calls it
        return getattr(F, name)(*args, **kwargs)
    return call


_entry("gelu", "Gaussian error linear unit ``x * Phi(x)`` (exact through erf), or its tanh approximation.",
       _ex("gelu", "[0.0, 1.0]", "[0.0, 0.8413]"), sig="gelu(input, approximate='none', *, out=None)",
       reference=_ref_gelu, fn=lambda c, p: (_fn("gelu_tanh" if p["approximate"] == "tanh" else "gelu"), ()),
       params={"approximate": "none"}, check=_gelu_check, dtypes=FLOATS, samples=_gelu_samples,
       torch=_torch_nn("gelu"),
       errors=lambda: [ErrorInput(Sample((np.ones(3),), {"approximate": "fast"}), ValueError, "approximate")])
_entry("silu", "``input * sigmoid(input)``.", _ex("silu", "[0.0, 1.0]", "[0.0, 0.7311]"),
       reference=lambda a: a / (1 + np.exp(-a)), fn=_fn("silu"), dtypes=FLOATS, samples=S.unary,
       torch=_torch_nn("silu"))


def _ref_softplus(a, beta=1.0, threshold=20.0):
    z = a * beta
    return np.where(z > threshold, a, np.logaddexp(0, z) / beta).astype(a.dtype)


def _softplus_samples(d):
    yield from S.unary(d)
    yield Sample((S.values(d, (6,), 9, low=-8.0, high=8.0),), {"beta": 2.0, "threshold": 5.0}, "beta_threshold")


_entry("softplus", "``log(1 + exp(beta * input)) / beta``, linear where ``beta * input > threshold``.",
       _ex("softplus", "[0.0, 30.0]", "[0.6931, 30.0]"), sig="softplus(input, beta=1.0, threshold=20.0, *, out=None)",
       reference=_ref_softplus, fn=lambda c, p: (_fn("softplus"), (p["beta"], p["threshold"])),
       params={"beta": 1.0, "threshold": 20.0}, dtypes=FLOATS, samples=_softplus_samples,
       torch=_torch_nn("softplus"))


# -- more torch.nn.functional activations: hardswish ... threshold ------------------------------------

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _with_params(base, params: dict, name: str, values=None):
    """Samples: ``base``'s (S.unary), then one with ``params`` on ``values`` (default: a wider range)."""
    def samples(d):
        yield from base(d)
        v = S.values(d, (8,), 5, low=-6.0, high=6.0) if values is None else np.asarray(values, dtype=np.float64)
        yield Sample((v,), params, name)
    return samples


def _all_with(params: dict):
    """S.unary with ``params`` on every sample (threshold has no defaults)."""
    return lambda d: (Sample(s.args, params, s.name) for s in S.unary(d))


# These run in place where they can and select with ``_ref_where``'s bitwise path: ``np.where`` on a
# random mask branches per element (a 1M-element hardshrink took 5 ms against PyTorch's 0.3).
def _ref_hardsigmoid(a):
    t = np.asarray(a + a.dtype.type(3))      # an array for 0-d inputs too (out= needs one)
    np.clip(t, 0, 6, out=t)               # np.clip keeps NaN
    return np.divide(t, a.dtype.type(6), out=t)


def _ref_hardswish(a):
    t = np.asarray(a + a.dtype.type(3))
    np.clip(t, 0, 6, out=t)
    t *= a                                 # -inf * 0 is NaN, as PyTorch's
    return np.divide(t, a.dtype.type(6), out=t)


def _ref_elu_like(a, alpha, scale, input_scale=1.0):
    """``scale * x`` above 0, ``scale * alpha * expm1(x * input_scale)`` elsewhere (selu, celu)."""
    t = a.dtype.type
    negative = np.asarray(np.minimum(a, t(0)))   # the discarded branch must not overflow
    np.copysign(negative, a, out=negative)       # -0.0 stays -0.0 (np.minimum may give +0.0)
    negative *= t(input_scale)
    np.expm1(negative, out=negative)
    negative *= t(alpha * scale)
    return _ref_where(a > 0, a * t(scale), negative)


def _ref_logsigmoid(a):
    return (np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))).astype(a.dtype)


def _outside(a, lambd):
    """Where ``a`` is not within ``[-lambd, lambd]``, NaN included (it compares false)."""
    inside = np.asarray(np.less_equal(np.abs(a), lambd))
    return np.logical_not(inside, out=inside)


def _ref_hardshrink(a, lambd=0.5):
    return _ref_where(_outside(a, lambd), a, np.zeros((), a.dtype))


def _ref_softshrink(a, lambd=0.5):
    shrunk = np.asarray(np.copysign(a.dtype.type(lambd), a))
    np.subtract(a, shrunk, out=shrunk)
    return _ref_where(_outside(a, lambd), shrunk, np.zeros((), a.dtype))


def _ref_threshold(a, threshold, value):
    above = np.asarray(np.less_equal(a, threshold))
    np.logical_not(above, out=above)       # NaN is not <= anything: kept
    return _ref_where(above, a, np.asarray(value, a.dtype))


def _celu_check(operands, params, compute):
    if params["alpha"] == 0:
        raise ArgumentError("celu: alpha cannot be 0")


def _softshrink_check(operands, params, compute):
    if not params["lambd"] >= 0:
        raise ArgumentError(f"softshrink: lambd must be >= 0, got {params['lambd']}")


def _threshold_check(operands, params, compute):
    missing = [k for k in ("threshold", "value") if params[k] is None]
    if missing:
        raise SignatureError(f"threshold() missing required argument(s) {missing}")


def _torch_softshrink(*args, **kwargs):
    """PyTorch's CPU softshrink gives -0.0 for -lambd <= x <= -0.0 on its scalar path and +0.0 on its
    vectorized one (which depends on size and layout): the oracle takes the vectorized path's +0.0."""
    return _torch_nn("softshrink")(*args, **kwargs) + 0.0


def _errors_plus(name, *extra):
    return lambda: [*_unary_errors(name)(), *extra]


_KINKS3 = [-4.0, -3.0, -1.5, 0.0, 1.5, 3.0, 4.5, float("nan")]  # hardswish/hardsigmoid bend at -3 and 3
_KINKS1 = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, float("nan")]  # the shrinks' lambd=1.0 edges

_entry("hardswish", "``input * relu6(input + 3) / 6``.", _ex("hardswish", "[0.0, 1.0, 4.0]", "[0.0, 0.6667, 4.0]"),
       reference=_ref_hardswish, fn=_fn("hardswish"), dtypes=FLOATS,
       samples=_with_params(S.unary, {}, "kinks", _KINKS3), torch=_torch_nn("hardswish"))
_entry("hardsigmoid", "``relu6(input + 3) / 6``.", _ex("hardsigmoid", "[-4.0, 0.0, 4.0]", "[0.0, 0.5, 1.0]"),
       reference=_ref_hardsigmoid, fn=_fn("hardsigmoid"), dtypes=FLOATS,
       samples=_with_params(S.unary, {}, "kinks", _KINKS3), torch=_torch_nn("hardsigmoid"))
_entry("selu", "``scale * elu(input, alpha)`` with SELU's fixed ``alpha`` and ``scale``.",
       _ex("selu", "[0.0, 1.0, -1.0]", "[0.0, 1.0507, -1.1113]"),
       reference=lambda a: _ref_elu_like(a, _SELU_ALPHA, _SELU_SCALE),
       fn=lambda c, p: (_fn("selu"), (_SELU_SCALE, _SELU_ALPHA * _SELU_SCALE)), dtypes=FLOATS,
       samples=_with_params(S.unary, {}, "wide"), torch=_torch_nn("selu"))
_entry("celu", "``input`` where positive, ``alpha * (exp(input / alpha) - 1)`` elsewhere.",
       _ex("celu", "[1.0, -1.0]", "[1.0, -0.6321]"), sig="celu(input, alpha=1.0, *, out=None)",
       reference=lambda a, alpha=1.0: _ref_elu_like(a, alpha, 1.0, 1.0 / alpha),
       fn=lambda c, p: (_fn("celu"), (p["alpha"],)), params={"alpha": 1.0}, check=_celu_check, dtypes=FLOATS,
       samples=_with_params(S.unary, {"alpha": 2.0}, "alpha"), torch=_torch_nn("celu"),
       errors=_errors_plus("celu", ErrorInput(Sample((np.ones(3),), {"alpha": 0.0}), ValueError, "alpha")))
_entry("logsigmoid", "``log(sigmoid(input))``, computed stably.",
       _ex("logsigmoid", "[0.0, -100.0]", "[-0.6931, -100.0]"),
       reference=_ref_logsigmoid, fn=_fn("logsigmoid"), dtypes=FLOATS,
       samples=_with_params(S.unary, {}, "wide"), torch=_torch_nn("logsigmoid"))
_entry("softsign", "``input / (1 + |input|)``.", _ex("softsign", "[1.0, -3.0]", "[0.5, -0.75]"),
       reference=lambda a: a / (1 + np.abs(a)), fn=_fn("softsign"), dtypes=FLOATS,
       samples=_with_params(S.unary, {}, "wide"), torch=_torch_nn("softsign"))
_entry("hardshrink", "``input`` where ``|input| > lambd``, 0 elsewhere.",
       _ex("hardshrink", "[0.25, -2.0]", "[0.0, -2.0]"), sig="hardshrink(input, lambd=0.5, *, out=None)",
       reference=_ref_hardshrink, fn=lambda c, p: (_fn("hardshrink"), (p["lambd"],)), params={"lambd": 0.5},
       dtypes=FLOATS, samples=_with_params(S.unary, {"lambd": 1.0}, "lambd", _KINKS1), torch=_torch_nn("hardshrink"))
_entry("softshrink", "``input`` moved ``lambd`` toward 0, and 0 where ``|input| <= lambd``.",
       _ex("softshrink", "[0.25, -2.0]", "[0.0, -1.5]"), sig="softshrink(input, lambd=0.5, *, out=None)",
       reference=_ref_softshrink, fn=lambda c, p: (_fn("softshrink"), (p["lambd"],)), params={"lambd": 0.5},
       check=_softshrink_check, dtypes=FLOATS, samples=_with_params(S.unary, {"lambd": 1.0}, "lambd", _KINKS1),
       torch=_torch_softshrink,
       errors=_errors_plus("softshrink", ErrorInput(Sample((np.ones(3),), {"lambd": -1.0}), ValueError, "lambd")))
_entry("threshold", "``input`` where ``input > threshold``, ``value`` elsewhere.",
       ("nr.threshold(nr.tensor([0.5, 2.0]), 1.0, -1.0).tolist()", "[-1.0, 2.0]"),
       sig="threshold(input, threshold, value, *, out=None)",
       reference=_ref_threshold, fn=lambda c, p: (_fn("threshold"), (p["threshold"], p["value"])),
       params={"threshold": None, "value": None}, check=_threshold_check, dtypes=FLOATS,
       samples=lambda d: (*_all_with({"threshold": 0.5, "value": -2.0})(d),
                          Sample((np.asarray(_KINKS1),), {"threshold": 1.0, "value": 20.0}, "at_threshold")),
       torch=_torch_nn("threshold"),
       errors=_errors_plus("threshold", ErrorInput(Sample((np.ones(3),)), TypeError, "missing")))


# ----------------------------------------------------------------------------------------------
# Derivatives (autograd); see the block at the end of elementwise.py for the convention.
# ----------------------------------------------------------------------------------------------

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _gelu_backward(grad, input, approximate):
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (input + 0.044715 * input * input * input)
        t = inner.tanh()
        d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * input * input)
        return grad * (0.5 * (1 + t) + 0.5 * input * (1 - t * t) * d_inner)
    cdf = 0.5 * (1 + (input * (1 / math.sqrt(2.0))).erf())
    pdf = (input * input * -0.5).exp() * _INV_SQRT_2PI
    return grad * (cdf + input * pdf)


def _silu_backward(grad, input):
    s = input.sigmoid()
    return grad * s * (1 + input * (1 - s))


def _softplus_backward(grad, input, beta, threshold):
    z = input * beta
    return nr.where(z > threshold, grad, grad * z.sigmoid())


# The activations below pick their kink values as PyTorch's backward kernels do (checked against torch).
def _hardswish_backward(grad, input):
    # 0 up to -3 (inclusive), x/3 + 1/2 strictly inside, 1 from 3 on and for NaN
    return nr.where(input <= -3.0, 0.0, nr.where(input < 3.0, grad * (input / 3.0 + 0.5), grad))


def _hardsigmoid_backward(grad, input):
    return nr.where((input > -3.0) & (input < 3.0), grad / 6.0, 0.0)  # 0 at -3 and 3


def _elu_like_backward(grad, input, alpha, scale, input_scale=1.0):
    """selu/celu: ``scale * alpha * input_scale * exp(x * input_scale)`` at x <= 0 (so at 0 too), ``scale``
    above and for NaN. The exp sees 0 where discarded: no inf there to meet a zero gradient."""
    negative = nr.where(input <= 0, input, 0.0)
    slope = (negative * input_scale).exp() * (scale * alpha * input_scale)
    return nr.where(input <= 0, grad * slope, grad * scale)


def _shrink_backward(grad, input, lambd):
    return nr.where(input.abs() > lambd, grad, 0.0)  # 0 at +-lambd and for NaN (PyTorch's vector path)


def _step(grad):
    """Rounding and sign: piecewise constant, so the gradient is zero (as PyTorch)."""
    return nr.zeros_like(grad)


for _name, _backward in [
        ("exp2", lambda grad, result: grad * result * _LN2),
        ("expm1", lambda grad, result: grad * (result + 1)),
        ("log2", lambda grad, input: grad / (input * _LN2)),
        ("log10", lambda grad, input: grad / (input * _LN10)),
        ("log1p", lambda grad, input: grad / (input + 1)),
        ("sin", lambda grad, input: grad * input.cos()),
        ("cos", lambda grad, input: -grad * input.sin()),
        ("tan", lambda grad, result: grad * (1 + result * result)),
        ("asin", lambda grad, input: grad * (1 - input * input).rsqrt()),
        ("acos", lambda grad, input: -grad * (1 - input * input).rsqrt()),
        ("atan", lambda grad, input: grad / (1 + input * input)),
        ("sinh", lambda grad, input: grad * input.cosh()),
        ("cosh", lambda grad, input: grad * input.sinh()),
        ("erf", lambda grad, input: grad * _TWO_OVER_SQRT_PI * (-(input * input)).exp()),
        ("erfinv", lambda grad, result: grad * _SQRT_PI_OVER_2 * (result * result).exp()),
        ("reciprocal", lambda grad, result: -grad * result * result),
        ("sign", _step), ("floor", _step), ("ceil", _step), ("trunc", _step), ("round", _step),
        ("square", lambda grad, input: grad * 2 * input),
        ("nan_to_num", lambda grad, input: nr.where(input.isfinite(), grad, 0.0)),
        ("gelu", _gelu_backward),
        ("silu", _silu_backward),
        ("softplus", _softplus_backward),
        ("hardswish", _hardswish_backward),
        ("hardsigmoid", _hardsigmoid_backward),
        ("selu", lambda grad, input: _elu_like_backward(grad, input, _SELU_ALPHA, _SELU_SCALE)),
        ("celu", lambda grad, input, alpha: _elu_like_backward(grad, input, alpha, 1.0, 1.0 / alpha)),
        ("logsigmoid", lambda grad, input: grad * (-input).sigmoid()),
        ("softsign", lambda grad, input: grad / ((1 + input.abs()) * (1 + input.abs()))),
        ("hardshrink", _shrink_backward),
        ("softshrink", _shrink_backward),
        ("threshold", lambda grad, input, threshold, value: nr.where(input <= threshold, 0.0, grad))]:
    derivative(_name, ("input",), _backward)
for _name in ("logical_not", "bitwise_not", "isnan", "isinf", "isfinite"):
    derivative(_name, ())

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).
autocast_class(("log2", "log10", "log1p", "expm1", "acos", "asin", "cosh", "sinh", "tan", "erfinv",
                "reciprocal", "softplus"), cuda="fp32")
