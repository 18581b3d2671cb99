"""int8 quantization ops (``neurarust.quantization`` builds on them): registry entries, NumPy
references and samples; the Triton kernels are in ``quantized_triton.py``.

- ``int8_mm(input, mat2)``: int8 ``(M, K) @ (K, N)`` accumulated in int32, exactly.
- ``int8_linear(input, weight, input_scale, weight_scale, bias=None)``: ``input @ weight.T`` of int8
  ``(M, K)`` activations and int8 ``(N, K)`` weights, dequantized in the kernel's epilogue:
  ``acc * input_scale[m] * weight_scale[n] + bias[n]`` in float32 (dynamic quantization).
- ``int8_linear_requant(input, weight, bias, multiplier, out_zero_point)``: the same product with an
  int32 bias, requantized to int8 in the epilogue: ``clamp(rint((acc + bias[n]) * multiplier[n]) +
  out_zero_point, -128, 127)`` (static quantization).
- ``quantize_per_token(input)``: each row of a float32 ``(M, K)`` matrix quantized symmetrically:
  ``scale = absmax / 127`` (1 for a zero row), ``q = clamp(rint(x / scale), -127, 127)``; returns
  ``(q, scale)``.
- ``quantize_affine(input, scale, zero_point, axis, quant_min, quant_max)`` and
  ``dequantize_affine(input, scale, zero_point, axis)``: per-tensor (``axis=None``, one-element
  ``scale``) or per-channel affine quantization, ``clamp(rint(x * (1 / scale)) + zero_point)`` as
  PyTorch's quantize kernels compute it, and ``(q - zero_point) * scale``.

All arithmetic is float32 in a fixed order, so the Triton kernels' integer results equal the
references' exactly::

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> a = nr.tensor([[1, 2], [3, 4]], dtype=nr.int8)
    >>> call("int8_mm", a, a).tolist()
    [[7, 10], [15, 22]]
    >>> q, s = call("quantize_per_token", nr.tensor([[0.5, -1.27]]))
    >>> q.tolist(), round(s.item(), 4)
    ([[50, -127]], 0.01)
"""
from __future__ import annotations

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.errors import ArgumentError, DeviceError, DTypeError, ShapeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, register
from neurarust.tensor import Tensor

from . import samples as S
from .indexing import ix

MODULE = "neurarust.kernels.quantized_triton"
INT8 = (_dt.int8,)
F32 = (_dt.float32,)
FLOAT_IN = (_dt.float32, _dt.float64, _dt.float16, _dt.bfloat16)  # computed in float32
ROUND_LIMIT = np.float32(1048576.0)  # products are clamped to +-2**20 before rounding (exact there)


# ----------------------------------------------------------------------------------------------
# NumPy references: float32 arithmetic in the kernels' order
# ----------------------------------------------------------------------------------------------

def _rint_clamp(y: np.ndarray, zero_point, qmin: int, qmax: int) -> np.ndarray:
    y = np.clip(y.astype(np.float32), -ROUND_LIMIT, ROUND_LIMIT)
    return np.clip(np.rint(y).astype(np.int64) + np.asarray(zero_point, np.int64), qmin, qmax).astype(np.int8)


def _acc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The int32 accumulator, exactly, from a floating BLAS product (much faster than NumPy's integer
    matmul): every partial sum of K int8 products is an integer of magnitude at most K * 2**14, exact
    in float32 up to K = 1024 and in float64 far beyond, in any summation order. int32 wraps around
    as the kernel's accumulator does."""
    wide = np.float32 if a.shape[-1] <= 1024 else np.float64
    return (a.astype(wide) @ b.astype(wide)).astype(np.int64).astype(np.int32)


def _ref_int8_mm(a, b):
    return _acc(a, b)


def _ref_int8_linear(a, w, input_scale, weight_scale, bias=None):
    y = _acc(a, w.T).astype(np.float32) * np.asarray(input_scale, np.float32)[:, None]
    y = y * np.asarray(weight_scale, np.float32)[None, :]
    return y if bias is None else (y + np.asarray(bias, np.float32)).astype(np.float32)


def _ref_int8_linear_requant(a, w, bias, multiplier, out_zero_point=0):
    acc = _acc(a, w.T)
    if bias is not None:
        acc = acc + np.asarray(bias, np.int32)
    return _rint_clamp(acc.astype(np.float32) * np.asarray(multiplier, np.float32), out_zero_point, -128, 127)


def _ref_quantize_per_token(x):
    x = x.astype(np.float32)
    absmax = np.abs(x).max(axis=1) if x.shape[1] else np.zeros(x.shape[0], np.float32)
    scale = np.where(absmax > 0, absmax / np.float32(127), np.float32(1)).astype(np.float32)
    return _rint_clamp(x / scale[:, None], 0, -127, 127), scale


def _channel_shape(ndim: int, axis) -> tuple:
    return (-1,) + (1,) * (ndim - axis - 1) if axis is not None else (-1,)


def _ref_quantize_affine(x, scale, zero_point, axis=None, quant_min=-128, quant_max=127):
    shape = _channel_shape(x.ndim, axis)
    inv = (np.float32(1) / np.asarray(scale, np.float32)).reshape(shape)
    return _rint_clamp(x.astype(np.float32) * inv, np.asarray(zero_point).reshape(shape), quant_min, quant_max)


def _ref_dequantize_affine(q, scale, zero_point, axis=None):
    shape = _channel_shape(q.ndim, axis)
    diff = q.astype(np.int32) - np.asarray(zero_point, np.int32).reshape(shape)
    return (diff.astype(np.float32) * np.asarray(scale, np.float32).reshape(shape)).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Front ends: checks, then the reference or the kernel
# ----------------------------------------------------------------------------------------------

def _need(name: str, what: str, x, dtypes: tuple, ndim: int | None = None) -> None:
    if not isinstance(x, Tensor):
        raise SignatureError(f"{name}(): {what} must be a Tensor, not {type(x).__name__}")
    if x.dtype not in dtypes:
        raise DTypeError(f"{name}(): {what} must be {' or '.join(d.name for d in dtypes)}, got {x.dtype.name}")
    if ndim is not None and x.ndim != ndim:
        raise ShapeError(f"{name}(): {what} must be {ndim}-D, got shape {tuple(x.shape)}")


def _vector(name: str, what: str, x, dtype, length: int) -> None:
    """A 1-D ``dtype`` tensor of ``length`` elements, or of one (broadcast)."""
    _need(name, what, x, (dtype,), 1)
    if x.shape[0] not in (1, length):
        raise ShapeError(f"{name}(): {what} must have 1 or {length} elements, got shape {tuple(x.shape)}")


def _reference(t: Tensor) -> bool:
    return backends.for_device(t._storage.device) == "reference"


def _wrap(arr: np.ndarray) -> Tensor:
    return Tensor._from_array(np.ascontiguousarray(arr))


def _np(x):
    return None if x is None else x._np()


def _kernels():
    from . import quantized_triton  # the first Triton launch imports Triton

    return quantized_triton


def _broadcast(v: Tensor, n: int) -> Tensor:
    return v.expand(n) if v.shape[0] == 1 else v


def _check_product(name: str, a, b, transposed: bool) -> tuple[int, int, int]:
    _need(name, "input", a, INT8, 2)
    _need(name, "weight" if transposed else "mat2", b, INT8, 2)
    K2 = b.shape[1] if transposed else b.shape[0]
    if a.shape[1] != K2:
        raise ShapeError(f"{name}(): shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied"
                         + (" (weight is (out_features, in_features))" if transposed else ""))
    if a.device != b.device:
        raise DeviceError(f"{name}(): expected both operands on one device, got {a.device} and {b.device}")
    return a.shape[0], a.shape[1], (b.shape[0] if transposed else b.shape[1])


def int8_mm(op: Op, input: Tensor, mat2: Tensor) -> Tensor:
    """int8 ``(M, K) @ (K, N)`` accumulated exactly in int32.

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> call("int8_mm", nr.full((2, 300), 127, dtype=nr.int8), nr.full((300, 1), -128, dtype=nr.int8)).tolist()
    [[-4876800], [-4876800]]
    """
    M, K, N = _check_product(op.name, input, mat2, False)
    if _reference(input):
        return _wrap(op.reference(input._np(), mat2._np()))
    c = Tensor._empty((M, N), _dt.int32, input.device)
    _kernels().launch_int8_mm(c, input, mat2)
    return c


def int8_linear(op: Op, input: Tensor, weight: Tensor, input_scale: Tensor, weight_scale: Tensor,
                bias: Tensor | None = None) -> Tensor:
    """``(input @ weight.T) * input_scale[:, None] * weight_scale + bias`` in float32, from int8 ``input``
    ``(M, K)``, int8 ``weight`` ``(N, K)`` and float32 scales (one per row and one per output channel,
    or one each).

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> q = nr.tensor([[10, -20]], dtype=nr.int8)
    >>> call("int8_linear", q, q, nr.tensor([0.5]), nr.tensor([0.25]), nr.tensor([1.0])).tolist()
    [[63.5]]
    """
    M, K, N = _check_product(op.name, input, weight, True)
    _vector(op.name, "input_scale", input_scale, _dt.float32, M)
    _vector(op.name, "weight_scale", weight_scale, _dt.float32, N)
    if bias is not None:
        _vector(op.name, "bias", bias, _dt.float32, N)
    if _reference(input):
        return _wrap(op.reference(input._np(), weight._np(), np.broadcast_to(input_scale._np(), (M,)),
                                  np.broadcast_to(weight_scale._np(), (N,)), _np(bias)))
    c = Tensor._empty((M, N), _dt.float32, input.device)
    _kernels().launch_int8_mm(c, input, weight.t(), epilogue="dequantize", row_scale=_broadcast(input_scale, M),
                              col_scale=_broadcast(weight_scale, N),
                              bias=None if bias is None else _broadcast(bias, N))
    return c


def int8_linear_requant(op: Op, input: Tensor, weight: Tensor, bias: Tensor | None, multiplier: Tensor,
                        out_zero_point: int = 0) -> Tensor:
    """``clamp(rint((input @ weight.T + bias) * multiplier) + out_zero_point, -128, 127)`` as int8: int8
    operands, an int32 ``bias`` and a float32 ``multiplier`` per output channel (or one of each).

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> q = nr.tensor([[10, -20]], dtype=nr.int8)
    >>> call("int8_linear_requant", q, q, nr.tensor([100], dtype=nr.int32), nr.tensor([0.1]), 3).tolist()
    [[63]]
    """
    M, K, N = _check_product(op.name, input, weight, True)
    if bias is not None:
        _vector(op.name, "bias", bias, _dt.int32, N)
    _vector(op.name, "multiplier", multiplier, _dt.float32, N)
    if _reference(input):
        return _wrap(op.reference(input._np(), weight._np(), _np(bias), np.broadcast_to(multiplier._np(), (N,)),
                                  int(out_zero_point)))
    c = Tensor._empty((M, N), _dt.int8, input.device)
    _kernels().launch_int8_mm(c, input, weight.t(), epilogue="requantize", col_scale=_broadcast(multiplier, N),
                              bias=None if bias is None else _broadcast(bias, N), zero_point=int(out_zero_point))
    return c


def quantize_per_token(op: Op, input: Tensor) -> tuple[Tensor, Tensor]:
    """Symmetric int8 quantization of each row of a float32 ``(M, K)`` matrix: ``(q, scale)`` with
    ``scale = absmax / 127`` per row and ``q = clamp(rint(x / scale), -127, 127)``.

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> q, s = call("quantize_per_token", nr.tensor([[2.54, -1.0], [0.0, 0.0]]))
    >>> q.tolist(), [round(v, 4) for v in s.tolist()]
    ([[127, -50], [0, 0]], [0.02, 1.0])
    """
    _need(op.name, "input", input, FLOAT_IN, 2)
    if _reference(input):
        q, scale = op.reference(input._np())
        return _wrap(q), _wrap(scale)
    input = input.to(_dt.float32)
    M, K = input.shape
    q, scale = Tensor._empty((M, K), _dt.int8, input.device), Tensor._empty((M,), _dt.float32, input.device)
    _kernels().launch_quantize_rows(q, scale, input)
    return q, scale


def _channels(name: str, x: Tensor, scale, zero_point, axis) -> tuple[int, int]:
    """``(C, inner)`` of the ``(outer, C, inner)`` view the kernels walk; checks the parameters."""
    if axis is not None and not -x.ndim <= axis < x.ndim:
        raise ShapeError(f"{name}(): axis {axis} is out of range for a tensor of shape {tuple(x.shape)}")
    C = 1 if axis is None else x.shape[axis]
    _vector(name, "scale", scale, _dt.float32, C)
    _vector(name, "zero_point", zero_point, _dt.int32, C)
    if axis is None and scale.shape[0] != 1:
        raise ShapeError(f"{name}(): per-tensor quantization (axis=None) takes one scale, got {scale.shape[0]}")
    inner = 1 if axis is None else int(np.prod(x.shape[axis % x.ndim + 1:], dtype=np.int64))
    return C, inner


def quantize_affine(op: Op, input: Tensor, scale: Tensor, zero_point: Tensor, axis: int | None = None,
                    quant_min: int = -128, quant_max: int = 127) -> Tensor:
    """``clamp(rint(input * (1 / scale)) + zero_point, quant_min, quant_max)`` as int8, per tensor
    (``axis=None``) or per channel along ``axis`` (float32 ``scale``, int32 ``zero_point``).

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> call("quantize_affine", nr.tensor([0.3, -1.0, 9.0]), nr.tensor([0.1]), nr.tensor([2], dtype=nr.int32),
    ...      None, -8, 7).tolist()
    [5, -8, 7]
    """
    _need(op.name, "input", input, FLOAT_IN)
    C, inner = _channels(op.name, input, scale, zero_point, axis)
    if not -128 <= quant_min <= quant_max <= 127:
        raise ArgumentError(f"{op.name}(): need -128 <= quant_min <= quant_max <= 127, got {quant_min}, {quant_max}")
    axis = None if axis is None else axis % input.ndim
    if _reference(input):
        return _wrap(op.reference(input._np(), scale._np(), zero_point._np(), axis, quant_min, quant_max))
    x = input.to(_dt.float32).contiguous()
    q = Tensor._empty(tuple(x.shape), _dt.int8, x.device)
    _kernels().launch_quantize(q, x, scale.contiguous(), zero_point.contiguous(), C, inner, quant_min, quant_max)
    return q


def dequantize_affine(op: Op, input: Tensor, scale: Tensor, zero_point: Tensor, axis: int | None = None) -> Tensor:
    """``(input - zero_point) * scale`` in float32 from int8 ``input``, per tensor or along ``axis``.

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> call("dequantize_affine", nr.tensor([5, -8], dtype=nr.int8), nr.tensor([0.5]),
    ...      nr.tensor([2], dtype=nr.int32)).tolist()
    [1.5, -5.0]
    """
    _need(op.name, "input", input, INT8)
    C, inner = _channels(op.name, input, scale, zero_point, axis)
    axis = None if axis is None else axis % input.ndim
    if _reference(input):
        return _wrap(op.reference(input._np(), scale._np(), zero_point._np(), axis))
    q = input.contiguous()
    x = Tensor._empty(tuple(q.shape), _dt.float32, q.device)
    _kernels().launch_dequantize(x, q, scale.contiguous(), zero_point.contiguous(), C, inner)
    return x


# ----------------------------------------------------------------------------------------------
# Samples (int8 operands span the whole range; scales keep float32 through the harness: ix)
# ----------------------------------------------------------------------------------------------

def _ints(shape, seed: int, low: int = -128, high: int = 128) -> np.ndarray:
    return np.random.default_rng(seed).integers(low, high, size=shape).astype(np.int64)


def _floats(shape, seed: int, low: float = 0.001, high: float = 0.05):
    return ix(np.random.default_rng(seed).uniform(low, high, size=shape), np.float32)


def _mm_samples(d):
    yield Sample((_ints((5, 33), 0), _ints((33, 7), 1)), name="edges")
    yield Sample((_ints((20, 40), 2), S.TensorSpec(_ints((40, 18), 3), "transposed")), name="transposed")
    yield Sample((_ints((1, 300), 4, 127, 128), _ints((300, 2), 5, -128, -127)), name="extremes")
    yield Sample((_ints((0, 4), 6), _ints((4, 3), 7)), name="empty")
    # Sums past 2**24 (not exact in float32): the reference must switch to float64.
    yield Sample((_ints((2, 1100), 8, -127, -126), _ints((1100, 3), 9, -127, -123)), name="long_k")


def _linear_samples(d):
    yield Sample((_ints((5, 33), 0), _ints((7, 33), 1), _floats((5,), 2), _floats((7,), 3), _floats((7,), 4, -1, 1)),
                 name="per_token_per_channel_bias")
    yield Sample((_ints((18, 20), 5), _ints((17, 20), 6), _floats((1,), 7), _floats((1,), 8)), name="per_tensor")
    yield Sample((S.TensorSpec(_ints((3, 16), 9)), _ints((4, 16), 10), _floats((3,), 11), _floats((4,), 12)),
                 name="strided")


def _requant_samples(d):
    yield Sample((_ints((5, 33), 0), _ints((7, 33), 1), ix(_ints((7,), 2, -3000, 3000), np.int32),
                  _floats((7,), 3, 1e-4, 3e-3), 5), name="per_channel_bias_zero_point")
    yield Sample((_ints((18, 20), 4), _ints((17, 20), 5), None, _floats((1,), 6, 1e-4, 1e-3), -3), name="per_tensor")
    # Exact ties: multiplier 0.5 on odd sums rounds halves to even.
    yield Sample((_ints((4, 8), 7, -3, 4), _ints((6, 8), 8, -3, 4), None, ix([0.5], np.float32), 0), name="ties")


def _token_samples(d):
    yield Sample((S.values(d, (5, 33), 0),), name="rows")
    yield Sample((np.zeros((2, 3)),), name="zero_rows")
    yield Sample((S.TensorSpec(S.values(d, (3, 40), 1)),), name="strided")
    yield Sample((S.values(d, (2, 1500), 2),), name="long_rows")


def _quantize_samples(d):
    x = S.values(d, (4, 5, 6), 0)
    yield Sample((x, ix([0.02], np.float32), ix([3], np.int32)), name="per_tensor")
    yield Sample((x, _floats((5,), 1, 0.01, 0.05), ix([0, 1, -2, 3, 0], np.int32), 1), name="per_channel_axis1")
    yield Sample((S.TensorSpec(S.values(d, (3, 8), 2), "transposed"), ix([0.4], np.float32), ix([0], np.int32), None,
                  -8, 7), name="four_bit_transposed")
    yield Sample((S.values(d, (7, 3), 3), _floats((3,), 4, 0.01, 0.05), ix([0, 0, 0], np.int32), -1),
                 name="per_channel_last")


def _dequantize_samples(d):
    q = _ints((4, 5, 6), 0)
    yield Sample((q, ix([0.02], np.float32), ix([3], np.int32)), name="per_tensor")
    yield Sample((q, _floats((5,), 1), ix([0, 1, -2, 3, 0], np.int32), 1), name="per_channel_axis1")
    yield Sample((S.TensorSpec(_ints((3, 8), 2), "transposed"), _floats((8,), 3), ix([0] * 8, np.int32), 1),
                 name="transposed")


def _mm_errors():
    a = np.ones((2, 3), np.int8)
    yield ErrorInput(Sample((a, np.ones((4, 2), np.int8))), ShapeError, r"\(2, 3\) and \(4, 2\) cannot be multiplied")
    yield ErrorInput(Sample((a.astype(np.float32), np.ones((3, 2), np.int8))), DTypeError, "input must be int8")


def _linear_errors():
    a, s = np.ones((2, 3), np.int8), np.ones(2, np.float32)
    yield ErrorInput(Sample((a, np.ones((4, 3), np.int8), s, np.ones(3, np.float32))), ShapeError,
                     "weight_scale must have 1 or 4 elements")


def _quantize_errors():
    x = np.ones((2, 3), np.float32)
    yield ErrorInput(Sample((x, np.ones(2, np.float32), np.zeros(2, np.int32), 1)), ShapeError,
                     "scale must have 1 or 3 elements")
    yield ErrorInput(Sample((x, np.ones(1, np.float32), np.zeros(1, np.int32), 2)), ShapeError,
                     "axis 2 is out of range")


# ----------------------------------------------------------------------------------------------
# PyTorch oracles
# ----------------------------------------------------------------------------------------------

def _torch_acc(a, b):
    import torch

    return (a.to(torch.int64) @ b.to(torch.int64)).to(torch.int32)


def _torch_int8_linear(a, w, input_scale, weight_scale, bias=None):
    y = _torch_acc(a, w.T).float() * input_scale[:, None] * weight_scale[None, :]
    return y if bias is None else y + bias


def _torch_round(y, zero_point, qmin, qmax):
    import torch

    y = y.clamp(-float(ROUND_LIMIT), float(ROUND_LIMIT)).round().to(torch.int64) + zero_point
    return y.clamp(qmin, qmax).to(torch.int8)


def _torch_requant(a, w, bias, multiplier, out_zero_point=0):
    acc = _torch_acc(a, w.T) + (0 if bias is None else bias)
    return _torch_round(acc.float() * multiplier, out_zero_point, -128, 127)


def _torch_per_token(x):
    import torch

    absmax = x.abs().amax(dim=1)
    scale = torch.where(absmax > 0, absmax / 127, torch.ones_like(absmax))
    return _torch_round(x / scale[:, None], 0, -127, 127), scale


def _torch_quantize(x, scale, zero_point, axis=None, quant_min=-128, quant_max=127):
    """PyTorch's own fake-quantize kernels (``x * inv_scale``, nearbyint, clamp), ints read back."""
    import torch

    if axis is None:
        fq = torch.fake_quantize_per_tensor_affine(x, float(scale[0]), int(zero_point[0]), quant_min, quant_max)
        return ((fq / scale[0]).round() + int(zero_point[0])).to(torch.int8)
    axis = axis % x.ndim
    fq = torch.fake_quantize_per_channel_affine(x, scale, zero_point, axis, quant_min, quant_max)
    shape = _channel_shape(x.ndim, axis % x.ndim)
    return ((fq / scale.reshape(shape)).round() + zero_point.reshape(shape)).to(torch.int8)


def _torch_dequantize(q, scale, zero_point, axis=None):
    """PyTorch's quantized tensors' own dequantize (their creation warns of deprecation: silenced)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if axis is None:
            return torch._make_per_tensor_quantized_tensor(q, float(scale[0]), int(zero_point[0])).dequantize()
        return torch._make_per_channel_quantized_tensor(q, scale.double(), zero_point.long(), axis).dequantize()


def _mm_cost(sample: Sample) -> tuple[int, int]:
    """int8 operands read once, a 4-byte result written; 2 ops per multiply-add."""
    a, b = S.array_of(sample.args[0]), S.array_of(sample.args[1])
    M, K = a.shape
    N = b.size // max(K, 1)
    return M * K + K * N + 4 * M * N, 2 * M * N * K


def _elementwise_cost(sample: Sample) -> tuple[int, int]:
    """A float32 and an int8 copy of each element; a few ops each."""
    n = S.array_of(sample.args[0]).size
    return 5 * n, 4 * n


def _entry(name: str, frontend, reference, dtypes, samples, torch_fn, launcher: str, cost, errors=lambda: ()) -> Op:
    return register(Op(name=name, kind="quantized", frontend=frontend, reference=reference,
                       triton=f"{MODULE}:{launcher}", dtypes=dtypes, samples=samples, error_inputs=errors,
                       cost=cost, method=False, torch_name=torch_fn, attrs={"public": False}, differentiable=()))


_entry("int8_mm", int8_mm, _ref_int8_mm, INT8, _mm_samples, _torch_acc, "launch_int8_mm", _mm_cost, _mm_errors)
_entry("int8_linear", int8_linear, _ref_int8_linear, INT8, _linear_samples, _torch_int8_linear, "launch_int8_mm",
       _mm_cost, _linear_errors)
_entry("int8_linear_requant", int8_linear_requant, _ref_int8_linear_requant, INT8, _requant_samples, _torch_requant,
       "launch_int8_mm", _mm_cost)
_entry("quantize_per_token", quantize_per_token, _ref_quantize_per_token, F32, _token_samples, _torch_per_token,
       "launch_quantize_rows", _elementwise_cost)
_entry("quantize_affine", quantize_affine, _ref_quantize_affine, F32, _quantize_samples, _torch_quantize,
       "launch_quantize", _elementwise_cost, _quantize_errors)
_entry("dequantize_affine", dequantize_affine, _ref_dequantize_affine, INT8, _dequantize_samples, _torch_dequantize,
       "launch_dequantize", _elementwise_cost)
