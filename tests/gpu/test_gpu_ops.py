"""The op harness against a real CUDA device: every entry, dtype and sample, Triton kernels on the
GPU vs the float64 NumPy reference. Skipped on machines without CUDA (CI has none)."""
from __future__ import annotations

import pytest

import neurarust as nr
from neurarust.registry import all_ops

import harness as H

pytestmark = pytest.mark.skipif(not nr.cuda.is_available(), reason="needs a CUDA device")

CASES = [pytest.param(op, d, id=f"{op.name}-{d.name}") for op in all_ops() for d in op.dtypes]


@pytest.mark.gpu
@pytest.mark.parametrize("op,dtype", CASES)
def test_cuda_kernel_matches_float64_reference(op, dtype):
    for sample in op.samples(dtype):
        got = H.nr_call(op, sample, dtype, "triton", device="cuda")
        for out in H.flatten_outputs(got):
            assert out.device.type == "cuda"
        H.assert_close(got, H.reference_in_float64(op, sample, dtype), op, dtype, sample, "cuda vs float64 reference")
