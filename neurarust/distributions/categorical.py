"""The categorical distribution over ``{0, ..., K-1}``, and its one-hot encoded twin.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Categorical
    >>> Categorical(nr.tensor([1.0, 3.0])).probs.tolist()
    [0.25, 0.75]
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.errors import ShapeError
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .utils import as_size, broadcast_all, delegate, lazy_property, logits_to_probs, one_of, probs_to_logits


class Categorical(Distribution):
    """Categorical distribution over the last dim of ``probs`` (non-negative, normalised here) or
    ``logits`` (unnormalised log-probabilities); the other dims are the batch.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Categorical
    >>> d = Categorical(logits=nr.zeros(2, 4))
    >>> d.batch_shape, d.log_prob(nr.tensor([0, 3])).exp().tolist()
    (neurarust.Size([2]), [0.25, 0.25])
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None):
        name, value = one_of(probs, logits)
        (param,) = broadcast_all(value)
        if param.dim() < 1:
            raise ShapeError(f"`{name}` parameter must be at least one-dimensional, got shape {tuple(param.shape)}")
        if name == "probs":
            self.probs = param / param.sum(-1, keepdim=True)
        else:
            self.logits = param - param.logsumexp(-1, keepdim=True)
        self._param_name = name
        self._num_events = param.shape[-1]
        super().__init__(param.shape[:-1], validate_args=validate_args)

    @property
    def _param(self) -> Tensor:
        return getattr(self, self._param_name)

    @lazy_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits)

    @property
    def param_shape(self) -> Size:
        return self._param.shape

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self) -> Tensor:
        return nr.full(tuple(self._extended_shape()), float("nan"), dtype=self.probs.dtype, device=self.probs.device)

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(-1)

    @property
    def variance(self) -> Tensor:
        return self.mean

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        sample_shape = as_size(sample_shape)
        with nr.no_grad():
            rows = self.probs.reshape(-1, self._num_events)
            draws = nr.multinomial(rows, max(sample_shape.numel(), 1), True).t()
            return draws[: sample_shape.numel()].reshape(tuple(self._extended_shape(sample_shape)))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        index = value.long().unsqueeze(-1)
        index, logits = nr.broadcast_tensors(index, self.logits)
        return logits.gather(-1, index[..., :1]).squeeze(-1)

    def entropy(self) -> Tensor:
        # -inf logits (zero probabilities) would give 0 * -inf = NaN; clamping keeps that term 0
        logits = self.logits.clamp(min=nr.finfo(self.logits.dtype).min)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """``0 .. K-1`` along a new leading dim (expanded over ``batch_shape`` unless ``expand=False``).

        >>> import neurarust as nr
        >>> from neurarust.distributions import Categorical
        >>> Categorical(nr.ones(2, 3)).enumerate_support().tolist()
        [[0, 0], [1, 1], [2, 2]]
        """
        values = nr.arange(self._num_events, dtype=nr.int64, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + tuple(self.batch_shape)) if expand else values


class OneHotCategorical(Distribution):
    """A :class:`Categorical` draw encoded as a one-hot vector over the last dim.

    >>> import neurarust as nr
    >>> from neurarust.distributions import OneHotCategorical
    >>> d = OneHotCategorical(nr.tensor([0.0, 1.0, 0.0]))
    >>> d.sample().tolist(), d.event_shape
    ([0.0, 1.0, 0.0], neurarust.Size([3]))
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs: Any = None, logits: Any = None, validate_args: bool | None = None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        super().__init__(self._categorical.batch_shape, self._categorical.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> "OneHotCategorical":
        new = object.__new__(OneHotCategorical)
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, new._categorical.batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    probs = delegate("_categorical", "probs")
    logits = delegate("_categorical", "logits")
    param_shape = delegate("_categorical", "param_shape")

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        return self._one_hot(self.probs.argmax(-1))

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def _one_hot(self, index: Tensor) -> Tensor:
        from neurarust.nn import functional as F

        return F.one_hot(index, self.event_shape[0]).to(self.probs.dtype)

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        return self._one_hot(self._categorical.sample(sample_shape))

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self) -> Tensor:
        return self._categorical.entropy()

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """The ``K`` one-hot vectors along a new leading dim.

        >>> import neurarust as nr
        >>> from neurarust.distributions import OneHotCategorical
        >>> OneHotCategorical(logits=nr.zeros(2)).enumerate_support().tolist()
        [[1.0, 0.0], [0.0, 1.0]]
        """
        n = self.event_shape[0]
        values = nr.eye(n, dtype=self.probs.dtype, device=self.probs.device)
        values = values.reshape((n,) + (1,) * len(self.batch_shape) + (n,))
        return values.expand((n,) + tuple(self.batch_shape) + (n,)) if expand else values

    def __repr__(self) -> str:
        return repr(self._categorical).replace("Categorical", "OneHotCategorical", 1)
