"""The ONNX ops NeuraRust runs: one function per ONNX op type, registered in :data:`OPS`.

Each function takes a :class:`Call` (the node's input tensors, attributes, opset and mode) and
returns a tensor or a tuple of them, computed with NeuraRust ops only: the graph then runs on
either backend and autograd differentiates it. An op may also return NumPy arrays for values
known on the host (``Shape``, ``Constant``): the importer keeps shape arithmetic on the host.
The first docstring line of each function is its row in docs/onnx.md's table
(``python -m neurarust.onnx.table``)::

    >>> from neurarust.onnx.ops import OPS
    >>> OPS["Relu"].summary
    '``max(x, 0)``.'
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

import neurarust as nr
import neurarust.nn.functional as F
from neurarust.errors import OnnxError
from neurarust.tensor import Tensor

from .proto import ONNX_DTYPES

# The most elements an op may create from shape values it read (a guard against corrupted files).
MAX_NUMEL = 2 ** 31


@dataclass
class Call:
    """One node being run: its inputs (``None`` for an omitted optional input), attributes, the
    model's opset for the default domain, how many outputs are wanted and the module's mode."""

    op_type: str
    name: str
    inputs: list
    attrs: dict
    opset: int
    outputs: int = 1
    training: bool = False

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def input(self, i: int) -> Tensor | None:
        return self.inputs[i] if i < len(self.inputs) else None

    def ints(self, i: int) -> list[int] | None:
        """Input ``i`` as a list of Python ints (a shape, axes, ...), ``None`` if omitted."""
        t = self.input(i)
        if t is None:
            return None
        values = t.reshape(-1).tolist()
        return [int(v) for v in values]

    def scalar(self, i: int, default: Any = None) -> Any:
        t = self.input(i)
        if t is None or t.numel() == 0:
            return default
        return t.reshape(-1)[0].item()

    def fail(self, message: str) -> OnnxError:
        return OnnxError(f"node {self.name!r} ({self.op_type}): {message}")


@dataclass(frozen=True)
class OnnxOp:
    """A registered ONNX op: its implementation, the inputs read as host values (shapes, axes),
    and an optional load-time check returning the reasons a node cannot run."""

    name: str
    fn: Callable[[Call], Any]
    shape_inputs: tuple[int, ...] = ()
    check: Callable[[str, dict, list, list], list[str]] | None = None
    summary: str = field(default="")


OPS: dict[str, OnnxOp] = {}


def onnx_op(*names: str, shape_inputs: Sequence[int] = (), check=None):
    """Register the decorated function as the implementation of ONNX op(s) ``names``."""
    def register(fn):
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        for name in names:
            OPS[name] = OnnxOp(name, fn, tuple(shape_inputs), check, summary)
        return fn
    return register


def supported_ops() -> list[str]:
    """The ONNX op types :func:`neurarust.onnx.load` runs, sorted.

    >>> import neurarust.onnx as nonnx
    >>> {"Conv", "LSTM", "Gemm"} <= set(nonnx.supported_ops())
    True
    """
    return sorted(OPS)


def _axis(axis: int, ndim: int, call: Call) -> int:
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise call.fail(f"axis {axis} is out of range for a {ndim}-D input")
    return axis % max(ndim, 1)


def _axes(axes: Sequence[int], ndim: int, call: Call) -> list[int]:
    return [_axis(a, ndim, call) for a in axes]


def _dtype(code: int, call: Call):
    if code not in ONNX_DTYPES:
        raise call.fail(f"ONNX element type {code} is not supported")
    return ONNX_DTYPES[code]


def _check_numel(shape: Sequence[int], call: Call) -> None:
    if any(d < 0 for d in shape) or math.prod(shape) > MAX_NUMEL:
        raise call.fail(f"shape {list(shape)} is negative or larger than {MAX_NUMEL} elements")


# -- element-wise arithmetic ---------------------------------------------------------------------

def _binary(fn):
    return lambda call: fn(call.input(0), call.input(1))


def _div(call: Call):
    """Element-wise division (integers truncate toward zero)."""
    a, b = call.input(0), call.input(1)
    if a.dtype.is_floating_point:
        return a / b
    return nr.div(a, b, rounding_mode="trunc")


def _pow(call: Call):
    """Element-wise power; the result keeps the base's dtype."""
    a = call.input(0)
    return nr.pow(a, call.input(1)).to(a.dtype)


def _mod(call: Call):
    """Remainder: the divisor's sign (``fmod=0``) or the dividend's (``fmod=1``)."""
    a, b = call.input(0), call.input(1)
    return nr.fmod(a, b) if call.attr("fmod", 0) else nr.remainder(a, b)


for _name, _fn, _doc in [
    ("Add", nr.add, "Element-wise sum, NumPy broadcasting."),
    ("Sub", nr.sub, "Element-wise difference, NumPy broadcasting."),
    ("Mul", nr.mul, "Element-wise product, NumPy broadcasting."),
    ("Equal", nr.eq, "Element-wise ``==`` (bool)."),
    ("Less", nr.lt, "Element-wise ``<`` (bool)."),
    ("LessOrEqual", nr.le, "Element-wise ``<=`` (bool)."),
    ("Greater", nr.gt, "Element-wise ``>`` (bool)."),
    ("GreaterOrEqual", nr.ge, "Element-wise ``>=`` (bool)."),
    ("And", nr.logical_and, "Logical and."),
    ("Or", nr.logical_or, "Logical or."),
    ("Xor", nr.logical_xor, "Logical xor."),
]:
    _impl = _binary(_fn)
    _impl.__doc__ = _doc
    onnx_op(_name)(_impl)
del _name, _fn, _doc, _impl
onnx_op("Div")(_div)
onnx_op("Pow")(_pow)
onnx_op("Mod")(_mod)


def _unary(fn, doc: str):
    impl = lambda call: fn(call.input(0))  # noqa: E731
    impl.__doc__ = doc
    return impl


for _name, _fn, _doc in [
    ("Neg", nr.neg, "``-x``."), ("Abs", nr.abs, "Absolute value."), ("Sqrt", nr.sqrt, "Square root."),
    ("Exp", nr.exp, "Exponential."), ("Log", nr.log, "Natural logarithm."),
    ("Reciprocal", nr.reciprocal, "``1 / x``."), ("Floor", nr.floor, "Round down."),
    ("Ceil", nr.ceil, "Round up."), ("Round", nr.round, "Round half to even."),
    ("Sign", nr.sign, "-1, 0 or 1."), ("Erf", nr.erf, "The error function."),
    ("Sin", nr.sin, "Sine."), ("Cos", nr.cos, "Cosine."), ("Not", nr.logical_not, "Logical not."),
    ("IsNaN", nr.isnan, "True where NaN."),
    ("Relu", F.relu, "``max(x, 0)``."), ("Sigmoid", nr.sigmoid, "Logistic sigmoid."),
    ("Tanh", nr.tanh, "Hyperbolic tangent."), ("Softsign", lambda x: x / (1 + nr.abs(x)), "``x / (1 + abs(x))``."),
    ("Softplus", lambda x: F.softplus(x), "``log(1 + exp(x))``."),
    ("Mish", lambda x: x * nr.tanh(F.softplus(x)), "``x * tanh(softplus(x))``."),
]:
    onnx_op(_name)(_unary(_fn, _doc))
del _name, _fn, _doc


@onnx_op("Identity")
def _identity(call: Call):
    """The input, unchanged."""
    return call.input(0)


@onnx_op("Dropout")
def _dropout(call: Call):
    """The input unchanged (inference), and an all-true mask when asked for."""
    x = call.input(0)
    return (x, nr.ones(*x.shape, dtype=nr.bool, device=x.device)) if call.outputs > 1 else x


@onnx_op("Cast")
def _cast(call: Call):
    """Convert to the element type ``to``."""
    return call.input(0).to(_dtype(call.attr("to"), call))


@onnx_op("CastLike")
def _cast_like(call: Call):
    """Convert to the second input's dtype."""
    return call.input(0).to(call.input(1).dtype)


@onnx_op("Where")
def _where(call: Call):
    """``X`` where ``condition``, else ``Y`` (broadcasting)."""
    return nr.where(call.input(0), call.input(1), call.input(2))


def _variadic(fn, doc: str):
    def impl(call: Call):
        out = call.inputs[0]
        for t in call.inputs[1:]:
            out = fn(out, t)
        return out
    impl.__doc__ = doc
    return impl


onnx_op("Max")(_variadic(nr.maximum, "Element-wise maximum of any number of inputs."))
onnx_op("Min")(_variadic(nr.minimum, "Element-wise minimum of any number of inputs."))
onnx_op("Sum")(_variadic(nr.add, "Element-wise sum of any number of inputs."))


@onnx_op("Mean")
def _mean(call: Call):
    """Element-wise mean of any number of inputs."""
    return _variadic(nr.add, "")(call) / len(call.inputs)


# -- activations with parameters -----------------------------------------------------------------

@onnx_op("LeakyRelu")
def _leaky_relu(call: Call):
    """``x`` if positive else ``alpha * x``."""
    return F.leaky_relu(call.input(0), call.attr("alpha", 0.01))


@onnx_op("Elu")
def _elu(call: Call):
    """``x`` if positive else ``alpha * (exp(x) - 1)``."""
    return F.elu(call.input(0), call.attr("alpha", 1.0))


@onnx_op("Selu")
def _selu(call: Call):
    """``gamma * elu(x, alpha)``."""
    alpha, gamma = call.attr("alpha", 1.67326319217681884765625), call.attr("gamma", 1.05070102214813232421875)
    return gamma * F.elu(call.input(0), alpha)


@onnx_op("Celu")
def _celu(call: Call):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    alpha = call.attr("alpha", 1.0)
    x = call.input(0)
    return F.relu(x) + nr.clamp(alpha * (nr.exp(x / alpha) - 1), max=0.0)


@onnx_op("Gelu")
def _gelu(call: Call):
    """GELU, exact or ``approximate="tanh"``."""
    return F.gelu(call.input(0), approximate=call.attr("approximate", "none"))


@onnx_op("HardSigmoid")
def _hard_sigmoid(call: Call):
    """``clip(alpha * x + beta, 0, 1)``."""
    return nr.clamp(call.attr("alpha", 0.2) * call.input(0) + call.attr("beta", 0.5), 0.0, 1.0)


@onnx_op("HardSwish")
def _hard_swish(call: Call):
    """``x * clip(x / 6 + 1 / 2, 0, 1)``."""
    x = call.input(0)
    return x * nr.clamp(x / 6 + 0.5, 0.0, 1.0)


@onnx_op("PRelu")
def _prelu(call: Call):
    """``x`` if positive else ``slope * x`` (the slope broadcasts)."""
    x, slope = call.input(0), call.input(1)
    return nr.where(x < 0, x * slope, x)


@onnx_op("Clip")
def _clip(call: Call):
    """Clamp between ``min`` and ``max`` (inputs since opset 11, attributes before)."""
    x = call.input(0)
    lo, hi = (call.input(1), call.input(2)) if call.opset >= 11 else (call.attr("min"), call.attr("max"))
    if isinstance(lo, Tensor):
        lo = lo.reshape(-1)[0].item()
    if isinstance(hi, Tensor):
        hi = hi.reshape(-1)[0].item()
    return x if lo is None and hi is None else nr.clamp(x, min=lo, max=hi)


def _softmax_like(fn, doc: str):
    def impl(call: Call):
        x = call.input(0)
        if call.opset >= 13:
            return fn(x, dim=_axis(call.attr("axis", -1), x.ndim, call))
        axis = _axis(call.attr("axis", 1), x.ndim, call)  # before 13: over the flattened trailing dims
        rows = math.prod(x.shape[:axis])
        return fn(x.reshape(rows, -1), dim=1).reshape(*x.shape)
    impl.__doc__ = doc
    return impl


onnx_op("Softmax")(_softmax_like(F.softmax, "Softmax along ``axis`` (the opset-13 and the older 2-D coerced form)."))
onnx_op("LogSoftmax")(_softmax_like(F.log_softmax, "Log-softmax along ``axis`` (both forms, as Softmax)."))


# -- matrix products -----------------------------------------------------------------------------

@onnx_op("MatMul")
def _matmul(call: Call):
    """NumPy ``matmul`` semantics (batched, broadcasting)."""
    return nr.matmul(call.input(0), call.input(1))


@onnx_op("Gemm")
def _gemm(call: Call):
    """alpha * A' @ B' + beta * C (transA, transB)."""
    a, b, c = call.input(0), call.input(1), call.input(2)
    a = a.t() if call.attr("transA", 0) else a
    b = b.t() if call.attr("transB", 0) else b
    out = nr.matmul(a, b)
    alpha, beta = call.attr("alpha", 1.0), call.attr("beta", 1.0)
    if alpha != 1.0:
        out = out * alpha
    if c is not None:
        out = out + (c if beta == 1.0 else c * beta)
    return out


# -- convolution and pooling ---------------------------------------------------------------------

def _pads(call: Call, spatial: Sequence[int], kernel: Sequence[int], strides, dilations) -> tuple[list, list]:
    """Begin and end padding per spatial dim, from ``pads`` or ``auto_pad``."""
    s = len(spatial)
    mode = call.attr("auto_pad", "NOTSET")
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for n, k, st, d in zip(spatial, kernel, strides, dilations):
            total = max(0, (-(-n // st) - 1) * st + (k - 1) * d + 1 - n)
            small = total // 2
            begin.append(small if mode == "SAME_UPPER" else total - small)
            end.append(total - begin[-1])
        return begin, end
    if mode == "VALID":
        return [0] * s, [0] * s
    if mode != "NOTSET":
        raise call.fail(f"auto_pad {mode!r} is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    pads = list(call.attr("pads", [0] * 2 * s))
    if len(pads) != 2 * s:
        raise call.fail(f"pads {pads} should hold {2 * s} values for {s} spatial dims")
    return pads[:s], pads[s:]


def _torch_pad(begin: Sequence[int], end: Sequence[int]) -> list[int]:
    """ONNX's per-dim begin/end pads as F.pad's (last dim first) list."""
    out: list[int] = []
    for b, e in zip(reversed(begin), reversed(end)):
        out += [b, e]
    return out


def _geometry(call: Call, x: Tensor, kernel: Sequence[int]):
    s = x.ndim - 2
    if s < 1:
        raise call.fail(f"expected an (N, C, ...) input, got shape {list(x.shape)}")
    strides = list(call.attr("strides", [1] * s))
    dilations = list(call.attr("dilations", [1] * s))
    begin, end = _pads(call, x.shape[2:], kernel, strides, dilations)
    return s, strides, dilations, begin, end


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d}


@onnx_op("Conv")
def _conv(call: Call):
    """1-D, 2-D and 3-D convolution: groups, strides, dilations, pads (asymmetric too), auto_pad."""
    x, w, b = call.input(0), call.input(1), call.input(2)
    s, strides, dilations, begin, end = _geometry(call, x, w.shape[2:])
    if s not in _CONV:
        raise call.fail(f"{s}-D convolution is not supported")
    if begin != end:
        x, begin = F.pad(x, _torch_pad(begin, end)), [0] * s
    return _CONV[s](x, w, b, strides, begin, dilations, call.attr("group", 1))


@onnx_op("ConvTranspose")
def _conv_transpose(call: Call):
    """1-D and 2-D transposed convolution: groups, strides, dilations, pads, output_padding."""
    x, w, b = call.input(0), call.input(1), call.input(2)
    s = x.ndim - 2
    if s not in _CONV_T:
        raise call.fail(f"{s}-D transposed convolution is not supported (input shape {list(x.shape)})")
    if call.attr("output_shape") is not None or call.attr("auto_pad", "NOTSET") != "NOTSET":
        raise call.fail("output_shape and auto_pad are not supported; give pads")
    strides = list(call.attr("strides", [1] * s))
    dilations = list(call.attr("dilations", [1] * s))
    pads = list(call.attr("pads", [0] * 2 * s))
    out_pad = list(call.attr("output_padding", [0] * s))
    y = _CONV_T[s](x, w, b, strides, 0, out_pad, call.attr("group", 1), dilations)
    for d, (lo, hi) in enumerate(zip(pads[:s], pads[s:])):  # crop: pads remove output from each side
        y = y.narrow(2 + d, lo, y.shape[2 + d] - lo - hi)
    return y


def _planes(call: Call, x: Tensor) -> int:
    s = x.ndim - 2
    if s not in (1, 2):
        raise call.fail(f"only 1-D and 2-D pooling is supported, got input shape {list(x.shape)}")
    return s


@onnx_op("MaxPool", check=lambda op, attrs, ins, outs: ["MaxPool's Indices output is not supported"]
         if len(outs) > 1 and outs[1] else [])
def _max_pool(call: Call):
    """1-D and 2-D max pooling: strides, pads, dilations, ceil_mode, auto_pad."""
    x = call.input(0)
    kernel = list(call.attr("kernel_shape", []))
    s = _planes(call, x)
    s, strides, dilations, begin, end = _geometry(call, x, kernel)
    if begin != end or any(2 * p > k for p, k in zip(begin, kernel)):
        x, begin = F.pad(x, _torch_pad(begin, end), value=-math.inf), [0] * s
    fn = F.max_pool1d if s == 1 else F.max_pool2d
    return fn(x, kernel, strides, begin, dilations, ceil_mode=bool(call.attr("ceil_mode", 0)))


@onnx_op("AveragePool")
def _avg_pool(call: Call):
    """1-D and 2-D average pooling: strides, pads, count_include_pad, ceil_mode, auto_pad."""
    x = call.input(0)
    kernel = list(call.attr("kernel_shape", []))
    s = _planes(call, x)
    s, strides, dilations, begin, end = _geometry(call, x, kernel)
    if any(d != 1 for d in dilations):
        raise call.fail(f"dilations {dilations} are not supported for AveragePool")
    include = bool(call.attr("count_include_pad", 0))
    if begin != end or any(2 * p > k for p, k in zip(begin, kernel)):
        if not include and any(begin + end):
            raise call.fail(f"asymmetric pads {begin + end} need count_include_pad=1")
        x, begin = F.pad(x, _torch_pad(begin, end)), [0] * s
    fn = F.avg_pool1d if s == 1 else F.avg_pool2d
    return fn(x, kernel, strides, begin, ceil_mode=bool(call.attr("ceil_mode", 0)), count_include_pad=include)


@onnx_op("GlobalAveragePool")
def _global_avg_pool(call: Call):
    """Mean over all spatial dims, kept as size-1 dims."""
    x = call.input(0)
    return nr.mean(x, dim=tuple(range(2, x.ndim)), keepdim=True)


@onnx_op("GlobalMaxPool")
def _global_max_pool(call: Call):
    """Max over all spatial dims, kept as size-1 dims."""
    x = call.input(0)
    return nr.amax(x, dim=tuple(range(2, x.ndim)), keepdim=True)


# -- normalization -------------------------------------------------------------------------------

@onnx_op("BatchNormalization")
def _batch_norm(call: Call):
    """Running statistics in eval mode; batch statistics (updating the running ones) in train mode."""
    x, scale, bias, mean, var = (call.input(i) for i in range(5))
    momentum = 1.0 - call.attr("momentum", 0.9)  # ONNX weighs the old value, PyTorch the new one
    y = F.batch_norm(x, mean, var, scale, bias, training=call.training, momentum=momentum,
                     eps=call.attr("epsilon", 1e-5))
    return (y, mean, var) if call.outputs > 1 else y


@onnx_op("LayerNormalization")
def _layer_norm(call: Call):
    """Normalize over the dims from ``axis`` on; optional Mean and InvStdDev outputs."""
    x, scale, bias = call.input(0), call.input(1), call.input(2)
    axis = _axis(call.attr("axis", -1), x.ndim, call)
    eps = call.attr("epsilon", 1e-5)
    shape = tuple(x.shape[axis:])
    if scale is not None and tuple(scale.shape) != shape:
        scale = scale.expand(*shape)
    if bias is not None and tuple(bias.shape) != shape:
        bias = bias.expand(*shape)
    y = F.layer_norm(x, shape, scale, bias, eps)
    if call.outputs == 1:
        return y
    dims = tuple(range(axis, x.ndim))
    mean = nr.mean(x, dim=dims, keepdim=True)
    var = nr.mean((x - mean) * (x - mean), dim=dims, keepdim=True)
    return y, mean, nr.rsqrt(var + eps)


@onnx_op("InstanceNormalization")
def _instance_norm(call: Call):
    """Per-sample, per-channel normalization with a per-channel affine."""
    return F.instance_norm(call.input(0), weight=call.input(1), bias=call.input(2),
                           eps=call.attr("epsilon", 1e-5))


# -- reductions ----------------------------------------------------------------------------------

def _reduce_axes(call: Call, x: Tensor, axes_input_since: int) -> list[int] | None:
    """The reduced dims, or ``None`` for "leave the input as it is" (``noop_with_empty_axes``)."""
    axes = call.ints(1) if call.opset >= axes_input_since else call.attr("axes")
    if not axes:
        return None if call.attr("noop_with_empty_axes", 0) else list(range(x.ndim))
    return _axes(axes, x.ndim, call)


def _reduction(fn, doc: str, since: int = 18):
    def impl(call: Call):
        x = call.input(0)
        dims = _reduce_axes(call, x, since)
        if dims is None:
            return x
        keep = bool(call.attr("keepdims", 1))
        if x.ndim == 0:
            return fn(x, None, keep)
        return fn(x, tuple(dims), keep)
    impl.__doc__ = doc
    return impl


def _prod(x, dims, keep):
    if dims is None:
        return x
    for d in sorted(dims, reverse=True):
        x = nr.prod(x, dim=d, keepdim=keep)
    return x


def _sum_square(x, dims, keep):
    return nr.sum(x * x, dim=dims, keepdim=keep) if dims is not None else x * x


_REDUCTIONS = {
    "ReduceMean": (lambda x, d, k: nr.mean(x, dim=d, keepdim=k) if d is not None else x, "Mean over ``axes``."),
    "ReduceSum": (lambda x, d, k: nr.sum(x, dim=d, keepdim=k) if d is not None else x, "Sum over ``axes``."),
    "ReduceMax": (lambda x, d, k: nr.amax(x, dim=d, keepdim=k) if d is not None else x, "Max over ``axes``."),
    "ReduceMin": (lambda x, d, k: nr.amin(x, dim=d, keepdim=k) if d is not None else x, "Min over ``axes``."),
    "ReduceProd": (_prod, "Product over ``axes``."),
    "ReduceSumSquare": (_sum_square, "Sum of squares over ``axes``."),
    "ReduceL2": (lambda x, d, k: nr.sqrt(_sum_square(x, d, k)), "Euclidean norm over ``axes``."),
}
for _name, (_fn, _doc) in _REDUCTIONS.items():
    # ReduceSum took its axes as an input from opset 13, the others from opset 18.
    onnx_op(_name, shape_inputs=(1,))(_reduction(_fn, _doc + " Axes as attribute or input; keepdims, "
                                                  "noop_with_empty_axes.", 13 if _name == "ReduceSum" else 18))
del _name, _fn, _doc


def _arg(fn, doc: str):
    def impl(call: Call):
        x = call.input(0)
        return fn(x, dim=_axis(call.attr("axis", 0), x.ndim, call), keepdim=bool(call.attr("keepdims", 1)))
    impl.__doc__ = doc
    return impl


def _no_last_index(op, attrs, ins, outs):
    return [f"{op}: select_last_index=1 is not supported"] if attrs.get("select_last_index", 0) else []


onnx_op("ArgMax", check=_no_last_index)(_arg(nr.argmax, "Index of the max along ``axis`` (keepdims)."))
onnx_op("ArgMin", check=_no_last_index)(_arg(nr.argmin, "Index of the min along ``axis`` (keepdims)."))


# -- shapes and movement -------------------------------------------------------------------------

@onnx_op("Shape")
def _shape(call: Call):
    """The input's shape as int64 on the host (``start``/``end`` slice it)."""
    shape = list(call.input(0).shape)
    start, end = call.attr("start", 0), call.attr("end", len(shape))
    return np.array(shape[slice(start, end)], dtype=np.int64)


@onnx_op("Size")
def _size(call: Call):
    """The number of elements, as an int64 scalar on the host."""
    return np.array(call.input(0).numel(), dtype=np.int64)


@onnx_op("Reshape", shape_inputs=(1,))
def _reshape(call: Call):
    """Reshape; ``0`` copies the input's dim (unless ``allowzero``) and ``-1`` is inferred."""
    x, shape = call.input(0), call.ints(1)
    if not call.attr("allowzero", 0):
        shape = [x.shape[i] if d == 0 and i < x.ndim else d for i, d in enumerate(shape)]
    return x.reshape(*shape)


@onnx_op("Flatten")
def _flatten(call: Call):
    """To 2-D: the dims before ``axis`` and the dims from it."""
    x = call.input(0)
    axis = call.attr("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis <= x.ndim:
        raise call.fail(f"axis {call.attr('axis', 1)} is out of range for a {x.ndim}-D input")
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


@onnx_op("Transpose")
def _transpose(call: Call):
    """Permute the dims by ``perm`` (reverse them by default)."""
    x = call.input(0)
    perm = call.attr("perm", list(range(x.ndim))[::-1])
    return x.permute(*_axes(perm, x.ndim, call))


@onnx_op("Squeeze", shape_inputs=(1,))
def _squeeze(call: Call):
    """Drop the size-1 dims listed in ``axes`` (all of them when omitted)."""
    x = call.input(0)
    axes = call.ints(1) if call.opset >= 13 else call.attr("axes")
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    axes = _axes(axes, x.ndim, call)
    if any(x.shape[a] != 1 for a in axes):
        raise call.fail(f"cannot squeeze axes {axes} of shape {list(x.shape)}")
    return x.reshape(*[d for i, d in enumerate(x.shape) if i not in axes])


@onnx_op("Unsqueeze", shape_inputs=(1,))
def _unsqueeze(call: Call):
    """Insert size-1 dims at ``axes`` (positions in the output)."""
    x = call.input(0)
    axes = call.ints(1) if call.opset >= 13 else call.attr("axes")
    rank = x.ndim + len(axes)
    axes = set(_axes(axes, rank, call))
    dims, it = [], iter(x.shape)
    for i in range(rank):
        dims.append(1 if i in axes else next(it))
    return x.reshape(*dims)


@onnx_op("Concat")
def _concat(call: Call):
    """Join along ``axis``."""
    tensors = [t for t in call.inputs if t is not None]
    return nr.cat(tensors, dim=_axis(call.attr("axis"), tensors[0].ndim, call))


@onnx_op("Split", shape_inputs=(1,))
def _split(call: Call):
    """Split along ``axis`` by ``split`` sizes (input or attribute), ``num_outputs`` or evenly."""
    x = call.input(0)
    axis = _axis(call.attr("axis", 0), x.ndim, call)
    sizes = call.ints(1) if call.opset >= 13 else call.attr("split")
    n = x.shape[axis]
    if not sizes:
        parts = call.attr("num_outputs", call.outputs)
        step = -(-n // parts)
        sizes = [min(step, n - i * step) for i in range(parts)]
    if sum(sizes) != n or any(s < 0 for s in sizes):
        raise call.fail(f"split sizes {sizes} do not add up to dim {axis} of shape {list(x.shape)}")
    return tuple(x.split(list(sizes), axis))


@onnx_op("Slice", shape_inputs=(1, 2, 3, 4))
def _slice(call: Call):
    """Slice with starts, ends, axes and steps (negative steps too), clamped as ONNX specifies."""
    x = call.input(0)
    if call.opset >= 10:
        starts, ends, axes, steps = call.ints(1), call.ints(2), call.ints(3), call.ints(4)
    else:
        starts, ends, axes, steps = call.attr("starts"), call.attr("ends"), call.attr("axes"), None
    axes = _axes(axes if axes is not None else range(len(starts)), x.ndim, call)
    steps = steps or [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps) or 0 in steps:
        raise call.fail(f"starts {starts}, ends {ends}, axes {axes}, steps {steps} do not match (or a step is 0)")
    index: list[Any] = [slice(None)] * x.ndim
    flips = []
    for a, b, e, s in zip(axes, starts, ends, steps):
        start, stop, step = slice(b, e, s).indices(x.shape[a])
        if step > 0:
            index[a] = slice(start, max(start, stop), step)
        else:
            flips.append((a, list(range(start, stop, step))))
    y = x[tuple(index)] if x.ndim else x
    for a, picks in flips:
        y = y.index_select(a, nr.tensor(picks, dtype=nr.int64, device=y.device))
    return y


@onnx_op("Gather")
def _gather(call: Call):
    """Take entries along ``axis`` at int indices of any shape (negative ones count from the end)."""
    x, idx = call.input(0), call.input(1)
    axis = _axis(call.attr("axis", 0), x.ndim, call)
    n = x.shape[axis]
    flat = idx.reshape(-1).to(nr.int64)
    flat = nr.where(flat < 0, flat + n, flat)
    out = x.index_select(axis, flat)
    return out.reshape(*x.shape[:axis], *idx.shape, *x.shape[axis + 1:])


@onnx_op("GatherElements")
def _gather_elements(call: Call):
    """``torch.gather``: pick along ``axis`` at same-rank indices."""
    x, idx = call.input(0), call.input(1)
    axis = _axis(call.attr("axis", 0), x.ndim, call)
    idx = idx.to(nr.int64)
    return nr.gather(x, axis, nr.where(idx < 0, idx + x.shape[axis], idx))


@onnx_op("Expand", shape_inputs=(1,))
def _expand(call: Call):
    """Broadcast to a shape (two-way: the input's dims may be larger than the shape's 1s)."""
    x, shape = call.input(0), call.ints(1)
    target = nr.broadcast_shapes(tuple(x.shape), tuple(shape))
    _check_numel(target, call)
    return x.expand(*target)


@onnx_op("Tile", shape_inputs=(1,))
def _tile(call: Call):
    """Repeat the input ``repeats`` times along each dim."""
    x, reps = call.input(0), call.ints(1)
    _check_numel([d * r for d, r in zip(x.shape, reps)], call)
    return x.repeat(*reps)


@onnx_op("Pad", shape_inputs=(1, 3))
def _pad(call: Call):
    """Pad each dim's begin and end: constant, reflect or edge mode (optional ``axes``)."""
    x = call.input(0)
    pads = call.ints(1) if call.opset >= 11 else call.attr("pads")
    value = call.scalar(2, 0.0) if call.opset >= 11 else call.attr("value", 0.0)
    axes = _axes(call.ints(3) if call.input(3) is not None else range(x.ndim), x.ndim, call)
    k = len(axes)
    if len(pads) != 2 * k:
        raise call.fail(f"pads {pads} should hold {2 * k} values for axes {axes}")
    begin, end = [0] * x.ndim, [0] * x.ndim
    for i, a in enumerate(axes):
        begin[a], end[a] = pads[i], pads[k + i]
    first = next((i for i in range(x.ndim) if begin[i] or end[i]), x.ndim)
    if first == x.ndim:
        return x
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}.get(call.attr("mode", "constant"))
    if mode is None:
        raise call.fail(f"mode {call.attr('mode')!r} is not supported (constant, reflect, edge)")
    widths = _torch_pad(begin[first:], end[first:])
    return F.pad(x, widths, mode, value) if mode == "constant" else F.pad(x, widths, mode)


@onnx_op("Trilu", shape_inputs=(1,))
def _trilu(call: Call):
    """The upper (``upper=1``) or lower triangle, offset by ``k``."""
    x, k = call.input(0), call.scalar(1, 0)
    return nr.triu(x, k) if call.attr("upper", 1) else nr.tril(x, k)


# -- constants -----------------------------------------------------------------------------------

def _constant_check(op, attrs, ins, outs):
    known = {"value", "value_float", "value_floats", "value_int", "value_ints"}
    return [] if set(attrs) & known else [f"Constant: attribute(s) {sorted(attrs)} are not supported "
                                          f"(value, value_float(s), value_int(s) are)"]


@onnx_op("Constant", check=_constant_check)
def _constant(call: Call):
    """A constant from ``value`` (a tensor), ``value_float(s)`` or ``value_int(s)``, on the host."""
    a = call.attrs
    if "value" in a:
        return np.array(a["value"])
    if "value_float" in a or "value_floats" in a:
        return np.array(a.get("value_float", a.get("value_floats")), dtype=np.float32)
    return np.array(a.get("value_int", a.get("value_ints")), dtype=np.int64)


@onnx_op("ConstantOfShape", shape_inputs=(0,))
def _constant_of_shape(call: Call):
    """A tensor of the given shape filled with ``value`` (float32 0 by default), on the host."""
    shape = call.ints(0)
    _check_numel(shape, call)
    value = call.attr("value")
    fill = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    return np.full(shape, fill[0], dtype=fill.dtype)


@onnx_op("Range", shape_inputs=(0, 1, 2))
def _range(call: Call):
    """``start, start + delta, ...`` below ``limit``, on the host."""
    start, limit, delta = (call.input(i) for i in range(3))
    dtype = start.dtype.np
    a, b, d = (t.reshape(-1)[0].item() for t in (start, limit, delta))
    if d == 0 or (b - a) / d > MAX_NUMEL:
        raise call.fail(f"Range({a}, {b}, {d}) is empty-stepped or too long")
    return np.arange(a, b, d).astype(dtype)


# -- recurrent layers ----------------------------------------------------------------------------

def _lstm_check(op, attrs, ins, outs):
    reasons = []
    acts = [a.lower() for a in attrs.get("activations", [])]
    if acts and any(acts[i:i + 3] != ["sigmoid", "tanh", "tanh"] for i in range(0, len(acts), 3)):
        reasons.append(f"LSTM: activations {attrs['activations']} are not supported (only Sigmoid, Tanh, Tanh)")
    if attrs.get("input_forget", 0):
        reasons.append("LSTM: input_forget=1 is not supported")
    return reasons


@onnx_op("LSTM", check=_lstm_check)
def _lstm(call: Call):
    """LSTM (gates i, o, f, c): forward, reverse or bidirectional; bias, initial states, peepholes, clip, layout."""
    x, w, r, b = call.input(0), call.input(1), call.input(2), call.input(3)
    seq_lens, h0, c0, peep = call.input(4), call.input(5), call.input(6), call.input(7)
    layout = call.attr("layout", 0)
    if layout:  # (batch, seq, in) and (batch, dirs, hidden) -> ONNX's default layout
        x = x.transpose(0, 1)
        h0 = None if h0 is None else h0.transpose(0, 1)
        c0 = None if c0 is None else c0.transpose(0, 1)
    steps, batch = x.shape[0], x.shape[1]
    if seq_lens is not None and any(int(n) != steps for n in seq_lens.reshape(-1).tolist()):
        raise call.fail(f"sequence_lens {seq_lens.tolist()} shorter than the sequence ({steps}) are not supported")
    hidden = call.attr("hidden_size", w.shape[1] // 4)
    direction = call.attr("direction", "forward")
    dirs = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}.get(direction)
    if dirs is None or w.shape[0] != len(dirs):
        raise call.fail(f"direction {direction!r} does not match W's shape {list(w.shape)}")
    clip = call.attr("clip")
    ys, hs, cs = [], [], []
    for d, reverse in enumerate(dirs):
        zeros = nr.zeros(batch, hidden, dtype=x.dtype, device=x.device)
        h = h0[d] if h0 is not None else zeros
        c = c0[d] if c0 is not None else zeros
        bias = None if b is None else b[d, :4 * hidden] + b[d, 4 * hidden:]
        y, h, c = _lstm_direction(x, w[d], r[d], bias, h, c, None if peep is None else peep[d], reverse, clip)
        ys.append(y)
        hs.append(h)
        cs.append(c)
    y = nr.stack(ys, dim=1)  # (seq, dirs, batch, hidden)
    h, c = nr.stack(hs, dim=0), nr.stack(cs, dim=0)
    if layout:
        y, h, c = y.permute(2, 0, 1, 3), h.transpose(0, 1), c.transpose(0, 1)
    return (y, h, c)[:call.outputs] if call.outputs > 1 else y


def _lstm_direction(x, w, r, bias, h, c, peep, reverse: bool, clip):
    """One direction over the whole sequence: the input projection for every step in one matmul."""
    hidden = h.shape[-1]
    xw = nr.matmul(x, w.t())  # (seq, batch, 4H)
    if bias is not None:
        xw = xw + bias
    order = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    outs = [None] * x.shape[0]
    rt = r.t()
    for t in order:
        gi, go, gf, gc = (xw[t] + nr.matmul(h, rt)).split(hidden, 1)
        if peep is not None:
            pi, po, pf = peep.split(hidden, 0)
            gi, gf = gi + pi * c, gf + pf * c
        i, f, cand = (nr.sigmoid(_clip_gate(gi, clip)), nr.sigmoid(_clip_gate(gf, clip)),
                      nr.tanh(_clip_gate(gc, clip)))
        c = f * c + i * cand
        if peep is not None:
            go = go + po * c
        h = nr.sigmoid(_clip_gate(go, clip)) * nr.tanh(c)
        outs[t] = h
    return nr.stack(outs, dim=0), h, c


def _clip_gate(g, clip):
    """ONNX's ``clip``: bound an activation's input (after the peephole term) to ``[-clip, clip]``."""
    return g if clip is None else nr.clamp(g, -clip, clip)
