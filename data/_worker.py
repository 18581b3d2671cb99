"""What runs inside a DataLoader worker process, and how batches travel back to the main process.

Transport: in a worker, ``default_collate`` stacks each batch leaf straight into a fresh
shared-memory file (``/dev/shm``; the worker's :class:`Arena`), as PyTorch collates into shared
storage. Array leaves from elsewhere (a custom ``collate_fn``) are copied into one more file, one
``memcpy`` each. Only the batch's structure, with small placeholders, goes through the worker's pipe;
the main process maps the files, unlinks them at once (so nothing leaks if it dies later) and wraps
the leaves as zero-copy views: no element is ever pickled.

Errors: an exception in a worker becomes an :class:`ExceptionWrapper` carrying the worker id, the
sample index being loaded and the formatted traceback; the main process re-raises it.
"""
from __future__ import annotations

import glob
import itertools
import math
import mmap
import os
import pickle
import random
import signal
import sys
import tempfile
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["WorkerInfo", "get_worker_info"]

SHM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
_ALIGN = 64
_worker_info: "WorkerInfo | None" = None


class WorkerInfo:
    """Who this worker is: ``id`` (0 .. ``num_workers`` - 1), ``num_workers``, ``seed`` (the base seed
    drawn from the loader's generator plus ``id``) and ``dataset`` (this process's copy).

    >>> from neurarust.data import WorkerInfo
    >>> info = WorkerInfo(id=1, num_workers=2, seed=11, dataset=None)
    >>> info.id, info.num_workers
    (1, 2)
    """

    __initialized = False

    def __init__(self, **kwargs: Any) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key: str, val: Any) -> None:
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")
        super().__setattr__(key, val)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__keys if k != "dataset")
        return f"WorkerInfo({fields})"


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process, its :class:`WorkerInfo`; in the main process, ``None``. An
    IterableDataset uses it to read only its share of the stream.

    >>> from neurarust.data import get_worker_info
    >>> get_worker_info() is None
    True
    """
    return _worker_info


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------

class KeyErrorMessage(str):
    """KeyError quotes its message with repr(); this keeps the traceback's newlines readable."""

    def __repr__(self) -> str:
        return str(self)


class ExceptionWrapper:
    """An exception caught in a worker, ready to cross the process boundary and be raised again."""

    def __init__(self, exc_info: tuple, where: str) -> None:
        exc_type = exc_info[0]
        try:
            pickle.loads(pickle.dumps(exc_type))
        except Exception:  # a class defined where the main process cannot import it
            exc_type = RuntimeError
        self.exc_type = exc_type
        self.where = where
        self.exc_msg = "".join(traceback.format_exception(*exc_info))

    def reraise(self) -> None:
        """Raise the original exception type, its message naming the worker, the sample and the traceback."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exception


@dataclass
class IterableEnd:
    """A worker's IterableDataset copy is exhausted."""

    worker_id: int


# ----------------------------------------------------------------------------------------------
# Shared-memory transport
# ----------------------------------------------------------------------------------------------

def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _new_file(path: str, nbytes: int) -> mmap.mmap:
    """A new shared-memory file of ``nbytes`` (at least 1), mapped read-write."""
    nbytes = max(nbytes, 1)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.ftruncate(fd, nbytes)
        return mmap.mmap(fd, nbytes)
    finally:
        os.close(fd)


class Arena:
    """A worker's allocator of arrays that live in shared-memory files. ``default_collate`` stacks
    batches straight into them (PyTorch's trick), so a batch reaches the main process without a copy
    in either process; whatever else a batch holds is copied into one more file by :func:`pack`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._counter = itertools.count()
        self._files: dict[int, tuple[str, mmap.mmap]] = {}   # id(mmap) -> (path, mmap)

    def new_path(self) -> str:
        return f"{self.prefix}-{next(self._counter)}"

    def empty(self, shape: tuple, dtype: Any) -> np.ndarray:
        """An uninitialised C-contiguous array in a new shared-memory file."""
        dtype = np.dtype(dtype)
        count = math.prod(shape)
        path = self.new_path()
        mm = _new_file(path, count * dtype.itemsize)
        self._files[id(mm)] = (path, mm)
        return np.frombuffer(mm, dtype=dtype, count=count).reshape(shape)

    def locate(self, arr: np.ndarray) -> tuple[str, int, int] | None:
        """(path, byte offset, file size) when ``arr`` is C-contiguous memory of this arena."""
        base: Any = arr
        while isinstance(base, np.ndarray):
            base = base.base
        if isinstance(base, memoryview):
            base = base.obj
        entry = self._files.get(id(base))
        if entry is None or not arr.flags.c_contiguous:
            return None
        path, mm = entry
        start = np.frombuffer(mm, dtype=np.uint8, count=1).ctypes.data
        return path, arr.ctypes.data - start, len(mm)

    def remove_all(self) -> None:
        """Unlink every file this arena ever made that still exists (batches nobody will read)."""
        for path in glob.glob(glob.escape(self.prefix) + "-*"):
            _unlink(path)

    def release(self, keep: set[str]) -> None:
        """Forget every file (mappings close with their last array); unlink those not sent."""
        for path, _ in self._files.values():
            if path not in keep:
                _unlink(path)
        self._files.clear()


@dataclass
class _Leaf:
    file: int            # index into SharedBatch.files
    offset: int
    dtype: np.dtype
    shape: tuple
    tensor_dtype: str | None   # NeuraRust dtype name for tensors, None for NumPy arrays


@dataclass
class SharedBatch:
    """A batch whose array leaves live in shared-memory ``files`` ((path, size) pairs)."""

    files: list[tuple[str, int]]
    tree: Any


def _map_tree(obj: Any, leaf_fn: Callable[[Any], Any], is_leaf: Callable[[Any], bool]) -> Any:
    """``obj`` with ``leaf_fn`` applied to its leaves, through dicts, lists, tuples and named tuples."""
    if is_leaf(obj):
        return leaf_fn(obj)
    if isinstance(obj, dict):
        return _rebuild_mapping(obj, {k: _map_tree(v, leaf_fn, is_leaf) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_map_tree(v, leaf_fn, is_leaf) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map_tree(v, leaf_fn, is_leaf) for v in obj)
    return obj


def _rebuild_mapping(original: Any, items: dict) -> Any:
    try:
        return type(original)(items)
    except TypeError:
        return items


def _is_array_leaf(obj: Any) -> bool:
    from neurarust.tensor import Tensor

    if isinstance(obj, Tensor):
        return obj.device.type == "cpu" and not obj.requires_grad
    return isinstance(obj, np.ndarray) and obj.dtype.kind not in "OV"


def pack(batch: Any, arena: Arena) -> Any:
    """``batch`` ready to send: leaves already in the arena are described where they lie, other array
    leaves are copied into one new file; returns ``batch`` itself when it holds no arrays."""
    from neurarust.tensor import Tensor

    files: list[tuple[str, int]] = []
    file_index: dict[str, int] = {}
    copies: list[tuple[_Leaf, np.ndarray]] = []

    def leaf(obj: Any) -> _Leaf:
        arr = obj.numpy(force=True) if isinstance(obj, Tensor) else obj
        tdtype = obj.dtype.name if isinstance(obj, Tensor) else None
        where = arena.locate(arr)
        if where is None:
            out = _Leaf(-1, 0, arr.dtype, arr.shape, tdtype)
            copies.append((out, arr))
            return out
        path, offset, size = where
        if path not in file_index:
            file_index[path] = len(files)
            files.append((path, size))
        return _Leaf(file_index[path], offset, arr.dtype, arr.shape, tdtype)

    tree = _map_tree(batch, leaf, _is_array_leaf)
    if copies:
        offset = 0
        for out, arr in copies:
            out.file, out.offset = len(files), offset
            offset += -(-arr.nbytes // _ALIGN) * _ALIGN
        path = arena.new_path()
        with _new_file(path, offset) as mm:
            for out, arr in copies:
                dst = np.frombuffer(mm, dtype=arr.dtype, count=arr.size, offset=out.offset).reshape(arr.shape)
                np.copyto(dst, arr)
                del dst
        files.append((path, max(offset, 1)))
    return SharedBatch(files, tree) if files else batch


def unpack(shared: SharedBatch) -> Any:
    """Map a :class:`SharedBatch` (unlinking its files) and rebuild the batch as zero-copy views."""
    import neurarust as nr
    from neurarust.tensor import Tensor

    maps = []
    try:
        for path, size in shared.files:
            fd = os.open(path, os.O_RDWR)
            try:
                maps.append(mmap.mmap(fd, size))
            finally:
                os.close(fd)
    finally:
        discard(shared)

    def build(leaf: _Leaf) -> Any:
        count = math.prod(leaf.shape)
        arr = np.frombuffer(maps[leaf.file], dtype=leaf.dtype, count=count, offset=leaf.offset).reshape(leaf.shape)
        return arr if leaf.tensor_dtype is None else Tensor._from_array(arr, getattr(nr, leaf.tensor_dtype))

    return _map_tree(shared.tree, build, lambda x: isinstance(x, _Leaf))


def discard(data: Any) -> None:
    """Free a result that will never be used (its shared-memory files)."""
    if isinstance(data, SharedBatch):
        for path, _ in data.files:
            _unlink(path)


# ----------------------------------------------------------------------------------------------
# Fetchers: one index (or list of indices) -> one sample or collated batch
# ----------------------------------------------------------------------------------------------

class MapFetcher:
    """Reads samples of a map-style dataset, remembering which index it is on (for error messages)."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Any, drop_last: bool) -> None:
        self.dataset, self.auto_collation, self.collate_fn = dataset, auto_collation, collate_fn
        self.current: Any = None

    def fetch(self, index: Any) -> Any:
        if self.auto_collation:
            data = []
            for i in index:
                self.current = i
                data.append(self.dataset[i])
            self.current = f"collating the batch of indices {list(index)}"
        else:
            self.current = index
            data = self.dataset[index]
        return self.collate_fn(data)


class IterFetcher:
    """Reads an IterableDataset's stream; raises StopIteration when it is exhausted."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Any, drop_last: bool) -> None:
        self.dataset_iter = iter(dataset)
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.current: Any = None
        self._count = itertools.count()
        self.ended = False

    def fetch(self, index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in index:
                self.current = f"loading item {next(self._count)} of the stream"
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < len(index)):
                raise StopIteration
        else:
            self.current = f"loading item {next(self._count)} of the stream"
            data = next(self.dataset_iter)
        return self.collate_fn(data)


def make_fetcher(iterable: bool, dataset: Any, auto_collation: bool, collate_fn: Any, drop_last: bool):
    """The fetcher for a dataset kind."""
    return (IterFetcher if iterable else MapFetcher)(dataset, auto_collation, collate_fn, drop_last)


def where(worker_id: int, fetcher: Any) -> str:
    """The 'in worker ... while loading ...' part of an error message."""
    current = getattr(fetcher, "current", None)
    what = "" if current is None else (f" while loading sample index {current}" if isinstance(current, int)
                                       else f" while {current}")
    return f"in DataLoader worker process {worker_id}{what}"


# ----------------------------------------------------------------------------------------------
# The worker loop
# ----------------------------------------------------------------------------------------------

def seed_worker(seed: int) -> None:
    """Seed every generator a dataset or transform may use: NeuraRust's, Python's and NumPy's."""
    import neurarust as nr

    random.seed(seed)
    nr.manual_seed(seed)
    np.random.seed(seed % (1 << 32))


def worker_loop(iterable: bool, dataset: Any, index_conn: Any, result_conn: Any, auto_collation: bool,
                collate_fn: Any, drop_last: bool, base_seed: int, init_fn: Any, worker_id: int,
                num_workers: int, prefix: str, parent_pid: int) -> None:
    """Serve ``(task_id, index)`` requests until ``None`` arrives or the parent process is gone."""
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    seed = base_seed + worker_id
    seed_worker(seed)
    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
    init_error = fetcher = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
    except Exception:
        init_error = ExceptionWrapper(sys.exc_info(), f"in DataLoader worker process {worker_id} (worker_init_fn)")
    from . import collate

    arena = Arena(f"{prefix}-{worker_id}")
    collate.shared_empty = arena.empty  # default_collate now stacks batches into shared memory
    try:
        while True:
            if not index_conn.poll(1.0):
                if os.getppid() != parent_pid:  # orphaned: the main process died, nobody will read
                    arena.remove_all()
                    return
                continue
            msg = index_conn.recv()
            if msg is None:
                return
            if msg == "resume":
                if init_error is None:
                    fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
                result_conn.send(("resume", None))
                continue
            task, index = msg
            if init_error is not None:
                data: Any = init_error
            else:
                try:
                    data = pack(fetcher.fetch(index), arena)
                except StopIteration:
                    data = IterableEnd(worker_id)
                except Exception:
                    data = ExceptionWrapper(sys.exc_info(), where(worker_id, fetcher))
                arena.release({path for path, _ in data.files} if isinstance(data, SharedBatch) else set())
            result_conn.send((task, data))
    except (EOFError, BrokenPipeError, ConnectionResetError):  # the main process is gone
        arena.remove_all()
    except KeyboardInterrupt:
        pass
