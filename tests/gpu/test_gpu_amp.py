"""``nr.autocast("cuda")`` on a real device: every entry with a CUDA autocast class gives the result dtype
``torch.autocast("cuda")`` gives on the same inputs, and an fp16 training run converges. Skipped on
machines without CUDA (a CPU build of torch switches CUDA autocast off, so only a GPU can be the oracle)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr
import neurarust.nn as nn
import neurarust.nn.functional as F
from neurarust.registry import all_ops

import harness as H
from test_amp_autocast import TORCH_ORACLE

pytestmark = pytest.mark.skipif(not nr.cuda.is_available(), reason="needs a CUDA device")

CASES = [pytest.param(op, region, id=f"{op.name}-{region.name}")
         for op in all_ops() if op.autocast and "cuda" in op.autocast and op.torch_name is not None
         for region in (nr.float16, nr.bfloat16) if nr.float32 in op.dtypes]


def _torch_dtype(op, sample, region):
    make = lambda a, d: H.torch_tensor(a, d).cuda()  # noqa: E731
    args = [H._convert(a, nr.float32, make) for a in sample.args]
    kwargs = {k: H._convert(v, nr.float32, make) for k, v in sample.kwargs.items()}
    fn = TORCH_ORACLE.get(op.name) or (op.torch_name if callable(op.torch_name) else getattr(torch, op.torch_name))
    with torch.autocast("cuda", dtype=region.to_torch()):
        return H.result_dtype(fn(*args, **kwargs))


@pytest.mark.gpu
@pytest.mark.parametrize("op,region", CASES)
def test_cuda_output_dtype_equals_torch_autocast(op, region):
    for sample in op.samples(nr.float32):
        try:
            want = _torch_dtype(op, sample, region)
        except (RuntimeError, TypeError, ValueError, IndexError):
            continue  # PyTorch rejects this call under autocast (a banned op, mixed dtypes)
        with nr.autocast("cuda", dtype=region):
            got = H.result_dtype(H.nr_call(op, sample, nr.float32, "triton", device="cuda"))
        assert got.name == str(want).removeprefix("torch."), f"{op.name}[{sample.name}]"


@pytest.mark.gpu
def test_python_operators_follow_torch_on_cuda():
    x, t = nr.full((4,), 2.0, device="cuda"), torch.full((4,), 2.0, device="cuda")
    with nr.autocast("cuda"):
        got = [(2 / x).dtype, (2 ** x).dtype, (x ** 2).dtype, (x @ x).dtype, (x * x).dtype]
    with torch.autocast("cuda"):
        want = [(2 / t).dtype, (2 ** t).dtype, (t ** 2).dtype, (t @ t).dtype, (t * t).dtype]
    assert [d.name for d in got] == [str(d).removeprefix("torch.") for d in want]


@pytest.mark.gpu
def test_binary_cross_entropy_raises_in_a_cuda_region():
    p = nr.full((4,), 0.5, device="cuda")
    with nr.autocast("cuda"), pytest.raises(nr.errors.AutocastError, match="with_logits"):
        F.binary_cross_entropy(p, p)


@pytest.mark.gpu
def test_float16_cuda_training_converges_without_nan():
    nr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3)).to("cuda")
    opt = nr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((3, 8)) * 3
    labels = rng.integers(0, 3, 128)
    x = nr.tensor((centers[labels] + rng.standard_normal((128, 8))).astype(np.float32), device="cuda")
    y = nr.tensor(labels, device="cuda")
    losses = []
    for _ in range(40):
        opt.zero_grad()
        with nr.autocast("cuda"):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
        assert logits.dtype is nr.float16 and loss.dtype is nr.float32
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all() and losses[-1] < 0.25 * losses[0]
