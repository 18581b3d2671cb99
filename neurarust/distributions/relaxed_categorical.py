"""The relaxed one-hot categorical (Gumbel-softmax, concrete) distribution: a differentiable
stand-in for a one-hot categorical draw.

    >>> import neurarust as nr
    >>> from neurarust.distributions import RelaxedOneHotCategorical
    >>> _ = nr.manual_seed(0)
    >>> x = RelaxedOneHotCategorical(nr.tensor(0.5), probs=nr.tensor([0.2, 0.8])).rsample()
    >>> round(x.sum().item(), 4)
    1.0
"""
from __future__ import annotations

import math
from typing import Any

import neurarust as nr
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .categorical import Categorical
from .distribution import Distribution
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform
from .utils import as_size, broadcast_all, clamp_probs, delegate


class ExpRelaxedCategorical(Distribution):
    """The log of a :class:`RelaxedOneHotCategorical` draw: ``log_softmax((logits + gumbels) /
    temperature)``, computed in log space so low temperatures do not underflow.

    >>> import neurarust as nr
    >>> from neurarust.distributions.relaxed_categorical import ExpRelaxedCategorical
    >>> d = ExpRelaxedCategorical(nr.tensor(1.0), logits=nr.zeros(3))
    >>> d.event_shape, d.rsample((2,)).exp().sum(-1).tolist() == [1.0, 1.0]
    (neurarust.Size([3]), True)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector  # draws lie on a submanifold of it
    has_rsample = True

    def __init__(self, temperature: Tensor, probs: Any = None, logits: Any = None, validate_args: bool | None = None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        self.temperature = temperature
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> "ExpRelaxedCategorical":
        new = _instance if _instance is not None else object.__new__(type(self))
        new.temperature = self.temperature
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, as_size(batch_shape), self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def param_shape(self) -> Size:
        return self._categorical.param_shape

    @property
    def logits(self) -> Tensor:
        return self._categorical.logits

    @property
    def probs(self) -> Tensor:
        return self._categorical.probs

    def rsample(self, sample_shape: Any = Size()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        u = clamp_probs(nr.rand(shape, dtype=self.logits.dtype, device=self.logits.device))
        gumbels = -nr.log(-nr.log(u))
        scores = (self.logits + gumbels) / self.temperature
        return scores - scores.logsumexp(-1, keepdim=True)

    def log_prob(self, value: Tensor) -> Tensor:
        k = self.event_shape[0]
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_scale = math.lgamma(k) + (k - 1) * nr.log(self.temperature)
        score = logits - value * self.temperature
        return (score - score.logsumexp(-1, keepdim=True)).sum(-1) + log_scale


class RelaxedOneHotCategorical(TransformedDistribution):
    """Relaxed one-hot categorical with ``temperature`` and ``probs`` or ``logits`` (last dim: the
    categories): the exp of an :class:`ExpRelaxedCategorical` draw, a point of the simplex;
    ``rsample`` is reparameterised (the Gumbel-softmax trick).

    >>> import neurarust as nr
    >>> from neurarust.distributions import RelaxedOneHotCategorical
    >>> d = RelaxedOneHotCategorical(nr.tensor(1.0), logits=nr.zeros(2))
    >>> d.batch_shape, d.event_shape, round(d.log_prob(nr.tensor([0.5, 0.5])).exp().item(), 4)
    (neurarust.Size([]), neurarust.Size([2]), 1.0)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex  # type: ignore[assignment]
    has_rsample = True  # type: ignore[assignment]

    def __init__(self, temperature: Tensor, probs: Any = None, logits: Any = None, validate_args: bool | None = None):
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    temperature = delegate("base_dist", "temperature")
    logits = delegate("base_dist", "logits")
    probs = delegate("base_dist", "probs")
