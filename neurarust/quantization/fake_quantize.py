"""Fake quantization for quantization-aware training: ``x -> dequantize(quantize(x))`` in the forward
pass, the straight-through estimator in the backward pass (the gradient passes unchanged where ``x``
lies inside the quantization range and is zero where it was clamped), as
``torch.fake_quantize_per_tensor_affine`` and ``torch.ao.quantization.FakeQuantize``::

    >>> import neurarust as nr
    >>> from neurarust.quantization import fake_quantize_per_tensor_affine
    >>> x = nr.tensor([0.26, 2.0], requires_grad=True)
    >>> y = fake_quantize_per_tensor_affine(x, 0.1, 0, -8, 7)
    >>> y.sum().backward()
    >>> [round(v, 4) for v in y.tolist()], x.grad.tolist()
    ([0.3, 0.7], [1.0, 0.0])
"""
from __future__ import annotations

from typing import Any

from neurarust import dtype as _dt
from neurarust.autograd.function import Function
from neurarust.creation import tensor as _tensor
from neurarust.nn.module import Module
from neurarust.registry import call
from neurarust.tensor import Tensor

from .observer import MovingAverageMinMaxObserver, ObserverBase, with_args
from .qtensor import _as_vector


def _channel_view(v: Tensor, ndim: int, axis: int | None) -> Tensor:
    return v if axis is None else v.reshape((-1,) + (1,) * (ndim - axis - 1))


class _FakeQuantize(Function):
    """Quantize-dequantize forward; straight-through (masked to the range) backward."""

    @staticmethod
    def forward(ctx, x: Tensor, scale: Tensor, zero_point: Tensor, axis: int | None, qmin: int, qmax: int) -> Tensor:
        q = call("quantize_affine", x, scale, zero_point, axis, qmin, qmax)
        y = call("dequantize_affine", q, scale, zero_point, axis)
        inv = _channel_view(1.0 / scale, x.ndim, axis)
        r = (x.to(_dt.float32) * inv).round() + _channel_view(zero_point.to(_dt.float32), x.ndim, axis)
        ctx.save_for_backward(((r >= qmin) & (r <= qmax)).to(x.dtype))
        return y.to(x.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (mask,) = ctx.saved_tensors
        return grad * mask, None, None, None, None, None


def fake_quantize_per_tensor_affine(input: Tensor, scale: float, zero_point: int, quant_min: int,
                                    quant_max: int) -> Tensor:
    """``(clamp(rint(input / scale) + zero_point) - zero_point) * scale`` with straight-through gradients.

    >>> import neurarust as nr
    >>> from neurarust.quantization import fake_quantize_per_tensor_affine
    >>> fake_quantize_per_tensor_affine(nr.tensor([0.74]), 0.5, 0, -128, 127).tolist()
    [0.5]
    """
    s, z = _as_vector(scale, _dt.float32, input.device), _as_vector(zero_point, _dt.int32, input.device)
    return _FakeQuantize.apply(input, s, z, None, quant_min, quant_max)


def fake_quantize_per_channel_affine(input: Tensor, scale: Tensor, zero_point: Tensor, axis: int, quant_min: int,
                                     quant_max: int) -> Tensor:
    """Per-channel :func:`fake_quantize_per_tensor_affine` along ``axis``.

    >>> import neurarust as nr
    >>> from neurarust.quantization import fake_quantize_per_channel_affine
    >>> fake_quantize_per_channel_affine(nr.tensor([[0.74, 0.74]]), nr.tensor([0.5, 0.25]),
    ...                                  nr.tensor([0, 0]), 1, -128, 127).tolist()
    [[0.5, 0.75]]
    """
    s, z = _as_vector(scale, _dt.float32, input.device), _as_vector(zero_point, _dt.int32, input.device)
    return _FakeQuantize.apply(input, s, z, axis % input.ndim, quant_min, quant_max)


class FakeQuantize(Module):
    """An observer followed by fake quantization with its current parameters
    (``torch.ao.quantization.FakeQuantize``): while training, every batch updates the observer and
    is fake-quantized, so the model learns weights and activations that survive int8 (or 4-bit).

    >>> import neurarust as nr
    >>> from neurarust.quantization import FakeQuantize, MovingAverageMinMaxObserver
    >>> fq = FakeQuantize(MovingAverageMinMaxObserver, quant_min=-8, quant_max=7)
    >>> [round(v, 3) for v in fq(nr.tensor([-1.0, 0.1, 1.0])).tolist()]
    [-0.933, 0.133, 0.933]
    """

    def __init__(self, observer: Any = MovingAverageMinMaxObserver, quant_min: int | None = None,
                 quant_max: int | None = None, **observer_kwargs: Any) -> None:
        super().__init__()
        if quant_min is not None:
            observer_kwargs.update(quant_min=quant_min, quant_max=quant_max)
        self.activation_post_process: ObserverBase = observer(**observer_kwargs)
        obs = self.activation_post_process
        self.quant_min, self.quant_max = obs.quant_min, obs.quant_max
        self.qscheme, self.dtype = obs.qscheme, obs.dtype
        self.ch_axis = getattr(obs, "ch_axis", None)
        self.register_buffer("fake_quant_enabled", _tensor([1], dtype=_dt.uint8))
        self.register_buffer("observer_enabled", _tensor([1], dtype=_dt.uint8))
        self.register_buffer("scale", _tensor([1.0]))
        self.register_buffer("zero_point", _tensor([0], dtype=_dt.int32))

    with_args = classmethod(with_args)

    def enable_fake_quant(self, enabled: bool = True) -> "FakeQuantize":
        self.fake_quant_enabled = _tensor([int(enabled)], dtype=_dt.uint8)
        return self

    def disable_fake_quant(self) -> "FakeQuantize":
        return self.enable_fake_quant(False)

    def enable_observer(self, enabled: bool = True) -> "FakeQuantize":
        self.observer_enabled = _tensor([int(enabled)], dtype=_dt.uint8)
        return self

    def disable_observer(self) -> "FakeQuantize":
        return self.enable_observer(False)

    def calculate_qparams(self) -> tuple[Tensor, Tensor]:
        """The observer's current ``(scale, zero_point)``."""
        return self.activation_post_process.calculate_qparams()

    def forward(self, x: Tensor) -> Tensor:
        if int(self.observer_enabled.item()):
            self.activation_post_process(x.detach())
            self.scale, self.zero_point = self.calculate_qparams()
        if not int(self.fake_quant_enabled.item()):
            return x
        axis = None if self.ch_axis is None else self.ch_axis % x.ndim
        return _FakeQuantize.apply(x, self.scale.to(x.device), self.zero_point.to(x.device), axis, self.quant_min,
                                   self.quant_max)

    def extra_repr(self) -> str:
        return f"quant_min={self.quant_min}, quant_max={self.quant_max}, qscheme={self.qscheme}"
