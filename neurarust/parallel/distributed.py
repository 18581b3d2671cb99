"""DistributedDataParallel: one process per device, gradients averaged across processes.

Wrap the model in every process (``init_process_group`` first). At construction the ranks check
that they hold the same parameter shapes and dtypes, then take rank 0's parameters and buffers.
During backward the gradients are all-reduced in buckets as soon as each bucket is complete
(``reducer``), overlapping communication with the rest of backward; after ``loss.backward()`` every
rank holds the average gradient, so identical optimizer steps keep the replicas identical.

    >>> import tempfile, os, neurarust as nr, neurarust.distributed as dist
    >>> from neurarust.parallel import DistributedDataParallel as DDP
    >>> dist.init_process_group("gloo", init_method="file://" + os.path.join(tempfile.mkdtemp(), "rdv"),
    ...                         world_size=1, rank=0)
    >>> model = DDP(nr.nn.Linear(3, 2))
    >>> model(nr.ones(4, 3)).sum().backward()
    >>> model.module.bias.grad.tolist()
    [4.0, 4.0]
    >>> dist.destroy_process_group()
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

from neurarust.autograd import grad_mode
from neurarust.errors import DistributedError
from neurarust.nn.module import Module

from .reducer import Reducer
from .scatter_gather import to_device

FIRST_BUCKET_MB = 1.0   # PyTorch's first bucket: small, so the first all-reduce starts early in backward


class DistributedDataParallel(Module):
    """Data parallelism across processes (one per device, launched by torchrun).

    ``device_ids``: the one device this process's module lives on (inputs are moved there), or None
    for CPU modules and modules already placed. ``bucket_cap_mb``: bucket size (the first bucket
    holds at most ``min(1, bucket_cap_mb)`` MB). ``find_unused_parameters``: allow parameters that
    get no gradient in a backward (costs one extra small all-reduce per backward).
    ``broadcast_buffers``: copy rank 0's buffers to all ranks before each forward.
    ``gradient_as_bucket_view``: ``.grad`` becomes a view into the bucket (saves a copy and memory).
    """

    def __init__(self, module: Module, device_ids: Sequence[Any] | None = None, output_device: Any = None,
                 dim: int = 0, broadcast_buffers: bool = True, process_group: Any = None,
                 bucket_cap_mb: float = 25.0, find_unused_parameters: bool = False,
                 gradient_as_bucket_view: bool = False):
        super().__init__()
        from neurarust import distributed as dist

        if not dist.is_initialized():
            raise DistributedError("DistributedDataParallel needs the default process group: call "
                                   "neurarust.distributed.init_process_group() first")
        if device_ids is not None and len(device_ids) != 1:
            raise DistributedError("DistributedDataParallel drives one device per process; got "
                                   f"device_ids={list(device_ids)}")
        self.module = module
        self.device = None if device_ids is None else _as_device(device_ids[0])
        self.dim = dim
        self.process_group = process_group
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.require_backward_grad_sync = True
        self.world_size = dist.get_world_size(process_group)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise DistributedError("DistributedDataParallel is not needed when a module has no parameter that "
                                   "requires a gradient")
        _verify_same_model(module, process_group)
        _sync_module_states(module, process_group)
        cap = int(bucket_cap_mb * 1024 * 1024)
        self.reducer = Reducer([p for _, p in named], [n for n, _ in named], process_group, self.world_size,
                               cap_bytes=cap, first_cap_bytes=min(cap, int(FIRST_BUCKET_MB * 1024 * 1024)),
                               find_unused_parameters=find_unused_parameters,
                               gradient_as_bucket_view=gradient_as_bucket_view)

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """Broadcast buffers (when asked), arm the reducer for the coming backward, run the module."""
        if self.broadcast_buffers and self.world_size > 1:
            _broadcast_buffers(self.module, self.process_group)
        self.reducer.prepare_for_backward(self.require_backward_grad_sync and grad_mode.is_grad_enabled())
        if self.device is not None:
            inputs, kwargs = to_device(inputs, self.device), to_device(kwargs, self.device)
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes of forwards run inside accumulate gradients locally, without communication;
        the first backward after it all-reduces the accumulated gradients."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    @property
    def bucket_sizes(self) -> list[int]:
        """Bytes per gradient bucket, in the order backward fills them."""
        return [b.nbytes for b in self.reducer.buckets]


def _as_device(d: Any):
    from neurarust.device import as_device

    return as_device(f"cuda:{d}" if isinstance(d, int) else d)


def _signature(module: Module) -> list[tuple[str, str, tuple, str]]:
    params = [("parameter", n, tuple(p.shape), str(p.dtype)) for n, p in module.named_parameters()]
    return params + [("buffer", n, tuple(b.shape), str(b.dtype)) for n, b in module.named_buffers()]


def _verify_same_model(module: Module, group: Any) -> None:
    """Every rank must hold the same parameters and buffers (names, shapes, dtypes) as rank 0."""
    from neurarust import distributed as dist

    mine = _signature(module)
    everyone = dist.all_gather_object(mine, group=group)
    reference = everyone[0]
    for rank, theirs in enumerate(everyone[1:], start=1):
        if len(theirs) != len(reference):
            raise DistributedError(f"DistributedDataParallel expects the same model on every rank, but rank 0 has "
                                   f"{len(reference)} parameters and buffers while rank {rank} has {len(theirs)}")
        for i, (a, b) in enumerate(zip(reference, theirs)):
            if a != b:
                raise DistributedError(f"DistributedDataParallel expects the same model on every rank, but {a[0]} {i} "
                                       f"is {a[1]} of shape {list(a[2])} {a[3]} on rank 0 and {b[1]} of shape "
                                       f"{list(b[2])} {b[3]} on rank {rank}")


def _sync_module_states(module: Module, group: Any) -> None:
    """Rank 0's parameters and buffers overwrite everyone's (written in place, no copies)."""
    from neurarust import distributed as dist

    if dist.get_world_size(group) == 1:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t, src=_global_rank_zero(group), group=group)


def _broadcast_buffers(module: Module, group: Any) -> None:
    from neurarust import distributed as dist

    for b in module.buffers():
        dist.broadcast(b, src=_global_rank_zero(group), group=group)


def _global_rank_zero(group: Any) -> int:
    """The global rank of the group's rank 0 (torch.distributed's ``src`` is a global rank)."""
    if group is None:
        return 0
    import torch.distributed as tdist

    return tdist.get_global_rank(group, 0)
