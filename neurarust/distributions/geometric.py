"""The geometric distribution: the number of failures before the first success of Bernoulli trials.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Geometric
    >>> Geometric(0.5).log_prob(nr.tensor(1.0)).exp().item()
    0.25
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.errors import ArgumentError
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .utils import BinaryProbs, broadcast_all, one_of


class Geometric(BinaryProbs, Distribution):
    """Geometric distribution on ``{0, 1, 2, ...}`` with success probability ``probs`` in (0, 1], or
    its ``logits``, not both.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Geometric
    >>> d = Geometric(nr.tensor([0.5, 0.25]))
    >>> d.mean.tolist(), d.variance.tolist()
    ([1.0, 3.0], [2.0, 12.0])
    """

    arg_constraints = {"probs": constraints.interval(0.0, 1.0), "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None):
        name, value = one_of(probs, logits)
        (param,) = broadcast_all(value)
        setattr(self, name, param)
        super().__init__(param.shape, validate_args=validate_args)
        if self._validate_args and name == "probs" and not bool((param > 0).all()):
            # probs 0 never succeeds: torch refuses it too, beyond the interval check
            raise ArgumentError(f"Expected parameter probs (Tensor of shape {tuple(param.shape)}) of distribution "
                                f"{self!r} to be positive but found invalid values:\n{param}")

    @property
    def mean(self) -> Tensor:
        return 1.0 / self.probs - 1.0

    @property
    def mode(self) -> Tensor:
        return nr.zeros_like(self.probs)

    @property
    def variance(self) -> Tensor:
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        tiny = nr.finfo(self.probs.dtype).tiny
        with nr.no_grad():
            u = nr.rand(self._extended_shape(sample_shape), dtype=self.probs.dtype, device=self.probs.device)
            # inverse CDF: floor(log U / log(1 - p)); U kept above 0 so log U is finite
            return (nr.log(u.clamp(min=tiny)) / nr.log1p(-self.probs)).floor()

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # p == 1 at k == 0 is 0 * log(0): define that term as 0, as torch does
        safe = nr.where((probs == 1) & (value == 0), 0.0, probs)
        return value * nr.log1p(-safe) + nr.log(self.probs)

    def entropy(self) -> Tensor:
        return (nr.softplus(self.logits) - self.probs * self.logits) / self.probs

