"""Padding layers: ``ZeroPad``, ``ConstantPad``, ``ReflectionPad``, ``ReplicationPad`` and ``CircularPad``
in 1, 2 and 3 dims, each a thin module over ``nn.functional.pad`` (differentiable in every mode)::

    >>> import neurarust as nr
    >>> nr.nn.ReflectionPad1d(2)(nr.tensor([[1.0, 2.0, 3.0]])).tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]

``padding`` is an int (the same width on every side) or a tuple ``(left, right, top, bottom, front,
back)`` taken as given, as PyTorch: a shorter tuple pads fewer dims.
"""
from __future__ import annotations

from typing import Sequence

from neurarust.errors import ShapeError
from neurarust.tensor import Tensor

from . import functional as F
from .module import Module


class _PadNd(Module):
    """Pads the last ``_dims`` dims of its input by ``padding`` in ``_mode``."""

    _mode = "constant"
    _dims = 1

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__()
        # An int pads every side alike; a sequence is kept as given (PyTorch checks its length in F.pad).
        self.padding = (padding,) * (2 * self._dims) if isinstance(padding, int) else tuple(padding)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: int | Sequence[int], value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with ``value``; negative widths crop.

    >>> import neurarust as nr
    >>> nr.nn.ConstantPad1d((1, 0), 7.0)(nr.zeros(1, 2)).tolist()
    [[7.0, 0.0, 0.0]]
    """


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dims with ``value``.

    >>> import neurarust as nr
    >>> nr.nn.ConstantPad2d(1, 3.5)
    ConstantPad2d(padding=(1, 1, 1, 1), value=3.5)
    """

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dims with ``value``.

    >>> import neurarust as nr
    >>> nr.nn.ConstantPad3d(1, 0.5)(nr.zeros(1, 1, 1, 1)).shape
    neurarust.Size([1, 3, 3, 3])
    """

    _dims = 3


class ZeroPad1d(ConstantPad1d):
    """Pads the last dim with zeros.

    >>> import neurarust as nr
    >>> nr.nn.ZeroPad1d((0, 2))(nr.ones(1, 1)).tolist()
    [[1.0, 0.0, 0.0]]
    """

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pads the last two dims with zeros.

    >>> import neurarust as nr
    >>> nr.nn.ZeroPad2d((1, 0, 0, 1))
    ZeroPad2d((1, 0, 0, 1))
    """

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pads the last three dims with zeros.

    >>> import neurarust as nr
    >>> nr.nn.ZeroPad3d(1)(nr.ones(1, 1, 1)).sum().item()
    1.0
    """

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Pads the last dim with its reflection (the edge not repeated) of a ``(C, W)`` or ``(N, C, W)`` input.

    >>> import neurarust as nr
    >>> nr.nn.ReflectionPad1d((1, 0))(nr.tensor([[1.0, 2.0]])).tolist()
    [[2.0, 1.0, 2.0]]
    """

    _mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    """Reflection padding of the last two dims of a ``(C, H, W)`` or ``(N, C, H, W)`` input.

    >>> import neurarust as nr
    >>> nr.nn.ReflectionPad2d(1)(nr.zeros(1, 2, 2)).shape
    neurarust.Size([1, 4, 4])
    """

    _dims = 2


class ReflectionPad3d(ReflectionPad1d):
    """Reflection padding of the last three dims of a 4-D or 5-D input.

    >>> import neurarust as nr
    >>> nr.nn.ReflectionPad3d(1)
    ReflectionPad3d((1, 1, 1, 1, 1, 1))
    """

    _dims = 3


class ReplicationPad1d(_PadNd):
    """Pads the last dim with copies of its edge values, of a ``(C, W)`` or ``(N, C, W)`` input.

    >>> import neurarust as nr
    >>> nr.nn.ReplicationPad1d((2, 1))(nr.tensor([[1.0, 2.0]])).tolist()
    [[1.0, 1.0, 1.0, 2.0, 2.0]]
    """

    _mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    """Replication padding of the last two dims of a 3-D or 4-D input.

    >>> import neurarust as nr
    >>> nr.nn.ReplicationPad2d((1, 0, 0, 0))(nr.tensor([[[1.0, 2.0]]])).tolist()
    [[[1.0, 1.0, 2.0]]]
    """

    _dims = 2


class ReplicationPad3d(ReplicationPad1d):
    """Replication padding of the last three dims of a 4-D or 5-D input.

    >>> import neurarust as nr
    >>> nr.nn.ReplicationPad3d(1)(nr.ones(1, 1, 1, 1)).shape
    neurarust.Size([1, 3, 3, 3])
    """

    _dims = 3


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input: Tensor) -> Tensor:
        # The module checks the rank itself (PyTorch's message), before F.pad's more general check.
        if input.ndim not in (self._dims + 1, self._dims + 2):
            raise ShapeError(f"expected {self._dims + 1}D or {self._dims + 2}D input (got {input.ndim}D input)")
        return super().forward(input)


class CircularPad1d(_CircularPadNd):
    """Pads the last dim by wrapping around (the other end's values), of a ``(C, W)`` or ``(N, C, W)`` input.

    >>> import neurarust as nr
    >>> nr.nn.CircularPad1d((1, 2))(nr.tensor([[1.0, 2.0, 3.0]])).tolist()
    [[3.0, 1.0, 2.0, 3.0, 1.0, 2.0]]
    """


class CircularPad2d(_CircularPadNd):
    """Circular padding of the last two dims of a 3-D or 4-D input.

    >>> import neurarust as nr
    >>> nr.nn.CircularPad2d(1)
    CircularPad2d((1, 1, 1, 1))
    """

    _dims = 2


class CircularPad3d(_CircularPadNd):
    """Circular padding of the last three dims of a 4-D or 5-D input.

    >>> import neurarust as nr
    >>> nr.nn.CircularPad3d(1)(nr.ones(1, 2, 2, 2)).shape
    neurarust.Size([1, 4, 4, 4])
    """

    _dims = 3
