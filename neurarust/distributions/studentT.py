"""Student's t distribution.

    >>> import neurarust as nr
    >>> from neurarust.distributions import StudentT
    >>> round(StudentT(1.0).log_prob(nr.tensor(0.0)).exp().item(), 4)
    0.3183
"""
from __future__ import annotations

import math
from typing import Any

import neurarust as nr
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .chi2 import Chi2
from .distribution import Distribution
from .utils import as_size, broadcast_all


class StudentT(Distribution):
    """Student's t with ``df`` degrees of freedom, location ``loc`` and scale ``scale`` (broadcast
    together). ``sample`` is ``loc + scale * X / sqrt(Z / df)`` for a standard normal ``X`` and a
    chi-squared ``Z``; ``has_rsample`` is False (see :class:`~neurarust.distributions.Gamma`).

    >>> import neurarust as nr
    >>> from neurarust.distributions import StudentT
    >>> StudentT(nr.tensor([1.0, 2.0, 4.0])).variance.tolist()
    [nan, inf, 2.0]
    """

    arg_constraints = {"df": constraints.positive, "loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, df: Any, loc: Any = 0.0, scale: Any = 1.0, validate_args: bool | None = None):
        self.df, self.loc, self.scale = broadcast_all(df, loc, scale)
        self._chi2 = Chi2(self.df, validate_args=False)
        super().__init__(self.df.shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> "StudentT":
        new = super().expand(batch_shape, _instance)
        new._chi2 = self._chi2.expand(tuple(as_size(batch_shape)))
        return new

    @property
    def mean(self) -> Tensor:
        return nr.where(self.df <= 1, float("nan"), self.loc)

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        df = self.df
        # the variance is finite only for df > 2 (the clamp keeps the unused branch finite)
        finite = self.scale ** 2 * df / (df - 2).clamp(min=nr.finfo(df.dtype).tiny)
        return nr.where(df > 2, finite, nr.where(df > 1, float("inf"), float("nan")))

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        with nr.no_grad():
            x = nr.randn(shape, dtype=self.df.dtype, device=self.df.device)
            z = self._chi2.sample(sample_shape)
            return self.loc + self.scale * x * nr.rsqrt(z / self.df)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        df = self.df
        y = (value - self.loc) / self.scale
        z = (nr.log(self.scale) + 0.5 * nr.log(df) + 0.5 * math.log(math.pi) + nr.lgamma(0.5 * df)
             - nr.lgamma(0.5 * (df + 1.0)))
        return -0.5 * (df + 1.0) * nr.log1p(y ** 2 / df) - z

    def entropy(self) -> Tensor:
        df = self.df
        lbeta = nr.lgamma(0.5 * df) + math.lgamma(0.5) - nr.lgamma(0.5 * (df + 1))
        return (nr.log(self.scale) + 0.5 * (df + 1) * (nr.digamma(0.5 * (df + 1)) - nr.digamma(0.5 * df))
                + 0.5 * nr.log(df) + lbeta)
