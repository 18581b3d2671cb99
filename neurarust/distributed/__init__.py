"""neurarust.distributed: process groups and collectives on NeuraRust tensors, run by torch.distributed.

The communication engine is torch.distributed (NCCL between GPUs, gloo between CPUs), launched with
torchrun; NeuraRust hands it each tensor's own memory as a torch view, without copies. torch is
imported only when a function here is first called. ``neurarust.parallel.DistributedDataParallel``
builds on these. See docs/distributed.md.

    >>> import tempfile, os, neurarust as nr, neurarust.distributed as dist
    >>> dist.init_process_group("gloo", init_method="file://" + os.path.join(tempfile.mkdtemp(), "rdv"),
    ...                         world_size=1, rank=0)
    >>> x = nr.tensor([1.0, 2.0]); dist.all_reduce(x); x.tolist()
    [1.0, 2.0]
    >>> dist.destroy_process_group()
"""
from __future__ import annotations

from .collectives import (ReduceOp, Work, all_gather, all_gather_into_tensor, all_gather_object, all_reduce,
                          broadcast, gather, irecv, isend, recv, reduce_scatter_tensor, scatter, send)
from .launcher import WorkerFailed, free_port, spawn
from .process_group import (DEFAULT_TIMEOUT_S, barrier, default_backend, destroy_process_group, get_backend,
                            get_rank, get_world_size, init_process_group, is_available, is_initialized, timeout_s)
from .training import average_metrics, init_from_env, is_main_process

__all__ = ["init_process_group", "destroy_process_group", "is_available", "is_initialized", "get_rank",
           "get_world_size", "get_backend", "default_backend", "barrier", "timeout_s", "DEFAULT_TIMEOUT_S",
           "ReduceOp", "Work", "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor",
           "reduce_scatter_tensor", "gather", "scatter", "send", "recv", "isend", "irecv", "all_gather_object",
           "spawn", "free_port", "WorkerFailed", "init_from_env", "is_main_process", "average_metrics"]
