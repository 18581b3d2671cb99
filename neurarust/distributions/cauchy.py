"""The Cauchy (Lorentz) distribution.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Cauchy
    >>> Cauchy(0.0, 1.0).cdf(nr.tensor(1.0)).item()
    0.75
"""
from __future__ import annotations

import math
from typing import Any

import neurarust as nr
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .utils import broadcast_all


class Cauchy(Distribution):
    """Cauchy distribution with median ``loc`` and half-width ``scale``; its mean is undefined (NaN)
    and its variance infinite, as in torch.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Cauchy
    >>> d = Cauchy(nr.tensor([0.0]), 1.0)
    >>> d.mean.tolist(), d.variance.tolist(), d.icdf(nr.tensor(0.5)).tolist()
    ([nan], [inf], [0.0])
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return nr.full(tuple(self._extended_shape()), float("nan"), dtype=self.loc.dtype, device=self.loc.device)

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return nr.full(tuple(self._extended_shape()), float("inf"), dtype=self.loc.dtype, device=self.loc.device)

    def rsample(self, sample_shape: Any = Size()) -> Tensor:
        u = nr.rand(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + self.scale * nr.tan(math.pi * (u - 0.5))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -math.log(math.pi) - nr.log(self.scale) - nr.log1p(((value - self.loc) / self.scale) ** 2)

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return nr.atan((value - self.loc) / self.scale) / math.pi + 0.5

    def icdf(self, value: Tensor) -> Tensor:
        return nr.tan(math.pi * (value - 0.5)) * self.scale + self.loc

    def entropy(self) -> Tensor:
        return math.log(4 * math.pi) + nr.log(self.scale)
