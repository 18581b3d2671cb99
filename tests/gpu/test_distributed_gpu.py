"""NCCL with a world of one on a real CUDA device: collectives on CUDA tensors and a DDP step.
Multi-GPU NCCL runs cannot happen on machines with one GPU; skipped without CUDA (CI has none)."""
from __future__ import annotations

import numpy as np
import pytest

import neurarust as nr
import neurarust.distributed as dist
from neurarust.parallel import DataParallel, DistributedDataParallel

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not nr.cuda.is_available(), reason="needs a CUDA device")]


@pytest.fixture
def nccl_world_of_one(tmp_path):
    dist.init_process_group("nccl", init_method=f"file://{tmp_path / 'rdv'}", world_size=1, rank=0, timeout=60)
    yield
    dist.destroy_process_group()


def test_nccl_all_reduce_and_broadcast_on_cuda_tensors(nccl_world_of_one):
    x = nr.arange(6.0, device="cuda").view(2, 3)
    ptr = x.data_ptr()
    dist.all_reduce(x, op=dist.ReduceOp.AVG)
    dist.broadcast(x, src=0)
    work = dist.all_reduce(x.t(), async_op=True)      # non-contiguous: through a contiguous copy
    work.wait()
    assert x.data_ptr() == ptr
    np.testing.assert_array_equal(x.cpu().numpy(), np.arange(6.0).reshape(2, 3))


def test_nccl_all_gather_into_tensor_and_reduce_scatter(nccl_world_of_one):
    x = nr.ones(4, device="cuda")
    out = nr.zeros(4, device="cuda")
    dist.all_gather_into_tensor(out, x)
    dist.reduce_scatter_tensor(x, out)
    assert out.cpu().tolist() == [1.0] * 4 and x.cpu().tolist() == [1.0] * 4


def test_nccl_ddp_step_equals_plain_backward(nccl_world_of_one):
    nr.manual_seed(0)
    plain = nr.nn.Linear(8, 4).to("cuda")
    nr.manual_seed(0)
    ddp = DistributedDataParallel(nr.nn.Linear(8, 4).to("cuda"), device_ids=[0])
    x = nr.ones(16, 8, device="cuda")
    plain(x).square().sum().backward()
    ddp(x).square().sum().backward()
    for p, q in zip(plain.parameters(), ddp.module.parameters()):
        np.testing.assert_allclose(q.grad.cpu().numpy(), p.grad.cpu().numpy(), rtol=1e-5)


def test_data_parallel_on_one_gpu_with_two_replicas_matches_the_module():
    nr.manual_seed(0)
    net = nr.nn.Linear(8, 4).to("cuda")
    x = nr.ones(6, 8, device="cuda")
    np.testing.assert_allclose(DataParallel(net, ["cuda:0", "cuda:0"])(x).detach().cpu().numpy(),
                               net(x).detach().cpu().numpy(), rtol=1e-6)
