"""The Bernoulli distribution: 1 with probability ``probs``, else 0.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Bernoulli
    >>> round(Bernoulli(logits=nr.tensor(0.0)).log_prob(nr.tensor(1.0)).exp().item(), 4)
    0.5
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .utils import BinaryProbs, broadcast_all, one_of


class Bernoulli(BinaryProbs, Distribution):
    """Bernoulli distribution given by ``probs`` (in [0, 1]) or ``logits`` (log-odds), not both.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Bernoulli
    >>> d = Bernoulli(nr.tensor([0.25, 0.5]))
    >>> d.mean.tolist(), d.variance.tolist()
    ([0.25, 0.5], [0.1875, 0.25])
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None):
        name, value = one_of(probs, logits)
        (param,) = broadcast_all(value)
        setattr(self, name, param)
        super().__init__(param.shape, validate_args=validate_args)

    @property
    def param_shape(self) -> Size:
        return self.batch_shape

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        # torch: 0.5 has no unique mode, so it is NaN there
        mode = (self.probs >= 0.5).to(self.probs.dtype)
        return nr.where(self.probs == 0.5, float("nan"), mode)

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        with nr.no_grad():
            return nr.bernoulli(self.probs.expand(tuple(self._extended_shape(sample_shape))))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        # -BCE-with-logits, written with softplus so large |logits| stay finite
        return value * logits - nr.softplus(logits)

    def entropy(self) -> Tensor:
        return nr.softplus(self.logits) - self.probs * self.logits

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """``[0, 1]`` along a new leading dim (expanded over ``batch_shape`` unless ``expand=False``).

        >>> from neurarust.distributions import Bernoulli
        >>> Bernoulli(0.3).enumerate_support().tolist()
        [0.0, 1.0]
        """
        values = nr.arange(2, dtype=self.probs.dtype, device=self.probs.device)
        values = values.reshape((2,) + (1,) * len(self.batch_shape))
        return values.expand((2,) + tuple(self.batch_shape)) if expand else values
