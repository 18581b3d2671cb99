"""Bijective transforms with log-Jacobians, for :class:`TransformedDistribution`, as
``torch.distributions.transforms``.

    >>> import neurarust as nr
    >>> from neurarust.distributions.transforms import ExpTransform
    >>> t = ExpTransform()
    >>> t(nr.tensor(0.0)).item(), t.inv(nr.tensor(1.0)).item()
    (1.0, 0.0)
"""
from __future__ import annotations

from typing import Any, Sequence

import neurarust as nr
from neurarust.tensor import Tensor

from . import constraints
from .utils import sum_rightmost


class Transform:
    """An invertible map ``y = T(x)`` from ``domain`` to ``codomain``, with
    ``log_abs_det_jacobian(x, y) = log |dy/dx|``; ``sign`` is +1 or -1 for monotone maps.

    >>> import neurarust as nr
    >>> from neurarust.distributions.transforms import AffineTransform
    >>> t = AffineTransform(1.0, 2.0)
    >>> t(nr.tensor(3.0)).item(), t.inv(nr.tensor(7.0)).item(), t.sign
    (7.0, 3.0, 1)
    """

    bijective = False
    domain: constraints.Constraint = constraints.real
    codomain: constraints.Constraint = constraints.real

    @property
    def event_dim(self) -> int:
        return max(self.domain.event_dim, self.codomain.event_dim)

    @property
    def sign(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} has no sign")

    @property
    def inv(self) -> "Transform":
        """The inverse transform: ``t.inv(t(x)) == x``."""
        return _InverseTransform(self)

    def __call__(self, x: Tensor) -> Tensor:
        return self._call(x)

    def _call(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _inverse(self, y: Tensor) -> Tensor:
        raise NotImplementedError

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__ + "()"


class _InverseTransform(Transform):
    """``t.inv``: the same map run backwards; its log-Jacobian is the negated forward one."""

    bijective = True

    def __init__(self, transform: Transform):
        self._inv = transform

    @property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        return self._inv.codomain

    @property
    def codomain(self) -> constraints.Constraint:  # type: ignore[override]
        return self._inv.domain

    @property
    def sign(self) -> int:
        return self._inv.sign

    @property
    def inv(self) -> Transform:
        return self._inv

    def __call__(self, x: Tensor) -> Tensor:
        return self._inv._inverse(x)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return -self._inv.log_abs_det_jacobian(y, x)


class ExpTransform(Transform):
    """``y = exp(x)``.

    >>> import neurarust as nr
    >>> from neurarust.distributions.transforms import ExpTransform
    >>> ExpTransform().log_abs_det_jacobian(nr.tensor(2.0), nr.tensor(2.0).exp()).item()
    2.0
    """

    bijective = True
    codomain = constraints.positive
    sign = 1  # type: ignore[assignment]

    def _call(self, x: Tensor) -> Tensor:
        return nr.exp(x)

    def _inverse(self, y: Tensor) -> Tensor:
        return nr.log(y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return x


class SigmoidTransform(Transform):
    """``y = sigmoid(x)``, onto the unit interval.

    >>> import neurarust as nr
    >>> from neurarust.distributions.transforms import SigmoidTransform
    >>> SigmoidTransform()(nr.tensor(0.0)).item()
    0.5
    """

    bijective = True
    codomain = constraints.unit_interval
    sign = 1  # type: ignore[assignment]

    def _call(self, x: Tensor) -> Tensor:
        return nr.sigmoid(x)

    def _inverse(self, y: Tensor) -> Tensor:
        eps = nr.finfo(y.dtype).eps
        y = y.clamp(min=eps, max=1 - eps)
        return nr.log(y) - nr.log1p(-y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return -nr.softplus(-x) - nr.softplus(x)


def _sign_of(scale: Any, name: str) -> int:
    """+1 or -1 for a scalar or a tensor of one sign; a mixed-sign tensor has no single sign."""
    if isinstance(scale, Tensor):
        if bool((scale > 0).all()):
            return 1
        if bool((scale < 0).all()):
            return -1
        raise NotImplementedError(f"{name}.sign: the parameter has mixed signs")
    return 1 if scale > 0 else -1


class AbsTransform(Transform):
    """``y = |x|``: not bijective; its "inverse" is the identity on the non-negative half (how
    ``HalfNormal`` and ``HalfCauchy`` fold their base distribution).

    >>> import neurarust as nr
    >>> from neurarust.distributions.transforms import AbsTransform
    >>> AbsTransform()(nr.tensor([-2.0, 3.0])).tolist(), AbsTransform().inv(nr.tensor(2.0)).item()
    ([2.0, 3.0], 2.0)
    """

    codomain = constraints.positive

    def _call(self, x: Tensor) -> Tensor:
        return x.abs()

    def _inverse(self, y: Tensor) -> Tensor:
        return y


class PowerTransform(Transform):
    """``y = x ** exponent`` on the positive reals.

    >>> import neurarust as nr
    >>> from neurarust.distributions.transforms import PowerTransform
    >>> t = PowerTransform(nr.tensor(2.0))
    >>> x = nr.tensor(3.0)
    >>> t(x).item(), t.inv(t(x)).item(), round(t.log_abs_det_jacobian(x, t(x)).item(), 4)
    (9.0, 3.0, 1.7918)
    """

    bijective = True
    domain = constraints.positive
    codomain = constraints.positive

    def __init__(self, exponent: Any):
        self.exponent = exponent

    @property
    def sign(self) -> int:
        return _sign_of(self.exponent, "PowerTransform")

    def _call(self, x: Tensor) -> Tensor:
        return x ** self.exponent

    def _inverse(self, y: Tensor) -> Tensor:
        return y ** (1 / self.exponent)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return nr.log((self.exponent * y / x).abs())

    def __repr__(self) -> str:
        return f"PowerTransform(exponent={self.exponent})"


class AffineTransform(Transform):
    """``y = loc + scale * x``, elementwise (``event_dim`` rightmost dims counted as one event).

    >>> import neurarust as nr
    >>> from neurarust.distributions.transforms import AffineTransform
    >>> AffineTransform(0.0, -3.0).log_abs_det_jacobian(nr.zeros(2), nr.zeros(2)).tolist()
    [1.0986..., 1.0986...]
    """

    bijective = True

    def __init__(self, loc: Any, scale: Any, event_dim: int = 0):
        self.loc, self.scale, self._event_dim = loc, scale, event_dim

    @property
    def event_dim(self) -> int:
        return self._event_dim

    @property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.independent(constraints.real, self._event_dim) if self._event_dim else constraints.real

    codomain = domain  # type: ignore[assignment]

    @property
    def sign(self) -> int:
        return _sign_of(self.scale, "AffineTransform")

    def _call(self, x: Tensor) -> Tensor:
        return self.loc + self.scale * x

    def _inverse(self, y: Tensor) -> Tensor:
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        scale = self.scale if isinstance(self.scale, Tensor) else nr.tensor(float(self.scale), dtype=x.dtype)
        result = nr.log(scale.abs()).expand(tuple(nr.broadcast_shapes(tuple(scale.shape), tuple(x.shape))))
        return sum_rightmost(result, self._event_dim)

    def __repr__(self) -> str:
        return f"AffineTransform(loc={self.loc}, scale={self.scale})"


class ComposeTransform(Transform):
    """Several transforms applied in order: ``ComposeTransform([f, g])(x) == g(f(x))``.

    >>> import neurarust as nr
    >>> from neurarust.distributions.transforms import AffineTransform, ComposeTransform, ExpTransform
    >>> t = ComposeTransform([AffineTransform(0.0, 2.0), ExpTransform()])
    >>> round(t(nr.tensor(1.0)).item(), 4), round(t.inv(t(nr.tensor(1.0))).item(), 4)
    (7.3891, 1.0)
    """

    bijective = True

    def __init__(self, parts: Sequence[Transform]):
        self.parts = list(parts)

    @property
    def domain(self) -> constraints.Constraint:  # type: ignore[override]
        return self.parts[0].domain if self.parts else constraints.real

    @property
    def codomain(self) -> constraints.Constraint:  # type: ignore[override]
        return self.parts[-1].codomain if self.parts else constraints.real

    @property
    def event_dim(self) -> int:
        return max((p.event_dim for p in self.parts), default=0)

    @property
    def sign(self) -> int:
        sign = 1
        for part in self.parts:
            sign *= part.sign
        return sign

    @property
    def inv(self) -> Transform:
        return ComposeTransform([p.inv for p in reversed(self.parts)])

    def __call__(self, x: Tensor) -> Tensor:
        for part in self.parts:
            x = part(x)
        return x

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        total: Any = 0.0
        for part in self.parts:
            nxt = part(x)
            total = total + sum_rightmost(part.log_abs_det_jacobian(x, nxt), self.event_dim - part.event_dim)
            x = nxt
        return total if isinstance(total, Tensor) else nr.zeros_like(x)


identity_transform = ComposeTransform([])
