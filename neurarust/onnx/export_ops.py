"""The export mapping: one converter per registry op, kept in :data:`CONVERTERS` and attached to the
op's ``onnx`` slot (``registry.get("relu").onnx``) by :func:`attach`.

A converter is ``fn(ctx, node, a) -> name or [names]``: ``a`` holds the call's arguments bound to
the op's parameter names (tensors are graph ``Value`` objects), ``ctx.x(v)`` is the ONNX name of a
value, ``ctx.b`` the :class:`~neurarust.onnx.export_builder.Builder` the nodes go to. It returns one
name per tensor output of the op (``None`` for an output ONNX does not compute; using it later is an
error). Composite layers need no converter: ``nn.LeakyReLU`` is recorded as ``gt``, ``mul`` and
``where``, ``nn.Dropout`` in eval mode records nothing, ``nn.Embedding`` is ``index_select``.

    >>> from neurarust.onnx.export_ops import CONVERTERS
    >>> CONVERTERS["convolution"].emits, CONVERTERS["flash_attention"].emits
    ('Conv / ConvTranspose', 'MatMul, Mul, Softmax, MatMul (Where/Add for masks, Trilu when causal)')
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from neurarust import dtype as _dt
from neurarust import registry

from .export_builder import UnsupportedExportError, onnx_type

INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)


@dataclass
class Converter:
    """The ONNX lowering of one registry op; ``emits`` names the ONNX ops (docs/onnx.md's table)."""

    name: str
    fn: Callable
    emits: str

    def __call__(self, ctx, node, a):
        return self.fn(ctx, node, a)


CONVERTERS: dict[str, Converter] = {}


def converts(*names: str, emits: str) -> Callable:
    def deco(fn: Callable) -> Callable:
        for name in names:
            CONVERTERS[name] = Converter(name, fn, emits)
        return fn

    return deco


def attach() -> None:
    """Fill each registry op's ``onnx`` slot with its converter (ops without one keep ``None``).

    >>> import neurarust.registry as registry
    >>> from neurarust.onnx.export_ops import attach
    >>> attach(); registry.get("softmax").onnx.emits
    'Softmax'
    """
    registry.load()
    for name, conv in CONVERTERS.items():
        if name in registry.OPS:
            registry.OPS[name].onnx = conv


# -- helpers --------------------------------------------------------------------------------------

def _rank(v) -> int:
    return len(v.shape)


def _axis(d: int, rank: int) -> int:
    return d % rank if rank else 0


def _dims(dim, rank: int) -> list[int]:
    """Reduction dims as a sorted list of non-negative axes (None or () meaning all)."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return list(range(rank))
    dims = [dim] if isinstance(dim, int) else list(dim)
    return sorted(_axis(d, rank) for d in dims)


def _pair(v, n: int) -> list[int]:
    return list(v) if isinstance(v, (tuple, list)) else [v] * n


def _out_dtype(node):
    for v in node.outputs:
        if v is not None:
            return v.dtype
    return node.effects[0][1].dtype


def _value_dtype(v):
    return getattr(v, "dtype", None)


def _compute_dtype(*operands):
    """The dtype a comparison or a binary op computes in (PyTorch's promotion, simplified)."""
    tensors = [o for o in operands if _value_dtype(o) is not None]
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = _dt.promote_types(dt, t.dtype)
    for o in operands:
        if isinstance(o, bool) or _value_dtype(o) is not None:
            continue
        if isinstance(o, float) and not dt.is_floating_point:
            dt = _dt.get_default_dtype()
        elif isinstance(o, int) and dt is _dt.bool_:
            dt = _dt.int64
    return dt


def unsqueeze(ctx, x: str, axes: list[int]) -> str:
    return ctx.b.node("Unsqueeze", [x, ctx.b.const(np.array(axes, np.int64))])


def reduce(ctx, op_type: str, x: str, axes: list[int], keepdims: bool) -> str:
    """``op_type`` over ``axes``: axes as an input where the opset takes one (ReduceSum from 13,
    every reduction from 18), else as an attribute."""
    if op_type == "ReduceSum" or ctx.opset >= 18:
        return ctx.b.node(op_type, [x, ctx.b.const(np.array(axes, np.int64))], keepdims=int(keepdims))
    return ctx.b.node(op_type, [x], axes=list(axes), keepdims=int(keepdims))


def cast(ctx, x: str, dtype) -> str:
    return ctx.b.node("Cast", [x], to=onnx_type(dtype))


# -- elementwise ----------------------------------------------------------------------------------

def _unary(onnx_op: str) -> Callable:
    def conv(ctx, node, a):
        dt = _out_dtype(node)
        x = ctx.x(a["input"]) if dt is _dt.bool_ else ctx.operand(a["input"], dt)   # IsNaN, IsInf read floats
        return ctx.b.node(onnx_op, [x])

    return conv


for _name, _onnx in {"neg": "Neg", "abs": "Abs", "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "sigmoid": "Sigmoid",
                     "tanh": "Tanh", "relu": "Relu", "sin": "Sin", "cos": "Cos", "tan": "Tan", "asin": "Asin",
                     "acos": "Acos", "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh", "erf": "Erf",
                     "reciprocal": "Reciprocal", "sign": "Sign", "floor": "Floor", "ceil": "Ceil",
                     "isnan": "IsNaN", "isinf": "IsInf"}.items():
    converts(_name, emits=_onnx)(_unary(_onnx))


@converts("logical_not", emits="Not")
def _logical_not(ctx, node, a):
    return ctx.b.node("Not", [ctx.operand(a["input"], _dt.bool_)])


@converts("bitwise_not", emits="Not (bool) / BitwiseNot")
def _bitwise_not(ctx, node, a):
    if a["input"].dtype is _dt.bool_:
        return ctx.b.node("Not", [ctx.x(a["input"])])
    ctx.need_opset(18, "bitwise_not on integers (BitwiseNot)")
    return ctx.b.node("BitwiseNot", [ctx.x(a["input"])])


@converts("isfinite", emits="IsNaN, IsInf, Or, Not")
def _isfinite(ctx, node, a):
    x = ctx.x(a["input"])
    if not a["input"].dtype.is_floating_point:
        return ctx.b.node("Expand", [ctx.b.const(np.array(True)), ctx.b.ints(a["input"].shape)])
    return ctx.b.node("Not", [ctx.b.node("Or", [ctx.b.node("IsNaN", [x]), ctx.b.node("IsInf", [x])])])


@converts("rsqrt", emits="Sqrt, Reciprocal")
def _rsqrt(ctx, node, a):
    return ctx.b.node("Reciprocal", [ctx.b.node("Sqrt", [ctx.operand(a["input"], _out_dtype(node))])])


@converts("square", emits="Mul")
def _square(ctx, node, a):
    x = ctx.operand(a["input"], _out_dtype(node))
    return ctx.b.node("Mul", [x, x])


@converts("trunc", emits="Abs, Floor, Sign, Mul")
def _trunc(ctx, node, a):
    x = ctx.x(a["input"])
    if not a["input"].dtype.is_floating_point:
        return ctx.b.node("Identity", [x])
    return ctx.b.node("Mul", [ctx.b.node("Sign", [x]), ctx.b.node("Floor", [ctx.b.node("Abs", [x])])])


@converts("round", emits="Round (Mul/Div by 10**decimals)")
def _round(ctx, node, a):
    x, dt = ctx.x(a["input"]), a["input"].dtype
    if not dt.is_floating_point:
        return ctx.b.node("Identity", [x])
    if not a.get("decimals"):
        return ctx.b.node("Round", [x])
    scale = ctx.scalar(10.0 ** a["decimals"], dt)
    return ctx.b.node("Div", [ctx.b.node("Round", [ctx.b.node("Mul", [x, scale])]), scale])


@converts("exp2", emits="Pow")
def _exp2(ctx, node, a):
    dt = _out_dtype(node)
    return ctx.b.node("Pow", [ctx.scalar(2.0, dt), ctx.operand(a["input"], dt)])


@converts("expm1", emits="Exp, Sub")
def _expm1(ctx, node, a):
    dt = _out_dtype(node)
    return ctx.b.node("Sub", [ctx.b.node("Exp", [ctx.operand(a["input"], dt)]), ctx.scalar(1.0, dt)])


@converts("log1p", emits="Add, Log")
def _log1p(ctx, node, a):
    dt = _out_dtype(node)
    return ctx.b.node("Log", [ctx.b.node("Add", [ctx.operand(a["input"], dt), ctx.scalar(1.0, dt)])])


def _log_base(base: float) -> Callable:
    def conv(ctx, node, a):
        dt = _out_dtype(node)
        return ctx.b.node("Div", [ctx.b.node("Log", [ctx.operand(a["input"], dt)]), ctx.scalar(math.log(base), dt)])

    return conv


converts("log2", emits="Log, Div")(_log_base(2.0))
converts("log10", emits="Log, Div")(_log_base(10.0))


@converts("gelu", emits="Gelu (opset 20+) / Erf or Tanh decomposition")
def _gelu(ctx, node, a):
    dt, approx = _out_dtype(node), a.get("approximate", "none")
    x = ctx.operand(a["input"], dt)
    if ctx.opset >= 20:
        return ctx.b.node("Gelu", [x], approximate=approx)
    b, c = ctx.b, lambda v: ctx.scalar(v, dt)
    if approx == "tanh":
        cube = b.node("Mul", [b.node("Mul", [x, x]), x])
        inner = b.node("Mul", [b.node("Add", [x, b.node("Mul", [cube, c(0.044715)])]), c(math.sqrt(2 / math.pi))])
        gate = b.node("Tanh", [inner])
    else:
        gate = b.node("Erf", [b.node("Mul", [x, c(1 / math.sqrt(2))])])
    return b.node("Mul", [b.node("Mul", [x, c(0.5)]), b.node("Add", [gate, c(1.0)])])


@converts("silu", emits="Sigmoid, Mul")
def _silu(ctx, node, a):
    x = ctx.operand(a["input"], _out_dtype(node))
    return ctx.b.node("Mul", [x, ctx.b.node("Sigmoid", [x])])


@converts("softplus", emits="Softplus (Mul, Div, Where for beta and threshold)")
def _softplus(ctx, node, a):
    dt = _out_dtype(node)
    x, beta, threshold = ctx.operand(a["input"], dt), a.get("beta", 1.0), a.get("threshold", 20.0)
    bx = x if beta == 1 else ctx.b.node("Mul", [x, ctx.scalar(beta, dt)])
    soft = ctx.b.node("Softplus", [bx])
    if beta != 1:
        soft = ctx.b.node("Div", [soft, ctx.scalar(beta, dt)])
    return ctx.b.node("Where", [ctx.b.node("Greater", [bx, ctx.scalar(threshold, dt)]), x, soft])



# -- activations (nn.Hardswish, nn.SELU, ...): ONNX's own op where one exists with PyTorch's numbers --

_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _hardsigmoid_node(ctx, x: str) -> str:
    return ctx.b.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)


@converts("hardsigmoid", emits="HardSigmoid")
def _hardsigmoid(ctx, node, a):
    return _hardsigmoid_node(ctx, ctx.operand(a["input"], _out_dtype(node)))


@converts("hardswish", emits="HardSwish (opset 14+) / HardSigmoid, Mul")
def _hardswish(ctx, node, a):
    x = ctx.operand(a["input"], _out_dtype(node))
    if ctx.opset >= 14:
        return ctx.b.node("HardSwish", [x])
    return ctx.b.node("Mul", [x, _hardsigmoid_node(ctx, x)])


@converts("selu", emits="Selu")
def _selu(ctx, node, a):
    # PyTorch's constants, not ONNX's defaults (those are rounded to float32 first).
    return ctx.b.node("Selu", [ctx.operand(a["input"], _out_dtype(node))], alpha=_SELU_ALPHA, gamma=_SELU_SCALE)


@converts("celu", emits="Celu")
def _celu(ctx, node, a):
    return ctx.b.node("Celu", [ctx.operand(a["input"], _out_dtype(node))], alpha=float(a.get("alpha", 1.0)))


@converts("softsign", emits="Softsign")
def _softsign(ctx, node, a):
    return ctx.b.node("Softsign", [ctx.operand(a["input"], _out_dtype(node))])


@converts("logsigmoid", emits="Neg, Softplus, Neg")
def _logsigmoid(ctx, node, a):
    # log(sigmoid(x)) = -softplus(-x): no sigmoid that underflows to 0 and a log of it that gives -inf.
    x = ctx.operand(a["input"], _out_dtype(node))
    return ctx.b.node("Neg", [ctx.b.node("Softplus", [ctx.b.node("Neg", [x])])])


def _shrink(bias: bool) -> Callable:
    def conv(ctx, node, a):
        lambd = float(a.get("lambd", 0.5))
        x = ctx.operand(a["input"], _out_dtype(node))
        shrunk = ctx.b.node("Shrink", [x], lambd=lambd, bias=lambd if bias else 0.0)
        return ctx.b.node("Where", [ctx.b.node("IsNaN", [x]), x, shrunk])  # Shrink makes NaN 0; PyTorch keeps it

    return conv


converts("hardshrink", emits="Shrink, IsNaN, Where")(_shrink(False))
converts("softshrink", emits="Shrink (bias = lambd), IsNaN, Where")(_shrink(True))


@converts("threshold", emits="LessOrEqual, Where")
def _threshold(ctx, node, a):
    # ``x <= threshold`` picks ``value``: NaN compares false and stays, as in PyTorch.
    dt = _out_dtype(node)
    x = ctx.operand(a["input"], dt)
    low = ctx.b.node("LessOrEqual", [x, ctx.scalar(a["threshold"], dt)])
    return ctx.b.node("Where", [low, ctx.scalar(a["value"], dt), x])


def _binary(onnx_op: str) -> Callable:
    def conv(ctx, node, a):
        operands = [a[k] for k in node.op.attrs["operands"]]
        dt = _out_dtype(node)
        x, y = (ctx.operand(v, dt) for v in operands)
        alpha = a.get("alpha", 1)
        if alpha != 1:
            y = ctx.b.node("Mul", [y, ctx.scalar(alpha, dt)])
        return ctx.b.node(onnx_op, [x, y])

    return conv


for _name, _onnx in {"add": "Add", "sub": "Sub", "mul": "Mul", "maximum": "Max", "minimum": "Min"}.items():
    converts(_name, emits=_onnx)(_binary(_onnx))


@converts("pow", emits="Pow")
def _pow(ctx, node, a):
    dt = _out_dtype(node)
    exponent = a["exponent"]
    if not isinstance(exponent, (int, float)) or isinstance(exponent, bool):
        return ctx.b.node("Pow", [ctx.operand(a["input"], dt), ctx.operand(exponent, dt)])
    x = ctx.operand(a["input"], dt)
    if exponent == 2:
        return ctx.b.node("Mul", [x, x])
    return ctx.b.node("Pow", [x, ctx.scalar(exponent, dt)])


@converts("div", emits="Div (Floor or Sign/Abs/Floor for rounding modes)")
def _div(ctx, node, a):
    dt, mode = _out_dtype(node), a.get("rounding_mode")
    compute = dt if mode is None else _compute_dtype(a["input"], a["other"])
    x, y = ctx.operand(a["input"], compute), ctx.operand(a["other"], compute)
    if not compute.is_floating_point and mode is not None:
        raise UnsupportedExportError(f"div with rounding_mode={mode!r} on {compute} has no exact ONNX form")
    q = ctx.b.node("Div", [x, y])
    if mode == "floor":
        q = ctx.b.node("Floor", [q])
    elif mode == "trunc":
        q = ctx.b.node("Mul", [ctx.b.node("Sign", [q]), ctx.b.node("Floor", [ctx.b.node("Abs", [q])])])
    return q


@converts("floor_divide", emits="Div, Floor")
def _floor_divide(ctx, node, a):
    dt = _out_dtype(node)
    if not dt.is_floating_point:
        raise UnsupportedExportError(f"floor_divide on {dt} has no exact ONNX form")
    return ctx.b.node("Floor", [ctx.b.node("Div", [ctx.operand(a["input"], dt), ctx.operand(a["other"], dt)])])


@converts("remainder", emits="Mod (integers) / Div, Floor, Mul, Sub (floats)")
def _remainder(ctx, node, a):
    dt = _out_dtype(node)
    x, y = ctx.operand(a["input"], dt), ctx.operand(a["other"], dt)
    if not dt.is_floating_point:
        return ctx.b.node("Mod", [x, y])
    return ctx.b.node("Sub", [x, ctx.b.node("Mul", [ctx.b.node("Floor", [ctx.b.node("Div", [x, y])]), y])])


@converts("fmod", emits="Mod (fmod=1)")
def _fmod(ctx, node, a):
    dt = _out_dtype(node)
    return ctx.b.node("Mod", [ctx.operand(a["input"], dt), ctx.operand(a["other"], dt)], fmod=1)


def _compare(onnx_op: str, negate: bool = False) -> Callable:
    def conv(ctx, node, a):
        x, y = (a[k] for k in node.op.attrs["operands"])
        dt = _compute_dtype(x, y)
        out = ctx.b.node(onnx_op, [ctx.operand(x, dt), ctx.operand(y, dt)])
        return ctx.b.node("Not", [out]) if negate else out

    return conv


for _name, _onnx in {"eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual"}.items():
    converts(_name, emits=_onnx)(_compare(_onnx))
converts("ne", emits="Equal, Not")(_compare("Equal", negate=True))


def _logical(onnx_op: str) -> Callable:
    def conv(ctx, node, a):
        x, y = (a[k] for k in node.op.attrs["operands"])
        return ctx.b.node(onnx_op, [ctx.operand(x, _dt.bool_), ctx.operand(y, _dt.bool_)])

    return conv


for _name, _onnx in {"logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}.items():
    converts(_name, emits=_onnx)(_logical(_onnx))


def _bitwise(bool_op: str, int_op: str) -> Callable:
    def conv(ctx, node, a):
        dt = _out_dtype(node)
        x, y = (ctx.operand(a[k], dt) for k in node.op.attrs["operands"])
        if dt is _dt.bool_:
            return ctx.b.node(bool_op, [x, y])
        ctx.need_opset(18, f"{node.op.name} on integers ({int_op})")
        return ctx.b.node(int_op, [x, y])

    return conv


for _name, (_b, _i) in {"bitwise_and": ("And", "BitwiseAnd"), "bitwise_or": ("Or", "BitwiseOr"),
                        "bitwise_xor": ("Xor", "BitwiseXor")}.items():
    converts(_name, emits=f"{_b} (bool) / {_i}")(_bitwise(_b, _i))


@converts("where", emits="Where")
def _where(ctx, node, a):
    dt = _out_dtype(node)
    return ctx.b.node("Where", [ctx.operand(a["condition"], _dt.bool_), ctx.operand(a["input"], dt),
                                ctx.operand(a["other"], dt)])


@converts("masked_fill", emits="Where")
def _masked_fill(ctx, node, a):
    dt = _out_dtype(node)
    return ctx.b.node("Where", [ctx.operand(a["mask"], _dt.bool_), ctx.operand(a["value"], dt),
                                ctx.operand(a["input"], dt)])


@converts("clamp", emits="Clip (Max/Min for tensor bounds)")
def _clamp(ctx, node, a):
    dt = _out_dtype(node)
    x, lo, hi = ctx.operand(a["input"], dt), a.get("min"), a.get("max")
    if all(v is None or isinstance(v, (int, float)) for v in (lo, hi)):
        bounds = [ctx.scalar(v, dt) if v is not None else "" for v in (lo, hi)]
        while bounds and bounds[-1] == "":
            bounds.pop()
        return ctx.b.node("Clip", [x, *bounds])
    if lo is not None:
        x = ctx.b.node("Max", [x, ctx.operand(lo, dt)])
    if hi is not None:
        x = ctx.b.node("Min", [x, ctx.operand(hi, dt)])
    return x


@converts("cast", emits="Cast")
def _cast(ctx, node, a):
    return cast(ctx, ctx.x(a["input"]), _out_dtype(node))


@converts("clone", emits="nothing (the value itself)")
def _clone(ctx, node, a):
    return ctx.x(a["input"])


@converts("fill_", "copy_", emits="Expand (the written tensor's new value)")
def _fill(ctx, node, a):
    dst = a["dst"]
    src = a["value"] if "value" in a else a["src"]
    return ctx.b.node("Expand", [ctx.operand(src, dst.dtype), ctx.b.ints(dst.shape)])


@converts("lerp", emits="Sub, Mul, Add")
def _lerp(ctx, node, a):
    dt = _out_dtype(node)
    x, end, w = (ctx.operand(a[k], dt) for k in ("input", "end", "weight"))
    return ctx.b.node("Add", [x, ctx.b.node("Mul", [w, ctx.b.node("Sub", [end, x])])])


def _addc(onnx_op: str) -> Callable:
    def conv(ctx, node, a):
        dt = _out_dtype(node)
        x, t1, t2 = (ctx.operand(a[k], dt) for k in ("input", "tensor1", "tensor2"))
        term = ctx.b.node(onnx_op, [t1, t2])
        if a.get("value", 1) != 1:
            term = ctx.b.node("Mul", [term, ctx.scalar(a["value"], dt)])
        return ctx.b.node("Add", [x, term])

    return conv


converts("addcmul", emits="Mul, Add")(_addc("Mul"))
converts("addcdiv", emits="Div, Mul, Add")(_addc("Div"))


@converts("nan_to_num", emits="IsNaN, IsInf, Where")
def _nan_to_num(ctx, node, a):
    dt = _out_dtype(node)
    x = ctx.x(a["input"])
    if not dt.is_floating_point:
        return ctx.b.node("Identity", [x])
    big = float(np.finfo(dt.np).max)
    nan, pos, neg = a.get("nan") or 0.0, a.get("posinf"), a.get("neginf")
    pos, neg = big if pos is None else pos, -big if neg is None else neg
    x = ctx.b.node("Where", [ctx.b.node("IsNaN", [x]), ctx.scalar(nan, dt), x])
    x = ctx.b.node("Where", [ctx.b.node("IsInf", [x], detect_negative=0), ctx.scalar(pos, dt), x])
    return ctx.b.node("Where", [ctx.b.node("IsInf", [x], detect_positive=0), ctx.scalar(neg, dt), x])


@converts("copysign", emits="Abs, Neg, Less, Where")
def _copysign(ctx, node, a):
    dt = _out_dtype(node)
    mag = ctx.b.node("Abs", [ctx.operand(a["input"], dt)])
    negative = ctx.b.node("Less", [ctx.operand(a["other"], dt), ctx.scalar(0.0, dt)])
    return ctx.b.node("Where", [negative, ctx.b.node("Neg", [mag]), mag])


# -- reductions -----------------------------------------------------------------------------------

def _reduction(onnx_op: str) -> Callable:
    def conv(ctx, node, a):
        x = a["input"]
        name = ctx.x(x)
        if a.get("dtype") is not None:
            name = cast(ctx, name, a["dtype"])
        return reduce(ctx, onnx_op, name, _dims(a.get("dim"), _rank(x)), a.get("keepdim", False))

    return conv


for _name, _onnx in {"sum": "ReduceSum", "mean": "ReduceMean", "amax": "ReduceMax", "amin": "ReduceMin",
                     "prod": "ReduceProd", "logsumexp": "ReduceLogSumExp"}.items():
    converts(_name, emits=_onnx)(_reduction(_onnx))


def _maxmin(reduce_op: str, arg_op: str, pair_op: str) -> Callable:
    def conv(ctx, node, a):
        x, dim, other = a["input"], a.get("dim"), a.get("other")
        if other is None and dim is not None and not isinstance(dim, int):
            other = dim
        if other is not None:
            dt = _out_dtype(node)
            return ctx.b.node(pair_op, [ctx.operand(x, dt), ctx.operand(other, dt)])
        name = ctx.x(x)
        if dim is None:
            return reduce(ctx, reduce_op, name, list(range(_rank(x))), False)
        axis, keep = _axis(dim, _rank(x)), bool(a.get("keepdim", False))
        return [reduce(ctx, reduce_op, name, [axis], keep), ctx.b.node(arg_op, [name], axis=axis, keepdims=int(keep))]

    return conv


converts("max", emits="ReduceMax, ArgMax / Max")(_maxmin("ReduceMax", "ArgMax", "Max"))
converts("min", emits="ReduceMin, ArgMin / Min")(_maxmin("ReduceMin", "ArgMin", "Min"))


def _arg(onnx_op: str) -> Callable:
    def conv(ctx, node, a):
        x, dim, keep = a["input"], a.get("dim"), bool(a.get("keepdim", False))
        name = ctx.x(x)
        if dim is None:
            flat = ctx.b.node("Reshape", [name, ctx.b.const(np.array([-1], np.int64))])
            out = ctx.b.node(onnx_op, [flat], axis=0, keepdims=0)
            return ctx.b.node("Reshape", [out, ctx.b.ints([1] * _rank(x) if keep else [])])
        return ctx.b.node(onnx_op, [name], axis=_axis(dim, _rank(x)), keepdims=int(keep))

    return conv


converts("argmax", emits="ArgMax")(_arg("ArgMax"))
converts("argmin", emits="ArgMin")(_arg("ArgMin"))


def _anyall(reduce_op: str) -> Callable:
    def conv(ctx, node, a):
        x = a["input"]
        flags = cast(ctx, ctx.operand(x, _dt.bool_), _dt.int32)
        out = reduce(ctx, reduce_op, flags, _dims(a.get("dim"), _rank(x)), a.get("keepdim", False))
        return cast(ctx, out, _dt.bool_)

    return conv


converts("any", emits="Cast, ReduceMax")(_anyall("ReduceMax"))
converts("all", emits="Cast, ReduceMin")(_anyall("ReduceMin"))


def _var_parts(ctx, a, dt):
    x = a["input"]
    name = ctx.operand(x, dt)
    axes = _dims(a.get("dim"), _rank(x))
    correction = a.get("correction")
    if correction is None:
        correction = 0 if a.get("unbiased") is False else 1
    count = math.prod(x.shape[d] for d in axes)
    mean = reduce(ctx, "ReduceMean", name, axes, True)
    diff = ctx.b.node("Sub", [name, mean])
    var = reduce(ctx, "ReduceMean", ctx.b.node("Mul", [diff, diff]), axes, a.get("keepdim", False))
    factor = count / max(count - correction, 0) if count - correction > 0 else float("inf")
    if factor != 1:
        var = ctx.b.node("Mul", [var, ctx.scalar(factor, dt)])
    keep_mean = mean if a.get("keepdim", False) else reduce(ctx, "ReduceMean", name, axes, False)
    return var, keep_mean


@converts("var", emits="ReduceMean, Sub, Mul")
def _var(ctx, node, a):
    return _var_parts(ctx, a, _out_dtype(node))[0]


@converts("std", emits="ReduceMean, Sub, Mul, Sqrt")
def _std(ctx, node, a):
    return ctx.b.node("Sqrt", [_var_parts(ctx, a, _out_dtype(node))[0]])


@converts("var_mean", emits="ReduceMean, Sub, Mul")
def _var_mean(ctx, node, a):
    return list(_var_parts(ctx, a, _out_dtype(node)))


@converts("std_mean", emits="ReduceMean, Sub, Mul, Sqrt")
def _std_mean(ctx, node, a):
    var, mean = _var_parts(ctx, a, _out_dtype(node))
    return [ctx.b.node("Sqrt", [var]), mean]


@converts("norm", "linalg.vector_norm", emits="ReduceL1 / ReduceL2 / ReduceMax(Abs) / Pow, ReduceSum")
def _norm(ctx, node, a):
    x = a["input"] if "input" in a else a["x"]
    p = a["p"] if "p" in a else a.get("ord", 2)
    name = ctx.x(x)
    if a.get("dtype") is not None:
        name = cast(ctx, name, a["dtype"])
    axes, keep = _dims(a.get("dim"), _rank(x)), a.get("keepdim", False)
    if p in ("fro", 2, 2.0):
        return reduce(ctx, "ReduceL2", name, axes, keep)
    if p in (1, 1.0):
        return reduce(ctx, "ReduceL1", name, axes, keep)
    if p in (math.inf, -math.inf):
        return reduce(ctx, "ReduceMax" if p > 0 else "ReduceMin", ctx.b.node("Abs", [name]), axes, keep)
    if isinstance(p, (int, float)) and p not in (0,):
        dt = _out_dtype(node)
        powered = ctx.b.node("Pow", [ctx.b.node("Abs", [name]), ctx.scalar(p, dt)])
        return ctx.b.node("Pow", [reduce(ctx, "ReduceSum", powered, axes, keep), ctx.scalar(1.0 / p, dt)])
    raise UnsupportedExportError(f"{node.op.name} with p={p!r} has no ONNX mapping")


@converts("cumsum", emits="CumSum")
def _cumsum(ctx, node, a):
    x = a["input"]
    name = ctx.operand(x, _out_dtype(node))
    return ctx.b.node("CumSum", [name, ctx.b.const(np.array(_axis(a["dim"], _rank(x)), np.int64))])


@converts("softmax", emits="Softmax")
def _softmax(ctx, node, a):
    x = a["input"]
    return ctx.b.node("Softmax", [ctx.operand(x, _out_dtype(node))], axis=_axis(a["dim"], _rank(x)))


@converts("log_softmax", emits="LogSoftmax")
def _log_softmax(ctx, node, a):
    x = a["input"]
    return ctx.b.node("LogSoftmax", [ctx.operand(x, _out_dtype(node))], axis=_axis(a["dim"], _rank(x)))


# -- matmul ---------------------------------------------------------------------------------------

def _transposed_weight(ctx, v):
    """The 2-D external whose ``.t()`` ``v`` is (Linear's weight), else None."""
    src = ctx.view_source(v)
    if src is None:
        return None
    root, (shape, strides, offset, dtype) = src
    if (root.kind == "external" and len(root.shape) == 2 and offset == 0 and dtype is root.dtype
            and tuple(shape) == tuple(root.shape[::-1]) and tuple(strides) == tuple(root.strides[::-1])
            and root.strides == (root.shape[1], 1)):
        return root
    return None


@converts("matmul", "mm", "bmm", "mv", "dot", emits="MatMul (Gemm with transB=1 for a 2-D input times weight.t())")
def _matmul(ctx, node, a):
    x = a["input"]
    w = next(a[k] for k in ("other", "mat2", "vec", "tensor") if a.get(k) is not None)
    weight = _transposed_weight(ctx, w)
    if weight is not None and _rank(x) == 2:
        return ctx.b.node("Gemm", [ctx.x(x), ctx.x(weight)], transB=1)
    return ctx.b.node("MatMul", [ctx.x(x), ctx.x(w)])


@converts("addmm", emits="Gemm")
def _addmm(ctx, node, a):
    dt = _out_dtype(node)
    ins = [ctx.x(a["mat1"]), ctx.x(a["mat2"]), ctx.operand(a["input"], dt)]
    return ctx.b.node("Gemm", ins, alpha=float(a.get("alpha", 1)), beta=float(a.get("beta", 1)))


def _scaled_sum(ctx, dt, a, product: str) -> str:
    if a.get("alpha", 1) != 1:
        product = ctx.b.node("Mul", [product, ctx.scalar(a["alpha"], dt)])
    base = ctx.operand(a["input"], dt)
    if a.get("beta", 1) == 0:
        return ctx.b.node("Add", [product, ctx.b.node("Mul", [base, ctx.scalar(0.0, dt)])])
    if a.get("beta", 1) != 1:
        base = ctx.b.node("Mul", [base, ctx.scalar(a["beta"], dt)])
    return ctx.b.node("Add", [base, product])


@converts("baddbmm", emits="MatMul, Mul, Add")
def _baddbmm(ctx, node, a):
    return _scaled_sum(ctx, _out_dtype(node), a, ctx.b.node("MatMul", [ctx.x(a["batch1"]), ctx.x(a["batch2"])]))


@converts("addmv", emits="MatMul, Mul, Add")
def _addmv(ctx, node, a):
    return _scaled_sum(ctx, _out_dtype(node), a, ctx.b.node("MatMul", [ctx.x(a["mat"]), ctx.x(a["vec"])]))


@converts("addbmm", emits="MatMul, ReduceSum, Mul, Add")
def _addbmm(ctx, node, a):
    prod = ctx.b.node("MatMul", [ctx.x(a["batch1"]), ctx.x(a["batch2"])])
    return _scaled_sum(ctx, _out_dtype(node), a, reduce(ctx, "ReduceSum", prod, [0], False))


@converts("einsum", emits="Einsum")
def _einsum(ctx, node, a):
    operands = a["operands"]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    return ctx.b.node("Einsum", [ctx.x(v) for v in operands], equation=a["equation"].replace(" ", ""))


@converts("outer", emits="Unsqueeze, Mul")
def _outer(ctx, node, a):
    dt = _out_dtype(node)
    x, y = ctx.operand(a["input"], dt), ctx.operand(a["vec2"], dt)
    return ctx.b.node("Mul", [unsqueeze(ctx, x, [1]), unsqueeze(ctx, y, [0])])


# -- shapes and movement --------------------------------------------------------------------------

@converts("cat", emits="Concat")
def _cat(ctx, node, a):
    dt, out = _out_dtype(node), node.outputs[0]
    parts = [v for v in a["tensors"] if not (len(v.shape) == 1 and v.shape[0] == 0 and _rank(out) > 1)]
    return ctx.b.node("Concat", [ctx.operand(v, dt) for v in parts], axis=_axis(a.get("dim", 0), _rank(out)))


@converts("stack", emits="Unsqueeze, Concat")
def _stack(ctx, node, a):
    dt, out = _out_dtype(node), node.outputs[0]
    axis = _axis(a.get("dim", 0), _rank(out))
    return ctx.b.node("Concat", [unsqueeze(ctx, ctx.operand(v, dt), [axis]) for v in a["tensors"]], axis=axis)


def _sizes(a, first: str, rest: str | None) -> list[int]:
    sizes = a[first]
    sizes = list(sizes) if isinstance(sizes, (tuple, list)) else [sizes]
    if rest and a.get(rest):
        sizes += list(a[rest])
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = list(sizes[0])
    return [int(s) for s in sizes]


def _tile(ctx, x, reps: list[int]) -> str:
    name = ctx.x(x)
    if len(reps) > _rank(x):
        name = ctx.b.node("Reshape", [name, ctx.b.ints([1] * (len(reps) - _rank(x)) + list(x.shape), reshape=True)])
    elif len(reps) < _rank(x):
        reps = [1] * (_rank(x) - len(reps)) + reps
    return ctx.b.node("Tile", [name, ctx.b.const(np.array(reps, np.int64))])


@converts("repeat", emits="Tile")
def _repeat(ctx, node, a):
    return _tile(ctx, a["input"], _sizes(a, "sizes", None))


@converts("tile", emits="Tile")
def _tile_op(ctx, node, a):
    return _tile(ctx, a["input"], _sizes(a, "dims", "more"))


@converts("flip", emits="Slice (step -1)")
def _flip(ctx, node, a):
    x = a["input"]
    dims = _dims(_sizes(a, "dims", "more"), _rank(x)) if a.get("dims") not in (None, ()) or a.get("more") else []
    if not dims:
        return ctx.b.node("Identity", [ctx.x(x)])
    c = lambda v: ctx.b.const(np.array(v, np.int64))  # noqa: E731
    return ctx.b.node("Slice", [ctx.x(x), c([-1] * len(dims)), c([INT64_MIN] * len(dims)), c(dims), c([-1] * len(dims))])


@converts("roll", emits="Slice, Concat")
def _roll(ctx, node, a):
    x, shifts, dims = a["input"], a["shifts"], a.get("dims")
    name = ctx.x(x)
    if dims is None:
        flat = ctx.b.node("Reshape", [name, ctx.b.const(np.array([-1], np.int64))])
        rolled = _roll_axis(ctx, flat, shifts if isinstance(shifts, int) else shifts[0], 0, math.prod(x.shape))
        return ctx.b.node("Reshape", [rolled, ctx.b.ints(list(x.shape), reshape=True)])
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    dims = [dims] if isinstance(dims, int) else list(dims)
    for s, d in zip(shifts, dims):
        d = _axis(d, _rank(x))
        name = _roll_axis(ctx, name, s, d, x.shape[d])
    return name


def _roll_axis(ctx, name: str, shift: int, axis: int, n: int) -> str:
    shift %= n or 1
    if shift == 0:
        return name
    ax = ctx.b.const(np.array([axis], np.int64))
    tail = ctx.b.node("Slice", [name, ctx.b.ints([n - shift]), ctx.b.ints([INT64_MAX]), ax])
    head = ctx.b.node("Slice", [name, ctx.b.const(np.array([0], np.int64)), ctx.b.ints([n - shift]), ax])
    return ctx.b.node("Concat", [tail, head], axis=axis)


def _tri(upper: int) -> Callable:
    def conv(ctx, node, a):
        return ctx.b.node("Trilu", [ctx.x(a["input"]), ctx.b.const(np.array(a.get("diagonal", 0), np.int64))],
                          upper=upper)

    return conv


converts("tril", emits="Trilu (upper=0)")(_tri(0))
converts("triu", emits="Trilu (upper=1)")(_tri(1))


@converts("pad", emits="Pad (constant, reflect, edge, wrap)")
def _pad(ctx, node, a):
    x, pads, mode = a["input"], list(a["pad"]), a.get("mode", "constant")
    r = _rank(x)
    begin, end = [0] * r, [0] * r
    for i in range(len(pads) // 2):
        begin[r - 1 - i], end[r - 1 - i] = pads[2 * i], pads[2 * i + 1]
    modes = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
    if mode not in modes:
        raise UnsupportedExportError(f"pad mode {mode!r} has no ONNX mapping")
    if mode == "circular":
        ctx.need_opset(19, "circular padding (Pad mode='wrap')")
    ins = [ctx.x(x), ctx.b.const(np.array(begin + end, np.int64))]
    if mode == "constant":
        ins.append(ctx.scalar(a.get("value") or 0, x.dtype))
    return ctx.b.node("Pad", ins, mode=modes[mode])


@converts("one_hot", emits="OneHot")
def _one_hot(ctx, node, a):
    depth = node.outputs[0].shape[-1]
    return ctx.b.node("OneHot", [ctx.x(a["tensor"]), ctx.b.ints(depth, scalar=True),
                                 ctx.b.const(np.array([0, 1], np.int64))], axis=-1)


@converts("arange", emits="Range")
def _arange(ctx, node, a):
    dt = _out_dtype(node)
    start, end, step = a["start"], a.get("end"), a.get("step", 1)
    if end is None:
        start, end = 0, start
    if dt.is_floating_point:
        vals = [ctx.scalar(v, dt) for v in (start, end, step)]
    else:
        vals = [cast(ctx, ctx.b.ints(v, scalar=True), dt) if dt is not _dt.int64 else ctx.b.ints(v, scalar=True)
                for v in (start, end, step)]
    return ctx.b.node("Range", vals)


@converts("topk", emits="TopK")
def _topk(ctx, node, a):
    x = a["input"]
    axis = _axis(a.get("dim", -1), _rank(x))
    return ctx.b.node("TopK", [ctx.x(x), ctx.b.ints([a["k"]])], 2, axis=axis,
                      largest=int(a.get("largest", True)), sorted=int(a.get("sorted", True)))


@converts("sort", emits="TopK")
def _sort(ctx, node, a):
    x = a["input"]
    axis = _axis(a.get("dim", -1), _rank(x))
    return ctx.b.node("TopK", [ctx.x(x), ctx.b.ints([x.shape[axis]])], 2, axis=axis,
                      largest=int(bool(a.get("descending", False))), sorted=1)


@converts("argsort", emits="TopK")
def _argsort(ctx, node, a):
    return _sort(ctx, node, a)[1]


@converts("chunk", "split", "unbind", "meshgrid", emits="Slice / Expand (their results are recorded as views)")
def _views_only(ctx, node, a):
    return []           # never reached: these return views of their input, recorded as view nodes


# -- indexing -------------------------------------------------------------------------------------

@converts("index_select", emits="Gather")
def _index_select(ctx, node, a):
    x = a["input"]
    return ctx.b.node("Gather", [ctx.x(x), ctx.x(a["index"])], axis=_axis(a["dim"], _rank(x)))


@converts("gather", emits="GatherElements")
def _gather(ctx, node, a):
    x = a["input"]
    return ctx.b.node("GatherElements", [ctx.x(x), ctx.x(a["index"])], axis=_axis(a["dim"], _rank(x)))


@converts("take", emits="Reshape, Gather")
def _take(ctx, node, a):
    flat = ctx.b.node("Reshape", [ctx.x(a["input"]), ctx.b.const(np.array([-1], np.int64))])
    return ctx.b.node("Gather", [flat, ctx.x(a["index"])], axis=0)


@converts("index", emits="Gather (one integer index tensor)")
def _index(ctx, node, a):
    x, key = a["input"], a["key"]
    key = key if isinstance(key, tuple) else (key,)
    tensors = [i for i, k in enumerate(key) if _value_dtype(k) is not None]
    plain = all(isinstance(k, slice) and k == slice(None) for i, k in enumerate(key) if i not in tensors)
    if len(tensors) != 1 or not plain or key[tensors[0]].dtype in (_dt.bool_, _dt.uint8):
        raise UnsupportedExportError("indexing with a key other than one integer tensor (and full slices) "
                                     "has no ONNX mapping here")
    return ctx.b.node("Gather", [ctx.x(x), ctx.x(key[tensors[0]])], axis=tensors[0])


_REDUCTIONS = {None: "none", "add": "add", "sum": "add", "multiply": "mul", "prod": "mul", "amax": "max", "amin": "min"}


def _scatter_elements(ctx, x, dim, index, src, reduction) -> str:
    if reduction not in _REDUCTIONS:
        raise UnsupportedExportError(f"scatter reduction {reduction!r} has no ONNX mapping")
    red = _REDUCTIONS[reduction]
    if red in ("max", "min"):
        ctx.need_opset(18, f"scatter with reduction {reduction!r}")
    elif red != "none":
        ctx.need_opset(16, f"scatter with reduction {reduction!r}")
    return ctx.b.node("ScatterElements", [ctx.x(x), ctx.x(index), src], axis=_axis(dim, _rank(x)),
                      reduction=None if red == "none" else red)


@converts("scatter", emits="ScatterElements")
def _scatter(ctx, node, a):
    x, index = a["input"], a["index"]
    src = a.get("src")
    src = ctx.operand(src, x.dtype) if _value_dtype(src) is not None else ctx.b.node(
        "Expand", [ctx.scalar(a["value"] if a.get("value") is not None else src, x.dtype), ctx.b.ints(index.shape)])
    return _scatter_elements(ctx, x, a["dim"], index, src, a.get("reduce"))


@converts("scatter_add", emits="ScatterElements (reduction=add)")
def _scatter_add(ctx, node, a):
    return _scatter_elements(ctx, a["input"], a["dim"], a["index"], ctx.operand(a["src"], a["input"].dtype), "add")


@converts("scatter_reduce", emits="ScatterElements (reduction)")
def _scatter_reduce(ctx, node, a):
    if not a.get("include_self", True):
        raise UnsupportedExportError("scatter_reduce with include_self=False has no ONNX mapping")
    return _scatter_elements(ctx, a["input"], a["dim"], a["index"], ctx.operand(a["src"], a["input"].dtype),
                             a["reduce"])


# -- layers ---------------------------------------------------------------------------------------

@converts("convolution", emits="Conv / ConvTranspose")
def _convolution(ctx, node, a):
    x, w = a["input"], a["weight"]
    n = _rank(x) - 2
    kernel = list(w.shape[2:])
    stride, dilation = _pair(a.get("stride", 1), n), _pair(a.get("dilation", 1), n)
    padding = a.get("padding", 0)
    if padding == "valid":
        padding = [0] * n
    if padding == "same":
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        pads = [t // 2 for t in totals] + [t - t // 2 for t in totals]
    else:
        padding = _pair(padding, n)
        pads = padding + padding
    ins = [ctx.x(x), ctx.x(w)] + ([ctx.x(a["bias"])] if a.get("bias") is not None else [])
    attrs = dict(kernel_shape=kernel, strides=stride, dilations=dilation, pads=pads, group=int(a.get("groups", 1)))
    if a.get("transposed"):
        return ctx.b.node("ConvTranspose", ins, output_padding=_pair(a.get("output_padding", 0), n), **attrs)
    return ctx.b.node("Conv", ins, **attrs)


def _pool_geometry(a, n: int):
    kernel = _pair(a["kernel_size"], n)
    stride = a.get("stride")
    stride = kernel if stride in (None, (), []) else _pair(stride, n)
    padding = _pair(a.get("padding", 0), n)
    return kernel, stride, padding + padding


@converts("max_pool2d", emits="MaxPool")
def _max_pool(ctx, node, a):
    x = a["input"]
    kernel, stride, pads = _pool_geometry(a, 2)
    y = ctx.b.node("MaxPool", [ctx.x(x)], kernel_shape=kernel, strides=stride, pads=pads,
                   dilations=_pair(a.get("dilation", 1), 2), ceil_mode=int(bool(a.get("ceil_mode", False))))
    return [y, None]


@converts("avg_pool2d", emits="AveragePool")
def _avg_pool(ctx, node, a):
    if a.get("divisor_override") is not None:
        raise UnsupportedExportError("avg_pool2d with divisor_override has no ONNX mapping")
    kernel, stride, pads = _pool_geometry(a, 2)
    return ctx.b.node("AveragePool", [ctx.x(a["input"])], kernel_shape=kernel, strides=stride, pads=pads,
                      ceil_mode=int(bool(a.get("ceil_mode", False))),
                      count_include_pad=int(bool(a.get("count_include_pad", True))))


def _adaptive(global_op: str, pool_op: str) -> Callable:
    def conv(ctx, node, a):
        x = a["input"]
        if _rank(x) != 4:
            raise UnsupportedExportError(f"{node.op.name} on a {_rank(x)}-d input (ONNX pools need N, C, H, W)")
        size = _pair(a["output_size"], 2)
        size = [x.shape[2 + i] if s is None else s for i, s in enumerate(size)]
        if size == [1, 1]:
            y = ctx.b.node(global_op, [ctx.x(x)])
        elif all(x.shape[2 + i] % s == 0 for i, s in enumerate(size)):
            k = [x.shape[2 + i] // s for i, s in enumerate(size)]
            y = ctx.b.node(pool_op, [ctx.x(x)], kernel_shape=k, strides=k)
        else:
            raise UnsupportedExportError(f"{node.op.name} from {list(x.shape[2:])} to {size} (not a whole "
                                         f"number of windows) has no ONNX mapping")
        return y if global_op == "GlobalAveragePool" else [y, None]

    return conv


converts("adaptive_avg_pool2d", emits="GlobalAveragePool / AveragePool")(_adaptive("GlobalAveragePool", "AveragePool"))
converts("adaptive_max_pool2d", emits="GlobalMaxPool / MaxPool")(_adaptive("GlobalMaxPool", "MaxPool"))


def _ones(ctx, shape, dtype, value: float = 1.0) -> str:
    return ctx.b.const(np.full(shape, value, dtype=dtype.np))


@converts("native_batch_norm", emits="BatchNormalization (ReduceMean decomposition when training)")
def _batch_norm(ctx, node, a):
    x = a["input"]
    c, dt = x.shape[1], x.dtype
    w = ctx.x(a["weight"]) if a.get("weight") is not None else _ones(ctx, [c], dt)
    b = ctx.x(a["bias"]) if a.get("bias") is not None else _ones(ctx, [c], dt, 0.0)
    if not a["training"] and a.get("running_mean") is not None:
        y = ctx.b.node("BatchNormalization", [ctx.x(x), w, b, ctx.x(a["running_mean"]), ctx.x(a["running_var"])],
                       epsilon=float(a["eps"]))
        return [y, None, None]
    axes = [0] + list(range(2, _rank(x)))
    y = _normalize(ctx, ctx.x(x), axes, a["eps"], dt)
    shape = [c] + [1] * (_rank(x) - 2)
    w, b = (ctx.b.node("Reshape", [t, ctx.b.const(np.array(shape, np.int64))]) for t in (w, b))
    return [ctx.b.node("Add", [ctx.b.node("Mul", [y, w]), b]), None, None]


def _normalize(ctx, x: str, axes: list[int], eps: float, dt) -> str:
    mean = reduce(ctx, "ReduceMean", x, axes, True)
    diff = ctx.b.node("Sub", [x, mean])
    var = reduce(ctx, "ReduceMean", ctx.b.node("Mul", [diff, diff]), axes, True)
    return ctx.b.node("Div", [diff, ctx.b.node("Sqrt", [ctx.b.node("Add", [var, ctx.scalar(eps, dt)])])])


@converts("native_layer_norm", emits="LayerNormalization (opset 17+) / ReduceMean decomposition")
def _layer_norm(ctx, node, a):
    x, shape = a["input"], list(a["normalized_shape"])
    dt, k = x.dtype, len(shape)
    w = ctx.x(a["weight"]) if a.get("weight") is not None else _ones(ctx, shape, dt)
    b = ctx.x(a["bias"]) if a.get("bias") is not None else _ones(ctx, shape, dt, 0.0)
    if ctx.opset >= 17:
        return ctx.b.node("LayerNormalization", [ctx.x(x), w, b], 3, axis=-k, epsilon=float(a["eps"]))
    y = _normalize(ctx, ctx.x(x), list(range(_rank(x) - k, _rank(x))), a["eps"], dt)
    return [ctx.b.node("Add", [ctx.b.node("Mul", [y, w]), b]), None, None]


@converts("native_rms_norm", emits="Mul, ReduceMean, Add, Sqrt, Reciprocal")
def _rms_norm(ctx, node, a):
    x, shape = a["input"], list(a["normalized_shape"])
    dt = x.dtype
    eps = a.get("eps")
    eps = float(np.finfo(dt.np).eps) if eps is None else eps
    name = ctx.x(x)
    axes = list(range(_rank(x) - len(shape), _rank(x)))
    ms = reduce(ctx, "ReduceMean", ctx.b.node("Mul", [name, name]), axes, True)
    rstd = ctx.b.node("Reciprocal", [ctx.b.node("Sqrt", [ctx.b.node("Add", [ms, ctx.scalar(eps, dt)])])])
    y = ctx.b.node("Mul", [name, rstd])
    if a.get("weight") is not None:
        y = ctx.b.node("Mul", [y, ctx.x(a["weight"])])
    return [y, None]


@converts("native_group_norm", emits="Reshape, ReduceMean, Sub, Div, Mul, Add")
def _group_norm(ctx, node, a):
    x, groups = a["input"], a["num_groups"]
    dt, (n, c) = x.dtype, x.shape[:2]
    grouped = ctx.b.node("Reshape", [ctx.x(x), ctx.b.ints([n, groups, math.prod(x.shape) // (n * groups or 1)],
                                                          reshape=True)])
    y = _normalize(ctx, grouped, [2], a["eps"], dt)
    y = ctx.b.node("Reshape", [y, ctx.b.ints(list(x.shape), reshape=True)])
    shape = np.array([c] + [1] * (_rank(x) - 2), np.int64)
    if a.get("weight") is not None:
        y = ctx.b.node("Mul", [y, ctx.b.node("Reshape", [ctx.x(a["weight"]), ctx.b.const(shape)])])
    if a.get("bias") is not None:
        y = ctx.b.node("Add", [y, ctx.b.node("Reshape", [ctx.x(a["bias"]), ctx.b.const(shape)])])
    return [y, None, None]


@converts("flash_attention", emits="MatMul, Mul, Softmax, MatMul (Where/Add for masks, Trilu when causal)")
def _attention(ctx, node, a):
    q, k, v = a["query"], a["key"], a["value"]
    if a.get("dropout_p", 0.0):
        raise UnsupportedExportError("attention with dropout_p > 0 (training mode) has no ONNX export; "
                                     "call model.eval()")
    dt, r = q.dtype, _rank(q)
    scale = a.get("scale")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    perm = list(range(r - 2)) + [r - 1, r - 2]
    kt = ctx.b.node("Transpose", [ctx.x(k)], perm=perm)
    scores = ctx.b.node("Mul", [ctx.b.node("MatMul", [ctx.x(q), kt]), ctx.scalar(scale, dt)])
    neg_inf = ctx.scalar(-np.inf, dt)
    if a.get("is_causal"):
        square = ctx.b.node("ConstantOfShape", [ctx.b.ints([q.shape[-2], k.shape[-2]])],
                            value=_tensor_attr(np.array([1], np.int64)))
        keep = cast(ctx, ctx.b.node("Trilu", [square], upper=0), _dt.bool_)
        scores = ctx.b.node("Where", [keep, scores, neg_inf])
    mask = a.get("attn_mask")
    if mask is not None:
        if mask.dtype is _dt.bool_:
            scores = ctx.b.node("Where", [ctx.x(mask), scores, neg_inf])
        else:
            scores = ctx.b.node("Add", [scores, ctx.operand(mask, dt)])
    probs = ctx.b.node("Softmax", [scores], axis=-1)
    out = ctx.b.node("MatMul", [probs, ctx.x(v)])
    lse = reduce(ctx, "ReduceLogSumExp", scores, [r - 1], False)
    return [out, lse]


def _tensor_attr(arr: np.ndarray):
    from onnx import numpy_helper

    return numpy_helper.from_array(arr)


# -- losses ---------------------------------------------------------------------------------------

def _loss(ctx, node, a, elementwise: str) -> str:
    if a.get("weight") is not None:
        raise UnsupportedExportError(f"{node.op.name} with weight has no ONNX mapping here")
    dt = _out_dtype(node)
    x, t = ctx.operand(a["input"], dt), ctx.operand(a["target"], dt)
    diff = ctx.b.node("Sub", [x, t])
    each = ctx.b.node("Mul", [diff, diff]) if elementwise == "square" else ctx.b.node("Abs", [diff])
    reduction = a.get("reduction", "mean")
    if reduction == "none":
        return each
    axes = list(range(_rank(a["input"])))
    return reduce(ctx, "ReduceMean" if reduction == "mean" else "ReduceSum", each, axes, False)


converts("mse_loss", emits="Sub, Mul, ReduceMean/ReduceSum")(lambda ctx, node, a: _loss(ctx, node, a, "square"))
converts("l1_loss", emits="Sub, Abs, ReduceMean/ReduceSum")(lambda ctx, node, a: _loss(ctx, node, a, "abs"))


# -- random ---------------------------------------------------------------------------------------

def _random(onnx_op: str) -> Callable:
    def conv(ctx, node, a):
        out = node.outputs[0]
        shape = ctx.b.node("ConstantOfShape", [ctx.b.ints(list(out.shape))],
                           value=_tensor_attr(np.array([0], out.dtype.np)))
        return ctx.b.node(onnx_op, [shape], dtype=onnx_type(out.dtype))

    return conv


converts("rand", "rand_like", emits="ConstantOfShape, RandomUniformLike")(_random("RandomUniformLike"))
converts("randn", "randn_like", emits="ConstantOfShape, RandomNormalLike")(_random("RandomNormalLike"))


@converts("bernoulli", emits="Bernoulli / RandomUniformLike, Less, Cast")
def _bernoulli(ctx, node, a):
    x, p = a["input"], a.get("p")
    if p is None:
        ctx.need_opset(15, "bernoulli (Bernoulli)")
        return ctx.b.node("Bernoulli", [ctx.x(x)])
    draw = ctx.b.node("RandomUniformLike", [ctx.x(x)])
    return cast(ctx, ctx.b.node("Less", [draw, ctx.scalar(p, x.dtype)]), x.dtype)


@converts("uniform", emits="RandomUniformLike")
def _uniform(ctx, node, a):
    return ctx.b.node("RandomUniformLike", [ctx.x(a["input"])], low=float(a.get("from_", 0.0)),
                      high=float(a.get("to", 1.0)))


@converts("normal_functional", emits="RandomNormalLike")
def _normal(ctx, node, a):
    return ctx.b.node("RandomNormalLike", [ctx.x(a["input"])], mean=float(a.get("mean", 0.0)),
                      scale=float(a.get("std", 1.0)))


# -- more elementwise, sorting, indexing ---------------------------------------------------------

@converts("atan2", emits="Div, Atan, Where")
def _atan2(ctx, node, a):
    dt = _out_dtype(node)
    y, x = ctx.operand(a["input"], dt), ctx.operand(a["other"], dt)
    c, b = (lambda v: ctx.scalar(v, dt)), ctx.b
    r = b.node("Atan", [b.node("Div", [y, x])])
    shift = b.node("Where", [b.node("GreaterOrEqual", [y, c(0.0)]), c(math.pi), c(-math.pi)])
    r = b.node("Where", [b.node("Less", [x, c(0.0)]), b.node("Add", [r, shift]), r])
    on_axis = b.node("Mul", [b.node("Sign", [y]), c(math.pi / 2)])
    return b.node("Where", [b.node("Equal", [x, c(0.0)]), on_axis, r])


@converts("isclose", emits="Sub, Abs, Mul, Add, LessOrEqual, Equal, Or")
def _isclose(ctx, node, a):
    x, y = a["input"], a["other"]
    dt = _compute_dtype(x, y)
    u, v, b = ctx.operand(x, dt), ctx.operand(y, dt), ctx.b
    if not dt.is_floating_point:
        return b.node("Equal", [u, v])
    tol = b.node("Add", [ctx.scalar(a.get("atol", 1e-8), dt),
                         b.node("Mul", [ctx.scalar(a.get("rtol", 1e-5), dt), b.node("Abs", [v])])])
    close = b.node("Or", [b.node("Equal", [u, v]), b.node("LessOrEqual", [b.node("Abs", [b.node("Sub", [u, v])]), tol])])
    if a.get("equal_nan"):
        close = b.node("Or", [close, b.node("And", [b.node("IsNaN", [u]), b.node("IsNaN", [v])])])
    return close


def _kth(ctx, x: str, k: int, axis: int, keep: bool) -> list:
    values, indices = ctx.b.node("TopK", [x, ctx.b.ints([k])], 2, axis=axis, largest=0, sorted=1)
    pick = ctx.b.ints([k - 1]) if keep else ctx.b.ints(k - 1, scalar=True)
    return [ctx.b.node("Gather", [values, pick], axis=axis), ctx.b.node("Gather", [indices, pick], axis=axis)]


@converts("kthvalue", emits="TopK, Gather")
def _kthvalue(ctx, node, a):
    x = a["input"]
    axis = _axis(a.get("dim", -1), _rank(x))
    return _kth(ctx, ctx.x(x), a["k"], axis, bool(a.get("keepdim", False)))


@converts("median", emits="TopK, Gather")
def _median(ctx, node, a):
    x, dim = a["input"], a.get("dim")
    if dim is None:
        flat = ctx.b.node("Reshape", [ctx.x(x), ctx.b.const(np.array([-1], np.int64))])
        n = math.prod(x.shape)
        return _kth(ctx, flat, (n - 1) // 2 + 1, 0, False)[0]
    axis = _axis(dim, _rank(x))
    return _kth(ctx, ctx.x(x), (x.shape[axis] - 1) // 2 + 1, axis, bool(a.get("keepdim", False)))


def _index_scatter(ctx, x, dim: int, index, source: str, source_shape, reduction):
    r = _rank(x)
    axis = _axis(dim, r)
    shape = [1] * r
    shape[axis] = -1
    idx = ctx.b.node("Reshape", [ctx.x(index), ctx.b.const(np.array(shape, np.int64))])
    idx = ctx.b.node("Expand", [idx, ctx.b.ints(list(source_shape))])
    if reduction:
        ctx.need_opset(16, "index_add (ScatterElements reduction='add')")
    return ctx.b.node("ScatterElements", [ctx.x(x), idx, source], axis=axis, reduction=reduction)


@converts("index_add", emits="Reshape, Expand, ScatterElements (reduction=add)")
def _index_add(ctx, node, a):
    x, src = a["input"], a["source"]
    s = ctx.operand(src, x.dtype)
    if a.get("alpha", 1) != 1:
        s = ctx.b.node("Mul", [s, ctx.scalar(a["alpha"], x.dtype)])
    return _index_scatter(ctx, x, a["dim"], a["index"], s, src.shape, "add")


@converts("index_copy", emits="Reshape, Expand, ScatterElements")
def _index_copy(ctx, node, a):
    x, src = a["input"], a["source"]
    return _index_scatter(ctx, x, a["dim"], a["index"], ctx.operand(src, x.dtype), src.shape, None)


@converts("index_fill", emits="Expand, ScatterElements")
def _index_fill(ctx, node, a):
    x, index = a["input"], a["index"]
    shape = list(x.shape)
    shape[_axis(a["dim"], _rank(x))] = index.shape[0] if index.shape else 1     # a 0-d index: one slice
    src = ctx.b.node("Expand", [ctx.operand(a["value"], x.dtype), ctx.b.ints(shape)])
    return _index_scatter(ctx, x, a["dim"], index, src, shape, None)


@converts("repeat_interleave", emits="Unsqueeze, Expand, Reshape")
def _repeat_interleave(ctx, node, a):
    x, repeats, dim = a["input"], a.get("repeats"), a.get("dim")
    if not isinstance(repeats, int):
        raise UnsupportedExportError("repeat_interleave with a tensor of repeats has no ONNX mapping here")
    name, shape = ctx.x(x), list(x.shape)
    if dim is None:
        name, shape, dim = ctx.b.node("Reshape", [name, ctx.b.const(np.array([-1], np.int64))]), [math.prod(shape)], 0
    axis = _axis(dim, len(shape))
    grown = ctx.b.node("Expand", [unsqueeze(ctx, name, [axis + 1]),
                                  ctx.b.ints(shape[:axis + 1] + [repeats] + shape[axis + 1:])])
    return ctx.b.node("Reshape", [grown, ctx.b.ints(list(node.outputs[0].shape), reshape=True)])


@converts("tensordot", emits="Einsum")
def _tensordot(ctx, node, a):
    x, y, dims = a["a"], a["b"], a.get("dims", 2)
    rx, ry = _rank(x), _rank(y)
    if isinstance(dims, int):
        da, db = list(range(rx - dims, rx)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    sa = [next(letters) for _ in range(rx)]
    sb = [next(letters) for _ in range(ry)]
    for i, j in zip(da, db):
        sb[j % ry] = sa[i % rx]
    out = [c for i, c in enumerate(sa) if i not in {d % rx for d in da}]
    out += [c for j, c in enumerate(sb) if j not in {d % ry for d in db}]
    dt = _out_dtype(node)
    return ctx.b.node("Einsum", [ctx.operand(x, dt), ctx.operand(y, dt)],
                      equation=f"{''.join(sa)},{''.join(sb)}->{''.join(out)}")


# -- losses: ONNX's two classification losses, and every formula loss through its formula -----------

def _class_loss(ctx, node, a, onnx_op: str) -> str:
    x, target = a["input"], a["target"]
    if a.get("size_average") is not None or a.get("reduce") is not None:
        raise UnsupportedExportError(f"{node.op.name} with the legacy size_average/reduce flags")
    if target.dtype.is_floating_point or a.get("label_smoothing", 0.0) or _rank(x) < 2:
        raise UnsupportedExportError(f"{node.op.name} with class probabilities, label smoothing or an "
                                     f"unbatched input has no ONNX mapping here")
    ins = [ctx.x(x), ctx.x(target)] + ([ctx.x(a["weight"])] if a.get("weight") is not None else [])
    return ctx.b.node(onnx_op, ins, reduction=a.get("reduction", "mean"), ignore_index=int(a.get("ignore_index", -100)))


converts("nll_loss", emits="NegativeLogLikelihoodLoss")(
    lambda ctx, node, a: _class_loss(ctx, node, a, "NegativeLogLikelihoodLoss"))
converts("cross_entropy", emits="SoftmaxCrossEntropyLoss")(
    lambda ctx, node, a: _class_loss(ctx, node, a, "SoftmaxCrossEntropyLoss"))


def _formula(ctx, node, a):
    """A loss written once as a formula (``op.attrs["formula"]``): its ops, captured and converted."""
    from neurarust.kernels.formulas import NR

    op = node.op
    if a.get("size_average") is not None or a.get("reduce") is not None:
        raise UnsupportedExportError(f"{op.name} with the legacy size_average/reduce flags")
    args = {k: v for k, v in a.items() if k not in ("size_average", "reduce")}
    out = _out_dtype(node)
    acc = _dt.float64 if out is _dt.float64 else _dt.float32
    keys = [k for k in op.attrs["tensors"] if _value_dtype(args.get(k)) is not None]
    inputs = []
    for k in keys:
        dt = acc if args[k].dtype.is_floating_point else args[k].dtype
        inputs.append((ctx.operand(args[k], dt), tuple(args[k].shape), dt))

    def run(*tensors):
        return op.attrs["formula"](NR, **{**args, **dict(zip(keys, tensors))})

    (y,) = ctx.inline(run, inputs)
    return y if acc is out else cast(ctx, y, out)


for _name in ("smooth_l1_loss", "huber_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
              "margin_ranking_loss", "cosine_embedding_loss", "triplet_margin_loss"):
    converts(_name, emits="its formula's ops (the formula NeuraRust runs, captured)")(_formula)


# -- quantized ------------------------------------------------------------------------------------

def _per_channel(ctx, v, rank: int, axis) -> str:
    """A per-tensor or per-channel parameter shaped to broadcast along ``axis`` (as the reference)."""
    if axis is None:
        return ctx.x(v)
    shape = np.array([-1] + [1] * (rank - axis % rank - 1), np.int64)
    return ctx.b.node("Reshape", [ctx.x(v), ctx.b.const(shape)])


def _rint_clamp(ctx, y: str, zero_point: str | None, lo: int, hi: int) -> str:
    y = ctx.b.node("Round", [y])
    if zero_point is not None:
        y = ctx.b.node("Add", [y, cast(ctx, zero_point, _dt.float32)])
    y = ctx.b.node("Clip", [y, ctx.scalar(float(lo), _dt.float32), ctx.scalar(float(hi), _dt.float32)])
    return cast(ctx, y, _dt.int8)


@converts("quantize_affine", emits="Reciprocal, Mul, Round, Add, Clip, Cast")
def _quantize_affine(ctx, node, a):
    x, axis = a["input"], a.get("axis")
    inv = ctx.b.node("Reciprocal", [_per_channel(ctx, a["scale"], _rank(x), axis)])
    y = ctx.b.node("Mul", [ctx.operand(x, _dt.float32), inv])
    zp = _per_channel(ctx, a["zero_point"], _rank(x), axis)
    return _rint_clamp(ctx, y, zp, a.get("quant_min", -128), a.get("quant_max", 127))


@converts("dequantize_affine", emits="Cast, Sub, Mul")
def _dequantize_affine(ctx, node, a):
    q, axis = a["input"], a.get("axis")
    diff = ctx.b.node("Sub", [cast(ctx, ctx.x(q), _dt.int32), cast(ctx, _per_channel(ctx, a["zero_point"], _rank(q), axis),
                                                                    _dt.int32)])
    return ctx.b.node("Mul", [cast(ctx, diff, _dt.float32), _per_channel(ctx, a["scale"], _rank(q), axis)])


@converts("quantize_per_token", emits="Abs, ReduceMax, Where, Div, Round, Clip, Cast")
def _quantize_per_token(ctx, node, a):
    x = ctx.operand(a["input"], _dt.float32)
    absmax = reduce(ctx, "ReduceMax", ctx.b.node("Abs", [x]), [1], True)
    scale = ctx.b.node("Where", [ctx.b.node("Greater", [absmax, ctx.scalar(0.0, _dt.float32)]),
                                 ctx.b.node("Div", [absmax, ctx.scalar(127.0, _dt.float32)]), ctx.scalar(1.0, _dt.float32)])
    q = _rint_clamp(ctx, ctx.b.node("Div", [x, scale]), None, -127, 127)
    return [q, ctx.b.node("Reshape", [scale, ctx.b.const(np.array([-1], np.int64))])]


def _int8_product(ctx, a_v, b_v, transpose_b: bool) -> str:
    b = ctx.x(b_v)
    if transpose_b:
        b = ctx.b.node("Transpose", [b], perm=[1, 0])
    return ctx.b.node("MatMulInteger", [ctx.x(a_v), b])


@converts("int8_mm", emits="MatMulInteger")
def _int8_mm(ctx, node, a):
    return _int8_product(ctx, a["input"], a["mat2"], False)


@converts("int8_linear", emits="MatMulInteger, Cast, Mul, Add")
def _int8_linear(ctx, node, a):
    y = cast(ctx, _int8_product(ctx, a["input"], a["weight"], True), _dt.float32)
    row = ctx.b.node("Reshape", [ctx.x(a["input_scale"]), ctx.b.const(np.array([-1, 1], np.int64))])
    y = ctx.b.node("Mul", [ctx.b.node("Mul", [y, row]), ctx.x(a["weight_scale"])])
    return y if a.get("bias") is None else ctx.b.node("Add", [y, ctx.x(a["bias"])])


@converts("int8_linear_requant", emits="MatMulInteger, Add, Cast, Mul, Round, Clip")
def _int8_linear_requant(ctx, node, a):
    acc = _int8_product(ctx, a["input"], a["weight"], True)
    if a.get("bias") is not None:
        acc = ctx.b.node("Add", [acc, ctx.operand(a["bias"], _dt.int32)])
    y = ctx.b.node("Mul", [cast(ctx, acc, _dt.float32), ctx.x(a["multiplier"])])
    return _rint_clamp(ctx, y, ctx.b.const(np.array(a.get("out_zero_point", 0), np.int32)), -128, 127)
