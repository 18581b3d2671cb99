"""``Independent``: reinterpret a distribution's rightmost batch dims as event dims.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Independent, Normal
    >>> d = Independent(Normal(nr.zeros(2, 3), 1.0), 1)
    >>> d.batch_shape, d.event_shape, d.log_prob(nr.zeros(2, 3)).shape
    (neurarust.Size([2]), neurarust.Size([3]), neurarust.Size([2]))
"""
from __future__ import annotations

from typing import Any

from neurarust.errors import ArgumentError
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .utils import as_size, sum_rightmost


class Independent(Distribution):
    """``base_distribution`` with its ``reinterpreted_batch_ndims`` rightmost batch dims moved into the
    event: ``log_prob`` and ``entropy`` sum over them (a diagonal multivariate normal is
    ``Independent(Normal(loc, scale), 1)``).

    >>> import neurarust as nr
    >>> from neurarust.distributions import Independent, Normal
    >>> d = Independent(Normal(nr.zeros(3), 1.0), 1)
    >>> round(d.entropy().item(), 4)
    4.2568
    """

    arg_constraints: dict[str, constraints.Constraint] = {}

    def __init__(self, base_distribution: Distribution, reinterpreted_batch_ndims: int,
                 validate_args: bool | None = None):
        batch = tuple(base_distribution.batch_shape)
        if not 0 <= reinterpreted_batch_ndims <= len(batch):
            raise ArgumentError(f"Expected reinterpreted_batch_ndims <= len(base_distribution.batch_shape), actual "
                                f"{reinterpreted_batch_ndims} vs {len(batch)}")
        split = len(batch) - reinterpreted_batch_ndims
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims
        super().__init__(batch[:split], batch[split:] + tuple(base_distribution.event_shape),
                         validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> "Independent":
        batch_shape = as_size(batch_shape)
        inner = self.event_shape[:self.reinterpreted_batch_ndims]
        base = self.base_dist.expand(tuple(batch_shape) + tuple(inner))
        new = Independent(base, self.reinterpreted_batch_ndims, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self) -> bool:  # type: ignore[override]
        return False

    @constraints.dependent_property
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        result = self.base_dist.support
        return constraints.independent(result, self.reinterpreted_batch_ndims) if self.reinterpreted_batch_ndims else result

    @property
    def mean(self) -> Tensor:
        return self.base_dist.mean

    @property
    def mode(self) -> Tensor:
        return self.base_dist.mode

    @property
    def variance(self) -> Tensor:
        return self.base_dist.variance

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape: Any = Size()) -> Tensor:
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value: Tensor) -> Tensor:
        return sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self) -> Tensor:
        return sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def __repr__(self) -> str:
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
