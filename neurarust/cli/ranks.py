"""``neurarust train --nproc N``: the processes of a data-parallel run and what they share.

``--nproc N`` starts N processes on this machine through :func:`neurarust.distributed.spawn` (the
environment torchrun would give them), each running the same ``train`` command; ``torchrun
--nproc_per_node N -m neurarust train ...`` gives the same processes. Every function here is a
no-op in a single process and imports :mod:`neurarust.distributed` (so torch) only in a group, so
the one-process CPU path stays free of torch.

    >>> world_size(), is_main(), average_over_ranks([1.0, 2.0], 1)
    (1, True, [1.0, 2.0])
"""
from __future__ import annotations

import os
import signal
import sys
from typing import Any, Callable, Sequence

from .config import OptionError


def world_size() -> int:
    """``WORLD_SIZE`` from torchrun's (or ``spawn``'s) environment; 1 in a plain process."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def is_main() -> bool:
    """Whether this process prints and writes files: rank 0, or the only process."""
    return int(os.environ.get("RANK", "0") or 0) == 0


def join_group() -> int:
    """Join the default process group when launched as one of several ranks; the world size.

    >>> join_group() if "WORLD_SIZE" not in __import__("os").environ else 1
    1
    """
    if world_size() <= 1:
        return 1
    from neurarust import distributed

    distributed.init_from_env()
    return distributed.get_world_size()


def rank_device(device: str, world: int) -> str:
    """One GPU per rank: a CUDA ``device`` becomes ``cuda:LOCAL_RANK`` in a group of ``world`` > 1.

    >>> rank_device("cpu", 2), rank_device("cuda:0", 1)
    ('cpu', 'cuda:0')
    """
    if world <= 1 or not device.startswith("cuda"):
        return device
    return f"cuda:{int(os.environ.get('LOCAL_RANK', '0') or 0)}"


def everyone(value: Any, world: int) -> list:
    """Every rank's picklable ``value``, by rank (every rank calls it).

    >>> everyone([1.0, 2, 3], 1)
    [[1.0, 2, 3]]
    """
    if world <= 1:
        return [value]
    from neurarust.distributed import all_gather_object

    return all_gather_object(value)


def shared(value: Any, world: int) -> Any:
    """Rank 0's ``value`` on every rank (for the default ``--out``, which holds the start time).

    >>> shared("runs/a", 1)
    'runs/a'
    """
    return everyone(value, world)[0]


def average_over_ranks(values: Sequence[float], world: int) -> list[float]:
    """The mean of each value over the ranks (every rank calls it with as many values).

    Sums of losses, correct predictions and sample counts averaged this way keep their ratios: the
    mean loss and accuracy over every rank's samples.

    >>> average_over_ranks([3.0, 2, 4], 1)
    [3.0, 2.0, 4.0]
    """
    if world <= 1:
        return [float(v) for v in values]
    from neurarust.distributed import average_metrics

    averaged = average_metrics({str(i): float(v) for i, v in enumerate(values)})
    return [averaged[str(i)] for i in range(len(values))]


def any_rank(flag: bool, world: int) -> bool:
    """Whether ``flag`` holds on some rank (one small all-reduce), so that all ranks stop together.

    >>> any_rank(True, 1)
    True
    """
    if world <= 1:
        return flag
    from neurarust.creation import tensor
    from neurarust.distributed import ReduceOp, all_reduce

    t = tensor([1.0 if flag else 0.0], dtype="float64")
    all_reduce(t, op=ReduceOp.MAX)
    return bool(t.item() > 0)


def check_nproc(nproc: int | None) -> int:
    """``--nproc`` as an int (1 when not given); :class:`OptionError` when it cannot run.

    >>> check_nproc(None)
    1
    >>> check_nproc(0)
    Traceback (most recent call last):
    neurarust.cli.config.OptionError: --nproc must be at least 1, got 0
    """
    n = 1 if nproc is None else nproc
    if n < 1:
        raise OptionError(f"--nproc must be at least 1, got {n}")
    if n > 1 and world_size() > 1 and n != world_size():
        raise OptionError(f"--nproc {n} inside a launcher that started {world_size()} processes: drop --nproc "
                          "(torchrun's --nproc_per_node decides)")
    if n > 1:
        from neurarust import distributed

        if not distributed.is_available():
            raise OptionError(f"--nproc {n} needs torch.distributed (pip install torch)")
    return n


def launch(fn: Callable[..., int], nproc: int, args: Sequence[Any]) -> int:
    """Run ``fn(*args)`` in ``nproc`` ranks; the worst exit status (1 when a rank failed).

    Threads per rank default to 1 (``OMP_NUM_THREADS``, as torchrun sets it). This process ignores
    Ctrl-C while the ranks run: they receive it too, stop together and save a checkpoint."""
    from neurarust.distributed import WorkerFailed, spawn

    env = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        statuses = spawn(fn, nproc, args, env=env)
    except WorkerFailed as e:
        print(f"neurarust train: error: {e}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, previous)
    return max(int(s or 0) for s in statuses)
