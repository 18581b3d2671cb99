"""The gradient reducer of DistributedDataParallel: buckets, hooks, overlapped all-reduces.

Each bucket is one flat tensor holding the gradients of its parameters. A post-accumulate-grad hook
on every parameter copies its fresh ``.grad`` into the bucket, divided by the world size (so the sum
over ranks is the average, and fp16 sums cannot overflow); when a bucket's last gradient arrives,
its all-reduce starts asynchronously while backward goes on computing the earlier layers' gradients.
Buckets start in a fixed order on every rank (collectives must match across ranks). A callback
queued with the backward engine runs when backward ends: it waits for the all-reduces and copies the
averaged gradients back into ``.grad`` (with ``gradient_as_bucket_view`` ``.grad`` is the bucket
view itself and nothing is copied).

    >>> from neurarust.parallel.reducer import Reducer
    >>> Reducer.__name__
    'Reducer'
"""
from __future__ import annotations

import time
from typing import Any, Sequence

from neurarust.autograd import grad_mode
from neurarust.autograd.engine import queue_callback
from neurarust.errors import DistributedError
from neurarust.tensor import Tensor

from .buckets import assign_buckets


class Bucket:
    """A flat gradient buffer, the parameters it serves and the state of its all-reduce."""

    def __init__(self, index: int, members: list[int], params: Sequence[Tensor]):
        from neurarust.creation import zeros

        self.index = index
        self.members = members
        first = params[members[0]]
        self.buffer = zeros(sum(params[i].numel() for i in members), dtype=first.dtype, device=first.device)
        self.views: dict[int, Tensor] = {}
        offset = 0
        for i in members:
            n = params[i].numel()
            self.views[i] = self.buffer[offset:offset + n].view(params[i].shape)
            offset += n
        self.pending = len(members)
        self.work: Any = None

    @property
    def nbytes(self) -> int:
        return self.buffer.numel() * self.buffer.element_size()


class Reducer:
    """Averages the gradients of ``params`` over the ranks of ``group`` during backward."""

    def __init__(self, params: Sequence[Tensor], names: Sequence[str], group: Any, world_size: int, *,
                 cap_bytes: int, first_cap_bytes: int, find_unused_parameters: bool,
                 gradient_as_bucket_view: bool):
        self.params, self.names, self.group, self.world_size = list(params), list(names), group, world_size
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        layout = assign_buckets(self.params, first_cap_bytes, cap_bytes)
        self.buckets = [Bucket(b, members, self.params) for b, members in enumerate(layout)]
        self.bucket_of = {i: b for b in self.buckets for i in b.members}
        self.trace: list | None = None   # set to [] to record (event, index, perf_counter()) tuples
        self.expecting = False           # a DDP forward ran with gradient sync on: the next backward reduces
        self.handles = [p.register_post_accumulate_grad_hook(self._hook(i)) for i, p in enumerate(self.params)]
        self._reset()

    def _reset(self) -> None:
        self.ready = [False] * len(self.params)
        self.next_bucket = 0
        self.armed = False
        for b in self.buckets:
            b.pending, b.work = len(b.members), None

    def prepare_for_backward(self, sync: bool) -> None:
        """Called by each DDP forward: the coming backward all-reduces when ``sync``."""
        self._reset()
        self.expecting = sync

    # -- during backward ----------------------------------------------------------------------
    def _hook(self, i: int):
        def hook(p: Tensor) -> None:
            if self.expecting:
                self._mark_ready(i, p.grad)
        return hook

    def _record(self, event: str, index: int) -> None:
        if self.trace is not None:
            self.trace.append((event, index, time.perf_counter()))

    def _mark_ready(self, i: int, grad: Tensor | None) -> None:
        if not self.armed:
            self.armed = True
            queue_callback(self._finish)
        if self.ready[i]:
            raise DistributedError(f"DistributedDataParallel: parameter {i} ({self.names[i]}) got its gradient twice "
                                   "in one backward; reentrant backward or a second backward over the same "
                                   "forward is not supported")
        self._record("grad_ready", i)
        self.ready[i] = True
        self._copy_in(i, grad)
        bucket = self.bucket_of[i]
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch_ready_buckets()

    def _copy_in(self, i: int, grad: Tensor | None) -> None:
        """The bucket slot of parameter ``i`` := grad / world_size (grad None: zeros)."""
        view = self.bucket_of[i].views[i]
        with grad_mode.no_grad():
            if grad is None:
                view.zero_()
                return
            if grad is not view:
                view.copy_(grad)
            if self.world_size > 1:
                view.div_(self.world_size)
        if self.gradient_as_bucket_view:
            self.params[i].grad = view

    def _launch_ready_buckets(self) -> None:
        from neurarust.distributed import all_reduce

        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            bucket = self.buckets[self.next_bucket]
            self._record("allreduce_start", bucket.index)
            if self.world_size > 1:   # a world of one has nothing to average
                bucket.work = all_reduce(bucket.buffer, group=self.group, async_op=True)
            self.next_bucket += 1

    # -- at the end of backward ---------------------------------------------------------------
    def _finish(self) -> None:
        self._record("backward_end", -1)
        try:
            missing = [i for i, r in enumerate(self.ready) if not r]
            if missing and not self.find_unused_parameters:
                self._wait_all()
                raise DistributedError(self._unused_message(missing))
            globally_used = self._fill_unused(missing) if self.find_unused_parameters else None
            self._wait_all()
            self._copy_out(globally_used)
        finally:
            self.expecting = False
            self._reset()

    def _fill_unused(self, missing: list[int]) -> list[bool]:
        """Locally unused parameters contribute their current ``.grad`` (or zeros); returns whether
        each parameter was used on some rank (an all-reduce of the local use flags)."""
        from neurarust.creation import tensor
        from neurarust.distributed import ReduceOp, all_reduce

        used = [not (i in set(missing) and self.params[i].grad is None) for i in range(len(self.params))]
        for i in missing:
            self.ready[i] = True
            self._copy_in(i, self.params[i].grad)
            self.bucket_of[i].pending -= 1
        self._launch_ready_buckets()
        flags = tensor([int(u) for u in used], dtype="int32")
        all_reduce(flags, op=ReduceOp.MAX, group=self.group)
        return [bool(f) for f in flags.tolist()]

    def _wait_all(self) -> None:
        for b in self.buckets:
            if b.work is not None:
                b.work.wait()
                self._record("allreduce_done", b.index)

    def _copy_out(self, globally_used: list[bool] | None) -> None:
        with grad_mode.no_grad():
            for i, p in enumerate(self.params):
                if globally_used is not None and not globally_used[i]:
                    continue
                view = self.bucket_of[i].views[i]
                if self.gradient_as_bucket_view or p.grad is None:
                    p.grad = view if self.gradient_as_bucket_view else view.clone()
                elif p.grad is not view:
                    p.grad.copy_(view)

    def _unused_message(self, missing: list[int]) -> str:
        from neurarust.distributed import get_rank

        names = ", ".join(self.names[i] for i in missing)
        return ("DistributedDataParallel: expected every parameter to receive a gradient in this backward, but "
                f"on rank {get_rank(self.group)} parameter indices {' '.join(map(str, missing))} ({names}) did not. "
                "Your module has parameters that were not used in producing the loss. Pass "
                "find_unused_parameters=True to DistributedDataParallel, or make sure every forward output takes "
                "part in the loss (or freeze unused parameters with requires_grad_(False)).")

    def remove_hooks(self) -> None:
        """Detach the reducer from the parameters."""
        for h in self.handles:
            h.remove()
