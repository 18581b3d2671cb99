"""Datasets: the map-style :class:`Dataset` (``__getitem__`` + ``__len__``), the streaming
:class:`IterableDataset` (``__iter__``), and the combinators PyTorch users know: :class:`TensorDataset`,
:class:`Subset`, :class:`ConcatDataset`, :class:`ChainDataset`, :class:`StackDataset` and
:func:`random_split`.

    >>> import neurarust as nr
    >>> from neurarust.data import TensorDataset, random_split
    >>> ds = TensorDataset(nr.arange(10), nr.arange(10) * 2)
    >>> train, test = random_split(ds, [0.8, 0.2], generator=nr.Generator().manual_seed(0))
    >>> len(train), len(test)
    (8, 2)
"""
from __future__ import annotations

import bisect
import math
from typing import Any, Generic, Iterable, Iterator, Sequence, TypeVar

from neurarust.errors import ArgumentError, IndexOutOfRangeError, ShapeError

T_co = TypeVar("T_co", covariant=True)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
           "StackDataset", "random_split"]


class Dataset(Generic[T_co]):
    """A map-style dataset: subclasses define ``__getitem__(index)`` and usually ``__len__``.

    ``a + b`` concatenates two datasets (a :class:`ConcatDataset`).

    >>> from neurarust.data import Dataset
    >>> class Squares(Dataset):
    ...     def __len__(self): return 4
    ...     def __getitem__(self, i): return i * i
    >>> ds = Squares() + Squares()
    >>> len(ds), ds[5]
    (8, 1)
    """

    def __getitem__(self, index: Any) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A dataset read as a stream: subclasses define ``__iter__``. With ``num_workers > 0`` every worker
    runs its own copy of the iterator; shard the stream with :func:`neurarust.data.get_worker_info`.

    >>> from neurarust.data import IterableDataset
    >>> class Count(IterableDataset):
    ...     def __iter__(self): return iter(range(3))
    >>> list(Count() + Count())
    [0, 1, 2, 0, 1, 2]
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other: Dataset) -> "ChainDataset":
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of tensors (or arrays) that share their first dimension.

    >>> import neurarust as nr
    >>> from neurarust.data import TensorDataset
    >>> ds = TensorDataset(nr.tensor([[1, 2], [3, 4]]), nr.tensor([0, 1]))
    >>> [t.tolist() for t in ds[1]], len(ds)
    ([[3, 4], 1], 2)
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ArgumentError("TensorDataset needs at least one tensor")
        sizes = [len(t) for t in tensors]
        if any(s != sizes[0] for s in sizes):
            raise ShapeError(f"Size mismatch between tensors: first dimensions are {sizes}")
        self.tensors = tuple(tensors)

    def __getitem__(self, index: Any) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


class StackDataset(Dataset):
    """Zips datasets of equal length: samples are tuples (positional) or dicts (keyword datasets).

    >>> from neurarust.data import StackDataset
    >>> StackDataset(image=[10, 11], label=[0, 1])[1]
    {'image': 11, 'label': 1}
    >>> StackDataset([1, 2], "ab")[0]
    (1, 'a')
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ArgumentError("StackDataset takes datasets either as positional or as keyword arguments, not both")
        if not args and not kwargs:
            raise ArgumentError("StackDataset needs at least one dataset")
        self.datasets: tuple | dict = args if args else kwargs
        lengths = [len(d) for d in (args or kwargs.values())]
        if any(n != lengths[0] for n in lengths):
            raise ShapeError(f"Size mismatch between datasets: lengths are {lengths}")
        self._length = lengths[0]

    def __getitem__(self, index: int) -> tuple | dict:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class NegativeIndexError(IndexOutOfRangeError, ArgumentError):
    """A negative index beyond a dataset's length: PyTorch's ConcatDataset raises ValueError for it,
    so this is both an IndexError and a ValueError."""


class ConcatDataset(Dataset):
    """Map-style datasets one after the other; index ``i`` finds its part by bisection.

    >>> from neurarust.data import ConcatDataset
    >>> ds = ConcatDataset([[0, 1], [2, 3, 4]])
    >>> len(ds), ds[2], ds[-1], ds.cumulative_sizes
    (5, 2, 4, [2, 5])
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ArgumentError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise ArgumentError("ConcatDataset does not support IterableDataset (use ChainDataset)")
        self.cumulative_sizes: list[int] = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if index < 0:
            if -index > n:
                raise NegativeIndexError(f"absolute value of index {index} should not exceed the dataset's length {n}")
            index += n
        part = bisect.bisect_right(self.cumulative_sizes, index)
        if part >= len(self.datasets):
            raise IndexOutOfRangeError(f"index {index} is out of range for a dataset of length {n}")
        start = self.cumulative_sizes[part - 1] if part else 0
        return self.datasets[part][index - start]


class ChainDataset(IterableDataset):
    """Iterable datasets streamed one after the other.

    >>> from neurarust.data import ChainDataset
    >>> list(ChainDataset([range(2), range(3)])), len(ChainDataset([range(2), range(3)]))
    ([0, 1, 0, 1, 2], 5)
    """

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)

    def __iter__(self) -> Iterator:
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    >>> from neurarust.data import Subset
    >>> s = Subset("abcdef", [4, 0, 2])
    >>> len(s), s[0], [s[i] for i in range(3)]
    (3, 'e', ['e', 'a', 'c'])
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return [self.dataset[self.indices[i]] for i in idx]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)


def _split_lengths(lengths: Sequence[int | float], n: int) -> list[int]:
    """Lengths that sum to 1 are fractions, turned into counts as PyTorch does: floors, then the
    remainder dealt one by one to the parts in order."""
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        if any(x < 0 or x > 1 for x in lengths):
            raise ArgumentError(f"random_split: fractions must lie in [0, 1], got {list(lengths)}")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        return counts
    if any(x < 0 for x in lengths):
        raise ArgumentError(f"random_split: lengths must be non-negative, got {list(lengths)}")
    if sum(lengths) != n:
        raise ArgumentError(f"random_split: the lengths {list(lengths)} sum to {sum(lengths)}, "
                            f"not to the dataset's length {n} (fractions must sum to 1)")
    return [int(x) for x in lengths]


def random_split(dataset: Any, lengths: Sequence[int | float], generator: Any = None) -> list[Subset]:
    """Split ``dataset`` into disjoint random :class:`Subset` s of the given lengths, or fractions that
    sum to 1; the permutation is ``nr.randperm`` drawn from ``generator`` (default: the global one).

    >>> import neurarust as nr
    >>> from neurarust.data import random_split
    >>> a, b = random_split(range(10), [3, 7], generator=nr.Generator().manual_seed(42))
    >>> sorted(list(a) + list(b)) == list(range(10)), len(a), len(b)
    (True, 3, 7)
    """
    import neurarust as nr

    counts = _split_lengths(lengths, len(dataset))
    perm = nr.randperm(sum(counts), generator=generator).tolist()
    out, start = [], 0
    for c in counts:
        out.append(Subset(dataset, perm[start:start + c]))
        start += c
    return out
