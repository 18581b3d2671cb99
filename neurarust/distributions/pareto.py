"""The Pareto (type I) distribution.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Pareto
    >>> round(Pareto(1.0, 2.0).log_prob(nr.tensor(1.0)).exp().item(), 4)
    2.0
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .exponential import Exponential
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, ExpTransform
from .utils import as_size, broadcast_all


class Pareto(TransformedDistribution):
    """Pareto distribution with minimum ``scale`` and tail index ``alpha``, built as torch builds it:
    ``scale * exp(E)`` for ``E ~ Exponential(alpha)``. The mean is inf for ``alpha <= 1`` and the
    variance for ``alpha <= 2``.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Pareto
    >>> d = Pareto(nr.tensor([1.0, 1.0]), nr.tensor([3.0, 1.0]))
    >>> d.mean.tolist(), d.variance.tolist()
    ([1.5, inf], [0.75, inf])
    """

    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}

    def __init__(self, scale: Any, alpha: Any, validate_args: bool | None = None):
        self.scale, self.alpha = broadcast_all(scale, alpha)
        transforms = [ExpTransform(), AffineTransform(0.0, self.scale)]
        super().__init__(Exponential(self.alpha, validate_args=validate_args), transforms, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> "Pareto":
        new = super().expand(batch_shape, _instance)
        shape = tuple(as_size(batch_shape))
        new.scale = self.scale.expand(shape)
        new.alpha = self.alpha.expand(shape)
        return new  # type: ignore[return-value]

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.greater_than_eq(self.scale)

    @property
    def mean(self) -> Tensor:
        a = self.alpha.clamp(min=1)
        return a * self.scale / (a - 1)

    @property
    def mode(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        a = self.alpha.clamp(min=2)
        return self.scale ** 2 * a / ((a - 1) ** 2 * (a - 2))

    def entropy(self) -> Tensor:
        return nr.log(self.scale / self.alpha) + (1 + 1 / self.alpha)
