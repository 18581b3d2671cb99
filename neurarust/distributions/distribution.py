"""The ``Distribution`` base class: shapes, argument validation, and the interface every
distribution fills in (``sample``/``rsample``, ``log_prob``, ``entropy``, moments, ``cdf``/``icdf``).

Shapes follow torch: a draw of ``sample(sample_shape)`` has shape
``sample_shape + batch_shape + event_shape``; ``log_prob`` returns one value per event, of shape
``sample_shape + batch_shape``::

    >>> import neurarust as nr
    >>> from neurarust.distributions import Normal
    >>> d = Normal(nr.zeros(3), 1.0)
    >>> d.batch_shape, d.event_shape, d.sample((2,)).shape
    (neurarust.Size([3]), neurarust.Size([]), neurarust.Size([2, 3]))
"""
from __future__ import annotations

from typing import Any

import neurarust as nr
from neurarust.errors import ArgumentError, ShapeError
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .utils import as_size, lazy_property


class Distribution:
    """Base class of probability distributions, as ``torch.distributions.Distribution``.

    ``validate_args`` (default: on, as in torch; see :meth:`set_default_validate_args`) checks the
    parameters against ``arg_constraints`` when the distribution is made, and the values passed to
    ``log_prob``/``cdf`` against ``support``; a failed check raises
    :class:`~neurarust.errors.ArgumentError` (a ``ValueError``).

    >>> import neurarust as nr
    >>> from neurarust.distributions import Normal
    >>> try:
    ...     Normal(0.0, -1.0)
    ... except ValueError as e:
    ...     print(type(e).__name__)
    ArgumentError
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument validation on or off for distributions made without ``validate_args``.

        >>> from neurarust.distributions import Distribution, Normal
        >>> Distribution.set_default_validate_args(False)
        >>> Normal(0.0, -1.0).scale.item()
        -1.0
        >>> Distribution.set_default_validate_args(True)
        """
        if value not in (True, False):
            raise ArgumentError(f"set_default_validate_args expects a bool, got {value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape: Any = Size(), event_shape: Any = Size(), validate_args: bool | None = None):
        self._batch_shape = as_size(batch_shape)
        self._event_shape = as_size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_parameters()

    def _check_parameters(self) -> None:
        for name, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue
            if name not in self.__dict__ and isinstance(getattr(type(self), name), lazy_property):
                continue  # the other parameterisation was given: this one is derived, not checked
            value = getattr(self, name)
            if not bool(constraint.check(value).all()):
                raise ArgumentError(
                    f"Expected parameter {name} ({type(value).__name__} of shape {tuple(value.shape)}) of "
                    f"distribution {self!r} to satisfy the constraint {constraint!r}, but found invalid "
                    f"values:\n{value}")

    @property
    def batch_shape(self) -> Size:
        """The shape over which parameters are batched (independent, not identical, distributions).

        >>> import neurarust as nr
        >>> from neurarust.distributions import Normal
        >>> Normal(nr.zeros(2, 3), 1.0).batch_shape
        neurarust.Size([2, 3])
        """
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        """The shape of a single draw.

        >>> import neurarust as nr
        >>> from neurarust.distributions import OneHotCategorical
        >>> OneHotCategorical(nr.ones(4)).event_shape
        neurarust.Size([4])
        """
        return self._event_shape

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        """Parameter name -> the constraint it must satisfy."""
        raise NotImplementedError

    @property
    def support(self) -> constraints.Constraint:
        """The constraint every sample satisfies."""
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        """The mean, of shape ``batch_shape + event_shape``.

        >>> from neurarust.distributions import Exponential
        >>> Exponential(4.0).mean.item()
        0.25
        """
        raise NotImplementedError(f"{type(self).__name__} has no mean")

    @property
    def mode(self) -> Tensor:
        """The most likely value (NaN where it is not unique, as torch).

        >>> from neurarust.distributions import Bernoulli
        >>> Bernoulli(0.75).mode.item()
        1.0
        """
        raise NotImplementedError(f"{type(self).__name__} has no mode")

    @property
    def variance(self) -> Tensor:
        """The variance, of shape ``batch_shape + event_shape``.

        >>> from neurarust.distributions import Normal
        >>> Normal(0.0, 3.0).variance.item()
        9.0
        """
        raise NotImplementedError(f"{type(self).__name__} has no variance")

    @property
    def stddev(self) -> Tensor:
        """The standard deviation, the square root of ``variance``.

        >>> from neurarust.distributions import Geometric
        >>> Geometric(0.5).stddev.item()
        1.4142135381698608
        """
        return self.variance.sqrt()

    def expand(self, batch_shape: Any, _instance: "Distribution | None" = None) -> "Distribution":
        """The same distribution with its parameters broadcast (as views) to a larger ``batch_shape``.

        >>> from neurarust.distributions import Normal
        >>> Normal(0.0, 1.0).expand((2, 3)).batch_shape
        neurarust.Size([2, 3])
        """
        batch_shape = as_size(batch_shape)
        new = _instance if _instance is not None else object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        old_ndim = len(self.batch_shape)
        for name in self.arg_constraints:
            value = self.__dict__.get(name)
            if isinstance(value, Tensor):
                new.__dict__[name] = value.expand(tuple(batch_shape) + tuple(value.shape[old_ndim:]))
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape: Any = Size()) -> Tensor:
        """A draw of shape ``sample_shape + batch_shape + event_shape``, outside the autograd graph.

        >>> import neurarust as nr
        >>> from neurarust.distributions import Bernoulli
        >>> _ = nr.manual_seed(0)
        >>> Bernoulli(nr.tensor([0.0, 1.0])).sample((2,)).tolist()
        [[0.0, 1.0], [0.0, 1.0]]
        """
        with nr.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Any = Size()) -> Tensor:
        """A reparameterised draw: a differentiable function of the parameters (where ``has_rsample``).

        >>> import neurarust as nr
        >>> from neurarust.distributions import Normal
        >>> loc = nr.tensor(0.0, requires_grad=True)
        >>> Normal(loc, 1.0).rsample((4,)).sum().backward(); loc.grad.item()
        4.0
        """
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sampler (rsample)")

    def log_prob(self, value: Tensor) -> Tensor:
        """The log of the density (or of the mass, for discrete distributions) at ``value``, one value
        per event; differentiable with respect to the parameters.

        >>> import neurarust as nr
        >>> from neurarust.distributions import Exponential
        >>> rate = nr.tensor(2.0, requires_grad=True)
        >>> lp = Exponential(rate).log_prob(nr.tensor(1.0)); lp.backward()
        >>> round(lp.item(), 4), rate.grad.item()
        (-1.3069, -0.5)
        """
        raise NotImplementedError(f"{type(self).__name__} has no log_prob")

    def cdf(self, value: Tensor) -> Tensor:
        """The cumulative distribution function at ``value``.

        >>> import neurarust as nr
        >>> from neurarust.distributions import Uniform
        >>> Uniform(0.0, 2.0).cdf(nr.tensor([0.5, 1.5])).tolist()
        [0.25, 0.75]
        """
        raise NotImplementedError(f"{type(self).__name__} has no cdf")

    def icdf(self, value: Tensor) -> Tensor:
        """The inverse of the cumulative distribution function at ``value`` (a probability).

        >>> import neurarust as nr
        >>> from neurarust.distributions import Exponential
        >>> round(Exponential(1.0).icdf(nr.tensor(0.5)).item(), 4)
        0.6931
        """
        raise NotImplementedError(f"{type(self).__name__} has no icdf")

    def entropy(self) -> Tensor:
        """The entropy, one value per batch element (shape ``batch_shape``).

        >>> import math
        >>> from neurarust.distributions import Uniform
        >>> Uniform(0.0, math.e).entropy().item()
        1.0
        """
        raise NotImplementedError(f"{type(self).__name__} has no entropy")

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """Every value of a discrete support, along a new leading dim (see ``Bernoulli`` and
        ``Categorical``); continuous distributions raise ``NotImplementedError``."""
        raise NotImplementedError(f"{type(self).__name__} does not enumerate its support")

    def perplexity(self) -> Tensor:
        """``exp(entropy)``.

        >>> from neurarust.distributions import Bernoulli
        >>> round(Bernoulli(0.5).perplexity().item(), 4)
        2.0
        """
        return nr.exp(self.entropy())

    def _extended_shape(self, sample_shape: Any = Size()) -> Size:
        return Size(tuple(as_size(sample_shape)) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _validate_sample(self, value: Any) -> None:
        """Raise if ``value`` cannot be scored: not a tensor, a shape that does not broadcast with
        ``batch_shape + event_shape``, or values outside the support."""
        if not isinstance(value, Tensor):
            raise ArgumentError(f"The value argument to log_prob must be a Tensor, got {type(value).__name__}")
        event_dim = len(self._event_shape)
        if value.dim() < event_dim or tuple(value.shape[value.dim() - event_dim:]) != tuple(self._event_shape):
            raise ShapeError(f"The right-most size of value must match event_shape: {tuple(value.shape)} vs "
                             f"{tuple(self._event_shape)}.")
        actual, expected = tuple(value.shape), tuple(self.batch_shape) + tuple(self.event_shape)
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ShapeError(f"Value is not broadcastable with batch_shape+event_shape: {actual} vs {expected}.")
        support = self.support
        if not bool(support.check(value).all()):
            raise ArgumentError(f"Expected value argument ({type(value).__name__} of shape {actual}) to be within "
                                f"the support ({support!r}) of the distribution {self!r}, but found invalid "
                                f"values:\n{value}")

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        parts = []
        for k in names:
            v = self.__dict__[k]
            parts.append(f"{k}: {v.item() if v.numel() == 1 else v.shape}")
        return f"{type(self).__name__}({', '.join(parts)})"
