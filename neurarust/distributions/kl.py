"""KL divergences between distributions: ``kl_divergence(p, q)`` and the ``register_kl`` registry.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Normal, kl_divergence
    >>> kl_divergence(Normal(0.0, 1.0), Normal(0.0, 1.0)).item()
    0.0
"""
from __future__ import annotations

from typing import Any, Callable

import neurarust as nr
from neurarust.errors import ShapeError, SignatureError
from neurarust.tensor import Tensor

from .bernoulli import Bernoulli
from .beta import Beta
from .categorical import Categorical, OneHotCategorical
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exponential import Exponential
from .gamma import Gamma
from .independent import Independent
from .laplace import Laplace
from .multivariate_normal import MultivariateNormal, batch_mahalanobis
from .normal import Normal
from .uniform import Uniform
from .utils import sum_rightmost

_KL_REGISTRY: dict[tuple[type, type], Callable[[Any, Any], Tensor]] = {}


def register_kl(type_p: type, type_q: type) -> Callable[[Callable[[Any, Any], Tensor]], Callable[[Any, Any], Tensor]]:
    """Decorator registering ``fn(p, q)`` as the KL divergence of a ``type_p`` from a ``type_q``;
    ``kl_divergence`` picks the most specific registered pair for subclasses.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Normal, kl_divergence, register_kl
    >>> class Unit(Normal):
    ...     pass
    >>> @register_kl(Unit, Unit)
    ... def _kl_unit(p, q):
    ...     return nr.zeros(p.batch_shape)
    >>> kl_divergence(Unit(0.0, 1.0), Unit(1.0, 1.0)).item()
    0.0
    """
    if not (isinstance(type_p, type) and issubclass(type_p, Distribution)
            and isinstance(type_q, type) and issubclass(type_q, Distribution)):
        raise SignatureError(f"register_kl expects two Distribution subclasses, got {type_p!r} and {type_q!r}")

    def decorator(fn: Callable[[Any, Any], Tensor]) -> Callable[[Any, Any], Tensor]:
        _KL_REGISTRY[type_p, type_q] = fn
        return fn

    return decorator


def _lookup(type_p: type, type_q: type) -> Callable[[Any, Any], Tensor] | None:
    """The registered pair closest to ``(type_p, type_q)`` along both MROs (nearest total distance)."""
    best, best_rank = None, None
    for (super_p, super_q), fn in _KL_REGISTRY.items():
        if issubclass(type_p, super_p) and issubclass(type_q, super_q):
            rank = (type_p.__mro__.index(super_p) + type_q.__mro__.index(super_q),)
            if best_rank is None or rank < best_rank:
                best, best_rank = fn, rank
    return best


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """``KL(p || q) = E_p[log p(x) - log q(x)]``, one value per batch element; raises
    ``NotImplementedError`` for a pair with no registered formula, as torch does.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Bernoulli, kl_divergence
    >>> round(kl_divergence(Bernoulli(0.5), Bernoulli(0.25)).item(), 4)
    0.1438
    """
    fn = _lookup(type(p), type(q))
    if fn is None:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type {type(p).__name__} and q type "
                                  f"{type(q).__name__}")
    return fn(p, q)


def _inf_where(mask: Tensor, value: Tensor) -> Tensor:
    return nr.where(mask, float("inf"), value)


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - nr.log(var_ratio))


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    # each term is inf where q gives zero mass to an outcome p can take, and 0 where p never takes it
    t1 = p.probs * (nr.softplus(-q.logits) - nr.softplus(-p.logits))
    t1 = nr.where(p.probs == 0, 0.0, _inf_where(q.probs == 0, t1))
    t2 = (1 - p.probs) * (nr.softplus(q.logits) - nr.softplus(p.logits))
    t2 = nr.where(p.probs == 1, 0.0, _inf_where(q.probs == 1, t2))
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    t = p.probs * (p.logits - q.logits)
    t = _inf_where(q.probs == 0, t)
    t = nr.where(p.probs == 0, 0.0, t)
    return t.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical(p: OneHotCategorical, q: OneHotCategorical) -> Tensor:
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p: Uniform, q: Uniform) -> Tensor:
    result = nr.log((q.high - q.low) / (p.high - p.low))
    return _inf_where((q.low > p.low) | (q.high < p.high), result)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p: Exponential, q: Exponential) -> Tensor:
    rate_ratio = q.rate / p.rate
    return rate_ratio - 1 - nr.log(rate_ratio)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p: Laplace, q: Laplace) -> Tensor:
    scale_ratio = p.scale / q.scale
    loc_abs_diff = (p.loc - q.loc).abs()
    return -nr.log(scale_ratio) + loc_abs_diff / q.scale + scale_ratio * nr.exp(-loc_abs_diff / p.scale) - 1


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Independent, q: Independent) -> Tensor:
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("KL between Independents with different reinterpreted_batch_ndims")
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p: MultivariateNormal, q: MultivariateNormal) -> Tensor:
    if p.event_shape != q.event_shape:
        raise ShapeError(f"KL-divergence between two Multivariate Normals with different event shapes cannot be "
                         f"computed: {tuple(p.event_shape)} vs {tuple(q.event_shape)}")
    lp, lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    half_log_det_ratio = p._half_log_det_of(lq) - p._half_log_det_of(lp)
    n = p.event_shape[0]
    batch = tuple(nr.broadcast_shapes(tuple(lq.shape[:-2]), tuple(lp.shape[:-2])))
    # tr(Sq^-1 Sp) = ||Lq^-1 Lp||_F^2
    trace = (nr.linalg.solve_triangular(lq.expand(batch + (n, n)), lp.expand(batch + (n, n)), upper=False) ** 2)
    return half_log_det_ratio + 0.5 * (trace.sum((-2, -1)) + batch_mahalanobis(lq, q.loc - p.loc) - n)


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p: Gamma, q: Gamma) -> Tensor:
    t1 = q.concentration * nr.log(p.rate / q.rate)
    t2 = nr.lgamma(q.concentration) - nr.lgamma(p.concentration)
    t3 = (p.concentration - q.concentration) * nr.digamma(p.concentration)
    t4 = (q.rate - p.rate) * (p.concentration / p.rate)
    return t1 + t2 + t3 + t4


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p: Dirichlet, q: Dirichlet) -> Tensor:
    sum_p, sum_q = p.concentration.sum(-1), q.concentration.sum(-1)
    t1 = nr.lgamma(sum_p) - nr.lgamma(sum_q)
    t2 = (nr.lgamma(p.concentration) - nr.lgamma(q.concentration)).sum(-1)
    t3 = (p.concentration - q.concentration) * (nr.digamma(p.concentration) - nr.digamma(sum_p).unsqueeze(-1))
    return t1 - t2 + t3.sum(-1)


@register_kl(Beta, Beta)
def _kl_beta_beta(p: Beta, q: Beta) -> Tensor:
    return _kl_dirichlet_dirichlet(p._dirichlet, q._dirichlet)
