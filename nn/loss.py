"""Loss modules: each calls its ``nn.functional`` form (a registry entry) with ``reduction=``
("mean", "sum" or "none") and its options; weights are buffers, so they move with ``.to()``::

    >>> import neurarust as nr
    >>> nr.nn.MSELoss(reduction="sum")
    MSELoss()
"""
from __future__ import annotations

from typing import Any

from neurarust.errors import ArgumentError, ShapeError
from neurarust.tensor import Tensor

from . import functional as F
from .module import Module

def _legacy_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` pair, mapped to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction  # checked by the loss function on each call (kl_div also takes "batchmean")
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else "mean" if size_average else "sum"


class _Loss(Module):
    _name = ""
    _options: tuple[str, ...] = ()

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _legacy_reduction(size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return self._loss(input, target)

    def _loss(self, *inputs: Any) -> Tensor:
        """The functional loss of ``inputs`` with this module's reduction and options."""
        options = {name: getattr(self, name) for name in self._options}
        return getattr(F, self._name)(*inputs, reduction=self.reduction, **options)


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error.

    >>> import neurarust as nr
    >>> nr.nn.MSELoss()(nr.zeros(2), nr.ones(2)).item()
    1.0
    """

    _name = "mse_loss"


class L1Loss(_Loss):
    """Mean absolute error.

    >>> import neurarust as nr
    >>> nr.nn.L1Loss(reduction="sum")(nr.zeros(2), nr.ones(2)).item()
    2.0
    """

    _name = "l1_loss"


class SmoothL1Loss(_Loss):
    """Quadratic below ``beta``, linear above.

    >>> import neurarust as nr
    >>> nr.nn.SmoothL1Loss()(nr.zeros(1), nr.full((1,), 2.0)).item()
    1.5
    """

    _name, _options = "smooth_l1_loss", ("beta",)

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta


class HuberLoss(_Loss):
    """Quadratic below ``delta``, linear (slope ``delta``) above.

    >>> import neurarust as nr
    >>> nr.nn.HuberLoss(delta=0.5)(nr.zeros(1), nr.full((1,), 2.0)).item()
    0.875
    """

    _name, _options = "huber_loss", ("delta",)

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of log-probabilities ``input`` from ``target``.

    >>> import neurarust as nr
    >>> round(nr.nn.KLDivLoss(reduction="batchmean")(nr.zeros(1, 2), nr.full((1, 2), 0.5)).item(), 4)
    -0.6931
    """

    _name, _options = "kl_div", ("log_target",)

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices given log-probabilities.

    >>> import neurarust as nr
    >>> nr.nn.NLLLoss()(nr.tensor([[-1.0, -2.0]]), nr.tensor([1])).item()
    2.0
    """

    _name, _options = "nll_loss", ("weight", "ignore_index")

    def __init__(self, weight: Tensor | None = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index


class CrossEntropyLoss(_WeightedLoss):
    """log_softmax + NLL over class indices or class probabilities, with ``label_smoothing``.

    >>> import neurarust as nr
    >>> nr.nn.CrossEntropyLoss(label_smoothing=0.1).label_smoothing
    0.1
    """

    _name, _options = "cross_entropy", ("weight", "ignore_index", "label_smoothing")

    def __init__(self, weight: Tensor | None = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities.

    >>> import neurarust as nr
    >>> round(nr.nn.BCELoss()(nr.tensor([0.5]), nr.tensor([1.0])).item(), 4)
    0.6931
    """

    _name, _options = "binary_cross_entropy", ("weight",)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable step; ``pos_weight`` weighs positives.

    >>> import neurarust as nr
    >>> round(nr.nn.BCEWithLogitsLoss()(nr.zeros(1), nr.ones(1)).item(), 4)
    0.6931
    """

    _name, _options = "binary_cross_entropy_with_logits", ("weight", "pos_weight")

    def __init__(self, weight: Tensor | None = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)


class CosineEmbeddingLoss(_Loss):
    """1 - cos(x1, x2) for y = 1, max(0, cos(x1, x2) - margin) for y = -1.

    >>> import neurarust as nr
    >>> nr.nn.CosineEmbeddingLoss()(nr.tensor([[1.0, 0.0]]), nr.tensor([[0.0, 1.0]]), nr.tensor([1.0])).item()
    1.0
    """

    _name, _options = "cosine_embedding_loss", ("margin",)

    def __init__(self, margin: float = 0.0, size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return self._loss(input1, input2, target)


class MarginRankingLoss(_Loss):
    """max(0, -y * (x1 - x2) + margin).

    >>> import neurarust as nr
    >>> nr.nn.MarginRankingLoss(margin=1.0)(nr.tensor([1.0]), nr.tensor([2.0]), nr.tensor([1.0])).item()
    2.0
    """

    _name, _options = "margin_ranking_loss", ("margin",)

    def __init__(self, margin: float = 0.0, size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return self._loss(input1, input2, target)


class TripletMarginLoss(_Loss):
    """max(d(a, p) - d(a, n) + margin, 0) with the ``p``-norm distance.

    >>> import neurarust as nr
    >>> nr.nn.TripletMarginLoss(margin=1.0)(nr.zeros(1, 2), nr.zeros(1, 2), nr.ones(1, 2) * 3).item()
    0.0
    """

    _name, _options = "triplet_margin_loss", ("margin", "p", "eps", "swap")

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return self._loss(anchor, positive, negative)


class TripletMarginWithDistanceLoss(_Loss):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with any ``distance_function`` (a ``PairwiseDistance``
    module by default, so it shows as a child, as in PyTorch).

    >>> import neurarust as nr
    >>> nr.nn.TripletMarginWithDistanceLoss(margin=2.0)(nr.zeros(1, 2), nr.zeros(1, 2), nr.zeros(1, 2)).item()
    2.0
    """

    def __init__(self, *, distance_function: Any = None, margin: float = 1.0, swap: bool = False,
                 reduction: str = "mean") -> None:
        from .distance import PairwiseDistance

        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ArgumentError(f"TripletMarginWithDistanceLoss: margin must be greater than 0, got {margin}")
        self.distance_function = distance_function if distance_function is not None else PairwiseDistance()
        self.margin, self.swap = margin, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_with_distance_loss(anchor, positive, negative, distance_function=self.distance_function,
                                                   margin=self.margin, swap=self.swap, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood of ``target`` given a log-rate (``log_input``) or a rate.

    >>> import neurarust as nr
    >>> nr.nn.PoissonNLLLoss()(nr.zeros(2), nr.tensor([1.0, 2.0])).item()
    1.0
    """

    _name, _options = "poisson_nll_loss", ("log_input", "full", "eps")

    def __init__(self, log_input: bool = True, full: bool = False, size_average: Any = None, eps: float = 1e-8,
                 reduce: Any = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return self._loss(log_input, target)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood of ``target`` given a mean and a variance:
    ``loss(input, target, var)``.

    >>> import neurarust as nr
    >>> nr.nn.GaussianNLLLoss(reduction="sum")(nr.zeros(2), nr.ones(2), nr.ones(2)).item()
    1.0
    """

    _name, _options = "gaussian_nll_loss", ("full", "eps")

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor | float) -> Tensor:
        return self._loss(input, target, var)


class HingeEmbeddingLoss(_Loss):
    """``x`` for y = 1, ``max(0, margin - x)`` for y = -1.

    >>> import neurarust as nr
    >>> nr.nn.HingeEmbeddingLoss(margin=2.0)(nr.tensor([0.5]), nr.tensor([-1.0])).item()
    1.5
    """

    _name, _options = "hinge_embedding_loss", ("margin",)

    def __init__(self, margin: float = 1.0, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class SoftMarginLoss(_Loss):
    """Two-class logistic loss ``log(1 + exp(-y * x))``.

    >>> import neurarust as nr
    >>> round(nr.nn.SoftMarginLoss()(nr.zeros(2), nr.tensor([1.0, -1.0])).item(), 4)
    0.6931
    """

    _name = "soft_margin_loss"


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Per-class binary cross-entropy of logits, averaged over the classes; ``weight`` per class.

    >>> import neurarust as nr
    >>> round(nr.nn.MultiLabelSoftMarginLoss()(nr.zeros(1, 3), nr.tensor([[1.0, 0.0, 1.0]])).item(), 4)
    0.6931
    """

    _name, _options = "multilabel_soft_margin_loss", ("weight",)


class MultiLabelMarginLoss(_Loss):
    """Multi-class multi-label hinge loss against target class lists (ended by -1).

    >>> import neurarust as nr
    >>> round(nr.nn.MultiLabelMarginLoss()(nr.tensor([[0.1, 0.2, 0.4, 0.8]]), nr.tensor([[3, 0, -1, 1]])).item(), 4)
    0.85
    """

    _name = "multilabel_margin_loss"


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss of scores ``(N, C)`` against class indices, ``p`` 1 or 2.

    >>> import neurarust as nr
    >>> nr.nn.MultiMarginLoss(p=2, margin=0.5)(nr.tensor([[1.0, 0.0]]), nr.tensor([1])).item()
    1.125
    """

    _name, _options = "multi_margin_loss", ("p", "margin", "weight")

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Tensor | None = None, size_average: Any = None,
                 reduce: Any = None, reduction: str = "mean") -> None:
        if p != 1 and p != 2:
            raise ArgumentError("only p == 1 and p == 2 supported")
        if weight is not None and weight.ndim != 1:
            raise ShapeError(f"MultiMarginLoss: expected weight to be None or 1D tensor, got {weight.ndim}D instead")
        super().__init__(weight, size_average, reduce, reduction)
        self.p, self.margin = p, margin


class CTCLoss(_Loss):
    """Connectionist Temporal Classification loss of ``log_probs`` ``(T, N, C)`` against unaligned
    target sequences (``nn.functional.ctc_loss``). Its gradient with respect to ``log_probs`` is the
    true derivative, not PyTorch's ``exp(log_probs) - posterior``; through ``log_softmax`` both agree.

    >>> import neurarust as nr
    >>> lp = nr.full((2, 1, 2), 0.5).log()
    >>> round(nr.nn.CTCLoss()(lp, nr.tensor([[1]]), [2], [1]).item(), 4)
    0.2877
    """

    _name, _options = "ctc_loss", ("blank", "zero_infinity")

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs: Tensor, targets: Tensor, input_lengths: Any, target_lengths: Any) -> Tensor:
        return self._loss(log_probs, targets, input_lengths, target_lengths)


class DistillationLoss(_Loss):
    """Knowledge distillation (``nn.functional.distillation_loss``): called as
    ``loss(student_logits, teacher_logits, target)``, it weighs the KL divergence to the teacher's
    probabilities at temperature ``T`` (times ``alpha * T**2``) against the cross-entropy with the
    labels (times ``1 - alpha``). Not in PyTorch.

    >>> import neurarust as nr
    >>> loss = nr.nn.DistillationLoss(T=2.0, alpha=1.0)
    >>> loss
    DistillationLoss(T=2.0, alpha=1.0)
    >>> loss(nr.zeros(2, 3), nr.zeros(2, 3), None).item()
    0.0
    """

    _name, _options = "distillation_loss", ("T", "alpha")

    def __init__(self, T: float = 2.0, alpha: float = 0.5, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.T, self.alpha = T, alpha

    def forward(self, student_logits: Tensor, teacher_logits: Tensor, target: Tensor | None) -> Tensor:
        return self._loss(student_logits, teacher_logits, target)

    def extra_repr(self) -> str:
        return f"T={self.T}, alpha={self.alpha}"


class NLLLoss2d(NLLLoss):
    """Deprecated alias of :class:`NLLLoss` (which takes ``(N, C, H, W)`` inputs itself); warns on
    construction, as PyTorch's.

    >>> import warnings, neurarust as nr
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     nr.nn.NLLLoss2d()(nr.tensor([[[[-1.0]], [[-2.0]]]]), nr.tensor([[[1]]])).item()
    2.0
    """

    def __init__(self, weight: Tensor | None = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean") -> None:
        import warnings

        warnings.warn("`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead as a drop-in replacement and see "
                      "https://pytorch.org/docs/main/nn.html#torch.nn.NLLLoss for more details.", FutureWarning,
                      stacklevel=2)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)


class LinearCrossEntropyLoss(_WeightedLoss):
    """``linear`` to ``num_classes`` (times ``out_features``) logits, then cross-entropy, fused:
    :func:`~neurarust.nn.functional.linear_cross_entropy` over chunks of rows, so the logits of a
    large vocabulary never exist whole. PyTorch 2.13's module: the projection is ``self.linear``
    (``Linear(in_features, num_classes * prod(out_features), bias=bias)``), its state-dict keys
    ``linear.weight`` (and ``linear.bias``).

    >>> import neurarust as nr
    >>> loss = nr.nn.LinearCrossEntropyLoss(4, 10)
    >>> loss
    LinearCrossEntropyLoss(
      in_features=4, num_classes=10, out_features=(), bias=False, reduction=mean, ignore_index=None, label_smoothing=0.0, options=None
      (linear): Linear(in_features=4, out_features=10, bias=False)
    )
    >>> loss(nr.randn(3, 4), nr.tensor([1, 2, 9])).shape
    neurarust.Size([])
    """

    def __init__(self, in_features: int, num_classes: int, *, out_features: tuple = (), bias: bool = False,
                 device: Any = None, dtype: Any = None, reduction: str = "mean", weight: Tensor | None = None,
                 ignore_index: int | None = None, label_smoothing: float = 0.0, options: Any = None) -> None:
        import math

        from .linear import Linear

        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise ShapeError(f"expected weight shape to be {(num_classes,)}, got {tuple(weight.shape)}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise ArgumentError(f"expected label_smoothing to be in range [0, 1], got {label_smoothing}")
        super().__init__(weight, None, None, reduction)
        self.num_classes, self.out_features = num_classes, out_features
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing
        self.linear = Linear(in_features, math.prod(out_features, start=num_classes), bias=bias, device=device,
                             dtype=dtype)
        self.options = options

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        shape = (self.num_classes, *self.out_features)
        bias = None if self.linear.bias is None else self.linear.bias.reshape(shape)
        return F.linear_cross_entropy(input, self.linear.weight.reshape(*shape, self.linear.in_features), target,
                                      linear_bias=bias, weight=self.weight, reduction=self.reduction,
                                      ignore_index=self.ignore_index, label_smoothing=self.label_smoothing,
                                      options=self.options)

    def extra_repr(self) -> str:
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
                f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, options={self.options}")
