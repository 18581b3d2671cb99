"""The chi-squared distribution: a gamma distribution with half-integer-style shape ``df / 2``.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Chi2
    >>> Chi2(4.0).mean.item(), Chi2(4.0).variance.item()
    (4.0, 8.0)
"""
from __future__ import annotations

from typing import Any

from neurarust.tensor import Tensor

from . import constraints
from .gamma import Gamma
from .utils import broadcast_all


class Chi2(Gamma):
    """Chi-squared distribution with ``df`` degrees of freedom: ``Gamma(df / 2, 1 / 2)``.

    >>> import neurarust as nr
    >>> from neurarust.distributions import Chi2
    >>> round(Chi2(nr.tensor([2.0])).log_prob(nr.tensor([2.0])).item(), 4)
    -1.6931
    """

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df: Any, validate_args: bool | None = None):
        (df,) = broadcast_all(df)
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    @property
    def df(self) -> Tensor:
        """The degrees of freedom, ``2 * concentration``."""
        return self.concentration * 2
