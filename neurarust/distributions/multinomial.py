"""The multinomial distribution: category counts of ``total_count`` categorical draws.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Multinomial
    >>> Multinomial(4, nr.tensor([0.5, 0.5])).mean.tolist()
    [2.0, 2.0]
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.errors import ArgumentError
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .binomial import Binomial
from .categorical import Categorical
from .distribution import Distribution
from .utils import as_size, broadcast_all, delegate


class Multinomial(Distribution):
    """Multinomial distribution: counts over the last dim of ``probs`` or ``logits`` (as in
    :class:`Categorical`) of ``total_count`` draws, one ``int`` for the whole batch as in torch.
    ``log_prob`` accepts any non-negative counts (their sum is the number of draws).

    >>> import neurarust as nr
    >>> from neurarust.distributions import Multinomial
    >>> d = Multinomial(3, probs=nr.tensor([0.25, 0.75]))
    >>> round(d.log_prob(nr.tensor([1.0, 2.0])).exp().item(), 4), d.event_shape
    (0.4219, neurarust.Size([2]))
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count: int = 1, probs: Any = None, logits: Any = None,
                 validate_args: bool | None = None):
        if isinstance(total_count, bool) or not isinstance(total_count, int):
            raise NotImplementedError(f"inhomogeneous total_count is not supported: got {type(total_count).__name__}, "
                                      "expected an int")
        if total_count < 0:
            raise ArgumentError(f"total_count must be non-negative, got {total_count}")
        self.total_count = total_count
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> "Multinomial":
        new = _instance if _instance is not None else object.__new__(type(self))
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, as_size(batch_shape), self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.multinomial(self.total_count)

    probs = delegate("_categorical", "probs")
    logits = delegate("_categorical", "logits")
    param_shape = delegate("_categorical", "param_shape")

    @property
    def mean(self) -> Tensor:
        return self.probs * self.total_count

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        sample_shape = as_size(sample_shape)
        k = self.event_shape[0]
        with nr.no_grad():
            if self.total_count == 0:
                return nr.zeros(tuple(self._extended_shape(sample_shape)), dtype=self.probs.dtype,
                                device=self.probs.device)
            draws = self._categorical.sample((self.total_count,) + tuple(sample_shape))
            categories = nr.arange(k, device=draws.device)
            return (draws.unsqueeze(-1) == categories).to(self.probs.dtype).sum(0)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        # a zero count of an impossible category contributes nothing (not 0 * -inf)
        logits = nr.where((value == 0) & nr.isneginf(logits), 0.0, logits)
        return nr.lgamma(value.sum(-1) + 1) - nr.lgamma(value + 1).sum(-1) + (logits * value).sum(-1)

    def entropy(self) -> Tensor:
        n = float(self.total_count)
        binomial = Binomial(self.total_count, self.probs, validate_args=False)
        support = binomial.enumerate_support(expand=False)[1:]
        weighted = (nr.exp(binomial.log_prob(support)) * nr.lgamma(support + 1)).sum(0).sum(-1)
        return n * self._categorical.entropy() - nr.lgamma(nr.tensor(n + 1, dtype=self.probs.dtype)) + weighted
