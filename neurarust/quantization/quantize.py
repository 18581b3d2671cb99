"""Model-level quantization workflows with ``torch.ao.quantization``'s eager-mode names:

- :func:`quantize_dynamic`: ``nn.Linear`` / ``nn.LSTM`` -> :class:`DynamicLinear` / :class:`DynamicLSTM`.
- static post-training quantization: set ``model.qconfig``; :func:`prepare` attaches an observer
  to the output of every leaf module (``activation_post_process``); run calibration data through it
  (:func:`calibrate`); :func:`convert` replaces ``QuantStub`` / ``Linear`` / ``Conv2d`` /
  ``DeQuantStub`` by their quantized versions and wraps every other observed module in
  :class:`QuantizedPassThrough` (ReLU, max pooling, flatten, dropout: run on the int8 values) or
  :class:`QuantizedFallback` (dequantize, run in float, quantize).
- quantization-aware training: :func:`prepare_qat` swaps ``Linear`` / ``Conv2d`` for
  :class:`QATLinear` / :class:`QATConv2d` (fake-quantized weights) and attaches fake-quantize modules
  to outputs; train; then :func:`convert`.

    >>> import neurarust as nr
    >>> from neurarust import quantization as Q
    >>> model = Q.QuantWrapper(nr.nn.Sequential(nr.nn.Linear(4, 8), nr.nn.ReLU(), nr.nn.Linear(8, 2)))
    >>> model.qconfig = Q.get_default_qconfig()
    >>> prepared = Q.prepare(model)
    >>> x = nr.randn(64, 4)
    >>> Q.calibrate(prepared, [x])
    >>> qmodel = Q.convert(prepared)
    >>> bool((qmodel(x) - model(x)).abs().max() < 0.1), type(qmodel.module[0]).__name__
    (True, 'Linear')
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

from neurarust.autograd.grad_mode import no_grad
from neurarust import dtype as _dt
from neurarust.errors import DTypeError
from neurarust.nn import functional as F
from neurarust.nn.activation import ReLU
from neurarust.nn.conv import Conv2d as _FloatConv2d
from neurarust.nn.dropout import Dropout
from neurarust.nn.linear import Flatten, Identity
from neurarust.nn.linear import Linear as _FloatLinear
from neurarust.nn.pooling import MaxPool1d, MaxPool2d
from neurarust.nn.module import Module
from neurarust.nn.rnn import LSTM as _FloatLSTM
from neurarust.tensor import Tensor

from .fake_quantize import FakeQuantize
from .modules import (Conv2d, DeQuantize, DeQuantStub, DynamicLinear, DynamicLSTM, Linear, Quantize,
                      QuantizedFallback, QuantizedPassThrough, QuantStub)
from .observer import ObserverBase
from .qtensor import qint8

_OBSERVED = "activation_post_process"


# ----------------------------------------------------------------------------------------------
# QAT modules: float layers whose weights are fake-quantized in the forward pass
# ----------------------------------------------------------------------------------------------

class QATLinear(_FloatLinear):
    """``nn.Linear`` with fake-quantized weights (``torch.ao.nn.qat.Linear``); gradients pass straight through.

    >>> import neurarust as nr
    >>> from neurarust.quantization import QATLinear, get_default_qat_qconfig
    >>> fc = nr.nn.Linear(3, 2)
    >>> fc.qconfig = get_default_qat_qconfig(weight_bits=4)
    >>> QATLinear.from_float(fc)(nr.ones(1, 3)).shape
    neurarust.Size([1, 2])
    """

    @classmethod
    def from_float(cls, mod: _FloatLinear) -> "QATLinear":
        """The QAT version of ``mod`` (sharing its parameters), with ``mod.qconfig``'s weight fake-quant."""
        new = cls.__new__(cls)
        Module.__init__(new)
        new.in_features, new.out_features = mod.in_features, mod.out_features
        new.weight, new.bias = mod.weight, mod.bias
        new.qconfig = mod.qconfig
        new.weight_fake_quant = mod.qconfig.weight()
        return new

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight_fake_quant(self.weight), self.bias)


class QATConv2d(_FloatConv2d):
    """``nn.Conv2d`` with fake-quantized weights (``torch.ao.nn.qat.Conv2d``).

    >>> import neurarust as nr
    >>> from neurarust.quantization import QATConv2d, get_default_qat_qconfig
    >>> conv = nr.nn.Conv2d(1, 2, 3)
    >>> conv.qconfig = get_default_qat_qconfig()
    >>> QATConv2d.from_float(conv)(nr.ones(1, 1, 4, 4)).shape
    neurarust.Size([1, 2, 2, 2])
    """

    @classmethod
    def from_float(cls, mod: _FloatConv2d) -> "QATConv2d":
        """The QAT version of ``mod`` (sharing its parameters), with ``mod.qconfig``'s weight fake-quant."""
        new = cls.__new__(cls)
        Module.__init__(new)
        for name in ("in_channels", "out_channels", "groups", "kernel_size", "stride", "dilation", "padding",
                     "output_padding", "padding_mode", "transposed"):
            setattr(new, name, getattr(mod, name))
        new.weight, new.bias = mod.weight, mod.bias
        new.qconfig = mod.qconfig
        new.weight_fake_quant = mod.qconfig.weight()
        return new

    def forward(self, input: Tensor) -> Tensor:
        return F.conv2d(input, self.weight_fake_quant(self.weight), self.bias, self.stride, self.padding,
                        self.dilation, self.groups)


# Modules that commute with quantization: converted to run on the int8 values, keeping their input's
# scale and zero point (their observers are dropped).
PASS_THROUGH = (ReLU, MaxPool1d, MaxPool2d, Flatten, Dropout, Identity)
QAT_MAPPINGS = {_FloatLinear: QATLinear, _FloatConv2d: QATConv2d}
DYNAMIC_MAPPINGS = {_FloatLinear: DynamicLinear, _FloatLSTM: DynamicLSTM}


# ----------------------------------------------------------------------------------------------
# prepare / calibrate / convert
# ----------------------------------------------------------------------------------------------

def propagate_qconfig_(module: Module, qconfig: Any = None) -> None:
    """Give every submodule without its own ``qconfig`` its parent's (in place).

    >>> import neurarust as nr
    >>> from neurarust.quantization import propagate_qconfig_, default_qconfig
    >>> m = nr.nn.Sequential(nr.nn.Linear(1, 1)); m.qconfig = default_qconfig
    >>> propagate_qconfig_(m); m[0].qconfig is default_qconfig
    True
    """
    own = getattr(module, "qconfig", None)
    qconfig = own if own is not None else qconfig
    module.qconfig = qconfig
    for child in module.children():
        propagate_qconfig_(child, qconfig)


def _observe_output(module: Module, args: tuple, output: Any) -> Any:
    return getattr(module, _OBSERVED)(output)


def _is_observer(module: Module) -> bool:
    return isinstance(module, (ObserverBase, FakeQuantize))


def _leaves(module: Module) -> Iterable[Module]:
    for m in module.modules():
        children = [c for name, c in m.named_children() if name not in (_OBSERVED, "weight_fake_quant")]
        if not children and not _is_observer(m):
            yield m


def _attach_observers(model: Module) -> None:
    for m in list(_leaves(model)):
        if getattr(m, "qconfig", None) is None or isinstance(m, DeQuantStub) or hasattr(m, "_observer_hook"):
            continue
        setattr(m, _OBSERVED, m.qconfig.activation())
        m._observer_hook = m.register_forward_hook(_observe_output)


def prepare(model: Module, inplace: bool = False) -> Module:
    """Attach an output observer (``qconfig.activation()``) to every leaf module under a ``qconfig``.

    >>> import neurarust as nr
    >>> from neurarust.quantization import prepare, default_qconfig
    >>> m = nr.nn.Sequential(nr.nn.Linear(2, 2)); m.qconfig = default_qconfig
    >>> type(prepare(m)[0].activation_post_process).__name__
    'MinMaxObserver'
    """
    model = model if inplace else copy.deepcopy(model)
    propagate_qconfig_(model)
    _attach_observers(model)
    return model


def prepare_qat(model: Module, inplace: bool = False) -> Module:
    """Swap ``Linear``/``Conv2d`` for their QAT versions and attach fake-quantize modules to outputs.

    >>> import neurarust as nr
    >>> from neurarust.quantization import prepare_qat, get_default_qat_qconfig
    >>> m = nr.nn.Sequential(nr.nn.Linear(2, 2)); m.qconfig = get_default_qat_qconfig()
    >>> type(prepare_qat(m)[0]).__name__
    'QATLinear'
    """
    model = model if inplace else copy.deepcopy(model)
    propagate_qconfig_(model)
    _swap(model, lambda m: QAT_MAPPINGS[type(m)].from_float(m)
          if type(m) in QAT_MAPPINGS and getattr(m, "qconfig", None) is not None else None)
    _attach_observers(model)
    return model.train()


def calibrate(model: Module, batches: Iterable[Any]) -> None:
    """Run ``batches`` (tensors, or ``(input, target)`` pairs) through a prepared model in eval mode,
    without gradients, so its observers see the data.

    >>> import neurarust as nr
    >>> from neurarust.quantization import prepare, calibrate, default_qconfig
    >>> m = nr.nn.Sequential(nr.nn.Linear(2, 2)); m.qconfig = default_qconfig
    >>> p = prepare(m); calibrate(p, [nr.ones(1, 2)])
    >>> p[0].activation_post_process.min_val.item() > float("-inf")
    True
    """
    model.eval()
    with no_grad():
        for batch in batches:
            model(batch[0] if isinstance(batch, (tuple, list)) else batch)


def _swap(module: Module, make) -> None:
    """Replace children (depth first) for which ``make(child)`` returns a module."""
    for name, child in list(module.named_children()):
        if name in (_OBSERVED, "weight_fake_quant"):
            continue
        new = make(child)
        if new is not None:
            module._modules[name] = new  # in place: a Sequential keeps its order
        else:
            _swap(child, make)


def _output_qparams(m: Module) -> tuple[Tensor, Tensor]:
    return getattr(m, _OBSERVED).calculate_qparams()


def _strip(m: Module) -> Module:
    """``m`` without its output observer and hook (the float module inside a fallback)."""
    if hasattr(m, "_observer_hook"):
        m._forward_hooks.pop(m._observer_hook.id, None)  # by id: a deep copy's handle points at the original
        del m._observer_hook
    if _OBSERVED in dict(m.named_children()):
        delattr(m, _OBSERVED)
    return m


def _convert_one(m: Module) -> Module | None:
    if isinstance(m, DeQuantStub):
        return DeQuantize()
    if not hasattr(m, "_observer_hook"):
        return None
    scale, zero_point = _output_qparams(m)
    weight_observer = getattr(m, "weight_fake_quant", None)
    if weight_observer is None and isinstance(m, (_FloatLinear, _FloatConv2d)):
        weight_observer = m.qconfig.weight()
    if isinstance(m, QuantStub):
        return Quantize(scale.item(), zero_point.item())
    if isinstance(m, _FloatLinear):
        return Linear.from_float(m, scale, zero_point, weight_observer)
    if isinstance(m, _FloatConv2d):
        return Conv2d.from_float(m, scale, zero_point, weight_observer)
    if isinstance(m, PASS_THROUGH):
        return QuantizedPassThrough(_strip(m))
    return QuantizedFallback(_strip(m), scale, zero_point)


def convert(model: Module, inplace: bool = False) -> Module:
    """The int8 model of a prepared (calibrated, or QAT-trained) one, in eval mode.

    >>> import neurarust as nr
    >>> from neurarust import quantization as Q
    >>> m = Q.QuantWrapper(nr.nn.Linear(2, 2)); m.qconfig = Q.default_qconfig
    >>> p = Q.prepare(m); Q.calibrate(p, [nr.randn(8, 2)])
    >>> [type(c).__name__ for c in Q.convert(p).children()]
    ['Quantize', 'DeQuantize', 'Linear']
    """
    model = model if inplace else copy.deepcopy(model)
    model.eval()
    with no_grad():
        new = _convert_one(model)
        if new is not None:
            return new
        _swap(model, _convert_one)
    return model


def quantize_dynamic(model: Module, qconfig_spec: Any = None, dtype: Any = qint8, mapping: dict | None = None,
                     inplace: bool = False) -> Module:
    """``model`` with its ``nn.Linear`` and ``nn.LSTM`` layers (or those of the types in
    ``qconfig_spec``) replaced by dynamic int8 ones (``torch.ao.quantization.quantize_dynamic``;
    ``dtype`` is ``qint8``, or ``nr.int8``).

    >>> import neurarust as nr
    >>> from neurarust.quantization import quantize_dynamic, qint8
    >>> m = nr.nn.Sequential(nr.nn.Linear(4, 4), nr.nn.ReLU())
    >>> q = quantize_dynamic(m, {nr.nn.Linear}, dtype=qint8)
    >>> type(q[0]).__name__, bool((q(nr.ones(1, 4)) - m(nr.ones(1, 4))).abs().max() < 0.05)
    ('DynamicLinear', True)
    """
    if dtype is not qint8 and dtype is not _dt.int8:
        raise DTypeError(f"quantize_dynamic: only qint8 is supported, got {dtype!r}")
    mapping = dict(mapping or DYNAMIC_MAPPINGS)
    types = set(mapping) if qconfig_spec is None else {t for t in qconfig_spec if isinstance(t, type)}
    model = model if inplace else copy.deepcopy(model)

    def make(m: Module) -> Module | None:
        cls = mapping.get(type(m))
        return cls.from_float(m) if cls is not None and type(m) in types else None

    with no_grad():
        new = make(model)
        if new is not None:
            return new
        _swap(model, make)
    return model

