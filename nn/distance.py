"""Distance layers: ``CosineSimilarity`` and ``PairwiseDistance``, modules over their
``nn.functional`` forms (the two inputs broadcast against each other)::

    >>> import neurarust as nr
    >>> nr.nn.PairwiseDistance(p=1.0, eps=0.0)(nr.tensor([[1.0, 2.0]]), nr.tensor([[0.0, 0.0]])).tolist()
    [3.0]
"""
from __future__ import annotations

from neurarust.tensor import Tensor

from . import functional as F
from .module import Module


class PairwiseDistance(Module):
    """The ``p``-norm of ``x1 - x2 + eps`` along the last dim.

    >>> import neurarust as nr
    >>> nr.nn.PairwiseDistance(keepdim=True)(nr.zeros(2, 3), nr.zeros(2, 3)).shape
    neurarust.Size([2, 1])
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim  # PyTorch names the attribute of p `norm`

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """Cosine similarity of ``x1`` and ``x2`` along ``dim``.

    >>> import neurarust as nr
    >>> round(nr.nn.CosineSimilarity(dim=0)(nr.tensor([1.0, 1.0]), nr.tensor([2.0, 2.0])).item(), 4)
    1.0
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
