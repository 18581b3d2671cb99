"""The half-Cauchy distribution: the absolute value of a centred Cauchy variable.

    >>> import neurarust as nr
    >>> from neurarust.distributions import HalfCauchy
    >>> round(HalfCauchy(1.0).log_prob(nr.tensor(0.0)).exp().item(), 4)
    0.6366
"""
from __future__ import annotations

import math
from typing import Any

import neurarust as nr
from neurarust.tensor import Tensor

from . import constraints
from .cauchy import Cauchy
from .transformed_distribution import TransformedDistribution
from .transforms import AbsTransform


class HalfCauchy(TransformedDistribution):
    """``|X|`` for ``X ~ Cauchy(0, scale)``: a ``TransformedDistribution`` by an ``AbsTransform``.

    >>> import neurarust as nr
    >>> from neurarust.distributions import HalfCauchy
    >>> d = HalfCauchy(nr.tensor([2.0]))
    >>> d.mean.item(), d.cdf(nr.tensor([2.0])).item()
    (inf, 0.5)
    """

    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative  # type: ignore[assignment]
    has_rsample = True  # type: ignore[assignment]

    def __init__(self, scale: Any, validate_args: bool | None = None):
        super().__init__(Cauchy(0.0, scale, validate_args=False), AbsTransform(), validate_args=validate_args)

    @property
    def scale(self) -> Tensor:
        return self.base_dist.scale

    @property
    def mean(self) -> Tensor:
        return nr.full_like(self.scale, float("inf"))

    @property
    def mode(self) -> Tensor:
        return nr.zeros_like(self.scale)

    @property
    def variance(self) -> Tensor:
        return self.base_dist.variance

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
