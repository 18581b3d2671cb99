"""Sorting and selection: sort, argsort, topk, kthvalue, median, mode, unique, bincount, histc.

Semantics are PyTorch's (CPU): NaN sorts after every number (first when descending); results with
indices are named tuples with ``.values`` and ``.indices``; ``stable=True`` keeps equal elements in
input order (NeuraRust's sorts are always stable, so ``stable=False`` gives the same answer). Which
index ``topk``/``kthvalue``/``median`` report among equal values is not specified (PyTorch's differs
between devices); NeuraRust reports the stable order's. ``mode`` gives the smallest of the most
frequent values and the index of its last occurrence (PyTorch's CPU mode does so on rows of up to 16
elements; on longer rows its index among equal values varies); rows holding NaN have no specified
mode.

Kernels (``sorting_triton.py``): the sort-like ops rank every element of a row against the whole
row when it holds up to ``RANK_CONFIG["RUN"]`` elements (one pass, quadratic in the row length), and
merge-sort longer rows (ranked runs, then log2(N / RUN) merge passes); ``unique`` sorts, then one
program numbers the runs of equal values; ``bincount`` and ``histc`` count with atomics, and
``bincount`` has an ordered path for :func:`neurarust.use_deterministic_algorithms`. ``unique``,
``bincount`` and ``histc`` read one or two numbers back to the host (the size of their result, the
data range), as PyTorch does.

    >>> import neurarust as nr
    >>> x = nr.tensor([3.0, 1.0, 2.0, 1.0])
    >>> x.sort().indices.tolist(), x.topk(2).values.tolist(), nr.unique(x).tolist()
    ([1, 3, 2, 0], [3.0, 2.0], [1.0, 2.0, 3.0])
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from neurarust import backends, creation
from neurarust import dtype as _dt
from neurarust.errors import ArgumentError, DTypeError, IndexOutOfRangeError, ShapeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, call, register
from neurarust.shape import normalize_dim
from neurarust.tensor import Tensor

from . import samples as S

TRITON = "neurarust.kernels.sorting_triton"
# Rows up to RUN elements are ranked in one pass; longer ones are sorted as RUN-element runs (a
# power of two, a multiple of BLOCK_I) merged in BLOCK_MERGE-element programs.
RANK_CONFIG = {"BLOCK_I": 64, "BLOCK_J": 64, "RUN": 256, "BLOCK_MERGE": 512, "num_warps": 4}
MODE_CONFIG = {"BLOCK_I": 32, "BLOCK_J": 64, "num_warps": 4}
UNIQUE_CONFIG = {"BLOCK": 1024, "num_warps": 4}
BINCOUNT_CONFIG = {"BLOCK": 1024, "BLOCK_B": 16, "BLOCK_N": 256, "num_warps": 4}
HISTC_CONFIG = {"BLOCK": 1024, "num_warps": 4}


def _return_type(name: str):
    t = namedtuple(name, ("values", "indices"))
    t.__module__ = __name__
    return t


# The named tuples of torch.return_types: ``r.values``, ``r.indices``, or ``values, indices = r``.
RETURN_TYPES = {name: _return_type(name) for name in ("sort", "topk", "kthvalue", "median", "mode")}


# ----------------------------------------------------------------------------------------------
# Shared front-end pieces
# ----------------------------------------------------------------------------------------------

def _check(op: Op, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise SignatureError(f"{op.name}(): argument 'input' must be a Tensor, not {type(x).__name__}")
    if x.dtype not in op.dtypes:
        raise DTypeError(f"{op.name}() does not support {x.dtype.name} input; "
                         f"supported: {', '.join(d.name for d in op.dtypes)}")
    return x


def _reference(x: Tensor) -> bool:
    return backends.for_device(x._storage.device) == "reference"


def _owned(a: np.ndarray) -> Tensor:
    a = np.ascontiguousarray(a)
    return Tensor._wrap(a if a.base is None else a.copy(), _dt.as_dtype(a.dtype))


def _dispatch(op: Op, x: Tensor, *params):
    """Run the op's NumPy reference or its Triton launcher on ``x``: both return tensors' worth of
    results in the same layout (the reference's arrays are wrapped here)."""
    if _reference(x):
        return tuple(_owned(r) for r in backends.run_reference(op.reference, x._np(), *params))
    return op.launcher()(x, *params)


def _rows(x: Tensor) -> Tensor:
    """0-d tensors act as one-element rows (their results are 0-d again)."""
    return x.reshape(1) if x.ndim == 0 else x


def _reduced(x: Tensor, dim: int, keepdim: bool, outs):
    """Drop the selected dim (of size 1) unless ``keepdim``; 0-d inputs give 0-d results."""
    if x.ndim == 0:
        return tuple(t.reshape(()) for t in outs)
    return outs if keepdim else tuple(t.squeeze(dim) for t in outs)


def _nonempty_dim(op: Op, x: Tensor, dim: int) -> int:
    n = _rows(x).shape[dim]
    if n == 0:
        raise IndexOutOfRangeError(f"{op.name}(): expected reduction dim {dim} to have non-zero size, got input "
                                   f"of shape {list(x.shape)}")
    return n


# ----------------------------------------------------------------------------------------------
# Front ends
# ----------------------------------------------------------------------------------------------

def sort(op: Op, input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False):
    """(values, indices) of ``input`` sorted along ``dim``; always stable. NaN sorts last (first when
    descending)."""
    x = _check(op, input)
    d = normalize_dim(dim, x.ndim)
    rows = _rows(x)
    values, indices = _dispatch(op, rows, d, bool(descending), 0, rows.shape[d], False)
    return RETURN_TYPES["sort"](*_reduced(x, d, True, (values, indices)))


def argsort(op: Op, input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """int64 indices that sort ``input`` along ``dim`` (stable: equal elements keep input order)."""
    return sort(op, input, dim, descending, stable=stable).indices


def topk(op: Op, input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """(values, indices) of the ``k`` largest (smallest) elements along ``dim``, largest first
    (smallest first); NaN counts as the largest. Results are always sorted."""
    x = _check(op, input)
    d = normalize_dim(dim, x.ndim)
    rows = _rows(x)
    k = int(k)
    if not 0 <= k <= rows.shape[d]:
        raise IndexOutOfRangeError(f"topk(): selected index k={k} out of range for dim {d} of size "
                                   f"{rows.shape[d]} (input of shape {list(x.shape)})")
    values, indices = _dispatch(op, rows, d, bool(largest), 0, k, False)
    return RETURN_TYPES["topk"](*_reduced(x, d, True, (values, indices)))


def kthvalue(op: Op, input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """(values, indices) of the ``k``-th smallest element (1-based) along ``dim``."""
    x = _check(op, input)
    d = normalize_dim(dim, x.ndim)
    n = _nonempty_dim(op, x, d)
    k = int(k)
    if not 1 <= k <= n:
        raise IndexOutOfRangeError(f"kthvalue(): selected number k={k} out of range for dim {d} of size {n}")
    outs = _dispatch(op, _rows(x), d, False, k - 1, k, False)
    return RETURN_TYPES["kthvalue"](*_reduced(x, d, keepdim, outs))


def median(op: Op, input: Tensor, dim: int | None = None, keepdim: bool = False):
    """Lower median: of every element (a 0-d tensor) or, with ``dim``, (values, indices) along it.
    A NaN makes the median NaN (the first NaN's index)."""
    x = _check(op, input)
    if dim is None:
        flat = x.reshape(-1)
        n = flat.shape[0]
        if n == 0:
            if not x.dtype.is_floating_point:
                raise IndexOutOfRangeError(f"median() of an empty {x.dtype.name} tensor has no value")
            return creation.full((), math.nan, dtype=x.dtype, device=x.device)
        values, _ = _dispatch(op, flat, 0, False, (n - 1) // 2, (n - 1) // 2 + 1, True)
        return values.reshape(())
    d = normalize_dim(dim, x.ndim)
    n = _nonempty_dim(op, x, d)
    outs = _dispatch(op, _rows(x), d, False, (n - 1) // 2, (n - 1) // 2 + 1, True)
    return RETURN_TYPES["median"](*_reduced(x, d, keepdim, outs))


def mode(op: Op, input: Tensor, dim: int = -1, keepdim: bool = False):
    """(values, indices) of the most frequent value along ``dim``: the smallest such value, and the
    index of its last occurrence (as PyTorch on the CPU)."""
    x = _check(op, input)
    d = normalize_dim(dim, x.ndim)
    _nonempty_dim(op, x, d)
    outs = _dispatch(op, _rows(x), d)
    return RETURN_TYPES["mode"](*_reduced(x, d, keepdim, outs))


def unique(op: Op, input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim: int | None = None):
    """The distinct elements of ``input``, sorted (each NaN is distinct); with ``return_inverse`` the
    int64 index of every input element in them (input's shape), with ``return_counts`` how often each
    occurs. The result is sorted whatever ``sorted`` says. With ``dim``, the distinct slices along
    ``dim`` in lexicographic order (see :func:`unique_slices`): the inverse and the counts then have
    one entry per input slice and per distinct slice."""
    x = _check(op, input)
    if dim is not None:
        values, inverse, counts = unique_slices("unique", x, dim)
        extra = ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
        return (values,) + extra if extra else values
    if x.numel() == 0:
        values = Tensor._empty((0,), x.dtype, x.device)
        inverse = Tensor._empty(x.shape, _dt.int64, x.device)
        counts = Tensor._empty((0,), _dt.int64, x.device)
    else:
        values, inverse, counts = _dispatch(op, x)
        inverse = inverse.reshape(x.shape)
    extra = ((inverse,) if return_inverse else ()) + ((counts,) if return_counts else ())
    return (values,) + extra if extra else values


# ----------------------------------------------------------------------------------------------
# unique(dim=) and unique_consecutive(dim=): distinct slices, as compositions of registry ops
# ----------------------------------------------------------------------------------------------

def unique_slices(name: str, input: Tensor, dim: int, consecutive: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """``(values, inverse, counts)`` of the slices of ``input`` along ``dim`` (``input.select(dim, i)``),
    as ``torch.unique(..., dim=)`` (``consecutive``: ``torch.unique_consecutive(..., dim=)``) gives them.

    Slices are equal when every element is (``==``: ``-0.0`` equals ``0.0``, a NaN equals nothing, so
    a slice holding one is distinct from every other). ``values`` holds one slice per group along
    ``dim`` (the first of each run, or each distinct slice in lexicographic order of its elements
    read in row-major order); ``inverse`` (int64, one per input slice) numbers each slice's group;
    ``counts`` (int64) sizes each group. Every step is a registry op, so any backend runs it: the
    slices become the rows of an ``(n, m)`` matrix; runs start where a row differs from the one before
    (``ne``, ``any``), and groups are numbered by ``cumsum``; unsorted rows are first ranked in
    lexicographic order by :func:`_lexicographic_ranks`.

        >>> import neurarust as nr
        >>> from neurarust.kernels.sorting import unique_slices
        >>> x = nr.tensor([[1, 2], [0, 5], [1, 2]])
        >>> [t.tolist() for t in unique_slices("unique", x, 0)]
        [[[0, 5], [1, 2]], [1, 0, 1], [1, 2]]
    """
    d = normalize_dim(dim, input.ndim, scalar_ok=False)
    n = input.shape[d]
    zero_dims = sum(1 for size in input.shape if size == 0)
    if n == 0:
        if zero_dims > 1:
            raise ShapeError(f"{name}(): Number of zero sized dimensions is more than one, so unique cannot be "
                             f"applied (input of shape {list(input.shape)})")
        empty = creation.zeros(0, dtype=_dt.int64, device=input.device)
        return call("clone", input), empty, call("clone", empty)
    if zero_dims:
        raise ShapeError(f"{name}(): There are 0 sized dimensions, and they aren't selected, so unique cannot be "
                         f"applied (input of shape {list(input.shape)}, dim={dim})")
    rows = input.permute(d, *(i for i in range(input.ndim) if i != d)).reshape(n, -1)  # slices read row-major
    if consecutive:
        order, inverse = None, None
        differs = call("any", call("ne", rows[1:], rows[:-1]), 1)                    # row i + 1 vs row i
    else:
        inverse = _lexicographic_ranks(rows)                                             # the group of each row
        ranks, order = call("sort", inverse, 0, stable=True)
        differs = call("ne", ranks[1:], ranks[:-1])
    starts = call("cat", [creation.ones(1, dtype=_dt.bool_, device=input.device), differs], 0)
    if inverse is None:
        inverse = call("cumsum", starts, 0) - 1
    at = call("nonzero", starts).reshape(-1)                                             # where each group starts
    first = at if order is None else call("gather", order, 0, at)                        # ... as an input slice
    counts = call("cat", [at[1:], creation.full((1,), n, dtype=_dt.int64, device=input.device)], 0) - at
    return call("index_select", input, d, first), inverse, counts


def _lexicographic_ranks(rows: Tensor) -> Tensor:
    """For each row of the ``(n, m)`` matrix ``rows``, the number of distinct rows before it in
    lexicographic order (int64, ``(n,)``): equal rows share a rank, ranks run ``0 .. groups - 1``.

    Prefix doubling, in ``1 + ceil(log2(m))`` rounds of a few registry ops each (rather than ``m``
    sorts, one per column): every column is replaced by its elements' ranks among that column's
    values (``_column_ranks``; each below ``n``); then adjacent columns are paired into one key,
    ``rank_a * n + rank_b`` (below ``n**2``, so int64 holds it), which orders the pairs as the two
    columns do lexicographically, and ranked again; until one column is left.
    """
    n = rows.shape[0]
    ranks = _column_ranks(rows)
    while ranks.shape[1] > 1:
        if ranks.shape[1] % 2:
            ranks = call("cat", [ranks, creation.zeros(n, 1, dtype=_dt.int64, device=rows.device)], 1)
        pairs = ranks.reshape(n, -1, 2)
        ranks = _column_ranks(pairs[:, :, 0] * n + pairs[:, :, 1])
    return ranks.reshape(-1)


def _column_ranks(keys: Tensor) -> Tensor:
    """Dense ranks of the elements of each column of ``keys`` among that column's values: ``ne``
    between sorted neighbours marks each new value (every NaN is one), ``cumsum`` numbers them, and
    ``scatter`` puts the numbers back where the elements were."""
    values, order = call("sort", keys, 0, stable=True)
    new = call("ne", values[1:], values[:-1])
    first = creation.zeros(1, keys.shape[1], dtype=_dt.bool_, device=keys.device)
    numbered = call("cumsum", call("cat", [first, new], 0), 0)
    return call("scatter", creation.zeros(*keys.shape, dtype=_dt.int64, device=keys.device), 0, order, numbered)


def _bincount_dtype(x: Tensor, weights: Tensor | None):
    if weights is None or x.numel() == 0:  # PyTorch counts an empty input in int64, weights or not
        return _dt.int64
    return _dt.float32 if weights.dtype is _dt.float32 else _dt.float64


def _check_bincount(op: Op, x, weights, minlength) -> None:
    _check(op, x)
    if x.ndim != 1:
        raise ShapeError(f"bincount(): only supports 1-d non-negative integral inputs, got shape {list(x.shape)}")
    if weights is not None:
        if not isinstance(weights, Tensor):
            raise SignatureError(f"bincount(): weights must be a Tensor, not {type(weights).__name__}")
        if weights.shape != x.shape:
            raise ShapeError(f"bincount(): weights should be 1-d and have the same length as input, got weights "
                             f"of shape {list(weights.shape)} and input of shape {list(x.shape)}")
        if weights.device != x.device:
            raise ArgumentError(f"bincount(): weights on {weights.device} but input on {x.device}")
    if int(minlength) < 0:
        raise ArgumentError(f"bincount(): minlength should be >= 0, got {minlength}")


def bincount(op: Op, input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """How often each value ``0 .. max(input)`` occurs in a 1-d non-negative integer tensor (at least
    ``minlength`` bins); with ``weights``, the sum of their weights (float32 for float32 weights,
    else float64). Deterministic mode sums in a fixed order."""
    _check_bincount(op, input, weights, minlength)
    out_dtype = _bincount_dtype(input, weights)
    if input.numel() == 0:
        return creation.zeros(int(minlength), dtype=out_dtype, device=input.device)
    if _reference(input):
        w = None if weights is None else weights._np()
        return _owned(backends.run_reference(op.reference, input._np(), w, int(minlength)).astype(out_dtype.np))
    low, high = call("amin", input).item(), call("amax", input).item()  # host reads: PyTorch does them too
    if low < 0:
        raise ArgumentError(f"bincount(): only supports 1-d non-negative integral inputs, got a value {low}")
    from neurarust import determinism

    out = creation.zeros(max(int(high) + 1, int(minlength)), dtype=out_dtype, device=input.device)
    w = None if weights is None else weights.contiguous()
    op.launcher()(input.contiguous(), w, out, determinism.are_deterministic_algorithms_enabled())
    return out


def _histc_range(x: Tensor, min: float, max: float) -> tuple[float, float]:
    lo, hi = float(min), float(max)
    if lo > hi:
        raise ArgumentError(f"histc(): max must be larger than min, got min={min} and max={max}")
    if lo == hi and x.numel() > 0:
        if _reference(x):
            a = x._np()
            lo, hi = float(a.min()), float(a.max())
        else:
            lo, hi = call("amin", x).item(), call("amax", x).item()
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ArgumentError(f"histc(): range of [{lo}, {hi}] is not finite")
    return lo, hi


def histc(op: Op, input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Histogram of ``input`` in ``bins`` equal bins over ``[min, max]`` (both 0: the data's range);
    values outside it and NaN are ignored, ``max`` itself falls in the last bin."""
    x = _check(op, input)
    if int(bins) <= 0:
        raise ArgumentError(f"histc(): bins must be > 0, got {bins}")
    lo, hi = _histc_range(x, min, max)
    if _reference(x):
        return _owned(backends.run_reference(op.reference, x._np(), int(bins), lo, hi).astype(x.dtype.np))
    acc = _dt.float64 if x.dtype is _dt.float64 else _dt.float32
    out = creation.zeros(int(bins), dtype=acc, device=x.device)
    if x.numel():
        bounds = creation.tensor([lo, hi], dtype=acc, device=x.device)
        op.launcher()(x.contiguous(), out, bounds)
    return out if acc is x.dtype else call("cast", out, x.dtype)


# ----------------------------------------------------------------------------------------------
# NumPy references
# ----------------------------------------------------------------------------------------------

def _sort_key(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32) if a.dtype in (np.float16, _dt.bfloat16.np) else a


def _stable_order(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable argsort along ``axis``; NaN last (first when descending), ties in input order."""
    key = _sort_key(a)
    if not descending:
        return np.argsort(key, axis=axis, kind="stable")
    # Sorting the reversed row keeps later ties first; reading the result backwards restores them.
    n = key.shape[axis]
    rev = np.argsort(np.flip(key, axis), axis=axis, kind="stable")
    return np.flip(n - 1 - rev, axis)


def _ref_select(a: np.ndarray, axis: int, descending: bool, lo: int, hi: int, median: bool):
    order = _stable_order(a, axis, descending)
    if median:
        # A row holding NaN has its first NaN as median: NaNs sort last, the first right after the numbers.
        key = _sort_key(a)
        nans = np.isnan(key).sum(axis=axis, keepdims=True) if key.dtype.kind == "f" else 0
        rank = np.where(nans > 0, a.shape[axis] - nans, lo) + np.zeros(np.take(order, [0], axis).shape, np.int64)
        order = np.take_along_axis(order, rank, axis)
    else:
        order = np.take(order, np.arange(lo, hi), axis=axis)
    return np.take_along_axis(a, order, axis), order.astype(np.int64)


def _ref_mode(a: np.ndarray, axis: int):
    moved = np.moveaxis(a, axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    values = np.empty(rows.shape[0], a.dtype)
    indices = np.empty(rows.shape[0], np.int64)
    for r, row in enumerate(rows):
        distinct, counts = np.unique(_sort_key(row), return_counts=True)
        best = distinct[np.argmax(counts)]  # the first of the most frequent: the smallest
        key = _sort_key(row)
        # np.unique folds the NaNs into one value, which ``==`` never finds again.
        where = np.flatnonzero((key == best) | ((key != key) & (best != best)))[-1]
        values[r], indices[r] = row[where], where
    shape = moved.shape[:-1] + (1,)
    return (np.moveaxis(values.reshape(shape), -1, axis), np.moveaxis(indices.reshape(shape), -1, axis))


def _ref_unique(a: np.ndarray):
    flat = a.reshape(-1)
    order = _stable_order(flat, 0, False)
    s = flat[order]
    key = _sort_key(s)
    new = np.concatenate([[True], key[1:] != key[:-1]])  # NaN != NaN: each NaN its own value
    ids = np.cumsum(new) - 1
    inverse = np.empty(flat.shape, np.int64)
    inverse[order] = ids
    counts = np.diff(np.append(np.flatnonzero(new), flat.size)).astype(np.int64)
    return s[new], inverse, counts


def _ref_bincount(a: np.ndarray, weights, minlength: int) -> np.ndarray:
    if a.min() < 0:
        raise ArgumentError(f"bincount(): only supports 1-d non-negative integral inputs, got a value {a.min()}")
    w = None if weights is None else weights.astype(np.float64)
    return np.bincount(a.astype(np.int64), weights=w, minlength=minlength)


def _ref_histc(a: np.ndarray, bins: int, lo: float, hi: float) -> np.ndarray:
    x = a.astype(np.float64).reshape(-1)
    x = x[(x >= lo) & (x <= hi)]
    pos = np.clip(np.floor((x - lo) * bins / (hi - lo)).astype(np.int64), 0, bins - 1)
    return np.bincount(pos, minlength=bins).astype(np.float64)


# ----------------------------------------------------------------------------------------------
# Backward formulas: the selected elements' gradients go back to where they came from
# ----------------------------------------------------------------------------------------------

def _scatter_back(grad, input, dim, indices, keepdim=True):
    import neurarust as nr

    if grad is None:
        return None
    if input.ndim == 0:
        return grad.reshape(())
    if not keepdim:
        grad, indices = grad.unsqueeze(dim), indices.unsqueeze(dim)
    return nr.zeros_like(input).scatter(dim, indices, grad)


def _sort_backward(grad, input, dim, result):
    return (_scatter_back(grad[0], input, dim, result[1]),)


def _kth_backward(grad, input, dim, keepdim, result):
    return (_scatter_back(grad[0], input, dim, result[1], keepdim),)


def _median_backward(grad, input, dim, keepdim, result):
    if dim is not None:
        return _kth_backward(grad, input, dim, keepdim, result)
    # PyTorch's median(): the gradient is shared evenly by every element equal to the median.
    hit = (input == result) | (input.isnan() & result.isnan())
    return (hit.to(grad.dtype) * (grad / hit.sum()),)


# ----------------------------------------------------------------------------------------------
# Samples and errors
# ----------------------------------------------------------------------------------------------

def _distinct(d, shape, seed=0) -> np.ndarray:
    """Distinct values exact in every dtype (topk/kthvalue/median report indices among ties freely)."""
    n = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(n) - n // 2).reshape(shape).astype(np.float64)


def _few(d, shape, seed=0, high=4) -> np.ndarray:
    """Many ties: values drawn from 0 .. high-1."""
    if d is _dt.bool_:
        return np.random.default_rng(seed).integers(0, 2, shape).astype(bool)
    return np.random.default_rng(seed).integers(0, high, shape).astype(np.float64)


def _sort_samples(d):
    v = lambda shape, seed=0: S.values(d, shape, seed)  # noqa: E731
    yield Sample((v((3, 37)),), {"stable": True}, name="rows_ties")
    yield Sample((S.TensorSpec(_few(d, (6, 5), 1), "transposed"),), {"dim": 0, "descending": True, "stable": True},
                 name="transposed_dim0_descending")
    yield Sample((S.TensorSpec(v((2, 3, 9), 2), "strided"),), {"dim": -2, "stable": True}, name="strided_negative_dim")
    yield Sample((_few(d, (1, 150), 3),), {"stable": True, "descending": True}, name="many_equal_keys_long_row")
    yield Sample((np.array(v((1,), 4)[0]),), {"stable": True}, name="0d")
    yield Sample((v((2, 0), 5),), {"dim": 1, "stable": True}, name="empty_dim")
    if d is not _dt.bool_:
        yield Sample((_distinct(d, (4, 9), 6), 1, True), name="distinct_unstable")
    if d.is_floating_point:
        yield Sample((np.tile(S.SPECIALS, (2, 2)),), {"stable": True}, name="specials")
        yield Sample((np.tile(S.SPECIALS, (2, 2)),), {"stable": True, "descending": True}, name="specials_descending")


def _specials_distinct():
    return np.array([[np.nan, np.inf, -np.inf, 0.5, 1.5, -2.5, 1.0, -1.0]])


def _topk_samples(d):
    yield Sample((_distinct(d, (3, 20)), 5), name="rows")
    yield Sample((S.TensorSpec(_distinct(d, (6, 5), 1), "transposed"), 2, 0, False), name="transposed_smallest")
    yield Sample((S.TensorSpec(_distinct(d, (3, 4, 6), 2), "strided"), 3), {"dim": 1}, name="strided")
    yield Sample((_distinct(d, (2, 7), 3), 0), name="k0")
    yield Sample((np.array(3.0), 1), name="0d")
    yield Sample((np.zeros((0, 4)), 2), name="no_rows")
    if d.is_floating_point:
        yield Sample((_specials_distinct(), 3), name="nan_largest")
        yield Sample((_specials_distinct(), 3), {"largest": False}, name="nan_smallest")


def _kthvalue_samples(d):
    yield Sample((_distinct(d, (3, 20)), 7), name="rows")
    yield Sample((S.TensorSpec(_distinct(d, (6, 5), 1), "transposed"), 2, 0, True), name="transposed_keepdim")
    yield Sample((S.TensorSpec(_distinct(d, (3, 4, 6), 2), "strided"), 4), {"dim": -2}, name="strided")
    yield Sample((np.array(3.0), 1), name="0d")
    if d.is_floating_point:
        yield Sample((_specials_distinct(), 8), name="nan_is_largest")


def _median_samples(d):
    yield Sample((_distinct(d, (4, 5)),), name="all_odd")
    yield Sample((_distinct(d, (2, 3), 1),), name="all_even")
    yield Sample((_distinct(d, (3, 6), 2), 1), name="dim_even")
    yield Sample((S.TensorSpec(_distinct(d, (5, 3), 3), "transposed"), 0, True), name="transposed_keepdim")
    yield Sample((np.array(3.0), 0), name="0d_dim")
    yield Sample((np.zeros((0, 3)), 1), name="no_rows")
    if d.is_floating_point:
        rows = np.array([[1.0, np.nan, 2.0, np.nan, 0.0], [3.0, 1.0, 2.0, 0.0, 4.0]])
        yield Sample((rows, 1), name="nan_rows")
        yield Sample((rows,), name="nan_all")
        yield Sample((np.zeros(0),), name="empty_all")


def _mode_samples(d):
    # PyTorch's CPU mode reports the last occurrence on rows of up to 16 elements; on longer rows its
    # index among equal values varies, so the long rows hold distinct values.
    yield Sample((_few(d, (3, 16)),), name="rows")
    yield Sample((S.TensorSpec(_few(d, (7, 4), 1), "transposed"), 0, True), name="transposed_keepdim")
    yield Sample((S.TensorSpec(_few(d, (2, 3, 5), 2, high=3), "strided"), -2), name="strided")
    if d is not _dt.bool_:
        yield Sample((_distinct(d, (2, 100), 3),), name="long_rows_distinct")
    yield Sample((np.array(_few(d, (1,), 4)[0]),), name="0d")
    yield Sample((_few(d, (0, 3), 5), 1), name="no_rows")


def _unique_samples(d):
    yield Sample((_few(d, (4, 6)),), name="values")
    yield Sample((S.TensorSpec(_few(d, (3, 5), 1), "transposed"),), {"return_inverse": True, "return_counts": True},
                 name="transposed_inverse_counts")
    yield Sample((np.array(_few(d, (1,), 2)[0]),), {"return_inverse": True, "return_counts": True}, name="0d")
    yield Sample((_few(d, (0, 3), 3),), {"return_inverse": True, "return_counts": True}, name="empty")
    if d.is_floating_point:
        # One NaN and no -0.0: PyTorch numbers several NaNs, and picks -0.0 or 0.0, in no fixed order.
        specials = np.concatenate([S.SPECIALS, S.SPECIALS[1:]])
        specials = specials[~((specials == 0) & np.signbit(specials))]
        yield Sample((specials,), {"return_inverse": True, "return_counts": True}, name="specials")
    # Slices along dim: repeated rows (few levels, 2 or 3 of them per slice), in every layout.
    both = {"return_inverse": True, "return_counts": True}
    rows = _few(d, (7, 3), 6, high=2)
    yield Sample((np.concatenate([rows, rows[::2]]),), {**both, "dim": 0}, name="dim0_repeats")
    yield Sample((S.TensorSpec(np.concatenate([rows, rows[1::3]]), "transposed"),), {**both, "dim": 1},
                 name="dim1_transposed")
    cube = _few(d, (2, 5, 2), 7, high=2)
    yield Sample((np.concatenate([cube, cube[:, ::2]], 1),), {**both, "dim": -2}, name="dim_middle_3d")
    yield Sample((S.TensorSpec(_few(d, (6, 4), 8, high=2), "strided"),), {**both, "dim": 0}, name="dim0_strided")
    yield Sample((_few(d, (9,), 9),), {**both, "dim": 0}, name="dim0_1d")
    yield Sample((_few(d, (0, 3), 10),), {**both, "dim": 0}, name="dim_empty")


def _bincount_samples(d):
    rng = np.random.default_rng(0)
    yield Sample((rng.integers(0, 9, 30),), name="counts")
    yield Sample((rng.integers(0, 5, 12),), {"minlength": 8}, name="minlength")
    yield Sample((S.TensorSpec(rng.integers(0, 6, 10)),), name="strided")
    yield Sample((rng.integers(0, 7, 20), rng.integers(0, 5, 20)), name="int_weights")
    yield Sample((np.zeros(0, np.int64),), {"minlength": 3}, name="empty")


def _histc_values(shape, seed):
    """Values on a grid of odd multiples of 1/64: never on an edge of the bins the samples use."""
    rng = np.random.default_rng(seed)
    return (2 * rng.integers(-200, 200, shape) + 1) / 64.0


def _histc_samples(d):
    yield Sample((_histc_values((40,), 0),), {"bins": 8, "min": -4, "max": 4}, name="range")
    yield Sample((S.TensorSpec(_histc_values((3, 5), 1), "transposed"), 6, -3, 3), name="transposed_out_of_range")
    data = np.concatenate([[-4.0, 4.0], _histc_values((20,), 2) / 2])
    yield Sample((data,), {"bins": 8}, name="data_range")
    yield Sample((np.array([1.0, np.nan, 2.0, 3.0, np.inf]),), {"bins": 4, "min": 0, "max": 3}, name="nan_inf_max")
    yield Sample((np.zeros(0),), {"bins": 4}, name="empty")


def _dim_errors():
    yield ErrorInput(Sample((np.ones((2, 3)), 2)), IndexError, "out of range")


def _topk_errors():
    yield ErrorInput(Sample((np.ones((2, 3)), 4)), IndexError, "k=4 out of range")
    yield ErrorInput(Sample((np.array([True, False]), 1)), TypeError, "bool")


def _kthvalue_errors():
    yield ErrorInput(Sample((np.ones((2, 3)), 0)), IndexError, "k=0 out of range")
    yield ErrorInput(Sample((np.ones((2, 0)), 1)), IndexError, "non-zero size")


def _median_errors():
    yield ErrorInput(Sample((np.ones((2, 0)), 1)), IndexError, "non-zero size")
    yield ErrorInput(Sample((np.zeros(0, np.int64),)), IndexError, "empty int64")


def _mode_errors():
    yield ErrorInput(Sample((np.ones(0),)), IndexError, "non-zero size")


def _unique_errors():
    yield ErrorInput(Sample((np.ones(3),), {"dim": 1}), IndexError, "out of range")
    yield ErrorInput(Sample((np.ones((2, 3)),), {"dim": -3}), IndexError, "out of range")
    yield ErrorInput(Sample((np.array(1.0),), {"dim": 0}), IndexError, "0-d")
    yield ErrorInput(Sample((np.ones((0, 3)),), {"dim": 1}), ValueError, "0 sized dimensions")
    yield ErrorInput(Sample((np.ones((0, 0)),), {"dim": 0}), ValueError, "more than one")


def _bincount_errors():
    yield ErrorInput(Sample((np.ones((2, 2), np.int64),)), ValueError, "1-d")
    yield ErrorInput(Sample((np.array([1, -1, 2]),)), ValueError, "non-negative")
    yield ErrorInput(Sample((np.ones(3),)), TypeError, "float32")
    yield ErrorInput(Sample((np.array([1, 2]), np.ones(3))), ValueError, "same length")
    yield ErrorInput(Sample((np.array([1, 2]),), {"minlength": -1}), ValueError, "minlength")


def _histc_errors():
    yield ErrorInput(Sample((np.ones(3),), {"bins": 0}), ValueError, "bins must be > 0")
    yield ErrorInput(Sample((np.ones(3), 4, 3, 1)), ValueError, "max must be larger than min")
    yield ErrorInput(Sample((np.array([1.0, np.inf]),)), ValueError, "not finite")
    yield ErrorInput(Sample((np.arange(3),)), TypeError, "int64")


# ----------------------------------------------------------------------------------------------
# Entries
# ----------------------------------------------------------------------------------------------

def _doc(signature: str, summary: str, example: str) -> str:
    return f"{signature}\n\n{summary}\n\n    >>> import neurarust as nr\n{example}\n"


def sorting_op(name: str, *, frontend, reference, launcher: str, dtypes, samples, errors, doc: str,
               backward=None, differentiable=(), torch_name=None) -> Op:
    return register(Op(
        name=name, kind="sorting", frontend=frontend, reference=reference, triton=f"{TRITON}:{launcher}",
        dtypes=tuple(dtypes), samples=samples, error_inputs=errors, torch_name=torch_name or name, doc=doc,
        backward=backward, differentiable=differentiable,
    ))


_X = "    >>> x = nr.tensor([[3.0, 1.0, 2.0, 1.0], [0.0, 5.0, 5.0, 4.0]])\n"

sorting_op("sort", frontend=sort, reference=_ref_select, launcher="select", dtypes=_dt.ALL_DTYPES,
           samples=_sort_samples, errors=_dim_errors, backward=_sort_backward, differentiable=("input",),
           doc=_doc("sort(input, dim=-1, descending=False, *, stable=False) -> (values, indices)", sort.__doc__,
                    _X + "    >>> r = x.sort(dim=1, descending=True)\n"
                         "    >>> r.values.tolist(), r.indices.tolist()\n"
                         "    ([[3.0, 2.0, 1.0, 1.0], [5.0, 5.0, 4.0, 0.0]], [[0, 2, 1, 3], [1, 2, 3, 0]])"))
sorting_op("argsort", frontend=argsort, reference=_ref_select, launcher="select", dtypes=_dt.ALL_DTYPES,
           samples=_sort_samples, errors=_dim_errors,
           doc=_doc("argsort(input, dim=-1, descending=False, *, stable=False) -> Tensor", argsort.__doc__,
                    "    >>> nr.argsort(nr.tensor([2, 1, 2, 0]), stable=True).tolist()\n    [3, 1, 0, 2]"))
sorting_op("topk", frontend=topk, reference=_ref_select, launcher="select", dtypes=_dt.NUMERIC_DTYPES,
           samples=_topk_samples, errors=_topk_errors, backward=_sort_backward, differentiable=("input",),
           doc=_doc("topk(input, k, dim=-1, largest=True, sorted=True) -> (values, indices)", topk.__doc__,
                    _X + "    >>> values, indices = x.topk(2)\n    >>> values.tolist(), indices.tolist()\n"
                         "    ([[3.0, 2.0], [5.0, 5.0]], [[0, 2], [1, 2]])"))
sorting_op("kthvalue", frontend=kthvalue, reference=_ref_select, launcher="select", dtypes=_dt.NUMERIC_DTYPES,
           samples=_kthvalue_samples, errors=_kthvalue_errors, backward=_kth_backward, differentiable=("input",),
           doc=_doc("kthvalue(input, k, dim=-1, keepdim=False) -> (values, indices)", kthvalue.__doc__,
                    _X + "    >>> x.kthvalue(3).values.tolist(), x.kthvalue(1, dim=0).indices.tolist()\n"
                         "    ([2.0, 5.0], [1, 0, 0, 0])"))
sorting_op("median", frontend=median, reference=_ref_select, launcher="select", dtypes=_dt.NUMERIC_DTYPES,
           samples=_median_samples, errors=_median_errors, backward=_median_backward, differentiable=("input",),
           doc=_doc("median(input, dim=None, keepdim=False) -> Tensor or (values, indices)", median.__doc__,
                    _X + "    >>> x.median().item(), x.median(1).values.tolist()\n    (2.0, [1.0, 4.0])"))
sorting_op("mode", frontend=mode, reference=_ref_mode, launcher="mode", dtypes=_dt.ALL_DTYPES,
           samples=_mode_samples, errors=_mode_errors, backward=_kth_backward, differentiable=("input",),
           doc=_doc("mode(input, dim=-1, keepdim=False) -> (values, indices)", mode.__doc__,
                    _X + "    >>> r = x.mode(1)\n    >>> r.values.tolist(), r.indices.tolist()\n"
                         "    ([1.0, 5.0], [3, 2])"))
sorting_op("unique", frontend=unique, reference=_ref_unique, launcher="unique", dtypes=_dt.ALL_DTYPES,
           samples=_unique_samples, errors=_unique_errors,
           doc=_doc("unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None)",
                    unique.__doc__,
                    "    >>> values, inverse, counts = nr.unique(nr.tensor([2, 0, 2, 1]), return_inverse=True,\n"
                    "    ...                                     return_counts=True)\n"
                    "    >>> values.tolist(), inverse.tolist(), counts.tolist()\n"
                    "    ([0, 1, 2], [2, 0, 2, 1], [1, 1, 2])"))
sorting_op("bincount", frontend=bincount, reference=_ref_bincount, launcher="bincount", dtypes=_dt.INT_DTYPES,
           samples=_bincount_samples, errors=_bincount_errors, differentiable=(),
           doc=_doc("bincount(input, weights=None, minlength=0) -> Tensor", bincount.__doc__,
                    "    >>> x = nr.tensor([1, 3, 1])\n"
                    "    >>> x.bincount().tolist(), x.bincount(nr.tensor([0.5, 1.0, 2.0]), minlength=5).tolist()\n"
                    "    ([0, 2, 0, 1], [0.0, 2.5, 0.0, 1.0, 0.0])"))
sorting_op("histc", frontend=histc, reference=_ref_histc, launcher="histc", dtypes=_dt.FLOAT_DTYPES,
           samples=_histc_samples, errors=_histc_errors,
           doc=_doc("histc(input, bins=100, min=0, max=0) -> Tensor", histc.__doc__,
                    "    >>> nr.histc(nr.tensor([1.0, 2.0, 1.0, 9.0]), bins=4, min=0, max=4).tolist()\n"
                    "    [0.0, 2.0, 1.0, 0.0]"))
