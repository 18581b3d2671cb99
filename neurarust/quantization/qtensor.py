"""Quantized tensors: int8 values with their scale(s), zero point(s) and axis, as PyTorch's
``torch.quantize_per_tensor`` / ``quantize_per_channel`` make them.

``x ~= (q - zero_point) * scale``. A per-tensor :class:`QTensor` has one scale and zero point; a
per-channel one has one of each per index of ``axis``. The values are int8 (``qint8``); fewer bits
(4-bit weights) are int8 values confined to ``[quant_min, quant_max]``::

    >>> import neurarust as nr
    >>> from neurarust import quantization as Q
    >>> q = Q.quantize_per_tensor(nr.tensor([-1.0, 0.0, 0.52]), 0.01, 3, Q.qint8)
    >>> q.int_repr().tolist(), round(q.q_scale(), 6), q.q_zero_point(), [round(v, 4) for v in q.dequantize().tolist()]
    ([-97, 3, 55], 0.01, 3, [-1.0, 0.0, 0.52])
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from neurarust import dtype as _dt
from neurarust.creation import tensor as _tensor
from neurarust.errors import ArgumentError, DTypeError, ShapeError
from neurarust.registry import call
from neurarust.tensor import Tensor


class QDType:
    """A quantized dtype: its storage dtype and its integer range (``qint8``: int8, -128..127)."""

    def __init__(self, name: str, quant_min: int, quant_max: int) -> None:
        self.name, self.quant_min, self.quant_max = name, quant_min, quant_max

    def __repr__(self) -> str:
        return f"neurarust.{self.name}"


qint8 = QDType("qint8", -128, 127)
QSCHEMES = ("per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric")
per_tensor_affine, per_tensor_symmetric, per_channel_affine, per_channel_symmetric = QSCHEMES


def _check_qdtype(dtype: Any) -> None:
    if dtype is not qint8 and dtype is not _dt.int8:
        raise DTypeError(f"quantized tensors hold qint8 values; got dtype {dtype!r}")


class QTensor:
    """An int8 tensor with its quantization parameters (see the module docstring). Build one with
    :func:`quantize_per_tensor` or :func:`quantize_per_channel`.

    >>> import neurarust as nr
    >>> from neurarust import quantization as Q
    >>> q = Q.quantize_per_channel(nr.tensor([[1.0, -2.0], [0.3, 0.1]]), nr.tensor([0.1, 0.01]),
    ...                            nr.tensor([0, 0]), 0, Q.qint8)
    >>> q.int_repr().tolist(), q.q_per_channel_axis(), q.qscheme(), q.shape
    ([[10, -20], [30, 10]], 0, 'per_channel_affine', neurarust.Size([2, 2]))
    """

    def __init__(self, int_repr: Tensor, scale: Tensor, zero_point: Tensor, axis: int | None = None,
                 quant_min: int = -128, quant_max: int = 127) -> None:
        if int_repr.dtype is not _dt.int8:
            raise DTypeError(f"QTensor: int_repr must be int8, got {int_repr.dtype.name}")
        channels = 1 if axis is None else int_repr.shape[axis]
        if scale.numel() != channels or zero_point.numel() != channels:
            raise ShapeError(f"QTensor: {channels} scale(s) and zero point(s) expected for shape "
                             f"{tuple(int_repr.shape)} and axis {axis}, got {scale.numel()} and {zero_point.numel()}")
        self._q = int_repr
        self._scale = scale.to(_dt.float32).reshape(channels)
        self._zero_point = zero_point.to(_dt.int32).reshape(channels)
        self._axis = axis
        self.quant_min, self.quant_max = quant_min, quant_max

    # -- PyTorch's accessors ------------------------------------------------------------------
    def int_repr(self) -> Tensor:
        """The int8 values."""
        return self._q

    def dequantize(self) -> Tensor:
        """``(q - zero_point) * scale`` as float32 (an int8 kernel on CUDA)."""
        return call("dequantize_affine", self._q, self._scale, self._zero_point, self._axis)

    def q_scale(self) -> float:
        """The scale of a per-tensor QTensor."""
        self._per_tensor("q_scale")
        return float(self._scale.item())

    def q_zero_point(self) -> int:
        """The zero point of a per-tensor QTensor."""
        self._per_tensor("q_zero_point")
        return int(self._zero_point.item())

    def q_per_channel_scales(self) -> Tensor:
        """The scales of a per-channel QTensor (float32, one per index of the axis)."""
        return self._scale

    def q_per_channel_zero_points(self) -> Tensor:
        """The zero points of a per-channel QTensor (int32)."""
        return self._zero_point

    def q_per_channel_axis(self) -> int:
        """The channel axis of a per-channel QTensor."""
        if self._axis is None:
            raise ArgumentError("q_per_channel_axis(): this QTensor is quantized per tensor")
        return self._axis

    def qscheme(self) -> str:
        """``per_tensor_affine`` or ``per_channel_affine`` (symmetric ones are affine with zero point 0)."""
        return per_tensor_affine if self._axis is None else per_channel_affine

    def _per_tensor(self, what: str) -> None:
        if self._axis is not None:
            raise ArgumentError(f"{what}(): this QTensor is quantized per channel (axis {self._axis})")

    # -- Tensor-like ----------------------------------------------------------------------------
    @property
    def shape(self):
        return self._q.shape

    @property
    def dtype(self) -> QDType:
        return qint8

    @property
    def device(self):
        return self._q.device

    @property
    def ndim(self) -> int:
        return self._q.ndim

    def size(self, dim: int | None = None):
        return self._q.size() if dim is None else self._q.size(dim)

    def numel(self) -> int:
        return self._q.numel()

    def to(self, device: Any) -> "QTensor":
        """The same QTensor on ``device``."""
        return QTensor(self._q.to(device), self._scale.to(device), self._zero_point.to(device), self._axis,
                       self.quant_min, self.quant_max)

    def with_values(self, int_repr: Tensor) -> "QTensor":
        """A QTensor of other int8 values (a view, a reshape) with these per-tensor parameters."""
        self._per_tensor("with_values")
        return QTensor(int_repr, self._scale, self._zero_point, None, self.quant_min, self.quant_max)

    def __repr__(self) -> str:
        params = (f"scale={self.q_scale():.6g}, zero_point={self.q_zero_point()}" if self._axis is None
                  else f"axis={self._axis}, {self._scale.numel()} scales")
        return f"QTensor(shape={list(self.shape)}, qint8, {params})"

    # -- checkpoints ----------------------------------------------------------------------------
    def state(self) -> dict:
        """Tensors and JSON values that :meth:`from_state` rebuilds this QTensor from (for ``nr.save``)."""
        return {"int_repr": self._q, "scale": self._scale, "zero_point": self._zero_point, "axis": self._axis,
                "quant_min": self.quant_min, "quant_max": self.quant_max}

    @classmethod
    def from_state(cls, state: dict) -> "QTensor":
        """The QTensor that :meth:`state` described."""
        return cls(state["int_repr"], state["scale"], state["zero_point"], state["axis"], state["quant_min"],
                   state["quant_max"])


def _as_vector(value: Any, dtype, device) -> Tensor:
    if isinstance(value, Tensor):
        return value.to(device=device, dtype=dtype).reshape(-1)
    return _tensor(np.atleast_1d(np.asarray(value)).astype(dtype.np), device=device)


def quantize_per_tensor(input: Tensor, scale: float, zero_point: int, dtype: Any = qint8, *,
                        quant_min: int = -128, quant_max: int = 127) -> QTensor:
    """``clamp(rint(input / scale) + zero_point)`` as a per-tensor :class:`QTensor` (``torch.quantize_per_tensor``;
    ``quant_min``/``quant_max`` narrow the range, e.g. -8..7 for 4 bits).

    >>> import neurarust as nr
    >>> from neurarust import quantization as Q
    >>> Q.quantize_per_tensor(nr.tensor([0.26, 9.0]), 0.1, 0, quant_min=-8, quant_max=7).int_repr().tolist()
    [3, 7]
    """
    _check_qdtype(dtype)
    s, z = _as_vector(scale, _dt.float32, input.device), _as_vector(zero_point, _dt.int32, input.device)
    return QTensor(call("quantize_affine", input, s, z, None, quant_min, quant_max), s, z, None, quant_min, quant_max)


def quantize_per_channel(input: Tensor, scales: Tensor | Sequence[float], zero_points: Tensor | Sequence[int],
                         axis: int, dtype: Any = qint8, *, quant_min: int = -128, quant_max: int = 127) -> QTensor:
    """Per-channel quantization along ``axis`` (``torch.quantize_per_channel``).

    >>> import neurarust as nr
    >>> from neurarust import quantization as Q
    >>> Q.quantize_per_channel(nr.tensor([[1.0, 1.0]]), [0.5, 0.25], [0, 1], 1).int_repr().tolist()
    [[2, 5]]
    """
    _check_qdtype(dtype)
    axis = axis % input.ndim
    s, z = _as_vector(scales, _dt.float32, input.device), _as_vector(zero_points, _dt.int32, input.device)
    return QTensor(call("quantize_affine", input, s, z, axis, quant_min, quant_max), s, z, axis, quant_min, quant_max)


def dequantize(input: "QTensor | Tensor") -> Tensor:
    """The float32 tensor a QTensor stands for (a float tensor is returned as it is).

    >>> import neurarust as nr
    >>> from neurarust import quantization as Q
    >>> Q.dequantize(Q.quantize_per_tensor(nr.tensor([0.5]), 0.25, 0)).tolist()
    [0.5]
    """
    return input.dequantize() if isinstance(input, QTensor) else input
