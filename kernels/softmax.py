"""softmax and log_softmax along one dim: one registry entry each, both run by the one fused row
kernel (``softmax_triton.py``; ``attrs["log"]`` picks the finish).

Floats only, as in PyTorch; ``dtype=`` casts the input first (so integers work with a float
``dtype``). fp16/bf16 are computed in fp32. Rows are centred on their max, so nothing overflows;
a row of -inf, or one holding +inf or NaN, gives NaN, as in PyTorch.

    >>> import neurarust as nr
    >>> x = nr.tensor([[1.0, 1.0], [0.0, float("-inf")]])
    >>> x.softmax(1).tolist(), nr.log_softmax(x, dim=1)[1].tolist()
    ([[0.5, 0.5], [1.0, 0.0]], [0.0, -inf])
"""
from __future__ import annotations

import numpy as np

import neurarust as nr
from neurarust import dtype as _dt
from neurarust.dtype import DType
from neurarust.errors import DTypeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, autocast_class, register
from neurarust.shape import normalize_dim
from neurarust.tensor import Tensor

from . import samples as S
from .reduction import acc_dtype, run_along_dim

TRITON = "neurarust.kernels.softmax_triton:launch"


def softmax(op: Op, input: Tensor, dim: int, dtype: DType | None = None) -> Tensor:
    """``exp(input) / sum(exp(input))`` along ``dim`` (``softmax``), or its log computed directly as
    ``input - logsumexp(input)`` (``log_softmax``, exact where the softmax underflows).

        >>> import neurarust as nr
        >>> x = nr.tensor([[0.0, 0.6931472], [1000.0, 1000.0]])
        >>> [[round(v, 4) for v in row] for row in nr.softmax(x, dim=1).tolist()]
        [[0.3333, 0.6667], [0.5, 0.5]]
        >>> round(x.log_softmax(-1, dtype=nr.float64)[1, 0].item(), 4)
        -0.6931
    """
    if not isinstance(input, Tensor):
        raise SignatureError(f"{op.name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    d = normalize_dim(dim, input.ndim)
    out_dtype = _dt.as_dtype(dtype) if dtype is not None else input.dtype
    if not out_dtype.is_floating_point:
        raise DTypeError(f"{op.name}(): expected a floating point input or dtype, got {out_dtype}")
    return run_along_dim(op, input, d, out_dtype, op.attrs["log"])


def _shifted_and_total(a: np.ndarray, dim):
    top = np.max(a, axis=dim, keepdims=True, initial=-np.inf)
    shifted = a - np.where(top == -np.inf, a.dtype.type(0), top)  # as the kernel: all -inf gives NaN
    return shifted, np.sum(np.exp(shifted), axis=dim, keepdims=True)


def _ref_softmax(a: np.ndarray, dim) -> np.ndarray:
    shifted, total = _shifted_and_total(a, dim)
    return np.exp(shifted) / total


def _ref_log_softmax(a: np.ndarray, dim) -> np.ndarray:
    shifted, total = _shifted_and_total(a, dim)
    return shifted - np.log(total)


# ----------------------------------------------------------------------------------------------
# Samples, errors, tolerances
# ----------------------------------------------------------------------------------------------

def _samples(d: DType):
    v = lambda shape, seed=0: S.values(d, shape, seed)  # noqa: E731
    inf, nan = np.inf, np.nan
    yield Sample((v((3, 37)), 1), name="dim1_odd_length")
    yield Sample((v((2, 3, 4), 1), -2), name="negative_dim")
    yield Sample((v((40, 3), 2), 0), name="strided_dim0")
    yield Sample((S.TensorSpec(v((5, 6), 3), "transposed"), 1), name="transposed")
    yield Sample((S.TensorSpec(v((4, 7), 4), "strided"), -1), name="strided")
    yield Sample((v((2, 5000), 5) * 4, 1), name="looped_long_rows")
    yield Sample((np.array(v((1,), 6)[0]), 0), name="0d")
    yield Sample((v((0, 4), 7), 1), name="empty")
    yield Sample((v((3, 0), 8), 1), name="empty_rows")
    yield Sample((v((3, 4), 9), 1), {"dtype": _dt.float64}, name="dtype_float64")
    rows = np.array([[-inf, -inf, -inf], [inf, 1.0, 2.0], [nan, 1.0, 2.0], [-inf, 0.0, 1.0], [80.0, 90.0, 100.0]])
    yield Sample((rows, 1), name="infinities_nan_no_overflow")


def _tolerance(d: DType, log: bool):
    """exp of a shifted element errs by eps * |x - max| relative, the row's sum by n * eps (both in
    the accumulator's eps); the result rounds once to its own dtype."""
    def tolerance(sample: Sample):
        out = _dt.as_dtype(sample.kwargs.get("dtype") or d)
        eps_out, eps_acc = _dt.finfo(out).eps, _dt.finfo(acc_dtype(out)).eps
        x = S.array_of(sample.args[0]).astype(np.float64)
        finite = x[np.isfinite(x)]
        spread = float(np.ptp(finite)) if finite.size else 0.0
        n = x.shape[sample.args[1]] if x.ndim else 1
        computed = eps_acc * (4 + spread + n)
        if log:  # PyTorch may round max + log(sum) to the result's dtype before subtracting it
            return 4 * eps_out, computed + eps_out * float(np.abs(finite).max(initial=0.0))
        return 4 * eps_out + computed, 2 * float(_dt.finfo(out).tiny)
    return tolerance


def _cost(sample: Sample) -> tuple[int, int]:
    """One read and one write of the tensor; max, exp, sum and divide per element."""
    x = S.array_of(sample.args[0])
    return 2 * x.nbytes, 4 * x.size


def _errors():
    yield ErrorInput(Sample((np.ones((2, 3)), 2)), IndexError, "out of range")
    yield ErrorInput(Sample((np.arange(3), 0)), TypeError, "floating point")
    yield ErrorInput(Sample((np.ones(3), 0), {"dtype": _dt.int32}), TypeError, "floating point")


def _softmax_backward(grad, dim, result):
    return (result * (grad - (grad * result).sum(dim, keepdim=True)),)


def _log_softmax_backward(grad, dim, result):
    return (grad - nr.exp(result) * grad.sum(dim, keepdim=True),)


for _name, _ref, _log in (("softmax", _ref_softmax, False), ("log_softmax", _ref_log_softmax, True)):
    register(Op(
        name=_name, kind="softmax", frontend=softmax, reference=_ref, triton=TRITON, dtypes=_dt.FLOAT_DTYPES,
        samples=_samples, error_inputs=_errors, cost=_cost,
        tolerances={d: _tolerance(d, _log) for d in _dt.FLOAT_DTYPES},
        torch_name=_name, attrs={"log": _log}, differentiable=("input",),
        backward=_log_softmax_backward if _log else _softmax_backward,
    ))

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).
autocast_class(("softmax", "log_softmax"), cuda="fp32")
