"""Samplers: which dataset indices a :class:`~neurarust.data.DataLoader` visits, and in what order.

Every random choice draws from NeuraRust's Philox generators (``nr.randperm``, ``nr.randint``,
``nr.multinomial`` with ``generator=``), never from Python's ``random``: the same generator seed gives
the same order on every machine and in every worker.

    >>> import neurarust as nr
    >>> from neurarust.data import BatchSampler, RandomSampler
    >>> g = nr.Generator().manual_seed(0)
    >>> batches = list(BatchSampler(RandomSampler(range(5), generator=g), batch_size=2, drop_last=False))
    >>> [len(b) for b in batches], sorted(sum(batches, []))
    ([2, 2, 1], [0, 1, 2, 3, 4])
"""
from __future__ import annotations

import math
import os
from typing import Any, Generic, Iterable, Iterator, Sequence, Sized, TypeVar

from neurarust.errors import ArgumentError, SignatureError

T_co = TypeVar("T_co", covariant=True)

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler", "DistributedSampler", "draw_seed"]


def draw_seed(generator: Any = None) -> int:
    """A fresh 63-bit seed drawn from ``generator`` (default: the global CPU generator), as PyTorch
    draws ``torch.empty((), dtype=torch.int64).random_()``.

    >>> import neurarust as nr
    >>> from neurarust.data.sampler import draw_seed
    >>> draw_seed(nr.Generator().manual_seed(1)) == draw_seed(nr.Generator().manual_seed(1))
    True
    """
    import neurarust as nr

    return int(nr.randint(0, (1 << 63) - 1, (), generator=generator, dtype=nr.int64).item())


def _own_generator(generator: Any) -> Any:
    """``generator``, or a new one seeded from the global generator (so ``nr.manual_seed`` governs it)."""
    import neurarust as nr

    return generator if generator is not None else nr.Generator().manual_seed(draw_seed())


class Sampler(Generic[T_co]):
    """Base class: subclasses define ``__iter__`` (indices, or lists of indices for batch samplers)
    and, when they can, ``__len__``.

    >>> from neurarust.data import Sampler
    >>> class Evens(Sampler):
    ...     def __init__(self, n): self.n = n
    ...     def __iter__(self): return iter(range(0, self.n, 2))
    ...     def __len__(self): return (self.n + 1) // 2
    >>> list(Evens(5)), len(Evens(5))
    ([0, 2, 4], 3)
    """

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler[int]):
    """``0, 1, ..., len(data_source) - 1``.

    >>> from neurarust.data import SequentialSampler
    >>> list(SequentialSampler("abc"))
    [0, 1, 2]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """A random order of the indices: permutations (``replacement=False``; ``num_samples`` beyond the
    length chains several) or independent uniform draws (``replacement=True``). Without ``generator``
    each pass seeds a private generator from the global one.

    >>> import neurarust as nr
    >>> from neurarust.data import RandomSampler
    >>> s = RandomSampler(range(4), generator=nr.Generator().manual_seed(3))
    >>> sorted(s), len(RandomSampler(range(4), num_samples=10))
    ([0, 1, 2, 3], 10)
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Any = None) -> None:
        if not isinstance(replacement, bool):  # PyTorch's TypeError (the weighted sampler's is a ValueError)
            raise SignatureError(f"replacement should be a boolean value, but got replacement={replacement}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.num_samples, int) or isinstance(self.num_samples, bool) or self.num_samples <= 0:
            raise ArgumentError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        """How many indices one pass yields (the dataset's length unless given)."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        import neurarust as nr

        n = len(self.data_source)
        g = _own_generator(self.generator)
        if self.replacement:
            # Drawn in chunks, as PyTorch does, so a pass stopped early consumes little.
            left = self.num_samples
            while left > 0:
                k = min(32, left)
                yield from nr.randint(0, n, (k,), generator=g, dtype=nr.int64).tolist()
                left -= k
            return
        for _ in range(self.num_samples // n):
            yield from nr.randperm(n, generator=g).tolist()
        yield from nr.randperm(n, generator=g).tolist()[:self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices in a random order (no replacement).

    >>> import neurarust as nr
    >>> from neurarust.data import SubsetRandomSampler
    >>> sorted(SubsetRandomSampler([5, 7, 9], generator=nr.Generator().manual_seed(0)))
    [5, 7, 9]
    """

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        import neurarust as nr

        for i in nr.randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices drawn with probabilities proportional to ``weights`` (``nr.multinomial``).

    >>> import neurarust as nr
    >>> from neurarust.data import WeightedRandomSampler
    >>> list(WeightedRandomSampler([0.0, 1.0, 0.0], 3, generator=nr.Generator().manual_seed(0)))
    [1, 1, 1]
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Any = None) -> None:
        import numpy as np

        import neurarust as nr

        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ArgumentError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ArgumentError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = np.asarray(weights.numpy(force=True) if isinstance(weights, nr.Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ArgumentError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        self.weights = nr.from_numpy(w)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        import neurarust as nr

        yield from nr.multinomial(self.weights, self.num_samples, self.replacement, generator=self.generator).tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Groups the indices of ``sampler`` into lists of ``batch_size``; the last short list is kept
    unless ``drop_last``.

    >>> from neurarust.data import BatchSampler, SequentialSampler
    >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    >>> len(BatchSampler(range(5), 2, drop_last=True))
    2
    """

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ArgumentError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ArgumentError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class DistributedSampler(Sampler[int]):
    """The share of one process (``rank`` of ``num_replicas``) of a dataset: indices padded (or cut,
    with ``drop_last``) to a multiple of ``num_replicas``, then every ``num_replicas``-th from ``rank``.
    Shuffling uses a generator seeded with ``seed + epoch``: call :meth:`set_epoch` each epoch.
    ``num_replicas``/``rank`` default to the ``WORLD_SIZE``/``RANK`` environment variables, else 1/0.

    >>> from neurarust.data import DistributedSampler
    >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
    [1, 3, 0]
    >>> len(DistributedSampler(range(5), num_replicas=2, rank=0, drop_last=True))
    2
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None:
            num_replicas = int(os.environ.get("WORLD_SIZE", 1))
        if rank is None:
            rank = int(os.environ.get("RANK", 0))
        if num_replicas <= 0:
            raise ArgumentError(f"num_replicas must be positive, got {num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ArgumentError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        import neurarust as nr

        n = len(self.dataset)
        if self.shuffle:
            g = nr.Generator().manual_seed(self.seed + self.epoch)
            indices = nr.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[:self.total_size]
        else:
            pad = self.total_size - len(indices)
            if pad and indices:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for ``epoch``: every replica must pass the same number so their shares stay disjoint.

        >>> from neurarust.data import DistributedSampler
        >>> s = DistributedSampler(range(8), num_replicas=2, rank=0, seed=1)
        >>> s.set_epoch(3); s.epoch
        3
        """
        self.epoch = epoch
