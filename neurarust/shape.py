"""Shape and stride arithmetic shared by views, broadcasting and kernel launchers."""
from __future__ import annotations

import functools
import operator
from typing import Iterable, Sequence

from .errors import IndexOutOfRangeError, ShapeError, SignatureError


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints like ``torch.Size``.

    >>> Size((2, 3))
    neurarust.Size([2, 3])
    """

    def numel(self) -> int:
        return numel(self)

    def __repr__(self) -> str:
        return f"neurarust.Size({list(self)})"

    def __getitem__(self, item):
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out


def as_shape(args: Sequence) -> tuple[int, ...]:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` alike; every entry must be an integer
    (have ``__index__``), else SignatureError. ``-1`` is allowed (``view`` infers it).

    >>> as_shape((2, 3)), as_shape(([2, 3],))
    ((2, 3), (2, 3))
    >>> as_shape((2.5,))
    Traceback (most recent call last):
        ...
    neurarust.errors.SignatureError: size entries must be integers, got 2.5 (float) in (2.5,)
    """
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    try:
        shape = tuple([operator.index(s) for s in args])
    except TypeError:
        _raise_bad_entry(args)
        raise  # the TypeError came from inside an entry's __index__: keep it
    for s in shape:
        if s < 0 and s != -1:
            raise ShapeError(f"negative dimension {s} in shape {shape}")
    return shape


def _raise_bad_entry(args: Sequence) -> None:
    for s in args:
        try:
            operator.index(s)
        except TypeError:
            raise SignatureError(f"size entries must be integers, got {s!r} ({type(s).__name__}) "
                                 f"in {tuple(args)!r}") from None


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    """Row-major strides (in elements) of a contiguous tensor of ``shape``.

    >>> contiguous_strides((2, 3, 4))
    (12, 4, 1)
    """
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
    """The number of elements of ``shape`` (1 for ``()``).

    >>> numel((2, 3)), numel(())
    (6, 1)
    """
    n = 1
    for s in shape:
        n *= s
    return n


def normalize_dim(dim: int, ndim: int, *, allow_end: bool = False, scalar_ok: bool = True) -> int:
    """Map a possibly negative dim into ``range(ndim)`` (``range(ndim + 1)`` with ``allow_end``).

    A 0-d tensor takes dim 0 or -1 as PyTorch's reductions do (``x.sum(0)``), unless ``scalar_ok``
    is False: for ``size(dim)``, ``narrow`` and the like, which need a real dim.

    >>> normalize_dim(-1, 3), normalize_dim(3, 3, allow_end=True), normalize_dim(-1, 0)
    (2, 3, 0)
    >>> normalize_dim(0, 0, scalar_ok=False)
    Traceback (most recent call last):
        ...
    neurarust.errors.IndexOutOfRangeError: dimension 0 is out of range for a 0-d tensor (it has no dims)
    """
    if ndim == 0 and not scalar_ok:
        raise IndexOutOfRangeError(f"dimension {dim} is out of range for a 0-d tensor (it has no dims)")
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
    """Strides that read a tensor of ``shape``/``strides`` as if it had shape ``target`` (0 = repeat).

    >>> broadcast_strides((3, 1), (1, 1), (2, 3, 4))
    (0, 1, 0)
    """
    lead = len(target) - len(shape)
    out = [0] * lead
    for s, st, t in zip(shape, strides, target[lead:]):
        out.append(st if s == t and s != 1 else 0)
    return tuple(out)


def view_strides(shape: Sequence[int], strides: Sequence[int], new_shape: Sequence[int]) -> tuple[int, ...] | None:
    """Strides that show the same elements as ``new_shape`` without a copy, or None if impossible.

    The rule is PyTorch's: each group of old dims that is contiguous with itself can be re-split.

    >>> view_strides((2, 3), (3, 1), (6,)), view_strides((2, 3), (1, 2), (6,))
    ((1,), None)
    """
    if numel(shape) == 0 and tuple(shape) == tuple(new_shape):
        return tuple(strides)  # an empty tensor viewed as itself keeps its strides (PyTorch does)
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
    """Resolve one ``-1`` in a requested shape (ShapeError when ``total`` elements do not fit).

    >>> infer_size((2, -1), 6)
    (2, 3)
    """
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
    """True when ``strides`` walk ``shape`` in row-major order without gaps (size-1 dims ignored).

    >>> is_contiguous((2, 3), (3, 1)), is_contiguous((2, 3), (1, 2))
    (True, False)
    """
    expected = 1
    for s, st in zip(reversed(shape), reversed(strides)):
        if s == 1:
            continue
        if st != expected:
            return numel(shape) == 0
        expected *= s
    return True


def dense_order(shape: Sequence[int], strides: Sequence[int]) -> list[int] | None:
    """The dims of a dense layout (contiguous, or a permutation of it) from the outermost in memory,
    or None when it has gaps or overlaps (size-1 dims' strides are free).

    >>> dense_order((2, 3), (1, 2)), dense_order((2, 3), (4, 1))
    ([1, 0], None)
    """
    order = sorted(range(len(shape)), key=lambda d: (-strides[d] if shape[d] > 1 else 0, d))
    big = [d for d in order if shape[d] > 1]
    return order if is_contiguous([shape[d] for d in big], [strides[d] for d in big]) else None


def collapse_dims(shape: Sequence[int], *stride_sets: Sequence[int]) -> tuple[list[int], list[list[int]]]:
    """Merge adjacent dims that every operand walks contiguously, and drop size-1 dims.

    Kernel launchers use it to hand Triton the fewest dims: a contiguous tensor becomes 1-D.

    >>> collapse_dims((2, 3, 4), (12, 4, 1))
    ([24], [[1]])
    >>> collapse_dims((2, 3), (3, 1), (1, 2))
    ([2, 3], [[3, 1], [1, 2]])
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
