"""The multivariate normal distribution, parameterised by a covariance, a precision or a lower
Cholesky factor of the covariance.

    >>> import neurarust as nr
    >>> from neurarust.distributions import MultivariateNormal
    >>> d = MultivariateNormal(nr.zeros(2), scale_tril=nr.eye(2))
    >>> round(d.log_prob(nr.zeros(2)).item(), 4)
    -1.8379
"""
from __future__ import annotations

import math
from typing import Any

import neurarust as nr
from neurarust.errors import ArgumentError, ShapeError
from neurarust.shape import Size
from neurarust.tensor import Tensor

from . import constraints
from .distribution import Distribution
from .utils import lazy_property


def batch_mahalanobis(scale_tril: Tensor, diff: Tensor) -> Tensor:
    """The squared Mahalanobis distance ``diff^T (L L^T)^{-1} diff`` for a lower Cholesky factor
    ``L``, broadcasting the batch dims of both (one triangular solve, no inverse).

    >>> import neurarust as nr
    >>> from neurarust.distributions.multivariate_normal import batch_mahalanobis
    >>> batch_mahalanobis(2 * nr.eye(2), nr.tensor([2.0, 4.0])).item()
    5.0
    """
    solved = nr.linalg.solve_triangular(scale_tril, diff.unsqueeze(-1), upper=False)
    return (solved.squeeze(-1) ** 2).sum(-1)


def precision_to_scale_tril(precision: Tensor) -> Tensor:
    """The lower Cholesky factor of ``precision^{-1}``, from the Cholesky factor of the reversed
    precision (reversing rows and columns turns its upper factor into a lower one), so no inverse of
    an ill-conditioned matrix is formed.

    >>> import neurarust as nr
    >>> from neurarust.distributions.multivariate_normal import precision_to_scale_tril
    >>> precision_to_scale_tril(nr.tensor([[4.0, 0.0], [0.0, 0.25]])).tolist()
    [[0.5, 0.0], [0.0, 2.0]]
    """
    flipped = nr.linalg.cholesky(nr.flip(precision, (-2, -1)))
    l_inv = nr.flip(flipped, (-2, -1)).mT
    eye = nr.eye(precision.shape[-1], dtype=precision.dtype, device=precision.device)
    return nr.linalg.solve_triangular(l_inv, eye, upper=False)


def _batch_shape_of(loc: Tensor, matrix: Tensor, name: str) -> tuple[int, ...]:
    if matrix.dim() < 2:
        raise ShapeError(f"{name} must be at least two-dimensional, with optional leading batch dimensions, "
                         f"got shape {tuple(matrix.shape)}")
    if matrix.shape[-1] != matrix.shape[-2] or matrix.shape[-1] != loc.shape[-1]:
        raise ShapeError(f"{name} of shape {tuple(matrix.shape)} must be square and match the event size of loc "
                         f"(shape {tuple(loc.shape)})")
    try:
        return tuple(nr.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1])))
    except (ValueError, RuntimeError) as e:
        raise ShapeError(f"the batch dims of loc {tuple(loc.shape)} and {name} {tuple(matrix.shape)} do not "
                         f"broadcast") from e


class MultivariateNormal(Distribution):
    """Multivariate normal with mean ``loc`` (last dim: the event) and exactly one of
    ``covariance_matrix``, ``precision_matrix`` or ``scale_tril`` (a lower Cholesky factor of the
    covariance); the batch dims of ``loc`` and the matrix broadcast. Everything is computed from the
    Cholesky factor ``L``: ``rsample`` is ``loc + L @ eps``.

    >>> import neurarust as nr
    >>> from neurarust.distributions import MultivariateNormal
    >>> d = MultivariateNormal(nr.zeros(2), nr.tensor([[4.0, 2.0], [2.0, 2.0]]))
    >>> d.scale_tril.tolist(), d.variance.tolist()
    ([[2.0, 0.0], [1.0, 1.0]], [4.0, 2.0])
    """

    arg_constraints = {"loc": constraints.real_vector, "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite, "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc: Tensor, covariance_matrix: Tensor | None = None, precision_matrix: Tensor | None = None,
                 scale_tril: Tensor | None = None, validate_args: bool | None = None):
        if not isinstance(loc, Tensor) or loc.dim() < 1:
            raise ShapeError("loc must be at least one-dimensional, got "
                             f"{tuple(loc.shape) if isinstance(loc, Tensor) else type(loc).__name__}")
        given = {k: v for k, v in (("covariance_matrix", covariance_matrix), ("precision_matrix", precision_matrix),
                                   ("scale_tril", scale_tril)) if v is not None}
        if len(given) != 1:
            raise ArgumentError("Exactly one of covariance_matrix or precision_matrix or scale_tril may be "
                                f"specified, got {sorted(given) or 'none'}")
        (name, matrix), = given.items()
        batch_shape = _batch_shape_of(loc, matrix, name)
        n = loc.shape[-1]
        setattr(self, name, matrix.expand(batch_shape + (n, n)))
        self.loc = loc.expand(batch_shape + (n,))
        super().__init__(batch_shape, (n,), validate_args=validate_args)
        # the unexpanded factor keeps the triangular solves as small as the parameters
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = matrix
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = nr.linalg.cholesky(matrix)
        else:
            self._unbroadcasted_scale_tril = precision_to_scale_tril(matrix)

    def _matrix_shape(self) -> tuple[int, ...]:
        return tuple(self.batch_shape) + tuple(self.event_shape) * 2

    @lazy_property
    def scale_tril(self) -> Tensor:
        """The lower Cholesky factor ``L`` of the covariance, of shape ``batch_shape + (n, n)``."""
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        """``L L^T``, of shape ``batch_shape + (n, n)``."""
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self) -> Tensor:
        """The inverse covariance ``L^{-T} L^{-1}``, of shape ``batch_shape + (n, n)``; like
        ``nr.cholesky_inverse`` it reads only the lower triangle of ``L``."""
        return nr.cholesky_inverse(self._unbroadcasted_scale_tril).expand(self._matrix_shape())

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        return (self._unbroadcasted_scale_tril ** 2).sum(-1).expand(tuple(self.batch_shape) + tuple(self.event_shape))

    def rsample(self, sample_shape: Any = Size()) -> Tensor:
        eps = nr.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self) -> Tensor:
        return self._half_log_det_of(self._unbroadcasted_scale_tril)

    @staticmethod
    def _half_log_det_of(scale_tril: Tensor) -> Tensor:
        """``log det(L L^T) / 2``: the log of the product of the factor's diagonal."""
        return nr.log(scale_tril.diagonal(dim1=-2, dim2=-1)).sum(-1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        m = batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        return -0.5 * (self.event_shape[0] * math.log(2 * math.pi) + m) - self._half_log_det()

    def entropy(self) -> Tensor:
        h = 0.5 * self.event_shape[0] * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(tuple(self.batch_shape))
