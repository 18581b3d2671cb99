"""Collectives on NeuraRust tensors, run by torch.distributed on the tensors' own memory.

Each tensor is handed to torch.distributed as a torch view of its storage (``Storage.torch``, the
alias the Triton launches use), so nothing is copied: the bytes NCCL or gloo read and write are the
tensor's. Non-contiguous tensors (which the backends refuse) go through a contiguous copy, and
outputs are copied back when the collective completes; pass contiguous tensors to avoid the copies.
Every output's version counter is bumped, as for any in-place write.

``async_op=True`` returns a :class:`Work` whose ``wait()`` blocks until the collective is done and
then finishes it (copies back, averages); ``async_op=False`` returns None once done. A peer that
dies, raises or never arrives makes the collective fail with DistributedError after the timeout
given to ``init_process_group``.

    >>> import tempfile, os, neurarust as nr, neurarust.distributed as dist
    >>> dist.init_process_group("gloo", init_method="file://" + os.path.join(tempfile.mkdtemp(), "rdv"),
    ...                         world_size=1, rank=0)
    >>> x = nr.tensor([1.0, 2.0])
    >>> work = dist.all_reduce(x, op=dist.ReduceOp.AVG, async_op=True)
    >>> work.wait(), x.tolist()
    (True, [1.0, 2.0])
    >>> dist.destroy_process_group()
"""
from __future__ import annotations

import enum
from typing import Any, Callable, Sequence

from neurarust.autograd import grad_mode
from neurarust.errors import DistributedError, DTypeError, ShapeError
from neurarust.tensor import Tensor, _torch_alias

from .process_group import _require, translate_errors


class ReduceOp(enum.Enum):
    """How ``all_reduce`` and ``reduce_scatter_tensor`` combine the ranks' values."""

    SUM = "SUM"
    AVG = "AVG"
    PRODUCT = "PRODUCT"
    MIN = "MIN"
    MAX = "MAX"


class Work:
    """The handle of an asynchronous collective: ``wait()`` blocks until it completed (then copies
    non-contiguous outputs back and finishes an emulated average) and returns True."""

    def __init__(self, op: str, work: Any, finish: Sequence[Callable[[], None]]):
        self._op, self._work, self._finish, self._done = op, work, list(finish), False

    def wait(self) -> bool:
        """Block until the collective is done; DistributedError when it failed or timed out."""
        if not self._done:
            with translate_errors(self._op):
                if self._work is not None:
                    self._work.wait()
            self._done = True
            for fn in self._finish:
                fn()
        return True

    def is_completed(self) -> bool:
        """Whether ``wait()`` would return at once (the data is in place only after ``wait()``)."""
        return self._done or self._work is None or bool(self._work.is_completed())


# ----------------------------------------------------------------------------------------------
# Tensors as torch views
# ----------------------------------------------------------------------------------------------

def _check(t: Any, what: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise DistributedError(f"{what} must be a NeuraRust Tensor, got {type(t).__name__}")
    return t


def _input(t: Tensor, what: str):
    """A torch view of ``t`` for reading (a contiguous copy when ``t`` is not contiguous)."""
    t = _check(t, what)
    return _torch_alias(t if t.is_contiguous() else t.contiguous())


def _output(t: Tensor, what: str, finish: list):
    """A torch view of ``t`` that the collective writes; ``finish`` gets the copy-back / version bump."""
    t = _check(t, what)
    if t.is_contiguous():
        finish.append(t._bump_version)
        return _torch_alias(t)
    tmp = t.contiguous()

    def copy_back() -> None:
        with grad_mode.no_grad():
            t.detach().copy_(tmp)

    finish.append(copy_back)
    return _torch_alias(tmp)


def _launch(op: str, call: Callable[[], Any], finish: list, async_op: bool) -> Work | None:
    with translate_errors(op):
        work = call()
    handle = Work(op, work, finish)
    if async_op:
        return handle
    handle.wait()
    return None


def _emulates_avg(op: ReduceOp) -> bool:
    """gloo has no AVG on every torch version: sum, then divide by the world size."""
    from .process_group import get_backend

    return op is ReduceOp.AVG and "nccl" not in get_backend()


def _torch_op(op: ReduceOp | str, tensor: Tensor, emulate: bool):
    op = ReduceOp(op.upper()) if isinstance(op, str) else op
    if not isinstance(op, ReduceOp):
        raise DistributedError(f"op must be a neurarust.distributed.ReduceOp, got {op!r}")
    if op is ReduceOp.AVG and not tensor.dtype.is_floating_point:
        raise DTypeError(f"ReduceOp.AVG needs a floating dtype, got {tensor.dtype}")
    name = "SUM" if emulate else op.value
    return getattr(_require().ReduceOp, name)


def _divide_by_world(t: Tensor, group: Any) -> Callable[[], None]:
    def finish() -> None:
        with grad_mode.no_grad():
            t.detach().div_(_require().get_world_size(group))
    return finish


# ----------------------------------------------------------------------------------------------
# Collectives
# ----------------------------------------------------------------------------------------------

def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: Any = None, async_op: bool = False) -> Work | None:
    """Combine ``tensor`` over all ranks with ``op`` (SUM, AVG, PRODUCT, MIN, MAX), in place on each.

    >>> import tempfile, os, neurarust as nr, neurarust.distributed as dist
    >>> dist.init_process_group("gloo", init_method="file://" + os.path.join(tempfile.mkdtemp(), "rdv"),
    ...                         world_size=1, rank=0)
    >>> x = nr.tensor([3.0, -1.0]); dist.all_reduce(x, op=dist.ReduceOp.MAX); x.tolist()
    [3.0, -1.0]
    >>> dist.destroy_process_group()
    """
    dist = _require()
    op = ReduceOp(op.upper()) if isinstance(op, str) else op
    emulate = _emulates_avg(op)
    torch_op = _torch_op(op, tensor, emulate)
    finish: list = []
    view = _output(tensor, "all_reduce tensor", finish)
    if emulate:
        finish.append(_divide_by_world(tensor, group))
    return _launch("all_reduce", lambda: dist.all_reduce(view, op=torch_op, group=group, async_op=True), finish,
                   async_op)


def broadcast(tensor: Tensor, src: int = 0, group: Any = None, async_op: bool = False) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank."""
    dist = _require()
    finish: list = []
    view = _output(tensor, "broadcast tensor", finish)
    return _launch("broadcast", lambda: dist.broadcast(view, src=src, group=group, async_op=True), finish, async_op)


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: Any = None, async_op: bool = False) -> Work | None:
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` on every rank."""
    dist = _require()
    finish: list = []
    outs = [_output(t, f"all_gather tensor_list[{i}]", finish) for i, t in enumerate(tensor_list)]
    src = _input(tensor, "all_gather tensor")
    return _launch("all_gather", lambda: dist.all_gather(outs, src, group=group, async_op=True), finish, async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group: Any = None,
                           async_op: bool = False) -> Work | None:
    """Concatenate the ranks' ``input_tensor`` along dim 0 into ``output_tensor`` on every rank
    (``output_tensor`` holds world_size times the elements of ``input_tensor``)."""
    dist = _require()
    _check_multiple(output_tensor, input_tensor, dist.get_world_size(group), "all_gather_into_tensor")
    finish: list = []
    out = _output(output_tensor, "all_gather_into_tensor output", finish)
    src = _input(input_tensor, "all_gather_into_tensor input")
    fn = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
    return _launch("all_gather_into_tensor", lambda: fn(out, src, group=group, async_op=True), finish, async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: ReduceOp = ReduceOp.SUM, group: Any = None,
                          async_op: bool = False) -> Work | None:
    """Reduce ``input`` over the ranks with ``op`` and give rank r the r-th of world_size equal chunks
    (along dim 0) in ``output``."""
    dist = _require()
    _check_multiple(input, output, dist.get_world_size(group), "reduce_scatter_tensor")
    op = ReduceOp(op.upper()) if isinstance(op, str) else op
    emulate = _emulates_avg(op)
    torch_op = _torch_op(op, output, emulate)
    finish: list = []
    out = _output(output, "reduce_scatter_tensor output", finish)
    if emulate:
        finish.append(_divide_by_world(output, group))
    src = _input(input, "reduce_scatter_tensor input")
    fn = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor
    return _launch("reduce_scatter_tensor", lambda: fn(out, src, op=torch_op, group=group, async_op=True), finish,
                   async_op)


def gather(tensor: Tensor, gather_list: list[Tensor] | None = None, dst: int = 0, group: Any = None,
           async_op: bool = False) -> Work | None:
    """Collect every rank's ``tensor`` into ``gather_list`` on rank ``dst`` (None on the others)."""
    dist = _require()
    finish: list = []
    outs = None if gather_list is None else [_output(t, f"gather_list[{i}]", finish) for i, t in enumerate(gather_list)]
    src = _input(tensor, "gather tensor")
    return _launch("gather", lambda: dist.gather(src, outs, dst=dst, group=group, async_op=True), finish, async_op)


def scatter(tensor: Tensor, scatter_list: list[Tensor] | None = None, src: int = 0, group: Any = None,
            async_op: bool = False) -> Work | None:
    """Rank ``src`` sends ``scatter_list[r]`` to rank r, which receives it in ``tensor``."""
    dist = _require()
    finish: list = []
    out = _output(tensor, "scatter tensor", finish)
    ins = None if scatter_list is None else [_input(t, f"scatter_list[{i}]") for i, t in enumerate(scatter_list)]
    return _launch("scatter", lambda: dist.scatter(out, ins, src=src, group=group, async_op=True), finish, async_op)


def send(tensor: Tensor, dst: int, group: Any = None, tag: int = 0) -> None:
    """Send ``tensor`` to rank ``dst`` (blocks until it was handed over)."""
    isend(tensor, dst, group, tag).wait()


def recv(tensor: Tensor, src: int | None = None, group: Any = None, tag: int = 0) -> int:
    """Receive into ``tensor`` from rank ``src`` (any rank when None); returns the sender's rank."""
    dist = _require()
    finish: list = []
    out = _output(tensor, "recv tensor", finish)
    with translate_errors("recv"):
        sender = dist.recv(out, src=src, group=group, tag=tag)
    Work("recv", None, finish).wait()
    return int(sender)


def isend(tensor: Tensor, dst: int, group: Any = None, tag: int = 0) -> Work:
    """Start sending ``tensor`` to rank ``dst``; don't write ``tensor`` before ``wait()``."""
    dist = _require()
    src = _input(tensor, "isend tensor")
    return _launch("isend", lambda: dist.isend(src, dst=dst, group=group, tag=tag), [], async_op=True)


def irecv(tensor: Tensor, src: int | None = None, group: Any = None, tag: int = 0) -> Work:
    """Start receiving into ``tensor`` from rank ``src``; read it after ``wait()``."""
    dist = _require()
    finish: list = []
    out = _output(tensor, "irecv tensor", finish)
    return _launch("irecv", lambda: dist.irecv(out, src=src, group=group, tag=tag), finish, async_op=True)


def all_gather_object(obj: Any, group: Any = None) -> list:
    """Every rank's picklable ``obj``, as a list indexed by rank (for small metadata, not tensors)."""
    dist = _require()
    out: list = [None] * dist.get_world_size(group)
    with translate_errors("all_gather_object"):
        dist.all_gather_object(out, obj, group=group)
    return out


def _check_multiple(big: Tensor, small: Tensor, world: int, op: str) -> None:
    if _check(big, f"{op} tensor").numel() != world * _check(small, f"{op} tensor").numel():
        raise ShapeError(f"{op}: the larger tensor must hold world_size ({world}) times the elements of the "
                         f"smaller, got shapes {list(big.shape)} and {list(small.shape)}")
