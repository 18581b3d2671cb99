"""Turning registry samples into NeuraRust and PyTorch calls, and comparing results.

The shared machinery of the op harnesses: the tests themselves stay one behaviour each.
"""
from __future__ import annotations

import numpy as np
import torch

import neurarust as nr
from neurarust import dtype as _dt
from neurarust.kernels.samples import TensorSpec
from neurarust.registry import Op, Sample

# torch.testing.assert_close's defaults.
DEFAULT_TOLERANCES = {
    _dt.float32: (1.3e-6, 1e-5),
    _dt.float64: (1e-7, 1e-7),
    _dt.float16: (1e-3, 1e-5),
    _dt.bfloat16: (1.6e-2, 1e-5),
}


def _values_in(arr: np.ndarray, dtype) -> np.ndarray:
    """The sample's values rounded to ``dtype`` (bool arrays stay bool: conditions, masks)."""
    if arr.dtype == bool:
        return arr
    return arr.astype(dtype.np)


def _spec_parts(arg):
    if isinstance(arg, TensorSpec):
        return arg.values, arg.layout
    return arg, "contiguous"


def nr_tensor(arg, dtype) -> nr.Tensor:
    values, layout = _spec_parts(arg)
    arr = _values_in(values, dtype)
    if layout == "transposed":
        return nr.from_numpy(np.ascontiguousarray(arr.T)).T
    if layout == "strided":
        wide = np.zeros(arr.shape[:-1] + (arr.shape[-1] * 2,), dtype=arr.dtype)
        wide[..., ::2] = arr
        t = nr.from_numpy(wide)[..., ::2]
        assert not t.is_contiguous() or arr.size <= 1
        return t
    return nr.from_numpy(np.array(arr))


def torch_tensor(arg, dtype) -> torch.Tensor:
    values, _ = _spec_parts(arg)
    arr = _values_in(values, dtype)
    if arr.dtype == _dt.bfloat16.np:
        return torch.from_numpy(arr.astype(np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.array(arr))


def is_tensor_arg(arg) -> bool:
    return isinstance(arg, (np.ndarray, TensorSpec))


def _convert(x, dtype, make):
    if is_tensor_arg(x):
        return make(x, dtype)
    if isinstance(x, list):  # a sequence of tensors (cat, stack)
        return [_convert(a, dtype, make) for a in x]
    if isinstance(x, _dt.DType) and make is torch_tensor:
        return x.to_torch()
    return x


def nr_call(op: Op, sample: Sample, dtype, backend: str, device: str = "cpu"):
    """Run ``op`` on the sample's inputs made ``dtype`` tensors on ``device`` (CUDA always runs Triton)."""
    make = nr_tensor if device == "cpu" else (lambda a, d: nr_tensor(a, d).to(device))
    args = [_convert(a, dtype, make) for a in sample.args]
    kwargs = {k: _convert(v, dtype, make) for k, v in sample.kwargs.items()}
    if op.kind == "random":  # every backend draws the same numbers from the same seed
        nr.manual_seed(0)
    with nr.backends.using(backend):
        out = op(*args, **kwargs)
    return args[0] if out is None else out


def torch_call(op: Op, sample: Sample, dtype):
    args = [_convert(a, dtype, torch_tensor) for a in sample.args]
    kwargs = {k: _convert(v, dtype, torch_tensor) for k, v in sample.kwargs.items()}
    fn = op.torch_name if callable(op.torch_name) else getattr(torch, op.torch_name)
    return fn(*args, **kwargs)


def reference_in_float64(op: Op, sample: Sample, dtype):
    """The reference evaluated on float64 copies of the (dtype-rounded) inputs: the oracle."""
    if not dtype.is_floating_point or op.kind == "random":  # random ops: the same draws in the same dtype
        return nr_call(op, sample, dtype, "reference")
    wide = _dt.float64

    def up(a):
        if isinstance(a, list):
            return [up(x) for x in a]
        if not is_tensor_arg(a):
            return a
        values, layout = _spec_parts(a)
        return TensorSpec(_values_in(values, dtype).astype(np.float64) if values.dtype != bool else values, layout) \
            if layout != "contiguous" else (_values_in(values, dtype).astype(np.float64) if values.dtype != bool else values)

    up_sample = Sample(tuple(up(a) for a in sample.args), {k: up(v) for k, v in sample.kwargs.items()}, sample.name)
    return nr_call(op, up_sample, wide, "reference")


def as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.dtype == torch.bfloat16:
            x = x.float()
        return x.numpy()
    if isinstance(x, nr.Tensor):
        a = x.numpy(force=True)
        return a.astype(np.float32) if x.dtype is _dt.bfloat16 else a
    return np.asarray(x)


def flatten_outputs(x) -> list:
    if isinstance(x, (tuple, list)):
        return [y for item in x for y in flatten_outputs(item)]
    return [x]


def tolerance(op: Op, dtype, sample: Sample, result_dtype=None):
    """The entry's tolerance for ``dtype``, loosened to the result dtype's default when that is coarser
    (a cast to bfloat16 is judged at bfloat16's precision)."""
    tol = op.tolerances.get(dtype)
    if callable(tol):
        tol = tol(sample)
    tol = tol or DEFAULT_TOLERANCES.get(dtype, (0.0, 0.0))
    out_tol = DEFAULT_TOLERANCES.get(result_dtype)
    if out_tol is not None:
        tol = (max(tol[0], out_tol[0]), max(tol[1], out_tol[1]))
    return tol


def assert_close(actual, expected, op: Op, dtype, sample: Sample, what: str) -> None:
    acts, exps = flatten_outputs(actual), flatten_outputs(expected)
    out_dtype = getattr(acts[0], "dtype", None)
    rtol, atol = tolerance(op, dtype, sample, None if out_dtype is None else _dt.as_dtype(out_dtype))
    assert len(acts) == len(exps), f"{what}: {len(acts)} outputs vs {len(exps)}"
    for a, e in zip(acts, exps):
        if isinstance(a, bool) or isinstance(e, bool):  # allclose, equal: a Python bool, exactly
            assert type(a) is bool and type(e) is bool and a == e, f"{op.name}[{sample.name}] {what}: {a!r} != {e!r}"
            continue
        a_np, e_np = as_numpy(a), as_numpy(e)
        assert a_np.shape == e_np.shape, f"{op.name}[{sample.name}] {what}: shape {a_np.shape} != {e_np.shape}"
        if a_np.dtype.kind in "fc" or e_np.dtype.kind in "fc":
            a64, e64 = a_np.astype(np.float64), e_np.astype(np.float64)
            np.testing.assert_allclose(a64, e64, rtol=rtol, atol=atol, equal_nan=True,
                                       err_msg=f"{op.name}[{sample.name}] {dtype.name}: {what}")
            zeros = (e64 == 0) & (a64 == 0)  # assert_allclose cannot see the sign of zero
            np.testing.assert_array_equal(np.signbit(a64[zeros]), np.signbit(e64[zeros]),
                                          err_msg=f"{op.name}[{sample.name}] {dtype.name}: {what}: sign of zero")
        else:
            np.testing.assert_array_equal(a_np, e_np, err_msg=f"{op.name}[{sample.name}] {dtype.name}: {what}")


class PythonType(str):
    """The "dtype" of a plain Python result (allclose and equal return a bool): its exact type."""

    @property
    def name(self) -> str:
        return str(self)


def result_dtype(x):
    first = flatten_outputs(x)[0]
    if isinstance(first, (bool, int, float)):
        return PythonType(f"python {type(first).__name__}")
    return first.dtype


def result_numel(x) -> int:
    """Elements of the first result; a Python scalar result counts as one."""
    first = flatten_outputs(x)[0]
    return 1 if isinstance(first, (bool, int, float)) else first.numel()


def sample_numel(sample: Sample) -> int:
    args = flatten_outputs(list(sample.args) + list(sample.kwargs.values()))  # lists of tensors too
    sizes = [(_spec_parts(a)[0]).size for a in args if is_tensor_arg(a)]
    return max(sizes, default=1)
