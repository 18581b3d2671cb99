"""Top-level functions PyTorch has that are compositions of registry ops: each runs those ops (a
Triton kernel each on the GPU, their NumPy references on the CPU) and differentiates through them.

    >>> import neurarust as nr
    >>> nr.nansum(nr.tensor([1.0, float("nan"), 2.0])).item()
    3.0
"""
from __future__ import annotations

import math
from typing import Sequence

from .errors import ArgumentError, DTypeError, ShapeError, SignatureError
from .registry import call
from .tensor import Tensor


def clip(input: Tensor, min=None, max=None) -> Tensor:
    """An alias of ``clamp``.

    >>> import neurarust as nr
    >>> nr.clip(nr.tensor([-2.0, 0.5, 3.0]), -1, 1).tolist()
    [-1.0, 0.5, 1.0]
    """
    return call("clamp", input, min, max)


def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The sum with NaNs counted as zero; integers and bools sum as ``sum`` does (to int64).

    >>> import neurarust as nr
    >>> nr.nansum(nr.tensor([[1.0, float("nan")], [2.0, 3.0]]), 1).tolist()
    [1.0, 5.0]
    """
    if input.dtype.is_floating_point:  # a float 0.0 in where() would turn integers into floats
        input = call("where", call("isnan", input), 0.0, input)
    return call("sum", input, dim, keepdim, dtype=dtype)


def nanmean(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The mean of the elements that are not NaN (NaN where all are).

    >>> import neurarust as nr
    >>> nr.nanmean(nr.tensor([1.0, float("nan"), 3.0])).item()
    2.0
    """
    if not input.dtype.is_floating_point:
        raise DTypeError(f"nanmean(): expected input to have floating point dtype but got {input.dtype}")
    present = call("logical_not", call("isnan", input))
    return nansum(input, dim, keepdim) / call("sum", present.to(input.dtype), dim, keepdim)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The number of non-zero elements (over ``dim``, an int or a tuple), as int64.

    >>> import neurarust as nr
    >>> nr.count_nonzero(nr.tensor([[0, 1], [2, 0]]), 0).tolist()
    [1, 1]
    """
    from . import dtype as _dt

    return call("sum", call("ne", input, 0).to(_dt.int64), dim)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """The values of ``input`` at ``indices`` along ``dim``, the two broadcast against each other but
    along ``dim`` (with ``dim=None`` both are flattened first), as ``torch.take_along_dim``.

    >>> import neurarust as nr
    >>> x = nr.tensor([[10, 30, 20], [60, 40, 50]])
    >>> nr.take_along_dim(x, x.argmax(1, keepdim=True), 1).tolist()
    [[30], [60]]
    """
    if dim is None:
        return call("gather", input.reshape(-1), 0, indices.reshape(-1))
    if input.ndim != indices.ndim:
        raise ShapeError(f"take_along_dim(): input {tuple(input.shape)} and indices {tuple(indices.shape)} "
                         "must have the same number of dims")
    from .shape import broadcast_shapes, normalize_dim

    d = normalize_dim(dim, input.ndim)
    rest = broadcast_shapes(*(tuple(t.shape[:d]) + (1,) + tuple(t.shape[d + 1:]) for t in (input, indices)))
    sized = lambda t: tuple(rest[:d]) + (t.shape[d],) + tuple(rest[d + 1:])  # noqa: E731
    return call("gather", input.expand(*sized(input)), d, indices.expand(*sized(indices)))


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (a 0-d one becomes shape ``(1,)``); one tensor, or a tuple.

    >>> import neurarust as nr
    >>> nr.atleast_1d(nr.tensor(3.0)).shape
    neurarust.Size([1])
    """
    return _each(tensors, lambda t: t.reshape(1) if t.ndim == 0 else t)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims: 0-d ``(1, 1)``, 1-d ``(1, n)``.

    >>> import neurarust as nr
    >>> nr.atleast_2d(nr.zeros(3)).shape
    neurarust.Size([1, 3])
    """
    return _each(tensors, lambda t: t.reshape(1, 1) if t.ndim == 0 else t.unsqueeze(0) if t.ndim == 1 else t)


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: 0-d ``(1, 1, 1)``, 1-d ``(1, n, 1)``, 2-d ``(m, n, 1)``.

    >>> import neurarust as nr
    >>> nr.atleast_3d(nr.zeros(2, 3)).shape
    neurarust.Size([2, 3, 1])
    """
    def lift(t: Tensor) -> Tensor:
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, -1, 1)
        return t.unsqueeze(-1) if t.ndim == 2 else t
    return _each(tensors, lift)


def _each(tensors: tuple, fn):
    items = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = tuple(fn(t) for t in items)
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else out


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Tensors joined column-wise: along dim 1, or dim 0 for 1-d tensors.

    >>> import neurarust as nr
    >>> nr.hstack([nr.tensor([1, 2]), nr.tensor([3])]).tolist()
    [1, 2, 3]
    """
    ts = atleast_1d(tuple(tensors))
    return call("cat", list(ts), 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Tensors joined row-wise (1-d tensors become rows).

    >>> import neurarust as nr
    >>> nr.vstack([nr.tensor([1, 2]), nr.tensor([3, 4])]).tolist()
    [[1, 2], [3, 4]]
    """
    return call("cat", list(atleast_2d(tuple(tensors))), 0)


row_stack = vstack


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Tensors joined depth-wise (along dim 2, after ``atleast_3d``).

    >>> import neurarust as nr
    >>> nr.dstack([nr.zeros(2, 3), nr.ones(2, 3)]).shape
    neurarust.Size([2, 3, 2])
    """
    return call("cat", list(atleast_3d(tuple(tensors))), 2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """Tensors as the columns of a matrix (1-d tensors become columns).

    >>> import neurarust as nr
    >>> nr.column_stack([nr.tensor([1, 2]), nr.tensor([3, 4])]).tolist()
    [[1, 3], [2, 4]]
    """
    cols = [t.reshape(-1, 1) if t.ndim <= 1 else t for t in tensors]
    return call("cat", cols, 1)


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (after joining ``prepend`` and ``append``).

    >>> import neurarust as nr
    >>> nr.diff(nr.tensor([1, 4, 9, 16])).tolist()
    [3, 5, 7]
    """
    if n < 0:
        raise ArgumentError(f"diff expects n to be non-negative, got {n}")
    parts = [t for t in (prepend, input, append) if t is not None]
    x = call("cat", parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        size = x.shape[dim]
        if size == 0:
            break
        later, earlier = x.narrow(dim, 1, size - 1), x.narrow(dim, 0, size - 1)
        x = call("logical_xor", later, earlier) if x.dtype.name == "bool" else later - earlier
    return x


# -- shapes: flattening, flipping, rotating and splitting ------------------------------------------

def ravel(input: Tensor) -> Tensor:
    """``input`` flattened to 1-D: a view where the layout allows, else a copy.

    >>> import neurarust as nr
    >>> nr.ravel(nr.zeros(2, 3)).shape
    neurarust.Size([6])
    """
    return input.reshape(-1)


def _at_least(name: str, input: Tensor, ndim: int) -> None:
    if input.ndim < ndim:
        raise ShapeError(f"{name}: input must have at least {ndim} dims, got shape {list(input.shape)}")


def fliplr(input: Tensor) -> Tensor:
    """``input`` with its columns (dim 1) in reverse order; at least 2-D.

    >>> import neurarust as nr
    >>> nr.fliplr(nr.tensor([[1, 2], [3, 4]])).tolist()
    [[2, 1], [4, 3]]
    """
    _at_least("fliplr", input, 2)
    return call("flip", input, [1])


def flipud(input: Tensor) -> Tensor:
    """``input`` with its rows (dim 0) in reverse order; at least 1-D.

    >>> import neurarust as nr
    >>> nr.flipud(nr.tensor([[1, 2], [3, 4]])).tolist()
    [[3, 4], [1, 2]]
    """
    _at_least("flipud", input, 1)
    return call("flip", input, [0])


def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
    """``input`` rotated ``k`` quarter turns in the plane of ``dims``, from the first dim towards the
    second (``k`` negative turns the other way).

    >>> import neurarust as nr
    >>> nr.rot90(nr.tensor([[1, 2], [3, 4]])).tolist()
    [[2, 4], [1, 3]]
    """
    from .shape import normalize_dim

    if len(dims) != 2:
        raise ArgumentError(f"rot90: expected 2 dims, got {len(dims)}")
    _at_least("rot90", input, 2)
    d0, d1 = (normalize_dim(d, input.ndim) for d in dims)
    if d0 == d1:
        raise ArgumentError(f"rot90: the two dims must differ, got {tuple(dims)}")
    turns = k % 4
    if turns == 1:
        return call("flip", input, [d1]).transpose(d0, d1)
    if turns == 2:
        return call("flip", input, [d0, d1])
    if turns == 3:
        return call("flip", input, [d0]).transpose(d0, d1)
    return call("clone", input)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Views of ``input`` split along ``dim``: into ``n`` parts as equal as can be (the first
    ``size % n`` one longer) for an int, or at each index of a list.

    >>> import neurarust as nr
    >>> [t.tolist() for t in nr.tensor_split(nr.arange(5), 2)]
    [[0, 1, 2], [3, 4]]
    """
    from .shape import normalize_dim

    _at_least("tensor_split", input, 1)
    d = normalize_dim(dim, input.ndim)
    size = input.shape[d]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise ArgumentError(f"tensor_split: number of sections must be greater than 0, got {n}")
        bounds = [i * (size // n) + min(i, size % n) for i in range(n + 1)]
    else:
        bounds = [0] + [min(max(int(i) if i >= 0 else size + int(i), 0), size) for i in indices_or_sections] + [size]
    return tuple(input.narrow(d, start, max(stop - start, 0)) for start, stop in zip(bounds, bounds[1:]))


def _split_along(name: str, input: Tensor, indices_or_sections, dim: int, ndim: int) -> tuple[Tensor, ...]:
    _at_least(name, input, ndim)
    if isinstance(indices_or_sections, int) and indices_or_sections > 0 \
            and input.shape[dim] % indices_or_sections:
        raise ArgumentError(f"{name}: dim {dim} of size {input.shape[dim]} is not divisible by "
                            f"{indices_or_sections} sections")
    return tensor_split(input, indices_or_sections, dim)


def hsplit(input: Tensor, indices_or_sections) -> tuple[Tensor, ...]:
    """``tensor_split`` along the columns (dim 1, or dim 0 of a 1-D tensor); sections must divide it.

    >>> import neurarust as nr
    >>> [t.shape for t in nr.hsplit(nr.zeros(2, 4), 2)]
    [neurarust.Size([2, 2]), neurarust.Size([2, 2])]
    """
    return _split_along("hsplit", input, indices_or_sections, 1 if input.ndim > 1 else 0, 1)


def vsplit(input: Tensor, indices_or_sections) -> tuple[Tensor, ...]:
    """``tensor_split`` along the rows (dim 0) of an at least 2-D tensor; sections must divide it.

    >>> import neurarust as nr
    >>> [t.tolist() for t in nr.vsplit(nr.tensor([[1], [2], [3]]), [1])]
    [[[1]], [[2], [3]]]
    """
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input: Tensor, indices_or_sections) -> tuple[Tensor, ...]:
    """``tensor_split`` along dim 2 of an at least 3-D tensor; sections must divide it.

    >>> import neurarust as nr
    >>> len(nr.dsplit(nr.zeros(1, 1, 4), 4))
    4
    """
    return _split_along("dsplit", input, indices_or_sections, 2, 3)


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors expanded (as views) to their common broadcast shape.

    >>> import neurarust as nr
    >>> [t.shape for t in nr.broadcast_tensors(nr.zeros(2, 1), nr.zeros(3))]
    [neurarust.Size([2, 3]), neurarust.Size([2, 3])]
    """
    from .shape import broadcast_shapes

    shape = broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(t.expand(*shape) for t in tensors)


def argwhere(input: Tensor) -> Tensor:
    """The indices of the non-zero elements, one row each, ``(count, input.ndim)`` int64.

    >>> import neurarust as nr
    >>> nr.argwhere(nr.tensor([[0, 3], [5, 0]])).tolist()
    [[0, 1], [1, 0]]
    """
    return call("nonzero", input)


def msort(input: Tensor) -> Tensor:
    """``input`` sorted along dim 0, ascending.

    >>> import neurarust as nr
    >>> nr.msort(nr.tensor([[3, 1], [2, 4]])).tolist()
    [[2, 1], [3, 4]]
    """
    return call("sort", input, 0)[0]


# -- pointwise functions ----------------------------------------------------------------------------

def clamp_min(input: Tensor, min) -> Tensor:
    """``input`` clamped from below: ``clamp(input, min=min)``.

    >>> import neurarust as nr
    >>> nr.clamp_min(nr.tensor([-1.0, 2.0]), 0.0).tolist()
    [0.0, 2.0]
    """
    return call("clamp", input, min, None)


def clamp_max(input: Tensor, max) -> Tensor:
    """``input`` clamped from above: ``clamp(input, max=max)``.

    >>> import neurarust as nr
    >>> nr.clamp_max(nr.tensor([-1.0, 2.0]), 0.0).tolist()
    [-1.0, 0.0]
    """
    return call("clamp", input, None, max)


def true_divide(input, other) -> Tensor:
    """An alias of ``div`` (true division: integers give floats).

    >>> import neurarust as nr
    >>> nr.true_divide(nr.tensor([1, 3]), 2).tolist()
    [0.5, 1.5]
    """
    return call("div", input, other)


def _floating(input: Tensor) -> Tensor:
    """``input``, in the default float dtype if it is integral or bool (as PyTorch's float functions)."""
    from . import dtype as _dt

    return input if input.dtype.is_floating_point else input.to(_dt.get_default_dtype())


def deg2rad(input: Tensor) -> Tensor:
    """Degrees to radians.

    >>> import neurarust as nr
    >>> round(nr.deg2rad(nr.tensor([180.0])).item(), 5)
    3.14159
    """
    return _floating(input) * (math.pi / 180.0)


def rad2deg(input: Tensor) -> Tensor:
    """Radians to degrees.

    >>> import neurarust as nr
    >>> round(nr.rad2deg(nr.tensor([3.141592653589793 / 2])).item(), 4)
    90.0
    """
    return _floating(input) * (180.0 / math.pi)


def frac(input: Tensor) -> Tensor:
    """The fractional part, with the sign of ``input``: ``input - trunc(input)``.

    >>> import neurarust as nr
    >>> nr.frac(nr.tensor([1.5, -2.25])).tolist()
    [0.5, -0.25]
    """
    if not input.dtype.is_floating_point:
        raise DTypeError(f"frac: expected a floating point input, got {input.dtype}")
    return input - call("trunc", input)


def sgn(input: Tensor) -> Tensor:
    """The sign of each element (``sign`` for real tensors).

    >>> import neurarust as nr
    >>> nr.sgn(nr.tensor([-2.0, 0.0, 3.0])).tolist()
    [-1.0, 0.0, 1.0]
    """
    return call("sign", input)


def signbit(input: Tensor) -> Tensor:
    """True where the sign bit is set: negative numbers, ``-0.0`` and negative NaNs included.

    >>> import neurarust as nr
    >>> nr.signbit(nr.tensor([-1.0, -0.0, 0.0, 2.0])).tolist()
    [True, True, False, False]
    """
    from . import dtype as _dt

    if input.dtype is _dt.bool_:
        return call("ne", input, input)
    if not input.dtype.is_floating_point:
        return call("lt", input, 0)
    from .creation import ones

    one = ones((), dtype=input.dtype, device=input.device)
    return call("lt", call("copysign", one, input), 0)   # copysign keeps -0.0's and NaN's sign bits


def xlogy(input, other) -> Tensor:
    """``input * log(other)``, 0 where ``input`` is 0 (unless ``other`` is NaN).

    >>> import neurarust as nr
    >>> nr.xlogy(nr.tensor([0.0, 2.0]), nr.tensor([0.0, 1.0])).tolist()
    [0.0, 0.0]
    """
    x, y = _as_float_pair("xlogy", input, other)
    zero = call("logical_and", call("eq", x, 0), call("logical_not", call("isnan", y)))
    return call("where", zero, 0.0, x * call("log", y))


def hypot(input: Tensor, other: Tensor) -> Tensor:
    """``sqrt(input**2 + other**2)`` elementwise, scaled by the larger magnitude so that it neither
    overflows nor underflows where the result is representable; inf where either is infinite.

    >>> import neurarust as nr
    >>> nr.hypot(nr.tensor([3.0, 1e30]), nr.tensor([4.0, 1e30])).tolist()[0]
    5.0
    """
    a, b = _as_float_pair("hypot", input, other)
    big = call("maximum", call("abs", a), call("abs", b))
    scale = call("where", call("eq", big, 0), 1.0, big)
    result = scale * call("sqrt", call("square", a / scale) + call("square", b / scale))
    infinite = call("logical_or", call("isinf", a), call("isinf", b))
    return call("where", infinite, math.inf, result)                    # inf even beside a NaN, as C's


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """``log(exp(input) + exp(other))`` without overflow: the larger plus ``log1p(exp(-|difference|))``.

    >>> import neurarust as nr
    >>> round(nr.logaddexp(nr.tensor([1000.0]), nr.tensor([1000.0])).item(), 3)
    1000.693
    """
    a, b = _as_float_pair("logaddexp", input, other)
    top = call("maximum", a, b)
    same_infinity = call("logical_and", call("eq", a, b), call("isinf", a))
    gap = call("where", same_infinity, 0.0, a - b)     # inf - inf would give NaN
    return call("where", same_infinity, top, top + call("log1p", call("exp", -call("abs", gap))))


def _as_float_pair(name: str, input, other) -> tuple[Tensor, Tensor]:
    """``input`` and ``other`` as tensors of their promoted dtype (the default float for integers)."""
    from . import dtype as _dt
    from .creation import tensor

    like = input if isinstance(input, Tensor) else other
    if not isinstance(like, Tensor):
        raise ArgumentError(f"{name}: expected at least one tensor argument")
    pair = [t if isinstance(t, Tensor) else tensor(t, device=like.device) for t in (input, other)]
    d = _dt.result_type(input, other)
    d = d if d.is_floating_point else _dt.get_default_dtype()
    return pair[0].to(d), pair[1].to(d)


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """For each of ``elements``, whether it is among ``test_elements`` (either may be a number); a
    bool tensor of ``elements``' shape. Compares every pair: O(len(elements) * len(test_elements)).

    >>> import neurarust as nr
    >>> nr.isin(nr.tensor([1, 2, 3, 4]), nr.tensor([2, 4])).tolist()
    [False, True, False, True]
    """
    from .creation import tensor

    device = next((t.device for t in (elements, test_elements) if isinstance(t, Tensor)), None)
    if device is None:
        raise ArgumentError("isin: expected at least one tensor argument")
    e, t = (x if isinstance(x, Tensor) else tensor(x, device=device) for x in (elements, test_elements))
    found = call("any", call("eq", e.reshape(-1, 1), t.reshape(1, -1)), 1).reshape(tuple(e.shape))
    return call("logical_not", found) if invert else found


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(p / (1 - p))``, the inverse of ``sigmoid``; with ``eps``, ``p`` is first clamped to
    ``[eps, 1 - eps]`` (integers give the default float dtype).

    >>> import neurarust as nr
    >>> nr.logit(nr.tensor([0.5, 0.0, 1.0])).tolist(), round(nr.logit(nr.tensor([0.0]), eps=1e-6).item(), 2)
    ([0.0, -inf, inf], -13.82)
    """
    p = _floating(input)
    if eps is not None:
        p = call("clamp", p, eps, 1.0 - eps)
    return call("log", p / (1.0 - p))


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``input`` with the positions where ``mask`` (bool, broadcast to ``input``) holds filled, in
    row-major order, by the first elements of ``source``; differentiable in ``input`` and ``source``.

    >>> import neurarust as nr
    >>> nr.masked_scatter(nr.zeros(2, 2), nr.tensor([[True, False], [False, True]]), nr.tensor([5.0, 6.0])).tolist()
    [[5.0, 0.0], [0.0, 6.0]]
    """
    from . import dtype as _dt
    from .shape import broadcast_shapes

    if not isinstance(mask, Tensor) or mask.dtype is not _dt.bool_:
        raise DTypeError(f"masked_scatter: expected a bool mask, got {getattr(mask, 'dtype', type(mask).__name__)}")
    if source.dtype is not input.dtype:
        raise DTypeError(f"masked_scatter: expected source of the input's dtype {input.dtype}, got {source.dtype}")
    if broadcast_shapes(tuple(mask.shape), tuple(input.shape)) != tuple(input.shape):
        raise ShapeError(f"masked_scatter: mask of shape {list(mask.shape)} does not broadcast to the input's "
                         f"{list(input.shape)}")
    if input.numel() == 0:
        return call("clone", input)
    chosen = mask.expand(*input.shape).reshape(-1)
    slot = call("cumsum", chosen, 0) - 1                     # which source element each chosen position takes
    needed = int(slot[-1].item()) + 1
    if needed > source.numel():
        raise ShapeError(f"masked_scatter: the mask selects {needed} elements but source has only {source.numel()}")
    taken = call("gather", source.reshape(-1), 0, call("clamp", slot, 0, None))
    return call("where", chosen, taken, input.reshape(-1)).reshape(tuple(input.shape))


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None):
    """The elements of ``input`` (flattened) with each run of equal neighbours kept once; with
    ``return_inverse`` each element's run index (input's shape), with ``return_counts`` each run's
    length. Every NaN is a run of its own, as in PyTorch. With ``dim``, runs of equal slices along
    ``dim``: the first slice of each run, one inverse entry per input slice, one count per run.

    >>> import neurarust as nr
    >>> nr.unique_consecutive(nr.tensor([1, 1, 2, 2, 3, 1, 1]), return_counts=True)
    (tensor([1, 2, 3, 1]), tensor([2, 2, 1, 2]))
    >>> values, inverse = nr.unique_consecutive(nr.tensor([[1, 1, 2, 1], [5, 5, 5, 5]]), True, dim=1)
    >>> values.tolist(), inverse.tolist()
    ([[1, 2, 1], [5, 5, 5]], [0, 0, 1, 2])
    """
    from . import dtype as _dt
    from .creation import tensor, zeros

    if not isinstance(input, Tensor):
        raise SignatureError(f"unique_consecutive(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if dim is not None:
        from neurarust.kernels.sorting import unique_slices

        values, inverse, counts = unique_slices("unique_consecutive", input, dim, consecutive=True)
        extra = ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
        return (values,) + extra if extra else values
    flat = input.reshape(-1)
    n = flat.numel()
    if n == 0:
        values, inverse, counts = flat, zeros(tuple(input.shape), dtype=_dt.int64), zeros(0, dtype=_dt.int64)
    else:
        starts = call("cat", [tensor([True], device=input.device), call("ne", flat[1:], flat[:-1])], 0)
        values = call("masked_select", flat, starts)
        inverse = (call("cumsum", starts, 0) - 1).reshape(tuple(input.shape))
        first = call("nonzero", starts).reshape(-1)
        counts = diff(first, append=tensor([n], device=input.device))
    extra = ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
    return (values,) + extra if extra else values
