"""Binary search: searchsorted and bucketize, one registry entry each, both run by the one search
Triton kernel (``search_triton.py``).

Semantics are PyTorch's. ``sorted_sequence`` is 1-D (every value searches it) or N-D with the
values' leading dims (each row of values searches its own row); the result has the values' shape
and is int64 (int32 with ``out_int32=True``). Sequence and values are first cast to their common
dtype (a Python scalar counts as a wrapped number, as in ``torch.add``). The search is PyTorch's
bisection, comparison for comparison: ``left`` finds the first ``i`` with ``s[i] >= v``, ``right``
the first with ``s[i] > v``, and since no comparison with NaN holds a NaN value lands at the end of
its row. ``sorter`` (int64 indices that sort each row) reads the sequence through it. Neither op is
differentiable: the result is a set of indices.

    >>> import neurarust as nr
    >>> s = nr.tensor([1.0, 2.0, 2.0, 3.0])
    >>> nr.searchsorted(s, nr.tensor([2.0, 9.0])).tolist(), nr.bucketize(nr.tensor([2.0]), s, right=True).tolist()
    ([1, 4], [3])
"""
from __future__ import annotations

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.creation import scalar_array
from neurarust.errors import ArgumentError, DTypeError, IndexOutOfRangeError, ShapeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, call, register
from neurarust.tensor import Tensor

from . import samples as S
from .indexing import ix

TRITON = "neurarust.kernels.search_triton:launch"
SEARCH_DTYPES = _dt.NUMERIC_DTYPES  # PyTorch has no bool search ("not implemented for 'Bool'")


# ----------------------------------------------------------------------------------------------
# Argument checks (PyTorch's, in its order)
# ----------------------------------------------------------------------------------------------

def _is_right(right: bool, side: str | None) -> bool:
    """``side`` wins over ``right``, which it may not contradict."""
    if side is None:
        return bool(right)
    if side not in ("left", "right"):
        raise ArgumentError(f"searchsorted(): side can only be 'left' or 'right' but got {side}")
    if right and side == "left":
        raise ArgumentError("searchsorted(): side and right can't be set to opposites, got side of left "
                            "while right was True")
    return side == "right"


def _check_shapes(seq: Tensor, values: Tensor) -> None:
    if seq.ndim == 0:
        raise ShapeError("searchsorted(): boundaries tensor should have positive dimension, but got 0 dimension")
    if seq.ndim == 1:
        return
    if values.ndim == 0:
        raise ShapeError(f"searchsorted(): input value can be a scalar only when boundaries tensor dimension "
                         f"is 1, but we got boundaries tensor dim({seq.ndim}) and input value's dim(0) numel(1)")
    if values.ndim != seq.ndim or values.shape[:-1] != seq.shape[:-1]:
        raise ShapeError(f"searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions "
                         f"of boundaries tensor and input value tensor must match, but we got boundaries tensor "
                         f"{list(seq.shape)} and input value tensor {list(values.shape)}")


def _check_sorter(seq: Tensor, sorter) -> Tensor:
    if not isinstance(sorter, Tensor):
        raise SignatureError(f"searchsorted(): sorter must be a Tensor, not {type(sorter).__name__}")
    if sorter.shape != seq.shape:
        raise ShapeError(f"searchsorted(): boundary and sorter must have the same size, but got boundary "
                         f"tensor {list(seq.shape)} and got sorter tensor {list(sorter.shape)}")
    if sorter.dtype is not _dt.int64:
        raise DTypeError(f"searchsorted(): sorter must be a tensor of long dtype but got dtype "
                         f"{sorter.dtype.name}")
    if sorter.device != seq.device:
        raise ArgumentError(f"searchsorted(): sorter on {sorter.device} but boundaries on {seq.device}")
    # A bad index would read outside the row; device asserts are silent, so check here (PyTorch reads
    # the range back to the host too).
    if sorter.numel() and (call("amin", sorter).item() < 0 or call("amax", sorter).item() >= seq.shape[-1]):
        raise IndexOutOfRangeError("searchsorted(): sorter index out of range")
    return sorter


def _as_values(seq: Tensor, input) -> Tensor:
    """``input`` as a tensor of the common dtype of it and ``seq`` (``seq`` is cast by the caller)."""
    if isinstance(input, Tensor):
        if input.device != seq.device:
            raise ArgumentError(f"searchsorted(): input on {input.device} but boundaries on {seq.device}")
        return input
    if isinstance(input, (bool, int, float, np.number)):
        d = _dt.result_type(seq, input)
        t = Tensor._wrap(scalar_array(input, d), d)  # integers wrap to the dtype, as PyTorch's scalar casts
        return t if seq.device.type == "cpu" else t.to(seq.device)
    raise SignatureError(f"searchsorted(): argument 'input' must be a Tensor or a number, not {type(input).__name__}")


# ----------------------------------------------------------------------------------------------
# Front ends
# ----------------------------------------------------------------------------------------------

def _search(op: Op, seq, input, out_int32: bool, right: bool, sorter) -> Tensor:
    if not isinstance(seq, Tensor):
        raise SignatureError(f"{op.name}(): argument 'sorted_sequence' must be a Tensor, not {type(seq).__name__}")
    values = _as_values(seq, input)
    _check_shapes(seq, values)
    common = _dt.result_type(seq, values)
    for t in (seq, values):
        if t.dtype not in SEARCH_DTYPES:
            raise DTypeError(f"{op.name}(): not implemented for '{t.dtype.name}'")
    if sorter is not None:
        sorter = _check_sorter(seq, sorter).contiguous()
    seq, values = (t if t.dtype is common else call("cast", t, common) for t in (seq, values))
    out_dtype = _dt.int32 if out_int32 else _dt.int64
    if backends.for_device(seq._storage.device) == "reference":
        s = None if sorter is None else sorter._np()
        r = backends.run_reference(op.reference, seq._np(), values._np(), right, s)
        return Tensor._wrap(np.array(r, dtype=out_dtype.np, order="C"), out_dtype)
    out = Tensor._empty(values.shape, out_dtype, values.device)
    op.launcher()(out, seq.contiguous(), values.contiguous(), right, sorter)
    return out


def searchsorted(op: Op, sorted_sequence: Tensor, input, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, sorter: Tensor | None = None) -> Tensor:
    """Indices where ``input`` would be inserted into the rows of ``sorted_sequence`` to keep them
    sorted: the first position whose element is ``>= v`` (``> v`` with ``right=True`` or
    ``side="right"``). ``sorter`` holds int64 indices that sort each row of an unsorted sequence.

        >>> import neurarust as nr
        >>> s = nr.tensor([[1, 3, 5], [2, 4, 6]])
        >>> nr.searchsorted(s, nr.tensor([[3], [7]])).tolist(), nr.searchsorted(s[0], 3, side="right").item()
        ([[1], [3]], 2)
    """
    return _search(op, sorted_sequence, input, out_int32, _is_right(right, side), sorter)


def bucketize(op: Op, input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The bucket of every element of ``input`` between the 1-D sorted ``boundaries``: ``i`` with
    ``boundaries[i-1] < v <= boundaries[i]`` (``boundaries[i-1] <= v < boundaries[i]`` with ``right``).

        >>> import neurarust as nr
        >>> nr.bucketize(nr.tensor([0.5, 1.0, 7.0]), nr.tensor([1.0, 5.0])).tolist()
        [0, 0, 2]
    """
    if isinstance(boundaries, Tensor) and boundaries.ndim != 1:
        raise ShapeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return _search(op, boundaries, input, out_int32, bool(right), None)


# ----------------------------------------------------------------------------------------------
# The NumPy reference: PyTorch's bisection, every value at once
# ----------------------------------------------------------------------------------------------

def _ref_search(seq: np.ndarray, values: np.ndarray, right: bool, sorter) -> np.ndarray:
    """int64 insertion points of ``values`` in the rows of ``seq``. Not ``np.searchsorted``: with NaN in
    a row its answer depends on the path of the bisection, which is PyTorch's here, step for step."""
    n = seq.shape[-1]
    rows = seq.reshape(int(np.prod(seq.shape[:-1])), n)
    if sorter is not None:
        rows = np.take_along_axis(rows, sorter.reshape(rows.shape), axis=1)
    if seq.ndim == 1:
        vals = values.reshape(1, -1)
    else:
        vals = values.reshape(rows.shape[0], values.shape[-1])
    if seq.dtype in (np.float16, _dt.bfloat16.np):  # compare as the kernel does (exactly, in fp32)
        rows, vals = rows.astype(np.float32), vals.astype(np.float32)
    lo = np.zeros(vals.shape, np.int64)
    hi = np.full(vals.shape, n, np.int64)
    row = np.arange(vals.shape[0])[:, None]
    for _ in range(n.bit_length()):
        active = lo < hi
        mid = lo + ((hi - lo) >> 1)
        m = rows[row, np.minimum(mid, n - 1)]
        go_right = ~(m > vals) if right else ~(m >= vals)  # NaN compares false: it goes right
        lo = np.where(active & go_right, mid + 1, lo)
        hi = np.where(active & ~go_right, mid, hi)
    return lo.reshape(values.shape)


# ----------------------------------------------------------------------------------------------
# Samples, errors, cost
# ----------------------------------------------------------------------------------------------

def _sorted(d, shape, seed=0) -> np.ndarray:
    """Sorted rows with repeated values (ties), exact in ``d``."""
    return np.sort(S.values(d, shape, seed), axis=-1)


def _probes(d, shape, seed=0) -> np.ndarray:
    """Values that hit the sequence's elements (ties) and fall beyond both ends."""
    if d.kind == "u":
        return np.random.default_rng(seed).integers(0, 12, shape).astype(np.int64)
    return np.random.default_rng(seed).integers(-12, 12, shape).astype(np.float64) / (1 if d.kind in "iu" else 4)


def _grid_sequence(d, n) -> np.ndarray:
    """A sorted row of quarter steps (integers for integer dtypes) with ties, inside the probes' range."""
    step = 1 if d.kind in "iu" else 0.25
    lo = 0 if d.kind == "u" else -n // 2
    return np.repeat(np.arange(lo, lo + (n + 1) // 2) * step, 2)[:n].astype(np.float64)


def _searchsorted_samples(d):
    seq = _grid_sequence(d, 10)
    yield Sample((seq, _probes(d, (3, 7))), name="1d_sequence_nd_values")
    yield Sample((seq, _probes(d, (3, 7), 1)), {"right": True}, name="right")
    yield Sample((seq, _probes(d, (9,), 2)), {"side": "right", "out_int32": True}, name="side_right_int32")
    rows = np.stack([_grid_sequence(d, 6), _grid_sequence(d, 6) + (1 if d.kind in "iu" else 0.5)])
    yield Sample((rows, _probes(d, (2, 5), 3)), name="rows")
    yield Sample((_sorted(d, (2, 3, 40), 4), S.TensorSpec(_probes(d, (2, 3, 6), 5), "strided")), name="3d_strided")
    yield Sample((S.TensorSpec(_sorted(d, (2, 5), 6), "transposed"), _probes(d, (2, 3), 7)),
                 name="transposed_sequence")
    yield Sample((seq, np.array(_probes(d, (1,), 8)[0])), name="0d_value")
    yield Sample((seq, _probes(d, (0, 3))), name="empty_values")
    yield Sample((seq[:0], _probes(d, (4,), 9)), name="empty_sequence")
    unsorted = S.values(d, (2, 8), 10)
    yield Sample((unsorted, _probes(d, (2, 5), 11)), {"sorter": ix(np.argsort(unsorted, axis=-1, kind="stable"))},
                 name="sorter")
    yield Sample((np.sort(S.values(d, (300,), 12)), _probes(d, (50,), 13)), name="long_sequence")
    if d.is_floating_point:
        specials = np.array([-np.inf, -2.5, -0.0, 0.0, 1.5, np.inf, np.nan, np.nan])
        probes = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, 3.0, -9.0])
        yield Sample((specials, probes), name="specials")
        yield Sample((specials, probes), {"right": True}, name="specials_right")


def _bucketize_samples(d):
    bounds = _grid_sequence(d, 9)
    yield Sample((_probes(d, (4, 6)), bounds), name="values")
    yield Sample((S.TensorSpec(_probes(d, (3, 5), 1), "transposed"), bounds), {"right": True}, name="transposed_right")
    yield Sample((np.array(_probes(d, (1,), 2)[0]), bounds), {"out_int32": True}, name="0d_int32")
    yield Sample((_probes(d, (0,)), bounds), name="empty")
    if d.is_floating_point:
        yield Sample((np.array([np.nan, np.inf, -np.inf, -0.0]), np.array([-1.0, 0.0, 0.0, 2.0])), name="specials")


def _searchsorted_errors():
    s = np.array([1.0, 2.0, 3.0])
    yield ErrorInput(Sample((s, np.ones(2)), {"side": "middle"}), ValueError, "side can only be")
    yield ErrorInput(Sample((s, np.ones(2)), {"side": "left", "right": True}), ValueError, "opposites")
    yield ErrorInput(Sample((np.ones((2, 3)), np.ones(2))), ValueError, "first N-1 dimensions")
    yield ErrorInput(Sample((np.ones((2, 3)), np.ones((3, 1)))), ValueError, "first N-1 dimensions")
    yield ErrorInput(Sample((np.ones((2, 3)), np.array(1.0))), ValueError, "scalar only when")
    yield ErrorInput(Sample((np.array(1.0), np.ones(2))), ValueError, "positive dimension")
    yield ErrorInput(Sample((s, np.ones(2)), {"sorter": np.array([0, 1, 2], np.int32)}), TypeError, "long dtype")
    yield ErrorInput(Sample((s, np.ones(2)), {"sorter": np.array([0, 1])}), ValueError, "same size")
    yield ErrorInput(Sample((s, np.ones(2)), {"sorter": np.array([0, 1, 3])}), IndexError, "out of range")
    yield ErrorInput(Sample((np.array([True, False]), np.array([True]))), TypeError, "not implemented for 'bool'")


def _bucketize_errors():
    yield ErrorInput(Sample((np.ones(2), np.ones((2, 3)))), ValueError, "must be 1 dimension")
    yield ErrorInput(Sample((np.ones(2), np.array(1.0))), ValueError, "must be 1 dimension")


def _cost(seq_arg: int):
    """Each value is read and its index written; a search reads log2(N + 1) sequence elements."""
    def cost(sample: Sample) -> tuple[int, int]:
        seq, values = S.array_of(sample.args[seq_arg]), S.array_of(sample.args[1 - seq_arg])
        steps = int(seq.shape[-1] if seq.ndim else 1).bit_length()
        return values.nbytes + values.size * 8 + values.size * steps * seq.itemsize, values.size * steps
    return cost


register(Op(
    name="searchsorted", kind="search", frontend=searchsorted, reference=_ref_search, triton=TRITON,
    dtypes=SEARCH_DTYPES, samples=_searchsorted_samples, error_inputs=_searchsorted_errors, cost=_cost(0),
    method=False, torch_name="searchsorted", differentiable=(),
    doc="searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None)\n\n"
        + searchsorted.__doc__,
))
register(Op(
    name="bucketize", kind="search", frontend=bucketize, reference=_ref_search, triton=TRITON,
    dtypes=SEARCH_DTYPES, samples=_bucketize_samples, error_inputs=_bucketize_errors, cost=_cost(1),
    method=False, torch_name="bucketize", differentiable=(),
    doc="bucketize(input, boundaries, *, out_int32=False, right=False)\n\n" + bucketize.__doc__,
))
