"""``nr.distributions``: probability distributions to sample from and score, as
``torch.distributions``.

Each distribution is a composition of NeuraRust ops, so ``log_prob``, ``entropy`` and the moments are
differentiable with respect to the parameters, and ``rsample`` (where ``has_rsample``) is a
reparameterised draw that gradients flow through. Draws come from NeuraRust's own generator
(:func:`neurarust.manual_seed`)::

    >>> import neurarust as nr
    >>> from neurarust import distributions as D
    >>> _ = nr.manual_seed(0)
    >>> d = D.Normal(nr.tensor([0.0, 10.0]), nr.tensor([1.0, 2.0]))
    >>> d.sample((5,)).shape, d.log_prob(nr.tensor([0.0, 10.0])).shape
    (neurarust.Size([5, 2]), neurarust.Size([2]))
"""
from __future__ import annotations

from . import constraints, transforms
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical, OneHotCategorical
from .cauchy import Cauchy
from .chi2 import Chi2
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exponential import Exponential
from .gamma import Gamma
from .geometric import Geometric
from .gumbel import Gumbel
from .half_cauchy import HalfCauchy
from .half_normal import HalfNormal
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .log_normal import LogNormal
from .mixture_same_family import MixtureSameFamily
from .multinomial import Multinomial
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .pareto import Pareto
from .poisson import Poisson
from .relaxed_bernoulli import LogitRelaxedBernoulli, RelaxedBernoulli
from .relaxed_categorical import ExpRelaxedCategorical, RelaxedOneHotCategorical
from .studentT import StudentT
from .transformed_distribution import TransformedDistribution
from .transforms import (AbsTransform, AffineTransform, ComposeTransform, ExpTransform, PowerTransform,
                         SigmoidTransform, Transform)
from .uniform import Uniform
from .weibull import Weibull

__all__ = ["AbsTransform", "AffineTransform", "Bernoulli", "Beta", "Binomial", "Categorical", "Cauchy", "Chi2",
           "ComposeTransform", "Dirichlet", "Distribution", "ExpRelaxedCategorical", "ExpTransform", "Exponential",
           "Gamma", "Geometric", "Gumbel", "HalfCauchy", "HalfNormal", "Independent", "Laplace", "LogNormal",
           "LogitRelaxedBernoulli", "MixtureSameFamily", "Multinomial", "MultivariateNormal", "Normal",
           "OneHotCategorical", "Pareto", "Poisson", "PowerTransform", "RelaxedBernoulli", "RelaxedOneHotCategorical",
           "SigmoidTransform", "StudentT", "Transform", "TransformedDistribution", "Uniform", "Weibull",
           "constraints", "kl_divergence", "register_kl", "transforms"]
