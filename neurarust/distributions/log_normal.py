"""The log-normal distribution: ``exp`` of a normal variable.

    >>> import neurarust as nr
    >>> from neurarust.distributions import LogNormal
    >>> LogNormal(0.0, 1.0).cdf(nr.tensor(1.0)).item()
    0.5
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.tensor import Tensor

from . import constraints
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform


class LogNormal(TransformedDistribution):
    """``exp(X)`` for ``X ~ Normal(loc, scale)``: a ``TransformedDistribution`` of a ``Normal`` by
    an ``ExpTransform``.

    >>> import neurarust as nr
    >>> from neurarust.distributions import LogNormal
    >>> d = LogNormal(nr.tensor([0.0]), 1.0)
    >>> [round(v, 4) for v in (d.mean.item(), d.mode.item(), d.entropy().item())]
    [1.6487, 0.3679, 1.4189]
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive  # type: ignore[assignment]
    has_rsample = True  # type: ignore[assignment]

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None):
        super().__init__(Normal(loc, scale, validate_args=validate_args), ExpTransform(), validate_args=validate_args)

    @property
    def loc(self) -> Tensor:
        return self.base_dist.loc

    @property
    def scale(self) -> Tensor:
        return self.base_dist.scale

    @property
    def mean(self) -> Tensor:
        return nr.exp(self.loc + self.scale ** 2 / 2)

    @property
    def mode(self) -> Tensor:
        return nr.exp(self.loc - self.scale ** 2)

    @property
    def variance(self) -> Tensor:
        s2 = self.scale ** 2
        return nr.expm1(s2) * nr.exp(2 * self.loc + s2)

    def entropy(self) -> Tensor:
        return self.base_dist.entropy() + self.loc

    def __repr__(self) -> str:
        return repr(self.base_dist).replace("Normal", "LogNormal", 1)
