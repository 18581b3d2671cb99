"""The Dirichlet distribution over the probability simplex.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Dirichlet
    >>> Dirichlet(nr.tensor([1.0, 3.0])).mean.tolist()
    [0.25, 0.75]
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.errors import ShapeError
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .gamma import standard_gamma
from .utils import broadcast_all


class Dirichlet(Distribution):
    """Dirichlet distribution with positive ``concentration`` (last dim: the ``K`` categories, the
    event; the other dims are the batch).

    ``sample`` normalises ``K`` independent gamma draws. ``has_rsample`` is False, for the reason
    given in :class:`~neurarust.distributions.Gamma`.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Dirichlet
    >>> d = Dirichlet(nr.tensor([2.0, 2.0, 5.0]))
    >>> d.mode.tolist(), d.event_shape
    ([0.1666..., 0.1666..., 0.6666...], neurarust.Size([3]))
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex

    def __init__(self, concentration: Any, validate_args: bool | None = None):
        (concentration,) = broadcast_all(concentration)
        if concentration.dim() < 1:
            raise ShapeError(f"`concentration` parameter must be at least one-dimensional, got shape "
                             f"{tuple(concentration.shape)}")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self) -> Tensor:
        c = self.concentration
        shifted = (c - 1).clamp(min=0)
        mode = shifted / shifted.sum(-1, keepdim=True)
        # all concentrations below 1: the density peaks at a vertex, the first one as torch picks it
        vertex = (nr.arange(c.shape[-1], device=c.device) == 0).to(c.dtype)
        return nr.where((c < 1).all(-1, keepdim=True), vertex, mode)

    @property
    def variance(self) -> Tensor:
        c = self.concentration
        total = c.sum(-1, keepdim=True)
        return c * (total - c) / (total ** 2 * (total + 1))

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        with nr.no_grad():
            gammas = standard_gamma(self.concentration.expand(tuple(self._extended_shape(sample_shape))))
            return gammas / gammas.sum(-1, keepdim=True)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return nr.xlogy(c - 1.0, value).sum(-1) + nr.lgamma(c.sum(-1)) - nr.lgamma(c).sum(-1)

    def entropy(self) -> Tensor:
        c = self.concentration
        k, total = c.shape[-1], c.sum(-1)
        return (nr.lgamma(c).sum(-1) - nr.lgamma(total) - (k - total) * nr.digamma(total)
                - ((c - 1.0) * nr.digamma(c)).sum(-1))
