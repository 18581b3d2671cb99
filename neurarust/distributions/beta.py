"""The beta distribution on the unit interval: a two-category Dirichlet.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Beta
    >>> Beta(2.0, 2.0).mean.item(), round(Beta(2.0, 2.0).log_prob(nr.tensor(0.5)).exp().item(), 4)
    (0.5, 1.5)
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .dirichlet import Dirichlet
from .distribution import Distribution
from .utils import as_size, broadcast_all


class Beta(Distribution):
    """Beta distribution with concentrations ``concentration1`` (alpha) and ``concentration0``
    (beta), broadcast together; held as ``Dirichlet(stack([concentration1, concentration0], -1))``
    as torch does. ``has_rsample`` is False (see :class:`~neurarust.distributions.Gamma`).

    >>> import neurarust as nr
    >>> from neurarust.distributions import Beta
    >>> d = Beta(nr.tensor([2.0, 1.0]), nr.tensor([2.0, 3.0]))
    >>> d.mean.tolist(), d.mode.tolist()
    ([0.5, 0.25], [0.5, 0.0])
    """

    arg_constraints = {"concentration1": constraints.positive, "concentration0": constraints.positive}
    support = constraints.unit_interval

    def __init__(self, concentration1: Any, concentration0: Any, validate_args: bool | None = None):
        c1, c0 = broadcast_all(concentration1, concentration0)
        self._dirichlet = Dirichlet(nr.stack([c1, c0], -1), validate_args=validate_args)
        super().__init__(self._dirichlet.batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> "Beta":
        new = _instance if _instance is not None else object.__new__(type(self))
        shape = tuple(as_size(batch_shape))
        new._dirichlet = self._dirichlet.expand(shape)
        Distribution.__init__(new, shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def concentration1(self) -> Tensor:
        """The first concentration (alpha)."""
        return self._dirichlet.concentration[..., 0]

    @property
    def concentration0(self) -> Tensor:
        """The second concentration (beta)."""
        return self._dirichlet.concentration[..., 1]

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self) -> Tensor:
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total ** 2 * (total + 1))

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        return self._dirichlet.sample(sample_shape)[..., 0]

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return self._dirichlet.log_prob(nr.stack([value, 1.0 - value], -1))

    def entropy(self) -> Tensor:
        return self._dirichlet.entropy()
