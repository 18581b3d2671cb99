"""The relaxed (concrete) Bernoulli distribution: a differentiable stand-in for a Bernoulli draw.

    >>> import neurarust as nr
    >>> from neurarust.distributions import RelaxedBernoulli
    >>> _ = nr.manual_seed(0)
    >>> x = RelaxedBernoulli(nr.tensor(0.5), probs=nr.tensor([0.1, 0.9])).rsample()
    >>> bool(((x > 0) & (x < 1)).all())
    True
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .transformed_distribution import TransformedDistribution
from .transforms import SigmoidTransform
from .utils import BinaryProbs, broadcast_all, clamp_probs, delegate, one_of


class LogitRelaxedBernoulli(BinaryProbs, Distribution):
    """The logit of a :class:`RelaxedBernoulli` draw: ``(logits + logistic noise) / temperature``.

    >>> import neurarust as nr
    >>> from neurarust.distributions.relaxed_bernoulli import LogitRelaxedBernoulli
    >>> round(LogitRelaxedBernoulli(nr.tensor(1.0), logits=nr.tensor(0.0)).log_prob(nr.tensor(0.0)).item(), 4)
    -1.3863
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True

    def __init__(self, temperature: Tensor, probs: Any = None, logits: Any = None, validate_args: bool | None = None):
        name, value = one_of(probs, logits)
        (param,) = broadcast_all(value)
        self.temperature = temperature
        setattr(self, name, param)
        self._param_name = name
        super().__init__(param.shape, validate_args=validate_args)

    @property
    def param_shape(self) -> Size:
        return getattr(self, self._param_name).shape

    def rsample(self, sample_shape: Any = Size()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        probs = clamp_probs(self.probs.expand(shape))
        u = clamp_probs(nr.rand(shape, dtype=probs.dtype, device=probs.device))
        return (nr.log(u) - nr.log1p(-u) + nr.log(probs) - nr.log1p(-probs)) / self.temperature

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        diff = logits - value * self.temperature
        return nr.log(self.temperature) + diff - 2 * nr.log1p(nr.exp(diff))


class RelaxedBernoulli(TransformedDistribution):
    """Relaxed Bernoulli with ``temperature`` and ``probs`` or ``logits``: the sigmoid of a
    :class:`LogitRelaxedBernoulli` draw, in (0, 1); ``rsample`` is reparameterised, and low
    temperatures push the draws towards 0 and 1.

    >>> import neurarust as nr
    >>> from neurarust.distributions import RelaxedBernoulli
    >>> d = RelaxedBernoulli(nr.tensor(2.0), logits=nr.tensor([0.0]))
    >>> round(d.log_prob(nr.tensor([0.5])).exp().item(), 4), d.probs.tolist()
    (2.0, [0.5])
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval  # type: ignore[assignment]
    has_rsample = True  # type: ignore[assignment]

    def __init__(self, temperature: Tensor, probs: Any = None, logits: Any = None, validate_args: bool | None = None):
        base = LogitRelaxedBernoulli(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)

    temperature = delegate("base_dist", "temperature")
    logits = delegate("base_dist", "logits")
    probs = delegate("base_dist", "probs")
