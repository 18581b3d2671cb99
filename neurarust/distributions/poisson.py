"""The Poisson distribution: counts of events that occur at rate ``rate``.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Poisson
    >>> round(Poisson(2.0).log_prob(nr.tensor(0.0)).exp().item(), 4)
    0.1353
"""
from __future__ import annotations

import math
from typing import Any

import neurarust as nr
from neurarust.errors import ArgumentError
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

MAX_SAMPLING_RATE = 500.0
"""Largest rate ``Poisson.sample`` draws for: its inversion sampler starts from ``exp(-rate)``, which
loses precision and then underflows in float64 (near 745) for larger rates."""


class Poisson(Distribution):
    """Poisson distribution with mean ``rate`` on ``{0, 1, 2, ...}``.

    ``sample`` is exact inverse-CDF sampling (one uniform per draw, a search over ``k`` run for every
    element at once), for rates up to :data:`MAX_SAMPLING_RATE`; torch draws any rate.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Poisson
    >>> d = Poisson(nr.tensor([1.5, 4.0]))
    >>> d.mean.tolist(), d.mode.tolist()
    ([1.5, 4.0], [1.0, 4.0])
    """

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate: Any, validate_args: bool | None = None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(self.rate.shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.rate

    @property
    def mode(self) -> Tensor:
        return self.rate.floor()

    @property
    def variance(self) -> Tensor:
        return self.rate

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        with nr.no_grad():
            rate = self.rate.expand(shape).to(nr.float64)
            if rate.numel() and rate.max().item() > MAX_SAMPLING_RATE:
                raise ArgumentError(f"Poisson.sample supports rates up to {MAX_SAMPLING_RATE}, got a rate of "
                                    f"{rate.max().item()}")
            return _inverse_cdf_draw(rate).to(self.rate.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return nr.xlogy(value, rate) - rate - nr.lgamma(value + 1)


def _inverse_cdf_draw(rate: Tensor) -> Tensor:
    """The smallest ``k`` with ``U <= P(X <= k)`` for a uniform ``U``, for every element at once: each
    round advances ``k`` where the CDF is still below ``U``. Float64, so the CDF's rounding is far
    below the uniform's resolution."""
    u = nr.rand(rate.shape, dtype=nr.float64, device=rate.device)
    pmf = nr.exp(-rate)
    cdf = pmf
    k = nr.zeros_like(rate)
    active = u > cdf
    # the CDF's rounding could leave it a hair below a u near 1: cap the search far in the tail
    limit = MAX_SAMPLING_RATE + 40 * math.sqrt(MAX_SAMPLING_RATE) + 40
    while bool(active.any()) and k.max().item() < limit:
        k = k + active.to(nr.float64)
        pmf = nr.where(active, pmf * rate / k.clamp(min=1.0), pmf)
        cdf = nr.where(active, cdf + pmf, cdf)
        active = active & (u > cdf) & (pmf > 0)
    return k
