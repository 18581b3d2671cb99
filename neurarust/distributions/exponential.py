"""The exponential distribution with rate ``rate``.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Exponential
    >>> Exponential(2.0).mean.item()
    0.5
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .utils import broadcast_all


class Exponential(Distribution):
    """Exponential distribution with density ``rate * exp(-rate * x)`` on ``x >= 0``.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Exponential
    >>> d = Exponential(nr.tensor([1.0, 4.0]))
    >>> d.variance.tolist(), round(d.cdf(nr.tensor(0.0)).tolist()[0], 4)
    ([1.0, 0.0625], 0.0)
    """

    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate: Any, validate_args: bool | None = None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def mode(self) -> Tensor:
        return nr.zeros_like(self.rate)

    @property
    def stddev(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def variance(self) -> Tensor:
        return self.rate ** -2

    def rsample(self, sample_shape: Any = Size()) -> Tensor:
        u = nr.rand(self._extended_shape(sample_shape), dtype=self.rate.dtype, device=self.rate.device)
        # u lies in [0, 1), so -log1p(-u) is a finite Exp(1) draw (inverse-CDF sampling)
        return -nr.log1p(-u) / self.rate

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return nr.log(self.rate) - self.rate * value

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return 1 - nr.exp(-self.rate * value)

    def icdf(self, value: Tensor) -> Tensor:
        return -nr.log1p(-value) / self.rate

    def entropy(self) -> Tensor:
        return 1.0 - nr.log(self.rate)
