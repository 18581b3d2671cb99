"""The default process group: start it (from torchrun's environment), ask who we are, stop it.

NeuraRust does not implement communication: the process group is torch.distributed's (NCCL between
GPUs, gloo between CPUs), and NeuraRust tensors are handed to it as torch views of their storage
(see ``collectives``). torch is imported here, so only programs that go distributed load it.

    >>> import neurarust.distributed as dist
    >>> dist.is_initialized()
    False
"""
from __future__ import annotations

import contextlib
import datetime
import os
import sys
from typing import Any, Iterator

from neurarust.errors import DistributedError

DEFAULT_TIMEOUT_S = 1800.0   # torch's default for gloo: a dead peer is reported after 30 minutes at worst
_ENV = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE")


class _State:
    backend: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S


_state = _State()


def _dist():
    import torch.distributed as dist

    if not dist.is_available():
        raise DistributedError("torch.distributed is not available in this torch build")
    return dist


def is_available() -> bool:
    """Whether torch (with torch.distributed) can be imported.

    >>> import neurarust.distributed as dist
    >>> dist.is_available()
    True
    """
    try:
        import torch.distributed as dist
    except ImportError:
        return False
    return dist.is_available()


def default_backend() -> str:
    """``"cpu:gloo,cuda:nccl"`` when CUDA is available (CPU tensors over gloo, CUDA ones over NCCL),
    else ``"gloo"``.

    >>> import neurarust as nr, neurarust.distributed as dist
    >>> dist.default_backend() == ("cpu:gloo,cuda:nccl" if nr.cuda.is_available() else "gloo")
    True
    """
    from neurarust import cuda

    return "cpu:gloo,cuda:nccl" if cuda.is_available() else "gloo"


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: float | datetime.timedelta | None = None, world_size: int = -1, rank: int = -1,
                       store: Any = None) -> None:
    """Join the default process group.

    Under torchrun nothing needs passing: ``MASTER_ADDR``, ``MASTER_PORT``, ``RANK`` and
    ``WORLD_SIZE`` come from the environment (``init_method="env://"``), and with CUDA the process
    selects GPU ``LOCAL_RANK``. ``backend``: ``"nccl"``, ``"gloo"`` or ``None`` (``default_backend()``).
    ``timeout`` (seconds or a timedelta, default 1800 s): a collective that a peer never joins (it
    died, raised or hangs) fails with DistributedError after this long instead of waiting forever.

    >>> import tempfile, os, neurarust.distributed as dist
    >>> path = os.path.join(tempfile.mkdtemp(), "rendezvous")
    >>> dist.init_process_group("gloo", init_method=f"file://{path}", world_size=1, rank=0, timeout=60)
    >>> dist.get_rank(), dist.get_world_size(), dist.get_backend()
    (0, 1, 'gloo')
    >>> dist.destroy_process_group()
    """
    dist = _dist()
    if dist.is_initialized():
        raise DistributedError("init_process_group(): the default process group is already initialized; "
                               "call destroy_process_group() first")
    if init_method is None and store is None:
        _check_env(world_size, rank)
    timeout_s = _seconds(timeout)
    backend = backend or default_backend()
    _select_local_gpu(backend)
    try:
        dist.init_process_group(backend, init_method=init_method, timeout=datetime.timedelta(seconds=timeout_s),
                                world_size=world_size, rank=rank, store=store)
    except (RuntimeError, ValueError) as e:
        raise DistributedError(f"init_process_group(backend={backend!r}) failed within {timeout_s:g} s: {e}") from e
    _state.backend, _state.timeout_s = backend, timeout_s


def _check_env(world_size: int, rank: int) -> None:
    """The env:// rendezvous needs the four torchrun variables (rank and world size may be passed)."""
    needed = [k for k in _ENV if not (k == "RANK" and rank >= 0 or k == "WORLD_SIZE" and world_size > 0)]
    missing = [k for k in needed if k not in os.environ]
    if missing:
        raise DistributedError(f"init_process_group(): environment variable(s) {', '.join(missing)} not set; "
                               "launch with torchrun (torchrun --nproc_per_node N script.py) or pass "
                               "init_method=, world_size= and rank=")


def _seconds(timeout: float | datetime.timedelta | None) -> float:
    if timeout is None:
        return DEFAULT_TIMEOUT_S
    seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)
    if seconds <= 0:
        raise DistributedError(f"init_process_group(): timeout must be positive, got {seconds:g} s")
    return seconds


def _select_local_gpu(backend: str) -> None:
    """With NCCL, each process drives GPU ``LOCAL_RANK`` (torchrun sets it), as torch expects."""
    if "nccl" not in backend:
        return
    from neurarust import cuda

    if cuda.is_available() and "LOCAL_RANK" in os.environ:
        import torch

        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))


def is_initialized() -> bool:
    """Whether the default process group exists (False when torch is missing or not yet loaded).

    >>> import neurarust.distributed as dist
    >>> dist.is_initialized()
    False
    """
    if "torch.distributed" not in sys.modules:   # no group can exist yet: don't import torch to say so
        return False
    return is_available() and _dist().is_initialized()


def _require() -> Any:
    dist = _dist()
    if not dist.is_initialized():
        raise DistributedError("the default process group is not initialized; call "
                               "neurarust.distributed.init_process_group() first")
    return dist


def get_rank(group: Any = None) -> int:
    """This process's rank in ``group`` (the default group when None), from 0.

    >>> import neurarust.distributed as dist
    >>> dist.get_rank()
    Traceback (most recent call last):
        ...
    neurarust.errors.DistributedError: the default process group is not initialized; call ...
    """
    return _require().get_rank(group)


def get_world_size(group: Any = None) -> int:
    """How many processes ``group`` (the default group when None) holds.

    >>> import neurarust.distributed as dist
    >>> dist.get_world_size() if dist.is_initialized() else 1
    1
    """
    return _require().get_world_size(group)


def get_backend(group: Any = None) -> str:
    """The backend of ``group``: ``"gloo"``, ``"nccl"`` or the combined ``"cpu:gloo,cuda:nccl"``."""
    return str(_require().get_backend(group))


def timeout_s() -> float:
    """The collective timeout of the default group, in seconds (set by ``init_process_group``)."""
    return _state.timeout_s


def barrier(group: Any = None, async_op: bool = False):
    """Wait until every rank of ``group`` reaches this call (DistributedError after the timeout);
    with ``async_op`` a ``Work`` whose ``wait()`` does the waiting."""
    from .collectives import Work

    dist = _require()
    with translate_errors("barrier"):
        work = dist.barrier(group=group, async_op=True)
    handle = Work("barrier", work, [])
    if async_op:
        return handle
    handle.wait()
    return None


def destroy_process_group(group: Any = None) -> None:
    """Leave ``group`` (the default group, and every other, when None); harmless when not initialized."""
    if not is_initialized():
        return
    _dist().destroy_process_group(group)
    if group is None:
        _state.backend, _state.timeout_s = None, DEFAULT_TIMEOUT_S


@contextlib.contextmanager
def translate_errors(op: str) -> Iterator[None]:
    """Re-raise torch.distributed's failures (a peer closed the connection, a timeout) as
    DistributedError naming the collective, this rank and the timeout."""
    try:
        yield
    except DistributedError:
        raise
    except RuntimeError as e:
        dist = _dist()
        rank = dist.get_rank() if dist.is_initialized() else "?"
        raise DistributedError(f"{op} failed on rank {rank} (collective timeout {_state.timeout_s:g} s): a peer "
                               f"rank died, raised or did not reach the collective in time. torch.distributed "
                               f"said: {str(e).strip()[:800]}") from e
