"""``QConfig``: which observer (or fake-quantize) factory watches a module's activations and which its
weights, as ``torch.ao.quantization.QConfig``. Set ``model.qconfig`` (or a submodule's) before
:func:`~neurarust.quantization.prepare`; children inherit it::

    >>> from neurarust.quantization import get_default_qconfig
    >>> qc = get_default_qconfig()
    >>> type(qc.activation()).__name__, type(qc.weight()).__name__
    ('HistogramObserver', 'PerChannelMinMaxObserver')
"""
from __future__ import annotations

from typing import Any, NamedTuple

from .fake_quantize import FakeQuantize
from .observer import (HistogramObserver, MinMaxObserver, MovingAverageMinMaxObserver,
                       MovingAveragePerChannelMinMaxObserver, PerChannelMinMaxObserver, PlaceholderObserver)
from .qtensor import per_channel_symmetric, per_tensor_affine, per_tensor_symmetric


class QConfig(NamedTuple):
    """Factories (called with no arguments) for the activation and the weight observers."""

    activation: Any
    weight: Any


def get_default_qconfig(backend: str = "x86", weight_bits: int = 8) -> QConfig:
    """Static post-training quantization: histogram-calibrated affine int8 activations, symmetric
    per-channel int8 weights (``weight_bits=4`` confines them to -8..7).

    >>> from neurarust.quantization import get_default_qconfig
    >>> get_default_qconfig(weight_bits=4).weight().quant_max
    7
    """
    qmax = 2 ** (weight_bits - 1) - 1
    return QConfig(activation=HistogramObserver.with_args(qscheme=per_tensor_affine),
                   weight=PerChannelMinMaxObserver.with_args(qscheme=per_channel_symmetric, quant_min=-qmax - 1,
                                                             quant_max=qmax))


def get_default_qat_qconfig(backend: str = "x86", weight_bits: int = 8) -> QConfig:
    """Quantization-aware training: moving-average affine int8 activations and symmetric per-channel
    weights (``weight_bits`` bits), both fake-quantized.

    >>> from neurarust.quantization import get_default_qat_qconfig
    >>> type(get_default_qat_qconfig().weight()).__name__
    'FakeQuantize'
    """
    qmax = 2 ** (weight_bits - 1) - 1
    return QConfig(activation=FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, qscheme=per_tensor_affine),
                   weight=FakeQuantize.with_args(observer=MovingAveragePerChannelMinMaxObserver,
                                                 qscheme=per_channel_symmetric, quant_min=-qmax - 1, quant_max=qmax))


default_qconfig = QConfig(activation=MinMaxObserver.with_args(), weight=MinMaxObserver.with_args(
    qscheme=per_tensor_symmetric))
default_per_channel_qconfig = QConfig(activation=MinMaxObserver.with_args(),
                                      weight=PerChannelMinMaxObserver.with_args(qscheme=per_channel_symmetric))
default_dynamic_qconfig = QConfig(activation=PlaceholderObserver.with_args(),
                                  weight=PerChannelMinMaxObserver.with_args(qscheme=per_channel_symmetric))
