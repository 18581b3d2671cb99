"""The op harness: every registry entry, every dtype it supports, every sample input.

Triton kernels run through the interpreter on CPU tensors. Each result is compared with the NumPy
reference evaluated in float64 (the oracle), and PyTorch's result on the same inputs is compared
with the same oracle, so a shared mistake of kernel and reference shows up against PyTorch.
"""
from __future__ import annotations

import pytest

import neurarust as nr
from neurarust.registry import all_ops

import harness as H

OPS = all_ops()
CASES = [pytest.param(op, d, id=f"{op.name}-{d.name}") for op in OPS for d in op.dtypes]


@pytest.mark.parametrize("op,dtype", CASES)
def test_triton_kernel_matches_float64_reference(op, dtype):
    for sample in op.samples(dtype):
        before = sum(nr.backends.launch_counts.values())
        got = H.nr_call(op, sample, dtype, "triton")
        expected = H.reference_in_float64(op, sample, dtype)
        H.assert_close(got, expected, op, dtype, sample, "triton vs float64 reference")
        # Ops that only make views (attrs["view"]: split, unbind, ...) launch nothing.
        if H.sample_numel(sample) > 0 and H.result_numel(got) > 0 and not op.attrs.get("view"):
            assert sum(nr.backends.launch_counts.values()) > before, f"{op.name}[{sample.name}]: no kernel ran"


# Only where the reference computes in a narrower type than its float64 evaluation: elsewhere the
# two are the same computation.
NARROW_FLOAT_CASES = [c for c in CASES if c.values[1] in (nr.float32, nr.float16, nr.bfloat16)
                      and c.values[0].kind != "random"]
# Random ops draw other numbers than PyTorch's generator: only their dtypes are compared with it.
VALUE_CASES = [c for c in CASES if c.values[0].kind != "random"]


@pytest.mark.parametrize("op,dtype", NARROW_FLOAT_CASES)
def test_reference_matches_float64_reference(op, dtype):
    for sample in op.samples(dtype):
        got = H.nr_call(op, sample, dtype, "reference")
        H.assert_close(got, H.reference_in_float64(op, sample, dtype), op, dtype, sample, "reference vs float64")


@pytest.mark.parametrize("op,dtype", VALUE_CASES)
def test_pytorch_agrees_with_float64_reference(op, dtype):
    for sample in op.samples(dtype):
        expected = H.reference_in_float64(op, sample, dtype)
        H.assert_close(H.torch_call(op, sample, dtype), expected, op, dtype, sample, "pytorch vs float64 reference")


@pytest.mark.parametrize("op,dtype", CASES)
def test_result_dtype_matches_pytorch(op, dtype):
    for sample in op.samples(dtype):
        got = H.nr_call(op, sample, dtype, "reference")
        want = H.torch_call(op, sample, dtype)
        assert H.result_dtype(got).name == str(H.result_dtype(want)).removeprefix("torch."), f"{op.name}[{sample.name}]"


ERROR_CASES = [pytest.param(op, e, id=f"{op.name}-{i}") for op in OPS for i, e in enumerate(op.error_inputs())]


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("op,error", ERROR_CASES)
def test_error_inputs_raise_declared_error(op, error, backend):
    def natural(a):
        if isinstance(a, list):
            return [natural(x) for x in a]
        return nr.from_numpy(a.astype("float32") if a.dtype.kind == "f" else a) if hasattr(a, "dtype") else a

    args = [natural(a) for a in error.sample.args]
    kwargs = {k: natural(v) for k, v in error.sample.kwargs.items()}
    with nr.backends.using(backend), pytest.raises(error.error, match=error.match) as info:
        op(*args, **kwargs)
    assert isinstance(info.value, nr.NeuraRustError)
