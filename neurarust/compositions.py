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
    """``input * log(other)``, 0 where ``input`` is 0 (unless ``other`` is NaN). Its gradient is
    PyTorch's, ``log(other)`` for ``input`` even at 0, except at ``(0, inf)``: 0 there, where PyTorch's
    is inf.

    >>> import neurarust as nr
    >>> nr.xlogy(nr.tensor([0.0, 2.0]), nr.tensor([0.0, 1.0])).tolist()
    [0.0, 0.0]
    """
    x, y = _as_float_pair("xlogy", input, other)
    log = call("log", y)
    zero = call("logical_and", call("eq", x, 0), call("logical_not", call("isnan", y)))
    # Where input is 0 the result is 0 even beside log(0) = -inf, and the gradient for input is still
    # log(other) where that is finite (PyTorch's derivative): a factor, not a where around the product.
    finite = call("where", call("isfinite", log), log, 0.0)
    return x * call("where", zero, finite, log)


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


# -- more of PyTorch's math functions: NaN-ignoring extrema, float64 powers, integer gcd/lcm, bits ----

_range = range  # ``histogram`` has a ``range`` argument


def _return_type(name: str, fields: tuple[str, ...]):
    """A named tuple standing for ``torch.return_types.<name>``."""
    from collections import namedtuple

    t = namedtuple(name, fields)
    t.__module__ = __name__
    return t


AminmaxResult = _return_type("aminmax", ("min", "max"))
FrexpResult = _return_type("frexp", ("mantissa", "exponent"))
HistogramResult = _return_type("histogram", ("hist", "bin_edges"))
NanmedianResult = _return_type("nanmedian", ("values", "indices"))


def _tensor_pair(name: str, input, other) -> tuple[Tensor, Tensor]:
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise SignatureError(f"{name}(): expected two Tensors, got {type(input).__name__} and {type(other).__name__}")
    return input, other


def fmax(input: Tensor, other: Tensor) -> Tensor:
    """The larger of each pair, ignoring NaN: NaN only where both are NaN (``maximum`` propagates it).
    A tie sends the gradient to ``input``, as PyTorch's.

    >>> import neurarust as nr
    >>> nr.fmax(nr.tensor([1.0, float("nan"), float("nan")]), nr.tensor([2.0, 3.0, float("nan")])).tolist()
    [2.0, 3.0, nan]
    """
    a, b = _tensor_pair("fmax", input, other)
    return call("where", call("logical_or", call("ge", a, b), call("isnan", b)), a, b)


def fmin(input: Tensor, other: Tensor) -> Tensor:
    """The smaller of each pair, ignoring NaN: NaN only where both are NaN (``minimum`` propagates it).

    >>> import neurarust as nr
    >>> nr.fmin(nr.tensor([1.0, float("nan")]), nr.tensor([2.0, -3.0])).tolist()
    [1.0, -3.0]
    """
    a, b = _tensor_pair("fmin", input, other)
    return call("where", call("logical_or", call("le", a, b), call("isnan", b)), a, b)


def float_power(input, exponent) -> Tensor:
    """``input ** exponent`` computed in float64 (either may be a number), as ``torch.float_power``.

    >>> import neurarust as nr
    >>> r = nr.float_power(nr.tensor([2, 3]), 2)
    >>> r.tolist(), r.dtype
    ([4.0, 9.0], neurarust.float64)
    """
    from . import dtype as _dt

    if not isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        raise SignatureError("float_power(): expected input or exponent to be a Tensor")
    as64 = lambda v: v.to(_dt.float64) if isinstance(v, Tensor) else float(v)  # noqa: E731
    return call("pow", as64(input), as64(exponent))


# Euclid's algorithm ends within 1.45 * bits remainder steps (consecutive Fibonacci numbers are the
# worst case); rounds run in chunks, with one check between chunks (most pairs end in the first).
_GCD_CHUNK = 8


def _integer_pair(name: str, input: Tensor, other: Tensor) -> tuple[Tensor, Tensor]:
    from . import dtype as _dt

    a, b = _tensor_pair(name, input, other)
    d = _dt.result_type(a, b)
    if d.kind not in "iu":
        raise DTypeError(f"{name}(): expected integer tensors, got {a.dtype} and {b.dtype}")
    from .shape import broadcast_shapes

    shape = broadcast_shapes(tuple(a.shape), tuple(b.shape))
    return a.to(d).expand(*shape), b.to(d).expand(*shape)


def gcd(input: Tensor, other: Tensor) -> Tensor:
    """The greatest common divisor of each pair of integers (non-negative; ``gcd(0, 0)`` is 0): Euclid's
    algorithm with ``remainder``, a fixed number of rounds per chunk.

    >>> import neurarust as nr
    >>> nr.gcd(nr.tensor([-4, 0, 12]), nr.tensor([6, 5, 18])).tolist()
    [2, 5, 6]
    """
    a, b = _integer_pair("gcd", input, other)
    a, b = call("abs", a), call("abs", b)
    rounds = math.ceil(1.45 * 8 * a.element_size()) + 2
    for done in range(0, rounds, _GCD_CHUNK):
        if done and not bool(call("any", call("ne", b, 0)).item()):
            break
        for _ in range(_GCD_CHUNK):
            zero = call("eq", b, 0)
            rest = call("remainder", a, call("where", zero, 1, b))
            a, b = call("where", zero, a, b), call("where", zero, 0, rest)
    return a


def lcm(input: Tensor, other: Tensor) -> Tensor:
    """The least common multiple of each pair of integers (non-negative; 0 if either is 0).

    >>> import neurarust as nr
    >>> nr.lcm(nr.tensor([-4, 0, 3]), nr.tensor([6, 5, -5])).tolist()
    [12, 0, 15]
    """
    a, b = _integer_pair("lcm", input, other)
    g = gcd(a, b)
    return call("abs", call("floor_divide", a, call("where", call("eq", g, 0), 1, g)) * b)


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """The Heaviside step: 0 where ``input < 0`` (and NaN), 1 where ``input > 0``, ``values`` where
    ``input == 0``; both tensors of one dtype, as PyTorch requires.

    >>> import neurarust as nr
    >>> nr.heaviside(nr.tensor([-1.0, 0.0, 2.0]), nr.tensor([0.5])).tolist()
    [0.0, 0.5, 1.0]
    """
    a, v = _tensor_pair("heaviside", input, values)
    if a.dtype is not v.dtype:
        raise DTypeError(f"heaviside is not yet implemented for tensors with different dtypes, got {a.dtype} and {v.dtype}")
    step = call("gt", a, 0).to(a.dtype)
    return call("where", call("eq", a, 0), v, step)


def ldexp(input: Tensor, other: Tensor) -> Tensor:
    """``input * 2 ** other`` (integers give the default float dtype), as PyTorch computes it.

    >>> import neurarust as nr
    >>> nr.ldexp(nr.tensor([1.0, 3.0]), nr.tensor([3, -1])).tolist()
    [8.0, 1.5]
    """
    from . import dtype as _dt

    a, b = _tensor_pair("ldexp", input, other)
    d = _dt.result_type(a, b)
    d = d if d.is_floating_point else _dt.get_default_dtype()
    return call("mul", a, call("pow", 2.0, b.to(d)))                # 2 ** other in the result dtype


def frexp(input: Tensor):
    """``(mantissa, exponent)`` with ``input == mantissa * 2 ** exponent``, ``|mantissa|`` in [0.5, 1)
    and an int32 exponent; 0, ±inf and NaN give themselves and exponent 0, as C's frexp. The mantissa
    differentiates (``grad / 2 ** exponent``).

    >>> import neurarust as nr
    >>> m, e = nr.frexp(nr.tensor([8.0, -5.0, 0.0]))
    >>> m.tolist(), e.tolist()
    ([0.5, -0.625, 0.0], [4, 3, 0])
    """
    from . import dtype as _dt

    if not isinstance(input, Tensor) or not input.dtype.is_floating_point:
        raise DTypeError(f"torch.frexp() only supports floating-point dtypes, got {getattr(input, 'dtype', type(input).__name__)}")
    with _no_grad():
        wide = input.detach().to(_dt.float64)
        magnitude = call("abs", wide)
        finite = call("logical_and", call("isfinite", wide), call("ne", wide, 0))
        safe = call("where", finite, magnitude, 1.0)
        e = call("floor", call("log2", safe)) + 1.0
        # log2 may round across a power of two: move e so the mantissa lands in [0.5, 1).
        m = _scale_by_power_of_two(safe, -e)
        e = call("where", call("ge", m, 1.0), e + 1.0, call("where", call("lt", m, 0.5), e - 1.0, e))
        e = call("where", finite, e, 0.0)
    mantissa = _scale_by_power_of_two(input, -e)
    return FrexpResult(mantissa.to(input.dtype), e.to(_dt.int32))


def _scale_by_power_of_two(x: Tensor, e: Tensor) -> Tensor:
    """``x * 2 ** e`` for whole ``e`` (float64) in two steps, so no power of two overflows or underflows
    on the way where the result is representable."""
    from . import dtype as _dt

    half = call("trunc", e * 0.5)
    x64 = x.to(_dt.float64) if x.dtype is not _dt.float64 else x
    return x64 * call("pow", 2.0, half) * call("pow", 2.0, e - half)


def _no_grad():
    from .autograd.grad_mode import no_grad

    return no_grad()


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """``log2(2 ** input + 2 ** other)`` without overflow: the larger plus ``log1p(2 ** -|difference|) / ln 2``.

    >>> import neurarust as nr
    >>> nr.logaddexp2(nr.tensor([1000.0, 3.0]), nr.tensor([1000.0, 3.0])).tolist()
    [1001.0, 4.0]
    """
    a, b = _as_float_pair("logaddexp2", input, other)
    top = call("maximum", a, b)
    same_infinity = call("logical_and", call("eq", a, b), call("isinf", a))
    gap = call("where", same_infinity, 0.0, a - b)
    return call("where", same_infinity, top, top + call("log1p", call("exp2", -call("abs", gap))) * (1.0 / math.log(2.0)))


_BITS = {"float64": "int64", "float32": "int32", "float16": "int16", "bfloat16": "int16"}


def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """The next representable float after ``input`` toward ``other`` (``other`` where they are equal,
    NaN where either is), stepping the bit pattern by one: exact in every floating dtype.

    >>> import neurarust as nr
    >>> x = nr.nextafter(nr.tensor([1.0, 0.0]), nr.tensor([2.0, -1.0]))
    >>> (x[0] - 1).item() == 2 ** -23, x[1].item() < 0
    (True, True)
    """
    from . import dtype as _dt
    from .shape import broadcast_shapes

    a, b = _tensor_pair("nextafter", input, other)
    if a.dtype is not b.dtype or not a.dtype.is_floating_point:
        raise DTypeError(f"nextafter(): expected two floating tensors of one dtype, got {a.dtype} and {b.dtype}")
    shape = broadcast_shapes(tuple(a.shape), tuple(b.shape))
    a, b = call("clone", a.expand(*shape)), b.expand(*shape)
    bits = _dt.as_dtype(_BITS[a.dtype.name])
    raw = a.view(bits)
    # Away from zero (|a| grows) the bit pattern increases in either sign; toward zero it decreases.
    away = call("eq", call("gt", b, a), call("gt", a, 0))
    stepped = call("where", away, raw + 1, raw - 1).view(a.dtype)
    tiny = call("copysign", _smallest_subnormal(a, bits), b - a)                 # from ±0, the smallest subnormal toward other
    r = call("where", call("eq", a, 0), tiny, stepped)
    r = call("where", call("eq", a, b), b, r)
    return call("where", call("logical_or", call("isnan", a), call("isnan", b)), a + b, r)


def _smallest_subnormal(like: Tensor, bits) -> Tensor:
    from .creation import ones

    return ones((), dtype=bits, device=like.device).view(like.dtype)


def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """``input`` with each slice along ``dim`` (all other dims) whose ``p``-norm exceeds ``maxnorm``
    scaled down to norm ``maxnorm`` (by ``maxnorm / (norm + 1e-7)``, as PyTorch).

    >>> import neurarust as nr
    >>> nr.renorm(nr.tensor([[3.0, 4.0], [0.3, 0.4]]), 2, 0, 1.0).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.30000001192092896, 0.4000000059604645]]
    """
    from .shape import normalize_dim

    if not isinstance(input, Tensor) or not input.dtype.is_floating_point:
        raise DTypeError(f"renorm: expected a floating point tensor, got {getattr(input, 'dtype', type(input).__name__)}")
    if p <= 0:
        raise ArgumentError(f"renorm: non-positive norm not supported, got p={p}")
    if maxnorm < 0:
        raise ArgumentError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.ndim <= 1:
        raise ShapeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} dimensions")
    d = normalize_dim(dim, input.ndim)
    others = [i for i in range(input.ndim) if i != d]
    norm = call("linalg.vector_norm", input, p, others, True)
    factor = call("where", call("gt", norm, maxnorm), maxnorm / (norm + 1e-7), 1.0)
    return input * factor


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The ``p``-norm of ``input - other`` (broadcast), a 0-d tensor.

    >>> import neurarust as nr
    >>> nr.dist(nr.tensor([0.0, 0.0]), nr.tensor([3.0, 4.0])).item()
    5.0
    """
    a, b = _tensor_pair("dist", input, other)
    return call("linalg.vector_norm", a - b, p)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The ``p``-norm distance between each row of ``x1`` (``... x P x M``) and each row of ``x2``
    (``... x R x M``): ``... x P x R``, batch dims broadcast. Computed from the differences for every
    ``compute_mode`` (accepted for PyTorch's signature; the matmul form loses digits to cancellation).

    >>> import neurarust as nr
    >>> nr.cdist(nr.tensor([[0.0, 0.0], [1.0, 1.0]]), nr.tensor([[3.0, 4.0]])).tolist()
    [[5.0], [3.605551242828369]]
    """
    a, b = _tensor_pair("cdist", x1, x2)
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError(f"cdist only supports at least 2D tensors, X1 got: {a.ndim}D, X2 got: {b.ndim}D")
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"cdist: X1 and X2 must have the same number of columns. X1: {a.shape[-1]} X2: {b.shape[-1]}")
    if not a.dtype.is_floating_point or not b.dtype.is_floating_point:
        raise DTypeError(f"cdist only supports floating-point dtypes, X1 got: {a.dtype}, X2 got: {b.dtype}")
    if p < 0:
        raise ArgumentError(f"cdist only supports non-negative p values, got {p}")
    if compute_mode not in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                            "donot_use_mm_for_euclid_dist"):
        raise ArgumentError(f"{compute_mode} is not a valid value for compute_mode")
    return call("linalg.vector_norm", a.unsqueeze(-2) - b.unsqueeze(-3), p, -1)


# -- statistics: covariance, extrema, quantiles, medians, histograms -----------------------------------

def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None, aweights: Tensor | None = None) -> Tensor:
    """The covariance matrix of the variables in the rows of ``input`` (observations in its columns;
    a 1-D input is one variable, giving a 0-d tensor), with integer frequency weights ``fweights``,
    observation weights ``aweights`` and ``correction`` (1: Bessel's), as ``torch.cov``.

    >>> import neurarust as nr
    >>> nr.cov(nr.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    if not isinstance(input, Tensor):
        raise SignatureError(f"cov(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if input.ndim > 2:
        raise ShapeError(f"cov(): expected input to have two or fewer dimensions but got an input with {input.ndim} dimensions")
    x = _floating(input)
    x = x.reshape(1, -1) if x.ndim < 2 else x
    n = x.shape[1]
    w = None
    if fweights is not None:
        if fweights.ndim > 1 or fweights.numel() != n:
            raise ShapeError(f"cov(): expected fweights to have one dimension and {n} elements, got shape {list(fweights.shape)}")
        if fweights.dtype.kind not in "iu":
            raise DTypeError(f"cov(): expected fweights to have integral dtype but got fweights with {fweights.dtype} dtype")
        if n and bool(call("lt", call("amin", fweights), 0).item()):
            raise ArgumentError("cov(): fweights cannot be negative")
        w = fweights.reshape(-1).to(x.dtype)
    if aweights is not None:
        if aweights.ndim > 1 or aweights.numel() != n:
            raise ShapeError(f"cov(): expected aweights to have one dimension and {n} elements, got shape {list(aweights.shape)}")
        if not aweights.dtype.is_floating_point:
            raise DTypeError(f"cov(): expected aweights to have floating point dtype but got aweights with {aweights.dtype} dtype")
        if n and bool(call("lt", call("amin", aweights), 0).item()):
            raise ArgumentError("cov(): aweights cannot be negative")
        a = aweights.reshape(-1).to(x.dtype)
        w = a if w is None else w * a
    if w is None:
        total = float(n)
        mean = call("mean", x, 1, True)
        norm = total - correction
    else:
        total = call("sum", w)
        mean = call("sum", x * w, 1, True) / total
        norm = total - correction if aweights is None else total - correction * call("sum", w * aweights.reshape(-1).to(x.dtype)) / total
    if isinstance(norm, Tensor):
        norm = call("where", call("le", norm, 0), 0.0, norm)
    else:
        norm = max(norm, 0.0)
    centred = x - mean
    weighted = centred if w is None else centred * w
    c = call("mm", centred, weighted.t()) / norm
    return c.reshape(()) if input.ndim < 2 else c


def corrcoef(input: Tensor) -> Tensor:
    """Pearson's correlation coefficients of the variables in the rows of ``input`` (``cov`` scaled by
    the standard deviations, clipped to [-1, 1]).

    >>> import neurarust as nr
    >>> nr.corrcoef(nr.tensor([[1.0, 2.0, 3.0], [3.0, 1.0, -1.0]])).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    c = cov(input)
    if c.ndim == 0:
        return c / c
    std = call("sqrt", c.diagonal())
    c = c / std.reshape(-1, 1) / std.reshape(1, -1)
    return call("clamp", c, -1, 1)


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False):
    """The minimum and maximum (over ``dim``, or all elements), as a named tuple ``(min, max)``.

    >>> import neurarust as nr
    >>> nr.aminmax(nr.tensor([[1, 5], [3, 2]]), dim=0)
    aminmax(min=tensor([1, 2]), max=tensor([3, 5]))
    """
    if not isinstance(input, Tensor):
        raise SignatureError(f"aminmax(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if input.numel() == 0 and (dim is None or input.shape[dim] == 0):
        raise ArgumentError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no identity")
    dims = () if dim is None else dim
    lo, hi = call("amin", input, dims, keepdim), call("amax", input, dims, keepdim)
    if dim is None and keepdim:
        lo, hi = lo.reshape((1,) * input.ndim), hi.reshape((1,) * input.ndim)
    return AminmaxResult(lo, hi)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(name: str, input: Tensor, q, dim, keepdim: bool, interpolation: str, ignore_nan: bool) -> Tensor:
    from . import dtype as _dt
    from .creation import tensor
    from .shape import normalize_dim

    if not isinstance(input, Tensor):
        raise SignatureError(f"{name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if input.dtype not in (_dt.float32, _dt.float64):
        raise DTypeError(f"{name}() input tensor must be either float or double dtype, got {input.dtype}")
    if input.numel() == 0:
        raise ShapeError(f"{name}() input tensor must be non-empty, got shape {list(input.shape)}")
    if interpolation not in _INTERPOLATIONS:
        raise ArgumentError(f"{name}() interpolation must be one of {', '.join(_INTERPOLATIONS)}, got '{interpolation}'")
    scalar_q = not isinstance(q, Tensor)
    if scalar_q:
        if not 0 <= q <= 1:
            raise ArgumentError(f"{name}() q must be in the range [0, 1] but got {q}")
        qt = tensor([float(q)], dtype=input.dtype, device=input.device)
    else:
        if q.ndim > 1:
            raise ShapeError(f"{name}() q must be a scalar or 1D tensor, got shape {list(q.shape)}")
        if q.dtype is not input.dtype:
            raise DTypeError(f"{name}() q tensor must be same dtype as the input tensor, got {q.dtype} and {input.dtype}")
        qt = q.reshape(-1)
        if qt.numel() and not bool(call("logical_and", call("ge", call("amin", qt), 0), call("le", call("amax", qt), 1)).item()):
            raise ArgumentError(f"{name}() q values must be in the range [0, 1]")
    x = input.reshape(-1) if dim is None else (input.reshape(1) if input.ndim == 0 else input)
    d = 0 if dim is None else normalize_dim(dim, max(input.ndim, 1))
    rows = call("sort", x, d).values.movedim(d, -1)                  # (..., n), NaN last
    n = rows.shape[-1]
    k = qt.numel()
    lead = tuple(rows.shape[:-1])
    qs = qt.reshape((k,) + (1,) * (len(lead) + 1))
    nan = call("isnan", rows)
    if ignore_nan:
        last = call("sum", call("logical_not", nan), -1, True).to(input.dtype) - 1.0
        ranks = qs * last
        ranks = call("where", call("lt", ranks, 0), float(n - 1), ranks)   # all NaN: the NaN at the end
    else:
        ranks = call("where", call("any", nan, -1, True), float(n - 1), qs * float(n - 1))
    values = rows.unsqueeze(0).expand(k, *rows.shape)

    def at(r: Tensor) -> Tensor:
        return call("gather", values, -1, r.to(_dt.int64))

    if interpolation == "lower":
        out = at(call("floor", ranks))
    elif interpolation == "higher":
        out = at(call("ceil", ranks))
    elif interpolation == "nearest":
        out = at(call("round", ranks))                                 # halves to even, as PyTorch
    else:
        below = call("floor", ranks)
        weight = 0.5 if interpolation == "midpoint" else ranks - below
        out = call("lerp", at(below), at(call("ceil", ranks)), weight)
    out = out.squeeze(-1)                                              # (k, ...lead)
    if keepdim:
        out = out.reshape((k,) + (1,) * input.ndim) if dim is None else out.unsqueeze(d + 1)
    return out.squeeze(0) if scalar_q else out


def quantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:
    """The ``q``-th quantiles (a number, or a 1-D tensor of them in [0, 1]: its dim comes first) of
    ``input`` over ``dim`` (all elements if None), between order statistics by ``interpolation``
    ('linear', 'lower', 'higher', 'midpoint', 'nearest'); NaN where a slice has a NaN.

    >>> import neurarust as nr
    >>> x = nr.tensor([[1.0, 2.0, 3.0, 4.0]])
    >>> nr.quantile(x, 0.5, dim=1).tolist(), nr.quantile(x, nr.tensor([0.25, 1.0]), interpolation="lower").tolist()
    ([2.5], [1.0, 4.0])
    """
    return _quantile("quantile", input, q, dim, keepdim, interpolation, ignore_nan=False)


def nanquantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:
    """``quantile`` ignoring NaN (NaN only where a slice is all NaN).

    >>> import neurarust as nr
    >>> nr.nanquantile(nr.tensor([1.0, float("nan"), 3.0]), 0.5).item()
    2.0
    """
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, ignore_nan=True)


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """The lower median of the values that are not NaN (NaN where all are); with ``dim``, the named
    tuple ``(values, indices)``, each index the median's position in ``input`` along ``dim``.

    >>> import neurarust as nr
    >>> nr.nanmedian(nr.tensor([2.0, float("nan"), 1.0, 3.0])).item()
    2.0
    >>> nr.nanmedian(nr.tensor([[2.0, float("nan"), 1.0, 3.0]]), 1)
    nanmedian(values=tensor([2.]), indices=tensor([0]))
    """
    from . import dtype as _dt
    from .shape import normalize_dim

    if not isinstance(input, Tensor):
        raise SignatureError(f"nanmedian(): argument 'input' must be a Tensor, not {type(input).__name__}")
    x = input.reshape(-1) if dim is None else (input.reshape(1) if input.ndim == 0 else input)
    d = 0 if dim is None else normalize_dim(dim, max(input.ndim, 1))
    if x.shape[d] == 0:
        raise ArgumentError(f"nanmedian(): expected a non-empty dimension, got shape {list(input.shape)} and dim={dim}")
    values, indices = call("sort", x, d, stable=True)                 # NaN last, ties in input order
    count = call("sum", call("logical_not", call("isnan", values)), d, True)
    pos = call("clamp", call("floor_divide", count - 1, 2), 0, None).to(_dt.int64)
    median = call("gather", values, d, pos)
    if dim is None:
        return median.reshape(())
    index = call("gather", indices, d, pos)
    if not keepdim:
        median, index = median.squeeze(d), index.squeeze(d)
        if input.ndim == 0:
            median, index = median.reshape(()), index.reshape(())
    return NanmedianResult(median, index)


def histogram(input: Tensor, bins=100, *, range: Sequence[float] | None = None, weight: Tensor | None = None,
              density: bool = False):
    """The histogram of ``input``'s values: ``bins`` equal bins over ``range`` (default: the values'
    min and max, widened by ±0.5 when equal) or a 1-D tensor of increasing bin edges; each bin holds
    ``[left, right)``, the last one its right edge too; values outside are left out. ``weight`` weighs
    each value, ``density`` divides by the total times the bin width. A named tuple ``(hist, bin_edges)``.

    >>> import neurarust as nr
    >>> r = nr.histogram(nr.tensor([1.0, 2.0, 1.0, 4.0]), bins=3, range=(0.0, 3.0))
    >>> r.hist.tolist(), r.bin_edges.tolist()
    ([0.0, 2.0, 1.0], [0.0, 1.0, 2.0, 3.0])
    """
    from .creation import linspace, ones_like, zeros

    if not isinstance(input, Tensor) or not input.dtype.is_floating_point:
        raise DTypeError(f"histogram(): expected a floating point input tensor, got {getattr(input, 'dtype', type(input).__name__)}")
    x = input.reshape(-1)
    if isinstance(bins, Tensor):
        if bins.ndim != 1 or bins.numel() < 1:
            raise ShapeError(f"histogram(): bins tensor should have one dimension and at least 1 element, got shape {list(bins.shape)}")
        if range is not None:
            raise ArgumentError("histogram(): range cannot be given with a tensor of bin edges")
        edges = bins.to(input.dtype)
    else:
        if isinstance(bins, bool) or not isinstance(bins, int) or bins <= 0:
            raise ArgumentError(f"histogram(): bins must be > 0, got {bins!r}")
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
        elif x.numel():
            lo, hi = float(call("amin", x).item()), float(call("amax", x).item())
        else:
            lo, hi = 0.0, 1.0
        if lo > hi:
            raise ArgumentError(f"histogram(): max must be larger than min, got range ({lo}, {hi})")
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ArgumentError(f"histogram(): range of [{lo}, {hi}] is not finite")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = linspace(lo, hi, bins + 1, dtype=input.dtype, device=input.device)
    nbins = edges.numel() - 1
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise ShapeError(f"histogram(): weight should have the same shape as input, got {list(weight.shape)} and {list(input.shape)}")
        w = weight.reshape(-1).to(input.dtype)
    else:
        w = ones_like(x)
    which = call("searchsorted", edges, x, right=True) - 1
    last = call("eq", x, edges[-1:])                                  # the right edge belongs to the last bin
    which = call("where", last, nbins - 1, which)
    inside = call("logical_and", call("ge", which, 0), call("lt", which, nbins))
    hist = call("scatter_add", zeros(max(nbins, 0), dtype=input.dtype, device=input.device), 0,
                call("where", inside, which, 0), call("where", inside, w, 0.0))
    if density:
        hist = hist / (call("sum", hist) * (edges[1:] - edges[:-1]))
    return HistogramResult(hist, edges)


# -- integration, indices, combinations ------------------------------------------------------------

def _trapezoid_parts(y: Tensor, x, dx, dim: int):
    from .shape import normalize_dim

    if not isinstance(y, Tensor):
        raise SignatureError(f"trapezoid(): argument 'y' must be a Tensor, not {type(y).__name__}")
    if x is not None and dx is not None:
        raise ArgumentError("trapezoid(): pass either x or dx, not both")
    d = normalize_dim(dim, max(y.ndim, 1))
    n = y.shape[d] if y.ndim else 1
    if x is None:
        return d, n, None
    if not isinstance(x, Tensor):
        raise SignatureError(f"trapezoid(): argument 'x' must be a Tensor, not {type(x).__name__}")
    if x.ndim == 1:
        if x.shape[0] != n:
            raise ShapeError(f"trapezoid: There must be one `x` value for each sample point, got {x.shape[0]} and {n}")
        x = x.reshape(tuple(n if i == d else 1 for i in _range(y.ndim)))
    return d, n, diff(x, dim=d)


def trapezoid(y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    """The integral of ``y`` along ``dim`` by the trapezoidal rule, with sample points ``x`` (1-D along
    ``dim``, or broadcastable to ``y``) or a constant spacing ``dx`` (default 1).

    >>> import neurarust as nr
    >>> nr.trapezoid(nr.tensor([1.0, 2.0, 3.0])).item(), nr.trapezoid(nr.tensor([1.0, 2.0, 3.0]), nr.tensor([0.0, 1.0, 3.0])).item()
    (4.0, 6.5)
    """
    d, n, spacing = _trapezoid_parts(y, x, dx, dim)
    if n == 0:
        return call("sum", y, d) * 0.0
    if spacing is None:
        # PyTorch's form for a constant spacing: (sum - (first + last) / 2) * dx
        return (call("sum", y, d) - (y.select(d, 0) + y.select(d, -1)) * 0.5) * (1.0 if dx is None else dx)
    return call("sum", spacing * (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)), d) / 2.0


def trapz(y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    """An alias of ``trapezoid``.

    >>> import neurarust as nr
    >>> nr.trapz(nr.tensor([1.0, 3.0]), dx=2.0).item()
    4.0
    """
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    """The running trapezoidal integral of ``y`` along ``dim`` (one element fewer than ``y`` there).

    >>> import neurarust as nr
    >>> nr.cumulative_trapezoid(nr.tensor([1.0, 2.0, 3.0])).tolist()
    [1.5, 4.0]
    """
    d, n, spacing = _trapezoid_parts(y, x, dx, dim)
    pairs = y.narrow(d, 0, max(n - 1, 0)) + y.narrow(d, min(1, n), max(n - 1, 0))
    if spacing is None:
        return call("cumsum", pairs * ((1.0 if dx is None else dx) / 2.0), d)
    return call("cumsum", spacing * pairs, d) / 2.0


def unravel_index(indices: Tensor, shape) -> tuple[Tensor, ...]:
    """The coordinates in a tensor of ``shape`` (row-major) of each flat index in ``indices``, one
    int64 tensor per dim; negative indices count from the end, as PyTorch's.

    >>> import neurarust as nr
    >>> [t.tolist() for t in nr.unravel_index(nr.tensor([5, 1, -1]), (2, 3))]
    [[1, 0, 1], [2, 1, 2]]
    """
    from . import dtype as _dt

    if not isinstance(indices, Tensor) or indices.dtype.kind not in "iu":
        raise DTypeError(f"expected 'indices' to be integer dtype, but got {getattr(indices, 'dtype', type(indices).__name__)}")
    sizes = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(not isinstance(s, int) or isinstance(s, bool) for s in sizes):
        raise SignatureError(f"unravel_index(): 'shape' must be an int or a sequence of ints, got {shape!r}")
    if any(s < 0 for s in sizes):
        raise ArgumentError(f"'shape' cannot have negative values, but got {tuple(sizes)}")
    if math.prod(sizes) == 0 and indices.numel():
        raise ArgumentError(f"unravel_index(): index out of bounds for a tensor of shape {tuple(sizes)} with no elements")
    rest = indices.to(_dt.int64)
    coords = []
    for s in reversed(sizes):
        coords.append(call("remainder", rest, s))
        rest = call("floor_divide", rest, s)
    return tuple(reversed(coords))


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """Every length-``r`` combination of the elements of a 1-D tensor, one per row, in
    ``itertools.combinations`` order (``combinations_with_replacement`` with ``with_replacement``).

    >>> import neurarust as nr
    >>> nr.combinations(nr.tensor([1, 2, 3])).tolist()
    [[1, 2], [1, 3], [2, 3]]
    """
    import itertools

    from . import dtype as _dt
    from .creation import tensor

    if not isinstance(input, Tensor) or input.ndim != 1:
        raise ShapeError(f"Expect a 1D vector, but got shape {list(getattr(input, 'shape', ()))}")
    if r < 0:
        raise ArgumentError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input[:0]
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(pick(_range(input.shape[0]), r))
    index = tensor([i for row in rows for i in row], dtype=_dt.int64, device=input.device)
    return call("index_select", input, 0, index).reshape(len(rows), r)


# -- window functions --------------------------------------------------------------------------------

def _window(name: str, window_length: int, periodic: bool, dtype, device, requires_grad: bool, values) -> Tensor:
    """A window from ``values(n, N)`` (float64 sample positions ``n`` and the period ``N``), in ``dtype``."""
    from . import dtype as _dt
    from .creation import ones

    dtype = _dt.get_default_dtype() if dtype is None else _dt.as_dtype(dtype)
    if not dtype.is_floating_point:
        raise DTypeError(f"{name} expects floating point dtypes, got: {dtype}")
    if isinstance(window_length, bool) or not isinstance(window_length, int) or window_length < 0:
        raise ArgumentError(f"{name} requires non-negative window length, got window_length={window_length}")
    if window_length <= 1:
        w = ones(window_length, dtype=dtype, device=device)
    else:
        n = call("arange", window_length, dtype=_dt.float64, device=device)
        w = values(n, window_length if periodic else window_length - 1).to(dtype)
    return w.requires_grad_() if requires_grad else w


def _cosine_sum(*coefficients: float):
    """``a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N) - ...``: the generalized cosine windows."""
    def values(n: Tensor, period: int) -> Tensor:
        out = n * 0.0 + coefficients[0]
        for k, a in enumerate(coefficients[1:], 1):
            out = out + ((-1) ** k * a) * call("cos", n * (2.0 * math.pi * k / period))
        return out
    return values


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, device=None,
                requires_grad: bool = False) -> Tensor:
    """The Hann window ``0.5 - 0.5 cos(2 pi n / N)`` (N = ``window_length``, less one unless ``periodic``).

    >>> import neurarust as nr
    >>> nr.hann_window(4).tolist()
    [0.0, 0.5, 1.0, 0.5]
    """
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad, _cosine_sum(0.5, 0.5))


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, *,
                   dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The Hamming window ``alpha - beta cos(2 pi n / N)``.

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.hamming_window(4).tolist()]
    [0.08, 0.54, 1.0, 0.54]
    """
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad, _cosine_sum(alpha, beta))


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, device=None,
                    requires_grad: bool = False) -> Tensor:
    """The Blackman window ``0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N)``.

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.blackman_window(4).tolist()]
    [-0.0, 0.34, 1.0, 0.34]
    """
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   _cosine_sum(0.42, 0.5, 0.08))


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, device=None,
                    requires_grad: bool = False) -> Tensor:
    """The Bartlett (triangular) window ``1 - |2 n / N - 1|``.

    >>> import neurarust as nr
    >>> nr.bartlett_window(5, periodic=False).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, period: 1.0 - call("abs", n * (2.0 / period) - 1.0))


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *, dtype=None, device=None,
                  requires_grad: bool = False) -> Tensor:
    """The Kaiser window ``i0(beta sqrt(1 - ((n - N/2) / (N/2))^2)) / i0(beta)``.

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.kaiser_window(5, periodic=False, beta=5.0).tolist()]
    [0.0367, 0.5529, 1.0, 0.5529, 0.0367]
    """
    def values(n: Tensor, period: int) -> Tensor:
        half = period / 2.0
        inside = call("clamp", 1.0 - call("square", (n - half) / half), 0.0, None)
        return call("i0", call("sqrt", inside) * beta) / call("i0", n[:1] * 0.0 + beta)
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, values)


def mvlgamma(input: Tensor, p: int) -> Tensor:
    """The multivariate log-gamma function of dimension ``p``: ``sum_i lgamma(input - i / 2)``
    (i < p) plus ``p (p - 1) / 4 log(pi)`` (integers give the default float dtype).

    >>> import neurarust as nr
    >>> [round(v, 4) for v in nr.mvlgamma(nr.tensor([2.5, 3.0]), 2).tolist()]
    [0.857, 1.5502]
    """
    if not isinstance(input, Tensor):
        raise SignatureError(f"mvlgamma(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if isinstance(p, bool) or not isinstance(p, int) or p < 1:
        raise ArgumentError(f"p has to be greater than or equal to 1, got {p!r}")
    x = _floating(input)
    shifts = call("arange", p, dtype=x.dtype, device=x.device) * 0.5
    return call("sum", call("lgamma", x.unsqueeze(-1) - shifts), -1) + p * (p - 1) / 4.0 * math.log(math.pi)
