"""``Unfold`` and ``Fold``: sliding blocks to columns and back (``functional.unfold``/``fold``)::

    >>> import neurarust as nr
    >>> patches = nr.nn.Unfold(kernel_size=2, stride=2)(nr.zeros(1, 3, 4, 4))
    >>> patches.shape, nr.nn.Fold((4, 4), 2, stride=2)(patches).shape
    (neurarust.Size([1, 12, 4]), neurarust.Size([1, 3, 4, 4]))
"""
from __future__ import annotations

from typing import Any

from neurarust.tensor import Tensor

from . import functional as F
from .module import Module


class Unfold(Module):
    """Each sliding ``kernel_size`` block of a ``(N, C, H, W)`` input as a column of
    ``(N, C * kh * kw, L)``.

    >>> import neurarust as nr
    >>> nr.nn.Unfold(2)(nr.zeros(2, 1, 3, 3)).shape
    neurarust.Size([2, 4, 4])
    """

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> None:
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """Columns ``(N, C * kh * kw, L)`` summed back into ``(N, C, *output_size)``.

    >>> import neurarust as nr
    >>> nr.nn.Fold((3, 3), 2)(nr.ones(1, 4, 4))[0, 0, 1].tolist()
    [2.0, 4.0, 2.0]
    """

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
