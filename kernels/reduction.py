"""Reductions: sum, mean, amax, amin, argmax, argmin, one registry entry each.

All six run the one reduction Triton kernel (``reduction_triton.py``) with a different combine
(``attrs["kind"]``). The shared front end normalises ``dim`` (an int, a tuple/list of ints, or
None/() for every dim), picks the result dtype as PyTorch does (sums of bool and integers give
int64; ``dtype=`` casts the input first), rejects reductions PyTorch rejects (max of nothing, mean
of integers), and runs the NumPy reference or the kernel. References accumulate as the kernel does:
fp16/bf16 in fp32, integers in int64.

    >>> import neurarust as nr
    >>> x = nr.tensor([[1.0, 5.0, 2.0], [4.0, 0.0, 4.0]])
    >>> x.sum(1).tolist(), x.amax(dim=0).tolist(), x.argmax().item()
    ([8.0, 8.0], [4.0, 5.0, 4.0], 1)
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.dtype import DType
from neurarust.errors import ArgumentError, DTypeError, IndexOutOfRangeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, TuneSpec, call, register
from neurarust.shape import contiguous_strides, normalize_dim
from neurarust.tensor import Tensor

from . import samples as S

TRITON = "neurarust.kernels.reduction_triton:launch"

# (BLOCK_M rows x BLOCK_N reduced elements) tiles; the launcher shrinks a tile to the problem and
# lays its long side along the contiguous axis.
CONFIGS = [
    {"BLOCK_M": 1, "BLOCK_N": 2048, "num_warps": 8},
    {"BLOCK_M": 2, "BLOCK_N": 1024, "num_warps": 4},
    {"BLOCK_M": 4, "BLOCK_N": 512, "num_warps": 4},
    {"BLOCK_M": 8, "BLOCK_N": 256, "num_warps": 4},
    {"BLOCK_M": 16, "BLOCK_N": 128, "num_warps": 4},
    {"BLOCK_M": 32, "BLOCK_N": 64, "num_warps": 4},
]
DEFAULT_CONFIG = CONFIGS[1]

SUMS = ("sum", "mean")
ARGS = ("argmax", "argmin")


# ----------------------------------------------------------------------------------------------
# The shared front end
# ----------------------------------------------------------------------------------------------

def _reduced_dims(op: Op, dim, ndim: int) -> tuple[int, ...]:
    """Sorted, distinct reduced dims; None or an empty tuple/list means every dim."""
    if op.attrs["kind"] in ARGS and isinstance(dim, (tuple, list)):
        raise SignatureError(f"{op.name}(): argument 'dim' must be int, not {type(dim).__name__}")
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    items = dim if isinstance(dim, (tuple, list)) else (dim,)
    norm = [normalize_dim(int(d), ndim) for d in items]
    for d in set(norm):
        if norm.count(d) > 1:
            raise ArgumentError(f"{op.name}(): dim {d} appears multiple times in the list of dims {tuple(items)}")
    return tuple(sorted(norm)) if ndim else ()


def acc_dtype(d: DType) -> DType:
    """What the reference and the kernel accumulate in for values of dtype ``d``.

    >>> from neurarust import dtype as dt
    >>> acc_dtype(dt.bfloat16), acc_dtype(dt.float64), acc_dtype(dt.int8)
    (neurarust.float32, neurarust.float64, neurarust.int64)
    """
    if d.is_floating_point:
        return _dt.float64 if d is _dt.float64 else _dt.float32
    return _dt.int64


def _result_dtype(op: Op, src: DType, dtype) -> DType:
    kind = op.attrs["kind"]
    if kind in ARGS:
        return _dt.int64
    if kind not in SUMS:
        return src
    if dtype is not None:
        out = _dt.as_dtype(dtype)
    else:
        out = _dt.int64 if (kind == "sum" and not src.is_floating_point) else src
    if kind == "mean" and not out.is_floating_point:
        which = "Optional dtype" if dtype is not None else "Input dtype"
        raise DTypeError(f"mean(): could not infer output dtype. {which} must be a floating point dtype, got {out}")
    return out


def _check_input(op: Op, x) -> None:
    if not isinstance(x, Tensor):
        raise SignatureError(f"{op.name}(): argument 'input' must be a Tensor, not {type(x).__name__}")
    if x.dtype not in op.dtypes and op.attrs["kind"] != "mean":
        raise DTypeError(f"{op.name}() does not support {x.dtype} input; "
                         f"supported: {', '.join(d.name for d in op.dtypes)}")


def _check_not_empty(op: Op, x: Tensor, dims: tuple[int, ...]) -> None:
    if op.attrs["kind"] not in SUMS and any(x.shape[d] == 0 for d in dims):
        raise IndexOutOfRangeError(f"{op.name}(): cannot reduce over an empty dimension: input of shape "
                                   f"{list(x.shape)}, reduced dims {list(dims)}")


def _reduce(op: Op, x: Tensor, dim, keepdim: bool = False, dtype=None) -> Tensor:
    """Reduce ``x`` over ``dim`` with ``op``'s combine (the body of every reduction's front end)."""
    _check_input(op, x)
    dims = _reduced_dims(op, dim, x.ndim)
    out_dtype = _result_dtype(op, x.dtype, dtype)
    _check_not_empty(op, x, dims)
    # PyTorch casts the input to ``dtype`` first; the kernel converts on load where that is exact.
    cast_first = dtype is not None and out_dtype is not x.dtype and not np.can_cast(x.dtype.np, out_dtype.np, "safe")
    kept = tuple(s for i, s in enumerate(x.shape) if i not in dims)
    shape = tuple(1 if i in dims else s for i, s in enumerate(x.shape)) if keepdim else kept
    if backends.for_device(x._storage.device) == "reference":
        return _run_reference(op, x, dims, shape, out_dtype, out_dtype if cast_first else None)
    src = call("cast", x, out_dtype) if cast_first else x
    out = Tensor._empty(kept, out_dtype, x.device)
    op.launcher()(out, src, dims, op.attrs["kind"])
    return out._view(shape, contiguous_strides(shape), 0)


def _run_reference(op: Op, x: Tensor, dims, shape, out_dtype: DType, cast: DType | None) -> Tensor:
    a = x._np()
    if cast is not None:
        a = a.astype(cast.np)
    acc = acc_dtype(out_dtype if op.attrs["kind"] in SUMS else x.dtype)
    r = np.asarray(backends.run_reference(op.reference, a.astype(acc.np, copy=False), dims))
    r = r.reshape(shape).astype(out_dtype.np, copy=False)
    if np.may_share_memory(r, a) or not r.flags.c_contiguous:
        r = np.array(r, order="C")  # the result must own its memory
    return Tensor._wrap(r, out_dtype)


def sum_mean(op: Op, input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False, *,
             dtype: DType | None = None) -> Tensor:
    """Sum (or mean) of ``input`` over ``dim`` (an int, a tuple of ints, or None for all).

    Bool and integer sums give int64; fp16/bf16 accumulate in fp32. ``dtype`` casts the input first.

        >>> import neurarust as nr
        >>> x = nr.tensor([[1, 2, 3], [4, 5, 6]])
        >>> nr.sum(x, 1).tolist(), x.sum().dtype, x.mean(dim=(0, 1), dtype=nr.float32).item()
        ([6, 15], neurarust.int64, 3.5)
    """
    return _reduce(op, input, dim, keepdim, dtype)


def amax_amin(op: Op, input: Tensor, dim: int | Sequence[int] = (), keepdim: bool = False) -> Tensor:
    """Max (or min) of ``input`` over ``dim`` (empty = every dim); NaN wins.

        >>> import neurarust as nr
        >>> x = nr.tensor([[1.0, 7.0], [3.0, float("nan")]])
        >>> nr.amax(x, 0).tolist(), x.amin(dim=1, keepdim=True).tolist()
        ([3.0, nan], [[1.0], [nan]])
    """
    return _reduce(op, input, dim, keepdim)


def argmax_argmin(op: Op, input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """int64 index of the max (or min) along ``dim``, or in the flattened tensor when ``dim`` is None.
    Ties go to the first index; NaN counts as the maximum (and the minimum), as in PyTorch.

        >>> import neurarust as nr
        >>> x = nr.tensor([[1.0, 9.0, 9.0], [4.0, 0.0, 4.0]])
        >>> nr.argmax(x, 1).tolist(), x.argmin().item()
        ([1, 0], 4)
    """
    return _reduce(op, input, dim, keepdim)


# ----------------------------------------------------------------------------------------------
# NumPy references: ``a`` is already in the accumulation dtype, ``dims`` sorted (the front end
# reshapes the result to the output shape)
# ----------------------------------------------------------------------------------------------

def _ref_sum(a: np.ndarray, dims) -> np.ndarray:
    return np.add.reduce(a, axis=dims)


def _ref_mean(a: np.ndarray, dims) -> np.ndarray:
    count = int(np.prod([a.shape[d] for d in dims]))
    return np.sum(a, axis=dims) / a.dtype.type(count)  # 0 / 0 = NaN, as in PyTorch


def _ref_amax(a: np.ndarray, dims) -> np.ndarray:
    return np.max(a, axis=dims)  # propagates NaN


def _ref_amin(a: np.ndarray, dims) -> np.ndarray:
    return np.min(a, axis=dims)


def _ref_argmax(a: np.ndarray, dims) -> np.ndarray:
    return np.argmax(a, axis=dims[0] if len(dims) == 1 else None)  # first NaN, else first max


def _ref_argmin(a: np.ndarray, dims) -> np.ndarray:
    return np.argmin(a, axis=dims[0] if len(dims) == 1 else None)


# ----------------------------------------------------------------------------------------------
# Samples, errors and tolerances
# ----------------------------------------------------------------------------------------------

def _reduced_size(sample: Sample) -> int:
    x = S.array_of(sample.args[0])
    dim = sample.args[1] if len(sample.args) > 1 else sample.kwargs.get("dim")
    if dim is None or (isinstance(dim, (tuple, list)) and not dim) or x.ndim == 0:
        return x.size
    items = dim if isinstance(dim, (tuple, list)) else (dim,)
    return int(np.prod([x.shape[d] for d in items]))


def _sum_tolerance(d: DType, per_element: bool):
    """Float sums err by up to eps * (reduced size) * max|x|; a mean divides that by the size."""
    def tolerance(sample: Sample) -> tuple[float, float]:
        target = sample.kwargs.get("dtype")
        eps = max(_dt.finfo(t).eps for t in (d, target or d) if _dt.as_dtype(t).is_floating_point)
        x = np.abs(S.array_of(sample.args[0]).astype(np.float64))
        biggest = float(x[np.isfinite(x)].max(initial=0.0))
        n = 1 if per_element else max(_reduced_size(sample), 1)
        return 2 * eps, eps * n * biggest + 1e-30
    return tolerance


def _common_samples(d: DType):
    v = lambda shape, seed=0: S.values(d, shape, seed)  # noqa: E731
    yield Sample((v((3, 5)),), name="full")
    yield Sample((v((3, 37), 1), 1), name="dim1_odd_length")
    yield Sample((v((2, 3, 4), 2), -2), {"keepdim": True}, name="negative_dim_keepdim")
    yield Sample((v((2, 1500), 3), -1), name="longer_than_a_block")
    yield Sample((S.TensorSpec(v((5, 6), 4), "transposed"), 1), name="transposed")
    yield Sample((S.TensorSpec(v((37, 3), 5), "strided"), 0), {"keepdim": True}, name="strided_dim0")
    yield Sample((np.array(v((1,), 6)[0]),), name="0d")
    yield Sample((np.array(v((1,), 7)[0]), 0, True), name="0d_dim_keepdim")
    yield Sample((v((0, 4), 8), 1), name="empty_kept_dims")
    if d.is_floating_point:
        yield Sample((S.SPECIALS.reshape(2, 5),), {"dim": 1}, name="specials")


def _multi_dim_samples(d: DType):
    v = lambda shape, seed=0: S.values(d, shape, seed)  # noqa: E731
    yield Sample((v((2, 3, 4), 9), (0, 2)), name="two_dims")
    yield Sample((S.TensorSpec(v((3, 4, 5), 10)), [-1, 0]), {"keepdim": True}, name="strided_two_dims_keepdim")
    yield Sample((S.TensorSpec(v((2, 3, 2, 3, 2), 11), "transposed"), (0, 2, 4)), name="unmergeable_dims")


def _sum_samples(d: DType):
    yield from _common_samples(d)
    yield from _multi_dim_samples(d)
    yield Sample((S.values(d, (3, 0), 12), 1), name="empty_reduction")
    yield Sample((S.values(d, (0,), 13),), name="empty")
    targets = (_dt.float64, _dt.float16) if d.is_floating_point else (_dt.float32, _dt.int32)
    for t in targets:
        yield Sample((S.values(d, (4, 9), 14), 0), {"dtype": t}, name=f"dtype_{t.name}")


def _max_samples(d: DType):
    yield from _common_samples(d)
    yield from _multi_dim_samples(d)
    yield from _tie_samples(d)


def _arg_samples(d: DType):
    yield from _common_samples(d)
    yield Sample((S.values(d, (2, 3, 4), 15),), {"keepdim": True}, name="flat_keepdim")
    yield from _tie_samples(d)


def _tie_samples(d: DType):
    if d is _dt.bool_:
        return
    yield Sample((np.array([[1, 3, 3, 0, 3], [2, 2, 2, 2, 2], [0, 1, 0, 1, 0]], np.float64), 1), name="ties")
    yield Sample((np.tile(np.array([[2, 5, 0], [5, 1, 5]], np.float64), (1, 700)),), name="ties_flat_long")
    if d.is_floating_point:
        inf, nan = np.inf, np.nan
        rows = np.array([[-inf, -inf, -inf, -inf], [inf, 1.0, inf, nan], [nan, 2.0, nan, -inf]])
        yield Sample((rows, 1), name="ties_inf_nan")
        yield Sample((rows,), name="ties_inf_nan_flat")


def _dim_errors(name: str):
    yield ErrorInput(Sample((np.ones((2, 3)), 2)), IndexError, "out of range")
    if name not in ARGS:
        yield ErrorInput(Sample((np.ones((2, 3)), (0, -2))), ValueError, "multiple times")


def _sum_errors():
    yield from _dim_errors("sum")


def _mean_errors():
    yield from _dim_errors("mean")
    yield ErrorInput(Sample((np.arange(3),)), TypeError, "floating point")
    yield ErrorInput(Sample((np.ones(3),), {"dtype": _dt.int64}), TypeError, "floating point")


def _max_errors(name: str):
    def errors():
        yield from _dim_errors(name)
        yield ErrorInput(Sample((np.ones((0, 3)),)), IndexError, r"empty dimension: input of shape \[0, 3\]")
        yield ErrorInput(Sample((np.ones((2, 0)), 1)), IndexError, r"shape \[2, 0\]")
        if name in ARGS:
            yield ErrorInput(Sample((np.ones((2, 3)), [0])), TypeError, "must be int")
            yield ErrorInput(Sample((np.array([True, False]),)), TypeError, "bool")
    return errors


def _cost(sample: Sample) -> tuple[int, int]:
    x = S.array_of(sample.args[0])
    return x.nbytes + x.nbytes // max(_reduced_size(sample), 1), x.size


def reduction_op(name: str, *, frontend, reference, dtypes, samples, errors, tolerances=None) -> Op:
    """Register one reduction; ``attrs["kind"]`` is the kernel's combine (sum, mean, max, ...)."""
    kind = {"amax": "max", "amin": "min"}.get(name, name)
    return register(Op(
        name=name, kind="reduction", frontend=frontend, reference=reference, triton=TRITON,
        dtypes=tuple(dtypes), samples=samples, error_inputs=errors, tolerances=tolerances or {},
        cost=_cost, tune=TuneSpec(configs=CONFIGS, default=DEFAULT_CONFIG), torch_name=name,
        attrs={"kind": kind},
    ))


def _float_tolerances(per_element: bool) -> dict:
    return {d: _sum_tolerance(d, per_element) for d in _dt.FLOAT_DTYPES}


reduction_op("sum", frontend=sum_mean, reference=_ref_sum, dtypes=_dt.ALL_DTYPES, samples=_sum_samples,
             errors=_sum_errors, tolerances=_float_tolerances(per_element=False))
reduction_op("mean", frontend=sum_mean, reference=_ref_mean, dtypes=_dt.FLOAT_DTYPES, samples=_sum_samples,
             errors=_mean_errors, tolerances=_float_tolerances(per_element=True))
for _name, _ref in (("amax", _ref_amax), ("amin", _ref_amin)):
    reduction_op(_name, frontend=amax_amin, reference=_ref, dtypes=_dt.ALL_DTYPES, samples=_max_samples,
                 errors=_max_errors(_name))
for _name, _ref in (("argmax", _ref_argmax), ("argmin", _ref_argmin)):
    reduction_op(_name, frontend=argmax_argmin, reference=_ref, dtypes=_dt.NUMERIC_DTYPES, samples=_arg_samples,
                 errors=_max_errors(_name))
