"""Constraints: the set a parameter or a sample must lie in, as ``torch.distributions.constraints``.

A constraint's ``check(value)`` is a bool tensor, true where ``value`` satisfies it (one entry per
event: an event-wide constraint such as ``simplex`` reduces its ``event_dim`` rightmost dims)::

    >>> import neurarust as nr
    >>> from neurarust.distributions import constraints
    >>> constraints.positive.check(nr.tensor([1.0, -1.0])).tolist()
    [True, False]
    >>> constraints.simplex.check(nr.tensor([0.25, 0.75])).item()
    True
"""
from __future__ import annotations

from typing import Any

from neurarust.errors import ArgumentError
from neurarust.tensor import Tensor


class Constraint:
    """A region of values: ``check`` says which values are in it.

    ``is_discrete`` marks integer-valued supports and ``event_dim`` how many rightmost dims make one
    event (0 for an elementwise constraint).

    >>> import neurarust as nr
    >>> from neurarust.distributions.constraints import real
    >>> real.check(nr.tensor([1.0, float("nan")])).tolist()
    [True, False]
    """

    is_discrete = False
    event_dim = 0

    def check(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__.lstrip("_") + "()"


class _Dependent(Constraint):
    """A constraint that depends on other parameters: never checked (a placeholder, as in torch)."""

    def __init__(self, *, is_discrete: bool = False, event_dim: int = 0):
        self.is_discrete, self.event_dim = is_discrete, event_dim

    def __call__(self, *, is_discrete: bool = False, event_dim: int = 0) -> "_Dependent":
        return _Dependent(is_discrete=is_discrete, event_dim=event_dim)

    def check(self, value: Tensor) -> Tensor:
        raise ArgumentError("cannot check a dependent constraint")


def is_dependent(constraint: Any) -> bool:
    """True for ``dependent`` constraints, which validation skips.

    >>> from neurarust.distributions import constraints
    >>> constraints.is_dependent(constraints.dependent), constraints.is_dependent(constraints.real)
    (True, False)
    """
    return isinstance(constraint, _Dependent)


class dependent_property(property):
    """A property that is also a dependent constraint: the ``support`` of a distribution whose
    support depends on its parameters (``Uniform``'s interval).

    >>> from neurarust.distributions import Uniform
    >>> Uniform(0.0, 2.0).support
    Interval(lower_bound=0.0, upper_bound=2.0)
    """

    def __init__(self, fn: Any = None, *, is_discrete: bool = False, event_dim: int = 0):
        super().__init__(fn)
        self.is_discrete, self.event_dim = is_discrete, event_dim

    def __call__(self, fn: Any) -> "dependent_property":
        return dependent_property(fn, is_discrete=self.is_discrete, event_dim=self.event_dim)


class _Real(Constraint):
    def check(self, value: Tensor) -> Tensor:
        return value == value  # false exactly at NaN


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value: Tensor) -> Tensor:
        return (value == 0) | (value == 1)


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        return ((value == 0) | (value == 1)).all(-1) & (value.sum(-1) == 1)


class _Simplex(Constraint):
    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        return (value >= 0).all(-1) & ((value.sum(-1) - 1).abs() < 1e-6)


class _Bound(Constraint):
    """A one-sided or two-sided bound; its repr names the bounds as torch's does."""

    def _fields(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in vars(self).items())

    def __repr__(self) -> str:
        return f"{type(self).__name__.lstrip('_')}({self._fields()})"


class _GreaterThan(_Bound):
    def __init__(self, lower_bound: Any):
        self.lower_bound = lower_bound

    def check(self, value: Tensor) -> Tensor:
        return value > self.lower_bound


class _GreaterThanEq(_Bound):
    def __init__(self, lower_bound: Any):
        self.lower_bound = lower_bound

    def check(self, value: Tensor) -> Tensor:
        return value >= self.lower_bound


class _LessThan(_Bound):
    def __init__(self, upper_bound: Any):
        self.upper_bound = upper_bound

    def check(self, value: Tensor) -> Tensor:
        return value < self.upper_bound


class _Interval(_Bound):
    def __init__(self, lower_bound: Any, upper_bound: Any):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value: Tensor) -> Tensor:
        return (value >= self.lower_bound) & (value <= self.upper_bound)


class _HalfOpenInterval(_Interval):
    def check(self, value: Tensor) -> Tensor:
        return (value >= self.lower_bound) & (value < self.upper_bound)


class _IntegerInterval(_Interval):
    is_discrete = True

    def check(self, value: Tensor) -> Tensor:
        return (value % 1 == 0) & super().check(value)


class _IntegerGreaterThan(_GreaterThanEq):
    """Integers >= ``lower_bound`` (torch's name for this inclusive bound)."""

    is_discrete = True

    def check(self, value: Tensor) -> Tensor:
        return (value % 1 == 0) & super().check(value)


class _Multinomial(Constraint):
    """Non-negative counts (over the last dim) summing to at most ``upper_bound``."""

    is_discrete = True
    event_dim = 1

    def __init__(self, upper_bound: int):
        self.upper_bound = upper_bound

    def check(self, value: Tensor) -> Tensor:
        return (value >= 0).all(-1) & (value.sum(-1) <= self.upper_bound)


class _Square(Constraint):
    """Square matrices (the last two dims equal)."""

    event_dim = 2

    def check(self, value: Tensor) -> Tensor:
        import neurarust as nr

        square = value.dim() >= 2 and value.shape[-1] == value.shape[-2]
        return nr.full(tuple(value.shape[:-2]), square, dtype=nr.bool, device=value.device)


class _PositiveDefinite(_Square):
    """Symmetric positive-definite matrices: symmetric to ``atol=1e-6`` and with a Cholesky factor."""

    def check(self, value: Tensor) -> Tensor:
        import neurarust as nr

        square = super().check(value)
        if not bool(square.all()):
            return square
        symmetric = nr.isclose(value, value.mT, atol=1e-6).all(-1).all(-1)
        return symmetric & (nr.linalg.cholesky_ex(value).info == 0)


class _LowerCholesky(_Square):
    """Lower-triangular matrices with a positive diagonal (Cholesky factors)."""

    def check(self, value: Tensor) -> Tensor:
        square = super().check(value)
        if not bool(square.all()):
            return square
        lower = (value.tril() == value).all(-1).all(-1)
        return lower & (value.diagonal(dim1=-2, dim2=-1) > 0).all(-1)


class _Independent(Constraint):
    """``base`` checked elementwise, then reduced over ``reinterpreted_batch_ndims`` more dims."""

    def __init__(self, base: Constraint, reinterpreted_batch_ndims: int):
        self.base_constraint, self.reinterpreted_batch_ndims = base, reinterpreted_batch_ndims

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return self.base_constraint.is_discrete

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return self.base_constraint.event_dim + self.reinterpreted_batch_ndims

    def check(self, value: Tensor) -> Tensor:
        ok = self.base_constraint.check(value)
        for _ in range(self.reinterpreted_batch_ndims):
            ok = ok.all(-1)
        return ok

    def __repr__(self) -> str:
        return f"IndependentConstraint({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"


dependent = _Dependent()
real = _Real()
boolean = _Boolean()
one_hot = _OneHot()
simplex = _Simplex()
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
unit_interval = _Interval(0.0, 1.0)
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
real_vector = _Independent(real, 1)
square = _Square()
positive_definite = _PositiveDefinite()
lower_cholesky = _LowerCholesky()
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
interval = _Interval
half_open_interval = _HalfOpenInterval
integer_interval = _IntegerInterval
independent = _Independent
multinomial = _Multinomial

__all__ = ["Constraint", "dependent", "dependent_property", "is_dependent", "real", "boolean", "one_hot",
           "simplex", "positive", "nonnegative", "unit_interval", "nonnegative_integer", "positive_integer",
           "real_vector", "square", "positive_definite", "lower_cholesky", "greater_than", "greater_than_eq",
           "less_than", "interval", "half_open_interval", "integer_interval", "independent",
           "multinomial"]
