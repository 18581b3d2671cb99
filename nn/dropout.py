"""``Dropout``: zeroes elements with probability ``p`` while training (Bernoulli masks from the
Philox generator, so ``nr.manual_seed`` makes them reproducible), identity in eval mode::

    >>> import neurarust as nr
    >>> drop = nr.nn.Dropout(0.5).eval()
    >>> drop(nr.ones(3)).tolist()
    [1.0, 1.0, 1.0]
"""
from __future__ import annotations

from neurarust.errors import ArgumentError
from neurarust.tensor import Tensor

from . import functional as F
from .module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)`` in training.

    >>> import neurarust as nr
    >>> nr.nn.Dropout(p=0.0)(nr.ones(2)).tolist()
    [1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ArgumentError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class _ChannelDropout(Dropout):
    _fn = "dropout"

    def forward(self, input: Tensor) -> Tensor:
        return getattr(F, self._fn)(input, self.p, self.training)


class Dropout1d(_ChannelDropout):
    """Zero whole channels of ``(N, C, L)`` / ``(C, L)`` inputs with probability ``p`` in training.

    >>> import neurarust as nr
    >>> nr.nn.Dropout1d(0.5).eval()(nr.ones(2, 3)).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    _fn = "dropout1d"


class Dropout2d(_ChannelDropout):
    """Zero whole channels ``input[n, c]`` of ``(N, C, H, W)`` inputs with probability ``p`` in training.

    >>> import neurarust as nr
    >>> nr.nn.Dropout2d(1.0)(nr.ones(1, 2, 2, 2)).sum().item()
    0.0
    """
    _fn = "dropout2d"


class Dropout3d(_ChannelDropout):
    """Zero whole channels of ``(N, C, D, H, W)`` / ``(C, D, H, W)`` inputs with probability ``p``.

    >>> import neurarust as nr
    >>> nr.nn.Dropout3d(0.0)(nr.ones(1, 1, 1, 1, 2)).tolist()
    [[[[[1.0, 1.0]]]]]
    """
    _fn = "dropout3d"


class AlphaDropout(Dropout):
    """:func:`~neurarust.nn.functional.alpha_dropout` in training: dropout that keeps SELU's
    self-normalising mean and variance.

    >>> import neurarust as nr
    >>> nr.nn.AlphaDropout(0.2).eval()(nr.ones(2)).tolist()
    [1.0, 1.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(Dropout):
    """:func:`~neurarust.nn.functional.feature_alpha_dropout` in training: alpha dropout of whole
    channels.

    >>> import neurarust as nr
    >>> nr.nn.FeatureAlphaDropout(0.2).eval()(nr.ones(1, 2)).tolist()
    [[1.0, 1.0]]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.feature_alpha_dropout(input, self.p, self.training)
