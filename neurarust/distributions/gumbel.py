"""The Gumbel (type-I extreme value) distribution.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Gumbel
    >>> round(Gumbel(0.0, 1.0).log_prob(nr.tensor(0.0)).item(), 4)
    -1.0
"""
from __future__ import annotations

import math
from typing import Any

import neurarust as nr
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, ExpTransform
from .uniform import Uniform
from .utils import as_size, broadcast_all

EULER_GAMMA = 0.57721566490153286061


class Gumbel(TransformedDistribution):
    """Gumbel distribution with location ``loc`` and scale ``scale``, built as torch builds it:
    ``loc - scale * log(-log(U))`` for ``U`` uniform on ``[tiny, 1 - eps]``, so ``rsample`` is
    reparameterised.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Gumbel
    >>> d = Gumbel(nr.tensor([0.0]), 2.0)
    >>> round(d.mean.item(), 4), round(d.cdf(nr.tensor([0.0])).item(), 4)
    (1.1544, 0.3679)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real  # type: ignore[assignment]

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None):
        self.loc, self.scale = broadcast_all(loc, scale)
        finfo = nr.finfo(self.loc.dtype)
        base = Uniform(nr.full_like(self.loc, finfo.tiny), nr.full_like(self.loc, 1 - finfo.eps),
                       validate_args=validate_args)
        transforms = [ExpTransform().inv, AffineTransform(0.0, -nr.ones_like(self.scale)), ExpTransform().inv,
                      AffineTransform(self.loc, -self.scale)]
        super().__init__(base, transforms, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> "Gumbel":
        new = super().expand(batch_shape, _instance)
        shape = tuple(as_size(batch_shape))
        new.loc = self.loc.expand(shape)
        new.scale = self.scale.expand(shape)
        return new  # type: ignore[return-value]

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        y = (self.loc - value) / self.scale
        return (y - nr.exp(y)) - nr.log(self.scale)

    @property
    def mean(self) -> Tensor:
        return self.loc + self.scale * EULER_GAMMA

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self) -> Tensor:
        return self.stddev ** 2

    def entropy(self) -> Tensor:
        return nr.log(self.scale) + (1 + EULER_GAMMA)
