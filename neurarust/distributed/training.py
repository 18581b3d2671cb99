"""Small helpers a data-parallel training loop needs: join the group when launched by torchrun,
let rank 0 alone print and save, average metrics over the ranks. Each works unchanged in a plain
single process (no group: rank 0 of a world of one).

    >>> from neurarust.distributed.training import average_metrics, is_main_process
    >>> is_main_process(), average_metrics({"loss": 0.5, "accuracy": 0.9})
    (True, {'loss': 0.5, 'accuracy': 0.9})
"""
from __future__ import annotations

import os

from . import process_group


def init_from_env(timeout_s: float | None = None) -> bool:
    """Join the default process group if torchrun (or ``launcher.spawn``) started this process
    with ``WORLD_SIZE`` > 1; returns whether a group is now in use.

    >>> import os
    >>> from neurarust.distributed.training import init_from_env
    >>> "WORLD_SIZE" in os.environ or init_from_env()
    False
    """
    if process_group.is_initialized():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    process_group.init_process_group(timeout=timeout_s)
    return True


def is_main_process() -> bool:
    """True on rank 0, and in a process without a group: the one that prints and writes checkpoints."""
    return not process_group.is_initialized() or process_group.get_rank() == 0


def average_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The mean of each metric over the ranks (one all-reduce; every rank must call it with the
    same keys in the same order). Without a group, the metrics unchanged."""
    if not process_group.is_initialized() or process_group.get_world_size() == 1:
        return dict(metrics)
    from neurarust.creation import tensor

    from .collectives import ReduceOp, all_reduce

    values = tensor([float(v) for v in metrics.values()], dtype="float64")
    all_reduce(values, op=ReduceOp.AVG)
    return dict(zip(metrics, values.tolist()))
