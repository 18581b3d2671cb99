"""Reductions: sum, mean, prod, amax/amin, argmax/argmin, max/min (three forms), var/std (and
var_mean/std_mean), logsumexp, all/any, norm and linalg.vector_norm, one registry entry each.

All run the one reduction Triton kernel (``reduction_triton.py``) with a different combine
(``attrs["kind"]``; norm picks its kind from ``p``). The shared front end normalises ``dim`` (an
int, a tuple/list of ints, or None/() for every dim), picks the result dtype as PyTorch does (sums
and products of bool and integers give int64, all/any give bool, logsumexp of integers the default
float dtype; ``dtype=`` casts the input first), rejects reductions PyTorch rejects (max of nothing,
mean of integers, var of integers), and runs the NumPy reference or the kernel. References
accumulate as the kernel does: fp16/bf16 in fp32, integers in int64.

    >>> import neurarust as nr
    >>> x = nr.tensor([[1.0, 5.0, 2.0], [4.0, 0.0, 4.0]])
    >>> x.sum(1).tolist(), x.amax(dim=0).tolist(), x.argmax().item()
    ([8.0, 8.0], [4.0, 5.0, 4.0], 1)
"""
from __future__ import annotations

import importlib
from collections import namedtuple
from typing import Sequence

import numpy as np

import neurarust as nr
from neurarust import backends
from neurarust import dtype as _dt
from neurarust.dtype import DType
from neurarust.errors import ArgumentError, DTypeError, IndexOutOfRangeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, TuneSpec, autocast_class, call, get, register
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
# Kinds that pick one element per row (the kernel tracks its index); they cannot reduce nothing.
SELECT_KINDS = ("max", "min", "argmax", "argmin", "norm_inf", "norm_ninf")
FOLD_IN_RESULT = ("sum", "mean", "prod", "var", "std", "logsumexp", "norm0", "norm1", "norm2", "normp")


# ----------------------------------------------------------------------------------------------
# The shared front end
# ----------------------------------------------------------------------------------------------

def _reduced_dims(op: Op, dim, ndim: int) -> tuple[int, ...]:
    """Sorted, distinct reduced dims; None or an empty tuple/list means every dim."""
    if op.attrs.get("int_dim") and isinstance(dim, (tuple, list)):
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


def accumulates_in(kind: str, src: DType, out: DType) -> DType:
    """Folds accumulate in the result's class (int8 sums in int64, ``dtype=float64`` sums in float64,
    logsumexp of integers in float32); selections and all/any in the input's.

    >>> from neurarust import dtype as dt
    >>> accumulates_in("sum", dt.int8, dt.int64), accumulates_in("any", dt.float16, dt.bool_)
    (neurarust.int64, neurarust.float32)
    """
    return acc_dtype(out if kind in FOLD_IN_RESULT else src)


def run_along_dim(op: Op, input: Tensor, d: int, out_dtype: DType, flag) -> Tensor:
    """The shared tail of ops that keep the shape and work along one dim (cumsum, softmax): cast
    first as PyTorch does, then the NumPy reference (accumulating as the kernel does) or the kernel,
    which gets ``flag`` (its variant) after ``(out, input, dim)``."""
    if out_dtype is not input.dtype and not np.can_cast(input.dtype.np, out_dtype.np, "safe"):
        input = call("cast", input, out_dtype)  # the kernel widens on load
    if backends.for_device(input._storage.device) == "reference":
        a = input._np().astype(acc_dtype(out_dtype).np)
        r = np.asarray(backends.run_reference(op.reference, a, d if input.ndim else None))
        return Tensor._wrap(np.array(r.reshape(input.shape).astype(out_dtype.np), order="C"), out_dtype)
    out = Tensor._empty(input.shape, out_dtype, input.device)
    op.launcher()(out, input, d, flag)
    return out


def _result_dtype(op: Op, kind: str, src: DType, dtype) -> DType:
    if kind in ARGS:
        return _dt.int64
    if kind in ("all", "any"):
        return _dt.uint8 if src is _dt.uint8 else _dt.bool_  # PyTorch keeps uint8
    if dtype is not None:
        out = _dt.as_dtype(dtype)
    elif kind in ("sum", "prod") and not src.is_floating_point:
        out = _dt.int64
    elif kind == "logsumexp" and not src.is_floating_point:
        out = _dt.get_default_dtype()
    else:
        out = src
    if kind == "mean" and not out.is_floating_point:
        which = "Optional dtype" if dtype is not None else "Input dtype"
        raise DTypeError(f"mean(): could not infer output dtype. {which} must be a floating point dtype, got {out}")
    return out


def _check_input(op: Op, x) -> None:
    if not isinstance(x, Tensor):
        raise SignatureError(f"{op.name}(): argument 'input' must be a Tensor, not {type(x).__name__}")
    if x._dtype not in op.dtypes and op.attrs["kind"] != "mean":
        raise DTypeError(f"{op.name}() does not support {x.dtype} input; "
                         f"supported: {', '.join(d.name for d in op.dtypes)}")


def _check_not_empty(op: Op, kind: str, x: Tensor, dims: tuple[int, ...], param: float) -> None:
    no_identity = kind in SELECT_KINDS or (kind == "normp" and param < 0)
    if no_identity and any(x.shape[d] == 0 for d in dims):
        raise IndexOutOfRangeError(f"{op.name}(): cannot reduce over an empty dimension: input of shape "
                                   f"{list(x.shape)}, reduced dims {list(dims)}")


def _reduce(op: Op, x: Tensor, dim, keepdim: bool = False, dtype=None, *, kind: str | None = None,
            param: float = 0.0, aux: bool = False):
    """Reduce ``x`` over ``dim`` with combine ``kind`` (default: the op's); the body of every
    reduction's front end. With ``aux`` it returns (result, indices) for max/min, (result, mean) for
    var/std."""
    kind = kind or op.attrs["kind"]
    _check_input(op, x)
    in_shape = x._shape
    dims = _reduced_dims(op, dim, len(in_shape))
    out_dtype = _result_dtype(op, kind, x._dtype, dtype)
    _check_not_empty(op, kind, x, dims, param)
    aux_dtype = (_dt.int64 if kind in SELECT_KINDS else out_dtype) if aux else None
    # PyTorch casts the input to ``dtype`` first; the kernel converts on load where that is exact.
    cast_first = dtype is not None and out_dtype is not x._dtype and not np.can_cast(x._dtype.np, out_dtype.np, "safe")
    if len(dims) == len(in_shape) and not keepdim:
        kept = shape = ()  # the common full reduction
    else:
        kept = tuple(s for i, s in enumerate(in_shape) if i not in dims)
        shape = tuple(1 if i in dims else s for i, s in enumerate(in_shape)) if keepdim else kept
    if backends.for_device(x._storage.device) == "reference":
        return _run_reference(op, kind, x, dims, shape, out_dtype, aux_dtype, out_dtype if cast_first else None, param)
    src = call("cast", x, out_dtype) if cast_first else x
    out = Tensor._empty(kept, out_dtype, x.device)
    extra = Tensor._empty(kept, aux_dtype, x.device) if aux else None
    op.launcher()(out, src, dims, kind, aux=extra, param=param)
    out = out._view(shape, contiguous_strides(shape), 0)
    return (out, extra._view(shape, contiguous_strides(shape), 0)) if aux else out


def _run_reference(op: Op, kind: str, x: Tensor, dims, shape, out_dtype: DType, aux_dtype: DType | None,
                   cast: DType | None, param: float):
    a = x._np()
    if cast is not None:
        a = a.astype(cast.np)
    acc = accumulates_in(kind, x._dtype, out_dtype).np
    if a.dtype is not acc:
        a = a.astype(acc, copy=False)
    out = _owned_result(backends.run_reference(REFERENCES[kind], a, dims, param), a, shape, out_dtype)
    if aux_dtype is None:
        return out
    return out, _owned_result(backends.run_reference(AUX_REFERENCES[kind], a, dims, param), a, shape, aux_dtype)


def _owned_result(r, a: np.ndarray, shape, d: DType) -> Tensor:
    """A reference's result as a tensor owning its memory (a reduction may return a view of ``a``)."""
    if type(r) is not np.ndarray:  # a NumPy scalar (a full reduction): a new array of it is ours
        return Tensor._wrap(np.array(r, dtype=d.np).reshape(shape), d)
    r = r.reshape(shape).astype(d.np, copy=False)
    if np.may_share_memory(r, a) or not r.flags.c_contiguous:
        r = np.array(r, order="C")
    return Tensor._wrap(r, d)


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


def prod(op: Op, input: Tensor, dim: int | None = None, keepdim: bool = False, *,
         dtype: DType | None = None) -> Tensor:
    """Product of ``input``'s elements along ``dim`` (an int), or of all of them.

    Bool and integer products give int64 (wrapping on overflow); ``dtype`` casts the input first.

        >>> import neurarust as nr
        >>> x = nr.tensor([[1, 2, 3], [4, 5, 6]])
        >>> nr.prod(x, 1).tolist(), x.prod().item(), x.prod(0, dtype=nr.float32).tolist()
        ([6, 120], 720, [4.0, 10.0, 18.0])
    """
    return _reduce(op, input, dim, keepdim, dtype)


MaxResult = namedtuple("max", ("values", "indices"))
MinResult = namedtuple("min", ("values", "indices"))


def max_min(op: Op, input: Tensor, dim: int | Tensor | None = None, keepdim: bool = False, *,
            other: Tensor | None = None):
    """Three calls, as in PyTorch: ``max(input)`` is the 0-d max of every element; ``max(input, dim,
    keepdim=False)`` is a named tuple ``(values, indices)`` along ``dim`` (first index on ties, NaN
    wins); ``max(input, other)`` is :func:`maximum`.

        >>> import neurarust as nr
        >>> x = nr.tensor([[1.0, 9.0, 9.0], [4.0, 0.0, 4.0]])
        >>> x.max().item(), nr.max(x, 1).indices.tolist(), nr.min(x, dim=0).values.tolist()
        (9.0, [1, 0], [1.0, 0.0, 4.0])
        >>> values, indices = x.max(1, keepdim=True); values.shape
        neurarust.Size([2, 1])
    """
    kind = op.attrs["kind"]
    if isinstance(dim, Tensor) or other is not None:
        return call("maximum" if kind == "max" else "minimum", input, dim if other is None else other)
    if dim is None:
        if keepdim:
            raise SignatureError(f"{op.name}(): keepdim needs a dim")
        return _reduce(op, input, None)
    values, indices = _reduce(op, input, dim, keepdim, aux=True)
    return (MaxResult if kind == "max" else MinResult)(values, indices)


def _bind_max_min(args: tuple, kwargs: dict) -> dict:
    """Autograd's view of a max/min call: ``dim`` holding a Tensor is the ``other`` operand."""
    names = ("input", "dim", "keepdim")
    bound = {"dim": None, "keepdim": False, "other": None, **dict(zip(names, args)), **kwargs}
    if isinstance(bound["dim"], Tensor):
        bound["other"], bound["dim"] = bound["dim"], None
    return bound


def _correction(op: Op, unbiased, correction) -> float:
    if unbiased is not None and correction is not None:
        raise SignatureError(f"{op.name}(): pass either unbiased or correction, not both")
    if correction is not None:
        return float(correction)
    return 0.0 if unbiased is False else 1.0


def var_std(op: Op, input: Tensor, dim: int | Sequence[int] | None = None, unbiased: bool | None = None,
            keepdim: bool = False, *, correction: float | None = None):
    """Variance (or standard deviation) over ``dim`` (an int, a tuple, or None for all), dividing the
    squared deviations by ``max(N - correction, 0)``: ``correction=1`` (the default, or
    ``unbiased=True``) is Bessel's. One element with correction 1 gives NaN, as in PyTorch.
    ``var_mean``/``std_mean`` also return the mean: ``(var, mean)``.

        >>> import neurarust as nr
        >>> x = nr.tensor([[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0]])
        >>> nr.var(x, 1).tolist(), x.std(dim=1, correction=0).tolist()[1], x.var(unbiased=False).item()
        ([1.6666666269302368, 0.0], 0.0, 0.6875)
        >>> [t.tolist() for t in nr.var_mean(x, 1)]
        [[1.6666666269302368, 0.0], [2.5, 2.0]]
    """
    if isinstance(dim, bool):  # var(input, unbiased)
        dim, unbiased = None, dim
    return _reduce(op, input, dim, keepdim, param=_correction(op, unbiased, correction), aux=op.attrs["aux"])


def logsumexp(op: Op, input: Tensor, dim: int | Sequence[int], keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input)))`` over ``dim``, computed around the max so that it neither overflows nor
    underflows; rows of -inf give -inf, a +inf gives +inf. Integers give the default float dtype.

        >>> import neurarust as nr
        >>> x = nr.tensor([[0.0, 0.0], [10.0, 10.0]])
        >>> [round(v, 4) for v in nr.logsumexp(x, 1).tolist()]
        [0.6931, 10.6931]
    """
    return _reduce(op, input, dim, keepdim)


def all_any(op: Op, input: Tensor, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
    """Whether every (any) element along ``dim`` (all dims if None) is nonzero; NaN is nonzero.
    Bool results (uint8 for uint8 input, as in PyTorch); nothing reduces to True (False).

        >>> import neurarust as nr
        >>> x = nr.tensor([[1.0, 0.0], [2.0, 3.0]])
        >>> nr.all(x, 1).tolist(), x.any().item(), nr.any(x, dim=0).tolist()
        ([False, True], True, [True, True])
    """
    return _reduce(op, input, dim, keepdim)


def _norm_kind(op: Op, p) -> tuple[str, float]:
    """(kernel kind, parameter) of a p-norm: inf and -inf select, 0 counts, 1 and 2 are plain sums."""
    if p == "fro":
        return "norm2", 0.0
    if isinstance(p, str) or isinstance(p, bool) or not isinstance(p, (int, float)):
        raise ArgumentError(f"{op.name}(): unsupported norm order {p!r} (numbers and 'fro' are supported)")
    p = float(p)
    named = {float("inf"): "norm_inf", float("-inf"): "norm_ninf", 0.0: "norm0", 1.0: "norm1", 2.0: "norm2"}
    return named.get(p, "normp"), (0.0 if p in named else p)


def _norm(op: Op, x: Tensor, p, dim, keepdim: bool, dtype) -> Tensor:
    kind, param = _norm_kind(op, p)
    if dtype is not None and not _dt.as_dtype(dtype).is_floating_point:
        raise DTypeError(f"{op.name}(): dtype must be a floating point dtype, got {dtype}")
    return _reduce(op, x, dim, keepdim, dtype, kind=kind, param=param)


def norm(op: Op, input: Tensor, p: float | str = "fro", dim: int | Sequence[int] | None = None,
         keepdim: bool = False, dtype: DType | None = None) -> Tensor:
    """The vector p-norm of ``input`` over ``dim`` (all dims if None), as ``torch.norm``: ``p`` is a
    number (``inf``: max |x|, ``-inf``: min |x|, 0: count of nonzeros) or ``'fro'`` (the 2-norm).

        >>> import neurarust as nr
        >>> x = nr.tensor([[3.0, -4.0], [0.0, 0.0]])
        >>> x.norm().item(), nr.norm(x, 1, dim=1).tolist(), nr.norm(x, float("inf")).item()
        (5.0, [7.0, 0.0], 4.0)
    """
    return _norm(op, input, p, dim, keepdim, dtype)


def vector_norm(op: Op, x: Tensor, ord: float = 2, dim: int | Sequence[int] | None = None, keepdim: bool = False,
                *, dtype: DType | None = None) -> Tensor:
    """``linalg.vector_norm``: the ``ord``-norm of ``x`` over ``dim`` (all dims if None), with
    ``sum(|x|**ord)**(1/ord)`` for finite ``ord``, max |x| for inf, min |x| for -inf.

        >>> import neurarust as nr
        >>> nr.linalg.vector_norm(nr.tensor([[3.0, -4.0], [1.0, 0.0]]), dim=1).tolist()
        [5.0, 1.0]
    """
    if isinstance(ord, str):
        raise SignatureError(f"linalg.vector_norm(): argument 'ord' must be a number, not {ord!r}")
    return _norm(op, x, ord, dim, keepdim, dtype)


# ----------------------------------------------------------------------------------------------
# NumPy references: ``a`` is already in the accumulation dtype, ``dims`` sorted (the front end
# reshapes the result to the output shape); ``param`` is var's correction or a p-norm's p
# ----------------------------------------------------------------------------------------------

def _count(a: np.ndarray, dims) -> int:
    return int(np.prod([a.shape[d] for d in dims]))


def _ref_sum(a: np.ndarray, dims, param=0.0) -> np.ndarray:
    return np.add.reduce(a, axis=dims)


def _ref_mean(a: np.ndarray, dims, param=0.0) -> np.ndarray:
    return np.sum(a, axis=dims) / a.dtype.type(_count(a, dims))  # 0 / 0 = NaN, as in PyTorch


def _ref_prod(a: np.ndarray, dims, param=0.0) -> np.ndarray:
    return np.multiply.reduce(a, axis=dims)  # integers wrap, as in PyTorch


def _ref_amax(a: np.ndarray, dims, param=0.0) -> np.ndarray:
    return np.max(a, axis=dims)  # propagates NaN


def _ref_amin(a: np.ndarray, dims, param=0.0) -> np.ndarray:
    return np.min(a, axis=dims)


def _ref_argmax(a: np.ndarray, dims, param=0.0) -> np.ndarray:
    return np.argmax(a, axis=dims[0] if len(dims) == 1 else None)  # first NaN, else first max


def _ref_argmin(a: np.ndarray, dims, param=0.0) -> np.ndarray:
    return np.argmin(a, axis=dims[0] if len(dims) == 1 else None)


def _ref_var(a: np.ndarray, dims, correction=1.0) -> np.ndarray:
    """Two passes, as the kernel: the mean, then the squared deviations from it."""
    n = _count(a, dims)
    mean = np.sum(a, axis=dims, keepdims=True) / a.dtype.type(n)
    squares = np.sum(np.square(a - mean), axis=dims)
    return squares / a.dtype.type(max(n - correction, 0))


def _ref_std(a: np.ndarray, dims, correction=1.0) -> np.ndarray:
    return np.sqrt(_ref_var(a, dims, correction))


def _ref_logsumexp(a: np.ndarray, dims, param=0.0) -> np.ndarray:
    top = np.max(a, axis=dims, keepdims=True, initial=-np.inf)
    center = np.where(np.isinf(top), a.dtype.type(0), top)  # all -inf: log(0) = -inf; +inf: +inf
    return (np.log(np.sum(np.exp(a - center), axis=dims, keepdims=True)) + center).squeeze(axis=dims)


def _ref_all(a: np.ndarray, dims, param=0.0) -> np.ndarray:
    return np.all(a, axis=dims)  # NaN is truthy


def _ref_any(a: np.ndarray, dims, param=0.0) -> np.ndarray:
    return np.any(a, axis=dims)


def _ref_norm0(a, dims, p=0.0):
    return np.sum(a != 0, axis=dims).astype(a.dtype)


def _ref_norm1(a, dims, p=1.0):
    return np.sum(np.abs(a), axis=dims)


def _ref_norm2(a, dims, p=2.0):
    return np.sqrt(np.sum(np.square(a), axis=dims))


def _ref_normp(a, dims, p):
    return np.power(np.sum(np.power(np.abs(a), a.dtype.type(p)), axis=dims), a.dtype.type(1.0 / p))


def _ref_norm_inf(a, dims, p=0.0):
    return np.max(np.abs(a), axis=dims)


def _ref_norm_ninf(a, dims, p=0.0):
    return np.min(np.abs(a), axis=dims)


REFERENCES = {"sum": _ref_sum, "mean": _ref_mean, "prod": _ref_prod, "max": _ref_amax, "min": _ref_amin,
              "argmax": _ref_argmax, "argmin": _ref_argmin, "var": _ref_var, "std": _ref_std,
              "logsumexp": _ref_logsumexp, "all": _ref_all, "any": _ref_any, "norm0": _ref_norm0,
              "norm1": _ref_norm1, "norm2": _ref_norm2, "normp": _ref_normp, "norm_inf": _ref_norm_inf,
              "norm_ninf": _ref_norm_ninf}
# The second result of max/min with a dim (indices) and of var_mean/std_mean (the mean).
AUX_REFERENCES = {"max": _ref_argmax, "min": _ref_argmin, "var": _ref_mean, "std": _ref_mean}


def _ref_norm(a: np.ndarray, dims, p=2.0) -> np.ndarray:
    """Any p-norm (the entry's reference; the front end calls the kind's own)."""
    kind, param = _norm_kind(get("norm"), p)
    return REFERENCES[kind](a, dims, param)


# ----------------------------------------------------------------------------------------------
# Samples, errors and tolerances
# ----------------------------------------------------------------------------------------------

def _reduced_size(sample: Sample) -> int:
    x = S.array_of(sample.args[0])
    dim = sample.args[1] if len(sample.args) > 1 else sample.kwargs.get("dim")
    if dim is None or isinstance(dim, bool) or (isinstance(dim, (tuple, list)) and not dim) or x.ndim == 0:
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


# ----------------------------------------------------------------------------------------------
# Derivatives (PyTorch's), written with public ops so that they run as kernels and can be
# differentiated again. ``dim``/``keepdim`` are the call's own arguments.
# ----------------------------------------------------------------------------------------------

def _dims_of(x: Tensor, dim) -> tuple[int, ...]:
    if dim is None or isinstance(dim, bool) or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(x.ndim))
    items = dim if isinstance(dim, (tuple, list)) else (dim,)
    return tuple(sorted(normalize_dim(int(d), x.ndim) for d in items)) if x.ndim else ()


def _kept(t: Tensor, x: Tensor, dim, keepdim: bool) -> Tensor:
    """A reduced result (or its gradient) with the reduced dims put back as size 1."""
    if not keepdim:
        for d in _dims_of(x, dim):
            t = t.unsqueeze(d)
    return t


def _count_of(x: Tensor, dim) -> int:
    return int(np.prod([x.shape[d] for d in _dims_of(x, dim)]))


def _sum_backward(grad, input, dim=None, keepdim=False):
    return (_kept(grad, input, dim, keepdim).expand(input.shape),)


def _mean_backward(grad, input, dim=None, keepdim=False):
    return (_kept(grad, input, dim, keepdim).expand(input.shape) / _count_of(input, dim),)


def _select_backward(grad, input, result, dim, keepdim):
    """amax/amin (and max(input)): the gradient split evenly among the elements equal to the result;
    a NaN result is shared by the NaNs (PyTorch's max(input); its amax gives the whole slice NaN)."""
    kept = _kept(result, input, dim, keepdim)
    hit = input == kept
    if input.dtype.is_floating_point:
        hit = hit | (input.isnan() & kept.isnan())
    share = _kept(grad, input, dim, keepdim) / hit.sum(_dims_of(input, dim), keepdim=True)
    return nr.where(hit, share, 0.0)


def _amax_backward(grad, input, result, dim=(), keepdim=False):
    return (_select_backward(grad, input, result, dim, keepdim),)


def _exclusive_cumprod(x: Tensor, d: int) -> Tensor:
    """The product of the elements before each one along ``d`` (1 for the first)."""
    head = nr.ones_like(x.narrow(d, 0, 1))
    return nr.cat([head, x.narrow(d, 0, x.shape[d] - 1).cumprod(d)], d)


def _prod_backward(grad, input, result, dim=None, keepdim=False):
    """Each element's gradient is the product of the others: the products before it times those
    after it (exclusive cumprods from both ends), so zeros are handled exactly, as in PyTorch."""
    g = _kept(grad, input, dim, keepdim)
    if input.ndim == 0 or input.numel() == 0:
        return (g.expand(input.shape),)
    x, d = (input.reshape(-1), 0) if dim is None else (input, normalize_dim(dim, input.ndim))
    others = _exclusive_cumprod(x, d) * _exclusive_cumprod(x.flip([d]), d).flip([d])
    return (g * others.reshape(input.shape),)


def _max_min_backward(kind: str):
    def backward(grad, input, result, dim=None, keepdim=False, other=None):
        """max(input): as amax; max(input, dim): the values' gradient scattered to the indices;
        max(input, other): maximum's (equal elements share the gradient in halves)."""
        if other is not None:
            # Each side loses only where the other is strictly better: a NaN sends the gradient to both.
            wins, loses = (input > other, input < other) if kind == "max" else (input < other, input > other)
            half = grad / 2
            tie = input == other
            return (nr.where(tie, half, nr.where(loses, 0.0, grad)), nr.where(tie, half, nr.where(wins, 0.0, grad)))
        if dim is None:
            return (_select_backward(grad, input, result, None, False), None)
        values_grad, indices = grad[0], result[1]
        if values_grad is None or input.ndim == 0:
            return (values_grad, None)
        if not keepdim:
            values_grad, indices = values_grad.unsqueeze(dim), indices.unsqueeze(dim)
        return (nr.zeros_like(input).scatter(dim, indices, values_grad), None)
    return backward


def _var_backward(root: bool):
    def backward(grad, input, result, dim=None, unbiased=None, keepdim=False, correction=None):
        """d var = 2 (x - mean) / (N - correction) and d std = d var / (2 std); var_mean/std_mean
        add the mean's gradient, spread evenly."""
        if isinstance(dim, bool):  # var(input, unbiased)
            dim, unbiased = None, dim
        c = float(correction) if correction is not None else (0.0 if unbiased is False else 1.0)
        pair = isinstance(result, tuple)
        value, value_grad = (result[0], grad[0]) if pair else (result, grad)
        n = _count_of(input, dim)
        total = None
        if value_grad is not None:
            mean = input.mean(_dims_of(input, dim), keepdim=True)
            # PyTorch's 2 / (N - correction) as is, negative when correction > N.
            total = _kept(value_grad, input, dim, keepdim) * (input - mean) * (2.0 / (n - c) if n != c else float("inf"))
            if root:  # a zero std (a constant slice) passes no gradient, as in PyTorch
                std = _kept(value, input, dim, keepdim)
                total = nr.where(std == 0, 0.0, total / (2 * std))
        if pair and grad[1] is not None:
            mean_grad = _kept(grad[1], input, dim, keepdim).expand(input.shape) / n
            total = mean_grad if total is None else total + mean_grad
        return (total,)
    return backward


def _logsumexp_backward(grad, input, result, dim, keepdim=False):
    return (_kept(grad, input, dim, keepdim) * nr.exp(input - _kept(result, input, dim, keepdim)),)


def _norm_backward_p(grad, input, result, p, dim, keepdim):
    kind, param = _norm_kind(get("norm"), p)
    g, r = _kept(grad, input, dim, keepdim), _kept(result, input, dim, keepdim)
    if kind == "norm0":
        return (nr.zeros_like(input),)
    if kind == "norm1":
        return (g * nr.sign(input),)
    if kind == "norm2":
        return (g * nr.where(r == 0, 0.0, input / r),)  # the 2-norm's subgradient 0 at 0, as PyTorch
    if kind in ("norm_inf", "norm_ninf"):
        return (nr.sign(input) * _select_backward(grad, nr.abs(input), result, dim, keepdim),)
    return (g * input * nr.pow(nr.abs(input), param - 2) / nr.pow(r, param - 1),)


def _norm_backward(grad, input, result, p="fro", dim=None, keepdim=False):
    return _norm_backward_p(grad, input, result, p, dim, keepdim)


def _vector_norm_backward(grad, x, result, ord=2, dim=None, keepdim=False):
    return _norm_backward_p(grad, x, result, ord, dim, keepdim)


def reduction_op(name: str, *, frontend, reference, dtypes, samples, errors, tolerances=None, kind=None,
                 torch_name=None, attrs=None, **fields) -> Op:
    """Register one reduction; ``attrs["kind"]`` is the kernel's combine (sum, mean, max, ...)."""
    kind = kind or {"amax": "max", "amin": "min"}.get(name, name)
    return register(Op(
        name=name, kind="reduction", frontend=frontend, reference=reference, triton=TRITON,
        dtypes=tuple(dtypes), samples=samples, error_inputs=errors, tolerances=tolerances or {},
        cost=_cost, tune=TuneSpec(configs=CONFIGS, default=DEFAULT_CONFIG), torch_name=torch_name or name,
        attrs={"kind": kind, **(attrs or {})}, **fields,
    ))


def _float_tolerances(per_element: bool) -> dict:
    return {d: _sum_tolerance(d, per_element) for d in _dt.FLOAT_DTYPES}


reduction_op("sum", frontend=sum_mean, reference=_ref_sum, dtypes=_dt.ALL_DTYPES, samples=_sum_samples,
             errors=_sum_errors, tolerances=_float_tolerances(per_element=False), backward=_sum_backward,
             differentiable=("input",))
reduction_op("mean", frontend=sum_mean, reference=_ref_mean, dtypes=_dt.FLOAT_DTYPES, samples=_sum_samples,
             errors=_mean_errors, tolerances=_float_tolerances(per_element=True), backward=_mean_backward,
             differentiable=("input",))
for _name, _ref in (("amax", _ref_amax), ("amin", _ref_amin)):
    reduction_op(_name, frontend=amax_amin, reference=_ref, dtypes=_dt.ALL_DTYPES, samples=_max_samples,
                 errors=_max_errors(_name), backward=_amax_backward, differentiable=("input",))
for _name, _ref in (("argmax", _ref_argmax), ("argmin", _ref_argmin)):
    reduction_op(_name, frontend=argmax_argmin, reference=_ref, dtypes=_dt.NUMERIC_DTYPES, samples=_arg_samples,
                 errors=_max_errors(_name), attrs={"int_dim": True}, differentiable=())


# ----------------------------------------------------------------------------------------------
# prod, max/min, var/std, logsumexp, all/any, norms: samples and tolerances
# ----------------------------------------------------------------------------------------------

def _map_values(sample: Sample, f) -> Sample:
    """``sample`` with ``f`` applied to its first tensor's values (the layout kept)."""
    x = sample.args[0]
    x = S.TensorSpec(f(x.values), x.layout) if isinstance(x, S.TensorSpec) else np.asarray(f(np.asarray(x)))
    return Sample((x,) + tuple(sample.args[1:]), sample.kwargs, sample.name)


def _eps(d: DType, sample: Sample) -> float:
    target = sample.kwargs.get("dtype")
    return max(_dt.finfo(t).eps for t in (d, target or d) if _dt.as_dtype(t).is_floating_point)


def _biggest(sample: Sample) -> float:
    x = np.abs(S.array_of(sample.args[0]).astype(np.float64))
    return float(x[np.isfinite(x)].max(initial=0.0))


def _prod_samples(d: DType):
    # Floats near +-1 (|x| <= 1.2) so that no row over- or underflows at some order of the products
    # and not at another.
    for s in _common_samples(d):
        yield s if s.name == "specials" or not d.is_floating_point else _map_values(s, lambda a: a / 2.5)
    yield Sample((np.array([[2.0, 0.0, 3.0], [1.0, -1.0, -0.0]]), 1), name="zeros")
    yield Sample((S.values(d, (3, 0), 12), 1), name="empty_reduction")
    yield Sample((S.values(d, (0,), 13),), name="empty")
    target = _dt.float64 if d.is_floating_point else _dt.float32
    yield Sample((S.values(d, (4, 9), 14) / (2.5 if d.is_floating_point else 1), 0), {"dtype": target},
                 name=f"dtype_{target.name}")


def _prod_tolerance(d: DType):
    """Each product rounds once: relative error n * eps; underflow to subnormals is absolute."""
    def tolerance(sample: Sample):
        eps = _eps(d, sample)
        return (_reduced_size(sample) + 2) * eps, 2 * float(_dt.finfo(d).tiny)
    return tolerance


def _prod_errors():
    yield ErrorInput(Sample((np.ones((2, 3)), 2)), IndexError, "out of range")
    yield ErrorInput(Sample((np.ones((2, 3)), (0, 1))), TypeError, "must be int")


def _max_min_samples(d: DType):
    yield from _common_samples(d)
    yield from _tie_samples(d)
    yield Sample((S.values(d, (3, 1), 16), S.values(d, (4,), 17)), name="other_broadcast")


def _max_min_errors(name: str):
    def errors():
        yield ErrorInput(Sample((np.ones((2, 3)), 2)), IndexError, "out of range")
        yield ErrorInput(Sample((np.ones((0, 3)),)), IndexError, r"empty dimension: input of shape \[0, 3\]")
        yield ErrorInput(Sample((np.ones((2, 0)), 1)), IndexError, r"shape \[2, 0\]")
        yield ErrorInput(Sample((np.ones((2, 3)),), {"keepdim": True}), TypeError, "needs a dim")
        yield ErrorInput(Sample((np.ones((2, 3)), (0, 1))), TypeError, "must be int")
    return errors


def _var_samples(d: DType):
    v = lambda shape, seed=0: S.values(d, shape, seed)  # noqa: E731
    yield from _common_samples(d)
    yield Sample((v((2, 3, 4), 9), (0, 2)), name="two_dims")
    yield Sample((S.TensorSpec(v((2, 3, 2, 3, 2), 11), "transposed"), (0, 2, 4)), name="unmergeable_dims")
    yield Sample((v((3, 6), 18), 1), {"correction": 0, "keepdim": True}, name="correction_0")
    yield Sample((v((3, 6), 19), -1, True), name="unbiased_positional")
    yield Sample((v((3, 6), 20), False), name="unbiased_only")
    yield Sample((v((2, 3), 21), 1), {"correction": 3}, name="correction_past_n")
    yield Sample((v((3, 1), 22), 1), name="one_element")
    yield Sample((v((3, 0), 23), 1), name="empty_reduction")
    yield Sample((v((2, 5), 24) + 1000.0, 1), name="large_mean")


def _var_mean_samples(d: DType):
    """var_mean/std_mean share var's path; a few samples check the second result."""
    keep = ("dim1_odd_length", "two_dims", "0d", "correction_0", "empty_reduction")
    return (s for s in _var_samples(d) if s.name in keep)


def _var_tolerance(d: DType, root: bool):
    """The squared deviations' sum errs by up to eps * n * max|x - mean|**2; divided by n - c."""
    def tolerance(sample: Sample):
        eps = _eps(d, sample)
        x = S.array_of(sample.args[0]).astype(np.float64)
        finite = x[np.isfinite(x)]
        spread = float(np.ptp(finite)) if finite.size else 0.0
        n = max(_reduced_size(sample), 1)
        atol = 4 * eps * n * max(spread, 1.0) ** 2 / max(n - 1, 1) + 4 * eps * _biggest(sample)
        return 4 * eps, (np.sqrt(atol) if root else atol) + 1e-30
    return tolerance


def _var_errors():
    yield from _dim_errors("var")
    yield ErrorInput(Sample((np.arange(3),)), TypeError, "does not support")
    yield ErrorInput(Sample((np.ones(3), 0), {"unbiased": True, "correction": 0}), TypeError, "not both")


def _with_all_dims(sample: Sample) -> Sample:
    """logsumexp needs ``dim``: a sample without one reduces every dim."""
    if len(sample.args) > 1 or "dim" in sample.kwargs:
        return sample
    ndim = S.array_of(sample.args[0]).ndim
    return Sample(sample.args + (tuple(range(ndim)) or 0,), sample.kwargs, sample.name)


def _logsumexp_samples(d: DType):
    for s in _common_samples(d):
        yield _with_all_dims(s)
    yield Sample((S.values(d, (2, 3, 4), 9), (0, 2)), name="two_dims")
    yield Sample((S.values(d, (3, 0), 12), 1), name="empty_reduction")
    if d.is_floating_point:
        inf, nan = np.inf, np.nan
        rows = np.array([[-inf, -inf, -inf], [inf, 1.0, -inf], [nan, 1.0, 2.0], [80.0, 90.0, 100.0]])
        yield Sample((rows, 1), name="infinities_and_no_overflow")


def _logsumexp_tolerance(d: DType):
    def tolerance(sample: Sample):
        eps = _eps(_dt.float32 if not d.is_floating_point else d, sample)
        return 4 * eps, eps * (4 * _biggest(sample) + _reduced_size(sample) + 4)
    return tolerance


def _all_any_samples(d: DType):
    yield from _common_samples(d)
    yield Sample((S.values(d, (2, 3, 4), 9), (0, 2)), name="two_dims")
    yield Sample((np.array([[0, 0, 0], [1, 0, 2], [3, 4, 5]]), 1), name="zeros")
    long = np.ones((2, 1500))
    long[0, -1] = 0  # the one zero (nonzero) sits in the last chunk
    yield Sample((long, 1), name="long_rows")
    yield Sample((1 - long, 1), name="long_rows_inverted")
    yield Sample((S.values(d, (3, 0), 12), 1), name="empty_reduction")
    yield Sample((S.values(d, (0,), 13),), name="empty")


def _all_any_errors():
    yield from _dim_errors("all")


def _norm_samples(name: str):
    order = "p" if name == "norm" else "ord"

    def samples(d: DType):
        v = lambda shape, seed=0: S.values(d, shape, seed)  # noqa: E731
        yield Sample((v((3, 5)),), name="default")
        yield Sample((v((3, 37), 1),), {order: 1, "dim": 1}, name="p1")
        yield Sample((S.TensorSpec(v((5, 6), 4), "transposed"),), {order: float("inf"), "dim": 1}, name="inf")
        yield Sample((S.TensorSpec(v((7, 3), 5), "strided"),), {order: -float("inf"), "dim": 0, "keepdim": True},
                     name="minus_inf_strided")
        yield Sample((v((2, 1500), 3),), {order: 2, "dim": -1}, name="longer_than_a_block")
        yield Sample((v((2, 3, 4), 9),), {order: 3, "dim": (0, 2)}, name="p3_two_dims")
        yield Sample((v((3, 4), 10),), {order: 0, "dim": 1}, name="p0")
        yield Sample((v((3, 4), 11) + 0.5,), {order: -1.5, "dim": 1}, name="negative_p")
        yield Sample((np.array(v((1,), 6)[0]),), name="0d")
        yield Sample((v((3, 0), 12),), {order: 2, "dim": 1}, name="empty_reduction")
        yield Sample((S.SPECIALS.reshape(2, 5),), {order: 2, "dim": 1}, name="specials")
        yield Sample((S.SPECIALS.reshape(2, 5),), {order: float("inf"), "dim": 1}, name="specials_inf")
        if name == "norm":
            yield Sample((v((2, 3), 13),), {"p": "fro", "dim": (0, 1), "keepdim": True}, name="fro")
        target = _dt.float64
        yield Sample((v((4, 9), 14),), {"dim": 0, "dtype": target}, name="dtype_float64")
    return samples


def _norm_tolerance(d: DType):
    """Sums of non-negative terms err by n * eps relative; |x|**p (exp2/log2) by a few 1e-7."""
    def tolerance(sample: Sample):
        eps = _eps(d, sample)
        p = sample.kwargs.get("p", sample.kwargs.get("ord", 2))
        pow_error = 4e-6 if p not in (0, 1, 2, "fro", float("inf"), -float("inf")) else 0.0
        return max((_reduced_size(sample) + 4) * eps, pow_error), 2 * float(_dt.finfo(d).tiny)
    return tolerance


def _norm_errors(name: str):
    order = "p" if name == "norm" else "ord"

    def errors():
        yield ErrorInput(Sample((np.ones((2, 3)),), {"dim": 2}), IndexError, "out of range")
        yield ErrorInput(Sample((np.arange(3),)), TypeError, "does not support")
        yield ErrorInput(Sample((np.ones((2, 0)),), {order: float("inf"), "dim": 1}), IndexError, "empty dimension")
        yield ErrorInput(Sample((np.ones((2, 3)),), {order: "nuc"}), TypeError if name != "norm" else ValueError,
                         "'nuc'")
    return errors


def _torch(path: str):
    """PyTorch's ``path`` (``"linalg.vector_norm"``), resolved at call time: entries import no torch."""
    def fn(*args, **kwargs):
        obj = importlib.import_module("torch")
        for part in path.split("."):
            obj = getattr(obj, part)
        return obj(*args, **kwargs)
    return fn


def _per_dtype(make) -> dict:
    return {d: make(d) for d in _dt.FLOAT_DTYPES}


reduction_op("prod", frontend=prod, reference=_ref_prod, dtypes=_dt.ALL_DTYPES, samples=_prod_samples,
             errors=_prod_errors, tolerances=_per_dtype(_prod_tolerance), attrs={"int_dim": True},
             backward=_prod_backward, differentiable=("input",))
for _name in ("max", "min"):
    reduction_op(_name, frontend=max_min, reference=REFERENCES[_name], dtypes=_dt.ALL_DTYPES,
                 samples=_max_min_samples, errors=_max_min_errors(_name), attrs={"int_dim": True},
                 bind=_bind_max_min, backward=_max_min_backward(_name), differentiable=("input", "other"))
for _name, _kind, _aux in (("var", "var", False), ("std", "std", False), ("var_mean", "var", True),
                           ("std_mean", "std", True)):
    reduction_op(_name, frontend=var_std, reference=REFERENCES[_kind], dtypes=_dt.FLOAT_DTYPES,
                 samples=_var_mean_samples if _aux else _var_samples,
                 errors=_var_errors, tolerances=_per_dtype(lambda d, k=_kind: _var_tolerance(d, k == "std")),
                 kind=_kind, attrs={"aux": _aux}, method=not _aux, backward=_var_backward(_kind == "std"),
                 differentiable=("input",))
reduction_op("logsumexp", frontend=logsumexp, reference=_ref_logsumexp, dtypes=_dt.ALL_DTYPES,
             samples=_logsumexp_samples, errors=_sum_errors, tolerances=_per_dtype(_logsumexp_tolerance),
             backward=_logsumexp_backward, differentiable=("input",))
for _name in ("all", "any"):
    reduction_op(_name, frontend=all_any, reference=REFERENCES[_name], dtypes=_dt.ALL_DTYPES, samples=_all_any_samples,
                 errors=_all_any_errors, differentiable=())
reduction_op("norm", frontend=norm, reference=_ref_norm, dtypes=_dt.FLOAT_DTYPES, samples=_norm_samples("norm"),
             errors=_norm_errors("norm"), tolerances=_per_dtype(_norm_tolerance), kind="norm2",
             backward=_norm_backward, differentiable=("input",))
reduction_op("linalg.vector_norm", frontend=vector_norm, reference=_ref_norm, dtypes=_dt.FLOAT_DTYPES,
             samples=_norm_samples("linalg.vector_norm"), errors=_norm_errors("linalg.vector_norm"),
             tolerances=_per_dtype(_norm_tolerance), kind="norm2", torch_name=_torch("linalg.vector_norm"),
             method=False, backward=_vector_norm_backward, differentiable=("x",))

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).
autocast_class(("sum", "logsumexp", "norm", "linalg.vector_norm"), cuda="fp32")
autocast_class(("prod",), cuda="fp32", cpu="fp32")
