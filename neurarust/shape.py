"""Shape and stride arithmetic shared by views, broadcasting and kernel launchers."""
from __future__ import annotations

import functools
from typing import Iterable, Sequence

from .errors import IndexOutOfRangeError, ShapeError


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints like ``torch.Size``.

    >>> Size((2, 3))
    neurarust.Size([2, 3])
    """

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self) -> str:
        return f"neurarust.Size({list(self)})"

    def __getitem__(self, item):
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out


def as_shape(args: Sequence) -> tuple[int, ...]:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    shape = tuple(int(s) for s in args)
    for s in shape:
        if s < 0 and s != -1:
            raise ShapeError(f"negative dimension {s} in shape {shape}")
    return shape


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    return _contiguous_strides(tuple(shape))


@functools.lru_cache(maxsize=1024)
def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides = []
    acc = 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(strides))


def numel(shape: Iterable[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def normalize_dim(dim: int, ndim: int, *, allow_end: bool = False) -> int:
    """Map a possibly negative dim into ``range(ndim)`` (``range(ndim + 1)`` with ``allow_end``)."""
    top = ndim + 1 if allow_end else ndim
    lo, hi = -max(top, 1), max(top, 1) - 1
    if not lo <= dim <= hi:
        raise IndexOutOfRangeError(f"dimension {dim} is out of range for a tensor of {ndim} dims "
                                   f"(expected to be in [{lo}, {hi}])")
    return dim % max(top, 1)


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """NumPy/PyTorch broadcasting of several shapes.

    >>> broadcast_shapes((2, 1), (3,))
    (2, 3)
    """
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for shape in shapes:
        for i, s in enumerate(shape, ndim - len(shape)):
            if s == out[i] or s == 1:
                continue
            if out[i] == 1:
                out[i] = s
            else:
                raise ShapeError(f"shapes {' and '.join(str(tuple(x)) for x in shapes)} cannot be "
                                 f"broadcast together (dimension {i - ndim}: {out[i]} vs {s})")
    return tuple(out)


def broadcast_strides(shape: Sequence[int], strides: Sequence[int], target: Sequence[int]) -> tuple[int, ...]:
    """Strides that read a tensor of ``shape``/``strides`` as if it had shape ``target`` (0 = repeat)."""
    lead = len(target) - len(shape)
    out = [0] * lead
    for s, st, t in zip(shape, strides, target[lead:]):
        out.append(st if s == t and s != 1 else 0)
    return tuple(out)


def view_strides(shape: Sequence[int], strides: Sequence[int], new_shape: Sequence[int]) -> tuple[int, ...] | None:
    """Strides that show the same elements as ``new_shape`` without a copy, or None if impossible.

    The rule is PyTorch's: each group of old dims that is contiguous with itself can be re-split.
    """
    if numel(shape) == 0 or not shape:
        return contiguous_strides(new_shape)
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base = strides[-1]
    tensor_numel = 1
    view_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != tensor_numel * chunk_base):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                chunk_base = strides[d - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(new_strides)


def infer_size(shape: Sequence[int], total: int) -> tuple[int, ...]:
    """Resolve one ``-1`` in a requested shape."""
    shape = list(shape)
    if shape.count(-1) > 1:
        raise ShapeError(f"only one dimension can be inferred, got shape {tuple(shape)}")
    known = numel(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or total % known:
            raise ShapeError(f"shape {tuple(shape)} is invalid for input of size {total}")
        shape[shape.index(-1)] = total // known
    elif known != total:
        raise ShapeError(f"shape {tuple(shape)} is invalid for input of size {total}")
    return tuple(shape)


def is_contiguous(shape: Sequence[int], strides: Sequence[int]) -> bool:
    expected = 1
    for s, st in zip(reversed(shape), reversed(strides)):
        if s == 1:
            continue
        if st != expected:
            return numel(shape) == 0
        expected *= s
    return True


def collapse_dims(shape: Sequence[int], *stride_sets: Sequence[int]) -> tuple[list[int], list[list[int]]]:
    """Merge adjacent dims that every operand walks contiguously, and drop size-1 dims.

    Kernel launchers use it to hand Triton the fewest dims: a contiguous tensor becomes 1-D.
    """
    dims = [i for i, s in enumerate(shape) if s != 1]
    out_shape: list[int] = []
    out_strides: list[list[int]] = [[] for _ in stride_sets]
    for i in dims:
        if out_shape and all(st[i] * shape[i] == o[-1] for st, o in zip(stride_sets, out_strides)):
            out_shape[-1] *= shape[i]
            for st, o in zip(stride_sets, out_strides):
                o[-1] = st[i]
            continue
        out_shape.append(shape[i])
        for st, o in zip(stride_sets, out_strides):
            o.append(st[i])
    return out_shape, out_strides
