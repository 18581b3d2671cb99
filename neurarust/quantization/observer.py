"""Observers: modules that watch the tensors flowing through them and choose quantization parameters,
with ``torch.ao.quantization.observer``'s names, arguments and formulas.

Each observer's ``forward(x)`` records statistics and returns ``x`` unchanged;
``calculate_qparams()`` returns ``(scale, zero_point)`` (float32 and int32 tensors of one element,
or one per channel). Symmetric schemes centre the range on zero (zero point 0); affine ones map
``[min(min, 0), max(max, 0)]`` onto ``[quant_min, quant_max]``::

    >>> import neurarust as nr
    >>> from neurarust.quantization import MinMaxObserver
    >>> obs = MinMaxObserver()
    >>> _ = obs(nr.tensor([-1.0, 3.0]))
    >>> scale, zero_point = obs.calculate_qparams()
    >>> round(scale.item(), 6), zero_point.item()
    (0.015686, -64)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from neurarust import dtype as _dt
from neurarust.creation import tensor as _tensor
from neurarust.errors import ArgumentError
from neurarust.nn.module import Module
from neurarust.tensor import Tensor

from .qtensor import QDType, per_channel_affine, per_channel_symmetric, per_tensor_affine, per_tensor_symmetric, qint8

EPS = np.float32(np.finfo(np.float32).eps)


def with_args(cls: type, **kwargs: Any):
    """A factory making ``cls(**kwargs)`` (``Observer.with_args`` in PyTorch)."""
    def make(**more: Any):
        return cls(**{**kwargs, **more})

    make.__name__ = f"{cls.__name__}.with_args"
    make.cls, make.kwargs = cls, kwargs
    return make


class ObserverBase(Module):
    """Shared state: dtype, qscheme, the integer range, and the qparams formula."""

    def __init__(self, dtype: QDType = qint8, qscheme: str = per_tensor_affine, quant_min: int | None = None,
                 quant_max: int | None = None, eps: float = float(EPS), **kwargs: Any) -> None:
        super().__init__()
        if dtype is not qint8:
            raise ArgumentError(f"{type(self).__name__}: only qint8 is supported, got {dtype!r}")
        if qscheme not in (per_tensor_affine, per_tensor_symmetric, per_channel_affine, per_channel_symmetric):
            raise ArgumentError(f"{type(self).__name__}: unknown qscheme {qscheme!r}")
        self.dtype, self.qscheme = dtype, qscheme
        self.quant_min = dtype.quant_min if quant_min is None else quant_min
        self.quant_max = dtype.quant_max if quant_max is None else quant_max
        self.eps = np.float32(eps)

    with_args = classmethod(with_args)

    @property
    def symmetric(self) -> bool:
        return self.qscheme in (per_tensor_symmetric, per_channel_symmetric)

    def _qparams(self, min_val: np.ndarray, max_val: np.ndarray) -> tuple[Tensor, Tensor]:
        """PyTorch's formula, in float32."""
        min_val, max_val = np.atleast_1d(np.float32(min_val)), np.atleast_1d(np.float32(max_val))
        if not np.all(np.isfinite(min_val)) or not np.all(min_val <= max_val):
            return _tensor([1.0]), _tensor([0], dtype=_dt.int32)
        qmin, qmax = self.quant_min, self.quant_max
        neg = np.minimum(min_val, np.float32(0))
        pos = np.maximum(max_val, np.float32(0))
        if self.symmetric:
            scale = np.maximum(np.maximum(-neg, pos) / np.float32((qmax - qmin) / 2), self.eps).astype(np.float32)
            zero_point = np.zeros(scale.shape, np.int32)
        else:
            scale = np.maximum((pos - neg) / np.float32(qmax - qmin), self.eps).astype(np.float32)
            zero_point = np.clip(qmin - np.rint(neg / scale).astype(np.int64), qmin, qmax).astype(np.int32)
        return _tensor(scale), _tensor(zero_point)

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}, qscheme={self.qscheme}, quant_min={self.quant_min}, quant_max={self.quant_max}"


def _float_stats(x: Tensor) -> tuple[float, float]:
    x = x.detach()
    return float(x.amin().item()), float(x.amax().item())


class MinMaxObserver(ObserverBase):
    """The running minimum and maximum of everything seen (``torch.ao.quantization.MinMaxObserver``).

    >>> import neurarust as nr
    >>> from neurarust.quantization import MinMaxObserver, per_tensor_symmetric
    >>> obs = MinMaxObserver(qscheme=per_tensor_symmetric)
    >>> _ = obs(nr.tensor([-2.55, 1.0]))
    >>> round(obs.calculate_qparams()[0].item(), 4)
    0.02
    """

    def __init__(self, dtype: QDType = qint8, qscheme: str = per_tensor_affine, quant_min: int | None = None,
                 quant_max: int | None = None, **kwargs: Any) -> None:
        super().__init__(dtype, qscheme, quant_min, quant_max, **kwargs)
        self.register_buffer("min_val", _tensor(float("inf")))
        self.register_buffer("max_val", _tensor(float("-inf")))

    def _update(self, lo: float, hi: float) -> None:
        self.min_val = _tensor(min(float(self.min_val.item()), lo))
        self.max_val = _tensor(max(float(self.max_val.item()), hi))

    def forward(self, x: Tensor) -> Tensor:
        if x.numel():
            self._update(*_float_stats(x))
        return x

    def calculate_qparams(self) -> tuple[Tensor, Tensor]:
        """``(scale, zero_point)`` of the range seen so far."""
        return self._qparams(np.float32(self.min_val.item()), np.float32(self.max_val.item()))


class MovingAverageMinMaxObserver(MinMaxObserver):
    """An exponential moving average of each batch's min and max (``averaging_constant`` c:
    ``min += c * (batch_min - min)``); the first batch sets them.

    >>> import neurarust as nr
    >>> from neurarust.quantization import MovingAverageMinMaxObserver
    >>> obs = MovingAverageMinMaxObserver(averaging_constant=0.5)
    >>> _ = obs(nr.tensor([0.0, 4.0])); _ = obs(nr.tensor([0.0, 2.0]))
    >>> obs.max_val.item()
    3.0
    """

    def __init__(self, averaging_constant: float = 0.01, dtype: QDType = qint8, qscheme: str = per_tensor_affine,
                 quant_min: int | None = None, quant_max: int | None = None, **kwargs: Any) -> None:
        super().__init__(dtype, qscheme, quant_min, quant_max, **kwargs)
        self.averaging_constant = np.float32(averaging_constant)

    def _update(self, lo: float, hi: float) -> None:
        old_lo, old_hi = np.float32(self.min_val.item()), np.float32(self.max_val.item())
        if not np.isfinite(old_lo):
            new_lo, new_hi = np.float32(lo), np.float32(hi)
        else:
            c = self.averaging_constant
            new_lo = old_lo + c * (np.float32(lo) - old_lo)
            new_hi = old_hi + c * (np.float32(hi) - old_hi)
        self.min_val, self.max_val = _tensor(float(new_lo)), _tensor(float(new_hi))


def _channel_stats(x: Tensor, axis: int) -> tuple[np.ndarray, np.ndarray]:
    x = x.detach()
    rows = x.transpose(0, axis).reshape(x.shape[axis], -1)
    return rows.amin(1).numpy(force=True).astype(np.float32), rows.amax(1).numpy(force=True).astype(np.float32)


class PerChannelMinMaxObserver(ObserverBase):
    """Min and max per index of ``ch_axis`` (weights: one scale per output channel).

    >>> import neurarust as nr
    >>> from neurarust.quantization import PerChannelMinMaxObserver
    >>> obs = PerChannelMinMaxObserver(ch_axis=0)
    >>> _ = obs(nr.tensor([[-1.0, 1.0], [0.0, 2.0]]))
    >>> [round(s, 5) for s in obs.calculate_qparams()[0].tolist()]
    [0.00784, 0.00784]
    """

    def __init__(self, ch_axis: int = 0, dtype: QDType = qint8, qscheme: str = per_channel_affine,
                 quant_min: int | None = None, quant_max: int | None = None, **kwargs: Any) -> None:
        super().__init__(dtype, qscheme, quant_min, quant_max, **kwargs)
        self.ch_axis = ch_axis
        self.register_buffer("min_val", _tensor([], dtype=_dt.float32))
        self.register_buffer("max_val", _tensor([], dtype=_dt.float32))

    def _merge(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.min_val.numel() == 0:
            return lo, hi
        return np.minimum(self.min_val.numpy(), lo), np.maximum(self.max_val.numpy(), hi)

    def forward(self, x: Tensor) -> Tensor:
        if x.numel():
            lo, hi = self._merge(*_channel_stats(x, self.ch_axis % x.ndim))
            self.min_val, self.max_val = _tensor(lo), _tensor(hi)
        return x

    def calculate_qparams(self) -> tuple[Tensor, Tensor]:
        """``(scales, zero_points)``, one per channel."""
        return self._qparams(self.min_val.numpy(), self.max_val.numpy())


class MovingAveragePerChannelMinMaxObserver(PerChannelMinMaxObserver):
    """:class:`PerChannelMinMaxObserver` with :class:`MovingAverageMinMaxObserver`'s averaging.

    >>> import neurarust as nr
    >>> from neurarust.quantization import MovingAveragePerChannelMinMaxObserver
    >>> obs = MovingAveragePerChannelMinMaxObserver(averaging_constant=0.5)
    >>> _ = obs(nr.tensor([[0.0, 4.0]])); _ = obs(nr.tensor([[0.0, 2.0]]))
    >>> obs.max_val.tolist()
    [3.0]
    """

    def __init__(self, averaging_constant: float = 0.01, ch_axis: int = 0, dtype: QDType = qint8,
                 qscheme: str = per_channel_affine, quant_min: int | None = None, quant_max: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(ch_axis, dtype, qscheme, quant_min, quant_max, **kwargs)
        self.averaging_constant = np.float32(averaging_constant)

    def _merge(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.min_val.numel() == 0:
            return lo, hi
        c, old_lo, old_hi = self.averaging_constant, self.min_val.numpy(), self.max_val.numpy()
        return (old_lo + c * (lo - old_lo)).astype(np.float32), (old_hi + c * (hi - old_hi)).astype(np.float32)


class HistogramObserver(MinMaxObserver):
    """A histogram of everything seen (``bins`` bins over the running range; older counts are
    re-binned when the range grows), and the clipping range that minimises the expected quantization
    error: the search narrows ``[min, max]`` one bin at a time from the side with less mass, as
    PyTorch's ``HistogramObserver`` does, scoring each candidate by its rounding error (step**2 / 12
    per value inside) plus its clipping error (squared distance to the range per value outside).

    >>> import neurarust as nr
    >>> from neurarust.quantization import HistogramObserver
    >>> obs = HistogramObserver(quant_min=-8, quant_max=7)      # 4 bits: clipping the tails pays
    >>> _ = obs(nr.randn(10000))
    >>> obs.calculate_qparams()[0].item() < 0.4                   # min/max: about 7.5 / 15 = 0.5
    True
    """

    def __init__(self, bins: int = 2048, dtype: QDType = qint8, qscheme: str = per_tensor_affine,
                 quant_min: int | None = None, quant_max: int | None = None, **kwargs: Any) -> None:
        super().__init__(dtype, qscheme, quant_min, quant_max, **kwargs)
        self.bins = bins
        self.register_buffer("histogram", _tensor(np.zeros(bins, np.float32)))

    def forward(self, x: Tensor) -> Tensor:
        if not x.numel():
            return x
        values = x.detach().numpy(force=True).astype(np.float32).ravel()
        lo, hi = float(values.min()), float(values.max())
        old_lo, old_hi = float(self.min_val.item()), float(self.max_val.item())
        hist = self.histogram.numpy().astype(np.float64)
        new_lo, new_hi = min(lo, old_lo), max(hi, old_hi)
        if new_hi == new_lo:
            new_hi = new_lo + 1e-6
        if np.isfinite(old_lo) and hist.sum():
            centres = old_lo + (np.arange(self.bins) + 0.5) * (old_hi - old_lo) / self.bins
            hist = np.histogram(centres, bins=self.bins, range=(new_lo, new_hi), weights=hist)[0]
        else:
            hist = np.zeros(self.bins)
        hist += np.histogram(values, bins=self.bins, range=(new_lo, new_hi))[0]
        self.histogram = _tensor(hist.astype(np.float32))
        self.min_val, self.max_val = _tensor(new_lo), _tensor(new_hi)
        return x

    def _error(self, hist: np.ndarray, centres: np.ndarray, lo: float, hi: float) -> float:
        if self.symmetric:
            lo, hi = -max(-lo, hi, 0.0), max(-lo, hi, 0.0)
        step = max(hi - min(lo, 0.0) if not self.symmetric else hi - lo, 1e-12) / (self.quant_max - self.quant_min)
        below, above = np.minimum(centres - lo, 0.0), np.maximum(centres - hi, 0.0)
        inside = (centres >= lo) & (centres <= hi)
        return float(np.sum(hist * (below ** 2 + above ** 2)) + np.sum(hist[inside]) * step ** 2 / 12)

    def _search(self) -> tuple[float, float]:
        hist = self.histogram.numpy().astype(np.float64)
        lo, hi = float(self.min_val.item()), float(self.max_val.item())
        width = (hi - lo) / self.bins
        centres = lo + (np.arange(self.bins) + 0.5) * width
        cdf = np.cumsum(hist)
        total = cdf[-1]
        start, end = 0, self.bins - 1
        best, best_range = self._error(hist, centres, lo, hi), (lo, hi)
        while end - start > self.bins // 20:
            left_mass = cdf[start]
            right_mass = total - cdf[end - 1]
            if left_mass <= right_mass:
                start += 1
            else:
                end -= 1
            cand = (lo + start * width, lo + (end + 1) * width)
            err = self._error(hist, centres, *cand)
            if err < best:
                best, best_range = err, cand
        return best_range

    def calculate_qparams(self) -> tuple[Tensor, Tensor]:
        """``(scale, zero_point)`` of the error-minimising clipping range."""
        if not np.isfinite(float(self.min_val.item())):
            return self._qparams(np.float32(np.inf), np.float32(-np.inf))
        lo, hi = self._search()
        return self._qparams(np.float32(lo), np.float32(hi))


class PercentileObserver(HistogramObserver):
    """The ``percentile`` (and ``100 - percentile``) of everything seen, read from the histogram, as
    the range (clips rare outliers).

    >>> import neurarust as nr
    >>> from neurarust.quantization import PercentileObserver
    >>> obs = PercentileObserver(percentile=99.0, bins=1000)
    >>> _ = obs(nr.arange(10001) / 100.0)
    >>> round(obs.calculate_qparams()[0].item() * 255, 1)
    99.0
    """

    def __init__(self, percentile: float = 99.99, bins: int = 2048, dtype: QDType = qint8,
                 qscheme: str = per_tensor_affine, quant_min: int | None = None, quant_max: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(bins, dtype, qscheme, quant_min, quant_max, **kwargs)
        self.percentile = percentile

    def _search(self) -> tuple[float, float]:
        hist = self.histogram.numpy().astype(np.float64)
        lo, hi = float(self.min_val.item()), float(self.max_val.item())
        edges = np.linspace(lo, hi, self.bins + 1)
        cdf = np.concatenate([[0.0], np.cumsum(hist)]) / max(hist.sum(), 1.0)
        p = self.percentile / 100.0
        return float(np.interp(1.0 - p, cdf, edges)), float(np.interp(p, cdf, edges))


class PlaceholderObserver(ObserverBase):
    """Records nothing (dynamic quantization chooses activation scales at run time).

    >>> from neurarust.quantization import PlaceholderObserver
    >>> PlaceholderObserver()(1.0)
    1.0
    """

    def forward(self, x: Any) -> Any:
        return x

    def calculate_qparams(self) -> tuple[Tensor, Tensor]:
        raise ArgumentError("PlaceholderObserver has no quantization parameters: its tensors are quantized at run "
                            "time")


default_observer = MinMaxObserver.with_args()
default_weight_observer = MinMaxObserver.with_args(qscheme=per_tensor_symmetric)
default_per_channel_weight_observer = PerChannelMinMaxObserver.with_args(qscheme=per_channel_symmetric)
default_histogram_observer = HistogramObserver.with_args()
