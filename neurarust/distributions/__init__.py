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
from .categorical import Categorical, OneHotCategorical
from .cauchy import Cauchy
from .distribution import Distribution
from .exponential import Exponential
from .geometric import Geometric
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .log_normal import LogNormal
from .normal import Normal
from .poisson import Poisson
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, ComposeTransform, ExpTransform, SigmoidTransform, Transform
from .uniform import Uniform

__all__ = ["AffineTransform", "Bernoulli", "Categorical", "Cauchy", "ComposeTransform", "Distribution", "ExpTransform",
           "Exponential", "Geometric", "Independent", "Laplace", "LogNormal", "Normal", "OneHotCategorical", "Poisson",
           "SigmoidTransform", "Transform", "TransformedDistribution", "Uniform", "constraints", "kl_divergence",
           "register_kl", "transforms"]
