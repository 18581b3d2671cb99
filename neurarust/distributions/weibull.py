"""The two-parameter Weibull distribution.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Weibull
    >>> round(Weibull(1.0, 1.0).log_prob(nr.tensor(1.0)).item(), 4)
    -1.0
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .exponential import Exponential
from .gumbel import EULER_GAMMA
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, PowerTransform
from .utils import as_size, broadcast_all


class Weibull(TransformedDistribution):
    """Weibull distribution with scale ``scale`` (lambda) and shape ``concentration`` (k), built as
    torch builds it: ``scale * E ** (1 / concentration)`` for ``E ~ Exponential(1)``.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Weibull
    >>> d = Weibull(nr.tensor([2.0]), nr.tensor([1.0]))
    >>> d.mean.item(), d.variance.item()
    (2.0, 4.0)
    """

    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive  # type: ignore[assignment]

    def __init__(self, scale: Any, concentration: Any, validate_args: bool | None = None):
        self.scale, self.concentration = broadcast_all(scale, concentration)
        self.concentration_reciprocal = 1 / self.concentration
        base = Exponential(nr.ones_like(self.scale), validate_args=validate_args)
        transforms = [PowerTransform(self.concentration_reciprocal), AffineTransform(0.0, self.scale)]
        super().__init__(base, transforms, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> "Weibull":
        new = super().expand(batch_shape, _instance)
        shape = tuple(as_size(batch_shape))
        new.scale = self.scale.expand(shape)
        new.concentration = self.concentration.expand(shape)
        new.concentration_reciprocal = self.concentration_reciprocal.expand(shape)
        return new  # type: ignore[return-value]

    @property
    def mean(self) -> Tensor:
        return self.scale * nr.exp(nr.lgamma(1 + self.concentration_reciprocal))

    @property
    def mode(self) -> Tensor:
        k = self.concentration
        return self.scale * ((k - 1) / k) ** (1 / k)

    @property
    def variance(self) -> Tensor:
        r = self.concentration_reciprocal
        return self.scale ** 2 * (nr.exp(nr.lgamma(1 + 2 * r)) - nr.exp(2 * nr.lgamma(1 + r)))

    def entropy(self) -> Tensor:
        r = self.concentration_reciprocal
        return EULER_GAMMA * (1 - r) + nr.log(self.scale * r) + 1


