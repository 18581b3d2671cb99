"""The half-normal distribution: the absolute value of a centred normal variable.

    >>> import neurarust as nr
    >>> from neurarust.distributions import HalfNormal
    >>> round(HalfNormal(1.0).log_prob(nr.tensor(0.0)).exp().item(), 4)
    0.7979
"""
from __future__ import annotations

import math
from typing import Any

import neurarust as nr
from neurarust.tensor import Tensor

from . import constraints
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import AbsTransform


class HalfNormal(TransformedDistribution):
    """``|X|`` for ``X ~ Normal(0, scale)``: a ``TransformedDistribution`` by an ``AbsTransform``.

    >>> import neurarust as nr
    >>> from neurarust.distributions import HalfNormal
    >>> d = HalfNormal(nr.tensor([2.0]))
    >>> round(d.mean.item(), 4), round(d.cdf(nr.tensor([2.0])).item(), 4)
    (1.5958, 0.6827)
    """

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative  # type: ignore[assignment]
    has_rsample = True  # type: ignore[assignment]

    def __init__(self, scale: Any, validate_args: bool | None = None):
        super().__init__(Normal(0.0, scale, validate_args=False), AbsTransform(), validate_args=validate_args)

    @property
    def scale(self) -> Tensor:
        return self.base_dist.scale

    @property
    def mean(self) -> Tensor:
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def mode(self) -> Tensor:
        return nr.zeros_like(self.scale)

    @property
    def variance(self) -> Tensor:
        return self.scale ** 2 * (1 - 2 / math.pi)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return nr.where(value >= 0, self.base_dist.log_prob(value) + math.log(2), float("-inf"))

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, value: Tensor) -> Tensor:
        return self.base_dist.icdf((value + 1) / 2)

    def entropy(self) -> Tensor:
        return self.base_dist.entropy() - math.log(2)
