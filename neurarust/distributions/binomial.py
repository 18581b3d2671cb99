"""The binomial distribution: successes in ``total_count`` Bernoulli trials.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Binomial
    >>> round(Binomial(2, nr.tensor(0.5)).log_prob(nr.tensor(1.0)).exp().item(), 4)
    0.5
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .utils import BinaryProbs, as_size, broadcast_all, one_of

TRIALS_PER_ROUND = 256
"""Bernoulli trials ``Binomial.sample`` draws per element in one round (bounds its memory)."""


def _clamp_by_zero(x: Tensor) -> Tensor:
    """``max(x, 0)`` with torch's gradient of 1/2 at 0 (the average of the two one-sided slopes)."""
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2


class Binomial(BinaryProbs, Distribution):
    """Binomial distribution with ``total_count`` trials (non-negative integers, broadcast with the
    parameter) of success probability ``probs`` or log-odds ``logits``, not both.

    ``sample`` counts the successes of ``total_count`` uniform draws per element, in rounds of
    :data:`TRIALS_PER_ROUND` trials (torch uses a dedicated sampler: same distribution, other numbers).

    >>> import neurarust as nr
    >>> from neurarust.distributions import Binomial
    >>> d = Binomial(nr.tensor([10.0, 4.0]), probs=nr.tensor([0.5, 0.25]))
    >>> d.mean.tolist(), d.variance.tolist(), d.mode.tolist()
    ([5.0, 1.0], [2.5, 0.75], [5.0, 1.0])
    """

    arg_constraints = {"total_count": constraints.nonnegative_integer, "probs": constraints.unit_interval,
                       "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count: Any = 1, probs: Any = None, logits: Any = None, validate_args: bool | None = None):
        name, value = one_of(probs, logits)
        param, total = broadcast_all(value, total_count)
        self.total_count = total.to(param.dtype)
        setattr(self, name, param)
        self._param_name = name
        super().__init__(param.shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> "Binomial":
        new = super().expand(batch_shape, _instance)
        new.total_count = self.total_count.expand(tuple(as_size(batch_shape)))
        return new

    @property
    def param_shape(self) -> Size:
        return getattr(self, self._param_name).shape

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self) -> Tensor:
        return self.total_count * self.probs

    @property
    def mode(self) -> Tensor:
        return nr.minimum(((self.total_count + 1) * self.probs).floor(), self.total_count)

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        with nr.no_grad():
            n, p = self.total_count.expand(shape), self.probs.expand(shape)
            most = int(n.max().item()) if n.numel() else 0
            count = nr.zeros(shape, dtype=p.dtype, device=p.device)
            for start in range(0, most, TRIALS_PER_ROUND):
                trials = min(TRIALS_PER_ROUND, most - start)
                index = nr.arange(start, start + trials, dtype=p.dtype, device=p.device)
                index = index.reshape((-1,) + (1,) * len(shape))
                hits = (nr.rand((trials,) + shape, dtype=p.dtype, device=p.device) < p) & (index < n)
                count = count + hits.to(p.dtype).sum(0)
            return count

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        n, logits = self.total_count, self.logits
        log_binom = nr.lgamma(n + 1) - nr.lgamma(value + 1) - nr.lgamma(n - value + 1)
        # n * log(1 + exp(logits)), written to stay finite for large |logits|
        normalize = n * _clamp_by_zero(logits) + n * nr.log1p(nr.exp(-logits.abs()))
        return value * logits + log_binom - normalize

    def _homogeneous_count(self, what: str) -> int:
        most = int(self.total_count.max().item())
        if self.total_count.min().item() != most:
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
        return most

    def entropy(self) -> Tensor:
        self._homogeneous_count("entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(nr.exp(log_prob) * log_prob).sum(0)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """``0 .. total_count`` along a new leading dim (one ``total_count`` for the whole batch).

        >>> import neurarust as nr
        >>> from neurarust.distributions import Binomial
        >>> Binomial(2, nr.tensor([0.5, 0.1])).enumerate_support().tolist()
        [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
        """
        most = self._homogeneous_count("enumerate_support")
        param = getattr(self, self._param_name)
        values = nr.arange(most + 1, dtype=param.dtype, device=param.device)
        values = values.reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + tuple(self.batch_shape)) if expand else values
