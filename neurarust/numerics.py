"""``gradient``: NumPy's and PyTorch's finite-difference derivative of sampled values, composed of
slicing and arithmetic ops (so it runs on every backend and is differentiable).

    >>> import neurarust as nr
    >>> nr.gradient(nr.tensor([1.0, 4.0, 9.0, 16.0]))[0].tolist()
    [3.0, 4.0, 6.0, 7.0]
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence

from . import dtype as _dt
from .errors import ArgumentError, ShapeError, SignatureError
from .shape import normalize_dim
from .tensor import Tensor


def _dims(input: Tensor, dim: Any) -> list[int]:
    if dim is None:
        return list(range(input.ndim))
    dims = [dim] if isinstance(dim, int) else list(dim)
    out = [normalize_dim(d, input.ndim) for d in dims]
    if len(set(out)) != len(out):
        raise ArgumentError(f"gradient: dim {dims} names a dim more than once")
    return out


def _spacings(spacing: Any, count: int) -> list:
    if isinstance(spacing, (numbers.Number, Tensor)) and not (isinstance(spacing, Tensor) and spacing.ndim > 0):
        return [spacing] * count
    items = list(spacing)
    if len(items) != count:
        raise ArgumentError(f"gradient: expected spacing to be unspecified, a scalar or a list of {count} "
                            f"(one per dim), got a list of {len(items)}")
    return items


def _shaped(v: Tensor, ndim: int, d: int) -> Tensor:
    """A 1-D tensor laid along dim ``d`` of an ``ndim``-D tensor, to broadcast against it."""
    return v.reshape(tuple(-1 if i == d else 1 for i in range(ndim)))


def _uniform(f: Tensor, d: int, h: float, edge_order: int) -> list[Tensor]:
    n, s = f.shape[d], lambda start, length: f.narrow(d, start, length)
    inner = (s(2, n - 2) - s(0, n - 2)) / (2 * h)
    if edge_order == 1:
        return [(s(1, 1) - s(0, 1)) / h, inner, (s(n - 1, 1) - s(n - 2, 1)) / h]
    first = (s(0, 1) * -3 + s(1, 1) * 4 - s(2, 1)) / (2 * h)
    last = (s(n - 1, 1) * 3 - s(n - 2, 1) * 4 + s(n - 3, 1)) / (2 * h)
    return [first, inner, last]


def _coordinates(f: Tensor, d: int, x: Tensor, edge_order: int) -> list[Tensor]:
    n = f.shape[d]
    if x.ndim != 1 or x.shape[0] != n:
        raise ShapeError(f"gradient: the coordinates for dim {d} must be 1-D of its size {n}, got shape {list(x.shape)}")
    s = lambda start, length: f.narrow(d, start, length)  # noqa: E731
    dx = (x[1:] - x[:-1]).to(f.dtype)
    hd, hs = _shaped(dx[:-1], f.ndim, d), _shaped(dx[1:], f.ndim, d)
    inner = (s(0, n - 2) * (-hs / (hd * (hd + hs))) + s(1, n - 2) * ((hs - hd) / (hd * hs))
             + s(2, n - 2) * (hd / (hs * (hd + hs))))
    if edge_order == 1:
        return [(s(1, 1) - s(0, 1)) / dx[0], inner, (s(n - 1, 1) - s(n - 2, 1)) / dx[-1]]
    a, b = dx[0], dx[1]
    first = (s(0, 1) * (-(2 * a + b) / (a * (a + b))) + s(1, 1) * ((a + b) / (a * b))
             + s(2, 1) * (-a / (b * (a + b))))
    a, b = dx[-2], dx[-1]
    last = (s(n - 3, 1) * (b / (a * (a + b))) + s(n - 2, 1) * (-(a + b) / (a * b))
            + s(n - 1, 1) * ((2 * b + a) / (b * (a + b))))
    return [first, inner, last]


def gradient(input: Tensor, *, spacing: Any = 1, dim: int | Sequence[int] | None = None,
             edge_order: int = 1) -> tuple[Tensor, ...]:
    """The derivative of ``input``'s samples along each dim in ``dim`` (all when None), one tensor per
    dim: central differences inside, one-sided ones of accuracy ``edge_order`` (1 or 2) at the two
    ends. ``spacing`` is the distance between samples (a scalar for every dim, or one per dim) or,
    as 1-D tensors, the coordinates of the samples along each dim (unevenly spaced allowed).
    Integer inputs give the default float dtype.

    >>> import neurarust as nr
    >>> f = nr.tensor([[1.0, 2.0, 4.0], [2.0, 4.0, 8.0]])
    >>> [g.tolist() for g in nr.gradient(f, spacing=2.0)]
    [[[0.5, 1.0, 2.0], [0.5, 1.0, 2.0]], [[0.5, 0.75, 1.0], [1.0, 1.5, 2.0]]]
    >>> nr.gradient(nr.tensor([0.0, 1.0, 9.0]), spacing=[nr.tensor([0.0, 1.0, 3.0])], edge_order=2)[0].tolist()
    [0.0, 2.0, 6.0]
    """
    if not isinstance(input, Tensor):
        raise SignatureError(f"gradient(): argument 'input' must be Tensor, not {type(input).__name__}")
    if edge_order not in (1, 2):
        raise ArgumentError(f"gradient only supports edge_order=1 and edge_order=2, got {edge_order}")
    dims = _dims(input, dim)
    f = input if input.dtype.is_floating_point else input.to(_dt.get_default_dtype())
    out = []
    for d, h in zip(dims, _spacings(spacing, len(dims))):
        if f.shape[d] < edge_order + 1:
            raise ShapeError(f"gradient expected each dimension size to be at least edge_order+1 "
                             f"({edge_order + 1}), got shape {list(f.shape)} at dim {d}")
        parts = _coordinates(f, d, h, edge_order) if isinstance(h, Tensor) and h.ndim == 1 else \
            _uniform(f, d, h.item() if isinstance(h, Tensor) else h, edge_order)
        from .registry import call

        out.append(call("cat", parts, d))
    return tuple(out)
