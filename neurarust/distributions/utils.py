"""Helpers shared by the distributions: parameter broadcasting, probs/logits conversion, caching.

    >>> import neurarust as nr
    >>> from neurarust.distributions.utils import broadcast_all
    >>> [t.shape for t in broadcast_all(nr.zeros(2), 1.0)]
    [neurarust.Size([2]), neurarust.Size([2])]
"""
from __future__ import annotations

import numbers
from typing import Any, Callable

import neurarust as nr
from neurarust.errors import SignatureError
from neurarust.shape import Size
from neurarust.tensor import Tensor


def broadcast_all(*values: Any) -> tuple[Tensor, ...]:
    """Tensors or numbers, as tensors broadcast to one shape; numbers take the tensors' dtype and
    device (the default dtype when all are numbers), as ``torch.distributions.utils.broadcast_all``.

    >>> import neurarust as nr
    >>> from neurarust.distributions.utils import broadcast_all
    >>> a, b = broadcast_all(nr.tensor([1.0, 2.0], dtype=nr.float64), 3)
    >>> b.tolist(), b.dtype
    ([3.0, 3.0], neurarust.float64)
    """
    tensors = [v for v in values if isinstance(v, Tensor)]
    for v in values:
        if not isinstance(v, (Tensor, numbers.Number)):
            raise SignatureError(f"expected tensors or numbers, got {type(v).__name__}")
    like = tensors[0] if tensors else None
    dtype = like.dtype if like is not None and like.is_floating_point() else nr.get_default_dtype()
    device = like.device if like is not None else "cpu"
    made = [v if isinstance(v, Tensor) else nr.tensor(float(v), dtype=dtype, device=device) for v in values]
    return tuple(nr.broadcast_tensors(*made))


def sum_rightmost(value: Tensor, dim: int) -> Tensor:
    """``value`` summed over its ``dim`` rightmost dimensions (none when ``dim`` is 0).

    >>> import neurarust as nr
    >>> from neurarust.distributions.utils import sum_rightmost
    >>> sum_rightmost(nr.ones(2, 3), 1).tolist()
    [3.0, 3.0]
    """
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:value.dim() - dim]) + (-1,)).sum(-1)


def clamp_probs(probs: Tensor) -> Tensor:
    """Probabilities kept one machine epsilon inside (0, 1), so their logs stay finite.

    >>> import neurarust as nr
    >>> from neurarust.distributions.utils import clamp_probs
    >>> clamp_probs(nr.tensor([0.0, 0.5])).tolist()[1]
    0.5
    """
    eps = nr.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Logits of probabilities: log-odds for a binary event, log-probabilities otherwise.

    >>> import neurarust as nr
    >>> from neurarust.distributions.utils import probs_to_logits
    >>> round(probs_to_logits(nr.tensor(0.5), is_binary=True).item(), 6)
    0.0
    """
    p = clamp_probs(probs)
    return nr.log(p) - nr.log1p(-p) if is_binary else nr.log(p)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Probabilities from logits: a sigmoid for a binary event, a softmax over the last dim otherwise.

    >>> import neurarust as nr
    >>> from neurarust.distributions.utils import logits_to_probs
    >>> logits_to_probs(nr.tensor([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    return nr.sigmoid(logits) if is_binary else nr.softmax(logits, -1)


def as_size(shape: Any) -> Size:
    """A shape argument (a ``Size``, tuple, list or int) as a ``Size``.

    >>> from neurarust.distributions.utils import as_size
    >>> as_size(3), as_size((2, 3))
    (neurarust.Size([3]), neurarust.Size([2, 3]))
    """
    if isinstance(shape, numbers.Integral):
        return Size((int(shape),))
    return Size(tuple(shape))


class lazy_property:
    """A property computed on first read and then stored on the instance; assigning the attribute
    (a distribution built from ``probs`` sets ``probs``) skips the computation.

    >>> from neurarust.distributions.utils import lazy_property
    >>> class A:
    ...     @lazy_property
    ...     def x(self):
    ...         print("computing"); return 1
    >>> a = A(); a.x, a.x
    computing
    (1, 1)
    """

    def __init__(self, wrapped: Callable[[Any], Any]):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        with nr.enable_grad():  # a value computed inside no_grad must still carry the parameters' graph
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


def one_of(probs: Any, logits: Any) -> tuple[str, Any]:
    """Which parameterisation was given, ``("probs", probs)`` or ``("logits", logits)``; exactly one
    must be.

    >>> from neurarust.distributions.utils import one_of
    >>> one_of(None, 0.0)
    ('logits', 0.0)
    """
    if (probs is None) == (logits is None):
        from neurarust.errors import ArgumentError

        raise ArgumentError("Either `probs` or `logits` must be specified, but not both.")
    return ("probs", probs) if probs is not None else ("logits", logits)


class BinaryProbs:
    """``probs`` and ``logits`` of a two-outcome distribution built from either: the other one is
    computed on first read (Bernoulli, Binomial, Geometric, LogitRelaxedBernoulli)."""

    @lazy_property
    def logits(self) -> "nr.Tensor":
        """The log-odds ``log(p / (1 - p))``."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self) -> "nr.Tensor":
        """The probability of the event, ``sigmoid(logits)``."""
        return logits_to_probs(self.logits, is_binary=True)


def delegate(inner: str, name: str) -> property:
    """A read-only property giving ``self.<inner>.<name>``: a parameter of the distribution an
    instance wraps (``OneHotCategorical``'s ``probs`` are its ``Categorical``'s).

    >>> class Outer:
    ...     def __init__(self, inner):
    ...         self.inner = inner
    ...     size = delegate("inner", "real")
    >>> Outer(3).size
    3
    """
    return property(lambda self: getattr(getattr(self, inner), name), doc=f"``{inner}.{name}``.")
