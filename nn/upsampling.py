"""``Upsample``, ``UpsamplingNearest2d``, ``UpsamplingBilinear2d``, ``PixelShuffle``, ``PixelUnshuffle``
(``neurarust.nn.functional.interpolate`` and ``pixel_shuffle``)::

    >>> import neurarust as nr
    >>> up = nr.nn.Upsample(scale_factor=2, mode="bilinear")
    >>> up(nr.ones(1, 3, 2, 2)).shape, up
    (neurarust.Size([1, 3, 4, 4]), Upsample(scale_factor=2.0, mode='bilinear'))
"""
from __future__ import annotations

from typing import Any

from neurarust.tensor import Tensor

from . import functional as F
from .module import Module


class Upsample(Module):
    """Resize to ``size`` or by ``scale_factor`` (the modes of ``functional.interpolate``).

    >>> import neurarust as nr
    >>> nr.nn.Upsample(size=3)(nr.tensor([[[1.0, 2.0]]])).tolist()
    [[[1.0, 1.0, 2.0]]]
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.scale_factor = (tuple(float(f) for f in scale_factor) if isinstance(scale_factor, (tuple, list))
                             else float(scale_factor) if scale_factor is not None else None)
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour 2-D upsampling.

    >>> import neurarust as nr
    >>> nr.nn.UpsamplingNearest2d(scale_factor=2)(nr.ones(1, 1, 1, 2)).shape
    neurarust.Size([1, 1, 2, 4])
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear 2-D upsampling with ``align_corners=True``.

    >>> import neurarust as nr
    >>> nr.nn.UpsamplingBilinear2d(size=(1, 3))(nr.tensor([[[[0.0, 2.0]]]])).tolist()
    [[[[0.0, 1.0, 2.0]]]]
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """``(*, C * r * r, H, W)`` to ``(*, C, H * r, W * r)``.

    >>> import neurarust as nr
    >>> nr.nn.PixelShuffle(2)(nr.ones(1, 8, 3, 3)).shape
    neurarust.Size([1, 2, 6, 6])
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``(*, C, H * r, W * r)`` to ``(*, C * r * r, H, W)``.

    >>> import neurarust as nr
    >>> nr.nn.PixelUnshuffle(2)(nr.ones(1, 2, 6, 6)).shape
    neurarust.Size([1, 8, 3, 3])
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """``functional.channel_shuffle``: the channels of ``(N, C, *)`` regrouped by ``groups``.

    >>> import neurarust as nr
    >>> nr.nn.ChannelShuffle(2)(nr.arange(4.0).reshape(1, 4, 1)).flatten().tolist()
    [0.0, 2.0, 1.0, 3.0]
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
