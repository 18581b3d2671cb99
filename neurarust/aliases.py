"""PyTorch's other names for registry ops (``torch.absolute`` is ``torch.abs``, ``torch.greater`` is
``torch.gt``, ...): each calls the op, so it runs the same kernel and differentiates the same way.
The Tensor methods of the same names (and their in-place ``_`` forms) are on
:class:`~neurarust.tensor.Tensor`.

    >>> import neurarust as nr
    >>> x = nr.tensor([-1.5, 2.0])
    >>> nr.absolute(x).tolist(), nr.greater(x, 0).tolist(), nr.multiply(x, 2).tolist()
    ([1.5, 2.0], [False, True], [-3.0, 4.0])
"""
from __future__ import annotations

from typing import Any, Sequence

from .registry import call
from .tensor import Tensor


def _op(name: str, *args: Any, out: Tensor | None = None, **kwargs: Any) -> Tensor:
    return call(name, *args, **kwargs) if out is None else call(name, *args, out=out, **kwargs)


def absolute(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``abs``: the absolute value.

    >>> import neurarust as nr
    >>> nr.absolute(nr.tensor([-2, 3])).tolist()
    [2, 3]
    """
    return _op("abs", input, out=out)


def arccos(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``acos``: the arccosine.

    >>> import neurarust as nr
    >>> nr.arccos(nr.tensor([1.0])).tolist()
    [0.0]
    """
    return _op("acos", input, out=out)


def arcsin(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``asin``: the arcsine.

    >>> import neurarust as nr
    >>> nr.arcsin(nr.tensor([0.0])).tolist()
    [0.0]
    """
    return _op("asin", input, out=out)


def arctan(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``atan``: the arctangent.

    >>> import neurarust as nr
    >>> round(nr.arctan(nr.tensor([1.0])).item(), 4)
    0.7854
    """
    return _op("atan", input, out=out)


def arctan2(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``atan2``: the angle of the point ``(other, input)``.

    >>> import neurarust as nr
    >>> round(nr.arctan2(nr.tensor([1.0]), nr.tensor([-1.0])).item(), 4)
    2.3562
    """
    return _op("atan2", input, other, out=out)


def greater(input: Tensor, other: Any, *, out: Tensor | None = None) -> Tensor:
    """``gt``: ``input > other``, elementwise.

    >>> import neurarust as nr
    >>> nr.greater(nr.tensor([1, 2, 3]), 2).tolist()
    [False, False, True]
    """
    return _op("gt", input, other, out=out)


def greater_equal(input: Tensor, other: Any, *, out: Tensor | None = None) -> Tensor:
    """``ge``: ``input >= other``, elementwise.

    >>> import neurarust as nr
    >>> nr.greater_equal(nr.tensor([1, 2, 3]), 2).tolist()
    [False, True, True]
    """
    return _op("ge", input, other, out=out)


def less(input: Tensor, other: Any, *, out: Tensor | None = None) -> Tensor:
    """``lt``: ``input < other``, elementwise.

    >>> import neurarust as nr
    >>> nr.less(nr.tensor([1, 2, 3]), 2).tolist()
    [True, False, False]
    """
    return _op("lt", input, other, out=out)


def less_equal(input: Tensor, other: Any, *, out: Tensor | None = None) -> Tensor:
    """``le``: ``input <= other``, elementwise.

    >>> import neurarust as nr
    >>> nr.less_equal(nr.tensor([1, 2, 3]), 2).tolist()
    [True, True, False]
    """
    return _op("le", input, other, out=out)


def not_equal(input: Tensor, other: Any, *, out: Tensor | None = None) -> Tensor:
    """``ne``: ``input != other``, elementwise.

    >>> import neurarust as nr
    >>> nr.not_equal(nr.tensor([1, 2, 3]), 2).tolist()
    [True, False, True]
    """
    return _op("ne", input, other, out=out)


def multiply(input: Tensor, other: Any, *, out: Tensor | None = None) -> Tensor:
    """``mul``: the elementwise product.

    >>> import neurarust as nr
    >>> nr.multiply(nr.tensor([1.0, 2.0]), 3).tolist()
    [3.0, 6.0]
    """
    return _op("mul", input, other, out=out)


def divide(input: Tensor, other: Any, *, rounding_mode: str | None = None, out: Tensor | None = None) -> Tensor:
    """``div``: true division, or rounded (``rounding_mode="trunc"`` or ``"floor"``).

    >>> import neurarust as nr
    >>> nr.divide(nr.tensor([-3.0, 3.0]), 2).tolist(), nr.divide(nr.tensor([-3, 3]), 2, rounding_mode="floor").tolist()
    ([-1.5, 1.5], [-2, 1])
    """
    if rounding_mode is None:
        return _op("div", input, other, out=out)
    return _op("div", input, other, rounding_mode=rounding_mode, out=out)


def subtract(input: Tensor, other: Any, *, alpha: Any = 1, out: Tensor | None = None) -> Tensor:
    """``sub``: ``input - alpha * other``.

    >>> import neurarust as nr
    >>> nr.subtract(nr.tensor([5.0, 5.0]), nr.tensor([1.0, 2.0]), alpha=2).tolist()
    [3.0, 1.0]
    """
    if alpha == 1:
        return _op("sub", input, other, out=out)
    return _op("sub", input, other, alpha=alpha, out=out)


def negative(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``neg``: ``-input`` (bool tensors raise DTypeError, as in PyTorch).

    >>> import neurarust as nr
    >>> nr.negative(nr.tensor([1, -2])).tolist()
    [-1, 2]
    """
    return _op("neg", input, out=out)


def fix(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """``trunc``: each element rounded toward zero (integers unchanged).

    >>> import neurarust as nr
    >>> nr.fix(nr.tensor([-1.5, 1.5])).tolist()
    [-1.0, 1.0]
    """
    return _op("trunc", input, out=out)


def split_with_sizes(input: Tensor, split_sizes: Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """``split`` with a list of sizes, which must add up to the size of ``dim``: views of ``input``.

    >>> import neurarust as nr
    >>> [t.tolist() for t in nr.split_with_sizes(nr.arange(5), [2, 3])]
    [[0, 1], [2, 3, 4]]
    """
    return call("split", input, [int(s) for s in split_sizes], dim)


def unsafe_split_with_sizes(input: Tensor, split_sizes: Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """``split_with_sizes`` (PyTorch's ``unsafe_`` forms skip view tracking; here they are the same).

    >>> import neurarust as nr
    >>> [t.shape[0] for t in nr.unsafe_split_with_sizes(nr.zeros(4, 2), [1, 3])]
    [1, 3]
    """
    return split_with_sizes(input, split_sizes, dim)


def unsafe_split(input: Tensor, split_size: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """``split`` (PyTorch's ``unsafe_`` forms skip view tracking; here they are the same).

    >>> import neurarust as nr
    >>> [t.tolist() for t in nr.unsafe_split(nr.arange(5), 2)]
    [[0, 1], [2, 3], [4]]
    """
    return call("split", input, split_size, dim)


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``chunk`` (PyTorch's ``unsafe_`` forms skip view tracking; here they are the same).

    >>> import neurarust as nr
    >>> [t.tolist() for t in nr.unsafe_chunk(nr.arange(5), 2)]
    [[0, 1, 2], [3, 4]]
    """
    return call("chunk", input, chunks, dim)


def fill(input: Tensor, value: Any) -> Tensor:
    """A copy of ``input`` with every element ``value`` (``input.clone().fill_(value)``; a tensor
    ``value`` gets the gradient).

    >>> import neurarust as nr
    >>> x = nr.zeros(3)
    >>> nr.fill(x, 2.5).tolist(), x.tolist()
    ([2.5, 2.5, 2.5], [0.0, 0.0, 0.0])
    """
    return input.clone().fill_(value)


def zero_(input: Tensor) -> Tensor:
    """``input.zero_()``: every element of ``input`` set to 0, in place.

    >>> import neurarust as nr
    >>> nr.zero_(nr.ones(2)).tolist()
    [0.0, 0.0]
    """
    return input.zero_()
