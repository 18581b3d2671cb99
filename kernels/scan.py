"""Scans: cumsum, cumprod and logcumsumexp, one registry entry each, all run by the one scan Triton
kernel (``scan_triton.py``) with a different combine (``attrs["kind"]``).

Result dtypes follow PyTorch: bool and integer inputs give int64, floats keep their dtype, and
``dtype=`` casts the input first. logcumsumexp takes floating inputs only (as PyTorch) and keeps
their dtype. References accumulate as the kernel does (fp16/bf16 in fp32).

    >>> import neurarust as nr
    >>> x = nr.tensor([[1, 2, 3], [4, 5, 6]])
    >>> x.cumsum(1).tolist(), nr.cumprod(x, 0).tolist()
    ([[1, 3, 6], [4, 9, 15]], [[1, 2, 3], [4, 10, 18]])
"""
from __future__ import annotations

import numpy as np

from neurarust import dtype as _dt
from neurarust.creation import ones_like
from neurarust.dtype import DType
from neurarust.errors import DTypeError, SignatureError
from neurarust.registry import ErrorInput, Op, Sample, autocast_class, register
from neurarust.shape import normalize_dim
from neurarust.tensor import Tensor

from . import samples as S
from .reduction import run_along_dim

TRITON = "neurarust.kernels.scan_triton:launch"


def scan(op: Op, input: Tensor, dim: int, *, dtype: DType | None = None) -> Tensor:
    """Running sum (``cumsum``) or product (``cumprod``) of ``input`` along ``dim``.

    Integers and bools give int64 (products wrap on overflow); ``dtype`` casts the input first.

        >>> import neurarust as nr
        >>> x = nr.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]])
        >>> nr.cumsum(x, dim=1).tolist(), x.cumprod(-1, dtype=nr.float64)[1].tolist()
        ([[1.0, 3.0, 6.0], [0.5, 1.0, 5.0]], [0.5, 0.25, 1.0])
    """
    if not isinstance(input, Tensor):
        raise SignatureError(f"{op.name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    d = normalize_dim(dim, input.ndim)
    out_dtype = _dt.as_dtype(dtype) if dtype is not None else (
        input.dtype if input.dtype.is_floating_point else _dt.int64)
    return run_along_dim(op, input, d, out_dtype, op.attrs["kind"])


def logcumsumexp(op: Op, input: Tensor, dim: int) -> Tensor:
    """``log(cumsum(exp(input), dim))`` computed without overflow: each step adds the larger of the
    running value and the next element to ``log1p(exp(-|difference|))``. Floating inputs only; the
    result has the input's dtype (fp16/bf16 accumulate in fp32). ``-inf`` elements add nothing (a
    run of them stays ``-inf``), ``+inf`` makes the rest ``+inf``, NaN the rest NaN.

        >>> import neurarust as nr
        >>> x = nr.tensor([[0.0, 0.0, 0.0, 0.0], [1000.0, 1000.0, float("-inf"), 0.0]])
        >>> [round(v, 4) for v in nr.logcumsumexp(x, 1)[0].tolist()]
        [0.0, 0.6931, 1.0986, 1.3863]
        >>> [round(v, 2) for v in x[1].logcumsumexp(0).tolist()]
        [1000.0, 1000.69, 1000.69, 1000.69]
    """
    if not isinstance(input, Tensor):
        raise SignatureError(f"{op.name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if input.dtype not in op.dtypes:
        raise DTypeError(f"{op.name}() does not support {input.dtype} input; "
                         f"supported: {', '.join(d.name for d in op.dtypes)}")
    d = normalize_dim(dim, input.ndim)
    return run_along_dim(op, input, d, input.dtype, op.attrs["kind"])


# ----------------------------------------------------------------------------------------------
# Samples, errors, tolerances
# ----------------------------------------------------------------------------------------------

def _layout_samples(v):
    """The shapes, dims and layouts every scan is checked on; ``v(shape, seed)`` makes the values."""
    yield Sample((v((3, 37)), 1), name="dim1_odd_length")
    yield Sample((v((2, 3, 4), 1), -2), name="negative_dim")
    yield Sample((v((2, 1500), 2), 1), name="longer_than_a_block")
    yield Sample((v((40, 3), 3), 0), name="strided_dim0")
    yield Sample((S.TensorSpec(v((5, 6), 4), "transposed"), 1), name="transposed")
    yield Sample((S.TensorSpec(v((4, 7), 5), "strided"), 1), name="strided")


def _samples(kind: str):
    def samples(d: DType):
        # Products of floats near +-1 so that no row over- or underflows at one order and not another.
        scale = 2.5 if kind == "cumprod" and d.is_floating_point else 1.0
        v = lambda shape, seed=0: S.values(d, shape, seed) / scale  # noqa: E731
        yield from _layout_samples(v)
        yield Sample((np.array(v((1,), 6)[0]), 0), name="0d")
        yield Sample((v((0, 4), 7), 1), name="empty")
        yield Sample((v((3, 0), 8), 1), name="empty_rows")
        target = _dt.float64 if d.is_floating_point else _dt.float32
        yield Sample((v((4, 9), 9), 1), {"dtype": target}, name=f"dtype_{target.name}")
        if d.is_floating_point:
            yield Sample((S.SPECIALS.reshape(2, 5), 1), name="specials")
            yield Sample((np.array([[-0.0, -0.0, 1.0], [0.0, -0.0, -1.0]]), 1), name="signed_zeros")
    return samples


def _logcumsumexp_samples(d: DType):
    v = lambda shape, seed=0, scale=1.0: S.values(d, shape, seed) * scale  # noqa: E731
    yield from _layout_samples(v)
    # exp() of these over- and underflows in every dtype: only the stable combine gets them right.
    yield Sample((v((3, 40), 6, scale=40.0), 1), name="large_magnitudes")
    yield Sample((np.array(v((1,), 7)[0]), 0), name="0d")
    yield Sample((v((0, 4), 8), 1), name="empty")
    yield Sample((v((3, 0), 9), 1), name="empty_rows")
    inf = np.inf
    yield Sample((np.array([[-inf, -inf, 1.0, -inf, 2.0, -inf], [-inf, -inf, -inf, -inf, -inf, -inf],
                            [1.0, inf, 2.0, -inf, inf, 0.0], [-100.0, 100.0, -inf, 100.0, -100.0, 0.0]]), 1),
                 name="infinities")
    yield Sample((S.SPECIALS.reshape(2, 5), 1), name="specials")


def _logcumsumexp_tolerance(d: DType):
    """Each step of the scan rounds once (about eps of the running value's magnitude): element k
    errs by up to k of those."""
    def tolerance(sample: Sample):
        eps = _dt.finfo(d).eps
        x = np.abs(S.array_of(sample.args[0]).astype(np.float64))
        n = x.shape[sample.args[1]] if x.ndim else 1
        biggest = float(x[np.isfinite(x)].max(initial=0.0)) + np.log(max(n, 1))
        return 4 * eps, 2 * eps * n * (biggest + 1)
    return tolerance


def _tolerance(kind: str, d: DType):
    """Element k of a scan errs like a k-element sum (eps * k * max|x|) or product (k * eps relative)."""
    def tolerance(sample: Sample):
        eps = max(_dt.finfo(t).eps for t in (d, sample.kwargs.get("dtype") or d) if _dt.as_dtype(t).is_floating_point)
        x = np.abs(S.array_of(sample.args[0]).astype(np.float64))
        n = x.shape[sample.args[1]] if x.ndim else 1
        biggest = float(x[np.isfinite(x)].max(initial=0.0))
        if kind == "cumsum":
            return 2 * eps, eps * n * biggest + 1e-30
        return (n + 2) * eps, 2 * float(_dt.finfo(d).tiny)
    return tolerance


def _cost(sample: Sample) -> tuple[int, int]:
    """One read and one write of the tensor; one combine per element."""
    x = S.array_of(sample.args[0])
    return 2 * x.nbytes, x.size


def _errors():
    yield ErrorInput(Sample((np.ones((2, 3)), 2)), IndexError, "out of range")
    yield ErrorInput(Sample((np.ones((2, 3)), -3)), IndexError, "out of range")


def _logcumsumexp_errors():
    yield ErrorInput(Sample((np.ones((2, 3)), 2)), IndexError, "out of range")
    yield ErrorInput(Sample((np.ones((2, 3)), -3)), IndexError, "out of range")
    yield ErrorInput(Sample((np.arange(6).reshape(2, 3), 1)), TypeError, "int64 input")
    yield ErrorInput(Sample((np.array([True, False]), 0)), TypeError, "bool input")


def _ref_logcumsumexp(a: np.ndarray, dim) -> np.ndarray:
    """NumPy's logaddexp folds pairs stably (-inf with -inf stays -inf), in the array's dtype."""
    if dim is None:
        a, dim = a.reshape(-1), 0
    if a.shape[dim] == 0:
        return a.copy()
    return np.logaddexp.accumulate(a, axis=dim)


def _ref_cumsum(a: np.ndarray, dim) -> np.ndarray:
    return np.cumsum(a, axis=dim) + a.dtype.type(0)  # PyTorch's sums start from +0.0: never -0.0


def _ref_cumprod(a: np.ndarray, dim) -> np.ndarray:
    return np.cumprod(a, axis=dim)  # integers wrap, as in PyTorch


def _reversed_cumsum(t: Tensor, dim: int) -> Tensor:
    return t.flip([dim]).cumsum(dim).flip([dim])


def _cumsum_backward(grad, dim):
    """Each input element feeds every later output: the gradient is the reversed cumsum."""
    return (grad if grad.ndim == 0 else _reversed_cumsum(grad, dim),)


def _cumprod_backward(grad, input, result, dim):
    """Element ``k`` gets ``sum_{i >= k} grad_i * prod_{j <= i, j != k} input_j``, zeros included, as
    PyTorch's: a non-zero input takes ``reversed_cumsum(grad * result) / input`` (the outputs past a
    zero are 0, and stay functions of it for a second derivative); the first zero takes the product
    of the inputs before it times ``reversed_cumsum(grad * P)``, ``P`` the cumprod of the inputs after
    it (1 up to it); a later zero gets 0."""
    if grad.ndim == 0 or grad.numel() == 0:  # nothing to narrow an empty slice by
        return (grad,)
    from neurarust.registry import call

    zero = input == 0
    safe = call("where", zero, 1, input)
    nonzero_part = _reversed_cumsum(grad * result, dim) / safe
    seen = zero.to(grad.dtype).cumsum(dim)                      # zeros up to and including each position
    up_to_first = (seen - zero.to(grad.dtype)) == 0             # no zero strictly before
    after = call("where", up_to_first, 1, input).cumprod(dim)
    n = input.shape[dim]
    before = call("cat", [ones_like(input.narrow(dim, 0, 1)), result.narrow(dim, 0, n - 1)], dim)
    first_zero_part = before * _reversed_cumsum(grad * after, dim)
    return (call("where", zero, call("where", up_to_first, first_zero_part, 0), nonzero_part),)


def _reversed_logcumsumexp(t: Tensor, dim: int) -> Tensor:
    from neurarust.registry import call

    return call("logcumsumexp", t.flip([dim]), dim).flip([dim])


def _logcumsumexp_backward(grad, input, result, dim):
    """``grad_k = sum_{i >= k} g_i * exp(x_k - r_i)``, ``r`` the result. Summed in log space, as
    PyTorch's (after TensorFlow's): ``exp(x_k + reversed_logcumsumexp(log|g_i| - r_i))`` over the
    positive ``g_i``, minus the same over the negative ones (``log 0`` stands in as the dtype's
    lowest number), so nothing overflows for any spread of values. It calls logcumsumexp itself, so
    a second derivative follows. As PyTorch's, it is NaN where the result is -inf (a leading run of
    -inf inputs) and at +inf inputs; a -inf input after a finite one gets 0."""
    if grad.ndim == 0 or grad.numel() == 0:
        return (grad,)
    from neurarust.registry import call

    lowest = float(_dt.finfo(grad.dtype).min)
    log_abs = call("log", call("abs", grad))

    def part(log_g):
        return call("exp", _reversed_logcumsumexp(log_g - result, dim) + input)

    positive = part(call("where", grad > 0, log_abs, lowest))
    negative = part(call("where", grad < 0, log_abs, lowest))
    return (positive - negative,)


_BACKWARDS = {"cumsum": _cumsum_backward, "cumprod": _cumprod_backward}


for _name, _ref in (("cumsum", _ref_cumsum), ("cumprod", _ref_cumprod)):
    register(Op(
        name=_name, kind="scan", frontend=scan, reference=_ref, triton=TRITON, dtypes=_dt.ALL_DTYPES,
        samples=_samples(_name), error_inputs=_errors, cost=_cost,
        tolerances={d: _tolerance(_name, d) for d in _dt.FLOAT_DTYPES},
        torch_name=_name, attrs={"kind": _name}, backward=_BACKWARDS[_name], differentiable=("input",),
    ))

register(Op(
    name="logcumsumexp", kind="scan", frontend=logcumsumexp, reference=_ref_logcumsumexp, triton=TRITON,
    dtypes=_dt.FLOAT_DTYPES, samples=_logcumsumexp_samples, error_inputs=_logcumsumexp_errors, cost=_cost,
    tolerances={d: _logcumsumexp_tolerance(d) for d in _dt.FLOAT_DTYPES}, torch_name="logcumsumexp",
    attrs={"kind": "logcumsumexp"}, backward=_logcumsumexp_backward, differentiable=("input",),
    doc="logcumsumexp(input, dim) -> Tensor\n\n" + logcumsumexp.__doc__,
))

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py);
# logcumsumexp is on none of them.
autocast_class(("cumsum", "cumprod"), cuda="fp32")
