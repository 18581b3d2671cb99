"""Run each replica on its inputs in its own thread and collect the outputs in order.

Each thread starts with the caller's grad mode (it is thread-local) and, on CUDA, the replica's
device; an exception in any replica is re-raised in the caller, naming the replica.

    >>> import neurarust as nr
    >>> from neurarust.parallel.parallel_apply import parallel_apply
    >>> m = nr.nn.Identity()
    >>> [o.tolist() for o in parallel_apply([m, m], [(nr.ones(1),), (nr.zeros(1),)])]
    [[1.0], [0.0]]
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Sequence

from neurarust.autograd import grad_mode
from neurarust.errors import NeuraRustError
from neurarust.nn.module import Module


class ReplicaError(NeuraRustError, RuntimeError):
    """A DataParallel replica raised; the original exception is the ``__cause__``."""


def parallel_apply(replicas: Sequence[Module], inputs: Sequence[tuple], kwargs: Sequence[dict] | None = None,
                   devices: Sequence[Any] | None = None) -> list:
    """``[replicas[i](*inputs[i], **kwargs[i])]``, the calls running in parallel threads (thread i
    with ``devices[i]`` as the current CUDA device when it is one)."""
    kwargs = list(kwargs) if kwargs is not None else [{} for _ in replicas]
    results: list[Any] = [None] * len(replicas)
    errors: list[BaseException | None] = [None] * len(replicas)
    enabled = grad_mode.is_grad_enabled()

    def work(i: int) -> None:
        try:
            with grad_mode.set_grad_enabled(enabled), _on_device(None if devices is None else devices[i]):
                results[i] = replicas[i](*inputs[i], **kwargs[i])
        except BaseException as e:  # re-raised in the caller
            errors[i] = e

    if len(replicas) == 1:
        work(0)
    else:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(replicas))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for i, e in enumerate(errors):
        if e is not None:
            raise ReplicaError(f"DataParallel replica {i} raised {type(e).__name__}: {e}") from e
    return results


def _on_device(dev: Any):
    """The CUDA device ``dev`` made current on this thread (kernels launch there); else nothing."""
    from neurarust.device import as_device

    if dev is None or as_device(dev).type != "cuda":
        return contextlib.nullcontext()
    import torch

    return torch.cuda.device(as_device(dev).index or 0)
