"""Shape and data-movement ops: cat, stack, split, chunk, unbind, repeat, repeat_interleave, tile,
flip, roll, tril, triu, pad, one_hot, meshgrid, one registry entry each.

``split``, ``chunk``, ``unbind`` and ``meshgrid`` return views (``attrs["view"]``: no kernel runs).
``cat`` and ``stack`` copy each input into its slice of the output with the strided copy kernel,
which also casts to the promoted dtype. The others are one launch of the remap kernel
(``movement_triton.py``), which reads every output element from a source element chosen dim by dim
(wrap for repeat/roll, mirror for flip and reflect padding, a fill value outside the input for
constant padding). The NumPy references use NumPy's own functions (``np.concatenate``, ``np.tile``,
``np.roll``, ``np.pad`` ...), so they check the kernels' index arithmetic independently.

    >>> import neurarust as nr
    >>> x = nr.tensor([[1, 2], [3, 4]])
    >>> nr.cat([x, x], dim=1).tolist(), x.flip(0).tolist(), x.repeat(1, 2).tolist()
    ([[1, 2, 1, 2], [3, 4, 3, 4]], [[3, 4], [1, 2]], [[1, 2, 1, 2], [3, 4, 3, 4]])
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.creation import scalar_array, scalar_tensor
from neurarust.dtype import DType
from neurarust.errors import ArgumentError, DeviceError, DTypeError, ShapeError, SignatureError
from neurarust.registry import AutocastWhen, ErrorInput, Op, Sample, autocast_class, register
from neurarust.shape import normalize_dim
from neurarust.tensor import Tensor

from . import samples as S

TRITON = "neurarust.kernels.movement_triton:launch_remap"
ALL = _dt.ALL_DTYPES


# ----------------------------------------------------------------------------------------------
# Shared checks and plumbing
# ----------------------------------------------------------------------------------------------

def _check_tensor(name: str, x, what: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise SignatureError(f"{name}(): argument '{what}' must be a Tensor, not {type(x).__name__}")
    return x


def _tensor_list(name: str, tensors, what: str = "tensors") -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise SignatureError(f"{name}(): argument '{what}' must be a sequence of Tensors, not {type(tensors).__name__}")
    for i, t in enumerate(tensors):
        _check_tensor(name, t, f"{what}[{i}]")
    if len({t.device for t in tensors}) > 1:
        devices = sorted({str(t.device) for t in tensors})
        raise DeviceError(f"{name}(): expected all tensors on one device, got {devices}")
    return list(tensors)


def _ints(name: str, what: str, values) -> tuple[int, ...]:
    """A tuple of Python ints from an int, or a tuple/list (or varargs) of ints."""
    if isinstance(values, (tuple, list)) and len(values) == 1 and isinstance(values[0], (tuple, list)):
        values = values[0]
    items = values if isinstance(values, (tuple, list)) else (values,)
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (numbers.Integral, Tensor)):
            raise SignatureError(f"{name}(): argument '{what}' must be a tuple of ints, got {type(v).__name__}")
    return tuple(int(v) for v in items)


def _distinct_dims(name: str, dims: Sequence[int], ndim: int) -> tuple[int, ...]:
    norm = tuple(normalize_dim(d, ndim) for d in dims)
    for d in norm:
        if norm.count(d) > 1:
            raise ArgumentError(f"{name}(): dim {d} appears multiple times in the list of dims")
    return norm if ndim else ()


def _on_reference(t: Tensor) -> bool:
    return backends.for_device(t._storage.device) == "reference"


def _wrap(arr: np.ndarray, dtype: DType) -> Tensor:
    """A reference result as a new tensor owning C-contiguous memory."""
    return Tensor._wrap(np.array(arr, dtype=dtype.np, order="C", copy=True), dtype)


def _remap(op: Op, x: Tensor, shape, maps, **kw) -> Tensor:
    out = Tensor._empty(shape, x.dtype, x.device)
    op.launcher()(out, x, maps, **kw)
    return out


def _dim_maps(src_shape, out_shape):
    from .movement_triton import DimMap  # imports Triton: only reached on the Triton path

    return [DimMap(s) for s, _ in zip(out_shape, src_shape)]


def _into_out(name: str, result: Tensor, out) -> Tensor:
    if out is None:
        return result
    _check_tensor(name, out, "out")
    if out.shape != result.shape:
        raise ShapeError(f"{name}(): out has shape {list(out.shape)}, the result has shape {list(result.shape)}")
    if _dt.promote_types(result.dtype, out.dtype) is not out.dtype:
        raise DTypeError(f"{name}(): result type {result.dtype} can't be cast to the desired output type {out.dtype}")
    return out.copy_(result)


def _doc(signature: str, summary: str, example: str, result: str) -> str:
    return (f"{signature}\n\n{summary}\n\n"
            f"    >>> import neurarust as nr\n    >>> {example}\n    {result}\n")


def _op(name: str, frontend, reference, samples, errors, *, doc: str, torch_name, method=True, inplace=None,
        dtypes=ALL, backward=None, differentiable=None, bind=None, triton=TRITON, **attrs) -> Op:
    return register(Op(
        name=name, kind="movement", frontend=frontend, reference=reference, triton=triton, dtypes=dtypes,
        samples=samples, error_inputs=errors, method=method, inplace=inplace, torch_name=torch_name,
        attrs=attrs, doc=doc, backward=backward, differentiable=differentiable, bind=bind,
    ))


def _v(d: DType, shape, seed=0):
    return S.values(d, shape, seed)


def _strided(d: DType, shape, seed=0):
    return S.TensorSpec(S.values(d, shape, seed), "strided")


def _transposed(d: DType, shape, seed=0):
    return S.TensorSpec(S.values(d, shape, seed), "transposed")


def _err(args, error, match="", **kwargs):
    return ErrorInput(Sample(tuple(args), kwargs), error, match)


# ----------------------------------------------------------------------------------------------
# cat, stack
# ----------------------------------------------------------------------------------------------

def _promoted(tensors: list[Tensor]) -> DType:
    d = tensors[0].dtype
    for t in tensors[1:]:
        d = _dt.promote_types(d, t.dtype)
    return d


def _cat_shape(name: str, kept: list[Tensor], dim: int) -> tuple[tuple[int, ...], int]:
    for i, t in enumerate(kept):
        if t.ndim == 0:
            raise ShapeError(f"{name}(): zero-dimensional tensor (at position {i}) cannot be concatenated")
    first = kept[0]
    d = normalize_dim(dim, first.ndim)
    for i, t in enumerate(kept[1:], 1):
        if t.ndim != first.ndim:
            raise ShapeError(f"{name}(): tensors must have same number of dimensions: got {first.ndim} and {t.ndim}")
        for k in range(first.ndim):
            if k != d and t.shape[k] != first.shape[k]:
                raise ShapeError(f"{name}(): sizes of tensors must match except in dimension {d}. Expected size "
                                 f"{first.shape[k]} but got size {t.shape[k]} for tensor number {i} in the list")
    shape = list(first.shape)
    shape[d] = sum(t.shape[d] for t in kept)
    return tuple(shape), d


def cat(op: Op, tensors: Sequence[Tensor], dim: int = 0, *, out: Tensor | None = None) -> Tensor:
    """cat(tensors, dim=0, *, out=None) -> Tensor

    The tensors joined along ``dim``; all other sizes must match. The result has the promoted dtype
    of all inputs; 1-D empty tensors are skipped, as in PyTorch. Also ``nr.concat`` and
    ``nr.concatenate``.

        >>> import neurarust as nr
        >>> nr.cat([nr.tensor([[1, 2]]), nr.tensor([[3.5, 4.0]])]).tolist()
        [[1.0, 2.0], [3.5, 4.0]]
    """
    tensors = _tensor_list(op.name, tensors)
    if not tensors:
        raise ArgumentError(f"{op.name}(): expected a non-empty list of Tensors")
    dtype = _promoted(tensors)
    kept = [t for t in tensors if t.shape != (0,)]
    if not kept:
        shape, d, kept = (0,), 0, tensors[:1]
    else:
        shape, d = _cat_shape(op.name, kept, dim)
    if _on_reference(kept[0]):
        arrays = [t._np().astype(dtype.np) for t in kept]
        return _into_out(op.name, _wrap(backends.run_reference(op.reference, arrays, d), dtype), out)
    result = Tensor._empty(shape, dtype, kept[0].device)
    start = 0
    for t in kept:
        if t.numel():
            result.narrow(d, start, t.shape[d]).copy_(t)
        start += t.shape[d]
    return _into_out(op.name, result, out)


def stack(op: Op, tensors: Sequence[Tensor], dim: int = 0, *, out: Tensor | None = None) -> Tensor:
    """stack(tensors, dim=0, *, out=None) -> Tensor

    Tensors of one shape joined along a new dim ``dim``, in the promoted dtype of all inputs.

        >>> import neurarust as nr
        >>> nr.stack([nr.tensor([1, 2]), nr.tensor([3, 4])], dim=1).tolist()
        [[1, 3], [2, 4]]
    """
    tensors = _tensor_list(op.name, tensors)
    if not tensors:
        raise ArgumentError(f"{op.name}(): expects a non-empty TensorList")
    first = tensors[0]
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != first.shape:
            raise ShapeError(f"{op.name}(): expects each tensor to be equal size, but got {list(first.shape)} at "
                             f"entry 0 and {list(t.shape)} at entry {i}")
    d = normalize_dim(dim, first.ndim, allow_end=True)
    dtype = _promoted(tensors)
    if _on_reference(first):
        arrays = [t._np().astype(dtype.np) for t in tensors]
        return _into_out(op.name, _wrap(backends.run_reference(op.reference, arrays, d), dtype), out)
    shape = first.shape[:d] + (len(tensors),) + first.shape[d:]
    result = Tensor._empty(shape, dtype, first.device)
    lead = (slice(None),) * d
    for i, t in enumerate(tensors):
        if t.numel():
            result[lead + (i,)].copy_(t)
    return _into_out(op.name, result, out)


def _cat_samples(d: DType):
    yield Sample(([_v(d, (2, 3)), _v(d, (1, 3), 1)],), name="dim0")
    yield Sample(([_v(d, (2, 3)), _strided(d, (2, 4), 2), _transposed(d, (2, 2), 3)], -1), name="noncontiguous_dim-1")
    yield Sample(([_v(d, (2, 0)), _v(d, (2, 3), 4)], 1), name="empty_part")
    yield Sample(([_v(d, (0,)), _v(d, (2, 2), 5), _v(d, (0,))],), name="skipped_1d_empty")
    yield Sample(([_v(d, (0,)), _v(d, (0,), 6)],), name="all_empty")
    yield Sample(([_v(d, (3,), 7), np.array([True, False])],), name="mixed_with_bool")


def _stack_samples(d: DType):
    yield Sample(([_v(d, (2, 3)), _v(d, (2, 3), 1)],), name="dim0")
    yield Sample(([_v(d, (2, 3)), _transposed(d, (2, 3), 2)], -1), name="transposed_dim-1")
    yield Sample(([np.array(_v(d, (1,), 3)[0]), np.array(_v(d, (1,), 4)[0])],), name="0d")
    yield Sample(([_v(d, (0, 2)), _v(d, (0, 2), 5)], 1), name="empty")
    yield Sample(([_strided(d, (3,), 6), np.array([True, False, True])], 1), name="mixed_with_bool")


def _cat_errors():
    yield _err([[]], ValueError, "non-empty")
    yield _err([[np.ones((2, 3)), np.ones((2, 2))]], ValueError, "must match except in dimension 0")
    yield _err([[np.ones((2, 3)), np.ones(2)], 1], ValueError, "same number of dimensions")
    yield _err([[np.array(1.0)]], ValueError, "zero-dimensional")
    yield _err([[np.ones((2, 3))], 2], IndexError, "out of range")
    yield _err([np.ones(3)], TypeError, "sequence of Tensors")


def _stack_errors():
    yield _err([[]], ValueError, "non-empty")
    yield _err([[np.ones(2), np.ones(3)]], ValueError, "equal size")
    yield _err([[np.ones(2)], 2], IndexError, "out of range")


def _bind_cat(args: tuple, kwargs: dict) -> dict:
    """cat's arguments, plus the input shapes: all its backward keeps (not the inputs themselves)."""
    tensors = args[0] if args else kwargs["tensors"]
    dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    shapes = [tuple(t.shape) if isinstance(t, Tensor) else None for t in tensors] \
        if isinstance(tensors, (list, tuple)) else None
    return {"tensors": tensors, "dim": dim, "shapes": shapes}


def _cat_backward(grad, shapes, dim):
    """Each input's gradient is its slice of ``grad`` (skipped 1-D empty inputs: an empty one)."""
    from neurarust.creation import zeros

    kept = [s for s in shapes if s != (0,)]
    d = normalize_dim(dim, len(kept[0])) if kept else 0
    grads, start = [], 0
    for s in shapes:
        if s == (0,):
            grads.append(zeros(0, dtype=grad.dtype, device=grad.device))
            continue
        grads.append(grad.narrow(d, start, s[d]))
        start += s[d]
    return (grads,)


def _stack_backward(grad, dim):
    return (list(grad.unbind(normalize_dim(dim, grad.ndim - 1, allow_end=True))),)


_cat_op = _op("cat", cat, lambda arrays, d: np.concatenate(arrays, axis=d), _cat_samples, _cat_errors,
              doc=cat.__doc__, torch_name="cat", method=False,
              backward=_cat_backward, differentiable=("tensors",), bind=_bind_cat)
_op("stack", stack, lambda arrays, d: np.stack(arrays, axis=d), _stack_samples, _stack_errors,
    doc=stack.__doc__, torch_name="stack", method=False, backward=_stack_backward, differentiable=("tensors",))
concat = concatenate = _cat_op  # PyTorch's aliases (nr.concat, nr.concatenate)


# ----------------------------------------------------------------------------------------------
# Views: split, chunk, unbind, meshgrid
# ----------------------------------------------------------------------------------------------

def _split_sizes(name: str, x: Tensor, split_size_or_sections, d: int) -> list[int]:
    n = x.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = list(_ints(name, "split_size_or_sections", split_size_or_sections))
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ShapeError(f"{name}(): split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's "
                             f"size at dimension {d}), but got split_sizes={sizes}")
        return sizes
    (size,) = _ints(name, "split_size_or_sections", split_size_or_sections)
    if size < 0 or (size == 0 and n != 0):
        raise ArgumentError(f"{name}(): split_size can only be 0 if dimension size is 0, but got split_size "
                            f"{size} and dimension size {n}")
    if n == 0:
        return [0]
    return [min(size, n - start) for start in range(0, n, size)]


def _narrows(x: Tensor, d: int, sizes: list[int]) -> tuple[Tensor, ...]:
    parts, start = [], 0
    for s in sizes:
        parts.append(x.narrow(d, start, s))
        start += s
    return tuple(parts)


def split(op: Op, tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """split(tensor, split_size_or_sections, dim=0) -> tuple of Tensors

    Views of ``tensor`` along ``dim``: pieces of ``split_size`` (the last may be shorter), or of the
    listed sizes.

        >>> import neurarust as nr
        >>> [p.tolist() for p in nr.arange(5).split(2)], [p.tolist() for p in nr.arange(5).split([1, 4])]
        ([[0, 1], [2, 3], [4]], [[0], [1, 2, 3, 4]])
    """
    x = _check_tensor(op.name, tensor, "tensor")
    if x.ndim == 0:
        raise ShapeError(f"{op.name}(): expects at least a 1-dimensional tensor")
    d = normalize_dim(dim, x.ndim)
    return _narrows(x, d, _split_sizes(op.name, x, split_size_or_sections, d))


def chunk(op: Op, input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """chunk(input, chunks, dim=0) -> tuple of Tensors

    At most ``chunks`` views of ``input`` along ``dim``, each ``ceil(size / chunks)`` long (the last
    shorter; fewer chunks when the sizes do not allow ``chunks``), as in PyTorch.

        >>> import neurarust as nr
        >>> [c.tolist() for c in nr.arange(6).chunk(4)]
        [[0, 1], [2, 3], [4, 5]]
    """
    x = _check_tensor(op.name, input)
    (chunks,) = _ints(op.name, "chunks", chunks)
    if x.ndim == 0:
        raise ShapeError(f"{op.name}(): expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise ArgumentError(f"{op.name}(): expects `chunks` to be greater than 0, got: {chunks}")
    d = normalize_dim(dim, x.ndim)
    n = x.shape[d]
    if n == 0:
        return _narrows(x, d, [0] * chunks)
    return _narrows(x, d, _split_sizes(op.name, x, -(-n // chunks), d))


def unbind(op: Op, input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """unbind(input, dim=0) -> tuple of Tensors

    The slices of ``input`` along ``dim``, each without that dim (views).

        >>> import neurarust as nr
        >>> [r.tolist() for r in nr.tensor([[1, 2], [3, 4]]).unbind(1)]
        [[1, 3], [2, 4]]
    """
    x = _check_tensor(op.name, input)
    d = normalize_dim(dim, x.ndim, scalar_ok=False)
    lead = (slice(None),) * d
    return tuple(x[lead + (i,)] for i in range(x.shape[d]))


def meshgrid(op: Op, *tensors: Tensor, indexing: str | None = None) -> tuple[Tensor, ...]:
    """meshgrid(*tensors, indexing=None) -> tuple of Tensors

    Coordinate grids from 0-D or 1-D tensors (of one dtype): output ``i`` is ``tensors[i]`` expanded
    along every other dim (views). ``indexing="ij"`` (the default) gives shape ``(len(t0), len(t1),
    ...)``; ``"xy"`` swaps the first two dims (Cartesian indexing).

        >>> import neurarust as nr
        >>> xs, ys = nr.meshgrid(nr.tensor([1, 2, 3]), nr.tensor([4, 5]), indexing="xy")
        >>> xs.tolist(), ys.tolist()
        ([[1, 2, 3], [1, 2, 3]], [[4, 4, 4], [5, 5, 5]])
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    tensors = _tensor_list(op.name, tensors)
    if not tensors:
        raise ArgumentError(f"{op.name}(): expects a non-empty TensorList")
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ArgumentError(f'{op.name}(): indexing must be one of "xy" or "ij", but received: {indexing}')
    for t in tensors:
        if t.ndim > 1:
            raise ShapeError(f"{op.name}(): expected 0D or 1D tensors, got one of shape {list(t.shape)}")
        if t.dtype is not tensors[0].dtype:
            raise DTypeError(f"{op.name}(): expects all tensors to have the same dtype, got {tensors[0].dtype} "
                             f"and {t.dtype}")
    order = _grid_order(len(tensors), indexing)
    shape = tuple(tensors[k].numel() for k in order)
    grids = []
    for k, t in enumerate(tensors):
        at = order.index(k)
        grids.append(t.reshape((1,) * at + (-1,) + (1,) * (len(tensors) - at - 1)).expand(shape))
    return tuple(grids)


def _split_backward(grad, dim, result):
    """split and chunk: the pieces' gradients joined back (zeros for pieces that got none)."""
    return (_grads_cat(grad, result, normalize_dim(dim, result[0].ndim)),)


def _zeros_for_missing(grads, parts) -> list:
    from neurarust.creation import zeros_like

    return [g if g is not None else zeros_like(p) for g, p in zip(grads, parts)]


def _grads_cat(grads, parts, d: int):
    from neurarust.registry import call

    return call("cat", _zeros_for_missing(grads, parts), d)


def _unbind_backward(grad, dim, result):
    from neurarust.registry import call

    return (call("stack", _zeros_for_missing(grad, result), normalize_dim(dim, result[0].ndim + 1)),)


def _grid_order(n: int, indexing: str | None) -> list[int]:
    """Which output dim each meshgrid input runs along ("xy" swaps the first two)."""
    order = list(range(n))
    if indexing == "xy" and n >= 2:
        order[0], order[1] = 1, 0
    return order


def _bind_meshgrid(args: tuple, kwargs: dict) -> dict:
    """``meshgrid(a, b)`` and ``meshgrid([a, b])`` alike: the tensors as one sequence."""
    tensors = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else tuple(args)
    return {"tensors": tensors, "indexing": kwargs.get("indexing")}


def _meshgrid_backward(grad, tensors, indexing=None):
    """Each input's gradient sums its grid's gradient over the dims it was expanded along."""
    order = _grid_order(len(tensors), indexing)
    grads = []
    for k, (g, t) in enumerate(zip(grad, tensors)):
        others = tuple(i for i in range(len(tensors)) if i != order.index(k))
        grads.append(None if g is None else (g.sum(others) if others else g).reshape(t.shape))
    return (grads,)


def _split_samples(d: DType):
    yield Sample((_v(d, (5, 2)), 2), name="size2")
    yield Sample((_transposed(d, (3, 4), 1), [1, 0, 3], -1), name="sections_dim-1")
    yield Sample((_v(d, (0, 3), 2), 2), name="empty")


def _chunk_samples(d: DType):
    yield Sample((_v(d, (6,)), 4), name="fewer_chunks")
    yield Sample((_strided(d, (2, 5), 1), 3, -1), name="strided_dim-1")
    yield Sample((_v(d, (0,), 2), 3), name="empty")


def _unbind_samples(d: DType):
    yield Sample((_v(d, (2, 3)),), name="dim0")
    yield Sample((_transposed(d, (3, 2), 1), -1), name="transposed_dim-1")
    yield Sample((_v(d, (2, 0), 2),), name="empty_slices")


def _meshgrid_samples(d: DType):
    yield Sample((_v(d, (3,)), _v(d, (2,), 1)), {"indexing": "ij"}, name="ij")
    yield Sample((_strided(d, (3,), 2), _v(d, (2,), 3), np.array(_v(d, (1,), 4)[0])), {"indexing": "xy"}, name="xy_0d")
    yield Sample((_v(d, (0,), 5), _v(d, (2,), 6)), {"indexing": "xy"}, name="empty")


_op("split", split, None, _split_samples,
    lambda: [_err([np.ones(3), 0], ValueError, "split_size"), _err([np.ones(3), [1, 1]], ValueError, "sum exactly"),
             _err([np.array(1.0), 1], ValueError, "1-dimensional")],
    doc=split.__doc__, torch_name="split", triton=None, view=True,
    backward=_split_backward, differentiable=("tensor",))
_op("chunk", chunk, None, _chunk_samples,
    lambda: [_err([np.ones(3), 0], ValueError, "greater than 0"), _err([np.ones(3), 2, 1], IndexError, "out of range")],
    doc=chunk.__doc__, torch_name="chunk", triton=None, view=True,
    backward=_split_backward, differentiable=("input",))
_op("unbind", unbind, None, _unbind_samples, lambda: [_err([np.array(1.0)], IndexError, "0-d")],
    doc=unbind.__doc__, torch_name="unbind", triton=None, view=True,
    backward=_unbind_backward, differentiable=("input",))
_op("meshgrid", meshgrid, None, _meshgrid_samples,
    lambda: [_err([np.ones(2), np.ones((3, 1))], ValueError, "0D or 1D", indexing="ij"),
             _err([np.ones(2), np.arange(3)], TypeError, "same dtype", indexing="ij"),
             _err([np.ones(2)], ValueError, "indexing must be", indexing="foo")],
    doc=meshgrid.__doc__, torch_name="meshgrid", method=False, triton=None, view=True,
    backward=_meshgrid_backward, differentiable=("tensors",), bind=_bind_meshgrid)


# ----------------------------------------------------------------------------------------------
# repeat, tile, repeat_interleave
# ----------------------------------------------------------------------------------------------

def _repeat_to(op: Op, x: Tensor, reps: tuple[int, ...]) -> Tensor:
    if len(reps) < x.ndim:
        raise ShapeError(f"{op.name}(): number of dimensions of repeat dims ({len(reps)}) can not be smaller than "
                         f"number of dimensions of tensor ({x.ndim})")
    src = x.reshape((1,) * (len(reps) - x.ndim) + tuple(x.shape))
    shape = tuple(r * m for r, m in zip(reps, src.shape))
    if any(r < 0 for r in reps):
        raise ShapeError(f"{op.name}(): trying to create tensor with negative dimension: repeats {list(reps)}")
    if _on_reference(x):
        return _wrap(backends.run_reference(op.reference, src._np(), reps), x.dtype)
    return _remap(op, src, shape, _dim_maps(src.shape, shape), edge="wrap")


def repeat(op: Op, input: Tensor, *sizes: int) -> Tensor:
    """Tensor.repeat(*sizes) -> Tensor

    ``input`` repeated ``sizes[k]`` times along each dim (extra leading sizes add new dims), copied.

        >>> import neurarust as nr
        >>> nr.tensor([1, 2]).repeat(2, 2).tolist()
        [[1, 2, 1, 2], [1, 2, 1, 2]]
    """
    x = _check_tensor(op.name, input)
    return _repeat_to(op, x, _ints(op.name, "sizes", sizes))


def tile(op: Op, input: Tensor, dims: Sequence[int], *more: int) -> Tensor:
    """tile(input, dims) -> Tensor

    ``repeat`` where ``dims`` shorter than ``input.ndim`` is padded with leading 1s.

        >>> import neurarust as nr
        >>> nr.tile(nr.tensor([[1, 2]]), (2,)).tolist()
        [[1, 2, 1, 2]]
    """
    x = _check_tensor(op.name, input)
    reps = _ints(op.name, "dims", (dims, *more) if more else dims)
    return _repeat_to(op, x, (1,) * (x.ndim - len(reps)) + reps)


def _repeat_counts(op: Op, repeats, m: int) -> tuple[int | None, np.ndarray | None]:
    """(one count for every element, or None) and (the per-element counts, or None)."""
    if isinstance(repeats, Tensor):
        if repeats.dtype not in (_dt.int32, _dt.int64):
            raise DTypeError(f"{op.name}(): repeats must be an int32 or int64 tensor, got {repeats.dtype}")
        if repeats.ndim > 1:
            raise ShapeError(f"{op.name}(): repeats must be 0-dim or 1-dim tensor, got shape {list(repeats.shape)}")
        counts = repeats.numpy(force=True).reshape(-1).astype(np.int64)  # the output size needs them: a sync
        if (counts < 0).any():
            raise ArgumentError(f"{op.name}(): repeats can not be negative")
        if counts.size == 1:
            return int(counts[0]), None
        if counts.size != m:
            raise ShapeError(f"{op.name}(): repeats must have the same size as input along dim, but got "
                             f"repeats.size(0) = {counts.size} and input.size(dim) = {m}")
        return None, counts
    (r,) = _ints(op.name, "repeats", repeats)
    if r < 0:
        raise ArgumentError(f"{op.name}(): repeats must be non-negative, got {r}")
    return r, None


def repeat_interleave(op: Op, input: Tensor, repeats: int | Tensor | None = None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """repeat_interleave(input, repeats, dim=None, *, output_size=None) -> Tensor

    Each element (or each slice along ``dim``) of ``input`` repeated ``repeats`` times in place: an
    int, or a tensor of counts, one per slice. ``dim=None`` works on the flattened input.
    ``repeat_interleave(counts)`` alone repeats ``arange(len(counts))``.

        >>> import neurarust as nr
        >>> x = nr.tensor([[1, 2], [3, 4]])
        >>> x.repeat_interleave(2).tolist(), x.repeat_interleave(nr.tensor([1, 2]), dim=0).tolist()
        ([1, 1, 2, 2, 3, 3, 4, 4], [[1, 2], [3, 4], [3, 4]])
    """
    x = _check_tensor(op.name, input)
    if repeats is None:
        if x.ndim != 1 or x.dtype not in (_dt.int32, _dt.int64):
            raise ShapeError(f"{op.name}(repeats): repeats must be a 1-D int32/int64 tensor, got {x.dtype} "
                             f"of shape {list(x.shape)}")
        from neurarust.registry import call

        x, repeats = call("arange", x.shape[0], dtype=x.dtype, device=x.device), x
    if dim is None:
        x, d = x.reshape(-1), 0
    else:
        d = normalize_dim(dim, x.ndim, scalar_ok=False)
    m = x.shape[d]
    r, counts = _repeat_counts(op, repeats, m)
    total = r * m if counts is None else int(counts.sum())
    if output_size is not None and output_size != total:
        raise ShapeError(f"{op.name}(): output_size {output_size} does not match the required size {total}")
    shape = x.shape[:d] + (total,) + x.shape[d + 1:]
    if _on_reference(x):
        return _wrap(backends.run_reference(op.reference, x._np(), r if counts is None else counts, d), x.dtype)
    maps = _dim_maps(x.shape, shape)
    if counts is None:
        maps[d].div = max(r, 1)
        return _remap(op, x, shape, maps, edge="wrap")
    from .movement_triton import index_table

    return _remap(op, x, shape, maps, edge="wrap", table=index_table(counts, x.device), table_dim=d)


def _repeat_samples(d: DType):
    yield Sample((_v(d, (2, 3)), 2, 1), name="2d")
    yield Sample((_transposed(d, (2, 3), 1), 2, 1, 3), name="new_dim_transposed")
    yield Sample((np.array(_v(d, (1,), 2)[0]), 3), name="0d")
    yield Sample((_v(d, (2, 3), 3), 2, 0), name="zero_repeats")


def _tile_samples(d: DType):
    yield Sample((_strided(d, (2, 3)), (2,)), name="short_dims_strided")
    yield Sample((_v(d, (3,), 1), (2, 1, 2)), name="new_dims")
    yield Sample((_v(d, (0, 2), 2), (2, 2)), name="empty")


def _repeat_interleave_samples(d: DType):
    yield Sample((_v(d, (2, 3)), 2), name="flat")
    yield Sample((_transposed(d, (2, 3), 1), 3, -1), name="dim-1_transposed")
    yield Sample((np.array(_v(d, (1,), 2)[0]), 2), name="0d")
    yield Sample((_v(d, (2, 3), 3), 0, 0), name="zero")
    if d is _dt.int64:  # the harness makes every tensor argument the dtype under test: counts need int64
        yield Sample((_v(d, (3, 2), 4), np.array([2, 0, 3]), 0), name="tensor_counts")
        yield Sample((_strided(d, (2, 3), 5), np.array([2]), 1), name="tensor_one_count")
        yield Sample((np.array([1, 0, 2]),), name="counts_only")


def _repeat_backward(grad, input, sizes):
    reps = _ints("repeat", "sizes", sizes)
    return (_sum_blocks(grad, input, reps),)


def _tile_backward(grad, input, dims, more):
    reps = _ints("tile", "dims", (dims, *more) if more else dims)
    return (_sum_blocks(grad, input, (1,) * (input.ndim - len(reps)) + reps),)


def _sum_blocks(grad, input, reps):
    """Each input element's gradient is the sum over its copies: view the gradient as
    (r0, m0, r1, m1, ...) and sum the r dims (the leading new dims are summed whole)."""
    lead = len(reps) - input.ndim
    shape = [1] * lead + list(input.shape)
    split = []
    for r, m in zip(reps, shape):
        split += [r, m]
    g = grad.reshape(split).sum(tuple(range(0, 2 * len(reps), 2)))
    return g.reshape(input.shape)


def _repeat_interleave_backward(grad, input, repeats, dim):
    """Sum each slice's copies: a reshape for one count, a split by the counts otherwise."""
    from neurarust.registry import call

    d = 0 if dim is None else normalize_dim(dim, input.ndim)
    x_shape = (input.numel(),) if dim is None else tuple(input.shape)
    if isinstance(repeats, Tensor) and repeats.numel() != 1:
        pieces = grad.split(repeats.tolist(), d)
        g = call("cat", [p.sum(d, keepdim=True) for p in pieces], d)
    else:
        r = int(repeats.item() if isinstance(repeats, Tensor) else repeats)
        g = grad.reshape(x_shape[:d] + (x_shape[d], r) + x_shape[d + 1:]).sum(d + 1)
    return (g.reshape(input.shape),)


_op("repeat", repeat, lambda a, reps: np.tile(a, reps), _repeat_samples,
    lambda: [_err([np.ones((2, 3)), 2], ValueError, "can not be smaller"),
             _err([np.ones((2, 3)), 2, -1], ValueError, "negative")],
    doc=repeat.__doc__, torch_name=lambda x, *sizes: x.repeat(*sizes), public=False,
    backward=_repeat_backward, differentiable=("input",))
_op("tile", tile, lambda a, reps: np.tile(a, reps), _tile_samples,
    lambda: [_err([np.ones(2), (2, "a")], TypeError, "tuple of ints")],
    doc=tile.__doc__, torch_name="tile", backward=_tile_backward, differentiable=("input",))
_op("repeat_interleave", repeat_interleave, lambda a, reps, d: np.repeat(a, reps, axis=d), _repeat_interleave_samples,
    lambda: [_err([np.ones((2, 3)), -1, 0], ValueError, "non-negative"),
             _err([np.ones((2, 3)), np.array([1, -2]), 0], ValueError, "can not be negative"),
             _err([np.ones((2, 3)), np.array([1, 2, 3]), 0], ValueError, "same size"),
             _err([np.ones((2, 3)), np.array([1.0, 2.0]), 0], TypeError, "int32 or int64"),
             _err([np.ones((2, 3)), np.array([1, 2]), 0], ValueError, "output_size", output_size=4)],
    doc=repeat_interleave.__doc__, torch_name="repeat_interleave",
    backward=_repeat_interleave_backward, differentiable=("input",))


# ----------------------------------------------------------------------------------------------
# flip, roll
# ----------------------------------------------------------------------------------------------

def flip(op: Op, input: Tensor, dims: int | Sequence[int] = (), *more: int) -> Tensor:
    """flip(input, dims) -> Tensor

    A copy of ``input`` with the order of elements along ``dims`` reversed (``Tensor.flip`` also takes
    the dims as separate arguments).

        >>> import neurarust as nr
        >>> nr.flip(nr.tensor([[1, 2], [3, 4]]), [0, 1]).tolist()
        [[4, 3], [2, 1]]
    """
    x = _check_tensor(op.name, input)
    dims = _distinct_dims(op.name, _ints(op.name, "dims", (dims, *more) if more else dims), x.ndim)
    if _on_reference(x):
        return _wrap(backends.run_reference(op.reference, x._np(), dims), x.dtype)
    maps = _dim_maps(x.shape, x.shape)
    for d in dims:
        maps[d].step, maps[d].shift = -1, x.shape[d] - 1
    return _remap(op, x, x.shape, maps, edge="wrap")


def roll(op: Op, input: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
    """roll(input, shifts, dims=None) -> Tensor

    Elements shifted by ``shifts[k]`` along ``dims[k]``, wrapping around; with ``dims=None`` the
    flattened tensor is rolled and the shape restored.

        >>> import neurarust as nr
        >>> x = nr.tensor([[1, 2, 3], [4, 5, 6]])
        >>> nr.roll(x, 1).tolist(), x.roll((1, -1), (0, 1)).tolist()
        ([[6, 1, 2], [3, 4, 5]], [[5, 6, 4], [2, 3, 1]])
    """
    x = _check_tensor(op.name, input)
    shifts = _ints(op.name, "shifts", shifts)
    dims = () if dims is None else _ints(op.name, "dims", dims)
    if not shifts:
        raise ArgumentError(f"{op.name}(): `shifts` required")
    if not dims:
        if len(shifts) != 1:
            raise ArgumentError(f"{op.name}(): shifts and dimensions must align. shifts: {len(shifts)}, dims: 0")
        return roll(op, x.reshape(-1), shifts, 0).view(x.shape)
    if len(shifts) != len(dims):
        raise ArgumentError(f"{op.name}(): shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}")
    norm = [normalize_dim(d, x.ndim, scalar_ok=False) for d in dims]
    if _on_reference(x):
        return _wrap(backends.run_reference(op.reference, x._np(), shifts, tuple(norm)), x.dtype)
    maps = _dim_maps(x.shape, x.shape)
    for s, d in zip(shifts, norm):
        maps[d].shift -= s
    for mp, m in zip(maps, x.shape):
        mp.shift = mp.shift % m if m else 0
    return _remap(op, x, x.shape, maps, edge="wrap")


def _flip_samples(d: DType):
    yield Sample((_v(d, (2, 3)), (0, 1)), name="both")
    yield Sample((_transposed(d, (3, 4), 1), [-1]), name="transposed_dim-1")
    yield Sample((np.array(_v(d, (1,), 2)[0]), [0]), name="0d")
    yield Sample((_v(d, (2, 0, 3), 3), (1,)), name="empty")
    yield Sample((_strided(d, (2, 3, 2, 3, 2), 4), (0, 2, 4)), name="5d_strided")


def _roll_samples(d: DType):
    yield Sample((_v(d, (2, 3)), 1), name="flat")
    yield Sample((_transposed(d, (3, 4), 1), (-5, 2), (1, -2)), name="two_dims_transposed")
    yield Sample((_v(d, (2, 3), 2), (1, 1), (0, 0)), name="same_dim_twice")
    yield Sample((np.array(_v(d, (1,), 3)[0]), 2), name="0d")
    yield Sample((_v(d, (0, 3), 4), 1, 1), name="empty")


def _flip_backward(grad, dims, more):
    from neurarust.registry import call

    return (call("flip", grad, _ints("flip", "dims", (dims, *more) if more else dims)),)


def _roll_backward(grad, shifts, dims=None):
    from neurarust.registry import call

    return (call("roll", grad, tuple(-s for s in _ints("roll", "shifts", shifts)), dims),)


_op("flip", flip, lambda a, dims: np.flip(a, axis=dims), _flip_samples,
    lambda: [_err([np.ones((2, 3)), (0, 0)], ValueError, "multiple times"),
             _err([np.ones((2, 3)), 2], IndexError, "out of range")],
    doc=flip.__doc__, torch_name="flip", backward=_flip_backward, differentiable=("input",))
_op("roll", roll, lambda a, shifts, dims: np.roll(a, shifts, axis=dims), _roll_samples,
    lambda: [_err([np.ones((2, 3)), (1, 2), 0], ValueError, "must align"),
             _err([np.ones((2, 3)), (1, 2)], ValueError, "must align"),
             _err([np.array(1.0), 1, 0], IndexError, "0-d")],
    doc=roll.__doc__, torch_name="roll", backward=_roll_backward, differentiable=("input",))


# ----------------------------------------------------------------------------------------------
# tril, triu
# ----------------------------------------------------------------------------------------------

def tril_triu(op: Op, input: Tensor, diagonal: int = 0, *, out: Tensor | None = None) -> Tensor:
    x = _check_tensor(op.name, input)
    if x.ndim < 2:
        raise ShapeError(f"{op.name}(): input tensor must have at least 2 dimensions, got shape {list(x.shape)}")
    (k,) = _ints(op.name, "diagonal", diagonal)
    if _on_reference(x):
        result = _wrap(backends.run_reference(op.reference, x._np(), k), x.dtype)
    else:
        result = _remap(op, x, x.shape, _dim_maps(x.shape, x.shape), edge="wrap", tri=op.name, diagonal=k)
    return _into_out(op.name, result, out)


def _tri_samples(d: DType):
    yield Sample((_v(d, (3, 4)),), name="square_ish")
    yield Sample((_transposed(d, (4, 3), 1), -1), name="transposed_below")
    yield Sample((_strided(d, (2, 3, 3), 2), 1), name="batched_strided_above")
    yield Sample((_v(d, (2, 3), 3), 5), name="far_diagonal")
    yield Sample((_v(d, (2, 0, 3), 4),), name="empty")


def _tri_backward(name: str):
    def backward(grad, diagonal=0):
        from neurarust.registry import call

        return (call(name, grad, diagonal),)
    return backward


for _name, _ref, _ex in (("tril", np.tril, "[[1, 0], [3, 4]]"), ("triu", np.triu, "[[1, 2], [0, 4]]")):
    _where = "on and below" if _name == "tril" else "on and above"
    _op(_name, tril_triu, _ref, _tri_samples, lambda: [_err([np.ones(3)], ValueError, "at least 2 dimensions")],
        doc=_doc(f"{_name}(input, diagonal=0, *, out=None) -> Tensor",
                 f"A copy of the matrices in the last two dims of ``input`` keeping the elements {_where} "
                 f"diagonal ``diagonal`` (0: the main one, > 0 above it) and zeroing the rest.",
                 f"nr.{_name}(nr.tensor([[1, 2], [3, 4]])).tolist()", _ex),
        torch_name=_name, inplace=f"{_name}_", backward=_tri_backward(_name), differentiable=("input",))


# ----------------------------------------------------------------------------------------------
# pad (torch.nn.functional.pad), one_hot (torch.nn.functional.one_hot)
# ----------------------------------------------------------------------------------------------

PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "clamp", "circular": "wrap"}
_NP_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad_plan(name: str, x: Tensor, pad, mode: str, value):
    """(the source, (before, after) per dim) with PyTorch's checks. Negative pads crop: circular
    padding crops first and wraps what is left; the other modes index the whole input (a reflection
    may reach into the cropped part), as PyTorch does."""
    pad = _ints(name, "pad", pad)
    if mode not in PAD_MODES:
        raise ArgumentError(f"{name}(): unrecognised padding mode {mode!r}; expected one of {list(PAD_MODES)}")
    if len(pad) % 2:
        raise ArgumentError(f"{name}(): padding length must be divisible by 2, got {len(pad)}")
    k = len(pad) // 2
    if k > x.ndim:
        raise ArgumentError(f"{name}(): padding length should be less than or equal to two times the input "
                            f"dimension but got padding length {len(pad)} and input of dimension {x.ndim}")
    widths = [(0, 0)] * (x.ndim - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    if mode != "constant":
        _check_nonconstant(name, x, widths, k, mode, value)
    for d, (lo, hi) in enumerate(widths):
        if x.shape[d] + lo + hi < 0:
            raise ShapeError(f"{name}(): the input size {x.shape[d]}, plus negative padding {lo} and {hi} "
                             f"resulted in a negative output size")
    if mode != "circular":
        return x, widths
    cropped = x
    for d, (lo, hi) in enumerate(widths):
        start, stop = max(-lo, 0), x.shape[d] - max(-hi, 0)
        cropped = cropped.narrow(d, min(start, x.shape[d]), max(stop - start, 0))
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if all(s + lo + hi for s, (lo, hi) in zip(cropped.shape, widths)):
        _check_nonconstant(name, cropped, widths, k, mode, value)  # wrap once: pads must fit the rest
    return cropped, widths


def _check_nonconstant(name: str, x: Tensor, widths, k: int, mode: str, value) -> None:
    if value is not None:
        raise ArgumentError(f'{name}(): padding mode "{mode}" doesn\'t take in value argument')
    if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise ShapeError(f"{name}(): {mode} padding of {k} dims needs a {k + 1}-D or {k + 2}-D input, "
                         f"got shape {list(x.shape)}")
    batch = 1 if x.ndim == k + 2 else 0
    if any(s == 0 for s in x.shape[batch:]):
        raise ShapeError(f"{name}(): {mode} padding needs non-zero dims (but the batch dim), got {list(x.shape)}")
    for d in range(x.ndim - k, x.ndim):
        lo, hi = widths[d]
        if mode == "reflect" and (lo >= x.shape[d] or hi >= x.shape[d]):
            raise ShapeError(f"{name}(): padding size should be less than the corresponding input dimension, "
                             f"but got: padding ({lo}, {hi}) at dimension {d} of input {list(x.shape)}")
        if mode == "circular" and (lo > x.shape[d] or hi > x.shape[d]):
            raise ShapeError(f"{name}(): padding value causes wrapping around more than once")


def pad(op: Op, input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """pad(input, pad, mode="constant", value=None) -> Tensor

    ``input`` padded (torch.nn.functional.pad): ``pad`` lists (before, after) widths starting from the
    last dim. Modes ``constant`` (``value``, default 0; negative widths crop), ``reflect``,
    ``replicate`` and ``circular`` (1 to 3 padded dims of a 2-D to 5-D input).

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> x = nr.tensor([[1, 2, 3]])
        >>> call("pad", x, (1, 2), value=9).tolist(), call("pad", x, (2, 1), mode="reflect").tolist()
        ([[9, 1, 2, 3, 9, 9]], [[3, 2, 1, 2, 3, 2]])
    """
    x = _check_tensor(op.name, input)
    src, widths = _pad_plan(op.name, x, pad, mode, value)
    shape = tuple(s + lo + hi for s, (lo, hi) in zip(src.shape, widths))
    fill = 0 if value is None else value
    if _on_reference(x):
        fill_array = scalar_array(fill, x.dtype, True)
        return _wrap(backends.run_reference(op.reference, src._np(), widths, mode, fill_array), x.dtype)
    fill_t = scalar_tensor(fill, x.dtype, x.device, check_range=True) if mode == "constant" else None
    maps = _dim_maps(src.shape, shape)
    for mp, (lo, _) in zip(maps, widths):
        mp.shift = -lo
    return _remap(op, src, shape, maps, edge=PAD_MODES[mode], fill=fill_t)


def _ref_pad(a: np.ndarray, widths, mode: str, fill: np.ndarray) -> np.ndarray:
    """Pad by the positive widths, then crop the negative ones."""
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        out = np.full(tuple(s + lo + hi for s, (lo, hi) in zip(a.shape, grow)), fill, dtype=a.dtype)
        out[tuple(slice(lo, lo + s) for s, (lo, _) in zip(a.shape, grow))] = a
    else:
        out = np.pad(a, grow, mode=_NP_PAD_MODES[mode])
    return out[tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(out.shape, widths))]


def _pad_samples(d: DType):
    yield Sample((_v(d, (2, 3)), (1, 2)), name="last_dim")
    yield Sample((_transposed(d, (2, 3), 1), (0, 1, 2, -1)), {"value": 1}, name="two_dims_negative_transposed")
    yield Sample((_v(d, (3,), 2), (-2, -1)), name="crop_to_empty")
    yield Sample((np.array(_v(d, (1,), 3)[0]), ()), name="0d")
    yield Sample((_v(d, (0, 2), 4), (1, 1, 1, 0)), {"value": 1}, name="empty_input")
    if d.kind == "b":
        return
    for mode in ("reflect", "replicate", "circular"):
        yield Sample((_strided(d, (2, 4), 5), (2, -1)), {"mode": mode}, name=f"{mode}_1d")
        yield Sample((_v(d, (1, 3, 3), 6), (1, 2, 2, 0)), {"mode": mode}, name=f"{mode}_2d")


def _pad_errors():
    yield _err([np.ones((2, 3)), (1,)], ValueError, "divisible by 2")
    yield _err([np.ones(3), (1, 1, 1, 1)], ValueError, "less than or equal")
    yield _err([np.ones(3), (-2, -2)], ValueError, "negative output size")
    yield _err([np.ones((1, 3)), (3, 1)], ValueError, "less than the corresponding", mode="reflect")
    yield _err([np.ones((1, 3)), (4, 1)], ValueError, "more than once", mode="circular")
    yield _err([np.ones((1, 3)), (1, 1)], ValueError, "value argument", mode="reflect", value=2)
    yield _err([np.ones(3), (1, 1)], ValueError, "needs a 2-D or 3-D", mode="replicate")
    yield _err([np.ones((1, 3)), (1, 1)], ValueError, "unrecognised", mode="foo")


def _pad_backward(grad, input, pad, mode="constant"):
    """Constant padding: the gradient's inner part (a view), or, where pads crop, the gradient padded
    back with zeros. The other modes read each input element at several places: the gradient of
    each padded dim is summed back onto the input's positions with ``index_add``."""
    from neurarust.registry import call

    widths = _ints("pad", "pad", pad)
    if mode != "constant":
        for i in range(len(widths) // 2):
            d = grad.ndim - 1 - i
            at = _pad_sources(mode, input.shape[d], widths[2 * i], widths[2 * i + 1], grad.shape[d])
            shape = tuple(grad.shape[:d]) + (input.shape[d],) + tuple(grad.shape[d + 1:])
            zeros = Tensor._empty(shape, grad.dtype, grad.device).zero_()
            grad = call("index_add", zeros, d, Tensor._from_array(at).to(grad.device), grad)
        return (grad,)
    if any(w < 0 for w in widths):
        return (call("pad", grad, tuple(-w for w in widths)),)
    for i in range(len(widths) // 2):
        d, lo, hi = grad.ndim - 1 - i, widths[2 * i], widths[2 * i + 1]
        grad = grad.narrow(d, lo, grad.shape[d] - lo - hi)
    return (grad,)


def _pad_sources(mode: str, n: int, lo: int, hi: int, m: int) -> np.ndarray:
    """For each of the ``m`` padded positions along a dim of size ``n`` padded by ``lo`` before and
    ``hi`` after, the input position it copies: reflect and replicate pad, then crop the negative
    widths (numpy.pad's reflect and edge); circular crops first and wraps what is left (PyTorch's)."""
    at = np.arange(m, dtype=np.int64)
    if mode == "circular":
        start = max(-lo, 0)
        return start + (at - max(lo, 0)) % (n - start - max(-hi, 0))
    at -= lo
    if mode == "reflect":
        period = max(2 * (n - 1), 1)
        at = np.abs(at) % period
        return np.where(at >= n, period - at, at)
    return np.clip(at, 0, n - 1)


def _torch_pad(*args, **kwargs):
    import torch.nn.functional as F

    return F.pad(*args, **kwargs)


_op("pad", pad, _ref_pad, _pad_samples, _pad_errors, doc=pad.__doc__, torch_name=_torch_pad, method=False,
    public=False, backward=_pad_backward, differentiable=("input",))


def one_hot(op: Op, tensor: Tensor, num_classes: int = -1) -> Tensor:
    """one_hot(tensor, num_classes=-1) -> Tensor

    int64 one-hot rows (torch.nn.functional.one_hot): ``out[..., c] = (tensor[...] == c)``, with
    ``num_classes`` classes (-1: one more than the largest label, which reads the labels: a sync).

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("one_hot", nr.tensor([0, 2]), 3).tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    x = _check_tensor(op.name, tensor, "tensor")
    if x.dtype is not _dt.int64:
        raise DTypeError(f"{op.name}(): one_hot is only applicable to index tensor of type int64, got {x.dtype}")
    (c,) = _ints(op.name, "num_classes", num_classes)
    labels = x.numpy(force=True)  # checked on the host, as the issue asks (and PyTorch's CPU path does)
    if c == -1:
        if labels.size == 0:
            raise ArgumentError(f"{op.name}(): can not infer total number of classes from empty tensor")
        c = int(labels.max()) + 1
    if labels.size and labels.min() < 0:
        raise ArgumentError(f"{op.name}(): class values must be non-negative")
    if labels.size and labels.max() >= c:
        raise ArgumentError(f"{op.name}(): class values must be smaller than num_classes")
    if _on_reference(x):
        return _wrap(backends.run_reference(op.reference, x._np(), c), _dt.int64)
    out = Tensor._empty(x.shape + (c,), _dt.int64, x.device)
    op.launcher()(out, x.contiguous(), c)
    return out


def _one_hot_samples(d: DType):
    yield Sample((np.array([0, 2, 1, 2]), 4), name="vector")
    yield Sample((S.TensorSpec(np.array([[1, 0], [2, 2], [0, 1]]), "transposed"),), name="inferred_transposed")
    yield Sample((np.array(1), 3), name="0d")
    yield Sample((np.zeros((0, 2), np.int64), 3), name="empty")


def _torch_one_hot(*args, **kwargs):
    import torch.nn.functional as F

    return F.one_hot(*args, **kwargs)


_op("one_hot", one_hot, lambda a, c: (a[..., None] == np.arange(c)).astype(np.int64), _one_hot_samples,
    lambda: [_err([np.array([0, 5]), 4], ValueError, "smaller than num_classes"),
             _err([np.array([-1, 2]), 4], ValueError, "non-negative"),
             _err([np.zeros(0, np.int64)], ValueError, "empty tensor"),
             _err([np.array([0.0, 1.0]), 2], TypeError, "int64")],
    doc=one_hot.__doc__, torch_name=_torch_one_hot, method=False, public=False, dtypes=(_dt.int64,),
    triton="neurarust.kernels.movement_triton:launch_one_hot", differentiable=())

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).
autocast_class(("cat", "stack"), cpu="promote")
autocast_class(("pad",), cpu=AutocastWhen("fp32", lambda bound: bound["mode"] in ("reflect", "replicate")))
