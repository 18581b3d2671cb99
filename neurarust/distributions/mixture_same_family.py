"""``MixtureSameFamily``: a mixture of components of one family, picked by a categorical.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Categorical, MixtureSameFamily, Normal
    >>> mix = MixtureSameFamily(Categorical(nr.tensor([0.5, 0.5])), Normal(nr.tensor([-1.0, 1.0]), 1.0))
    >>> mix.mean.item(), mix.variance.item()
    (0.0, 2.0)
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.errors import ArgumentError, ShapeError
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .categorical import Categorical
from .distribution import Distribution
from .utils import as_size


class _MixtureSupport(constraints.Constraint):
    """The components' support, checked against every component (the value gains a component dim)."""

    def __init__(self, base: constraints.Constraint):
        self.base_constraint = base
        self.is_discrete, self.event_dim = base.is_discrete, base.event_dim

    def check(self, value: Tensor) -> Tensor:
        return self.base_constraint.check(value.unsqueeze(-1 - self.event_dim)).all(-1)


class MixtureSameFamily(Distribution):
    """A mixture whose ``K`` components are the rightmost batch dim of ``component_distribution``,
    weighted by ``mixture_distribution`` (a :class:`Categorical` over ``K``). ``log_prob`` is the
    log-sum-exp of the weighted component log-densities; there is no ``rsample`` (the component
    choice is discrete), as in torch.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Categorical, Independent, MixtureSameFamily, Normal
    >>> comps = Independent(Normal(nr.zeros(3, 2), nr.ones(3, 2)), 1)   # 3 components in 2-D
    >>> mix = MixtureSameFamily(Categorical(logits=nr.zeros(3)), comps)
    >>> mix.batch_shape, mix.event_shape, mix.sample((4,)).shape
    (neurarust.Size([]), neurarust.Size([2]), neurarust.Size([4, 2]))
    """

    arg_constraints: dict[str, constraints.Constraint] = {}
    has_rsample = False

    def __init__(self, mixture_distribution: Categorical, component_distribution: Distribution,
                 validate_args: bool | None = None):
        if not isinstance(mixture_distribution, Categorical):
            raise ArgumentError("The Mixture distribution needs to be an instance of "
                                f"neurarust.distributions.Categorical, got {type(mixture_distribution).__name__}")
        if not isinstance(component_distribution, Distribution):
            raise ArgumentError("The Component distribution needs to be an instance of "
                                f"neurarust.distributions.Distribution, got {type(component_distribution).__name__}")
        mdbs, cdbs = tuple(mixture_distribution.batch_shape), tuple(component_distribution.batch_shape[:-1])
        for a, b in zip(reversed(mdbs), reversed(cdbs)):
            if a != 1 and b != 1 and a != b:
                raise ShapeError(f"`mixture_distribution.batch_shape` ({mdbs}) is not compatible with "
                                 f"`component_distribution.batch_shape`({cdbs})")
        km = mixture_distribution.logits.shape[-1]
        kc = component_distribution.batch_shape[-1] if len(component_distribution.batch_shape) else None
        if km != kc:
            raise ShapeError(f"`mixture_distribution component` ({km}) does not equal "
                             f"`component_distribution.batch_shape[-1]` ({kc})")
        self._mixture_distribution, self._component_distribution = mixture_distribution, component_distribution
        self._num_component = km
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(cdbs, component_distribution.event_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Distribution | None = None) -> "MixtureSameFamily":
        batch_shape = as_size(batch_shape)
        new = _instance if _instance is not None else object.__new__(type(self))
        new._component_distribution = self._component_distribution.expand(tuple(batch_shape) + (self._num_component,))
        new._mixture_distribution = self._mixture_distribution.expand(batch_shape)
        new._num_component, new._event_ndims = self._num_component, self._event_ndims
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return _MixtureSupport(self._component_distribution.support)

    @property
    def mixture_distribution(self) -> Categorical:
        """The categorical over the components."""
        return self._mixture_distribution

    @property
    def component_distribution(self) -> Distribution:
        """The components, along the rightmost batch dim."""
        return self._component_distribution

    def _pad(self, x: Tensor) -> Tensor:
        """``x`` with a component dim, to broadcast against the components."""
        return x.unsqueeze(-1 - self._event_ndims)

    def _pad_mixture_dimensions(self, x: Tensor) -> Tensor:
        """Mixture weights reshaped to line up with the components' ``batch + (K,) + event`` dims."""
        cat_batch_ndims = len(self._mixture_distribution.batch_shape)
        pad = 0 if cat_batch_ndims == 1 else len(self.batch_shape) - cat_batch_ndims
        shape = tuple(x.shape)
        return x.reshape(shape[:-1] + (1,) * pad + shape[-1:] + (1,) * self._event_ndims)

    @property
    def mean(self) -> Tensor:
        probs = self._pad_mixture_dimensions(self._mixture_distribution.probs)
        return (probs * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self) -> Tensor:
        # the law of total variance: E[Var(X | k)] + Var(E[X | k])
        probs = self._pad_mixture_dimensions(self._mixture_distribution.probs)
        comp = self._component_distribution
        dim = -1 - self._event_ndims
        mean_cond_var = (probs * comp.variance).sum(dim)
        var_cond_mean = (probs * (comp.mean - self._pad(self.mean)) ** 2).sum(dim)
        return mean_cond_var + var_cond_mean

    def cdf(self, value: Tensor) -> Tensor:
        cdf = self._component_distribution.cdf(self._pad(value))
        return (cdf * self._mixture_distribution.probs).sum(-1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self._component_distribution.log_prob(self._pad(value))
        log_mix = nr.log_softmax(self._mixture_distribution.logits, -1)
        return (log_prob + log_mix).logsumexp(-1)

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        sample_shape = as_size(sample_shape)
        with nr.no_grad():
            gather_dim = len(sample_shape) + len(self.batch_shape)
            event = tuple(self.event_shape)
            choice = self._mixture_distribution.sample(sample_shape)
            draws = self._component_distribution.sample(sample_shape)
            index = choice.reshape(tuple(choice.shape) + (1,) * (len(event) + 1))
            index = index.expand(tuple(choice.shape) + (1,) + event)
            return draws.gather(gather_dim, index).squeeze(gather_dim)

    def __repr__(self) -> str:
        return f"MixtureSameFamily(\n  {self._mixture_distribution!r},\n  {self._component_distribution!r})"
