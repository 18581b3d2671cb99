"""Creation ops with a kernel: ``arange``.

``arange(end)`` / ``arange(start, end, step=1)`` follow ``torch.arange``: the length is
``ceil((end - start) / step)`` computed in float64 (in int64 for int64 results, from the truncated
bounds), element ``i`` is ``start + i * step`` computed in float64 for float32/float64 results,
float32 for float16/bfloat16 and int64 for integer results, then stored in the output dtype. All-int
arguments give int64, any float gives the default dtype::

    >>> import neurarust as nr
    >>> nr.arange(5).tolist(), nr.arange(1, 2, 0.25).tolist()
    ([0, 1, 2, 3, 4], [1.0, 1.25, 1.5, 1.75])
"""
from __future__ import annotations

import math

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.device import as_device
from neurarust.dtype import DType
from neurarust.errors import ArgumentError, DTypeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, register
from neurarust.tensor import Tensor

DTYPES = _dt.NUMERIC_DTYPES


def compute_dtype(d: DType) -> DType:
    """What ``start + i * step`` is computed in for an output of dtype ``d`` (torch's CPU choice)."""
    if d.kind in "iu":
        return _dt.int64
    return _dt.float32 if d.itemsize == 2 else _dt.float64


def _number(x, name: str):
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise ArgumentError(f"arange: {name} must be a number or a one-element tensor, got shape {list(x.shape)}")
        return x.item()
    if isinstance(x, (bool, int, float, np.integer, np.floating, np.bool_)):
        return x.item() if isinstance(x, np.generic) else x
    raise SignatureError(f"arange: {name} must be a number, got {type(x).__name__}")


def plan(start, end=None, step=1, dtype=None) -> tuple[float | int, float | int, int, DType]:
    """(start, step, length, dtype) of an arange call, with torch's checks and dtype inference."""
    if end is None:
        start, end = 0, start
    start, end, step = (_number(v, n) for v, n in ((start, "start"), (end, "end"), (step, "step")))
    if dtype is None:
        floating = any(isinstance(v, float) for v in (start, end, step))
        d = _dt.get_default_dtype() if floating else _dt.int64
    else:
        d = _dt.as_dtype(dtype)
    if d not in DTYPES:
        raise DTypeError(f"arange does not support {d}; supported: {', '.join(x.name for x in DTYPES)}")
    if step == 0:
        raise ArgumentError("arange: step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ArgumentError(f"arange: unsupported range {start} -> {end}")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise ArgumentError(f"arange: upper bound {end} and lower bound {start} inconsistent with step sign {step}")
    if d is _dt.int64:
        # torch counts int64 ranges in integers, from the truncated bounds.
        start, end, step = int(start), int(end), int(step)
        if step == 0:
            raise ArgumentError("arange: step must be nonzero (after truncation to int64)")
        return start, step, max(0, -((start - end) // step)), d
    n = math.ceil((float(end) - float(start)) / float(step))
    if compute_dtype(d) is _dt.int64:
        return int(start), int(step), n, d
    return float(start), float(step), n, d


def reference(start, end=None, step=1, *, dtype=None) -> np.ndarray:
    """NumPy arange: ``start + i * step`` in the compute dtype, stored in the output dtype."""
    first, delta, n, d = plan(start, end, step, dtype)
    c = compute_dtype(d).np
    with np.errstate(over="ignore"):
        values = np.asarray(first, dtype=c) + np.arange(n, dtype=c) * np.asarray(delta, dtype=c)
    return values.astype(d.np)


def arange(op: Op, start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` (default 0) up to, not including, ``end``, ``step`` apart, like torch.arange.

    >>> import neurarust as nr
    >>> nr.arange(0, 1, 0.25)
    tensor([0.0000, 0.2500, 0.5000, 0.7500])
    >>> nr.arange(3, dtype=nr.float16).dtype
    neurarust.float16
    """
    first, delta, n, d = plan(start, end, step, dtype)
    dev = as_device(device)
    if backends.for_device(dev) == "reference":
        out = Tensor._from_array(reference(start, end, step, dtype=d), d)
    else:
        out = Tensor._empty((n,), d, dev)
        op.launcher()(out, first, delta)
    return out.requires_grad_() if requires_grad else out


def _samples(d: DType):
    yield Sample((6,), {"dtype": d}, "end_only")
    yield Sample((-3, 4, 2), {"dtype": d}, "ints")
    yield Sample((9, -2, -3), {"dtype": d}, "descending")
    yield Sample((2, 2), {"dtype": d}, "empty")
    yield Sample((0, 1500), {"dtype": d}, "two_programs")
    if d.kind == "f":
        yield Sample((-1.5, 2.5, 0.25), {"dtype": d}, "float_step")
        yield Sample((0.0, 1.0, 0.1), {"dtype": d}, "inexact_step")
        yield Sample((1.0, -1.0, -0.3), {"dtype": d}, "float_descending")
    else:
        yield Sample((0.5, 6.0, 1.5), {"dtype": d}, "float_args_truncate")
    if d is _dt.int64:
        yield Sample((2, 11, 3), {}, "inferred_int64")
    if d is _dt.get_default_dtype():
        yield Sample((0, 2.5, 0.5), {}, "inferred_float")


def _errors():
    yield ErrorInput(Sample((0, 5, 0)), ValueError, "step must be nonzero")
    yield ErrorInput(Sample((5, 0, 1)), ValueError, "inconsistent with step sign")
    yield ErrorInput(Sample((0, float("inf"))), ValueError, "unsupported range")
    yield ErrorInput(Sample((0, 5), {"dtype": _dt.bool_}), TypeError, "does not support")
    yield ErrorInput(Sample(("a",)), TypeError, "must be a number")


def _cost(sample: Sample) -> tuple[int, int]:
    _, _, n, d = plan(*sample.args, dtype=sample.kwargs.get("dtype"))
    return n * d.itemsize, 2 * n


register(Op(
    name="arange", kind="creation", frontend=arange, reference=reference,
    triton="neurarust.kernels.creation_triton:launch_arange", dtypes=DTYPES, samples=_samples,
    error_inputs=_errors, method=False, torch_name="arange",
    cost=_cost, differentiable=(),  # a creation op: its result is a leaf (``requires_grad=True`` makes one)
))
