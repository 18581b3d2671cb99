"""neurarust.distributed and neurarust.parallel on CPUs: gloo process groups of 2 spawned processes
started by ``neurarust.distributed.spawn`` (torchrun's environment on a port the OS reports free, so
concurrent runs and xdist workers never fight over a fixed port), plus
in-process checks with a world of one.

The DDP job runs once per module (``ddp_job`` does every DDP case and collective in one launch) and
the tests read its results; see tests/distributed_workers.py for what each rank does.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import neurarust as nr
import neurarust.distributed as dist
from neurarust.autograd.engine import queue_callback
from neurarust.distributed import WorkerFailed
from neurarust.errors import AutogradError, DistributedError
from neurarust.parallel import DataParallel, DistributedDataParallel, ReplicaError
from neurarust.parallel.buckets import assign_buckets

import distributed_workers as W

pytestmark = pytest.mark.timeout(300)
FAULT_TIMEOUT_S = 3.0
REFERENCE = {"NEURARUST_BACKEND": "reference"}   # the workers compute on the NumPy path, whatever CI sets


# ----------------------------------------------------------------------------------------------
# Multi-process jobs (run once)
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ddp_results() -> list:
    return dist.spawn(W.ddp_job, 2, backend="gloo", timeout_s=60, env=REFERENCE)


@pytest.mark.parametrize("case,tol", [("float64", 1e-10), ("float32", 1e-5), ("no_sync", 1e-10),
                                      ("buckets", 1e-10), ("bucket_view", 1e-10)])
def test_ddp_two_processes_match_one_process_on_concatenated_batches(ddp_results, case, tol):
    spec = W.DDP_CASES[case]
    expected = W.reference(2, spec["dtype"], spec.get("micro", 1))
    for rank, res in enumerate(ddp_results):
        for got, want in zip(res["ddp"][case]["final"], expected):
            np.testing.assert_allclose(got, want, rtol=0, atol=tol, err_msg=f"rank {rank}, case {case}")


def test_ddp_construction_gives_every_rank_rank0_parameters(ddp_results):
    rank0_init = W.params_np(W.model(100, "float64"))
    for res in ddp_results:
        for got, want in zip(res["ddp"]["float64"]["after_init"], rank0_init):
            np.testing.assert_array_equal(got, want)


def test_small_bucket_cap_gives_several_buckets(ddp_results):
    assert ddp_results[0]["ddp"]["buckets"]["buckets"] > 1
    assert ddp_results[0]["ddp"]["float64"]["buckets"] == 1


COLLECTIVES = ["all_reduce_SUM", "all_reduce_AVG", "all_reduce_MAX", "all_reduce_MIN",
               "all_reduce_async_noncontiguous", "broadcast", "all_gather", "all_gather_into_tensor",
               "reduce_scatter_tensor_SUM", "reduce_scatter_tensor_AVG", "scatter"]


@pytest.mark.parametrize("name", COLLECTIVES)
def test_collective_matches_torch_distributed_on_every_rank(ddp_results, name):
    for rank, res in enumerate(ddp_results):
        ours, theirs = res["collectives"][name]
        np.testing.assert_array_equal(ours, theirs, err_msg=f"{name} on rank {rank}")


@pytest.mark.parametrize("name,rank", [("gather", 0), ("send_recv", 1), ("isend_irecv", 0)])
def test_point_to_point_and_rooted_collectives_match_torch_on_the_receiver(ddp_results, name, rank):
    ours, theirs = ddp_results[rank]["collectives"][name]
    np.testing.assert_array_equal(ours, theirs)


def test_recv_returns_the_sender_rank(ddp_results):
    assert ddp_results[1]["collectives"]["recv_sender"] == 0


def test_collectives_write_the_tensor_memory_in_place_and_bump_its_version(ddp_results):
    assert all(res["collectives"]["in_place"] for res in ddp_results)


def test_parameter_without_gradient_raises_without_find_unused_parameters(ddp_results):
    for rank, res in enumerate(ddp_results):
        message = res["unused"]["error"]
        assert message is not None and "find_unused_parameters=True" in message
        assert f"on rank {rank} parameter indices 2 3 (unused.weight, unused.bias)" in message


def test_find_unused_parameters_reduces_used_ones_and_leaves_unused_grads_none(ddp_results):
    for res in ddp_results:
        assert res["unused"]["unused_grad_is_none"]
        np.testing.assert_array_equal(res["unused"]["used_bias_grad"], [2.0, 2.0, 2.0])


def test_models_that_differ_across_ranks_are_refused_on_every_rank(ddp_results):
    for res in ddp_results:
        assert "same model on every rank" in res["mismatch"]
        assert "[4, 3]" in res["mismatch"] and "[5, 3]" in res["mismatch"]


def test_buffers_are_broadcast_from_rank0_before_each_forward(ddp_results):
    # rank 0 set running_mean to 5, rank 1 to 6; after rank 0's wins, forward updates it: 0.9 * 5 + 0.1 * 1
    for res in ddp_results:
        np.testing.assert_allclose(res["buffers"], [4.6, 4.6], rtol=1e-6)


def test_metrics_are_averaged_over_ranks_and_only_rank0_is_main(ddp_results):
    assert [r["metrics"] for r in ddp_results] == [{"loss": 0.5, "accuracy": 0.625}] * 2
    assert [r["main"] for r in ddp_results] == [True, False]


def test_rank_that_raises_makes_the_other_error_within_the_timeout_and_spawn_names_it():
    with pytest.raises(WorkerFailed) as info:
        dist.spawn(W.fault_job, 2, args=("raise",), backend="gloo", timeout_s=FAULT_TIMEOUT_S, env=REFERENCE)
    assert list(info.value.failures) == [1]
    assert "rank 1: RuntimeError: rank 1 fails on purpose" in str(info.value)
    rank0 = info.value.results[0]
    assert rank0["error_type"] == "DistributedError" and "all_reduce failed on rank 0" in rank0["message"]
    assert rank0["seconds"] < FAULT_TIMEOUT_S + 5.0


def test_rank_that_hangs_makes_the_other_error_within_the_timeout():
    rank0, _ = dist.spawn(W.fault_job, 2, args=("hang",), backend="gloo", timeout_s=FAULT_TIMEOUT_S,
                          env=REFERENCE)
    assert rank0["error_type"] == "DistributedError" and "timeout 3 s" in rank0["message"]
    assert FAULT_TIMEOUT_S - 0.5 < rank0["seconds"] < FAULT_TIMEOUT_S + 5.0


# ----------------------------------------------------------------------------------------------
# In-process: a world of one
# ----------------------------------------------------------------------------------------------

@pytest.fixture
def world_of_one(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rdv'}", world_size=1, rank=0, timeout=60)
    yield
    dist.destroy_process_group()


def test_init_process_group_reads_the_torchrun_environment(monkeypatch):
    for k, v in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(dist.free_port()), "RANK": "0", "WORLD_SIZE": "1",
                 "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(k, v)
    dist.init_process_group(timeout=30)
    try:
        assert (dist.is_initialized(), dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (True, 0, 1, "gloo")
        assert dist.timeout_s() == 30
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized()


def test_init_process_group_without_environment_names_the_missing_variables(monkeypatch):
    for k in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(DistributedError, match="MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE not set"):
        dist.init_process_group()


def test_collective_before_init_process_group_raises():
    with pytest.raises(DistributedError, match="not initialized"):
        dist.all_reduce(nr.ones(2))


def test_importing_distributed_and_parallel_does_not_import_torch():
    code = "import sys, neurarust.distributed, neurarust.parallel; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_avg_of_an_integer_tensor_is_refused(world_of_one):
    with pytest.raises(TypeError, match="AVG needs a floating dtype"):
        dist.all_reduce(nr.ones(2, dtype=nr.int32), op=dist.ReduceOp.AVG)


def test_async_handle_completes_on_wait(world_of_one):
    x = nr.tensor([1.0, 2.0])
    work = dist.all_reduce(x, async_op=True)
    assert work.wait() and work.is_completed()


def test_ddp_with_one_process_leaves_gradients_as_plain_backward(world_of_one):
    nr.manual_seed(0)
    plain = nr.nn.Linear(4, 2)
    nr.manual_seed(0)
    ddp = DistributedDataParallel(nr.nn.Linear(4, 2), bucket_cap_mb=0.00001)
    x = nr.arange(12.0).view(3, 4)
    plain(x).square().sum().backward()
    ddp(x).square().sum().backward()
    for p, q in zip(plain.parameters(), ddp.module.parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-6)


def test_ddp_no_sync_skips_the_reduction(world_of_one):
    ddp = DistributedDataParallel(nr.nn.Linear(4, 2))
    ddp.reducer.trace = []
    with ddp.no_sync():
        ddp(nr.ones(1, 4)).sum().backward()
    assert ddp.reducer.trace == []
    ddp(nr.ones(1, 4)).sum().backward()
    assert [e for e, _, _ in ddp.reducer.trace].count("allreduce_start") == 1


def test_ddp_state_dict_keys_are_prefixed_with_module(world_of_one):
    ddp = DistributedDataParallel(nr.nn.Linear(2, 2))
    assert sorted(ddp.state_dict()) == ["module.bias", "module.weight"]


def test_ddp_needs_an_initialized_process_group():
    with pytest.raises(DistributedError, match="init_process_group"):
        DistributedDataParallel(nr.nn.Linear(2, 2))


# ----------------------------------------------------------------------------------------------
# Buckets and the engine callback
# ----------------------------------------------------------------------------------------------

def test_buckets_follow_reverse_registration_order_with_a_small_first_bucket():
    params = [nr.zeros(100) for _ in range(5)]          # 400 bytes each
    assert assign_buckets(params, first_cap=400, cap=1200) == [[4], [3, 2, 1], [0]]


def test_buckets_never_mix_dtypes():
    params = [nr.zeros(4), nr.zeros(4, dtype=nr.float64), nr.zeros(4)]
    buckets = assign_buckets(params, first_cap=1 << 20, cap=1 << 20)
    assert sorted(map(sorted, buckets)) == [[0, 2], [1]]


def test_queued_callback_runs_once_after_every_gradient_is_accumulated():
    a, b = nr.ones(2, requires_grad=True), nr.ones(2, requires_grad=True)
    seen = []
    a.register_post_accumulate_grad_hook(lambda t: queue_callback(lambda: seen.append(b.grad.tolist())))
    (a * 2 + b * 3).sum().backward()
    (a * 2).sum().backward()
    assert seen == [[3.0, 3.0], [3.0, 3.0]]


def test_queue_callback_outside_backward_raises():
    with pytest.raises(AutogradError, match="while a backward pass runs"):
        queue_callback(lambda: None)


# ----------------------------------------------------------------------------------------------
# DataParallel (replicas on one device)
# ----------------------------------------------------------------------------------------------

def _net():
    nr.manual_seed(1)
    return nr.nn.Sequential(nr.nn.Linear(5, 7), nr.nn.Tanh(), nr.nn.Linear(7, 2)).double()


def test_data_parallel_forward_equals_the_plain_module():
    net = _net()
    x = nr.from_numpy(np.random.default_rng(0).standard_normal((6, 5)))
    np.testing.assert_allclose(DataParallel(net, ["cpu", "cpu"])(x).detach().numpy(), net(x).detach().numpy(), rtol=0, atol=1e-12)


def test_data_parallel_gradients_equal_the_plain_module():
    x = nr.from_numpy(np.random.default_rng(0).standard_normal((7, 5)))   # 7 rows: chunks of 4 and 3
    plain, parallel = _net(), _net()
    plain(x).square().sum().backward()
    DataParallel(parallel, ["cpu", "cpu"])(x).square().sum().backward()
    for p, q in zip(plain.parameters(), parallel.parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=0, atol=1e-12)


def test_data_parallel_runs_each_replica_on_its_share_of_the_batch():
    shapes = []
    net = nr.nn.Linear(2, 2)
    net.register_forward_hook(lambda m, args, out: shapes.append(args[0].shape[0]))
    DataParallel(net, ["cpu", "cpu"])(nr.ones(5, 2))
    assert sorted(shapes) == [2, 3]


def test_data_parallel_with_a_batch_smaller_than_the_devices_uses_fewer_replicas():
    net = _net()
    x = nr.ones(1, 5, dtype=nr.float64)
    np.testing.assert_array_equal(DataParallel(net, ["cpu", "cpu", "cpu"])(x).detach().numpy(), net(x).detach().numpy())


def test_data_parallel_reraises_a_replica_error():
    class Fails(nr.nn.Module):
        def forward(self, x):
            raise ValueError("bad batch")

    with pytest.raises(ReplicaError, match="replica 0 raised ValueError: bad batch"):
        DataParallel(Fails(), ["cpu", "cpu"])(nr.ones(2, 1))


def test_data_parallel_without_devices_calls_the_module():
    net = nr.nn.Linear(2, 1)
    dp = DataParallel(net, device_ids=[])
    x = nr.ones(3, 2)
    np.testing.assert_array_equal(dp(x).detach().numpy(), net(x).detach().numpy())
