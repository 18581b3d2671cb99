"""int8 quantization (``torch.ao.quantization``'s names): quantized tensors, observers, fake
quantization, dynamic and static post-training quantization, quantization-aware training, and
checkpoints that keep the scales. The kernels behind it (an int8 x int8 -> int32 Triton matmul with
fused dequantize or requantize epilogues, per-token and per-channel quantization) are registry
entries in ``kernels/quantized.py``. See docs/quantization.md.

    >>> import neurarust as nr
    >>> from neurarust import quantization as Q
    >>> mlp = nr.nn.Sequential(nr.nn.Linear(8, 16), nr.nn.ReLU(), nr.nn.Linear(16, 4))
    >>> q = Q.quantize_dynamic(mlp, {nr.nn.Linear}, dtype=Q.qint8)
    >>> x = nr.randn(3, 8)
    >>> bool((q(x) - mlp(x)).abs().max() < 0.05)
    True
"""
from __future__ import annotations

from .fake_quantize import FakeQuantize, fake_quantize_per_channel_affine, fake_quantize_per_tensor_affine
from .modules import (Conv2d, DeQuantize, DeQuantStub, DynamicLinear, DynamicLSTM, Linear, Quantize,
                      QuantizedFallback, QuantizedPassThrough, QuantStub, QuantWrapper, im2col, quantize_weight,
                      size_on_disk)
from .observer import (HistogramObserver, MinMaxObserver, MovingAverageMinMaxObserver,
                       MovingAveragePerChannelMinMaxObserver, ObserverBase, PercentileObserver,
                       PerChannelMinMaxObserver, PlaceholderObserver, default_histogram_observer, default_observer,
                       default_per_channel_weight_observer, default_weight_observer)
from .qconfig import (QConfig, default_dynamic_qconfig, default_per_channel_qconfig, default_qconfig,
                      get_default_qat_qconfig, get_default_qconfig)
from .qtensor import (QDType, QTensor, dequantize, per_channel_affine, per_channel_symmetric, per_tensor_affine,
                      per_tensor_symmetric, qint8, quantize_per_channel, quantize_per_tensor)
from .quantize import (QATConv2d, QATLinear, calibrate, convert, prepare, prepare_qat, propagate_qconfig_,
                       quantize_dynamic)
from .serialization import load, save

__all__ = ["FakeQuantize", "fake_quantize_per_channel_affine", "fake_quantize_per_tensor_affine", "Conv2d",
           "DeQuantize", "DeQuantStub", "DynamicLinear", "DynamicLSTM", "Linear", "Quantize", "QuantizedFallback",
           "QuantizedPassThrough", "QuantStub", "QuantWrapper", "im2col", "quantize_weight", "size_on_disk",
           "HistogramObserver", "MinMaxObserver", "MovingAverageMinMaxObserver",
           "MovingAveragePerChannelMinMaxObserver", "ObserverBase", "PercentileObserver", "PerChannelMinMaxObserver",
           "PlaceholderObserver", "default_histogram_observer", "default_observer",
           "default_per_channel_weight_observer", "default_weight_observer", "QConfig", "default_dynamic_qconfig",
           "default_per_channel_qconfig", "default_qconfig", "get_default_qat_qconfig", "get_default_qconfig",
           "QDType", "QTensor", "dequantize", "per_channel_affine", "per_channel_symmetric", "per_tensor_affine",
           "per_tensor_symmetric", "qint8", "quantize_per_channel", "quantize_per_tensor", "QATConv2d", "QATLinear",
           "calibrate", "convert", "prepare", "prepare_qat", "propagate_qconfig_", "quantize_dynamic", "load", "save"]
