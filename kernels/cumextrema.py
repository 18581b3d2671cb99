"""Running extrema: cummax and cummin, one registry entry each, both run by the one Triton scan
over (value, index) pairs (``cumextrema_triton.py``).

Semantics are PyTorch's (CPU): the result is a named tuple ``(values, indices)`` of the input's
shape; an element replaces the running extreme when it is NaN or, while the extreme is not NaN,
when it is ``>=`` (cummin: ``<=``) it, so a NaN stays once seen (later NaNs take over its index)
and ties report the LAST index. Values are the input's own elements (``-0.0`` stays ``-0.0``).
The gradient goes back to the reported indices (scatter-added along ``dim``).

    >>> import neurarust as nr
    >>> r = nr.tensor([1.0, 3.0, 2.0, 3.0]).cummax(0)
    >>> r.values.tolist(), r.indices.tolist()
    ([1.0, 3.0, 3.0, 3.0], [0, 1, 1, 3])
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.creation import zeros_like
from neurarust.errors import SignatureError
from neurarust.registry import ErrorInput, Op, Sample, call, register
from neurarust.shape import normalize_dim
from neurarust.tensor import Tensor

from . import samples as S

TRITON = "neurarust.kernels.cumextrema_triton:launch"


def _return_type(name: str):
    t = namedtuple(name, ("values", "indices"))
    t.__module__ = __name__
    return t


# The named tuples of torch.return_types: ``r.values``, ``r.indices``, or ``values, indices = r``.
RETURN_TYPES = {name: _return_type(name) for name in ("cummax", "cummin")}


def cumextreme(op: Op, input: Tensor, dim: int):
    """(values, indices) of the running maximum (``cummax``) or minimum (``cummin``) along ``dim``.

        >>> import neurarust as nr
        >>> x = nr.tensor([[2, 0, 1], [5, 5, 9]])
        >>> nr.cummin(x, 1).indices.tolist(), x.cummax(dim=0).values.tolist()
        ([[0, 1, 1], [0, 1, 1]], [[2, 0, 1], [5, 5, 9]])
    """
    if not isinstance(input, Tensor):
        raise SignatureError(f"{op.name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    d = normalize_dim(dim, input.ndim)
    is_max = op.attrs["is_max"]
    if backends.for_device(input._storage.device) == "reference":
        a = input._np()
        values, indices = backends.run_reference(op.reference, a.reshape(1) if a.ndim == 0 else a, d)
        outs = (Tensor._wrap(np.array(values.reshape(a.shape), order="C"), input.dtype),
                Tensor._wrap(np.array(indices.reshape(a.shape), order="C"), _dt.int64))
    else:
        outs = (Tensor._empty(input.shape, input.dtype, input.device),
                Tensor._empty(input.shape, _dt.int64, input.device))
        op.launcher()(outs[0], outs[1], input, d, is_max)
    return RETURN_TYPES[op.name](*outs)


# ----------------------------------------------------------------------------------------------
# The NumPy reference: PyTorch's loop, one column at a time over every row
# ----------------------------------------------------------------------------------------------

def _ref_cumextreme(is_max: bool):
    def reference(a: np.ndarray, axis: int):
        moved = np.moveaxis(a, axis, -1)
        x = moved.astype(np.float32) if a.dtype in (np.float16, _dt.bfloat16.np) else moved
        indices = np.empty(moved.shape, np.int64)
        if moved.shape[-1]:
            best, at = x[..., 0], np.zeros(moved.shape[:-1], np.int64)
            for j in range(moved.shape[-1]):
                xj = x[..., j]
                beats = xj >= best if is_max else xj <= best
                take = (xj != xj) | ((best == best) & beats)  # a NaN always takes over and then stays
                best, at = np.where(take, xj, best), np.where(take, j, at)
                indices[..., j] = at
        values = np.take_along_axis(moved, indices, axis=-1)  # the input's own elements: -0.0 stays
        return np.moveaxis(values, -1, axis), np.moveaxis(indices, -1, axis)
    return reference


# ----------------------------------------------------------------------------------------------
# Derivative: each output's gradient goes to the element it reports
# ----------------------------------------------------------------------------------------------

def _backward(grad, input, dim, result):
    g = grad[0]
    if g is None:
        return (None,)
    if input.ndim == 0:
        return (g.reshape(()),)
    return (call("scatter_add", zeros_like(input), dim, result[1], g),)


# ----------------------------------------------------------------------------------------------
# Samples, errors, cost
# ----------------------------------------------------------------------------------------------

def _few(d, shape, seed=0) -> np.ndarray:
    """Values from a few levels: many ties."""
    if d is _dt.bool_:
        return np.random.default_rng(seed).integers(0, 2, shape).astype(bool)
    return np.random.default_rng(seed).integers(0, 5, shape).astype(np.float64)


def _samples(d):
    v = lambda shape, seed=0: S.values(d, shape, seed)  # noqa: E731
    yield Sample((_few(d, (3, 37)), 1), name="ties_dim1")
    yield Sample((v((2, 3, 4), 1), -2), name="negative_dim")
    yield Sample((_few(d, (2, 300), 2), 1), name="longer_than_a_block")
    yield Sample((v((40, 3), 3), 0), name="dim0")
    yield Sample((S.TensorSpec(_few(d, (5, 6), 4), "transposed"), 1), name="transposed")
    yield Sample((S.TensorSpec(v((4, 7), 5), "strided"), 1), name="strided")
    yield Sample((np.array(v((1,), 6)[0]), 0), name="0d")
    yield Sample((v((0, 4), 7), 1), name="empty")
    yield Sample((v((3, 0), 8), 1), name="empty_rows")
    if d.is_floating_point:
        yield Sample((np.tile(S.SPECIALS, (2, 2)), 1), name="specials")
        nans = np.array([[1.0, np.nan, 5.0, np.nan, -1.0], [np.nan, 2.0, np.nan, 3.0, np.nan]])
        yield Sample((nans, 1), name="nan_stays")
        yield Sample((np.array([[-0.0, 0.0, -0.0], [0.0, -0.0, 0.0]]), 1), name="signed_zeros")


def _errors():
    yield ErrorInput(Sample((np.ones((2, 3)), 2)), IndexError, "out of range")
    yield ErrorInput(Sample((np.ones((2, 3)), -3)), IndexError, "out of range")


def _cost(sample: Sample) -> tuple[int, int]:
    """One read, a value and an int64 index written per element; one combine per element."""
    x = S.array_of(sample.args[0])
    return 2 * x.nbytes + 8 * x.size, x.size


_DOC = "{name}(input, dim) -> (values, indices)\n\n" + cumextreme.__doc__

for _name, _is_max in (("cummax", True), ("cummin", False)):
    register(Op(
        name=_name, kind="scan", frontend=cumextreme, reference=_ref_cumextreme(_is_max), triton=TRITON,
        dtypes=_dt.ALL_DTYPES, samples=_samples, error_inputs=_errors, cost=_cost, torch_name=_name,
        attrs={"is_max": _is_max}, backward=_backward, differentiable=("input",), doc=_DOC.format(name=_name),
    ))
