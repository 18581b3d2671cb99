"""Pooling layers: ``MaxPool1d``, ``MaxPool2d``, ``AvgPool1d``, ``AvgPool2d``, ``AdaptiveAvgPool1d``,
``AdaptiveAvgPool2d``, ``AdaptiveMaxPool2d`` (``neurarust.nn.functional``'s pools, kernels/pool.py)::

    >>> import neurarust as nr
    >>> pool = nr.nn.MaxPool2d(2)
    >>> pool(nr.ones(1, 3, 4, 4)).shape, pool
    (neurarust.Size([1, 3, 2, 2]), MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False))
"""
from __future__ import annotations

from typing import Any

from neurarust.tensor import Tensor

from . import functional as F
from .module import Module


class _MaxPoolNd(Module):
    _fn = staticmethod(F.max_pool2d)

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if (stride is not None) else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:
        return self._fn(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                        self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over windows of ``(N, C, L)``.

    >>> import neurarust as nr
    >>> nr.nn.MaxPool1d(2)(nr.tensor([[[1.0, 3.0, 2.0, 0.0]]])).tolist()
    [[[3.0, 2.0]]]
    """

    _fn = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """Max over windows of ``(N, C, H, W)``; ``return_indices`` also gives flat positions.

    >>> import neurarust as nr
    >>> nr.nn.MaxPool2d(2, return_indices=True)(nr.arange(4.0).reshape(1, 1, 2, 2))[1].tolist()
    [[[[3]]]]
    """

    _fn = staticmethod(F.max_pool2d)


class AvgPool1d(Module):
    """Mean over windows of ``(N, C, L)``.

    >>> import neurarust as nr
    >>> nr.nn.AvgPool1d(2)(nr.tensor([[[1.0, 3.0, 2.0, 0.0]]])).tolist()
    [[[2.0, 1.0]]]
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        one = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,)  # noqa: E731
        self.kernel_size, self.stride = one(kernel_size), one(stride if stride is not None else kernel_size)
        self.padding, self.ceil_mode, self.count_include_pad = one(padding), ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over windows of ``(N, C, H, W)``.

    >>> import neurarust as nr
    >>> nr.nn.AvgPool2d(2, divisor_override=1)(nr.ones(1, 1, 2, 2)).tolist()
    [[[[4.0]]]]
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if (stride is not None) else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptivePool(Module):
    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Mean over ``output_size`` windows spanning ``(N, C, L)``.

    >>> import neurarust as nr
    >>> nr.nn.AdaptiveAvgPool1d(1)(nr.tensor([[[1.0, 3.0]]])).tolist()
    [[[2.0]]]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptivePool):
    """Mean over ``output_size`` windows spanning ``(N, C, H, W)`` (``None`` keeps a dim).

    >>> import neurarust as nr
    >>> nr.nn.AdaptiveAvgPool2d((None, 1))(nr.ones(1, 2, 3, 4)).shape
    neurarust.Size([1, 2, 3, 1])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveMaxPool2d(_AdaptivePool):
    """Max over ``output_size`` windows spanning ``(N, C, H, W)``.

    >>> import neurarust as nr
    >>> nr.nn.AdaptiveMaxPool2d(1)(nr.arange(4.0).reshape(1, 1, 2, 2)).tolist()
    [[[[3.0]]]]
    """

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptivePool):
    """Max over ``output_size`` windows spanning ``(N, C, L)``; ``return_indices`` also gives their
    positions.

    >>> import neurarust as nr
    >>> nr.nn.AdaptiveMaxPool1d(1)(nr.tensor([[[1.0, 3.0, 2.0]]])).tolist()
    [[[3.0]]]
    """

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class _MaxUnpoolNd(Module):
    _dims = 0

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        from neurarust.kernels.conv import expand

        super().__init__()
        name, n = type(self).__name__, self._dims                      # PyTorch stores tuples
        self.kernel_size = expand(name, "kernel_size", kernel_size, n)
        self.stride = self.kernel_size if stride is None else expand(name, "stride", stride, n)
        self.padding = expand(name, "padding", padding, n)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """The partial inverse of ``MaxPool1d``: values back at the positions its indices name, zeros
    elsewhere.

    >>> import neurarust as nr
    >>> pool, unpool = nr.nn.MaxPool1d(2, return_indices=True), nr.nn.MaxUnpool1d(2)
    >>> unpool(*pool(nr.tensor([[[1.0, 3.0, 2.0, 0.0]]]))).tolist()
    [[[0.0, 3.0, 2.0, 0.0]]]
    """

    _dims = 1

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        return F.max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding, output_size)


class MaxUnpool2d(_MaxUnpoolNd):
    """The partial inverse of ``MaxPool2d``: values back at the positions its indices name, zeros
    elsewhere.

    >>> import neurarust as nr
    >>> pool, unpool = nr.nn.MaxPool2d(2, return_indices=True), nr.nn.MaxUnpool2d(2)
    >>> unpool(*pool(nr.arange(4.0).reshape(1, 1, 2, 2))).tolist()
    [[[[0.0, 0.0], [0.0, 3.0]]]]
    """

    _dims = 2

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding, output_size)


class MaxPool3d(_MaxPoolNd):
    """Max over boxes of ``(N, C, D, H, W)``; ``return_indices`` also gives flat positions in each
    ``D * H * W`` volume.

    >>> import neurarust as nr
    >>> nr.nn.MaxPool3d(2)(nr.arange(8.0).reshape(1, 1, 2, 2, 2)).flatten().tolist()
    [7.0]
    """

    _fn = staticmethod(F.max_pool3d)


class AvgPool3d(AvgPool2d):
    """Mean over boxes of ``(N, C, D, H, W)``.

    >>> import neurarust as nr
    >>> nr.nn.AvgPool3d(2)(nr.ones(1, 1, 2, 2, 2)).flatten().tolist()
    [1.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AdaptiveAvgPool3d(_AdaptivePool):
    """Mean over ``output_size`` boxes spanning ``(N, C, D, H, W)`` (``None`` keeps a dim).

    >>> import neurarust as nr
    >>> nr.nn.AdaptiveAvgPool3d(1)(nr.ones(1, 2, 3, 4, 5)).shape
    neurarust.Size([1, 2, 1, 1, 1])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool3d(AdaptiveMaxPool1d):
    """Max over ``output_size`` boxes spanning ``(N, C, D, H, W)``.

    >>> import neurarust as nr
    >>> nr.nn.AdaptiveMaxPool3d((1, 1, 2))(nr.arange(8.0).reshape(1, 1, 2, 2, 2)).flatten().tolist()
    [6.0, 7.0]
    """

    def forward(self, input: Tensor) -> Any:
        return F.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class MaxUnpool3d(_MaxUnpoolNd):
    """The partial inverse of ``MaxPool3d``: values back at the positions its indices name (flat in
    each ``D * H * W`` volume), zeros elsewhere.

    >>> import neurarust as nr
    >>> pool, unpool = nr.nn.MaxPool3d(2, return_indices=True), nr.nn.MaxUnpool3d(2)
    >>> unpool(*pool(nr.arange(8.0).reshape(1, 1, 2, 2, 2))).flatten().tolist(), unpool
    ([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 7.0], MaxUnpool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2), padding=(0, 0, 0)))
    """

    _dims = 3

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        return F.max_unpool3d(input, indices, self.kernel_size, self.stride, self.padding, output_size)


class _LPPoolNd(Module):
    _fn = staticmethod(F.lp_pool2d)

    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> None:
        super().__init__()
        self.norm_type, self.kernel_size, self.stride, self.ceil_mode = norm_type, kernel_size, stride, ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Power-average pooling over windows of ``(N, C, L)``: ``(sum x**p) ** (1/p)`` per window
    (``norm_type`` p; inf is max pooling of ``|x|``).

    >>> import neurarust as nr
    >>> pool = nr.nn.LPPool1d(2, 2)
    >>> pool(nr.tensor([[[3.0, 4.0]]])).tolist(), pool
    ([[[5.0]]], LPPool1d(norm_type=2, kernel_size=2, stride=None, ceil_mode=False))
    """

    _fn = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """Power-average pooling over windows of ``(N, C, H, W)``.

    >>> import neurarust as nr
    >>> nr.nn.LPPool2d(1, 2)(nr.ones(1, 1, 2, 2)).tolist()
    [[[[4.0]]]]
    """

    _fn = staticmethod(F.lp_pool2d)


class LPPool3d(_LPPoolNd):
    """Power-average pooling over boxes of ``(N, C, D, H, W)``.

    >>> import neurarust as nr
    >>> nr.nn.LPPool3d(1, 2)(nr.ones(1, 1, 2, 2, 2)).flatten().tolist()
    [8.0]
    """

    _fn = staticmethod(F.lp_pool3d)


class _FractionalMaxPoolNd(Module):
    _dims = 2

    def __init__(self, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
                 return_indices: bool = False, _random_samples: Tensor | None = None) -> None:
        from neurarust.errors import ArgumentError
        from neurarust.kernels.conv import expand

        super().__init__()
        name, n = type(self).__name__, self._dims
        if n == 3 and any(k <= 0 for k in ((kernel_size,) if isinstance(kernel_size, int) else kernel_size)):
            raise ArgumentError(f"kernel_size must be greater than 0, but got {kernel_size}")
        self.kernel_size = expand(name, "kernel_size", kernel_size, n)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        pair = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * n  # noqa: E731
        self.output_size = None if output_size is None else pair(output_size)
        self.output_ratio = None if output_ratio is None else pair(output_ratio)
        if output_size is None and output_ratio is None:
            raise ArgumentError(f"{name} requires specifying either an output size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ArgumentError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ArgumentError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input: Tensor) -> Any:
        fn = F.fractional_max_pool2d if self._dims == 2 else F.fractional_max_pool3d
        return fn(input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
                  _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Fractional max pooling (Graham, 2014) over ``(N, C, H, W)``: ``kernel_size`` windows at
    pseudo-random steps that give ``output_size`` (or ``output_ratio`` of the input), one Philox draw
    per plane and call unless the ``_random_samples`` buffer ``(N, C, 2)`` fixes them.

    >>> import neurarust as nr
    >>> pool = nr.nn.FractionalMaxPool2d(3, output_ratio=(0.5, 0.5))
    >>> pool(nr.randn(1, 2, 10, 10)).shape, pool
    (neurarust.Size([1, 2, 5, 5]), FractionalMaxPool2d())
    """

    _dims = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Fractional max pooling over ``(N, C, T, H, W)``; ``_random_samples`` is ``(N, C, 3)``.

    >>> import neurarust as nr
    >>> nr.nn.FractionalMaxPool3d(2, output_size=(2, 3, 3))(nr.randn(1, 1, 5, 5, 5)).shape
    neurarust.Size([1, 1, 2, 3, 3])
    """

    _dims = 3
