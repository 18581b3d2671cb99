"""Binary and ternary elementwise ops: division remainders, atan2, logical and bitwise ops, lerp,
copysign, addcmul/addcdiv and masked_fill. Each is one registry entry run by the elementwise kernel
with a scalar function from ``binary_triton.py``.
"""
from __future__ import annotations

import math

import numbers

import numpy as np

import neurarust as nr

from neurarust import dtype as _dt
from neurarust.creation import scalar_tensor
from neurarust.errors import ArgumentError, DTypeError, ShapeError
from neurarust.registry import ErrorInput, Op, Sample, autocast_class, derivative, get
from neurarust.tensor import Tensor

from . import samples as S
from .elementwise import ALL, NUMERIC, _doc, _ref_div, check_integer_divisor, elementwise, elementwise_op

FLOAT = _dt.FLOAT_DTYPES
INTEGRAL = _dt.INT_DTYPES + (_dt.bool_,)
BINARY = ("input", "other")


def _fn(name: str) -> str:
    return f"binary_triton.{name}"


def _broadcast_error():
    yield ErrorInput(Sample((np.ones((2, 3), np.int64), np.ones((4,), np.int64))), ValueError, "broadcast")


# -- division remainders ------------------------------------------------------------------------

def _int_safe_samples(d):
    """Binary samples; integer divisors are positive (integer division by zero raises in PyTorch)."""
    yield from S.binary(d, positive_rhs=d.kind != "f")
    if d.kind == "i":
        yield Sample((np.array([-7, 7, -7, 7, 0, -6]), np.array([2, -2, -2, 2, 3, 3])), name="signs")


def _ref_floor_divide(a, b):
    return _ref_div(a, b, "floor")


def _ref_remainder(a, b):
    if a.dtype.kind in "iu":
        check_integer_divisor(b)
        return np.remainder(a, b)
    r = np.fmod(a, b)
    return np.where((r != 0) & ((r < 0) != (b < 0)), r + b, r)  # keeps fmod's -0.0, as PyTorch does


def _by_kind(float_fn: str, int_fn: str):
    return lambda compute, params: (float_fn if compute.is_floating_point else int_fn, ())


elementwise_op("floor_divide", doc=_doc("floor_divide(input, other, *, out=None)", "``input / other`` rounded toward minus infinity (``div`` with ``rounding_mode='floor'``).", "nr.floor_divide(nr.tensor([-7, 7]), 2).tolist()", "[-4, 3]"),
               reference=_ref_floor_divide, fn=_by_kind("div_floor_float", "div_floor_int"), operands=BINARY,
               dtypes=NUMERIC, samples=_int_safe_samples, errors=_broadcast_error)
elementwise_op("remainder", doc=_doc("remainder(input, other, *, out=None)", "Python's ``input % other``: the result has the sign of ``other``.", "nr.remainder(nr.tensor([-7, 7]), 3).tolist()", "[2, 1]"),
               reference=_ref_remainder, fn=_fn("remainder"), operands=BINARY, dtypes=NUMERIC,
               samples=_int_safe_samples, errors=_broadcast_error)
elementwise_op("fmod", doc=_doc("fmod(input, other, *, out=None)", "C's ``fmod``: the remainder has the sign of ``input``.", "nr.fmod(nr.tensor([-7, 7]), 3).tolist()", "[-1, 1]"),
               reference=np.fmod, fn=_fn("fmod"), operands=BINARY, dtypes=NUMERIC,
               samples=_int_safe_samples, errors=_broadcast_error)


# -- float-promoting binary ops -----------------------------------------------------------------

def _float_samples(d, scalar=None):
    """Binary samples (PyTorch's atan2 takes no Python scalar) with signed zeros; no NaN in ``other``
    for copysign, whose sign bit PyTorch's bfloat16 NaN does not keep."""
    yield from (s for s in S.binary(d, scalar=scalar) if s.name != "specials" or d.kind != "f")
    if d.kind == "f":
        t = S.SPECIALS[1:] if scalar is not None else S.SPECIALS
        yield Sample((np.repeat(S.SPECIALS, len(t)), np.tile(t, len(S.SPECIALS))), name="specials")
    if d.kind == "f":
        zeros = np.array([0.0, -0.0, 0.0, -0.0, np.inf, -np.inf, 1e-3, -1e-3])
        yield Sample((zeros, zeros[::-1].copy()), name="signed_zeros")


_ATAN_TOL = {_dt.float32: (2e-6, 1e-6), _dt.float64: (1e-7, 1e-12)}

elementwise_op("atan2", doc=_doc("atan2(input, other, *, out=None)", "The angle of the point ``(other, input)``: ``atan(input / other)`` in the right quadrant (integers give the default float dtype).", "round(nr.atan2(nr.tensor([1.0]), nr.tensor([-1.0])).tolist()[0], 4)", "2.3562"),
               reference=np.arctan2, fn=_fn("atan2"), operands=BINARY, promote="float", dtypes=ALL,
               tolerances=_ATAN_TOL, samples=lambda d: _float_samples(d), errors=_broadcast_error)
elementwise_op("copysign", doc=_doc("copysign(input, other, *, out=None)", "``|input|`` with the sign of ``other`` (-0.0 counts as negative).", "nr.copysign(nr.tensor([1.0, 2.0]), nr.tensor([-0.0, 3.0])).tolist()", "[-1.0, 2.0]"),
               reference=np.copysign, fn=_fn("copysign"), operands=BINARY, promote="float", dtypes=ALL,
               samples=lambda d: _float_samples(d, 2), errors=_broadcast_error)


# -- logical and bitwise ------------------------------------------------------------------------

for _name, _ufunc, _example in [("and", np.logical_and, "[True, False, False]"),
                                ("or", np.logical_or, "[True, True, False]"),
                                ("xor", np.logical_xor, "[False, True, False]")]:
    elementwise_op(f"logical_{_name}", reference=_ufunc, fn=_fn(f"logical_{_name}"), operands=BINARY,
                   promote="compare", dtypes=ALL, samples=lambda d: S.binary(d, scalar=None), errors=_broadcast_error,
                   doc=_doc(f"logical_{_name}(input, other, *, out=None)",
                            f"Logical {_name} of the operands' truth values (nonzero is True) as a bool tensor.",
                            f"nr.logical_{_name}(nr.tensor([1, 2, 0]), nr.tensor([3.0, 0.0, 0.0])).tolist()",
                            _example))


def _bitwise_errors(name):
    def errors():
        yield ErrorInput(Sample((np.ones(2), np.ones(2))), TypeError, name)
        yield from _broadcast_error()
    return errors


for _name, _ufunc, _example in [("and", np.bitwise_and, "[4, 1]"), ("or", np.bitwise_or, "[7, 3]"),
                                ("xor", np.bitwise_xor, "[3, 2]")]:
    elementwise_op(f"bitwise_{_name}", reference=_ufunc, fn=_fn(f"bitwise_{_name}"), operands=BINARY,
                   dtypes=INTEGRAL, samples=lambda d: S.binary(d), errors=_bitwise_errors(f"bitwise_{_name}"),
                   doc=_doc(f"bitwise_{_name}(input, other, *, out=None)",
                            f"Bitwise {_name} of integer or bool tensors (floats raise DTypeError).",
                            f"nr.bitwise_{_name}(nr.tensor([6, 3]), nr.tensor([5, 1])).tolist()", _example))


# -- bit shifts ---------------------------------------------------------------------------------

def _shift_samples(d):
    """Shift amounts at and past the bit width, and negative ones, where PyTorch defines a result
    (other dtypes, which the op refuses, get the plain binary samples, as the bitwise ops)."""
    if d.kind not in "iu":
        yield from S.binary(d)
        return
    info, bits = _dt.iinfo(d), d.itemsize * 8
    lhs = np.array([1, info.min, 5, info.max, 3, 2], dtype=np.int64)
    rhs = np.array([0, 1, bits - 1, bits, bits + 1, -1 if d.kind == "i" else bits + 9], dtype=np.int64)
    yield Sample((lhs, rhs), name="widths")
    yield Sample((S.values(d, (3, 1), 2), np.arange(4)), name="broadcast")
    yield Sample((S.values(d, (2, 3), 3), 2), name="scalar_rhs")
    yield Sample((S.TensorSpec(S.values(d, (4, 6), 4)), S.TensorSpec(np.arange(24).reshape(4, 6) % 5, "transposed")),
                 name="noncontiguous")


def _shift_errors(name):
    def errors():
        yield ErrorInput(Sample((np.array([True, False]), np.array([True, True]))), TypeError, name)
        yield from _bitwise_errors(name)()
    return errors


def _out_of_range(a, b):
    return (b < 0) | (b >= a.dtype.itemsize * 8)


def _ref_left_shift(a, b):
    bad = _out_of_range(a, b)
    return np.where(bad, 0, np.left_shift(a, np.where(bad, 0, b).astype(a.dtype))).astype(a.dtype)


def _ref_right_shift(a, b):
    # Past the width (or negative), PyTorch shifts by width - 1: the sign of a signed value, 0 unsigned.
    bad = _out_of_range(a, b)
    return np.where(bad, np.where(a < 0, -1, 0), np.right_shift(a, np.where(bad, 0, b).astype(a.dtype))).astype(a.dtype)


for _name, _ref, _what, _example in [
        ("left", _ref_left_shift, "``input * 2**other`` wrapping in the dtype (0 for a shift past the width or "
                                  "negative)", ("[1, 3]", "[2, 12]")),
        ("right", _ref_right_shift, "``input // 2**other``: arithmetic for signed dtypes (a shift past the width "
                                    "or negative gives -1 or 0 by sign, 0 for uint8)", ("[-8, 12]", "[-4, 3]"))]:
    elementwise_op(f"bitwise_{_name}_shift", reference=_ref, fn=_fn(f"bitwise_{_name}_shift"), operands=BINARY,
                   dtypes=_dt.INT_DTYPES, samples=_shift_samples, errors=_shift_errors(f"bitwise_{_name}_shift"),
                   doc=_doc(f"bitwise_{_name}_shift(input, other, *, out=None)",
                            f"Shifts the bits of integer tensors {_name}: {_what}. Floats and bools raise DTypeError.",
                            f"nr.bitwise_{_name}_shift(nr.tensor({_example[0]}), nr.tensor([1, 2])).tolist()", _example[1]))


# -- lerp ---------------------------------------------------------------------------------------

def _ref_lerp(a, b, w):
    d = b - a
    return np.where(np.abs(w) < 0.5, a + w * d, b - d * (1 - w))


def _lerp_samples(d):
    v = lambda shape, seed: S.values(d, shape, seed)  # noqa: E731
    yield Sample((v((5,), 0), v((5,), 1), 0.25), name="scalar_low")
    yield Sample((v((2, 3), 2), v((3,), 3), 0.75), name="scalar_high_broadcast")
    yield Sample((v((3, 4), 4), v((3, 4), 5), S.values(d, (4,), 6, low=-0.5, high=1.5)), name="tensor_weight")
    yield Sample((S.TensorSpec(v((4, 6), 7)), S.TensorSpec(v((4, 6), 8), "transposed"), 1.0), name="noncontiguous")
    yield Sample((v((0, 3), 9), v((3,), 10), 0.5), name="empty")
    yield Sample((S.SPECIALS.copy(), S.SPECIALS[::-1].copy(), 0.5), name="specials")


elementwise_op("lerp", doc=_doc("lerp(input, end, weight, *, out=None)", "``input + weight * (end - input)``, computed from the nearer end so weight 0 and 1 are exact.", "nr.lerp(nr.tensor([0.0, 1.0]), nr.tensor([10.0, 3.0]), 0.5).tolist()", "[5.0, 2.0]"),
               reference=_ref_lerp, fn=_fn("lerp"), operands=("input", "end", "weight"), dtypes=FLOAT,
               samples=_lerp_samples,
               errors=lambda: [ErrorInput(Sample((np.array([1, 2]), np.array([3, 4]), 0)), TypeError, "lerp")])


# -- addcmul / addcdiv --------------------------------------------------------------------------

def _addc_frontend(op: Op, input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * (tensor1 <op> tensor2)``. The kernel takes three operands, so ``value != 1``
    is folded into ``tensor1`` first (one extra ``mul`` launch; exact for powers of two)."""
    if not isinstance(tensor1, Tensor):
        raise ArgumentError(f"{op.name}: tensor1 must be a Tensor, got {type(tensor1).__name__}")
    if value != 1:
        d = _dt.result_type(*(x for x in (input, tensor1, tensor2) if isinstance(x, Tensor)))
        if not d.is_floating_point and not (isinstance(value, numbers.Integral)
                                            or (isinstance(value, float) and value.is_integer())):
            raise DTypeError(f"{op.name}: value {value!r} must be an integer for {d} inputs")
        tensor1 = get("mul")(tensor1, value)
    return elementwise(op, input, tensor1, tensor2, out=out)


def _addc_samples(d, positive):
    v = lambda shape, seed, pos=False: S.values(d, shape, seed, positive=pos)  # noqa: E731
    yield Sample((v((5,), 0), v((5,), 1), v((5,), 2, positive)), name="same_shape")
    yield Sample((v((2, 3), 3), v((3,), 4), v((2, 1), 5, positive)), name="broadcast")
    yield Sample((v((2, 3), 6), v((2, 3), 7), v((2, 3), 8, positive)), {"value": 2}, "value_two")
    if d.kind == "f":
        yield Sample((v((4,), 9), v((4,), 10), v((4,), 11, positive)), {"value": 0.5}, "value_half")
    yield Sample((S.TensorSpec(v((4, 6), 12)), S.TensorSpec(v((4, 6), 13), "transposed"), v((6,), 14, positive)),
                 name="noncontiguous")
    yield Sample((v((0, 3), 15), v((3,), 16), v((3,), 17, positive)), name="empty")


def _addc_errors(name, ints_allowed):
    def errors():
        if ints_allowed:
            yield ErrorInput(Sample((np.array([1, 2]), np.array([1, 2]), np.array([1, 2])), {"value": 0.5}),
                             TypeError, "value")
        else:
            yield ErrorInput(Sample((np.array([1, 2]), np.array([1, 2]), np.array([1, 2]))), TypeError, name)
    return errors


for _name, _sym, _dtypes, _t2, _example in [("addcmul", "*", NUMERIC, "[3.0, 4.0]", "[13.0, 33.0]"),
                                             ("addcdiv", "/", FLOAT, "[4.0, 4.0]", "[2.0, 3.0]")]:
    _op = elementwise_op(_name, reference=(lambda a, b, c: a + b * c) if _sym == "*" else (lambda a, b, c: a + b / c),
                         fn=_fn(_name), operands=("input", "tensor1", "tensor2"), dtypes=_dtypes,
                         samples=(lambda pos: lambda d: _addc_samples(d, pos))(_sym == "/"),
                         errors=_addc_errors(_name, _dtypes is NUMERIC),
                         doc=_doc(f"{_name}(input, tensor1, tensor2, *, value=1, out=None)",
                                  f"``input + value * tensor1 {_sym} tensor2``.",
                                  f"nr.{_name}(nr.tensor([1.0, 1.0]), nr.tensor([2.0, 4.0]), nr.tensor({_t2}), value=2).tolist()",
                                  _example))
    _op.frontend = _addc_frontend


# -- masked_fill --------------------------------------------------------------------------------

def _masked_fill_frontend(op: Op, input, mask, value, *, out=None):
    """``value`` where ``mask`` (bool, broadcast to ``input``) is True, else ``input``; the result keeps
    ``input``'s dtype. Runs as ``where(mask, value, input)``."""
    if not isinstance(input, Tensor):
        raise ArgumentError(f"masked_fill: input must be a Tensor, got {type(input).__name__}")
    if not isinstance(mask, Tensor) or mask.dtype is not _dt.bool_:
        raise DTypeError(f"masked_fill: mask must be a bool tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ShapeError(f"masked_fill: value must be a 0-d tensor, got shape {list(value.shape)}")
        value = value.to(input.dtype)
    else:
        value = scalar_tensor(value, input.dtype, input.device)
    return elementwise(op, mask, value, input, out=out)


def _masked_fill_samples(d):
    v = lambda shape, seed: S.values(d, shape, seed)  # noqa: E731
    fill = True if d is _dt.bool_ else 2
    yield Sample((v((5,), 0), np.array([True, False, True, False, False]), fill), name="scalar")
    yield Sample((v((3, 4), 1), np.array([True, False, False, True]), fill), name="broadcast_mask")
    yield Sample((S.TensorSpec(v((3, 4), 2), "transposed"), np.array([[True], [False], [True]]), np.array(v((1,), 3)[0])),
                 name="tensor_value")
    yield Sample((v((0, 2), 4), np.zeros((0, 2), bool), fill), name="empty")
    if d.kind == "f":
        yield Sample((v((4,), 5), np.array([True, False, True, True]), float("nan")), name="nan")


elementwise_op("masked_fill", doc=_doc("masked_fill(input, mask, value)", "``value`` (a scalar or 0-d tensor) where the bool ``mask`` is True, else ``input``.", "nr.masked_fill(nr.tensor([1.0, 2.0]), nr.tensor([True, False]), 0.0).tolist()", "[0.0, 2.0]"),
               reference=np.where, fn="where", operands=("mask", "value", "input"), promote="where", dtypes=ALL,
               keep_dtype=(0,), samples=_masked_fill_samples,
               errors=lambda: [ErrorInput(Sample((np.ones(2), np.ones(2), 0.0)), TypeError, "mask")]
               ).frontend = _masked_fill_frontend


# -- isclose ------------------------------------------------------------------------------------

def _ref_isclose(a, b, threshold, equal_nan=False):
    d = np.abs(a - b)
    close = (a == b) | ((d <= threshold) & np.isfinite(d))
    return close | (np.isnan(a) & np.isnan(b)) if equal_nan else close


def _isclose_frontend(op: Op, input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False, *,
                      out=None):
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (equal values, infinities included, are
    close; NaN is close to NaN only with ``equal_nan``). The allowed error is computed first with
    ``add(atol, abs(other), alpha=rtol)``, in ``other``'s dtype as PyTorch does, so the comparison
    kernel needs three operands only."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise ArgumentError(f"isclose: input and other must be Tensors, got {type(input).__name__} and {type(other).__name__}")
    if input.dtype is not other.dtype:
        raise DTypeError(f"isclose: expected both tensors to have the same dtype, got {input.dtype} and {other.dtype}")
    if not input.dtype.is_floating_point:
        raise DTypeError(f"isclose supports floating dtypes only, got {input.dtype}")
    if rtol < 0 or atol < 0:
        raise ArgumentError(f"isclose: rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    threshold = get("add")(atol, get("abs")(other), alpha=rtol)
    return elementwise(op, input, other, threshold, equal_nan=equal_nan, out=out)


def _isclose_samples(d):
    a = S.values(d, (6,), 0)
    yield Sample((a, a + np.array([0.0, 1.0, 0.0, -1.0, 0.0, 2.0])), name="default_tolerances")
    yield Sample((a, a + np.array([0.0, 0.125, -0.125, 0.5, -0.5, 1.0])), {"rtol": 0.0, "atol": 0.25}, "atol_only")
    yield Sample((a, a * np.array([1.0, 1.01, 0.99, 1.5, 0.5, 1.0])), {"rtol": 0.1, "atol": 0.0}, "rtol_only")
    m = S.values(d, (3, 4), 1)
    yield Sample((m, m[1] + np.array([0.0, 0.125, 0.5, 1.0])), {"atol": 0.25}, "broadcast")
    yield Sample((S.TensorSpec(m), S.TensorSpec(m + 0.5, "transposed")), {"atol": 1.0}, "noncontiguous")
    sp = S.SPECIALS
    for equal_nan in (False, True):
        yield Sample((np.repeat(sp, len(sp)), np.tile(sp, len(sp))), {"equal_nan": equal_nan}, f"specials_{equal_nan}")
    yield Sample((S.values(d, (0, 3), 2), S.values(d, (3,), 3)), name="empty")


elementwise_op("isclose", doc=_doc("isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False)", "Whether ``|input - other| <= atol + rtol * |other|``, as a bool tensor (floating dtypes).", "nr.isclose(nr.tensor([1.0, 2.0]), nr.tensor([1.0, 2.1])).tolist()", "[True, False]"),
               reference=_ref_isclose, fn=lambda c, p: (_fn("isclose_equal_nan" if p["equal_nan"] else "isclose"), ()),
               operands=("input", "other", "threshold"), params={"equal_nan": False}, promote="compare",
               dtypes=FLOAT, samples=_isclose_samples, inplace=False,
               errors=lambda: [ErrorInput(Sample((np.array([1, 2]), np.array([1, 2]))), TypeError, "floating"),
                               ErrorInput(Sample((np.ones(2), np.ones(2)), {"rtol": -1.0}), ValueError, "rtol")]
               ).frontend = _isclose_frontend


# ----------------------------------------------------------------------------------------------
# Derivatives (autograd); see the block at the end of elementwise.py for the convention.
# ----------------------------------------------------------------------------------------------

def _atan2_backward(grad, input, other):
    scale = grad / (input * input + other * other)
    return scale * other, -scale * input


def _lerp_backward(grad, input, end, weight, needs_input_grad):
    return (grad * (1 - weight) if needs_input_grad[0] else None,
            grad * weight if needs_input_grad[1] else None,
            grad * (end - input) if needs_input_grad[2] else None)


def _addcmul_backward(grad, tensor1, tensor2, value):
    return grad, grad * tensor2 * value, grad * tensor1 * value


def _addcdiv_backward(grad, tensor1, tensor2, value):
    return grad, grad * value / tensor2, -grad * value * tensor1 / (tensor2 * tensor2)


def _masked_fill_backward(grad, mask, value):
    return nr.where(mask, 0.0, grad), (nr.where(mask, grad, 0.0).sum() if isinstance(value, Tensor) else None)


for _name, _args, _backward in [
        ("remainder", ("input", "other"), lambda grad, input, other: (grad, -grad * nr.floor_divide(input, other))),
        ("fmod", ("input", "other"), lambda grad, input, other: (grad, -grad * (input / other).trunc())),
        ("atan2", ("input", "other"), _atan2_backward),
        ("copysign", ("input", "other"),
         lambda grad, input, result: (nr.where(input == 0, 0.0, grad * result / input), nr.zeros_like(grad))),
        ("lerp", ("input", "end", "weight"), _lerp_backward),
        ("addcmul", ("input", "tensor1", "tensor2"), _addcmul_backward),
        ("addcdiv", ("input", "tensor1", "tensor2"), _addcdiv_backward),
        ("masked_fill", ("input", "value"), _masked_fill_backward)]:
    derivative(_name, _args, _backward)
# floor_divide: PyTorch declares no derivative either (a step function), so its result is a constant.
for _name in ("floor_divide", "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
              "bitwise_left_shift", "bitwise_right_shift", "isclose"):
    derivative(_name, ())

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).
autocast_class(("atan2", "addcmul", "addcdiv"), cuda="promote")
