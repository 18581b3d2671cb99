"""Turning registry samples into NeuraRust and PyTorch calls, and comparing results.

The shared machinery of the op harnesses: the tests themselves stay one behaviour each. The
NeuraRust side (samples made tensors, the float64 oracle, the comparison) lives in
:mod:`neurarust.checking`, which ``neurarust check`` uses too; this module adds PyTorch.
"""
from __future__ import annotations

import numpy as np
import torch

from neurarust import checking as C
from neurarust import dtype as _dt
from neurarust.checking import (  # noqa: F401 - the harness API the tests use
    DEFAULT_TOLERANCES, PythonType, flatten_outputs, is_tensor_arg, nr_call, nr_tensor, reference_in_float64,
    result_dtype, result_numel, sample_numel, tolerance,
)
from neurarust.kernels.samples import TensorSpec  # noqa: F401
from neurarust.registry import Op, Sample

_values_in = C.values_in
_spec_parts = C.spec_parts


def torch_tensor(arg, dtype) -> torch.Tensor:
    values, _ = _spec_parts(arg)
    arr = _values_in(values, dtype)
    if arr.dtype == _dt.bfloat16.np:
        return torch.from_numpy(arr.astype(np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.array(arr))


def _convert(x, dtype, make):
    return C.convert(x, dtype, make, (lambda d: d.to_torch()) if make is torch_tensor else None)


def torch_call(op: Op, sample: Sample, dtype):
    args = [_convert(a, dtype, torch_tensor) for a in sample.args]
    kwargs = {k: _convert(v, dtype, torch_tensor) for k, v in sample.kwargs.items()}
    fn = op.torch_name if callable(op.torch_name) else getattr(torch, op.torch_name)
    return fn(*args, **kwargs)


def as_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.dtype == torch.bfloat16:
            x = x.float()
        return x.numpy()
    return C.as_numpy(x)


def assert_close(actual, expected, op: Op, dtype, sample: Sample, what: str) -> None:
    out_dtype = getattr(flatten_outputs(actual)[0], "dtype", None)
    rtol, atol = tolerance(op, dtype, sample, None if out_dtype is None else _dt.as_dtype(out_dtype))
    c = C.compare(actual, expected, rtol, atol, to_numpy=as_numpy)
    assert c.ok, (f"{op.name}[{sample.name}] {dtype.name}: {what}: {c.problem} "
                  f"(max abs err {c.max_abs:.3g}, max rel err {c.max_rel:.3g})")
