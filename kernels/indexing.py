"""Indexing ops: gather, scatter, scatter_add, scatter_reduce, index_select, index_add, index_copy,
index_fill, take, masked_select, nonzero, index_put; and advanced indexing (``x[idx]``,
``x[mask] = v``) for ``Tensor.__getitem__``/``__setitem__``.

Every op is one registry entry with a NumPy reference; on the Triton backend they all run the two
kernels of ``indexing_triton.py`` (a gather/scatter kernel and a stream compaction). Advanced
``x[key]`` and ``x[key] = v`` are the internal ops ``index`` and ``index_assign``, so autograd
records them like any op. Indices are
checked on the host before any launch (out of range: IndexOutOfRangeError naming the allowed range
and the dim size; a non-integer index: DTypeError), as device asserts cannot be relied on.

Accumulating ops (``scatter_add``, ``index_add``, ``index_put(accumulate=True)``) add with
``tl.atomic_add`` on the fast path, so repeated indices sum in a run-dependent order. With
``nr.use_deterministic_algorithms(True)`` they take an ordered path (each program owns whole
destination lines and walks its sources in index order) whose results are bit-identical from run to
run (slower where few destination lines take many sources: each line is walked by one program).
Plain writes with repeated indices (``scatter``, ``index_copy``, ``x[idx] = v``) keep one of
the values: on the CPU (reference backend) and in deterministic mode the last one in index order,
as PyTorch does on the CPU; on the fast GPU path, any one of them.

    >>> import neurarust as nr
    >>> x = nr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> x.gather(1, nr.tensor([[2, 0], [1, 1]])).tolist(), x[:, [2, 0]].tolist()
    ([[3.0, 1.0], [5.0, 5.0]], [[3.0, 1.0], [6.0, 4.0]])
    >>> nr.zeros(3).index_add(0, nr.tensor([0, 0, 2]), nr.tensor([1.0, 2.0, 3.0])).tolist()
    [3.0, 0.0, 3.0]
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from neurarust import backends, determinism
from neurarust import dtype as _dt
from neurarust.creation import scalar_tensor
from neurarust.errors import ArgumentError, DeviceError, DTypeError, IndexOutOfRangeError, ShapeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, autocast_class, call, register
from neurarust.shape import broadcast_shapes, normalize_dim
from neurarust.tensor import Tensor

from . import samples as S

TRITON = "neurarust.kernels.indexing_triton:launch_index"
ALL = _dt.ALL_DTYPES
INDEX_DTYPES = (_dt.int32, _dt.int64)
LONG = (_dt.int64,)
# Dtypes whose sums may use tl.atomic_add (the others always take the ordered path).
ATOMIC_DTYPES = (_dt.float32, _dt.float64, _dt.float16, _dt.int32, _dt.int64)
SCATTER_REDUCES = {"sum": "sum", "prod": "prod", "mean": "mean", "amax": "amax", "amin": "amin"}


class IndexArray(np.ndarray):
    """A sample's index argument: the harnesses cast tensor arguments to the dtype under test, but an
    index keeps its integer dtype (``astype`` is a no-op on it)."""

    def astype(self, dtype, *args, **kwargs):  # noqa: D102
        return self


def ix(values, dtype=np.int64) -> IndexArray:
    """An :class:`IndexArray` of ``values``."""
    return np.asarray(values, dtype).view(IndexArray)


# ----------------------------------------------------------------------------------------------
# Shared checks and the kernel driver
# ----------------------------------------------------------------------------------------------

def _kernels():
    from . import indexing_triton  # the first Triton launch imports Triton

    return indexing_triton


def _reference(t: Tensor) -> bool:
    return backends.for_device(t._storage.device) == "reference"


def _tensor(name: str, x, what: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise SignatureError(f"{name}(): argument '{what}' must be a Tensor, not {type(x).__name__}")
    return x


def _same_device(name: str, *ts: Tensor) -> None:
    dev = ts[0].device
    for t in ts[1:]:
        if t.device != dev:
            raise DeviceError(f"{name}(): expected all tensors on one device, got {dev} and {t.device}")


def _check_index(name: str, index, allowed=INDEX_DTYPES) -> Tensor:
    _tensor(name, index, "index")
    if index.dtype not in allowed:
        raise DTypeError(f"{name}(): expected an index of dtype {' or '.join(d.name for d in allowed)}, "
                         f"got {index.dtype}")
    return index


def _bounds(index: Tensor) -> tuple[int, int] | None:
    """(min, max) of ``index`` on the host (a sync on CUDA: indices are checked before launching)."""
    if index.numel() == 0:
        return None
    if index.device.type == "cpu":
        a = index._np()
        return int(a.min()), int(a.max())
    return int(call("amin", index).item()), int(call("amax", index).item())


def _check_range(name: str, index: Tensor, size: int, dim: int, negative: bool = False) -> None:
    b = _bounds(index)
    low = -size if negative else 0
    if b is not None and (b[0] < low or b[1] >= size):
        bad = b[0] if b[0] < low else b[1]
        raise IndexOutOfRangeError(f"{name}(): index {bad} is out of bounds for dimension {dim} with size {size} "
                                   f"(indices must lie in [{low}, {size}))")


def _deterministic() -> bool:
    return determinism.are_deterministic_algorithms_enabled()


def _as_1d(t: Tensor) -> Tensor:
    return t._view((1,), (1,)) if t.ndim == 0 else t


def _launch(mode: str, val: Tensor, idx: Tensor, tgt: Tensor, dim: int, reduce: str = "none") -> None:
    """Run the gather/scatter kernel over ``val``'s shape (``idx`` has it too): ``tgt`` (a real tensor
    of the same ndim) is read or written at ``idx`` along ``dim`` and at ``val``'s position elsewhere."""
    order = [d for d in range(val.ndim) if d != dim] + [dim]

    def last(t, strides):
        return t._view([val._shape[d] for d in order], [strides[d] for d in order])

    tgt_strides = list(tgt._strides)
    tgt_strides[dim] = 0
    _kernels().launch_index(last(val, val._strides), last(idx, idx._strides), last(tgt, tgt_strides),
                            tgt._strides[dim], tgt._shape[dim], mode, reduce)


def _scatter_mode(dtype, reduce: str) -> str:
    if _deterministic():
        return "lines"
    if reduce == "none" or (reduce == "sum" and dtype in ATOMIC_DTYPES):
        return "scatter"
    return "lines"


def _out(name: str, result: Tensor, out) -> Tensor:
    """``result``, or copied into ``out`` (same shape and dtype, as these ops do not resize)."""
    if out is None:
        return result
    _tensor(name, out, "out")
    if out.shape != result.shape or out.dtype is not result.dtype:
        raise ShapeError(f"{name}(): out has shape {list(out.shape)} and dtype {out.dtype}, expected "
                         f"{list(result.shape)} and {result.dtype}")
    return out.copy_(result)


def _wrap(arr: np.ndarray, d) -> Tensor:
    return Tensor._wrap(np.array(arr, dtype=d.np, order="C"), d)


def _acc_np(d):
    """NumPy dtype the references combine in: what the kernel's ordered path combines in."""
    if d.is_floating_point:
        return np.float64 if d is _dt.float64 else np.float32
    return np.int32 if d is _dt.bool_ else np.int64


# ----------------------------------------------------------------------------------------------
# gather / take / index_select
# ----------------------------------------------------------------------------------------------

def _gather_dim(name: str, input: Tensor, dim: int, index: Tensor) -> int:
    if max(input.ndim, 1) != max(index.ndim, 1):
        raise ShapeError(f"{name}(): index of shape {list(index.shape)} must have as many dims as input of shape "
                         f"{list(input.shape)}")
    d = normalize_dim(dim, input.ndim)
    x, i = _as_1d(input), _as_1d(index)
    for k in range(x.ndim):
        if k != d and i.shape[k] > x.shape[k]:
            raise ShapeError(f"{name}(): index of shape {list(index.shape)} is larger than input of shape "
                             f"{list(input.shape)} in dimension {k} (only dimension {d} may be larger)")
    return d


def _ref_gather(a: np.ndarray, dim: int, idx: np.ndarray) -> np.ndarray:
    a, idx = np.atleast_1d(a), np.atleast_1d(idx)
    box = tuple(slice(0, n) if k != dim else slice(None) for k, n in enumerate(idx.shape))
    return np.take_along_axis(a[box], idx.astype(np.intp), axis=dim)


def gather(op: Op, input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False, out=None) -> Tensor:
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` for dim 0 (and likewise for other dims): the
    result has ``index``'s shape and ``input``'s dtype. ``index`` (int64 or int32) may be smaller than
    ``input`` in every dim but ``dim``."""
    _tensor(op.name, input)
    _check_index(op.name, index)
    _same_device(op.name, input, index)
    d = _gather_dim(op.name, input, dim, index)
    _check_range(op.name, index, _as_1d(input).shape[d], d)
    if _reference(input):
        r = _ref_gather(input._np(), d, index._np()).reshape(index.shape)
        return _out(op.name, _wrap(r, input.dtype), out)
    result = Tensor._empty(index.shape, input.dtype, input.device)
    _launch("gather", _as_1d(result), _as_1d(index), _as_1d(input), d)
    return _out(op.name, result, out)


def _ref_index_select(a: np.ndarray, dim: int, idx: np.ndarray) -> np.ndarray:
    return np.take(np.atleast_1d(a), idx.reshape(-1).astype(np.intp), axis=dim)


def _along(index: Tensor, dim: int, shape) -> Tensor:
    """A 1-d ``index`` as a stride-0 view of ``shape`` that moves only along ``dim``."""
    strides = [0] * len(shape)
    strides[dim] = index._strides[0] if index.ndim else 0
    return index._view(shape, strides)


def index_select(op: Op, input: Tensor, dim: int, index: Tensor, *, out=None) -> Tensor:
    """The slices of ``input`` along ``dim`` at ``index`` (a vector or a 0-d tensor, int64 or int32)."""
    _tensor(op.name, input)
    _check_index(op.name, index)
    _same_device(op.name, input, index)
    if index.ndim > 1:
        raise ShapeError(f"{op.name}(): index must be a vector or a 0-d tensor, got shape {list(index.shape)}")
    if input.ndim == 0 and index.numel() != 1:
        raise ShapeError(f"{op.name}(): an index into a 0-d tensor can have only 1 value, got {index.numel()}")
    d = normalize_dim(dim, input.ndim)
    x = _as_1d(input)
    _check_range(op.name, index, x.shape[d], d)
    shape = x.shape[:d] + (index.numel(),) + x.shape[d + 1:]
    if _reference(input):
        r = _ref_index_select(input._np(), d, index._np())
        return _out(op.name, _wrap(r.reshape(input.shape if input.ndim == 0 else shape), input.dtype), out)
    result = Tensor._empty(shape, input.dtype, input.device)
    _launch("gather", result, _along(index, d, shape), x, d)
    return _out(op.name, result.view(input.shape) if input.ndim == 0 else result, out)


def take(op: Op, input: Tensor, index: Tensor) -> Tensor:
    """``input`` read as a flat vector at ``index`` (int64; negative counts from the end); the result
    has ``index``'s shape."""
    _tensor(op.name, input)
    _check_index(op.name, index, LONG)
    _same_device(op.name, input, index)
    n = input.numel()
    b = _bounds(index)
    if b is not None and (b[0] < -n or b[1] >= n):
        bad = b[0] if b[0] < -n else b[1]
        raise IndexOutOfRangeError(f"take(): index {bad} is out of range for a tensor of {n} elements "
                                   f"(indices must lie in [{-n}, {n}))")
    if _reference(input):
        flat = input._np().reshape(-1)
        return _wrap(flat[index._np().astype(np.intp)].reshape(index.shape), input.dtype)
    result = Tensor._empty(index.shape, input.dtype, input.device)
    if result.numel():
        _launch("gather", result.reshape(-1), index.reshape(-1), input.reshape(-1), 0)
    return result


# ----------------------------------------------------------------------------------------------
# scatter family
# ----------------------------------------------------------------------------------------------

def _identity(reduce: str, d) -> float | int | bool:
    """What a destination starts from when its own value is left out (``include_self=False``)."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if d is _dt.bool_:
        return reduce == "amin"
    if not d.is_floating_point:
        info = _dt.iinfo(d)
        return info.min if reduce == "amax" else info.max
    return -np.inf if reduce == "amax" else np.inf


def _ref_scatter(a: np.ndarray, dim: int, idx: np.ndarray, src: np.ndarray, reduce: str,
                 include_self: bool = True) -> np.ndarray:
    """``a`` (a copy, combined in the kernel's accumulation dtype) with ``src`` scattered in at ``idx``."""
    out = np.atleast_1d(a).astype(_acc_np(_dt.as_dtype(a.dtype)), order="C")
    idx = np.atleast_1d(idx).astype(np.intp, copy=False)
    src = np.atleast_1d(src)
    box = tuple(slice(0, n) for n in idx.shape)
    vals = src[box].astype(out.dtype, copy=False).reshape(-1)
    where = _flat_positions(out.shape, dim, idx)     # one flat index each: 1-D fancy indexing is fastest
    flat = out.reshape(-1)
    if not include_self:
        flat[where] = _identity(reduce, _dt.as_dtype(a.dtype))
    if reduce == "none":
        flat[where] = vals  # repeated indices: the last write wins
    elif reduce in ("sum", "mean"):
        np.add.at(flat, where, vals)
        if reduce == "mean":
            count = np.ones(flat.shape, np.int64)
            if not include_self:
                count[where] = 0
            np.add.at(count, where, 1)
            flat = flat / count if flat.dtype.kind == "f" else np.floor_divide(flat, count)
    else:
        ufunc = {"prod": np.multiply, "amax": np.fmax, "amin": np.fmin}[reduce]
        if reduce == "prod":
            ufunc.at(flat, where, vals)
        else:  # NaN wins: fmax/fmin skip NaN, so put NaN back where one arrived
            nan = np.zeros(flat.shape, bool)
            if flat.dtype.kind == "f":
                np.logical_or.at(nan, where, np.isnan(vals))
                nan |= np.isnan(flat)
            ufunc.at(flat, where, vals)
            if flat.dtype.kind == "f":
                flat[nan] = np.nan
    return flat.reshape(a.shape).astype(a.dtype, copy=False)


def _flat_positions(shape: tuple, dim: int, idx: np.ndarray) -> np.ndarray:
    """The row-major flat index into ``shape`` of each element of ``idx`` (its own position, with
    ``idx``'s value along ``dim``), flattened."""
    strides = [int(np.prod(shape[d + 1:])) for d in range(len(shape))]
    if idx.size and idx.min() < 0:       # a negative index counts from the end (index_add allows it)
        idx = idx % shape[dim]
    flat = idx * strides[dim]
    for d, n in enumerate(idx.shape):
        if d != dim and n > 1:
            flat = flat + (np.arange(n, dtype=np.intp) * strides[d]).reshape((n,) + (1,) * (idx.ndim - d - 1))
    return np.broadcast_to(flat, idx.shape).reshape(-1)


def _scatter_shapes(name: str, input: Tensor, d: int, index: Tensor, src: Tensor | None) -> None:
    if max(index.ndim, 1) != max(input.ndim, 1) or (src is not None and max(src.ndim, 1) != max(index.ndim, 1)):
        raise ShapeError(f"{name}(): index of shape {list(index.shape)} must have as many dims as input "
                         f"{list(input.shape)}" + ("" if src is None else f" and src {list(src.shape)}"))
    i, x = _as_1d(index), _as_1d(input)
    s = None if src is None else _as_1d(src)
    for k in range(i.ndim):
        if (k != d and i.shape[k] > x.shape[k]) or (s is not None and i.shape[k] > s.shape[k]):
            raise ShapeError(f"{name}(): index of shape {list(index.shape)} is larger than input "
                             f"{list(input.shape)} (apart from dimension {d})"
                             + ("" if s is None else f" or src {list(src.shape)}") + f" in dimension {k}")


def _target(name: str, input: Tensor, out) -> Tensor:
    """Where a scatter writes: ``input`` itself (the in-place method passes ``out=input``), a clone, or
    ``out`` holding a copy of ``input``."""
    if out is None:
        return input.clone()
    if out is not input:
        _out(name, input, out)
    return out


def _scatter_into(target: Tensor, d: int, index: Tensor, src: Tensor, reduce: str,
                  include_self: bool = True) -> Tensor:
    """Scatter ``src`` (a view of at least ``index``'s extent) into ``target`` along ``d``, in place."""
    if _reference(target):
        arr = target._np()
        arr[...] = _ref_scatter(arr, d, index._np(), src._np(), reduce, include_self)
        target._bump_version()
        return target
    idx, tgt = _as_1d(index), _as_1d(target)
    val = _as_1d(src)._view(idx.shape, _as_1d(src)._strides)
    if reduce == "mean":
        _scatter_mean(tgt, d, idx, val, include_self)
        return target
    if not include_self:
        fill = scalar_tensor(_identity(reduce, target.dtype), target.dtype, target.device)
        _launch("scatter", fill._view(idx.shape, (0,) * idx.ndim), idx, tgt, d)
    if idx.numel():
        _launch(_scatter_mode(target.dtype, reduce), val, idx, tgt, d, reduce)
    target._bump_version()
    return target


def _scatter_mean(tgt: Tensor, d: int, idx: Tensor, val: Tensor, include_self: bool) -> None:
    """Sum, then divide by how many values each destination got (itself included, or not)."""
    from neurarust.creation import ones as _ones

    count = _ones(tgt.shape, dtype=_dt.int64, device=tgt.device)  # a destination nothing reaches divides by 1
    one = scalar_tensor(1, _dt.int64, tgt.device)._view(idx.shape, (0,) * idx.ndim)
    _scatter_into(count, d, idx, one, "sum", include_self)
    _scatter_into(tgt, d, idx, val, "sum", include_self)
    mode = None if tgt.dtype.is_floating_point else "floor"
    tgt.copy_(call("div", tgt, count, rounding_mode=mode).to(tgt.dtype))


def _scalar_value(value, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ShapeError(f"expected a 0-d value tensor, got shape {list(value.shape)}")
        return value.to(like.dtype).to(like.device)
    if not isinstance(value, (numbers.Number, np.generic)):
        raise SignatureError(f"expected a number or a 0-d tensor as value, got {type(value).__name__}")
    return scalar_tensor(value, like.dtype, like.device)


def _reduce_name(name: str, reduce) -> str:
    if reduce is None:
        return "none"
    kinds = {"add": "sum", "multiply": "prod"}
    if reduce not in kinds:
        raise ArgumentError(f"{name}(): reduce argument must be either 'add' or 'multiply', got {reduce!r}")
    return kinds[reduce]


def _scatter_common(op: Op, input, dim, index, src, reduce: str, include_self: bool, out) -> Tensor:
    name = op.name
    _tensor(name, input)
    _check_index(name, index, op.attrs.get("index_dtypes", INDEX_DTYPES))
    d = normalize_dim(dim, input.ndim)
    if isinstance(src, Tensor):
        if src.dtype is not input.dtype:
            raise DTypeError(f"{name}(): expected src of dtype {input.dtype} (the input's), got {src.dtype}")
        _same_device(name, input, index, src)
        _scatter_shapes(name, input, d, index, src)
    else:
        _same_device(name, input, index)
        _scatter_shapes(name, input, d, index, None)
        src = _scalar_value(src, input)._view(index.shape, (0,) * index.ndim)
    _check_range(name, index, _as_1d(input).shape[d], d)
    return _scatter_into(_target(name, input, out), d, index, src, reduce, include_self)


def scatter(op: Op, input: Tensor, dim: int, index: Tensor, src=None, value=None, *, reduce: str | None = None,
            out=None) -> Tensor:
    """``input`` with ``src[i][j][k]`` written at ``[index[i][j][k]][j][k]`` (dim 0; likewise for other
    dims); ``src`` may be a tensor of ``input``'s dtype or a number (``value``). ``reduce='add'`` or
    ``'multiply'`` combines instead of overwriting. Repeated indices without ``reduce`` keep one value
    (the last in index order on the CPU and in deterministic mode)."""
    src = value if src is None else src
    if src is None:
        raise SignatureError("scatter() needs src (a tensor) or value (a number)")
    return _scatter_common(op, input, dim, index, src, _reduce_name("scatter", reduce), True, out)


def scatter_add(op: Op, input: Tensor, dim: int, index: Tensor, src: Tensor, *, out=None) -> Tensor:
    """``scatter`` that adds: repeated indices sum. Atomic adds on the fast path; an ordered,
    bit-reproducible sum in deterministic mode."""
    _tensor(op.name, src, "src")
    return _scatter_common(op, input, dim, index, src, "sum", True, out)


def scatter_reduce(op: Op, input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True, out=None) -> Tensor:
    """``scatter`` combining every value sent to one place with ``reduce`` ('sum', 'prod', 'mean',
    'amax', 'amin'), with the destination's own value unless ``include_self=False``. Integer means
    round down, as in PyTorch."""
    _tensor(op.name, src, "src")
    if reduce not in SCATTER_REDUCES:
        raise ArgumentError(f"scatter_reduce(): reduce argument must be one of {sorted(SCATTER_REDUCES)}, "
                            f"got {reduce!r}")
    if reduce == "mean" and isinstance(input, Tensor) and input.dtype is _dt.bool_:
        raise DTypeError("scatter_reduce(): reduce='mean' is not supported for bool tensors")
    return _scatter_common(op, input, dim, index, src, reduce, bool(include_self), out)


# ----------------------------------------------------------------------------------------------
# index_add / index_copy / index_fill
# ----------------------------------------------------------------------------------------------

def _index_dim_common(op: Op, input, dim, index, source, scalar: bool) -> tuple[int, Tensor]:
    name = op.name.removesuffix("_")
    _tensor(name, input)
    _check_index(name, index, op.attrs.get("index_dtypes", INDEX_DTYPES))
    if index.ndim > 1:
        raise ShapeError(f"{name}(): index must be a vector or a 0-d tensor, got shape {list(index.shape)}")
    d = normalize_dim(dim, input.ndim)
    x = _as_1d(input)
    shape = x.shape[:d] + (index.numel(),) + x.shape[d + 1:]
    if not scalar:
        _tensor(name, source, "source")
        _same_device(name, input, index, source)
        if source.dtype is not input.dtype:
            raise DTypeError(f"{name}(): source of dtype {source.dtype} must have the input's dtype {input.dtype}")
        if tuple(_as_1d(source).shape) != shape:
            raise ShapeError(f"{name}(): source of shape {list(source.shape)} must have the shape of input "
                             f"{list(input.shape)} with dimension {d} of size {index.numel()}")
        src = _as_1d(source)
    else:
        _same_device(name, input, index)
        src = _scalar_value(source, input)._view(shape, (0,) * len(shape))
    _check_range(name, index, x.shape[d], d, negative=op.attrs.get("negative", False))
    return d, src


def _index_into(op: Op, input, dim, index, source, reduce: str, out, scalar: bool = False) -> Tensor:
    d, src = _index_dim_common(op, input, dim, index, source, scalar)
    target = _target(op.name, input, out)
    return _scatter_into(target, d, _along(index, d, src.shape), src, reduce)


def index_add(op: Op, input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1, out=None) -> Tensor:
    """``input`` with ``alpha * source[..., i, ...]`` added to slice ``index[i]`` along ``dim``;
    repeated indices sum (bit-reproducibly in deterministic mode)."""
    if isinstance(source, Tensor) and not (isinstance(alpha, numbers.Number) and alpha == 1):
        source = call("mul", source, alpha).to(source.dtype)
    return _index_into(op, input, dim, index, source, "sum", out)


def index_copy(op: Op, input: Tensor, dim: int, index: Tensor, source: Tensor, *, out=None) -> Tensor:
    """``input`` with slice ``index[i]`` along ``dim`` replaced by ``source[..., i, ...]`` (int64 index)."""
    return _index_into(op, input, dim, index, source, "none", out)


def index_fill(op: Op, input: Tensor, dim: int, index: Tensor, value, *, out=None) -> Tensor:
    """``input`` with the slices ``index`` (int64; negative counts from the end) along ``dim`` set to
    ``value`` (a number or a 0-d tensor)."""
    return _index_into(op, input, dim, index, value, "none", out, scalar=True)


# ----------------------------------------------------------------------------------------------
# masked_select / nonzero / where(condition)
# ----------------------------------------------------------------------------------------------

def _compact(mask: Tensor, src: Tensor | None, out_shape, out_dtype, coords: bool) -> Tensor:
    if mask.numel() == 0:
        return Tensor._empty(out_shape(0), out_dtype, mask.device)
    K = _kernels()
    total, base = K.count_selected(mask)
    result = Tensor._empty(out_shape(total), out_dtype, mask.device)
    if result.numel():
        K.write_selected(mask, src, base, result, coords)
    return result


def masked_select(op: Op, input: Tensor, mask: Tensor, *, out=None) -> Tensor:
    """The elements of ``input`` where the bool ``mask`` holds (both broadcast), as a 1-d tensor."""
    _tensor(op.name, input)
    _tensor(op.name, mask, "mask")
    if mask.dtype is not _dt.bool_:
        raise DTypeError(f"masked_select(): expected a bool mask, got {mask.dtype}")
    _same_device(op.name, input, mask)
    shape = broadcast_shapes(input.shape, mask.shape)
    x, m = input.expand(shape), mask.expand(shape)
    if _reference(input):
        return _out(op.name, _wrap(x._np()[m._np()], input.dtype), out)
    result = _compact(m.contiguous(), x.contiguous(), lambda n: (n,), input.dtype, coords=False)
    return _out(op.name, result, out)


def nonzero(op: Op, input: Tensor, *, out=None, as_tuple: bool = False):
    """int64 coordinates of the nonzero elements of ``input``, one row each, in row-major order (an
    ``(n, ndim)`` tensor); ``as_tuple=True`` gives one 1-d tensor per dim instead (a 0-d input
    counts as 1-d there). The result's size depends on the data: on CUDA this syncs."""
    _tensor(op.name, input)
    if as_tuple:
        coords = nonzero(op, _as_1d(input))
        return tuple(coords[:, k].contiguous() for k in range(coords.shape[1]))
    if _reference(input):
        a = input._np()
        r = np.stack(np.nonzero(a), axis=1) if a.ndim else np.zeros((int(a != 0), 0), np.int64)
        return _out(op.name, _wrap(r, _dt.int64), out)
    result = _compact(input.contiguous(), None, lambda n: (n, input.ndim), _dt.int64, coords=True)
    return _out(op.name, result, out)


def where_single(condition: Tensor) -> tuple[Tensor, ...]:
    """``where(condition)`` with one argument: ``nonzero(condition, as_tuple=True)``.

    >>> import neurarust as nr
    >>> [t.tolist() for t in where_single(nr.tensor([[0, 3], [5, 0]]))]
    [[0, 1], [1, 0]]
    """
    return call("nonzero", condition, as_tuple=True)


# ----------------------------------------------------------------------------------------------
# Advanced indexing: x[key], x[key] = value, index_put
# ----------------------------------------------------------------------------------------------

def _is_index_like(k) -> bool:
    if isinstance(k, Tensor):
        return k.ndim > 0 or k.dtype.kind not in "iu"
    return isinstance(k, (list, tuple, np.ndarray))


def is_advanced_key(key) -> bool:
    """Whether ``key`` needs advanced indexing: it holds an integer or bool tensor (other than a 0-d
    integer one, which is a plain int), a list, or a NumPy array.

    >>> import neurarust as nr
    >>> is_advanced_key((0, slice(None))), is_advanced_key([0, 2]), is_advanced_key((Ellipsis, nr.tensor([1])))
    (False, True, True)
    """
    # Plain ints, slices, None and Ellipsis are checked by exact type first: this runs on every x[...].
    if type(key) is tuple:
        for k in key:
            if type(k) not in _BASIC_TYPES and (_is_index_like(k) or isinstance(k, bool)):
                return True
        return False
    return type(key) not in _BASIC_TYPES and (_is_index_like(key) or isinstance(key, bool))


_BASIC_TYPES = frozenset((int, slice, type(None), type(Ellipsis)))


def _as_index_tensor(k, device) -> Tensor:
    if isinstance(k, Tensor):
        t = k
    else:
        from neurarust.creation import as_tensor

        a = np.asarray(k)
        if a.size == 0 and a.dtype.kind == "f":
            a = a.astype(np.int64)  # x[[]] indexes nothing, as in PyTorch
        t = as_tensor(a)
    if t.dtype.kind not in "iub":
        raise DTypeError(f"tensors used as indices must be int64, int32, uint8 or bool tensors, got {t.dtype}")
    return t if t.device == device else t.to(device)


def _scalar_mask_index(mask: Tensor) -> Tensor:
    """The index a 0-d mask makes of the dim it adds: ``[0]`` where it holds, ``[]`` where not."""
    from neurarust.creation import as_tensor

    return as_tensor(np.arange(1 if bool(mask.item()) else 0, dtype=np.int64)).to(mask.device)


def _parse(t: Tensor, key):
    """``t`` viewed through the basic parts of ``key`` (ints, slices, None, Ellipsis), and the
    advanced ones as (dim of that view, index tensor) pairs; bool masks become one index per dim."""
    if isinstance(key, list) and key and all(isinstance(k, Tensor) for k in key):
        key = tuple(key)  # a list of tensors is a tuple of indices, as in PyTorch (autograd saves keys as lists)
    items = list(key) if isinstance(key, tuple) else [key]
    basic, adv = [], []  # adv: (position in ``basic``, index tensor)
    for k in items:
        if isinstance(k, bool):
            raise IndexOutOfRangeError("indexing with a Python bool is not supported; use a bool tensor")
        if _is_index_like(k):
            it = _as_index_tensor(k, t.device)
            if it.ndim == 0 and it.dtype.kind in "ub":   # a new dim of size 1 (True) or 0 (False), as PyTorch
                adv.append((len(basic), _scalar_mask_index(it)))
                basic.append(None)
                continue
            adv.append((len(basic), it))
            basic.extend([slice(None)] * (it.ndim if it.dtype.kind in "ub" else 1))
        else:
            basic.append(k)
    consumed = sum(1 for k in basic if k is not None and k is not Ellipsis)
    if consumed > t.ndim:
        raise IndexOutOfRangeError(f"too many indices for a tensor of {t.ndim} dims: {consumed}")
    # Where each basic item lands among the view's dims.
    dim_of, dim = [], 0
    for k in basic:
        dim_of.append(dim)
        if k is Ellipsis:
            dim += t.ndim - consumed
        elif k is None or isinstance(k, slice):
            dim += 1
    view = t[tuple(basic)]
    dims, indices = [], []
    for start, it in adv:
        d = dim_of[start]
        if it.dtype.kind in "ub":  # a mask over dims d..d+k-1
            got, want = tuple(it.shape), tuple(view.shape[d:d + it.ndim])
            if got != want:
                raise IndexOutOfRangeError(f"the shape of the mask {list(got)} does not match the shape "
                                           f"{list(want)} of the indexed dims {d}..{d + it.ndim - 1}")
            mask = it if it.dtype is _dt.bool_ else call("ne", it, 0)
            parts = where_single(mask)
            dims.extend(range(d, d + it.ndim))
            indices.extend(parts)
        else:
            _check_range("index", it, view.shape[d], d, negative=True)
            dims.append(d)
            indices.append(it)
    try:
        bshape = broadcast_shapes(*(i.shape for i in indices))
    except ShapeError as e:
        shapes = ", ".join(str(list(i.shape)) for i in indices)
        raise IndexOutOfRangeError(f"shape mismatch: indexing tensors of shapes {shapes} cannot be broadcast "
                                   f"together") from e
    return view, dims, indices, tuple(bshape)


def _layout(view: Tensor, dims, bshape):
    """PyTorch's rule for where the indices' broadcast shape B goes: in place of the indexed dims when
    they are adjacent, else first. Returns (result shape, the other dims of ``view``, and ``perm``:
    the result's dims in (B..., other...) order)."""
    rest = [d for d in range(view.ndim) if d not in dims]
    rest_shape = tuple(view.shape[d] for d in rest)
    nb = len(bshape)
    lead = 0
    if dims == list(range(dims[0], dims[0] + len(dims))):
        lead = sum(1 for d in rest if d < dims[0])
    shape = rest_shape[:lead] + tuple(bshape) + rest_shape[lead:]
    perm = list(range(lead, lead + nb)) + list(range(lead)) + list(range(lead + nb, nb + len(rest)))
    return shape, rest, perm


def _offsets(view: Tensor, dims, indices, bshape) -> tuple[Tensor, int, int]:
    """(flat index over B, its stride, the size it indexes) addressing the indexed dims: a single
    index keeps its own values (negatives wrap in the kernel); several become element offsets."""
    if len(indices) == 1:
        d = dims[0]
        return indices[0].expand(bshape).reshape(-1), view._strides[d], view.shape[d]
    total = None
    for d, i in zip(dims, indices):
        i = i.to(_dt.int64)
        size, stride = view.shape[d], view._strides[d]
        part = call("mul", call("where", call("lt", i, 0), call("add", i, size), i), stride)
        total = part if total is None else call("add", total, part)
    extent = 1 + sum((view.shape[d] - 1) * view._strides[d] for d in dims)
    return total.expand(bshape).reshape(-1), 1, extent


def _np_key(view: Tensor, dims, indices):
    key = [slice(None)] * view.ndim
    for d, i in zip(dims, indices):
        key[d] = i._np().astype(np.intp)
    return tuple(key)


def _flat_views(view: Tensor, dims, indices, bshape, data: Tensor, writable: bool):
    """Kernel views over (B flattened, other dims): ``data`` (a tensor of the result's shape, written
    when ``writable``), the flat index (moving along B only), and ``view`` with B's dim not moving."""
    shape, rest, perm = _layout(view, dims, bshape)
    nb = int(np.prod(bshape, dtype=np.int64))
    flat, stride, size = _offsets(view, dims, indices, bshape)
    rest_shape = [view.shape[d] for d in rest]
    it_shape = [nb] + rest_shape
    data = data.permute(perm)
    # B's dims of a fresh result are contiguous, so they merge into one with a view (never a copy).
    data = data.view(it_shape) if writable else data.reshape(it_shape)
    idx = flat._view(it_shape, [flat._strides[0]] + [0] * len(rest))
    tgt = view._view([size] + rest_shape, [stride] + [view._strides[d] for d in rest])
    return data, idx, tgt


def getitem_advanced(tensor: Tensor, key) -> Tensor:
    """``tensor[key]`` for keys with integer/bool tensors, lists or arrays, mixed with ints, slices,
    None and Ellipsis: a new tensor (PyTorch's layout: the indices' broadcast shape replaces the
    indexed dims where they are adjacent, else comes first).

    >>> import neurarust as nr
    >>> x = nr.arange(12).view(3, 4)
    >>> x[[0, 2], 1:3].tolist(), x[x > 9].tolist(), x[[0, 2], :, None].shape
    ([[1, 2], [9, 10]], [10, 11], neurarust.Size([2, 4, 1]))
    """
    return call("index", tensor, key)  # a registry op, so autograd records it


def _getitem(op: Op, input: Tensor, key) -> Tensor:
    """``input[key]`` (the internal ``index`` op behind :func:`getitem_advanced`)."""
    tensor = _tensor("index", input)
    view, dims, indices, bshape = _parse(tensor, key)
    if _reference(tensor):
        return _wrap(view._np()[_np_key(view, dims, indices)], tensor.dtype)
    shape, _, _ = _layout(view, dims, bshape)
    result = Tensor._empty(shape, tensor.dtype, tensor.device)
    if result.numel():
        res, idx, tgt = _flat_views(view, dims, indices, bshape, result, writable=True)
        _launch("gather", res, idx, tgt, 0)
    return result


def _put(tensor: Tensor, key, value, accumulate: bool) -> Tensor:
    view, dims, indices, bshape = _parse(tensor, key)
    shape, _, _ = _layout(view, dims, bshape)
    if isinstance(value, Tensor):
        _same_device("index_put", tensor, value)
        value = value.to(tensor.dtype)
    elif isinstance(value, (list, tuple, np.ndarray)):
        from neurarust.creation import as_tensor

        value = as_tensor(value, dtype=tensor.dtype, device=tensor.device)
    else:
        value = scalar_tensor(value, tensor.dtype, tensor.device)
    try:
        value = value.expand(shape)
    except ShapeError as e:
        raise ShapeError(f"shape mismatch: value tensor of shape {list(value.shape)} cannot be broadcast to "
                         f"indexing result of shape {list(shape)}") from e
    if _reference(tensor):
        arr, key_np, v = view._np(), _np_key(view, dims, indices), value._np()
        if accumulate:
            wide = arr.astype(_acc_np(tensor.dtype))
            np.add.at(wide, key_np, v.astype(wide.dtype))
            arr[...] = wide.astype(arr.dtype)
        else:
            arr[key_np] = v  # repeated indices: the last write wins
        tensor._bump_version()
        return tensor
    if value.numel():
        val, idx, tgt = _flat_views(view, dims, indices, bshape, value, writable=False)
        _launch(_scatter_mode(tensor.dtype, "sum" if accumulate else "none"), val, idx, tgt, 0,
                "sum" if accumulate else "none")
    tensor._bump_version()
    return tensor


def setitem_advanced(tensor: Tensor, key, value) -> None:
    """``tensor[key] = value`` for advanced keys (see :func:`getitem_advanced`); ``value`` (a number or
    a tensor broadcast to ``tensor[key]``'s shape) is cast to ``tensor``'s dtype. With repeated
    indices one write wins: the last on the CPU and in deterministic mode (use
    ``index_put_(..., accumulate=True)`` to sum them).

    >>> import neurarust as nr
    >>> x = nr.zeros(5)
    >>> x[[0, 3]] = nr.tensor([1.0, 2.0]); x[x == 0] = -1.0; x.tolist()
    [1.0, -1.0, -1.0, 2.0, -1.0]
    """
    call("index_assign", tensor, key, value, False, out=tensor)


def _assign(op: Op, input: Tensor, key, values, accumulate: bool = False, *, out=None) -> Tensor:
    """``input`` with ``values`` written (or added) at ``input[key]`` for any key ``__getitem__``
    takes (the internal ``index_assign`` op behind :func:`setitem_advanced`)."""
    _tensor("index_assign", input)
    return _put(_target("index_assign", input, out), key, values, bool(accumulate))


def _index_put_key(name: str, indices, device) -> tuple:
    """``index_put``'s indices as a ``__getitem__`` key: None is a whole dim there, not a new one."""
    if not isinstance(indices, (tuple, list)):
        raise SignatureError(f"{name}(): indices must be a tuple of tensors, got {type(indices).__name__}")
    key = []
    for k in indices:
        if k is None:
            key.append(slice(None))
            continue
        k = _as_index_tensor(k, device)
        if k.dtype not in INDEX_DTYPES + (_dt.bool_, _dt.uint8):
            raise DTypeError(f"{name}(): tensors used as indices must be int64, int32, uint8 or bool, got {k.dtype}")
        key.append(k._view((1,), (0,)) if k.ndim == 0 and k.dtype.kind in "iu" else k)
    return tuple(key)


def index_put(op: Op, input: Tensor, indices: Sequence, values: Tensor, accumulate: bool = False, *,
              out=None) -> Tensor:
    """``input`` with ``values`` written (or, with ``accumulate=True``, added) at ``input[indices]``:
    ``indices`` is a tuple of index tensors (int64, int32 or bool; None means every position of that
    dim); ``values`` must have ``input``'s dtype."""
    name = op.name
    _tensor(name, input)
    _tensor(name, values, "values")
    if values.dtype is not input.dtype:
        raise DTypeError(f"{name}(): values of dtype {values.dtype} must have the input's dtype {input.dtype}")
    key = _index_put_key(name, indices, input.device)
    return _put(_target(name, input, out), key, values, bool(accumulate))


# ----------------------------------------------------------------------------------------------
# NumPy references of the remaining ops (the front ends' CPU paths compute the same)
# ----------------------------------------------------------------------------------------------

def _ref_take(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return a.reshape(-1)[idx.astype(np.intp)]


def _ref_index_add(a: np.ndarray, dim: int, idx: np.ndarray, src: np.ndarray, alpha=1) -> np.ndarray:
    shape = [1] * max(a.ndim, 1)
    shape[dim] = -1
    full = np.broadcast_to(idx.reshape(shape), np.atleast_1d(src).shape)
    return _ref_scatter(a, dim, full, src * alpha, "sum")


def _ref_index_copy(a: np.ndarray, dim: int, idx: np.ndarray, src: np.ndarray) -> np.ndarray:
    out = np.array(a)
    np.moveaxis(np.atleast_1d(out), dim, 0)[idx.reshape(-1).astype(np.intp)] = np.moveaxis(np.atleast_1d(src), dim, 0)
    return out


def _ref_index_fill(a: np.ndarray, dim: int, idx: np.ndarray, value) -> np.ndarray:
    out = np.array(a)
    np.moveaxis(np.atleast_1d(out), dim, 0)[idx.reshape(-1).astype(np.intp)] = value
    return out


def _ref_masked_select(a: np.ndarray, mask: np.ndarray) -> np.ndarray:
    a, mask = np.broadcast_arrays(a, mask)
    return a[mask]


def _ref_nonzero(a: np.ndarray) -> np.ndarray:
    return np.stack(np.nonzero(a), axis=1) if a.ndim else np.zeros((int(a != 0), 0), np.int64)


def _ref_getitem(a: np.ndarray, key: tuple) -> np.ndarray:
    """Only for keys that NumPy reads as PyTorch does (ints are basic in both; see :func:`_layout`)."""
    return np.array(a[key])


def _ref_assign(a: np.ndarray, key: tuple, values, accumulate: bool = False) -> np.ndarray:
    out = np.array(a)
    if accumulate:
        np.add.at(out, key, values)
    else:
        out[key] = values
    return out


def _ref_index_put(a: np.ndarray, indices: tuple, values: np.ndarray, accumulate: bool = False) -> np.ndarray:
    out = np.array(a)
    key = tuple(np.asarray(i) if np.asarray(i).dtype == bool else np.asarray(i).astype(np.intp) for i in indices)
    if accumulate:
        np.add.at(out, key, values)
    else:
        out[key] = values
    return out


# ----------------------------------------------------------------------------------------------
# Derivatives (PyTorch's): gathers scatter-add the gradient back, scatters gather it
# ----------------------------------------------------------------------------------------------

def _zeros_like(t: Tensor) -> Tensor:
    from neurarust.creation import zeros_like

    return zeros_like(t)


def _gather_backward(grad, input, dim, index):
    return (_zeros_like(input).scatter_add(dim, index, grad),)


def _index_select_backward(grad, input_shape, dim, index):
    from neurarust.creation import zeros

    return (zeros(input_shape, dtype=grad.dtype, device=grad.device).index_add(dim, index, grad),)


def _binding_input_shape(frontend):
    """A binder for ``frontend`` that adds ``input_shape``: derivatives that need only the input's
    shape save that, not the input, so a later in-place write to it (``x[i] += 1``, ``x[m] = x[m] * 2``)
    keeps the graph valid, as in PyTorch."""
    from neurarust.registry import _make_binder

    binder = _make_binder(frontend)

    def bind(args: tuple, kwargs: dict) -> dict:
        bound = binder(args, kwargs)
        bound["input_shape"] = tuple(getattr(bound.get("input"), "shape", ()))
        return bound
    return bind


def _take_backward(grad, input, index):
    flat = _zeros_like(input).reshape(-1)
    return (flat.index_put((index.reshape(-1),), grad.reshape(-1), accumulate=True).view(input.shape),)


def _masked_select_backward(grad, input, mask):
    from neurarust.creation import zeros

    shape = broadcast_shapes(input.shape, mask.shape)
    return (zeros(shape, dtype=grad.dtype, device=grad.device).index_put((mask.expand(shape),), grad),)


def _fit(g: Tensor, like) -> Tensor | None:
    """A gradient gathered over ``index``'s extent, zero-padded to ``like``'s (a src may be larger)."""
    if not isinstance(like, Tensor):
        return None
    if g.shape == like.shape:
        return g
    widths = []
    for n, m in zip(reversed(_as_1d(like).shape), reversed(_as_1d(g).shape)):
        widths += [0, n - m]
    return call("pad", g, tuple(widths))


def _box(src: Tensor, index: Tensor) -> Tensor:
    """The part of ``src`` a scatter reads: ``index``'s extent from the origin (a view)."""
    return src if src.shape == index.shape else src[tuple(slice(0, n) for n in index.shape)]


def _scatter_backward(grad, dim, index, src, reduce):
    if reduce not in (None, "add"):
        raise ArgumentError(f"scatter(reduce={reduce!r}) has no derivative; use scatter_reduce")
    grad_input = grad if reduce == "add" else grad.scatter(dim, index, 0)
    return grad_input, _fit(grad.gather(dim, index), src)


def _scatter_add_backward(grad, dim, index, src):
    return grad, _fit(grad.gather(dim, index), src)


def _scatter_reduce_backward(grad, input, dim, index, src, reduce, include_self, result):
    """PyTorch's derivatives."""
    def hit(t, fill):  # ``t`` with the destinations some index reaches set to ``fill``
        return t if include_self else t.scatter(dim, index, fill)

    if reduce == "sum":
        return hit(grad, 0), _fit(grad.gather(dim, index), src)
    if reduce == "mean":
        from neurarust.creation import ones_like

        count = hit(ones_like(grad), 0).scatter_add(dim, index, ones_like(index, dtype=grad.dtype))
        share = grad / count
        return hit(share, 0), _fit(share.gather(dim, index), src)
    if reduce == "prod":
        return _scatter_prod_backward(grad, input, dim, index, src, include_self, result, hit)
    # amax/amin: the gradient is shared evenly among the values equal to the result
    self_wins = hit(call("eq", input, result), False)
    src_wins = call("eq", _box(src, index), result.gather(dim, index))
    count = self_wins.to(grad.dtype).scatter_add(dim, index, src_wins.to(grad.dtype))
    share = grad / call("where", call("eq", count, 0), 1, count)
    return (call("where", self_wins, share, 0.0),
            _fit(call("where", src_wins, share.gather(dim, index), 0.0), src))


def _scatter_prod_backward(grad, input, dim, index, src, include_self, result, hit):
    """A factor's gradient is the product of the others: ``grad * result / factor`` where the factor is
    not 0; a zero factor, the only zero of its product, gets the product of the others, taken again
    with that zero set to 1; a zero among several gets 0 (as PyTorch)."""
    from neurarust.creation import zeros_like

    weighted = grad * result
    self_zero = call("eq", input, 0)
    safe_self = call("where", self_zero, 1, input)
    others = safe_self.scatter_reduce(dim, index, src, "prod", include_self=include_self)
    grad_self = hit(call("where", self_zero, grad * others, weighted / safe_self), 0)
    box = _box(src, index)
    src_zero = call("eq", box, 0)
    zeros_per_slot = zeros_like(result).scatter_add(dim, index, src_zero.to(grad.dtype))
    single = src_zero & call("eq", zeros_per_slot.gather(dim, index), 1)
    others = input.scatter_reduce(dim, index, call("where", single, 1, box), "prod", include_self=include_self)
    grad_src = call("where", single, (grad * others).gather(dim, index),
                    weighted.gather(dim, index) / call("where", src_zero, 1, box))
    return grad_self, _fit(grad_src, src)


def _index_add_backward(grad, dim, index, source, alpha):
    grad_src = grad.index_select(dim, index).reshape(source.shape) if isinstance(source, Tensor) else None
    return grad, (grad_src if alpha == 1 or grad_src is None else grad_src * alpha)


def _index_copy_backward(grad, dim, index, source):
    return grad.index_fill(dim, index, 0), grad.index_select(dim, index).reshape(source.shape)


def _index_fill_backward(grad, dim, index):
    return (grad.index_fill(dim, index, 0),)


def _getitem_backward(grad, input_shape, key):
    from neurarust.creation import zeros

    return (call("index_assign", zeros(input_shape, dtype=grad.dtype, device=grad.device), key, grad, True),)


def _assign_backward(grad, key, values, accumulate):
    grad_values = call("index", grad, key) if isinstance(values, Tensor) else None
    if accumulate:
        return grad, grad_values
    return call("index_assign", grad, key, 0, False), grad_values


def _index_put_backward(grad, indices, values, accumulate):
    return _assign_backward(grad, _index_put_key("index_put", indices, grad.device), values, accumulate)


# ----------------------------------------------------------------------------------------------
# Samples, errors, tolerances and the entries
# ----------------------------------------------------------------------------------------------

def _v(d, shape, seed=0):
    return S.values(d, shape, seed)


def _gather_samples(d):
    rng = np.random.default_rng(5)
    yield Sample((_v(d, (3, 4)), 1, ix([[0, 3, 3], [1, 0, 2], [2, 2, 2]])), name="dim1_repeats")
    yield Sample((S.TensorSpec(_v(d, (4, 3), 1), "transposed"), 0, ix([[3, 0], [1, 1]])), name="transposed_smaller")
    yield Sample((_v(d, (2, 3, 4), 2), -2, S.TensorSpec(ix(rng.integers(0, 3, (2, 5, 3))), "strided")),
                 name="3d_strided_index")
    yield Sample((np.array(_v(d, (1,), 3)[0]), 0, ix(0)), name="0d")
    yield Sample((_v(d, (2, 3), 4), 1, ix(np.zeros((2, 0)))), name="empty_index")


def _index_select_samples(d):
    yield Sample((_v(d, (3, 4)), 1, ix([3, 0, 3])), name="repeats")
    yield Sample((S.TensorSpec(_v(d, (4, 3), 1), "transposed"), 0, ix([1], np.int32)), name="transposed_int32")
    yield Sample((_v(d, (2, 3, 2), 2), -2, ix(2)), name="0d_index")
    yield Sample((_v(d, (3, 2), 3), 0, ix([])), name="empty_index")
    yield Sample((np.array(_v(d, (1,), 4)[0]), 0, ix([0])), name="0d_input")


def _take_samples(d):
    yield Sample((_v(d, (3, 4)), ix([[0, 11], [-1, 5]])), name="negative")
    yield Sample((S.TensorSpec(_v(d, (4, 3), 1), "transposed"), ix([1, 1, 7])), name="transposed")
    yield Sample((_v(d, (5,), 2), ix(-5)), name="0d_index")
    yield Sample((_v(d, (2, 2), 3), ix(np.zeros((0, 3)))), name="empty_index")


def _scatter_samples(d):
    fill = True if d is _dt.bool_ else 2
    yield Sample((_v(d, (3, 4)), 1, ix([[0, 3], [1, 2], [2, 0]]), _v(d, (3, 2), 1)), name="src")
    yield Sample((S.TensorSpec(_v(d, (4, 3), 2), "transposed"), 0, ix([[2, 0, 1], [3, 1, 0]]), fill), name="value")
    yield Sample((_v(d, (3, 4), 3), 0, ix([[0, 0, 2, 1], [0, 1, 2, 1]]), _v(d, (2, 5), 4)), {"reduce": "add"},
                 name="reduce_add_repeats")
    yield Sample((_v(d, (3, 4), 5), -1, ix([[0, 0], [3, 3], [1, 0]]), _v(d, (3, 2), 6)), {"reduce": "multiply"},
                 name="reduce_multiply_repeats")
    yield Sample((_v(d, (3, 4), 7), 0, ix(np.zeros((0, 4))), _v(d, (0, 4), 8)), name="empty_index")


def _scatter_add_samples(d):
    yield Sample((_v(d, (3, 4)), 0, ix([[0, 0, 2, 1], [0, 1, 2, 1], [0, 0, 0, 0]]), _v(d, (3, 4), 1)), name="repeats")
    yield Sample((S.TensorSpec(_v(d, (4, 3), 2), "transposed"), 1, ix([[2, 2], [0, 1], [1, 1], [0, 0]]),
                  S.TensorSpec(_v(d, (4, 3), 3))), name="noncontiguous")
    yield Sample((_v(d, (2, 3, 2), 4), 1, ix(np.ones((2, 4, 2))), _v(d, (2, 4, 2), 5)), name="3d_one_target")
    yield Sample((_v(d, (5,), 6), 0, ix([]), _v(d, (0,), 7)), name="empty_index")


def _scatter_reduce_samples(d):
    index = ix([[0, 0, 2, 1], [0, 1, 2, 1], [0, 0, 0, 0]])
    for i, reduce in enumerate(SCATTER_REDUCES):
        if reduce == "mean" and d is _dt.bool_:
            continue
        yield Sample((_v(d, (3, 4), i), 0, index, _v(d, (3, 4), 10 + i), reduce), name=reduce)
        yield Sample((_v(d, (3, 4), i), 1, index[:, :2], _v(d, (3, 2), 20 + i), reduce), {"include_self": False},
                     name=f"{reduce}_exclude_self")
    if d.is_floating_point:
        src = np.array([[np.nan, 1.0, -np.inf, 2.0]])
        for reduce in ("amax", "amin"):
            yield Sample((_v(d, (2, 4), 30), 0, ix([[1, 1, 1, 0]]), src, reduce), name=f"{reduce}_nan")


def _index_add_samples(d):
    yield Sample((_v(d, (3, 4)), 0, ix([0, 2, 0, 0]), _v(d, (4, 4), 1)), name="repeats")
    if d is not _dt.bool_:
        yield Sample((S.TensorSpec(_v(d, (4, 3), 2), "transposed"), 1, ix([2, 2], np.int32), _v(d, (4, 2), 3)),
                     {"alpha": 2}, name="transposed_alpha_int32")
    yield Sample((_v(d, (5,), 4), 0, ix([3]), _v(d, (1,), 5)), name="1d")
    yield Sample((_v(d, (2, 3), 6), 1, ix([]), _v(d, (2, 0), 7)), name="empty_index")


def _index_copy_samples(d):
    yield Sample((_v(d, (3, 4)), 1, ix([3, 0]), _v(d, (3, 2), 1)), name="vector")
    yield Sample((S.TensorSpec(_v(d, (4, 3), 2), "transposed"), 0, ix([1]), _v(d, (1, 3), 3)), name="transposed")
    yield Sample((_v(d, (2, 3), 4), 1, ix([]), _v(d, (2, 0), 5)), name="empty_index")


def _index_fill_samples(d):
    fill = True if d is _dt.bool_ else 2
    yield Sample((_v(d, (3, 4)), 1, ix([3, -1, 0]), fill), name="negative_repeats")
    yield Sample((S.TensorSpec(_v(d, (4, 3), 1), "transposed"), 0, ix(2), np.array(_v(d, (1,), 2)[0])),
                 name="tensor_value")


def _masked_select_samples(d):
    rng = np.random.default_rng(3)
    yield Sample((_v(d, (3, 4)), rng.random((3, 4)) < 0.5), name="same_shape")
    yield Sample((S.TensorSpec(_v(d, (4, 3), 1), "transposed"), np.array([True, False, True])), name="broadcast")
    yield Sample((_v(d, (2, 3), 2), np.zeros((2, 3), bool)), name="none_selected")
    yield Sample((_v(d, (0, 3), 3), np.ones((3,), bool)), name="empty")


def _nonzero_samples(d):
    rng = np.random.default_rng(4)
    holes = lambda shape, seed: np.where(rng.random(shape) < 0.4, 0, _v(d, shape, seed))  # noqa: E731
    yield Sample((holes((3, 4), 0),), name="matrix")
    yield Sample((S.TensorSpec(holes((2, 3, 2), 1), "transposed"),), {"as_tuple": True}, name="3d_as_tuple")
    yield Sample((np.array(_v(d, (1,), 2)[0]),), name="0d")
    yield Sample((np.zeros((0, 3)),), name="empty")
    yield Sample((np.zeros((2, 2)),), name="all_zero")
    if d.is_floating_point:
        yield Sample((S.SPECIALS.copy(),), name="specials")


def _index_put_samples(d):
    yield Sample((_v(d, (3, 4)), (ix([0, 2, 0]),), _v(d, (3, 4), 1), True), name="accumulate_repeats")
    yield Sample((_v(d, (3, 4), 2), (ix([0, 2]), ix([[1], [3]])), _v(d, (2,), 3)), name="two_indices_broadcast")
    yield Sample((S.TensorSpec(_v(d, (4, 3), 4), "transposed"), (np.array([True, False, True, False]),),
                  _v(d, (3,), 5)), name="mask")
    yield Sample((_v(d, (2, 3), 6), (ix([], np.int32),), _v(d, (3,), 7), True), name="empty_index")


def _index_put_torch(input, indices, values, accumulate=False):
    import torch

    return torch.index_put(input, _torch_key(indices), values, accumulate)


def _scatter_torch(*args, **kwargs):
    import warnings

    import torch

    with warnings.catch_warnings():  # scatter(reduce=...) with a tensor src is deprecated in PyTorch
        warnings.simplefilter("ignore", UserWarning)
        return torch.scatter(*args, **kwargs)


def _torch_key(key) -> tuple:
    import torch

    return tuple(torch.from_numpy(np.array(k)) if isinstance(k, np.ndarray) else k for k in key)


def _getitem_samples(d):
    yield Sample((_v(d, (3, 4)), (ix([2, 0, 2]),)), name="repeated_rows")
    yield Sample((S.TensorSpec(_v(d, (4, 3), 1), "transposed"), (slice(None), ix([[1], [0]]))), name="transposed_2d")
    yield Sample((_v(d, (2, 3, 4), 2), (ix([0, 1]), slice(1, 3), ix([3, -4]))), name="separated_negative")
    yield Sample((_v(d, (3, 4), 3), (np.array([True, False, True]), None, 1)), name="mask_none_int")
    yield Sample((_v(d, (2, 3), 4), (Ellipsis, ix([], np.int32))), name="empty")


def _assign_samples(d):
    fill = True if d is _dt.bool_ else 2
    yield Sample((_v(d, (3, 4)), (ix([2, 0]),), _v(d, (2, 4), 1)), name="rows")
    yield Sample((S.TensorSpec(_v(d, (4, 3), 2), "transposed"), (np.array([True, False, True, True]), 1), fill),
                 name="mask_int_scalar")
    yield Sample((_v(d, (3, 4), 3), (ix([0, 2, 0]), ix([1, 1, 1])), _v(d, (3,), 4), True), name="accumulate_repeats")
    yield Sample((_v(d, (2, 3, 4), 5), (slice(None), ix([2, 0]), slice(1, 3)), _v(d, (2,), 6)), name="broadcast_value")


def _assign_torch(input, key, values, accumulate=False):
    import torch

    if accumulate:
        return torch.index_put(input, _torch_key(key), values, True)
    out = input.clone()
    out[_torch_key(key)] = values
    return out


def _errors(*items):
    return lambda: [ErrorInput(Sample(args, kwargs), err, match) for args, kwargs, err, match in items]


F, I = np.ones((2, 3)), ix([[0, 1]])
_TOLERANCES = {_dt.float16: (4e-3, 1e-2), _dt.bfloat16: (3e-2, 6e-2)}  # sums/products round each step


def _doc(signature: str, summary: str, example: str, result: str) -> str:
    return (f"{signature} -> Tensor\n\n{summary}\n\n    >>> import neurarust as nr\n    >>> {example}\n"
            f"    {result}\n")


def _op(name: str, frontend, dtypes, *, samples, errors, doc: str, reference, inplace: bool = False,
        torch_name=None, backward=None, differentiable=None, method: bool = True, bind=None, **attrs) -> Op:
    return register(Op(method=method, bind=bind,
        name=name, kind="indexing", frontend=frontend, reference=reference, triton=TRITON, dtypes=dtypes,
        samples=samples, error_inputs=errors, tolerances=_TOLERANCES, inplace=f"{name}_" if inplace else None,
        torch_name=torch_name or name, attrs=attrs, doc=doc, backward=backward, differentiable=differentiable,
    ))


_op("gather", gather, ALL, reference=_ref_gather, samples=_gather_samples,
    errors=_errors(((F, 1, np.ones((1, 2))), {}, TypeError, "dtype int32 or int64"),
            ((F, 1, ix([[0, 3]])), {}, IndexError,
             r"index 3 is out of bounds for dimension 1 with size 3 \(indices must lie in \[0, 3\)\)"),
            ((F, 1, ix([0, 1])), {}, ValueError, "as many dims")),
    doc=_doc("gather(input, dim, index, *, sparse_grad=False, out=None)", gather.__doc__,
         "nr.gather(nr.tensor([[1, 2], [3, 4]]), 1, nr.tensor([[0, 0], [1, 0]])).tolist()", "[[1, 1], [4, 3]]"),
    backward=_gather_backward, differentiable=("input",))
_op("index_select", index_select, ALL, reference=_ref_index_select, samples=_index_select_samples,
    errors=_errors(((F, 0, ix([[0]])), {}, ValueError, "vector"), ((F, 1, ix([-1])), {}, IndexError, r"\[0, 3\)"),
            ((F, 0, np.array([0.0])), {}, TypeError, "index")),
    doc=_doc("index_select(input, dim, index, *, out=None)", index_select.__doc__,
         "nr.tensor([[1, 2, 3], [4, 5, 6]]).index_select(1, nr.tensor([2, 0])).tolist()", "[[3, 1], [6, 4]]"),
    backward=_index_select_backward, differentiable=("input",), bind=_binding_input_shape(index_select))
_op("take", take, ALL, reference=_ref_take, samples=_take_samples,
    errors=_errors(((F, ix([6])), {}, IndexError, r"index 6 is out of range for a tensor of 6 elements"),
            ((F, ix([0], np.int32)), {}, TypeError, "int64")),
    doc=_doc("take(input, index)", take.__doc__, "nr.take(nr.tensor([[1, 2], [3, 4]]), nr.tensor([0, -1])).tolist()",
         "[1, 4]"),
    backward=_take_backward, differentiable=("input",))
_op("scatter", scatter, ALL, reference=_ref_scatter, samples=_scatter_samples,
    errors=_errors(((F, 1, I, np.ones((1, 2), np.int64)), {}, TypeError, "src of dtype"),
            ((F, 1, I, 1.0), {"reduce": "max"}, ValueError, "reduce"),
            ((F, 0, ix([[2, 0]]), 1.0), {}, IndexError, "dimension 0 with size 2")),
    doc=_doc("scatter(input, dim, index, src=None, value=None, *, reduce=None)", scatter.__doc__,
         "nr.zeros(2, 3).scatter(1, nr.tensor([[2], [0]]), 5.0).tolist()", "[[0.0, 0.0, 5.0], [5.0, 0.0, 0.0]]"),
    inplace=True, torch_name=_scatter_torch, backward=_scatter_backward, differentiable=("input", "src"))
_op("scatter_add", scatter_add, ALL, reference=_ref_scatter, samples=_scatter_add_samples,
    errors=_errors(((F, 1, I, np.ones((1, 1))), {}, ValueError, "larger than"),),
    doc=_doc("scatter_add(input, dim, index, src)", scatter_add.__doc__,
         "nr.zeros(3).scatter_add(0, nr.tensor([0, 0, 2]), nr.tensor([1.0, 2.0, 3.0])).tolist()", "[3.0, 0.0, 3.0]"),
    inplace=True, backward=_scatter_add_backward, differentiable=("input", "src"))
_op("scatter_reduce", scatter_reduce, ALL, reference=_ref_scatter, samples=_scatter_reduce_samples,
    errors=_errors(((F, 1, I, F, "max"), {}, ValueError, "reduce argument"),
            ((np.array([True]), 0, ix([0]), np.array([True]), "mean"), {}, TypeError, "bool")),
    doc=_doc("scatter_reduce(input, dim, index, src, reduce, *, include_self=True)", scatter_reduce.__doc__,
         "nr.tensor([5.0, 5.0]).scatter_reduce(0, nr.tensor([0, 0]), nr.tensor([1.0, 9.0]), 'amax').tolist()",
         "[9.0, 5.0]"),
    inplace=True, backward=_scatter_reduce_backward, differentiable=("input", "src"))
_op("index_add", index_add, ALL, reference=_ref_index_add, samples=_index_add_samples,
    errors=_errors(((F, 0, ix([0]), np.ones((2, 3))), {}, ValueError, "source of shape"),
            ((F, 0, ix([0]), np.ones((1, 3), np.int64)), {}, TypeError, "source of dtype")),
    doc=_doc("index_add(input, dim, index, source, *, alpha=1)", index_add.__doc__,
         "nr.zeros(3).index_add(0, nr.tensor([0, 0]), nr.tensor([1.0, 2.0]), alpha=2).tolist()", "[6.0, 0.0, 0.0]"),
    inplace=True, backward=_index_add_backward, differentiable=("input", "source"))
_op("index_copy", index_copy, ALL, reference=_ref_index_copy, samples=_index_copy_samples,
    errors=_errors(((F, 0, ix([0], np.int32), np.ones((1, 3))), {}, TypeError, "int64"),
            ((F, 1, ix([3]), np.ones((2, 1))), {}, IndexError, "size 3")),
    doc=_doc("index_copy(input, dim, index, source)", index_copy.__doc__,
         "nr.zeros(2, 2).index_copy(1, nr.tensor([1]), nr.ones(2, 1)).tolist()", "[[0.0, 1.0], [0.0, 1.0]]"),
    inplace=True, backward=_index_copy_backward, differentiable=("input", "source"), index_dtypes=LONG)
_op("index_fill", index_fill, ALL, reference=_ref_index_fill, samples=_index_fill_samples,
    errors=_errors(((F, 1, ix([-4]), 1.0), {}, IndexError, r"\[-3, 3\)"),),
    doc=_doc("index_fill(input, dim, index, value)", index_fill.__doc__,
         "nr.zeros(2, 3).index_fill(1, nr.tensor([0, -1]), 7.0).tolist()", "[[7.0, 0.0, 7.0], [7.0, 0.0, 7.0]]"),
    inplace=True, backward=_index_fill_backward, differentiable=("input",), index_dtypes=LONG, negative=True)
_op("masked_select", masked_select, ALL, reference=_ref_masked_select, samples=_masked_select_samples,
    errors=_errors(((F, np.ones((2, 3), np.int64)), {}, TypeError, "bool mask"),),
    doc=_doc("masked_select(input, mask, *, out=None)", masked_select.__doc__,
         "nr.tensor([[1, 2], [3, 4]]).masked_select(nr.tensor([True, False])).tolist()", "[1, 3]"),
    backward=_masked_select_backward, differentiable=("input",))
_op("nonzero", nonzero, ALL, reference=_ref_nonzero, samples=_nonzero_samples, errors=_errors(),
    doc=_doc("nonzero(input, *, out=None, as_tuple=False)", nonzero.__doc__,
         "nr.tensor([[0, 1], [2, 0]]).nonzero().tolist()", "[[0, 1], [1, 0]]"),
    differentiable=())
_op("index_put", index_put, ALL, reference=_ref_index_put, samples=_index_put_samples,
    errors=_errors(((F, (ix([0]),), np.ones(3, np.int64)), {}, TypeError, "values of dtype"),
            ((F, (ix([2]),), np.ones(3)), {}, IndexError, "dimension 0 with size 2")),
    doc=_doc("index_put(input, indices, values, accumulate=False)", index_put.__doc__,
         "nr.zeros(3).index_put((nr.tensor([0, 0]),), nr.tensor(1.0), accumulate=True).tolist()", "[2.0, 0.0, 0.0]"),
    inplace=True, torch_name=_index_put_torch, backward=_index_put_backward, differentiable=("input", "values"))
# Internal ops behind Tensor.__getitem__/__setitem__ with advanced keys (autograd records them).
_op("index", _getitem, ALL, reference=_ref_getitem, samples=_getitem_samples,
    errors=_errors(((F, (ix([2]),)), {}, IndexError, "dimension 0 with size 2"),
                   ((F, (np.array([0.5]),)), {}, TypeError, "indices")),
    doc=_doc("index(input, key)", _getitem.__doc__, "nr.arange(5)[[4, 0]].tolist()", "[4, 0]"),
    torch_name=lambda input, key: input[_torch_key(key)], backward=_getitem_backward, differentiable=("input",),
    method=False, public=False, bind=_binding_input_shape(_getitem))
_op("index_assign", _assign, ALL, reference=_ref_assign, samples=_assign_samples,
    errors=_errors(((F, (ix([0]), ix([0, 1, 2, 3])), 1.0), {}, IndexError, "size 3"),),
    doc=_doc("index_assign(input, key, values, accumulate=False)", _assign.__doc__,
             "x = nr.zeros(3); x[[0, 2]] = 1.0; x.tolist()", "[1.0, 0.0, 1.0]"),
    torch_name=_assign_torch, backward=_assign_backward, differentiable=("input", "values"), method=False,
    public=False)

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).
autocast_class(("index_put", "scatter_add"), cuda="promote")
autocast_class(("index_copy",), cpu="promote")
