"""``DataLoader``: PyTorch's arguments and semantics, in the main process or in worker processes.

With ``num_workers > 0`` each worker is a process with two pipes: tasks ``(task id, indices)`` in,
results out. The main process keeps ``prefetch_factor * num_workers`` tasks in flight, hands them
round-robin, and yields results in task order. It waits on the result pipes and the workers' process
sentinels together, so a worker killed by a signal is noticed at once rather than after a timeout.
Batches come back through shared memory (see ``neurarust.data._worker``).

    >>> import neurarust as nr
    >>> from neurarust.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(nr.arange(10.0), nr.arange(10))
    >>> [y.tolist() for _, y in DataLoader(ds, batch_size=4)]
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
"""
from __future__ import annotations

import glob
import itertools
import multiprocessing as mp
import multiprocessing.connection as mpc
import os
import signal
import time
import uuid
import warnings
import weakref
from typing import Any, Callable, Iterable, Iterator

from neurarust.errors import ArgumentError

from . import _worker as W
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, draw_seed

__all__ = ["DataLoader"]

_STATUS_INTERVAL = 5.0   # how often a wait with no timeout re-checks that workers are alive


class _InfiniteConstantSampler(Sampler[None]):
    """The sampler of an IterableDataset: the loader only counts; the dataset decides what comes."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


def _default_context() -> Any:
    # fork starts a worker in milliseconds and needs nothing picklable; PyTorch's default on Linux too.
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader`` does.

    * ``batch_size`` / ``drop_last`` / ``shuffle`` / ``sampler`` / ``batch_sampler``: which indices make
      each batch (``batch_size=None`` turns batching off: samples go through ``default_convert``).
    * ``collate_fn``: list of samples -> batch (default :func:`~neurarust.data.default_collate`).
    * ``num_workers``: worker processes (0: load in the main process). ``worker_init_fn(worker_id)``
      runs first in each; ``prefetch_factor`` tasks per worker stay in flight; ``persistent_workers``
      keeps them across epochs; ``timeout`` (seconds, 0 = none) bounds the wait for one batch;
      ``multiprocessing_context`` picks the start method (default fork where available).
    * ``generator``: draws each epoch's base seed (worker ``i`` is seeded with base seed + ``i``) and the
      shuffling order when ``shuffle=True``.
    * ``pin_memory``: copy batches into page-locked host memory (needs CUDA; a warning otherwise).
    * ``in_order=False``: with workers, yield batches as they arrive instead of in sampler order.

    >>> import neurarust as nr
    >>> from neurarust.data import DataLoader
    >>> loader = DataLoader(range(7), batch_size=3, shuffle=True, drop_last=True,
    ...                     generator=nr.Generator().manual_seed(0))
    >>> len(loader), [b.shape[0] for b in loader]
    (2, [3, 3])
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Sampler | Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True) -> None:
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ArgumentError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ArgumentError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ArgumentError("prefetch_factor option could only be specified in multiprocessing. "
                                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ArgumentError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ArgumentError("persistent_workers option needs num_workers > 0")
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in (None, False):
                raise ArgumentError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                                    f"but got shuffle={shuffle}")
            if sampler is not None:
                raise ArgumentError(f"DataLoader with IterableDataset: expected unspecified sampler option, "
                                    f"but got sampler={sampler}")
            if batch_sampler is not None:
                raise ArgumentError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                    f"but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ArgumentError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ArgumentError("batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                    "sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ArgumentError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)
        self._iterable = iterable
        self._iterator: _BaseIter | None = None

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> "_BaseIter":
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _MultiProcessIter(self)
        if self._iterator is None or self._iterator._pool.closed:   # first epoch, or after a failure
            self._iterator = _MultiProcessIter(self)
        else:
            self._iterator._reset(first=False)
        return self._iterator

    def __len__(self) -> int:
        """Number of batches: from the sampler, or for an IterableDataset from ``len(dataset)``.

        >>> from neurarust.data import DataLoader
        >>> len(DataLoader(range(10), batch_size=4)), len(DataLoader(range(10), batch_size=4, drop_last=True))
        (3, 2)
        """
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)


# ----------------------------------------------------------------------------------------------
# Iterators
# ----------------------------------------------------------------------------------------------

def _pin(data: Any) -> Any:
    """Copy the CPU tensors of ``data`` into page-locked memory from the CUDA caching host allocator."""
    import numpy as np
    import torch

    from neurarust.tensor import Tensor

    if isinstance(data, Tensor) and data.device.type == "cpu":
        src = data.numpy(force=True)
        buf = torch.empty(max(src.nbytes, 1), dtype=torch.uint8, pin_memory=True).numpy()
        dst = buf[:src.nbytes].view(src.dtype).reshape(src.shape)
        np.copyto(dst, src)
        return Tensor._from_array(dst, data.dtype)  # dst's base chain keeps the pinned block alive
    if isinstance(data, dict):
        return W._rebuild_mapping(data, {k: _pin(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_pin(v) for v in data))
    if isinstance(data, (list, tuple)):
        return type(data)(_pin(v) for v in data)
    return data


class _BaseIter:
    """State shared by both iterators: the index stream and the epoch's base seed."""

    def __init__(self, loader: DataLoader) -> None:
        import neurarust as nr

        self._loader = loader
        self._dataset = loader.dataset
        self._iterable = loader._iterable
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._collate_fn = loader.collate_fn
        self._pin_memory = False
        if loader.pin_memory:
            self._pin_memory = nr.cuda.is_available()
            if not self._pin_memory:
                warnings.warn("'pin_memory' argument is set as true but no CUDA device is found, "
                              "so pinned memory won't be used.", stacklevel=3)
        self._sampler_iter: Iterator = iter(self._index_sampler)
        self._base_seed = draw_seed(loader.generator)
        self._num_yielded = 0

    def __iter__(self) -> "_BaseIter":
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self) -> Any:
        data = self._next_data()
        self._num_yielded += 1
        return _pin(data) if self._pin_memory else data

    def _next_index(self) -> Any:
        return next(self._sampler_iter)

    def _next_data(self) -> Any:
        raise NotImplementedError


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._fetcher = W.make_fetcher(self._iterable, self._dataset, self._auto_collation, self._collate_fn,
                                       self._drop_last)

    def _next_data(self) -> Any:
        return self._fetcher.fetch(self._next_index())


class _Pool:
    """The worker processes and their pipes; ``shutdown`` is idempotent and runs at garbage collection."""

    def __init__(self) -> None:
        self.workers: list[Any] = []
        self.index_conns: list[Any] = []
        self.result_conns: list[Any] = []
        self.owner = os.getpid()
        self.prefix = os.path.join(W.SHM_DIR, f"neurarust-data-{self.owner}-{uuid.uuid4().hex[:12]}")
        self.closed = False

    @staticmethod
    def drain(conn: Any) -> None:
        try:
            while conn.poll():
                _, data = conn.recv()
                W.discard(data)
        except (EOFError, OSError):
            pass

    def shutdown(self, kill: bool = False) -> None:
        """Stop the workers (``kill``: at once, their work is moot), reap them, free unread batches."""
        if self.closed or os.getpid() != self.owner:
            return  # a forked child collecting its copy of the pool: the workers are not its own
        self.closed = True
        if kill:
            for w in self.workers:
                if w.is_alive():
                    w.kill()
        for conn in self.index_conns:
            try:
                conn.send(None)
            except OSError:
                pass
        for w, conn in zip(self.workers, self.result_conns):
            deadline = time.monotonic() + _STATUS_INTERVAL
            while w.is_alive() and time.monotonic() < deadline:
                self.drain(conn)  # a worker blocked on a full pipe must be able to finish
                w.join(timeout=0.05)
            if w.is_alive():
                w.terminate()
            w.join()  # reaps the process: no zombie
            self.drain(conn)
        for conn in self.index_conns + self.result_conns:
            conn.close()
        for path in glob.glob(self.prefix + "-*"):  # files of workers killed mid-batch
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited unexpectedly with exit code {code}"


class _MultiProcessIter(_BaseIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._in_order = loader.in_order
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = _default_context()
        elif isinstance(ctx, str):
            ctx = mp.get_context(ctx)
        pool = self._pool = _Pool()
        self._finalizer = weakref.finalize(self, pool.shutdown)
        try:
            for wid in range(self._num_workers):
                idx_recv, idx_send = ctx.Pipe(duplex=False)
                res_recv, res_send = ctx.Pipe(duplex=False)
                w = ctx.Process(target=W.worker_loop, daemon=True,
                                args=(self._iterable, self._dataset, idx_recv, res_send, self._auto_collation,
                                      self._collate_fn, self._drop_last, self._base_seed, loader.worker_init_fn,
                                      wid, self._num_workers, pool.prefix, os.getpid()))
                w.start()
                # Close the child's ends here so a dead worker reads as EOF on its result pipe.
                idx_recv.close()
                res_send.close()
                pool.workers.append(w)
                pool.index_conns.append(idx_send)
                pool.result_conns.append(res_recv)
        except BaseException:
            pool.shutdown()
            raise
        self._reset(first=True)

    # -- epoch bookkeeping ----------------------------------------------------------------------
    def _reset(self, first: bool) -> None:
        if not first:
            self._sampler_iter = iter(self._index_sampler)
            self._num_yielded = 0
        self._send_idx = 0       # next task id to send
        self._rcvd_idx = 0       # next task id to yield
        self._task_info: dict[int, tuple] = {}   # task id -> (worker,) or (worker, data)
        self._tasks_outstanding = 0
        self._active = [True] * self._num_workers
        self._cycle = itertools.cycle(range(self._num_workers))
        if not first:
            # Workers restart their IterableDataset stream; results of an abandoned epoch are dropped.
            for conn in self._pool.index_conns:
                conn.send("resume")
            pending = set(range(self._num_workers))
            while pending:
                wid, (task, data) = self._get_data()
                if task == "resume":
                    pending.discard(wid)
                else:
                    W.discard(data)
        for _ in range(self._prefetch * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            wid = next(self._cycle)
            if self._active[wid]:
                break
        else:
            return
        self._pool.index_conns[wid].send((self._send_idx, index))
        self._task_info[self._send_idx] = (wid,)
        self._tasks_outstanding += 1
        self._send_idx += 1

    # -- receiving --------------------------------------------------------------------------------
    def _fail(self, message: str) -> None:
        self._finalizer.detach()
        self._pool.shutdown(kill=True)
        raise RuntimeError(message)

    def _check_workers(self) -> None:
        for wid, w in enumerate(self._pool.workers):
            if not w.is_alive():
                self._fail(f"DataLoader worker {wid} (pid {w.pid}) {_describe_exit(w.exitcode)}")

    def _get_data(self) -> tuple[int, tuple]:
        """The next message from any worker, as (worker id, (task id, data)). Liveness is checked only
        when a worker's sentinel fires or a wait times out, not on every batch."""
        conns = self._pool.result_conns
        sentinels = [w.sentinel for w in self._pool.workers]
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            for wid, conn in enumerate(conns):
                if conn.poll():
                    try:
                        return wid, conn.recv()
                    except (EOFError, OSError):
                        self._check_workers()
                        self._fail(f"DataLoader worker {wid} closed its pipe unexpectedly")
            wait = _STATUS_INTERVAL if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                self._check_workers()
                self._fail(f"DataLoader timed out after {self._timeout} seconds")
            ready = mpc.wait(conns + sentinels, timeout=min(wait, _STATUS_INTERVAL))
            if not ready or any(s in ready for s in sentinels):
                self._check_workers()

    def _next_data(self) -> Any:
        while True:
            if self._pool.closed:
                raise StopIteration
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._active[info[0]]):
                    break
                # Already yielded (in_order=False), or its worker ran out of data: nothing will come.
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._finalizer()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process(info[1])
            wid, (task, data) = self._get_data()
            self._tasks_outstanding -= 1
            if isinstance(data, W.IterableEnd):
                self._active[data.worker_id] = False
                self._try_put_index()
                continue
            if task != self._rcvd_idx and self._in_order:
                self._task_info[task] += (data,)
                continue
            del self._task_info[task]
            if task == self._rcvd_idx:
                self._rcvd_idx += 1
            return self._process(data)

    def _process(self, data: Any) -> Any:
        self._try_put_index()
        if isinstance(data, W.ExceptionWrapper):
            data.reraise()
        return W.unpack(data) if isinstance(data, W.SharedBatch) else data

    def _shutdown_workers(self) -> None:
        """Stop and reap the workers now (also done when the iterator is garbage collected)."""
        self._finalizer()

