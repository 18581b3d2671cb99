"""``Conv1d``, ``Conv2d``, ``Conv3d``, ``ConvTranspose1d``, ``ConvTranspose2d``, with PyTorch's
arguments (``padding_mode`` zeros/reflect/replicate/circular through the ``pad`` op) and default
initialisation (Kaiming-uniform weights with a=sqrt(5), U(-1/sqrt(fan_in), 1/sqrt(fan_in)) biases)::

    >>> import neurarust as nr
    >>> conv = nr.nn.Conv2d(3, 8, 3, padding=1)
    >>> conv(nr.ones(2, 3, 5, 5)).shape, conv
    (neurarust.Size([2, 8, 5, 5]), Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)))
"""
from __future__ import annotations

import math
from typing import Any


from neurarust.creation import empty
from neurarust.errors import ArgumentError
from neurarust.tensor import Tensor

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(v, s: int) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * s


class _ConvNd(Module):
    """The shared state of the convolution modules; subclasses set ``_dims`` and ``_transposed``."""

    _dims = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 output_padding: Any = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name, s = type(self).__name__, self._dims
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ArgumentError(f"{name}(): in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                                f"divisible by groups ({groups}), a positive integer")
        if padding_mode not in PADDING_MODES:
            raise ArgumentError(f"{name}(): padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ArgumentError(f"{name}(): invalid padding string {padding!r}, expected 'same' or 'valid'")
            if padding == "same" and any(v != 1 for v in _tuple(stride, s)):
                raise ArgumentError(f"{name}(): padding='same' is not supported for strided convolutions")
        if self._transposed and padding_mode != "zeros":
            raise ArgumentError(f"{name}(): only 'zeros' padding_mode is supported")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _tuple(kernel_size, s)
        self.stride, self.dilation = _tuple(stride, s), _tuple(dilation, s)
        self.padding = padding if isinstance(padding, str) else _tuple(padding, s)
        self.output_padding = _tuple(output_padding, s)
        self.padding_mode, self.transposed = padding_mode, self._transposed
        shape = ((in_channels, out_channels // groups) if self._transposed else
                 (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(empty(*shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: Kaiming-uniform (a=sqrt(5)) weights, U(+-1/sqrt(fan_in)) biases."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _mode_padding(self) -> list:
        """Padding widths (last dim first, both sides) of a non-zeros ``padding_mode``."""
        if self.padding == "valid":
            return [0, 0] * self._dims
        if self.padding == "same":
            total = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            pairs = [(t // 2, t - t // 2) for t in total]
        else:
            pairs = [(p, p) for p in self.padding]
        return [v for pair in reversed(pairs) for v in pair]

    def _padded(self, input: Tensor) -> Tensor:
        """``input`` padded by ``padding_mode`` (``F.pad``'s reflect, replicate or circular)."""
        return F.pad(input, self._mode_padding(), mode=self.padding_mode)

    def forward(self, input: Tensor) -> Tensor:
        conv = getattr(F, f"conv{self._dims}d")
        if self.padding_mode != "zeros":
            x = self._padded(input)
            return conv(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding if isinstance(self.padding, tuple) else repr(self.padding)}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """Conv1d/2d/3d: PyTorch's constructor signature; the subclasses only set ``_dims``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, device, dtype)


class Conv1d(_Conv):
    """1-D convolution over ``(N, C_in, L)`` (or unbatched ``(C_in, L)``).

    >>> import neurarust as nr
    >>> nr.nn.Conv1d(2, 4, 3, padding="same", padding_mode="reflect")(nr.ones(1, 2, 6)).shape
    neurarust.Size([1, 4, 6])
    """

    _dims = 1


class Conv2d(_Conv):
    """2-D convolution over ``(N, C_in, H, W)`` (or unbatched ``(C_in, H, W)``).

    >>> import neurarust as nr
    >>> nr.nn.Conv2d(2, 4, (3, 1), stride=2, groups=2)(nr.ones(1, 2, 7, 5)).shape
    neurarust.Size([1, 4, 3, 3])
    """

    _dims = 2


class Conv3d(_Conv):
    """3-D convolution over ``(N, C_in, D, H, W)`` (or unbatched ``(C_in, D, H, W)``).

    >>> import neurarust as nr
    >>> nr.nn.Conv3d(1, 2, 2)(nr.ones(1, 1, 3, 3, 3)).shape
    neurarust.Size([1, 2, 2, 2, 2])
    """

    _dims = 3


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        if isinstance(padding, str):
            raise ArgumentError(f"{type(self).__name__}(): padding must be an integer or a tuple, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device, dtype)
        if any(op >= max(st, d) for op, st, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ArgumentError(f"{type(self).__name__}(): output_padding {self.output_padding} must be smaller "
                                f"than either stride {self.stride} or dilation {self.dilation}")

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """``output_padding``, or the one that gives ``output_size`` (PyTorch's ``output_size=`` argument)."""
        if output_size is None:
            return self.output_padding
        s, lead = self._dims, input.ndim - self._dims      # lead: the batch (if any) and channel dims
        want = [int(v) for v in output_size]
        if len(want) not in (s, s + lead):
            raise ArgumentError(f"{type(self).__name__}(): for a {input.ndim}-D input, output_size must have {s} "
                                f"or {s + lead} elements, got {want}")
        want = want[-s:]
        base = [(i - 1) * st - 2 * p + d * (k - 1) + 1 for i, st, p, d, k in
                zip(input.shape[-s:], self.stride, self.padding, self.dilation, self.kernel_size)]
        extra = tuple(w - b for w, b in zip(want, base))
        if any(e < 0 or e >= max(st, d) for e, st, d in zip(extra, self.stride, self.dilation)):
            top = [b + max(st, d) - 1 for b, st, d in zip(base, self.stride, self.dilation)]
            raise ArgumentError(f"{type(self).__name__}(): requested an output size of {want}, but valid sizes "
                                f"range from {base} to {top}")
        return extra

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        conv = getattr(F, f"conv_transpose{self._dims}d")
        return conv(input, self.weight, self.bias, self.stride, self.padding, self._output_padding(input, output_size),
                    self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution over ``(N, C_in, L)``; ``weight`` is ``(C_in, C_out / groups, k)``.

    >>> import neurarust as nr
    >>> nr.nn.ConvTranspose1d(2, 3, 3, stride=2, output_padding=1)(nr.ones(1, 2, 4)).shape
    neurarust.Size([1, 3, 10])
    """

    _dims = 1


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over ``(N, C_in, H, W)``; ``weight`` is ``(C_in, C_out / groups, kH, kW)``.

    >>> import neurarust as nr
    >>> nr.nn.ConvTranspose2d(2, 2, 2, stride=2, groups=2)(nr.ones(1, 2, 3, 3)).shape
    neurarust.Size([1, 2, 6, 6])
    """

    _dims = 2


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution over ``(N, C_in, D, H, W)``; ``weight`` is
    ``(C_in, C_out / groups, kD, kH, kW)``.

    >>> import neurarust as nr
    >>> nr.nn.ConvTranspose3d(2, 1, 2, stride=2)(nr.ones(1, 2, 1, 2, 3)).shape
    neurarust.Size([1, 1, 2, 4, 6])
    """

    _dims = 3
