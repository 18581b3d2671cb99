"""``TransformedDistribution``: a base distribution pushed through bijective transforms.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Normal, TransformedDistribution
    >>> from neurarust.distributions.transforms import ExpTransform
    >>> d = TransformedDistribution(Normal(0.0, 1.0), [ExpTransform()])
    >>> round(d.log_prob(nr.tensor(1.0)).item(), 4)
    -0.9189
"""
from __future__ import annotations

from typing import Any, Sequence

import neurarust as nr
from neurarust.errors import ArgumentError
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .transforms import ComposeTransform, Transform
from .utils import as_size, sum_rightmost


class TransformedDistribution(Distribution):
    """The distribution of ``y = T_n(...T_1(x))`` for ``x`` drawn from ``base_distribution``; its
    ``log_prob`` subtracts each transform's log-Jacobian (change of variables), and ``cdf``/``icdf``
    work for monotone transforms.

    >>> import neurarust as nr
    >>> from neurarust.distributions import TransformedDistribution, Uniform
    >>> from neurarust.distributions.transforms import AffineTransform
    >>> d = TransformedDistribution(Uniform(0.0, 1.0), AffineTransform(1.0, 2.0))
    >>> d.cdf(nr.tensor(2.0)).item(), round(d.log_prob(nr.tensor(2.0)).exp().item(), 4)
    (0.5, 0.5)
    """

    arg_constraints: dict[str, constraints.Constraint] = {}

    def __init__(self, base_distribution: Distribution, transforms: Transform | Sequence[Transform],
                 validate_args: bool | None = None):
        parts = [transforms] if isinstance(transforms, Transform) else list(transforms)
        if not all(isinstance(t, Transform) for t in parts):
            raise ArgumentError(f"transforms must be a Transform or a list of Transforms, got {transforms!r}")
        self.base_dist, self.transforms = base_distribution, parts
        event_dim = max([t.event_dim for t in parts] + [len(base_distribution.event_shape)])
        shape = tuple(base_distribution.batch_shape) + tuple(base_distribution.event_shape)
        split = len(shape) - event_dim
        super().__init__(shape[:split], shape[split:], validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> "TransformedDistribution":
        batch_shape = as_size(batch_shape)
        extra = len(self.event_shape) - len(self.base_dist.event_shape)
        base_batch = tuple(batch_shape) + tuple(self.event_shape[:extra])
        new = _instance if _instance is not None else object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.base_dist = self.base_dist.expand(base_batch)
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def has_rsample(self) -> bool:  # type: ignore[override]
        return self.base_dist.has_rsample

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return self.transforms[-1].codomain if self.transforms else self.base_dist.support

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        with nr.no_grad():
            x = self.base_dist.sample(sample_shape)
            for t in self.transforms:
                x = t(x)
            return x

    def rsample(self, sample_shape: Any = Size()) -> Tensor:
        x = self.base_dist.rsample(sample_shape)
        for t in self.transforms:
            x = t(x)
        return x

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        event_dim = len(self.event_shape)
        total: Any = 0.0
        y = value
        for t in reversed(self.transforms):
            x = t.inv(y)
            event_dim += t.domain.event_dim - t.codomain.event_dim
            total = total - sum_rightmost(t.log_abs_det_jacobian(x, y), event_dim - t.domain.event_dim)
            y = x
        return total + sum_rightmost(self.base_dist.log_prob(y), event_dim - len(self.base_dist.event_shape))

    def _monotone(self, value: Tensor) -> Tensor:
        sign = ComposeTransform(self.transforms).sign
        return value if sign == 1 else 1 - value

    def cdf(self, value: Tensor) -> Tensor:
        for t in reversed(self.transforms):
            value = t.inv(value)
        if self._validate_args:
            self.base_dist._validate_sample(value)
        return self._monotone(self.base_dist.cdf(value))

    def icdf(self, value: Tensor) -> Tensor:
        x = self.base_dist.icdf(self._monotone(value))
        for t in self.transforms:
            x = t(x)
        return x
