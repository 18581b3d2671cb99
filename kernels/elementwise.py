"""Elementwise ops: one registry entry each, all run by the one elementwise Triton kernel.

An entry names its operands and parameters, its type-promotion rule, its NumPy reference and the
scalar function (in ``scalar_triton.py``) the kernel applies. The shared front end binds
arguments, promotes dtypes (PyTorch's rules), broadcasts, checks ``out=``, and runs the reference
or the kernel.
"""
from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

import neurarust as nr
from neurarust import backends
from neurarust import dtype as _dt
from neurarust.creation import scalar_array, scalar_tensor
from neurarust.dtype import DType
from neurarust.errors import ArgumentError, DeviceError, DTypeError, ShapeError, SignatureError
from neurarust.overlap import check_out
from neurarust.registry import (AutocastWhen, ErrorInput, Op, Sample, autocast_class, derivative, register,
                                signature_bind)
from neurarust.shape import broadcast_shapes
from neurarust.tensor import Tensor

from . import samples as S

TRITON = "neurarust.kernels.elementwise_triton:launch"
NUMERIC = _dt.NUMERIC_DTYPES
ALL = _dt.ALL_DTYPES
HALVES = (_dt.float16, _dt.bfloat16)


# ----------------------------------------------------------------------------------------------
# The shared front end
# ----------------------------------------------------------------------------------------------

def _bind(op: Op, args: tuple, kwargs: dict) -> tuple[list, dict]:
    names, defaults = op.attrs["operands"], op.attrs.get("params", {})
    if len(args) > len(names) + len(defaults):
        raise SignatureError(f"{op.name}() takes {len(names)} operands and {len(defaults)} parameters, got {len(args)} positional arguments")
    operands = list(args[:len(names)])
    params = dict(defaults)
    for name, value in zip(defaults, args[len(names):]):
        params[name] = value
    for key, value in kwargs.items():
        if key in names and names.index(key) >= len(operands):
            operands.extend([None] * (names.index(key) + 1 - len(operands)))
            operands[names.index(key)] = value
        elif key in params:
            params[key] = value
        else:
            raise SignatureError(f"{op.name}() got an unexpected keyword argument {key!r}")
    operands.extend([None] * (len(names) - len(operands)))
    missing = [n for n, v in zip(names, operands) if v is None and n not in op.attrs.get("optional", ())]
    if missing:
        raise SignatureError(f"{op.name}() is missing operand(s) {missing}")
    return operands, params


def _compute_dtype(d: DType) -> DType:
    return _dt.float32 if d in HALVES else d


def kernel_dtype(d: DType) -> DType:
    """What the kernel computes in: halves in fp32, bools as int8 (Triton's i1 has no arithmetic)."""
    return _dt.int8 if d is _dt.bool_ else _compute_dtype(d)


def _result_dtypes(op: Op, operands: list, params: dict) -> tuple[DType, DType]:
    """(dtype the op computes in, dtype it returns)."""
    rule = op.attrs["promote"]
    if callable(rule):
        rule = rule(params)
    present = [x for x in operands if x is not None]
    if rule == "where":
        cond = operands[0]
        if not (isinstance(cond, Tensor) and cond.dtype is _dt.bool_):
            raise DTypeError(f"where expects a bool condition tensor, got {getattr(cond, 'dtype', type(cond).__name__)}")
        present = present[1:]
    if rule == "cast":
        src = present[-1].dtype
        return src, _dt.as_dtype(params["dtype"]) if "dtype" in params else operands[0].dtype
    common = _dt.result_type(*present)
    if common not in op.dtypes:
        raise DTypeError(f"{op.name} does not support {common} "
                         f"(inputs: {', '.join(str(getattr(x, 'dtype', type(x).__name__)) for x in present)}); "
                         f"supported: {', '.join(d.name for d in op.dtypes)}")
    if rule == "float" and not common.is_floating_point:
        return _dt.get_default_dtype(), _dt.get_default_dtype()
    if rule == "compare":
        return common, _dt.bool_
    return common, common


def _cached_result_dtypes(op: Op, operands, params: dict) -> tuple[DType, DType]:
    """:func:`_result_dtypes`, remembered per operand signature for calls with default parameters."""
    if params is not op.attrs["params"]:
        return _result_dtypes(op, operands, params)
    key = [_dt.get_default_dtype()]
    for x in operands:
        key.append((x._dtype, not x._shape) if isinstance(x, Tensor) else type(x))
    key = tuple(key)
    cache = op.attrs["dtype_cache"]
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = _result_dtypes(op, operands, params)
    return hit


def _can_cast(src: DType, dst: DType) -> bool:
    rank = {"b": 0, "u": 1, "i": 1, "f": 2}
    return rank[src.kind] <= rank[dst.kind]


def _check_out(op: Op, out, shape, result: DType, device) -> None:
    if not isinstance(out, Tensor):
        raise ArgumentError(f"{op.name}: out must be a Tensor, got {type(out).__name__}")
    if out.shape != shape:
        raise ShapeError(f"{op.name}: output with shape {list(out.shape)} doesn't match the broadcast shape {list(shape)}")
    if not _can_cast(result, out.dtype):
        raise DTypeError(f"{op.name}: result type {result} can't be cast to the desired output type {out.dtype}")
    if out._storage.device is not device and out.device != device:
        raise DeviceError(f"{op.name}: out is on {out.device} but the inputs are on {device}")


def elementwise(op: Op, *args, out: Tensor | None = None, **kwargs):
    attrs = op.attrs
    if out is None and not kwargs:
        result = _small_call_fast_lane(op, args)
        if result is not None:
            return result
    if kwargs or len(args) != len(attrs["operands"]):
        operands, params = _bind(op, args, kwargs)
    else:  # the common call, all operands positional and default parameters: no binding needed
        operands, params = args, attrs["params"]
    tensors = [x for x in operands if type(x) is Tensor or isinstance(x, Tensor)]
    if not tensors:
        raise ArgumentError(f"{op.name}() needs at least one Tensor operand, got {[type(x).__name__ for x in operands]}")
    first = tensors[0]
    device, shape = first._storage.device, first._shape
    broadcast = False
    for t in tensors[1:]:
        if t._storage.device is not device and t._storage.device != device:
            raise DeviceError(f"{op.name}: expected all tensors on one device, got {device} and {t.device}")
        broadcast = broadcast or t._shape != shape
    compute, result = _cached_result_dtypes(op, operands, params)
    if "check" in attrs:
        attrs["check"](operands, params, compute)
    if broadcast:
        shape = broadcast_shapes(*(t._shape for t in tensors))
    if out is not None:
        _check_out(op, out, shape, result, device)
        check_out(op.inplace if out is operands[0] and op.inplace else op.name, out, tensors)
    if backends.for_device(device) == "reference":
        return _run_reference(op, operands, params, compute, result, shape, out)
    return _run_triton(op, operands, params, compute, result, shape, out, device)


def _small_call_fast_lane(op: Op, args: tuple):
    """The call small ops spend their time on, with nothing to decide: CPU tensors of one dtype and
    shape, default parameters, reference backend. Returns None for anything else (general path)."""
    attrs = op.attrs
    if len(args) != len(attrs["operands"]):
        return None
    first = args[0]
    if type(first) is not Tensor:
        return None
    dtype, shape, device = first._dtype, first._shape, first._storage.device
    for x in args[1:]:
        if type(x) is not Tensor or x._dtype is not dtype or x._shape != shape or x._storage.device is not device:
            return None
    if backends.for_device(device) != "reference":
        return None
    compute, result = _cached_result_dtypes(op, args, attrs["params"])
    if "check" in attrs:
        attrs["check"](args, attrs["params"], compute)
    np_compute = _compute_dtype(compute).np
    keep = attrs["keep_dtype"]
    arrays = [x._np() if x._dtype.np is np_compute or i in keep else x._np().astype(np_compute)
              for i, x in enumerate(args)]
    r = backends.run_reference(op.reference, *arrays)
    if type(r) is np.ndarray and r.dtype is result.np and r.flags.c_contiguous:
        return Tensor._wrap(r, result)
    return _finish(np.asarray(r), result, shape)


def _finish(r: np.ndarray, result: DType, shape) -> Tensor:
    """A reference's raw result as the op's output tensor: broadcast, cast, adopted without a copy."""
    if r.shape != shape:
        r = np.broadcast_to(r, shape)
    if r.dtype != result.np:
        r = r.astype(result.np)
    return Tensor._wrap(r, result) if r.flags.c_contiguous else Tensor._from_array(r, result)


def _as_array(x, d: DType) -> np.ndarray:
    if isinstance(x, Tensor):
        a = x._np()
        return a if a.dtype == d.np else a.astype(d.np)
    return scalar_array(x, d)  # in-range integers wrap to the dtype, as PyTorch's scalar casts do


def _run_reference(op, operands, params, compute, result, shape, out):
    np_compute = _compute_dtype(compute)
    keep = op.attrs["keep_dtype"]  # operands used as they are (where's bool condition)
    arrays = [None if x is None else x._np() if i in keep else _as_array(x, np_compute)
              for i, x in enumerate(operands)]
    r = np.asarray(backends.run_reference(op.reference, *arrays, **params))
    if out is None:
        return _finish(r, result, shape)
    np.copyto(out._np(), r, casting="unsafe")
    out._bump_version()
    return out


def _run_triton(op, operands, params, compute, result, shape, out, device):
    kc = _compute_dtype(compute)
    fn, extra = op.attrs["plan"](compute, params)
    inputs = [x if isinstance(x, Tensor) else scalar_tensor(x, kc, device)
              for x in operands if x is not None]
    inputs += [scalar_tensor(v, kc, device) for v in extra]
    target = out if out is not None else Tensor._empty(shape, result, device)
    op.launcher()(target, inputs, fn, kernel_dtype(compute))
    if out is not None:
        out._bump_version()
    return target


# ----------------------------------------------------------------------------------------------
# Entries
# ----------------------------------------------------------------------------------------------

def _elementwise_cost(sample: Sample) -> tuple[int, int]:
    """Bytes: every input read once and the output written once; FLOPs: one per output element."""
    arrays = [getattr(a, "values", a) for a in sample.args if hasattr(getattr(a, "values", a), "nbytes")]
    out = max(a.size for a in arrays)
    return sum(a.nbytes for a in arrays) + out * arrays[0].itemsize, out


def _fixed(fn: str):
    return lambda compute, params: (fn, ())


def elementwise_op(name: str, *, reference, fn, operands=("input",), params=None, promote="same",
                   dtypes=NUMERIC, samples, errors=lambda: (), optional=(), inplace=True, method=True,
                   public=True, torch=None, check=None, tolerances=None, keep_dtype=(), doc="") -> Op:
    """Register an elementwise op (see the module docstring for what each field means)."""
    attrs = {"operands": operands, "params": params or {}, "promote": promote, "optional": optional,
             "plan": fn if callable(fn) else _fixed(fn), "public": public, "keep_dtype": keep_dtype,
             "dtype_cache": {}}
    if check is not None:
        attrs["check"] = check
    op = register(Op(
        name=name, kind="elementwise", frontend=elementwise, reference=reference, triton=TRITON,
        dtypes=tuple(dtypes), samples=samples, error_inputs=errors, method=method,
        inplace=f"{name}_" if inplace and method else None, torch_name=torch or name, attrs=attrs,
        tolerances=tolerances or {},
        cost=_elementwise_cost, doc=doc,
    ))
    op.bind = _named_binder(op)
    return op


def _named_binder(op: Op):
    """``(args, kwargs) -> {name: value}`` for autograd: operands by their names, then parameters.
    Entries with a front end of their own (masked_fill reorders its operands) bind to its signature."""
    names = op.attrs["operands"]

    def bind(args, kwargs):
        if op.frontend is not elementwise and not op.attrs.setdefault("_var_args", _takes_var_args(op.frontend)):
            return signature_bind(op, args, kwargs)
        if not kwargs and len(args) == len(names):  # the common call: operands only
            bound = dict(op.attrs["params"])
            bound.update(zip(names, args))
            return bound
        operands, params = _bind(op, args, kwargs)
        bound = dict(zip(names, operands))
        bound.update(params)
        return bound

    return bind


def _takes_var_args(fn) -> bool:
    return any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in inspect.signature(fn).parameters.values())


def _doc(signature: str, summary: str, example: str, result: str) -> str:
    """An op's docstring: signature, what it computes, and a runnable example."""
    return (f"{signature} -> Tensor\n\n{summary}\nBroadcasts and promotes dtypes as PyTorch does; "
            f"``out=`` and the in-place method write into an existing tensor.\n\n"
            f"    >>> import neurarust as nr\n    >>> {example}\n    {result}\n")


def _unary_errors(name):
    return lambda: [ErrorInput(Sample((np.ones(3),), {"bogus": 1}), TypeError, "unexpected keyword")]


def _no_bool_errors(name):
    def errors():
        yield ErrorInput(Sample((np.array([True, False]), np.array([True, True]))), TypeError, name)
        yield ErrorInput(Sample((np.ones((2, 3)), np.ones((4,)))), ValueError, "broadcast")
    return errors


def _binary_errors():
    yield ErrorInput(Sample((np.ones((2, 3)), np.ones((4,)))), ValueError, "broadcast")


def _alpha_samples(d):
    yield from S.binary(d)
    if d is not _dt.bool_:
        yield Sample((S.values(d, (4,)), S.values(d, (4,), 1)), {"alpha": 2 if d.kind != "f" else 0.5}, "alpha")


def _alpha_errors():
    yield from _binary_errors()
    yield ErrorInput(Sample((np.array([1, 2]), np.array([1, 2])), {"alpha": 0.5}), TypeError, "alpha")


def _alpha_plan(base):
    return lambda compute, params: (base, ()) if params["alpha"] == 1 else (f"{base}_alpha", (params["alpha"],))


def _check_alpha(operands, params, compute):
    alpha = params["alpha"]
    if not compute.is_floating_point and isinstance(alpha, float) and not alpha.is_integer():
        raise DTypeError(f"alpha {alpha!r} must be an integer for {compute} inputs (floats need a floating input)")


def _ref_add(a, b, alpha=1):
    return a + b if alpha == 1 else a + b * np.asarray(alpha, dtype=a.dtype)


def _ref_sub(a, b, alpha=1):
    return a - b if alpha == 1 else a - b * np.asarray(alpha, dtype=a.dtype)


elementwise_op("add", doc=_doc("add(input, other, *, alpha=1, out=None)", "``input + alpha * other``.", "nr.add(nr.tensor([1.0, 2.0]), nr.tensor([3.0, 4.0]), alpha=2).tolist()", "[7.0, 10.0]"),
               reference=_ref_add, fn=_alpha_plan("add"), operands=("input", "other"),
               params={"alpha": 1}, dtypes=ALL, samples=lambda d: _alpha_samples(d), errors=_alpha_errors,
               check=_check_alpha)
elementwise_op("sub", doc=_doc("sub(input, other, *, alpha=1, out=None)", "``input - alpha * other``.", "nr.sub(nr.tensor([5, 6]), 1).tolist()", "[4, 5]"),
               reference=_ref_sub, fn=_alpha_plan("sub"), operands=("input", "other"),
               params={"alpha": 1}, dtypes=NUMERIC, samples=lambda d: _alpha_samples(d),
               errors=_no_bool_errors("sub"), check=_check_alpha)
elementwise_op("mul", doc=_doc("mul(input, other, *, out=None)", "``input * other``.", "nr.mul(nr.tensor([1.5, 2.0]), 2).tolist()", "[3.0, 4.0]"),
               reference=np.multiply, fn="mul", operands=("input", "other"), dtypes=ALL,
               samples=lambda d: S.binary(d), errors=_binary_errors)


def check_integer_divisor(b) -> None:
    """Integer division by zero raises on the CPU, as PyTorch's (its GPU kernels leave the value
    undefined, as the Triton kernels do: checking there would wait for the device)."""
    if np.any(np.asarray(b) == 0):
        raise ArgumentError("ZeroDivisionError: integer division by zero")


def _ref_div(a, b, rounding_mode=None):
    if rounding_mode is None:
        return np.true_divide(a, b)
    if a.dtype.kind in "iu":
        check_integer_divisor(b)
        if rounding_mode == "floor":
            return np.floor_divide(a, b)
        q = np.floor_divide(a, b)
        return np.where((q * b != a) & ((a < 0) != (b < 0)), q + 1, q)
    if rounding_mode == "trunc":
        return np.trunc(a / b)
    r = np.fmod(a, b)
    q = (a - r) / b
    q = np.where((r != 0) & ((b < 0) != (r < 0)), q - 1, q)
    fq = np.floor(q)
    fq = np.where(q - fq > 0.5, fq + 1, fq)
    fq = np.where(q == 0, np.copysign(0.0, a / b).astype(a.dtype), fq)
    return np.where(b == 0, a / b, fq)


def _div_plan(compute, params):
    mode = params["rounding_mode"]
    if mode is None:
        return "div", ()
    kind = "float" if compute.is_floating_point else "int"
    return f"div_{mode}_{kind}", ()


def _div_check(operands, params, compute):
    if params["rounding_mode"] not in (None, "trunc", "floor"):
        raise ArgumentError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {params['rounding_mode']!r}")


def _div_samples(d):
    yield from S.binary(d, positive_rhs=d.kind != "f")
    for mode in ("trunc", "floor"):
        for s in S.binary(d, positive_rhs=d.kind != "f"):
            yield Sample(s.args, {"rounding_mode": mode}, f"{s.name}_{mode}")
        if d.kind in "i":
            yield Sample((np.array([-7, 7, -7, 7, 0]), np.array([2, -2, -2, 2, 3])), {"rounding_mode": mode}, f"signs_{mode}")


elementwise_op("div", doc=_doc("div(input, other, *, rounding_mode=None, out=None)", "``input / other``; ``rounding_mode`` 'trunc' or 'floor' rounds the quotient (integers stay integers).", "nr.div(nr.tensor([-7, 7]), 2, rounding_mode='floor').tolist()", "[-4, 3]"),
               reference=_ref_div, fn=_div_plan, operands=("input", "other"),
               params={"rounding_mode": None}, dtypes=NUMERIC, check=_div_check,
               promote=lambda p: "float" if p.get("rounding_mode") is None else "same",
               samples=_div_samples,
               errors=lambda: [ErrorInput(Sample((np.ones(2), np.ones(2)), {"rounding_mode": "round"}), ValueError, "rounding_mode")])

elementwise_op("neg", doc=_doc("neg(input, *, out=None)", "``-input``.", "nr.neg(nr.tensor([1, -2])).tolist()", "[-1, 2]"),
               reference=np.negative, fn="neg", samples=S.unary, dtypes=NUMERIC,
               errors=lambda: [ErrorInput(Sample((np.array([True]),)), TypeError, "neg")])
elementwise_op("abs", doc=_doc("abs(input, *, out=None)", "``|input|``.", "nr.abs(nr.tensor([-1.5, 2.0])).tolist()", "[1.5, 2.0]"),
               reference=np.abs, fn="abs", samples=S.unary, dtypes=NUMERIC)

_FLOAT_TOL = {_dt.float32: (2e-6, 1e-5)}
for _name, _ref, _positive, _math, _example in [
        ("exp", np.exp, False, "``e ** input``", "[1.0, 2.7183]"),
        ("log", np.log, True, "the natural logarithm", "[-inf, 0.0]"),
        ("sqrt", np.sqrt, True, "the square root", "[0.0, 1.0]"),
        ("rsqrt", lambda a: 1 / np.sqrt(a), True, "``1 / sqrt(input)``", "[inf, 1.0]"),
        ("sigmoid", lambda a: 1 / (1 + np.exp(-a)), False, "``1 / (1 + exp(-input))``", "[0.5, 0.7311]"),
        ("tanh", np.tanh, False, "the hyperbolic tangent", "[0.0, 0.7616]")]:
    elementwise_op(_name, reference=_ref, fn=_name, promote="float", dtypes=ALL, tolerances=_FLOAT_TOL,
                   samples=(lambda p: lambda d: S.unary(d, positive=p))(_positive), errors=_unary_errors(_name),
                   doc=_doc(f"{_name}(input, *, out=None)", f"{_math[0].upper()}{_math[1:]} of each element "
                            f"(integers give the default float dtype).",
                            f"[round(v, 4) for v in nr.{_name}(nr.tensor([0.0, 1.0])).tolist()]", _example))


def _maximum_keeps_negative_zero(np_dtype) -> bool:
    """Whether ``np.maximum(0, a)`` returns ``a``'s -0.0 (it does on x86 builds for float32/64, in
    the scalar and SIMD loops alike); probed once per dtype, as NumPy does not promise it."""
    zero = np_dtype.type(0)
    return all(np.signbit(np.maximum(zero, np.full(n, -0.0, np_dtype))).all() for n in (1, 8, 67, 4099))


_RELU_FAST = {d: _maximum_keeps_negative_zero(np.dtype(d)) for d in (np.float32, np.float64)}


def _ref_relu(a):
    # PyTorch's relu keeps -0.0 and NaN. ``np.maximum(0, a)`` does both where probed to; otherwise
    # take the maximum and put the zeros' signs back.
    zero = a.dtype.type(0)
    r = np.maximum(zero, a)
    if a.dtype.kind == "f" and not _RELU_FAST.get(a.dtype.type, False):
        np.copyto(r, a, where=(a == zero))
    return r


elementwise_op("relu", doc=_doc("relu(input, *, out=None)", "``max(input, 0)``; NaN stays NaN.", "nr.relu(nr.tensor([-1.0, 2.0])).tolist()", "[0.0, 2.0]"),
               reference=_ref_relu, fn="relu", samples=S.unary, dtypes=NUMERIC)


def _ref_pow(a, b):
    if a.dtype.kind in "iu":
        r = np.power(a, np.maximum(b, 0))
        sign = np.where((a == -1) & (b % 2 == 1), -1, 1).astype(a.dtype)
        return np.where(b < 0, np.where((a == 1) | (a == -1), sign, 0).astype(a.dtype), r)
    return np.power(a, b)


def _pow_check(operands, params, compute):
    exponent = operands[1]
    if compute.kind in "iu" and isinstance(exponent, numbers.Integral) and exponent < 0:
        raise ArgumentError("pow: integers to negative integer powers are not allowed")


def _pow_samples(d):
    if d.kind == "f":
        yield from S.binary(d, scalar=0.5)
        yield Sample((S.values(d, (6,), 3), np.array([2.0, 3.0, -1.0, 0.0, 0.5, -2.0])), name="integer_exponents")
    else:
        yield from S.binary(d, positive_rhs=True, scalar=3)
        if d.kind == "i":
            yield Sample((np.array([2, -1, 1, -1, 3, 0]), np.array([-1, -3, -2, -2, 0, 2])), name="negative_exponents")


elementwise_op("pow", doc=_doc("pow(input, exponent, *, out=None)", "``input ** exponent`` with C99's special cases; integers wrap on overflow.", "nr.pow(nr.tensor([2, 3]), 3).tolist()", "[8, 27]"),
               reference=_ref_pow, fn=lambda c, p: ("pow" if c.is_floating_point else "ipow", ()),
               operands=("input", "exponent"), dtypes=NUMERIC, samples=_pow_samples, check=_pow_check,
               tolerances={_dt.float32: (1e-5, 1e-5), _dt.float64: (1e-7, 1e-7)},
               errors=lambda: [ErrorInput(Sample((np.array([2, 3]), -1)), ValueError, "negative integer powers")])

elementwise_op("maximum", doc=_doc("maximum(input, other, *, out=None)", "The larger of each pair; NaN wins.", "nr.maximum(nr.tensor([1.0, 5.0]), nr.tensor([3.0, 2.0])).tolist()", "[3.0, 5.0]"),
               reference=np.maximum, fn="maximum", operands=("input", "other"), dtypes=ALL,
               samples=lambda d: S.binary(d, scalar=None), errors=_binary_errors)
elementwise_op("minimum", doc=_doc("minimum(input, other, *, out=None)", "The smaller of each pair; NaN wins.", "nr.minimum(nr.tensor([1.0, 5.0]), nr.tensor([3.0, 2.0])).tolist()", "[1.0, 2.0]"),
               reference=np.minimum, fn="minimum", operands=("input", "other"), dtypes=ALL,
               samples=lambda d: S.binary(d, scalar=None), errors=_binary_errors)


def _where_samples(d):
    cond = np.array([True, False, True, False, True])
    yield Sample((cond, S.values(d, (5,)), S.values(d, (5,), 1)), name="same_shape")
    yield Sample((np.array([[True], [False], [True]]), S.values(d, (4,), 2), S.values(d, (3, 4), 3)), name="broadcast")
    yield Sample((np.array([True, False]), S.values(d, (2,), 4), 0), name="scalar_other")
    yield Sample((np.zeros((0, 2), bool), S.values(d, (0, 2), 5), S.values(d, (2,), 6)), name="empty")


_ONLY_CONDITION = object()


def _where_frontend(op: Op, condition, input=_ONLY_CONDITION, other=_ONLY_CONDITION, *, out=None):
    if input is _ONLY_CONDITION and other is _ONLY_CONDITION:  # where(condition): the indices of True
        from .indexing import where_single

        return where_single(condition)
    if input is _ONLY_CONDITION or other is _ONLY_CONDITION:
        raise SignatureError("where() takes a condition alone, or a condition, input and other")
    return elementwise(op, condition, input, other, out=out)


_BITS = {4: np.int32, 8: np.int64}
# Up to this many elements np.where's mispredicted branches cost less than the bitwise select's
# setup (a few broadcast views, ~10 us: an 8-element hardshrink took 40x PyTorch's time).
_BRANCHY_WHERE_LIMIT = 4096


def _ref_where(condition, input, other):
    """``np.where``; for two float32/float64 operands of one dtype a bitwise select of their bits
    instead: np.where branches per element, and a random mask (relu's backward) makes it ~5x slower."""
    a, b = np.asarray(input), np.asarray(other)
    bits = _BITS.get(a.dtype.itemsize)
    if a.dtype != b.dtype or a.dtype.kind != "f" or bits is None or np.asarray(condition).dtype != np.bool_ \
            or max(a.size, b.size, np.size(condition)) <= _BRANCHY_WHERE_LIMIT:
        return np.where(condition, a, b)
    shape = np.broadcast_shapes(np.shape(condition), a.shape, b.shape)
    # All ones where the condition holds; an array even for 0-d shapes (where the ufunc gives a scalar).
    keep = np.asarray(np.negative(np.broadcast_to(condition, shape), dtype=bits))
    if _is_positive_zero(b):                    # relu's backward, where(x > 0, grad, 0): no second operand
        return np.bitwise_and(np.broadcast_to(a, shape).view(bits), keep, out=keep).view(a.dtype)
    out = np.broadcast_to(a, shape).view(bits) & keep
    np.invert(keep, out=keep)
    np.bitwise_and(keep, np.broadcast_to(b, shape).view(bits), out=keep)
    out |= keep
    return out.view(a.dtype)


def _is_positive_zero(a: np.ndarray) -> bool:
    """A single +0.0 (a scalar operand, broadcast): selecting it is clearing bits."""
    return a.size == 1 and a.reshape(-1).view(_BITS[a.dtype.itemsize])[0] == 0


_where = elementwise_op(
    "where", doc=_doc("where(condition, input, other)", "``input`` where ``condition`` (a bool tensor) holds, "
                      "else ``other``. ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``.",
                      "nr.where(nr.tensor([True, False]), nr.tensor([1.0, 2.0]), 0.0).tolist()", "[1.0, 0.0]"),
    reference=_ref_where, fn="where", operands=("condition", "input", "other"),
    promote="where", dtypes=ALL, samples=_where_samples, method=False, inplace=False, keep_dtype=(0,),
    errors=lambda: [ErrorInput(Sample((np.array([1.0, 0.0]), np.ones(2), np.ones(2))), TypeError, "bool condition"),
                    ErrorInput(Sample((np.array([True, False]), np.ones(2))), TypeError, "condition alone")])
_where.frontend = _where_frontend

for _name, _ufunc, _symbol, _example in [
        ("eq", np.equal, "==", "[False, True, False]"), ("ne", np.not_equal, "!=", "[True, False, True]"),
        ("lt", np.less, "<", "[True, False, False]"), ("le", np.less_equal, "<=", "[True, True, False]"),
        ("gt", np.greater, ">", "[False, False, True]"), ("ge", np.greater_equal, ">=", "[False, True, True]")]:
    elementwise_op(_name, reference=_ufunc, fn=_name, operands=("input", "other"), promote="compare",
                   dtypes=ALL, samples=lambda d: S.binary(d), errors=_binary_errors,
                   doc=_doc(f"{_name}(input, other, *, out=None)", f"``input {_symbol} other`` as a bool tensor.",
                            f"nr.{_name}(nr.tensor([1, 2, 3]), 2).tolist()", _example))


def _ref_clamp(a, lo=None, hi=None):
    # np.clip propagates NaN, as clamp must, and gives max when min > max, as PyTorch does.
    return np.clip(a, lo, hi)


def _clamp_check(operands, params, compute):
    if operands[1] is None and operands[2] is None:
        raise ArgumentError("clamp: at least one of 'min' or 'max' must not be None")


def _clamp_frontend(op: Op, input, min=None, max=None, *, out=None):
    """clamp(input, min=None, max=None): bounds may be scalars or tensors; a missing bound is open."""
    _clamp_check([input, min, max], {}, None)
    if not isinstance(input, Tensor):
        raise ArgumentError("clamp: input must be a Tensor")
    d = _dt.result_type(*(x for x in (input, min, max) if x is not None))
    lo = min if min is not None else (float("-inf") if d.is_floating_point else _dt.iinfo(d).min)
    hi = max if max is not None else (float("inf") if d.is_floating_point else _dt.iinfo(d).max)
    return elementwise(op, input, lo, hi, out=out)


def _clamp_samples(d):
    yield Sample((S.values(d, (3, 4)),), {"min": 1 if d.kind == "u" else -1, "max": 2}, "both")
    yield Sample((S.values(d, (5,), 1),), {"min": 0}, "min_only")
    yield Sample((S.values(d, (5,), 2),), {"max": 1}, "max_only")
    yield Sample((S.values(d, (5,), 3),), {"min": 2, "max": 1}, "min_above_max")
    yield Sample((S.values(d, (3, 4), 4),), {"min": S.values(d, (4,), 5), "max": S.values(d, (3, 1), 6, low=1.0)},
                 "tensor_bounds")
    if d.kind == "f":
        yield Sample((S.SPECIALS.copy(),), {"min": -1.0, "max": 1.0}, "specials")
        yield Sample((S.values(d, (4,)),), {"min": float("nan")}, "nan_min")
        yield Sample((S.values(d, (4,)),), {"max": float("nan")}, "nan_max")


_clamp = elementwise_op("clamp", doc=_doc("clamp(input, min=None, max=None, *, out=None)", "``input`` limited to ``[min, max]`` (scalars or tensors; a missing bound is open).", "nr.clamp(nr.tensor([-2.0, 0.5, 3.0]), min=0, max=1).tolist()", "[0.0, 0.5, 1.0]"),
                        reference=_ref_clamp, fn="clamp", operands=("input", "min", "max"),
                        dtypes=NUMERIC, samples=_clamp_samples,
                        errors=lambda: [ErrorInput(Sample((np.ones(2),)), ValueError, "at least one")])
_clamp.frontend = _clamp_frontend


# -- casts and copies: the kernel with the identity function --------------------------------

def _ref_cast(a, dtype=None):
    return a.astype(_dt.as_dtype(dtype).np)


def _cast_samples(d):
    for target in ALL:
        safe = d.kind != "f" or target.kind == "f"
        lo_hi = {"low": 0.0, "high": 3.0} if target.kind in "ub" or d.kind != "f" else {}
        v = S.values(d, (3, 5), 1, **lo_hi) if d.kind == "f" else S.values(d, (3, 5), 1)
        if target.kind == "u" and d.kind == "i":
            v = np.abs(v)
        yield Sample((v,), {"dtype": target}, f"to_{target.name}")
        if safe and d.kind == "f":
            yield Sample((S.SPECIALS.copy(),), {"dtype": target}, f"specials_to_{target.name}")
    yield Sample((S.TensorSpec(S.values(d, (4, 3), 2), "transposed"),), {"dtype": _dt.float32}, "noncontiguous")


elementwise_op("cast", reference=_ref_cast, fn="identity", promote="cast", params={"dtype": None}, dtypes=ALL,
               samples=_cast_samples, method=False, inplace=False, public=False,
               torch=lambda x, dtype: x.to(dtype))


def _ref_clone(a):
    return a.copy()


elementwise_op("clone", doc=_doc("clone(input)", "A contiguous copy with its own memory.", "nr.clone(nr.tensor([[1, 2], [3, 4]]).t()).is_contiguous()", "True"),
               reference=_ref_clone, fn="identity", promote="cast", dtypes=ALL, samples=S.unary,
               inplace=False, method=False)


def _ref_copy(dst, src):
    return src


def _copy_frontend(op: Op, dst: Tensor, src):
    if not isinstance(dst, Tensor):
        raise ArgumentError("copy_: the destination must be a Tensor")
    if isinstance(src, Tensor):
        if src._shape != dst._shape and broadcast_shapes(dst._shape, src._shape) != dst._shape:
            raise ShapeError(f"copy_: source of shape {list(src.shape)} cannot be broadcast to {list(dst.shape)}")
        check_out("copy_", dst, (src,))
    else:
        src = scalar_tensor(src, dst.dtype, dst.device)
    return _copy_into(op, dst, src)


def _copy_into(op: Op, dst: Tensor, src: Tensor) -> Tensor:
    """The copy itself; the caller has checked that ``src`` broadcasts to ``dst`` and does not overlap it."""
    if backends.for_device(dst._storage.device) == "reference":
        np.copyto(dst._np(), src._np(), casting="unsafe")
        dst._bump_version()
        return dst
    op.launcher()(dst, [src], "identity", kernel_dtype(src.dtype))
    dst._bump_version()
    return dst


def _copy_samples(d):
    yield Sample((S.values(d, (3, 4)), S.values(d, (3, 4), 1)), name="same")
    yield Sample((S.values(d, (3, 4)), S.values(d, (4,), 2)), name="broadcast")
    yield Sample((S.TensorSpec(S.values(d, (3, 4))), S.TensorSpec(S.values(d, (3, 4), 3), "transposed")), name="strided")


_copy = elementwise_op("copy_", reference=_ref_copy, fn="identity", operands=("self", "src"), promote="cast",
                       dtypes=ALL, samples=_copy_samples, method=False, inplace=False, public=False,
                       torch=lambda dst, src: dst.copy_(src))
_copy.frontend = _copy_frontend
_copy.attrs["writes_first"] = True  # autograd: the first argument is written in place


def _fill_frontend(op: Op, dst: Tensor, value):
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ShapeError(f"fill_ only supports a 0-d value tensor, got shape {list(value.shape)}")
        if value._storage is dst._storage:
            value = value.clone()  # x.fill_(x[0]): read the value before any element is written
        if value._storage.device is not dst._storage.device:
            value = value.to(dst.device)
        return _copy_into(_copy, dst, value)  # no .item(): no host sync on CUDA
    return _copy_into(_copy, dst, scalar_tensor(value, dst.dtype, dst.device))


def _fill_samples(d):
    yield Sample((S.values(d, (3, 4)), 1), name="one")
    yield Sample((S.TensorSpec(S.values(d, (3, 4))), 0), name="strided_zero")
    if d.kind == "f":
        yield Sample((S.values(d, (5,)), float("nan")), name="nan")


_fill = elementwise_op("fill_", reference=lambda dst, value: np.full_like(dst, value), fn="identity",
                       operands=("self",), params={"value": 0}, promote="cast", dtypes=ALL, samples=_fill_samples,
                       method=False, inplace=False, public=False, torch=lambda dst, value: dst.fill_(value))
_fill.frontend = _fill_frontend
_fill.attrs["writes_first"] = True


# ----------------------------------------------------------------------------------------------
# Derivatives (autograd): ``backward(grad, <saved names>) -> one gradient per differentiable
# argument``. Written with NeuraRust ops, so they run as kernels and differentiate again; the engine
# sums over broadcast dims and casts to each input's dtype.
# ----------------------------------------------------------------------------------------------

def _scale(grad, factor):
    return grad if isinstance(factor, numbers.Number) and factor == 1 else grad * factor


def _mul_backward(grad, input, other, needs_input_grad):
    return (grad * other if needs_input_grad[0] else None,
            grad * input if needs_input_grad[1] else None)


def _div_backward(grad, other, result, rounding_mode, needs_input_grad):
    if rounding_mode is not None:  # a step function: zero almost everywhere
        return nr.zeros_like(grad), nr.zeros_like(grad)
    return (grad / other if needs_input_grad[0] else None,
            -grad * result / other if needs_input_grad[1] else None)


def _pow_backward(grad, input, exponent, result, needs_input_grad):
    d_input = d_exponent = None
    if needs_input_grad[0]:
        # grad times the local derivative, as PyTorch groups it: grad * exponent alone can overflow
        # (a loss scaler's 3e38) where the product is finite
        if isinstance(exponent, numbers.Number):
            d_input = nr.zeros_like(grad) if exponent == 0 else grad * (exponent * input ** (exponent - 1))
        else:
            d_input = nr.where(exponent == 0, 0.0, grad * (exponent * input ** (exponent - 1)))
    if needs_input_grad[1]:
        log_base = input.log() if isinstance(input, Tensor) else math.log(input)
        # 0 ** e has derivative 0 in e for e >= 0 (PyTorch masks the -inf * 0)
        d_exponent = nr.where((input == 0) & (exponent >= 0), 0.0, grad * result * log_base)
    return d_input, d_exponent


def _pick_larger(grad, input, other, larger: bool):
    """max/min backward: the gradient goes to the chosen operand, split evenly on ties; each side
    loses it only where the other is strictly better, so a NaN sends it to both (as PyTorch)."""
    input_wins, other_wins = (input > other, input < other) if larger else (input < other, input > other)
    half = nr.where(input == other, grad / 2, grad)
    return nr.where(other_wins, 0.0, half), nr.where(input_wins, 0.0, half)


def _clamp_backward(grad, input, min, max):
    inside = nr.ones_like(input, dtype=_dt.bool_)
    if min is not None:
        inside = inside & (input >= min)
    if max is not None:
        inside = inside & (input <= max)
    d_min = nr.where(input < min, grad, 0.0) if isinstance(min, Tensor) else None
    d_max = nr.where(input > max, grad, 0.0) if isinstance(max, Tensor) else None
    return nr.where(inside, grad, 0.0), d_min, d_max


def _fill_backward(grad, value):
    return None, grad.sum() if isinstance(value, Tensor) else None


for _name, _args, _backward in [
        ("add", ("input", "other"), lambda grad, alpha: (grad, _scale(grad, alpha))),
        ("sub", ("input", "other"), lambda grad, alpha: (grad, -_scale(grad, alpha))),
        ("mul", ("input", "other"), _mul_backward),
        ("div", ("input", "other"), _div_backward),
        ("neg", ("input",), lambda grad: -grad),
        ("abs", ("input",), lambda grad, input: grad * input.sign()),
        ("exp", ("input",), lambda grad, result: grad * result),
        ("log", ("input",), lambda grad, input: grad / input),
        ("sqrt", ("input",), lambda grad, result: grad / (2 * result)),
        ("rsqrt", ("input",), lambda grad, result: grad * result * result * result * -0.5),
        ("sigmoid", ("input",), lambda grad, result: grad * result * (1 - result)),
        ("tanh", ("input",), lambda grad, result: grad * (1 - result * result)),
        ("relu", ("input",), lambda grad, result: nr.where(result > 0, grad, 0.0)),
        ("pow", ("input", "exponent"), _pow_backward),
        ("maximum", ("input", "other"), lambda grad, input, other: _pick_larger(grad, input, other, True)),
        ("minimum", ("input", "other"), lambda grad, input, other: _pick_larger(grad, input, other, False)),
        ("where", ("input", "other"), lambda grad, condition: (nr.where(condition, grad, 0.0),
                                                               nr.where(condition, 0.0, grad))),
        ("clamp", ("input", "min", "max"), _clamp_backward),
        ("cast", ("input",), lambda grad: grad),
        ("clone", ("input",), lambda grad: grad),
        ("copy_", ("dst", "src"), lambda grad: (None, grad)),
        ("fill_", ("dst", "value"), _fill_backward)]:
    derivative(_name, _args, _backward)
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    derivative(_name, ())

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).
autocast_class(("exp", "log", "rsqrt", "pow"), cuda="fp32")
# ``2 / x`` (Tensor.__rtruediv__ runs div with a number first): PyTorch's __rdiv__/__rtruediv__ are "fp32".
autocast_class(("div",), cuda=AutocastWhen("fp32", lambda bound: not isinstance(bound["input"], Tensor)))
