"""The Laplace (double exponential) distribution.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Laplace
    >>> Laplace(0.0, 1.0).cdf(nr.tensor(0.0)).item()
    0.5
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


class Laplace(Distribution):
    """Laplace distribution with location ``loc`` and scale ``scale``: density
    ``exp(-|x - loc| / scale) / (2 * scale)``.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Laplace
    >>> d = Laplace(nr.tensor([0.0, 1.0]), 2.0)
    >>> d.variance.tolist(), round(d.entropy().tolist()[0], 4)
    ([8.0, 8.0], 2.3863)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return math.sqrt(2) * self.scale

    @property
    def variance(self) -> Tensor:
        return 2 * self.scale ** 2

    def rsample(self, sample_shape: Any = Size()) -> Tensor:
        eps = nr.finfo(self.loc.dtype).eps
        u = nr.rand(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        # u in (-1, 1): its sign picks the side, |u| the distance, by the inverse CDF
        u = u * (2 - eps) - (1 - eps)
        return self.loc - self.scale * u.sign() * nr.log1p(-u.abs())

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -nr.log(2 * self.scale) - (value - self.loc).abs() / self.scale

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        z = value - self.loc
        return 0.5 - 0.5 * z.sign() * nr.expm1(-z.abs() / self.scale)

    def icdf(self, value: Tensor) -> Tensor:
        term = value - 0.5
        return self.loc - self.scale * term.sign() * nr.log1p(-2 * term.abs())

    def entropy(self) -> Tensor:
        return 1 + nr.log(2 * self.scale)
