"""Quantized modules that :func:`~neurarust.quantization.convert` and
:func:`~neurarust.quantization.quantize_dynamic` put in place of float ones, and the stubs that mark
where a model's quantized region starts and ends.

Weights are int8 (symmetric: zero point 0) with one float32 scale per output channel, held as
buffers, so ``state_dict()`` is a flat dict of tensors that ``nr.save`` writes as safetensors.

- :class:`DynamicLinear`, :class:`DynamicLSTM`: float in, float out; each activation row is
  quantized at run time (``quantize_per_token``) and the int8 matmul dequantizes in its epilogue.
- :class:`Linear`, :class:`Conv2d`: :class:`QTensor` in, :class:`QTensor` out; the int8 matmul's
  epilogue adds the int32 bias and requantizes to the output scale and zero point observed during
  calibration. ``Conv2d`` lowers to the same matmul through im2col.
- :class:`Quantize` / :class:`DeQuantize` (what :class:`QuantStub` / :class:`DeQuantStub` become),
  :class:`QuantizedPassThrough`, which runs ReLU, max pooling, flatten and dropout on the int8 values
  directly, and :class:`QuantizedFallback`, which runs any other float module between dequantizing
  its input and quantizing its output.

    >>> import neurarust as nr
    >>> from neurarust.quantization import DynamicLinear
    >>> fc = nr.nn.Linear(4, 3)
    >>> q = DynamicLinear.from_float(fc)
    >>> x = nr.randn(2, 4)
    >>> bool((q(x) - fc(x)).abs().max() < 0.05), q.weight.dtype
    (True, neurarust.int8)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from neurarust import dtype as _dt
from neurarust.autograd.grad_mode import no_grad
from neurarust.creation import full
from neurarust.creation import tensor as _tensor
from neurarust.errors import ArgumentError
from neurarust.nn.activation import ReLU
from neurarust.nn.module import Module
from neurarust.nn.rnn import LSTM as _FloatLSTM
from neurarust.registry import call
from neurarust.tensor import Tensor

from .observer import PerChannelMinMaxObserver
from .qtensor import QTensor, per_channel_symmetric, quantize_per_tensor

_default_weight_observer = PerChannelMinMaxObserver.with_args(qscheme=per_channel_symmetric)


def quantize_weight(weight: Tensor, observer: Any = None) -> tuple[Tensor, Tensor, int, int]:
    """``(int8 weight, float32 scale per output channel, quant_min, quant_max)``: symmetric, the scales
    from ``observer`` (an observer or FakeQuantize instance; default: per-channel min/max)."""
    obs = observer if observer is not None else _default_weight_observer()
    with no_grad():
        w = weight.detach().to(_dt.float32)
        if hasattr(obs, "activation_post_process"):  # a FakeQuantize: its observer has seen the weights
            obs.activation_post_process(w)
            scale, zero_point = obs.activation_post_process.calculate_qparams()
        else:
            obs(w)
            scale, zero_point = obs.calculate_qparams()
    if bool((zero_point != 0).any().item()):
        raise ArgumentError("quantized weights must be symmetric (zero point 0): use a per_tensor_symmetric or "
                            "per_channel_symmetric weight observer")
    scale = scale.reshape(-1).expand(weight.shape[0]).contiguous() if scale.numel() == 1 else scale.reshape(-1)
    q = call("quantize_affine", w, scale, full((weight.shape[0],), 0, dtype=_dt.int32, device=w.device), 0,
             obs.quant_min, obs.quant_max)
    return q, scale.to(w.device), obs.quant_min, obs.quant_max


def _set_weight(module: Module, weight: Tensor, bias: Tensor | None, observer: Any) -> None:
    q, scale, module.quant_min, module.quant_max = quantize_weight(weight, observer)
    module.register_buffer("weight", q)
    module.register_buffer("weight_scale", scale)
    module.register_buffer("bias", None if bias is None else bias.detach().to(_dt.float32).clone())


def _dynamic_linear(x: Tensor, weight: Tensor, weight_scale: Tensor, bias: Tensor | None) -> Tensor:
    """``x @ weight.T + bias`` with ``x``'s rows quantized at run time; any leading dims."""
    lead, k = tuple(x.shape[:-1]), x.shape[-1]
    q, s = call("quantize_per_token", x.reshape(-1, k).to(_dt.float32))
    y = call("int8_linear", q, weight, s, weight_scale, bias)
    return y.reshape(*lead, weight.shape[0]).to(x.dtype)


class DynamicLinear(Module):
    """``nn.Linear`` with int8 weights and activations quantized per row at run time
    (``torch.ao.nn.quantized.dynamic.Linear``). See the module docstring for an example."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        _set_weight(self, full((out_features, in_features), 0.0), full((out_features,), 0.0) if bias else None, None)

    @classmethod
    def from_float(cls, mod: Module, weight_observer: Any = None) -> "DynamicLinear":
        """The quantized copy of float ``mod`` (an ``nn.Linear``)."""
        new = cls.__new__(cls)
        Module.__init__(new)
        new.in_features, new.out_features = mod.in_features, mod.out_features
        _set_weight(new, mod.weight, mod.bias, weight_observer)
        return new

    def forward(self, input: Tensor) -> Tensor:
        return _dynamic_linear(input, self.weight, self.weight_scale, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"weight=qint8[{self.quant_min}, {self.quant_max}]")


class DynamicLSTM(_FloatLSTM):
    """``nn.LSTM`` whose input, hidden and projection matmuls are dynamic int8 products
    (``torch.ao.nn.quantized.dynamic.LSTM``); the layers, directions, packed sequences and states are
    ``nn.LSTM``'s own code, only the step differs.

    >>> import neurarust as nr
    >>> from neurarust.quantization import DynamicLSTM
    >>> lstm = nr.nn.LSTM(3, 4, batch_first=True)
    >>> x = nr.randn(2, 5, 3)
    >>> bool((DynamicLSTM.from_float(lstm)(x)[0] - lstm(x)[0]).abs().max() < 0.05)
    True
    """

    @classmethod
    def from_float(cls, mod: _FloatLSTM, weight_observer: Any = None) -> "DynamicLSTM":
        """The quantized copy of float ``mod``."""
        new = cls.__new__(cls)  # no float parameters made (nor random numbers drawn) only to be replaced
        Module.__init__(new)
        for attr in ("mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                     "bidirectional", "proj_size"):
            setattr(new, attr, getattr(mod, attr))
        new._flat_weights_names = list(mod._flat_weights_names)
        for name in mod._flat_weights_names:
            value = getattr(mod, name)
            if name.startswith("weight"):
                q, scale, new.quant_min, new.quant_max = quantize_weight(value, weight_observer)
                new.register_buffer(name, q)
                new.register_buffer(name + "_scale", scale)
            else:
                new.register_buffer(name, value.detach().to(_dt.float32).clone())
        return new

    def _weights(self, layer: int, d: int) -> tuple:
        sfx = f"_l{layer}" + ("_reverse" if d else "")

        def get(name: str):
            w = getattr(self, name + sfx, None)
            return None if w is None or not name.startswith("weight") else (w, getattr(self, name + sfx + "_scale"))

        return get("weight_ih"), getattr(self, "bias_ih" + sfx, None), get("weight_hh"), \
            getattr(self, "bias_hh" + sfx, None), get("weight_hr")

    def _direction(self, x: Tensor, state: list, weights: tuple, reverse: bool, masks: Any) -> tuple:
        w_ih, b_ih, w_hh, b_hh, w_hr = weights
        gi = _dynamic_linear(x, *w_ih, b_ih)
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outs = [None] * x.shape[0]
        h, c = state
        for t in steps:
            i, f, g, o = (gi[t] + _dynamic_linear(h, *w_hh, b_hh)).chunk(4, 1)
            c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h_new = o.sigmoid() * c_new.tanh()
            if w_hr is not None:
                h_new = _dynamic_linear(h_new, *w_hr, None)
            if masks is not None:  # finished rows keep their state and output zeros (nn.LSTM's rule)
                m = masks[t]
                h_new, c_new = h + m * (h_new - h), c + m * (c_new - c)
                outs[t] = h_new * m
            else:
                outs[t] = h_new
            h, c = h_new, c_new
        return call("stack", outs, 0), [h, c]


# ----------------------------------------------------------------------------------------------
# Static quantization: QTensor in, QTensor out
# ----------------------------------------------------------------------------------------------

class _Requantized(Module):
    """Shared by static Linear and Conv2d: int8 weights, float bias, output scale and zero point, and
    the per-input-scale requantization parameters (int32 bias, float32 multiplier), cached."""

    def _init_static(self, weight: Tensor, bias: Tensor | None, weight_observer: Any, scale: Tensor,
                     zero_point: Tensor) -> None:
        _set_weight(self, weight, bias, weight_observer)
        self.register_buffer("scale", scale.reshape(1).to(_dt.float32))
        self.register_buffer("zero_point", zero_point.reshape(1).to(_dt.int32))
        self._requant: dict = {}

    def _weight_2d(self) -> Tensor:
        return self.weight.reshape(self.weight.shape[0], -1)

    def _requant_params(self, x: QTensor) -> tuple[Tensor | None, Tensor]:
        """``(int32 bias, float32 multiplier)`` for input scale s and zero point z:
        ``bias / (s * w_scale) - z * sum_k w`` (the input zero point folded in) and ``s * w_scale / out_scale``."""
        # Keyed on the input's parameters and on the buffers' identity and version: loading a state
        # dict (which copies into them or replaces them) invalidates it.
        state = tuple((id(t), t._version) for t in (self.weight, self.weight_scale, self.bias, self.scale)
                      if t is not None)
        key = (x.q_scale(), x.q_zero_point(), state)
        cached = getattr(self, "_requant", {}).get(key)
        if cached is not None:
            return cached
        s_in, z_in = np.float32(key[0]), key[1]
        w_scale = self.weight_scale.numpy(force=True).astype(np.float32)
        acc_scale = (s_in * w_scale).astype(np.float32)
        multiplier = (acc_scale / np.float32(self.scale.item())).astype(np.float32)
        col_sums = self._weight_2d().numpy(force=True).astype(np.int64).sum(axis=1)
        bias = -z_in * col_sums
        if self.bias is not None:
            bias = bias + np.rint(self.bias.numpy(force=True).astype(np.float32) / acc_scale).astype(np.int64)
        device = self.weight.device
        params = (_tensor(bias.astype(np.int32), device=device) if (bias != 0).any() or self.bias is not None
                  else None, _tensor(multiplier, device=device))
        self._requant = {key: params}
        return params

    def _matmul(self, cols: Tensor, x: QTensor) -> Tensor:
        bias, multiplier = self._requant_params(x)
        return call("int8_linear_requant", cols, self._weight_2d(), bias, multiplier, int(self.zero_point.item()))

    def _out(self, values: Tensor) -> QTensor:
        return QTensor(values, self.scale, self.zero_point)


class Linear(_Requantized):
    """Static int8 ``nn.Linear`` (``torch.ao.nn.quantized.Linear``): QTensor in, QTensor out at the
    observed output scale and zero point.

    >>> import neurarust as nr
    >>> from neurarust import quantization as Q
    >>> fc = nr.nn.Linear(4, 3)
    >>> q = Q.Linear.from_float(fc, nr.tensor([0.05]), nr.tensor([0]))
    >>> x = nr.randn(2, 4)
    >>> y = q(Q.quantize_per_tensor(x, 0.03, 0))
    >>> bool((y.dequantize() - fc(x)).abs().max() < 0.15)
    True
    """

    @classmethod
    def from_float(cls, mod: Module, scale: Tensor, zero_point: Tensor, weight_observer: Any = None) -> "Linear":
        """``mod`` (an ``nn.Linear``) quantized, producing outputs at ``scale``/``zero_point``."""
        new = cls()
        new.in_features, new.out_features = mod.in_features, mod.out_features
        new._init_static(mod.weight, mod.bias, weight_observer, scale, zero_point)
        return new

    def forward(self, x: QTensor) -> QTensor:
        q = x.int_repr()
        out = self._matmul(q.reshape(-1, q.shape[-1]), x)
        return self._out(out.reshape(*q.shape[:-1], self.out_features))

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, scale={self.scale.item():.4g}, "
                f"zero_point={int(self.zero_point.item())}")


def im2col(q: Tensor, fill: int, kernel_size: tuple, stride: tuple, padding: tuple, dilation: tuple) -> tuple:
    """``(cols, (N, OH, OW))``: the ``(N*OH*OW, C*kh*kw)`` patches of ``q`` ``(N, C, H, W)``, padded with
    ``fill`` (an int8 input's zero point stands for 0.0), each row ordered as a conv weight's ``(C, kh, kw)``.

    >>> import neurarust as nr
    >>> cols, dims = im2col(nr.arange(4, dtype=nr.int8).reshape(1, 1, 2, 2), 0, (2, 2), (1, 1), (0, 0), (1, 1))
    >>> cols.tolist(), dims
    ([[0, 1, 2, 3]], (1, 1, 1))
    """
    N, C, H, W = q.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    OH = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    OW = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if ph or pw:
        padded = full((N, C, H + 2 * ph, W + 2 * pw), fill, dtype=_dt.int8, device=q.device)
        padded[:, :, ph:ph + H, pw:pw + W] = q
    else:
        padded = q
    taps = [padded[:, :, i * dh:i * dh + sh * (OH - 1) + 1:sh, j * dw:j * dw + sw * (OW - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]
    cols = call("stack", taps, 2).permute(0, 3, 4, 1, 2).reshape(N * OH * OW, C * kh * kw)
    return cols, (N, OH, OW)


class Conv2d(_Requantized):
    """Static int8 ``nn.Conv2d`` (``torch.ao.nn.quantized.Conv2d``; zeros padding, groups=1): im2col of
    the int8 input, then the int8 matmul with requantization fused.

    >>> import neurarust as nr
    >>> from neurarust import quantization as Q
    >>> conv = nr.nn.Conv2d(2, 3, 3, padding=1)
    >>> q = Q.Conv2d.from_float(conv, nr.tensor([0.05]), nr.tensor([0]))
    >>> x = nr.rand(1, 2, 5, 5)
    >>> y = q(Q.quantize_per_tensor(x, 1 / 255, -128))
    >>> y.shape, bool((y.dequantize() - conv(x)).abs().max() < 0.1)
    (neurarust.Size([1, 3, 5, 5]), True)
    """

    @classmethod
    def from_float(cls, mod: Module, scale: Tensor, zero_point: Tensor, weight_observer: Any = None) -> "Conv2d":
        """``mod`` (an ``nn.Conv2d``) quantized, producing outputs at ``scale``/``zero_point``."""
        if mod.groups != 1 or mod.padding_mode != "zeros" or isinstance(mod.padding, str):
            raise ArgumentError(f"quantized Conv2d supports groups=1 and numeric zeros padding; got groups="
                                f"{mod.groups}, padding={mod.padding!r}, padding_mode={mod.padding_mode!r}")
        new = cls()
        new.in_channels, new.out_channels = mod.in_channels, mod.out_channels
        new.kernel_size, new.stride, new.padding, new.dilation = mod.kernel_size, mod.stride, mod.padding, mod.dilation
        new._init_static(mod.weight, mod.bias, weight_observer, scale, zero_point)
        return new

    def forward(self, x: QTensor) -> QTensor:
        q = x.int_repr()
        batched = q.ndim == 4
        cols, (N, OH, OW) = im2col(q if batched else q.unsqueeze(0), x.q_zero_point(), self.kernel_size, self.stride,
                                   self.padding, self.dilation)
        out = self._matmul(cols, x).reshape(N, OH, OW, self.out_channels).permute(0, 3, 1, 2).contiguous()
        return self._out(out if batched else out.squeeze(0))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, scale={self.scale.item():.4g}, zero_point={int(self.zero_point.item())}")


# ----------------------------------------------------------------------------------------------
# Stubs and the boundary modules
# ----------------------------------------------------------------------------------------------

class QuantStub(Module):
    """Marks where quantized computation starts: the identity until :func:`convert` makes it a
    :class:`Quantize` with the scale observed there.

    >>> import neurarust as nr
    >>> from neurarust.quantization import QuantStub
    >>> QuantStub()(nr.ones(1)).tolist()
    [1.0]
    """

    def __init__(self, qconfig: Any = None) -> None:
        super().__init__()
        if qconfig is not None:
            self.qconfig = qconfig

    def forward(self, x: Tensor) -> Tensor:
        return x


class DeQuantStub(Module):
    """Marks where quantized computation ends (becomes :class:`DeQuantize`).

    >>> import neurarust as nr
    >>> from neurarust.quantization import DeQuantStub
    >>> DeQuantStub()(nr.ones(1)).tolist()
    [1.0]
    """

    def __init__(self, qconfig: Any = None) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class QuantWrapper(Module):
    """``dequant(module(quant(x)))``: a float model with its whole body marked for quantization.

    >>> import neurarust as nr
    >>> from neurarust.quantization import QuantWrapper
    >>> QuantWrapper(nr.nn.ReLU())(nr.tensor([-1.0])).tolist()
    [0.0]
    """

    def __init__(self, module: Module) -> None:
        super().__init__()
        qconfig = getattr(module, "qconfig", None)
        self.quant, self.dequant, self.module = QuantStub(qconfig), DeQuantStub(qconfig), module

    def forward(self, x: Any) -> Any:
        return self.dequant(self.module(self.quant(x)))


class Quantize(Module):
    """Float in, per-tensor QTensor out at a fixed scale and zero point.

    >>> import neurarust as nr
    >>> from neurarust.quantization import Quantize
    >>> Quantize(0.5, 1)(nr.tensor([1.0])).int_repr().tolist()
    [3]
    """

    def __init__(self, scale: float | Tensor, zero_point: int | Tensor, dtype: Any = None) -> None:
        super().__init__()
        self.register_buffer("scale", _tensor(float(scale)).reshape(1))
        self.register_buffer("zero_point", _tensor(int(zero_point), dtype=_dt.int32).reshape(1))

    def forward(self, x: Tensor) -> QTensor:
        return quantize_per_tensor(x, self.scale.to(x.device), self.zero_point.to(x.device))

    def extra_repr(self) -> str:
        return f"scale={self.scale.item():.4g}, zero_point={int(self.zero_point.item())}"


class DeQuantize(Module):
    """QTensor in, float32 out.

    >>> import neurarust as nr
    >>> from neurarust.quantization import DeQuantize, Quantize
    >>> DeQuantize()(Quantize(0.5, 1)(nr.tensor([1.0]))).tolist()
    [1.0]
    """

    def forward(self, x: Any) -> Tensor:
        return x.dequantize() if isinstance(x, QTensor) else x


class QuantizedFallback(Module):
    """A float module inside a quantized region: dequantizes its QTensor inputs, runs ``module``, and
    quantizes its output at the scale and zero point observed there.

    >>> import neurarust as nr
    >>> from neurarust.quantization import QuantizedFallback, quantize_per_tensor
    >>> relu = QuantizedFallback(nr.nn.ReLU(), nr.tensor([0.5]), nr.tensor([0]))
    >>> relu(quantize_per_tensor(nr.tensor([-1.0, 1.0]), 0.5, 0)).int_repr().tolist()
    [0, 2]
    """

    def __init__(self, module: Module, scale: Tensor, zero_point: Tensor) -> None:
        super().__init__()
        self.module = module
        self.register_buffer("scale", scale.reshape(1).to(_dt.float32))
        self.register_buffer("zero_point", zero_point.reshape(1).to(_dt.int32))

    def forward(self, *args: Any) -> Any:
        out = self.module(*[a.dequantize() if isinstance(a, QTensor) else a for a in args])
        if not isinstance(out, Tensor) or not out.dtype.is_floating_point:
            return out
        return quantize_per_tensor(out, self.scale.to(out.device), self.zero_point.to(out.device))


class QuantizedPassThrough(Module):
    """A module that commutes with quantization (``ReLU``, max pooling, ``Flatten``, ``Dropout`` in eval,
    ``Identity``) run on the int8 values themselves: the output keeps the input's scale and zero
    point, exactly, with no requantization (``ReLU`` becomes ``max(q, zero_point)``).

    >>> import neurarust as nr
    >>> from neurarust.quantization import QuantizedPassThrough, quantize_per_tensor
    >>> relu = QuantizedPassThrough(nr.nn.ReLU())
    >>> relu(quantize_per_tensor(nr.tensor([-1.0, 1.0]), 0.5, 3)).int_repr().tolist()
    [3, 5]
    """

    def __init__(self, module: Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: QTensor) -> QTensor:
        values = x.int_repr().to(_dt.float32)  # int8 values are exact in float32; max/reshape keep them
        if isinstance(self.module, ReLU):
            out = values.clamp(min=float(x.q_zero_point()))
        else:
            out = self.module(values)
        return x.with_values(out.to(_dt.int8))


def size_on_disk(module: Module) -> int:
    """Bytes of ``module.state_dict()`` saved as safetensors (what ``nr.save`` writes).

    >>> import neurarust as nr
    >>> size_on_disk(nr.nn.Linear(100, 10)) > 4 * 1010
    True
    """
    import os
    import tempfile

    from neurarust.serialization import save

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.safetensors")
        save(module.state_dict(), path)
        return os.path.getsize(path)

